// Overview: every queue's depth, work in flight, oldest wait and workers, live (every 2 s),
// and what each queue finished over the last hour, a bar per minute.

import { get } from "./api.js";
import { h, fill, table, duration, num, link, section, badge } from "./dom.js";
import { bars } from "./chart.js";

export const SERIES = [
  ["done", "done"],
  ["retried", "retried"],
  ["throttled", "throttled"],
  ["dead", "dead"],
];

export function render(main, ctx) {
  const live = h("div");
  const charts = h("div", { class: "grid" });
  fill(main, h("h1", {}, "Queues"), live, section("Finished per minute, last hour", charts));
  ctx.every(2000, async () => {
    const { queues } = await get("/v1/queues");
    fill(live, queueTable(queues));
  });
  ctx.every(15000, async () => {
    const { queues } = await get("/v1/queues");
    const histories = await Promise.all(
      queues.map((q) => get(`/v1/queues/${encodeURIComponent(q.queue)}/history?resolution=minute&points=60`)),
    );
    fill(charts, histories.map((history) => historyCard(history)));
  });
}

export function queueTable(queues) {
  return table(
    [
      ["queue", (q) => h("span", {}, link(`#/queues/${encodeURIComponent(q.queue)}`, q.queue), q.paused ? badge("paused", "warn") : null)],
      ["waiting", (q) => num(q.waiting), "num"],
      ["delayed", (q) => num(q.scheduled_due + q.scheduled_future), "num"],
      ["in flight", (q) => num(q.in_flight), "num"],
      ["done", (q) => num(q.done), "num"],
      ["dead", (q) => (q.dead ? badge(num(q.dead), "bad") : "0"), "num"],
      ["oldest wait", (q) => duration(q.oldest_waiting_ms), "num"],
      ["workers", (q) => (q.live_workers ? `${q.live_workers}` : badge("none", "warn")), "num"],
    ],
    queues,
    { rowAttrs: (q) => ({ "data-queue": q.queue }) },
  );
}

export function historyCard(history) {
  const points = history.buckets.map((b) => ({ t: b.start, values: b }));
  const total = history.buckets.reduce((sum, b) => sum + b.done + b.dead, 0);
  return h(
    "div",
    { class: "card" },
    h("h3", {}, link(`#/queues/${encodeURIComponent(history.queue)}`, history.queue), h("span", { class: "muted" }, ` ${num(total)} finished`)),
    bars(points, SERIES, { height: 80 }),
  );
}

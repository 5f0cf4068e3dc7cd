// One queue: its figures (live), what it finished over time (a day by minute, or 30 days by
// hour), its tasks by state, paged, and what the caller's role allows: enqueue a task (enqueue),
// pause or resume the queue, purge what waits, open its dead letters (admin).

import { get, post } from "./api.js";
import { h, fill, table, duration, num, link, when, section, badge, stat, toast } from "./dom.js";
import { bars } from "./chart.js";
import { SERIES } from "./overview.js";

const STATES = ["waiting", "delayed", "in_flight", "done", "dead"];
const PAGE = 25;

export async function render(main, ctx) {
  const name = decodeURIComponent(ctx.params[0]);
  const path = `/v1/queues/${encodeURIComponent(name)}`;
  const may = ctx.me.may;
  const figures = h("div", { class: "stats" });
  const actions = h("div", { class: "actions" });
  const chart = h("div");
  const tasks = h("div");
  let resolution = "minute";
  let state = "waiting";
  let offset = 0;

  const resolutionButtons = h(
    "div",
    { class: "tabs" },
    [
      ["minute", "Last 24 h by minute"],
      ["hour", "Last 30 days by hour"],
    ].map(([value, label]) =>
      h("button", { class: "tab", "data-resolution": value, onclick: () => ((resolution = value), drawChart()) }, label),
    ),
  );
  const stateTabs = h(
    "div",
    { class: "tabs" },
    STATES.map((value) =>
      h("button", { class: "tab", "data-state": value, onclick: () => ((state = value), (offset = 0), drawTasks()) }, value.replace("_", " ")),
    ),
  );

  fill(
    main,
    h("h1", {}, link("#/", "Queues"), " / ", name),
    figures,
    actions,
    section("Finished", resolutionButtons, chart),
    section("Tasks", stateTabs, tasks),
  );

  async function drawChart() {
    for (const b of resolutionButtons.children) b.classList.toggle("current", b.dataset.resolution === resolution);
    const history = await get(`${path}/history?resolution=${resolution}`);
    const label = (t) => new Date(t).toISOString().slice(0, resolution === "minute" ? 16 : 13).replace("T", " ");
    fill(chart, bars(history.buckets.map((b) => ({ t: b.start, values: b })), SERIES, { label }));
  }

  async function drawTasks() {
    for (const b of stateTabs.children) b.classList.toggle("current", b.dataset.state === state);
    const page = await get(`${path}/tasks?state=${state}&offset=${offset}&limit=${PAGE}`);
    const pager = h(
      "div",
      { class: "pager" },
      h("button", { disabled: offset === 0, onclick: () => ((offset = Math.max(0, offset - PAGE)), drawTasks()) }, "‹ newer"),
      h("span", { class: "muted" }, `${page.total ? offset + 1 : 0}–${offset + page.tasks.length} of ${num(page.total)}`),
      h("button", { disabled: offset + PAGE >= page.total, onclick: () => ((offset += PAGE), drawTasks()) }, "older ›"),
    );
    fill(tasks, taskTable(page.tasks), pager);
  }

  function drawActions(q) {
    const buttons = [];
    if (may.admin) {
      buttons.push(
        q.paused
          ? h("button", { id: "queue-resume", onclick: () => act(`/v1/admin/queues/${encodeURIComponent(name)}/resume`, "Resumed") }, "Resume queue")
          : h("button", { id: "queue-pause", onclick: () => act(`/v1/admin/queues/${encodeURIComponent(name)}/pause`, "Paused: workers fetch nothing from it") }, "Pause queue"),
        h(
          "button",
          {
            class: "danger",
            onclick: () => confirm(`Purge every waiting task of ${name}?`) && act(`/v1/admin/queues/${encodeURIComponent(name)}/purge`, "Purged"),
          },
          "Purge waiting",
        ),
        link(`#/dead/${encodeURIComponent(name)}`, "Dead letters"),
      );
    }
    if (may.enqueue) buttons.push(h("button", { onclick: () => enqueue() }, "Enqueue a task"));
    fill(actions, buttons);
  }

  async function act(url, done) {
    try {
      await post(url);
      toast(done);
      await refresh();
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function enqueue() {
    const args = prompt(`Arguments of the ${name} task, as JSON (empty for none):`, "");
    if (args === null) return;
    try {
      const answer = await post("/v1/tasks", { kind: name, args: args.trim() ? JSON.parse(args) : null });
      toast(answer.id ? `Enqueued ${answer.id}` : "Fresh data is cached; nothing enqueued");
      if (answer.id) location.hash = `#/tasks/${answer.id}`;
    } catch (e) {
      toast(e.message, "error");
    }
  }

  let lastPaused;
  async function refresh() {
    const { queues } = await get("/v1/queues");
    const q = queues.find((q) => q.queue === name);
    if (!q) {
      fill(figures, h("p", { class: "error" }, `No queue ${name}.`));
      return;
    }
    fill(
      figures,
      stat("waiting", num(q.waiting)),
      stat("delayed", num(q.scheduled_due + q.scheduled_future)),
      stat("in flight", num(q.in_flight)),
      stat("done", num(q.done)),
      stat("dead", num(q.dead), q.dead ? "bad" : ""),
      stat("oldest wait", duration(q.oldest_waiting_ms)),
      stat("workers", `${q.live_workers} live`, q.live_workers ? "" : "warn"),
      q.paused ? stat("state", badge("paused", "warn")) : stat("state", "running"),
    );
    if (q.paused !== lastPaused) {
      lastPaused = q.paused;
      drawActions(q);
    }
  }

  ctx.every(2000, refresh);
  ctx.every(30000, drawChart);
  ctx.every(5000, drawTasks);
}

export function taskTable(tasks) {
  return table(
    [
      ["id", (t) => link(`#/tasks/${t.id}`, t.id), "mono"],
      ["queue", (t) => t.queue],
      ["status", (t) => badge(t.status, tone(t.status))],
      ["attempts", (t) => `${t.attempts}/${t.max_attempts}`, "num"],
      ["args", (t) => h("code", { class: "args" }, t.args === undefined ? "" : JSON.stringify(t.args))],
      ["enqueued", (t) => when(t.enqueued_at)],
      ["run at", (t) => when(t.run_at)],
      ["finished", (t) => when(t.finished_at)],
      ["last error", (t) => h("span", { class: "error-text" }, t.last_error ?? "")],
    ],
    tasks,
    { empty: "No task in this state." },
  );
}

export function tone(status) {
  return { done: "good", dead: "bad", failed: "warn", running: "info", pending: "" }[status] ?? "";
}

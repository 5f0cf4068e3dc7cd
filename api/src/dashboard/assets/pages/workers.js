// Workers: every incarnation on every queue, its host, pid, start, heartbeat and tasks held.

import { get } from "./api.js";
import { h, fill, table, num, when, badge } from "./dom.js";

export function render(main, ctx) {
  const list = h("div");
  fill(main, h("h1", {}, "Workers"), list);
  ctx.every(2000, async () => {
    const { workers } = await get("/v1/workers");
    fill(
      list,
      table(
        [
          ["queue", (w) => w.queue],
          ["name", (w) => h("span", { class: "mono" }, w.name ?? "–")],
          ["host", (w) => w.host ?? "–"],
          ["pid", (w) => w.pid ?? "–", "num"],
          ["started", (w) => when(w.started_at)],
          ["heartbeat", (w) => when(w.last_heartbeat)],
          ["holds", (w) => num(w.in_flight), "num"],
          ["", (w) => (w.live ? badge("live", "good") : badge("silent", "bad"))],
        ],
        workers,
        { empty: "No worker is registered." },
      ),
    );
  });
}

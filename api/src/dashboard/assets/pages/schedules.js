// Schedules: each entry's cron, next and last run, outcome and lateness, live; its recent runs;
// an admin may pause, resume or run an entry now.

import { get, post } from "./api.js";
import { h, fill, table, link, when, badge, duration, section, toast } from "./dom.js";

export function render(main, ctx) {
  const entry = ctx.params[0] && decodeURIComponent(ctx.params[0]);
  const list = h("div");
  const runs = h("div");
  fill(main, h("h1", {}, "Schedules"), list, entry ? section(`Runs of ${entry}`, runs) : null);
  const may = ctx.me.may;

  async function act(url, said) {
    try {
      await post(url);
      toast(said);
      await draw();
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function draw() {
    const { schedules } = await get("/v1/schedules");
    fill(
      list,
      table(
        [
          ["entry", (s) => link(`#/schedules/${encodeURIComponent(s.name)}`, s.name)],
          ["cron", (s) => h("code", {}, s.cron)],
          ["kind", (s) => link(`#/queues/${s.kind}`, s.kind)],
          ["state", (s) => (!s.enabled ? badge("disabled") : s.paused ? badge("paused", "warn") : badge("active", "good"))],
          ["next", (s) => (s.paused ? h("span", { class: "muted" }, "paused") : when(s.next_tick))],
          ["last tick", (s) => when(s.last_tick)],
          ["late by", (s) => lateness(s), "num"],
          ["outcome", (s) => (s.last_outcome ? badge(s.last_outcome, tone(s.last_outcome)) : "–")],
          ["last error", (s) => h("span", { class: "error-text" }, s.last_error ?? "")],
          [
            "",
            (s) => {
              if (!may.admin) return null;
              const e = encodeURIComponent(s.name);
              return [
                s.paused
                  ? h("button", { class: "small", "data-resume": s.name, onclick: () => act(`/v1/admin/schedules/${e}/resume`, `Resumed ${s.name}`) }, "Resume")
                  : h("button", { class: "small", "data-pause": s.name, onclick: () => act(`/v1/admin/schedules/${e}/pause`, `Paused ${s.name}`) }, "Pause"),
                h("button", { class: "small", "data-run": s.name, onclick: () => act(`/v1/admin/schedules/${e}/run`, `Enqueued a run of ${s.name}`) }, "Run now"),
              ];
            },
          ],
        ],
        schedules,
        { rowAttrs: (s) => ({ "data-entry": s.name }), empty: "The schedule table is empty." },
      ),
    );
    if (entry) {
      const answer = await get(`/v1/schedules/${encodeURIComponent(entry)}/runs`);
      fill(
        runs,
        table(
          [
            ["tick", (r) => when(r.tick)],
            ["trigger", (r) => r.trigger],
            ["task", (r) => link(`#/tasks/${r.task_id}`, r.task_id), "mono"],
            ["enqueued", (r) => when(r.enqueued_at)],
            ["outcome", (r) => badge(r.outcome, tone(r.outcome))],
            ["finished", (r) => when(r.finished_at)],
            ["error", (r) => h("span", { class: "error-text" }, r.last_error ?? "")],
          ],
          answer.runs,
          { empty: "No run recorded yet." },
        ),
      );
    }
  }
  ctx.every(3000, draw);
}

function lateness(s) {
  if (!s.last_tick || !s.last_enqueued_at) return "–";
  return duration(Math.max(0, new Date(s.last_enqueued_at) - new Date(s.last_tick)));
}

function tone(outcome) {
  return { done: "good", dead: "bad", failed: "bad", retrying: "warn", running: "info" }[outcome] ?? "";
}

// One task: its status, attempts, timings, payload and result or error (live until it
// finishes). An admin may delete it or run it now while it waits (delayed, or waiting for its
// next attempt), and retry or delete it once it is dead.

import { get, post, del } from "./api.js";
import { h, fill, link, when, badge, code, section, toast } from "./dom.js";
import { tone } from "./queue.js";

export async function render(main, ctx) {
  const id = decodeURIComponent(ctx.params[0]);
  const body = h("div");
  fill(main, h("h1", {}, "Task ", h("span", { class: "mono" }, id)), body);
  let finished = false;
  ctx.every(2000, async () => {
    if (finished) return;
    const task = await get(`/v1/tasks/${encodeURIComponent(id)}`);
    finished = task.status === "done" || task.status === "dead";
    fill(body, view(task, ctx.me.may));
  });
}

function view(task, may) {
  const q = encodeURIComponent(task.queue);
  const actions = may.admin ? controls(task, q) : null;
  return h(
    "div",
    {},
    h(
      "dl",
      { class: "facts" },
      fact("queue", link(`#/queues/${q}`, task.queue)),
      fact("status", badge(task.status, tone(task.status))),
      fact("attempts", `${task.attempts} of ${task.max_attempts}`),
      fact("enqueued", when(task.enqueued_at)),
      fact("runs at", when(task.run_at)),
      fact("finished", when(task.finished_at)),
      fact("worker", task.worker ?? "–"),
    ),
    actions,
    task.last_error ? section("Last error", h("pre", { class: "code error-text" }, task.last_error)) : null,
    task.payload !== undefined ? section("Payload", code(task.payload)) : null,
    task.result !== null && task.result !== undefined ? section("Result", code(task.result)) : null,
  );
}

// The admin's buttons for the task's state: none while it runs or once it is done.
function controls(task, q) {
  const again = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const gone = () => (location.hash = `#/queues/${q}`);
  if (task.status === "dead") {
    return actions(
      button("task-retry", "Retry", `/v1/admin/queues/${q}/dead/${task.id}/retry`, post, again),
      button("task-delete", "Delete", `/v1/admin/queues/${q}/dead/${task.id}`, del, gone,
        `Delete dead task ${task.id}?`),
    );
  }
  if (task.status === "pending" || task.status === "failed") {
    const later = task.run_at && Date.parse(task.run_at) > Date.now();
    return actions(
      later || task.status === "failed"
        ? button("task-run", "Run now", `/v1/admin/queues/${q}/tasks/${task.id}/run`, post, again)
        : null,
      button("task-delete", "Delete", `/v1/admin/queues/${q}/tasks/${task.id}`, del, gone,
        `Delete waiting task ${task.id}? It will not run.`),
    );
  }
  return null;
}

function actions(...buttons) {
  return h("div", { class: "actions" }, ...buttons.filter(Boolean));
}

// A button calling `method` on `path`, then `after`; with `ask`, only once confirmed.
function button(id, label, path, method, after, ask) {
  return h(
    "button",
    {
      id,
      class: method === del ? "danger" : undefined,
      onclick: async () => {
        if (ask && !confirm(ask)) return;
        try {
          await method(path);
          toast(`${label}: done`);
          after();
        } catch (e) {
          toast(e.message, "error");
        }
      },
    },
    label,
  );
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

// One task: its status, attempts, timings, payload and result or error (live until it
// finishes); an admin may retry or delete it once it is dead.

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
  const dead = task.status === "dead";
  const actions =
    may.admin && dead
      ? h(
          "div",
          { class: "actions" },
          h(
            "button",
            {
              id: "task-retry",
              onclick: async () => {
                try {
                  const answer = await post(`/v1/admin/queues/${q}/dead/${task.id}/retry`);
                  toast(`Retried: ${answer.status}`);
                  // the same id runs again: draw the page anew, following it
                  window.dispatchEvent(new HashChangeEvent("hashchange"));
                } catch (e) {
                  toast(e.message, "error");
                }
              },
            },
            "Retry",
          ),
          h(
            "button",
            {
              class: "danger",
              onclick: async () => {
                if (!confirm(`Delete dead task ${task.id}?`)) return;
                try {
                  await del(`/v1/admin/queues/${q}/dead/${task.id}`);
                  toast("Deleted");
                  location.hash = `#/queues/${q}`;
                } catch (e) {
                  toast(e.message, "error");
                }
              },
            },
            "Delete",
          ),
        )
      : null;
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

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

// Search: tasks across every queue (or one) by a substring of their arguments (admin) or of
// their last error, by state and by when they finished. An admin may retry or delete the dead
// tasks a search found, all at once. The form's values live in the page's address
// (`#/search?error=timeout&state=dead`), so a search can be linked to.

import { get, post, del } from "./api.js";
import { h, fill, num, toast } from "./dom.js";
import { taskTable } from "./queue.js";

const STATES = ["waiting", "delayed", "in_flight", "done", "dead"];

export async function render(main, ctx) {
  const may = ctx.me.may;
  const params = new URLSearchParams(ctx.params[0] ?? "");
  const { queues } = await get("/v1/queues");
  const field = (name, attrs = {}) => h("input", { id: `search-${name}`, name, value: params.get(name) ?? "", ...attrs });
  const args = may.admin ? field("args", { placeholder: "in the arguments", size: 24 }) : null;
  const error = field("error", { placeholder: "in the last error", size: 24 });
  const queue = h(
    "select",
    { id: "search-queue", name: "queue" },
    h("option", { value: "" }, "every queue"),
    queues.map((q) => h("option", { value: q.queue, selected: params.get("queue") === q.queue }, q.queue)),
  );
  const chosen = new Set((params.get("state") ?? "").split(",").filter(Boolean));
  const states = STATES.map((state) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: state, checked: chosen.has(state) }), state.replace("_", " ")),
  );
  const since = field("since", { type: "datetime-local", step: 1 });
  const until = field("until", { type: "datetime-local", step: 1 });
  const results = h("div");
  const form = h(
    "form",
    { class: "inline", id: "search-form", onsubmit: (e) => (e.preventDefault(), go()) },
    args,
    error,
    queue,
    h("span", { class: "checks" }, states),
    h("label", {}, "finished from ", since),
    h("label", {}, "to ", until),
    h("button", { type: "submit", id: "search-submit" }, "Search"),
  );
  fill(main, h("h1", {}, "Search tasks"), form, results);

  // The form's values into the address; the page is drawn again from it.
  function go() {
    const next = new URLSearchParams();
    for (const input of [args, error, queue, since, until]) if (input && input.value) next.set(input.name, input.value);
    const picked = states.map((l) => l.querySelector("input")).filter((c) => c.checked).map((c) => c.value);
    if (picked.length) next.set("state", picked.join(","));
    const hash = `#/search?${next}`;
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  }

  if (![...params.keys()].length) {
    fill(results, h("p", { class: "muted" }, "Look for a word of a task's arguments or error, in some states, in a time range."));
    return;
  }
  const query = new URLSearchParams();
  for (const name of ["args", "error", "queue", "state"]) if (params.get(name)) query.set(name, params.get(name));
  // datetime-local is the browser's local time; the API takes RFC 3339.
  for (const name of ["since", "until"]) if (params.get(name)) query.set(name, new Date(params.get(name)).toISOString());
  query.set("limit", "200");
  fill(results, h("p", { class: "muted" }, "Searching…"));
  const found = await get(`/v1/tasks?${query}`);
  const dead = found.tasks.filter((t) => t.state === "dead");
  fill(
    results,
    h(
      "p",
      { class: "muted", id: "search-summary" },
      `${num(found.tasks.length)} found among ${num(found.examined)} finished tasks in ${found.took_ms} ms`,
      found.complete ? "" : " (time ran out: narrow the search to see the rest)",
    ),
    may.admin && dead.length
      ? h(
          "div",
          { class: "actions" },
          h("button", { id: "search-retry-dead", onclick: () => bulk(dead, "retry") }, `Retry these ${dead.length} dead`),
          h("button", { class: "danger", onclick: () => confirm(`Delete these ${dead.length} dead tasks?`) && bulk(dead, "delete") }, `Delete these ${dead.length} dead`),
        )
      : null,
    taskTable(found.tasks),
  );

  async function bulk(tasks, action) {
    let done = 0;
    const failed = [];
    for (const t of tasks) {
      const path = `/v1/admin/queues/${encodeURIComponent(t.queue)}/dead/${t.id}`;
      try {
        await (action === "retry" ? post(`${path}/retry`) : del(path));
        done += 1;
      } catch (e) {
        failed.push(`${t.id}: ${e.message}`);
      }
    }
    toast(`${action === "retry" ? "Retried" : "Deleted"} ${done}${failed.length ? `; ${failed.length} failed (${failed[0]})` : ""}`, failed.length ? "error" : "");
    go();
  }
}

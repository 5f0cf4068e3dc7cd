// Dead letters (admin): per queue, paged, each retried or deleted on its own or all at once;
// those whose error says something, found and handled together on the search page.

import { get, post, del } from "./api.js";
import { h, fill, table, num, link, when, toast } from "./dom.js";

const PAGE = 50;

export async function render(main, ctx) {
  const { queues } = await get("/v1/queues");
  const chosen = ctx.params[0] && decodeURIComponent(ctx.params[0]);
  const name = chosen ?? (queues.find((q) => q.dead > 0) ?? queues[0])?.queue;
  const q = encodeURIComponent(name);
  const list = h("div");
  let offset = 0;

  const tabs = h(
    "div",
    { class: "tabs" },
    queues.map((queue) =>
      h("a", { class: `tab ${queue.queue === name ? "current" : ""}`, href: `#/dead/${encodeURIComponent(queue.queue)}` }, `${queue.queue} (${num(queue.dead)})`),
    ),
  );
  const bulk = h(
    "div",
    { class: "actions" },
    h("button", { id: "dead-retry-all", onclick: () => act(() => post(`/v1/admin/queues/${q}/dead/retry`), (a) => `Retried ${a.retried}`) }, "Retry all"),
    h(
      "button",
      {
        class: "danger",
        onclick: () => confirm(`Delete every dead task of ${name}?`) && act(() => del(`/v1/admin/queues/${q}/dead`), (a) => `Deleted ${a.purged}`),
      },
      "Delete all",
    ),
  );
  // Bulk actions on a part of them: the search page, on this queue's dead tasks.
  const filter = h("input", { id: "dead-filter", placeholder: "error text", size: 24 });
  const narrow = h(
    "form",
    {
      class: "inline",
      onsubmit: (e) => {
        e.preventDefault();
        const query = new URLSearchParams({ queue: name, state: "dead", error: filter.value });
        location.hash = `#/search?${query}`;
      },
    },
    filter,
    h("button", { type: "submit" }, "Find dead tasks by error"),
  );
  fill(main, h("h1", {}, "Dead letters"), tabs, bulk, narrow, list);

  async function act(call, said) {
    try {
      toast(said(await call()));
      await draw();
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function draw() {
    const page = await get(`/v1/admin/queues/${q}/dead?offset=${offset}&limit=${PAGE}`);
    fill(
      list,
      table(
        [
          ["id", (t) => link(`#/tasks/${t.id}`, t.id), "mono"],
          ["attempts", (t) => `${t.attempts}/${t.max_attempts}`, "num"],
          ["enqueued", (t) => when(t.enqueued_at)],
          ["died", (t) => when(t.finished_at)],
          ["last error", (t) => h("span", { class: "error-text" }, t.last_error ?? "")],
          [
            "",
            (t) => [
              h("button", { class: "small", "data-retry": t.id, onclick: () => act(() => post(`/v1/admin/queues/${q}/dead/${t.id}/retry`), () => `Retried ${t.id}`) }, "Retry"),
              h("button", { class: "small danger", onclick: () => act(() => del(`/v1/admin/queues/${q}/dead/${t.id}`), () => `Deleted ${t.id}`) }, "Delete"),
            ],
          ],
        ],
        page.tasks,
        { empty: `No dead task in ${name}.` },
      ),
      h(
        "div",
        { class: "pager" },
        h("button", { disabled: offset === 0, onclick: () => ((offset = Math.max(0, offset - PAGE)), draw()) }, "‹ newer"),
        h("span", { class: "muted" }, `${num(page.total)} dead`),
        h("button", { disabled: offset + PAGE >= page.total, onclick: () => ((offset += PAGE), draw()) }, "older ›"),
      ),
    );
  }
  ctx.every(5000, draw);
}

// Live prices: a board fed by the price stream (`GET /v1/stream/prices`). A row flashes green
// or red when its price moves; its age counts up between updates; badges say the source, and
// whether the price is stale or could not be checked against the cache.

import { follow } from "./api.js";
import { h, fill, badge, duration } from "./dom.js";

export function render(main, ctx) {
  const state = h("span", { class: "muted" }, "connecting…");
  const body = h("tbody");
  const board = h(
    "table",
    { class: "board" },
    h("thead", {}, h("tr", {}, ["coin", "price (USD)", "24 h", "age", "source", ""].map((t) => h("th", {}, t)))),
    body,
  );
  fill(main, h("h1", {}, "Live prices ", state), board);
  const rows = new Map(); // coin id → {row, cells, record, received}

  const stop = follow(
    "/v1/stream/prices",
    (event, record) => {
      if (event === "price") update(record);
      if (event === "lagged") state.textContent = `fell behind: ${record.missed} updates skipped`;
    },
    (phase, detail) => {
      state.textContent = phase === "open" ? "live" : `reconnecting (${detail})`;
      state.className = phase === "open" ? "live" : "muted";
    },
  );
  ctx.onLeave(stop);
  ctx.every(1000, async () => {
    for (const entry of rows.values()) drawAge(entry);
  });

  function update(record) {
    let entry = rows.get(record.coin_id);
    if (!entry) {
      const cells = {
        symbol: h("td", {}, h("strong", {}, record.symbol), h("span", { class: "muted" }, ` ${record.coin_id}`)),
        price: h("td", { class: "num price" }),
        change: h("td", { class: "num" }),
        age: h("td", { class: "num" }),
        source: h("td"),
        flags: h("td"),
      };
      const row = h("tr", { "data-coin": record.coin_id }, Object.values(cells));
      entry = { row, cells };
      rows.set(record.coin_id, entry);
      const after = [...body.children].find((r) => r.dataset.coin > record.coin_id);
      body.insertBefore(row, after ?? null);
    }
    const before = entry.record?.usd;
    entry.record = record;
    entry.received = Date.now();
    const { cells, row } = entry;
    cells.price.textContent = record.usd;
    cells.price.dataset.price = record.usd;
    const change = record.change_24h_pct;
    fill(cells.change, change === null ? "–" : h("span", { class: change.startsWith("-") ? "down" : "up" }, `${change}%`));
    fill(cells.source, badge(record.source));
    if (before !== undefined && before !== record.usd) {
      const up = Number(record.usd) > Number(before);
      row.classList.remove("flash-up", "flash-down");
      void row.offsetWidth; // restart the animation
      row.classList.add(up ? "flash-up" : "flash-down");
    }
    drawAge(entry);
  }

  function drawAge({ cells, record, received }) {
    const age = record.age_ms + (Date.now() - received);
    cells.age.textContent = duration(age);
    fill(cells.flags, record.stale ? badge("stale", "warn") : null, record.cache_unchecked ? badge("cache unchecked", "bad") : null);
  }
}

// Upstreams. Live, every second: each provider's shared rate limit (each window's permits in
// use against its limit, the callers waiting for one, a push-back in force, and the counters
// since it began). From the latest health report: each provider's status, probe latency and
// circuit breaker; Redis; the exchange streams.

import { get } from "./api.js";
import { h, fill, table, num, when, badge, duration, section } from "./dom.js";

const TONE = { up: "good", degraded: "warn", down: "bad", closed: "good", half_open: "warn", open: "bad" };

/** "30/min", "3/s", "100000/day" for a window of `period_secs`. */
function windowName(w) {
  const units = [
    [2678400, "month"],
    [86400, "day"],
    [3600, "h"],
    [60, "min"],
    [1, "s"],
  ];
  for (const [secs, unit] of units) {
    if (w.period_secs % secs === 0) {
      const n = w.period_secs / secs;
      return `${num(w.limit)}/${n === 1 ? "" : n}${unit}`;
    }
  }
  return `${num(w.limit)}/${w.period_secs}s`;
}

/** One window: a gauge of permits in use against the limit, and the figures. */
function windowUse(w) {
  const share = w.limit ? w.used / w.limit : 0;
  return h(
    "div",
    { class: "window-use", "data-window": windowName(w) },
    h("meter", { min: 0, max: w.limit, low: w.limit * 0.5, high: w.limit * 0.9, optimum: 0, value: w.used }),
    h("span", { class: "num" }, `${num(w.used)} of ${windowName(w)}`),
    h("span", { class: "muted" }, ` ${Math.round(share * 100)} %`),
  );
}

export function render(main, ctx) {
  const limits = h("div");
  const body = h("div");
  fill(main, h("h1", {}, "Upstreams"), section("Rate limits, live", limits), body);
  ctx.every(1000, async () => {
    const { limiters } = await get("/v1/rate-limits");
    fill(
      limits,
      table(
        [
          ["upstream", (l) => l.provider],
          ["in use now", (l) => (l.windows.length ? l.windows.map(windowUse) : h("span", { class: "muted" }, "no limit"))],
          ["waiting", (l) => num(l.waiting), "num"],
          ["blocked until", (l) => (l.blocked_until ? badge(`429 · until ${new Date(l.blocked_until).toLocaleTimeString()}`, "bad") : "–")],
          ["permits", (l) => num(l.metrics.permits), "num"],
          ["waited", (l) => num(l.metrics.waited), "num"],
          ["refused", (l) => num(l.metrics.denied), "num"],
          ["429s", (l) => num(l.metrics.push_backs), "num"],
        ],
        limiters,
        { rowAttrs: (l) => ({ "data-provider": l.provider }) },
      ),
    );
  });
  ctx.every(3000, async () => {
    let report;
    try {
      report = await get("/v1/health");
    } catch (e) {
      if (e.status !== 404) throw e;
      fill(body, h("p", { class: "muted" }, "No health report yet: the health job has not run."));
      return;
    }
    fill(
      body,
      section(
        "Health",
        h("p", {}, "Overall ", badge(report.status, TONE[report.status]), " · checked ", when(report.checked_at)),
        table(
          [
            ["upstream", (u) => u.name],
            ["status", (u) => badge(u.status, TONE[u.status])],
            ["latency", (u) => duration(u.latency_ms), "num"],
            ["breaker", (u) => badge(u.breaker.state, TONE[u.breaker.state])],
            ["probed", (u) => when(u.probed_at ?? report.checked_at)],
            ["error", (u) => h("span", { class: "error-text" }, u.error ?? "")],
          ],
          report.upstreams,
        ),
      ),
      section(
        "Redis",
        h("p", {}, badge(report.redis.status, TONE[report.redis.status]), ` ${report.redis.latency_us} µs · `, report.redis.used_memory_bytes ? `${(report.redis.used_memory_bytes / 1048576).toFixed(1)} MiB used` : ""),
      ),
      section(
        "Exchange streams",
        table(
          [
            ["shard", (s) => s.shard, "num"],
            ["source", (s) => s.source],
            ["phase", (s) => badge(s.phase)],
            ["symbols", (s) => num(s.symbols), "num"],
            ["since", (s) => when(s.since)],
            ["last event", (s) => when(s.last_event_at)],
            ["ticks", (s) => num(s.ticks), "num"],
          ],
          report.streams,
          { empty: "No exchange stream runs." },
        ),
      ),
    );
  });
}

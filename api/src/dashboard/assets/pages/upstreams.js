// Upstreams, from the latest health report: each provider's status, probe latency, circuit
// breaker and shared rate limit (permits used, waits, refusals, the 429s it was pushed back
// with); Redis; the exchange streams.

import { get } from "./api.js";
import { h, fill, table, num, when, badge, duration, section } from "./dom.js";

const TONE = { up: "good", degraded: "warn", down: "bad", closed: "good", half_open: "warn", open: "bad" };

export function render(main, ctx) {
  const body = h("div");
  fill(main, h("h1", {}, "Upstreams"), body);
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
      h("p", {}, "Overall ", badge(report.status, TONE[report.status]), " · checked ", when(report.checked_at)),
      table(
        [
          ["upstream", (u) => u.name],
          ["status", (u) => badge(u.status, TONE[u.status])],
          ["latency", (u) => duration(u.latency_ms), "num"],
          ["breaker", (u) => badge(u.breaker.state, TONE[u.breaker.state])],
          ["limit", (u) => u.rate_limit?.limit ?? "–"],
          ["permits", (u) => num(u.rate_limit?.metrics.permits), "num"],
          ["waited", (u) => num(u.rate_limit?.metrics.waited), "num"],
          ["refused", (u) => num(u.rate_limit?.metrics.denied), "num"],
          ["429s", (u) => num(u.rate_limit?.metrics.push_backs), "num"],
          ["blocked until", (u) => when(u.rate_limit?.blocked_until)],
          ["error", (u) => h("span", { class: "error-text" }, u.error ?? "")],
        ],
        report.upstreams,
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

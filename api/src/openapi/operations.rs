//! What the OpenAPI document says of each route beyond the route table: a summary, the query
//! parameters, the success status and body type, whether it takes a JSON body and whether it
//! can answer 404. A route missing here fails `every_route_is_described` below.

use axum::http::Method;

/// The description of one operation.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    pub summary: &'static str,
    /// (name, description) of each optional query parameter.
    pub query: &'static [(&'static str, &'static str)],
    pub success: u16,
    pub content: &'static str,
    pub body: bool,
    pub not_found: bool,
}

const JSON: &str = "application/json";

const fn op(summary: &'static str) -> Operation {
    Operation {
        summary,
        query: &[],
        success: 200,
        content: JSON,
        body: false,
        not_found: false,
    }
}

const SYMBOLS: (&str, &str) = (
    "symbols",
    "comma-separated symbols, e.g. BTC,ETH (default: the tracked set)",
);
const IDS: (&str, &str) = ("ids", "comma-separated coin ids, instead of symbols");
const CHAIN: (&str, &str) = ("chain", "ethereum (default), base, arbitrum, ...");
const LIMIT: (&str, &str) = ("limit", "how many");
const OFFSET: (&str, &str) = ("offset", "how many to skip");
const CURSOR: (&str, &str) = ("cursor", "the previous page's next_cursor");
const TIER: (&str, &str) = (
    "tier",
    "a [prices.tiers] name, all (every catalogued coin) or tracked (the default)",
);
const SEARCH: (&str, &str) = ("search", "a name, symbol or id prefix (any case)");

/// The description of `method path`, `None` for a route this table lacks.
pub fn describe(method: &Method, path: &str) -> Option<Operation> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    let o = match path {
        "/healthz" if get => op("Liveness: the process answers"),
        "/readyz" if get => op("Readiness: Redis answers (503 otherwise)"),
        "/metrics" if get => Operation {
            content: "text/plain; version=0.0.4",
            ..op("Prometheus metrics of this API process")
        },
        "/openapi.json" if get => op("This document"),
        "/docs" if get => Operation {
            content: "text/html",
            ..op("The API documentation page (works offline)")
        },
        "/docs/docs.js" if get => Operation {
            content: "text/javascript",
            ..op("The documentation page's script")
        },
        "/docs/docs.css" if get => Operation {
            content: "text/css",
            ..op("The documentation page's style sheet")
        },
        "/v1/prices" if get => Operation {
            query: &[SYMBOLS, IDS, TIER, LIMIT, CURSOR],
            ..op(
                "Cached USD prices, with what is missing: the tracked set, a list of symbols or ids, or a rank tier's coins (paged)",
            )
        },
        "/v1/prices/{coin}" if get => Operation {
            not_found: true,
            ..op(
                "One cached price by coin id or symbol (a shared symbol names the best-ranked coin and lists the others): exact decimals, fetched_at, source, age, stale",
            )
        },
        "/v1/prices/{coin}/history" if get => Operation {
            query: &[
                ("since", "RFC 3339 or unix seconds (default: 24 h ago)"),
                ("until", "RFC 3339 or unix seconds (default: now)"),
                ("step", "keep the last point per step, e.g. 1m, 5m, 1h"),
            ],
            not_found: true,
            ..op("Stored price history points of one symbol")
        },
        "/v1/stream/prices" if get => Operation {
            query: &[SYMBOLS, IDS],
            content: "text/event-stream",
            ..op("Live price updates as Server-Sent Events (price, lagged, closing)")
        },
        "/v1/ws/prices" if get => Operation {
            query: &[SYMBOLS, IDS],
            success: 101,
            ..op("Live price updates over a WebSocket")
        },
        "/v1/portfolio/value" if post => Operation {
            body: true,
            ..op("Value holdings at the cached prices (exact decimals, allocation, missing)")
        },
        "/v1/markets" if get => Operation {
            query: &[LIMIT],
            not_found: true,
            ..op("Top coins by market cap (CoinGecko, or CoinLore while it is down)")
        },
        "/v1/markets/global" if get => Operation {
            not_found: true,
            ..op("Global market figures")
        },
        "/v1/coins" if get => Operation {
            query: &[SEARCH, LIMIT, CURSOR],
            ..op("The coin catalogue, best-ranked first, or a ranked search by name, symbol or id")
        },
        "/v1/coins/{id}" if get => Operation {
            not_found: true,
            ..op("Supply figures of one coin")
        },
        "/v1/tasks" if post => Operation {
            body: true,
            success: 202,
            ..op(
                "Enqueue a job (prices, market, wallet, health, cleanup, catalogue); 200 when an identical task is already waiting or running, or a fresh result is cached (unless force)",
            )
        },
        "/v1/tasks/{id}" if get => Operation {
            not_found: true,
            ..op("One task: status, attempts, result or error")
        },
        "/v1/wallets/{address}" if get => Operation {
            query: &[CHAIN],
            not_found: true,
            ..op("The cached analysis of a wallet")
        },
        "/v1/wallets/{address}/analyze" if post => Operation {
            query: &[
                CHAIN,
                ("force", "true: enqueue even if a fresh analysis is cached"),
            ],
            success: 202,
            ..op("Enqueue an analysis of a wallet")
        },
        "/v1/queues" if get => op("Every queue: waiting, delayed, in flight, done, dead, workers"),
        "/v1/schedules" if get => op("The schedule table: last run, outcome, next run, paused"),
        "/v1/schedules/{entry}/runs" if get => Operation {
            query: &[LIMIT],
            not_found: true,
            ..op("Recent runs of one schedule entry")
        },
        "/v1/workers" if get => op("Every worker: queue, host, pid, heartbeat, tasks held"),
        "/v1/health" if get => Operation {
            not_found: true,
            ..op("The latest health report: upstreams, breakers, limiters, Redis, queues")
        },
        "/v1/admin/queues/{queue}/dead" if get => Operation {
            query: &[LIMIT, OFFSET],
            not_found: true,
            ..op("Dead tasks of a queue, newest first")
        },
        "/v1/admin/queues/{queue}/dead" if delete => Operation {
            not_found: true,
            ..op("Purge every dead task of a queue")
        },
        "/v1/admin/queues/{queue}/dead/retry" if post => Operation {
            not_found: true,
            ..op("Retry every dead task of a queue")
        },
        "/v1/admin/queues/{queue}/dead/{id}" if get => Operation {
            not_found: true,
            ..op("One dead task: payload, attempts, last error")
        },
        "/v1/admin/queues/{queue}/dead/{id}" if delete => Operation {
            not_found: true,
            ..op("Purge one dead task")
        },
        "/v1/admin/queues/{queue}/dead/{id}/retry" if post => Operation {
            not_found: true,
            ..op("Retry one dead task")
        },
        "/v1/admin/queues/{queue}/purge" if post => Operation {
            not_found: true,
            ..op("Delete every waiting task of a queue (in-flight ones run on)")
        },
        "/v1/admin/schedules/{entry}/pause" if post => Operation {
            not_found: true,
            ..op("Pause a schedule entry")
        },
        "/v1/admin/schedules/{entry}/resume" if post => Operation {
            not_found: true,
            ..op("Resume a schedule entry")
        },
        "/v1/admin/schedules/{entry}/run" if post => Operation {
            not_found: true,
            success: 202,
            ..op("Run a schedule entry now")
        },
        "/v1/admin/prices/refresh" if post => Operation {
            body: true,
            success: 202,
            ..op("Refresh prices now (optional symbols)")
        },
        "/v1/admin/cache/stats" if get => {
            op("Keys, memory, hits and misses, oldest record per kind")
        }
        "/v1/admin/symbols" if get => op("The tracked symbols"),
        "/v1/admin/symbols" if post => Operation {
            body: true,
            success: 201,
            ..op("Track a symbol (refused when no provider can map it)")
        },
        "/v1/admin/symbols/{symbol}" if delete => Operation {
            not_found: true,
            ..op("Stop tracking a symbol")
        },
        "/v1/admin/wallets" if get => op("The watched wallets"),
        "/v1/admin/wallets" if post => Operation {
            body: true,
            success: 201,
            ..op("Watch a wallet (analysed on the hourly schedule)")
        },
        "/v1/admin/wallets/{address}" if delete => Operation {
            not_found: true,
            ..op("Stop watching a wallet")
        },
        _ => return None,
    };
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let missing: Vec<String> = crate::routes::endpoints()
            .into_iter()
            .filter(|(method, path, _)| describe(method, path).is_none())
            .map(|(method, path, _)| format!("{method} {path}"))
            .collect();
        assert!(missing.is_empty(), "undescribed routes: {missing:?}");
    }
}

//! The only place that builds Redis keys. Every key starts with the configured prefix.
//!
//! Queue keys follow apalis-redis 1.0's layout (`{ns}:active`, `{ns}:data`, `{ns}:meta:{id}`, ...)
//! with `{ns} = {{prefix}:q:{queue}}`: the braces are a Redis Cluster hash tag, so every key of
//! one queue hashes to one slot and each queue script's keys live on one primary, while
//! different queues spread over a cluster (as BullMQ's `{queue}` and asynq's `{qname}` keys do).
//! No queue key is global: apalis's `core:apalis:queues:list` is never written (our
//! `register.lua` replaces apalis's registration).

use crate::{
    alerts::AlertId,
    domain::{Address, Chain, CoinId, Currency, Symbol},
    jobs::QueueName,
    ratelimit::{LimiterId, Provider},
};

/// What a price record's key gets to name its history.
const PRICE_HISTORY_SUFFIX: &str = ":history";

/// Key builder for one deployment (one prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The keys of one queue.
    pub fn queue(&self, queue: &QueueName) -> QueueKeys {
        QueueKeys {
            ns: format!("{{{}:q:{}}}", self.prefix, queue),
        }
    }

    /// What [`Self::queue`]'s namespace was before the hash tag (`{prefix}:q:{queue}`), for
    /// `queue::migrate_layout` to find an older release's keys. Nothing writes it any more.
    pub fn queue_namespace_before_hash_tag(&self, queue: &QueueName) -> String {
        format!("{}:q:{}", self.prefix, queue)
    }

    /// HASH with the cached price of one coin: `record` (JSON), `fetched_at_ms`, `as_of_ms`.
    /// Keyed by coin id, not by symbol: many coins share a symbol.
    pub fn price(&self, coin: &CoinId) -> String {
        format!("{}:price:{coin}", self.prefix)
    }

    /// ZSET of one coin's price history: score = fetched-at (ms), member = `{"t":..,"usd":".."}`.
    pub fn price_history(&self, coin: &CoinId) -> String {
        Self::price_history_of(&self.price(coin))
    }

    /// The price record key an older release kept under a symbol (`{prefix}:price:BTC`), for
    /// `cache::migrate_symbol_keys` to move. Nothing writes it any more.
    pub fn price_by_symbol(&self, symbol: &Symbol) -> String {
        format!("{}:price:{symbol}", self.prefix)
    }

    /// A pattern matching every price record and history key (for cleanup).
    pub fn price_pattern(&self) -> String {
        format!("{}:price:*", self.prefix)
    }

    /// HASH with the cached analysis of one wallet: `record` (JSON) and `fetched_at_ms`.
    pub fn wallet(&self, chain: Chain, address: &Address) -> String {
        format!("{}:wallet:{chain}:{address}", self.prefix)
    }

    /// HASH with the latest top-N market snapshot: `record` (JSON) and `fetched_at_ms`.
    pub fn market_snapshot(&self) -> String {
        format!("{}:market:snapshot", self.prefix)
    }

    /// HASH with the latest global market stats: `record` (JSON) and `fetched_at_ms`.
    pub fn market_global(&self) -> String {
        format!("{}:market:global", self.prefix)
    }

    /// HASH with the supply figures of one coin: `record` (JSON) and `fetched_at_ms`.
    pub fn coin_supply(&self, coin: &CoinId) -> String {
        format!("{}:market:supply:{coin}", self.prefix)
    }

    /// HASH with the exchange rate from USD to `currency`: `record` (JSON) and `fetched_at_ms`.
    pub fn exchange_rate(&self, currency: Currency) -> String {
        format!("{}:market:rate:{currency}", self.prefix)
    }

    /// STRING: one price alert (JSON, `alerts::StoredAlert`). Never expires; deleted with the
    /// alert.
    pub fn alert(&self, id: &AlertId) -> String {
        format!("{}:alert:{id}", self.prefix)
    }

    /// ZSET of the triggers an alert with a cooldown fired on, scored by the fetched ms of
    /// their prices (`alerts::evaluate`): those within reach of a move still to be evaluated.
    /// Expires an hour after the cooldown of its newest; deleted with the alert.
    pub fn alert_firings(&self, id: &AlertId) -> String {
        format!("{}:alert:{id}:firings", self.prefix)
    }

    /// SET of the ids of the alerts one caller (`auth::Caller::id`) holds: the per-key bound.
    pub fn alerts_of(&self, owner: &str) -> String {
        format!("{}:alerts:owner:{owner}", self.prefix)
    }

    /// ZSET of the `above` alerts of `coin`, scored by threshold (a double: the candidates of a
    /// crossing, confirmed exactly against each alert's decimal).
    pub fn alerts_above(&self, coin: &CoinId) -> String {
        format!("{}:alerts:above:{coin}", self.prefix)
    }

    /// ZSET of the `below` alerts of `coin`, scored by threshold.
    pub fn alerts_below(&self, coin: &CoinId) -> String {
        format!("{}:alerts:below:{coin}", self.prefix)
    }

    /// SET of the `move` alerts of `coin`.
    pub fn alerts_moves(&self, coin: &CoinId) -> String {
        format!("{}:alerts:move:{coin}", self.prefix)
    }

    /// SET of the coins with at least one alert: the price write reports a coin's previous
    /// price only for these, so prices without alerts cost nothing more.
    pub fn alerts_coins(&self) -> String {
        format!("{}:alerts:coins", self.prefix)
    }

    /// STREAM of the price moves of coins with alerts, appended by the price write and read by
    /// the alerts-workers' consumer group (`alerts::MoveLog`).
    pub fn alert_moves(&self) -> String {
        format!("{}:alerts:moves", self.prefix)
    }

    /// STRING held once a trigger's webhook answered 2xx (`alert:{id}:{as_of}:{fetched}`), so a
    /// re-delivered task for it sends nothing. Expires after `alerts.remember_delivered_secs`.
    pub fn alert_delivered(&self, trigger: &str) -> String {
        format!("{}:alerts:delivered:{trigger}", self.prefix)
    }

    /// STRING held by the worker delivering a trigger, while it calls the webhook, so two
    /// copies of one trigger are never sent at once.
    pub fn alert_delivering(&self, trigger: &str) -> String {
        format!("{}:alerts:delivering:{trigger}", self.prefix)
    }

    /// For a key matched by [`Self::price_pattern`]: whether it is a history (not a record).
    pub fn is_price_history(key: &str) -> bool {
        key.ends_with(PRICE_HISTORY_SUFFIX)
    }

    /// The history key of a price record key.
    pub fn price_history_of(record_key: &str) -> String {
        format!("{record_key}{PRICE_HISTORY_SUFFIX}")
    }

    /// The record key of a price history key.
    pub fn price_record_of(history_key: &str) -> &str {
        history_key
            .strip_suffix(PRICE_HISTORY_SUFFIX)
            .unwrap_or(history_key)
    }

    /// What a price record key (one [`Self::price_pattern`] matches) names after
    /// `{prefix}:price:`: a coin id, or a symbol in an older release's key.
    pub fn price_key_name<'a>(&self, record_key: &'a str) -> Option<&'a str> {
        record_key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":price:")
    }

    /// Pub/Sub channel carrying every price record as it is written.
    pub fn price_events(&self) -> String {
        format!("{}:events:prices", self.prefix)
    }

    /// HASH with the run record of one schedule entry (`last_tick_ms`, `last_task_id`,
    /// `last_enqueued_ms`, `next_tick_ms`).
    pub fn schedule_entry(&self, entry: &str) -> String {
        format!("{}:schedule:{entry}", self.prefix)
    }

    /// What every key of a schedule entry (`schedule_entry`, `schedule_control`,
    /// `schedule_history`) starts with; the entry's name follows.
    pub fn schedule_prefix(&self) -> String {
        format!("{}:schedule:", self.prefix)
    }

    /// HASH with the operator's control of one schedule entry: `paused_ms` (present while the
    /// entry is paused: when it was paused) and `resumed_ms` (when it was last resumed; catch-up
    /// never runs a tick scheduled at or before it).
    pub fn schedule_control(&self, entry: &str) -> String {
        format!("{}:schedule:{entry}:control", self.prefix)
    }

    /// LIST of the entry's recent runs, newest first (JSON `schedule_history::RunRecord`),
    /// trimmed to `schedule_history::HISTORY_LEN` on every push.
    pub fn schedule_history(&self, entry: &str) -> String {
        format!("{}:schedule:{entry}:history", self.prefix)
    }

    /// HASH of the coin catalogue: coin id → the coin (JSON `catalogue::CatalogueCoin`).
    /// Replaced whole by each refresh (written aside, then renamed over it).
    pub fn catalogue_coins(&self) -> String {
        format!("{}:catalogue:coins", self.prefix)
    }

    /// HASH coin id → CoinLore's own id of the coin, learned from the pages the price tiers
    /// read (what `/ticker/?id=` asks by). One entry per coin CoinLore ever listed.
    pub fn coinlore_ids(&self) -> String {
        format!("{}:coinlore:ids", self.prefix)
    }

    /// HASH describing the stored catalogue: `refreshed_at_ms`, `source`, `coins`, `ranked`.
    pub fn catalogue_meta(&self) -> String {
        format!("{}:catalogue:meta", self.prefix)
    }

    /// Where one refresh writes the catalogue before renaming it over [`Self::catalogue_coins`]
    /// (unique per refresh, so two refreshes never mix their coins).
    pub fn catalogue_staging(&self, refresh: &str) -> String {
        format!("{}:catalogue:staging:{refresh}", self.prefix)
    }

    /// STRING: the operator's tracked set (comma-separated symbols, in order), overriding
    /// `prices.tracked` while it exists; empty means "track nothing". Never expires.
    pub fn tracked_symbols(&self) -> String {
        format!("{}:admin:tracked_symbols", self.prefix)
    }

    /// SET of the addresses an operator added to the watch list of one chain (besides
    /// `wallets.watched`). Never expires.
    pub fn watched_wallets(&self, chain: Chain) -> String {
        format!("{}:admin:watched_wallets:{chain}", self.prefix)
    }

    /// ZSET of the tasks (`{queue}/{task id}`) one API caller has enqueued and that may still be
    /// waiting or running (`queue::CallerTasks`), with an expiry. `caller` is the credential's
    /// id (`key:<hash prefix>`), never the credential.
    pub fn caller_tasks(&self, caller: &str) -> String {
        format!("{}:caller:{caller}:tasks", self.prefix)
    }

    /// STRING: which `stream-worker` replica holds shard `shard` of the streamed symbols
    /// (`lease::Lease`), with an expiry.
    pub fn stream_lease(&self, shard: u32) -> String {
        format!("{}:stream:lease:{shard}", self.prefix)
    }

    /// HASH: shard number → the state of that shard of the streamed symbols, as its holder last
    /// wrote it (`stream_state::ShardState`, JSON).
    pub fn stream_state(&self) -> String {
        format!("{}:stream:state", self.prefix)
    }

    /// STRING: the latest health report (JSON), with an expiry.
    pub fn health_report(&self) -> String {
        format!("{}:health:report", self.prefix)
    }

    /// HASH seq → number of runs, written by `probe` tasks that ask to be recorded.
    pub fn probe_runs(&self) -> String {
        format!("{}:probe:runs", self.prefix)
    }

    /// LIST of `{seq}:{unix_micros}`, appended by `probe` tasks that ask to be stamped, at the
    /// moment they start (enqueue→start latency in `coinbeat bench queue`).
    pub fn probe_starts(&self) -> String {
        format!("{}:probe:starts", self.prefix)
    }

    /// The keys of one rate limiter: `{prefix}:ratelimit:{provider}[:k{key fingerprint}]:…`.
    pub fn rate_limit(&self, limiter: &LimiterId) -> RateLimitKeys {
        RateLimitKeys {
            base: format!("{}:ratelimit:{limiter}", self.prefix),
        }
    }

    /// HASH with one provider's circuit breaker: `state`, `failures`, `opened_at_ms`,
    /// `probe_at_ms`, `opens`, `closes` (see `breaker`).
    pub fn breaker(&self, provider: Provider) -> String {
        format!("{}:breaker:{provider}", self.prefix)
    }

    /// A pattern matching every key of this deployment but its queues' (for tests and purge
    /// tools; queue keys match [`Self::queues_pattern`]).
    pub fn all_pattern(&self) -> String {
        format!("{}:*", self.prefix)
    }

    /// A pattern matching every key of every queue of this deployment (`{prefix:q:queue}:…`).
    pub fn queues_pattern(&self) -> String {
        format!("{{{}:q:*", self.prefix)
    }

    /// Which kind of data a key of this deployment holds, for `cache::cache_stats`: `prices`,
    /// `histories`, `markets`, `wallets`, `health`, `catalogue` or `queues`; `None` for the rest (limiter,
    /// breaker, schedule and admin state).
    pub fn kind_of(&self, key: &str) -> Option<&'static str> {
        if key
            .strip_prefix('{')
            .and_then(|k| k.strip_prefix(self.prefix.as_str()))
            .is_some_and(|k| k.starts_with(":q:"))
        {
            return Some("queues");
        }
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix(':')?;
        let (head, _) = rest.split_once(':')?;
        Some(match head {
            "price" if Self::is_price_history(key) => "histories",
            "price" => "prices",
            "market" => "markets",
            "wallet" => "wallets",
            "health" => "health",
            "catalogue" => "catalogue",
            _ => return None,
        })
    }
}

/// Keys of one queue, in apalis-redis's layout plus coinbeat's additions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    ns: String,
}

impl QueueKeys {
    /// The namespace handed to apalis-redis as its "queue" (`Config::queue`).
    pub fn namespace(&self) -> &str {
        &self.ns
    }
    /// LIST of task ids ready to run (apalis `{q}:active`); enqueue appends here directly.
    pub fn active(&self) -> String {
        format!("{}:active", self.ns)
    }
    /// ZSET of delayed and retrying ids, score = run-at in unix milliseconds (coinbeat's own).
    pub fn delayed(&self) -> String {
        format!("{}:delayed", self.ns)
    }
    /// HASH task id → JSON payload.
    pub fn data(&self) -> String {
        format!("{}:data", self.ns)
    }
    /// Prefix of the per-task metadata HASHes.
    pub fn meta_prefix(&self) -> String {
        format!("{}:meta", self.ns)
    }
    pub fn meta(&self, task_id: &str) -> String {
        format!("{}:meta:{task_id}", self.ns)
    }
    /// ZSET worker name → last heartbeat (unix seconds).
    pub fn workers(&self) -> String {
        format!("{}:workers", self.ns)
    }
    /// HASH apalis keeps per worker (backend name, service).
    pub fn worker_metadata(&self, worker: &str) -> String {
        format!("{}:workers:metadata:{worker}", self.ns)
    }
    /// Prefix of the per-worker metadata HASHes.
    pub fn worker_metadata_prefix(&self) -> String {
        format!("{}:workers:metadata", self.ns)
    }
    /// HASH coinbeat keeps per worker incarnation: `host`, `pid`, `started_ms`. Written when the
    /// incarnation starts, its expiry refreshed with every heartbeat, deleted on release and by
    /// the sweep of dead workers.
    pub fn worker_info(&self, worker: &str) -> String {
        format!("{}:workers:info:{worker}", self.ns)
    }
    /// Prefix of the per-worker info HASHes.
    pub fn worker_info_prefix(&self) -> String {
        format!("{}:workers:info", self.ns)
    }
    /// Prefix of the per-worker in-flight SETs.
    pub fn inflight_prefix(&self) -> String {
        format!("{}:inflight", self.ns)
    }
    /// A pattern matching every worker's in-flight SET of this queue (for diagnostics).
    pub fn inflight_pattern(&self) -> String {
        format!("{}:inflight:*", self.ns)
    }
    pub fn inflight(&self, worker: &str) -> String {
        format!("{}:inflight:{worker}", self.ns)
    }
    /// SET of finished ids (apalis `{q}:done`).
    pub fn done(&self) -> String {
        format!("{}:done", self.ns)
    }
    /// SET of dead ids (apalis `{q}:dead`).
    pub fn dead(&self) -> String {
        format!("{}:dead", self.ns)
    }
    /// ZSET of done and dead ids by finish time (ms), so retention can prune oldest first.
    pub fn finished(&self) -> String {
        format!("{}:finished", self.ns)
    }
    /// HASH task id → its last error, for every task whose meta records one: what a search by
    /// error text reads instead of every task's meta (`search.lua`). Written and deleted with
    /// the meta's `last_error` by every script that writes or deletes it.
    pub fn errors(&self) -> String {
        format!("{}:errors", self.ns)
    }
    /// Prefix of the search logs: a STRING per hour of finish time (`…:search:<unix hour>`),
    /// a line per task finished that hour, `<id>\t<payload>\n`,
    /// appended by `ack.lua`; what a search by arguments reads (`queue/search.rs`). A log goes
    /// when the finished records it covers are pruned, and expires a day after the retention.
    pub fn search_log_prefix(&self) -> String {
        format!("{}:search", self.ns)
    }
    /// The search log of `hour` (unix hours).
    pub fn search_log(&self, hour: u64) -> String {
        format!("{}:{hour}", self.search_log_prefix())
    }
    /// ZSET of the hours that have a search log (member and score: the unix hour).
    pub fn search_hours(&self) -> String {
        format!("{}:search-hours", self.ns)
    }
    /// STRING, present while the queue is paused: when it was paused (unix ms, Redis's
    /// clock). `fetch.lua` takes nothing from a paused queue (`queue/pause.rs`).
    pub fn paused(&self) -> String {
        format!("{}:paused", self.ns)
    }
    /// Prefix of the history HASHes: `…:m:<unix hour>` (per minute of that hour) and
    /// `…:h:<unix day>` (per hour of that day), counting what finished (`ack.lua`,
    /// `queue/history.rs`).
    pub fn history_prefix(&self) -> String {
        format!("{}:history", self.ns)
    }
    /// apalis's wake-up LIST, kept in step for apalis tools.
    pub fn signal(&self) -> String {
        format!("{}:signal", self.ns)
    }
    /// Prefix of idempotency keys (STRING → task id, always with a TTL).
    pub fn idempotency_prefix(&self) -> String {
        format!("{}:idempotency", self.ns)
    }
    pub fn idempotency(&self, key: &str) -> String {
        format!("{}:idempotency:{key}", self.ns)
    }
    /// STRING: the claim of one tick of schedule entry `entry` (the id of the task it
    /// enqueued, with a TTL): whoever claims it first enqueues, every other scheduler replica
    /// sees a duplicate. Not an idempotency key, so purging waiting or dead tasks, which
    /// releases their idempotency keys, never releases a tick.
    pub fn tick_claim(&self, entry: &str, tick_ms: i64) -> String {
        format!("{}:claim:{entry}:{tick_ms}", self.ns)
    }
    /// Pub/Sub channel on which enqueue announces new immediate tasks to idle workers.
    pub fn available_channel(&self) -> String {
        format!("{}:available", self.ns)
    }
}

/// Keys of one rate limiter (see `ratelimit::Limiter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitKeys {
    base: String,
}

impl RateLimitKeys {
    /// STRING: until when (unix µs, Redis's clock) the upstream's push-back blocks every
    /// acquisition; expires when the block ends.
    pub fn blocked_until(&self) -> String {
        format!("{}:blocked", self.base)
    }
    /// ZSET of the waiters in line for a permit: member = ticket, score = arrival (Redis's
    /// clock), so permits go in arrival order across processes.
    pub fn line(&self) -> String {
        format!("{}:line", self.base)
    }
    /// ZSET of the line's tickets by when their lease ends: a waiter that died leaves the line.
    pub fn line_leases(&self) -> String {
        format!("{}:line:leases", self.base)
    }
    /// HASH of counters: `acquired`, `permits`, `waited`, `wait_ms`, `denied`, `push_backs`.
    pub fn metrics(&self) -> String {
        format!("{}:metrics", self.base)
    }
    /// HASH period (ms) → permits currently in that period's sliding log.
    pub fn log_sums(&self) -> String {
        format!("{}:sums", self.base)
    }
    /// ZSET sliding log of one window: score = grant time (unix µs), member = `{nonce}:{cost}`.
    pub fn log(&self, period_ms: u64) -> String {
        format!("{}:log:{period_ms}", self.base)
    }
    /// HASH of one bucketed window: bucket index → permits granted in that bucket.
    pub fn buckets(&self, period_ms: u64) -> String {
        format!("{}:buckets:{period_ms}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_live_under_the_prefix_in_apalis_layout() {
        let k = Keys::new("cb").queue(&QueueName::parse("prices").unwrap());
        assert_eq!(k.namespace(), "{cb:q:prices}");
        assert_eq!(k.active(), "{cb:q:prices}:active");
        assert_eq!(k.meta("01H"), "{cb:q:prices}:meta:01H");
        assert_eq!(k.inflight("w1"), "{cb:q:prices}:inflight:w1");
        assert_eq!(k.idempotency("tick"), "{cb:q:prices}:idempotency:tick");
    }

    #[test]
    fn every_key_of_one_queue_shares_one_hash_tag_and_queues_differ() {
        let keys = Keys::new("cb");
        let tag = |key: &str| {
            let open = key.find('{').unwrap();
            let close = open + key[open..].find('}').unwrap();
            key[open + 1..close].to_string()
        };
        let prices = keys.queue(&QueueName::parse("prices").unwrap());
        let all = [
            prices.active(),
            prices.delayed(),
            prices.data(),
            prices.meta("01H"),
            prices.workers(),
            prices.worker_metadata("w"),
            prices.worker_info("w"),
            prices.inflight("w"),
            prices.done(),
            prices.dead(),
            prices.finished(),
            prices.signal(),
            prices.idempotency("k"),
            prices.tick_claim("e", 1),
            prices.available_channel(),
        ];
        for key in &all {
            assert_eq!(tag(key), "cb:q:prices", "{key}");
        }
        let market = keys.queue(&QueueName::parse("market").unwrap());
        assert_ne!(tag(&market.active()), tag(&prices.active()));
    }

    #[test]
    fn queue_keys_are_classified_as_queues_and_matched_by_the_queue_pattern() {
        let keys = Keys::new("cb");
        let active = keys.queue(&QueueName::parse("prices").unwrap()).active();
        assert_eq!(keys.kind_of(&active), Some("queues"));
        assert_eq!(keys.queues_pattern(), "{cb:q:*");
        assert_eq!(Keys::new("other").kind_of(&active), None);
        assert_eq!(keys.kind_of("cb:price:BTC"), Some("prices"));
        assert_eq!(keys.price_key_name("cb:price:bitcoin"), Some("bitcoin"));
        assert_eq!(keys.price_key_name("cb:price:BTC"), Some("BTC"));
        assert_eq!(keys.price_key_name("other:price:BTC"), None);
    }
}

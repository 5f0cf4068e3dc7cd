//! The one typed settings tree, loaded once in `main` and passed down.
//!
//! Layers, later wins: built-in defaults → an optional TOML file → `COINBEAT_*` environment variables
//! (`__` separates path segments, e.g. `COINBEAT_QUEUES__DEFAULTS__MAX_RETRIES=3`). `REDIS_URL`,
//! `COINGECKO_API_KEY` and `ETHERSCAN_API_KEY` are also read under those plain names, because that
//! is how every other tool in this space names them.

use std::{fmt, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

use crate::jobs::QueueName;

mod alerts;
mod api;
mod auth;
mod catalogue;
mod health;
mod history;
mod markets;
mod ops;
mod plan;
mod price_chain;
mod prices;
mod providers;
mod rates;
mod schedule;
mod streams;
pub mod tiers;
mod upstream;
mod wallets;

pub use alerts::AlertsSettings;
pub use api::ApiSettings;
pub use auth::{
    ApiKeyEntry, AuthSettings, JwtAlgorithm, JwtSettings, MIN_HS256_SECRET_BYTES, Role, StatusRead,
    UnknownRole,
};
pub use catalogue::CatalogueSettings;
pub use health::HealthSettings;
pub use history::{CATCH_UP_POINTS, HistorySettings, RANKED, TRACKED};
pub use markets::MarketsSettings;
pub use ops::OpsSettings;
pub use plan::{OverLimits, PlanSettings};
pub use price_chain::{ALCHEMY_SYMBOLS_PER_CALL, COINCAP_IDS_PER_CALL, PriceSource};
pub use prices::PricesSettings;
pub use providers::{
    AlchemySettings, AlphaVantageSettings, BinanceSettings, CoinCapSettings, CoinGeckoPlan,
    CoinGeckoSettings, CoinLoreSettings, EtherscanSettings, ProviderSettings, ProvidersSettings,
};
pub use rates::{RATES_ENTRY, RatesSettings};
pub use schedule::{ScheduleEntry, ScheduleTable, TierEntry, default_schedule};
pub use streams::StreamsSettings;
pub use tiers::{TierSettings, TierSource};
pub use upstream::UpstreamSettings;
pub use wallets::{ETHERSCAN_MAX_RECORDS, WalletSettings};

/// Errors raised while loading settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid settings: {0}")]
    Invalid(String),
    /// A `providers.<name>.rate_limit` that does not parse; `setting` is its path.
    #[error("invalid settings: {setting}: {source}")]
    RateLimit {
        setting: String,
        #[source]
        source: crate::ratelimit::RateSpecError,
    },
}

/// The whole configuration of a coinbeat deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub redis: RedisSettings,
    pub queues: QueuesSettings,
    pub providers: ProvidersSettings,
    pub upstream: UpstreamSettings,
    pub prices: PricesSettings,
    pub streams: StreamsSettings,
    pub markets: MarketsSettings,
    pub catalogue: CatalogueSettings,
    pub schedule: ScheduleTable,
    pub plan: PlanSettings,
    pub wallets: WalletSettings,
    pub api: ApiSettings,
    pub health: HealthSettings,
    pub history: HistorySettings,
    pub rates: RatesSettings,
    pub alerts: AlertsSettings,
    pub ops: OpsSettings,
    pub telemetry: TelemetrySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redis: RedisSettings::default(),
            queues: QueuesSettings::default(),
            providers: ProvidersSettings::default(),
            upstream: UpstreamSettings::default(),
            prices: PricesSettings::default(),
            streams: StreamsSettings::default(),
            markets: MarketsSettings::default(),
            catalogue: CatalogueSettings::default(),
            schedule: default_schedule(),
            plan: PlanSettings::default(),
            wallets: WalletSettings::default(),
            api: ApiSettings::default(),
            health: HealthSettings::default(),
            history: HistorySettings::default(),
            rates: RatesSettings::default(),
            alerts: AlertsSettings::default(),
            ops: OpsSettings::default(),
            telemetry: TelemetrySettings::default(),
        }
    }
}

impl Settings {
    /// Loads defaults, then `path` if given (a missing file is an error: the caller asked for
    /// it), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, SettingsError> {
        let mut settings: Self = Self::figment(path)
            .extract()
            .map_err(|e| SettingsError::Load(Box::new(e)))?;
        settings
            .prices
            .normalize_coins()
            .map_err(SettingsError::Invalid)?;
        // Watched wallets and price tiers run through the schedule table like any other job.
        settings.wallets.extend_schedule(&mut settings.schedule);
        tiers::validate(&settings.prices.tiers).map_err(SettingsError::Invalid)?;
        settings.prices.extend_schedule(&mut settings.schedule);
        settings
            .history
            .validate(&settings.prices.tiers)
            .map_err(SettingsError::Invalid)?;
        settings.history.extend_schedule(&mut settings.schedule);
        settings.rates.validate().map_err(SettingsError::Invalid)?;
        settings.rates.extend_schedule(&mut settings.schedule);
        if settings.plan.over_limits == OverLimits::Stretch {
            let mut table = std::mem::take(&mut settings.schedule);
            crate::plan::stretch_tiers(&settings, &mut table, chrono::Utc::now());
            settings.schedule = table;
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot: every tracked symbol has a coin id, every provider's
    /// rate limit parses.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.providers.validate()?;
        price_chain::validate(&self.prices.providers).map_err(SettingsError::Invalid)?;
        self.api.validate_auth().map_err(SettingsError::Invalid)?;
        self.api.validate_limits().map_err(SettingsError::Invalid)?;
        self.streams.validate().map_err(SettingsError::Invalid)?;
        self.alerts.validate().map_err(SettingsError::Invalid)?;
        let unmapped = self.prices.unmapped();
        if !unmapped.is_empty() {
            let list: Vec<&str> = unmapped.iter().map(|s| s.as_str()).collect();
            return Err(SettingsError::Invalid(format!(
                "tracked symbols without a CoinGecko id: {} (add them under [prices.coins])",
                list.join(", ")
            )));
        }
        Ok(())
    }

    fn figment(path: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = path {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            // `COINBEAT_CONFIG` names the file; `COINBEAT_SIM_*` configure the simulator.
            // Neither is a setting.
            Env::prefixed("COINBEAT_")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    key != "config" && !key.starts_with("sim_")
                })
                .split("__"),
        );
        for (name, path) in ENV_ALIASES {
            figment = figment.merge(Env::raw().only(&[name]).map(move |_| path.into()));
        }
        figment
    }
}

/// Settings also read under a plain environment name, `(name, setting path)`: the names every
/// other tool in this space uses. They win over the `COINBEAT_*` form.
pub const ENV_ALIASES: [(&str, &str); 7] = [
    ("REDIS_URL", "redis.url"),
    ("DATABASE_URL", "history.database_url"),
    ("COINGECKO_API_KEY", "providers.coingecko.api_key"),
    ("ETHERSCAN_API_KEY", "providers.etherscan.api_key"),
    ("COINCAP_API_KEY", "providers.coincap.api_key"),
    ("ALCHEMY_API_KEY", "providers.alchemy.api_key"),
    ("ALPHAVANTAGE_API_KEY", "providers.alphavantage.api_key"),
];

/// Where Redis is and how our keys are named in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://`, `rediss://` or `redis+unix://` URL. May carry a password, so it is a secret.
    pub url: Secret,
    /// Every key coinbeat writes starts with this prefix and a colon. Two deployments (or two
    /// tests) sharing one Redis stay apart by using different prefixes.
    pub key_prefix: String,
    /// Run on a Redis whose `maxmemory-policy` evicts keys (anything but `noeviction`). Off by
    /// default: every process refuses such a Redis at start, because eviction silently deletes
    /// queued tasks, task records and queue keys. On: a warning, and the risk is yours.
    pub allow_evicting_policy: bool,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("redis://127.0.0.1:6379"),
            key_prefix: "coinbeat".into(),
            allow_evicting_policy: false,
        }
    }
}

/// Queue behaviour: defaults for every queue, with per-queue overrides.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueuesSettings {
    pub defaults: QueueSettings,
    /// Per-queue overrides, keyed by queue name; any field left out keeps the default.
    pub overrides: std::collections::BTreeMap<String, QueueOverride>,
}

impl Default for QueuesSettings {
    /// The built-in overrides: backlog caps by what each queue's tasks cost, so every queue
    /// full together fits the smaller shipped Redis (docker/k8s: `maxmemory 700mb`) with room to
    /// spare; and `cleanup` without a memory high-water mark, because its job is what frees
    /// memory (one small task a day; Redis's own `maxmemory` still bounds it).
    ///
    /// Bytes per waiting task, measured on redis-server 7.0 (`used_memory` before and after
    /// 10,000 tasks; `shared/tests/queue_memory.rs` measures again and holds the sum below):
    ///
    /// | queue | payload measured | B/task | cap | full |
    /// |---|---|---|---|---|
    /// | prices | 10 symbols (the API's on-demand job; the beat's `{}` is smaller) | 470 | 200,000 | 94 MB |
    /// | market | `{"limit":250}` | 380 | 100,000 | 38 MB |
    /// | wallet | an address, plus its single-flight idempotency key | 793 | 100,000 | 79 MB |
    /// | health | `{}` | 360 | 10,000 | 3.6 MB |
    /// | cleanup | `{}` | 360 | 10,000 | 3.6 MB |
    /// | catalogue | `{}` | 465 | 200,000 | 93 MB |
    /// | history | `{"snapshot":{"set":"ranked"}}` | 332 | 10,000 | 3.3 MB |
    /// | rates | `{}` | 359 | 10,000 | 3.6 MB |
    /// | alerts | a crossing of an `above` alert, plus its trigger as idempotency key | 1,006 | 40,000 | 40 MB |
    ///
    /// Every queue full: about 360 MB, 49% of 700 MiB (734 MB) and well under its high-water
    /// mark at 0.8 (587 MB); the rest holds the cache, histories and finished task records
    /// (a done record is about twice a waiting one). A queue of some other name (`probe`)
    /// takes the default, 200,000.
    fn default() -> Self {
        let cap = |n: u64| QueueOverride {
            max_backlog: Some(n),
            ..QueueOverride::default()
        };
        let cleanup = QueueOverride {
            memory_high_water: Some(1.0),
            ..cap(10_000)
        };
        Self {
            defaults: QueueSettings::default(),
            overrides: [
                ("market".to_owned(), cap(100_000)),
                ("wallet".to_owned(), cap(100_000)),
                ("health".to_owned(), cap(10_000)),
                // A few runs a day, each a handful of calls.
                ("rates".to_owned(), cap(10_000)),
                // A webhook receiver may be down for minutes: eight retries from 2 s,
                // doubling up to 10 minutes, about 18 minutes in all before a delivery is dead.
                // One task per alert and crossing, the largest payload of all (1 kB): 40,000
                // waiting is four full bursts of the bench's 10,000 alerts crossed at once.
                (
                    "alerts".to_owned(),
                    QueueOverride {
                        max_retries: Some(8),
                        retry_base_delay_ms: Some(2_000),
                        retry_max_delay_ms: Some(600_000),
                        ..cap(40_000)
                    },
                ),
                ("cleanup".to_owned(), cleanup),
                // Backfills are bound by CoinGecko's limit: four at once keep it busy, and
                // more would only parse answers while permits are granted, delaying requests
                // past the limiter's guard (workers/tests/history_backfill.rs).
                (
                    "history".to_owned(),
                    QueueOverride {
                        concurrency: Some(4),
                        ..cap(10_000)
                    },
                ),
            ]
            .into(),
        }
    }
}

impl QueuesSettings {
    /// The Redis of `queue` when it has its own (`overrides.<queue>.redis_url`); `None`: the
    /// deployment's `redis.url`.
    pub fn redis_url(&self, queue: &QueueName) -> Option<&Secret> {
        self.overrides.get(queue.as_str())?.redis_url.as_ref()
    }

    /// Every queue with a Redis of its own, by name, with its URL.
    pub fn redis_urls(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.overrides
            .iter()
            .filter_map(|(name, o)| Some((name.as_str(), o.redis_url.as_ref()?)))
    }

    /// The effective settings of one queue.
    pub fn for_queue(&self, queue: &QueueName) -> QueueSettings {
        let mut s = self.defaults.clone();
        if let Some(o) = self.overrides.get(queue.as_str()) {
            o.apply(&mut s);
        }
        s
    }
}

/// The effective settings of one queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    /// Most tasks a queue may hold waiting (immediate plus delayed). Past it, enqueue fails with
    /// "queue full" instead of letting Redis grow without bound. The defaults (200,000, less
    /// for some queues) fit every queue full in the shipped Redis: see `QueuesSettings::default`.
    pub max_backlog: u64,
    /// How many times a transient failure is retried before the task is dead.
    pub max_retries: u32,
    /// First retry delay; each later retry doubles it, up to `retry_max_delay_ms`, with jitter.
    pub retry_base_delay_ms: u64,
    pub retry_max_delay_ms: u64,
    /// Tasks one worker process runs at once.
    pub concurrency: usize,
    /// Tasks fetched per round trip.
    pub fetch_batch: usize,
    /// How often a worker proves it is alive.
    pub heartbeat_secs: u64,
    /// A worker silent this long is dead; live workers re-enqueue what it held.
    pub orphan_after_secs: u64,
    /// Fallback poll period; new tasks normally wake workers at once through Pub/Sub.
    pub poll_interval_ms: u64,
    /// How long a stopping worker may take to finish its tasks before it releases the rest.
    pub shutdown_timeout_secs: u64,
    /// How long an idempotency key blocks duplicates when the caller gives no TTL.
    pub idempotency_ttl_secs: u64,
    /// How long finished (done and dead) task records are kept. Enforced continuously (each
    /// ack and each promoter tick of a worker prunes a bounded number past it) and by the
    /// daily cleanup job.
    pub finished_retention_secs: u64,
    /// Enqueue is refused ([`crate::queue::QueueError::MemoryFull`], the API's 429
    /// `queue_full`) while Redis's `used_memory` is above this fraction of its `maxmemory`, so
    /// that a full Redis never reaches `maxmemory`, where it would refuse the workers' fetches
    /// too. Above it, finished records are pruned oldest first whatever their age. No mark when
    /// Redis has no `maxmemory`, or at 1.0 or more. Fetch, ack, release and pruning never check
    /// it. Read from `INFO memory` at most once a second per process.
    pub memory_high_water: f64,
    /// Longest a task may spend waiting on throttles (an upstream's 429, a shared limit's
    /// permit), all its throttles together. A throttle is not a failed attempt, so this is what
    /// keeps a task from waiting forever; past it the task is dead, saying so.
    pub max_throttled_secs: u64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            // Sized with the per-queue overrides in `QueuesSettings::default`.
            max_backlog: 200_000,
            max_retries: 3,
            retry_base_delay_ms: 1_000,
            retry_max_delay_ms: 300_000,
            concurrency: 16,
            fetch_batch: 64,
            heartbeat_secs: 5,
            orphan_after_secs: 15,
            poll_interval_ms: 500,
            shutdown_timeout_secs: 25,
            idempotency_ttl_secs: 3_600,
            finished_retention_secs: 86_400,
            memory_high_water: 0.8,
            max_throttled_secs: 3_600,
        }
    }
}

impl QueueSettings {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }
    pub fn orphan_after(&self) -> Duration {
        Duration::from_secs(self.orphan_after_secs.max(self.heartbeat_secs.max(1)))
    }
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
    pub fn finished_retention(&self) -> Duration {
        Duration::from_secs(self.finished_retention_secs)
    }
}

/// Optional per-queue overrides of [`QueueSettings`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueOverride {
    pub max_backlog: Option<u64>,
    pub max_retries: Option<u32>,
    pub retry_base_delay_ms: Option<u64>,
    pub retry_max_delay_ms: Option<u64>,
    pub concurrency: Option<usize>,
    pub fetch_batch: Option<usize>,
    pub heartbeat_secs: Option<u64>,
    pub orphan_after_secs: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub shutdown_timeout_secs: Option<u64>,
    pub idempotency_ttl_secs: Option<u64>,
    pub finished_retention_secs: Option<u64>,
    pub memory_high_water: Option<f64>,
    pub max_throttled_secs: Option<u64>,
    /// The queue's own Redis (`redis://`, `rediss://`, or a Redis Cluster:
    /// `redis+cluster://[user:password@]host:port[,host:port…]`), instead of `redis.url`: every
    /// key of the queue lives there, and every process that touches the queue (producers,
    /// its workers, stats, the API, the CLI) goes there for it. Everything else (caches,
    /// schedules, limiters) stays on `redis.url`. `COINBEAT_QUEUES__OVERRIDES__<QUEUE>__REDIS_URL`.
    pub redis_url: Option<Secret>,
}

impl QueueOverride {
    fn apply(&self, s: &mut QueueSettings) {
        macro_rules! take {
            ($($f:ident),*) => { $(if let Some(v) = self.$f { s.$f = v; })* };
        }
        take!(
            max_backlog,
            max_retries,
            retry_base_delay_ms,
            retry_max_delay_ms,
            concurrency,
            fetch_batch,
            heartbeat_secs,
            orphan_after_secs,
            poll_interval_ms,
            shutdown_timeout_secs,
            idempotency_ttl_secs,
            finished_retention_secs,
            memory_high_water,
            max_throttled_secs
        );
    }
}

/// How logs are written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    pub format: LogFormat,
}

/// Pretty for people at a terminal, JSON for log collectors.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// A string that must never reach a log: its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself, for the one place that needs it (a header, a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed by figment.
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_then_file_then_environment_each_win_in_turn() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "coinbeat.toml",
                r#"
                [redis]
                key_prefix = "from-file"
                [queues.defaults]
                max_retries = 7
                concurrency = 2
                [queues.overrides.wallet]
                max_retries = 1
                "#,
            )?;
            jail.set_env("COINBEAT_QUEUES__DEFAULTS__CONCURRENCY", "9");
            jail.set_env(
                "COINBEAT_QUEUES__OVERRIDES__MARKET__REDIS_URL",
                "redis+cluster://a:7000,b:7001",
            );
            jail.set_env("COINBEAT_CONFIG", "coinbeat.toml");
            jail.set_env("COINBEAT_SIM_ADDR", "127.0.0.1:9180");
            jail.set_env("REDIS_URL", "redis://example:6380/2");
            jail.set_env("ETHERSCAN_API_KEY", "sekret");
            let s = Settings::load(Some(Path::new("coinbeat.toml"))).expect("loads");
            assert_eq!(s.redis.key_prefix, "from-file");
            assert_eq!(s.redis.url.expose(), "redis://example:6380/2");
            assert_eq!(s.queues.defaults.max_retries, 7);
            assert_eq!(s.queues.defaults.concurrency, 9);
            assert_eq!(s.queues.defaults.heartbeat_secs, 5, "untouched default");
            let wallet = s.queues.for_queue(&QueueName::parse("wallet").unwrap());
            assert_eq!(wallet.max_retries, 1);
            assert_eq!(
                s.queues
                    .redis_url(&QueueName::parse("market").unwrap())
                    .map(Secret::expose),
                Some("redis+cluster://a:7000,b:7001")
            );
            assert_eq!(
                s.queues.redis_url(&QueueName::parse("wallet").unwrap()),
                None
            );
            assert_eq!(
                s.queues
                    .for_queue(&QueueName::parse("market").unwrap())
                    .max_backlog,
                100_000,
                "a URL override leaves the built-in backlog cap"
            );
            assert_eq!(wallet.concurrency, 9);
            assert_eq!(
                s.providers.etherscan.api_key.as_ref().map(Secret::expose),
                Some("sekret")
            );
            Ok(())
        });
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut s = Settings::default();
        s.redis.url = Secret::new("redis://:hunter2@host");
        s.providers.coingecko.api_key = Some(Secret::new("CG-abc123"));
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("CG-abc123"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn unknown_keys_and_bad_types_are_errors_that_name_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("COINBEAT_QUEUES__DEFAULTS__MAX_RETRIES", "many");
            let err = Settings::load(None).expect_err("must fail");
            assert!(
                err.to_string().to_lowercase().contains("max_retries"),
                "{err}"
            );
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[redis]\nurll = \"x\"\n")?;
            let err = Settings::load(Some(Path::new("c.toml"))).expect_err("must fail");
            assert!(err.to_string().contains("urll"), "{err}");
            Ok(())
        });
    }
}

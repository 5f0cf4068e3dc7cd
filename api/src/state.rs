//! The state every request shares: clone-cheap handles behind one `Arc`, built once from the
//! settings.

use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use axum::extract::FromRef;
use coinbeat_history::HistoryStore;
use coinbeat_ops::Ops;
use coinbeat_shared::{
    Settings,
    alerts::AlertStore,
    cache::{PriceCache, RateCache, RateRecord, WalletCache},
    catalogue::{CatalogueCache, CatalogueStore},
    domain::{Currency, Symbol},
    jobs::{Queue, QueueName},
    keys::Keys,
    metrics::{RedisGauges, Registry},
    queue::{Producer, QueueConn, QueueRedis},
    ratelimit::Provider,
    redis_conn::{self, ConnectError},
    settings::QueueSettings,
};
use redis::aio::ConnectionManager;

use crate::{
    ApiError,
    auth::{AuthConfigError, Authenticator},
    cache_reads::CacheReads,
    catalogue::Catalogue,
    hardening::client_limit::ClientLimiter,
    live_prices::LivePrices,
    metrics::HttpMetrics,
    price_events::PriceEvents,
};

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Redis(#[from] ConnectError),
    #[error(transparent)]
    Auth(#[from] AuthConfigError),
    #[error("history storage: {0}")]
    History(#[from] coinbeat_history::HistoryError),
}

/// Shortest whole-request timeout. Every Redis call is already bounded by the Redis timeout;
/// this is the backstop for everything else (a client trickling its body, a bug).
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long this process reuses the tracked set it read from Redis: an operator's change shows
/// in every replica within this, without a Redis read on every price list.
const TRACKED_REUSE: Duration = Duration::from_secs(1);
/// How long this process reuses the exchange rates it read (they change every few hours).
const RATES_REUSE: Duration = Duration::from_secs(1);

/// The exchange rates held, by currency.
pub type Rates = std::collections::BTreeMap<Currency, RateRecord>;
/// How long this process trusts its copy of the coin catalogue before asking whether a refresh
/// replaced it.
const CATALOGUE_RECHECK: Duration = Duration::from_secs(1);

/// What the handlers share. Cloning it clones one `Arc`.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    /// Who may call which route (keys, JWT verifier).
    authenticator: Authenticator,
    /// One multiplexed connection for the whole process; it connects on first use and
    /// reconnects by itself, so the API starts and answers 503 while Redis is down.
    conn: ConnectionManager,
    keys: Keys,
    cache: PriceCache,
    /// The price alerts (`/v1/alerts`).
    alerts: AlertStore,
    wallets: WalletCache,
    /// The in-process copy of the price records, served while it is current.
    live_prices: Arc<LivePrices>,
    /// The fan-out of price updates to the live streams.
    price_events: PriceEvents,
    producer: Producer,
    /// Every product queue with its effective settings, resolved once.
    queues: Vec<(Queue, QueueName, QueueSettings)>,
    redis_timeout: Duration,
    http_metrics: HttpMetrics,
    /// What `GET /healthz`, `/readyz` and `/metrics` answer with (`coinbeat_ops`'s routes, as
    /// every process serves them): the in-process metrics, then every product queue and every
    /// provider read from Redis at scrape time.
    ops: Ops,
    /// Hits and misses of this process's cache reads.
    cache_reads: CacheReads,
    /// The coin catalogue as last read (see [`AppState::catalogue`]).
    catalogue: CatalogueCache,
    /// The tracked set as last read (see [`AppState::tracked_symbols`]).
    tracked: Mutex<Option<(Instant, Arc<Vec<Symbol>>)>>,
    /// The exchange rates as last read (see [`AppState::rates`]).
    rates: Mutex<Option<(Instant, Arc<Rates>)>>,
    rate_cache: RateCache,
    /// PostgreSQL, for history past what Redis keeps; `None` when history storage is off.
    history: Option<HistoryStore>,
    /// The OpenAPI document, built on first request (see [`AppState::openapi_document`]).
    openapi: OnceLock<serde_json::Value>,
    /// The per-client request rate's buckets, one set for the whole process (every serving
    /// thread takes from the same); `None` when `api.client_rate_per_sec` is 0.
    client_limiter: Option<ClientLimiter>,
}

impl AppState {
    /// Builds the state without touching Redis (the connection is made on first use).
    /// Must be called inside a Tokio runtime. Fails on a malformed Redis URL or unusable auth
    /// settings (a key hash that is not hex, a JWT key that does not parse).
    pub fn new(settings: &Settings) -> Result<Self, StateError> {
        let authenticator = Authenticator::new(&settings.api)?;
        let conn = redis_conn::connect_lazy(&settings.redis)?;
        let keys = Keys::new(settings.redis.key_prefix.clone());
        let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices);
        let wallets = WalletCache::new(conn.clone(), keys.clone(), &settings.wallets);
        let rate_cache = RateCache::new(conn.clone(), keys.clone());
        let queue_redis = redis_conn::connect_queues_lazy(settings, conn.clone())?;
        let producer = Producer::new(queue_redis.clone(), keys.clone(), settings.queues.clone());
        let queues = Queue::ALL
            .into_iter()
            .map(|q| {
                let name = q.name();
                let queue_settings = settings.queues.for_queue(&name);
                (q, name, queue_settings)
            })
            .collect::<Vec<_>>();
        let redis_timeout = Duration::from_millis(settings.api.redis_timeout_ms.max(1));
        let live_prices = Arc::new(LivePrices::new(settings.prices.expire_after()));
        let copy = Arc::clone(&live_prices);
        let registry = Registry::new();
        let http_metrics = HttpMetrics::new(&registry);
        let mut redis_gauges =
            RedisGauges::new(conn.clone(), keys.clone(), redis_timeout).queues_on(queue_redis);
        for (_, name, queue_settings) in &queues {
            redis_gauges = redis_gauges.queue(name.clone(), queue_settings.clone());
        }
        for provider in Provider::ALL {
            redis_gauges = redis_gauges.provider(provider, settings.providers.limiter_id(provider));
        }
        let catalogue = CatalogueCache::new(
            CatalogueStore::new(conn.clone(), keys.clone()),
            settings.prices.coins.clone(),
            CATALOGUE_RECHECK,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                authenticator,
                conn: conn.clone(),
                alerts: AlertStore::new(conn.clone(), keys.clone()),
                keys,
                cache,
                wallets,
                live_prices: Arc::clone(&live_prices),
                price_events: PriceEvents::new(&settings.api),
                producer,
                queues,
                redis_timeout,
                http_metrics,
                // The API runs as long as it answers, and while Redis does not, it serves the
                // prices from its copy once it has loaded one: ready, degraded.
                ops: Ops::new(registry, redis_gauges, conn.clone(), redis_timeout, || true)
                    .serving_without_redis(move || copy.is_loaded()),
                cache_reads: CacheReads::default(),
                openapi: OnceLock::new(),
                catalogue,
                tracked: Mutex::new(None),
                rates: Mutex::new(None),
                rate_cache,
                history: HistoryStore::from_settings(&settings.history)?,
                client_limiter: ClientLimiter::new(
                    settings.api.client_rate_per_sec,
                    settings.api.client_burst,
                ),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.authenticator
    }

    /// The connection of `queue` (the deployment's Redis, or the queue's own).
    pub fn queue_conn(&self, queue: &QueueName) -> QueueConn {
        self.inner.producer.redis().conn(queue)
    }

    /// Each queue's Redis.
    pub fn queue_redis(&self) -> &QueueRedis {
        self.inner.producer.redis()
    }

    pub fn conn(&self) -> &ConnectionManager {
        &self.inner.conn
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The history in PostgreSQL, when `DATABASE_URL` is set.
    pub fn history(&self) -> Option<&HistoryStore> {
        self.inner.history.as_ref()
    }

    pub fn cache(&self) -> &PriceCache {
        &self.inner.cache
    }

    /// The price alerts.
    pub fn alerts(&self) -> &AlertStore {
        &self.inner.alerts
    }

    /// The cached wallet analyses.
    pub fn wallets(&self) -> &WalletCache {
        &self.inner.wallets
    }

    /// The in-process copy of the price records (see [`crate::live_prices`]).
    pub fn live_prices(&self) -> &LivePrices {
        &self.inner.live_prices
    }

    /// The fan-out of price updates to the live streams (see [`crate::price_events`]).
    pub fn price_events(&self) -> &PriceEvents {
        &self.inner.price_events
    }

    pub fn producer(&self) -> &Producer {
        &self.inner.producer
    }

    /// The product queues, in [`Queue::ALL`] order, with their effective settings.
    pub fn queues(&self) -> &[(Queue, QueueName, QueueSettings)] {
        &self.inner.queues
    }

    /// The per-client request rate's buckets (`None`: no limit).
    pub fn client_limiter(&self) -> Option<&ClientLimiter> {
        self.inner.client_limiter.as_ref()
    }

    /// The request counters and durations the router's middleware records.
    pub fn http_metrics(&self) -> &HttpMetrics {
        &self.inner.http_metrics
    }

    /// Hits and misses of this process's cache reads.
    pub fn cache_reads(&self) -> &CacheReads {
        &self.inner.cache_reads
    }

    /// The OpenAPI document of this API: built by `build` from the settings once, then kept.
    pub fn openapi_document(
        &self,
        build: impl FnOnce(&Settings) -> serde_json::Value,
    ) -> serde_json::Value {
        self.inner
            .openapi
            .get_or_init(|| build(&self.inner.settings))
            .clone()
    }

    /// The exchange rates of `rates.currencies` held in Redis, read at most once per
    /// [`RATES_REUSE`]; while Redis does not answer, the rates as last read (503 before the
    /// first read).
    pub async fn rates(&self) -> Result<Arc<Rates>, ApiError> {
        {
            let cached = self
                .inner
                .rates
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((at, rates)) = cached.as_ref()
                && at.elapsed() < RATES_REUSE
            {
                return Ok(rates.clone());
            }
        }
        let currencies = &self.settings().rates.currencies;
        let rates = match self.redis(self.inner.rate_cache.get_many(currencies)).await {
            Ok(rates) => Arc::new(rates),
            // While Redis cannot be reached, the rates as last read, for another
            // [`RATES_REUSE`] (so reads do not each wait for Redis's timeout).
            Err(e) if e.is_redis_unavailable() => {
                let mut cached = self
                    .inner
                    .rates
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let Some((at, rates)) = cached.as_mut() else {
                    return Err(e);
                };
                *at = Instant::now();
                return Ok(rates.clone());
            }
            Err(e) => return Err(e),
        };
        *self
            .inner
            .rates
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), rates.clone()));
        Ok(rates)
    }

    /// The exchange rates as last read, without asking Redis.
    pub fn rates_as_last_read(&self) -> Option<Arc<Rates>> {
        let cached = self
            .inner
            .rates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cached.as_ref().map(|(_, rates)| rates.clone())
    }

    /// The tracked set in force: the operator's override in Redis, or `prices.tracked`. Read
    /// at most once per [`TRACKED_REUSE`]; while Redis does not answer, the set as last read
    /// (503 before the first read).
    pub async fn tracked_symbols(&self) -> Result<Arc<Vec<Symbol>>, ApiError> {
        {
            let cached = self
                .inner
                .tracked
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((at, set)) = cached.as_ref()
                && at.elapsed() < TRACKED_REUSE
            {
                return Ok(set.clone());
            }
        }
        let loaded = self
            .redis(coinbeat_shared::tracked_symbols::load(
                self.conn(),
                self.keys(),
                &self.settings().prices,
            ))
            .await;
        let set = match loaded {
            Ok(set) => Arc::new(set),
            // While Redis cannot be reached, the set as last read, for another
            // [`TRACKED_REUSE`] (reads go on from memory).
            Err(e) if e.is_redis_unavailable() => {
                let mut cached = self
                    .inner
                    .tracked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let Some((at, set)) = cached.as_mut() else {
                    return Err(e);
                };
                *at = Instant::now();
                return Ok(set.clone());
            }
            Err(e) => return Err(e),
        };
        *self
            .inner
            .tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), set.clone()));
        Ok(set)
    }

    /// The coin catalogue, as of at most [`CATALOGUE_RECHECK`] ago.
    pub async fn catalogue(&self) -> Result<Catalogue, ApiError> {
        self.redis(self.inner.catalogue.get()).await
    }

    /// Forgets the tracked set read last (after this process changed it).
    pub fn forget_tracked_symbols(&self) {
        *self
            .inner
            .tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// How long any one Redis call may take before the request answers 503.
    pub fn redis_timeout(&self) -> Duration {
        self.inner.redis_timeout
    }

    /// How long a whole request may take.
    pub fn request_timeout(&self) -> Duration {
        MIN_REQUEST_TIMEOUT.max(self.inner.redis_timeout * 3)
    }

    pub fn max_body_bytes(&self) -> usize {
        self.inner.settings.api.max_body_bytes
    }

    /// Runs one Redis operation, bounded by the Redis timeout, so a request never hangs on a
    /// Redis that is down or stuck.
    pub async fn redis<T, E>(&self, op: impl Future<Output = Result<T, E>>) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        match tokio::time::timeout(self.inner.redis_timeout, op).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_elapsed) => Err(ApiError::RedisTimeout(self.inner.redis_timeout)),
        }
    }

    /// [`redis`](Self::redis) for an operation of many calls that stops itself after `budget`
    /// (a search): bounded by the budget and then one call's timeout.
    pub async fn redis_within<T, E>(
        &self,
        budget: std::time::Duration,
        op: impl Future<Output = Result<T, E>>,
    ) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        let bound = budget + self.inner.redis_timeout;
        match tokio::time::timeout(bound, op).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_elapsed) => Err(ApiError::RedisTimeout(bound)),
        }
    }
}

impl FromRef<AppState> for Ops {
    fn from_ref(state: &AppState) -> Ops {
        state.inner.ops.clone()
    }
}

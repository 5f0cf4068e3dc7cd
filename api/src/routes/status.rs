//! `GET /v1/status`: the price service at a glance, in one document (seed 000's cache status):
//! whether Redis answers, which providers are configured, the tracked set, how many of its
//! prices are cached and fresh and when the newest and oldest were fetched, the freshness
//! windows, and whether history storage is on. Read now by this API process, not by the health
//! worker; answers 200 while Redis is down (that is what it reports), from the in-process copy.

use std::time::Instant;

use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::Freshness,
    domain::{Currency, Symbol},
    ratelimit::Provider,
    settings::PriceSource,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    health_report::{HistoryHealth, history_health},
    prices::{named_symbols, records},
};
use crate::{ApiError, AppState};

/// `GET /v1/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    /// When this API process put the document together.
    checked_at: DateTime<Utc>,
    redis: RedisStatus,
    prices: PricesStatus,
    /// Each upstream coinbeat may call, as the settings configure it.
    providers: Vec<ProviderStatus>,
    /// The price chain (`prices.providers`): the upstreams a price job asks, in order.
    #[schema(value_type = Vec<String>)]
    price_chain: Vec<PriceSource>,
    /// Each of `rates.currencies` with its stored exchange rate (for `?vs=`), or none yet.
    rates: Vec<RateStatus>,
    /// PostgreSQL, the history that lasts.
    history_storage: HistoryHealth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedisStatus {
    connected: bool,
    /// The round trip of a `PING`, when connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PricesStatus {
    /// The tracked symbols, in their order.
    #[schema(value_type = Vec<String>)]
    tracked: Vec<Symbol>,
    /// `redis` (changed through `/v1/admin/symbols`), `settings` (`prices.tracked`), or
    /// `settings-unchecked` (Redis did not answer, so an override there could not be read).
    #[schema(pattern = "^(redis|settings|settings-unchecked)$")]
    tracked_source: &'static str,
    /// Tracked symbols with a cached price.
    cached: usize,
    /// Of those, the ones past `fresh_secs` (served with `stale: true`).
    stale: usize,
    /// Tracked symbols no coin has (see `GET /v1/prices`' `missing`).
    unmapped: usize,
    /// The newest and the oldest fetch among the cached tracked prices.
    last_update: Option<DateTime<Utc>>,
    oldest_update: Option<DateTime<Utc>>,
    /// True when Redis could not be asked and the counts come from the in-process copy.
    cache_unchecked: bool,
    /// A price older than this is served as stale (`prices.fresh_secs`).
    fresh_secs: u64,
    /// A price older than this is gone (`prices.expire_secs`).
    expire_secs: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderStatus {
    #[schema(value_type = String)]
    name: &'static str,
    /// Whether a key is set (never the key). Binance and CoinLore take none.
    api_key: bool,
    /// Its shared rate limit (`providers.<name>.rate_limit`); CoinCap's stream takes no permits.
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<String>,
}

/// One currency prices can be shown in, and the rate held for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateStatus {
    #[schema(value_type = String)]
    currency: Currency,
    /// Units per US dollar; `null`: none stored (not fetched yet, or no Alpha Vantage key).
    per_usd: Option<rust_decimal::Decimal>,
    source: Option<String>,
    fetched_at: Option<DateTime<Utc>>,
    age_seconds: Option<u64>,
    /// True once older than `rates.fresh_secs`.
    stale: bool,
}

/// `GET /v1/status`.
pub async fn status(State(state): State<AppState>) -> Result<Response, ApiError> {
    let checked_at = Utc::now();
    let (redis, history_storage) = tokio::join!(ping(&state), history_health(&state));
    let rates = rates_status(&state, checked_at, redis.connected).await;
    let prices = match prices_status(&state, redis.connected).await {
        Ok(prices) => prices,
        // Redis went away between the ping and the reads, or was never reached and nothing
        // is held in memory: say what the settings say, and that nothing could be counted.
        Err(e) if e.is_redis_unavailable() => unchecked_prices(&state),
        Err(e) => return Err(e),
    };
    Ok(Json(StatusView {
        checked_at,
        redis,
        prices,
        providers: providers(&state),
        price_chain: state.settings().prices.providers.clone(),
        rates,
        history_storage,
    })
    .into_response())
}

/// The rates as last read (none while Redis has never answered; not asked for again while the
/// ping says Redis is down).
async fn rates_status(
    state: &AppState,
    now: DateTime<Utc>,
    redis_connected: bool,
) -> Vec<RateStatus> {
    let held = if redis_connected {
        state.rates().await.unwrap_or_default()
    } else {
        state.rates_as_last_read().unwrap_or_default()
    };
    let settings = &state.settings().rates;
    settings
        .currencies
        .iter()
        .map(|&currency| {
            let rate = held.get(&currency);
            let freshness =
                rate.map(|r| Freshness::assess(r.fetched_at, now, settings.fresh_for()));
            RateStatus {
                currency,
                per_usd: rate.map(|r| r.per_usd),
                source: rate.map(|r| r.source.clone()),
                fetched_at: rate.map(|r| r.fetched_at),
                age_seconds: freshness.map(|f| f.age_seconds),
                stale: freshness.is_none_or(|f| f.stale),
            }
        })
        .collect()
}

async fn ping(state: &AppState) -> RedisStatus {
    let started = Instant::now();
    let answer = state
        .redis(async {
            redis::cmd("PING")
                .query_async::<String>(&mut state.conn().clone())
                .await
        })
        .await;
    match answer {
        Ok(_) => RedisStatus {
            connected: true,
            latency_ms: Some((started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
            error: None,
        },
        Err(e) => RedisStatus {
            connected: false,
            latency_ms: None,
            error: Some(e.to_string()),
        },
    }
}

async fn prices_status(state: &AppState, redis_up: bool) -> Result<PricesStatus, ApiError> {
    let settings = &state.settings().prices;
    let (tracked, tracked_source) = match redis_up {
        true => match state.tracked_symbols().await {
            Ok(tracked) => {
                let overridden = state
                    .redis(coinbeat_shared::tracked_symbols::is_overridden(
                        state.conn(),
                        state.keys(),
                    ))
                    .await
                    .unwrap_or(false);
                let source = if overridden { "redis" } else { "settings" };
                (tracked.to_vec(), source)
            }
            Err(_) => (settings.tracked.clone(), "settings-unchecked"),
        },
        false => (settings.tracked.clone(), "settings-unchecked"),
    };
    let named = named_symbols(state, &tracked).await?;
    let coins: Vec<_> = named.iter().flatten().map(|n| n.id.clone()).collect();
    let unmapped = named.len() - coins.len();
    let found = records(state, &coins).await?;
    let held: Vec<_> = found.records.iter().flatten().collect();
    let stale = held
        .iter()
        .filter(|p| Freshness::assess(p.fetched_at, found.now, settings.fresh_for()).stale)
        .count();
    Ok(PricesStatus {
        cached: held.len(),
        stale,
        unmapped,
        last_update: held.iter().map(|p| p.fetched_at).max(),
        oldest_update: held.iter().map(|p| p.fetched_at).min(),
        cache_unchecked: found.unchecked || !redis_up,
        fresh_secs: settings.fresh_secs,
        expire_secs: settings.expire_secs,
        tracked,
        tracked_source,
    })
}

fn unchecked_prices(state: &AppState) -> PricesStatus {
    let settings = &state.settings().prices;
    PricesStatus {
        tracked: settings.tracked.clone(),
        tracked_source: "settings-unchecked",
        cached: 0,
        stale: 0,
        unmapped: 0,
        last_update: None,
        oldest_update: None,
        cache_unchecked: true,
        fresh_secs: settings.fresh_secs,
        expire_secs: settings.expire_secs,
    }
}

fn providers(state: &AppState) -> Vec<ProviderStatus> {
    let providers = &state.settings().providers;
    Provider::ALL
        .into_iter()
        .map(|provider| ProviderStatus {
            name: provider.as_str(),
            api_key: providers.has_key(provider),
            rate_limit: providers
                .rate_spec(provider)
                .ok()
                .map(|spec| spec.to_string()),
        })
        .collect()
}

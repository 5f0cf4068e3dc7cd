//! `GET /v1/markets`, `GET /v1/markets/global` and `GET /v1/coins/{id}`: the cached market
//! data, each with when and from where it was fetched, its age and whether it is stale (past
//! `markets.fresh_secs`).
//!
//! Nothing cached is reported with how to request it, never made up.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{CoinSupply, Freshness, GlobalStats, MarketCache, MarketRow},
    domain::CoinId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, AppState, cache_reads::Kind};

/// Rows `GET /v1/markets` answers with when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most rows one `GET /v1/markets` may ask for.
pub const MAX_LIMIT: usize = 1_000;

/// How old a document is now. Flattened next to the document's own `fetched_at` and `source`.
#[derive(Debug, Serialize, ToSchema)]
struct Age {
    /// Whole seconds since `fetched_at`.
    age_seconds: u64,
    /// True once the document is older than `markets.fresh_secs` (`supply_fresh_secs` for a
    /// coin's supply).
    stale: bool,
}

impl Age {
    fn of(fetched_at: DateTime<Utc>, state: &AppState) -> Self {
        Self::within(fetched_at, state.settings().markets.fresh_for())
    }

    fn within(fetched_at: DateTime<Utc>, fresh_for: std::time::Duration) -> Self {
        let freshness = Freshness::assess(fetched_at, Utc::now(), fresh_for);
        Self {
            age_seconds: freshness.age_seconds,
            stale: freshness.stale,
        }
    }
}

/// `GET /v1/markets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketsResponse<'a> {
    fetched_at: DateTime<Utc>,
    source: &'a str,
    #[serde(flatten)]
    age: Age,
    /// Rows asked for; `rows` may hold fewer when the cached snapshot is smaller.
    limit: usize,
    /// Rows in the cached snapshot.
    available: usize,
    #[schema(value_type = Vec<MarketRow>)]
    rows: &'a [MarketRow],
}

/// `GET /v1/markets/global`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GlobalResponse<'a> {
    #[serde(flatten)]
    age: Age,
    #[serde(flatten)]
    #[schema(value_type = GlobalStats)]
    global: &'a GlobalStats,
}

/// `GET /v1/coins/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoinResponse<'a> {
    #[serde(flatten)]
    age: Age,
    #[serde(flatten)]
    #[schema(value_type = CoinSupply)]
    supply: &'a CoinSupply,
    /// The coin's metadata as the history worker last stored it in PostgreSQL (symbol, name,
    /// rank, market cap, contracts); absent when history storage is off, has none of this
    /// coin, or did not answer in time.
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<StoredCoin>,
}

/// A coin's metadata in PostgreSQL.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredCoin {
    symbol: Option<String>,
    name: Option<String>,
    rank: Option<u32>,
    market_cap_usd: Option<rust_decimal::Decimal>,
    /// Contract address by platform.
    platforms: std::collections::BTreeMap<String, String>,
    source: Option<String>,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The coin's stored metadata, within `history.timeout_ms`; `None` on any failure (logged):
/// the supply answers without it.
async fn stored_coin(state: &AppState, id: &CoinId) -> Option<StoredCoin> {
    let store = state.history()?;
    let read = tokio::time::timeout(state.settings().history.timeout(), store.coin(id.as_str()));
    match read.await {
        Ok(Ok(meta)) => meta.map(|m| StoredCoin {
            symbol: m.symbol,
            name: m.name,
            rank: m.rank,
            market_cap_usd: m.market_cap_usd,
            platforms: m.platforms,
            source: m.source,
            updated_at: m.updated_at,
        }),
        Ok(Err(error)) => {
            tracing::warn!(%error, "coin metadata: PostgreSQL failed");
            None
        }
        Err(_) => {
            tracing::warn!("coin metadata: PostgreSQL did not answer in time");
            None
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MarketsQuery {
    /// Rows, 1 to 1000 (default 100).
    /// (Read as text, so a non-number gets the same 422 as an out-of-range number.)
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// `GET /v1/markets[?limit=N]`: the top `N` (1..=1000, default 100) rows of the cached
/// snapshot; 422 `invalid_limit`, 404 `markets_not_fetched`.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<MarketsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let snapshot = state.redis(cache(&state).snapshot()).await?;
    state.cache_reads().count(Kind::Markets, snapshot.is_some());
    let snapshot = snapshot.ok_or(ApiError::MarketsNotFetched)?;
    let rows = &snapshot.rows[..limit.min(snapshot.rows.len())];
    Ok(Json(MarketsResponse {
        fetched_at: snapshot.fetched_at,
        source: &snapshot.source,
        age: Age::of(snapshot.fetched_at, &state),
        limit,
        available: snapshot.rows.len(),
        rows,
    })
    .into_response())
}

/// `GET /v1/markets/global`: the cached global figures; 404 `global_not_fetched`.
pub async fn global(State(state): State<AppState>) -> Result<Response, ApiError> {
    let global = state.redis(cache(&state).global()).await?;
    state.cache_reads().count(Kind::Markets, global.is_some());
    let global = global.ok_or(ApiError::GlobalNotFetched)?;
    Ok(Json(GlobalResponse {
        age: Age::of(global.fetched_at, &state),
        global: &global,
    })
    .into_response())
}

/// `GET /v1/coins/{id}`: one coin's cached supply; 422 `invalid_coin_id`, 404
/// `coin_not_fetched`.
pub async fn coin(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let id = CoinId::parse(&raw)?;
    let supply = state.redis(cache(&state).supply(&id)).await?;
    state.cache_reads().count(Kind::Markets, supply.is_some());
    let Some(supply) = supply else {
        let prices = &state.settings().prices;
        let tracked = prices
            .tracked
            .iter()
            .any(|symbol| prices.coin_id(symbol) == Some(id.as_str()));
        return Err(ApiError::CoinNotFetched { id, tracked });
    };
    Ok(Json(CoinResponse {
        age: Age::within(
            supply.fetched_at,
            state.settings().markets.supply_fresh_for(),
        ),
        supply: &supply,
        stored: stored_coin(&state, &id).await,
    })
    .into_response())
}

/// The market cache on the shared connection (cheap: a connection handle and a key builder).
fn cache(state: &AppState) -> MarketCache {
    MarketCache::new(
        state.conn().clone(),
        state.keys().clone(),
        &state.settings().markets,
    )
}

/// `limit` as given, or the default; 1..=1000 (market rows, catalogue coins).
pub(crate) fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::InvalidLimit(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_a_whole_number_from_1_to_1000() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "ten", ""] {
            assert!(
                matches!(parse_limit(Some(bad)), Err(ApiError::InvalidLimit(_))),
                "{bad}"
            );
        }
    }
}

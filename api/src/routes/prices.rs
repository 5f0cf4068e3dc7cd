//! `GET /v1/prices` and `GET /v1/prices/{symbol}`: cached prices with their age and staleness.
//!
//! A record says when it was fetched and from where; past the freshness window it is served
//! with `stale: true` until Redis expires it. A symbol with nothing cached is reported as such
//! (not fetched yet, or unknown), never silently dropped and never made up.
//!
//! Records come from the in-process copy ([`crate::live_prices`]) while it is current; every
//! symbol it does not hold goes to Redis, so misses, 404s and Redis outages are unchanged.

use std::{collections::HashSet, sync::Arc};

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{Freshness, PriceRecord},
    domain::Symbol,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, cache_reads::Kind};

/// Most symbols one `?symbols=` list may name.
pub const MAX_SYMBOLS_PER_REQUEST: usize = 1_000;

/// One cached price as the API shows it. Decimals are strings with the upstream's digits.
#[derive(Debug, Serialize)]
pub struct PriceView<'a> {
    pub symbol: &'a Symbol,
    pub coin_id: &'a str,
    pub usd: &'a Decimal,
    pub change_24h_pct: Option<&'a Decimal>,
    pub market_cap_usd: Option<&'a Decimal>,
    pub volume_24h_usd: Option<&'a Decimal>,
    pub upstream_updated_at: Option<DateTime<Utc>>,
    /// The exchange's event time of a streamed price (`binance-ws`, `coincap-ws`); absent
    /// for a fetched one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange_time: Option<DateTime<Utc>>,
    pub fetched_at: DateTime<Utc>,
    /// The moment the price is of (`PriceRecord::as_of`: the upstream's own time for it, capped
    /// at `fetched_at`, else `fetched_at`).
    pub as_of: DateTime<Utc>,
    /// Milliseconds since `as_of`: how old the price itself is (an exchange trade's age, not
    /// only this cache's).
    pub age_ms: u64,
    pub source: &'a str,
    /// Whole seconds since `fetched_at`.
    pub age_seconds: u64,
    /// True once the record is older than `prices.fresh_secs`.
    pub stale: bool,
}

impl<'a> PriceView<'a> {
    pub fn new(record: &'a PriceRecord, now: DateTime<Utc>, state: &AppState) -> Self {
        let freshness =
            Freshness::assess(record.fetched_at, now, state.settings().prices.fresh_for());
        Self {
            symbol: &record.symbol,
            coin_id: &record.coin_id,
            usd: &record.usd,
            change_24h_pct: record.change_24h_pct.as_ref(),
            market_cap_usd: record.market_cap_usd.as_ref(),
            volume_24h_usd: record.volume_24h_usd.as_ref(),
            upstream_updated_at: record.upstream_updated_at,
            exchange_time: record.exchange_time(),
            fetched_at: record.fetched_at,
            as_of: record.as_of(),
            age_ms: (now - record.as_of()).num_milliseconds().max(0) as u64,
            source: &record.source,
            age_seconds: freshness.age_seconds,
            stale: freshness.stale,
        }
    }
}

/// A requested symbol with nothing cached, and why.
#[derive(Debug, Serialize)]
pub struct Missing {
    pub symbol: Symbol,
    /// `not_fetched_yet` or `unknown_symbol`, the codes the single-symbol route answers with.
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize)]
struct ListResponse<'a> {
    prices: Vec<PriceView<'a>>,
    missing: Vec<Missing>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Comma-separated symbols; absent means the tracked set.
    symbols: Option<String>,
}

/// `GET /v1/prices[?symbols=BTC,ETH]`: `{"prices": [...], "missing": [...]}` in the order asked
/// (the tracked order when no list is given): from the in-process copy, with one Redis round trip
/// for the symbols it does not hold.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let symbols: Arc<Vec<Symbol>> = match &query.symbols {
        None => state.tracked_symbols().await?,
        Some(list) => Arc::new(parse_list(list)?),
    };
    let symbols = symbols.as_slice();
    let (records, now) = records(&state, symbols).await?;
    let mut prices = Vec::with_capacity(records.len());
    let mut missing = Vec::new();
    for (symbol, record) in symbols.iter().zip(&records) {
        match record {
            Some(record) => prices.push(PriceView::new(record, now, &state)),
            None => {
                let why = absent(&state, symbol.clone());
                missing.push(Missing {
                    reason: why.code(),
                    message: why.to_string(),
                    symbol: symbol.clone(),
                });
            }
        }
    }
    Ok(Json(ListResponse { prices, missing }).into_response())
}

/// The record of each symbol (same order) from the in-process copy, with one Redis round trip
/// for the symbols it does not hold, and the time to judge their age by. Counted as cache reads.
pub(crate) async fn records(
    state: &AppState,
    symbols: &[Symbol],
) -> Result<(Vec<Option<Arc<PriceRecord>>>, DateTime<Utc>), ApiError> {
    let mut now = Utc::now();
    let mut records = state.live_prices().get_many(symbols, now);
    let misses: Vec<Symbol> = symbols
        .iter()
        .zip(&records)
        .filter(|(_, record)| record.is_none())
        .map(|(symbol, _)| symbol.clone())
        .collect();
    if !misses.is_empty() {
        let mut fetched = state
            .redis(state.cache().get_many(&misses))
            .await?
            .into_iter();
        for slot in records.iter_mut().filter(|record| record.is_none()) {
            *slot = fetched.next().flatten().map(Arc::new);
        }
        now = Utc::now();
    }
    let hits = records.iter().filter(|r| r.is_some()).count() as u64;
    state
        .cache_reads()
        .count_many(Kind::Prices, hits, records.len() as u64 - hits);
    Ok((records, now))
}

/// `GET /v1/prices/{symbol}`: one record, or 422 `invalid_symbol`, 404 `not_fetched_yet`,
/// 404 `unknown_symbol`.
pub async fn one(
    State(state): State<AppState>,
    symbol: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = symbol.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let symbol = Symbol::parse(&raw)?;
    let now = Utc::now();
    if let Some(record) = state.live_prices().get(&symbol, now) {
        state.cache_reads().count(Kind::Prices, true);
        return Ok(Json(PriceView::new(&record, now, &state)).into_response());
    }
    let record = state.redis(state.cache().get(&symbol)).await?;
    state.cache_reads().count(Kind::Prices, record.is_some());
    match record {
        Some(record) => Ok(Json(PriceView::new(&record, Utc::now(), &state)).into_response()),
        None => Err(absent(&state, symbol)),
    }
}

/// Why nothing is cached for `symbol`.
pub(crate) fn absent(state: &AppState, symbol: Symbol) -> ApiError {
    if state.knows(&symbol) {
        let tracked = state.settings().prices.is_tracked(&symbol);
        ApiError::NotFetchedYet { symbol, tracked }
    } else {
        ApiError::UnknownSymbol(symbol)
    }
}

/// Parses `BTC,eth, SOL`: trimmed, uppercased, duplicates and empty items dropped, order kept.
pub(crate) fn parse_list(list: &str) -> Result<Vec<Symbol>, ApiError> {
    let mut seen = HashSet::new();
    let mut symbols = Vec::new();
    for item in list.split(',').filter(|s| !s.trim().is_empty()) {
        let symbol = Symbol::parse(item)?;
        if seen.insert(symbol.clone()) {
            symbols.push(symbol);
        }
        if symbols.len() > MAX_SYMBOLS_PER_REQUEST {
            return Err(ApiError::InvalidSymbols(format!(
                "`symbols` names more than {MAX_SYMBOLS_PER_REQUEST} symbols"
            )));
        }
    }
    if symbols.is_empty() {
        return Err(ApiError::InvalidSymbols(
            "`symbols` is empty; leave it out for the tracked set".into(),
        ));
    }
    Ok(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_list_is_normalised_deduplicated_and_checked() {
        let parsed = parse_list("btc, ETH,,BTC ,sol,").unwrap();
        let names: Vec<&str> = parsed.iter().map(Symbol::as_str).collect();
        assert_eq!(names, ["BTC", "ETH", "SOL"]);
        assert!(matches!(
            parse_list(" , "),
            Err(ApiError::InvalidSymbols(_))
        ));
        assert!(matches!(
            parse_list("BTC,B-TC"),
            Err(ApiError::InvalidSymbol(_))
        ));
        let many: Vec<String> = (0..=MAX_SYMBOLS_PER_REQUEST)
            .map(|i| format!("S{i}"))
            .collect();
        assert!(matches!(
            parse_list(&many.join(",")),
            Err(ApiError::InvalidSymbols(_))
        ));
    }
}

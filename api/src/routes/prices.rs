//! `GET /v1/prices` and `GET /v1/prices/{coin}`: cached prices with their age and staleness,
//! by coin id or by symbol (which the coin catalogue, or `[prices.coins]`, resolves to an id).
//!
//! A record says when it was fetched and from where; past the freshness window it is served
//! with `stale: true` until Redis expires it. A coin with nothing cached is reported as such
//! (not fetched yet, or unknown), never silently dropped and never made up.
//!
//! Records come from the in-process copy ([`crate::live_prices`]) while it is current; every
//! coin it does not hold goes to Redis, so misses and 404s are Redis's. While Redis cannot be
//! reached, a read answers from the copy as it was last known, each price saying so
//! (`cache_unchecked: true`, its age and staleness as exact as ever); a coin the copy does not
//! hold is then missing with reason `cache_unreachable` in a list, and 503 on its own.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use axum::{
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{Freshness, PriceRecord},
    catalogue::CatalogueCoin,
    domain::{CoinId, Symbol},
    settings::TierSettings,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{AnyOfBuilder, ObjectBuilder, Schema, Type},
    },
};

use super::{
    coins::{cursor_of, parse_cursor},
    markets::parse_limit,
};
use crate::{
    ApiError, AppState,
    cache_reads::Kind,
    catalogue::{Alternative, NamedCoin},
    price_json::{Priced, fields_of},
    vs_currency::{Conversion, InCurrency, VsQuery, with_vs},
};

/// Most symbols one `?symbols=` list may name.
pub const MAX_SYMBOLS_PER_REQUEST: usize = 1_000;

/// One cached price as the API shows it. Decimals are strings with the upstream's digits.
///
/// The fields that depend on the time of reading come last, so the rest can be rendered once
/// per record ([`crate::price_json::Priced`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView<'a> {
    /// The ticker as listed (not unique: `coin_id` names the coin).
    pub symbol: &'a str,
    pub coin_id: &'a CoinId,
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
    pub source: &'a str,
    /// Milliseconds since `as_of`: how old the price itself is (an exchange trade's age, not
    /// only this cache's).
    pub age_ms: u64,
    /// Whole seconds since `fetched_at`.
    pub age_seconds: u64,
    /// True once the record is older than `prices.fresh_secs`.
    pub stale: bool,
    /// True when Redis could not be reached and this is the API's last copy of the record,
    /// which a newer one in Redis may have replaced since.
    pub cache_unchecked: bool,
    /// With `?vs=`: the figures in that currency and the exchange rate used
    /// ([`crate::vs_currency`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs: Option<InCurrency>,
}

/// A record's ages at the time of reading: [`PriceView`]'s time-dependent fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    pub age_ms: u64,
    pub age_seconds: u64,
    pub stale: bool,
}

impl Ages {
    pub fn of(record: &PriceRecord, now: DateTime<Utc>, fresh_for: std::time::Duration) -> Self {
        let freshness = Freshness::assess(record.fetched_at, now, fresh_for);
        Self {
            age_ms: (now - record.as_of()).num_milliseconds().max(0) as u64,
            age_seconds: freshness.age_seconds,
            stale: freshness.stale,
        }
    }
}

impl<'a> PriceView<'a> {
    pub fn new(record: &'a PriceRecord, now: DateTime<Utc>, state: &AppState) -> Self {
        Self::at(record, now, state.settings().prices.fresh_for())
    }

    /// The view at `now`, stale past `fresh_for`.
    pub fn at(record: &'a PriceRecord, now: DateTime<Utc>, fresh_for: std::time::Duration) -> Self {
        let ages = Ages::of(record, now, fresh_for);
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
            source: &record.source,
            age_ms: ages.age_ms,
            age_seconds: ages.age_seconds,
            stale: ages.stale,
            cache_unchecked: false,
            vs: None,
        }
    }

    /// Marks the view as read from the copy while Redis could not be reached.
    pub fn unchecked(mut self, unchecked: bool) -> Self {
        self.cache_unchecked = unchecked;
        self
    }
}

/// A requested coin with nothing cached, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Missing {
    /// The symbol asked for (a `?symbols=` list, the tracked set, a holding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<Symbol>,
    /// The coin it names, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coin_id: Option<CoinId>,
    /// `not_fetched_yet` or `unknown_coin`, the codes the single-coin route answers with, or
    /// `cache_unreachable`: Redis could not be reached and the API's copy does not hold it.
    #[schema(
        value_type = String,
        pattern = "^(not_fetched_yet|unknown_coin|cache_unreachable)$"
    )]
    pub reason: &'static str,
    pub message: String,
}

impl Missing {
    /// `asked` (a symbol, or none for a coin asked by id) had no record: `coin` is the coin it
    /// names, if any; `unchecked`: Redis could not be asked.
    pub fn of(
        state: &AppState,
        asked: Option<&Symbol>,
        coin: Option<&NamedCoin>,
        unchecked: bool,
    ) -> Self {
        let (reason, message) = match coin {
            Some(coin) if unchecked && coin.known => (
                "cache_unreachable",
                format!(
                    "redis could not be reached and this API process holds no copy of {}",
                    coin.id
                ),
            ),
            Some(coin) => {
                let why = absent(state, coin);
                (why.code(), why.to_string())
            }
            None => {
                let why = ApiError::UnknownCoin(asked.map(Symbol::to_string).unwrap_or_default());
                (why.code(), why.to_string())
            }
        };
        Self {
            symbol: asked.cloned(),
            coin_id: coin.map(|c| c.id.clone()),
            reason,
            message,
        }
    }
}

/// `GET /v1/prices`: the answer's documented shape. [`list`] writes it from each record's
/// rendered head ([`Priced`]) and [`ListTail`]; `cli/tests/openapi_contract.rs` holds what is
/// sent to this schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceList<'a> {
    prices: Vec<PriceView<'a>>,
    missing: Vec<Missing>,
    /// The page after this one (pass it as `cursor`); `null` on the last page or when the list
    /// is not paged.
    next_cursor: Option<String>,
}

/// The query of `GET /v1/prices`. Each is read as text, so a value that does not parse gets a
/// 422 that says what is wrong; the document gives each its type and limits.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Comma-separated symbols (any case), e.g. `BTC,ETH`; absent (and no `ids` or `tier`)
    /// means the tracked set. A list (`symbols`, `ids` or both) wins over `tier`.
    #[param(schema_with = symbol_list_schema)]
    symbols: Option<String>,
    /// Comma-separated coin ids, e.g. `bitcoin,ethereum`: instead of symbols, or listed after
    /// them.
    #[param(schema_with = coin_id_list_schema)]
    ids: Option<String>,
    /// A `[prices.tiers]` name, `all` (every catalogued coin) or `tracked` (the default): the
    /// catalogue's coins in rank order, a page at a time.
    #[param(value_type = Option<String>)]
    tier: Option<String>,
    /// Coins per page, 1 to 1000 (default 100); a list of symbols or ids is paged only when
    /// `limit` or `cursor` is given.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The previous page's `next_cursor`, as it was given: a list's is a position (past the
    /// end: an empty page), a tier's `rank~id` the last coin shown (a bare rank resumes after
    /// that rank).
    #[param(value_type = Option<String>, pattern = "^[0-9]{1,9}(~[ -~]{1,100})?$")]
    cursor: Option<String>,
    /// A currency to show each price in besides USD (`eur`, any case): one of
    /// `rates.currencies`, or `usd`.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z]{3}$")]
    vs: Option<String>,
}

/// A comma-separated list of symbols, as [`parse_list`] reads it: spaces and empty items
/// around them are ignored, at least one symbol.
pub const SYMBOL_LIST_PATTERN: &str = "^[ ,]*[A-Za-z0-9]{1,15}( *,[ ,]*[A-Za-z0-9]{1,15})*[ ,]*$";
/// A comma-separated list of coin ids, as [`parse_ids`] reads it.
pub const COIN_ID_LIST_PATTERN: &str =
    "^[ ,]*[a-z0-9][a-z0-9._-]{0,99}( *,[ ,]*[a-z0-9][a-z0-9._-]{0,99})*[ ,]*$";

/// A `symbols` query parameter.
pub fn symbol_list_schema() -> RefOr<Schema> {
    list_schema(SYMBOL_LIST_PATTERN, "BTC,ETH")
}

/// An `ids` query parameter.
pub fn coin_id_list_schema() -> RefOr<Schema> {
    list_schema(COIN_ID_LIST_PATTERN, "bitcoin,ethereum")
}

fn list_schema(pattern: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([example])
        .into()
}

/// The `{coin}` of `/v1/prices/{coin}`: a coin id or a symbol (any case).
pub fn coin_schema() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(CoinId::schema())
        .item(Symbol::schema())
        .description(Some(
            "A coin id (`bitcoin`) or a symbol in any case (`BTC`, `btc`).",
        ))
        .into()
}

/// Which coins a list asks for.
enum Listing<'a> {
    /// The coins of `symbols`, then those of `ids`; the tracked set when neither is given.
    List {
        symbols: Option<&'a str>,
        ids: Option<&'a str>,
    },
    /// A rank tier's coins; `None`: every catalogued coin.
    Tier(Option<&'a TierSettings>),
}

impl ListQuery {
    /// A list (`symbols`, `ids`, or both) names its coins, so it wins over `tier`, as it
    /// always has over `tier=tracked`; the tier must still be one of the names.
    fn listing<'a>(
        &'a self,
        tiers: &'a BTreeMap<String, TierSettings>,
    ) -> Result<Listing<'a>, ApiError> {
        let tier = match self.tier.as_deref() {
            None | Some("tracked") => None,
            Some("all") => Some(None),
            Some(name) => match tiers.get(name).filter(|t| t.enabled) {
                Some(tier) => Some(Some(tier)),
                None => {
                    return Err(ApiError::UnknownTier {
                        tier: name.to_owned(),
                        known: tiers
                            .iter()
                            .filter(|(_, t)| t.enabled)
                            .map(|(name, _)| name.as_str())
                            .chain(["all", "tracked"])
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            },
        };
        match tier {
            Some(tier) if self.symbols.is_none() && self.ids.is_none() => Ok(Listing::Tier(tier)),
            _ => Ok(Listing::List {
                symbols: self.symbols.as_deref(),
                ids: self.ids.as_deref(),
            }),
        }
    }
}

/// One price the single-coin route answers: the record, and the other coins sharing the symbol
/// asked for. The documented shape; [`one`] writes it from the record's rendered head and
/// [`Alternatives`] (held to this schema by `cli/tests/openapi_contract.rs`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OnePrice<'a> {
    #[serde(flatten)]
    price: PriceView<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Vec<Alternative>)]
    alternatives: &'a [Alternative],
}

/// `GET /v1/prices[?symbols=BTC,ETH | ?ids=bitcoin,ethereum | ?tier=top][&limit=&cursor=]`:
/// `{"prices": [...], "missing": [...], "next_cursor": ..}` in the order asked (the tracked
/// order when no list is given; rank order for a tier): from the in-process copy, with one
/// Redis round trip for the coins it does not hold. A tier's list is paged (`limit` 1..=1000,
/// default 100; the cursor names the page's last coin by rank, so a catalogue refresh between
/// pages skips or repeats nothing that kept its place); a list of symbols or ids is paged only
/// when `limit` or `cursor` is given (the cursor is then a position in the list).
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let conversion = Conversion::of(&state, query.vs.as_deref()).await?;
    let catalogue = state.catalogue().await?;
    let prices_settings = &state.settings().prices;
    let paged = query.limit.is_some() || query.cursor.is_some();
    let limit = parse_limit(query.limit.as_deref())?;
    let mut next_cursor = None;
    let listing = query.listing(&prices_settings.tiers)?;
    let is_list = matches!(listing, Listing::List { .. });
    // What was asked, each with the coin it names (None: no coin has that symbol).
    let mut asked: Vec<(Option<Symbol>, Option<NamedCoin>)> = match listing {
        Listing::Tier(tier) => {
            let after = query.cursor.as_deref().map(tier_cursor).transpose()?;
            // A rank tier leaves the tracked coins out, as its runs do (they are a tier of
            // their own); `all` lists them too.
            let tracked: HashSet<CoinId> = match tier {
                None => HashSet::new(),
                Some(_) => {
                    let symbols = state.tracked_symbols().await?;
                    named_symbols(&state, &symbols)
                        .await?
                        .into_iter()
                        .flatten()
                        .map(|named| named.id)
                        .collect()
                }
            };
            let mut coins: Vec<&CatalogueCoin> = catalogue
                .index
                .ranked()
                .iter()
                .filter(|coin| tier.is_none_or(|t| t.holds(coin.rank)))
                .filter(|coin| !tracked.contains(&coin.id))
                .filter(|coin| {
                    after
                        .as_ref()
                        .is_none_or(|(rank, id)| coin.rank_order() > (*rank, id.as_str()))
                })
                .take(limit + 1)
                .collect();
            if coins.len() > limit {
                coins.truncate(limit);
                next_cursor = coins.last().map(|coin| cursor_of(coin));
            }
            coins
                .into_iter()
                .map(|coin| {
                    let named = NamedCoin {
                        id: coin.id.clone(),
                        symbol: Symbol::parse(&coin.symbol).ok(),
                        known: true,
                        alternatives: Vec::new(),
                    };
                    (None, Some(named))
                })
                .collect()
        }
        Listing::List { symbols, ids } => {
            let ids = ids.map(parse_ids).transpose()?;
            let symbols: Option<Arc<Vec<Symbol>>> = match (symbols, &ids) {
                (None, None) => Some(state.tracked_symbols().await?),
                (None, Some(_)) => None,
                (Some(list), _) => Some(Arc::new(parse_list(list)?)),
            };
            let mut asked: Vec<(Option<Symbol>, Option<NamedCoin>)> = match symbols {
                Some(symbols) => {
                    let named = named_symbols(&state, &symbols).await?;
                    symbols.iter().cloned().map(Some).zip(named).collect()
                }
                None => Vec::new(),
            };
            // The coins of `ids` after those of `symbols`; a coin both name, once.
            let listed: HashSet<CoinId> = asked
                .iter()
                .filter_map(|(_, named)| Some(named.as_ref()?.id.clone()))
                .collect();
            for id in ids.into_iter().flatten().filter(|id| !listed.contains(id)) {
                let named = catalogue
                    .name(prices_settings, id.as_str())
                    .filter(|named| named.id == id);
                asked.push((None, Some(named.unwrap_or_else(|| NamedCoin::bare(id)))));
            }
            asked
        }
    };
    if paged && is_list {
        // A position in the list; past its end, an empty last page.
        let start = match query.cursor.as_deref() {
            None => 0,
            Some(raw) => list_cursor(raw)?.min(asked.len()),
        };
        let end = (start + limit).min(asked.len());
        if end < asked.len() {
            next_cursor = Some(end.to_string());
        }
        asked = asked.drain(start..end).collect();
    }
    let coins: Vec<CoinId> = asked
        .iter()
        .filter_map(|(_, named)| Some(named.as_ref()?.id.clone()))
        .collect();
    let found = records(&state, &coins).await?;
    let mut records = found.records.into_iter();
    let mut missing = Vec::new();
    let mut held = Vec::with_capacity(coins.len());
    for (symbol, named) in &asked {
        let record = match named {
            Some(_) => records.next().flatten(),
            None => None,
        };
        match record {
            Some(record) => held.push(record),
            None => missing.push(Missing::of(
                &state,
                symbol.as_ref(),
                named.as_ref(),
                found.unchecked,
            )),
        }
    }
    // `{"prices": [...], "missing": [...], "next_cursor": ..}`, each price from its head.
    let fresh_for = prices_settings.fresh_for();
    let mut body = Vec::with_capacity(64 + 512 * held.len());
    body.extend_from_slice(b"{\"prices\":[");
    for (i, record) in held.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let extra = with_vs(Vec::new(), conversion.as_ref(), record, found.now);
        record.write(&mut body, found.now, fresh_for, found.unchecked, &extra);
    }
    body.extend_from_slice(b"],");
    body.extend_from_slice(&fields_of(&ListTail {
        missing,
        next_cursor,
    }));
    body.push(b'}');
    Ok(json_response(body))
}

/// [`PriceList`]'s fields after `prices`.
#[derive(Serialize)]
struct ListTail {
    missing: Vec<Missing>,
    next_cursor: Option<String>,
}

/// A list's cursor: its position (`12`; what follows a `~` is a tier's, and not needed here).
fn list_cursor(raw: &str) -> Result<usize, ApiError> {
    let position = raw.split_once('~').map_or(raw, |(position, _)| position);
    if position.is_empty() || !position.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidCursor(raw.to_owned()));
    }
    position
        .parse()
        .map_err(|_| ApiError::InvalidCursor(raw.to_owned()))
}

/// A tier's cursor: the last coin shown, `rank~id`; a bare rank resumes after that rank.
fn tier_cursor(raw: &str) -> Result<(u32, String), ApiError> {
    if !raw.contains('~') && !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let rank = raw
            .parse()
            .map_err(|_| ApiError::InvalidCursor(raw.to_owned()))?;
        // `~` sorts after every character of a coin id.
        return Ok((rank, "~".to_owned()));
    }
    parse_cursor(raw)
}

/// What [`records`] found.
#[derive(Debug)]
pub(crate) struct Found {
    /// The record of each coin asked for, in order.
    pub records: Vec<Option<Arc<Priced>>>,
    /// The time to judge their age by.
    pub now: DateTime<Utc>,
    /// Redis could not be reached: the records are the in-process copy as last known.
    pub unchecked: bool,
}

/// The record of each coin (same order) from the in-process copy, with one Redis round trip
/// for the coins it does not hold; while Redis cannot be reached, the copy as last known (see
/// the module doc). Counted as cache reads.
pub(crate) async fn records(state: &AppState, coins: &[CoinId]) -> Result<Found, ApiError> {
    let live = state.live_prices();
    let mut now = Utc::now();
    let mut records = live.get_many(coins, now);
    let misses: Vec<CoinId> = coins
        .iter()
        .zip(&records)
        .filter(|(_, record)| record.is_none())
        .map(|(coin, _)| coin.clone())
        .collect();
    let mut unchecked = false;
    if !misses.is_empty() {
        let fetched: Vec<Option<Arc<Priced>>> = if live.skips_redis(now) {
            unchecked = true;
            live.last_known(&misses, now)
        } else {
            match state.redis(state.cache().get_many(&misses)).await {
                Ok(fetched) => fetched
                    .into_iter()
                    .map(|r| r.map(|r| Arc::new(Priced::new(r))))
                    .collect(),
                Err(e) if e.is_redis_unavailable() && live.is_loaded() => {
                    unchecked = true;
                    live.note_redis_unreachable(Utc::now());
                    live.last_known(&misses, Utc::now())
                }
                Err(e) => return Err(e),
            }
        };
        let mut fetched = fetched.into_iter();
        for slot in records.iter_mut().filter(|record| record.is_none()) {
            *slot = fetched.next().flatten();
        }
        now = Utc::now();
    }
    let hits = records.iter().filter(|r| r.is_some()).count() as u64;
    state
        .cache_reads()
        .count_many(Kind::Prices, hits, records.len() as u64 - hits);
    Ok(Found {
        records,
        now,
        unchecked,
    })
}

/// The coin each symbol names (same order; `None` for a symbol no coin has): the tracked set,
/// a `?symbols=` filter, a portfolio's holdings.
pub(crate) async fn named_symbols(
    state: &AppState,
    symbols: &[Symbol],
) -> Result<Vec<Option<NamedCoin>>, ApiError> {
    let catalogue = state.catalogue().await?;
    let prices = &state.settings().prices;
    Ok(symbols
        .iter()
        .map(|symbol| catalogue.name_symbol(prices, symbol))
        .collect())
}

/// The coin `raw` names (an id, or a symbol in any case), or 404 `unknown_coin`, or 422
/// `invalid_symbol` for text that can be neither.
pub(crate) async fn named(state: &AppState, raw: &str) -> Result<NamedCoin, ApiError> {
    let catalogue = state.catalogue().await?;
    if let Some(named) = catalogue.name(&state.settings().prices, raw) {
        return Ok(named);
    }
    if CoinId::parse(raw.trim()).is_err() {
        // Not an id: say what a symbol may be when it is not one either.
        Symbol::parse(raw)?;
    }
    Err(ApiError::UnknownCoin(raw.trim().to_owned()))
}

/// `GET /v1/prices/{coin}`: one record, by coin id (`bitcoin`) or symbol (`BTC`; a symbol
/// several coins share names the best-ranked, and the answer lists the others under
/// `alternatives`); 422 `invalid_symbol`, 404 `not_fetched_yet`, 404 `unknown_coin`.
pub async fn one(
    State(state): State<AppState>,
    coin: Result<Path<String>, PathRejection>,
    query: Result<Query<VsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = coin.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    // The coin first: an unknown one is 404 whatever the currency.
    let named = named(&state, &raw).await?;
    let conversion = Conversion::of(&state, query.vs.as_deref()).await?;
    let conversion = conversion.as_ref();
    let now = Utc::now();
    if let Some(record) = state.live_prices().get(&named.id, now) {
        state.cache_reads().count(Kind::Prices, true);
        return Ok(one_json(
            &state,
            &record,
            now,
            false,
            &named.alternatives,
            conversion,
        ));
    }
    let live = state.live_prices();
    let from_copy = || {
        live.last_known(std::slice::from_ref(&named.id), Utc::now())
            .into_iter()
            .next()
            .flatten()
    };
    let (record, unchecked) = if live.skips_redis(now) {
        match from_copy() {
            Some(record) => (Some(record), true),
            None => {
                return Err(ApiError::RedisUnavailable(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "unreachable at the last read, less than a second ago",
                ))));
            }
        }
    } else {
        match state.redis(state.cache().get(&named.id)).await {
            Ok(record) => (record.map(|r| Arc::new(Priced::new(r))), false),
            Err(e) if e.is_redis_unavailable() => {
                live.note_redis_unreachable(Utc::now());
                match from_copy() {
                    Some(record) => (Some(record), true),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    };
    state.cache_reads().count(Kind::Prices, record.is_some());
    match record {
        Some(record) => Ok(one_json(
            &state,
            &record,
            Utc::now(),
            unchecked,
            &named.alternatives,
            conversion,
        )),
        None => Err(absent(&state, &named)),
    }
}

/// A [`OnePrice`]'s JSON, from the record's rendered head.
fn one_json(
    state: &AppState,
    record: &Priced,
    now: DateTime<Utc>,
    unchecked: bool,
    alternatives: &[Alternative],
    conversion: Option<&Conversion>,
) -> Response {
    let extra = if alternatives.is_empty() {
        Vec::new()
    } else {
        fields_of(&Alternatives { alternatives })
    };
    let extra = with_vs(extra, conversion, record, now);
    let mut body = Vec::with_capacity(512);
    let fresh_for = state.settings().prices.fresh_for();
    record.write(&mut body, now, fresh_for, unchecked, &extra);
    json_response(body)
}

/// [`OnePrice`]'s own field, apart from the price.
#[derive(Serialize)]
struct Alternatives<'a> {
    alternatives: &'a [Alternative],
}

/// A rendered JSON body, as `Json` would answer it.
fn json_response(body: Vec<u8>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Why nothing is cached for `coin`.
pub(crate) fn absent(state: &AppState, coin: &NamedCoin) -> ApiError {
    if !coin.known {
        return ApiError::UnknownCoin(coin.id.to_string());
    }
    let tracked = coin
        .symbol
        .as_ref()
        .is_some_and(|symbol| state.settings().prices.is_tracked(symbol));
    ApiError::NotFetchedYet {
        coin: match &coin.symbol {
            Some(symbol) => format!("{symbol} ({})", coin.id),
            None => coin.id.to_string(),
        },
        id: coin.id.clone(),
        symbol: coin.symbol.clone(),
        tracked,
    }
}

/// Parses `bitcoin, usd-coin`: trimmed, duplicates and empty items dropped, order kept.
pub(crate) fn parse_ids(list: &str) -> Result<Vec<CoinId>, ApiError> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let id = CoinId::parse(item)?;
        if seen.insert(id.clone()) {
            ids.push(id);
        }
        if ids.len() > MAX_SYMBOLS_PER_REQUEST {
            return Err(ApiError::InvalidSymbols(format!(
                "`ids` names more than {MAX_SYMBOLS_PER_REQUEST} coins"
            )));
        }
    }
    if ids.is_empty() {
        return Err(ApiError::InvalidSymbols(
            "`ids` is empty; leave it out for the tracked set".into(),
        ));
    }
    Ok(ids)
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

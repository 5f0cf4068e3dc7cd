//! `GET /coins/{id}`: one coin's page. `localization`, `tickers`, `market_data`,
//! `community_data` and `developer_data` default to `true` and each drops its key when `false`.
//! `market_data.current_price.usd` is the text `/simple/price` sends at the same step; unknown
//! and unlisted ids answer 404 `{"error":"coin not found"}`. A token's page names its home chain
//! (`asset_platform_id`) and its contracts, as `/coins/list?include_platform=true` does.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::figures::Figures;
use super::prices::record_served;
use super::responses;
use super::vs_currency::VsCurrency;
use crate::json::{self, Ordered, number};
use crate::market::Platforms;
use crate::number::Precision;
use crate::state::SimState;

/// The currencies of `market_data`'s per-currency maps.
const CURRENCIES: [VsCurrency; 3] = [VsCurrency::Btc, VsCurrency::Eur, VsCurrency::Usd];

#[derive(Debug, Deserialize)]
pub(super) struct CoinQuery {
    localization: Option<String>,
    tickers: Option<String>,
    market_data: Option<String>,
    community_data: Option<String>,
    developer_data: Option<String>,
}

/// Defaults to `true`; only `false` turns a section off.
fn on(param: &Option<String>) -> bool {
    param.as_deref() != Some("false")
}

type Fields = Vec<(&'static str, Box<RawValue>)>;

pub(super) async fn coin(
    State(state): State<Arc<SimState>>,
    Path(id): Path<String>,
    query: Result<Query<CoinQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return responses::bad_request("Invalid query");
    };
    let coins = super::ranked_figures(&state);
    let Some(f) = coins.iter().find(|f| f.id == id) else {
        return responses::coin_not_found();
    };
    let name = json::string(&f.info.name);
    let mut fields: Fields = vec![
        ("id", json::string(&f.id)),
        ("symbol", json::string(&f.info.symbol.to_lowercase())),
        ("name", name.clone()),
        ("web_slug", json::string(&f.id)),
    ];
    fields.extend(platform_fields(&state.market.platforms(f.quote.index)));
    fields.extend([
        ("block_time_in_minutes", number("0".into())),
        ("hashing_algorithm", RawValue::NULL.to_owned()),
        ("categories", json::value(&json!(["Cryptocurrency"]))),
        ("preview_listing", json::value(&false)),
        ("public_notice", RawValue::NULL.to_owned()),
        ("additional_notices", json::value(&json!([]))),
    ]);
    if on(&query.localization) {
        let names = Ordered(vec![("en", name.clone()), ("de", name.clone())]);
        fields.push(("localization", json::value(&names)));
    }
    fields.extend([
        ("description", json::value(&json!({ "en": "" }))),
        (
            "links",
            json::value(&json!({ "homepage": [format!("https://{}.example", f.id)] })),
        ),
        (
            "image",
            json::value(&Ordered(vec![
                ("thumb", super::image_url(f, "thumb")),
                ("small", super::image_url(f, "small")),
                ("large", super::image_url(f, "large")),
            ])),
        ),
        ("country_origin", json::string("")),
        ("genesis_date", RawValue::NULL.to_owned()),
        ("sentiment_votes_up_percentage", number("80.5".into())),
        ("sentiment_votes_down_percentage", number("19.5".into())),
        ("watchlist_portfolio_users", number("100000".into())),
        ("market_cap_rank", number(f.rank.to_string())),
    ]);
    if on(&query.market_data) {
        fields.push(("market_data", json::value(&Ordered(market_data(f)))));
    }
    if on(&query.community_data) {
        fields.push(("community_data", json::value(&community_data())));
    }
    if on(&query.developer_data) {
        fields.push(("developer_data", json::value(&developer_data())));
    }
    fields.push(("status_updates", json::value(&json!([]))));
    fields.push(("last_updated", json::string(&f.last_updated())));
    if on(&query.tickers) {
        fields.push(("tickers", json::value(&tickers(f))));
    }
    let Ok(body) = serde_json::to_string(&Ordered(fields)) else {
        return responses::internal_error();
    };
    if on(&query.market_data) {
        record_served(&state, vec![(f.id.as_str(), usd_price(f))]);
    }
    responses::ok(body)
}

/// `asset_platform_id`, `platforms` and `detail_platforms`: a token's home chain and its
/// contracts; for a chain's own coin `null` and the `{"": ""}` CoinGecko's coin pages carry.
fn platform_fields(platforms: &Platforms) -> Fields {
    let Platforms::Tokens(contracts) = platforms else {
        return vec![
            ("asset_platform_id", RawValue::NULL.to_owned()),
            ("platforms", json::value(&json!({ "": "" }))),
            (
                "detail_platforms",
                json::value(&json!({ "": { "decimal_place": null, "contract_address": "" } })),
            ),
        ];
    };
    let home = contracts
        .first()
        .map_or_else(|| RawValue::NULL.to_owned(), |c| json::string(c.chain));
    let addresses: Vec<(&str, Box<RawValue>)> = contracts
        .iter()
        .map(|c| (c.chain, json::string(&c.address)))
        .collect();
    let details: Vec<(&str, serde_json::Value)> = contracts
        .iter()
        .map(|c| {
            let detail = json!({ "decimal_place": c.decimals, "contract_address": c.address });
            (c.chain, detail)
        })
        .collect();
    vec![
        ("asset_platform_id", home),
        ("platforms", json::value(&Ordered(addresses))),
        ("detail_platforms", json::value(&Ordered(details))),
    ]
}

fn usd_price(f: &Figures) -> String {
    Precision::Default.price(f.price())
}

fn market_data(f: &Figures) -> Fields {
    let p = Precision::Default;
    let by = |pick: &dyn Fn(VsCurrency) -> String| {
        let map: Vec<(&str, Box<RawValue>)> = CURRENCIES
            .iter()
            .map(|&vs| (vs.code(), number(pick(vs))))
            .collect();
        json::value(&Ordered(map))
    };
    let prices = |usd: f64| by(&|vs| p.price(f.convert(vs, usd)));
    let amounts = |usd: f64| by(&|vs| p.amount(f.convert(vs, usd)));
    let same = |x: f64| by(&|_| p.amount(x));
    let dates = |date: &str| {
        let map: Vec<(&str, Box<RawValue>)> = CURRENCIES
            .iter()
            .map(|&vs| (vs.code(), json::string(date)))
            .collect();
        json::value(&Ordered(map))
    };
    let change = f.quote.change_24h_pct;
    let pct = |window: &str| number(p.amount(f.change_pct(window).unwrap_or(0.0)));
    let mut fields: Fields = vec![
        ("current_price", prices(f.price())),
        ("total_value_locked", RawValue::NULL.to_owned()),
        ("mcap_to_tvl_ratio", RawValue::NULL.to_owned()),
        ("fdv_to_tvl_ratio", RawValue::NULL.to_owned()),
        ("roi", f.roi()),
        ("ath", prices(f.ath())),
        (
            "ath_change_percentage",
            same((f.price() / f.ath() - 1.0) * 100.0),
        ),
        ("ath_date", dates(f.info.ath_date)),
        ("atl", prices(f.atl())),
        (
            "atl_change_percentage",
            same((f.price() / f.atl() - 1.0) * 100.0),
        ),
        ("atl_date", dates(f.info.atl_date)),
        ("market_cap", amounts(f.quote.market_cap_usd)),
        ("market_cap_rank", number(f.rank.to_string())),
        (
            "fully_diluted_valuation",
            amounts(f.fully_diluted_valuation()),
        ),
        (
            "market_cap_fdv_ratio",
            number(Precision::Default.amount(f.quote.market_cap_usd / f.fully_diluted_valuation())),
        ),
        ("total_volume", amounts(f.quote.volume_24h_usd)),
        ("high_24h", prices(f.high_24h())),
        ("low_24h", prices(f.low_24h())),
        ("price_change_24h", number(p.amount(f.price_change_24h()))),
        ("price_change_percentage_24h", number(p.amount(change))),
        ("price_change_percentage_7d", pct("7d")),
        ("price_change_percentage_14d", pct("14d")),
        ("price_change_percentage_30d", pct("30d")),
        ("price_change_percentage_60d", pct("60d")),
        ("price_change_percentage_200d", pct("200d")),
        ("price_change_percentage_1y", pct("1y")),
        (
            "market_cap_change_24h",
            number(p.amount(f.market_cap_change_24h())),
        ),
        ("market_cap_change_percentage_24h", number(p.amount(change))),
        (
            "price_change_24h_in_currency",
            amounts(f.price_change_24h()),
        ),
    ];
    for (key, window) in [
        ("price_change_percentage_1h_in_currency", "1h"),
        ("price_change_percentage_24h_in_currency", "24h"),
        ("price_change_percentage_7d_in_currency", "7d"),
        ("price_change_percentage_14d_in_currency", "14d"),
        ("price_change_percentage_30d_in_currency", "30d"),
        ("price_change_percentage_60d_in_currency", "60d"),
        ("price_change_percentage_200d_in_currency", "200d"),
        ("price_change_percentage_1y_in_currency", "1y"),
    ] {
        fields.push((key, same(f.change_pct(window).unwrap_or(0.0))));
    }
    fields.extend([
        (
            "market_cap_change_24h_in_currency",
            amounts(f.market_cap_change_24h()),
        ),
        ("market_cap_change_percentage_24h_in_currency", same(change)),
        ("total_supply", Figures::supply(f.info.total_supply)),
        ("max_supply", f.max_supply()),
        (
            "circulating_supply",
            Figures::supply(f.quote.circulating_supply),
        ),
        ("last_updated", json::string(&f.last_updated())),
    ]);
    fields
}

fn community_data() -> serde_json::Value {
    json!({
        "facebook_likes": null,
        "reddit_average_posts_48h": 0.0,
        "reddit_average_comments_48h": 0.0,
        "reddit_subscribers": 0,
        "reddit_accounts_active_48h": 0,
        "telegram_channel_user_count": null
    })
}

fn developer_data() -> serde_json::Value {
    json!({
        "forks": 0,
        "stars": 0,
        "subscribers": 0,
        "total_issues": 0,
        "closed_issues": 0,
        "pull_requests_merged": 0,
        "pull_request_contributors": 0,
        "code_additions_deletions_4_weeks": { "additions": null, "deletions": null },
        "commit_count_4_weeks": 0,
        "last_4_weeks_commit_activity_series": []
    })
}

/// One Binance ticker for coins with a USDT pair on the sim, none otherwise.
fn tickers(f: &Figures) -> serde_json::Value {
    if !f.info.on_binance {
        return json!([]);
    }
    json!([{
        "base": f.info.symbol,
        "target": "USDT",
        "market": { "name": "Binance", "identifier": "binance", "has_trading_incentive": false },
        "last": f.price(),
        "volume": f.quote.volume_24h_usd / f.price(),
        "trust_score": "green",
        "last_traded_at": f.last_updated(),
        "is_anomaly": false,
        "is_stale": false
    }])
}

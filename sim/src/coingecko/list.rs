//! `GET /coins/list`: every listed coin as `{"id","symbol","name"}`, the symbol in lower case
//! as CoinGecko writes it, sorted by id (byte order) as CoinGecko sorts the real list. With
//! `include_platform=true` each object also has `"platforms"`: chain → contract address,
//! `{}` for a chain's own coin and `{"": ""}` for some of them, as CoinGecko writes a few.
//! `status=inactive` lists the coins unlisted now instead (CoinGecko's delisted coins); any
//! other status is `active`, the default.
//!
//! Symbols are not unique here, as on CoinGecko: copycats and bridged tokens share them (several
//! coins are `eth`). Only ids are.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::prices::flag;
use super::responses;
use crate::json::Ordered;
use crate::state::SimState;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    include_platform: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    symbol: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    platforms: Option<Ordered<String, String>>,
}

pub(super) async fn list(
    State(state): State<Arc<SimState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return responses::bad_request("Invalid query");
    };
    let with_platforms = flag(&query.include_platform);
    let inactive = query.status.as_deref() == Some("inactive");
    let market = &state.market;
    let mut rows: Vec<Row> = {
        let quotes = market.quotes();
        (0..market.coin_count())
            .filter(|&index| quotes.is_listed(index) != inactive)
            .map(|index| {
                let info = quotes.info(index);
                Row {
                    id: market.id(index),
                    symbol: info.symbol.to_lowercase(),
                    name: info.name,
                    platforms: with_platforms.then(|| {
                        let platforms = market.platforms(index);
                        let pairs = platforms.listed();
                        Ordered(
                            pairs
                                .into_iter()
                                .map(|(chain, address)| (chain.to_owned(), address.to_owned()))
                                .collect(),
                        )
                    }),
                }
            })
            .collect()
    };
    rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    match serde_json::to_string(&rows) {
        Ok(body) => responses::ok(body),
        Err(_) => responses::internal_error(),
    }
}

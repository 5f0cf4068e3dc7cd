//! `GET /v1/coins[?search=&limit=&cursor=]`: the coin catalogue, best-ranked first, or the
//! coins whose name, symbol or id starts with `search`. Pages follow `next_cursor`.
//!
//! Before the first catalogue refresh the list is empty and `catalogue` is `null`: nothing is
//! made up (the refresh runs at first start and daily; `POST /v1/tasks {"kind":"catalogue"}`
//! asks for one now).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use coinbeat_shared::catalogue::{CatalogueCoin, CatalogueMeta};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::markets::parse_limit;
use crate::{ApiError, AppState};

/// Longest `search` accepted (longer than any coin name).
const MAX_SEARCH_LEN: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
pub struct CoinsQuery {
    /// A name, symbol or id prefix (any case), at most 100 characters.
    #[param(value_type = Option<String>, max_length = 100)]
    search: Option<String>,
    /// Coins per page, 1 to 1000 (default 100). (Read as text, so a non-number gets the same
    /// 422 as an out-of-range number.)
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The previous page's `next_cursor`, as it was given.
    #[param(value_type = Option<String>, pattern = "^[0-9]{1,9}~[ -~]{1,100}$")]
    cursor: Option<String>,
}

/// `GET /v1/coins`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoinsResponse<'a> {
    /// What the catalogue is and where it came from; `null` before the first refresh.
    #[schema(value_type = Option<CatalogueMeta>)]
    catalogue: Option<&'a CatalogueMeta>,
    #[schema(value_type = Vec<CatalogueCoin>)]
    coins: Vec<&'a CatalogueCoin>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /v1/coins`: pages of `limit` coins (1..=1000, default 100, as `/v1/markets`); 422 `invalid_limit`, `invalid_cursor` or `bad_request` (a search too long).
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<CoinsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = parse_limit(query.limit.as_deref())?;
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let search = query.search.as_deref().map(str::trim);
    if search.is_some_and(|s| s.chars().count() > MAX_SEARCH_LEN) {
        return Err(ApiError::BadRequest(format!(
            "`search` is longer than {MAX_SEARCH_LEN} characters"
        )));
    }
    let catalogue = state.catalogue().await?;
    let mut coins = catalogue.index.list(
        search,
        after.as_ref().map(|(rank, id)| (*rank, id.as_str())),
        limit + 1,
    );
    let next_cursor = if coins.len() > limit {
        coins.truncate(limit);
        coins.last().map(|coin| cursor_of(coin))
    } else {
        None
    };
    Ok(Json(CoinsResponse {
        catalogue: catalogue.meta.as_ref(),
        coins,
        next_cursor,
    })
    .into_response())
}

/// A cursor names the last coin of a page by its place in the order (rank, then id), so the
/// next page starts right after it even if a refresh moved or removed that coin.
pub(crate) fn cursor_of(coin: &CatalogueCoin) -> String {
    let (rank, id) = coin.rank_order();
    format!("{rank}~{id}")
}

pub(crate) fn parse_cursor(raw: &str) -> Result<(u32, String), ApiError> {
    let invalid = || ApiError::InvalidCursor(raw.to_owned());
    let (rank, id) = raw.split_once('~').ok_or_else(invalid)?;
    let rank: u32 = rank.parse().map_err(|_| invalid())?;
    if id.is_empty() || id.len() > 100 {
        return Err(invalid());
    }
    Ok((rank, id.to_owned()))
}

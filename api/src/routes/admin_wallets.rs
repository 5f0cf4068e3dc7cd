//! `GET`, `POST /v1/admin/wallets` and `DELETE /v1/admin/wallets/{address}` (admin): the
//! watched wallets. Addresses added here are stored in Redis
//! (`coinbeat_shared::watched_wallets`) beside `wallets.watched`; the scheduler re-reads them
//! every `wallets.watch_refresh_secs` and analyses each on `wallets.watch_cron` as its own entry
//! `wallet-{chain}-{address}`. An address from the settings cannot be removed here (409
//! `watched_in_settings`): the settings file is the place for it.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use coinbeat_shared::{
    domain::{Address, Chain},
    watched_wallets,
};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, JsonBody};

/// The body of `POST /v1/admin/wallets`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddWallet {
    #[schema(value_type = Address)]
    address: String,
}

/// The watched wallets after a change (or as they are).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WatchedView<'a> {
    chain: Chain,
    /// Watched through the settings (`wallets.watched`).
    #[schema(value_type = Vec<Address>)]
    settings: &'a [Address],
    /// Added here.
    added: Vec<Address>,
    watch_cron: &'a str,
    /// Whether the request changed the list; absent on a read.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
}

async fn view(
    state: &AppState,
    status: StatusCode,
    changed: Option<bool>,
) -> Result<Response, ApiError> {
    let wallets = &state.settings().wallets;
    let added = state
        .redis(watched_wallets::list(
            state.conn(),
            state.keys(),
            wallets.chain,
        ))
        .await?;
    let body = WatchedView {
        chain: wallets.chain,
        settings: &wallets.watched,
        added,
        watch_cron: &wallets.watch_cron,
        changed,
    };
    Ok((status, Json(body)).into_response())
}

/// `{"chain", "settings": [...], "added": [...], "watch_cron"}`.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    view(&state, StatusCode::OK, None).await
}

/// `{"address": "0x…"}` (checked with `Address::parse`: 422 `invalid_address` with the reason):
/// 201 when added, 200 when it was watched already (here or in the settings).
pub async fn add(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<AddWallet>,
) -> Result<Response, ApiError> {
    let address = Address::parse(&request.address)?;
    let wallets = &state.settings().wallets;
    if wallets.watched.contains(&address) {
        return view(&state, StatusCode::OK, Some(false)).await;
    }
    let added = state
        .redis(watched_wallets::add(
            state.conn(),
            state.keys(),
            wallets.chain,
            &address,
        ))
        .await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    view(&state, status, Some(added)).await
}

/// 200 with the list; 404 `wallet_not_watched`; 409 `watched_in_settings`.
pub async fn remove(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = address.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let address = Address::parse(&raw)?;
    let wallets = &state.settings().wallets;
    if wallets.watched.contains(&address) {
        return Err(ApiError::WatchedInSettings(address));
    }
    let removed = state
        .redis(watched_wallets::remove(
            state.conn(),
            state.keys(),
            wallets.chain,
            &address,
        ))
        .await?;
    if !removed {
        return Err(ApiError::WalletNotWatched(address));
    }
    view(&state, StatusCode::OK, Some(true)).await
}

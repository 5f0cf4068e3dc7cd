//! `GET /v1/admin/alerts` and `DELETE /v1/admin/alerts/{id}` (admin): every caller's price
//! alerts, and their removal. An alert belongs to the credential that made it and only that
//! credential sees it on `/v1/alerts`; an operator sees them all here, with whether the key that
//! made each is still configured. An alert whose key was removed from the settings still fires
//! (the workers do not know the API's keys), and no one but an admin can delete it.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::alerts::{self, AlertView};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
pub struct AdminAlertsQuery {
    /// Only the alerts of this owner, as listed (`key:…` or `jwt:…`).
    owner: Option<String>,
    /// `true`: only the alerts whose key is no longer configured; `false`: only the others
    /// (a JWT subject's alerts are never orphaned: any new token may carry it).
    #[param(value_type = Option<bool>)]
    orphaned: Option<bool>,
}

/// An alert as an operator sees it: whose it is, and whether that key still exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAlertView {
    /// Who made it: `key:` and the first 12 hex digits of the key's SHA-256 (the start of the
    /// hash in the settings), or `jwt:` and the token's subject.
    owner: String,
    /// Whether the key that made it is still configured. `false`: an orphan, which fires but
    /// which no one but an admin can see or delete. `null` for a JWT subject.
    owner_configured: Option<bool>,
    #[serde(flatten)]
    alert: AlertView,
}

/// What `GET /v1/admin/alerts` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAlertList {
    /// The alerts asked for, oldest first, without their secrets.
    alerts: Vec<AdminAlertView>,
}

/// `GET /v1/admin/alerts[?owner=…][&orphaned=true]`: every alert (or those of one owner, or
/// the orphans), oldest first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<AdminAlertsQuery>, QueryRejection>,
) -> Result<Json<AdminAlertList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let alerts = state.redis(state.alerts().list_all()).await?;
    let auth = state.authenticator();
    let alerts = alerts
        .into_iter()
        .filter(|alert| {
            query
                .owner
                .as_ref()
                .is_none_or(|owner| *owner == alert.owner)
        })
        .map(|alert| AdminAlertView {
            owner_configured: auth.still_configured(&alert.owner),
            owner: alert.owner.clone(),
            alert: AlertView::of(alert),
        })
        .filter(|view| {
            query
                .orphaned
                .is_none_or(|orphaned| orphaned == (view.owner_configured == Some(false)))
        })
        .collect();
    Ok(Json(AdminAlertList { alerts }))
}

/// `DELETE /v1/admin/alerts/{id}`: 204, whoever owns it; 404 `alert_not_found`.
pub async fn delete(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = alerts::alert_id(id)?;
    match state.redis(state.alerts().delete_any(&id)).await? {
        Some(alert) => {
            tracing::info!(alert = %alert.id, owner = %alert.owner, "alert deleted by an admin");
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::NoSuchAlert(id)),
    }
}

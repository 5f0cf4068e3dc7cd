//! What CoinCap's REST v3 endpoints share: the key and the error answers.
//!
//! v3 requires a key, as `Authorization: Bearer <key>` or `?apiKey=<key>` (the header wins when
//! both are sent): a missing one is a 401, and so is one the sim was not configured with (any
//! non-empty key passes when it has none). Errors are `{"error":"..."}`, as v2 answered an
//! unknown asset; v3's 401, 429 and 503 bodies are UNCONFIRMED (providers.md §4), as is whether a
//! 429 carries `Retry-After` (the sim sends one).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Provider;
use crate::faults::Refused;
use crate::state::{SimState, lock};
use crate::stats::Refusal;

const KEY_MISSING: &str =
    "Unauthorized: an API key is required (Authorization: Bearer <key> or ?apiKey=<key>)";
const KEY_REJECTED: &str = "Unauthorized: invalid API key";
const RATE_LIMITED: &str = "Too many requests: rate limit exceeded";
const UNAVAILABLE: &str = "Service temporarily unavailable";

/// Where a request's key came from, as [`crate::Stats::by_auth`] counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    None,
    Bearer,
    Query,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer => "bearer",
            Self::Query => "apikey_query",
        }
    }
}

fn credentials(headers: &HeaderMap, uri: &Uri) -> (Source, Option<String>) {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    if let Some(key) = bearer {
        return (Source::Bearer, Some(key));
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default();
    match query.get("apiKey") {
        Some(key) => (Source::Query, Some(key.clone())),
        None => (Source::None, None),
    }
}

/// The label [`crate::faults::gated_as`] counts a request under.
pub(super) fn auth_label(request: &Request) -> &'static str {
    credentials(request.headers(), request.uri()).0.label()
}

/// The key check, after the gate: 401 for a missing or unknown key, counted as an auth failure.
pub(super) async fn require_key(
    State(state): State<Arc<SimState>>,
    request: Request,
    next: Next,
) -> Response {
    let (_, key) = credentials(request.headers(), request.uri());
    let refusal = match key {
        None => Some(KEY_MISSING),
        Some(key) if !state.accepts_required_key(Some(&key)) => Some(KEY_REJECTED),
        Some(_) => None,
    };
    match refusal {
        Some(message) => {
            lock(&state.stats).record_refusal(Provider::CoinCap, Refusal::Auth);
            error(StatusCode::UNAUTHORIZED, message)
        }
        None => next.run(request).await,
    }
}

pub(super) fn refuse(_: &SimState, refused: Refused) -> Response {
    match refused {
        Refused::RateLimited { retry_after_secs } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Refused::Down | Refused::InjectedError => {
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        }
    }
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// `status` with `{"error":"..."}`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, json(&ErrorBody { error: message })).into_response()
}

/// 200 with a JSON body.
pub(super) fn json<T: Serialize>(body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

//! The middleware in front of every CoinGecko endpoint: count, delay, limit, fail, check the key,
//! and answer each refusal the way CoinGecko does.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{auth, responses};
use crate::Provider;
use crate::faults::{self, Refused};
use crate::state::{SimState, lock};
use crate::stats::Refusal;

pub(super) async fn gate(
    State(state): State<Arc<SimState>>,
    path: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let credentials = auth::credentials(request.headers(), request.uri());
    tracing::debug!(
        endpoint = path.as_str(),
        auth = credentials.kind.label(),
        "coingecko request"
    );
    let admitted = faults::admit(
        &state,
        Provider::CoinGecko,
        path.as_str(),
        credentials.kind.label(),
    )
    .await;
    match admitted {
        Ok(()) => {}
        Err(Refused::RateLimited { retry_after_secs }) => {
            return responses::rate_limited(retry_after_secs);
        }
        Err(Refused::Down | Refused::InjectedError) => return responses::unavailable(),
    }
    // CoinGecko answers a wrong key like a missing one (10002).
    if !state.accepts_key(credentials.key.as_deref()) {
        lock(&state.stats).record_refusal(Provider::CoinGecko, Refusal::Auth);
        return responses::key_missing();
    }
    next.run(request).await
}

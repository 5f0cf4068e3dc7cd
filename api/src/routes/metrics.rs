//! `GET /metrics`: the Prometheus scrape of the API process.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use coinbeat_shared::metrics::{CONTENT_TYPE, TextWriter};

use crate::AppState;

/// `GET /metrics`: the API's request metrics, then the gauges read from Redis (every product
/// queue, every provider's limiter and breaker, `coinbeat_redis_up`). Always 200: while Redis
/// is down the Redis families are empty and `coinbeat_redis_up` is 0, after at most one Redis
/// timeout.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let mut w = TextWriter::new();
    state.registry().render_into(&mut w);
    state.redis_gauges().render_into(&mut w).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], w.finish()).into_response()
}

//! Binding and serving the ops routes; stops gracefully when the process's token is cancelled.

use std::future::Future;

use axum::{
    Router,
    extract::{FromRef, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use coinbeat_shared::{metrics::CONTENT_TYPE, settings::OpsSettings};
use serde_json::json;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::state::{NotReady, Ops, Ready};

/// Why the ops server could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("cannot listen on ops.addr {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `settings.addr`, or nothing when the ops server is disabled.
pub async fn bind(settings: &OpsSettings) -> Result<Option<TcpListener>, OpsError> {
    if !settings.enabled {
        tracing::info!("ops server disabled");
        return Ok(None);
    }
    TcpListener::bind(&settings.addr)
        .await
        .map(Some)
        .map_err(|source| OpsError::Bind {
            addr: settings.addr.clone(),
            source,
        })
}

/// Serves `ops` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    ops: Ops,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // The bound address is logged because the default port is 0: this line is how an operator
    // (or `coinbeat up`'s output) learns where each process serves /metrics.
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "ops server listening");
    }
    let app = routes().with_state(ops);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Serves in a task of its own when there is a listener; an error is logged, never fatal to
/// the process (the work goes on without its ops port).
pub fn spawn(
    listener: Option<TcpListener>,
    ops: Ops,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    let listener = listener?;
    Some(tokio::spawn(async move {
        if let Err(e) = serve(listener, ops, shutdown).await {
            tracing::error!(error = %e, "ops server stopped");
        }
    }))
}

/// Runs `work` with the ops server beside it on `listener` (when there is one): the server
/// stops when `stop` is cancelled or `work` ends, and `work`'s output is returned once both have.
pub async fn beside<F: Future>(
    listener: Option<TcpListener>,
    ops: Ops,
    stop: &CancellationToken,
    work: F,
) -> F::Output {
    let server_stop = stop.child_token();
    let server = spawn(listener, ops, server_stop.clone());
    let output = work.await;
    server_stop.cancel();
    if let Some(server) = server {
        let _ = server.await;
    }
    output
}

/// The three ops routes for any router whose state holds an [`Ops`]: the ops server's own, and
/// the API's (which serves them on its port, beside its other routes).
pub fn routes<S>() -> Router<S>
where
    Ops: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// `GET /healthz`: 200 `{"status":"ok"}` whenever the process can answer at all.
pub async fn healthz() -> Response {
    status_json(StatusCode::OK, json!({"status": "ok"}))
}

/// `GET /readyz`: 200 `{"status":"ok"}`; 200 `{"status":"degraded",..}` while Redis does
/// not answer but the process serves without it ([`Ops::serving_without_redis`]); or 503 in
/// the API's error shape with `redis_unavailable` or `not_running`.
pub async fn readyz(State(ops): State<Ops>) -> Response {
    match ops.readiness().await {
        Ok(Ready::Fully) => status_json(StatusCode::OK, json!({"status": "ok"})),
        Ok(Ready::Degraded) => status_json(
            StatusCode::OK,
            json!({
                "status": "degraded",
                "redis": "unreachable",
                "message": "redis did not answer PING in time; reads are answered from this \
                            process's last copy, marked as such, and writes are refused (503)",
            }),
        ),
        Err(NotReady::Redis) => status_json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "redis_unavailable", "message": "redis did not answer PING in time"}}),
        ),
        Err(NotReady::NotRunning) => status_json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "not_running", "message": "the runtime is not running"}}),
        ),
    }
}

/// `GET /metrics`: the process's metrics, then the gauges read from Redis. Always 200: while
/// Redis is down the Redis families are empty and `coinbeat_redis_up` is 0, after at most one
/// Redis timeout.
pub async fn metrics(State(ops): State<Ops>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], ops.scrape().await).into_response()
}

fn status_json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_disabled_ops_server_binds_nothing_and_port_0_binds_a_free_port() {
        let off = OpsSettings {
            enabled: false,
            ..OpsSettings::default()
        };
        assert!(bind(&off).await.unwrap().is_none());
        let listener = bind(&OpsSettings::default())
            .await
            .unwrap()
            .expect("enabled");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_ne!(addr.port(), 0);
    }

    #[tokio::test]
    async fn an_address_that_cannot_be_bound_is_an_error_naming_the_setting() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let settings = OpsSettings {
            addr: taken.local_addr().unwrap().to_string(),
            ..OpsSettings::default()
        };
        let err = bind(&settings).await.expect_err("the port is taken");
        assert!(err.to_string().contains("ops.addr"), "{err}");
        assert!(err.to_string().contains(&settings.addr), "{err}");
    }
}

//! The `alerts` queue: each task is one crossing of one alert, delivered to the alert's webhook
//! as a signed JSON POST. Beside its queue, each alerts-worker evaluates the price moves the
//! price writes log ([`evaluate_moves`]): it reads them through the log's consumer group, finds
//! the alerts each crosses, enqueues their deliveries, and only then acknowledges them; a move
//! whose evaluator died is taken over by another after `move_log::STALE_AFTER`.
//!
//! - **Once per trigger.** The queue holds one task per trigger (its idempotency key). A
//!   delivery that got a 2xx is remembered (`Keys::alert_delivered`), so a re-delivered task
//!   (a worker that died after the call, an operator's retry) sends nothing more; while one
//!   worker calls the webhook it holds `Keys::alert_delivering`, so two copies are never sent
//!   at once. A receiver that answered 2xx but whose answer was lost gets the trigger again:
//!   at least once, with the same `Idempotency-Key` header to tell.
//! - **Signed.** `Coinbeat-Signature: t=…,v1=…`, HMAC-SHA256 of `"{t}.{body}"` with the
//!   alert's secret (`alerts::signature`).
//! - **Retried.** A 5xx, 408, 429, timeout or refused connection is transient: the queue
//!   retries with backoff (`queues.overrides.alerts`: 8 retries from 2 s) and then holds it
//!   dead. Any other 4xx, a redirect, or a target on the deny list is permanent.
//! - **No server-side request forgery.** The webhook's host is resolved and each address
//!   checked against the deny list at every delivery (it was checked at creation too, but DNS
//!   can change), and the call connects to those very addresses, following no redirect.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use chrono::Utc;
use coinbeat_shared::{
    alerts::{AlertStore, AlertWatch, MoveLog, StoredAlert, TargetError, signature},
    jobs::AlertJob,
    keys::Keys,
    queue::{JobContext, JobError, JobResult, Producer, replica_name},
    redis_conn,
    settings::AlertsSettings,
};
use redis::aio::ConnectionManager;
use reqwest::{StatusCode, header};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::boot::WorkerEnv;

/// Deletes a claim only if it is still the caller's (one that expired may be another's now).
static RELEASE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    )
});

/// Moves evaluated per read of the log.
const MOVES_PER_READ: usize = 500;
/// How long one read of the log waits for a move.
const READ_BLOCK: Duration = Duration::from_secs(1);
/// How often an evaluator looks for moves another one left pending.
const CLAIM_EVERY: Duration = Duration::from_secs(5);

/// How much of a receiver's answer a failure quotes.
const QUOTED_BYTES: usize = 200;

/// Delivers `alerts` tasks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertsWorker {
    store: AlertStore,
    conn: ConnectionManager,
    keys: Keys,
    settings: AlertsSettings,
}

impl AlertsWorker {
    pub fn new(env: &WorkerEnv) -> Self {
        Self {
            store: AlertStore::new(env.conn.clone(), env.keys.clone()),
            conn: env.conn.clone(),
            keys: env.keys.clone(),
            settings: env.settings.alerts.clone(),
        }
    }

    /// Delivers one trigger, unless it was delivered already or its alert is gone.
    pub async fn handle(&self, job: AlertJob, holder: &str) -> JobResult {
        let trigger = job.trigger();
        let mut conn = self.conn.clone();
        // One caller at a time per trigger. The claim outlives the longest delivery (the lookup
        // and the call, each bounded by the timeout), and only its own holder lets it go.
        let delivering_key = self.keys.alert_delivering(&trigger);
        let claim_for = self.settings.delivery_timeout() * 2 + Duration::from_secs(5);
        let token = format!("{holder}:{:016x}", rand::random::<u64>());
        let claimed: Option<String> = redis::cmd("SET")
            .arg(&delivering_key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(claim_for.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        if claimed.is_none() {
            // Back soon: by then the other call has succeeded (and this copy sends nothing)
            // or failed (and this one may try).
            return Err(JobError::throttled(
                "another worker is delivering this trigger now",
                Duration::from_secs(1),
            ));
        }
        let outcome = self.deliver_once(&job, &trigger).await;
        // Let go whatever happened; a claim left behind only delays a retry by its expiry.
        let _: Result<i64, _> = RELEASE
            .key(&delivering_key)
            .arg(&token)
            .invoke_async(&mut conn)
            .await;
        outcome
    }

    /// [`Self::handle`] while holding the trigger's claim. Whether it was delivered is read
    /// under the claim: a copy that claims it just after another copy's success sees that
    /// success, and a success is written before its claim is let go.
    async fn deliver_once(&self, job: &AlertJob, trigger: &str) -> JobResult {
        let delivered_key = self.keys.alert_delivered(trigger);
        let mut conn = self.conn.clone();
        let seen: bool = redis::cmd("EXISTS")
            .arg(&delivered_key)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        if seen {
            return Ok(Some(
                json!({ "trigger": trigger, "sent": false, "note": "delivered already" }),
            ));
        }
        let Some(alert) = self
            .store
            .get(&job.alert_id)
            .await
            .map_err(|e| JobError::transient(format!("reading the alert: {e}")))?
        else {
            return Ok(Some(
                json!({ "trigger": trigger, "sent": false, "note": "the alert was deleted" }),
            ));
        };
        let status = self.deliver(&alert, job, trigger).await?;
        let _: Option<String> = redis::cmd("SET")
            .arg(&delivered_key)
            .arg(status.as_u16())
            .arg("NX")
            .arg("EX")
            .arg(self.settings.remember_delivered_secs.max(1))
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        tracing::info!(%trigger, status = status.as_u16(), "alert delivered");
        Ok(Some(json!({
            "trigger": trigger,
            "sent": true,
            "status": status.as_u16(),
            "webhook_host": alert.webhook_url.host(),
        })))
    }

    /// One POST of the trigger to the alert's webhook; the 2xx status, or why not.
    async fn deliver(
        &self,
        alert: &StoredAlert,
        job: &AlertJob,
        trigger: &str,
    ) -> Result<StatusCode, JobError> {
        let target = &alert.webhook_url;
        let timeout = self.settings.delivery_timeout();
        let addrs = tokio::time::timeout(timeout, target.resolve(self.settings.allow_private_targets))
            .await
            .unwrap_or_else(|_| {
                Err(TargetError::Unresolved {
                    host: target.host(),
                    reason: format!("no answer within {timeout:?}"),
                })
            })
            .map_err(|e| match e {
                TargetError::Unresolved { .. } => JobError::transient(e),
                _ => JobError::permanent(e),
            })?;
        let mut client = reqwest::Client::builder()
            // A proxy would resolve the host itself, past the check.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("coinbeat/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(url::Host::Domain(domain)) = target.as_url().host() {
            // Connect to the addresses just checked, not to a second lookup's.
            client = client.resolve_to_addrs(domain, &addrs);
        }
        let client = client
            .build()
            .map_err(|e| JobError::transient(format!("building the webhook client: {e}")))?;
        let body = serde_json::to_vec(&payload(alert, job, trigger)).expect("payloads serialize");
        let sent_at = Utc::now().timestamp();
        let answer = client
            .post(target.as_url().clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                signature::SIGNATURE_HEADER,
                signature::sign(&alert.secret, sent_at, &body),
            )
            .header("idempotency-key", trigger)
            .header("coinbeat-alert-id", alert.id.to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| {
                JobError::transient(format!(
                    "webhook {} did not answer: {}",
                    target.host(),
                    without_url(&e)
                ))
            })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(status);
        }
        let quoted = quote(answer).await;
        let reason = format!("webhook {} answered {status}{quoted}", target.host());
        Err(
            if status.is_server_error()
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS
            {
                JobError::transient(reason)
            } else if status.is_redirection() {
                JobError::permanent(format!("{reason}; redirects are not followed"))
            } else {
                JobError::permanent(reason)
            },
        )
    }
}

fn redis_error(e: redis::RedisError) -> JobError {
    JobError::transient(format!("redis: {e}"))
}

/// The JSON a webhook receives.
fn payload(alert: &StoredAlert, job: &AlertJob, trigger: &str) -> serde_json::Value {
    json!({
        "type": "alert.triggered",
        "id": trigger,
        "alert": {
            "id": alert.id,
            "coin": alert.coin,
            "condition": alert.condition,
        },
        "coin": job.coin,
        "symbol": job.symbol,
        "usd": job.usd,
        "previous_usd": job.previous_usd,
        "reference_usd": job.reference_usd,
        "as_of": job.as_of,
        "fetched_at": job.fetched_at,
        "source": job.source,
    })
}

/// A transport error without the URL reqwest puts in it (a webhook's query may hold a token).
fn without_url(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    let mut deepest = error.to_string();
    while let Some(next) = source.source() {
        deepest = next.to_string();
        source = next;
    }
    if error.is_timeout() {
        "timed out".into()
    } else {
        deepest
    }
}

/// The start of a failed answer's body, for the task's error.
async fn quote(answer: reqwest::Response) -> String {
    let bytes = answer.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTED_BYTES)]);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// Evaluates the logged price moves until `stop`: reads them through the log's consumer group
/// as `consumer` (and, every few seconds, takes over those another evaluator left pending),
/// enqueues the deliveries of their crossings, then acknowledges them. Redis errors are waited
/// out; nothing is acknowledged that was not evaluated.
pub async fn evaluate_moves(
    log: MoveLog,
    watch: AlertWatch,
    consumer: String,
    stop: CancellationToken,
) {
    let mut group_ready = false;
    let mut last_claim: Option<Instant> = None;
    while !stop.is_cancelled() {
        let step = async {
            if !group_ready {
                log.ensure_group().await?;
                group_ready = true;
            }
            let mut entries = Vec::new();
            if last_claim.is_none_or(|at| at.elapsed() >= CLAIM_EVERY) {
                last_claim = Some(Instant::now());
                entries = log.claim_stale(&consumer, MOVES_PER_READ).await?;
            }
            if entries.is_empty() {
                entries = log.read_new(&consumer, MOVES_PER_READ, READ_BLOCK).await?;
            }
            log.evaluate(&watch, entries).await
        };
        let outcome = tokio::select! {
            outcome = step => outcome,
            () = stop.cancelled() => break,
        };
        match outcome {
            Ok(fired) if fired.enqueued + fired.duplicates + fired.held_back > 0 => {
                tracing::debug!(
                    enqueued = fired.enqueued,
                    duplicates = fired.duplicates,
                    held_back = fired.held_back,
                    "alert crossings enqueued"
                );
            }
            Ok(_) => {}
            Err(error) => {
                // The group may be gone with its stream (a flushed Redis): made again next time.
                group_ready = false;
                tracing::warn!(%error, "price moves not evaluated yet; they stay in the log and are tried again");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    }
    if let Err(error) = log.leave(&consumer).await {
        tracing::debug!(%error, "could not leave the evaluators' group");
    }
}

impl crate::worker::Worker for AlertsWorker {
    type Job = AlertJob;
    const NAME: &'static str = "alerts-worker";
    const ABOUT: &'static str =
        "Evaluates the logged price moves against the price alerts, and runs the `alerts` queue: delivers each crossing to its webhook, signed.";

    async fn build(env: &WorkerEnv) -> anyhow::Result<Self> {
        Ok(Self::new(env))
    }

    async fn run(&self, job: AlertJob, ctx: JobContext) -> JobResult {
        self.handle(job, &ctx.worker).await
    }

    fn beside(
        &self,
        env: &WorkerEnv,
        stop: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let watch = AlertWatch::new(
            self.store.clone(),
            Producer::new(env.queues.clone(), env.keys.clone(), env.settings.queues.clone()),
        );
        let (redis, keys) = (env.settings.redis.clone(), env.keys.clone());
        async move {
            // A connection of its own: the log's blocking read holds it while it waits.
            let conn = redis_conn::connect(&redis).await?;
            evaluate_moves(MoveLog::new(conn, &keys), watch, replica_name("alerts-eval"), stop)
                .await;
            Ok(())
        }
    }
}

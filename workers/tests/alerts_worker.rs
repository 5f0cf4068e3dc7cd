//! Alert deliveries end to end: a price write crosses an alert, `alerts-worker` processes
//! (real binaries, two at once) deliver it to a webhook receiver over real HTTP, against a
//! real, private redis-server. Once per crossing, signed, retried on 5xx until dead, and never
//! to a loopback address unless the settings allow it.

#[path = "common/worker_process.rs"]
mod worker_process;

use std::{process::Command, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    Settings,
    alerts::{AlertStore, Condition, StoredAlert, WebhookUrl, signature},
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
    jobs::{AlertJob, Queue},
    keys::Keys,
    queue::{EnqueueOptions, Producer, TaskId, TaskStatus, lookup_task},
    testing::{TestRedis, producer},
};
use coinbeat_workers::{alerts::AlertsWorker, boot::WorkerEnv};
use redis::aio::ConnectionManager;
use rust_decimal::Decimal;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
use worker_process::WorkerProcess;

struct Ctx {
    _redis: TestRedis,
    settings: Settings,
    conn: ConnectionManager,
    keys: Keys,
    producer: Producer,
    store: AlertStore,
    receiver: MockServer,
}

/// A redis-server, and a webhook receiver answering `status` to every call.
async fn setup(status: u16) -> Ctx {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    settings.alerts.allow_private_targets = true;
    // Every process of a deployment shares these: a task's attempts are fixed when it is
    // enqueued (by an alerts-worker evaluating the move), its backoff by the worker running it
    // (`worker_env`).
    let alerts = settings
        .queues
        .overrides
        .entry("alerts".into())
        .or_default();
    alerts.max_retries = Some(2);
    alerts.retry_base_delay_ms = Some(100);
    alerts.retry_max_delay_ms = Some(200);
    let (conn, keys, producer) = producer(&settings).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_string("receiver says hi"))
        .mount(&receiver)
        .await;
    Ctx {
        _redis: redis,
        store: AlertStore::new(conn.clone(), keys.clone()),
        settings,
        conn,
        keys,
        producer,
        receiver,
    }
}

/// `alerts-worker` processes' environment: loopback receivers allowed, quick retries.
fn worker_env() -> Vec<(&'static str, String)> {
    vec![
        ("COINBEAT_ALERTS__ALLOW_PRIVATE_TARGETS", "true".into()),
        (
            "COINBEAT_QUEUES__OVERRIDES__ALERTS__MAX_RETRIES",
            "2".into(),
        ),
        (
            "COINBEAT_QUEUES__OVERRIDES__ALERTS__RETRY_BASE_DELAY_MS",
            "100".into(),
        ),
        (
            "COINBEAT_QUEUES__OVERRIDES__ALERTS__RETRY_MAX_DELAY_MS",
            "200".into(),
        ),
    ]
}

fn alerts_worker(settings: &Settings) -> WorkerProcess {
    WorkerProcess::spawn(env!("CARGO_BIN_EXE_alerts-worker"), settings, &worker_env())
}

fn bitcoin() -> CoinId {
    CoinId::parse("bitcoin").unwrap()
}

fn price(usd: &str, fetched_at: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol: "BTC".into(),
        coin_id: bitcoin(),
        usd: Decimal::from_str(usd).unwrap(),
        change_24h_pct: None,
        market_cap_usd: None,
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at,
        source: "coingecko".into(),
    }
}

impl Ctx {
    /// An alert on BTC above 100 000 USD, to the receiver (or `url`).
    async fn alert_above(&self, url: Option<&str>) -> StoredAlert {
        let url = url.map_or_else(
            || format!("{}/hooks/btc?token=t0p", self.receiver.uri()),
            str::to_owned,
        );
        let alert = StoredAlert::new(
            "key:test".into(),
            bitcoin(),
            Condition::Above {
                usd: Decimal::from(100_000),
            },
            WebhookUrl::parse(&url).unwrap(),
        );
        self.store.create(&alert, 100).await.unwrap();
        alert
    }

    /// Writes BTC at `usd`, as a price worker does; the moves it logged for the alerts-workers
    /// to evaluate.
    async fn write(&self, usd: &str, at: DateTime<Utc>) -> usize {
        PriceCache::new(self.conn.clone(), self.keys.clone(), &self.settings.prices)
            .write(&[price(usd, at)])
            .await
            .unwrap()
            .moves_logged
    }

    /// The one task the `alerts` queue will hold, once an alerts-worker has evaluated the move.
    async fn only_task(&self) -> TaskId {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut ids = self.task_ids().await;
            if let Some(id) = ids.pop() {
                assert!(ids.is_empty(), "more than one task: {ids:?}");
                return id;
            }
            assert!(tokio::time::Instant::now() < deadline, "no task enqueued");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn received(&self) -> Vec<wiremock::Request> {
        self.receiver.received_requests().await.unwrap_or_default()
    }

    /// Waits until the receiver holds `n` calls (or `limit` passes); how many it holds.
    async fn wait_received(&self, n: usize, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let got = self.received().await.len();
            if got >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The ids of every task on the `alerts` queue, waiting or finished.
    async fn task_ids(&self) -> Vec<TaskId> {
        let ids: Vec<String> = redis::cmd("HKEYS")
            .arg(self.keys.queue(&Queue::Alerts.name()).data())
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
        ids.iter().map(|id| id.parse().unwrap()).collect()
    }

    async fn wait_status(
        &self,
        id: TaskId,
        wanted: TaskStatus,
        limit: Duration,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let info = lookup_task(&self.conn, &self.keys, &Queue::Alerts.name(), id)
                .await
                .unwrap();
            if let Some(info) = &info
                && info.status == wanted
            {
                return serde_json::to_value(info).unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "task {id} not {wanted:?} in {limit:?}: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_crossing_is_delivered_once_with_two_workers_and_a_redelivered_task_and_the_signature_verifies()
 {
    let ctx = setup(200).await;
    let alert = ctx.alert_above(None).await;
    let _a = alerts_worker(&ctx.settings);
    let _b = alerts_worker(&ctx.settings);

    let t0 = Utc::now() - chrono::Duration::minutes(5);
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    assert_eq!(
        ctx.write("99000", at(0)).await,
        0,
        "a first price is no move"
    );
    assert_eq!(ctx.write("100000.5", at(1)).await, 1, "the crossing");
    assert_eq!(
        ctx.write("101000", at(2)).await,
        1,
        "a move, but still above"
    );
    assert_eq!(ctx.wait_received(1, Duration::from_secs(20)).await, 1);

    // The same trigger enqueued again while its key is held is the same task.
    let job = AlertJob {
        alert_id: alert.id,
        coin: bitcoin(),
        symbol: "BTC".into(),
        condition: alert.condition.clone(),
        usd: Decimal::from_str("100000.5").unwrap(),
        previous_usd: Decimal::from(99_000),
        reference_usd: None,
        as_of: at(1),
        fetched_at: at(1),
        source: "coingecko".into(),
    };
    let again = ctx
        .producer
        .enqueue_keyed(&[(job.clone(), job.trigger())])
        .await
        .unwrap();
    assert!(again[0].is_err(), "{again:?}");
    // Re-delivered without its key (an operator's re-run, a key expired): sends nothing more.
    let redelivered = ctx
        .producer
        .enqueue(&job, EnqueueOptions::default())
        .await
        .unwrap();
    let done = ctx
        .wait_status(redelivered, TaskStatus::Done, Duration::from_secs(20))
        .await;
    assert!(done.to_string().contains("delivered already"), "{done}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = ctx.received().await;
    assert_eq!(received.len(), 1, "one crossing, one call");

    // What arrived: the trigger, signed with the alert's secret.
    let call = &received[0];
    assert_eq!(call.url.path(), "/hooks/btc");
    let header = |name: &str| {
        call.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("idempotency-key"), job.trigger());
    assert_eq!(header("content-type"), "application/json");
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["id"], job.trigger());
    assert_eq!(body["alert"]["id"], alert.id.to_string());
    assert_eq!(body["usd"], "100000.5");
    assert_eq!(body["previous_usd"], "99000");
    let signed = header("coinbeat-signature");
    assert!(signature::verify(
        &alert.secret,
        &signed,
        &call.body,
        Utc::now().timestamp(),
        300
    ));
    // And by a receiver that is not coinbeat: Python's hmac over "{t}.{body}".
    let t = signed
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap()
        .to_owned();
    let python = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode() + b'.' + sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            &alert.secret,
            &t,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    python
        .stdin
        .as_ref()
        .unwrap()
        .write_all(&call.body)
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert_eq!(
        signed,
        format!("t={t},v1={}", String::from_utf8(out.stdout).unwrap().trim())
    );

    // Down and back up is a second crossing: a second call.
    ctx.write("99999", at(3)).await;
    ctx.write("100000", at(4)).await;
    assert_eq!(ctx.wait_received(2, Duration::from_secs(20)).await, 2);

    // Ten copies of one new trigger at once, shared by the two workers: one call.
    let copy = AlertJob {
        as_of: at(9),
        fetched_at: at(9),
        ..job
    };
    let mut copies = Vec::new();
    for _ in 0..10 {
        copies.push(
            ctx.producer
                .enqueue(&copy, EnqueueOptions::default())
                .await
                .unwrap(),
        );
    }
    for id in copies {
        ctx.wait_status(id, TaskStatus::Done, Duration::from_secs(30))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ctx.received().await.len(), 3);
}

#[tokio::test]
async fn a_5xx_webhook_is_retried_then_dead_after_the_configured_attempts_and_a_4xx_at_once() {
    let ctx = setup(503).await;
    ctx.alert_above(None).await;
    let _worker = alerts_worker(&ctx.settings);
    let t0 = Utc::now() - chrono::Duration::minutes(5);
    ctx.write("99000", t0).await;
    assert_eq!(
        ctx.write("100001", t0 + chrono::Duration::seconds(1)).await,
        1
    );
    let id = ctx.only_task().await;
    let dead = ctx
        .wait_status(id, TaskStatus::Dead, Duration::from_secs(30))
        .await;
    assert!(dead.to_string().contains("503"), "{dead}");
    assert!(dead.to_string().contains("receiver says hi"), "{dead}");
    assert!(
        !dead.to_string().contains("t0p"),
        "no webhook query in errors: {dead}"
    );
    // max_retries 2: three attempts in all.
    assert_eq!(ctx.received().await.len(), 3);

    let ctx = setup(410).await;
    ctx.alert_above(None).await;
    let _worker = alerts_worker(&ctx.settings);
    ctx.write("99000", t0).await;
    ctx.write("100001", t0 + chrono::Duration::seconds(1)).await;
    let id = ctx.only_task().await;
    ctx.wait_status(id, TaskStatus::Dead, Duration::from_secs(30))
        .await;
    assert_eq!(ctx.received().await.len(), 1, "a 4xx is not retried");
}

#[tokio::test]
async fn a_loopback_webhook_is_refused_by_default() {
    let ctx = setup(200).await;
    let alert = ctx.alert_above(None).await;
    let mut settings = ctx.settings.clone();
    settings.alerts.allow_private_targets = false;
    let env = WorkerEnv::connect(settings).await.unwrap();
    let worker = AlertsWorker::new(&env);
    let job = AlertJob {
        alert_id: alert.id,
        coin: bitcoin(),
        symbol: "BTC".into(),
        condition: alert.condition.clone(),
        usd: Decimal::from(100_001),
        previous_usd: Decimal::from(99_000),
        reference_usd: None,
        as_of: Utc::now(),
        fetched_at: Utc::now(),
        source: "coingecko".into(),
    };
    let err = worker.handle(job.clone(), "test").await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.reason().contains("loopback"), "{err:?}");

    // A name that resolves to loopback is refused the same way.
    let named = ctx
        .alert_above(Some(&format!(
            "http://localhost:{}/hook",
            ctx.receiver.address().port()
        )))
        .await;
    let err = worker
        .handle(
            AlertJob {
                alert_id: named.id,
                ..job
            },
            "test",
        )
        .await
        .unwrap_err();
    assert!(
        err.is_permanent() && err.reason().contains("loopback"),
        "{err:?}"
    );
    assert!(ctx.received().await.is_empty(), "nothing was sent");
}

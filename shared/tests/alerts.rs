//! Price alerts against a real, private redis-server: stored and bounded per owner, and
//! evaluated by the price cache's own write, whichever path writes (a whole record or an
//! exchange's tick), once per crossing, exactly.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use coinbeat_shared::{
    alerts::{AlertStore, AlertWatch, Condition, Direction, StoreError, StoredAlert, WebhookUrl},
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
    jobs::{AlertJob, Queue},
    keys::Keys,
    queue::Producer,
    testing::{TestRedis, producer},
};
use redis::aio::ConnectionManager;
use rust_decimal::Decimal;

struct Ctx {
    _redis: TestRedis,
    conn: ConnectionManager,
    keys: Keys,
    store: AlertStore,
    /// Writes prices and evaluates alerts, as the price, tier and stream workers do.
    cache: PriceCache,
    producer: Producer,
}

async fn setup() -> Ctx {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let (conn, keys, producer) = producer(&settings).await;
    let store = AlertStore::new(conn.clone(), keys.clone());
    let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices)
        .with_alerts(AlertWatch::new(store.clone(), producer.clone()));
    Ctx {
        _redis: redis,
        conn,
        keys,
        store,
        cache,
        producer,
    }
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn bitcoin() -> CoinId {
    CoinId::parse("bitcoin").unwrap()
}

fn price(usd: &str, fetched_at: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol: "BTC".into(),
        coin_id: bitcoin(),
        usd: d(usd),
        change_24h_pct: None,
        market_cap_usd: None,
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at,
        source: "test".into(),
    }
}

fn alert(owner: &str, condition: Condition) -> StoredAlert {
    StoredAlert::new(
        owner.into(),
        bitcoin(),
        condition,
        WebhookUrl::parse("https://hooks.example.com/coinbeat").unwrap(),
    )
}

impl Ctx {
    /// Writes `usd` as of `at`; how many deliveries it enqueued.
    async fn write(&self, usd: &str, at: DateTime<Utc>) -> usize {
        self.cache
            .write(&[price(usd, at)])
            .await
            .unwrap()
            .alerts_fired
    }

    /// The deliveries waiting on the `alerts` queue, oldest first.
    async fn queued(&self) -> Vec<AlertJob> {
        let queue = self.keys.queue(&Queue::Alerts.name());
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("LRANGE")
            .arg(queue.active())
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut jobs = Vec::new();
        for id in ids {
            let payload: Vec<u8> = redis::cmd("HGET")
                .arg(queue.data())
                .arg(id)
                .query_async(&mut conn)
                .await
                .unwrap();
            jobs.push(serde_json::from_slice(&payload).unwrap());
        }
        jobs
    }
}

#[tokio::test]
async fn each_crossing_enqueues_one_delivery_and_staying_past_the_threshold_fires_nothing() {
    let ctx = setup().await;
    let above = alert(
        "key:a",
        Condition::Above {
            usd: d("70000.000000000000000001"),
        },
    );
    let below = alert("key:a", Condition::Below { usd: d("69000") });
    ctx.store.create(&above, 10).await.unwrap();
    ctx.store.create(&below, 10).await.unwrap();

    let t0 = Utc::now() - Duration::minutes(10);
    let at = |s: i64| t0 + Duration::seconds(s);
    assert_eq!(
        ctx.write("69500", at(0)).await,
        0,
        "a first price crosses nothing"
    );
    // Equal to the threshold's double but below its decimal: no crossing.
    assert_eq!(ctx.write("70000", at(1)).await, 0);
    assert_eq!(ctx.write("70000.000000000000000001", at(2)).await, 1);
    assert_eq!(ctx.write("71000", at(3)).await, 0, "still above");
    // A record no newer than the cached one is not a price update.
    assert_eq!(ctx.write("69999", at(3)).await, 0);
    assert_eq!(
        ctx.write("69000", at(4)).await,
        1,
        "below fires at its threshold"
    );
    assert_eq!(ctx.write("68000", at(5)).await, 0);
    assert_eq!(ctx.write("70001", at(6)).await, 1, "a second crossing up");

    let queued = ctx.queued().await;
    let fired: Vec<(&str, String)> = queued
        .iter()
        .map(|j| (j.condition.kind(), j.previous_usd.to_string()))
        .collect();
    assert_eq!(
        fired,
        [
            ("above", "70000".to_owned()),
            ("below", "71000".to_owned()),
            ("above", "68000".to_owned())
        ]
    );
    let first = &queued[0];
    assert_eq!(first.alert_id, above.id);
    assert_eq!(first.usd, d("70000.000000000000000001"));
    assert_eq!(first.as_of, at(2));
    assert_eq!(
        first.trigger(),
        format!(
            "alert:{}:{}:{}",
            above.id,
            at(2).timestamp_millis(),
            at(2).timestamp_millis()
        )
    );
}

#[tokio::test]
async fn an_exchange_tick_is_evaluated_like_any_other_write_and_a_trigger_is_enqueued_once() {
    let ctx = setup().await;
    let above = alert("key:a", Condition::Above { usd: d("100") });
    ctx.store.create(&above, 10).await.unwrap();
    let t0 = Utc::now() - Duration::minutes(1);
    ctx.write("99", t0).await;
    let tick = PriceRecord {
        source: "binance-ws".into(),
        upstream_updated_at: Some(t0 + Duration::seconds(1)),
        ..price("100.5", t0 + Duration::seconds(1))
    };
    let outcome = ctx
        .cache
        .write_ticks(std::slice::from_ref(&tick))
        .await
        .unwrap();
    assert_eq!(outcome.alerts_fired, 1);

    // The same trigger again (a writer that retried after a lost reply) is the same task.
    let job = ctx.queued().await.pop().unwrap();
    let again = ctx
        .producer
        .enqueue_keyed(&[(job.clone(), job.trigger())])
        .await
        .unwrap();
    assert!(again[0].is_err(), "the trigger's key is held: {again:?}");
    assert_eq!(ctx.queued().await.len(), 1);
}

#[tokio::test]
async fn a_move_fires_when_the_price_has_moved_by_the_percentage_within_the_window() {
    let ctx = setup().await;
    let up = alert(
        "key:a",
        Condition::Move {
            percent: d("5"),
            window_secs: 600,
            direction: Direction::Up,
        },
    );
    ctx.store.create(&up, 10).await.unwrap();
    let now = Utc::now();
    // Twenty minutes ago, out of the window: not the reference.
    ctx.write("50", now - Duration::minutes(20)).await;
    assert_eq!(ctx.write("100", now - Duration::minutes(9)).await, 0);
    assert_eq!(ctx.write("104.99", now - Duration::minutes(5)).await, 0);
    assert_eq!(ctx.write("105", now - Duration::minutes(4)).await, 1);
    assert_eq!(
        ctx.write("107", now - Duration::minutes(3)).await,
        0,
        "had moved"
    );
    let job = ctx.queued().await.pop().unwrap();
    assert_eq!(job.reference_usd, Some(d("100")));
    assert_eq!(job.previous_usd, d("104.99"));
}

#[tokio::test]
async fn alerts_are_bounded_per_owner_listed_by_owner_and_deleted_only_by_it() {
    let ctx = setup().await;
    let mine: Vec<StoredAlert> = (0..3)
        .map(|n| {
            alert(
                "key:a",
                Condition::Above {
                    usd: Decimal::from(100 + n),
                },
            )
        })
        .collect();
    for a in &mine {
        ctx.store.create(a, 3).await.unwrap();
    }
    let over = alert("key:a", Condition::Below { usd: d("1") });
    assert!(matches!(
        ctx.store.create(&over, 3).await,
        Err(StoreError::TooMany { max: 3 })
    ));
    let theirs = alert("key:b", Condition::Below { usd: d("1") });
    ctx.store.create(&theirs, 3).await.unwrap();

    let listed: Vec<_> = ctx.store.list("key:a").await.unwrap();
    assert_eq!(listed, mine);
    assert!(!ctx.store.delete("key:b", &mine[0].id).await.unwrap());
    assert!(ctx.store.delete("key:a", &mine[0].id).await.unwrap());
    assert!(!ctx.store.delete("key:a", &mine[0].id).await.unwrap());
    assert_eq!(ctx.store.list("key:a").await.unwrap().len(), 2);
    // Room again for one more.
    ctx.store.create(&over, 3).await.unwrap();

    // A coin whose last alert is deleted leaves the set the price write checks.
    for a in ctx.store.list("key:a").await.unwrap() {
        assert!(ctx.store.delete("key:a", &a.id).await.unwrap());
    }
    assert!(ctx.store.delete("key:b", &theirs.id).await.unwrap());
    let coins: Vec<String> = redis::cmd("SMEMBERS")
        .arg(ctx.keys.alerts_coins())
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert!(coins.is_empty(), "{coins:?}");
    // And a price write then crosses nothing, in one round trip as before.
    let t0 = Utc::now() - Duration::minutes(1);
    ctx.write("1", t0).await;
    assert_eq!(ctx.write("200", t0 + Duration::seconds(1)).await, 0);
}

//! Price alerts against a real, private redis-server: stored and bounded per owner; every price
//! write of a coin with alerts logged by the price cache's own script, whichever path writes (a
//! whole record or an exchange's tick), and evaluated from the log once per crossing, exactly,
//! with nothing lost when an evaluator dies or cannot enqueue.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use coinbeat_shared::{
    alerts::{
        AlertStore, AlertWatch, Condition, Direction, Fired, MoveLog, PriceMove, StoreError,
        StoredAlert, WebhookUrl,
    },
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
    /// Writes prices, as the price, tier and stream workers do: each move of a coin with
    /// alerts is logged.
    cache: PriceCache,
    /// The log of moves and their evaluation, as an alerts-worker reads it.
    log: MoveLog,
    watch: AlertWatch,
    producer: Producer,
}

async fn setup() -> Ctx {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let (conn, keys, producer) = producer(&settings).await;
    let store = AlertStore::new(conn.clone(), keys.clone());
    let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices);
    let log =
        MoveLog::new(conn.clone(), &keys).with_stale_after(std::time::Duration::from_millis(300));
    log.ensure_group().await.unwrap();
    Ctx {
        _redis: redis,
        log,
        watch: AlertWatch::new(store.clone(), producer.clone()),
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

/// A step of BTC's price from 99 to 101 fetched at `at`, as the move log hands it over.
fn rise_through_100(at: DateTime<Utc>) -> PriceMove {
    PriceMove {
        coin: bitcoin(),
        symbol: "BTC".into(),
        previous: d("99"),
        usd: d("101"),
        as_of: at,
        fetched_at: at,
        source: "test".into(),
    }
}

impl Ctx {
    /// Writes `usd` as of `at` and evaluates the moves logged; how many deliveries it
    /// enqueued.
    async fn write(&self, usd: &str, at: DateTime<Utc>) -> usize {
        self.write_all(usd, at).await.enqueued
    }

    /// [`Self::write`], with everything the evaluation did.
    async fn write_all(&self, usd: &str, at: DateTime<Utc>) -> Fired {
        self.cache.write(&[price(usd, at)]).await.unwrap();
        self.evaluate_all().await
    }

    /// Evaluates the moves no evaluator has read yet, as an alerts-worker does.
    async fn evaluate(&self) -> usize {
        self.evaluate_all().await.enqueued
    }

    /// [`Self::evaluate`], with everything the evaluation did.
    async fn evaluate_all(&self) -> Fired {
        let entries = self
            .log
            .read_new("test", 1_000, std::time::Duration::from_millis(1))
            .await
            .unwrap();
        self.log.evaluate(&self.watch, entries).await.unwrap()
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
    assert_eq!(first.as_of.timestamp_millis(), at(2).timestamp_millis());
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
    assert_eq!(outcome.moves_logged, 1);
    assert_eq!(ctx.evaluate().await, 1);

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
            window_secs: 900,
            direction: Direction::Up,
        },
    );
    ctx.store.create(&up, 10).await.unwrap();
    let now = Utc::now();
    // Forty minutes ago, out of every window below: never the reference.
    ctx.write("50", now - Duration::minutes(40)).await;
    // No point within the 15 minutes before it: no reference, nothing fires.
    assert_eq!(ctx.write("100", now - Duration::minutes(14)).await, 0);
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
async fn a_cooldown_holds_back_crossings_fetched_within_it_but_never_a_trigger_evaluated_again() {
    let ctx = setup().await;
    let cooling = StoredAlert {
        cooldown_secs: 60,
        ..alert("key:a", Condition::Above { usd: d("100") })
    };
    let every = alert("key:a", Condition::Above { usd: d("100") });
    ctx.store.create(&cooling, 10).await.unwrap();
    ctx.store.create(&every, 10).await.unwrap();
    // Price time, well in the past: the evaluation's own clock plays no part. (Whole seconds:
    // prices are kept to the millisecond.)
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 7_200, 0).unwrap();
    let at = |s: i64| t0 + Duration::seconds(s);
    ctx.write("99", at(0)).await;
    let first = ctx.write_all("101", at(1)).await;
    assert_eq!((first.enqueued, first.held_back), (2, 0), "both fire");
    // Flapping around the threshold within the minute: only the alert without one fires.
    for s in [2, 4, 6] {
        ctx.write("99", at(s)).await;
        let again = ctx.write_all("101", at(s + 1)).await;
        assert_eq!((again.enqueued, again.held_back), (1, 1), "at {s} s");
    }
    // 60 s after the price it fired on (not after the last held back): fires again.
    ctx.write("99", at(60)).await;
    let later = ctx.write_all("101", at(61)).await;
    assert_eq!((later.enqueued, later.held_back), (2, 0));
    let queued = ctx.queued().await;
    let fired_at = |id| -> Vec<i64> {
        queued
            .iter()
            .filter(|j| j.alert_id == id)
            .map(|j| (j.fetched_at - t0).num_seconds())
            .collect()
    };
    assert_eq!(fired_at(cooling.id), [1, 61]);
    assert_eq!(fired_at(every.id), [1, 3, 5, 7, 61]);

    // The move it fired on, evaluated again (its evaluator died after enqueueing): not held
    // back by its own firing, and the queue's key makes it the same task.
    let step = rise_through_100(at(61));
    let again = ctx
        .watch
        .on_moves(std::slice::from_ref(&step))
        .await
        .unwrap();
    assert_eq!(
        (again.enqueued, again.duplicates, again.held_back),
        (0, 2, 0)
    );
    // A move from before it, evaluated late, within the cooldown of the firing: held back.
    let late = rise_through_100(at(30));
    let held = ctx
        .watch
        .on_moves(std::slice::from_ref(&late))
        .await
        .unwrap();
    assert_eq!((held.enqueued, held.held_back), (1, 1));

    // Deleted, the alert leaves no firing behind.
    let mut conn = ctx.conn.clone();
    let fired_key = ctx.keys.alert_firings(&cooling.id);
    let exists = async |conn: &mut ConnectionManager| -> bool {
        redis::cmd("EXISTS")
            .arg(&fired_key)
            .query_async(conn)
            .await
            .unwrap()
    };
    assert!(exists(&mut conn).await);
    assert!(ctx.store.delete("key:a", &cooling.id).await.unwrap());
    assert!(!exists(&mut conn).await);
}

#[tokio::test]
async fn a_cooldown_holds_when_moves_are_evaluated_out_of_order_and_an_alert_deleted_meanwhile_fires_nothing()
 {
    let ctx = setup().await;
    let cooling = StoredAlert {
        cooldown_secs: 10,
        ..alert("key:a", Condition::Above { usd: d("100") })
    };
    ctx.store.create(&cooling, 10).await.unwrap();
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 7_200, 0).unwrap();
    let fire = async |s: i64| {
        let at = t0 + Duration::seconds(s);
        let fired = ctx.watch.on_moves(&[rise_through_100(at)]).await.unwrap();
        (fired.enqueued, fired.duplicates, fired.held_back)
    };
    // A batch's crossing at 100 fires; its enqueue is lost with its evaluator, so the batch is
    // evaluated again after another's crossing at 112 has fired.
    assert_eq!(fire(100).await, (1, 0, 0));
    assert_eq!(fire(112).await, (1, 0, 0));
    assert_eq!(fire(100).await, (0, 1, 0), "its own trigger, the same task");
    // 116 is within the cooldown of the firing at 112, whichever was evaluated last.
    assert_eq!(fire(116).await, (0, 0, 1));
    // Two evaluators sharing a backlog, the later move first: the cooldown holds both ways.
    assert_eq!(fire(140).await, (1, 0, 0));
    assert_eq!(fire(135).await, (0, 0, 1));
    assert_eq!(fire(145).await, (0, 0, 1));
    assert_eq!(fire(150).await, (1, 0, 0), "a whole cooldown after 140");

    // Deleted between finding the crossing and firing it: nothing is delivered, and nothing
    // is recorded under its id.
    let at = t0 + Duration::seconds(300);
    let found = ctx.watch.crossings(&[rise_through_100(at)]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(ctx.store.delete("key:a", &cooling.id).await.unwrap());
    let fired = ctx.watch.fire(found).await.unwrap();
    assert_eq!((fired.enqueued, fired.held_back), (0, 1));
    let exists: bool = redis::cmd("EXISTS")
        .arg(ctx.keys.alert_firings(&cooling.id))
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    assert!(!exists, "nothing recorded for a deleted alert");
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
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:alert*", ctx.keys.prefix()))
        .query_async(&mut ctx.conn.clone())
        .await
        .unwrap();
    // The log of moves (a stream with its consumer group) stays; no alert, index or owner set.
    assert_eq!(left, [ctx.keys.alert_moves()]);
    // And a price write of the coin then logs no move.
    let t0 = Utc::now() - Duration::minutes(1);
    ctx.cache.write(&[price("1", t0)]).await.unwrap();
    let outcome = ctx
        .cache
        .write(&[price("200", t0 + Duration::seconds(1))])
        .await
        .unwrap();
    assert_eq!((outcome.written, outcome.moves_logged), (1, 0));
}

#[tokio::test]
async fn a_move_is_never_lost_an_evaluator_that_dies_or_cannot_enqueue_leaves_it_to_another() {
    let ctx = setup().await;
    ctx.store
        .create(&alert("key:a", Condition::Above { usd: d("100") }), 10)
        .await
        .unwrap();
    let t0 = Utc::now() - Duration::minutes(1);
    let at = |s: i64| t0 + Duration::seconds(s);
    ctx.cache.write(&[price("99", at(0))]).await.unwrap();
    ctx.cache.write(&[price("101", at(1))]).await.unwrap();

    // An evaluator reads the move and dies before it is evaluated.
    let taken = ctx
        .log
        .read_new("dead", 100, std::time::Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert!(
        !ctx.log.leave("dead").await.unwrap(),
        "a consumer holding entries stays in the group"
    );
    assert_eq!(ctx.evaluate().await, 0, "no one else is given it at once");
    assert!(ctx.log.claim_stale("alive", 100).await.unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let claimed = ctx.log.claim_stale("alive", 100).await.unwrap();
    assert_eq!(claimed, taken);

    // The queue refuses the delivery (full): the move stays, and is evaluated once it is not.
    let mut full = coinbeat_shared::Settings::default().queues;
    full.overrides
        .entry("alerts".into())
        .or_default()
        .max_backlog = Some(0);
    let refused = AlertWatch::new(
        ctx.store.clone(),
        Producer::new(ctx.conn.clone(), ctx.keys.clone(), full),
    );
    assert!(ctx.log.evaluate(&refused, claimed).await.is_err());
    assert_eq!(ctx.log.len().await.unwrap(), 1);
    assert!(ctx.queued().await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let claimed = ctx.log.claim_stale("alive", 100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let fired = ctx.log.evaluate(&ctx.watch, claimed).await.unwrap();
    assert_eq!(fired.enqueued, 1);
    assert_eq!(ctx.log.len().await.unwrap(), 0, "acknowledged and deleted");
    assert_eq!(ctx.queued().await.len(), 1);
    // Evaluators that hold nothing leave the group as they stop.
    assert!(ctx.log.leave("dead").await.unwrap());
    assert!(ctx.log.leave("alive").await.unwrap());
}

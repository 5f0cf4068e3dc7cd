//! The history worker against a real, private redis-server and a PostgreSQL database of its
//! own: a snapshot stores the cached price of every tracked coin once, however often the job is
//! delivered; a newer price is a new row; a set that is no set and history storage off are
//! refused for good, PostgreSQL unreachable is a retry.

use std::str::FromStr;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use coinbeat_history::testing::TestPostgres;
use coinbeat_shared::{
    Settings,
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
    jobs::{HistoryJob, SnapshotJob},
    queue::JobError,
    settings::Secret,
    testing::TestRedis,
};
use coinbeat_workers::{boot::WorkerEnv, history::HistoryWorker};
use rust_decimal::Decimal;

fn record(symbol: &str, id: &str, usd: &str, at: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol: symbol.into(),
        coin_id: CoinId::parse(id).unwrap(),
        usd: Decimal::from_str(usd).unwrap(),
        change_24h_pct: None,
        market_cap_usd: Some(Decimal::from(1_000_000)),
        volume_24h_usd: None,
        upstream_updated_at: Some(at - Duration::seconds(2)),
        fetched_at: at,
        source: "coingecko".into(),
    }
}

fn snapshot(set: &str) -> HistoryJob {
    HistoryJob::Snapshot(SnapshotJob { set: set.into() })
}

async fn start(settings: &Settings) -> (HistoryWorker, PriceCache) {
    let env = WorkerEnv::connect(settings.clone()).await.unwrap();
    let cache = PriceCache::new(env.conn.clone(), env.keys.clone(), &settings.prices);
    (HistoryWorker::new(&env).await.unwrap(), cache)
}

#[tokio::test]
async fn a_snapshot_stores_each_cached_price_once_however_often_it_is_delivered() {
    let redis = TestRedis::start();
    let pg = TestPostgres::start().await;
    let mut settings = redis.settings();
    settings.history.database_url = Some(Secret::new(pg.url()));
    let (worker, cache) = start(&settings).await;
    // Stored to the millisecond, as Redis keeps its recent points.
    let at = (Utc::now() - Duration::minutes(3)).trunc_subsecs(3);
    cache
        .write(&[
            record("BTC", "bitcoin", "97000.12", at),
            record("ETH", "ethereum", "3500.5", at),
            record("SOL", "solana", "210.0001", at),
        ])
        .await
        .unwrap();

    let first = worker.handle(snapshot("tracked")).await.unwrap().unwrap();
    assert_eq!(first["rows"], 3, "{first}");
    assert_eq!(first["already_stored"], 0);
    // Re-delivered (a worker died after writing, before its ack), or run by two replicas.
    let (again, twice) = tokio::join!(
        worker.handle(snapshot("tracked")),
        worker.handle(snapshot("tracked"))
    );
    for result in [again.unwrap().unwrap(), twice.unwrap().unwrap()] {
        assert_eq!(result["rows"], 0, "{result}");
        assert_eq!(result["already_stored"], 3);
    }
    let store = pg.store();
    let (since, until) = (at - Duration::days(1), Utc::now());
    assert_eq!(store.count("bitcoin", since, until).await.unwrap(), 1);

    // A newer price is a new snapshot, at the instant it was fetched.
    let later = at + Duration::minutes(1);
    cache
        .write(&[record("BTC", "bitcoin", "97100", later)])
        .await
        .unwrap();
    let next = worker.handle(snapshot("tracked")).await.unwrap().unwrap();
    assert_eq!(next["rows"], 1, "{next}");
    let points = store
        .points("bitcoin", since, until, 10)
        .await
        .unwrap()
        .unwrap();
    let got: Vec<(DateTime<Utc>, Decimal)> = points.iter().map(|p| (p.at, p.usd)).collect();
    assert_eq!(
        got,
        [
            (later, Decimal::from(97_100)),
            (at, Decimal::from_str("97000.12").unwrap())
        ]
    );
}

#[tokio::test]
async fn a_set_that_is_no_set_or_storage_off_is_refused_for_good_and_postgresql_down_is_retried() {
    let redis = TestRedis::start();
    let pg = TestPostgres::start().await;
    let mut settings = redis.settings();
    settings.history.database_url = Some(Secret::new(pg.url()));
    let (worker, _) = start(&settings).await;
    let error = worker.handle(snapshot("everything")).await.unwrap_err();
    assert!(error.is_permanent(), "{error:?}");
    assert!(error.reason().contains("everything"), "{error:?}");

    settings.history.database_url = None;
    let (off, _) = start(&settings).await;
    let error = off.handle(snapshot("tracked")).await.unwrap_err();
    assert!(error.is_permanent(), "{error:?}");
    assert!(error.reason().contains("DATABASE_URL"), "{error:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    settings.history.database_url = Some(Secret::new(format!(
        "postgres://postgres@127.0.0.1:{closed}/none"
    )));
    settings.history.timeout_ms = 500;
    let (down, cache) = start(&settings).await;
    cache
        .write(&[record("BTC", "bitcoin", "1", Utc::now())])
        .await
        .unwrap();
    let error = down.handle(snapshot("tracked")).await.unwrap_err();
    assert!(matches!(error, JobError::Transient(_)), "{error:?}");
}

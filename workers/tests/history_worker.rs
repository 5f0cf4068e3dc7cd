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
    assert_eq!(first["priced"], 3, "{first}");
    // Redis's history holds the same three points (read back in case PostgreSQL had missed
    // them): the same rows, stored once.
    assert_eq!(first["history_points_read"], 3, "{first}");
    // Re-delivered (a worker died after writing, before its ack), or run by two replicas.
    let (again, twice) = tokio::join!(
        worker.handle(snapshot("tracked")),
        worker.handle(snapshot("tracked"))
    );
    for result in [again.unwrap().unwrap(), twice.unwrap().unwrap()] {
        assert_eq!(result["rows"], 0, "{result}");
        assert_eq!(result["already_stored"], 6);
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

/// A TCP proxy to the machine's PostgreSQL that can be taken down (every connection through it
/// cut, new ones refused) and brought back on the same port: PostgreSQL unreachable and back,
/// as the worker sees it.
struct PgProxy {
    port: u16,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl PgProxy {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut proxy = Self {
            port,
            running: None,
        };
        proxy.up().await;
        proxy
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.running = Some(tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                links.spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        }));
    }

    /// Cuts every connection and stops listening.
    fn down(&mut self) {
        if let Some(running) = self.running.take() {
            // Dropping the accept loop drops its JoinSet: every link is aborted.
            running.abort();
        }
    }

    fn url(&self, pg: &TestPostgres) -> String {
        let database = pg.url().rsplit('/').next().unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

#[tokio::test]
async fn postgresql_down_fails_snapshots_as_transient_and_once_back_nothing_is_lost() {
    let redis = TestRedis::start();
    let pg = TestPostgres::start().await;
    let mut proxy = PgProxy::start().await;
    let mut settings = redis.settings();
    settings.history.database_url = Some(Secret::new(proxy.url(&pg)));
    settings.history.timeout_ms = 1_000;
    let (worker, cache) = start(&settings).await;
    let t0 = (Utc::now() - Duration::minutes(30)).trunc_subsecs(3);
    cache
        .write(&[record("BTC", "bitcoin", "100", t0)])
        .await
        .unwrap();
    let stored = worker.handle(snapshot("tracked")).await.unwrap().unwrap();
    assert_eq!(stored["rows"], 1);

    // Down: the prices go on arriving in Redis; each snapshot fails, to be retried.
    proxy.down();
    let mut during = Vec::new();
    for minute in 1..=3 {
        let at = t0 + Duration::minutes(minute);
        cache
            .write(&[record("BTC", "bitcoin", &format!("{}", 100 + minute), at)])
            .await
            .unwrap();
        let error = worker.handle(snapshot("tracked")).await.unwrap_err();
        assert!(matches!(error, JobError::Transient(_)), "{error:?}");
        during.push(at);
    }

    // Back: the retried snapshot stores the price the cache holds now and, from Redis's
    // history, the ones that came while PostgreSQL was down: nothing is lost.
    proxy.up().await;
    let retried = worker.handle(snapshot("tracked")).await.unwrap().unwrap();
    assert_eq!(retried["rows"], 3, "{retried}");
    let points = pg
        .store()
        .points("bitcoin", t0 - Duration::days(1), Utc::now(), 10)
        .await
        .unwrap()
        .unwrap();
    let times: Vec<DateTime<Utc>> = points.iter().map(|p| p.at).collect();
    assert_eq!(times, [during[2], during[1], during[0], t0]);
}

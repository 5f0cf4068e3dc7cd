//! The history store against the machine's real PostgreSQL, a database of its own per test:
//! migrations apply once however many processes start, a snapshot written twice is stored
//! once, months get partitions of their own, candles equal a reference computed here over the
//! same points, coin metadata is newest-wins, and PostgreSQL unreachable is a transient error.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use coinbeat_history::{
    Candle, CoinMeta, Connect, HistoryStore, Snapshot, Written, candles_of, testing::TestPostgres,
};
use rust_decimal::Decimal;

fn snapshot(coin: &str, at: DateTime<Utc>, usd: Decimal) -> Snapshot {
    Snapshot {
        coin_id: coin.to_owned(),
        at,
        usd,
        market_cap_usd: None,
        volume_24h_usd: None,
        source: "coingecko".to_owned(),
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

#[tokio::test]
async fn a_snapshot_written_again_or_by_two_writers_at_once_is_stored_once() {
    let pg = TestPostgres::start().await;
    let (a, b) = (pg.store(), pg.store());
    let base = 1_767_225_600; // 2026-01-01T00:00:00Z
    let batch: Vec<Snapshot> = (0..500)
        .map(|i| {
            let coin = if i % 2 == 0 { "bitcoin" } else { "ethereum" };
            snapshot(coin, t(base + i * 60), Decimal::new(9_000_000 + i, 2))
        })
        .collect();
    // Two processes starting at once: each applies the migrations (once between them) and
    // writes the same batch.
    let (first, second) = tokio::join!(a.write_snapshots(&batch), b.write_snapshots(&batch));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.rows + second.rows, 500, "{first:?} {second:?}");
    assert_eq!(first.already_stored + second.already_stored, 500);
    // The job re-delivered: nothing new.
    let again = a.write_snapshots(&batch).await.unwrap();
    assert_eq!(
        again,
        Written {
            rows: 0,
            already_stored: 500
        }
    );
    let all = (t(base - 1), t(base + 1_000 * 60));
    assert_eq!(a.count("bitcoin", all.0, all.1).await.unwrap(), 250);
    assert_eq!(a.count("ethereum", all.0, all.1).await.unwrap(), 250);
    // The same moment with another price is the same snapshot: the first one stands.
    let changed = vec![snapshot("bitcoin", t(base), Decimal::ONE)];
    assert_eq!(a.write_snapshots(&changed).await.unwrap().rows, 0);
    let points = a.points("bitcoin", t(base), t(base), 10).await.unwrap();
    assert_eq!(points.unwrap()[0].usd, Decimal::new(9_000_000, 2));
    assert_eq!(a.points("dogecoin", all.0, all.1, 10).await.unwrap(), None);
}

#[tokio::test]
async fn each_month_gets_its_own_partition_and_a_range_reads_across_them() {
    let pg = TestPostgres::start().await;
    let store = pg.store();
    // 2026-01-15, 2026-02-15, 2026-03-15, and the last and first second of a month.
    let times = [
        1_768_435_200,
        1_771_113_600,
        1_773_532_800,
        1_769_903_999,
        1_769_904_000,
    ];
    let batch: Vec<Snapshot> = times
        .iter()
        .map(|s| snapshot("bitcoin", t(*s), Decimal::new(*s, 0)))
        .collect();
    assert_eq!(store.write_snapshots(&batch).await.unwrap().rows, 5);
    let partitions: Vec<String> = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(pg.url()).await.unwrap();
        sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'price_snapshots'::regclass ORDER BY 1",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(
        partitions,
        [
            "price_snapshots_2026_01",
            "price_snapshots_2026_02",
            "price_snapshots_2026_03"
        ]
    );
    let newest_first = store
        .points("bitcoin", t(0), t(2_000_000_000), 100)
        .await
        .unwrap()
        .unwrap();
    let mut want = times.to_vec();
    want.sort_unstable_by(|a, b| b.cmp(a));
    let got: Vec<i64> = newest_first.iter().map(|p| p.at.timestamp()).collect();
    assert_eq!(got, want);
    // A time no price can be of is refused, not sent.
    let bogus = vec![snapshot("bitcoin", t(0), Decimal::ONE)];
    assert!(
        !store
            .write_snapshots(&bogus)
            .await
            .unwrap_err()
            .is_transient()
    );
}

/// Candles computed here, the plain way: bucket by `floor(t / step)`, first, max, min, last.
fn reference(points: &[(i64, Decimal)], step: i64) -> Vec<Candle> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|(t, _)| *t);
    let mut out: Vec<Candle> = Vec::new();
    for (at, usd) in sorted {
        let start = t(at.div_euclid(step) * step);
        match out.last_mut() {
            Some(c) if c.start == start => {
                c.high = c.high.max(usd);
                c.low = c.low.min(usd);
                c.close = usd;
                c.close_at = t(at);
                c.points += 1;
            }
            _ => out.push(Candle {
                start,
                open: usd,
                high: usd,
                low: usd,
                close: usd,
                close_at: t(at),
                points: 1,
            }),
        }
    }
    out
}

#[tokio::test]
async fn candles_equal_a_reference_computation_over_the_same_points() {
    let pg = TestPostgres::start().await;
    let store = pg.store();
    // Three days of irregular points (gaps, bursts), written in shuffled order, with prices
    // of up to 8 decimals.
    let base = 1_767_225_600;
    let mut rng_state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let mut points: Vec<(i64, Decimal)> = Vec::new();
    let mut at = base;
    while at < base + 3 * 86_400 {
        at += 1 + (next() % 900) as i64;
        let usd = Decimal::new(4_000_000_000_000 + (next() % 200_000_000_000) as i64, 8);
        points.push((at, usd));
    }
    let mut shuffled: Vec<(u64, (i64, Decimal))> = points.iter().map(|p| (next(), *p)).collect();
    shuffled.sort_by_key(|(key, _)| *key);
    let batch: Vec<Snapshot> = shuffled
        .iter()
        .map(|(_, (at, usd))| snapshot("bitcoin", t(*at), *usd))
        .collect();
    store.write_snapshots(&batch).await.unwrap();
    for step in [60, 420, 3_600, 86_400] {
        let got = store
            .candles(
                "bitcoin",
                t(base),
                t(base + 4 * 86_400),
                Duration::from_secs(step as u64),
                100_000,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, reference(&points, step), "step {step}");
        // The same rule in Rust, for the points only Redis holds (the API's newest part).
        let timed: Vec<(DateTime<Utc>, Decimal)> =
            points.iter().map(|(at, usd)| (t(*at), *usd)).collect();
        assert_eq!(
            candles_of(&timed, Duration::from_secs(step as u64)),
            got,
            "step {step}, in Rust"
        );
    }
    // A range inside: only its points; a limit keeps the newest candles.
    let (since, until) = (base + 3_600 + 1, base + 5 * 3_600);
    let inside: Vec<(i64, Decimal)> = points
        .iter()
        .copied()
        .filter(|(at, _)| (since..=until).contains(at))
        .collect();
    let got = store
        .candles("bitcoin", t(since), t(until), Duration::from_secs(3_600), 2)
        .await
        .unwrap()
        .unwrap();
    let want = reference(&inside, 3_600);
    assert_eq!(got, want[want.len() - 2..]);
}

#[tokio::test]
async fn coin_metadata_is_newest_wins_and_a_snapshot_alone_is_no_metadata() {
    let pg = TestPostgres::start().await;
    let store = pg.store();
    store
        .write_snapshots(&[snapshot("bitcoin", t(1_767_225_600), Decimal::ONE)])
        .await
        .unwrap();
    assert_eq!(store.coin("bitcoin").await.unwrap(), None);
    let meta = |rank: u32, at: i64| CoinMeta {
        coin_id: "bitcoin".into(),
        symbol: Some("BTC".into()),
        name: Some("Bitcoin".into()),
        rank: Some(rank),
        market_cap_usd: Some(Decimal::new(1_700_000_000_000, 0)),
        platforms: BTreeMap::new(),
        source: Some("coingecko".into()),
        updated_at: Some(t(at)),
    };
    assert_eq!(store.write_coins(&[meta(1, 200)]).await.unwrap(), 1);
    assert_eq!(
        store.write_coins(&[meta(9, 100)]).await.unwrap(),
        0,
        "older"
    );
    assert_eq!(store.coin("bitcoin").await.unwrap(), Some(meta(1, 200)));
    let mut usdc = meta(5, 300);
    usdc.coin_id = "usd-coin".into();
    usdc.platforms = BTreeMap::from([(
        "ethereum".to_owned(),
        "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".to_owned(),
    )]);
    assert_eq!(store.write_coins(&[usdc.clone()]).await.unwrap(), 1);
    assert_eq!(store.coin("usd-coin").await.unwrap(), Some(usdc));
}

#[tokio::test]
async fn postgresql_unreachable_is_a_transient_error_and_a_bad_url_is_refused_at_once() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{closed}/none");
    let store = HistoryStore::connect_lazy(&Connect {
        url: &url,
        max_connections: 1,
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    let error = store
        .write_snapshots(&[snapshot("bitcoin", t(1_767_225_600), Decimal::ONE)])
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    let bad = HistoryStore::connect_lazy(&Connect {
        url: "mysql://nope",
        max_connections: 1,
        timeout: Duration::from_millis(500),
    });
    assert!(bad.is_err());
}

#[tokio::test]
async fn before_any_history_worker_migrated_the_database_reads_find_nothing_rather_than_fail() {
    let pg = TestPostgres::start().await;
    let reader = pg.store();
    let (since, until) = (t(0), t(2_000_000_000));
    assert_eq!(
        reader.points("bitcoin", since, until, 10).await.unwrap(),
        None
    );
    assert_eq!(reader.count("bitcoin", since, until).await.unwrap(), 0);
    assert_eq!(reader.coin("bitcoin").await.unwrap(), None);
    let candles = reader
        .candles("bitcoin", since, until, Duration::from_secs(3_600), 10)
        .await
        .unwrap();
    assert_eq!(candles, None);
}

//! The price cache against a real, private redis-server: newest wins atomically, one history
//! point per accepted write, bounded history, an event per accepted record, hard expiry.

mod common;

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use coinbeat_shared::{
    cache::{PriceCache, PriceRecord, migrate_symbol_keys},
    domain::{CoinId, Symbol},
    keys::Keys,
    testing::TestRedis,
};
use futures::StreamExt;
use rust_decimal::Decimal;

use common::connect;

fn record(symbol: &str, usd: &str, fetched_at: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol: symbol.into(),
        coin_id: coin(symbol),
        usd: Decimal::from_str(usd).unwrap(),
        change_24h_pct: None,
        market_cap_usd: Some(Decimal::from_str("1317802988326.25").unwrap()),
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at,
        source: "test".into(),
    }
}

fn cap(text: &str) -> Option<Decimal> {
    Some(Decimal::from_str(text).unwrap())
}

/// An aggregator's answer for BTC: its price and market cap of the moment `upstream`, fetched
/// at `fetched`.
fn answer(
    usd: &str,
    market_cap: &str,
    upstream: DateTime<Utc>,
    fetched: DateTime<Utc>,
) -> PriceRecord {
    PriceRecord {
        upstream_updated_at: Some(upstream),
        market_cap_usd: cap(market_cap),
        ..record("BTC", usd, fetched)
    }
}

/// A stream's BTC trade at `event` (a trade has no market cap), received at once.
fn trade(usd: &str, event: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        upstream_updated_at: Some(event),
        market_cap_usd: None,
        source: "binance-ws".into(),
        ..record("BTC", usd, event)
    }
}

/// The coin id these tests give a symbol's records: the symbol in lower case.
fn coin(symbol: &str) -> CoinId {
    CoinId::parse(&symbol.to_lowercase()).unwrap()
}

/// A price cache on a private redis-server (kept running by the returned handle).
async fn private_cache() -> (TestRedis, PriceCache) {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let (conn, keys) = connect(&settings).await;
    let cache = PriceCache::new(conn, keys, &settings.prices);
    (redis, cache)
}

#[tokio::test]
async fn an_older_record_never_replaces_a_newer_one_and_history_stays_bounded() {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    settings.prices.history_points = 3;
    let (conn, keys) = connect(&settings).await;
    let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices);

    let mut events = redis::Client::open(redis.url())
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    events.subscribe(keys.price_events()).await.unwrap();
    let mut events = events.into_on_message();

    let t0 = Utc::now() - Duration::seconds(60);
    let newer = record("BTC", "67187.3358936566", t0 + Duration::seconds(10));
    let older = record("BTC", "60000.1", t0);
    let pepe = record("PEPE", "0.00000982", t0);

    let first = cache.write(&[newer.clone(), pepe.clone()]).await.unwrap();
    assert_eq!((first.written, first.skipped), (2, 0));
    // A late or re-delivered job brings an older price: it is skipped, atomically.
    let late = cache.write(std::slice::from_ref(&older)).await.unwrap();
    assert_eq!((late.written, late.skipped), (0, 1));
    // The same fetch written twice is not "newer" either.
    assert_eq!(
        cache
            .write(std::slice::from_ref(&newer))
            .await
            .unwrap()
            .skipped,
        1
    );

    let btc = coin("BTC");
    let got = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(got, newer);
    assert_eq!(got.usd.to_string(), "67187.3358936566");
    let both = cache.get_many(&[coin("PEPE"), coin("NONE")]).await.unwrap();
    assert_eq!(both[0].as_ref().unwrap().usd.to_string(), "0.00000982");
    assert!(both[1].is_none());

    // Exactly the two accepted records were announced, in order.
    for expected in [&newer, &pepe] {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .unwrap();
        let payload: String = msg.get_payload().unwrap();
        let announced: PriceRecord = serde_json::from_str(&payload).unwrap();
        assert_eq!(&announced, expected);
    }
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), events.next())
            .await
            .is_err(),
        "a skipped write must not be announced"
    );

    // History: one point per accepted write, newest kept, bounded to 3.
    for i in 1..=4 {
        let r = record("BTC", &format!("6800{i}.5"), t0 + Duration::seconds(10 + i));
        assert_eq!(cache.write(&[r]).await.unwrap().written, 1);
    }
    let history = cache.history(&btc, 10).await.unwrap();
    let prices: Vec<String> = history.iter().map(|p| p.usd.to_string()).collect();
    assert_eq!(prices, ["68002.5", "68003.5", "68004.5"]);
    assert!(history.windows(2).all(|w| w[0].t < w[1].t));

    // The record carries the hard expiry.
    let mut c = conn.clone();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys.price(&btc))
        .query_async(&mut c)
        .await
        .unwrap();
    let expire_ms = settings.prices.expire_after().as_millis() as i64;
    assert!(ttl > expire_ms - 60_000 && ttl <= expire_ms, "pttl {ttl}");
}

/// Records of one symbol from different paths (an aggregator's REST answer, an exchange
/// stream's trade) are ordered by the time the price is of, not by when each was fetched: a
/// fresher trade is not replaced by an older aggregated price fetched after it, and a bogus
/// upstream time in the future holds nothing back past its own fetch.
#[tokio::test]
async fn the_price_of_a_later_moment_wins_whichever_path_fetched_it_and_when() {
    let (_redis, cache) = private_cache().await;
    let t0 = Utc::now() - Duration::seconds(300);
    let at = |s: i64| t0 + Duration::seconds(s);
    let with = |usd: &str, upstream: Option<i64>, fetched: i64| PriceRecord {
        upstream_updated_at: upstream.map(at),
        ..record("BTC", usd, at(fetched))
    };
    let btc = coin("BTC");
    let written = |w: coinbeat_shared::cache::WriteOutcome| w.written;

    // An aggregator's answer, fetched at 100 s, of the price at 70 s.
    assert_eq!(
        written(cache.write(&[with("1", Some(70), 100)]).await.unwrap()),
        1
    );
    // A trade at 89.5 s, received at 90 s: fetched earlier, but of a later moment.
    assert_eq!(
        written(cache.write(&[with("2", Some(89), 90)]).await.unwrap()),
        1
    );
    // The aggregator again at 110 s, still of 80 s: older news, skipped.
    assert_eq!(
        written(cache.write(&[with("3", Some(80), 110)]).await.unwrap()),
        0
    );
    assert_eq!(cache.get(&btc).await.unwrap().unwrap().usd.to_string(), "2");
    // The same moment fetched again later is newer news of it.
    assert_eq!(
        written(cache.write(&[with("4", Some(89), 120)]).await.unwrap()),
        1
    );
    // No upstream time: as of its fetch.
    assert_eq!(
        written(cache.write(&[with("5", None, 130)]).await.unwrap()),
        1
    );
    // An upstream time far ahead counts only as far as the fetch (140 s) ...
    assert_eq!(
        written(cache.write(&[with("6", Some(100_000), 140)]).await.unwrap()),
        1
    );
    // ... so a trade of 150 s still replaces it.
    assert_eq!(
        written(cache.write(&[with("7", Some(150), 151)]).await.unwrap()),
        1
    );
    assert_eq!(cache.get(&btc).await.unwrap().unwrap().usd.to_string(), "7");
}

/// A stream's trade has no market cap and the aggregator's answer is older than the last trade:
/// neither erases what only the other has.
#[tokio::test]
async fn a_trade_keeps_the_aggregators_market_cap_and_a_later_fetched_answer_still_brings_its_own()
{
    let (_redis, cache) = private_cache().await;
    let t0 = Utc::now() - Duration::seconds(300);
    let at = |s: i64| t0 + Duration::seconds(s);
    let btc = coin("BTC");
    let rest = |usd: &str, market_cap: &str, upstream: i64, fetched: i64| {
        answer(usd, market_cap, at(upstream), at(fetched))
    };
    let tick = |usd: &str, event: i64| trade(usd, at(event));

    cache
        .write(&[rest("100", "1000.5", 70, 100)])
        .await
        .unwrap();
    assert_eq!(
        cache
            .write_ticks(&[tick("101.25", 101)])
            .await
            .unwrap()
            .written,
        1
    );
    let held = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(
        (held.usd.to_string(), held.source.as_str()),
        ("101.25".into(), "binance-ws")
    );
    assert_eq!(
        held.market_cap_usd,
        cap("1000.5"),
        "the trade kept the market cap"
    );

    // The aggregator again, fetched later but of an older moment: the price stays the trade's,
    // the market cap becomes the newer one.
    assert_eq!(
        cache
            .write(&[rest("99", "2000.75", 80, 110)])
            .await
            .unwrap()
            .written,
        0
    );
    let held = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(held.usd.to_string(), "101.25");
    assert_eq!(held.market_cap_usd, cap("2000.75"));
    // An answer fetched before the last write changes nothing at all.
    cache.write(&[rest("98", "5.5", 60, 90)]).await.unwrap();
    assert_eq!(
        cache.get(&btc).await.unwrap().unwrap().market_cap_usd,
        cap("2000.75")
    );
    // A whole record that is newer replaces everything, its own market cap with it.
    cache.write(&[rest("102", "3000", 120, 121)]).await.unwrap();
    let held = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(
        (held.usd.to_string(), held.market_cap_usd),
        ("102".into(), cap("3000"))
    );
}

/// Trades land between an aggregator's answer and its write (the fetch, the parse and the script
/// take time; the stream writes several times a second). The answer's market cap still comes in:
/// it is compared with the market cap held, not with the last trade's arrival. Before the fix a
/// stream that wrote first kept BTC's market cap empty until a REST answer happened to land
/// between two trades (`coinbeat up` showed `market_cap_usd: null` for minutes on a loaded
/// machine).
#[tokio::test]
async fn an_answer_written_after_a_trade_it_preceded_still_brings_its_market_cap() {
    let (_redis, cache) = private_cache().await;
    let t0 = Utc::now() - Duration::seconds(300);
    let at = |ms: i64| t0 + Duration::milliseconds(ms);
    let btc = coin("BTC");
    let rest = |usd: &str, market_cap: &str, upstream: i64, fetched: i64| {
        answer(usd, market_cap, at(upstream), at(fetched))
    };
    let tick = |usd: &str, event: i64| trade(usd, at(event));

    // Only trades so far; the aggregator's answer (fetched at 1,000 ms, of a moment a minute
    // earlier) is written after the trade that arrived at 1,040 ms.
    cache.write_ticks(&[tick("101", 1_000)]).await.unwrap();
    cache.write_ticks(&[tick("102", 1_040)]).await.unwrap();
    assert_eq!(
        cache
            .write(&[rest("100", "1000.5", -60_000, 1_000)])
            .await
            .unwrap()
            .written,
        0
    );
    let held = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(
        (held.usd.to_string(), held.market_cap_usd),
        ("102".into(), cap("1000.5"))
    );

    // Again with a market cap held: the next answer, fetched at 2,000 ms, is written after the
    // trade of 2,030 ms. It still replaces the cap fetched at 1,000 ms.
    cache.write_ticks(&[tick("103", 2_030)]).await.unwrap();
    cache
        .write(&[rest("100", "2000.75", -50_000, 2_000)])
        .await
        .unwrap();
    let held = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(
        (held.usd.to_string(), held.market_cap_usd),
        ("103".into(), cap("2000.75"))
    );
    // An answer fetched before the cap held (a slow fetch overtaken by a later one) changes
    // nothing, however late it is written.
    cache
        .write(&[rest("100", "5.5", -55_000, 1_500)])
        .await
        .unwrap();
    assert_eq!(
        cache.get(&btc).await.unwrap().unwrap().market_cap_usd,
        cap("2000.75")
    );
}

/// Ticks before a stream's first 24 h ticker keep the cached 24 h figures, and a fast stream
/// adds history points only as often as it is told, so days of history are not pushed out.
#[tokio::test]
async fn ticks_keep_the_cached_24h_figures_and_add_history_points_only_as_often_as_told() {
    let (_redis, cache) = private_cache().await;
    let cache = cache.with_tick_history_every(std::time::Duration::from_secs(60));
    let t0 = Utc::now() - Duration::seconds(600);
    let at = |ms: i64| t0 + Duration::milliseconds(ms);
    let btc = coin("BTC");
    let dec = |text: &str| Some(Decimal::from_str(text).unwrap());
    cache
        .write(&[PriceRecord {
            change_24h_pct: dec("-1.25"),
            volume_24h_usd: dec("123456.5"),
            ..record("BTC", "100", at(0))
        }])
        .await
        .unwrap();
    let tick = |usd: &str, ms: i64| PriceRecord {
        upstream_updated_at: Some(at(ms)),
        market_cap_usd: None,
        source: "binance-ws".into(),
        ..record("BTC", usd, at(ms))
    };
    // Ten ticks over 9 s (none 60 s after the REST point), then one past the minute.
    let ticks: Vec<PriceRecord> = (1..=10)
        .map(|i| tick(&format!("100.{i}"), i * 1_000))
        .collect();
    for t in &ticks {
        assert_eq!(
            cache
                .write_ticks(std::slice::from_ref(t))
                .await
                .unwrap()
                .written,
            1
        );
    }
    let held = cache.get(&btc).await.unwrap().unwrap();
    assert_eq!(held.usd.to_string(), "100.10");
    assert_eq!(
        held.change_24h_pct,
        dec("-1.25"),
        "kept from the REST record"
    );
    assert_eq!(held.volume_24h_usd, dec("123456.5"));
    assert_eq!(
        cache.history(&btc, 100).await.unwrap().len(),
        1,
        "no tick within a minute of the last point adds one"
    );
    cache.write_ticks(&[tick("101", 61_000)]).await.unwrap();
    assert_eq!(cache.history(&btc, 100).await.unwrap().len(), 2);
    // A ticker's own 24 h figures replace the kept ones.
    cache
        .write_ticks(&[PriceRecord {
            change_24h_pct: dec("2.5"),
            ..tick("102", 62_000)
        }])
        .await
        .unwrap();
    assert_eq!(
        cache.get(&btc).await.unwrap().unwrap().change_24h_pct,
        dec("2.5")
    );
}

/// Writes `record` where an older release kept it: under its symbol, with a history point and
/// a TTL, as its write script did.
async fn write_by_symbol(
    conn: &mut redis::aio::ConnectionManager,
    keys: &Keys,
    record: &PriceRecord,
) {
    let key = keys.price_by_symbol(&Symbol::parse(&record.symbol).unwrap());
    let at = record.fetched_at.timestamp_millis();
    let point = format!(r#"{{"t":{at},"usd":"{}"}}"#, record.usd);
    let _: () = redis::pipe()
        .hset_multiple(
            &key,
            &[
                ("fetched_at_ms", at.to_string()),
                ("as_of_ms", record.as_of().timestamp_millis().to_string()),
                ("record", serde_json::to_string(record).unwrap()),
            ],
        )
        .pexpire(&key, 600_000)
        .zadd(Keys::price_history_of(&key), point, at)
        .pexpire(Keys::price_history_of(&key), 600_000)
        .query_async(conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn records_an_older_release_kept_by_symbol_move_to_their_coin_ids_newest_winning() {
    let redis = TestRedis::start();
    let settings = redis.settings();
    let (mut conn, keys) = connect(&settings).await;
    let cache = PriceCache::new(conn.clone(), keys.clone(), &settings.prices);
    let t0 = Utc::now() - Duration::seconds(60);

    // ETH only by symbol; BTC by symbol (older) and already by id (newer, written by this
    // release); SOL by symbol (newer) and by id (older).
    write_by_symbol(&mut conn, &keys, &record("ETH", "3500.5", t0)).await;
    write_by_symbol(&mut conn, &keys, &record("BTC", "60000", t0)).await;
    cache
        .write(&[record("BTC", "61000", t0 + Duration::seconds(5))])
        .await
        .unwrap();
    write_by_symbol(
        &mut conn,
        &keys,
        &record("SOL", "201", t0 + Duration::seconds(9)),
    )
    .await;
    cache.write(&[record("SOL", "200", t0)]).await.unwrap();

    let moved = migrate_symbol_keys(&conn, &keys, 100).await.unwrap();
    assert_eq!(moved, 3);
    let usd = |r: Option<PriceRecord>| r.unwrap().usd.to_string();
    assert_eq!(usd(cache.get(&coin("ETH")).await.unwrap()), "3500.5");
    assert_eq!(
        usd(cache.get(&coin("BTC")).await.unwrap()),
        "61000",
        "the newer stays"
    );
    assert_eq!(
        usd(cache.get(&coin("SOL")).await.unwrap()),
        "201",
        "the newer stays"
    );
    // Histories merged: both BTC points, both SOL points.
    assert_eq!(cache.history(&coin("BTC"), 10).await.unwrap().len(), 2);
    assert_eq!(cache.history(&coin("SOL"), 10).await.unwrap().len(), 2);
    for symbol in ["ETH", "BTC", "SOL"] {
        let old = keys.price_by_symbol(&Symbol::parse(symbol).unwrap());
        let left: bool = redis::cmd("EXISTS")
            .arg(&old)
            .arg(Keys::price_history_of(&old))
            .query_async::<u64>(&mut conn)
            .await
            .unwrap()
            > 0;
        assert!(!left, "{old} is still there");
    }
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys.price(&coin("ETH")))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0, "the expiry moves with the record");
    assert_eq!(
        migrate_symbol_keys(&conn, &keys, 100).await.unwrap(),
        0,
        "a second run"
    );
}

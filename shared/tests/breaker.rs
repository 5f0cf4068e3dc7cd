//! The circuit breaker against a real, private redis-server, with breakers built on separate
//! connections as separate worker replicas would: they open together, let exactly one probe
//! through per interval between them, and close together on a success.

use std::time::Duration;

use coinbeat_shared::{
    breaker::{Admission, Breaker, BreakerState, Transition, read_breaker},
    keys::Keys,
    ratelimit::Provider,
    redis_conn,
    settings::UpstreamSettings,
    testing::TestRedis,
};

const PROBE: Duration = Duration::from_millis(400);

async fn replicas(redis: &TestRedis, n: usize) -> (Vec<Breaker>, Keys) {
    let settings = redis.settings();
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let upstream = UpstreamSettings {
        breaker_failures: 3,
        breaker_probe_ms: PROBE.as_millis() as u64,
        ..UpstreamSettings::default()
    };
    let mut breakers = Vec::new();
    for _ in 0..n {
        let conn = redis_conn::connect(&settings.redis).await.unwrap();
        breakers.push(Breaker::new(conn, &keys, Provider::CoinGecko, &upstream));
    }
    (breakers, keys)
}

#[tokio::test]
async fn consecutive_failures_open_it_for_every_replica_and_one_probe_per_interval_closes_it() {
    let redis = TestRedis::start();
    let (b, keys) = replicas(&redis, 3).await;
    let conn = redis_conn::connect(&redis.settings().redis).await.unwrap();

    // Two failures, then a success: the count starts again.
    assert_eq!(b[0].record(false).await.unwrap(), None);
    assert_eq!(b[1].record(false).await.unwrap(), None);
    assert_eq!(b[2].record(true).await.unwrap(), None);
    assert_eq!(
        read_breaker(&conn, &keys, Provider::CoinGecko)
            .await
            .unwrap()
            .failures,
        0
    );
    assert_eq!(b[0].admit().await.unwrap(), Admission::Go);

    // Three in a row, from different replicas: open, for all of them.
    assert_eq!(b[0].record(false).await.unwrap(), None);
    assert_eq!(b[1].record(false).await.unwrap(), None);
    assert_eq!(b[2].record(false).await.unwrap(), Some(Transition::Opened));
    for breaker in &b {
        match breaker.admit().await.unwrap() {
            Admission::Open { next_probe_in } => assert!(next_probe_in <= PROBE),
            other => panic!("expected open, got {other:?}"),
        }
    }
    let open = read_breaker(&conn, &keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!(
        (open.state, open.opens, open.closes),
        (BreakerState::Open, 1, 0)
    );
    assert!(open.opened_at.is_some() && open.next_probe_at.is_some());
    // Other providers are not affected.
    let binance = read_breaker(&conn, &keys, Provider::Binance).await.unwrap();
    assert_eq!(binance.state, BreakerState::Closed);

    // After the interval, replicas ask at once: exactly one gets the probe.
    tokio::time::sleep(PROBE + Duration::from_millis(50)).await;
    let asked = futures::future::join_all(b.iter().map(|breaker| breaker.admit())).await;
    let probes = asked
        .iter()
        .filter(|a| matches!(a, Ok(Admission::Probe)))
        .count();
    assert_eq!(probes, 1, "{asked:?}");

    // The probe fails: still open, and the next probe waits a whole interval again.
    assert_eq!(b[0].record(false).await.unwrap(), None);
    assert!(matches!(
        b[1].admit().await.unwrap(),
        Admission::Open { .. }
    ));
    tokio::time::sleep(PROBE + Duration::from_millis(50)).await;
    assert_eq!(b[1].admit().await.unwrap(), Admission::Probe);

    // It succeeds: closed for everyone.
    assert_eq!(b[1].record(true).await.unwrap(), Some(Transition::Closed));
    for breaker in &b {
        assert_eq!(breaker.admit().await.unwrap(), Admission::Go);
    }
    let closed = read_breaker(&conn, &keys, Provider::CoinGecko)
        .await
        .unwrap();
    assert_eq!(
        (closed.state, closed.failures, closed.opens, closed.closes),
        (BreakerState::Closed, 0, 1, 1)
    );
    assert_eq!(closed.next_probe_at, None);
}

#[test]
fn the_retry_backoff_doubles_up_to_its_ceiling() {
    let s = UpstreamSettings {
        retry_base_ms: 200,
        retry_max_ms: 1_000,
        ..UpstreamSettings::default()
    };
    let ceilings: Vec<u64> = (1..=5)
        .map(|n| s.backoff_ceiling(n).as_millis() as u64)
        .collect();
    assert_eq!(ceilings, [200, 400, 800, 1_000, 1_000]);
}

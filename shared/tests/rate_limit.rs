//! The distributed rate limiter against a real, private redis-server: limits parse with
//! precise errors, concurrent processes never exceed a window yet keep its throughput, the
//! longest window binds, weights count, push-backs block everyone, denials and metrics are
//! counted, and an API key never reaches Redis.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    Settings,
    keys::Keys,
    queue::JobError,
    ratelimit::{
        Acquired, LEASE_MARGIN, Limiter, LimiterId, LimiterMetrics, MAX_SLEEP, Provider,
        RateLimitError, RateSpec, RateSpecError, WindowUsage, read_snapshot, read_usage,
    },
    redis_conn,
    settings::{Secret, SettingsError},
    testing::TestRedis,
};
use figment::Jail;

/// A limiter on its own connection, as a separate worker process would have.
async fn limiter(redis: &TestRedis, prefix: &str, id: LimiterId, spec: &str) -> Limiter {
    let mut settings = redis.settings();
    settings.redis.key_prefix = prefix.to_owned();
    let conn = redis_conn::connect(&settings.redis).await.unwrap();
    Limiter::new(conn, &Keys::new(prefix), id, RateSpec::parse(spec).unwrap())
}

fn coingecko() -> LimiterId {
    LimiterId::new(Provider::CoinGecko)
}

/// The most grant times (sorted) that fit in one window `[t, t + span)` (or `[t, t + span]`
/// when `closed`).
fn busiest_window<T: Copy + PartialOrd>(times: &[T], span: impl Fn(T) -> T, closed: bool) -> usize {
    (0..times.len())
        .map(|i| {
            let end = span(times[i]);
            times[i..]
                .iter()
                .take_while(|t| if closed { **t <= end } else { **t < end })
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn limits_parse_from_the_documented_forms_and_print_canonically() {
    for (input, canonical) in [
        ("30/min", "30/min"),
        ("3/s, 100000/day", "3/s, 100000/day"),
        ("100000/day,3/sec", "3/s, 100000/day"),
        ("6000/minute", "6000/min"),
        ("10/5s", "10/5s"),
        ("10 / 5 seconds", "10/5s"),
        ("2/HOUR, 1/s", "1/s, 2/h"),
        ("7/2d", "7/2d"),
        ("1/24h", "1/day"),
        ("", "off"),
        ("  ", "off"),
        ("none", "off"),
        ("OFF", "off"),
        ("unlimited", "off"),
    ] {
        let spec = RateSpec::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(spec.to_string(), canonical, "{input:?}");
        assert_eq!(RateSpec::parse(canonical).unwrap(), spec, "round trip");
    }
    let spec = RateSpec::parse("3/s, 100000/day").unwrap();
    let windows: Vec<(u32, u64)> = spec
        .windows()
        .iter()
        .map(|w| (w.limit(), w.period().as_secs()))
        .collect();
    assert_eq!(windows, vec![(3, 1), (100_000, 86_400)]);
    assert!(RateSpec::parse("off").unwrap().is_unlimited());
}

#[test]
fn a_bad_limit_is_refused_with_a_message_that_says_what_is_wrong() {
    let cases: [(&str, RateSpecError, &str); 10] = [
        (
            "30 per minute",
            RateSpecError::MissingSlash {
                entry: "30 per minute".into(),
            },
            "`30 per minute` is not `<count>/<window>`",
        ),
        (
            "3/x",
            RateSpecError::UnknownUnit {
                entry: "3/x".into(),
                unit: "x".into(),
            },
            "`3/x`: unknown unit `x` (use s, sec, second, m, min, minute, h, hour, d, day, mo or month)",
        ),
        (
            "3/ms",
            RateSpecError::UnknownUnit {
                entry: "3/ms".into(),
                unit: "ms".into(),
            },
            "unknown unit `ms`",
        ),
        (
            "1.5/s",
            RateSpecError::BadCount {
                entry: "1.5/s".into(),
                count: "1.5".into(),
            },
            "`1.5/s`: the count `1.5` is not a whole number from 1 to 4294967295",
        ),
        (
            "-3/s",
            RateSpecError::BadCount {
                entry: "-3/s".into(),
                count: "-3".into(),
            },
            "the count `-3`",
        ),
        (
            "0/s",
            RateSpecError::ZeroCount {
                entry: "0/s".into(),
            },
            "`0/s`: a count of 0 would never allow a request (write `off` for no limit)",
        ),
        (
            "10/5",
            RateSpecError::MissingUnit {
                entry: "10/5".into(),
            },
            "`10/5`: the window has no unit",
        ),
        (
            "10/0s",
            RateSpecError::BadLength {
                entry: "10/0s".into(),
                length: "0".into(),
            },
            "`10/0s`: the window length `0`",
        ),
        (
            "3/s,,5/min",
            RateSpecError::EmptyEntry {
                spec: "3/s,,5/min".into(),
            },
            "`3/s,,5/min` has an empty entry",
        ),
        (
            "3/s, 5/sec",
            RateSpecError::DuplicateWindow {
                first: "3/s".into(),
                second: "5/sec".into(),
            },
            "`3/s` and `5/sec` limit the same window; keep one of them",
        ),
    ];
    for (input, expected, message) in cases {
        let error = RateSpec::parse(input).expect_err(input);
        assert_eq!(error, expected, "{input:?}");
        assert!(error.to_string().contains(message), "{input:?}: {error}");
    }
    assert!(matches!(
        RateSpec::parse("1/367d"),
        Err(RateSpecError::WindowTooLong { .. })
    ));
    assert!(matches!(
        RateSpec::parse("1/99999999999999999999999s"),
        Err(RateSpecError::WindowTooLong { .. })
    ));
    assert!(matches!(
        RateSpec::parse("99999999999/s"),
        Err(RateSpecError::BadCount { .. })
    ));
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed by figment.
fn rate_limits_come_from_documented_defaults_or_the_environment_and_a_bad_one_names_its_setting() {
    let defaults = Settings::default();
    defaults.validate().expect("the defaults are valid");
    let spec = |p| defaults.providers.rate_spec(p).unwrap().to_string();
    assert_eq!(spec(Provider::CoinGecko), "30/min, 10000/month");
    assert_eq!(spec(Provider::Binance), "6000/min");
    assert_eq!(spec(Provider::Etherscan), "3/s, 100000/day");
    assert_eq!(spec(Provider::CoinLore), "1/s");
    // Per key where the provider limits per key, per provider otherwise.
    let mut keyed = defaults.clone();
    keyed.providers.etherscan.api_key = Some(Secret::new("ES-KEY-1"));
    let id = keyed.providers.limiter_id(Provider::Etherscan);
    assert_eq!(
        id.to_string(),
        format!("etherscan:k{}", id.key_fingerprint().unwrap())
    );
    let id = defaults.providers.limiter_id(Provider::Etherscan);
    assert_eq!(id.to_string(), "etherscan");
    assert_eq!(
        keyed.providers.limiter_id(Provider::Binance).to_string(),
        "binance"
    );

    Jail::expect_with(|jail| {
        jail.set_env(
            "COINBEAT_PROVIDERS__ETHERSCAN__RATE_LIMIT",
            "5/s, 100000/day",
        );
        jail.set_env("COINBEAT_PROVIDERS__COINLORE__RATE_LIMIT", "off");
        let s = Settings::load(None).expect("loads");
        assert_eq!(s.providers.etherscan.rate_limit, "5/s, 100000/day");
        assert!(
            s.providers
                .rate_spec(Provider::CoinLore)
                .unwrap()
                .is_unlimited()
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("COINBEAT_PROVIDERS__ETHERSCAN__RATE_LIMIT", "3/x");
        let error = Settings::load(None).expect_err("must fail");
        assert!(
            matches!(&error, SettingsError::RateLimit { setting, .. } if setting == "providers.etherscan.rate_limit"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "invalid settings: providers.etherscan.rate_limit: `3/x`: unknown unit `x` \
             (use s, sec, second, m, min, minute, h, hour, d, day, mo or month)"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file(
            "c.toml",
            "[providers.binance]\nrate_limit = \"6000/min, 0/day\"\n",
        )?;
        let error = Settings::load(Some(Path::new("c.toml"))).expect_err("must fail");
        assert!(
            error
                .to_string()
                .contains("providers.binance.rate_limit: `0/day`"),
            "{error}"
        );
        Ok(())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_processes_sharing_10_per_second_never_put_11_in_any_second_and_get_over_90_percent() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let run_for = Duration::from_secs(3);
    let start = Instant::now();
    let deadline = start + run_for;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let limiter = limiter(&redis, &prefix, coingecko(), "10/s").await;
        tasks.push(tokio::spawn(async move {
            let mut grants: Vec<(Instant, DateTime<Utc>)> = Vec::new();
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match limiter.acquire(1, left).await {
                    // The moment a request would leave for the upstream.
                    Ok(granted) => grants.push((Instant::now(), granted.granted_at)),
                    Err(RateLimitError::Throttled { .. }) => return grants,
                    Err(other) => panic!("{other}"),
                }
            }
        }));
    }
    let mut local = Vec::new();
    let mut on_redis = Vec::new();
    for task in tasks {
        for (at, granted_at) in task.await.unwrap() {
            local.push(at);
            on_redis.push(granted_at);
        }
    }
    local.sort();
    on_redis.sort();

    let busiest_local = busiest_window(&local, |t| t + Duration::from_secs(1), true);
    assert!(
        busiest_local <= 10,
        "{busiest_local} grants within one second (local clock)"
    );
    // On Redis's own clock the bound holds over the period plus the guard.
    let busiest_redis = busiest_window(
        &on_redis,
        |t| t + chrono::Duration::milliseconds(1_050),
        false,
    );
    assert!(busiest_redis <= 10, "{busiest_redis} grants within 1.05 s");
    let in_time = local.iter().filter(|t| **t < deadline).count();
    assert!(
        in_time as f64 >= 0.9 * 10.0 * run_for.as_secs_f64(),
        "only {in_time} grants in {run_for:?}"
    );
}

#[tokio::test]
async fn the_longer_window_binds_once_the_shorter_one_has_room_again() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let limiter = limiter(&redis, &prefix, coingecko(), "5/s, 8/10s").await;

    for _ in 0..5 {
        assert_eq!(
            limiter.acquire(1, Duration::ZERO).await.unwrap().waited,
            Duration::ZERO
        );
    }
    let sixth = limiter.acquire(1, Duration::ZERO).await.unwrap_err();
    let retry = sixth.retry_after().unwrap();
    assert!(
        retry > Duration::from_millis(900) && retry <= Duration::from_millis(1_060),
        "per-second window: retry after {retry:?}"
    );
    // The next second has room for 5, but the 10-second window only for 3 more.
    for _ in 0..3 {
        let granted = limiter.acquire(1, Duration::from_secs(2)).await.unwrap();
        assert!(granted.waited <= Duration::from_millis(1_200));
    }
    let asked = Instant::now();
    let ninth = limiter
        .acquire(1, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        asked.elapsed() < Duration::from_millis(200),
        "refused at once"
    );
    let retry = ninth.retry_after().unwrap();
    assert!(
        retry > Duration::from_secs(8) && retry <= Duration::from_millis(9_100),
        "10-second window: retry after {retry:?}"
    );
}

#[tokio::test]
async fn a_permit_with_a_weight_takes_that_many_and_an_impossible_weight_is_refused() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let binance = LimiterId::new(Provider::Binance);
    let limiter = limiter(&redis, &prefix, binance.clone(), "10/s").await;

    limiter.acquire(4, Duration::ZERO).await.unwrap();
    limiter.acquire(4, Duration::ZERO).await.unwrap();
    let refused = limiter.acquire(4, Duration::ZERO).await.unwrap_err();
    assert!(
        matches!(refused, RateLimitError::Throttled { .. }),
        "{refused}"
    );
    limiter.acquire(2, Duration::ZERO).await.unwrap();
    assert!(
        limiter.acquire(1, Duration::ZERO).await.is_err(),
        "10 of 10"
    );

    for cost in [0, 11] {
        let error = limiter.acquire(cost, Duration::ZERO).await.unwrap_err();
        assert!(
            matches!(error, RateLimitError::CostOutOfRange { max: 10, .. }),
            "{error}"
        );
        assert!(JobError::from(error).is_permanent());
    }
    let metrics = limiter.snapshot().await.unwrap().metrics;
    assert_eq!((metrics.acquired, metrics.permits), (3, 10));
    assert_eq!(metrics.denied, 2, "an impossible cost is not a denial");
}

#[tokio::test]
async fn a_high_limit_uses_bounded_buckets_that_never_grant_past_the_limit() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let limiter = limiter(&redis, &prefix, coingecko(), "1500/2s").await;

    let started = Instant::now();
    limiter.acquire(1_000, Duration::ZERO).await.unwrap();
    limiter.acquire(500, Duration::ZERO).await.unwrap();
    let refused = limiter.acquire(1, Duration::ZERO).await.unwrap_err();
    let retry = refused.retry_after().unwrap();
    // Counted until the end of the 20 ms bucket + 2 s + the 50 ms guard.
    assert!(
        retry > Duration::from_millis(2_000) && retry <= Duration::from_millis(2_080),
        "retry after {retry:?}"
    );
    let granted = limiter.acquire(1, Duration::from_secs(3)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(2_050),
        "{granted:?}"
    );

    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let k = Keys::new(prefix.as_str()).rate_limit(limiter.id());
    let buckets: Vec<i64> = redis::cmd("HKEYS")
        .arg(k.buckets(2_000))
        .query_async(&mut conn)
        .await
        .unwrap();
    // Buckets of 20 ms: the first grants' buckets are gone, every bucket left still counts.
    let granted_us = granted.granted_at.timestamp_micros();
    assert!((1..=2).contains(&buckets.len()), "{buckets:?}");
    for bucket in buckets {
        assert!(
            (bucket + 1) * 20_000 + 2_050_000 > granted_us,
            "bucket {bucket} outlived its window"
        );
    }
    let log: u64 = redis::cmd("EXISTS")
        .arg(k.log(2_000))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(log, 0, "no per-grant log for a high limit");
}

#[tokio::test]
async fn a_push_back_blocks_every_process_until_it_passes_then_grants_resume() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let a = limiter(&redis, &prefix, coingecko(), "10/s").await;
    let b = limiter(&redis, &prefix, coingecko(), "10/s").await;

    let asked = Instant::now();
    let until = a.push_back(Duration::from_millis(1_500)).await.unwrap();
    // A shorter push-back later does not shorten the block.
    assert_eq!(
        a.push_back(Duration::from_millis(200)).await.unwrap(),
        until
    );
    let snapshot = b.snapshot().await.unwrap();
    assert_eq!(snapshot.blocked_until, Some(until));
    let left = snapshot.blocked_for().unwrap();
    assert!(
        left > Duration::from_millis(1_300) && left <= Duration::from_millis(1_500),
        "{left:?}"
    );
    let refused = b.acquire(1, Duration::from_millis(500)).await.unwrap_err();
    assert!(refused.retry_after().unwrap() > Duration::from_millis(900));

    let granted = b.acquire(1, Duration::from_secs(3)).await.unwrap();
    assert!(
        asked.elapsed() >= Duration::from_millis(1_500),
        "granted after {:?}",
        asked.elapsed()
    );
    assert!(granted.granted_at >= until, "on Redis's clock too");
    assert!(granted.waited >= Duration::from_millis(1_000));
    let next = a.acquire(1, Duration::ZERO).await.unwrap();
    assert_eq!(next.waited, Duration::ZERO, "grants resume at once");

    let snapshot = a.snapshot().await.unwrap();
    assert_eq!(snapshot.blocked_until, None);
    assert_eq!(snapshot.blocked_for(), None);
    assert_eq!(snapshot.metrics.push_backs, 2);
}

#[tokio::test]
async fn metrics_count_exactly_what_a_scripted_sequence_did() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let limiter = limiter(&redis, &prefix, coingecko(), "2/s").await;
    let other = limiter_for_other_provider(&redis, &prefix).await;

    let first = limiter.acquire(1, Duration::ZERO).await.unwrap();
    limiter.acquire(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.waited, Duration::ZERO);
    // Max wait exceeded: the error variant a job turns into "throttled, retry later".
    let denied = limiter
        .acquire(1, Duration::from_millis(100))
        .await
        .unwrap_err();
    let RateLimitError::Throttled {
        limiter: name,
        retry_after,
        waited,
    } = &denied
    else {
        panic!("{denied}")
    };
    assert_eq!(name, "coingecko");
    assert_eq!(*waited, Duration::ZERO, "refused without sleeping in vain");
    let retry_after = *retry_after;
    assert!(retry_after > Duration::from_millis(100));
    let job = JobError::from(denied);
    assert_eq!(job.retry_after(), Some(retry_after));
    assert!(!job.is_permanent());

    let waited = limiter.acquire(1, Duration::from_secs(2)).await.unwrap();
    assert!(
        waited.waited >= Duration::from_millis(900) && waited.waited < Duration::from_millis(1_300),
        "{waited:?}"
    );
    limiter.push_back(Duration::from_millis(10)).await.unwrap();
    other.acquire(1, Duration::ZERO).await.unwrap();

    let snapshot = limiter.snapshot().await.unwrap();
    assert_eq!(snapshot.limiter, "coingecko");
    assert_eq!(
        snapshot.metrics,
        LimiterMetrics {
            acquired: 3,
            permits: 3,
            waited: 1,
            wait_ms: waited.waited.as_nanos().div_ceil(1_000_000) as u64,
            denied: 1,
            push_backs: 1,
        }
    );
    // The same snapshot for a reader without a limiter (the API), and the other limiter apart.
    let conn = redis_conn::connect(&{
        let mut s = redis.settings();
        s.redis.key_prefix = prefix.clone();
        s.redis
    })
    .await
    .unwrap();
    let keys = Keys::new(prefix.as_str());
    let read = read_snapshot(&conn, &keys, &coingecko()).await.unwrap();
    assert_eq!(read.metrics, snapshot.metrics);
    let binance = read_snapshot(&conn, &keys, &LimiterId::new(Provider::Binance))
        .await
        .unwrap();
    assert_eq!(
        binance.metrics,
        LimiterMetrics {
            acquired: 1,
            permits: 1,
            ..LimiterMetrics::default()
        }
    );
}

#[tokio::test]
async fn usage_shows_each_windows_permits_in_use_against_its_limit_and_the_callers_waiting() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    // A log window (2/s) and a bucket window (5000/h), weighted grants.
    let spec = "2/s, 5000/h";
    let a = limiter(&redis, &prefix, coingecko(), spec).await;
    let untouched = a.usage().await.unwrap();
    let used = |u: &coinbeat_shared::ratelimit::LimiterUsage| -> Vec<u64> {
        u.windows.iter().map(|w| w.used).collect()
    };
    assert_eq!(used(&untouched), [0, 0]);
    assert_eq!(untouched.waiting, 0);
    assert_eq!(untouched.blocked_until, None);

    a.acquire(1, Duration::ZERO).await.unwrap();
    a.acquire(1, Duration::ZERO).await.unwrap();
    let full = a.usage().await.unwrap();
    assert_eq!(
        full.windows,
        [
            WindowUsage {
                limit: 2,
                period_secs: 1,
                used: 2
            },
            WindowUsage {
                limit: 5000,
                period_secs: 3600,
                used: 2
            },
        ]
    );
    // Two callers in other processes wait for the full second window to free.
    let waiters: Vec<_> =
        futures::future::join_all((0..2).map(|_| limiter(&redis, &prefix, coingecko(), spec)))
            .await
            .into_iter()
            .map(|l| tokio::spawn(async move { l.acquire(1, Duration::from_secs(5)).await }))
            .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Read as the API does: no limiter, only the connection, the keys, the id and the limit.
    let conn = redis_conn::connect(&{
        let mut s = redis.settings();
        s.redis.key_prefix = prefix.clone();
        s.redis
    })
    .await
    .unwrap();
    let keys = Keys::new(prefix.as_str());
    let spec = RateSpec::parse(spec).unwrap();
    let seen = read_usage(&conn, &keys, &coingecko(), &spec).await.unwrap();
    assert_eq!(seen.waiting, 2, "{seen:?}");
    assert_eq!(used(&seen), [2, 2]);
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    let after = read_usage(&conn, &keys, &coingecko(), &spec).await.unwrap();
    assert_eq!(after.waiting, 0);
    assert_eq!(after.windows[1].used, 4, "the hour holds every grant");
    assert!(after.windows[0].used <= 2, "{after:?}");
    // The second window empties a period (and the guard) after its last grant; the hour does not.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let later = read_usage(&conn, &keys, &coingecko(), &spec).await.unwrap();
    assert_eq!(used(&later), [0, 4]);
    // A push-back shows as a block on Redis's clock; an `off` limit has no windows.
    a.push_back(Duration::from_secs(30)).await.unwrap();
    let blocked = read_usage(&conn, &keys, &coingecko(), &spec).await.unwrap();
    let left = blocked.blocked_for().unwrap();
    assert!(
        left > Duration::from_secs(29) && left <= Duration::from_secs(30),
        "{left:?}"
    );
    let off = read_usage(&conn, &keys, &coingecko(), &RateSpec::parse("off").unwrap())
        .await
        .unwrap();
    assert!(off.windows.is_empty());
}

async fn limiter_for_other_provider(redis: &TestRedis, prefix: &str) -> Limiter {
    limiter(redis, prefix, LimiterId::new(Provider::Binance), "2/s").await
}

#[tokio::test]
async fn an_api_key_never_appears_in_redis_only_its_fingerprint_does() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let key = "QWERTY7SECRETAPIKEY42";
    let keyed = LimiterId::with_key(Provider::Etherscan, &Secret::new(key));
    let other_key = LimiterId::with_key(Provider::Etherscan, &Secret::new("ANOTHERKEY9"));
    let a = limiter(&redis, &prefix, keyed.clone(), "3/s, 100000/day").await;
    let b = limiter(&redis, &prefix, other_key, "3/s, 100000/day").await;

    for _ in 0..3 {
        a.acquire(1, Duration::ZERO).await.unwrap();
    }
    a.push_back(Duration::from_secs(5)).await.unwrap();
    // Each key has its own limiter: the other key is neither full nor blocked.
    b.acquire(1, Duration::ZERO).await.unwrap();

    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut cursor = 0u64;
    let mut all = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        all.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let fingerprint = keyed.key_fingerprint().unwrap();
    assert!(all.iter().any(|k| k.contains(fingerprint)), "{all:?}");
    for k in &all {
        assert!(
            k.starts_with(&format!("{prefix}:ratelimit:etherscan:k")),
            "{k}"
        );
        assert!(!k.to_lowercase().contains(&key.to_lowercase()), "{k}");
        assert!(!k.contains("ANOTHERKEY9"), "{k}");
    }
    assert!(!format!("{keyed} {keyed:?}").contains(key));
}

/// Spearman's rank correlation of two equally long lists of distinct ranks.
fn spearman(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as f64;
    let d2: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiters_on_a_tight_shared_limit_are_granted_in_the_order_they_arrived() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    // 4 connections (as 4 worker processes would hold), 12 waiters on each, arriving 10 ms
    // apart in turn across the connections: 48 waiters for a limit of 8 a second.
    let connections = 4;
    let per_connection = 12;
    let n = connections * per_connection;
    let mut limiters = Vec::new();
    for _ in 0..connections {
        limiters.push(limiter(&redis, &prefix, coingecko(), "8/s").await);
    }
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for arrival in 0..n {
        let limiter = limiters[arrival % connections].clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + Duration::from_millis(10 * arrival as u64)).await;
            let granted = limiter.acquire(1, Duration::from_secs(60)).await.unwrap();
            (arrival, granted)
        }));
    }
    let mut grants = Vec::new();
    for task in tasks {
        grants.push(task.await.unwrap());
    }
    // The first 8 arrivals take the free permits at once; the order of the rest is the test.
    let waited: Vec<(usize, Acquired)> = grants
        .into_iter()
        .filter(|(_, g)| g.waited > Duration::ZERO)
        .collect();
    assert!(waited.len() >= n - 8 - 2, "{} of {n} waited", waited.len());
    let mut by_grant: Vec<(usize, DateTime<Utc>)> =
        waited.iter().map(|(a, g)| (*a, g.granted_at)).collect();
    by_grant.sort_by_key(|(arrival, at)| (*at, *arrival));
    let mut by_arrival: Vec<usize> = by_grant.iter().map(|(a, _)| *a).collect();
    by_arrival.sort();
    let arrival_rank: Vec<usize> = by_grant
        .iter()
        .map(|(a, _)| by_arrival.binary_search(a).unwrap())
        .collect();
    let grant_rank: Vec<usize> = (0..by_grant.len()).collect();
    let rho = spearman(&arrival_rank, &grant_rank);
    // For each waiter, how many that arrived after it were granted before it.
    let overtaken: Vec<usize> = (0..by_grant.len())
        .map(|i| {
            arrival_rank[..i]
                .iter()
                .filter(|r| **r > arrival_rank[i])
                .count()
        })
        .collect();
    let worst = overtaken.iter().copied().max().unwrap_or(0);
    eprintln!(
        "grant order of {} waiters by arrival: {arrival_rank:?}; Spearman {rho:.3}; \
         overtaken by at most {worst} later arrivals",
        by_grant.len()
    );
    assert!(
        rho >= 0.95,
        "grant order follows arrival: Spearman {rho:.3}"
    );
    assert!(
        worst <= 3,
        "a waiter was overtaken by {worst} later arrivals: {overtaken:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_that_dies_in_the_line_holds_it_up_no_longer_than_a_grace_and_leaves_no_trace() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let first = limiter(&redis, &prefix, coingecko(), "1/s").await;
    let dying = limiter(&redis, &prefix, coingecko(), "1/s").await;
    let next = limiter(&redis, &prefix, coingecko(), "1/s").await;

    first.acquire(1, Duration::ZERO).await.unwrap();
    // A waiter takes its place in the line, then its task is gone without a word (a crashed
    // process, a cancelled job): nothing removes its ticket.
    let waiter = tokio::spawn(async move { dying.acquire(1, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    waiter.abort();
    let _ = waiter.await;

    // Behind the dead ticket, the next waiter is served once the dead one is late for its
    // turn: a ticket that held its place for good would keep it waiting past any wait it may
    // take, and it would be denied.
    let granted = next.acquire(1, Duration::from_secs(6)).await.unwrap();
    eprintln!("served behind a dead waiter after {:?}", granted.waited);
    assert!(granted.waited > Duration::ZERO);

    // Nothing renews the dead ticket's lease: once it ends, the line is gone from Redis.
    tokio::time::sleep(LEASE_MARGIN + MAX_SLEEP).await;
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let base = format!("{prefix}:ratelimit:coingecko");
    let left: u64 = redis::cmd("EXISTS")
        .arg(format!("{base}:line"))
        .arg(format!("{base}:line:leases"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "the dead waiter's ticket is gone with its lease");
}

#[tokio::test]
async fn grants_that_left_the_window_during_an_attempt_that_waits_are_never_counted_again() {
    let redis = TestRedis::start();
    let prefix = coinbeat_shared::testing::unique_prefix();
    let limiter = limiter(&redis, &prefix, coingecko(), "3/4s").await;
    let start = Instant::now();
    let at = |ms: u64| tokio::time::sleep_until((start + Duration::from_millis(ms)).into());

    limiter.acquire(1, Duration::ZERO).await.unwrap();
    at(2_000).await;
    limiter.acquire(1, Duration::ZERO).await.unwrap();
    limiter
        .push_back(Duration::from_millis(2_600))
        .await
        .unwrap();
    // The first grant leaves the window (4.05 s) while the push-back blocks: this attempt
    // drops it from the log and is refused, without a grant.
    at(4_250).await;
    assert!(limiter.acquire(1, Duration::ZERO).await.is_err());
    // Once the block ends, one grant is in the window: room for 2 more.
    at(4_750).await;
    for n in 0..2 {
        limiter
            .acquire(1, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("grant {n} of the 2 the window has room for: {e}"));
    }
    assert!(limiter.acquire(1, Duration::ZERO).await.is_err(), "3 of 3");
}

//! `coinbeat up --simulate` as a new user runs it: the real binary, which starts a private
//! redis-server, the simulator, the scheduler, the price worker and the API. Covers the
//! scheduled path, the on-demand path, newest-wins against a late older write, honest staleness
//! while the upstream is down, and a Ctrl-C that leaves no process behind.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
    str::FromStr,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
    keys::Keys,
    settings::RedisSettings,
    settings::{PricesSettings, Secret},
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use common::{
    alive, descendants, free_port, get, get_with, local_admin_key, private_redis_url, up_simulate,
    wait_for,
};

const FRESH_SECS: u64 = 4;

fn by_symbol(prices: &Value) -> BTreeMap<String, Value> {
    prices["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["symbol"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

/// The records as stored, without what a read works out from the moment of reading (the ages
/// and `stale`), so two reads compare equal unless a write landed between them.
fn stored(prices: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    prices
        .iter()
        .map(|(symbol, record)| {
            let mut record = record.clone();
            if let Some(fields) = record.as_object_mut() {
                for read_time in ["age_ms", "age_seconds", "stale"] {
                    fields.remove(read_time);
                }
            }
            (symbol.clone(), record)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_simulate_serves_scheduled_and_on_demand_prices_honestly_and_stops_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let (api_port, sim_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let sim = format!("http://127.0.0.1:{sim_port}");
    let fresh_secs = FRESH_SECS.to_string();
    let up = up_simulate(
        data.path(),
        api_port,
        sim_port,
        &[
            ("COINBEAT_PRICES__FRESH_SECS", &fresh_secs),
            // The beat refreshes every 3 s here, so the scheduled path shows within the test.
            ("COINBEAT_SCHEDULE__PRICES__CRON", "*/3 * * * * *"),
            // And the health report every second, so it follows the upstream going down and back.
            ("COINBEAT_SCHEDULE__HEALTH__CRON", "* * * * * *"),
            // A probe a second is all of CoinLore's one call a second: the plan check would
            // refuse the table; the limiters hold calls back instead.
            ("COINBEAT_PLAN__OVER_LIMITS", "warn"),
            // An upstream that comes back is probed every second (not every 10 s), so the
            // breakers its outage opened close within the test's waits.
            ("COINBEAT_UPSTREAM__BREAKER_PROBE_MS", "1000"),
            // That pace (a refresh every 3 s, a health probe every second, on-demand jobs) is
            // over CoinGecko's keyless 30/min; the simulator enforces no limit here.
            ("COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT", "20/s"),
            // The REST path alone: with the stream-worker streaming, its ticks (newer by the
            // exchange's time) would stand in front of every CoinGecko answer this test checks.
            // Streaming under `up` is `up_simulate_streams_live_prices_by_default`.
            ("COINBEAT_STREAMS__ENABLED", "false"),
        ],
    );
    let http = reqwest::Client::new();

    // 1. Within 30 s the beat's first job has filled the cache: all 12 default symbols, fresh,
    //    with exactly the decimals the simulator sent.
    let first = wait_for("12 fresh prices", Duration::from_secs(30), async || {
        let response = http.get(format!("{api}/v1/prices")).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        let prices = by_symbol(&body);
        (prices.len() == 12 && prices.values().all(|p| p["stale"] == false)).then_some(prices)
    })
    .await;
    let banner = format!("coinbeat is up. API: {api}");
    wait_for(
        "up to say where the API is",
        Duration::from_secs(5),
        async || up.log().contains(&banner).then_some(()),
    )
    .await;
    // ... and where the dashboard is, which the API serves.
    assert!(
        up.log().contains(&format!("Dashboard: {api}/ui")),
        "{}",
        up.log()
    );
    let page = http.get(format!("{api}/ui")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    let defaults = PricesSettings::default();
    assert_eq!(
        first.keys().cloned().collect::<BTreeSet<_>>(),
        defaults
            .tracked
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    wait_for(
        "cache == what the simulator served",
        Duration::from_secs(10),
        async || {
            let (_, before) = get(&http, &format!("{api}/v1/prices")).await;
            let (_, served) = get(&http, &format!("{sim}/sim/served")).await;
            let (_, after) = get(&http, &format!("{api}/v1/prices")).await;
            let (before, after) = (by_symbol(&before), by_symbol(&after));
            if stored(&before) != stored(&after) {
                return None; // a refresh landed in between; look again
            }
            for (symbol, record) in &after {
                let id = record["coin_id"].as_str().unwrap();
                let sent = served["coingecko"][id]["usd"].as_str()?;
                assert_eq!(record["source"], "coingecko");
                assert!(record["usd"].is_string(), "prices are decimal strings");
                if Decimal::from_str(sent).unwrap()
                    != Decimal::from_str(record["usd"].as_str()?).unwrap()
                {
                    return None;
                }
                assert_eq!(
                    record["usd"].as_str().unwrap(),
                    sent,
                    "{symbol}: exact digits"
                );
            }
            Some(())
        },
    )
    .await;

    // 2. The scheduled path keeps going: fetched_at moves without anyone asking.
    let btc_at = |prices: &BTreeMap<String, Value>| -> DateTime<Utc> {
        prices["BTC"]["fetched_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let t_first = btc_at(&first);
    wait_for("a scheduled refresh", Duration::from_secs(10), async || {
        let (_, now) = get(&http, &format!("{api}/v1/prices")).await;
        (btc_at(&by_symbol(&now)) > t_first).then_some(())
    })
    .await;

    // The beat's run record: last and next run of the entry (an operational read: it needs a
    // key, here the local admin key `up` wrote to `admin.key`).
    let key = local_admin_key(data.path());
    let (status, schedules) = get(&http, &format!("{api}/v1/schedules")).await;
    assert_eq!(status, 401, "{schedules}");
    let (status, schedules) = get_with(&http, &format!("{api}/v1/schedules"), Some(&key)).await;
    assert_eq!(status, 200);
    let entry = schedules["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "prices")
        .unwrap_or_else(|| panic!("a prices entry in {schedules}"));
    assert_eq!(entry["cron"], "*/3 * * * * *");
    let last: DateTime<Utc> = entry["last_tick"].as_str().unwrap().parse().unwrap();
    let next: DateTime<Utc> = entry["next_tick"].as_str().unwrap().parse().unwrap();
    assert!(next > last, "{entry}");
    assert!(entry["last_task_id"].is_string(), "{entry}");

    // 3. On demand: without a key 401; with the local admin key `up` wrote to `admin.key`
    //    (its output is a file here, not a terminal, so it names the file and keeps the key
    //    out), 202, done within 2 s, fetched_at moves.
    assert!(!up.log().contains(&key), "up printed its key to a file");
    let (_, before) = get(&http, &format!("{api}/v1/prices/ETH")).await;
    let eth_before: DateTime<Utc> = before["fetched_at"].as_str().unwrap().parse().unwrap();
    let refused = http
        .post(format!("{api}/v1/tasks"))
        .json(&json!({"kind": "prices", "args": {"symbols": ["ETH"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let response = http
        .post(format!("{api}/v1/tasks"))
        .bearer_auth(&key)
        // ETH is fresh (the beat refreshes it every 3 s): `force` asks for a fetch anyway.
        .json(&json!({"kind": "prices", "args": {"symbols": ["ETH"]}, "force": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let accepted: Value = response.json().await.unwrap();
    let status_url = format!("{api}{}", accepted["status_url"].as_str().unwrap());
    let posted = Instant::now();
    let task = wait_for("the task to be done", Duration::from_secs(5), async || {
        let (_, task) = get_with(&http, &status_url, Some(&key)).await;
        (task["status"] == "done").then_some(task)
    })
    .await;
    let took = posted.elapsed();
    assert!(took < Duration::from_secs(2), "task took {took:?}: {task}");
    let (_, after) = get(&http, &format!("{api}/v1/prices/ETH")).await;
    let eth_after: DateTime<Utc> = after["fetched_at"].as_str().unwrap().parse().unwrap();
    assert!(eth_after > eth_before, "{eth_before} -> {eth_after}");

    // 4. A late, older result (a re-delivered job finishing after a newer one) is refused.
    let redis = RedisSettings {
        url: Secret::new(private_redis_url(data.path())),
        key_prefix: "coinbeat".into(),
        ..RedisSettings::default()
    };
    let conn = coinbeat_shared::redis_conn::connect(&redis).await.unwrap();
    let cache = PriceCache::new(conn, Keys::new("coinbeat"), &defaults);
    let eth = CoinId::parse("ethereum").unwrap();
    let newest = cache.get(&eth).await.unwrap().unwrap();
    let late = PriceRecord {
        usd: Decimal::from_str("1.23").unwrap(),
        fetched_at: newest.fetched_at - chrono::Duration::seconds(30),
        ..newest.clone()
    };
    assert_eq!(cache.write(&[late]).await.unwrap().skipped, 1);
    let (_, served) = get(&http, &format!("{api}/v1/prices/ETH")).await;
    assert_ne!(served["usd"], "1.23");

    // 4b. CoinGecko down alone: prices keep refreshing from Binance, and say so; USDT (which
    //     has no USDT pair) is never priced by assumption.
    let control = async |body: Value| {
        let response = http
            .post(format!("{sim}/sim/control"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{body}");
    };
    control(json!({"provider": "coingecko", "down": true})).await;
    let switched_at = Utc::now();
    let from_binance = wait_for("prices from binance", Duration::from_secs(15), async || {
        let (_, body) = get(&http, &format!("{api}/v1/prices")).await;
        let prices = by_symbol(&body);
        let btc = &prices["BTC"];
        let at: DateTime<Utc> = btc["fetched_at"].as_str()?.parse().ok()?;
        (btc["source"] == "binance" && at > switched_at).then_some(prices)
    })
    .await;
    assert_eq!(from_binance["ETH"]["source"], "binance");
    assert_eq!(from_binance["USDT"]["source"], "coingecko");
    let (_, served) = get(&http, &format!("{sim}/sim/served")).await;
    let btc_sent = served["binance"]["BTCUSDT"]["usd"]
        .as_str()
        .unwrap_or_default();
    assert!(
        Decimal::from_str(btc_sent).is_ok(),
        "the sim served BTCUSDT: {served}"
    );
    control(json!({"provider": "coingecko", "down": false})).await;

    let coingecko_health = async |http: &reqwest::Client| -> Option<String> {
        let (status, report) = get_with(http, &format!("{api}/v1/health"), Some(&key)).await;
        if status != 200 {
            return None;
        }
        let upstream = report["upstreams"]
            .as_array()?
            .iter()
            .find(|u| u["name"] == "coingecko")?
            .clone();
        upstream["status"].as_str().map(str::to_owned)
    };
    wait_for(
        "health: coingecko up",
        Duration::from_secs(10),
        async || (coingecko_health(&http).await.as_deref() == Some("up")).then_some(()),
    )
    .await;

    // 5. Upstream down: the last prices stay served, marked stale once past the window.
    let response = http
        .post(format!("{sim}/sim/control"))
        .json(&json!({"down": true}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let (_, last_fresh) = get(&http, &format!("{api}/v1/prices")).await;
    let stale = wait_for(
        "stale prices",
        Duration::from_secs(FRESH_SECS + 10),
        async || {
            let (status, body) = get(&http, &format!("{api}/v1/prices")).await;
            assert_eq!(status, 200);
            let prices = by_symbol(&body);
            (prices.len() == 12 && prices.values().all(|p| p["stale"] == true)).then_some(prices)
        },
    )
    .await;
    for (symbol, record) in &stale {
        assert!(record["age_seconds"].as_u64().unwrap() > FRESH_SECS - 1);
        let before = &by_symbol(&last_fresh)[symbol];
        if before["fetched_at"] == record["fetched_at"] {
            assert_eq!(
                before["usd"], record["usd"],
                "{symbol}: the last known value"
            );
        }
    }

    wait_for(
        "health: coingecko down",
        Duration::from_secs(10),
        async || (coingecko_health(&http).await.as_deref() == Some("down")).then_some(()),
    )
    .await;
    let response = http
        .post(format!("{sim}/sim/control"))
        .json(&json!({"down": false}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    wait_for(
        "health: coingecko up again",
        Duration::from_secs(10),
        async || (coingecko_health(&http).await.as_deref() == Some("up")).then_some(()),
    )
    .await;

    // 6. Ctrl-C: everything `up` started exits, nothing is left behind.
    let pid = up.child.id();
    let started = descendants(pid);
    assert!(
        started.len() >= 4,
        "expected redis-server, scheduler, price-worker and api under coinbeat up, got {started:?}"
    );
    let mut up = up;
    up.interrupt().await;
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(up.log().contains("stopped."), "{}", up.log());
}

/// The README's first look, with the stream-worker on as `up` runs it: `GET /v1/prices/BTC`
/// shows a streamed price under a second old with its exchange time, SSE clients see ticks
/// flowing, and `/v1/health` names the shard streaming from Binance.
#[tokio::test(flavor = "multi_thread")]
async fn up_simulate_streams_live_prices_by_default() {
    let data = tempfile::tempdir().unwrap();
    let (api_port, sim_port) = (free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let up = up_simulate(
        data.path(),
        api_port,
        sim_port,
        &[
            ("COINBEAT_SCHEDULE__HEALTH__CRON", "* * * * * *"),
            // A probe a second is all of CoinLore's one call a second (see above).
            ("COINBEAT_PLAN__OVER_LIMITS", "warn"),
        ],
    );
    let http = reqwest::Client::new();

    let btc = wait_for(
        "a streamed BTC price",
        Duration::from_secs(30),
        async || {
            let (status, btc) = get(&http, &format!("{api}/v1/prices/BTC")).await;
            (status == 200 && btc["source"] == "binance-ws").then_some(btc)
        },
    )
    .await;
    assert!(btc["age_ms"].as_u64().unwrap() < 1_000, "{btc}");
    let exchange_time: DateTime<Utc> = btc["exchange_time"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        btc["as_of"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        exchange_time
    );
    // The REST beat's market cap is kept under the ticks.
    wait_for(
        "BTC's market cap under the ticks",
        Duration::from_secs(30),
        async || {
            let (_, btc) = get(&http, &format!("{api}/v1/prices/BTC")).await;
            (btc["source"] == "binance-ws" && btc["market_cap_usd"].is_string()).then_some(())
        },
    )
    .await;

    // `curl -N /v1/stream/prices`: ticks flow, each newer than the last of its symbol.
    let mut response = http
        .get(format!("{api}/v1/stream/prices?symbols=BTC,ETH"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Up to 5 writes a second per symbol: 8 ticks of two symbols take about a second. A loaded
    // machine may deliver them slower, so the bound is a generous deadline, not a rate.
    let (mut text, started) = (String::new(), std::time::Instant::now());
    // Whole lines only: a chunk can end in the middle of an event.
    let streamed = |text: &str| -> Vec<Value> {
        let whole = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
        whole
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter(|d| d.contains("binance-ws"))
            .map(|d| serde_json::from_str(d.trim()).unwrap())
            .collect()
    };
    while streamed(&text).len() < 8 && started.elapsed() < Duration::from_secs(20) {
        match tokio::time::timeout(Duration::from_secs(5), response.chunk()).await {
            Ok(Ok(Some(bytes))) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            _ => break,
        }
    }
    let ticks = streamed(&text);
    assert!(
        ticks.len() >= 8,
        "8 ticks of BTC and ETH within 20 s: {text}"
    );
    let mut last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for tick in &ticks {
        let symbol = tick["symbol"].as_str().unwrap().to_string();
        assert!(
            symbol == "BTC" || symbol == "ETH",
            "only the asked symbols: {tick}"
        );
        let at: DateTime<Utc> = tick["exchange_time"].as_str().unwrap().parse().unwrap();
        if let Some(before) = last.insert(symbol, at) {
            assert!(
                at >= before,
                "each tick no older than its symbol's last: {text}"
            );
        }
    }

    let key = local_admin_key(data.path());
    let health = wait_for(
        "the shard in /v1/health",
        Duration::from_secs(30),
        async || {
            let (status, health) = get_with(&http, &format!("{api}/v1/health"), Some(&key)).await;
            (status == 200 && health["streams"][0]["phase"] == "streaming").then_some(health)
        },
    )
    .await;
    assert_eq!(health["streams"][0]["source"], "binance-ws", "{health}");
    assert_eq!(health["streams"][0]["symbols"], 12, "{health}");

    let mut up = up;
    up.interrupt().await;
}

/// What `up` leaves at `<data>/admin.key` when something is already there (made by `arrange`),
/// once the API answers: the key file's metadata (not followed), its content, and `up`'s output.
async fn admin_key_after_up(
    data: &Path,
    arrange: impl FnOnce(&Path),
) -> (std::fs::Metadata, String, String) {
    let key_file = data.join("admin.key");
    arrange(&key_file);
    let up = up_simulate(data, free_port(), free_port(), &[]);
    wait_for(
        "up to announce the API",
        Duration::from_secs(60),
        async || up.log().contains("coinbeat is up.").then_some(()),
    )
    .await;
    let metadata = std::fs::symlink_metadata(&key_file).unwrap();
    (metadata, local_admin_key(data), up.log())
}

#[tokio::test(flavor = "multi_thread")]
async fn up_replaces_an_open_or_linked_admin_key_with_a_new_private_file_and_prints_only_its_path_to_a_pipe()
 {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let mode = |m: &std::fs::Metadata| m.permissions().mode() & 0o777;

    // An old key file anyone may read: replaced by one only its owner may.
    let data = tempfile::tempdir().unwrap();
    let (key_file, old_key) = (data.path().join("admin.key"), "cbk_old");
    let (metadata, key, log) = admin_key_after_up(data.path(), |path| {
        std::fs::write(path, old_key).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    })
    .await;
    assert!(metadata.file_type().is_file());
    assert_eq!(mode(&metadata), 0o600, "{:o}", mode(&metadata));
    assert_ne!(key, old_key);
    // Its output is a file, not a terminal: the path, never the key.
    assert!(!log.contains(&key), "the key was printed:\n{log}");
    assert!(log.contains(&key_file.display().to_string()), "{log}");

    // A link to another file: the link is replaced, its target is left as it was.
    let data = tempfile::tempdir().unwrap();
    let target = data.path().join("precious");
    let (metadata, key, log) = admin_key_after_up(data.path(), |path| {
        std::fs::write(&target, "keep me").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        symlink(&target, path).unwrap();
    })
    .await;
    assert!(metadata.file_type().is_file(), "{:?}", metadata.file_type());
    assert_eq!(mode(&metadata), 0o600, "{:o}", mode(&metadata));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert_eq!(mode(&std::fs::metadata(&target).unwrap()), 0o644);
    assert!(!log.contains(&key), "the key was printed:\n{log}");
}

#[test]
fn up_without_redis_server_installed_says_how_to_get_it() {
    let data = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_coinbeat"))
        .arg("up")
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("REDIS_URL")
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("redis-server is not installed"), "{stderr}");
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(!Path::new(&data.path().join("redis/redis.sock")).exists());
}

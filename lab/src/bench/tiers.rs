//! `bench tiers`: `coinbeat up --simulate` as a user starts it (a child process of this
//! executable, the default settings, the simulator listing `--coins` coins and refusing what the
//! configured rate limits would not allow), watched through the API for `--minutes`.
//!
//! After a warm-up (first start until every tier's coins have a price), every tier is listed
//! through `GET /v1/prices?tier=<name>` again and again; a price's age is the time since its
//! `fetched_at` (when the request that priced it went out). Reported per tier: the largest age
//! seen against the tier's interval plus 10 %, and the most coins found without a price. From
//! the simulator (`GET /sim/stats`, `/sim/arrivals`) over the same window: each provider's
//! calls, the busiest second and minute, and every refusal.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use coinbeat_sim::{ArrivalLog, Provider, Stats, busiest_window};
use serde::Deserialize;
use tokio::process::{Child, Command};

use super::{
    lab::{free_addr, wait_listening},
    report::{Report, Row},
};
use crate::args::BenchArgs;

/// How long the system may take from first start until every tier has priced its coins.
const WARM_UP_LIMIT: Duration = Duration::from_secs(15 * 60);
/// A tier is warm when at most this share of its coins (per mille) has no price.
const WARM_MISSING_PER_MILLE: usize = 10;
/// The page size of each listing.
const PAGE: usize = 1_000;
/// How long `up` may take to stop everything after SIGINT.
const STOP_GRACE: Duration = Duration::from_secs(90);

/// A tier as `GET /v1/schedules` shows it.
#[derive(Debug, Clone)]
struct Tier {
    name: String,
    every_secs: u64,
}

/// One listing of a tier.
#[derive(Debug, Default, Clone, Copy)]
struct Sweep {
    priced: usize,
    missing: usize,
    /// The largest age in the listing, milliseconds.
    oldest_ms: i64,
}

/// What the measured window saw of one tier.
#[derive(Debug, Default)]
struct Seen {
    oldest_ms: i64,
    oldest_coin: String,
    most_missing: usize,
    /// Coins without a price in the last listing.
    last_missing: usize,
    coins: usize,
    sweeps: u32,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let (coins, minutes) = (args.coins.unwrap_or(14_000), args.minutes);
    if minutes == 0 {
        bail!("--minutes must be at least 1");
    }
    let dir = tempfile::Builder::new()
        .prefix("coinbeat-tiers-")
        .tempdir()
        .context("creating a temporary folder")?;
    let (api, sim) = (free_addr()?, free_addr()?);
    let mut up = UpProcess(start_up(dir.path(), api, sim, coins)?);
    let up = &mut up.0;
    let result = tokio::select! {
        r = measure(dir.path(), api, sim, coins, minutes) => r,
        status = up.wait() => Err(anyhow::anyhow!(
            "coinbeat up exited ({}) during the run; its output is in {}",
            status.map_or_else(|e| e.to_string(), |s| s.to_string()),
            dir.path().join("up.log").display()
        )),
    };
    let stopped = stop(up).await;
    match (result, stopped) {
        (Ok(mut report), Ok(took)) => {
            report.rows.push(Row::info(
                "coinbeat up stopped after SIGINT (s)",
                format!("{:.1}", took.as_secs_f64()),
            ));
            Ok(report)
        }
        (Ok(_), Err(e)) | (Err(e), _) => {
            // Keep the output for a look.
            let kept = dir.keep();
            eprintln!("coinbeat up's output is kept in {}", kept.display());
            Err(e)
        }
    }
}

/// `coinbeat up --simulate` on free ports, its private Redis and output in `dir`.
fn start_up(dir: &Path, api: SocketAddr, sim: SocketAddr, coins: u32) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the coinbeat executable")?;
    let log = std::fs::File::create(dir.join("up.log")).context("creating up.log")?;
    Command::new(exe)
        .arg("up")
        .arg("--simulate")
        .args(["--api-addr", &api.to_string()])
        .args(["--sim-addr", &sim.to_string()])
        .args(["--sim-coins", &coins.to_string()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        // Its own Redis, whatever this shell points at.
        .env_remove("REDIS_URL")
        .env_remove("COINBEAT_REDIS__URL")
        .env("RUST_LOG", "warn")
        // The bench is one client listing 14 pages a second.
        .env("COINBEAT_API__CLIENT_RATE_PER_SEC", "0")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Stopped by SIGINT, even when the bench is interrupted ([`UpProcess`]): a killed `up`
        // would leave its private Redis behind.
        .process_group(0)
        .spawn()
        .context("starting coinbeat up")
}

/// `coinbeat up`, asked to stop (SIGINT) if it still runs when dropped: on an error, or when
/// Ctrl-C drops the bench's future. It then stops its children and its Redis by itself.
struct UpProcess(Child);

impl Drop for UpProcess {
    fn drop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.0.try_wait(), self.0.id()) {
            let _ = std::process::Command::new("kill")
                .args(["-s", "INT", &pid.to_string()])
                .status();
        }
    }
}

/// SIGINT, as Ctrl-C sends, and how long `up` took to stop everything.
async fn stop(up: &mut Child) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let Some(pid) = up.id() else {
        bail!("coinbeat up had already exited");
    };
    std::process::Command::new("kill")
        .args(["-s", "INT", &pid.to_string()])
        .status()
        .context("running kill")?;
    match tokio::time::timeout(STOP_GRACE, up.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(started.elapsed()),
        Ok(Ok(status)) => bail!("coinbeat up stopped with {status}"),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            let _ = up.kill().await;
            bail!("coinbeat up did not stop within {STOP_GRACE:?} of SIGINT")
        }
    }
}

async fn measure(
    dir: &Path,
    api: SocketAddr,
    sim: SocketAddr,
    coins: u32,
    minutes: u64,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    wait_up(api).await?;
    let key_file = dir.join("data").join("admin.key");
    let key = std::fs::read_to_string(&key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let http = reqwest::Client::new();
    let client = ApiClient {
        http: http.clone(),
        base: format!("http://{api}"),
        key: key.trim().to_owned(),
    };
    let tiers = client.tiers().await?;
    if tiers.is_empty() {
        bail!("GET /v1/schedules shows no tier entry");
    }

    // Warm-up: until the catalogue lists coins and every tier's have a price.
    loop {
        let mut cold = Vec::new();
        let mut listed = 0;
        for tier in &tiers {
            let sweep = client.sweep(&tier.name).await?;
            let coins = sweep.priced + sweep.missing;
            listed += coins;
            // A tier no catalogued coin falls in (a small `--coins`) is as warm as it gets.
            if sweep.missing * 1_000 > coins * WARM_MISSING_PER_MILLE {
                cold.push(format!("{} {}/{coins}", tier.name, sweep.priced));
            }
        }
        if cold.is_empty() && listed > 0 {
            break;
        }
        if started.elapsed() > WARM_UP_LIMIT {
            bail!(
                "tiers still unpriced {} s after start (an empty list: no catalogue yet): {}",
                WARM_UP_LIMIT.as_secs(),
                cold.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let warm_up = started.elapsed();

    let sim_base = format!("http://{sim}");
    let before: Stats = get_json(&http, &format!("{sim_base}/sim/stats")).await?;
    let window_start_us = Utc::now().timestamp_micros() as u64;
    let window = Duration::from_secs(minutes * 60);
    let measuring = Instant::now();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    while measuring.elapsed() < window {
        let round = Instant::now();
        for tier in &tiers {
            let (sweep, oldest_coin) = client.sweep_oldest(&tier.name).await?;
            let entry = seen.entry(tier.name.clone()).or_default();
            entry.sweeps += 1;
            entry.coins = entry.coins.max(sweep.priced + sweep.missing);
            entry.most_missing = entry.most_missing.max(sweep.missing);
            entry.last_missing = sweep.missing;
            if sweep.oldest_ms > entry.oldest_ms {
                entry.oldest_ms = sweep.oldest_ms;
                entry.oldest_coin = oldest_coin;
            }
        }
        // About one round a second.
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(round.elapsed())).await;
    }
    let window_secs = measuring.elapsed().as_secs_f64();
    let after: Stats = get_json(&http, &format!("{sim_base}/sim/stats")).await?;

    let mut report = Report::new(
        "tiers",
        format!(
            "`coinbeat up --simulate --sim-coins {coins}` (a child process, the default settings, \
             its private Redis; the simulator refusing what the configured limits would not \
             allow), every tier listed through the API about once a second for {minutes} min \
             after a warm-up; age = now − fetched_at (when the pricing request went out); \
             {} build",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        ),
    );
    report.rows.push(Row::info(
        "warm-up: first start → every tier priced (s)",
        format!("{:.0}", warm_up.as_secs_f64()),
    ));
    for tier in &tiers {
        let Some(seen) = seen.get(&tier.name) else {
            continue;
        };
        let allowed_ms = tier.every_secs as i64 * 1_100;
        report.rows.push(Row::target(
            format!(
                "{}: largest age seen (s), {} coins, every {} s, {} listings",
                tier.name, seen.coins, tier.every_secs, seen.sweeps
            ),
            format!("{:.1} ({})", seen.oldest_ms as f64 / 1e3, seen.oldest_coin),
            format!("≤ {:.1}", allowed_ms as f64 / 1e3),
            seen.oldest_ms <= allowed_ms,
        ));
        report.rows.push(Row::info(
            format!(
                "{}: coins without a price, most in one listing (in the last)",
                tier.name
            ),
            format!("{} ({})", seen.most_missing, seen.last_missing),
        ));
    }
    let refused = after.rate_limited - before.rate_limited;
    report.rows.push(Row::target(
        "requests the simulator refused for a rate limit in the window (since start)",
        format!("{refused} ({})", after.rate_limited),
        "0",
        refused == 0 && after.rate_limited == 0,
    ));
    for provider in [Provider::CoinGecko, Provider::CoinLore, Provider::Binance] {
        let label = provider.label();
        let requests = |stats: &Stats| stats.by_provider.get(label).map_or(0, |p| p.requests);
        let calls = requests(&after) - requests(&before);
        let log: ArrivalLog =
            get_json(&http, &format!("{sim_base}/sim/arrivals?provider={label}")).await?;
        let arrivals: Vec<u64> = log
            .arrivals_us
            .into_iter()
            .filter(|&us| us >= window_start_us)
            .collect();
        let second = busiest_window(&arrivals, Duration::from_secs(1));
        let minute = busiest_window(&arrivals, Duration::from_secs(60));
        let per_sec = calls as f64 / window_secs;
        match provider {
            Provider::CoinGecko => {
                let month = per_sec * 30.0 * 86_400.0;
                report.rows.push(Row::target(
                    format!(
                        "CoinGecko calls in {minutes} min (busiest minute; a month at this rate)"
                    ),
                    format!("{calls} ({minute}; {month:.0})"),
                    "≤ 30 a minute, ≤ 10,000 a month",
                    minute <= 30 && month <= 10_000.0,
                ));
            }
            Provider::CoinLore => report.rows.push(Row::target(
                format!("CoinLore calls in {minutes} min (per second on average; busiest second)"),
                format!("{calls} ({per_sec:.2}; {second})"),
                "about 1 a second",
                second <= 1,
            )),
            _ => report.rows.push(Row::info(
                format!("{label} calls in {minutes} min (busiest minute)"),
                format!("{calls} ({minute})"),
            )),
        }
    }
    Ok(report)
}

/// Waits for `up` to start everything: the API answers.
async fn wait_up(api: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    while wait_listening(api).await.is_err() {
        if started.elapsed() > Duration::from_secs(180) {
            bail!("the API did not listen on {api} within 180 s of coinbeat up's start");
        }
    }
    Ok(())
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    read_json(http.get(url), url).await
}

/// Sends `request` and reads its JSON answer; any other status is an error naming `url`.
async fn read_json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    url: &str,
) -> anyhow::Result<T> {
    let answer = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = answer.status();
    if !status.is_success() {
        bail!(
            "GET {url}: {status}: {}",
            answer.text().await.unwrap_or_default()
        );
    }
    Ok(answer.json().await?)
}

/// The running system's API, as the admin key `up` wrote lets the bench read it.
struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
}

#[derive(Deserialize)]
struct Listing {
    prices: Vec<Price>,
    missing: Vec<serde_json::Value>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Price {
    coin_id: String,
    fetched_at: DateTime<Utc>,
}

impl ApiClient {
    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        read_json(self.http.get(&url).bearer_auth(&self.key), &url).await
    }

    /// The tier entries of the beat's table, as scheduled (stretched ones included), the
    /// most frequent first.
    async fn tiers(&self) -> anyhow::Result<Vec<Tier>> {
        let body: serde_json::Value = self.get("/v1/schedules").await?;
        let entries = body["schedules"].as_array().cloned().unwrap_or_default();
        let mut tiers: Vec<Tier> = entries
            .iter()
            .filter(|entry| entry["enabled"].as_bool() == Some(true))
            .filter_map(|entry| {
                let tier = entry.get("tier")?;
                Some(Tier {
                    name: tier["tier"].as_str()?.to_owned(),
                    every_secs: tier["every_secs"].as_u64()?,
                })
            })
            .collect();
        tiers.sort_by_key(|tier| tier.every_secs);
        Ok(tiers)
    }

    async fn sweep(&self, tier: &str) -> anyhow::Result<Sweep> {
        Ok(self.sweep_oldest(tier).await?.0)
    }

    /// Every page of the tier's listing: the counts, the largest age and whose it is.
    async fn sweep_oldest(&self, tier: &str) -> anyhow::Result<(Sweep, String)> {
        let mut sweep = Sweep::default();
        let mut oldest_coin = String::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/prices?tier={tier}&limit={PAGE}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let listing: Listing = self.get(&path).await?;
            let now = Utc::now();
            sweep.priced += listing.prices.len();
            sweep.missing += listing.missing.len();
            for price in listing.prices {
                let age = (now - price.fetched_at).num_milliseconds();
                if age > sweep.oldest_ms {
                    sweep.oldest_ms = age;
                    oldest_coin = price.coin_id;
                }
            }
            match listing.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok((sweep, oldest_coin)),
            }
        }
    }
}

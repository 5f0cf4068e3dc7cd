//! `bench refresh --coins N`: the whole market, not the tracked set. One catalogue refresh, then
//! two passes of every default price tier at once (as the beat starts them), against the
//! simulator listing N coins with the default limits (Binance's weight, CoinLore's one call a
//! second); CoinGecko's limit is raised for the catalogue, which is setup here, not measured.
//! The first pass is a cold process's (it has learned no CoinLore id yet); the second, every
//! later pass's, is the one judged.
//!
//! Reported: the upstream calls the tiers made against the fewest that can price every coin
//! (one Binance call, and one CoinLore page per 100 coins), the time from the tiers' enqueue to
//! the last one done, Redis bytes per price record (`MEMORY USAGE` of each record's key, its
//! history list left out), the API's resident memory once its in-process copy holds every
//! record, and the latency of `GET /v1/prices?tier=all&limit=1000`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coinbeat_shared::{
    domain::CoinId,
    jobs::{CatalogueJob, Job, PricesJob, Queue},
    queue::EnqueueOptions,
    settings::tiers::{COINLORE_PAGE, default_tiers},
};
use coinbeat_sim::{BUILTIN_COINS, SimHandle};

use super::{
    lab::{Lab, api_env, free_addr, wait_listening},
    load,
    machine::rss_kib,
    report::{Report, Row},
    stats::percentile,
};
use crate::args::BenchArgs;
use coinbeat::component::Component;
use coinbeat_workers::QueueWorker;

/// How often a task's record is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(20);

/// Connections driving the list endpoint.
const CONNECTIONS: usize = 8;

pub async fn run(args: &BenchArgs, coins: u32) -> anyhow::Result<Report> {
    let builtin = BUILTIN_COINS;
    if coins < builtin || coins > 99_999 + builtin {
        bail!("--coins must be between {builtin} and {}", 99_999 + builtin);
    }
    let sim = super::refresh::steady_sim(coins - builtin, args.upstream_latency_ms).await?;
    Lab::start()
        .await?
        .run_beside(sim, async |lab, sim| measure(args, coins, lab, sim).await)
        .await
}

async fn measure(
    args: &BenchArgs,
    coins: u32,
    lab: &mut Lab,
    sim: &SimHandle,
) -> anyhow::Result<Report> {
    let upstreams = [
        ("COINBEAT_PROVIDERS__COINGECKO__BASE_URL", sim.base_url()),
        (
            "COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT",
            "600/min".into(),
        ),
        ("COINBEAT_PROVIDERS__BINANCE__BASE_URL", sim.binance_url()),
        ("COINBEAT_PROVIDERS__COINLORE__BASE_URL", sim.coinlore_url()),
    ];
    lab.spawn(Component::Worker(QueueWorker::CatalogueWorker), &upstreams)?;
    lab.spawn(Component::Worker(QueueWorker::PriceWorker), &upstreams)?;
    lab.wait_for_workers(&CatalogueJob::queue(), 1).await?;
    lab.wait_for_workers(&PricesJob::queue(), 1).await?;
    let catalogue = lab
        .producer()
        .enqueue(&CatalogueJob {}, EnqueueOptions::default())
        .await?;
    lab.wait_done(
        &Queue::Catalogue.name(),
        &[catalogue],
        Duration::from_secs(600),
        POLL,
    )
    .await?;

    // The first pass is a cold process's (no CoinLore id learned yet: a coin whose rank drifted
    // off its tier's pages costs the pages next to them); the second is every later one's.
    let cold = pass(lab, sim, coins).await?;
    let warm = pass(lab, sim, coins).await?;
    let (fewest, ratio) = (warm.fewest, warm.ratio());

    // Every coin has its record now; their size in Redis, history left out.
    let mut conn = lab.conn.clone();
    let ids: Vec<String> = redis::cmd("HKEYS")
        .arg(lab.keys.catalogue_coins())
        .query_async(&mut conn)
        .await?;
    let (mut bytes, mut records) = (0_u64, 0_u64);
    for id in &ids {
        let size: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(lab.keys.price(&CoinId::parse(id)?))
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await?;
        if let Some(size) = size {
            bytes += size;
            records += 1;
        }
    }
    // A pass over a moving market misses the coins that moved onto a page already read (the
    // next run asks for them by CoinLore id); a pass that priced less than 95% is broken.
    if records * 100 < ids.len() as u64 * 95 {
        bail!(
            "only {records} of {} catalogued coins were priced",
            ids.len()
        );
    }
    let per_record = bytes as f64 / records.max(1) as f64;

    // The API, its in-process copy filled by reading every record once.
    let addr = free_addr()?;
    let api = lab.spawn(Component::Api, &api_env(addr, CONNECTIONS, 0))?;
    wait_listening(addr).await?;
    let http = reqwest::Client::new();
    let mut cursor: Option<String> = None;
    let mut listed = 0;
    loop {
        let mut url = format!("http://{addr}/v1/prices?tier=all&limit=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let body: serde_json::Value = http.get(&url).send().await?.json().await?;
        listed += body["prices"].as_array().map_or(0, Vec::len);
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let path = "/v1/prices?tier=all&limit=1000";
    load::run(addr, path, CONNECTIONS, Duration::from_secs(2)).await?;
    let loaded = load::run(
        addr,
        path,
        CONNECTIONS,
        Duration::from_secs(args.duration_secs),
    )
    .await?;
    let (rss, _) = rss_kib(api).context("reading the API's memory")?;
    let p99_ms = f64::from(percentile(&loaded.latencies_us, 0.99)) / 1_000.0;
    let p50_ms = f64::from(percentile(&loaded.latencies_us, 0.50)) / 1_000.0;
    let rss_mb = rss as f64 / 1_024.0;
    lab.stop_children().await;

    let mut report = Report::new(
        "refresh --coins",
        format!(
            "{coins} coins in the simulator ({} ms added to every request), the default tiers \
             (top from Binance, the rest from CoinLore at its 1 call a second), one \
             price-worker, all four tiers enqueued at once, twice, after one catalogue refresh; the \
             API in its own process, {CONNECTIONS} keep-alive connections for {} s",
            args.upstream_latency_ms, args.duration_secs
        ),
    );
    report.rows.push(Row::target(
        format!(
            "upstream calls for {coins} coins (Binance + CoinLore pages + CoinLore by id) / fewest"
        ),
        format!(
            "{} + {} + {} = {} / {fewest} = {ratio:.2}x",
            warm.binance,
            warm.pages,
            warm.by_id,
            warm.made()
        ),
        "≤ 1.1x",
        ratio <= 1.1,
    ));
    report.rows.push(Row::info(
        "the same, a cold process's first pass (no CoinLore id learned yet)",
        format!(
            "{} + {} + {} = {} / {fewest} = {:.2}x",
            cold.binance,
            cold.pages,
            cold.by_id,
            cold.made(),
            cold.ratio()
        ),
    ));
    for (name, pass) in [("cold", &cold), ("warm", &warm)] {
        report.rows.push(Row::info(
            format!("{name} pass: every tier refreshed, enqueue → last done (s)"),
            format!(
                "{:.1} (CoinLore's 1/s alone needs {} s for {} calls)",
                pass.took.as_secs_f64(),
                (pass.pages + pass.by_id).saturating_sub(1),
                pass.pages + pass.by_id
            ),
        ));
        report.rows.push(Row::info(
            format!("{name} pass per tier: Binance + CoinLore calls (coins missed)"),
            pass.per_tier.join(", "),
        ));
    }
    report.rows.push(Row::info(
        "coins priced after two passes of every tier",
        format!("{records} of {} catalogued", ids.len()),
    ));
    report.rows.push(Row::target(
        "Redis bytes per price record (without history)",
        format!("{per_record:.0} ({records} records)"),
        "≤ 1024",
        per_record <= 1_024.0,
    ));
    report.rows.push(Row::target(
        format!("API RSS with {listed} records in its copy (MB)"),
        format!("{rss_mb:.1}"),
        "≤ 80",
        rss_mb <= 80.0,
    ));
    report.rows.push(Row::info(
        format!("GET {path}: requests/s, p50, p99 (ms)"),
        format!("{:.0}, {p50_ms:.2}, {p99_ms:.2}", loaded.per_second()),
    ));
    Ok(report)
}

/// One run of every default tier at once (as the beat starts them), and what it cost.
struct Pass {
    binance: u64,
    pages: u64,
    by_id: u64,
    fewest: u64,
    took: Duration,
    per_tier: Vec<String>,
}

impl Pass {
    fn made(&self) -> u64 {
        self.binance + self.pages + self.by_id
    }

    fn ratio(&self) -> f64 {
        self.made() as f64 / self.fewest as f64
    }
}

async fn pass(lab: &Lab, sim: &SimHandle, coins: u32) -> anyhow::Result<Pass> {
    let before = sim.stats().by_endpoint;
    let tiers = default_tiers();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for name in tiers.keys() {
        let job = PricesJob {
            tier: Some(name.clone()),
            ..PricesJob::default()
        };
        tasks.push(
            lab.producer()
                .enqueue(&job, EnqueueOptions::default())
                .await?,
        );
    }
    let results: Vec<serde_json::Value> = lab
        .wait_done(
            &Queue::Prices.name(),
            &tasks,
            Duration::from_secs(1_200),
            POLL,
        )
        .await?
        .into_iter()
        .map(|info| info.result.unwrap_or_default())
        .collect();
    let took = started.elapsed();
    let per_tier = tiers
        .keys()
        .zip(&results)
        .map(|(name, result)| {
            let calls = &result["upstream_requests"];
            format!(
                "{name} {}+{} ({})",
                calls["binance"], calls["coinlore"], result["missing"]
            )
        })
        .collect();
    let after = sim.stats().by_endpoint;
    let used = |endpoint: &str| {
        after.get(endpoint).copied().unwrap_or_default()
            - before.get(endpoint).copied().unwrap_or_default()
    };
    Ok(Pass {
        binance: used("/binance/api/v3/ticker/24hr"),
        pages: used("/api/tickers/"),
        by_id: used("/api/ticker/"),
        fewest: 1 + u64::from(coins.div_ceil(COINLORE_PAGE)),
        took,
        per_tier,
    })
}

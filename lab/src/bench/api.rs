//! `bench api`: with twelve prices cached (and 1,000 more), `GET /v1/prices/BTC`, `GET
//! /v1/prices` (the tracked 12) and `GET /v1/prices?ids=` naming 1,000 coins under the
//! built-in load generator on this machine (64 keep-alive connections by default), with every
//! production layer on (auth with public reads, request ids, security headers, metrics, the
//! per-client limit raised far past the load). When nginx is installed it serves the API's
//! own answers as static files and is measured in the same runs ([`super::nginx`]); the report
//! gives the ratio. With
//! `--stream-clients N`, `GET /v1/prices/BTC` is measured once more while N idle SSE clients
//! hold `GET /v1/stream/prices` open, against the figure without them (target: at most 10 %
//! slower).

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use coinbeat_shared::{
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
};
use rust_decimal::Decimal;

use super::{
    lab::{Lab, api_env, free_addr, wait_listening},
    load, machine,
    nginx::Nginx,
    report::{Report, Row},
    stats::{median, percentile},
    stream_clients::StreamClients,
};
use crate::args::BenchArgs;
use coinbeat::component::Component;

/// Records of the long list (`?ids=` naming each).
const MANY: usize = 1_000;

/// One route measured: its label, its path at the API, at the static peer, and the least
/// API / nginx ratio wanted (issue 21), if any.
struct Measured {
    label: &'static str,
    path: String,
    peer_path: &'static str,
    ratio_wanted: Option<f64>,
}

/// The routes measured: one price, the tracked 12, and a list of [`MANY`] records by id.
fn routes() -> Vec<Measured> {
    let ids: Vec<String> = (0..MANY).map(many_id).collect();
    vec![
        Measured {
            label: "GET /v1/prices/BTC",
            path: "/v1/prices/BTC".into(),
            peer_path: "/one",
            ratio_wanted: Some(0.8),
        },
        Measured {
            label: "GET /v1/prices (12 symbols)",
            path: "/v1/prices".into(),
            peer_path: "/twelve",
            ratio_wanted: Some(0.5),
        },
        Measured {
            label: "GET /v1/prices?ids= (1,000 records)",
            path: format!("/v1/prices?ids={}", ids.join(",")),
            peer_path: "/thousand",
            ratio_wanted: None,
        },
    ]
}

/// The coin id of the long list's `i`th record.
fn many_id(i: usize) -> String {
    format!("bench-coin-{i:04}")
}

const WARM_UP: Duration = Duration::from_secs(2);

/// `api.client_rate_per_sec` (and burst) of the API measured: the limit on, far past the load.
const CLIENT_RATE: u32 = 10_000_000;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    Lab::start()
        .await?
        .run(async |lab| measure(args, lab).await)
        .await
}

async fn measure(args: &BenchArgs, lab: &mut Lab) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "api",
        format!(
            "`coinbeat run api` (one process) with 12 cached prices and every production layer \
             (auth with public reads, request id, security headers, metrics, its request spans \
             at the default `info`, the per-client limit raised to {CLIENT_RATE}/s); built-in load generator in the bench process on the same \
             machine, {} keep-alive connections, {} s per route and run after a {} s warm-up; \
             median of {} runs",
            args.connections,
            args.duration_secs,
            WARM_UP.as_secs(),
            args.runs
        ),
    );
    if args.stream_clients > 0 {
        report.setup.push_str(&format!(
            "; then GET /v1/prices/BTC again with {} idle SSE clients on /v1/stream/prices",
            args.stream_clients
        ));
    }
    write_prices(lab).await?;
    write_many(lab).await?;
    let routes = routes();
    let addr = free_addr()?;
    let mut env = api_env(addr, args.connections, args.stream_clients);
    env.retain(|(name, _)| !name.starts_with("COINBEAT_API__CLIENT_"));
    env.push(("COINBEAT_API__CLIENT_RATE_PER_SEC", CLIENT_RATE.to_string()));
    env.push(("COINBEAT_API__CLIENT_BURST", CLIENT_RATE.to_string()));
    // The production log level for the API's own target: its per-request span is on.
    env.push(("RUST_LOG", "warn,coinbeat_api=info".into()));
    let api_pid = lab.spawn(Component::Api, &env)?;
    let me = std::process::id();
    wait_listening(addr).await?;
    // The peer serves what the API answers, byte for byte.
    let http = reqwest::Client::new();
    let mut files = Vec::new();
    for route in &routes {
        let body = http
            .get(format!("http://{addr}{}", route.path))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        files.push((route.peer_path, body.to_vec()));
    }
    let nginx = Nginx::start(&files).await?;
    match &nginx {
        Some(_) => report.setup.push_str(
            "; nginx (a worker per core, sendfile, keep-alive, no access log) serving the same \
             JSON as static files, measured after the API in each run",
        ),
        None => report.notes.push(
            "nginx is not installed: no static peer measured (Debian: apt-get install nginx)"
                .into(),
        ),
    }

    let duration = Duration::from_secs(args.duration_secs.max(1));
    for route in &routes {
        let (label, path) = (route.label, route.path.as_str());
        let warm = load::run(addr, path, args.connections, WARM_UP).await?;
        if warm.ok == 0 {
            bail!("{label}: no successful answer during the warm-up");
        }
        if let Some(nginx) = &nginx {
            load::run(nginx.addr, route.peer_path, args.connections, WARM_UP).await?;
        }
        let mut peer_rates = Vec::new();
        let mut peer_p99 = Vec::new();
        let mut rates = Vec::new();
        let mut p50 = Vec::new();
        let mut p99 = Vec::new();
        let mut p999 = Vec::new();
        let mut errors = 0;
        // CPU µs per request of (api, redis, load generator), summed over the runs.
        let mut cpu = [0u64; 3];
        let mut requests = 0u64;
        for run in 1..=args.runs {
            let before = [
                machine::cpu_micros(api_pid).unwrap_or(0),
                lab.redis_cpu_micros().await?,
                machine::cpu_micros(me).unwrap_or(0),
            ];
            let r = load::run(addr, path, args.connections, duration).await?;
            let after = [
                machine::cpu_micros(api_pid).unwrap_or(0),
                lab.redis_cpu_micros().await?,
                machine::cpu_micros(me).unwrap_or(0),
            ];
            for i in 0..3 {
                cpu[i] += after[i].saturating_sub(before[i]);
            }
            requests += r.ok + r.errors;
            let ms = |p| percentile(&r.latencies_us, p) as f64 / 1000.0;
            println!(
                "api {label} run {run}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, p999 {:.3} ms, {} errors",
                r.per_second(),
                ms(50.0),
                ms(99.0),
                ms(99.9),
                r.errors
            );
            if let Some(nginx) = &nginx {
                let peer =
                    load::run(nginx.addr, route.peer_path, args.connections, duration).await?;
                let p99 = percentile(&peer.latencies_us, 99.0) as f64 / 1000.0;
                println!(
                    "nginx {label} run {run}: {:.0} req/s, p99 {p99:.3} ms, {} errors",
                    peer.per_second(),
                    peer.errors
                );
                peer_rates.push(peer.per_second());
                peer_p99.push(p99);
            }
            rates.push(r.per_second());
            p50.push(ms(50.0));
            p99.push(ms(99.0));
            p999.push(ms(99.9));
            errors += r.errors;
        }
        let (rate, p99m) = (median(&rates), median(&p99));
        if path == "/v1/prices/BTC" {
            report.rows.push(Row::target(
                format!("{label}: req/s"),
                format!("{rate:.0}"),
                "≥ 50,000",
                rate >= 50_000.0,
            ));
            report.rows.push(Row::info(
                format!("{label}: p50 (ms)"),
                format!("{:.3}", median(&p50)),
            ));
            report.rows.push(Row::target(
                format!("{label}: p99 (ms)"),
                format!("{p99m:.3}"),
                "≤ 2 ms",
                p99m <= 2.0,
            ));
        } else {
            report
                .rows
                .push(Row::info(format!("{label}: req/s"), format!("{rate:.0}")));
            report.rows.push(Row::info(
                format!("{label}: p50 (ms)"),
                format!("{:.3}", median(&p50)),
            ));
            report.rows.push(Row::info(
                format!("{label}: p99 (ms)"),
                format!("{p99m:.3}"),
            ));
        }
        report.rows.push(Row::info(
            format!("{label}: p999 (ms)"),
            format!("{:.3}", median(&p999)),
        ));
        if !peer_rates.is_empty() {
            let peer = median(&peer_rates);
            report.rows.push(Row::info(
                format!("{label}: nginx static, same runs: req/s (p99 ms)"),
                format!("{peer:.0} ({:.3})", median(&peer_p99)),
            ));
            let ratio = rate / peer;
            report.rows.push(match route.ratio_wanted {
                Some(want) => Row::target(
                    format!("{label}: API / nginx"),
                    format!("{ratio:.2}"),
                    format!("≥ {want}"),
                    ratio >= want,
                ),
                None => Row::info(format!("{label}: API / nginx"), format!("{ratio:.2}")),
            });
        }
        let per = |us: u64| us as f64 / requests.max(1) as f64;
        report.rows.push(Row::info(
            format!("{label}: CPU per request, µs (api / redis / load generator)"),
            format!(
                "{:.1} / {:.1} / {:.1}",
                per(cpu[0]),
                per(cpu[1]),
                per(cpu[2])
            ),
        ));
        if errors > 0 {
            report
                .notes
                .push(format!("{label}: {errors} non-2xx answers during the runs"));
        }
    }
    if args.stream_clients > 0 {
        with_stream_clients(args, addr, duration, &mut report).await?;
    }
    Ok(report)
}

/// `GET /v1/prices/BTC` with and without `--stream-clients` idle streams open, the two
/// measured in turn in every run (without, then with), so the machine's drift over the bench
/// (other work on a shared 2-core box) falls on both sides alike; the slowdown compares the
/// medians of the pairs.
async fn with_stream_clients(
    args: &BenchArgs,
    addr: std::net::SocketAddr,
    duration: Duration,
    report: &mut Report,
) -> anyhow::Result<()> {
    let n = args.stream_clients;
    let path = "/v1/prices/BTC";
    let label = format!("GET /v1/prices/BTC with {n} idle stream clients");
    load::run(addr, path, args.connections, WARM_UP).await?;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let (mut p99_without, mut p99_with) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let alone = load::run(addr, path, args.connections, duration).await?;
        let clients = StreamClients::open(addr, n).await?;
        let r = load::run(addr, path, args.connections, duration).await?;
        let open = clients.open_count();
        drop(clients);
        if open < n {
            bail!("{label}: only {open} of {n} streams were still open after run {run}");
        }
        let p99 = |r: &load::LoadResult| percentile(&r.latencies_us, 99.0) as f64 / 1000.0;
        println!(
            "api {label} run {run}: {:.0} req/s (p99 {:.3} ms) against {:.0} req/s (p99 {:.3} ms) without, {} errors",
            r.per_second(),
            p99(&r),
            alone.per_second(),
            p99(&alone),
            r.errors
        );
        without.push(alone.per_second());
        with.push(r.per_second());
        p99_without.push(p99(&alone));
        p99_with.push(p99(&r));
    }
    let (rate, base_rate) = (median(&with), median(&without));
    let slower_pct = (1.0 - rate / base_rate) * 100.0;
    report.rows.push(Row::info(
        format!("{label}: req/s, without them in the same runs {base_rate:.0}"),
        format!("{rate:.0}"),
    ));
    report.rows.push(Row::info(
        format!(
            "{label}: p99 (ms), without them {:.3}",
            median(&p99_without)
        ),
        format!("{:.3}", median(&p99_with)),
    ));
    report.rows.push(Row::target(
        format!("{label}: slower than without them (%)"),
        format!("{slower_pct:.1}"),
        "≤ 10 %",
        slower_pct <= 10.0,
    ));
    Ok(())
}

/// Caches the long list's [`MANY`] records.
async fn write_many(lab: &Lab) -> anyhow::Result<()> {
    let cache = PriceCache::new(lab.conn.clone(), lab.keys.clone(), &lab.settings.prices);
    let now = chrono::Utc::now();
    let records: Vec<PriceRecord> = (0..MANY)
        .map(|i| {
            let coin = CoinId::parse(&many_id(i)).expect("a valid coin id");
            record(
                format!("BC{i:04}"),
                coin,
                Decimal::new(1_000_000 + i as i64, 4),
                now,
            )
        })
        .collect();
    cache.write(&records).await?;
    Ok(())
}

/// Caches a record for each of the twelve default symbols, as a price job would.
pub async fn write_prices(lab: &Lab) -> anyhow::Result<()> {
    let prices = &lab.settings.prices;
    let cache = PriceCache::new(lab.conn.clone(), lab.keys.clone(), prices);
    let now = chrono::Utc::now();
    let records: Vec<PriceRecord> = prices
        .tracked
        .iter()
        .enumerate()
        .filter_map(|(i, symbol)| Some((i, symbol, prices.coin(symbol)?)))
        .map(|(i, symbol, coin_id)| {
            record(
                symbol.to_string(),
                coin_id,
                Decimal::new(6_543_210 + i as i64, 2),
                now,
            )
        })
        .collect();
    cache.write(&records).await?;
    Ok(())
}

/// A price record as the bench caches it.
fn record(symbol: String, coin_id: CoinId, usd: Decimal, now: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol,
        coin_id,
        usd,
        change_24h_pct: Some(Decimal::new(-123, 2)),
        market_cap_usd: Some(Decimal::new(1_234_567_890_123, 0)),
        volume_24h_usd: Some(Decimal::new(98_765_432_100, 0)),
        upstream_updated_at: Some(now),
        fetched_at: now,
        source: "bench".into(),
    }
}

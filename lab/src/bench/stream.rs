//! `bench stream`: one `stream-worker` process streaming N symbols from the simulator's Binance
//! combined streams, at each total trade rate of `--rates`, into a private Redis; one API
//! process fanning the written prices out to `--clients` SSE clients on `/v1/stream/prices`.
//!
//! Per rate, a fresh simulator (its trade rate per symbol is `rate / N`, fixed at its start),
//! Redis, worker and API; once every shard is connected and the clients see prices, a warm-up,
//! then `--runs` windows of `--duration-secs`, each giving:
//!
//! - ticks/s ingested: the worker's own `coinbeat_stream_events_total{source="binance-ws"}`
//!   from its ops server, against the trades the simulator sent (its trade ids);
//! - CPU per tick of the worker, Redis and the API (`/proc/<pid>/stat`, Redis's `INFO cpu`);
//! - exchange event → SSE client: each `price` event's `upstream_updated_at` (the trade's `E`,
//!   the simulator's send time) against the moment the client read it, one clock;
//! - the worker's resident memory (VmRSS, peak VmHWM).
//!
//! The figures are the medians of the windows. The simulator and the clients run in this
//! process; its CPU is reported beside the others, as it takes from the same two cores.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coinbeat_sim::{SimConfig, SimHandle, StreamConfig};

use super::{
    lab::{Lab, api_env, counter_across, free_addr, start_sim, wait_listening, write_config},
    machine,
    report::{Report, Row},
    stats::{median, percentile},
    stream_clients::{Noted, StreamClients},
};
use crate::args::{BenchArgs, Scenario};
use coinbeat::component::Component;

/// Counted but not measured, after every shard is connected and the clients see prices.
const WARM_UP: Duration = Duration::from_secs(3);
/// The target: one process ingests at least this many ticks per second.
const INGEST_TARGET: f64 = 50_000.0;
/// The rate at which the latency target applies, and the target beyond the coalescing window.
const LATENCY_RATE: u64 = 10_000;
const LATENCY_BEYOND_WINDOW_MS: f64 = 50.0;
/// The stream-worker's resident memory ceiling (MiB).
const RSS_CEILING_MIB: f64 = 30.0;
const EVENTS: &str = "coinbeat_stream_events_total";
const SOURCE: &str = "source=\"binance-ws\"";

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let symbol_counts = args.symbols_for(Scenario::Stream);
    if symbol_counts.iter().any(|&n| n == 0 || n > 99_999) {
        bail!("--symbols: 1 to 99,999 (the simulator's synthetic coin ids have five digits)");
    }
    if args.rates.is_empty() || args.rates.contains(&0) {
        bail!("--rates: at least one rate, each above 0");
    }
    if args.clients == 0 || args.client_symbols > 1_000 {
        bail!(
            "--clients: at least 1; --client-symbols: at most 1,000 (the API's cap on a \
             `symbols=` list)"
        );
    }
    let streams = coinbeat_shared::Settings::default().streams;
    let (coalesce_ms, shard_size) = (streams.coalesce_ms, streams.shard_size);
    let watching = match args.client_symbols {
        0 => "every symbol".to_owned(),
        k => format!("a filter of {k} symbols each, dealt out in turn"),
    };
    let mut report = Report::new(
        "stream",
        format!(
            "one stream-worker process ({shard_size} symbols per shard and connection, coalescing \
             {coalesce_ms} ms) on the simulator's Binance combined streams (aggTrade + ticker per \
             symbol; in the bench process), Redis, one API process, {} SSE clients on \
             /v1/stream/prices ({watching}; in the bench process); per rate a fresh set, {} s \
             warm-up, then the median of {} windows of {} s",
            args.clients,
            WARM_UP.as_secs(),
            args.runs,
            args.duration_secs.max(1)
        ),
    );
    let mut judged_ingest = false;
    for &n in &symbol_counts {
        for &rate in &args.rates {
            let label = if symbol_counts.len() > 1 {
                format!("{n} symbols at {rate} trades/s")
            } else {
                format!("{rate} trades/s")
            };
            let figures = measure(args, n, rate).await?;
            judged_ingest |= figures.sent >= INGEST_TARGET;
            figures.report(&label, rate, coalesce_ms, &mut report);
        }
    }
    if !judged_ingest {
        report.notes.push(format!(
            "the simulator sent fewer than {INGEST_TARGET:.0} trades/s at every rate: the ingest \
             target is not judged (ask for more with --rates)"
        ));
    }
    Ok(report)
}

/// One rate's figures: the medians of its windows, and the worker's memory at the end.
struct Figures {
    sent: f64,
    ingested: f64,
    written: f64,
    /// CPU µs per ingested tick: worker, Redis, API, this process (simulator + clients).
    cpu: [f64; 4],
    /// Event → client (ms).
    p50: f64,
    p99: f64,
    p999: f64,
    /// Price events each client received per second.
    per_client: f64,
    /// The API's CPU, all of it, per price event the clients got (µs).
    api_per_event: f64,
    /// Mean event → Redis write (ms), from the worker's histogram.
    age_at_write: f64,
    lagged: u64,
    missed: u64,
    untimed: u64,
    rss_kib: (u64, u64),
}

async fn measure(args: &BenchArgs, symbols: usize, rate: u64) -> anyhow::Result<Figures> {
    let sim = start_sim(SimConfig {
        // Copycats of an earlier ticker get no Binance pair: a tenth more coins leaves enough.
        extra_coins: (symbols + symbols / 10 + 20) as u32,
        streams: StreamConfig {
            trades_per_sec: rate as f64 / symbols as f64,
            list_synthetic_on_binance: true,
            ..StreamConfig::default()
        },
        ..SimConfig::default()
    })
    .await?;
    Lab::start()
        .await?
        .run_beside(sim, async |lab, sim| {
            measure_on(args, lab, sim, symbols, rate).await
        })
        .await
}

async fn measure_on(
    args: &BenchArgs,
    lab: &mut Lab,
    sim: &SimHandle,
    symbols: usize,
    rate: u64,
) -> anyhow::Result<Figures> {
    // The simulator's synthetic coins as Binance lists them: (ticker, coin id).
    let listed: Vec<(String, String)> = sim
        .binance_pairs()
        .into_iter()
        .filter(|pair| pair.coin_id.starts_with("sim-coin-"))
        .filter_map(|pair| Some((pair.symbol.strip_suffix("USDT")?.to_owned(), pair.coin_id)))
        .take(symbols)
        .collect();
    if listed.len() < symbols {
        bail!(
            "the simulator lists {} synthetic Binance pairs, fewer than {symbols}",
            listed.len()
        );
    }
    let tickers: Vec<String> = listed.iter().map(|(ticker, _)| ticker.clone()).collect();
    let mut toml = String::from("[streams]\nsymbols = [");
    for (i, ticker) in tickers.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(toml, "{sep}\"{ticker}\"");
    }
    toml.push_str("]\n\n[prices.coins]\n");
    for (ticker, id) in &listed {
        let _ = writeln!(toml, "{ticker} = \"{id}\"");
    }
    let config = write_config(lab.dir(), &format!("stream-{symbols}.toml"), &toml)?;
    let ops = free_addr()?;
    let worker = lab.spawn(
        Component::StreamWorker,
        &[
            ("COINBEAT_CONFIG", config.display().to_string()),
            ("COINBEAT_OPS__ADDR", ops.to_string()),
            (
                "COINBEAT_PROVIDERS__BINANCE__WS_URL",
                sim.binance_stream_url(),
            ),
            // Never used while the simulator's Binance streams, but a failover must not leave
            // the machine.
            (
                "COINBEAT_PROVIDERS__COINCAP__WS_URL",
                sim.coincap_stream_url(),
            ),
            ("COINCAP_API_KEY", "simulated".into()),
        ],
    )?;
    let addr = free_addr()?;
    let api = lab.spawn(Component::Api, &api_env(addr, 0, args.clients))?;
    wait_listening(addr).await?;
    let shards = symbols.div_ceil(lab.settings.streams.shard_size);
    wait_connected(&[ops], shards).await?;
    let filters = client_filters(&tickers, args.clients, args.client_symbols);
    let clients = StreamClients::open_filtered(addr, filters).await?;
    wait_for_prices(&clients).await?;
    tokio::time::sleep(WARM_UP).await;

    let pids = [worker, api, std::process::id()];
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let mut windows = Vec::new();
    for run in 1..=args.runs {
        let before = Probe::take(lab, sim, ops, pids).await?;
        clients.take();
        tokio::time::sleep(duration).await;
        let noted = clients.take();
        let after = Probe::take(lab, sim, ops, pids).await?;
        let window = Window::between(&before, &after, noted);
        println!(
            "stream {rate}/s run {run}: sent {:.0}/s, ingested {:.0}/s, written {:.0}/s, \
             event → client p50 {:.1} ms p99 {:.1} ms p999 {:.1} ms, {} lagged",
            window.sent,
            window.ingested,
            window.written,
            window.ms(50.0),
            window.ms(99.0),
            window.ms(99.9),
            window.noted.lagged
        );
        windows.push(window);
    }
    if clients.open_count() < args.clients {
        bail!(
            "only {} of {} streams were still open at the end",
            clients.open_count(),
            args.clients
        );
    }
    drop(clients);
    if !lab.all_running() {
        bail!("the stream-worker or the API exited during the run");
    }
    let rss_kib = machine::rss_kib(worker).context("the stream-worker is gone")?;
    let med = |f: &dyn Fn(&Window) -> f64| median(&windows.iter().map(f).collect::<Vec<_>>());
    Ok(Figures {
        sent: med(&|w| w.sent),
        ingested: med(&|w| w.ingested),
        written: med(&|w| w.written),
        cpu: [0, 1, 2, 3].map(|i| med(&|w| w.cpu_per_tick(i))),
        p50: med(&|w| w.ms(50.0)),
        p99: med(&|w| w.ms(99.0)),
        p999: med(&|w| w.ms(99.9)),
        per_client: med(&|w| w.noted.latencies_us.len() as f64 / w.secs / args.clients as f64),
        api_per_event: med(&|w| w.cpu[2] as f64 / w.noted.latencies_us.len().max(1) as f64),
        age_at_write: med(&|w| w.age_at_write_ms),
        lagged: windows.iter().map(|w| w.noted.lagged).sum(),
        missed: windows.iter().map(|w| w.noted.missed).sum(),
        untimed: windows.iter().map(|w| w.noted.untimed).sum(),
        rss_kib,
    })
}

/// Each client's `symbols=` filter: `per_client` symbols dealt out in turn (client 0 takes
/// the 1st, the `clients + 1`th, ...), wrapping round, so together they cover every symbol when
/// `clients × per_client ≥ symbols`; `per_client` 0: no filter, every symbol.
fn client_filters(symbols: &[String], clients: usize, per_client: usize) -> Vec<Option<String>> {
    (0..clients)
        .map(|c| {
            (per_client > 0).then(|| {
                (0..per_client)
                    .map(|k| symbols[(c + k * clients) % symbols.len()].as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
        .collect()
}

/// Waits until the worker has a connection open per shard.
async fn wait_connected(ops: &[SocketAddr], shards: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let open = counter_across(ops, "coinbeat_stream_connected", SOURCE).await?;
        if open as usize >= shards {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the stream-worker connected {open} of {shards} shards within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the clients have received a streamed price.
async fn wait_for_prices(clients: &StreamClients) -> anyhow::Result<()> {
    let started = Instant::now();
    while clients.take().latencies_us.is_empty() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("no streamed price reached the SSE clients within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The counters at one moment.
struct Probe {
    at: Instant,
    events: f64,
    written: f64,
    age_sum: f64,
    age_count: f64,
    /// The simulator's trade ids are one sequence over every stream: the highest is the number
    /// of trades sent so far.
    trades: u64,
    /// CPU µs so far: worker, Redis, API, this process.
    cpu: [u64; 4],
}

impl Probe {
    async fn take(
        lab: &Lab,
        sim: &SimHandle,
        ops: SocketAddr,
        [worker, api, me]: [u32; 3],
    ) -> anyhow::Result<Self> {
        let at = Instant::now();
        let ops = [ops];
        let trades = sim
            .served()
            .binance_stream
            .values()
            .map(|tick| tick.trade_id)
            .max()
            .unwrap_or(0);
        Ok(Self {
            at,
            events: counter_across(&ops, EVENTS, SOURCE).await?,
            written: counter_across(&ops, "coinbeat_stream_records_written_total", SOURCE).await?,
            age_sum: counter_across(&ops, "coinbeat_stream_age_at_write_seconds_sum", SOURCE)
                .await?,
            age_count: counter_across(&ops, "coinbeat_stream_age_at_write_seconds_count", SOURCE)
                .await?,
            trades,
            cpu: [
                machine::cpu_micros(worker).unwrap_or(0),
                lab.redis_cpu_micros().await?,
                machine::cpu_micros(api).unwrap_or(0),
                machine::cpu_micros(me).unwrap_or(0),
            ],
        })
    }
}

/// One measured window.
struct Window {
    secs: f64,
    /// Per second.
    sent: f64,
    ingested: f64,
    written: f64,
    /// CPU µs over the window: worker, Redis, API, this process.
    cpu: [u64; 4],
    ticks: f64,
    age_at_write_ms: f64,
    noted: Noted,
}

impl Window {
    fn between(before: &Probe, after: &Probe, noted: Noted) -> Self {
        let secs = after.at.duration_since(before.at).as_secs_f64();
        let ticks = after.events - before.events;
        let ages = after.age_count - before.age_count;
        Self {
            secs,
            sent: after.trades.saturating_sub(before.trades) as f64 / secs,
            ingested: ticks / secs,
            written: (after.written - before.written) / secs,
            cpu: [0, 1, 2, 3].map(|i| after.cpu[i].saturating_sub(before.cpu[i])),
            ticks,
            age_at_write_ms: if ages > 0.0 {
                (after.age_sum - before.age_sum) / ages * 1000.0
            } else {
                f64::NAN
            },
            noted,
        }
    }

    fn cpu_per_tick(&self, i: usize) -> f64 {
        self.cpu[i] as f64 / self.ticks.max(1.0)
    }

    /// The `p`-th percentile of event → client, in ms.
    fn ms(&self, p: f64) -> f64 {
        percentile(&self.noted.latencies_us, p) as f64 / 1000.0
    }
}

impl Figures {
    fn report(&self, label: &str, rate: u64, coalesce_ms: u64, report: &mut Report) {
        let rows = &mut report.rows;
        rows.push(Row::info(
            format!("{label}: trades the simulator sent (/s)"),
            format!("{:.0}", self.sent),
        ));
        // Judged only where the simulator sent enough to show it.
        rows.push(Row::target_if(
            self.sent >= INGEST_TARGET,
            format!("{label}: ticks ingested (/s)"),
            format!("{:.0}", self.ingested),
            "≥ 50,000 with one process",
            self.ingested >= INGEST_TARGET,
        ));
        rows.push(Row::info(
            format!("{label}: coalesced records written (/s)"),
            format!("{:.0}", self.written),
        ));
        rows.push(Row::info(
            format!("{label}: CPU per tick, µs (worker / redis / api)"),
            format!(
                "{:.2} / {:.2} / {:.2}",
                self.cpu[0], self.cpu[1], self.cpu[2]
            ),
        ));
        rows.push(Row::info(
            format!("{label}: CPU per tick, µs (bench process: simulator + clients)"),
            format!("{:.2}", self.cpu[3]),
        ));
        rows.push(Row::info(
            format!("{label}: event → Redis write, mean (ms)"),
            format!("{:.1}", self.age_at_write),
        ));
        rows.push(Row::info(
            format!("{label}: event → SSE client p50 (ms)"),
            format!("{:.1}", self.p50),
        ));
        let ceiling = LATENCY_BEYOND_WINDOW_MS + coalesce_ms as f64;
        rows.push(Row::target_if(
            rate == LATENCY_RATE,
            format!("{label}: event → SSE client p99 (ms)"),
            format!("{:.1}", self.p99),
            format!("≤ 50 ms + {coalesce_ms} ms window = {ceiling:.0} ms"),
            self.p99 <= ceiling,
        ));
        rows.push(Row::info(
            format!("{label}: event → SSE client p999 (ms)"),
            format!("{:.1}", self.p999),
        ));
        rows.push(Row::info(
            format!("{label}: price events per client (/s)"),
            format!("{:.0}", self.per_client),
        ));
        rows.push(Row::info(
            format!("{label}: API CPU per price event the clients got (µs)"),
            format!("{:.2}", self.api_per_event),
        ));
        let mib = |kib: u64| kib as f64 / 1024.0;
        rows.push(Row::info(
            format!("{label}: stream-worker RSS at the end (MiB)"),
            format!("{:.1}", mib(self.rss_kib.0)),
        ));
        rows.push(Row::target(
            format!("{label}: stream-worker peak RSS (MiB)"),
            format!("{:.1}", mib(self.rss_kib.1)),
            "≤ 30 MB",
            mib(self.rss_kib.1) <= RSS_CEILING_MIB,
        ));
        let notes = &mut report.notes;
        if self.sent < rate as f64 * 0.95 {
            notes.push(format!(
                "{label}: the simulator sent {:.0} trades/s of the {rate} asked: at this rate the \
                 simulator (in the bench process, on the same two cores) is the limit, not the \
                 worker",
                self.sent
            ));
        }
        if self.ingested < self.sent * 0.95 {
            notes.push(format!(
                "{label}: the worker ingested {:.0} of the {:.0} ticks/s sent",
                self.ingested, self.sent
            ));
        }
        if self.lagged > 0 {
            notes.push(format!(
                "{label}: the API could not send every price to every client: the clients fell \
                 behind its buffer {} times over the windows and missed {} price events (the \
                 latencies are of those they got)",
                self.lagged, self.missed
            ));
        }
        if self.untimed > 0 {
            notes.push(format!(
                "{label}: {} price events had no exchange time",
                self.untimed
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_filters_deal_the_symbols_out_in_turn_and_cover_them_all() {
        let symbols: Vec<String> = ["A", "B", "C", "D", "E"].map(String::from).to_vec();
        let filters = client_filters(&symbols, 2, 3);
        assert_eq!(
            filters,
            vec![Some("A,C,E".to_owned()), Some("B,D,A".to_owned())]
        );
        assert_eq!(client_filters(&symbols, 3, 0), vec![None, None, None]);
    }
}

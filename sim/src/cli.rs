//! The `main` of `coinbeat-sim` (also what the image's `coinbeat` runs when called by that
//! name): serves the simulated upstream APIs until SIGINT or SIGTERM. Prints the CoinGecko base
//! URL on stdout once listening; logs go to stderr.

use std::io::IsTerminal;
use std::net::SocketAddr;

use crate::{Faults, SimConfig, StreamConfig};
use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The simulator's name as a component (its binary, the image's link, the compose service).
pub const NAME: &str = "coinbeat-sim";

/// What it is, in a line.
pub const ABOUT: &str = "Simulated upstream APIs (CoinGecko, Binance, CoinCap, Etherscan, \
                         CoinLore, Alchemy, Alpha Vantage) speaking their wire formats, with \
                         injectable faults.";

/// Simulated upstream APIs (CoinGecko v3, Binance spot and its streams, CoinCap REST v3 and its
/// prices stream, Etherscan V2, CoinLore, Alchemy Prices, Alpha Vantage exchange rates) with
/// injectable faults. Per-provider faults, the stream faults among them (stream_silent,
/// stream_malformed_rate, drop_streams), are changed at run time with POST /sim/control.
#[derive(Debug, Parser)]
#[command(name = "coinbeat-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "COINBEAT_SIM_ADDR", default_value = "127.0.0.1:9180")]
    addr: SocketAddr,
    /// Delay added to every provider request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0..=1) of provider requests answered with a 503.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Provider requests allowed per sliding minute before 429s; 0 means unlimited.
    #[arg(long, default_value_t = 0)]
    rate_limit_per_minute: u32,
    /// Binance request weight allowed per sliding minute before 429s; 0 means unlimited.
    #[arg(long, default_value_t = crate::config::BINANCE_WEIGHT_PER_MINUTE)]
    binance_weight_per_minute: u32,
    /// Etherscan calls allowed per sliding second; 0 means unlimited.
    #[arg(long, default_value_t = crate::config::ETHERSCAN_CALLS_PER_SEC)]
    etherscan_calls_per_sec: u32,
    /// Seed of the price walks and the injected errors.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Synthetic coins `sim-coin-00001`..=N on top of the built-in ones.
    #[arg(long, default_value_t = 0)]
    extra_coins: u32,
    /// List the synthetic coins on Binance too (one `{TICKER}USDT` pair per ticker), for its
    /// tickers and streams.
    #[arg(long)]
    list_synthetic_on_binance: bool,
    /// Seconds per churn epoch: from the second epoch on, about 1% of the synthetic coins are
    /// unlisted in each; 0 turns churn off.
    #[arg(long, default_value_t = crate::config::DEFAULT_CHURN_EPOCH_SECS)]
    churn_epoch_secs: u64,
    /// Milliseconds per price step; 0 freezes prices (steps then only via /sim/control).
    #[arg(long, default_value_t = 1000)]
    step_ms: u64,
    /// Require this API key (repeatable); without any, keys are optional.
    #[arg(
        long = "api-key",
        env = "COINBEAT_SIM_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,
    /// Check the arguments, say where the simulator would listen, and exit (0: valid).
    #[arg(long)]
    check_config: bool,
}

/// Parses the process's arguments, then serves until SIGINT or SIGTERM.
pub async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    if args.check_config {
        println!(
            "{NAME}: arguments are valid (would listen on {})",
            args.addr
        );
        return Ok(());
    }
    let config = SimConfig {
        addr: args.addr,
        seed: args.seed,
        step_ms: args.step_ms,
        extra_coins: args.extra_coins,
        churn_epoch_secs: args.churn_epoch_secs,
        faults: Faults {
            latency_ms: args.latency_ms,
            error_rate: args.error_rate,
            rate_limit_per_minute: args.rate_limit_per_minute,
            down: false,
            binance_weight_per_minute: args.binance_weight_per_minute,
            etherscan_calls_per_sec: args.etherscan_calls_per_sec,
            ..Faults::default()
        },
        api_keys: args.api_keys,
        streams: StreamConfig {
            list_synthetic_on_binance: args.list_synthetic_on_binance,
            ..StreamConfig::default()
        },
    };
    serve(config, async {
        if let Err(e) = shutdown_signal().await {
            tracing::error!(error = %e, "waiting for a shutdown signal");
        }
    })
    .await
}

/// Serves `config` until `stop` completes, saying where on stdout (the CoinGecko base URL) and
/// in the log (every provider's).
pub async fn serve(config: SimConfig, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let sim = crate::start(config)
        .await
        .context("starting the simulator")?;
    println!("{}", sim.base_url());
    tracing::info!(
        base_url = %sim.base_url(),
        binance = %sim.binance_url(),
        etherscan = %sim.etherscan_url(),
        coinlore = %sim.coinlore_url(),
        coincap = %sim.coincap_rest_url(),
        coincap_stream = %sim.coincap_stream_url(),
        alchemy = %sim.alchemy_url(),
        alphavantage = %sim.alphavantage_url(),
        sim_url = %sim.root_url(),
        "coinbeat-sim listening"
    );
    stop.await;
    tracing::info!("shutting down");
    sim.stop().await.context("stopping the simulator")
}

async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

//! `coinbeat up`: the whole system on this machine.
//!
//! Redis (a private `redis-server` in `--data-dir`, unless `REDIS_URL` is set), optionally the
//! simulator (in this process, enforcing the configured rate limits: [`sim_limits`]), then one child process per component: the scheduler, every
//! product worker, and the API. Output is prefixed per component. On SIGINT or SIGTERM (or when
//! any child dies) everything started here is stopped, children first, Redis last.
//!
//! A local admin key: `up` makes a new API key with the `admin` role at every start, adds its
//! hash to the API's keys (beside any configured ones), and writes it to a new
//! `<data-dir>/admin.key` (mode 0600; whatever was there, a link included, is unlinked first)
//! for scripts; the file is removed at stop. The key is printed when stdout is a terminal,
//! otherwise only the file's path is. The key is good for that run only; `coinbeat keys new`
//! makes lasting ones.

pub mod children;
pub mod redis_server;
pub(crate) mod sim_limits;

use std::{io::IsTerminal, path::Path, process::ExitCode, time::Duration};

use anyhow::Context;
use coinbeat_shared::api_keys::{ApiKey, env_value};
use coinbeat_shared::{
    Settings,
    settings::{RedisSettings, Role},
    shutdown,
};
use coinbeat_workers::{Worker, history::HistoryWorker};

use crate::{args::UpArgs, component::Component};
use children::{ChildProcess, first_exit};
use redis_server::RedisServer;

/// Where `coinbeat up` keeps its private Redis unless `--data-dir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = ".coinbeat";

/// Whether the user named a Redis (`REDIS_URL`, or `redis.url` in the file or environment);
/// if not, `coinbeat up` runs a private one.
pub fn redis_is_configured(settings: &Settings) -> bool {
    std::env::var_os("REDIS_URL").is_some() || settings.redis.url != RedisSettings::default().url
}

/// How long a child may take to stop after being asked (workers finish running tasks).
const STOP_GRACE: Duration = Duration::from_secs(30);

pub async fn up(
    settings: Settings,
    config: Option<&Path>,
    args: UpArgs,
) -> anyhow::Result<ExitCode> {
    let stop = shutdown::on_signal();
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(config) = config {
        // The children read the same file (whether it came from --config or COINBEAT_CONFIG).
        let path = config
            .canonicalize()
            .with_context(|| format!("settings file {}", config.display()))?;
        env.push(("COINBEAT_CONFIG".into(), path.display().to_string()));
    }

    let redis = if redis_is_configured(&settings) {
        println!("using the configured Redis");
        None
    } else {
        let dir = args.data_dir.join("redis");
        let server = RedisServer::start(&dir).await?;
        println!("started a private redis-server ({})", server.url());
        env.push(("REDIS_URL".into(), server.url()));
        Some(server)
    };

    let sim = if args.simulate {
        let config = coinbeat_sim::SimConfig {
            addr: args.sim_addr,
            extra_coins: args.sim_coins.saturating_sub(coinbeat_sim::BUILTIN_COINS),
            faults: sim_limits::sim_limits(&settings),
            ..Default::default()
        };
        let sim = coinbeat_sim::start(config)
            .await
            .context("starting the simulator")?;
        println!(
            "simulator at {} (CoinGecko, Binance and its streams, CoinCap and its stream, Alchemy, CoinLore, Etherscan, Alpha Vantage; {} coins; \
             it refuses what the configured rate limits would not allow, counted at /sim/stats)",
            sim.root_url(),
            args.sim_coins.max(coinbeat_sim::BUILTIN_COINS)
        );
        env.push((
            "COINBEAT_PROVIDERS__COINGECKO__BASE_URL".into(),
            sim.base_url(),
        ));
        env.push((
            "COINBEAT_PROVIDERS__BINANCE__BASE_URL".into(),
            sim.binance_url(),
        ));
        env.push((
            "COINBEAT_PROVIDERS__BINANCE__WS_URL".into(),
            sim.binance_stream_url(),
        ));
        env.push((
            "COINBEAT_PROVIDERS__COINCAP__WS_URL".into(),
            sim.coincap_stream_url(),
        ));
        env.push((
            "COINBEAT_PROVIDERS__COINCAP__BASE_URL".into(),
            sim.coincap_rest_url(),
        ));
        if settings.providers.coincap.api_key.is_none() {
            // CoinCap's v3 (stream and REST) needs a key; the simulator takes any.
            env.push(("COINCAP_API_KEY".into(), "simulated".into()));
        }
        env.push((
            "COINBEAT_PROVIDERS__ALCHEMY__BASE_URL".into(),
            sim.alchemy_url(),
        ));
        if settings.providers.alchemy.api_key.is_none() {
            // Alchemy needs a key in every request's path; the simulator takes any.
            env.push(("ALCHEMY_API_KEY".into(), "simulated".into()));
        }
        env.push((
            "COINBEAT_PROVIDERS__ALPHAVANTAGE__BASE_URL".into(),
            sim.alphavantage_url(),
        ));
        if settings.providers.alphavantage.api_key.is_none() {
            // The exchange rates need a key; the simulator takes any.
            env.push(("ALPHAVANTAGE_API_KEY".into(), "simulated".into()));
        }
        env.push((
            "COINBEAT_PROVIDERS__ETHERSCAN__BASE_URL".into(),
            sim.etherscan_url(),
        ));
        if settings.providers.etherscan.api_key.is_none() {
            // The simulator takes any key; Etherscan itself needs one for every call.
            env.push(("ETHERSCAN_API_KEY".into(), "simulated".into()));
        }
        env.push((
            "COINBEAT_PROVIDERS__COINLORE__BASE_URL".into(),
            sim.coinlore_url(),
        ));
        Some(sim)
    } else {
        None
    };

    let api_addr = match args.api_addr {
        Some(addr) => {
            env.push(("COINBEAT_API__ADDR".into(), addr.to_string()));
            addr.to_string()
        }
        None => settings.api.addr.clone(),
    };
    if let Err(e) = std::net::TcpListener::bind(&api_addr) {
        stop_all(Vec::new(), sim, redis).await;
        anyhow::bail!(
            "the API cannot listen on {api_addr}: {e}. Is coinbeat already running? \
             Choose another address with --api-addr"
        );
    }

    let local_key = ApiKey::generate();
    let mut keys = settings.api.keys.clone();
    keys.push(local_key.entry(Role::Admin));
    env.push(("COINBEAT_API__KEYS".into(), env_value(&keys)));
    let key_file = args.data_dir.join(LOCAL_KEY_FILE);
    if let Err(e) = write_private(&key_file, local_key.expose()) {
        stop_all(Vec::new(), sim, redis).await;
        return Err(e.context(format!("writing {}", key_file.display())));
    }

    let mut running = Vec::new();
    // Without DATABASE_URL the history worker would only refuse jobs nobody schedules.
    let components = Component::product()
        .filter(|c| settings.history.is_on() || c.name() != HistoryWorker::NAME);
    if !settings.history.is_on() {
        println!("history storage is off (set DATABASE_URL to keep history in PostgreSQL)");
    }
    for component in components {
        match ChildProcess::spawn(component, &env) {
            Ok(child) => running.push(child),
            Err(e) => {
                stop_all(running, sim, redis).await;
                return Err(e);
            }
        }
    }
    tokio::spawn(announce_when_listening(
        api_addr,
        local_key.expose().to_owned(),
        key_file.display().to_string(),
    ));

    let code = tokio::select! {
        _ = stop.cancelled() => {
            println!("stopping...");
            ExitCode::SUCCESS
        }
        (index, status) = first_exit(&mut running) => {
            let name = running[index].name.clone();
            let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
            eprintln!("{name} exited unexpectedly ({status}); stopping everything");
            ExitCode::FAILURE
        }
    };
    stop_all(running, sim, redis).await;
    let _ = std::fs::remove_file(&key_file);
    println!("stopped.");
    Ok(code)
}

/// The local admin key's file, in the data dir.
pub const LOCAL_KEY_FILE: &str = "admin.key";

/// Writes `content` to a new file at `path`, readable by this user only.
///
/// Whatever is at `path` is unlinked first, so neither an old file's mode (a 0644 `admin.key`
/// kept its mode through a truncating open) nor a symbolic link (whose target a plain open
/// would overwrite) carries over. The file is then created with `create_new` (`O_CREAT |
/// O_EXCL`), which refuses anything that appeared at `path` in between, a symbolic link
/// included: with `O_EXCL` the final component is never followed, so `O_NOFOLLOW` would add
/// nothing (and the mode is set at creation, never after).
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(anyhow::Error::new(e).context("removing the previous file"));
        }
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    Ok(())
}

/// Prints where the API is once it accepts connections, and the local admin key: the key itself
/// only to a terminal, where a person reads it; to a pipe or a file (a log collector, CI
/// output) only the file that holds it, so the key is not copied into logs.
async fn announce_when_listening(api_addr: String, key: String, key_file: String) {
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(&api_addr).await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            eprintln!("the API is not listening on {api_addr} after 30 s; see its log lines above");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!();
    println!("coinbeat is up. API: http://{api_addr}");
    println!("Dashboard: http://{api_addr}/ui (sign in with the local admin key)");
    if std::io::stdout().is_terminal() {
        println!(
            "Local admin key for this run (also in {key_file}; `coinbeat keys new` makes lasting ones):"
        );
        println!("  {key}");
    } else {
        println!(
            "Local admin key for this run: in {key_file} (not printed: the output is not a terminal; `coinbeat keys new` makes lasting ones)"
        );
    }
    println!("  curl http://{api_addr}/v1/prices");
    println!(
        "  curl -X POST http://{api_addr}/v1/tasks -H \"Authorization: Bearer $(cat {key_file})\" \\
         -H 'content-type: application/json' -d '{{\"kind\":\"prices\"}}'"
    );
    println!("  curl http://{api_addr}/v1/queues");
    println!("Ctrl-C stops everything.");
    println!();
}

/// Stops children (in parallel), then the simulator, then Redis.
async fn stop_all(
    running: Vec<ChildProcess>,
    sim: Option<coinbeat_sim::SimHandle>,
    redis: Option<RedisServer>,
) {
    futures::future::join_all(running.into_iter().map(|c| c.stop(STOP_GRACE))).await;
    if let Some(sim) = sim {
        let _ = sim.stop().await;
    }
    if let Some(redis) = redis {
        redis.stop().await;
    }
}

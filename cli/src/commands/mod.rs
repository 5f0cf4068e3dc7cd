//! One module per subcommand; [`dispatch`] routes to them.

mod coins;
mod dead;
mod enqueue;
mod keys;
mod plan;
mod purge;
mod queues;
mod run;
mod schedule;
mod schedules;
mod streams;
mod task;
mod workers;

use std::{path::Path, process::ExitCode};

use anyhow::Context;
use coinbeat_shared::{Settings, keys::Keys, queue::QueueRedis, redis_conn, settings::Secret};
use redis::aio::ConnectionManager;

use crate::args::{Cli, Command};

/// Runs the chosen subcommand.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Keys { command } = cli.command {
        // Making a key needs no settings and no Redis.
        return Ok(keys::keys(command));
    }
    let settings = load_settings(cli.config.as_deref())?;
    match cli.command {
        Command::Up(args) => crate::up::up(settings, cli.config.as_deref(), args).await,
        Command::Enqueue(args) => enqueue::enqueue(&settings, args).await,
        Command::Task { id, json } => task::task(&settings, &id, json).await,
        Command::Queues { json } => queues::queues(&settings, json).await,
        Command::Schedules { json } => schedules::schedules(&settings, json).await,
        Command::Schedule { command } => schedule::schedule(&settings, command).await,
        Command::Workers { json } => workers::workers(&settings, json).await,
        Command::Streams { json } => streams::streams(&settings, json).await,
        Command::Plan { json } => plan::plan_command(&settings, json),
        Command::Coins {
            search,
            limit,
            json,
        } => coins::coins(&settings, search.as_deref(), limit, json).await,
        Command::Purge(args) => purge::purge(&settings, args).await,
        Command::Dead { command } => dead::dead(&settings, command).await,
        Command::Run(args) => run::run(settings, args).await,
        Command::Keys { .. } => {
            unreachable!("handled above")
        }
    }
}

fn load_settings(path: Option<&Path>) -> anyhow::Result<Settings> {
    Settings::load(path).context("loading settings")
}

/// What the ops commands work on: the deployment's Redis, each queue's Redis and the keys.
struct Connected {
    conn: ConnectionManager,
    queues: QueueRedis,
    keys: Keys,
}

/// Connects the ops commands. With no Redis configured, the private one `coinbeat up` keeps in
/// `./.coinbeat` is used when it exists.
async fn connect(settings: &Settings) -> anyhow::Result<Connected> {
    let mut settings = settings.clone();
    if !crate::up::redis_is_configured(&settings) {
        let socket = Path::new(crate::up::DEFAULT_DATA_DIR).join("redis/redis.sock");
        if let Ok(socket) = socket.canonicalize() {
            settings.redis.url = Secret::new(format!("redis+unix://{}", socket.display()));
        }
    }
    let conn = redis_conn::connect(&settings.redis)
        .await
        .context("connecting to redis (set REDIS_URL, or run `coinbeat up` here)")?;
    let queues = redis_conn::connect_queues(&settings, conn.clone())
        .await
        .context("connecting to a queue's own redis (queues.overrides.<queue>.redis_url)")?;
    Ok(Connected {
        conn,
        queues,
        keys: Keys::new(settings.redis.key_prefix.clone()),
    })
}

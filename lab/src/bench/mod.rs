//! `coinbeat-lab bench <scenario>`: measures the system on this machine and writes down the figures.
//!
//! Every scenario starts what it needs in a temporary folder (a private `redis-server`, the
//! simulator in this process, child processes `coinbeat run <component>` of this executable),
//! runs a warm-up that is not counted and then `--runs` measured runs, prints a table of the
//! medians, appends it to BENCHMARKS.md, and stops everything it started: on success, on error
//! (children and Redis are killed when dropped) and on Ctrl-C.
//!
//! - [`queue`]: bulk enqueue and drain of no-op tasks, Redis commands per task, enqueue→start.
//! - [`api`]: the price routes under the built-in load generator ([`load`]), and
//!   `GET /v1/prices/BTC` again with `--stream-clients` idle live streams open
//!   ([`stream_clients`]).
//! - [`refresh`]: one price job until N tracked symbols are fresh, against a slow upstream;
//!   with `--coins`, one pass of every price tier over the whole market ([`refresh_coins`]).
//! - [`tiers`]: `coinbeat up --simulate` watched for minutes: each tier's largest price age,
//!   and the calls and refusals the simulator counted.
//! - [`memory`]: resident memory of each component, idle and under load.
//! - [`search`]: a million finished tasks searched through `GET /v1/tasks`; memory per task.
//! - [`history`]: PostgreSQL snapshot writes, one-year candles, bytes per coin-year.
//! - [`alerts`]: 10,000 price alerts on one coin against one price update.
//! - [`ratelimit`]: worker replicas sharing one upstream limit the simulator enforces too.
//! - [`stream`]: one stream-worker ingesting the simulator's Binance trades at given rates, the
//!   API fanning the prices out to SSE clients ([`stream_clients`]) that time each arrival.
//! - [`machine`], [`report`], [`stats`], [`lab`]: the machine, the table, the arithmetic, and
//!   the processes a scenario runs on.

mod alerts;
mod api;
mod history;
pub(crate) mod lab;
mod load;
pub(crate) mod machine;
mod memory;
mod nginx;
mod queue;
mod ratelimit;
mod refresh;
mod refresh_coins;
mod report;
mod search;
mod stats;
mod stream;
mod stream_clients;
mod tiers;

use std::process::ExitCode;

use anyhow::bail;
use coinbeat_shared::shutdown;

use crate::args::{BenchArgs, Scenario};
use report::Report;

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let stop = shutdown::on_signal();
    let machine = machine::Machine::detect();
    let command = format!(
        "cargo run --release -p coinbeat-lab -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!("{}", machine.describe());
    let scenarios = match args.scenario {
        Scenario::All => vec![
            Scenario::Queue,
            Scenario::Api,
            Scenario::Refresh,
            Scenario::Memory,
            Scenario::Ratelimit,
            Scenario::Stream,
        ],
        one => vec![one],
    };
    for scenario in scenarios {
        let run = async {
            match scenario {
                Scenario::Queue => queue::run(&args).await,
                Scenario::Api => api::run(&args).await,
                Scenario::Tiers => tiers::run(&args).await,
                Scenario::Refresh => refresh::run(&args).await,
                Scenario::Memory => memory::run(&args).await,
                Scenario::Ratelimit => ratelimit::run(&args).await,
                Scenario::Stream => stream::run(&args).await,
                Scenario::Search => search::run(&args).await,
                Scenario::History => history::run(&args).await,
                Scenario::Alerts => alerts::run(&args).await,
                Scenario::All => unreachable!("expanded above"),
            }
        };
        // Dropping the scenario's future drops its lab: children and Redis are killed and the
        // temporary folder is removed.
        let report: Report = tokio::select! {
            r = run => r?,
            () = stop.cancelled() => bail!("interrupted; everything the bench started is stopped"),
        };
        println!();
        println!("{}", report.to_markdown(&machine, &command));
        if !args.no_append {
            report::append(&args.out, &report.to_markdown(&machine, &command))?;
            println!("appended to {}", args.out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

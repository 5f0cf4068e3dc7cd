//! `coinbeat-lab faults [scenario]`: the fault suite. Each scenario starts what it needs in a
//! temporary folder (a private `redis-server`, the simulator in this process, child processes
//! `coinbeat run <component>`), injects one kind of fault with real signals and real restarts,
//! checks the invariants from outside (the probe run ledger, the cache, the API), and stops
//! everything it started. The suite prints one table (scenario, jobs, lost, duplicated,
//! recovery, pass/fail) and writes it into RELIABILITY.md.
//!
//! | scenario | file | fault |
//! |---|---|---|
//! | `kill` | [`kill`] | SIGKILL of one of three worker replicas every 2 s during 10,000 jobs |
//! | `sigterm` | [`sigterm`] | rolling SIGTERM of every worker replica during work |
//! | `pause` | [`pause`] | SIGSTOP of the worker holding a price job past the orphan window |
//! | `redis-aof` | [`redis_restart`] | Redis killed and restarted with `appendonly yes` under load |
//! | `redis-ephemeral` | [`redis_restart`] | Redis killed and restarted empty (no persistence) |
//! | `flood` | [`flood`] | on-demand enqueues far past a queue's cap |
//! | `soak` | [`soak`] | a steady job rate on shortened schedules |
//! | `clock-skew` | [`clock_skew`] | worker replicas a minute behind and ahead (libfaketime), then SIGKILL of the one behind |
//! | `poison` | [`poison`] | task records with their meta or payload deleted before the workers fetch them |
//! | `memory-pressure` | [`memory_pressure`] | a Redis of 8 MB filled until enqueues are refused, then drained; then an evicting policy |
//! | `ack-reset` | [`ack_reset`] | every worker connection reset (`CLIENT KILL`, some during `CLIENT PAUSE WRITE`) while acks are in flight |
//! | `stream` | [`stream`] | the stream-worker holding every shard frozen, its successor SIGKILLed, then a rolling restart |
//!
//! [`ledger`] counts runs of probe tasks; [`outcome`] is the table.

mod ack_reset;
mod clock_skew;
mod flood;
mod kill;
mod ledger;
mod memory_pressure;
mod outcome;
mod pause;
mod poison;
mod redis_restart;
mod sigterm;
mod soak;
mod stream;
mod system;

use std::process::ExitCode;

use anyhow::bail;
use coinbeat_shared::shutdown;

use crate::{
    args::{FaultScenario, FaultsArgs},
    bench::machine::Machine,
};
use outcome::Outcome;

pub async fn faults(args: FaultsArgs) -> anyhow::Result<ExitCode> {
    let stop = shutdown::on_signal();
    let machine = Machine::detect();
    let command = format!(
        "cargo run --release -p coinbeat-lab -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!("{}", machine.describe());
    let scenarios = match args.scenario {
        FaultScenario::All => vec![
            FaultScenario::Kill,
            FaultScenario::Sigterm,
            FaultScenario::Pause,
            FaultScenario::RedisAof,
            FaultScenario::RedisEphemeral,
            FaultScenario::Flood,
            FaultScenario::Soak,
            FaultScenario::ClockSkew,
            FaultScenario::Poison,
            FaultScenario::MemoryPressure,
            FaultScenario::AckReset,
            FaultScenario::Stream,
        ],
        one => vec![one],
    };
    let mut outcomes = Vec::new();
    for scenario in scenarios {
        println!("\n== {} ==", scenario.name());
        let run = async {
            match scenario {
                FaultScenario::Kill => kill::run(&args).await,
                FaultScenario::Sigterm => sigterm::run(&args).await,
                FaultScenario::Pause => pause::run(&args).await,
                FaultScenario::RedisAof => redis_restart::run_aof(&args).await,
                FaultScenario::RedisEphemeral => redis_restart::run_ephemeral(&args).await,
                FaultScenario::Flood => flood::run(&args).await,
                FaultScenario::Soak => soak::run(&args).await,
                FaultScenario::ClockSkew => clock_skew::run().await,
                FaultScenario::Poison => poison::run().await,
                FaultScenario::MemoryPressure => memory_pressure::run().await,
                FaultScenario::AckReset => ack_reset::run().await,
                FaultScenario::Stream => stream::run().await,
                FaultScenario::All => unreachable!("expanded above"),
            }
        };
        // Dropping a scenario's future drops its lab: children and Redis are killed and the
        // temporary folder is removed.
        let outcome = tokio::select! {
            r = run => r.unwrap_or_else(|e| Outcome::error(scenario.name(), &e)),
            () = stop.cancelled() => bail!("interrupted; everything the suite started is stopped"),
        };
        println!("{}", outcome.summary());
        outcomes.push(outcome);
    }
    let table = outcome::to_markdown(&outcomes, &machine, &command);
    println!("\n{table}");
    if !args.no_write {
        outcome::write_latest(&args.out, &table)?;
        println!("written to {}", args.out.display());
    }
    Ok(if outcomes.iter().all(|o| o.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

impl FaultScenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Sigterm => "sigterm",
            Self::Pause => "pause",
            Self::RedisAof => "redis-aof",
            Self::RedisEphemeral => "redis-ephemeral",
            Self::Flood => "flood",
            Self::Soak => "soak",
            Self::ClockSkew => "clock-skew",
            Self::Poison => "poison",
            Self::MemoryPressure => "memory-pressure",
            Self::AckReset => "ack-reset",
            Self::Stream => "stream",
            Self::All => "all",
        }
    }
}

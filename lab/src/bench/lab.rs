//! What a scenario runs on: a temporary folder, a private `redis-server` in it, a Redis
//! connection, and child processes `coinbeat run <component>` pointed at that Redis. Shared by
//! `coinbeat-lab bench` and `coinbeat-lab faults` (which also kills, pauses and restarts them).
//!
//! Dropping a [`Lab`] kills whatever is still running and removes the folder, so an error or a
//! Ctrl-C leaves nothing behind; [`Lab::shutdown`] stops everything gracefully, and
//! [`Lab::run`] (or [`Lab::run_beside`] a simulator from [`start_sim`]) does so after a scenario,
//! whatever it returned.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use coinbeat_shared::{
    Settings,
    jobs::QueueName,
    keys::Keys,
    queue::{Producer, TaskId, TaskInfo, TaskStatus, lookup_task, queue_stats},
    redis_conn,
    settings::Secret,
};
use coinbeat_sim::{SimConfig, SimHandle};
use redis::aio::ConnectionManager;

use coinbeat::component::Component;
use coinbeat::up::{children::ChildProcess, redis_server::RedisServer};

/// How long a child may take to stop after being asked.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// A private Redis and the children running against it.
#[derive(Debug)]
pub struct Lab {
    redis: Option<RedisServer>,
    /// The arguments Redis was started with beyond ours, for restarts.
    redis_args: Vec<String>,
    /// The bench's own settings: the defaults, with the private Redis.
    pub settings: Settings,
    pub conn: ConnectionManager,
    pub keys: Keys,
    redis_url: String,
    /// Each child with its pid (kept: a child's id is gone once it has been waited for).
    children: Vec<(u32, ChildProcess)>,
    // Last, so the folder is removed after Redis (dropped before it) is gone.
    dir: tempfile::TempDir,
}

impl Lab {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_redis(&[]).await
    }

    /// A lab whose Redis runs with `redis_args` added (persistence settings, say); without
    /// any, Redis saves nothing (a big dataset saved every minute would only add noise).
    pub async fn start_with_redis(redis_args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("coinbeat-lab-")
            .tempdir()
            .context("creating a temporary folder")?;
        let redis_args: Vec<String> = if redis_args.is_empty() {
            vec!["--save".into(), String::new()]
        } else {
            redis_args.iter().map(|a| (*a).to_owned()).collect()
        };
        let args: Vec<&str> = redis_args.iter().map(String::as_str).collect();
        let redis = RedisServer::start_with(&dir.path().join("redis"), &args).await?;
        let redis_url = redis.url();
        let mut settings = Settings::default();
        settings.redis.url = Secret::new(redis_url.clone());
        let conn = redis_conn::connect(&settings.redis)
            .await
            .context("connecting to the private redis")?;
        let keys = Keys::new(settings.redis.key_prefix.clone());
        Ok(Self {
            redis: Some(redis),
            redis_args,
            settings,
            conn,
            keys,
            redis_url,
            children: Vec::new(),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn producer(&self) -> Producer {
        Producer::new(
            self.conn.clone(),
            self.keys.clone(),
            self.settings.queues.clone(),
        )
    }

    /// Starts `coinbeat run <component>` against the private Redis, with `env` added; returns
    /// its pid.
    pub fn spawn(&mut self, component: Component, env: &[(&str, String)]) -> anyhow::Result<u32> {
        let mut all: Vec<(String, String)> = vec![
            ("REDIS_URL".into(), self.redis_url.clone()),
            // The children's log lines would bury the table.
            ("RUST_LOG".into(), "warn".into()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let child = ChildProcess::spawn(component, &all)?;
        let pid = child.id().context("the child exited at once")?;
        self.children.push((pid, child));
        Ok(pid)
    }

    /// Waits until every task in `ids` on `queue` is done, looking every `poll`, and returns
    /// their records in order; fails on a failed or dead one, or after `within`.
    pub async fn wait_done(
        &self,
        queue: &QueueName,
        ids: &[TaskId],
        within: Duration,
        poll: Duration,
    ) -> anyhow::Result<Vec<TaskInfo>> {
        let started = Instant::now();
        let mut done = Vec::with_capacity(ids.len());
        for id in ids {
            loop {
                let info = lookup_task(&self.conn, &self.keys, queue, *id)
                    .await?
                    .with_context(|| format!("task {id} vanished"))?;
                match info.status {
                    TaskStatus::Done => {
                        done.push(info);
                        break;
                    }
                    TaskStatus::Dead | TaskStatus::Failed => {
                        bail!("task {id} failed: {}", info.last_error.unwrap_or_default())
                    }
                    _ => {}
                }
                if started.elapsed() > within {
                    bail!("tasks on {queue} not done within {within:?}");
                }
                tokio::time::sleep(poll).await;
            }
        }
        Ok(done)
    }

    /// The pids of the children still held (running, or exited and not yet reaped).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|(pid, _)| *pid).collect()
    }

    /// Sends `signal` (`KILL`, `TERM`, `STOP`, `CONT`, ...) to the child `pid`.
    pub fn signal(&self, pid: u32, signal: &str) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -s {signal} {pid} failed: {status}");
        }
        Ok(())
    }

    /// Waits up to `within` for the child `pid` to exit and forgets it; how long it took and
    /// its status, or `None` when it was still running at the deadline (it is then killed).
    pub async fn reap(
        &mut self,
        pid: u32,
        within: Duration,
    ) -> anyhow::Result<Option<(Duration, std::process::ExitStatus)>> {
        let index = self
            .children
            .iter()
            .position(|(p, _)| *p == pid)
            .with_context(|| format!("no child with pid {pid}"))?;
        let (_, mut child) = self.children.remove(index);
        let started = Instant::now();
        match tokio::time::timeout(within, child.exited()).await {
            Ok(status) => Ok(Some((started.elapsed(), status?))),
            Err(_) => {
                let _ = child.stop(Duration::ZERO).await;
                Ok(None)
            }
        }
    }

    /// Whether every child held is still running (none exited by itself).
    pub fn all_running(&mut self) -> bool {
        self.children
            .iter_mut()
            .all(|(_, child)| child.try_exited().is_none())
    }

    /// Kills Redis (SIGKILL, a crash); [`Self::restart_redis`] starts it again on the same
    /// folder and socket, with what it had persisted.
    pub async fn kill_redis(&mut self) {
        if let Some(redis) = self.redis.take() {
            redis.kill().await;
        }
    }

    /// Starts Redis again (after [`Self::kill_redis`]) with the same folder and arguments.
    pub async fn restart_redis(&mut self) -> anyhow::Result<()> {
        let args: Vec<&str> = self.redis_args.iter().map(String::as_str).collect();
        self.redis = Some(RedisServer::start_with(&self.dir.path().join("redis"), &args).await?);
        Ok(())
    }

    /// Stops every child (closing their standard input), in parallel.
    pub async fn stop_children(&mut self) {
        let children = std::mem::take(&mut self.children);
        futures::future::join_all(children.into_iter().map(|(_, c)| c.stop(STOP_GRACE))).await;
    }

    /// Stops the children, then Redis; the folder goes when `self` is dropped.
    /// Runs `work` in this lab, then shuts the lab down, whatever `work` returned.
    pub async fn run<T>(
        mut self,
        work: impl AsyncFnOnce(&mut Lab) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let result = work(&mut self).await;
        self.shutdown().await;
        result
    }

    /// [`Lab::run`] beside the simulator `sim`, which is stopped once the lab is shut down.
    pub async fn run_beside<T>(
        self,
        sim: SimHandle,
        work: impl AsyncFnOnce(&mut Lab, &SimHandle) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let result = self.run(async |lab| work(lab, &sim).await).await;
        let _ = sim.stop().await;
        result
    }

    pub async fn shutdown(mut self) {
        self.stop_children().await;
        let _: redis::RedisResult<()> = redis::cmd("FLUSHALL")
            .query_async(&mut self.conn.clone())
            .await;
        if let Some(redis) = self.redis.take() {
            redis.stop().await;
        }
    }

    /// Empties Redis (between runs, with no worker running).
    pub async fn flush(&self) -> anyhow::Result<()> {
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Waits until `count` workers of `queue` have registered.
    pub async fn wait_for_workers(&self, queue: &QueueName, count: u64) -> anyhow::Result<()> {
        let settings = self.settings.queues.for_queue(queue);
        let started = Instant::now();
        loop {
            let stats = queue_stats(&self.conn, &self.keys, queue, &settings).await?;
            if stats.live_workers >= count {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "{count} {queue} worker(s) did not register within 30 s (live: {})",
                    stats.live_workers
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `INFO commandstats` as command → (calls, microseconds spent).
    pub async fn command_stats(&self) -> anyhow::Result<BTreeMap<String, (u64, u64)>> {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(parse_command_stats(&info))
    }

    /// The Redis server's CPU time (user + system) so far, in microseconds.
    pub async fn redis_cpu_micros(&self) -> anyhow::Result<u64> {
        let info: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(&mut self.conn.clone())
            .await?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Ok(((field("used_cpu_user:") + field("used_cpu_sys:")) * 1e6) as u64)
    }
}

/// Parses `cmdstat_<name>:calls=N,usec=M,...` lines.
fn parse_command_stats(info: &str) -> BTreeMap<String, (u64, u64)> {
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let mut calls = None;
            let mut usec = None;
            for part in rest.split(',') {
                match part.split_once('=') {
                    Some(("calls", v)) => calls = v.parse().ok(),
                    Some(("usec", v)) => usec = v.parse().ok(),
                    _ => {}
                }
            }
            Some((name.to_owned(), (calls?, usec.unwrap_or(0))))
        })
        .collect()
}

/// Calls and microseconds per command between two snapshots, largest first.
pub fn command_deltas(
    before: &BTreeMap<String, (u64, u64)>,
    after: &BTreeMap<String, (u64, u64)>,
) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = after
        .iter()
        .map(|(name, (calls, usec))| {
            let (c0, u0) = before.get(name).copied().unwrap_or((0, 0));
            (
                name.clone(),
                calls.saturating_sub(c0),
                usec.saturating_sub(u0),
            )
        })
        .filter(|(_, calls, _)| *calls > 0)
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.1));
    out
}

/// A free TCP port on 127.0.0.1.
pub fn free_addr() -> anyhow::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// The environment of an API child (`coinbeat run api`) on `addr` that the bench process loads
/// with `connections` keep-alive connections and `streams` live price streams: the bench is one
/// client, so the per-client limits (requests per second, connections, streams) are lifted to
/// what it opens, or they would measure themselves.
pub fn api_env(
    addr: std::net::SocketAddr,
    connections: usize,
    streams: usize,
) -> Vec<(&'static str, String)> {
    vec![
        ("COINBEAT_API__ADDR", addr.to_string()),
        ("COINBEAT_API__CLIENT_RATE_PER_SEC", "0".into()),
        (
            "COINBEAT_API__MAX_CONNECTIONS_PER_CLIENT",
            (connections + streams + 16).to_string(),
        ),
        (
            "COINBEAT_API__MAX_STREAMS_PER_CLIENT",
            streams.max(1).to_string(),
        ),
        (
            "COINBEAT_API__MAX_STREAM_CLIENTS",
            streams
                .max(Settings::default().api.max_stream_clients)
                .to_string(),
        ),
    ]
}

/// The sum over the processes whose ops ports are `ops` of the samples of counter `family`
/// whose labels contain `label` (`""` for every sample), from their `/metrics`.
pub async fn counter_across(
    ops: &[std::net::SocketAddr],
    family: &str,
    label: &str,
) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for addr in ops {
        wait_listening(*addr).await?;
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await?
            .text()
            .await?;
        total += text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(label))
            .filter(|l| {
                l.strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    Ok(total)
}

/// Waits until something accepts TCP connections at `addr`.
pub async fn wait_listening(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("nothing listens on {addr} after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Writes a settings file into the lab's folder and returns its path.
pub fn write_config(dir: &Path, name: &str, toml: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, toml).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The simulator, started with `config` for a scenario to run beside ([`Lab::run_beside`]).
pub async fn start_sim(config: SimConfig) -> anyhow::Result<SimHandle> {
    coinbeat_sim::start(config)
        .await
        .context("starting the simulator")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_stats_are_read_from_info_lines() {
        let info = "# Commandstats\r\ncmdstat_evalsha:calls=10,usec=200,usec_per_call=20.00,rejected_calls=0,failed_calls=0\r\ncmdstat_get:calls=3,usec=4,usec_per_call=1.33\r\n";
        let stats = parse_command_stats(info);
        assert_eq!(stats["evalsha"], (10, 200));
        assert_eq!(stats["get"], (3, 4));
    }
}

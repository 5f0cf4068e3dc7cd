//! A private `redis-server` for `coinbeat up` when no `REDIS_URL` is given: data and socket in a
//! local folder, so prices survive a restart and nothing listens on the network.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// A running private Redis.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    socket: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` with its data in `dir` and waits until it answers.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        Self::start_with(dir, &[]).await
    }

    /// Like [`Self::start`], with `extra` arguments after ours (later ones win, so
    /// `["--save", ""]` or `["--appendonly", "yes"]` change the persistence).
    pub async fn start_with(dir: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data folder {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        let socket = dir.join("redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocketperm", "700", "--save", "60 1"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C at the terminal reaches `coinbeat up`, which stops
            // the components first and Redis last, not Redis at the same moment.
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => anyhow::anyhow!(
                    "redis-server is not installed. Install it (Debian/Ubuntu: \
                     `sudo apt-get install redis-server`, macOS: `brew install redis`) \
                     or point coinbeat at a running Redis with REDIS_URL=redis://host:6379"
                ),
                _ => anyhow::Error::new(e).context("starting redis-server"),
            })?;
        let mut server = Self { child, socket };
        server.wait_ready(Duration::from_secs(10)).await?;
        Ok(server)
    }

    /// The URL clients connect with.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        let started = Instant::now();
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return Ok(());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "redis-server exited with {status} at start (see {})",
                    self.socket.with_file_name("redis.log").display()
                );
            }
            if started.elapsed() > within {
                bail!("redis-server did not answer within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server at once (SIGKILL: a crash; only what it had persisted survives).
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Saves and stops the server (`SHUTDOWN SAVE`), killing it if it does not stop in time.
    pub async fn stop(mut self) {
        if let Ok(client) = redis::Client::open(self.url())
            && let Ok(mut conn) = client.get_multiplexed_async_connection().await
        {
            let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN")
                .arg("SAVE")
                .query_async(&mut conn)
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

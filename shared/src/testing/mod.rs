//! Test support: a private `redis-server` on a unix socket in a temp dir, stopped on drop.
//!
//! Each test starts its own server (about 10 ms), so tests never share state or ports. When
//! `redis-server` is not installed the helper panics with the command that installs it: a test
//! that needs Redis is never silently skipped.
//!
//! [`TestCluster`]: a private Redis Cluster of such servers, on loopback TCP ports.
//!
//! [`exposition`]: a strict reader of the Prometheus text format, for tests that scrape
//! `/metrics`.
//!
//! [`write_finished`]: finished tasks written straight into a queue's layout, by the
//! thousand, for searches and benchmarks over big queues.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::settings::{Secret, Settings};

mod cluster;
pub mod exposition;
mod finished;
pub use cluster::TestCluster;
pub use exposition::Exposition;
pub use finished::{FinishedTask, write_finished};

/// A running private redis-server.
#[derive(Debug)]
pub struct TestRedis {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Arguments after the test's own (socket, no persistence, the temp dir): a deployment's.
    extra: Vec<String>,
}

impl TestRedis {
    /// Starts a server and waits until it answers PING.
    pub fn start() -> Self {
        Self::start_with(&[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server with `args` after the test's own (its socket and temp dir still win
    /// where `args` say nothing of them), as a deployment's command line would configure it, and
    /// waits until it answers (any reply: a server whose `default` user is off answers NOAUTH).
    /// Says why when `redis-server` refuses the arguments.
    pub fn start_with(args: &[String]) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("coinbeat-redis-")
            .tempdir()
            .expect("create temp dir for redis");
        let mut me = Self {
            dir,
            child: None,
            extra: args.to_vec(),
        };
        me.try_spawn()?;
        Ok(me)
    }

    /// The socket path; stays the same across [`TestRedis::restart`].
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// `redis+unix://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Settings pointing at this server, with a key prefix unique to the calling test.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::default();
        s.redis.url = Secret::new(self.url());
        s.redis.key_prefix = unique_prefix();
        s
    }

    /// Kills the server (SIGKILL: nothing is saved) and starts a fresh, empty one on the same
    /// socket, as a crashed and restarted Redis looks to clients.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Kills the server without starting another.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    fn spawn(&mut self) {
        if let Err(e) = self.try_spawn() {
            panic!("{e}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(self.socket())
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(std::fs::File::create(&log).expect("a log file in the temp dir"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}). The tests need it installed (not running): \
                     `sudo apt-get install -y redis-server` on Debian/Ubuntu, \
                     `brew install redis` on macOS"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = self.url();
        loop {
            let reply = redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            match reply {
                Ok(_) => return Ok(()),
                // An error reply is an answer: the server is up and refused us.
                Err(e) if e.code().is_some() => return Ok(()),
                Err(_) => {}
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!(
                    "redis-server exited ({status}) with the arguments {:?}:\n{}",
                    self.extra,
                    said.trim()
                ));
            }
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How many calls of `command` (lowercase, e.g. `evalsha`) the Redis of `conn` has served
/// since it started (`INFO commandstats`): how a test sees round trips it cannot see otherwise.
pub async fn command_calls(conn: &redis::aio::ConnectionManager, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn.clone())
        .await
        .expect("INFO commandstats");
    let field = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(field.as_str()))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().expect("a count"))
}

/// A loopback port free right now (bound, read and released; another process could take it
/// before the caller does, which on a test machine it practically never does).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!(
        "t{}",
        ulid::Ulid::generate().to_string().to_ascii_lowercase()
    )
}

/// A test's own connection to the Redis of `settings`, and the key builder of its prefix.
pub async fn connect(settings: &Settings) -> (redis::aio::ConnectionManager, crate::keys::Keys) {
    let conn = crate::redis_conn::connect(&settings.redis)
        .await
        .expect("the test's redis-server answers");
    let keys = crate::keys::Keys::new(settings.redis.key_prefix.clone());
    (conn, keys)
}

/// [`connect`], and a producer for the queues of `settings` on that connection.
pub async fn producer(
    settings: &Settings,
) -> (
    redis::aio::ConnectionManager,
    crate::keys::Keys,
    crate::queue::Producer,
) {
    let (conn, keys) = connect(settings).await;
    let producer = crate::queue::Producer::new(conn.clone(), keys.clone(), settings.queues.clone());
    (conn, keys, producer)
}

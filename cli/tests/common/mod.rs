//! What the tests of `coinbeat up` share: a free port, the `up` process (killed with everything
//! it started if a test fails), the process tree under it, and polling the API.

#![allow(dead_code)] // each test crate uses its own part

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use std::os::unix::process::CommandExt;

#[allow(unused_imports)] // not every test crate asks for a port
pub use coinbeat_shared::testing::free_port;
use serde_json::Value;

/// Starts `coinbeat up --simulate` with its data in `data`, the API and the simulator on the given
/// ports, and `env` on top of a clean environment (no `REDIS_URL`, no config file). It runs in
/// its own process group, as at a terminal, so a test can send Ctrl-C to the whole group.
pub fn up_simulate(data: &Path, api_port: u16, sim_port: u16, env: &[(&str, &str)]) -> Up {
    let log = data.join("up.log");
    let child = Command::new(env!("CARGO_BIN_EXE_coinbeat"))
        .args(["up", "--simulate"])
        .args(["--api-addr", &format!("127.0.0.1:{api_port}")])
        .args(["--sim-addr", &format!("127.0.0.1:{sim_port}")])
        .arg("--data-dir")
        .arg(data)
        .env_remove("REDIS_URL")
        .env_remove("COINBEAT_CONFIG")
        .env_remove("ETHERSCAN_API_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .process_group(0)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(data.join("up.err")).unwrap())
        .spawn()
        .unwrap();
    Up { child, log }
}

/// The local admin key `coinbeat up` wrote to `<data>/admin.key` at start.
pub fn local_admin_key(data: &Path) -> String {
    let path = data.join("admin.key");
    let key = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(key.starts_with("cbk_"), "{key:?}");
    key
}

/// The Redis URL of the private server `coinbeat up` runs in `data`.
pub fn private_redis_url(data: &Path) -> String {
    format!(
        "redis+unix://{}",
        data.canonicalize()
            .unwrap()
            .join("redis/redis.sock")
            .display()
    )
}

/// The `coinbeat up` process; killed (with everything it started) if the test fails.
pub struct Up {
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl Up {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What a terminal does on Ctrl-C (SIGINT to the foreground process group), then waits for
    /// `up` to exit: it must exit cleanly within 40 s.
    pub async fn interrupt(&mut self) {
        let status = Command::new("kill")
            .args(["-INT", "--", &format!("-{}", self.child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = wait_for("coinbeat up to exit", Duration::from_secs(40), async || {
            self.child.try_wait().unwrap()
        })
        .await;
        assert!(
            exit.success(),
            "coinbeat up exited with {exit}\n{}",
            self.log()
        );
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- coinbeat up output ----\n{}", self.log());
        }
        // Everything `up` started, including redis-server in its own process group, which a
        // SIGKILL of `up` alone would leave behind.
        let started = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in started {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// Every process whose parent chain leads to `root`.
pub fn descendants(root: u32) -> BTreeSet<u32> {
    let mut parent_of = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        parent_of.insert(pid, ppid);
    }
    let mut found = BTreeSet::from([root]);
    loop {
        let more: Vec<u32> = parent_of
            .iter()
            .filter(|(pid, ppid)| found.contains(ppid) && !found.contains(pid))
            .map(|(pid, _)| *pid)
            .collect();
        if more.is_empty() {
            break;
        }
        found.extend(more);
    }
    found.remove(&root);
    found
}

pub fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'))
        .unwrap_or(false)
}

/// GET `url`: the status and the JSON body (`null` if it is not JSON). Status 0 when nothing
/// answered (the API is still starting), so polling loops can wait for it.
pub async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    get_with(http, url, None).await
}

/// [`get`] with a bearer token (the operational reads, such as `/v1/health`, need `read`).
pub async fn get_with(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let Ok(response) = request.send().await else {
        return (0, Value::Null);
    };
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn wait_for<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

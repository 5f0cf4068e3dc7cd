//! `docker compose --env-file docker/sim.env up`, played without Docker: every coinbeat service
//! of `compose.yaml` in the sim profile runs as a real process of the built binary, with exactly
//! the command line and environment compose would give its container, against a Redis started
//! with compose's own command (its users and password). Only what Docker's network provides is
//! replaced: the service names `redis` and `sim` become this host's addresses (REDIS_URL keeps
//! its user and password), and each process gets its own loopback port instead of its
//! container's.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Stdio},
};

use crate::manifests::{Image, Workload};
use coinbeat_shared::testing::free_port;

/// The running services; every process is killed when this is dropped.
pub struct Stack {
    pub children: Vec<(String, Child)>,
    pub api: String,
    /// `(service, its environment as run)`, for running its health check the same way.
    pub envs: BTreeMap<String, BTreeMap<String, String>>,
    pub logs: PathBuf,
}

impl Stack {
    /// Starts `workloads` (the sim profile's services). `redis_addr` (`host:port`) replaces the
    /// service name's `redis:6379` in their URLs.
    pub fn start(workloads: &[Workload], image: &Image, redis_addr: &str, logs: &Path) -> Self {
        let sim_port = free_port();
        let sim_host = "http://sim:9180";
        let sim_local = format!("http://127.0.0.1:{sim_port}");
        let mut stack = Stack {
            children: Vec::new(),
            api: String::new(),
            envs: BTreeMap::new(),
            logs: logs.to_owned(),
        };
        for w in workloads {
            let service = w.name.clone();
            let binary = &w.argv[0];
            let mut args = w.argv[1..].to_vec();
            if let Some(i) = args.iter().position(|a| a == "--addr") {
                args[i + 1] = format!("127.0.0.1:{sim_port}");
            }
            let mut env: BTreeMap<String, String> = w
                .env
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .replace(sim_host, &sim_local)
                        .replace("@redis:6379", &format!("@{redis_addr}"));
                    (k.clone(), v)
                })
                .collect();
            let port = free_port();
            if binary == "coinbeat-api" {
                env.insert("COINBEAT_API__ADDR".into(), format!("127.0.0.1:{port}"));
                stack.api = format!("http://127.0.0.1:{port}");
            } else {
                env.insert("COINBEAT_OPS__ADDR".into(), format!("127.0.0.1:{port}"));
            }
            let log = std::fs::File::create(logs.join(format!("{service}.log"))).unwrap();
            let child = crate::workspace::command(image, binary)
                .args(&args)
                .env_clear()
                .envs(&env)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {service}: {e}"));
            stack.children.push((service.clone(), child));
            stack.envs.insert(service, env);
        }
        assert!(!stack.api.is_empty(), "the sim profile runs no API");
        stack
    }

    /// Every service's log, for a failure message.
    pub fn logs(&self) -> String {
        self.children
            .iter()
            .map(|(name, _)| {
                let text = std::fs::read_to_string(self.logs.join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "--- {name}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

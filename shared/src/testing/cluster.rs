//! [`TestCluster`]: a private Redis Cluster of primaries on loopback TCP ports, each a
//! [`TestRedis`] started with `--cluster-enabled yes`, joined by `redis-cli --cluster create`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use super::{TestRedis, free_port};

/// A running private Redis Cluster, stopped on drop.
#[derive(Debug)]
pub struct TestCluster {
    nodes: Vec<TestRedis>,
    ports: Vec<u16>,
}

impl TestCluster {
    /// Starts `primaries` nodes (at least 3, as Redis Cluster requires), creates the cluster
    /// (no replicas; the slots split evenly in node order) and waits until every node says
    /// `cluster_state:ok`.
    pub fn start(primaries: usize) -> Self {
        assert!(primaries >= 3, "a Redis Cluster needs at least 3 primaries");
        let mut nodes = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..primaries {
            let (port, bus) = (free_port(), free_port());
            let args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                &bus.to_string(),
                "--cluster-node-timeout",
                "5000",
            ]
            .map(str::to_owned)
            .to_vec();
            nodes.push(TestRedis::start_with(&args).unwrap_or_else(|e| panic!("{e}")));
            ports.push(port);
        }
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs (installed with redis-server: redis-tools)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let me = Self { nodes, ports };
        let deadline = Instant::now() + Duration::from_secs(30);
        for i in 0..primaries {
            loop {
                let info: String = me.query(i, redis::cmd("CLUSTER").arg("INFO"));
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "cluster not ok after 30 s: {info}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        me
    }

    /// `redis+cluster://` URL naming every node.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: a cluster has at least 3 nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Runs `cmd` on node `i` alone (its unix socket; no redirection), blocking.
    pub fn query<T: redis::FromRedisValue>(&self, i: usize, cmd: &redis::Cmd) -> T {
        let client = redis::Client::open(self.nodes[i].url()).expect("node url");
        let mut conn = client.get_connection().expect("node answers");
        cmd.query(&mut conn).expect("node runs the command")
    }

    /// The node that serves `key`'s slot.
    pub fn node_of(&self, key: &str) -> usize {
        let slot: u16 = self.query(0, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key));
        (0..self.nodes.len())
            .find(|&i| self.owns(i, slot))
            .expect("every slot is served")
    }

    /// Whether node `i` serves `slot`.
    fn owns(&self, i: usize, slot: u16) -> bool {
        let slots: Vec<redis::Value> = self.query(i, redis::cmd("CLUSTER").arg("SLOTS"));
        let port = self.ports[i];
        slots.iter().any(|range| {
            let redis::Value::Array(parts) = range else {
                return false;
            };
            let num = |v: &redis::Value| match v {
                redis::Value::Int(n) => Some(*n),
                _ => None,
            };
            let (Some(start), Some(end)) = (num(&parts[0]), num(&parts[1])) else {
                return false;
            };
            let primary_port = match &parts[2] {
                redis::Value::Array(node) => num(&node[1]),
                _ => None,
            };
            (start..=end).contains(&i64::from(slot)) && primary_port == Some(i64::from(port))
        })
    }

    /// Every key stored on node `i` matching `pattern`.
    pub fn keys_on(&self, i: usize, pattern: &str) -> Vec<String> {
        self.query(i, redis::cmd("KEYS").arg(pattern))
    }
}

//! What the whole-system scenarios share: every provider pointed at the simulator, a settings
//! file with a shortened schedule, and a small HTTP client for the API child.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use coinbeat_shared::api_keys::{ApiKey, env_value};
use coinbeat_shared::settings::Role;
use coinbeat_sim::SimHandle;

use crate::bench::lab::{Lab, free_addr, wait_listening, write_config};
use coinbeat::component::Component;

/// The environment that points every provider at `sim` (as `coinbeat up --simulate` does).
pub fn sim_env(sim: &SimHandle) -> Vec<(&'static str, String)> {
    vec![
        ("COINBEAT_PROVIDERS__COINGECKO__BASE_URL", sim.base_url()),
        ("COINBEAT_PROVIDERS__BINANCE__BASE_URL", sim.binance_url()),
        (
            "COINBEAT_PROVIDERS__ETHERSCAN__BASE_URL",
            sim.etherscan_url(),
        ),
        ("COINBEAT_PROVIDERS__COINLORE__BASE_URL", sim.coinlore_url()),
        ("ETHERSCAN_API_KEY", "simulated".into()),
    ]
}

/// Writes a settings file whose schedule is exactly `entries` (name, cron, kind; the built-in
/// entries not named and the price tiers are disabled) plus `extra` TOML, and returns the
/// environment variable that makes a child read it. The faults run entries far faster than a
/// real plan allows, so the plan check only warns.
pub fn schedule_config(
    lab: &Lab,
    entries: &[(&str, &str, &str)],
    extra: &str,
) -> anyhow::Result<(&'static str, String)> {
    let mut toml = String::from("[plan]\nover_limits = \"warn\"\n\n");
    for builtin in coinbeat_shared::settings::default_schedule().keys() {
        if !entries.iter().any(|(name, _, _)| name == builtin) {
            toml.push_str(&format!("[schedule.{builtin}]\nenabled = false\n\n"));
        }
    }
    for tier in coinbeat_shared::settings::tiers::default_tiers().keys() {
        toml.push_str(&format!("[prices.tiers.{tier}]\nenabled = false\n\n"));
    }
    for (name, cron, kind) in entries {
        toml.push_str(&format!(
            "[schedule.{name}]\ncron = \"{cron}\"\nkind = \"{kind}\"\n\n"
        ));
    }
    toml.push_str(extra);
    let path = write_config(lab.dir(), "faults.toml", &toml)?;
    Ok(("COINBEAT_CONFIG", path.display().to_string()))
}

/// The API child and a client for it, with an `enqueue` key of its own.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    key: String,
}

impl Api {
    /// Starts `coinbeat run api` on a free port with `env` and waits until it listens.
    pub async fn spawn(lab: &mut Lab, env: &[(&str, String)]) -> anyhow::Result<(Self, u32)> {
        let addr: SocketAddr = free_addr()?;
        let key = ApiKey::generate();
        let mut all = env.to_vec();
        all.push(("COINBEAT_API__ADDR", addr.to_string()));
        all.push(("COINBEAT_API__KEYS", env_value(&[key.entry(Role::Enqueue)])));
        let pid = lab.spawn(Component::Api, &all)?;
        wait_listening(addr).await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok((
            Self {
                base: format!("http://{addr}"),
                http,
                key: key.expose().to_owned(),
            },
            pid,
        ))
    }

    /// `GET path`: the status (0 when there was no answer at all) and how long it took.
    pub async fn get(&self, path: &str) -> (u16, Duration) {
        let started = Instant::now();
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        let status = match request.send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        };
        (status, started.elapsed())
    }

    /// `POST /v1/tasks` with `body`: the answer's status (0: none), its `Retry-After` header,
    /// and how long it took.
    pub async fn submit(&self, body: &serde_json::Value) -> (u16, Option<String>, Duration) {
        let started = Instant::now();
        match self
            .http
            .post(format!("{}/v1/tasks", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
        {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (response.status().as_u16(), retry_after, started.elapsed())
            }
            Err(_) => (0, None, started.elapsed()),
        }
    }

    /// `GET path` as JSON, when it answers 200.
    pub async fn json(&self, path: &str) -> Option<serde_json::Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .ok()?;
        if response.status() != 200 {
            return None;
        }
        response.json().await.ok()
    }
}

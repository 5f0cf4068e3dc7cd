//! Static checks of the deployment files (`docker/Dockerfile`, `compose.yaml`,
//! `docker/sim.env`, `docker/k8s/`), with no Docker engine and no cluster: each container's
//! command line and environment are run through the real binary's `--check-config`, the queues
//! are matched against the worker registry and the Redis keys the queue layer keeps. The tests
//! after the first change one thing in the files and show that the checks catch it.
//!
//! The binaries run are the workspace's, as `cargo test --workspace` builds them (beside this
//! package's own); run alone (`-p coinbeat`), the other packages' binaries may be stale.

mod checks;
mod compose;
mod k8s;
mod manifests;
mod network;
mod postgres;
mod redis_auth;
mod schema;
mod stack;
mod workspace;

use std::{
    collections::BTreeMap,
    sync::OnceLock,
    time::{Duration, Instant},
};

use coinbeat_shared::testing::TestRedis;

use checks::SimPaths;
use manifests::Sources;

/// The path under the simulator's root at which it plays each provider, read off a real one.
fn sim_paths() -> &'static SimPaths {
    static PATHS: OnceLock<SimPaths> = OnceLock::new();
    PATHS.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let config = coinbeat_sim::SimConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..Default::default()
            };
            let sim = coinbeat_sim::start(config)
                .await
                .expect("the simulator starts");
            let root = sim.root_url();
            let path = |url: String| url.strip_prefix(&root).expect("under the root").to_owned();
            let by_setting = BTreeMap::from([
                (
                    "COINBEAT_PROVIDERS__COINGECKO__BASE_URL",
                    path(sim.base_url()),
                ),
                (
                    "COINBEAT_PROVIDERS__BINANCE__BASE_URL",
                    path(sim.binance_url()),
                ),
                (
                    "COINBEAT_PROVIDERS__ETHERSCAN__BASE_URL",
                    path(sim.etherscan_url()),
                ),
                (
                    "COINBEAT_PROVIDERS__COINLORE__BASE_URL",
                    path(sim.coinlore_url()),
                ),
                (
                    "COINBEAT_PROVIDERS__COINCAP__BASE_URL",
                    path(sim.coincap_rest_url()),
                ),
                (
                    "COINBEAT_PROVIDERS__ALCHEMY__BASE_URL",
                    path(sim.alchemy_url()),
                ),
                (
                    "COINBEAT_PROVIDERS__ALPHAVANTAGE__BASE_URL",
                    path(sim.alphavantage_url()),
                ),
            ]);
            sim.stop().await.expect("the simulator stops");
            SimPaths { by_setting }
        })
    })
}

fn problems(sources: &Sources) -> Vec<String> {
    checks::check(sources, sim_paths())
}

/// Asserts that changing `from` to `to` in `file` makes the checks report a problem
/// containing every one of `expect`.
fn assert_caught(file: &str, from: &str, to: &str, expect: &[&str]) {
    let found = problems(&Sources::from_repo().edited(file, from, to));
    assert!(
        found.iter().any(|p| expect.iter().all(|e| p.contains(e))),
        "changing {from:?} to {to:?} in {file} should report {expect:?}; the checks found:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_deployment_files_pass_every_check() {
    let found = problems(&Sources::from_repo());
    assert!(
        found.is_empty(),
        "problems in the deployment files:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_service_or_deployment_naming_a_binary_that_does_not_exist_is_caught() {
    assert_caught(
        "compose.yaml",
        r#"command: ["price-worker"]"#,
        r#"command: ["prices-worker"]"#,
        &[
            "service price-worker",
            "`prices-worker`",
            "which is no component",
        ],
    );
    assert_caught(
        "docker/k8s/api.yaml",
        r#"command: ["coinbeat-api"]"#,
        r#"command: ["/usr/local/bin/coinbeat-apii"]"#,
        &["Deployment api", "coinbeat-apii", "which is no component"],
    );
    assert_caught(
        "compose.yaml",
        r#"test: ["CMD", "wallet-worker", "healthcheck"]"#,
        r#"test: ["CMD", "wallet-wrker", "healthcheck"]"#,
        &["service wallet-worker", "wallet-wrker"],
    );
    // A binary the workspace builds but the image leaves out.
    assert_caught(
        "docker/Dockerfile",
        "    && ln -s coinbeat stream-worker \\\n    && ln -s coinbeat probe-worker",
        "    && ln -s coinbeat stream-worker",
        &["the image lacks the component probe-worker"],
    );
    // A link to nothing the image holds.
    assert_caught(
        "docker/Dockerfile",
        "ln -s coinbeat market-worker",
        "ln -s coinbeet market-worker",
        &["market-worker links to coinbeet"],
    );
}

#[test]
fn arguments_the_binary_refuses_are_caught() {
    assert_caught(
        "compose.yaml",
        r#"command: ["coinbeat-scheduler"]"#,
        r#"command: ["coinbeat-scheduler", "--beat"]"#,
        &["service scheduler", "--beat"],
    );
    assert_caught(
        "compose.yaml",
        r#"command: ["coinbeat-sim", "--addr", "0.0.0.0:9180"]"#,
        r#"command: ["coinbeat-sim", "--addr", "sim:9180"]"#,
        &["service sim", "sim:9180"],
    );
    assert_caught(
        "compose.yaml",
        r#"test: ["CMD", "price-worker", "healthcheck"]"#,
        r#"test: ["CMD-SHELL", "curl -f http://localhost:9100/healthz"]"#,
        &["service price-worker", "the image has no shell"],
    );
}

#[test]
fn an_environment_variable_that_is_no_setting_is_caught() {
    // Set with a value: the binary itself refuses it.
    assert_caught(
        "docker/k8s/config.yaml",
        "COINBEAT_QUEUES__DEFAULTS__SHUTDOWN_TIMEOUT_SECS",
        "COINBEAT_QUEUES__DEFAULTS__SHUTDOWN_TIMEOUT",
        &["unknown field", "shutdown_timeout"],
    );
    // Passed through from the host without a value.
    assert_caught(
        "compose.yaml",
        "  COINBEAT_PROVIDERS__COINGECKO__PLAN:\n",
        "  COINBEAT_PROVIDERS__COINGECKO__PLANE:\n",
        &["COINBEAT_PROVIDERS__COINGECKO__PLANE names no setting"],
    );
    // A plain name coinbeat never reads.
    assert_caught(
        "compose.yaml",
        "  REDIS_URL: ${REDIS_URL:-redis://coinbeat:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379}\n",
        "  REDIS_ADDR: redis:6379\n",
        &["REDIS_ADDR is not a coinbeat setting"],
    );
    // A value the setting cannot take.
    assert_caught(
        "docker/k8s/config.yaml",
        "COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT: 30/min",
        "COINBEAT_PROVIDERS__COINGECKO__RATE_LIMIT: thirty",
        &["providers.coingecko.rate_limit"],
    );
}

#[test]
fn a_queue_without_its_worker_service_or_scaled_object_is_caught() {
    assert_caught(
        "compose.yaml",
        r#"command: ["wallet-worker"]"#,
        r#"command: ["market-worker"]"#,
        &["compose.yaml: no worker service for the `wallet` queue"],
    );
    assert_caught(
        "docker/k8s/workers.yaml",
        r#"command: ["alerts-worker"]"#,
        r#"command: ["cleanup-worker"]"#,
        &["docker/k8s: no worker Deployment for the `alerts` queue"],
    );
    assert_caught(
        "docker/k8s/autoscaling.yaml",
        "  scaleTargetRef:\n    name: health-worker",
        "  scaleTargetRef:\n    name: health",
        &["no ScaledObject for the `health` queue"],
    );
    assert_caught(
        "docker/k8s/autoscaling.yaml",
        "listName: \"{coinbeat:q:prices}:active\"",
        "listName: prices:scheduled",
        &["ScaledObject price-worker", "{coinbeat:q:prices}:active"],
    );
    assert_caught(
        "docker/k8s/autoscaling.yaml",
        "  minReplicaCount: 1\n  maxReplicaCount: 3",
        "  minReplicaCount: 0\n  maxReplicaCount: 3",
        &["minReplicaCount must be 1"],
    );
    assert_caught(
        "docker/k8s/workers.yaml",
        "value: redis://coinbeat:$(REDIS_PASSWORD)@redis.coinbeat.svc.cluster.local:6379",
        "value: rediss://coinbeat:$(REDIS_PASSWORD)@redis.example.com:6380/2",
        &["reads Redis at", "redis.example.com:6380"],
    );
    // The price queue moved to a Redis of its own, its ScaledObject still on the old one.
    assert_caught(
        "docker/k8s/workers.yaml",
        "value: redis://coinbeat:$(REDIS_PASSWORD)@redis.coinbeat.svc.cluster.local:6379\n",
        "value: redis://coinbeat:$(REDIS_PASSWORD)@redis.coinbeat.svc.cluster.local:6379\n            \
         - name: COINBEAT_QUEUES__OVERRIDES__PRICES__REDIS_URL\n              \
         value: redis://coinbeat:$(REDIS_PASSWORD)@queues.example.com:6379\n",
        &[
            "ScaledObject price-worker",
            "reads Redis at",
            "queues.example.com:6379",
        ],
    );
}

#[test]
fn a_grace_period_shorter_than_the_shutdown_timeout_and_a_missing_probe_are_caught() {
    assert_caught(
        "compose.yaml",
        "  stop_grace_period: 30s",
        "  stop_grace_period: 20s",
        &["20 s of grace", "25 s"],
    );
    assert_caught(
        "docker/k8s/workers.yaml",
        "terminationGracePeriodSeconds: 35",
        "terminationGracePeriodSeconds: 25",
        &["Deployment price-worker", "25 s of grace"],
    );
    assert_caught(
        "docker/k8s/scheduler.yaml",
        "httpGet: { path: /readyz, port: ops }",
        "httpGet: { path: /readyz, port: 9101 }",
        &[
            "Deployment scheduler",
            "readinessProbe asks port Some(9101)",
        ],
    );
    // A worker that calls an upstream must be pointed at the simulator (alerts-worker, which
    // calls none, gets no provider settings).
    assert_caught(
        "compose.yaml",
        "      <<: [*env, *upstreams]\n      ALPHAVANTAGE_API_KEY:\n",
        "      <<: *env\n      ALPHAVANTAGE_API_KEY:\n",
        &[
            "service rates-worker (sim profile)",
            "COINBEAT_PROVIDERS__COINGECKO__BASE_URL does not reach the container",
        ],
    );
    assert_caught(
        "docker/sim.env",
        "COINBEAT_PROVIDERS__BINANCE__BASE_URL=http://sim:9180/binance",
        "COINBEAT_PROVIDERS__BINANCE__BASE_URL=http://sim:9180/api/v3",
        &["docker/sim.env: COINBEAT_PROVIDERS__BINANCE__BASE_URL"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compose_sim_profile_runs_serves_fresh_prices_and_passes_its_health_checks() {
    let sources = Sources::from_repo();
    let image = manifests::image(&sources.dockerfile).expect("the Dockerfile reads");
    let vars = checks::compose_vars(&manifests::env_file(&sources.sim_env).expect("sim.env reads"));
    let mut found = Vec::new();
    let compose = compose::load(&sources.compose, &vars, &image, &mut found);
    assert!(found.is_empty(), "{found:?}");
    let services: Vec<&str> = compose
        .workloads
        .iter()
        .map(|w| w.argv[0].as_str())
        .collect();
    assert!(
        services.contains(&"coinbeat-sim") && services.contains(&"price-worker"),
        "{services:?}"
    );

    // Redis as compose starts it (its users, the password from `.env`), on a loopback port, with
    // one more user the test reads Redis's ACL log as.
    let port = coinbeat_shared::testing::free_port();
    let mut args = compose.redis.clone().expect("compose runs redis").args;
    args.extend(
        [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--user",
            "observer",
            "on",
            ">observer",
            "~*",
            "&*",
            "+@all",
        ]
        .map(String::from),
    );
    let redis = TestRedis::start_with(&args).expect("redis starts with compose's command");
    let logs = tempfile::tempdir().unwrap();
    let stack = stack::Stack::start(
        &compose.workloads,
        &image,
        &format!("127.0.0.1:{port}"),
        logs.path(),
    );
    for (service, env) in stack.envs.iter().filter(|(s, _)| *s != "sim") {
        let url = env.get("REDIS_URL").map_or("", String::as_str);
        assert!(
            url.starts_with(&format!(
                "redis://coinbeat:{}@127.0.0.1:",
                checks::COMPOSE_REDIS_PASSWORD
            )),
            "{service} reaches Redis without the coinbeat user's password: {url}"
        );
    }

    // The beat's first prices job runs at start; the API then serves BTC from the simulator.
    let http = reqwest::Client::new();
    let url = format!("{}/v1/prices/BTC", stack.api);
    let deadline = Instant::now() + Duration::from_secs(60);
    let record = loop {
        if let Ok(r) = http.get(&url).send().await
            && r.status() == 200
        {
            let body: serde_json::Value = r.json().await.expect("JSON");
            if body["stale"] == false {
                break body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no fresh BTC price from {url} in 60 s:\n{}",
            stack.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(record["source"], "coingecko", "{record}");

    // Each service's health check, run as compose runs it (the same binary, argv and env).
    for w in &compose.workloads {
        let service = w.name.as_str();
        for probe in &w.probes {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let out = workspace::command(&image, &probe[0])
                    .args(&probe[1..])
                    .env_clear()
                    .envs(&stack.envs[service])
                    .output()
                    .expect("the health check runs");
                if out.status.success() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{service}: `{}` keeps failing: {}\n{}",
                    probe.join(" "),
                    String::from_utf8_lossy(&out.stderr),
                    stack.logs()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // Not one command coinbeat sent was refused, and every login succeeded: Redis's ACL log
    // records both.
    let mut observer = redis::Client::open(format!("redis://observer:observer@127.0.0.1:{port}"))
        .and_then(|c| c.get_connection())
        .expect("the observer logs in");
    let denied: Vec<redis::Value> = redis::cmd("ACL")
        .arg("LOG")
        .query(&mut observer)
        .expect("ACL LOG");
    assert!(
        denied.is_empty(),
        "Redis refused coinbeat (ACL LOG): {denied:?}\n{}",
        stack.logs()
    );
    drop(redis);
}

#[test]
fn a_misspelled_or_misplaced_field_is_caught() {
    assert_caught(
        "docker/k8s/autoscaling.yaml",
        "  pollingInterval: 15",
        "  pollingIntervall: 15",
        &["ScaledObject price-worker: spec: unknown field `pollingIntervall`"],
    );
    assert_caught(
        "docker/k8s/autoscaling.yaml",
        "        listLength: \"64\"",
        "        listLenght: \"64\"",
        &["redis trigger metadata: unknown field `listLenght`"],
    );
    // The grace period belongs to the pod, not the container.
    assert_caught(
        "docker/k8s/workers.yaml",
        "          image: coinbeat\n          command: [\"price-worker\"]",
        "          image: coinbeat\n          terminationGracePeriodSeconds: 35\n          command: [\"price-worker\"]",
        &["container price-worker: unknown field `terminationGracePeriodSeconds`"],
    );
    assert_caught(
        "compose.yaml",
        "  stop_grace_period: 30s",
        "  stop_grace_periode: 30s",
        &["unknown field `stop_grace_periode`"],
    );
    // PostgreSQL's volumes, hook and Service.
    assert_caught(
        "docker/k8s/postgres.yaml",
        "{ name: tmp, mountPath: /tmp }",
        "{ name: tmp, mountpath: /tmp }",
        &["container postgres: volumeMount: unknown field `mountpath`"],
    );
    assert_caught(
        "docker/k8s/postgres.yaml",
        "{ name: tmp, emptyDir: {} }",
        "{ name: tmp, emptydir: {} }",
        &["StatefulSet postgres: volume tmp: unknown field `emptydir`"],
    );
    assert_caught(
        "docker/k8s/postgres.yaml",
        "            preStop:\n",
        "            preStopp:\n",
        &["container postgres: lifecycle: unknown field `preStopp`"],
    );
    assert_caught(
        "docker/k8s/postgres.yaml",
        "port: 5432, targetPort: postgres }",
        "port: 5432, targetport: postgres }",
        &["Service postgres: port: unknown field `targetport`"],
    );
}

#[test]
fn a_redis_without_a_memory_cap_and_a_foreign_image_are_caught() {
    assert_caught(
        "docker/k8s/redis.yaml",
        "            - --maxmemory\n            - 700mb\n",
        "",
        &["StatefulSet redis", "redis lacks `--maxmemory `"],
    );
    assert_caught(
        "docker/k8s/redis.yaml",
        "            - 700mb\n",
        "            - 2gb\n",
        &["is not below the memory limit"],
    );
    assert_caught(
        "compose.yaml",
        "      - --maxmemory\n",
        "      - --maxmemory-samples\n",
        &["redis command lacks `--maxmemory `"],
    );
    assert_caught(
        "docker/k8s/scheduler.yaml",
        "          image: coinbeat",
        "          image: ghcr.io/someone/coinbeat:1.0",
        &["Deployment scheduler", "neither the coinbeat image"],
    );
}

#[test]
fn an_open_or_overprivileged_redis_is_caught() {
    // The default user left on: anyone who connects may do anything.
    assert_caught(
        "compose.yaml",
        "      - default\n      - reset\n",
        "      - default\n      - \"on\"\n      - nopass\n      - \"~*\"\n      - \"+@all\"\n",
        &[
            "compose.yaml: service redis",
            "without a password",
            "`SET coinbeat:check 1` is allowed",
        ],
    );
    // The coinbeat user with every command.
    assert_caught(
        "compose.yaml",
        "      - \"-@dangerous\"\n",
        "",
        &["user coinbeat", "`CONFIG SET maxmemory 1` is allowed"],
    );
    assert_caught(
        "docker/k8s/redis.yaml",
        "            - \"-@dangerous\"\n",
        "",
        &["redis.yaml", "user coinbeat", "`FLUSHALL` is allowed"],
    );
    // A command coinbeat sends, denied.
    assert_caught(
        "compose.yaml",
        "      - \"+info\"\n",
        "",
        &["user coinbeat may not run `INFO`, which coinbeat sends"],
    );
    // The services without the password.
    assert_caught(
        "compose.yaml",
        "redis://coinbeat:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379",
        "redis://redis:6379",
        &["no coinbeat service names a user and password"],
    );
    // KEDA's user allowed to write.
    assert_caught(
        "docker/k8s/redis.yaml",
        "            - \"-@all\"\n",
        "            - \"+@all\"\n",
        &["user keda may run `LPUSH {coinbeat:q:"],
    );
    // A command line redis-server refuses.
    assert_caught(
        "docker/k8s/redis.yaml",
        "            - \"+config|get\"\n",
        "            - \"+config|gett\"\n",
        &["redis-server exited"],
    );
}

#[test]
fn a_pod_open_to_the_cluster_or_holding_more_than_it_needs_is_caught() {
    assert_caught(
        "docker/k8s/networkpolicy.yaml",
        "            matchLabels: { app.kubernetes.io/part-of: coinbeat }",
        "            matchLabels: { app.kubernetes.io/part-of: other }",
        &[
            "StatefulSet redis: no NetworkPolicy admits",
            "Deployment price-worker",
        ],
    );
    assert_caught(
        "docker/k8s/networkpolicy.yaml",
        "    - from:\n        - podSelector:\n            matchLabels: { app.kubernetes.io/part-of: coinbeat }",
        "    - from:\n        - podSelector: {}",
        &["StatefulSet redis: a NetworkPolicy admits"],
    );
    assert_caught(
        "docker/k8s/networkpolicy.yaml",
        "          podSelector:\n            matchLabels: { app.kubernetes.io/name: prometheus }\n",
        "",
        &["Deployment scheduler: the ops port 9100 is admitted from"],
    );
    // A pod no ingress policy selects.
    assert_caught(
        "docker/k8s/networkpolicy.yaml",
        "    matchLabels: { app.kubernetes.io/name: api }\n  policyTypes: [Ingress]",
        "    matchLabels: { app.kubernetes.io/name: apii }\n  policyTypes: [Ingress]",
        &["Deployment api: the API's port 8080 is not admitted from outside"],
    );
    assert_caught(
        "docker/k8s/workers.yaml",
        "      automountServiceAccountToken: false\n",
        "",
        &["Deployment price-worker: pod spec lacks `automountServiceAccountToken: false`"],
    );
    assert_caught(
        "docker/k8s/redis.yaml",
        "            readOnlyRootFilesystem: true\n",
        "",
        &["StatefulSet redis, container redis: lacks `readOnlyRootFilesystem: true`"],
    );
    assert_caught(
        "compose.yaml",
        "  read_only: true\n  cap_drop: [ALL]\n",
        "  cap_drop: [ALL]\n",
        &["service api: not `read_only: true`"],
    );
    assert_caught(
        "compose.yaml",
        "  cap_drop: [ALL]\n  security_opt: [\"no-new-privileges:true\"]\n",
        "",
        &["service price-worker: does not `cap_drop: [ALL]`"],
    );
    assert_caught(
        "compose.yaml",
        "  security_opt: [\"no-new-privileges:true\"]\n",
        "",
        &["service scheduler: lacks `security_opt"],
    );
    // A provider key given to a worker that never calls that provider.
    assert_caught(
        "docker/k8s/workers.yaml",
        "            - secretRef: { name: coinbeat-etherscan }\n",
        "            - secretRef: { name: coinbeat-coingecko }\n",
        &[
            "Deployment wallet-worker",
            "receives the secret COINGECKO_API_KEY, which wallet-worker does not use",
        ],
    );
    // The alerts worker calls webhooks only: no provider key.
    assert_caught(
        "compose.yaml",
        "      COINBEAT_ALERTS__REMEMBER_DELIVERED_SECS:\n",
        "      COINBEAT_ALERTS__REMEMBER_DELIVERED_SECS:\n      COINGECKO_API_KEY:\n",
        &[
            "service alerts-worker",
            "receives the secret COINGECKO_API_KEY, which alerts-worker does not use",
        ],
    );
    assert_caught(
        "compose.yaml",
        "  COINBEAT_REDIS__KEY_PREFIX:\n",
        "  COINBEAT_REDIS__KEY_PREFIX:\n  ETHERSCAN_API_KEY:\n",
        &["service scheduler: receives the secret ETHERSCAN_API_KEY"],
    );
    assert_caught(
        "docker/k8s/api.yaml",
        "            - secretRef: { name: coinbeat-api }\n",
        "            - secretRef: { name: coinbeat-api }\n            - secretRef: { name: coinbeat-etherscan }\n",
        &["Deployment api", "receives the secret ETHERSCAN_API_KEY"],
    );
    // Misspelled fields of the new blocks.
    assert_caught(
        "docker/k8s/networkpolicy.yaml",
        "  policyTypes: [Ingress]\n  ingress:",
        "  policyType: [Ingress]\n  ingress:",
        &["NetworkPolicy redis: spec: unknown field `policyType`"],
    );
    assert_caught(
        "compose.yaml",
        "pids: 256 }",
        "pid: 256 }",
        &["deploy.resources.limits: unknown field `pid`"],
    );
}

#[test]
fn a_bundled_store_on_a_floating_image_or_not_as_its_own_user_is_caught() {
    assert_caught(
        "docker/k8s/redis.yaml",
        "          image: redis:7-alpine",
        "          image: redis:latest",
        &[
            "StatefulSet redis",
            "\"redis:latest\" does not pin a major version",
        ],
    );
    assert_caught(
        "compose.yaml",
        "    user: \"999:1000\"\n",
        "",
        &[
            "service redis: runs as the image's default, root",
            "`user: \"999:1000\"`",
        ],
    );
    assert_caught(
        "docker/k8s/redis.yaml",
        "            - { name: data, mountPath: /data }\n",
        "",
        &[
            "StatefulSet redis",
            "/data is not on a volumeClaimTemplate's volume",
        ],
    );
}

#[test]
fn a_postgres_statefulset_that_is_writable_floating_or_keeps_its_data_badly_is_caught() {
    let file = "docker/k8s/postgres.yaml";
    let at = "StatefulSet postgres, container postgres";
    assert_caught(
        file,
        "            readOnlyRootFilesystem: true\n",
        "",
        &[&format!("{at}: lacks `readOnlyRootFilesystem: true`")],
    );
    assert_caught(
        file,
        "        runAsUser: 70\n",
        "        runAsUser: 999\n",
        &[
            at,
            "runs as uid 999, gid 70, not as the postgres:16-alpine image's own user",
        ],
    );
    assert_caught(
        file,
        "        runAsNonRoot: true\n",
        "",
        &["StatefulSet postgres: pod securityContext lacks `runAsNonRoot: true`"],
    );
    assert_caught(
        file,
        "          image: postgres:16-alpine",
        "          image: postgres",
        &[at, "\"postgres\" does not pin a major version"],
    );
    assert_caught(
        file,
        "          image: postgres:16-alpine",
        "          image: bitnami/postgresql:16",
        &[
            at,
            "neither the coinbeat image",
            "nor a bundled store's (redis, postgres)",
        ],
    );
    assert_caught(
        file,
        "  replicas: 1\n",
        "  replicas: 2\n",
        &[at, "runs as a StatefulSet with `replicas: 1`"],
    );
    // The data on the volume's root (lost+found, owned by root), or on no claim at all.
    assert_caught(
        file,
        "              value: /var/lib/postgresql/data/pgdata\n",
        "              value: /var/lib/postgresql/data\n",
        &[at, "PGDATA is the volume's root /var/lib/postgresql/data"],
    );
    assert_caught(
        file,
        "              value: /var/lib/postgresql/data/pgdata\n",
        "              value: /srv/pgdata\n",
        &[
            at,
            "PGDATA /srv/pgdata is not on a volumeClaimTemplate's volume",
        ],
    );
    // Nowhere to put its socket on the read-only root.
    assert_caught(
        file,
        "            - { name: run, mountPath: /var/run/postgresql }\n",
        "",
        &[
            at,
            "/var/run/postgresql is not writable on the read-only root",
        ],
    );
    // The password in the manifest, or nobody asked for one.
    assert_caught(
        file,
        "              valueFrom: { secretKeyRef: { name: coinbeat-postgres-password, key: password } }",
        "              value: postgres",
        &[at, "POSTGRES_PASSWORD is written in the manifest"],
    );
    assert_caught(
        file,
        "            - name: PGDATA\n",
        "            - name: POSTGRES_HOST_AUTH_METHOD\n              value: trust\n            - name: PGDATA\n",
        &[at, "authentication `trust`"],
    );
    assert_caught(
        file,
        "          readinessProbe:\n            exec: { command: [\"pg_isready\"",
        "          readinessProbe:\n            exec: { command: [\"psql\"",
        &[at, "its readinessProbe does not run `pg_isready`"],
    );
    assert_caught(
        file,
        "          resources:\n            requests: { cpu: 100m, memory: 256Mi }\n            limits: { memory: 1Gi }\n",
        "          resources:\n            requests: { cpu: 100m, memory: 256Mi }\n",
        &[at, "no resources.limits.memory"],
    );
    // Its name reaches nothing.
    assert_caught(
        file,
        "port: 5432, targetPort: postgres }",
        "port: 5432, targetPort: 5433 }",
        &["StatefulSet postgres: Service postgres forwards no port to postgres (5432)"],
    );
}

#[test]
fn a_postgres_open_to_pods_that_do_not_use_it_or_closed_to_one_that_does_is_caught() {
    let file = "docker/k8s/networkpolicy.yaml";
    assert_caught(
        file,
        "            matchLabels: { app.kubernetes.io/name: history-worker }",
        "            matchLabels: { app.kubernetes.io/part-of: coinbeat }",
        &[
            "StatefulSet postgres: a NetworkPolicy admits",
            "Deployment price-worker, which does not use PostgreSQL, to port 5432",
        ],
    );
    assert_caught(
        file,
        "        - podSelector:\n            matchLabels: { app.kubernetes.io/name: scheduler }\n",
        "",
        &["StatefulSet postgres: no NetworkPolicy admits scheduler.yaml: Deployment scheduler"],
    );
    assert_caught(
        file,
        "        - podSelector:\n            matchLabels: { app.kubernetes.io/name: scheduler }\n",
        "        - namespaceSelector: {}\n",
        &[
            "StatefulSet postgres: a NetworkPolicy admits",
            "only the pods that use it",
        ],
    );
    assert_caught(
        file,
        "    matchLabels: { app.kubernetes.io/name: postgres }\n  policyTypes: [Ingress]",
        "    matchLabels: { app.kubernetes.io/name: postgress }\n  policyTypes: [Ingress]",
        &[
            "StatefulSet postgres: no NetworkPolicy admits",
            "Deployment history-worker",
        ],
    );
}

#[test]
fn a_database_url_that_does_not_reach_the_bundled_postgres_is_caught() {
    assert_caught(
        "docker/k8s/config.yaml",
        "  DATABASE_URL: \"\"",
        "  DATABASE_URL: postgres://postgres:secret@postgres.coinbeat.svc.cluster.local:5432/coinbeat",
        &[
            "Deployment history-worker, container history-worker: DATABASE_URL",
            "logs in as \"postgres\", but postgres.yaml: StatefulSet postgres creates the user \"coinbeat\"",
        ],
    );
    assert_caught(
        "docker/k8s/config.yaml",
        "  DATABASE_URL: \"\"",
        "  DATABASE_URL: postgres://coinbeat:secret@postgres:5432/coinbeat",
        &[
            "Deployment api, container api: DATABASE_URL",
            "the password in its URL is not the one postgres.yaml: StatefulSet postgres is given",
        ],
    );
    // A managed PostgreSQL is not the bundled one's business.
    let managed = problems(&Sources::from_repo().edited(
        "docker/k8s/config.yaml",
        "  DATABASE_URL: \"\"",
        "  DATABASE_URL: postgres://history:secret@db.example.com:5432/history",
    ));
    assert!(managed.is_empty(), "{managed:#?}");
    // compose.yaml's own advice, against its own server.
    assert_caught(
        "compose.yaml",
        "      POSTGRES_USER: coinbeat\n",
        "      POSTGRES_USER: history\n",
        &[
            "compose.yaml: the DATABASE_URL its comments give",
            "logs in as \"coinbeat\", but compose.yaml: service postgres creates the user \"history\"",
        ],
    );
    assert_caught(
        "compose.yaml",
        "      POSTGRES_DB: coinbeat\n",
        "      POSTGRES_DB: history\n",
        &[
            "opens the database \"coinbeat\", but compose.yaml: service postgres creates \"history\"",
        ],
    );
    // Left out, the database is named after the user: the URL still holds.
    let defaulted =
        problems(&Sources::from_repo().edited("compose.yaml", "      POSTGRES_DB: coinbeat\n", ""));
    assert!(defaulted.is_empty(), "{defaulted:#?}");
}

#[test]
fn a_compose_postgres_that_starts_unasked_or_defaults_its_password_is_caught() {
    assert_caught(
        "compose.yaml",
        "    profiles: [postgres]\n",
        "",
        &["compose.yaml: service postgres (PostgreSQL) runs without the `postgres` profile"],
    );
    assert_caught(
        "compose.yaml",
        "${POSTGRES_PASSWORD:-}",
        "${POSTGRES_PASSWORD:-postgres}",
        &["service postgres: POSTGRES_PASSWORD is \"postgres\" without one in .env"],
    );
    // Required the way REDIS_PASSWORD is: every `docker compose up` would stop without it,
    // with the profile or not.
    assert_caught(
        "compose.yaml",
        "${POSTGRES_PASSWORD:-}",
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}",
        &["service postgres: required variable POSTGRES_PASSWORD is missing a value"],
    );
    assert_caught(
        "compose.yaml",
        "      POSTGRES_DB: coinbeat\n",
        "      POSTGRES_DB: coinbeat\n      POSTGRES_HOST_AUTH_METHOD: trust\n",
        &["service postgres: authentication `trust`"],
    );
    // The services that use it, not waiting for it, or not starting without it.
    assert_caught(
        "compose.yaml",
        "    command: [\"history-worker\"]\n    depends_on: *postgres-client\n",
        "    command: [\"history-worker\"]\n",
        &["service history-worker: uses PostgreSQL but does not wait for service postgres"],
    );
    assert_caught(
        "compose.yaml",
        "    condition: service_healthy\n    required: false\n",
        "    condition: service_healthy\n",
        &[
            "service scheduler: depends on service postgres without `required: false`",
            "would not start without the `postgres` profile",
        ],
    );
}

#[test]
fn a_compose_postgres_that_is_writable_published_or_loses_its_data_is_caught() {
    let at = "compose.yaml: service postgres";
    assert_caught(
        "compose.yaml",
        "    user: \"70:70\"\n    read_only: true\n",
        "    user: \"70:70\"\n",
        &[&format!("{at}: not `read_only: true`")],
    );
    assert_caught(
        "compose.yaml",
        "    user: \"70:70\"\n",
        "    user: \"999:999\"\n",
        &[&format!(
            "{at}: runs as 999:999, not as the image's own user (`user: \"70:70\"`)"
        )],
    );
    assert_caught(
        "compose.yaml",
        "      - /var/run/postgresql\n      - /tmp\n",
        "      - /var/run/postgresql\n",
        &[&format!("{at}: /tmp is not writable on the read-only root")],
    );
    assert_caught(
        "compose.yaml",
        "      - postgres-data:/var/lib/postgresql/data\n",
        "      - /var/lib/postgresql/data\n",
        &[&format!(
            "{at}: PGDATA /var/lib/postgresql/data is not on a named volume"
        )],
    );
    assert_caught(
        "compose.yaml",
        "    profiles: [postgres]\n",
        "    profiles: [postgres]\n    ports:\n      - \"5432:5432\"\n",
        &[&format!(
            "{at}: publishes postgres beyond this host's loopback"
        )],
    );
    assert_caught(
        "compose.yaml",
        "    image: postgres:16-alpine\n",
        "    image: postgres:latest\n",
        &[&format!(
            "{at}: image \"postgres:latest\" does not pin a major version"
        )],
    );
    assert_caught(
        "compose.yaml",
        "    image: postgres:16-alpine\n",
        "    image: bitnami/postgresql:16\n",
        &[&format!(
            "{at}: image \"bitnami/postgresql:16\" is neither the coinbeat image nor a bundled store's"
        )],
    );
    assert_caught(
        "compose.yaml",
        "[\"CMD\", \"pg_isready\", \"-h\"",
        "[\"CMD\", \"psql\", \"-h\"",
        &[&format!("{at}: its healthcheck does not ask `pg_isready`")],
    );
    assert_caught(
        "compose.yaml",
        "        limits: { cpus: \"1\", memory: 1G, pids: 256 }\n",
        "        limits: { cpus: \"1\", memory: 1G }\n",
        &[&format!("{at}: no deploy.resources.limits.pids")],
    );
}

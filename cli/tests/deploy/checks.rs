//! The checks: every container runs a binary the workspace builds and the image holds, with
//! arguments and settings that binary accepts (it is run with `--check-config`); every queue
//! has a worker service, a Deployment and a ScaledObject that watches that queue's keys; the
//! compose simulator profile reaches the simulator at its real paths; the bundled stores
//! (Redis, and PostgreSQL under its profile) run hardened and are reached as they are set up.

use std::collections::{BTreeMap, BTreeSet};

use coinbeat::component::Component;
use coinbeat_shared::{
    Settings,
    jobs::QueueName,
    keys::Keys,
    ratelimit::Provider,
    settings::{ENV_ALIASES, QueueSettings},
};

use crate::{
    compose::{self, Compose},
    k8s::{self, K8s},
    manifests::{self, Image, Sources, Workload},
    network, postgres,
    redis_auth::{self, Login},
    workspace,
};

/// The REDIS_PASSWORD the checks give compose, as `.env` would (compose refuses to start
/// without one).
pub const COMPOSE_REDIS_PASSWORD: &str = "deploy0check0compose0password";

/// The interpolation variables of compose run with `extra` (an env file's) and `.env`'s
/// required REDIS_PASSWORD.
pub fn compose_vars(extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut vars = extra.clone();
    vars.insert("REDIS_PASSWORD".into(), COMPOSE_REDIS_PASSWORD.into());
    vars
}

/// The POSTGRES_PASSWORD the checks give compose with the `postgres` profile, as `.env` would.
pub const COMPOSE_POSTGRES_PASSWORD: &str = "deploy0check0postgres0password";

/// The interpolation variables of compose run with the `postgres` profile, with `.env`'s
/// POSTGRES_PASSWORD or without one.
fn postgres_vars(with_password: bool) -> BTreeMap<String, String> {
    let mut vars = compose_vars(&BTreeMap::new());
    vars.insert("COMPOSE_PROFILES".into(), postgres::PROFILE.into());
    if with_password {
        vars.insert("POSTGRES_PASSWORD".into(), COMPOSE_POSTGRES_PASSWORD.into());
    }
    vars
}

/// Where the image puts the binaries (`COPY --from=builder /out/ /usr/local/bin/`).
const BIN_DIR: &str = "/usr/local/bin";
/// Read by the logging setup, not the settings.
const OTHER_ENV: [&str; 1] = ["RUST_LOG"];

/// Every problem found in `sources`, sorted; empty when the deployment files are right.
pub fn check(sources: &Sources, sim_paths: &SimPaths) -> Vec<String> {
    let mut problems = Vec::new();
    let image = manifests::image(&sources.dockerfile).unwrap_or_else(|e| {
        problems.push(format!("docker/Dockerfile: {e}"));
        Image::default()
    });
    check_image(&image, &mut problems);

    let sim_vars = manifests::env_file(&sources.sim_env).unwrap_or_else(|e| {
        problems.push(format!("docker/sim.env: {e}"));
        BTreeMap::new()
    });
    check_password_required(&sources.compose, &image, &mut problems);
    let plain = compose::load(
        &sources.compose,
        &compose_vars(&BTreeMap::new()),
        &image,
        &mut problems,
    );
    let sim = compose::load(
        &sources.compose,
        &compose_vars(&sim_vars),
        &image,
        &mut problems,
    );
    compose::check_redis(&plain, &mut problems);
    compose::check_hardening(&plain, &mut problems);
    compose::check_stores(&plain, &mut problems);
    check_sim_profile(&plain, &sim, &sim_vars, sim_paths, &mut problems);

    // The `postgres` profile, its clients given the DATABASE_URL compose.yaml tells the user to
    // set (in `.env`, interpolated there as here).
    let mut pg_vars = postgres_vars(true);
    let documented: Vec<String> = postgres::documented_urls(&sources.compose)
        .iter()
        .filter_map(|url| {
            manifests::interpolate(url, &pg_vars)
                .map_err(|e| problems.push(format!("compose.yaml: DATABASE_URL {url:?}: {e}")))
                .ok()
        })
        .collect();
    if let Some(url) = documented.first() {
        pg_vars.insert("DATABASE_URL".into(), url.clone());
    }
    let with_postgres = compose::load(&sources.compose, &pg_vars, &image, &mut problems);
    let without_password = compose::load(
        &sources.compose,
        &postgres_vars(false),
        &image,
        &mut problems,
    );
    compose::check_hardening(&with_postgres, &mut problems);
    compose::check_stores(&with_postgres, &mut problems);
    postgres::check_compose(
        &plain,
        &with_postgres,
        &without_password,
        &documented,
        &mut problems,
    );
    let postgres_clients: Vec<&Workload> = with_postgres
        .workloads
        .iter()
        .filter(|w| w.env.contains_key("DATABASE_URL"))
        .collect();

    let k8s = k8s::load(&sources.k8s, &sources.kustomization, &image, &mut problems);
    check_redis_users(&plain, &k8s, &mut problems);
    for server in &k8s.postgres {
        postgres::check_clients(server, &k8s.workloads, &mut problems);
    }
    network::check(&k8s, &mut problems);

    for w in plain
        .workloads
        .iter()
        .chain(&sim.workloads)
        .chain(postgres_clients.iter().copied())
        .chain(&k8s.workloads)
    {
        check_workload(w, &image, &mut problems);
    }
    check_queues(&plain, &k8s, &mut problems);
    for w in plain
        .workloads
        .iter()
        .chain(postgres_clients.iter().copied())
        .chain(&k8s.workloads)
    {
        check_secrets(w, &mut problems);
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The URL paths at which the simulator serves each provider, read off a running simulator.
#[derive(Debug, Clone)]
pub struct SimPaths {
    pub by_setting: BTreeMap<&'static str, String>,
}

fn check_image(image: &Image, problems: &mut Vec<String>) {
    let bins = workspace::binaries();
    for stage in ["builder", "runtime"] {
        if !image.stages.iter().any(|s| s == stage) {
            problems.push(format!("docker/Dockerfile: no `{stage}` stage"));
        }
    }
    let cooks = image
        .runs
        .iter()
        .any(|(stage, run)| stage == "builder" && run.contains("cargo chef cook"));
    if !cooks {
        problems.push("docker/Dockerfile: dependencies are not built in their own cached layer (cargo chef cook)".into());
    }
    for (name, target) in &image.links {
        if !image.binaries.contains(target) || image.links.contains_key(target) {
            problems.push(format!(
                "docker/Dockerfile: {name} links to {target}, which is no binary copied into the image"
            ));
        }
    }
    let copied: BTreeSet<String> = image.binaries.iter().cloned().collect();
    for missing in bins.difference(&copied) {
        problems.push(format!(
            "docker/Dockerfile: the image lacks the component {missing}"
        ));
    }
    for extra in copied.difference(bins) {
        problems.push(format!(
            "docker/Dockerfile: copies {extra}, which is no component"
        ));
    }
    match image.user.as_deref() {
        None => problems.push(
            "docker/Dockerfile: the runtime stage sets no USER (it would run as root)".into(),
        ),
        Some(u) if u == "root" || u.split(':').next() == Some("0") => {
            problems.push("docker/Dockerfile: the runtime USER is root".into())
        }
        Some(_) => {}
    }
}

fn check_workload(w: &Workload, image: &Image, problems: &mut Vec<String>) {
    let Some(binary) = binary_of(w, &w.argv, image, problems) else {
        return;
    };
    check_env_names(w, problems);
    let env = env_to_run(w, problems);
    let service = binary != "coinbeat";
    if service && let Err(e) = workspace::run(image, &binary, &with_check(&w.argv[1..]), &env) {
        problems.push(format!("{}: {e}", w.origin));
    }
    for probe in &w.probes {
        let Some(probe_binary) = binary_of(w, probe, image, problems) else {
            continue;
        };
        if let Err(e) = workspace::run(image, &probe_binary, &with_check(&probe[1..]), &env) {
            problems.push(format!("{}: health check: {e}", w.origin));
        }
    }
    if binary == "coinbeat-sim" || !service {
        return;
    }

    // Health: the platform must be able to ask, at the port the process listens on.
    let (setting, default) = if binary == "coinbeat-api" {
        ("COINBEAT_API__ADDR", Settings::default().api.addr)
    } else {
        ("COINBEAT_OPS__ADDR", Settings::default().ops.addr)
    };
    let addr = env.get(setting).cloned().unwrap_or(default);
    let port: Option<u16> = addr.rsplit(':').next().and_then(|p| p.parse().ok());
    let is_k8s = w.deployment.is_some();
    if is_k8s {
        for kind in ["livenessProbe", "readinessProbe"] {
            if !w.http_probes.iter().any(|(k, _, _)| k == kind) {
                problems.push(format!("{}: no {kind}", w.origin));
            }
        }
        for (kind, path, probe_port) in &w.http_probes {
            if *probe_port != port || port == Some(0) {
                problems.push(format!(
                    "{}: {kind} asks port {probe_port:?}, but the process listens on {setting} = {addr}",
                    w.origin
                ));
            }
            if path != "/healthz" && path != "/readyz" {
                problems.push(format!(
                    "{}: {kind} asks {path}; the process serves /healthz and /readyz",
                    w.origin
                ));
            }
        }
    } else if w.probes.is_empty() {
        problems.push(format!(
            "{}: no healthcheck (`[\"CMD\", \"{binary}\", \"healthcheck\"]`)",
            w.origin
        ));
    } else if port == Some(0) {
        problems.push(format!(
            "{}: its health check cannot find {setting} = {addr} (port 0)",
            w.origin
        ));
    }

    // A worker must get the whole of its shutdown timeout before SIGKILL.
    if let Some(queue) = queue_of_binary(&binary) {
        let timeout = shutdown_timeout(&queue, &env);
        // Docker stops after 10 s unless told; Kubernetes after 30 s.
        let grace = w.grace_secs.unwrap_or(if is_k8s { 30 } else { 10 });
        if grace <= timeout {
            problems.push(format!(
                "{}: {grace} s of grace before SIGKILL is not longer than the queue's \
                 shutdown timeout of {timeout} s",
                w.origin
            ));
        }
    }
}

/// The binary `argv` runs: it must be one the workspace builds and the image holds.
fn binary_of(
    w: &Workload,
    argv: &[String],
    image: &Image,
    problems: &mut Vec<String>,
) -> Option<String> {
    let first = argv.first()?;
    let (dir, name) = match first.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, first.as_str()),
    };
    let bins = workspace::binaries();
    if !bins.contains(name) {
        let known: Vec<&str> = bins.iter().map(String::as_str).collect();
        problems.push(format!(
            "{}: runs `{first}`, which is no component (there are: {})",
            w.origin,
            known.join(", ")
        ));
        return None;
    }
    if !image.binaries.iter().any(|b| b == name) {
        problems.push(format!(
            "{}: runs {name}, which the image does not contain",
            w.origin
        ));
    }
    if dir.is_some_and(|d| d != BIN_DIR) {
        problems.push(format!(
            "{}: runs {first}, but the image keeps its binaries in {BIN_DIR}",
            w.origin
        ));
    }
    Some(name.to_owned())
}

fn with_check(args: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    args.push("--check-config".into());
    args
}

/// Every variable named is one coinbeat reads: a `COINBEAT_*` setting (its value is checked
/// by the binary itself), a plain alias such as `REDIS_URL`, or `RUST_LOG`.
fn check_env_names(w: &Workload, problems: &mut Vec<String>) {
    for name in w.env.keys().chain(&w.passthrough) {
        if w.expansion_inputs.contains(name) {
            continue; // only there to be expanded into another value
        }
        let known = name.starts_with("COINBEAT_")
            || ENV_ALIASES.iter().any(|(alias, _)| alias == name)
            || OTHER_ENV.contains(&name.as_str());
        if !known {
            problems.push(format!(
                "{}: environment {name} is not a coinbeat setting",
                w.origin
            ));
        }
    }
}

/// The environment the container would have. A variable passed through from the host but not
/// set there is given its default value, so that the binary still checks that it names a
/// setting.
fn env_to_run(w: &Workload, problems: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut env = w.env.clone();
    for name in &w.passthrough {
        let path = ENV_ALIASES
            .iter()
            .find(|(alias, _)| alias == name)
            .map(|(_, path)| (*path).to_owned())
            .or_else(|| {
                name.strip_prefix("COINBEAT_")
                    .map(|p| p.to_ascii_lowercase().replace("__", "."))
            });
        let Some(path) = path else {
            continue; // RUST_LOG and the like: nothing to check
        };
        match default_value(&path) {
            Some(value) => {
                env.insert(name.clone(), value);
            }
            None => problems.push(format!(
                "{}: environment {name} names no setting ({path})",
                w.origin
            )),
        }
    }
    env
}

/// The built-in default of the setting at `path`, as an environment value.
fn default_value(path: &str) -> Option<String> {
    let defaults = serde_json::to_value(Settings::default()).expect("settings serialize");
    let mut node = &defaults;
    for segment in path.split('.') {
        node = node.as_object()?.get(segment)?;
    }
    Some(match node {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// The queue's shutdown timeout under `env` (its override, else the default, else built in).
fn shutdown_timeout(queue: &QueueName, env: &BTreeMap<String, String>) -> u64 {
    let q = queue.as_str().to_ascii_uppercase();
    [
        format!("COINBEAT_QUEUES__OVERRIDES__{q}__SHUTDOWN_TIMEOUT_SECS"),
        "COINBEAT_QUEUES__DEFAULTS__SHUTDOWN_TIMEOUT_SECS".to_owned(),
    ]
    .iter()
    .find_map(|k| env.get(k)?.parse().ok())
    .unwrap_or(QueueSettings::default().shutdown_timeout_secs)
}

fn check_queues(compose: &Compose, k8s: &K8s, problems: &mut Vec<String>) {
    let runs = |w: &Workload| w.binary().map(str::to_owned);
    let queue_of = |w: &Workload| runs(w).and_then(|b| queue_of_binary(&b));
    // Every queue a product component executes: a new queue worker in `Component` needs its
    // service and Deployment before these checks pass.
    for queue in Component::product().filter_map(Component::queue) {
        if !compose
            .workloads
            .iter()
            .any(|w| queue_of(w).as_ref() == Some(&queue))
        {
            problems.push(format!(
                "compose.yaml: no worker service for the `{queue}` queue"
            ));
        }
        let Some(worker) = k8s
            .workloads
            .iter()
            .find(|w| queue_of(w).as_ref() == Some(&queue))
        else {
            problems.push(format!(
                "docker/k8s: no worker Deployment for the `{queue}` queue"
            ));
            continue;
        };
        let deployment = worker
            .deployment
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let Some(scaled) = k8s.scaled.iter().find(|s| s.target == deployment) else {
            problems.push(format!(
                "docker/k8s: no ScaledObject for the `{queue}` queue (Deployment {deployment})"
            ));
            continue;
        };
        check_scaled_object(scaled, &queue, worker, k8s, problems);
    }
    for s in &k8s.scaled {
        if !k8s
            .objects
            .contains(&("Deployment".to_owned(), s.target.clone()))
        {
            problems.push(format!(
                "{}: scales Deployment {:?}, which is not defined",
                s.origin, s.target
            ));
        }
    }
    for (what, binary) in [
        ("the API", "coinbeat-api"),
        ("the scheduler", "coinbeat-scheduler"),
    ] {
        if !compose
            .workloads
            .iter()
            .any(|w| runs(w).as_deref() == Some(binary))
        {
            problems.push(format!("compose.yaml: no service runs {what} ({binary})"));
        }
        if !k8s
            .workloads
            .iter()
            .any(|w| runs(w).as_deref() == Some(binary))
        {
            problems.push(format!("docker/k8s: no Deployment runs {what} ({binary})"));
        }
    }
    for w in k8s
        .workloads
        .iter()
        .filter(|w| runs(w).as_deref() == Some("coinbeat-scheduler"))
    {
        let d = w
            .deployment
            .as_ref()
            .expect("k8s workloads have a deployment");
        if d.replicas != Some(1) || d.strategy.as_deref() != Some("Recreate") {
            problems.push(format!(
                "{}: the scheduler runs as `replicas: 1` with `strategy: Recreate`",
                w.origin
            ));
        }
    }
}

/// The ScaledObject watches this queue's waiting tasks in the Redis the worker uses, and never
/// scales the queue's last worker away.
fn check_scaled_object(
    s: &manifests::ScaledObject,
    queue: &QueueName,
    worker: &Workload,
    k8s: &K8s,
    problems: &mut Vec<String>,
) {
    if s.min != Some(1) {
        problems.push(format!(
            "{}: minReplicaCount must be 1 (a live worker promotes delayed tasks and recovers a dead one's)",
            s.origin
        ));
    }
    if !matches!((s.min, s.max), (Some(min), Some(max)) if max >= min.max(1)) {
        problems.push(format!(
            "{}: maxReplicaCount must be set and at least minReplicaCount",
            s.origin
        ));
    }
    let prefix = worker
        .env
        .get("COINBEAT_REDIS__KEY_PREFIX")
        .cloned()
        .unwrap_or_else(|| Settings::default().redis.key_prefix);
    let list = Keys::new(prefix).queue(queue).active();
    // A queue with a Redis of its own is read there (KEDA's `address` must follow it).
    let own = format!(
        "COINBEAT_QUEUES__OVERRIDES__{}__REDIS_URL",
        queue.as_str().to_ascii_uppercase()
    );
    let url = worker
        .env
        .get(&own)
        .or_else(|| worker.env.get("REDIS_URL"))
        .or_else(|| worker.env.get("COINBEAT_REDIS__URL"))
        .cloned()
        .unwrap_or_else(|| Settings::default().redis.url.expose().to_owned());
    let (address, database) = redis_address(&url);
    let Some(trigger) = s
        .triggers
        .iter()
        .find(|t| t.kind == "redis" && t.list_name.as_deref() == Some(list.as_str()))
    else {
        problems.push(format!(
            "{}: no redis trigger on the queue's ready list {list}",
            s.origin
        ));
        return;
    };
    if trigger.address.as_deref() != Some(address.as_str()) {
        problems.push(format!(
            "{}: reads Redis at {:?}, but the worker's queue is at {address}",
            s.origin, trigger.address
        ));
    }
    if trigger.database.as_deref().unwrap_or("0") != database {
        problems.push(format!(
            "{}: databaseIndex differs from the worker's REDIS_URL ({database})",
            s.origin
        ));
    }
    match &trigger.auth {
        Some(auth) if k8s.trigger_auths.contains(auth) => {}
        other => problems.push(format!(
            "{}: authenticationRef {other:?} names no TriggerAuthentication",
            s.origin
        )),
    }
}

/// `host:port` and database of a `redis://` or `rediss://` URL.
fn redis_address(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let (host, db) = rest.split_once('/').unwrap_or((rest, "0"));
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    };
    let db = if db.is_empty() { "0" } else { db };
    (host, db.to_owned())
}

/// `docker/sim.env` turns the `sim` profile on and points every provider at the simulator
/// service, at the paths the simulator really serves, in every worker that calls a provider;
/// without it, no simulator runs.
fn check_sim_profile(
    plain: &Compose,
    sim: &Compose,
    vars: &BTreeMap<String, String>,
    paths: &SimPaths,
    problems: &mut Vec<String>,
) {
    let runs_sim = |c: &Compose| {
        c.workloads
            .iter()
            .find(|w| w.binary() == Some("coinbeat-sim"))
            .cloned()
    };
    if runs_sim(plain).is_some() {
        problems.push("compose.yaml: the simulator runs without the `sim` profile".into());
    }
    let Some(service) = runs_sim(sim) else {
        problems.push("compose.yaml with docker/sim.env: no service runs coinbeat-sim".into());
        return;
    };
    let name = &service.name;
    let port = service
        .argv
        .windows(2)
        .find(|w| w[0] == "--addr")
        .and_then(|w| w[1].rsplit(':').next().map(str::to_owned))
        .unwrap_or_else(|| "9180".into());
    for (setting, path) in &paths.by_setting {
        let expected = format!("http://{name}:{port}{path}");
        match vars.get(*setting) {
            Some(v) if v.trim_end_matches('/') == expected => {}
            other => problems.push(format!(
                "docker/sim.env: {setting} is {other:?}, expected {expected:?}"
            )),
        }
    }
    if !vars.contains_key("ETHERSCAN_API_KEY") {
        problems.push("docker/sim.env: no ETHERSCAN_API_KEY (wallet jobs refuse to call Etherscan without one)".into());
    }
    // Every queue worker but those that call no upstream (alerts-worker calls only webhooks).
    for w in &sim.workloads {
        let calls_upstreams = w
            .binary()
            .and_then(|b| b.parse::<Component>().ok())
            .is_some_and(|c| c.queue().is_some() && !c.spec().providers.is_empty());
        if calls_upstreams {
            for setting in paths.by_setting.keys() {
                if !w.env.contains_key(*setting) {
                    problems.push(format!(
                        "{} (sim profile): {setting} does not reach the container",
                        w.origin
                    ));
                }
            }
        }
    }
}

/// Compose must refuse to start without REDIS_PASSWORD: there is no default password.
fn check_password_required(text: &str, image: &Image, problems: &mut Vec<String>) {
    let mut found = Vec::new();
    compose::load(text, &BTreeMap::new(), image, &mut found);
    if !found.iter().any(|p| p.contains("REDIS_PASSWORD")) {
        problems.push(
            "compose.yaml: starts without REDIS_PASSWORD; it must be required \
             (`${REDIS_PASSWORD:?...}`), never defaulted"
                .into(),
        );
    }
}

/// `(user, password)` of a `redis://user:password@host...` URL, percent-decoded.
fn login(url: &str) -> Option<Login> {
    let rest = url.split_once("://")?.1;
    let (userinfo, _) = rest.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':')?;
    Some(Login {
        user: percent_decode(user),
        password: percent_decode(password),
    })
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The login the services use for the bundled Redis, the service called `redis` (or
/// `redis.<namespace>...` in Kubernetes) in their URL.
fn services_login(workloads: &[Workload]) -> Option<Login> {
    workloads
        .iter()
        .filter_map(|w| w.env.get("REDIS_URL"))
        .find(|url| {
            let (address, _) = redis_address(url);
            let host = address
                .rsplit_once(':')
                .map_or(address.as_str(), |(h, _)| h);
            host == "redis" || host.starts_with("redis.")
        })
        .and_then(|url| login(url))
}

/// The bundled Redis of compose and of Kubernetes, started for real with its arguments: it
/// refuses anonymous clients, lets coinbeat's user do what coinbeat does and nothing an
/// attacker needs, and lets KEDA's user read the queue lengths only.
fn check_redis_users(compose: &Compose, k8s: &K8s, problems: &mut Vec<String>) {
    if let Some(server) = &compose.redis {
        let login = services_login(&compose.workloads);
        redis_auth::check(server, login.as_ref(), None, problems);
    }
    for server in &k8s.redis {
        let login = services_login(&k8s.workloads);
        let lists: Vec<String> = k8s
            .scaled
            .iter()
            .flat_map(|s| &s.triggers)
            .filter_map(|t| t.list_name.clone())
            .collect();
        let keda = k8s
            .scaled
            .iter()
            .flat_map(|s| &s.triggers)
            .find_map(|t| k8s.trigger_auth_params.get(t.auth.as_ref()?))
            .map(|params| Login {
                user: params.get("username").cloned().unwrap_or("default".into()),
                password: params.get("password").cloned().unwrap_or_default(),
            });
        redis_auth::check(
            server,
            login.as_ref(),
            keda.as_ref().map(|k| (k, lists.as_slice())),
            problems,
        );
    }
}

/// Settings that are secrets: a workload gets only those it uses.
const SECRETS: [&str; 14] = [
    "ALCHEMY_API_KEY",
    "COINBEAT_PROVIDERS__ALCHEMY__API_KEY",
    "ALPHAVANTAGE_API_KEY",
    "COINBEAT_PROVIDERS__ALPHAVANTAGE__API_KEY",
    "DATABASE_URL",
    "COINBEAT_HISTORY__DATABASE_URL",
    "COINCAP_API_KEY",
    "COINBEAT_PROVIDERS__COINCAP__API_KEY",
    "COINGECKO_API_KEY",
    "COINBEAT_PROVIDERS__COINGECKO__API_KEY",
    "ETHERSCAN_API_KEY",
    "COINBEAT_PROVIDERS__ETHERSCAN__API_KEY",
    "COINBEAT_API__KEYS",
    "COINBEAT_API__AUTH__JWT__SECRET",
];

/// The secrets the binary uses: Redis's (REDIS_URL, and the password it is built from), the key
/// of each upstream it calls (its component's `providers`; CoinCap's stream for the stream-worker), the
/// API's keys for the API, PostgreSQL's URL for those that use the history.
fn secrets_needed(binary: &str) -> BTreeSet<&'static str> {
    let mut needed = BTreeSet::from(["REDIS_URL", "REDIS_PASSWORD", "COINBEAT_REDIS__URL"]);
    let providers = binary
        .parse::<Component>()
        .map_or(&[][..], |c| c.spec().providers);
    for provider in providers {
        match provider {
            Provider::CoinGecko => needed.extend([
                "COINGECKO_API_KEY",
                "COINBEAT_PROVIDERS__COINGECKO__API_KEY",
            ]),
            Provider::Etherscan => needed.extend([
                "ETHERSCAN_API_KEY",
                "COINBEAT_PROVIDERS__ETHERSCAN__API_KEY",
            ]),
            Provider::Alchemy => {
                needed.extend(["ALCHEMY_API_KEY", "COINBEAT_PROVIDERS__ALCHEMY__API_KEY"])
            }
            Provider::CoinCap => {
                needed.extend(["COINCAP_API_KEY", "COINBEAT_PROVIDERS__COINCAP__API_KEY"])
            }
            Provider::AlphaVantage => needed.extend([
                "ALPHAVANTAGE_API_KEY",
                "COINBEAT_PROVIDERS__ALPHAVANTAGE__API_KEY",
            ]),
            Provider::Binance | Provider::CoinLore => {}
        }
    }
    if binary == "coinbeat-api" {
        needed.extend(["COINBEAT_API__KEYS", "COINBEAT_API__AUTH__JWT__SECRET"]);
    }
    // PostgreSQL: the history worker writes it, the API reads it, the beat schedules the
    // history entries only when it is set.
    if ["history-worker", "coinbeat-api", "coinbeat-scheduler"].contains(&binary) {
        needed.extend(["DATABASE_URL", "COINBEAT_HISTORY__DATABASE_URL"]);
    }
    if binary == "stream-worker" {
        needed.extend(["COINCAP_API_KEY", "COINBEAT_PROVIDERS__COINCAP__API_KEY"]);
    }
    needed
}

/// No workload receives a secret it does not use: every secret setting it is given, and
/// (Kubernetes) every variable it takes from a Secret, is one its binary needs.
fn check_secrets(w: &Workload, problems: &mut Vec<String>) {
    let Some(binary) = w.binary() else { return };
    let needed = secrets_needed(binary);
    let given = w
        .env
        .keys()
        .chain(&w.passthrough)
        .filter(|n| SECRETS.contains(&n.as_str()))
        .chain(&w.from_secrets);
    for name in given {
        if !needed.contains(name.as_str()) {
            problems.push(format!(
                "{}: receives the secret {name}, which {binary} does not use",
                w.origin
            ));
        }
    }
}

/// The queue the component called `binary` executes, if it is a queue worker.
fn queue_of_binary(binary: &str) -> Option<coinbeat_shared::jobs::QueueName> {
    binary.parse::<Component>().ok()?.queue()
}

//! `compose.yaml` as compose would run it, for one interpolation environment (none, or
//! `docker/sim.env`): the coinbeat services as [`Workload`]s, and the checks only compose has.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::manifests::{
    self, Image, RedisServer, Store, Workload, argv, duration_secs, interpolate, scalar,
};

/// The services compose would start, by name, with their parsed definitions.
pub struct Compose {
    pub services: BTreeMap<String, Value>,
    pub workloads: Vec<Workload>,
    /// The `redis` service's server, its command interpolated.
    pub redis: Option<RedisServer>,
}

/// Reads `compose.yaml` with `vars` as the interpolation (and pass-through) environment. The
/// services of a profile count only when `COMPOSE_PROFILES` in `vars` names it.
pub fn load(
    text: &str,
    vars: &BTreeMap<String, String>,
    image: &Image,
    problems: &mut Vec<String>,
) -> Compose {
    let mut compose = Compose {
        services: BTreeMap::new(),
        workloads: Vec::new(),
        redis: None,
    };
    let doc = match manifests::yaml(text, "compose.yaml") {
        Ok(doc) => doc,
        Err(e) => {
            problems.push(e);
            return compose;
        }
    };
    crate::schema::compose(&doc, problems);
    let active: Vec<&str> = vars
        .get("COMPOSE_PROFILES")
        .map(|p| p.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let Some(services) = doc["services"].as_mapping() else {
        problems.push("compose.yaml has no services".into());
        return compose;
    };
    // Ours: built from docker/Dockerfile, or tagged with the image such a service builds.
    let ours_image = services
        .values()
        .find(|s| !s["build"].is_null())
        .and_then(|s| scalar(&s["image"]))
        .map(|i| interpolate(&i, vars).unwrap_or(i));
    for (name, service) in services {
        let name = scalar(name).unwrap_or_default();
        let mut service = service.clone();
        if let Err(e) = interpolate_all(&mut service, vars) {
            problems.push(format!("compose.yaml: service {name}: {e}"));
            continue;
        }
        let profiles: Vec<String> = service["profiles"]
            .as_sequence()
            .map(|p| p.iter().filter_map(scalar).collect())
            .unwrap_or_default();
        if !profiles.is_empty() && !profiles.iter().any(|p| active.contains(&p.as_str())) {
            continue;
        }
        let ours = !service["build"].is_null()
            || (ours_image.is_some() && scalar(&service["image"]) == ours_image);
        if ours {
            compose
                .workloads
                .push(workload(&name, &service, vars, image, problems));
        }
        compose.services.insert(name, service);
    }
    if let Some(redis) = compose.services.get("redis") {
        let args = argv(&redis["command"]).unwrap_or_default();
        compose.redis = Some(RedisServer {
            origin: "compose.yaml: service redis".into(),
            // The image's entrypoint runs a command starting with redis-server as it is.
            args: args.into_iter().skip(1).collect(),
        });
    }
    compose
}

fn workload(
    name: &str,
    service: &Value,
    vars: &BTreeMap<String, String>,
    image: &Image,
    problems: &mut Vec<String>,
) -> Workload {
    let origin = format!("compose.yaml: service {name}");
    let command = service["command"].clone();
    let args = if command.is_null() {
        problems.push(format!("{origin}: no `command` (say which binary it runs)"));
        Vec::new()
    } else {
        argv(&command).unwrap_or_else(|| {
            problems.push(format!("{origin}: `command` is not a list of strings"));
            Vec::new()
        })
    };
    let mut env = image.env.clone();
    let mut passthrough = Vec::new();
    match &service["environment"] {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = scalar(k).unwrap_or_default();
                match (v, vars.get(&k)) {
                    (Value::Null, Some(from_env)) => {
                        env.insert(k, from_env.clone());
                    }
                    (Value::Null, None) => passthrough.push(k),
                    (v, _) => match scalar(v) {
                        Some(v) => {
                            env.insert(k, v);
                        }
                        None => problems.push(format!("{origin}: environment {k} is not a scalar")),
                    },
                }
            }
        }
        Value::Sequence(items) => {
            for item in items.iter().filter_map(scalar) {
                match item.split_once('=') {
                    Some((k, v)) => {
                        env.insert(k.to_owned(), v.to_owned());
                    }
                    None => match vars.get(&item) {
                        Some(v) => {
                            env.insert(item, v.clone());
                        }
                        None => passthrough.push(item),
                    },
                }
            }
        }
        Value::Null => {}
        _ => problems.push(format!(
            "{origin}: `environment` is neither a map nor a list"
        )),
    }
    let mut probes = Vec::new();
    let test = &service["healthcheck"]["test"];
    if !test.is_null() {
        match argv(test).as_deref() {
            Some([cmd, rest @ ..]) if cmd == "CMD" => probes.push(rest.to_vec()),
            _ => problems.push(format!(
                "{origin}: healthcheck.test must be [\"CMD\", <binary>, ...]: the image has no shell"
            )),
        }
    }
    let grace_secs = scalar(&service["stop_grace_period"]).and_then(|d| duration_secs(&d));
    Workload {
        origin,
        name: name.to_owned(),
        argv: args,
        env,
        passthrough,
        probes,
        grace_secs,
        http_probes: Vec::new(),
        deployment: None,
        from_secrets: Default::default(),
        expansion_inputs: Default::default(),
    }
}

/// The variables a service sets itself (its `environment`, interpolated; names passed through
/// from the host without a value are left out).
pub fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(scalar)
            .filter_map(|item| {
                let (k, v) = item.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Interpolates every string scalar of `v` in place.
fn interpolate_all(v: &mut Value, vars: &BTreeMap<String, String>) -> Result<(), String> {
    match v {
        Value::String(s) => *s = interpolate(s, vars)?,
        Value::Sequence(items) => {
            for item in items {
                interpolate_all(item, vars)?;
            }
        }
        Value::Mapping(m) => {
            for (_, item) in m.iter_mut() {
                interpolate_all(item, vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Redis keeps what it acknowledged (AOF), never evicts queue keys, and reports its health;
/// every coinbeat service waits for that health before starting.
pub fn check_redis(compose: &Compose, problems: &mut Vec<String>) {
    let Some(redis) = compose.services.get("redis") else {
        problems.push("compose.yaml: no `redis` service".into());
        return;
    };
    let command = argv(&redis["command"]).unwrap_or_default().join(" ");
    for (needle, why) in manifests::REDIS_FLAGS {
        if !command.contains(needle) {
            problems.push(format!(
                "compose.yaml: redis command lacks `{needle}` ({why})"
            ));
        }
    }
    if redis["healthcheck"]["test"].is_null() {
        problems.push("compose.yaml: redis has no healthcheck".into());
    }
    for w in &compose.workloads {
        let service = &compose.services[&w.name];
        let condition = scalar(&service["depends_on"]["redis"]["condition"]);
        if service["profiles"].is_null() && condition.as_deref() != Some("service_healthy") {
            problems.push(format!(
                "{}: must depend on redis with `condition: service_healthy`",
                w.origin
            ));
        }
    }
}

/// The services that run a bundled store's image (Redis, PostgreSQL), by name.
fn stores(compose: &Compose) -> impl Iterator<Item = (&String, &Value, Store)> {
    compose.services.iter().filter_map(|(name, service)| {
        let store = Store::of_image(&scalar(&service["image"])?)?;
        Some((name, service, store))
    })
}

/// Every service runs coinbeat's image or a bundled store's official one, pinned to a major
/// version, as the image's own user (non-root, owner of what the image prepared), published
/// (if at all) on this host's loopback only, its health asked with the store's own client.
pub fn check_stores(compose: &Compose, problems: &mut Vec<String>) {
    for (name, service) in &compose.services {
        let ours = compose.workloads.iter().any(|w| &w.name == name);
        let image = scalar(&service["image"]).unwrap_or_default();
        if !ours && Store::of_image(&image).is_none() {
            let known: Vec<&str> = Store::ALL.iter().map(|s| s.name()).collect();
            problems.push(format!(
                "compose.yaml: service {name}: image {image:?} is neither the coinbeat image nor \
                 a bundled store's ({})",
                known.join(", ")
            ));
        }
    }
    for (name, service, store) in stores(compose) {
        let origin = format!("compose.yaml: service {name}");
        let image = scalar(&service["image"]).unwrap_or_default();
        if !manifests::pins_major_version(&image) {
            problems.push(format!(
                "{origin}: image {image:?} does not pin a major version (`{}:<major>-alpine`)",
                store.name()
            ));
        }
        let (uid, gid) = store.user(&image);
        let user = scalar(&service["user"]);
        if user.as_deref() != Some(&format!("{uid}:{gid}")) {
            problems.push(format!(
                "{origin}: runs as {}, not as the image's own user (`user: \"{uid}:{gid}\"`)",
                user.as_deref().unwrap_or("the image's default, root")
            ));
        }
        for port in service["ports"].as_sequence().into_iter().flatten() {
            let host_ip = match port {
                Value::Mapping(_) => scalar(&port["host_ip"]),
                // `[HOST_IP:]HOST_PORT:CONTAINER_PORT`, read from the right (an IPv6 address
                // holds colons).
                other => scalar(other).and_then(|p| {
                    let parts: Vec<&str> = p.rsplitn(3, ':').collect();
                    (parts.len() == 3).then(|| parts[2].to_owned())
                }),
            };
            if !matches!(host_ip.as_deref(), Some("127.0.0.1" | "::1" | "[::1]")) {
                problems.push(format!(
                    "{origin}: publishes {} beyond this host's loopback ({port:?}): only the \
                     services on the compose network need it",
                    store.name()
                ));
            }
        }
        let test = argv(&service["healthcheck"]["test"]).unwrap_or_default();
        if test.first().map(String::as_str) != Some("CMD")
            || test.get(1).map(String::as_str) != Some(store.probe())
        {
            problems.push(format!(
                "{origin}: its healthcheck does not ask `{}` ([\"CMD\", \"{}\", ...])",
                store.probe(),
                store.probe()
            ));
        }
    }
}

/// Every coinbeat service and every bundled store run read-only, with no capability and no way
/// to gain a privilege, under memory, CPU and process limits that `docker compose` applies
/// without swarm.
pub fn check_hardening(compose: &Compose, problems: &mut Vec<String>) {
    let names = compose
        .workloads
        .iter()
        .map(|w| w.name.as_str())
        .chain(stores(compose).map(|(name, _, _)| name.as_str()));
    for name in names {
        let service = &compose.services[name];
        let origin = format!("compose.yaml: service {name}");
        if service["read_only"].as_bool() != Some(true) {
            problems.push(format!("{origin}: not `read_only: true`"));
        }
        let drops = argv(&service["cap_drop"]).unwrap_or_default();
        if !drops.iter().any(|c| c == "ALL") {
            problems.push(format!("{origin}: does not `cap_drop: [ALL]`"));
        }
        let opts = argv(&service["security_opt"]).unwrap_or_default();
        if !opts
            .iter()
            .any(|o| o == "no-new-privileges:true" || o == "no-new-privileges")
        {
            problems.push(format!(
                "{origin}: lacks `security_opt: [\"no-new-privileges:true\"]`"
            ));
        }
        let limits = &service["deploy"]["resources"]["limits"];
        for limit in ["cpus", "memory", "pids"] {
            if limits[limit].is_null() {
                problems.push(format!("{origin}: no deploy.resources.limits.{limit}"));
            }
        }
    }
}

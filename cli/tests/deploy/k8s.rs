//! The Kubernetes manifests (`docker/k8s/`, the files `kustomization.yaml` lists): the
//! Deployments' containers as [`Workload`]s, the KEDA `ScaledObject`s, and what they refer to.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::manifests::{
    self, Image, K8sDeployment, RedisTrigger, ScaledObject, Workload, argv, scalar,
};

pub struct K8s {
    pub workloads: Vec<Workload>,
    pub scaled: Vec<ScaledObject>,
    pub trigger_auths: BTreeSet<String>,
    /// `(kind, name)` of every object, to resolve references.
    pub objects: BTreeSet<(String, String)>,
}

/// Reads every listed manifest. `image_name` is the image the kustomization maps to ours.
pub fn load(
    files: &[(String, String)],
    kustomization: &str,
    image: &Image,
    problems: &mut Vec<String>,
) -> K8s {
    let mut k8s = K8s {
        workloads: Vec::new(),
        scaled: Vec::new(),
        trigger_auths: BTreeSet::new(),
        objects: BTreeSet::new(),
    };
    let image_names: BTreeSet<String> = manifests::yaml(kustomization, "kustomization.yaml")
        .map(|k| {
            k["images"]
                .as_sequence()
                .map(|i| i.iter().filter_map(|i| scalar(&i["name"])).collect())
                .unwrap_or_default()
        })
        .unwrap_or_else(|e| {
            problems.push(e);
            BTreeSet::new()
        });
    if image_names.is_empty() {
        problems.push("kustomization.yaml: no `images` entry naming the coinbeat image".into());
    }
    let mut docs = Vec::new();
    for (file, text) in files {
        match manifests::yaml_documents(text, file) {
            Ok(d) => docs.extend(d.into_iter().map(|d| (file.clone(), d))),
            Err(e) => problems.push(e),
        }
    }
    // ConfigMap and Secret contents by name, for `envFrom` and `valueFrom`.
    let mut config: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for (file, doc) in &docs {
        crate::schema::k8s(file, doc, problems);
        let kind = scalar(&doc["kind"]).unwrap_or_default();
        let name = scalar(&doc["metadata"]["name"]).unwrap_or_default();
        if kind.is_empty() || name.is_empty() {
            problems.push(format!("{file}: an object without kind or metadata.name"));
        }
        k8s.objects.insert((kind.clone(), name.clone()));
        let data = match kind.as_str() {
            "ConfigMap" => &doc["data"],
            "Secret" if !doc["data"].is_null() => {
                problems.push(format!(
                    "{file}: Secret {name}: use `stringData` (base64 `data` is not read here)"
                ));
                continue;
            }
            "Secret" => &doc["stringData"],
            "TriggerAuthentication" => {
                k8s.trigger_auths.insert(name);
                continue;
            }
            _ => continue,
        };
        let values = data
            .as_mapping()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                    .collect()
            })
            .unwrap_or_default();
        config.insert((kind, name), values);
    }
    for (file, doc) in &docs {
        match scalar(&doc["kind"]).unwrap_or_default().as_str() {
            "Deployment" | "StatefulSet" => {
                k8s.workloads.extend(deployment(
                    file,
                    doc,
                    &config,
                    &image_names,
                    image,
                    problems,
                ));
            }
            "ScaledObject" => k8s.scaled.push(scaled_object(file, doc)),
            _ => {}
        }
    }
    k8s
}

fn deployment(
    file: &str,
    doc: &Value,
    config: &BTreeMap<(String, String), BTreeMap<String, String>>,
    image_names: &BTreeSet<String>,
    image: &Image,
    problems: &mut Vec<String>,
) -> Vec<Workload> {
    let kind = scalar(&doc["kind"]).unwrap_or_default();
    let name = scalar(&doc["metadata"]["name"]).unwrap_or_default();
    let pod = &doc["spec"]["template"]["spec"];
    let grace_secs = pod["terminationGracePeriodSeconds"].as_u64();
    let mut out = Vec::new();
    for container in pod["containers"].as_sequence().into_iter().flatten() {
        let container_image = scalar(&container["image"]).unwrap_or_default();
        let repo = image_repository(&container_image);
        let origin = format!(
            "{file}: {kind} {name}, container {}",
            scalar(&container["name"]).unwrap_or_default()
        );
        if !image_names.contains(repo) {
            if repo == "redis" {
                check_redis(&origin, container, problems);
            } else {
                problems.push(format!(
                    "{origin}: image {container_image:?} is neither the coinbeat image of \
                     kustomization.yaml ({image_names:?}) nor redis"
                ));
            }
            continue;
        }
        let mut args = argv(&container["command"]).unwrap_or_default();
        args.extend(argv(&container["args"]).unwrap_or_default());
        if args.is_empty() {
            problems.push(format!("{origin}: no `command` (say which binary it runs)"));
        }
        let mut env = image.env.clone();
        for from in container["envFrom"].as_sequence().into_iter().flatten() {
            for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                if let Some(r) = scalar(&from[field]["name"]) {
                    match config.get(&(kind.to_owned(), r.clone())) {
                        Some(values) => env.extend(values.clone()),
                        None => problems.push(format!(
                            "{origin}: envFrom names {kind} {r}, which is not defined"
                        )),
                    }
                }
            }
        }
        for var in container["env"].as_sequence().into_iter().flatten() {
            let var_name = scalar(&var["name"]).unwrap_or_default();
            let value = if let Some(v) = scalar(&var["value"]) {
                Some(v)
            } else {
                [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")]
                    .iter()
                    .find_map(|(field, kind)| {
                        let r = &var["valueFrom"][field];
                        let values = config.get(&(kind.to_string(), scalar(&r["name"])?))?;
                        values.get(&scalar(&r["key"])?).cloned()
                    })
            };
            match value {
                Some(v) => {
                    env.insert(var_name, v);
                }
                None => problems.push(format!(
                    "{origin}: env {var_name} has no value it can resolve"
                )),
            }
        }
        let ports: BTreeMap<String, u16> = container["ports"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    scalar(&p["name"])?,
                    u16::try_from(p["containerPort"].as_u64()?).ok()?,
                ))
            })
            .collect();
        let mut http_probes = Vec::new();
        let mut probes = Vec::new();
        for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let probe = &container[kind];
            if probe.is_null() {
                continue;
            }
            if let Some(cmd) = argv(&probe["exec"]["command"]) {
                probes.push(cmd);
            } else if !probe["httpGet"].is_null() {
                let get = &probe["httpGet"];
                let port = match &get["port"] {
                    Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    v => scalar(v).and_then(|p| ports.get(&p).copied()),
                };
                http_probes.push((
                    kind.to_owned(),
                    scalar(&get["path"]).unwrap_or_default(),
                    port,
                ));
            } else {
                problems.push(format!("{origin}: {kind} is neither exec nor httpGet"));
            }
        }
        out.push(Workload {
            origin,
            name: name.clone(),
            argv: args,
            env,
            passthrough: Vec::new(),
            probes,
            grace_secs,
            http_probes,
            deployment: Some(K8sDeployment {
                name: name.clone(),
                replicas: doc["spec"]["replicas"].as_u64(),
                strategy: scalar(&doc["spec"]["strategy"]["type"]),
            }),
        });
    }
    out
}

fn scaled_object(file: &str, doc: &Value) -> ScaledObject {
    let spec = &doc["spec"];
    ScaledObject {
        origin: format!(
            "{file}: ScaledObject {}",
            scalar(&doc["metadata"]["name"]).unwrap_or_default()
        ),
        target: scalar(&spec["scaleTargetRef"]["name"]).unwrap_or_default(),
        min: spec["minReplicaCount"].as_u64(),
        max: spec["maxReplicaCount"].as_u64(),
        triggers: spec["triggers"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|t| RedisTrigger {
                kind: scalar(&t["type"]).unwrap_or_default(),
                address: scalar(&t["metadata"]["address"]),
                list_name: scalar(&t["metadata"]["listName"]),
                database: scalar(&t["metadata"]["databaseIndex"]),
                auth: scalar(&t["authenticationRef"]["name"]),
            })
            .collect(),
    }
}

/// `registry:5000/team/app:tag` → `registry:5000/team/app` (a tag follows the last `/`).
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// The bundled Redis keeps what it acknowledged and refuses writes when full, below its
/// container's memory limit, rather than evicting queue keys or being OOM-killed.
fn check_redis(origin: &str, container: &Value, problems: &mut Vec<String>) {
    let mut args = argv(&container["command"]).unwrap_or_default();
    args.extend(argv(&container["args"]).unwrap_or_default());
    let line = args.join(" ");
    for (needle, why) in manifests::REDIS_FLAGS {
        if !line.contains(needle) {
            problems.push(format!("{origin}: redis lacks `{needle}` ({why})"));
        }
    }
    let limit = scalar(&container["resources"]["limits"]["memory"]);
    let cap = args
        .windows(2)
        .find(|w| w[0] == "--maxmemory")
        .map(|w| w[1].clone());
    if let (Some(limit), Some(cap)) = (
        limit.as_deref().and_then(bytes),
        cap.as_deref().and_then(bytes),
    ) && cap >= limit
    {
        problems.push(format!(
            "{origin}: --maxmemory {cap} B is not below the memory limit {limit} B"
        ));
    }
}

/// `700mb`, `1gb` (Redis) or `1Gi`, `512Mi` (Kubernetes) in bytes.
fn bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "ki" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" => 1 << 30,
        _ => return None,
    };
    Some(n * factor)
}

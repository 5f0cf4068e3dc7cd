//! The Kubernetes manifests (`docker/k8s/`, the files `kustomization.yaml` lists): the
//! Deployments' containers as [`Workload`]s, the KEDA `ScaledObject`s, and what they refer to.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::{
    manifests::{
        self, Image, K8sDeployment, PostgresServer, RedisServer, RedisTrigger, ScaledObject, Store,
        Workload, argv, expand, image_repository, is_within, scalar,
    },
    postgres,
};

pub struct K8s {
    pub workloads: Vec<Workload>,
    pub scaled: Vec<ScaledObject>,
    pub trigger_auths: BTreeSet<String>,
    /// TriggerAuthentication name → parameter → its value, resolved from the Secret named.
    pub trigger_auth_params: BTreeMap<String, BTreeMap<String, String>>,
    /// `(kind, name)` of every object, to resolve references.
    pub objects: BTreeSet<(String, String)>,
    /// The bundled Redis containers, their arguments expanded with their environment.
    pub redis: Vec<RedisServer>,
    /// The bundled PostgreSQL servers, as their Service reaches them.
    pub postgres: Vec<PostgresServer>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
    pub services: Vec<Service>,
}

/// A Service: the pods it selects and the ports it forwards to them.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub selector: BTreeMap<String, String>,
    /// `(port, targetPort)`: the target a number or a container port's name.
    pub ports: Vec<(u16, String)>,
}

/// What backs a container's mount: one of the StatefulSet's volume claims (outlives the pod),
/// an emptyDir (the pod's scratch space), or something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    Claim,
    EmptyDir,
    Other,
}

/// The pod template of a Deployment or StatefulSet, as far as who may reach it matters.
#[derive(Debug, Clone)]
pub struct Pod {
    pub origin: String,
    pub labels: BTreeMap<String, String>,
    /// Every container port by number.
    pub ports: BTreeSet<u16>,
    /// A container of it has REDIS_URL (a Redis client).
    pub uses_redis: bool,
    /// A container of it is given DATABASE_URL (a PostgreSQL client, once the URL is set).
    pub uses_postgres: bool,
    /// The bundled store it runs, if it runs one.
    pub store: Option<Store>,
}

/// A label selector (`matchLabels` and `matchExpressions`); empty selects everything.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub labels: BTreeMap<String, String>,
    /// `(key, operator, values)`.
    pub expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn read(v: &Value) -> Self {
        let labels = string_map(&v["matchLabels"]);
        let expressions = v["matchExpressions"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    scalar(&e["key"]).unwrap_or_default(),
                    scalar(&e["operator"]).unwrap_or_default(),
                    argv(&e["values"]).unwrap_or_default(),
                )
            })
            .collect();
        Self {
            labels,
            expressions,
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| {
                let value = labels.get(k);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }
}

/// One `from` entry of an ingress rule.
#[derive(Debug, Clone)]
pub struct Peer {
    pub pods: Option<Selector>,
    pub namespaces: Option<Selector>,
    pub ip_block: bool,
}

/// An ingress rule: from whom (empty: anyone) to which ports (empty: every port).
#[derive(Debug, Clone)]
pub struct IngressRule {
    pub from: Vec<Peer>,
    pub ports: Vec<u16>,
}

#[derive(Debug, Clone)]
pub struct NetworkPolicy {
    pub origin: String,
    pub selects: Selector,
    /// `policyTypes` names Ingress (or, unset, the policy has ingress rules or no egress).
    pub ingress_policy: bool,
    pub ingress: Vec<IngressRule>,
}

/// A mapping of scalars (labels), as strings.
fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
        .collect()
}

/// What a blank Redis password in a shipped Secret is set to here, as the operator must set
/// it: the checks then see the deployment as it runs (URL-safe, like the advice in the files).
fn check_password(secret: &str) -> String {
    format!(
        "check0{}0password",
        secret.replace(|c: char| !c.is_ascii_alphanumeric(), "0")
    )
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
        trigger_auth_params: BTreeMap::new(),
        objects: BTreeSet::new(),
        redis: Vec::new(),
        postgres: Vec::new(),
        pods: Vec::new(),
        policies: Vec::new(),
        services: Vec::new(),
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
                    .filter_map(|(k, v)| {
                        let (k, v) = (scalar(k)?, scalar(v)?);
                        let v = if kind == "Secret" && k == "password" && v.is_empty() {
                            check_password(&name)
                        } else {
                            v
                        };
                        Some((k, v))
                    })
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
            "TriggerAuthentication" => {
                let name = scalar(&doc["metadata"]["name"]).unwrap_or_default();
                let mut params = BTreeMap::new();
                for r in doc["spec"]["secretTargetRef"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                {
                    let (Some(param), Some(secret), Some(key)) = (
                        scalar(&r["parameter"]),
                        scalar(&r["name"]),
                        scalar(&r["key"]),
                    ) else {
                        continue;
                    };
                    match config
                        .get(&("Secret".to_owned(), secret.clone()))
                        .and_then(|values| values.get(&key))
                    {
                        Some(v) => {
                            params.insert(param, v.clone());
                        }
                        None => problems.push(format!(
                            "{file}: TriggerAuthentication {name}: {param} names key {key} of \
                             Secret {secret}, which is not defined"
                        )),
                    }
                }
                k8s.trigger_auth_params.insert(name, params);
            }
            "NetworkPolicy" => k8s.policies.push(network_policy(file, doc)),
            "Service" => k8s.services.push(service(doc)),
            _ => {}
        }
    }
    for (file, doc) in &docs {
        if matches!(
            scalar(&doc["kind"]).as_deref(),
            Some("Deployment" | "StatefulSet")
        ) {
            let pod = pod(file, doc, &k8s.workloads, problems);
            let reached = pod
                .store
                .and_then(|store| store_service(doc, &pod, store, &k8s.services, problems));
            match (pod.store, reached) {
                (Some(Store::Redis), _) => {
                    k8s.redis.extend(redis_server(file, doc, &config, problems));
                }
                (Some(Store::Postgres), Some((host, port))) => {
                    k8s.postgres
                        .extend(postgres_server(file, doc, &config, host, port, problems));
                }
                _ => {}
            }
            k8s.pods.push(pod);
        }
    }
    k8s
}

fn service(doc: &Value) -> Service {
    let spec = &doc["spec"];
    Service {
        name: scalar(&doc["metadata"]["name"]).unwrap_or_default(),
        selector: string_map(&spec["selector"]),
        ports: spec["ports"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let port = u16::try_from(p["port"].as_u64()?).ok()?;
                let target = scalar(&p["targetPort"]).unwrap_or_else(|| port.to_string());
                Some((port, target))
            })
            .collect(),
    }
}

/// The Service that reaches a bundled store: the StatefulSet's `serviceName`, selecting its
/// pods and forwarding the store's port (by number or by the container port's name). Returns
/// its name and the port it forwards.
fn store_service(
    doc: &Value,
    pod: &Pod,
    store: Store,
    services: &[Service],
    problems: &mut Vec<String>,
) -> Option<(String, u16)> {
    let origin = &pod.origin;
    if scalar(&doc["kind"]).as_deref() != Some("StatefulSet") {
        return None; // check_store says where a store belongs
    }
    let Some(name) = scalar(&doc["spec"]["serviceName"]) else {
        problems.push(format!(
            "{origin}: no serviceName: nothing reaches {} by name",
            store.name()
        ));
        return None;
    };
    let Some(service) = services.iter().find(|s| s.name == name) else {
        problems.push(format!(
            "{origin}: serviceName {name} names no Service: nothing reaches {} by name",
            store.name()
        ));
        return None;
    };
    if service.selector.is_empty()
        || !service
            .selector
            .iter()
            .all(|(k, v)| pod.labels.get(k) == Some(v))
    {
        problems.push(format!(
            "{origin}: Service {name} does not select its pods (selector {:?}, labels {:?})",
            service.selector, pod.labels
        ));
        return None;
    }
    let container = store_container(doc, store)?;
    let pgport = || {
        container["env"]
            .as_sequence()?
            .iter()
            .find(|v| scalar(&v["name"]).as_deref() == Some("PGPORT"))
            .and_then(|v| scalar(&v["value"])?.parse().ok())
    };
    let listens = match store {
        Store::Postgres => pgport(),
        Store::Redis => None,
    }
    .unwrap_or(store.port());
    let named = named_ports(container);
    let forwarded = service.ports.iter().find(|(_, target)| {
        target
            .parse::<u16>()
            .ok()
            .or_else(|| named.get(target).copied())
            == Some(listens)
    });
    match forwarded {
        Some((port, _)) => Some((name, *port)),
        None => {
            problems.push(format!(
                "{origin}: Service {name} forwards no port to {} ({listens})",
                store.name()
            ));
            None
        }
    }
}

/// The bundled PostgreSQL as its clients reach it: at the Service `host`:`port`, with the login
/// its container's environment makes.
fn postgres_server(
    file: &str,
    doc: &Value,
    config: &BTreeMap<(String, String), BTreeMap<String, String>>,
    host: String,
    port: u16,
    problems: &mut Vec<String>,
) -> Option<PostgresServer> {
    let container = store_container(doc, Store::Postgres)?;
    let origin = format!(
        "{file}: {} {}",
        scalar(&doc["kind"]).unwrap_or_default(),
        scalar(&doc["metadata"]["name"]).unwrap_or_default()
    );
    let env = container_env(&origin, container, config, BTreeMap::new(), problems).env;
    let mut server = PostgresServer::from_env(origin, host, &env);
    server.port = port;
    Some(server)
}

/// The first container of the pod template that runs `store`'s image.
fn store_container(doc: &Value, store: Store) -> Option<&Value> {
    doc["spec"]["template"]["spec"]["containers"]
        .as_sequence()?
        .iter()
        .find(|c| Store::of_image(&scalar(&c["image"]).unwrap_or_default()) == Some(store))
}

/// A container's ports by name.
fn named_ports(container: &Value) -> BTreeMap<String, u16> {
    container["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                scalar(&p["name"])?,
                u16::try_from(p["containerPort"].as_u64()?).ok()?,
            ))
        })
        .collect()
}

/// A container's mounts by path, and what backs each.
fn mounts(doc: &Value, container: &Value) -> BTreeMap<String, Backing> {
    let claims: BTreeSet<String> = doc["spec"]["volumeClaimTemplates"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|c| scalar(&c["metadata"]["name"]))
        .collect();
    let volumes: BTreeMap<String, Backing> = doc["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let backing = if !v["emptyDir"].is_null() {
                Backing::EmptyDir
            } else if !v["persistentVolumeClaim"].is_null() {
                Backing::Claim
            } else {
                Backing::Other
            };
            Some((scalar(&v["name"])?, backing))
        })
        .collect();
    container["volumeMounts"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let name = scalar(&m["name"])?;
            let backing = match volumes.get(&name) {
                Some(b) => *b,
                None if claims.contains(&name) => Backing::Claim,
                None => Backing::Other,
            };
            Some((scalar(&m["mountPath"])?, backing))
        })
        .collect()
}

fn network_policy(file: &str, doc: &Value) -> NetworkPolicy {
    let spec = &doc["spec"];
    let types = argv(&spec["policyTypes"]);
    let ingress: Vec<IngressRule> = spec["ingress"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|rule| IngressRule {
            from: rule["from"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|p| Peer {
                    pods: (!p["podSelector"].is_null()).then(|| Selector::read(&p["podSelector"])),
                    namespaces: (!p["namespaceSelector"].is_null())
                        .then(|| Selector::read(&p["namespaceSelector"])),
                    ip_block: !p["ipBlock"].is_null(),
                })
                .collect(),
            ports: rule["ports"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|p| u16::try_from(p["port"].as_u64()?).ok())
                .collect(),
        })
        .collect();
    NetworkPolicy {
        origin: format!(
            "{file}: NetworkPolicy {}",
            scalar(&doc["metadata"]["name"]).unwrap_or_default()
        ),
        selects: Selector::read(&spec["podSelector"]),
        ingress_policy: match &types {
            Some(t) => t.iter().any(|t| t == "Ingress"),
            None => true,
        },
        ingress,
    }
}

/// The pod template, checked for what every pod must have: no service-account token (no pod
/// talks to the Kubernetes API), non-root with the runtime's seccomp profile, and containers
/// that cannot gain privileges, hold no capability and cannot write their root filesystem; a
/// bundled store's container runs as its image's own user.
fn pod(file: &str, doc: &Value, workloads: &[Workload], problems: &mut Vec<String>) -> Pod {
    let kind = scalar(&doc["kind"]).unwrap_or_default();
    let name = scalar(&doc["metadata"]["name"]).unwrap_or_default();
    let origin = format!("{file}: {kind} {name}");
    let template = &doc["spec"]["template"];
    let spec = &template["spec"];
    if spec["automountServiceAccountToken"].as_bool() != Some(false) {
        problems.push(format!(
            "{origin}: pod spec lacks `automountServiceAccountToken: false`"
        ));
    }
    let sc = &spec["securityContext"];
    if sc["runAsNonRoot"].as_bool() != Some(true) {
        problems.push(format!(
            "{origin}: pod securityContext lacks `runAsNonRoot: true`"
        ));
    }
    if scalar(&sc["seccompProfile"]["type"]).as_deref() != Some("RuntimeDefault") {
        problems.push(format!(
            "{origin}: pod securityContext lacks `seccompProfile: {{ type: RuntimeDefault }}`"
        ));
    }
    let mut ports = BTreeSet::new();
    let mut store = None;
    for c in spec["containers"].as_sequence().into_iter().flatten() {
        let at = format!(
            "{origin}, container {}",
            scalar(&c["name"]).unwrap_or_default()
        );
        let csc = &c["securityContext"];
        if csc["allowPrivilegeEscalation"].as_bool() != Some(false) {
            problems.push(format!("{at}: lacks `allowPrivilegeEscalation: false`"));
        }
        if csc["readOnlyRootFilesystem"].as_bool() != Some(true) {
            problems.push(format!("{at}: lacks `readOnlyRootFilesystem: true`"));
        }
        if !argv(&csc["capabilities"]["drop"])
            .unwrap_or_default()
            .iter()
            .any(|d| d == "ALL")
        {
            problems.push(format!("{at}: does not drop ALL capabilities"));
        }
        for p in c["ports"].as_sequence().into_iter().flatten() {
            if let Some(port) = p["containerPort"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
            {
                ports.insert(port);
            }
        }
        let image = scalar(&c["image"]).unwrap_or_default();
        if let Some(s) = Store::of_image(&image) {
            // The kubelet refuses a root image under runAsNonRoot without a numeric user, and
            // only the image's own user owns what the image prepared.
            let id = |field: &str| csc[field].as_u64().or_else(|| sc[field].as_u64());
            let (uid, gid) = s.user(&image);
            if (id("runAsUser"), id("runAsGroup")) != (Some(uid.into()), Some(gid.into())) {
                let show = |v: Option<u64>| v.map_or("unset".to_owned(), |v| v.to_string());
                problems.push(format!(
                    "{at}: runs as uid {}, gid {}, not as the {image} image's own user \
                     (`runAsUser: {uid}`, `runAsGroup: {gid}`)",
                    show(id("runAsUser")),
                    show(id("runAsGroup"))
                ));
            }
            store = store.or(Some(s));
        }
    }
    let runs = |w: &&Workload| w.name == name;
    Pod {
        labels: string_map(&template["metadata"]["labels"]),
        ports,
        uses_redis: workloads
            .iter()
            .filter(runs)
            .any(|w| w.env.contains_key("REDIS_URL")),
        uses_postgres: workloads
            .iter()
            .filter(runs)
            .any(|w| postgres::is_client(&w.env, &w.passthrough)),
        store,
        origin,
    }
}

/// The Redis container's arguments with its environment expanded, as the kubelet starts it.
fn redis_server(
    file: &str,
    doc: &Value,
    config: &BTreeMap<(String, String), BTreeMap<String, String>>,
    problems: &mut Vec<String>,
) -> Option<RedisServer> {
    let name = scalar(&doc["metadata"]["name"]).unwrap_or_default();
    let container = store_container(doc, Store::Redis)?;
    let origin = format!(
        "{file}: {} {name}, container {}",
        scalar(&doc["kind"]).unwrap_or_default(),
        scalar(&container["name"]).unwrap_or_default()
    );
    let resolved = container_env(&origin, container, config, BTreeMap::new(), problems);
    let mut used = BTreeSet::new();
    let mut args: Vec<String> = argv(&container["command"])
        .unwrap_or_default()
        .into_iter()
        .chain(argv(&container["args"]).unwrap_or_default())
        .map(|a| expand(&a, &resolved.env, &mut used))
        .collect();
    // The image's entrypoint puts redis-server before arguments that start with `-`.
    if args.first().is_some_and(|a| a == "redis-server") {
        args.remove(0);
    }
    Some(RedisServer { origin, args })
}

/// A container's environment as the kubelet builds it: `envFrom` first, then `env` in order,
/// each value with `$(NAME)` of the names before it expanded.
struct ContainerEnv {
    env: BTreeMap<String, String>,
    from_secrets: BTreeSet<String>,
    expansion_inputs: BTreeSet<String>,
}

fn container_env(
    origin: &str,
    container: &Value,
    config: &BTreeMap<(String, String), BTreeMap<String, String>>,
    mut env: BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> ContainerEnv {
    let mut from_secrets = BTreeSet::new();
    let mut expansion_inputs = BTreeSet::new();
    for from in container["envFrom"].as_sequence().into_iter().flatten() {
        for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            if let Some(r) = scalar(&from[field]["name"]) {
                match config.get(&(kind.to_owned(), r.clone())) {
                    Some(values) => {
                        if kind == "Secret" {
                            from_secrets.extend(values.keys().cloned());
                        }
                        env.extend(values.clone());
                    }
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
            Some(expand(&v, &env, &mut expansion_inputs))
        } else {
            [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")]
                .iter()
                .find_map(|(field, kind)| {
                    let r = &var["valueFrom"][field];
                    let values = config.get(&(kind.to_string(), scalar(&r["name"])?))?;
                    let value = values.get(&scalar(&r["key"])?).cloned()?;
                    if *kind == "Secret" {
                        from_secrets.insert(var_name.clone());
                    }
                    Some(value)
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
    ContainerEnv {
        env,
        from_secrets,
        expansion_inputs,
    }
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
            match Store::of_image(&container_image) {
                Some(store) => check_store(&origin, store, doc, container, config, problems),
                None => {
                    let known: Vec<&str> = Store::ALL.iter().map(|s| s.name()).collect();
                    problems.push(format!(
                        "{origin}: image {container_image:?} is neither the coinbeat image of \
                         kustomization.yaml ({image_names:?}) nor a bundled store's ({})",
                        known.join(", ")
                    ));
                }
            }
            continue;
        }
        let mut args = argv(&container["command"]).unwrap_or_default();
        args.extend(argv(&container["args"]).unwrap_or_default());
        if args.is_empty() {
            problems.push(format!("{origin}: no `command` (say which binary it runs)"));
        }
        let resolved = container_env(&origin, container, config, image.env.clone(), problems);
        let env = resolved.env;
        let mut used = BTreeSet::new();
        args = args.iter().map(|a| expand(a, &env, &mut used)).collect();
        let ports = named_ports(container);
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
            from_secrets: resolved.from_secrets,
            expansion_inputs: resolved.expansion_inputs,
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

/// A bundled store's container: one replica of a StatefulSet (a second would be a second,
/// separate store), its official image pinned to a major version, its data on a volume claim,
/// its health asked with its own client, under a memory limit; then what each store needs.
fn check_store(
    origin: &str,
    store: Store,
    doc: &Value,
    container: &Value,
    config: &BTreeMap<(String, String), BTreeMap<String, String>>,
    problems: &mut Vec<String>,
) {
    let name = store.name();
    if scalar(&doc["kind"]).as_deref() != Some("StatefulSet")
        || doc["spec"]["replicas"].as_u64() != Some(1)
    {
        problems.push(format!(
            "{origin}: the bundled {name} runs as a StatefulSet with `replicas: 1` (its data on \
             the pod's volume claim; another replica would be another, separate {name})"
        ));
    }
    let image = scalar(&container["image"]).unwrap_or_default();
    if !manifests::pins_major_version(&image) {
        problems.push(format!(
            "{origin}: image {image:?} does not pin a major version (`{name}:<major>-alpine`)"
        ));
    }
    for kind in ["readinessProbe", "livenessProbe"] {
        let command = argv(&container[kind]["exec"]["command"]).unwrap_or_default();
        if command.first().map(String::as_str) != Some(store.probe()) {
            problems.push(format!(
                "{origin}: its {kind} does not run `{}`",
                store.probe()
            ));
        }
    }
    if container["resources"]["limits"]["memory"].is_null() {
        problems.push(format!("{origin}: no resources.limits.memory"));
    }
    let mounts = mounts(doc, container);
    let resolved = container_env(origin, container, config, BTreeMap::new(), problems);
    match store {
        Store::Redis => {
            check_redis(origin, container, problems);
            // Redis writes its AOF in its working directory, the image's /data, unless --dir.
            let mut args = argv(&container["command"]).unwrap_or_default();
            args.extend(argv(&container["args"]).unwrap_or_default());
            let dir = args
                .windows(2)
                .find(|w| w[0] == "--dir")
                .map_or("/data".to_owned(), |w| w[1].clone());
            let holder = mounts
                .iter()
                .filter(|(path, _)| is_within(&dir, path))
                .max_by_key(|(path, _)| path.len());
            if !matches!(holder, Some((_, Backing::Claim))) {
                problems.push(format!(
                    "{origin}: its data directory {dir} is not on a volumeClaimTemplate's \
                     volume: the queues would go with the pod"
                ));
            }
        }
        Store::Postgres => postgres::check_k8s(
            origin,
            &resolved.env,
            &resolved.from_secrets,
            &mounts,
            problems,
        ),
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

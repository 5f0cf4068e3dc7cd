//! The deployment files read into one model: what each container runs, with which environment,
//! and what the autoscaler watches. Nothing here needs a Docker engine or a cluster.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

/// The deployment files' texts, read from the repository (or changed by a test).
#[derive(Debug, Clone)]
pub struct Sources {
    pub dockerfile: String,
    pub compose: String,
    pub sim_env: String,
    /// `(file name, text)` of each Kubernetes manifest, in `kustomization.yaml` order.
    pub k8s: Vec<(String, String)>,
    pub kustomization: String,
}

impl Sources {
    pub fn from_repo() -> Self {
        let root = crate::workspace::root();
        let read = |path: &str| {
            std::fs::read_to_string(root.join(path))
                .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        };
        let kustomization = read("docker/k8s/kustomization.yaml");
        let listed: Value =
            serde_yaml::from_str(&kustomization).expect("kustomization.yaml parses");
        let k8s = listed["resources"]
            .as_sequence()
            .expect("kustomization.yaml lists resources")
            .iter()
            .map(|r| {
                let name = r.as_str().expect("a resource is a file name").to_owned();
                let text = read(&format!("docker/k8s/{name}"));
                (name, text)
            })
            .collect();
        Self {
            dockerfile: read("docker/Dockerfile"),
            compose: read("compose.yaml"),
            sim_env: read("docker/sim.env"),
            k8s,
            kustomization,
        }
    }

    /// `self` with `from` replaced by `to` in the file called `file` (which must contain it).
    pub fn edited(&self, file: &str, from: &str, to: &str) -> Self {
        let mut s = self.clone();
        let text = match file {
            "docker/Dockerfile" => &mut s.dockerfile,
            "compose.yaml" => &mut s.compose,
            "docker/sim.env" => &mut s.sim_env,
            other => {
                let name = other.strip_prefix("docker/k8s/").unwrap_or(other);
                &mut s
                    .k8s
                    .iter_mut()
                    .find(|(n, _)| n == name)
                    .expect("a k8s file")
                    .1
            }
        };
        assert!(text.contains(from), "{file} does not contain {from:?}");
        *text = text.replacen(from, to, 1);
        s
    }
}

/// One container as it would run: where it is declared, its command line, its environment.
#[derive(Debug, Clone)]
pub struct Workload {
    /// e.g. `compose.yaml: service price-worker` or `workers.yaml: Deployment price-worker`.
    pub origin: String,
    /// The compose service or the Kubernetes object it belongs to.
    pub name: String,
    pub argv: Vec<String>,
    /// Names with a value, after the image's `ENV`, then the manifest's own.
    pub env: BTreeMap<String, String>,
    /// Names the manifest lists without a value (compose passes them through when set).
    pub passthrough: Vec<String>,
    /// Other command lines the platform runs in the container (compose health checks).
    pub probes: Vec<Vec<String>>,
    /// Seconds between SIGTERM and SIGKILL, where the manifest says.
    pub grace_secs: Option<u64>,
    /// HTTP probes: `(kind, path, port)`, the port resolved to a number.
    pub http_probes: Vec<(String, String, Option<u16>)>,
    pub deployment: Option<K8sDeployment>,
    /// Names whose value comes from a Kubernetes Secret.
    pub from_secrets: BTreeSet<String>,
    /// Names only there to be expanded into another value (`$(REDIS_PASSWORD)`).
    pub expansion_inputs: BTreeSet<String>,
}

impl Workload {
    /// The binary it runs (the file name of `argv[0]`).
    pub fn binary(&self) -> Option<&str> {
        let first = self.argv.first()?;
        Some(first.rsplit('/').next().unwrap_or(first))
    }
}

/// A bundled `redis-server` as it would start: where it is declared and its arguments (after
/// the program name), with the manifest's variables filled in.
#[derive(Debug, Clone)]
pub struct RedisServer {
    pub origin: String,
    pub args: Vec<String>,
}

/// A data store the deployment bundles for trying coinbeat, from its official image: the only
/// images besides coinbeat's that the files may run. A closed set: a new store is a variant the
/// checks walk through (its user, port, data directory, health probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Redis,
    Postgres,
}

impl Store {
    pub const ALL: [Store; 2] = [Store::Redis, Store::Postgres];

    /// The store `image` is the official image of (`redis:7-alpine`, `postgres:16`).
    pub fn of_image(image: &str) -> Option<Store> {
        let repository = image_repository(image);
        let repository = repository
            .strip_prefix("docker.io/library/")
            .unwrap_or(repository);
        Store::ALL.into_iter().find(|s| s.name() == repository)
    }

    /// The official image's repository (and, in the shipped files, the service's name).
    pub fn name(self) -> &'static str {
        match self {
            Store::Redis => "redis",
            Store::Postgres => "postgres",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Store::Redis => 6379,
            Store::Postgres => 5432,
        }
    }

    /// The program the platform asks the store's health with.
    pub fn probe(self) -> &'static str {
        match self {
            Store::Redis => "redis-cli",
            Store::Postgres => "pg_isready",
        }
    }

    /// `(uid, gid)` of the image's own user, who owns the directories the image prepares (the
    /// data directory, PostgreSQL's socket directory) and is in its /etc/passwd. The Alpine and
    /// Debian variants differ.
    pub fn user(self, image: &str) -> (u32, u32) {
        let alpine = image_tag(image).is_some_and(|t| t.contains("alpine"));
        match (self, alpine) {
            (Store::Redis, true) => (999, 1000),
            (Store::Redis, false) => (999, 999),
            (Store::Postgres, true) => (70, 70),
            (Store::Postgres, false) => (999, 999),
        }
    }
}

/// `registry:5000/team/app:tag` → `registry:5000/team/app` (a tag follows the last `/`).
pub fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// `postgres:16-alpine` → `16-alpine`; none without a tag.
fn image_tag(image: &str) -> Option<&str> {
    let image = image.split('@').next().unwrap_or(image);
    image[image_repository(image).len()..].strip_prefix(':')
}

/// The image names a major version (`7-alpine`, `16.4`) or a digest: a new major version of a
/// store is an upgrade to plan (PostgreSQL's data directory needs pg_upgrade), not something a
/// restart may pull (`latest`, or no tag).
pub fn pins_major_version(image: &str) -> bool {
    image.contains("@sha256:")
        || image_tag(image).is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()))
}

/// `path` is `dir` or below it.
pub fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// A bundled PostgreSQL as its clients reach it: where it is declared, the host name and port
/// it answers at, and the login the official image creates at its first start
/// (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB).
#[derive(Debug, Clone)]
pub struct PostgresServer {
    pub origin: String,
    /// The compose service or the Kubernetes Service (`<name>` or `<name>.<namespace>...`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
}

impl PostgresServer {
    /// The login the image creates from its environment (its defaults: user `postgres`, a
    /// database named after the user, port 5432 unless PGPORT).
    pub fn from_env(origin: String, host: String, env: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let user = get("POSTGRES_USER").unwrap_or_else(|| "postgres".into());
        Self {
            origin,
            host,
            port: get("PGPORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(Store::Postgres.port()),
            database: get("POSTGRES_DB").unwrap_or_else(|| user.clone()),
            password: env.get("POSTGRES_PASSWORD").cloned().unwrap_or_default(),
            user,
        }
    }
}

/// Redis flags that keep what coinbeat stores: `(flag, why)`.
pub const REDIS_FLAGS: [(&str, &str); 3] = [
    (
        "--appendonly yes",
        "AOF on, so acknowledged enqueues survive a restart",
    ),
    (
        "--maxmemory-policy noeviction",
        "eviction off, so queue keys are never dropped",
    ),
    (
        "--maxmemory ",
        "a memory cap, so a full Redis refuses writes instead of being killed",
    ),
];

#[derive(Debug, Clone, Default)]
pub struct K8sDeployment {
    pub name: String,
    pub replicas: Option<u64>,
    pub strategy: Option<String>,
}

/// A KEDA `ScaledObject` and its Redis triggers.
#[derive(Debug, Clone)]
pub struct ScaledObject {
    pub origin: String,
    pub target: String,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub triggers: Vec<RedisTrigger>,
}

#[derive(Debug, Clone)]
pub struct RedisTrigger {
    pub kind: String,
    pub address: Option<String>,
    pub list_name: Option<String>,
    pub database: Option<String>,
    pub auth: Option<String>,
}

/// What the Dockerfile puts in the runtime image.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// Every name in `/usr/local/bin`: the files copied and the symlinks made.
    pub binaries: Vec<String>,
    /// Symlink name → the file it points to.
    pub links: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub stages: Vec<String>,
    /// `(stage, command)` of every `RUN`.
    pub runs: Vec<(String, String)>,
}

/// Reads the runtime image out of the Dockerfile: the stage names, the binaries the builder
/// copies to `/out/` (which the runtime stage takes whole), the runtime `ENV` and `USER`.
pub fn image(dockerfile: &str) -> Result<Image, String> {
    // Join continuation lines into instructions.
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let mut image = Image::default();
    let mut stage = String::new();
    for ins in &instructions {
        let (op, rest) = ins.split_once(' ').unwrap_or((ins, ""));
        if op.eq_ignore_ascii_case("RUN") {
            image.runs.push((stage.clone(), rest.to_owned()));
        }
        match op.to_ascii_uppercase().as_str() {
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                stage = match words.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_owned(),
                    _ => String::new(),
                };
                image.stages.push(stage.clone());
            }
            "RUN" if stage == "builder" && rest.contains("/out/") => {
                // `... && cp target/dist/a /out/ && cd /out && ln -s a b && ...`
                for step in rest.split("&&").map(str::trim) {
                    let words: Vec<&str> = step.split_whitespace().collect();
                    match words.as_slice() {
                        ["cp", files @ .., "/out/"] => image.binaries.extend(
                            files
                                .iter()
                                .map(|f| f.rsplit('/').next().unwrap_or(f).to_owned()),
                        ),
                        ["ln", "-s", target, name] => {
                            image.binaries.push((*name).to_owned());
                            image.links.insert((*name).to_owned(), (*target).to_owned());
                        }
                        _ => {}
                    }
                }
            }
            "ENV" if stage == "runtime" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("ENV {pair:?} is not NAME=value"))?;
                    image.env.insert(k.to_owned(), v.to_owned());
                }
            }
            "USER" if stage == "runtime" => image.user = Some(rest.trim().to_owned()),
            _ => {}
        }
    }
    Ok(image)
}

/// Parses one YAML document, with `<<` merge keys applied (compose's anchors).
pub fn yaml(text: &str, what: &str) -> Result<Value, String> {
    let mut value: Value = serde_yaml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
    merge(&mut value).map_err(|e| format!("{what}: {e}"))?;
    Ok(value)
}

/// Every document of a multi-document YAML file.
pub fn yaml_documents(text: &str, what: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let mut value =
            <Value as serde::Deserialize>::deserialize(doc).map_err(|e| format!("{what}: {e}"))?;
        merge(&mut value).map_err(|e| format!("{what}: {e}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// serde_yaml's `apply_merge` resolves one level of `<<` per pass; an anchor that itself
/// merges another (`x-worker: {<<: *coinbeat}`) needs more.
fn merge(value: &mut Value) -> Result<(), serde_yaml::Error> {
    fn has_merge_key(v: &Value) -> bool {
        match v {
            Value::Mapping(m) => m.contains_key("<<") || m.values().any(has_merge_key),
            Value::Sequence(s) => s.iter().any(has_merge_key),
            _ => false,
        }
    }
    for _ in 0..16 {
        if !has_merge_key(value) {
            break;
        }
        value.apply_merge()?;
    }
    Ok(())
}

/// `NAME=value` lines of an env file (`#` comments and blank lines skipped).
pub fn env_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("env file line {line:?} is not NAME=value"))?;
        vars.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(vars)
}

/// Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
/// `${VAR?error}`, `$VAR`, `$$`; a default may itself hold `${...}` (nested interpolation).
pub fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = closing_brace(r).ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let expr = &r[..end];
            rest = &r[end + 1..];
            let name_len = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_len);
            let set = vars.get(name);
            let non_empty = set.filter(|v| !v.is_empty());
            let value = if op.is_empty() {
                set.cloned().unwrap_or_default()
            } else if let Some(default) = op.strip_prefix(":-") {
                match non_empty {
                    Some(v) => v.clone(),
                    None => interpolate(default, vars)?,
                }
            } else if let Some(default) = op.strip_prefix('-') {
                match set {
                    Some(v) => v.clone(),
                    None => interpolate(default, vars)?,
                }
            } else if let Some((empty_fails, error)) = op
                .strip_prefix(":?")
                .map(|e| (true, e))
                .or_else(|| op.strip_prefix('?').map(|e| (false, e)))
            {
                match if empty_fails { non_empty } else { set } {
                    Some(v) => v.clone(),
                    None => {
                        return Err(format!(
                            "required variable {name} is missing a value: {error}"
                        ));
                    }
                }
            } else {
                return Err(format!("unsupported interpolation ${{{expr}}}"));
            };
            out.push_str(&value);
        } else {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push_str(vars.get(&rest[..len]).map(String::as_str).unwrap_or(""));
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a `${` whose text starts `text`, past nested `${...}`.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Kubernetes' dependent expansion: `$(NAME)` becomes the value of `NAME` where `vars` has it
/// (left as written otherwise, as the kubelet leaves it), `$$(` is a literal `$(`. Every name
/// expanded is added to `used`.
pub fn expand(text: &str, vars: &BTreeMap<String, String>, used: &mut BTreeSet<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$$") {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("$(")
            && let Some(end) = r.find(')')
            && let Some(value) = vars.get(&r[..end])
        {
            used.insert(r[..end].to_owned());
            out.push_str(value);
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A scalar as the string a container would see.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command line given as a YAML list (or, in compose, a string split on whitespace).
pub fn argv(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(items) => items.iter().map(scalar).collect(),
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        _ => None,
    }
}

/// Compose's durations (`30s`, `1m30s`, `500ms`) in whole seconds.
pub fn duration_secs(text: &str) -> Option<u64> {
    let mut total_ms = 0u64;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match c {
            'h' => 3_600_000,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1_000,
            _ => return None,
        };
        total_ms += n * unit_ms;
    }
    if !number.is_empty() {
        return None;
    }
    Some(total_ms / 1_000)
}

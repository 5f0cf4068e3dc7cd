//! The bundled PostgreSQL (compose's `postgres` profile, `docker/k8s/postgres.yaml`), as far as
//! it differs from any bundled store: it starts only when asked for, keeps its data directory
//! below a volume that outlives the container, has a place to write its socket and the
//! entrypoint's temporary files on a read-only root, takes its password from `.env` or a Secret
//! and never a default, trusts nobody without one, and is reached at the URL the files give its
//! clients. What every bundled store shares (an official image pinned to a major version, its
//! own user, hardening, probes) is checked in `compose.rs` and `k8s.rs`; who may reach it, in
//! `network.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::{
    checks,
    compose::{self, Compose},
    k8s::Backing,
    manifests::{PostgresServer, Store, Workload, argv, is_within, scalar},
};

/// The compose profile that starts it.
pub const PROFILE: &str = "postgres";
/// The variables that hold its URL for coinbeat (`DATABASE_URL` is the plain alias).
pub const URL_SETTINGS: [&str; 2] = ["DATABASE_URL", "COINBEAT_HISTORY__DATABASE_URL"];
/// The image's data directory, unless PGDATA says otherwise.
const DEFAULT_PGDATA: &str = "/var/lib/postgresql/data";
/// What it writes besides PGDATA: its socket and lock file, and the entrypoint's temporary
/// files (here-documents, `mktemp`) during the first start.
const WRITABLE: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// Where the database lives in a container with `env`.
pub fn data_dir(env: &BTreeMap<String, String>) -> String {
    env.get("PGDATA")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| DEFAULT_PGDATA.to_owned())
}

/// Whether a container with `env` is a PostgreSQL client of coinbeat's (it is given a URL,
/// blank or not: the operator sets it).
pub fn is_client(env: &BTreeMap<String, String>, passthrough: &[String]) -> bool {
    URL_SETTINGS
        .iter()
        .any(|s| env.contains_key(*s) || passthrough.iter().any(|p| p == s))
}

/// The `DATABASE_URL=postgres://...` that compose.yaml's comments tell the user to set for the
/// `postgres` profile, as written (uninterpolated).
pub fn documented_urls(compose_text: &str) -> Vec<String> {
    compose_text
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let at = l.find("DATABASE_URL=postgres")?;
            let url = &l[at + "DATABASE_URL=".len()..];
            let end = url
                .find(|c: char| c.is_whitespace() || c == '\'' || c == '"')
                .unwrap_or(url.len());
            Some(url[..end].to_owned())
        })
        .collect()
}

/// The server's settings that concern every platform: a password there is (the image refuses
/// to initialise without one, unless told to trust everyone) and no `trust` authentication.
fn check_login(origin: &str, env: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    let trusts = env
        .get("POSTGRES_HOST_AUTH_METHOD")
        .is_some_and(|m| m.eq_ignore_ascii_case("trust"))
        || env
            .get("POSTGRES_INITDB_ARGS")
            .is_some_and(|a| a.contains("trust"));
    if trusts {
        problems.push(format!(
            "{origin}: authentication `trust`: anyone who reaches PostgreSQL logs in without a \
             password"
        ));
    }
    if env.get("POSTGRES_PASSWORD").is_none_or(|p| p.is_empty()) {
        problems.push(format!(
            "{origin}: no POSTGRES_PASSWORD: the image refuses to create the database"
        ));
    }
}

/// A `postgres://user:password@host:port/database` URL, percent-decoded.
#[derive(Debug)]
struct Url {
    user: String,
    password: String,
    host: String,
    port: u16,
    database: String,
}

fn parse_url(url: &str) -> Option<Url> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, address) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (address, Store::Postgres.port()),
    };
    let user = checks::percent_decode(user);
    Some(Url {
        database: match checks::percent_decode(database) {
            d if d.is_empty() => user.clone(),
            d => d,
        },
        user,
        password: checks::percent_decode(password),
        host: host.to_owned(),
        port,
    })
}

/// A URL that names `server`'s host logs in as the user the server creates, with its password,
/// to its database, at its port. A URL that names another host (a managed PostgreSQL) is not
/// the bundled server's business.
pub fn check_url(origin: &str, url: &str, server: &PostgresServer, problems: &mut Vec<String>) {
    if url.trim().is_empty() {
        return; // history storage off
    }
    let Some(url) = parse_url(url) else {
        problems.push(format!(
            "{origin}: {url:?} is not a postgres://user:password@host:port/database URL"
        ));
        return;
    };
    if url.host != server.host && !url.host.starts_with(&format!("{}.", server.host)) {
        return;
    }
    let at = &server.origin;
    if url.port != server.port {
        problems.push(format!(
            "{origin}: reaches PostgreSQL at port {}, but {at} answers at {}",
            url.port, server.port
        ));
    }
    if url.user != server.user {
        problems.push(format!(
            "{origin}: logs in as {:?}, but {at} creates the user {:?}",
            url.user, server.user
        ));
    }
    if url.password != server.password {
        problems.push(format!(
            "{origin}: the password in its URL is not the one {at} is given"
        ));
    }
    if url.database != server.database {
        problems.push(format!(
            "{origin}: opens the database {:?}, but {at} creates {:?}",
            url.database, server.database
        ));
    }
}

/// Every URL a workload is given that names `server` reaches it as `server` is set up.
pub fn check_clients(server: &PostgresServer, workloads: &[Workload], problems: &mut Vec<String>) {
    for w in workloads {
        for setting in URL_SETTINGS {
            if let Some(url) = w.env.get(setting) {
                check_url(&format!("{}: {setting}", w.origin), url, server, problems);
            }
        }
    }
}

/// compose.yaml's PostgreSQL: `plain` is compose without profiles, `on` with the `postgres`
/// profile and `.env`'s POSTGRES_PASSWORD, `unset` with the profile and no password;
/// `documented` the DATABASE_URLs compose.yaml gives, interpolated as `on`.
pub fn check_compose(
    plain: &Compose,
    on: &Compose,
    unset: &Compose,
    documented: &[String],
    problems: &mut Vec<String>,
) {
    let is_postgres =
        |s: &Value| scalar(&s["image"]).and_then(|i| Store::of_image(&i)) == Some(Store::Postgres);
    for (name, _) in plain.services.iter().filter(|(_, s)| is_postgres(s)) {
        problems.push(format!(
            "compose.yaml: service {name} (PostgreSQL) runs without the `{PROFILE}` profile; \
             history storage is optional"
        ));
    }
    let Some((name, service)) = on.services.iter().find(|(_, s)| is_postgres(s)) else {
        problems.push(format!(
            "compose.yaml: no PostgreSQL service under the `{PROFILE}` profile"
        ));
        return;
    };
    let origin = format!("compose.yaml: service {name}");
    let env = compose::environment(service);
    check_login(&origin, &env, problems);
    if let Some(without) = unset.services.get(name)
        && let Some(default) = compose::environment(without)
            .get("POSTGRES_PASSWORD")
            .filter(|p| !p.is_empty())
    {
        problems.push(format!(
            "{origin}: POSTGRES_PASSWORD is {default:?} without one in .env; it must come from \
             .env (`${{POSTGRES_PASSWORD:-}}`), never a default"
        ));
    }

    // The data on a named volume, below its mount or at it (a new named volume takes the
    // image's directory, owned by the postgres user).
    let pgdata = data_dir(&env);
    let mounts = compose_mounts(service);
    let on_volume = mounts.iter().any(|(source, target)| {
        source.as_ref().is_some_and(|s| is_named_volume(s)) && is_within(&pgdata, target)
    });
    if !on_volume {
        problems.push(format!(
            "{origin}: PGDATA {pgdata} is not on a named volume: the database would go with the \
             container"
        ));
    }
    let tmpfs = argv(&service["tmpfs"]).unwrap_or_default();
    for dir in WRITABLE {
        let writable = tmpfs
            .iter()
            .map(|t| t.split(':').next().unwrap_or(t))
            .chain(mounts.iter().map(|(_, target)| target.as_str()))
            .any(|t| t == dir);
        if !writable {
            problems.push(format!(
                "{origin}: {dir} is not writable on the read-only root: give it a tmpfs"
            ));
        }
    }

    // The services that use it wait for it when the profile is on, and start without it.
    for w in on
        .workloads
        .iter()
        .filter(|w| is_client(&w.env, &w.passthrough))
    {
        let dependency = &on.services[&w.name]["depends_on"][name.as_str()];
        if scalar(&dependency["condition"]).as_deref() != Some("service_healthy") {
            problems.push(format!(
                "{}: uses PostgreSQL but does not wait for service {name} to be healthy \
                 (`depends_on: {{{name}: {{condition: service_healthy, required: false}}}}`)",
                w.origin
            ));
        }
        if !dependency.is_null() && scalar(&dependency["required"]).as_deref() != Some("false") {
            problems.push(format!(
                "{}: depends on service {name} without `required: false`: it would not start \
                 without the `{PROFILE}` profile",
                w.origin
            ));
        }
    }

    let server = PostgresServer::from_env(origin, name.clone(), &env);
    if documented.is_empty() {
        problems.push(format!(
            "compose.yaml: no comment gives the DATABASE_URL of the `{PROFILE}` profile's server \
             (`DATABASE_URL=postgres://...`)"
        ));
    }
    for url in documented {
        check_url(
            "compose.yaml: the DATABASE_URL its comments give",
            url,
            &server,
            problems,
        );
    }
}

/// `(source, target)` of each of a compose service's volumes (short or long syntax); no source
/// for an anonymous volume.
fn compose_mounts(service: &Value) -> Vec<(Option<String>, String)> {
    service["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| match v {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                match parts.as_slice() {
                    [target] => Some((None, (*target).to_owned())),
                    [source, target, ..] => {
                        Some((Some((*source).to_owned()), (*target).to_owned()))
                    }
                    [] => None,
                }
            }
            v => Some((scalar(&v["source"]), scalar(&v["target"])?)),
        })
        .collect()
}

/// A compose volume source that names a volume, not a host path.
fn is_named_volume(source: &str) -> bool {
    !source.is_empty() && !source.starts_with(['/', '.', '~', '$'])
}

/// The Kubernetes container's PostgreSQL-specific settings (`env` resolved, `from_secrets` the
/// names whose value comes from a Secret, `mounts` its volume mounts by path).
pub fn check_k8s(
    origin: &str,
    env: &BTreeMap<String, String>,
    from_secrets: &BTreeSet<String>,
    mounts: &BTreeMap<String, Backing>,
    problems: &mut Vec<String>,
) {
    check_login(origin, env, problems);
    if env.contains_key("POSTGRES_PASSWORD") && !from_secrets.contains("POSTGRES_PASSWORD") {
        problems.push(format!(
            "{origin}: POSTGRES_PASSWORD is written in the manifest; read it from a Secret \
             (`valueFrom: {{secretKeyRef: ...}}`)"
        ));
    }
    let pgdata = data_dir(env);
    // The deepest mount that holds PGDATA.
    let holder = mounts
        .iter()
        .filter(|(path, _)| is_within(&pgdata, path))
        .max_by_key(|(path, _)| path.len());
    match holder {
        Some((path, Backing::Claim)) if path.trim_end_matches('/') == pgdata => {
            problems.push(format!(
                "{origin}: PGDATA is the volume's root {path}, which belongs to root and may hold \
                 lost+found (initdb refuses it): use a directory below it, e.g. {path}/pgdata"
            ))
        }
        Some((_, Backing::Claim)) => {}
        _ => problems.push(format!(
            "{origin}: PGDATA {pgdata} is not on a volumeClaimTemplate's volume: the database \
             would go with the pod"
        )),
    }
    for dir in WRITABLE {
        if mounts.get(dir) != Some(&Backing::EmptyDir) {
            problems.push(format!(
                "{origin}: {dir} is not writable on the read-only root: mount an emptyDir there"
            ));
        }
    }
}

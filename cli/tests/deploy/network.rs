//! Who may reach which pod (`NetworkPolicy`, ingress): Redis only from coinbeat's pods and
//! KEDA's operator, PostgreSQL only from the pods that use it, the API's port from anywhere,
//! the ops port only from a scraper, nothing else. A pod no ingress policy selects is open to
//! the whole cluster.

use crate::{
    k8s::{IngressRule, K8s, NetworkPolicy, Pod},
    manifests::Store,
};

/// The API's port and the ops port (`COINBEAT_OPS__ADDR` in the image).
const API_PORT: u16 = 8080;
const OPS_PORT: u16 = 9100;

pub fn check(k8s: &K8s, problems: &mut Vec<String>) {
    for pod in &k8s.pods {
        let policies: Vec<&NetworkPolicy> = k8s
            .policies
            .iter()
            .filter(|p| p.ingress_policy && p.selects.matches(&pod.labels))
            .collect();
        if policies.is_empty() {
            problems.push(format!(
                "{}: no NetworkPolicy selects its pods (labels {:?}): any pod in the cluster \
                 reaches every port",
                pod.origin, pod.labels
            ));
            continue;
        }
        let rules: Vec<&IngressRule> = policies.iter().flat_map(|p| &p.ingress).collect();
        for port in &pod.ports {
            let open = rules
                .iter()
                .any(|r| r.from.is_empty() && (r.ports.is_empty() || r.ports.contains(port)));
            let may_be_open =
                *port == API_PORT && pod.store.is_none() && !pod.ports.contains(&OPS_PORT);
            if open && !may_be_open {
                let names: Vec<&str> = policies.iter().map(|p| p.origin.as_str()).collect();
                problems.push(format!(
                    "{}: port {port} is open to anyone (an ingress rule without `from`, in one \
                     of {names:?})",
                    pod.origin
                ));
            }
            if may_be_open && !open {
                problems.push(format!(
                    "{}: the API's port {port} is not admitted from outside",
                    pod.origin
                ));
            }
        }
        match pod.store {
            Some(Store::Redis) => check_redis(pod, &rules, k8s, problems),
            Some(Store::Postgres) => check_postgres(pod, &rules, k8s, problems),
            None => {}
        }
        if pod.ports.contains(&OPS_PORT) {
            check_ops(pod, &rules, problems);
        }
    }
}

/// The rules that admit to `port`.
fn rules_to<'a>(rules: &[&'a IngressRule], port: u16) -> Vec<&'a IngressRule> {
    rules
        .iter()
        .filter(|r| r.ports.is_empty() || r.ports.contains(&port))
        .copied()
        .collect()
}

/// Every pod `uses` picks is admitted to `server`'s `port` by a same-namespace pod selector.
fn check_clients_admitted(
    server: &Pod,
    port: u16,
    rules: &[&IngressRule],
    k8s: &K8s,
    uses: impl Fn(&Pod) -> bool,
    problems: &mut Vec<String>,
) {
    for client in k8s.pods.iter().filter(|p| uses(p)) {
        let admitted = rules.iter().any(|r| {
            r.from.iter().any(|peer| {
                peer.namespaces.is_none()
                    && peer
                        .pods
                        .as_ref()
                        .is_some_and(|s| s.matches(&client.labels))
            })
        });
        if !admitted {
            problems.push(format!(
                "{}: no NetworkPolicy admits {} (labels {:?}) to port {port}",
                server.origin, client.origin, client.labels
            ));
        }
    }
}

/// Every coinbeat pod that uses Redis is admitted on its port by a same-namespace pod
/// selector; anything else admitted comes from a named namespace and pod (KEDA's operator).
fn check_redis(redis: &Pod, rules: &[&IngressRule], k8s: &K8s, problems: &mut Vec<String>) {
    let to_redis = rules_to(rules, Store::Redis.port());
    check_clients_admitted(
        redis,
        Store::Redis.port(),
        &to_redis,
        k8s,
        |p| p.uses_redis,
        problems,
    );
    for rule in &to_redis {
        for peer in &rule.from {
            let narrow = match (&peer.namespaces, &peer.pods) {
                (None, Some(pods)) => !pods.is_empty(),
                (Some(ns), Some(pods)) => !ns.is_empty() && !pods.is_empty(),
                _ => false,
            };
            if !narrow || peer.ip_block {
                problems.push(format!(
                    "{}: a NetworkPolicy admits {peer:?} to Redis: only coinbeat's pods and a \
                     named pod of a named namespace (KEDA's operator) may connect",
                    redis.origin
                ));
            }
        }
    }
}

/// Every pod that uses PostgreSQL (is given DATABASE_URL) is admitted on its port by a
/// same-namespace pod selector, and nothing else is: no pod that does not use it, nothing from
/// another namespace or an address block.
fn check_postgres(postgres: &Pod, rules: &[&IngressRule], k8s: &K8s, problems: &mut Vec<String>) {
    let port = Store::Postgres.port();
    let to_postgres = rules_to(rules, port);
    check_clients_admitted(
        postgres,
        port,
        &to_postgres,
        k8s,
        |p| p.uses_postgres,
        problems,
    );
    for rule in &to_postgres {
        for peer in &rule.from {
            match (&peer.namespaces, &peer.pods) {
                (None, Some(pods)) if !pods.is_empty() && !peer.ip_block => {
                    for other in k8s
                        .pods
                        .iter()
                        .filter(|p| !p.uses_postgres && pods.matches(&p.labels))
                    {
                        problems.push(format!(
                            "{}: a NetworkPolicy admits {}, which does not use PostgreSQL, to \
                             port {port}",
                            postgres.origin, other.origin
                        ));
                    }
                }
                _ => problems.push(format!(
                    "{}: a NetworkPolicy admits {peer:?} to PostgreSQL: only the pods that use it \
                     (DATABASE_URL) may connect",
                    postgres.origin
                )),
            }
        }
    }
}

/// The ops port is admitted only from a named scraper: a pod selector within a namespace
/// selector, both naming labels.
fn check_ops(pod: &Pod, rules: &[&IngressRule], problems: &mut Vec<String>) {
    let to_ops: Vec<&&IngressRule> = rules
        .iter()
        .filter(|r| r.ports.is_empty() || r.ports.contains(&OPS_PORT))
        .collect();
    if to_ops.is_empty() {
        problems.push(format!(
            "{}: no NetworkPolicy admits a scraper to the ops port {OPS_PORT}",
            pod.origin
        ));
    }
    for rule in to_ops {
        for peer in &rule.from {
            let scraper = peer.namespaces.as_ref().is_some_and(|s| !s.is_empty())
                && peer.pods.as_ref().is_some_and(|s| !s.is_empty())
                && !peer.ip_block;
            if !scraper {
                problems.push(format!(
                    "{}: the ops port {OPS_PORT} is admitted from {peer:?}, not only from a \
                     scraper (a pod selector within a namespace selector)",
                    pod.origin
                ));
            }
        }
    }
}

//! Who may reach which pod (`NetworkPolicy`, ingress): Redis only from coinbeat's pods and
//! KEDA's operator, the API's port from anywhere, the ops port only from a scraper, nothing
//! else. A pod no ingress policy selects is open to the whole cluster.

use crate::k8s::{IngressRule, K8s, NetworkPolicy, Pod};

/// The Redis port, the API's and the ops port (`COINBEAT_OPS__ADDR` in the image).
const REDIS_PORT: u16 = 6379;
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
            let may_be_open = *port == API_PORT && !pod.is_redis && !pod.ports.contains(&OPS_PORT);
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
        if pod.is_redis {
            check_redis(pod, &rules, k8s, problems);
        }
        if pod.ports.contains(&OPS_PORT) {
            check_ops(pod, &rules, problems);
        }
    }
}

/// Every coinbeat pod that uses Redis is admitted on its port by a same-namespace pod
/// selector; anything else admitted comes from a named namespace and pod (KEDA's operator).
fn check_redis(redis: &Pod, rules: &[&IngressRule], k8s: &K8s, problems: &mut Vec<String>) {
    let to_redis: Vec<&&IngressRule> = rules
        .iter()
        .filter(|r| r.ports.is_empty() || r.ports.contains(&REDIS_PORT))
        .collect();
    for client in k8s.pods.iter().filter(|p| p.uses_redis) {
        let admitted = to_redis.iter().any(|r| {
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
                "{}: no NetworkPolicy admits {} (labels {:?}) to port {REDIS_PORT}",
                redis.origin, client.origin, client.labels
            ));
        }
    }
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

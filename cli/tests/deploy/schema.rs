//! Field names, checked against the specifications (the compose specification, the Kubernetes
//! API of `apps/v1` and `core/v1`: workloads, their volumes, Services; KEDA's `keda.sh/v1alpha1`
//! and its redis scaler): a misspelled or misplaced field would otherwise read as absent and
//! pass every other check. The lists are the specifications' own fields, not just the ones
//! these files use.

use serde_yaml::Value;

use crate::manifests::scalar;

const COMPOSE_TOP: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models",
];
const COMPOSE_SERVICE: &[&str] = &[
    "annotations",
    "attach",
    "build",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];
const COMPOSE_HEALTHCHECK: &[&str] = &[
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "start_interval",
    "disable",
];
const COMPOSE_DEPLOY: &[&str] = &[
    "mode",
    "replicas",
    "labels",
    "resources",
    "restart_policy",
    "rollback_config",
    "update_config",
    "placement",
    "endpoint_mode",
];
const COMPOSE_RESOURCES: &[&str] = &["limits", "reservations"];
const COMPOSE_RESOURCE_LIMITS: &[&str] = &["cpus", "memory", "pids"];
const COMPOSE_RESOURCE_RESERVATIONS: &[&str] = &["cpus", "memory", "generic_resources", "devices"];
const COMPOSE_DEPENDS_ON: &[&str] = &["condition", "restart", "required"];
const COMPOSE_BUILD: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "args",
    "ssh",
    "cache_from",
    "cache_to",
    "additional_contexts",
    "entitlements",
    "extra_hosts",
    "isolation",
    "labels",
    "network",
    "no_cache",
    "platforms",
    "privileged",
    "pull",
    "secrets",
    "shm_size",
    "tags",
    "target",
    "ulimits",
];

const K8S_OBJECT: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "data",
    "stringData",
    "binaryData",
    "type",
    "immutable",
    "status",
];
const K8S_DEPLOYMENT_SPEC: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
];
const K8S_STATEFULSET_SPEC: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "volumeClaimTemplates",
    "serviceName",
    "podManagementPolicy",
    "updateStrategy",
    "revisionHistoryLimit",
    "minReadySeconds",
    "persistentVolumeClaimRetentionPolicy",
    "ordinals",
];
const K8S_POD_SPEC: &[&str] = &[
    "volumes",
    "initContainers",
    "containers",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
];
const K8S_POD_SECURITY: &[&str] = &[
    "seLinuxOptions",
    "windowsOptions",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "supplementalGroups",
    "supplementalGroupsPolicy",
    "fsGroup",
    "sysctls",
    "fsGroupChangePolicy",
    "seccompProfile",
    "appArmorProfile",
    "seLinuxChangePolicy",
];
const K8S_CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
];
const K8S_CONTAINER_SECURITY: &[&str] = &[
    "capabilities",
    "privileged",
    "seLinuxOptions",
    "windowsOptions",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "procMount",
    "seccompProfile",
    "appArmorProfile",
];
const K8S_PROBE: &[&str] = &[
    "exec",
    "httpGet",
    "tcpSocket",
    "grpc",
    "initialDelaySeconds",
    "timeoutSeconds",
    "periodSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
];
const K8S_RESOURCES: &[&str] = &["limits", "requests", "claims"];
const K8S_VOLUME_MOUNT: &[&str] = &[
    "name",
    "mountPath",
    "readOnly",
    "recursiveReadOnly",
    "subPath",
    "subPathExpr",
    "mountPropagation",
];
const K8S_VOLUME: &[&str] = &[
    "name",
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];
const K8S_EMPTY_DIR: &[&str] = &["medium", "sizeLimit"];
const K8S_CLAIM_TEMPLATE: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
const K8S_CLAIM_SPEC: &[&str] = &[
    "accessModes",
    "selector",
    "resources",
    "volumeName",
    "storageClassName",
    "volumeMode",
    "dataSource",
    "dataSourceRef",
    "volumeAttributesClassName",
];
const K8S_CLAIM_RESOURCES: &[&str] = &["limits", "requests"];
const K8S_LIFECYCLE: &[&str] = &["postStart", "preStop", "stopSignal"];
const K8S_LIFECYCLE_HANDLER: &[&str] = &["exec", "httpGet", "tcpSocket", "sleep"];
const K8S_SERVICE_SPEC: &[&str] = &[
    "ports",
    "selector",
    "clusterIP",
    "clusterIPs",
    "type",
    "externalIPs",
    "sessionAffinity",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "publishNotReadyAddresses",
    "sessionAffinityConfig",
    "ipFamilies",
    "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts",
    "loadBalancerClass",
    "internalTrafficPolicy",
    "trafficDistribution",
];
const K8S_SERVICE_PORT: &[&str] = &[
    "name",
    "protocol",
    "appProtocol",
    "port",
    "targetPort",
    "nodePort",
];
const K8S_CAPABILITIES: &[&str] = &["add", "drop"];
const K8S_SECCOMP: &[&str] = &["type", "localhostProfile"];
const K8S_ENV_VAR: &[&str] = &["name", "value", "valueFrom"];
const K8S_ENV_SOURCE: &[&str] = &[
    "configMapKeyRef",
    "secretKeyRef",
    "fieldRef",
    "resourceFieldRef",
    "fileKeyRef",
];
const K8S_KEY_SELECTOR: &[&str] = &["name", "key", "optional"];
const K8S_ENV_FROM: &[&str] = &["configMapRef", "secretRef", "prefix"];
const K8S_NETWORK_POLICY_SPEC: &[&str] = &["podSelector", "policyTypes", "ingress", "egress"];
const K8S_INGRESS_RULE: &[&str] = &["from", "ports"];
const K8S_EGRESS_RULE: &[&str] = &["to", "ports"];
const K8S_POLICY_PEER: &[&str] = &["podSelector", "namespaceSelector", "ipBlock"];
const K8S_POLICY_PORT: &[&str] = &["protocol", "port", "endPort"];
const K8S_LABEL_SELECTOR: &[&str] = &["matchLabels", "matchExpressions"];
const K8S_SELECTOR_REQUIREMENT: &[&str] = &["key", "operator", "values"];
const KEDA_SCALED_OBJECT_SPEC: &[&str] = &[
    "scaleTargetRef",
    "pollingInterval",
    "cooldownPeriod",
    "initialCooldownPeriod",
    "idleReplicaCount",
    "minReplicaCount",
    "maxReplicaCount",
    "fallback",
    "advanced",
    "triggers",
];
const KEDA_ADVANCED: &[&str] = &[
    "restoreToOriginalReplicaCount",
    "horizontalPodAutoscalerConfig",
    "scalingModifiers",
];
const KEDA_TRIGGER: &[&str] = &[
    "type",
    "name",
    "metadata",
    "authenticationRef",
    "metricType",
    "useCachedMetrics",
];
const KEDA_REDIS_METADATA: &[&str] = &[
    "address",
    "addressFromEnv",
    "host",
    "hostFromEnv",
    "port",
    "portFromEnv",
    "username",
    "usernameFromEnv",
    "passwordFromEnv",
    "listName",
    "listLength",
    "activationListLength",
    "databaseIndex",
    "enableTLS",
    "unsafeSsl",
];
const KEDA_TRIGGER_AUTH_SPEC: &[&str] = &[
    "secretTargetRef",
    "env",
    "podIdentity",
    "hashiCorpVault",
    "azureKeyVault",
    "awsSecretManager",
    "gcpSecretManager",
    "configMapTargetRef",
    "boundServiceAccountToken",
];
const KEDA_SECRET_TARGET: &[&str] = &["parameter", "name", "key"];

/// Reports every key of the mapping `v` that `allowed` lacks (`x-` extensions pass).
fn keys(v: &Value, allowed: &[&str], at: &str, problems: &mut Vec<String>) {
    for key in v.as_mapping().into_iter().flat_map(|m| m.keys()) {
        let key = scalar(key).unwrap_or_default();
        if !allowed.contains(&key.as_str()) && !key.starts_with("x-") {
            problems.push(format!("{at}: unknown field `{key}`"));
        }
    }
}

/// A compose file's top level, its services and their nested blocks.
pub fn compose(doc: &Value, problems: &mut Vec<String>) {
    keys(doc, COMPOSE_TOP, "compose.yaml", problems);
    for (name, service) in doc["services"].as_mapping().into_iter().flatten() {
        let at = format!("compose.yaml: service {}", scalar(name).unwrap_or_default());
        keys(service, COMPOSE_SERVICE, &at, problems);
        keys(
            &service["healthcheck"],
            COMPOSE_HEALTHCHECK,
            &format!("{at}: healthcheck"),
            problems,
        );
        keys(
            &service["deploy"],
            COMPOSE_DEPLOY,
            &format!("{at}: deploy"),
            problems,
        );
        let resources = &service["deploy"]["resources"];
        keys(
            resources,
            COMPOSE_RESOURCES,
            &format!("{at}: deploy.resources"),
            problems,
        );
        keys(
            &resources["limits"],
            COMPOSE_RESOURCE_LIMITS,
            &format!("{at}: deploy.resources.limits"),
            problems,
        );
        keys(
            &resources["reservations"],
            COMPOSE_RESOURCE_RESERVATIONS,
            &format!("{at}: deploy.resources.reservations"),
            problems,
        );
        keys(
            &service["build"],
            COMPOSE_BUILD,
            &format!("{at}: build"),
            problems,
        );
        for (dep, how) in service["depends_on"].as_mapping().into_iter().flatten() {
            let dep = scalar(dep).unwrap_or_default();
            keys(
                how,
                COMPOSE_DEPENDS_ON,
                &format!("{at}: depends_on {dep}"),
                problems,
            );
        }
    }
}

/// One Kubernetes or KEDA object from `file`.
pub fn k8s(file: &str, doc: &Value, problems: &mut Vec<String>) {
    let kind = scalar(&doc["kind"]).unwrap_or_default();
    let at = format!(
        "{file}: {kind} {}",
        scalar(&doc["metadata"]["name"]).unwrap_or_default()
    );
    keys(doc, K8S_OBJECT, &at, problems);
    let spec = &doc["spec"];
    match kind.as_str() {
        "Deployment" | "StatefulSet" => {
            let allowed = if kind == "Deployment" {
                K8S_DEPLOYMENT_SPEC
            } else {
                K8S_STATEFULSET_SPEC
            };
            keys(spec, allowed, &format!("{at}: spec"), problems);
            let pod = &spec["template"]["spec"];
            keys(pod, K8S_POD_SPEC, &format!("{at}: pod spec"), problems);
            keys(
                &pod["securityContext"],
                K8S_POD_SECURITY,
                &format!("{at}: pod securityContext"),
                problems,
            );
            keys(
                &pod["securityContext"]["seccompProfile"],
                K8S_SECCOMP,
                &format!("{at}: pod securityContext.seccompProfile"),
                problems,
            );
            for v in pod["volumes"].as_sequence().into_iter().flatten() {
                let at = format!("{at}: volume {}", scalar(&v["name"]).unwrap_or_default());
                keys(v, K8S_VOLUME, &at, problems);
                keys(
                    &v["emptyDir"],
                    K8S_EMPTY_DIR,
                    &format!("{at}: emptyDir"),
                    problems,
                );
            }
            for claim in spec["volumeClaimTemplates"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                let at = format!(
                    "{at}: volumeClaimTemplate {}",
                    scalar(&claim["metadata"]["name"]).unwrap_or_default()
                );
                keys(claim, K8S_CLAIM_TEMPLATE, &at, problems);
                keys(
                    &claim["spec"],
                    K8S_CLAIM_SPEC,
                    &format!("{at}: spec"),
                    problems,
                );
                keys(
                    &claim["spec"]["resources"],
                    K8S_CLAIM_RESOURCES,
                    &format!("{at}: spec.resources"),
                    problems,
                );
            }
            for c in pod["containers"].as_sequence().into_iter().flatten() {
                let at = format!("{at}, container {}", scalar(&c["name"]).unwrap_or_default());
                keys(c, K8S_CONTAINER, &at, problems);
                keys(
                    &c["securityContext"],
                    K8S_CONTAINER_SECURITY,
                    &format!("{at}: securityContext"),
                    problems,
                );
                keys(
                    &c["securityContext"]["capabilities"],
                    K8S_CAPABILITIES,
                    &format!("{at}: securityContext.capabilities"),
                    problems,
                );
                keys(
                    &c["securityContext"]["seccompProfile"],
                    K8S_SECCOMP,
                    &format!("{at}: securityContext.seccompProfile"),
                    problems,
                );
                keys(
                    &c["resources"],
                    K8S_RESOURCES,
                    &format!("{at}: resources"),
                    problems,
                );
                for var in c["env"].as_sequence().into_iter().flatten() {
                    let at = format!("{at}: env {}", scalar(&var["name"]).unwrap_or_default());
                    keys(var, K8S_ENV_VAR, &at, problems);
                    keys(
                        &var["valueFrom"],
                        K8S_ENV_SOURCE,
                        &format!("{at}: valueFrom"),
                        problems,
                    );
                    for source in ["configMapKeyRef", "secretKeyRef"] {
                        keys(
                            &var["valueFrom"][source],
                            K8S_KEY_SELECTOR,
                            &format!("{at}: {source}"),
                            problems,
                        );
                    }
                }
                for from in c["envFrom"].as_sequence().into_iter().flatten() {
                    keys(from, K8S_ENV_FROM, &format!("{at}: envFrom"), problems);
                }
                for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                    keys(&c[probe], K8S_PROBE, &format!("{at}: {probe}"), problems);
                }
                for m in c["volumeMounts"].as_sequence().into_iter().flatten() {
                    keys(m, K8S_VOLUME_MOUNT, &format!("{at}: volumeMount"), problems);
                }
                keys(
                    &c["lifecycle"],
                    K8S_LIFECYCLE,
                    &format!("{at}: lifecycle"),
                    problems,
                );
                for hook in ["postStart", "preStop"] {
                    keys(
                        &c["lifecycle"][hook],
                        K8S_LIFECYCLE_HANDLER,
                        &format!("{at}: lifecycle.{hook}"),
                        problems,
                    );
                }
            }
        }
        "Service" => {
            keys(spec, K8S_SERVICE_SPEC, &format!("{at}: spec"), problems);
            for port in spec["ports"].as_sequence().into_iter().flatten() {
                keys(port, K8S_SERVICE_PORT, &format!("{at}: port"), problems);
            }
        }
        "ScaledObject" => {
            keys(
                spec,
                KEDA_SCALED_OBJECT_SPEC,
                &format!("{at}: spec"),
                problems,
            );
            keys(
                &spec["advanced"],
                KEDA_ADVANCED,
                &format!("{at}: advanced"),
                problems,
            );
            for t in spec["triggers"].as_sequence().into_iter().flatten() {
                keys(t, KEDA_TRIGGER, &format!("{at}: trigger"), problems);
                if scalar(&t["type"]).as_deref() == Some("redis") {
                    keys(
                        &t["metadata"],
                        KEDA_REDIS_METADATA,
                        &format!("{at}: redis trigger metadata"),
                        problems,
                    );
                }
            }
        }
        "NetworkPolicy" => {
            keys(
                spec,
                K8S_NETWORK_POLICY_SPEC,
                &format!("{at}: spec"),
                problems,
            );
            label_selector(
                &spec["podSelector"],
                &format!("{at}: podSelector"),
                problems,
            );
            for (direction, allowed, peers) in [
                ("ingress", K8S_INGRESS_RULE, "from"),
                ("egress", K8S_EGRESS_RULE, "to"),
            ] {
                for rule in spec[direction].as_sequence().into_iter().flatten() {
                    let at = format!("{at}: {direction} rule");
                    keys(rule, allowed, &at, problems);
                    for peer in rule[peers].as_sequence().into_iter().flatten() {
                        keys(peer, K8S_POLICY_PEER, &format!("{at}: {peers}"), problems);
                        for selector in ["podSelector", "namespaceSelector"] {
                            label_selector(
                                &peer[selector],
                                &format!("{at}: {peers}: {selector}"),
                                problems,
                            );
                        }
                    }
                    for port in rule["ports"].as_sequence().into_iter().flatten() {
                        keys(port, K8S_POLICY_PORT, &format!("{at}: ports"), problems);
                    }
                }
            }
        }
        "TriggerAuthentication" => {
            keys(
                spec,
                KEDA_TRIGGER_AUTH_SPEC,
                &format!("{at}: spec"),
                problems,
            );
            for s in spec["secretTargetRef"].as_sequence().into_iter().flatten() {
                keys(
                    s,
                    KEDA_SECRET_TARGET,
                    &format!("{at}: secretTargetRef"),
                    problems,
                );
            }
        }
        _ => {}
    }
}

fn label_selector(v: &Value, at: &str, problems: &mut Vec<String>) {
    keys(v, K8S_LABEL_SELECTOR, at, problems);
    for e in v["matchExpressions"].as_sequence().into_iter().flatten() {
        keys(
            e,
            K8S_SELECTOR_REQUIREMENT,
            &format!("{at}: matchExpressions"),
            problems,
        );
    }
}

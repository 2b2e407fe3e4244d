//! The Kubernetes deployment (`deploy/kubernetes/`) without a cluster: each
//! overlay is rendered by `kubectl kustomize` (offline; KEDA's objects are
//! plain YAML to it, no CRDs needed), and the rendered objects are checked
//! for what `deploy/kubernetes/README.md` promises: the kinds and names,
//! the pods' security settings, probes on the real endpoints, the workers'
//! termination grace above their shutdown grace, no Secret and no
//! credentials in the manifests, NetworkPolicies that keep the workers to
//! their backends, and KEDA's ScaledObject: one `mysql` trigger whose query
//! is the code's backlog query and whose target per worker is the workers'
//! `--slots`.
//!
//! Without `kubectl` the tests print `SKIPPED: …` and pass, except under
//! `CI=true`, where they fail: the manifests must never go unchecked.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

/// The query of the ScaledObject's `mysql` trigger: the code's, on the
/// view the MySQL migrations create (jobs queued or running, every team's
/// lane; `backlog.rs` checks its number against the lanes).
const BACKLOG_QUERY: &str = agensium_mysql::BACKLOG_QUERY;

/// The overlays under `deploy/kubernetes/overlays/`.
const OVERLAYS: [&str; 2] = ["production", "dev"];

/// What every overlay renders: (kind, name).
const EXPECTED: [(&str, &str); 14] = [
    ("Deployment", "agensium-api"),
    ("Deployment", "agensium-worker"),
    ("Service", "agensium-api"),
    ("ServiceAccount", "agensium-api"),
    ("ServiceAccount", "agensium-worker"),
    ("PodDisruptionBudget", "agensium-api"),
    ("PodDisruptionBudget", "agensium-worker"),
    ("NetworkPolicy", "agensium-default-deny"),
    ("NetworkPolicy", "agensium-dns"),
    ("NetworkPolicy", "agensium-api"),
    ("NetworkPolicy", "agensium-worker"),
    ("NetworkPolicy", "agensium-backends"),
    ("ScaledObject", "agensium-worker"),
    ("TriggerAuthentication", "agensium-keda-mysql"),
];

/// What the dev overlay adds: the backends and compose's one-shot services.
const DEV_BACKENDS: [(&str, &str); 8] = [
    ("StatefulSet", "mysql"),
    ("Service", "mysql"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("StatefulSet", "s3"),
    ("Service", "s3"),
    ("Job", "minio-init"),
    ("Job", "mysql-grants"),
];

/// The uid and gid of the image's `agensium` user (Dockerfile).
const AGENSIUM_UID: u64 = 10001;

/// Ports a worker may reach: DNS, S3 over TLS, MySQL, Redis, the dev S3.
const WORKER_EGRESS_PORTS: [u64; 5] = [53, 443, 3306, 6379, 9000];

/// Ranges a webhook must not reach (the api's egress to the internet).
const PRIVATE_RANGES: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
];

/// One rendered overlay.
struct Overlay {
    name: &'static str,
    objects: Vec<Value>,
}

impl Overlay {
    /// `kubectl kustomize` of the overlay `name`, parsed.
    fn render(name: &'static str) -> Self {
        let dir = overlays_dir().join(name);
        Overlay {
            name,
            objects: documents(&kustomize(&dir)),
        }
    }

    /// The object `kind`/`name`, or a panic naming the overlay.
    fn find(&self, kind: &str, name: &str) -> &Value {
        self.objects
            .iter()
            .find(|o| kind_of(o) == kind && name_of(o) == name)
            .unwrap_or_else(|| panic!("overlay {}: no {kind} {name}", self.name))
    }

    /// The objects of kind `kind`.
    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |o| kind_of(o) == kind)
    }

    /// The objects that run pods.
    fn workloads(&self) -> impl Iterator<Item = &Value> {
        self.objects.iter().filter(|o| pod_spec(o).is_some())
    }

    /// The pod spec and first container of the Deployment `name`.
    fn deployment(&self, name: &str) -> (&Value, &Value) {
        let spec = pod_spec(self.find("Deployment", name)).expect("a pod template");
        let container = spec
            .pointer("/containers/0")
            .unwrap_or_else(|| panic!("overlay {}: {name} has no container", self.name));
        (spec, container)
    }
}

fn overlays_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/overlays")
}

/// `kubectl kustomize DIR`: the rendered YAML, or a panic with stderr.
fn kustomize(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("kubectl kustomize {}: cannot run: {e}", dir.display()));
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed ({}):\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The documents of a multi-document YAML stream, as JSON values (empty
/// documents dropped).
fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|doc| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("rendered YAML does not parse: {e}"))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

/// Whether `kubectl` runs here (`kubectl version --client`).
fn kubectl_works() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Every overlay, rendered; or `None` after printing `SKIPPED` outside CI.
/// In CI a missing `kubectl` is a failure.
fn overlays_or_skip(test: &str) -> Option<Vec<Overlay>> {
    if kubectl_works() {
        return Some(OVERLAYS.into_iter().map(Overlay::render).collect());
    }
    let msg = "no `kubectl`: it renders the overlays (`kubectl kustomize`, offline; \
               install kubectl 1.27 or later)";
    if agensium_testkit::testenv::in_ci() {
        panic!("{test}: {msg}");
    }
    println!("SKIPPED: {test}: {msg}");
    None
}

fn kind_of(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or("")
}

fn name_of(o: &Value) -> &str {
    o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The pod spec of a workload (`None` for other kinds).
fn pod_spec(o: &Value) -> Option<&Value> {
    match kind_of(o) {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            o.pointer("/spec/template/spec")
        }
        "CronJob" => o.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// What a missing field reads as.
static NULL: Value = Value::Null;

/// The labels of a workload's pods.
fn pod_labels(o: &Value) -> &Value {
    let path = match kind_of(o) {
        "CronJob" => "/spec/jobTemplate/spec/template/metadata/labels",
        _ => "/spec/template/metadata/labels",
    };
    o.pointer(path).unwrap_or(&NULL)
}

/// The `app.kubernetes.io/component` label of a workload's pods.
fn component(o: &Value) -> &str {
    pod_labels(o)["app.kubernetes.io/component"]
        .as_str()
        .unwrap_or("")
}

/// A pod's containers and init containers.
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(move |key| spec[key].as_array())
        .flatten()
}

/// The value of a container's environment variable `var`, if literal.
fn env_value<'a>(container: &'a Value, var: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == var)?
        .get("value")?
        .as_str()
}

/// The value after `flag` in a container's args (`--flag V` or `--flag=V`).
fn arg_value<'a>(container: &'a Value, flag: &str) -> Option<&'a str> {
    let args: Vec<&'a str> = container["args"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    args.iter().copied().enumerate().find_map(|(i, arg)| {
        if arg == flag {
            args.get(i + 1).copied()
        } else {
            arg.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

/// The port number an HTTP probe targets (a number, or a port's name).
fn probe_port(container: &Value, probe: &Value) -> Option<u64> {
    let port = probe.pointer("/httpGet/port")?;
    if let Some(number) = port.as_u64() {
        return Some(number);
    }
    let name = port.as_str()?;
    container["ports"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?
        .get("containerPort")?
        .as_u64()
}

/// Whether `s` holds a password: a URL with `user:password@`
/// (`mysql://u:p@host/db`) or a Go MySQL DSN (`u:p@tcp(host)/db`).
fn has_credentials(s: &str) -> bool {
    let in_url = s.split("://").skip(1).any(|rest| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    });
    in_url || s.contains("@tcp(") || s.contains("@unix(")
}

/// Whether an environment variable's name says it holds a secret (its
/// `_FILE` form, a path, is fine).
fn is_secret_name(var: &str) -> bool {
    !var.ends_with("_FILE")
        && ["PASSWORD", "SECRET", "TOKEN", "DATABASE_URL", "REDIS_URL"]
            .iter()
            .any(|word| var.contains(word))
}

/// Whether a label selector (`matchLabels`, `matchExpressions`) selects
/// pods labelled `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let by_labels = selector["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let by_expressions = selector["matchExpressions"]
        .as_array()
        .is_none_or(|es| es.iter().all(|e| expression_holds(e, labels)));
    by_labels && by_expressions
}

/// One `matchExpressions` entry against pod labels.
fn expression_holds(e: &Value, labels: &Value) -> bool {
    let got = e["key"].as_str().and_then(|key| labels.get(key));
    let listed = |v: &Value| e["values"].as_array().is_some_and(|vs| vs.contains(v));
    match e["operator"].as_str() {
        Some("In") => got.is_some_and(listed),
        Some("NotIn") => !got.is_some_and(listed),
        Some("Exists") => got.is_some(),
        Some("DoesNotExist") => got.is_none(),
        _ => false,
    }
}

/// The NetworkPolicies of `overlay` that select the pods of `workload` and
/// restrict `direction` (`Ingress` or `Egress`).
fn policies_for<'a>(overlay: &'a Overlay, workload: &Value, direction: &str) -> Vec<&'a Value> {
    let labels = pod_labels(workload);
    overlay
        .of_kind("NetworkPolicy")
        .filter(|p| selects(&p["spec"]["podSelector"], labels))
        .filter(|p| {
            p["spec"]["policyTypes"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == direction))
        })
        .collect()
}

/// The rules of `direction` (`ingress`/`egress`) in `policies`.
fn rules<'a>(policies: &[&'a Value], direction: &str) -> Vec<&'a Value> {
    policies
        .iter()
        .copied()
        .filter_map(|p| p["spec"][direction].as_array())
        .flatten()
        .collect()
}

/// The port numbers of a NetworkPolicy rule (a named port counts as none).
fn rule_ports(rule: &Value) -> Vec<Option<u64>> {
    rule["ports"]
        .as_array()
        .map(|ports| ports.iter().map(|p| p["port"].as_u64()).collect())
        .unwrap_or_default()
}

/// The directory of `path` that is a read-only mount of a Secret with
/// mode 0400, and that Secret's name.
fn secret_behind<'a>(spec: &'a Value, container: &Value, path: &str) -> Option<&'a str> {
    let mount = container["volumeMounts"].as_array()?.iter().find(|m| {
        m["mountPath"]
            .as_str()
            .is_some_and(|dir| path.starts_with(&format!("{}/", dir.trim_end_matches('/'))))
    })?;
    if mount["readOnly"] != true {
        return None;
    }
    let volume = spec["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == mount["name"])?;
    if volume["secret"]["defaultMode"] != 0o400 {
        return None;
    }
    volume["secret"]["secretName"].as_str()
}

#[test]
fn kubernetes_overlays_render_the_expected_objects() {
    let Some(overlays) = overlays_or_skip("kubernetes_overlays_render_the_expected_objects") else {
        return;
    };
    for overlay in &overlays {
        let dev = overlay.name == "dev";
        let extra = if dev { &DEV_BACKENDS[..] } else { &[] };
        for (kind, name) in EXPECTED.iter().chain(extra) {
            overlay.find(kind, name);
        }
        check_namespace(overlay);
        println!(
            "kubernetes: overlay {} renders {} objects",
            overlay.name,
            overlay.objects.len()
        );
    }
}

/// One Namespace, at Pod Security `restricted`, holding every other object.
fn check_namespace(overlay: &Overlay) {
    let namespaces: Vec<&Value> = overlay.of_kind("Namespace").collect();
    assert_eq!(namespaces.len(), 1, "overlay {}: Namespaces", overlay.name);
    let namespace = namespaces[0];
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "overlay {}: {namespace}",
        overlay.name
    );
    let ns = name_of(namespace);
    for o in overlay.objects.iter().filter(|o| kind_of(o) != "Namespace") {
        assert_eq!(
            o.pointer("/metadata/namespace").and_then(Value::as_str),
            Some(ns),
            "overlay {}: {} {} is not in the namespace {ns}",
            overlay.name,
            kind_of(o),
            name_of(o)
        );
    }
}

#[test]
fn kubernetes_pods_run_unprivileged() {
    let Some(overlays) = overlays_or_skip("kubernetes_pods_run_unprivileged") else {
        return;
    };
    for overlay in &overlays {
        let mut ours = 0;
        for workload in overlay.workloads() {
            let what = format!(
                "overlay {}: {} {}",
                overlay.name,
                kind_of(workload),
                name_of(workload)
            );
            check_pod_security(workload, &what);
            if matches!(component(workload), "api" | "worker") {
                check_runs_as_agensium(overlay, workload, &what);
                ours += 1;
            }
        }
        assert!(
            ours >= 2,
            "overlay {}: {ours} api/worker workloads",
            overlay.name
        );
    }
}

/// What Pod Security `restricted` asks, plus a read-only root filesystem
/// and no service-account token, for every pod.
fn check_pod_security(workload: &Value, what: &str) {
    let spec = pod_spec(workload).expect("a pod spec");
    assert_eq!(
        spec["automountServiceAccountToken"], false,
        "{what}: token mounted"
    );
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        assert_ne!(spec[host], true, "{what}: {host}");
    }
    let pod = &spec["securityContext"];
    assert_eq!(pod["runAsNonRoot"], true, "{what}: runAsNonRoot");
    assert_eq!(
        pod["seccompProfile"]["type"], "RuntimeDefault",
        "{what}: seccompProfile"
    );
    for container in containers(spec) {
        let sc = &container["securityContext"];
        let name = container["name"].as_str().unwrap_or("?");
        assert_eq!(
            sc["allowPrivilegeEscalation"], false,
            "{what}/{name}: privilege escalation"
        );
        assert_eq!(
            sc["readOnlyRootFilesystem"], true,
            "{what}/{name}: writable root"
        );
        assert_ne!(sc["privileged"], true, "{what}/{name}: privileged");
        assert!(
            sc["capabilities"]["drop"]
                .as_array()
                .is_some_and(|drop| drop.iter().any(|c| c == "ALL")),
            "{what}/{name}: capabilities not dropped: {sc}"
        );
        assert!(
            sc["capabilities"]["add"].is_null(),
            "{what}/{name}: capabilities added: {sc}"
        );
    }
}

/// The api's and the workers' pods: the image's user, and a ServiceAccount
/// of their own without a token.
fn check_runs_as_agensium(overlay: &Overlay, workload: &Value, what: &str) {
    let spec = pod_spec(workload).expect("a pod spec");
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        assert_eq!(
            spec["securityContext"][key], AGENSIUM_UID,
            "{what}: securityContext.{key}"
        );
    }
    let account = format!("agensium-{}", component(workload));
    assert_eq!(
        spec["serviceAccountName"],
        account.as_str(),
        "{what}: serviceAccountName"
    );
    let sa = overlay.find("ServiceAccount", &account);
    assert_eq!(sa["automountServiceAccountToken"], false, "{what}: {sa}");
}

#[test]
fn kubernetes_probes_hit_the_real_endpoints() {
    let Some(overlays) = overlays_or_skip("kubernetes_probes_hit_the_real_endpoints") else {
        return;
    };
    for overlay in &overlays {
        for (deployment, flag, port) in [
            ("agensium-api", "--listen", 8080_u64),
            ("agensium-worker", "--health-listen", 9090),
        ] {
            let what = format!("overlay {}: {deployment}", overlay.name);
            let (_, container) = overlay.deployment(deployment);
            let listen = arg_value(container, flag).unwrap_or_else(|| panic!("{what}: no {flag}"));
            assert!(
                listen.ends_with(&format!(":{port}")),
                "{what}: {flag} {listen}"
            );
            for (probe, path) in [
                ("livenessProbe", "/healthz"),
                ("readinessProbe", "/readyz"),
                ("startupProbe", "/healthz"),
            ] {
                let p = &container[probe];
                if probe == "startupProbe" && p.is_null() {
                    continue; // optional
                }
                assert_eq!(
                    p.pointer("/httpGet/path"),
                    Some(&Value::from(path)),
                    "{what}: {probe} {p}"
                );
                assert_eq!(probe_port(container, p), Some(port), "{what}: {probe} {p}");
            }
        }
    }
}

#[test]
fn kubernetes_workers_outlast_their_shutdown_grace() {
    let Some(overlays) = overlays_or_skip("kubernetes_workers_outlast_their_shutdown_grace") else {
        return;
    };
    for overlay in &overlays {
        let (spec, container) = overlay.deployment("agensium-worker");
        let grace: u64 = env_value(container, "AGENSIUM_SHUTDOWN_GRACE_SECS")
            .unwrap_or_else(|| {
                panic!(
                    "overlay {}: the workers' AGENSIUM_SHUTDOWN_GRACE_SECS is not set",
                    overlay.name
                )
            })
            .parse()
            .expect("AGENSIUM_SHUTDOWN_GRACE_SECS is a number of seconds");
        let termination = spec["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap_or_else(|| {
                panic!("overlay {}: no terminationGracePeriodSeconds", overlay.name)
            });
        assert!(
            termination > grace,
            "overlay {}: terminationGracePeriodSeconds {termination} <= AGENSIUM_SHUTDOWN_GRACE_SECS {grace}: \
             the kubelet would kill workers before they hand back their jobs",
            overlay.name
        );
    }
}

#[test]
fn kubernetes_manifests_hold_no_secrets() {
    let Some(overlays) = overlays_or_skip("kubernetes_manifests_hold_no_secrets") else {
        return;
    };
    for overlay in &overlays {
        assert_eq!(
            overlay.of_kind("Secret").count(),
            0,
            "overlay {}: a Secret is rendered",
            overlay.name
        );
        for workload in overlay.workloads() {
            check_env_holds_no_secret(overlay, workload);
        }
        for map in overlay.of_kind("ConfigMap") {
            for (key, value) in map["data"].as_object().into_iter().flatten() {
                let value = value.as_str().unwrap_or("");
                assert!(
                    !has_credentials(value),
                    "overlay {}: ConfigMap {key}={value}",
                    overlay.name
                );
                assert!(
                    !is_secret_name(key),
                    "overlay {}: ConfigMap holds {key}",
                    overlay.name
                );
            }
        }
        for role in ["api", "worker"] {
            check_secret_files(overlay, role);
        }
    }
}

/// No literal environment value holds a password, or is named like one.
fn check_env_holds_no_secret(overlay: &Overlay, workload: &Value) {
    let spec = pod_spec(workload).expect("a pod spec");
    for container in containers(spec) {
        for env in container["env"].as_array().into_iter().flatten() {
            let (name, value) = (env["name"].as_str().unwrap_or(""), env["value"].as_str());
            let what = format!(
                "overlay {}: {} {} env {name}",
                overlay.name,
                kind_of(workload),
                name_of(workload)
            );
            if let Some(value) = value {
                assert!(!has_credentials(value), "{what}: credentials in {value}");
                assert!(!is_secret_name(name), "{what}: a secret as a literal value");
            }
        }
    }
}

/// The api and the workers read their URLs and S3 key from files of their
/// own Secret (`agensium-api`, `agensium-worker`), mounted read-only, 0400.
fn check_secret_files(overlay: &Overlay, role: &str) {
    let (spec, container) = overlay.deployment(&format!("agensium-{role}"));
    let secret = format!("agensium-{role}");
    for var in [
        "AGENSIUM_DATABASE_URL_FILE",
        "AGENSIUM_REDIS_URL_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        let what = format!("overlay {}: {role} {var}", overlay.name);
        let path = env_value(container, var).unwrap_or_else(|| panic!("{what}: not set"));
        assert_eq!(
            secret_behind(spec, container, path),
            Some(secret.as_str()),
            "{what}={path}: not in a read-only, mode 0400 mount of the Secret {secret}"
        );
    }
    for var in [
        "AGENSIUM_DATABASE_URL",
        "AGENSIUM_REDIS_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(
            !container["env"]
                .as_array()
                .is_some_and(|env| env.iter().any(|e| e["name"] == var)),
            "overlay {}: {role} sets {var}: use the files",
            overlay.name
        );
    }
}

#[test]
fn kubernetes_keda_scales_workers_on_the_backlog() {
    let Some(overlays) = overlays_or_skip("kubernetes_keda_scales_workers_on_the_backlog") else {
        return;
    };
    for overlay in &overlays {
        let what = format!("overlay {}: ScaledObject agensium-worker", overlay.name);
        let so = overlay.find("ScaledObject", "agensium-worker");
        let target = &so["spec"]["scaleTargetRef"];
        assert_eq!(target["name"], "agensium-worker", "{what}: {target}");
        assert!(
            target["kind"].is_null() || target["kind"] == "Deployment",
            "{what}: {target}"
        );
        assert_eq!(so["spec"]["minReplicaCount"], 0, "{what}: minReplicaCount");
        // KEDA owns the count: a `replicas` in the Deployment would reset
        // it on every apply.
        assert!(
            overlay.find("Deployment", "agensium-worker")["spec"]["replicas"].is_null(),
            "overlay {}: the worker Deployment sets replicas",
            overlay.name
        );
        let triggers = so["spec"]["triggers"].as_array().expect("triggers");
        assert_eq!(
            triggers.len(),
            1,
            "{what}: one trigger (KEDA takes the maximum of several)"
        );
        check_trigger(overlay, &triggers[0], &what);
    }
}

/// The mysql trigger: the code's query, one worker per `--slots` jobs,
/// its connection from a TriggerAuthentication (no password in metadata).
fn check_trigger(overlay: &Overlay, trigger: &Value, what: &str) {
    assert_eq!(trigger["type"], "mysql", "{what}: {trigger}");
    let meta = &trigger["metadata"];
    assert_eq!(
        meta["query"], BACKLOG_QUERY,
        "{what}: the query is not the code's"
    );
    let (_, worker) = overlay.deployment("agensium-worker");
    let slots: u64 = arg_value(worker, "--slots")
        .expect("the workers' --slots")
        .parse()
        .expect("--slots is a number");
    let query_value: u64 = meta["queryValue"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: queryValue {}", meta["queryValue"]));
    assert_eq!(
        query_value, slots,
        "{what}: queryValue is not the workers' --slots"
    );
    assert_eq!(
        meta["activationQueryValue"], "0",
        "{what}: activationQueryValue"
    );
    let keys: Vec<&String> = meta.as_object().expect("metadata").keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["query", "queryValue", "activationQueryValue"].contains(&k.as_str())),
        "{what}: connection settings in the metadata: {keys:?}"
    );
    let auth_name = trigger["authenticationRef"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no authenticationRef"));
    let auth = overlay.find("TriggerAuthentication", auth_name);
    let refs = auth["spec"]["secretTargetRef"]
        .as_array()
        .expect("secretTargetRef");
    assert!(
        refs.iter()
            .any(|r| r["parameter"] == "connectionString" && r["name"] == "agensium-keda"),
        "{what}: {auth}"
    );
}

#[test]
fn kubernetes_network_policies_confine_the_pods() {
    let Some(overlays) = overlays_or_skip("kubernetes_network_policies_confine_the_pods") else {
        return;
    };
    for overlay in &overlays {
        check_worker_network(overlay);
        check_api_network(overlay);
    }
}

/// Workers: in on 9090 only; out only to named peers on the backends' and
/// DNS ports, never to 0.0.0.0/0.
fn check_worker_network(overlay: &Overlay) {
    let worker = overlay.find("Deployment", "agensium-worker");
    let what = format!("overlay {}: workers", overlay.name);
    let ingress = policies_for(overlay, worker, "Ingress");
    assert!(!ingress.is_empty(), "{what}: ingress unrestricted");
    for rule in rules(&ingress, "ingress") {
        assert_eq!(
            rule_ports(rule),
            [Some(9090_u64)],
            "{what}: ingress rule {rule}"
        );
    }
    let egress = policies_for(overlay, worker, "Egress");
    assert!(!egress.is_empty(), "{what}: egress unrestricted");
    for rule in rules(&egress, "egress") {
        let peers = rule["to"].as_array().filter(|to| !to.is_empty());
        let peers = peers.unwrap_or_else(|| panic!("{what}: egress to anywhere: {rule}"));
        assert!(
            peers.iter().all(|p| p["ipBlock"]["cidr"] != "0.0.0.0/0"),
            "{what}: egress to 0.0.0.0/0: {rule}"
        );
        let ports = rule_ports(rule);
        assert!(
            !ports.is_empty()
                && ports
                    .iter()
                    .all(|p| p.is_some_and(|p| WORKER_EGRESS_PORTS.contains(&p))),
            "{what}: egress rule {rule} beyond ports {WORKER_EGRESS_PORTS:?}"
        );
    }
}

/// The api: in on 8080 only; its way to the internet (webhooks) on 80/443
/// only, without the private ranges.
fn check_api_network(overlay: &Overlay) {
    let api = overlay.find("Deployment", "agensium-api");
    let what = format!("overlay {}: api", overlay.name);
    let ingress = policies_for(overlay, api, "Ingress");
    assert!(!ingress.is_empty(), "{what}: ingress unrestricted");
    for rule in rules(&ingress, "ingress") {
        assert_eq!(
            rule_ports(rule),
            [Some(8080_u64)],
            "{what}: ingress rule {rule}"
        );
    }
    let egress = policies_for(overlay, api, "Egress");
    assert!(!egress.is_empty(), "{what}: egress unrestricted");
    for rule in rules(&egress, "egress") {
        assert!(
            rule["to"].as_array().is_some_and(|to| !to.is_empty()),
            "{what}: egress to anywhere: {rule}"
        );
        let open = rule["to"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["ipBlock"]["cidr"] == "0.0.0.0/0");
        for peer in open {
            for range in PRIVATE_RANGES {
                assert!(
                    peer["ipBlock"]["except"]
                        .as_array()
                        .is_some_and(|except| except.iter().any(|e| e == range)),
                    "{what}: webhooks may reach {range}: {rule}"
                );
            }
            let mut ports = rule_ports(rule);
            ports.sort_unstable();
            assert_eq!(
                ports,
                [Some(80_u64), Some(443)],
                "{what}: webhook ports: {rule}"
            );
        }
    }
}

#[test]
fn credentials_are_recognised_in_urls_and_dsns() {
    for secret in [
        "mysql://agensium:hunter2@mysql:3306/agensium",
        "redis://agensium:hunter2@redis:6379",
        "agensium_keda:hunter2@tcp(mysql:3306)/agensium",
        "see http://u:p@example.com/x",
    ] {
        assert!(has_credentials(secret), "{secret}");
    }
    for plain in [
        "http://s3:9000",
        "https://s3.example.internal",
        "mysql://mysql:3306/agensium",
        "https://example.com/a@b:c",
        "/run/secrets/agensium/database-url",
        "0.0.0.0:8080",
    ] {
        assert!(!has_credentials(plain), "{plain}");
    }
    assert!(is_secret_name("MINIO_ROOT_PASSWORD"));
    assert!(is_secret_name("AGENSIUM_DATABASE_URL"));
    assert!(!is_secret_name("AGENSIUM_DATABASE_URL_FILE"));
    assert!(!is_secret_name("AGENSIUM_S3_ENDPOINT"));
}

#[test]
fn label_selectors_match_as_kubernetes_does() {
    let labels = serde_json::json!({"app.kubernetes.io/name": "agensium", "app.kubernetes.io/component": "worker"});
    let by_labels = serde_json::json!({"matchLabels": {"app.kubernetes.io/component": "worker"}});
    let by_expression = serde_json::json!({"matchExpressions": [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["api", "worker"]}
    ]});
    let other = serde_json::json!({"matchLabels": {"app.kubernetes.io/component": "api"}});
    assert!(selects(&by_labels, &labels));
    assert!(selects(&by_expression, &labels));
    assert!(
        selects(&serde_json::json!({}), &labels),
        "an empty selector selects all"
    );
    assert!(!selects(&other, &labels));
}

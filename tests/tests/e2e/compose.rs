//! The container deployment (`Dockerfile`, `docker-compose.yml`) without a
//! Docker engine: the compose file is validated by a real Compose
//! implementation (`docker-compose` v1 from Debian, and `docker compose` v2
//! when its plugin is installed), its normalized form (`config`) is checked
//! for what the README promises, and the Dockerfile is read as text.
//!
//! Without any validator the compose tests print `SKIPPED: …` and pass,
//! except under `CI=true`, where they fail: CI installs `docker-compose`.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

fn compose_file() -> PathBuf {
    root().join("docker-compose.yml")
}

/// A Compose implementation found on this machine.
struct Validator {
    name: &'static str,
    program: &'static str,
    prefix: &'static [&'static str],
    version: String,
}

impl Validator {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.program);
        cmd.args(self.prefix).args(args).current_dir(root());
        // Values the compose file interpolates: the checks below must see
        // its defaults, not whatever this shell happens to export.
        for var in [
            "MYSQL_USER",
            "MYSQL_PASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "MINIO_ROOT_USER",
            "MINIO_ROOT_PASSWORD",
            "RUST_LOG",
            "COMPOSE_FILE",
            "COMPOSE_PROFILES",
            "COMPOSE_PROJECT_NAME",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `… -f docker-compose.yml ARGS`: stdout, or a panic with stderr.
    fn run(&self, args: &[&str]) -> String {
        let file = compose_file();
        let mut all = vec!["-f", file.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        let out = self
            .command(&all)
            .output()
            .unwrap_or_else(|e| panic!("{}: cannot run: {e}", self.name));
        assert!(
            out.status.success(),
            "{} ({}) {:?} failed ({}):\n{}{}",
            self.name,
            self.version,
            args,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }
}

/// Every Compose implementation that answers `version` here.
fn validators() -> Vec<Validator> {
    let candidates: [(&str, &str, &[&str]); 2] = [
        ("docker-compose (v1)", "docker-compose", &[]),
        ("docker compose (v2)", "docker", &["compose"]),
    ];
    let mut found = Vec::new();
    for (name, program, prefix) in candidates {
        let mut v = Validator {
            name,
            program,
            prefix,
            version: String::new(),
        };
        let Ok(out) = v.command(&["version"]).output() else {
            continue; // not installed
        };
        if !out.status.success() {
            continue; // e.g. `docker` without the compose plugin
        }
        v.version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        found.push(v);
    }
    found
}

/// The validators, or `None` after printing `SKIPPED` outside CI. In CI a
/// missing validator is a failure: the compose file must never go unchecked.
fn validators_or_skip(test: &str) -> Option<Vec<Validator>> {
    let found = validators();
    if !found.is_empty() {
        return Some(found);
    }
    let msg = "no Compose validator: neither `docker-compose` nor `docker compose` works \
               (install Debian's `docker-compose` package; .ci/run does)";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {msg}");
    }
    println!("SKIPPED: {test}: {msg}");
    None
}

#[test]
fn compose_file_validates() {
    let Some(validators) = validators_or_skip("compose_file_validates") else {
        return;
    };
    for v in &validators {
        v.run(&["config", "-q"]);
        println!("{} ({}): docker-compose.yml is valid", v.name, v.version);
    }
}

const SERVICES: [&str; 6] = ["mysql", "redis", "minio", "minio-init", "api", "worker"];

#[test]
fn compose_file_describes_the_deployment() {
    let Some(validators) = validators_or_skip("compose_file_describes_the_deployment") else {
        return;
    };
    for v in &validators {
        let mut names: Vec<String> = v
            .run(&["config", "--services"])
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        names.sort();
        let mut expected: Vec<String> = SERVICES
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        expected.sort();
        assert_eq!(names, expected, "{}: services", v.name);

        let config = v.run(&["config"]);
        check_normalized(&config).unwrap_or_else(|e| {
            panic!(
                "{} ({}): {e}\n--- normalized config ---\n{config}",
                v.name, v.version
            )
        });
        println!("{} ({}): structure as documented", v.name, v.version);
    }
}

/// The facts the README and the deployment rely on, read from the output of
/// `config` (block-style YAML: keys sorted by v1, in file order by v2).
fn check_normalized(config: &str) -> Result<(), String> {
    let all: Vec<&str> = config.lines().collect();
    let services = section(&all, "services").ok_or("no `services`")?.1;
    let service = |name: &str| {
        section(&services, name)
            .map(|(_, body)| body)
            .ok_or(format!("no service `{name}`"))
    };

    // Every long-running service has a (not disabled) healthcheck.
    for name in SERVICES.iter().filter(|s| **s != "minio-init") {
        let svc = service(name)?;
        let (_, hc) =
            section(&svc, "healthcheck").ok_or(format!("service `{name}` has no healthcheck"))?;
        if section(&hc, "test").is_none() {
            return Err(format!("service `{name}`: healthcheck without `test`"));
        }
        if section(&hc, "disable").is_some_and(|(v, _)| unquote(&v) == "true") {
            return Err(format!("service `{name}`: healthcheck disabled"));
        }
    }

    // The API publishes 8080.
    let api = service("api")?;
    let ports = text(&section(&api, "ports").ok_or("api publishes no ports")?.1);
    let long_form = ports.contains("published: 8080") && ports.contains("target: 8080");
    if !(long_form || ports.contains("8080:8080")) {
        return Err(format!("api does not publish 8080:8080: {ports}"));
    }
    if !text(&section(&api, "command").ok_or("api has no command")?.1).contains("api") {
        return Err("api: command is not `api …`".into());
    }

    // Three workers, which can be scaled: no fixed host port, no fixed name.
    let worker = service("worker")?;
    let (_, deploy) = section(&worker, "deploy").ok_or("worker has no `deploy`")?;
    let (replicas, _) = section(&deploy, "replicas").ok_or("worker has no `deploy.replicas`")?;
    if unquote(&replicas) != "3" {
        return Err(format!("worker replicas = {replicas}, want 3"));
    }
    for key in ["ports", "container_name"] {
        if section(&worker, key).is_some() {
            return Err(format!("worker has `{key}`: replicas would collide"));
        }
    }
    if !text(
        &section(&worker, "command")
            .ok_or("worker has no command")?
            .1,
    )
    .contains("worker")
    {
        return Err("worker: command is not `worker …`".into());
    }

    // api and workers start after healthy backends and the created bucket,
    // and share the backend configuration.
    for name in ["api", "worker"] {
        let svc = service(name)?;
        let (_, deps) = section(&svc, "depends_on").ok_or(format!("{name}: no depends_on"))?;
        for (dep, condition) in [
            ("mysql", "service_healthy"),
            ("redis", "service_healthy"),
            ("minio-init", "service_completed_successfully"),
        ] {
            let (_, d) = section(&deps, dep).ok_or(format!("{name}: no depends_on.{dep}"))?;
            let c = section(&d, "condition").map(|(c, _)| unquote(&c));
            if c.as_deref() != Some(condition) {
                return Err(format!(
                    "{name}: depends_on.{dep} is {c:?}, want {condition}"
                ));
            }
        }
        let env = text(
            &section(&svc, "environment")
                .ok_or(format!("{name}: no env"))?
                .1,
        );
        for var in [
            "AGENSIUM_DATABASE_URL",
            "AGENSIUM_REDIS_URL",
            "AGENSIUM_S3_BUCKET",
            "AGENSIUM_S3_ENDPOINT",
            "AGENSIUM_S3_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            if !env.contains(var) {
                return Err(format!("{name}: environment lacks {var}"));
            }
        }
    }
    Ok(())
}

/// In a block of YAML lines (whose least-indented lines are one mapping
/// level), the entry `key:`: its inline value and the lines below it. A
/// sequence written at the key's own indentation (`key:\n- a`, as v1
/// prints) belongs to the key. Good enough for `config` output, which is
/// block style throughout.
fn section<'a>(lines: &[&'a str], key: &str) -> Option<(String, Vec<&'a str>)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let level = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()?;
    let mut it = lines.iter().enumerate();
    let (at, inline) = it.find_map(|(i, l)| {
        if l.trim().is_empty() || indent(l) != level {
            return None;
        }
        let rest = l.trim_start();
        let (k, v) = rest.split_once(':')?;
        (unquote(k) == key && (v.is_empty() || v.starts_with(' '))).then(|| (i, v.trim()))
    })?;
    let body = lines[at + 1..]
        .iter()
        .take_while(|l| {
            l.trim().is_empty()
                || indent(l) > level
                || (indent(l) == level && l.trim_start().starts_with("- "))
        })
        .copied()
        .collect();
    Some((inline.to_owned(), body))
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned()
}

/// A block as one string with quotes dropped, for `contains` checks.
fn text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| l.trim().replace(['"', '\''], ""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn section_reads_both_compose_output_styles() {
    // v1 (PyYAML): sequences at the key's indentation.
    let v1 = "services:\n  api:\n    ports:\n    - published: 8080\n      target: 8080\n    x: 1\n  worker:\n    deploy:\n      replicas: 3\nversion: '3.9'\n";
    // v2 (go-yaml): indented sequences, quoted numbers.
    let v2 = "name: main\nservices:\n  api:\n    ports:\n      - mode: ingress\n        target: 8080\n        published: \"8080\"\n        protocol: tcp\n    x: 1\n  worker:\n    deploy:\n      replicas: 3\n";
    for doc in [v1, v2] {
        let all: Vec<&str> = doc.lines().collect();
        let services = section(&all, "services").unwrap().1;
        let api = section(&services, "api").unwrap().1;
        let ports = text(&section(&api, "ports").unwrap().1);
        assert!(ports.contains("published: 8080"), "{ports}");
        assert!(ports.contains("target: 8080"), "{ports}");
        assert!(!ports.contains("x: 1"), "{ports}");
        assert_eq!(section(&api, "x").unwrap().0, "1");
        let worker = section(&services, "worker").unwrap().1;
        let deploy = section(&worker, "deploy").unwrap().1;
        assert_eq!(section(&deploy, "replicas").unwrap().0, "3");
        assert!(section(&services, "mysql").is_none());
    }
}

/// The Dockerfile's instructions, continuation lines joined and comments
/// (also those inside a continuation) dropped: (INSTRUCTION, arguments).
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim());
                current.push(' ');
            }
            None => {
                current.push_str(t);
                let (op, args) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                out.push((op.to_ascii_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_runtime_stage_runs_the_binary_as_non_root() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let all = instructions(&text);
    let stages: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(stages.len() >= 2, "multi-stage build expected: {all:?}");
    let (builder, runtime) = (
        &all[stages[0]..stages[stages.len() - 1]],
        &all[stages[stages.len() - 1]..],
    );
    let find = |stage: &[(String, String)], op: &str| -> Vec<String> {
        stage
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.clone())
            .collect()
    };

    assert!(
        find(builder, "RUN")
            .iter()
            .any(|r| r.contains("cargo build")
                && r.contains("--release")
                && r.contains("--locked")
                && r.contains("-p agensium ")
                && r.contains("--bin agensium")),
        "builder must run `cargo build --release --locked -p agensium --bin agensium`"
    );

    let runtime_from = &runtime[0].1;
    assert!(
        runtime_from.starts_with("debian:bookworm-slim"),
        "runtime stage: {runtime_from}"
    );
    assert!(
        find(runtime, "COPY")
            .iter()
            .any(|c| c.starts_with("--from=builder") && c.ends_with("/usr/local/bin/agensium")),
        "runtime must COPY --from=builder the binary to /usr/local/bin/agensium"
    );

    // The last USER of the runtime stage is what the container runs as.
    let user = find(runtime, "USER")
        .pop()
        .expect("runtime stage has no USER: it would run as root");
    let name = user.split(':').next().unwrap_or("").trim();
    assert!(
        !name.is_empty() && name != "root" && name != "0",
        "runtime USER is root: {user}"
    );
    assert_eq!(name, "10001", "runtime USER");

    assert_eq!(
        find(runtime, "ENTRYPOINT").pop().as_deref(),
        Some(r#"["agensium"]"#)
    );
    let exposed = find(runtime, "EXPOSE").join(" ");
    for port in ["8080", "9090"] {
        assert!(
            exposed
                .split_whitespace()
                .any(|p| p == port || p == format!("{port}/tcp")),
            "EXPOSE lacks {port}: {exposed}"
        );
    }

    // The health checks (the image's and docker-compose.yml's) use curl:
    // the runtime stage must install it, as bookworm-slim has none.
    let healthcheck = find(runtime, "HEALTHCHECK").pop().expect("HEALTHCHECK");
    let compose = std::fs::read_to_string(compose_file()).expect("docker-compose.yml");
    if healthcheck.contains("curl") || compose.contains("\"curl\"") {
        assert!(
            find(runtime, "RUN")
                .iter()
                .any(|r| r.contains("apt-get install") && r.contains(" curl")),
            "health checks use curl but the runtime stage does not install it"
        );
    }
}

#[test]
fn dockerignore_keeps_build_outputs_and_data_out_of_the_context() {
    let text = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    let patterns: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    for needed in ["target", "agensium-data", ".git"] {
        assert!(
            patterns.contains(&needed),
            ".dockerignore lacks {needed}: {patterns:?}"
        );
    }
}

//! The container deployment (`Dockerfile`, `docker-compose.yml`) without a
//! Docker engine: the compose file is validated by a real Compose
//! implementation (`docker-compose` v1 from Debian, and `docker compose` v2
//! when its plugin is installed), its normalized form (`config`) is checked
//! for what the README promises, and the Dockerfile is read as text.
//!
//! The compose file requires its secrets (`${VAR:?…}`): the validators run
//! with test values for them and an empty env file (no `.env` of yours
//! counts), and must refuse to run without any one of them. Safe defaults
//! are checked too: the API published on 127.0.0.1 only, no MinIO console,
//! read-only api and worker containers without capabilities, under limits,
//! and S3 keys of their own; the workers' S3 policy (minio-init's command)
//! is read from the file as text and must stay confined. So must the
//! workers' MySQL account (mysql-grants' GRANTs, against
//! `agensium_mysql::WORKER_GRANTS`), and Redis must require a password
//! (security review finding 8).
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

/// The secrets docker-compose.yml requires (`${VAR:?message}`, no
/// defaults), with test values that all differ, so that the checks can tell
/// which one a service got.
const SECRETS: [(&str, &str); 7] = [
    ("MYSQL_PASSWORD", "test-mysql-password"),
    ("MYSQL_ROOT_PASSWORD", "test-mysql-root-password"),
    ("MYSQL_WORKER_PASSWORD", "test-mysql-worker-password"),
    ("REDIS_PASSWORD", "test-redis-password"),
    ("MINIO_ROOT_PASSWORD", "test-minio-root-password"),
    ("S3_API_SECRET_KEY", "test-s3-api-secret-key"),
    ("S3_WORKER_SECRET_KEY", "test-s3-worker-secret-key"),
];

/// The test value of the required secret `var`.
fn secret(var: &str) -> &'static str {
    SECRETS
        .iter()
        .find(|(v, _)| *v == var)
        .map(|(_, value)| *value)
        .unwrap_or_else(|| panic!("SECRETS has no {var}"))
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
            "MYSQL_WORKER_USER",
            "MINIO_ROOT_USER",
            "S3_API_ACCESS_KEY",
            "S3_WORKER_ACCESS_KEY",
            "AGENSIUM_PUBLISH",
            "AGENSIUM_CEILING_MEMORY_MIB",
            "RUST_LOG",
            "COMPOSE_FILE",
            "COMPOSE_PROFILES",
            "COMPOSE_PROJECT_NAME",
        ] {
            cmd.env_remove(var);
        }
        // The secrets it requires (no defaults): test values.
        for (var, value) in SECRETS {
            cmd.env(var, value);
        }
        cmd
    }

    /// `… --env-file EMPTY -f docker-compose.yml ARGS`, with the required
    /// secret `missing` (if any) unset: its status and output. The empty
    /// env file keeps a `.env` beside docker-compose.yml out of the checks.
    fn output(&self, args: &[&str], missing: Option<&str>) -> std::process::Output {
        let file = compose_file();
        let env_file = tempfile::NamedTempFile::new().expect("an empty env file");
        let mut all = vec![
            "--env-file",
            env_file.path().to_str().expect("utf-8 path"),
            "-f",
            file.to_str().expect("utf-8 path"),
        ];
        all.extend_from_slice(args);
        let mut cmd = self.command(&all);
        if let Some(var) = missing {
            cmd.env_remove(var);
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("{}: cannot run: {e}", self.name))
    }

    /// `… -f docker-compose.yml ARGS`: stdout, or a panic with stderr.
    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args, None);
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

#[test]
fn compose_file_requires_its_secrets() {
    let Some(validators) = validators_or_skip("compose_file_requires_its_secrets") else {
        return;
    };
    for v in &validators {
        for (var, _) in SECRETS {
            let out = v.output(&["config", "-q"], Some(var));
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !out.status.success(),
                "{} ({}): `config` accepted docker-compose.yml without {var}",
                v.name,
                v.version
            );
            assert!(
                said.contains(&format!("set {var} in .env")),
                "{} ({}): without {var}, no message naming it:\n{said}",
                v.name,
                v.version
            );
        }
        println!("{} ({}): every secret is required", v.name, v.version);
    }
}

const SERVICES: [&str; 7] = [
    "mysql",
    "redis",
    "minio",
    "minio-init",
    "api",
    "mysql-grants",
    "worker",
];

/// The services that run once and exit 0 (no healthcheck).
const ONE_SHOT: [&str; 2] = ["minio-init", "mysql-grants"];

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
    let service = |name: &str| service_in(&services, name);

    // Every long-running service has a (not disabled) healthcheck.
    for name in SERVICES.iter().filter(|s| !ONE_SHOT.contains(*s)) {
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
    // … on the loopback interface only (AGENSIUM_PUBLISH unset): v1 prints
    // `- 127.0.0.1:8080:8080/tcp`, v2 a `host_ip` in each entry.
    let entries = ports.lines().filter(|l| l.starts_with("- ")).count();
    let loopback = ports
        .lines()
        .map(|l| l.trim_start_matches("- "))
        .filter(|l| l.starts_with("127.0.0.1:") || *l == "host_ip: 127.0.0.1")
        .count();
    if entries == 0 || loopback != entries {
        return Err(format!("api ports not all bound to 127.0.0.1: {ports}"));
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
    // and share the backend configuration; the workers also wait for their
    // MySQL account (mysql-grants), the api does not (mysql-grants waits for
    // the api).
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
        let waits = section(&deps, "mysql-grants")
            .and_then(|(_, d)| section(&d, "condition"))
            .map(|(c, _)| unquote(&c));
        let want = (name == "worker").then_some("service_completed_successfully");
        if waits.as_deref() != want {
            return Err(format!(
                "{name}: depends_on.mysql-grants is {waits:?}, want {want:?}"
            ));
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

    // api, workers and mysql-grants: read-only root, no capabilities, no
    // privilege escalation, memory and task limits, a tmpfs /tmp.
    for name in ["api", "worker", "mysql-grants"] {
        let svc = service(name)?;
        let read_only = section(&svc, "read_only").map(|(v, _)| unquote(&v));
        if read_only.as_deref() != Some("true") {
            return Err(format!("{name}: read_only is {read_only:?}, want true"));
        }
        let caps = text(
            &section(&svc, "cap_drop")
                .ok_or(format!("{name}: no cap_drop"))?
                .1,
        );
        if !caps.lines().any(|l| l == "- ALL") {
            return Err(format!("{name}: cap_drop lacks ALL: {caps}"));
        }
        let opts = text(
            &section(&svc, "security_opt")
                .ok_or(format!("{name}: no security_opt"))?
                .1,
        );
        if !opts
            .lines()
            .any(|l| l == "- no-new-privileges:true" || l == "- no-new-privileges")
        {
            return Err(format!(
                "{name}: security_opt lacks no-new-privileges: {opts}"
            ));
        }
        for key in ["mem_limit", "pids_limit"] {
            let (v, _) = section(&svc, key).ok_or(format!("{name}: no {key}"))?;
            let v = unquote(&v);
            if v.is_empty() || v == "0" || v == "-1" {
                return Err(format!("{name}: {key} is {v:?}: unlimited"));
            }
        }
        let tmpfs = text(&section(&svc, "tmpfs").ok_or(format!("{name}: no tmpfs"))?.1);
        if !tmpfs
            .lines()
            .any(|l| l == "- /tmp" || l.starts_with("- /tmp:"))
        {
            return Err(format!("{name}: no tmpfs on /tmp: {tmpfs}"));
        }
    }

    // The workers' data directory (their compiled-code cache) is a tmpfs,
    // not the read-only root.
    let data_dir = env_value(&worker, "AGENSIUM_DATA_DIR")
        .ok_or("worker: no AGENSIUM_DATA_DIR: its cache would be on the read-only root")?;
    let tmpfs = text(&section(&worker, "tmpfs").ok_or("worker: no tmpfs")?.1);
    let mounted = tmpfs.lines().any(|l| {
        l.strip_prefix("- ")
            .and_then(|m| m.strip_prefix(data_dir.as_str()))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
    });
    if !mounted {
        return Err(format!(
            "worker: no tmpfs at AGENSIUM_DATA_DIR {data_dir}: {tmpfs}"
        ));
    }

    // Three S3 users: the workers' key is neither the api's nor MinIO's
    // root, and the api's is not root either.
    let minio = service("minio")?;
    for (var, root_var) in [
        ("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER"),
        ("AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD"),
    ] {
        let a = env_value(&api, var).ok_or(format!("api: no {var}"))?;
        let w = env_value(&worker, var).ok_or(format!("worker: no {var}"))?;
        let root = env_value(&minio, root_var).ok_or(format!("minio: no {root_var}"))?;
        if w == a || w == root || a == root {
            return Err(format!(
                "{var}: api {a:?}, worker {w:?}, MinIO root ({root_var}) {root:?}: \
                 want three different values"
            ));
        }
    }

    // Nothing else is published: no MinIO console (port 9001, or any).
    if section(&minio, "ports").is_some() {
        return Err("minio publishes ports".into());
    }
    if config.contains("9001") || config.contains("console-address") {
        return Err("the MinIO console (9001) is still configured".into());
    }
    if env_value(&minio, "MINIO_BROWSER").as_deref() != Some("off") {
        return Err("minio: MINIO_BROWSER is not `off`".into());
    }
    Ok(())
}

/// The block of service `name` among `services` (the body of `services:`).
fn service_in<'a>(services: &[&'a str], name: &str) -> Result<Vec<&'a str>, String> {
    section(services, name)
        .map(|(_, body)| body)
        .ok_or(format!("no service `{name}`"))
}

/// The value of `environment.VAR` in a service's block.
fn env_value(svc: &[&str], var: &str) -> Option<String> {
    let (_, env) = section(svc, "environment")?;
    section(&env, var).map(|(v, _)| unquote(&v))
}

/// The user and the password of a `scheme://user:password@host…` URL, the
/// value of `environment.VAR` in a service's block.
fn url_credentials(svc: &[&str], name: &str, var: &str) -> Result<(String, String), String> {
    let url = env_value(svc, var).ok_or(format!("{name}: no {var}"))?;
    let credentials = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'));
    match credentials {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok((user.to_owned(), password.to_owned()))
        }
        _ => Err(format!("{name}: {var} {url:?} has no user:password")),
    }
}

/// The string a YAML scalar spells when `config` prints it over several
/// lines (the lines of an entry, or of a list whose first item it is): a
/// literal block (`|`, as v2 prints a multi-line string), a double-quoted
/// string with escapes folded over lines (v1), or a plain or single-quoted
/// one. As exact as the checks need: runs of whitespace may differ.
fn scalar(lines: &[&str]) -> String {
    let mut rest = lines.iter().map(|l| l.trim());
    let first = rest.next().unwrap_or("");
    let first = first.strip_prefix("- ").unwrap_or(first).trim_start();
    if first.starts_with('|') || first.starts_with('>') {
        return rest.collect::<Vec<_>>().join("\n");
    }
    let Some(quoted) = first.strip_prefix('"') else {
        let folded = std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(" ");
        return match folded.strip_prefix('\'').and_then(|f| f.strip_suffix('\'')) {
            Some(inner) => inner.replace("''", "'"),
            None => folded,
        };
    };
    // A line break is a space, unless the line ends in an escaping `\`
    // (then nothing); the next line's indentation is not content.
    let mut raw = quoted.to_owned();
    for line in rest {
        let backslashes = raw.len() - raw.trim_end_matches('\\').len();
        if backslashes % 2 == 1 {
            raw.pop();
        } else {
            raw.push(' ');
        }
        raw.push_str(line);
    }
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(escaped) => out.push(escaped),
                None => {}
            },
            c => out.push(c),
        }
    }
    out
}

/// A privilege list (`SELECT, UPDATE`), upper-case and sorted.
fn privileges(list: &str) -> Vec<String> {
    let mut all: Vec<String> = list
        .split(',')
        .map(|p| p.trim().to_ascii_uppercase())
        .filter(|p| !p.is_empty())
        .collect();
    all.sort();
    all
}

#[test]
fn the_workers_get_a_confined_mysql_account_and_redis_needs_a_password() {
    let Some(validators) =
        validators_or_skip("the_workers_get_a_confined_mysql_account_and_redis_needs_a_password")
    else {
        return;
    };
    for v in &validators {
        let config = v.run(&["config"]);
        check_least_privilege(&config).unwrap_or_else(|e| {
            panic!(
                "{} ({}): {e}\n--- normalized config ---\n{config}",
                v.name, v.version
            )
        });
        println!(
            "{} ({}): the workers' MySQL account is confined, Redis needs a password",
            v.name, v.version
        );
    }
}

/// Security review finding 8, read from the output of `config`: the
/// workers reach MySQL with an account of their own, which mysql-grants
/// gives exactly `agensium_mysql::WORKER_GRANTS`; Redis has no passwordless
/// `default` user, and the api and the workers authenticate.
fn check_least_privilege(config: &str) -> Result<(), String> {
    let all: Vec<&str> = config.lines().collect();
    let services = section(&all, "services").ok_or("no `services`")?.1;
    let service = |name: &str| service_in(&services, name);
    let api = service("api")?;
    let worker = service("worker")?;
    let grants = service("mysql-grants")?;
    let redis = service("redis")?;

    // MySQL: the workers' user is not the api's, and has its own password.
    let (api_user, api_password) = url_credentials(&api, "api", "AGENSIUM_DATABASE_URL")?;
    let (worker_user, worker_password) =
        url_credentials(&worker, "worker", "AGENSIUM_DATABASE_URL")?;
    if worker_user == api_user {
        return Err(format!(
            "the workers connect to MySQL as the api's user {api_user:?}"
        ));
    }
    if api_password != secret("MYSQL_PASSWORD") {
        return Err(format!(
            "api: MySQL password {api_password:?}, want MYSQL_PASSWORD's"
        ));
    }
    if worker_password != secret("MYSQL_WORKER_PASSWORD")
        || worker_password == secret("MYSQL_PASSWORD")
    {
        return Err(format!(
            "worker: MySQL password {worker_password:?}, want MYSQL_WORKER_PASSWORD's"
        ));
    }

    // mysql-grants: for that user and password, once the api (which
    // migrates) is healthy.
    for (var, want) in [
        ("MYSQL_USER", api_user.as_str()),
        ("MYSQL_WORKER_USER", worker_user.as_str()),
        ("MYSQL_WORKER_PASSWORD", worker_password.as_str()),
    ] {
        let got = env_value(&grants, var);
        if got.as_deref() != Some(want) {
            return Err(format!("mysql-grants: {var} is {got:?}, want {want:?}"));
        }
    }
    let after_api = section(&grants, "depends_on")
        .and_then(|(_, deps)| section(&deps, "api"))
        .and_then(|(_, d)| section(&d, "condition"))
        .map(|(c, _)| unquote(&c));
    if after_api.as_deref() != Some("service_healthy") {
        return Err(format!(
            "mysql-grants: depends_on.api is {after_api:?}, want service_healthy"
        ));
    }
    let restart = section(&grants, "restart").map(|(r, _)| unquote(&r));
    if restart.as_deref() != Some("no") {
        return Err(format!("mysql-grants: restart is {restart:?}, want no"));
    }

    // Its script: the user (not the api's), its password (also when it
    // changes), and one GRANT per entry of WORKER_GRANTS, no other.
    let script = scalar(
        &section(&grants, "command")
            .ok_or("mysql-grants: no command")?
            .1,
    )
    .replace("$$", "$");
    let words: Vec<&str> = script.split_whitespace().collect();
    let statements = words.join(" ");
    for needed in [
        "[ \"$MYSQL_WORKER_USER\" = \"$MYSQL_USER\" ]",
        "CREATE USER IF NOT EXISTS '$MYSQL_WORKER_USER'@'%' IDENTIFIED BY '$MYSQL_WORKER_PASSWORD'",
        "ALTER USER '$MYSQL_WORKER_USER'@'%' IDENTIFIED BY '$MYSQL_WORKER_PASSWORD'",
    ] {
        if !statements.contains(needed) {
            return Err(format!(
                "mysql-grants: its command lacks `{needed}`:\n{script}"
            ));
        }
    }
    let mut found: Vec<(String, String, Vec<String>)> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if !word.eq_ignore_ascii_case("GRANT") {
            continue;
        }
        let rest = &words[i + 1..];
        let on = rest
            .iter()
            .position(|w| w.eq_ignore_ascii_case("ON"))
            .ok_or(format!("mysql-grants: a GRANT without ON:\n{script}"))?;
        let object = rest
            .get(on + 1)
            .map(|o| o.replace('`', ""))
            .unwrap_or_default();
        let (db, table) = object.split_once('.').ok_or(format!(
            "mysql-grants: GRANT … ON {object:?}, not <db>.<table>"
        ))?;
        let to_worker = rest
            .get(on + 2)
            .is_some_and(|w| w.eq_ignore_ascii_case("TO"))
            && rest
                .get(on + 3)
                .is_some_and(|w| w.starts_with("'$MYSQL_WORKER_USER'@"));
        if !to_worker {
            return Err(format!(
                "mysql-grants: GRANT … ON {object} is not to '$MYSQL_WORKER_USER'"
            ));
        }
        found.push((
            db.to_owned(),
            table.to_owned(),
            privileges(&rest[..on].join(" ")),
        ));
    }
    let mentions = script.to_ascii_uppercase().matches("GRANT").count();
    if mentions != found.len() || found.len() != agensium_mysql::WORKER_GRANTS.len() {
        return Err(format!(
            "mysql-grants: {mentions} GRANTs, {} of them `GRANT … ON db.table TO` the \
             worker, want {} (agensium_mysql::WORKER_GRANTS):\n{script}",
            found.len(),
            agensium_mysql::WORKER_GRANTS.len()
        ));
    }
    for (table, privs) in agensium_mysql::WORKER_GRANTS {
        let on_table: Vec<&Vec<String>> = found
            .iter()
            .filter(|(d, t, _)| d == "agensium" && t == table)
            .map(|(_, _, p)| p)
            .collect();
        if on_table != [&privileges(privs)] {
            return Err(format!(
                "mysql-grants: on agensium.{table} grants {on_table:?}, want exactly {privs}"
            ));
        }
    }

    // Redis: the server has `default` off and, confined to the app's keys
    // and without dangerous commands, the user that both URLs carry, with
    // REDIS_PASSWORD.
    let redis_password = secret("REDIS_PASSWORD");
    let (inline, body) = section(&redis, "command").ok_or("redis: no command")?;
    let command = std::iter::once(unquote(&inline))
        .chain(
            text(&body)
                .lines()
                .map(|l| l.strip_prefix("- ").unwrap_or(l).to_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ");
    for needed in ["--user default off", "~agensium:*", "-@dangerous"] {
        if !command.contains(needed) {
            return Err(format!("redis: its command lacks `{needed}`: {command}"));
        }
    }
    if let Some(open) = command
        .split_whitespace()
        .find(|w| ["~*", "allkeys", "nopass"].contains(w))
    {
        return Err(format!("redis: its command has `{open}`: {command}"));
    }
    for (name, svc) in [("api", &api), ("worker", &worker)] {
        let (user, password) = url_credentials(svc, name, "AGENSIUM_REDIS_URL")?;
        if password != redis_password {
            return Err(format!(
                "{name}: Redis password {password:?}, want REDIS_PASSWORD's"
            ));
        }
        let acl = format!("--user {user} on >{redis_password}");
        if user == "default" || !command.contains(&acl) {
            return Err(format!(
                "{name}: Redis user {user:?}, but redis has no `{acl}`: {command}"
            ));
        }
    }
    // The healthcheck authenticates, with the password in the environment.
    let (_, hc) = section(&redis, "healthcheck").ok_or("redis: no healthcheck")?;
    let test = text(
        &section(&hc, "test")
            .ok_or("redis: healthcheck without test")?
            .1,
    );
    if !(test.contains("--user") && test.contains("--pass") && test.contains("REDIS_PASSWORD")) {
        return Err(format!(
            "redis: the healthcheck does not authenticate: {test}"
        ));
    }
    if env_value(&redis, "REDIS_PASSWORD").as_deref() != Some(redis_password) {
        return Err("redis: REDIS_PASSWORD is not in its environment".into());
    }
    Ok(())
}

/// The policy document that minio-init writes to `/tmp/{name}.json` (a
/// heredoc in its command), read from docker-compose.yml itself: the
/// output of `config` re-quotes it.
fn policy(compose: &str, name: &str) -> serde_json::Value {
    let start = format!("cat > /tmp/{name}.json <<'EOF'");
    let body: Vec<&str> = compose
        .lines()
        .skip_while(|l| l.trim() != start)
        .skip(1)
        .take_while(|l| l.trim() != "EOF")
        .collect();
    assert!(!body.is_empty(), "docker-compose.yml: no policy {name}");
    serde_json::from_str(&body.join("\n"))
        .unwrap_or_else(|e| panic!("docker-compose.yml: policy {name}: {e}"))
}

/// The (action, resource) pairs a policy allows; it must allow only.
fn grants(policy: &serde_json::Value) -> Vec<(String, String)> {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for st in policy["Statement"].as_array().expect("a Statement list") {
        assert_eq!(st["Effect"], "Allow", "{st}");
        for action in strings(&st["Action"]) {
            for resource in strings(&st["Resource"]) {
                out.push((action.clone(), resource));
            }
        }
    }
    out
}

#[test]
fn minio_init_gives_the_workers_a_confined_s3_key() {
    let compose = std::fs::read_to_string(compose_file()).expect("docker-compose.yml");
    let bucket = "arn:aws:s3:::agensium";
    let has = |pairs: &[(String, String)], action: &str, resource: &str| {
        pairs.iter().any(|(a, r)| a == action && r == resource)
    };

    // Workers: read processors/ and artifacts/ (written by the api at
    // upload), read/write/delete jobs/, list the bucket; nothing more.
    let worker = grants(&policy(&compose, "agensium-worker"));
    for (action, resource) in &worker {
        let r = resource.as_str();
        let allowed = match action.as_str() {
            "s3:ListBucket" | "s3:GetBucketLocation" => r == bucket,
            "s3:GetObject" => ["processors/*", "artifacts/*", "jobs/*"]
                .iter()
                .any(|p| r == format!("{bucket}/{p}")),
            "s3:PutObject"
            | "s3:DeleteObject"
            | "s3:AbortMultipartUpload"
            | "s3:ListMultipartUploadParts" => r == format!("{bucket}/jobs/*"),
            _ => false,
        };
        assert!(allowed, "the workers' policy allows {action} on {resource}");
    }
    for (action, resource) in [
        ("s3:ListBucket", bucket.to_owned()),
        ("s3:GetObject", format!("{bucket}/processors/*")),
        ("s3:GetObject", format!("{bucket}/artifacts/*")),
        ("s3:GetObject", format!("{bucket}/jobs/*")),
        ("s3:PutObject", format!("{bucket}/jobs/*")),
        ("s3:DeleteObject", format!("{bucket}/jobs/*")),
    ] {
        assert!(
            has(&worker, action, &resource),
            "the workers' policy lacks {action} on {resource}"
        );
    }

    // The api: read/write on the whole bucket.
    let api = grants(&policy(&compose, "agensium-api"));
    for (action, resource) in [
        ("s3:ListBucket", bucket.to_owned()),
        ("s3:GetObject", format!("{bucket}/*")),
        ("s3:PutObject", format!("{bucket}/*")),
        ("s3:DeleteObject", format!("{bucket}/*")),
    ] {
        assert!(
            has(&api, action, &resource),
            "the api's policy lacks {action} on {resource}"
        );
    }

    // Each policy is created and attached to its own user.
    for (name, user) in [
        ("agensium-api", "S3_API_ACCESS_KEY"),
        ("agensium-worker", "S3_WORKER_ACCESS_KEY"),
    ] {
        for line in [
            format!("mc admin policy create agensium {name} /tmp/{name}.json"),
            format!("attach {name} \"$${user}\""),
        ] {
            assert!(
                compose.lines().any(|l| l.trim() == line),
                "minio-init does not run `{line}`"
            );
        }
    }
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

//! `agensium run` and `agensium validate`: a processor on a file, with no
//! server, gives exactly what the same job gives through the API.

use agensium_tests::procs::binary;
use agensium_tests::{TestApp, fixture};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn component_path(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(dir)
        .join(format!("{name}.wasm"))
}

/// A real file from `tests/data` (see its README).
fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name),
    )
    .unwrap()
}

/// `agensium run COMPONENT --input FILE [--param K=V…] ARGS…` (output on
/// stdout), with the environment of no configuration.
fn run_local(component: &Path, input: &Path, params: &[&str], args: &[&str]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.arg("run").arg(component).arg("--input").arg(input);
    for p in params {
        cmd.args(["--param", p]);
    }
    cmd.args(args)
        .env_remove("AGENSIUM_CONFIG")
        .output()
        .expect("agensium runs")
}

/// The same bytes, params and processor as a job through the API.
#[tokio::test]
async fn a_local_run_gives_the_same_bytes_as_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path(), |_| {}).await;
    let r = app.register("hostile", "1.0.0", fixture("hostile")).await;
    assert!(r.status().is_success());
    app.install("wordcount", "1.0.0").await;
    app.install("csv-to-jsonl", "1.0.0").await;
    app.install("markdown-html", "1.0.0").await;
    app.install("gzip", "1.0.0").await;
    app.install("json-format", "1.0.0").await;
    app.install("jq", "1.0.0").await;
    app.install("image-thumbnail", "1.0.0").await;
    let json = format!(
        "[{}]",
        (0..2000)
            .map(|i| format!(r#"{{"id":{i},"name":"n{i}","tags":["a","b"],"ok":true}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let markdown = "# Title\n\nSome *text*, `code` and a [link](https://example.com).\n\n\
                    | a | b |\n|---|---|\n| 1 | 2 |\n\n```\nfenced\n```\n";
    let csv: String = (0..20_000)
        .map(|i| format!("{i};name {i};\"quoted; {i}\"\n"))
        .collect();
    let text: Vec<u8> = (0..100_000u32)
        .flat_map(|i| format!("row {i}\n").into_bytes())
        .collect();
    // A gzip stream from the system's own gzip, for the decompressing run.
    let gzipped = {
        let plain = dir.path().join("plain");
        std::fs::write(&plain, &text).unwrap();
        let out = Command::new("gzip").arg("-c").arg(&plain).output().unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let orders: String = (0..5000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"total\":{},\"who\":\"c{}\"}}\n",
                i % 97,
                i % 7
            )
        })
        .collect();
    let cases: [(&str, PathBuf, Vec<u8>, &[&str]); 11] = [
        (
            "jq",
            component_path("plugins", "jq"),
            orders.into_bytes(),
            &["filter=select(.total > 90) | {id, who}"],
        ),
        (
            "image-thumbnail",
            component_path("plugins", "image-thumbnail"),
            data("board.jpg"),
            &["width=200", "format=webp"],
        ),
        (
            "image-thumbnail",
            component_path("plugins", "image-thumbnail"),
            data("screenshot.png"),
            &["width=320", "height=320", "fit=cover"],
        ),
        (
            "json-format",
            component_path("plugins", "json-format"),
            json.into_bytes(),
            &["indent=4"],
        ),
        (
            "gzip",
            component_path("plugins", "gzip"),
            text.clone(),
            &["level=9"],
        ),
        (
            "gzip",
            component_path("plugins", "gzip"),
            gzipped,
            &["mode=decompress"],
        ),
        (
            "markdown-html",
            component_path("plugins", "markdown-html"),
            markdown.repeat(200).into_bytes(),
            &["extensions=tables,fenced_code"],
        ),
        (
            "wordcount",
            component_path("plugins", "wordcount"),
            b"one two\nthree\n".repeat(50_000),
            &[],
        ),
        (
            "csv-to-jsonl",
            component_path("plugins", "csv-to-jsonl"),
            format!("a;b;c\n{csv}").into_bytes(),
            &["delimiter=;"],
        ),
        (
            "hostile",
            component_path("fixtures", "hostile"),
            (0..=255u8).cycle().take(300_000).collect(),
            &["mode=echo"],
        ),
        (
            "csv-to-jsonl",
            component_path("plugins", "csv-to-jsonl"),
            b"x\n1\n".to_vec(),
            &[],
        ),
    ];
    for (name, component, input, params) in cases {
        let file = dir.path().join("input");
        std::fs::write(&file, &input).unwrap();
        let local = run_local(&component, &file, params, &[]);
        let stderr = String::from_utf8_lossy(&local.stderr);
        assert!(local.status.success(), "{name}: {stderr}");
        assert!(stderr.contains("succeeded: content-type"), "{stderr}");
        let query: Vec<String> = params.iter().map(|p| format!("param.{p}")).collect();
        let id = app.submit_ok(name, &query.join("&"), input).await;
        let job = app.wait(&id).await;
        assert_eq!(job["status"], "succeeded", "{name}: {job}");
        let (content_type, via_api) = app.result(&id).await;
        if name == "image-thumbnail" {
            assert!(content_type.starts_with("image/"), "{content_type}");
            let width = &job["stats"]["width"];
            assert!(width == "200" || width == "320", "{job}");
        }
        if name == "jq" {
            let lines = String::from_utf8_lossy(&via_api);
            let want = (0..5000).filter(|i| i % 97 > 90).count();
            assert_eq!(lines.lines().count(), want, "{lines}");
            assert!(lines.starts_with("{\"id\":91,\"who\":\"c0\"}\n"), "{lines}");
        }
        if name == "markdown-html" {
            assert_eq!(content_type, "text/html; charset=utf-8");
            let html = String::from_utf8_lossy(&via_api);
            assert!(
                html.contains("<h1>Title</h1>") && html.contains("<table>"),
                "{html}"
            );
        }
        assert!(!via_api.is_empty());
        assert!(
            local.stdout == via_api,
            "{name}: local output differs from the job's"
        );
    }
    app.stop().await;
}

/// A failing job: exit 1, the failure code on stderr, no output file left.
/// A limit is the worker's limit.
#[test]
fn a_failed_local_run_exits_non_zero_with_the_code_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ragged.csv");
    std::fs::write(&input, "a,b\n1\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let csv = component_path("plugins", "csv-to-jsonl");
    let r = run_local(&csv, &input, &[], &["--output", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed: invalid_input"), "{stderr}");
    assert!(!out.exists() && !dir.path().join("out.jsonl.partial").exists());

    let hostile = component_path("fixtures", "hostile");
    let r = run_local(
        &hostile,
        &input,
        &["mode=sleep", "ms=5000"],
        &["--timeout-ms", "200"],
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed: timeout"), "{stderr}");

    // A Python processor's own failure code, as raised in `process`.
    let md = component_path("plugins", "markdown-html");
    let r = run_local(&md, &input, &["extensions=bogus"], &[]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failed: invalid_params: param \"extensions\""),
        "{stderr}"
    );

    // A JavaScript processor's own failure code, as returned by `process`.
    let js = component_path("plugins", "json-format");
    let r = run_local(&js, &input, &[], &[]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failed: invalid_input: SyntaxError"),
        "{stderr}"
    );

    let r = run_local(&csv, &input, &["no-value"], &[]);
    assert_ne!(r.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--param"));
}

/// `validate` checks what an upload checks and says what it found.
#[test]
fn validate_reports_imports_and_compile_time_or_why_not() {
    let ok = Command::new(binary())
        .arg("validate")
        .arg(component_path("plugins", "wordcount"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("a valid processor"), "{stdout}");
    assert!(stdout.contains("agensium:processor/host@0.1.0"), "{stdout}");
    assert!(stdout.contains("compile: "), "{stdout}");

    let not = Command::new(binary())
        .arg("validate")
        .arg(component_path("fixtures", "not-a-processor"))
        .output()
        .unwrap();
    assert_eq!(not.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&not.stderr);
    assert!(stderr.contains("not-a-processor.wasm"), "{stderr}");
}

/// A component built against `agensium:processor@0.1.0` (and committed as
/// built) loads and runs on this host, now and after the contract grows.
#[test]
fn a_component_built_against_contract_0_1_0_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one two\nthree\n").unwrap();
    let component = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/wordcount-wit-0.1.0.wasm");
    let r = run_local(&component, &input, &[], &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(r.stdout, br#"{"lines":2,"words":3,"bytes":14}"#);
}

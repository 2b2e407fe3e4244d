#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
//! Microbenchmarks of the processor runtime: job latency, compile vs load,
//! Wasm vs native throughput and the cost of fuel metering. A plain
//! `harness = false` binary (no criterion, to keep CI builds light).
//!
//! Needs `target/plugins/{wordcount,csv-to-jsonl}.wasm`
//! (`cargo xtask build-plugin --all`) and, for the trivial processor,
//! `target/fixtures/hostile.wasm` (built by `cargo xtask test`; skipped when
//! missing). Run it on the dev build of wasmtime (which the workspace
//! optimises even in dev), with this package and the example processors'
//! native code optimised like a release build:
//!
//! ```text
//! cargo bench -p agensium-engine --bench runtime --profile dev $(
//!   for p in agensium-engine wordcount csv-to-jsonl; do
//!     for k in opt-level=3 debug-assertions=false overflow-checks=false; do
//!       echo --config profile.dev.package.$p.$k; done; done)
//! ```
//!
//! Without those flags this package is built at opt-level 0: wasmtime's
//! generic `list<u8>` lifting and lowering, instantiated here, then copies
//! byte by byte and dominates (Wasm throughput drops 2.5x for wordcount,
//! 100x for an echo; the bench warns). Plain `cargo bench -p agensium-engine
//! --bench runtime` uses the release profile instead (after a long release
//! build of wasmtime).
//!
//! Environment: `BENCH_MB` (input size, default 100), `BENCH_SCRIPT_MB` (input
//! of the Python and JavaScript processors, default 1), `BENCH_RUNS` (latency
//! runs, default 2000), `BENCH_PLUGINS` (directory of the two plugins, e.g.
//! unstripped builds), `BENCH_PERFMAP=1` (profiling: runs only section 4 and
//! names its JIT code in `/tmp/perf-<pid>.map` for `perf record`). Figures are
//! noisy when other processes compete for the CPU: the load average is
//! printed before and after.

use agensium_domain::Limits;
use agensium_domain::Pairs;
use agensium_engine::bindings::{self, Level, ProcessorPre};
use agensium_engine::{JobLog, Metering, Processor, Run, Runtime};
use agensium_ports::ByteStream;
use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Input is streamed to processors in chunks of this size, like the worker's.
const CHUNK: usize = 256 * 1024;
/// Repetitions of each throughput run; the best one is reported.
const REPS: usize = 3;

fn main() -> Result<()> {
    let mb = env_num("BENCH_MB", 100);
    let runs = env_num("BENCH_RUNS", 2000);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("agensium-engine runtime bench, load average {}", loadavg());
    if cfg!(debug_assertions) {
        println!("WARNING: unoptimised host glue dominates throughput (see the bench's docs)");
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let plugins = std::env::var_os("BENCH_PLUGINS").map_or(target.join("plugins"), PathBuf::from);
    let wasm = |p: PathBuf| -> Result<Vec<u8>> {
        std::fs::read(&p).with_context(|| format!("reading {} (see the bench's docs)", p.display()))
    };
    let wc = wasm(plugins.join("wordcount.wasm"))?;
    let csv = wasm(plugins.join("csv-to-jsonl.wasm"))?;
    let hostile = wasm(target.join("fixtures/hostile.wasm")).ok();
    if std::env::var_os("BENCH_PERFMAP").is_some() {
        // Profiling mode: only section 4, its JIT code named in /tmp/perf-<pid>.map.
        return tokio.block_on(async {
            fuel_overhead("wordcount", &wc, &gen_text(mb << 20), None).await?;
            fuel_overhead("csv-to-jsonl", &csv, &gen_csv(mb << 20), None).await
        });
    }
    let rt = Runtime::new()?;
    tokio.block_on(async {
        println!("\n## 1. Job latency, empty input, {runs} runs (+10% warm-up)");
        let wc_p = rt.compile(&wc, Metering::Epoch)?;
        latency(&rt, "wordcount", &wc_p, Vec::new(), &Bytes::new(), runs).await?;
        let echo = vec![("mode".to_owned(), "echo".to_owned())];
        match &hostile {
            Some(h) => {
                latency(
                    &rt,
                    "hostile echo",
                    &rt.compile(h, Metering::Epoch)?,
                    echo.clone(),
                    &Bytes::new(),
                    runs,
                )
                .await?;
            }
            None => {
                println!("(target/fixtures/hostile.wasm missing: `cargo xtask test` builds it)");
            }
        }
        raw_instantiate(&wc, runs).await?;

        println!("\n## 2. Runtime::precompile vs Runtime::load_artifact, median of 10");
        compile_vs_load(&rt, "wordcount", &wc)?;
        compile_vs_load(&rt, "csv-to-jsonl", &csv)?;

        let text = gen_text(mb << 20);
        let table = gen_csv(mb << 20);
        println!("\n## 3. Throughput, {mb} MiB from memory in 256 KiB chunks, best of {REPS}");
        let csv_p = rt.compile(&csv, Metering::Epoch)?;
        let wc_rate =
            throughput(&rt, "wordcount", &wc_p, &[], &text, Some(native_wordcount)).await?;
        let csv_rate =
            throughput(&rt, "csv-to-jsonl", &csv_p, &[], &table, Some(native_csv)).await?;
        if let Some(h) = &hostile {
            println!("  (hostile echo: the host's read + write path alone)");
            let echo_p = rt.compile(h, Metering::Epoch)?;
            throughput(&rt, "hostile echo", &echo_p, &echo, &text, None).await?;
        }

        println!("\n## 4. Epoch interruption only vs epoch + fuel, bare host, best of {REPS}");
        fuel_overhead("wordcount", &wc, &text, Some(wc_rate)).await?;
        fuel_overhead("csv-to-jsonl", &csv, &table, Some(csv_rate)).await?;

        let script_mb = env_num("BENCH_SCRIPT_MB", 1);
        println!(
            "\n## 5. Python and JavaScript processors: cold start (compile, load = deserialize, \
             a job of a small input = instantiate + run) and {script_mb} MiB throughput"
        );
        for (name, params, input) in scripts(script_mb << 20) {
            match std::fs::read(plugins.join(format!("{name}.wasm"))) {
                Ok(wasm) => script(&rt, name, &wasm, &params, &input).await?,
                Err(_) => println!("  ({name}.wasm missing: `cargo xtask build-plugin {name}`)"),
            }
        }
        anyhow::Ok(())
    })?;
    println!("\nload average {}", loadavg());
    Ok(())
}

/// Section 1: latency of one job of a trivial processor with empty input
/// through `Runtime::run`, end to end: WASI context, store, instantiation
/// from the pooling allocator, `process`, final flush. Every job pays it.
async fn latency(
    rt: &Runtime,
    name: &str,
    p: &Processor,
    params: Pairs,
    input: &Bytes,
    runs: usize,
) -> Result<()> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + runs / 10 {
        let (secs, _) = wasm_run(rt, p, params.clone(), input).await?;
        if i >= runs / 10 {
            times.push(Duration::from_secs_f64(secs));
        }
    }
    print_percentiles(&format!("Runtime::run {name}"), times);
    Ok(())
}

/// Section 1b: `ProcessorPre::instantiate_async` alone, and store +
/// instantiate + `process`, for wordcount on a bench engine configured like
/// the runtime's, with a bare host (the runtime's `JobState` cannot be built
/// outside the crate). The gap to `Runtime::run` is the real host's per-job
/// setup (WASI context, limiter, epoch callback, timeout, channel).
async fn raw_instantiate(wasm: &[u8], runs: usize) -> Result<()> {
    let bare = BareProc::new(wasm, false)?;
    let (mut inst, mut whole) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for i in 0..runs + runs / 10 {
        let (instantiate, total) = bare.run(Bytes::new()).await?;
        if i >= runs / 10 {
            inst.push(instantiate);
            whole.push(total);
        }
    }
    print_percentiles("instantiate_async alone (bare host)", inst);
    print_percentiles("store+instantiate+process (bare)", whole);
    Ok(())
}

/// Section 2: compiling a component at upload (`precompile`: Cranelift,
/// serialize, link check) vs what a worker does with its artifact
/// (read the file, check its SHA-256 against the ledger's, `load_artifact`:
/// copy, relocate, link check), median of 10 each. The artifact file is in
/// the page cache: this is CPU, not disk latency.
fn compile_vs_load(rt: &Runtime, name: &str, wasm: &[u8]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(format!("{name}.cwasm"));
    let (mut compile, mut load, mut artifact) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..10 {
        let t = Instant::now();
        artifact = rt.precompile(wasm, Metering::Epoch)?.1;
        compile.push(t.elapsed());
    }
    std::fs::write(&path, &artifact)?;
    let want = agensium_domain::Digest::of(&artifact);
    for _ in 0..10 {
        let t = Instant::now();
        let bytes = std::fs::read(&path)?;
        assert_eq!(agensium_domain::Digest::of(&bytes), want);
        black_box(rt.load_artifact(&bytes, Metering::Epoch)?);
        load.push(t.elapsed());
    }
    let (c, l) = (median(compile), median(load));
    println!(
        "  {name:<14} compile {:>7.2} ms   load {:>6.2} ms   ({:.0}x; wasm {} KiB, artifact {} KiB)",
        c.as_secs_f64() * 1e3,
        l.as_secs_f64() * 1e3,
        c.as_secs_f64() / l.as_secs_f64(),
        wasm.len() >> 10,
        artifact.len() >> 10
    );
    Ok(())
}

/// Section 3: MB/s (10^6 input bytes per second) of a processor through
/// `Runtime::run`, input streamed from memory and output drained, vs the
/// same Rust code compiled natively fed the same chunks in place (the goal
/// is wasm/native >= 0.8). Without a native twin (hostile echo, which only
/// copies input to output) it is the ceiling of the host's I/O path.
async fn throughput(
    rt: &Runtime,
    name: &str,
    p: &Processor,
    params: &[(String, String)],
    input: &Bytes,
    native: Option<fn(&[u8]) -> u64>,
) -> Result<f64> {
    let (mut secs, mut n_secs) = (f64::MAX, f64::MAX);
    for _ in 0..REPS {
        // Interleaved, so that load from other processes hits both alike.
        let (s, out) = wasm_run(rt, p, params.to_vec(), input).await?;
        secs = secs.min(s);
        let t = Instant::now();
        // Without a twin, the processor is an echo (its output is its
        // input) or one checked by its own tests (`out` is not known).
        let n_out = match native {
            Some(f) => Some(f(input)),
            None if name.ends_with("echo") => Some(input.len() as u64),
            None => None,
        };
        n_secs = n_secs.min(t.elapsed().as_secs_f64());
        if let Some(n_out) = n_out {
            anyhow::ensure!(n_out == out, "{name}: wrote {out} bytes, expected {n_out}");
        }
    }
    let (w, n) = (mbps(input.len(), secs), mbps(input.len(), n_secs));
    match native {
        Some(_) => println!(
            "  {name:<14} wasm {w:>7.0} MB/s  native {n:>7.0} MB/s  wasm/native {:.2}",
            w / n
        ),
        None => println!("  {name:<14} wasm {w:>7.2} MB/s"),
    }
    Ok(w)
}

/// Runs `p` once over `input` through `Runtime::run` with default limits;
/// (seconds, output bytes).
async fn wasm_run(rt: &Runtime, p: &Processor, params: Pairs, input: &Bytes) -> Result<(f64, u64)> {
    let drain = |mut rx: agensium_engine::OutputChunks| async move {
        let mut n = 0u64;
        while let Some(chunk) = rx.recv().await {
            n += chunk.map_or(0, |c| c.len() as u64);
        }
        n
    };
    let run = Run {
        params,
        input: chunked(input.clone()),
        limits: Limits::default(),
        log: JobLog::new(1 << 20),
        cancel: CancellationToken::new(),
    };
    let t = Instant::now();
    // Drained in the same task: no cross-thread wake-ups in the figures.
    let (out, n) = rt.run_draining(p, run, drain).await;
    let secs = t.elapsed().as_secs_f64();
    out.result.map_err(|e| anyhow!("{e:?}"))?;
    Ok((secs, n))
}

/// Section 5's processors: (plugin, params, input of about `size` bytes).
fn scripts(size: usize) -> [(&'static str, Pairs, Bytes); 2] {
    let paragraph = "# Heading\n\nSome *emphasis*, `code`, a [link](https://example.com) and\n\
                     a list:\n\n* one\n* two\n\n";
    let markdown = paragraph.repeat(size / paragraph.len() + 1);
    let mut json = String::from("[");
    for i in 0.. {
        if json.len() >= size {
            break;
        }
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"id":{i},"name":"item {i}","tags":["a","b"],"ok":true}}"#
        ));
    }
    json.push(']');
    [
        ("markdown-html", Vec::new(), Bytes::from(markdown)),
        ("json-format", Vec::new(), Bytes::from(json)),
    ]
}

/// Section 5 for one processor: compile vs load, job latency on a small
/// input, throughput.
async fn script(
    rt: &Runtime,
    name: &str,
    wasm: &[u8],
    params: &Pairs,
    input: &Bytes,
) -> Result<()> {
    compile_vs_load(rt, name, wasm)?;
    let p = rt.compile(wasm, Metering::Epoch)?;
    let small = input.slice(..input.len().min(64));
    let small = if name == "json-format" {
        Bytes::from_static(b"[1,2,3]")
    } else {
        small
    };
    latency(rt, name, &p, params.clone(), &small, 20).await?;
    throughput(rt, name, &p, params, input, None).await?;
    Ok(())
}

/// Output bytes of the native wordcount (its JSON).
fn native_wordcount(input: &[u8]) -> u64 {
    let mut c = wordcount::Counts::default();
    for chunk in input.chunks(CHUNK) {
        c.feed(chunk);
    }
    black_box(c).to_json().len() as u64
}

/// Output bytes of the native csv-to-jsonl.
fn native_csv(input: &[u8]) -> u64 {
    let mut conv = csv_to_jsonl::Converter::new(b',');
    let (mut out, mut written) = (Vec::with_capacity(2 * CHUNK), 0);
    for chunk in input.chunks(CHUNK) {
        conv.feed(chunk, &mut out).expect("valid CSV");
        written += black_box(&out).len() as u64;
        out.clear();
    }
    conv.finish(&mut out).expect("valid CSV");
    written + out.len() as u64
}

/// Section 4: the same component compiled on two engines configured like
/// the runtime's, one also with `consume_fuel(true)`, run with a bare host:
/// the slowdown fuel metering would cost over epoch interruption alone. The
/// bare epoch rate vs section 3's rate shows what the real host's I/O costs.
async fn fuel_overhead(
    name: &str,
    wasm: &[u8],
    input: &Bytes,
    run_rate: Option<f64>,
) -> Result<()> {
    let bare = [BareProc::new(wasm, false)?, BareProc::new(wasm, true)?];
    let mut secs = [f64::MAX; 2];
    for _ in 0..REPS {
        // Interleaved, so that load from other processes hits both alike.
        for (b, secs) in bare.iter().zip(&mut secs) {
            *secs = secs.min(b.run(input.clone()).await?.1.as_secs_f64());
        }
    }
    let [epoch, fuel] = secs.map(|s| mbps(input.len(), s));
    let of_bare = run_rate.map_or(String::new(), |r| {
        format!("  (Runtime::run: {:.0}% of bare)", r / epoch * 100.0)
    });
    println!(
        "  {name:<14} epoch {epoch:>7.0} MB/s  epoch+fuel {fuel:>7.0} MB/s  slowdown {:>5.1}%{of_bare}",
        (epoch / fuel - 1.0) * 100.0,
    );
    Ok(())
}

/// A processor on its own engine with the runtime's settings (component
/// model, epoch interruption, copy-on-write images, pooling allocator), fuel
/// optional, and a bare host.
struct BareProc {
    engine: Engine,
    pre: ProcessorPre<Bare>,
    fuel: bool,
}

impl BareProc {
    fn new(wasm: &[u8], fuel: bool) -> Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_init_cow(true)
            .consume_fuel(fuel);
        if std::env::var_os("BENCH_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(4)
            .total_core_instances(32)
            .total_memories(8)
            .total_tables(32)
            .total_stacks(4)
            .max_memory_size(4 << 30);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Processor::add_to_linker::<Bare, HasSelf<Bare>>(&mut linker, |s| s)?;
        let component = Component::new(&engine, wasm)?;
        let pre = ProcessorPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self { engine, pre, fuel })
    }

    /// Runs `process` over `input` in a new store: (instantiate, whole run).
    async fn run(&self, input: Bytes) -> Result<(Duration, Duration)> {
        let t = Instant::now();
        let (wasi, table) = (WasiCtx::builder().build(), ResourceTable::new());
        let mut store = Store::new(&self.engine, Bare { wasi, table, input });
        store.set_epoch_deadline(1 << 40); // nothing ticks this engine
        if self.fuel {
            store.set_fuel(u64::MAX)?;
        }
        let t_inst = Instant::now();
        let instance = self.pre.instantiate_async(&mut store).await?;
        let instantiate = t_inst.elapsed();
        let called = instance.call_process(&mut store, &[]).await?;
        called.map_err(|f| anyhow!(f.message))?;
        anyhow::ensure!(store.data().input.is_empty(), "input not read");
        Ok((instantiate, t.elapsed()))
    }
}

/// A minimal host: input handed out from memory, output dropped.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
    input: Bytes,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::agensium::processor::types::Host for Bare {}

impl bindings::agensium::processor::host::Host for Bare {
    async fn read(&mut self, max: u32) -> wasmtime::Result<Vec<u8>> {
        let n = self.input.len().min(max as usize).min(1 << 20);
        Ok(self.input.split_to(n).to_vec())
    }
    async fn write(&mut self, _: Vec<u8>) -> wasmtime::Result<()> {
        Ok(())
    }
    async fn log(&mut self, _: Level, _: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// `bytes` as a stream of `CHUNK`-sized slices (no copies).
fn chunked(bytes: Bytes) -> ByteStream {
    let starts = (0..bytes.len()).step_by(CHUNK);
    Box::pin(futures::stream::iter(
        starts.map(move |i| Ok(bytes.slice(i..(i + CHUNK).min(bytes.len())))),
    ))
}

/// Deterministic pseudo-random numbers below `n` (xorshift64).
fn rand(state: &mut u64, n: u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % n
}

/// About `size` bytes of text: lines of 1..=15 lowercase words of 1..=10
/// letters.
fn gen_text(size: usize) -> Bytes {
    let (mut rng, mut out) = (0x2545_f491_4f6c_dd1d, Vec::with_capacity(size + 64));
    while out.len() < size {
        for w in 0..=rand(&mut rng, 15) {
            if w > 0 {
                out.push(b' ');
            }
            let len = rand(&mut rng, 10);
            out.extend((0..=len).map(|_| b'a' + rand(&mut rng, 26) as u8));
        }
        out.push(b'\n');
    }
    out.into()
}

/// About `size` bytes of CSV like `cargo xtask bench`'s big file: quoted
/// fields, embedded commas, doubled quotes, non-ASCII text.
fn gen_csv(size: usize) -> Bytes {
    use std::io::Write;
    let mut out = Vec::with_capacity(size + 128);
    out.extend_from_slice(b"id,name,comment,amount,city\n");
    let mut i = 0u64;
    while out.len() < size {
        let (who, amount, cents) = (i % 977, i * 13 % 100_000, i % 100);
        writeln!(
            out,
            "{i},\"Name {i}, Jr.\",\"said \"\"hello\"\" to {who}\",{amount}.{cents:02},Zürich"
        )
        .expect("writing to a Vec");
        i += 1;
    }
    out.into()
}

fn print_percentiles(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    println!(
        "  {what:<36} p50 {:>7.1} µs  p99 {:>7.1} µs",
        at(0.5),
        at(0.99)
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

//! The wasmtime engine, component validation and the per-digest cache.

use crate::bindings;
use crate::sandbox::JobState;
use agensium_core::Digest;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// A validated, compiled processor, ready to instantiate in microseconds.
pub type Processor = bindings::ProcessorPre<JobState>;

/// How often the epoch ticks; the granularity of wall-time limits.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why bytes are not an acceptable processor. Each variant maps to a stable
/// error code (see [`ValidateError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// Not WebAssembly at all.
    #[error("not a WebAssembly binary (missing the \\0asm magic number)")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component: build for wasm32-wasip2 \
         (cargo xtask build-plugin) or wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    /// A component that does not compile.
    #[error("invalid component: {0}")]
    Invalid(String),
    /// A component that does not fit the `agensium:processor/processor` world.
    #[error("component does not implement the agensium:processor@0.1.0 world: {0}")]
    WrongWorld(String),
}

impl ValidateError {
    /// The stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotWasm => "not_wasm",
            Self::CoreModule => "not_a_component",
            Self::Invalid(_) => "invalid_component",
            Self::WrongWorld(_) => "wrong_world",
        }
    }
}

/// Owns the engine and the linker shared by every job. Compiles, checks and
/// (de)serializes components; see [`crate::Loader`] for the per-digest cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<JobState>,
    compat: String,
    ticker_stop: Arc<AtomicBool>,
}

/// Most component instances alive at once in one process (pooling allocator).
const MAX_INSTANCES: u32 = 128;

impl Runtime {
    /// Builds the engine (component model, epoch interruption, pooling
    /// allocator with copy-on-write memory images) and the linker with the
    /// host functions and a deny-by-default WASI.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.memory_init_cow(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_INSTANCES)
            .total_core_instances(MAX_INSTANCES * 8)
            .total_memories(MAX_INSTANCES * 2)
            .total_tables(MAX_INSTANCES * 8)
            .total_stacks(MAX_INSTANCES)
            .max_memory_size(4 << 30);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Processor::add_to_linker::<JobState, HasSelf<JobState>>(&mut linker, |s| s)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let compat = format!("{:016x}", h.finish());

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (stop, ticking) = (ticker_stop.clone(), engine.clone());
        std::thread::Builder::new()
            .name("agensium-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                }
            })?;
        Ok(Self {
            engine,
            linker,
            compat,
            ticker_stop,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Object-store key of the precompiled artifact of `digest` for this
    /// engine: artifacts from other wasmtime versions or settings never match.
    pub fn artifact_key(&self, digest: &Digest) -> String {
        format!("artifacts/{}-{}.cwasm", digest.hex(), self.compat)
    }

    /// Checks that `bytes` is a component of the processor world whose
    /// imports the host satisfies, and compiles it. CPU-heavy: call from a
    /// blocking context.
    pub fn compile(&self, bytes: &[u8]) -> Result<Processor, ValidateError> {
        self.compile_component(bytes).map(|(p, _)| p)
    }

    /// Like [`Runtime::compile`], and also serializes the compiled code so
    /// that workers load it without compiling.
    pub fn precompile(&self, bytes: &[u8]) -> Result<(Processor, Vec<u8>), ValidateError> {
        let (p, component) = self.compile_component(bytes)?;
        let artifact = component
            .serialize()
            .map_err(|e| ValidateError::Invalid(format!("serializing: {e:#}")))?;
        Ok((p, artifact))
    }

    fn compile_component(&self, bytes: &[u8]) -> Result<(Processor, Component), ValidateError> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(ValidateError::NotWasm);
        }
        // Bytes 4..8 are version + layer; layer 0 is a core module.
        if bytes[6..8] == [0, 0] {
            return Err(ValidateError::CoreModule);
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| ValidateError::Invalid(format!("{e:#}")))?;
        Ok((self.prepare(&component)?, component))
    }

    /// Loads a precompiled artifact written by [`Runtime::precompile`].
    ///
    /// The file must come from a trusted place (this process's cache, or the
    /// object store, which only the API writes after compiling): loading a
    /// crafted artifact runs arbitrary native code. See SECURITY.md.
    pub fn load_artifact(&self, path: &std::path::Path) -> Result<Processor, ValidateError> {
        // SAFETY: artifacts are produced by `precompile` of this engine
        // configuration (the key carries the compatibility hash) and stored
        // by trusted components only; wasmtime checks the header.
        let component = unsafe { Component::deserialize_file(&self.engine, path) }
            .map_err(|e| ValidateError::Invalid(format!("loading artifact: {e:#}")))?;
        self.prepare(&component)
    }

    fn prepare(&self, component: &Component) -> Result<Processor, ValidateError> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            ValidateError::WrongWorld(format!("{e:#}{}", unsatisfied(&self.engine, component)))
        })?;
        Processor::new(pre).map_err(|e| ValidateError::WrongWorld(format!("{e:#}")))
    }
}

/// Interfaces the host provides to processors: everything else is refused.
const PROVIDED: &[&str] = &[
    "agensium:processor/",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// `"; unsatisfied imports: a, b"` listing every import of `component` that
/// the host does not provide (empty when there is none).
fn unsatisfied(engine: &Engine, component: &Component) -> String {
    let missing: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| !PROVIDED.iter().any(|p| name.starts_with(p)))
        .collect();
    if missing.is_empty() {
        String::new()
    } else {
        format!("; unsatisfied imports: {}", missing.join(", "))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_wasm_core_modules_and_wrong_worlds() {
        let rt = Runtime::new().unwrap();
        assert!(matches!(
            rt.compile(b"hello world"),
            Err(ValidateError::NotWasm)
        ));
        // The smallest core module: magic + version 1.
        let core = b"\0asm\x01\0\0\0";
        assert!(matches!(rt.compile(core), Err(ValidateError::CoreModule)));
        // The smallest component: magic + version 0x0d, layer 1. It exports nothing.
        let empty = b"\0asm\x0d\0\x01\0";
        let Err(err) = rt.compile(empty) else {
            panic!("an empty component is no processor")
        };
        assert!(matches!(err, ValidateError::WrongWorld(_)), "{err}");
        assert!(err.to_string().contains("process"), "{err}");
        let truncated = b"\0asm\x0d\0\x01\0\x07\x05";
        assert!(matches!(
            rt.compile(truncated),
            Err(ValidateError::Invalid(_))
        ));
    }
}

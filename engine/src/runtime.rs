//! The wasmtime engine, component validation and the per-digest cache.

use super::bindings;
use super::state::JobState;
use agensium_domain::Digest;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// A validated, compiled processor, ready to instantiate in microseconds.
#[derive(Clone)]
pub struct Processor {
    pre: bindings::ProcessorPre<JobState>,
    metering: Metering,
}

impl Processor {
    /// The pre-instantiated component (its engine is the one to run it on).
    pub fn pre(&self) -> &bindings::ProcessorPre<JobState> {
        &self.pre
    }

    /// Whether it was compiled with fuel accounting.
    pub fn metering(&self) -> Metering {
        self.metering
    }

    /// The names of what the component imports and exports
    /// (`agensium:processor/host@0.1.0`, `wasi:io/streams@0.2.x`, …).
    pub fn interfaces(&self) -> (Vec<String>, Vec<String>) {
        let component = self.pre.instance_pre().component();
        let engine = component.engine();
        let ty = component.component_type();
        let names = |it: &mut dyn Iterator<Item = &str>| it.map(str::to_owned).collect();
        (
            names(&mut ty.imports(engine).map(|(n, _)| n)),
            names(&mut ty.exports(engine).map(|(n, _)| n)),
        )
    }
}

/// How a processor's CPU use is bounded. Fuel accounting makes generated
/// code slower (1–25%), so it lives on a second engine used only by versions
/// that declare fuel; everything else runs with epoch interruption alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metering {
    /// Wall time only (epoch interruption).
    Epoch,
    /// Wall time and a deterministic fuel budget.
    Fuel,
}

impl Metering {
    /// The metering a job with these limits needs.
    pub fn of(limits: &agensium_domain::Limits) -> Self {
        if limits.fuel.is_some() {
            Self::Fuel
        } else {
            Self::Epoch
        }
    }
}

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
    /// A component with more core instances, memories or tables than one
    /// sandbox holds (see [`PER_COMPONENT`]).
    #[error("component is too big for one sandbox: {0}")]
    TooManyInstances(String),
    /// A component whose structure is known to make the compiler blow up
    /// (see `screen`); refused before compiling.
    #[error("component refused before compiling: {0}")]
    Unreasonable(String),
}

impl ValidateError {
    /// The stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotWasm => "not_wasm",
            Self::CoreModule => "not_a_component",
            Self::Invalid(_) => "invalid_component",
            Self::WrongWorld(_) => "wrong_world",
            Self::TooManyInstances(_) => "too_many_instances",
            Self::Unreasonable(_) => "compile_bomb",
        }
    }
}

/// One engine (epoch-only or fuel-metered) with its linker.
struct Flavor {
    engine: Engine,
    linker: Linker<JobState>,
    compat: String,
    metering: Metering,
}

/// Most of each kind one component may hold; a component over any of them
/// is refused at upload (`too_many_instances`), so one job never takes a
/// large share of the pool. Ordinary processors use a handful of each
/// (Rust: 1–4 core instances; componentize-py: about 15, one memory).
pub struct PerComponent {
    /// Core module instances.
    pub core_instances: u32,
    /// Linear memories.
    pub memories: u32,
    /// Tables.
    pub tables: u32,
}

/// The per-component maxima of every engine.
pub const PER_COMPONENT: PerComponent = PerComponent {
    core_instances: 32,
    memories: 4,
    tables: 32,
};

/// The engine configuration shared by the pooled engines that run jobs
/// and the compile-only engine of admission: same code, same artifacts.
fn base_config(metering: Metering) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.consume_fuel(metering == Metering::Fuel);
    config.memory_init_cow(true);
    config
}

/// A pooling allocator for `instances` component instances at once, each
/// within [`PER_COMPONENT`].
fn pool(instances: u32) -> PoolingAllocationConfig {
    let instances = instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    // Any admitted component fits in any pool, even one of a single
    // instance (`agensium run`, AGENSIUM_INSTANCES=1): a componentize-py
    // processor alone holds about 15 core instances.
    pool.total_component_instances(instances)
        .total_core_instances((instances * 8).max(PER_COMPONENT.core_instances))
        .total_memories((instances * 2).max(PER_COMPONENT.memories))
        .total_tables((instances * 8).max(PER_COMPONENT.tables))
        .total_stacks(instances)
        .max_memory_size(4 << 30)
        .max_core_instances_per_component(PER_COMPONENT.core_instances)
        .max_memories_per_component(PER_COMPONENT.memories)
        .max_tables_per_component(PER_COMPONENT.tables);
    pool
}

/// Checks `bytes` cheaply (header, structure: see `screen`) and compiles
/// them into an artifact on an engine that only compiles (no pool, no
/// linker, no epoch thread): what the admission child process runs, under
/// its memory and CPU limits. The artifact loads on [`Runtime`]'s engines
/// with [`Runtime::load_artifact`] (the allocation strategy is not part of
/// an artifact's compatibility), which also checks the world.
pub fn compile_artifact(bytes: &[u8], metering: Metering) -> Result<Vec<u8>, ValidateError> {
    check_header(bytes)?;
    super::screen::screen(bytes)?;
    let engine = Engine::new(&base_config(metering))
        .map_err(|e| ValidateError::Invalid(format!("starting the compiler: {e:#}")))?;
    engine.precompile_component(bytes).map_err(|e| invalid(&e))
}

/// Refuses what is not WebAssembly, and core modules.
fn check_header(bytes: &[u8]) -> Result<(), ValidateError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(ValidateError::NotWasm);
    }
    // Bytes 4..8 are version + layer; layer 0 is a core module.
    if bytes[6..8] == [0, 0] {
        return Err(ValidateError::CoreModule);
    }
    Ok(())
}

impl Flavor {
    fn new(metering: Metering, instances: u32) -> anyhow::Result<Self> {
        let mut config = base_config(metering);
        // The metered engine serves few versions: a smaller pool.
        let instances = match metering {
            Metering::Epoch => instances,
            Metering::Fuel => instances / 4,
        };
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(instances)));
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        super::host_fns::add_to_linker(&mut linker)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        metering.hash(&mut h);
        Ok(Self {
            compat: format!("{:016x}", h.finish()),
            engine,
            linker,
            metering,
        })
    }

    fn prepare(&self, component: &Component) -> Result<Processor, ValidateError> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            ValidateError::WrongWorld(format!("{e:#}{}", unsatisfied(&self.engine, component)))
        })?;
        let pre = bindings::ProcessorPre::new(pre)
            .map_err(|e| ValidateError::WrongWorld(format!("{e:#}")))?;
        Ok(Processor {
            pre,
            metering: self.metering,
        })
    }
}

/// Owns the engines and linkers shared by every job. Compiles, checks and
/// (de)serializes components; see [`super::Loader`] for the per-digest cache.
/// The fuel-metered engine is created on first use.
pub struct Runtime {
    instances: u32,
    epoch: Flavor,
    fuel: OnceLock<Flavor>,
    fuel_init: Mutex<()>,
    /// The metered engine, for the epoch ticker once it exists.
    fuel_engine: Arc<OnceLock<Engine>>,
    ticker_stop: Arc<AtomicBool>,
}

/// Most component instances alive at once in one process (pooling
/// allocator), unless the operator says otherwise.
pub const DEFAULT_INSTANCES: u32 = 128;

impl Runtime {
    /// A runtime with room for [`DEFAULT_INSTANCES`] running components.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_instances(DEFAULT_INSTANCES)
    }

    /// Builds the epoch engine (component model, epoch interruption, pooling
    /// allocator for `instances` components at once, with copy-on-write
    /// memory images), its linker with the host functions and a
    /// deny-by-default WASI, and the epoch ticker.
    pub fn with_instances(instances: u32) -> anyhow::Result<Self> {
        let epoch = Flavor::new(Metering::Epoch, instances)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let fuel_engine: Arc<OnceLock<Engine>> = Arc::default();
        let (stop, ticking, metered) = (
            ticker_stop.clone(),
            epoch.engine.clone(),
            fuel_engine.clone(),
        );
        std::thread::Builder::new()
            .name("agensium-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                    if let Some(e) = metered.get() {
                        e.increment_epoch();
                    }
                }
            })?;
        Ok(Self {
            instances,
            epoch,
            fuel: OnceLock::new(),
            fuel_init: Mutex::new(()),
            fuel_engine,
            ticker_stop,
        })
    }

    fn flavor(&self, metering: Metering) -> Result<&Flavor, ValidateError> {
        if metering == Metering::Epoch {
            return Ok(&self.epoch);
        }
        if let Some(f) = self.fuel.get() {
            return Ok(f);
        }
        let _once = self
            .fuel_init
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.fuel.get().is_none() {
            let f = Flavor::new(Metering::Fuel, self.instances)
                .map_err(|e| ValidateError::Invalid(format!("starting the fuel engine: {e:#}")))?;
            let _ = self.fuel_engine.set(f.engine.clone());
            let _ = self.fuel.set(f);
        }
        Ok(self.fuel.get().expect("just set"))
    }

    /// The epoch-only wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.epoch.engine
    }

    /// Object-store key of the precompiled artifact of `digest` for this
    /// engine and metering: artifacts from other wasmtime versions or
    /// settings never match. Fails only when the engine for `metering`
    /// cannot be created.
    pub fn artifact_key(
        &self,
        digest: &Digest,
        metering: Metering,
    ) -> Result<String, ValidateError> {
        let compat = &self.flavor(metering)?.compat;
        Ok(format!("artifacts/{}-{compat}.cwasm", digest.hex()))
    }

    /// Checks that `bytes` is a component of the processor world whose
    /// imports the host satisfies, and compiles it. CPU-heavy: call from a
    /// blocking context.
    pub fn compile(&self, bytes: &[u8], metering: Metering) -> Result<Processor, ValidateError> {
        self.compile_component(bytes, metering).map(|(p, _)| p)
    }

    /// Like [`Runtime::compile`], and also serializes the compiled code so
    /// that workers load it without compiling.
    pub fn precompile(
        &self,
        bytes: &[u8],
        metering: Metering,
    ) -> Result<(Processor, Vec<u8>), ValidateError> {
        let (p, component) = self.compile_component(bytes, metering)?;
        let artifact = component
            .serialize()
            .map_err(|e| ValidateError::Invalid(format!("serializing: {e:#}")))?;
        Ok((p, artifact))
    }

    fn compile_component(
        &self,
        bytes: &[u8],
        metering: Metering,
    ) -> Result<(Processor, Component), ValidateError> {
        check_header(bytes)?;
        let flavor = self.flavor(metering)?;
        let component = Component::new(&flavor.engine, bytes).map_err(|e| invalid(&e))?;
        Ok((flavor.prepare(&component)?, component))
    }

    /// Loads a precompiled artifact: written by [`Runtime::precompile`] or
    /// by the admission compiler ([`compile_only_engine`]), checking the
    /// world and the pool's per-component maxima.
    ///
    /// The bytes must be trusted: our own compiler's output, or bytes whose
    /// SHA-256 matches the artifact ledger ([`super::Loader`] checks).
    /// Loading a crafted artifact runs arbitrary native code. See
    /// SECURITY.md.
    pub fn load_artifact(
        &self,
        artifact: &[u8],
        metering: Metering,
    ) -> Result<Processor, ValidateError> {
        let flavor = self.flavor(metering)?;
        // SAFETY: the caller vouches for the bytes (see above); they are
        // read into memory before being checked, so what was checked is
        // what is loaded; wasmtime checks the header and the engine.
        // The one place the host needs `unsafe` (the workspace denies it).
        #[allow(unsafe_code)]
        let component =
            unsafe { Component::deserialize(&flavor.engine, artifact) }.map_err(|e| invalid(&e))?;
        flavor.prepare(&component)
    }
}

/// A compile or load error: over the pool's per-component maxima, or else
/// an invalid component.
fn invalid(e: &wasmtime::Error) -> ValidateError {
    let text = format!("{e:#}");
    if text.contains("in the pooling allocator") {
        ValidateError::TooManyInstances(text)
    } else {
        ValidateError::Invalid(text)
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

    impl Runtime {
        fn compile_epoch(&self, bytes: &[u8]) -> Result<Processor, ValidateError> {
            self.compile(bytes, Metering::Epoch)
        }
    }

    #[test]
    fn rejects_non_wasm_core_modules_and_wrong_worlds() {
        let rt = Runtime::new().unwrap();
        assert!(matches!(
            rt.compile_epoch(b"hello world"),
            Err(ValidateError::NotWasm)
        ));
        // The smallest core module: magic + version 1.
        let core = b"\0asm\x01\0\0\0";
        assert!(matches!(
            rt.compile_epoch(core),
            Err(ValidateError::CoreModule)
        ));
        // The smallest component: magic + version 0x0d, layer 1. It exports nothing.
        let empty = b"\0asm\x0d\0\x01\0";
        let Err(err) = rt.compile_epoch(empty) else {
            panic!("an empty component is no processor")
        };
        assert!(matches!(err, ValidateError::WrongWorld(_)), "{err}");
        assert!(err.to_string().contains("process"), "{err}");
        let truncated = b"\0asm\x0d\0\x01\0\x07\x05";
        assert!(matches!(
            rt.compile_epoch(truncated),
            Err(ValidateError::Invalid(_))
        ));
    }
}

//! The wasmtime engine, component validation and the per-digest cache.

use crate::bindings;
use crate::sandbox::JobState;
use agensium_core::Digest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

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

/// Owns the engine and linker shared by every job, and the compiled
/// processors keyed by digest (each digest compiles at most once).
pub struct Runtime {
    engine: Engine,
    linker: Linker<JobState>,
    cache: Mutex<HashMap<Digest, Arc<OnceCell<Processor>>>>,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    /// Builds the engine (component model, epoch interruption) and the
    /// linker with the host functions and a deny-by-default WASI.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Processor::add_to_linker::<JobState, HasSelf<JobState>>(&mut linker, |s| s)?;

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
            cache: Mutex::default(),
            ticker_stop,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Checks that `bytes` is a component of the processor world whose
    /// imports the host satisfies, and compiles it. CPU-heavy: call from a
    /// blocking context.
    pub fn compile(&self, bytes: &[u8]) -> Result<Processor, ValidateError> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(ValidateError::NotWasm);
        }
        // Bytes 4..8 are version + layer; layer 0 is a core module.
        if bytes[6..8] == [0, 0] {
            return Err(ValidateError::CoreModule);
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| ValidateError::Invalid(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| ValidateError::WrongWorld(format!("{e:#}")))?;
        Processor::new(pre).map_err(|e| ValidateError::WrongWorld(format!("{e:#}")))
    }

    /// Compiles on the blocking pool and caches the result under `digest`.
    pub async fn admit(
        self: &Arc<Self>,
        digest: &Digest,
        bytes: Vec<u8>,
    ) -> Result<Processor, ValidateError> {
        let rt = self.clone();
        let p = tokio::task::spawn_blocking(move || rt.compile(&bytes))
            .await
            .map_err(|e| ValidateError::Invalid(format!("compiler crashed: {e}")))??;
        let cell = self.cell(digest);
        let _ = cell.set(p.clone());
        Ok(p)
    }

    /// The processor for `digest`: from the cache, or compiled from the bytes
    /// `fetch` returns. Concurrent callers for one digest compile once.
    pub async fn processor<F, Fut, E>(
        self: &Arc<Self>,
        digest: &Digest,
        fetch: F,
    ) -> Result<Processor, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u8>, E>>,
        E: From<ValidateError>,
    {
        let cell = self.cell(digest);
        cell.get_or_try_init(|| async {
            let bytes = fetch().await?;
            let rt = self.clone();
            let p = tokio::task::spawn_blocking(move || rt.compile(&bytes))
                .await
                .map_err(|e| ValidateError::Invalid(format!("compiler crashed: {e}")))??;
            Ok(p)
        })
        .await
        .cloned()
    }

    /// True when `digest` is compiled and cached.
    pub fn is_cached(&self, digest: &Digest) -> bool {
        self.cache
            .lock()
            .expect("cache lock")
            .get(digest)
            .is_some_and(|c| c.initialized())
    }

    fn cell(&self, digest: &Digest) -> Arc<OnceCell<Processor>> {
        self.cache
            .lock()
            .expect("cache lock")
            .entry(digest.clone())
            .or_default()
            .clone()
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

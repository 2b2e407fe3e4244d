//! Host bindings generated from `wit/processor.wit`.
#![allow(missing_docs, unreachable_pub, clippy::pedantic)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "processor",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use agensium::processor::host::Level;
pub use agensium::processor::types as wit_types;

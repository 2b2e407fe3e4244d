//! The Agensium processor SDK: write a processor as one plain function.
//!
//! ```ignore
//! use agensium_sdk::{Failure, Input, Output, Params, Summary};
//! use std::io::{BufRead, Write};
//!
//! fn shout(params: &Params, input: &mut Input, output: &mut Output) -> Result<Summary, Failure> {
//!     let times: usize = params.get_or("times", 1)?;
//!     let mut lines = 0u64;
//!     for line in input.lines() {
//!         let line = line?;
//!         for _ in 0..times {
//!             writeln!(output, "{}", line.to_uppercase())?;
//!         }
//!         lines += 1;
//!     }
//!     agensium_sdk::info!("{lines} lines");
//!     Ok(Summary::new().content_type("text/plain").stat("lines", lines))
//! }
//!
//! agensium_sdk::processor!(shout);
//! ```
//!
//! * [`Input`] is the job's input as [`std::io::Read`] and
//!   [`std::io::BufRead`], [`Output`] its output as [`std::io::Write`]
//!   (buffered; large writes go straight through): ordinary crates (csv,
//!   serde_json, flate2, image…) stream through them, and the job's size
//!   never has to fit in memory.
//! * [`Params`] reads typed params; a bad or missing one becomes the
//!   failure `invalid_params`, naming the key.
//! * [`debug!`], [`info!`], [`warn!`] and [`error!`] write to the job's log.
//! * [`processor!`] exports the function as the component's `process`.
//! * [`testing::run`] runs the same function natively, for `cargo test`
//!   on the host without Wasm.
//!
//! The contract behind it is `wit/processor.wit` (`agensium:processor@0.1.0`).

mod failure;
mod io;
mod log;
mod params;
mod summary;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use failure::Failure;
pub use io::{Input, Output};
pub use log::{Level, log};
pub use params::Params;
pub use summary::Summary;

/// The signature of a processor: params, the input, the output; a summary
/// on success or a failure.
pub type Processor = fn(&Params, &mut Input, &mut Output) -> Result<Summary, Failure>;

/// The generated bindings of the `processor` world (Wasm builds only).
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "processor",
        default_bindings_module: "agensium_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "export_processor",
    });
}

/// What [`processor!`] expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::sys::run_job;
}

/// Exports `f` (a [`Processor`]) as the component's `process` function.
/// On a native build it expands to nothing: test `f` with
/// [`testing::run`].
#[macro_export]
macro_rules! processor {
    ($f:path) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct AgensiumProcessor;
            impl $crate::bindings::Guest for AgensiumProcessor {
                fn process(
                    params: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<$crate::bindings::Summary, $crate::bindings::Failure>
                {
                    $crate::__private::run_job(params, $f)
                }
            }
    $crate::bindings::export_processor!(AgensiumProcessor with_types_in $crate::bindings);
        };
    };
}

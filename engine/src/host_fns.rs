//! The `agensium:processor/host` functions, registered by hand rather than
//! through the generated bindings: `write` and `log` take their arguments
//! as views into the guest's memory (`WasmList`, `WasmStr`), so the host
//! checks sizes *before* it copies anything, and copies only bounded
//! pieces. A generated binding would first copy a whole `list<u8>` or
//! `string` (up to the guest's memory limit) into host memory.

use super::bindings::Level;
use super::state::JobState;
use bytes::Bytes;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmList, WasmStr};

/// The WIT instance the functions belong to.
const INSTANCE: &str = "agensium:processor/host@0.1.0";

/// The most bytes one `read` returns, whatever the guest asks.
pub(super) const MAX_READ: usize = 1 << 20;
/// A `write` is copied out of the guest in pieces of at most this size, so
/// a single write of any length works and the host never holds more than
/// one piece of it at a time.
pub(super) const WRITE_PIECE: usize = 256 * 1024;
/// The longest `log` message kept, in bytes; the rest is dropped (and said
/// so) before anything is copied.
pub(super) const MAX_LOG_MESSAGE: usize = 64 * 1024;

/// Registers `read`, `write` and `log` for [`JobState`] stores.
pub(super) fn add_to_linker(linker: &mut Linker<JobState>) -> wasmtime::Result<()> {
    let mut host = linker.instance(INSTANCE)?;
    host.func_wrap_async(
        "read",
        |mut store: StoreContextMut<'_, JobState>, (max,): (u32,)| {
            Box::new(async move {
                let max = usize::try_from(max).unwrap_or(usize::MAX).min(MAX_READ);
                Ok((store.data_mut().read(max).await?,))
            })
        },
    )?;
    host.func_wrap_async(
        "write",
        |mut store: StoreContextMut<'_, JobState>, (data,): (WasmList<u8>,)| {
            Box::new(async move {
                let len = data.len();
                store.data_mut().count_output(len)?;
                let mut at = 0;
                while at < len {
                    let n = (len - at).min(WRITE_PIECE);
                    let piece = Bytes::copy_from_slice(&data.as_le_slice(&store)[at..at + n]);
                    store.data_mut().write(piece).await?;
                    at += n;
                }
                Ok(())
            })
        },
    )?;
    host.func_wrap_async(
        "log",
        |mut store: StoreContextMut<'_, JobState>, (level, message): (Level, WasmStr)| {
            Box::new(async move {
                let line = {
                    let text = message.to_str(&store)?;
                    bounded(&text)
                };
                store.data_mut().log(level_name(level), &line)
            })
        },
    )?;
    Ok(())
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// At most [`MAX_LOG_MESSAGE`] bytes of `text` (cut at a character
/// boundary), with a note of how much was cut: the only copy the host makes.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_LOG_MESSAGE {
        return text.to_owned();
    }
    let mut end = MAX_LOG_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} [agensium: {} bytes of this message cut]",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_LOG_MESSAGE);
        let cut = bounded(&long);
        assert!(cut.len() < MAX_LOG_MESSAGE + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!(
            "[agensium: {MAX_LOG_MESSAGE} bytes of this message cut]"
        )));
    }
}

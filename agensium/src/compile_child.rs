//! `agensium compile-component METERING MEMORY_MIB CPU_SECS`: the child
//! process in which the API compiles an upload (see
//! `agensium_api::admission`). Not for people: it reads a component on
//! stdin and writes its artifact on stdout, or exits with
//! [`REFUSED_EXIT`] and `code<TAB>message` on stderr.
//!
//! Before it reads a byte it limits itself: `RLIMIT_DATA` (heap and
//! anonymous mappings) to MEMORY_MIB, `RLIMIT_CPU` to CPU_SECS (then the
//! kernel stops it with `SIGXCPU`), and no core dumps. The API also kills
//! it at its wall-time limit.

use agensium_api::admission::{COMPILE_SUBCOMMAND, REFUSED_EXIT};
use agensium_engine::{Metering, compile_artifact};
use std::io::{Read, Write};
use std::process::ExitCode;

/// True when this process was started as the compiler child.
pub fn requested() -> bool {
    std::env::args().nth(1).as_deref() == Some(COMPILE_SUBCOMMAND)
}

/// Runs the compiler child; its exit code.
pub fn run() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let parsed = match args.as_slice() {
        [m, mem, cpu] => metering(m)
            .zip(mem.parse::<u64>().ok())
            .zip(cpu.parse::<u64>().ok()),
        _ => None,
    };
    let Some(((metering, memory_mib), cpu_secs)) = parsed else {
        eprintln!("usage: agensium {COMPILE_SUBCOMMAND} epoch|fuel MEMORY_MIB CPU_SECS");
        return ExitCode::from(64);
    };
    if let Err(e) = limit_self(memory_mib << 20, cpu_secs) {
        eprintln!("setting resource limits: {e}");
        return ExitCode::from(70);
    }
    let mut component = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut component) {
        eprintln!("reading the component: {e}");
        return ExitCode::from(74);
    }
    match compile_artifact(&component, metering) {
        Ok(artifact) => match std::io::stdout().write_all(&artifact) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("writing the artifact: {e}");
                ExitCode::from(74)
            }
        },
        Err(e) => {
            // One line: the message may not carry a newline or a tab.
            let message = e.to_string().replace(['\n', '\t'], " ");
            eprintln!("{}\t{message}", e.code());
            ExitCode::from(u8::try_from(REFUSED_EXIT).unwrap_or(2))
        }
    }
}

fn metering(s: &str) -> Option<Metering> {
    match s {
        "epoch" => Some(Metering::Epoch),
        "fuel" => Some(Metering::Fuel),
        _ => None,
    }
}

/// Sets this process's data, CPU and core-dump limits (soft = hard, so
/// the compile cannot raise them).
#[allow(unsafe_code)]
fn limit_self(data_bytes: u64, cpu_secs: u64) -> std::io::Result<()> {
    for (resource, value) in [
        (libc::RLIMIT_DATA, data_bytes),
        (libc::RLIMIT_CPU, cpu_secs),
        (libc::RLIMIT_CORE, 0),
    ] {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit reads the struct we pass and changes only this
        // process's limits; no memory is shared with the kernel after it.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

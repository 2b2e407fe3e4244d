//! The layers of the settings, read by the real binary: defaults < config
//! file < environment < flags, the same for every subcommand; passwords
//! never print.

use agensium_tests::procs::binary;
use std::process::Command;

#[test]
fn file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agensium.env");
    std::fs::write(
        &file,
        "AGENSIUM_SLOTS=3\nAGENSIUM_LEASE_SECS=11\nAGENSIUM_REDIS_PREFIX=fromfile\n\
         AGENSIUM_DATABASE_URL=mysql://u:filesecret@db:3306/x\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .env_clear()
        .env("AGENSIUM_LEASE_SECS", "12")
        .env("AGENSIUM_REDIS_PREFIX", "fromenv")
        .args(["settings", "--config"])
        .arg(&file)
        .args(["--redis-prefix", "fromflag"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("slots: 3,"), "from the file: {text}");
    assert!(
        text.contains("lease: 12s,"),
        "the environment over the file: {text}"
    );
    assert!(
        text.contains("redis_prefix: \"fromflag\""),
        "the flag over both: {text}"
    );
    assert!(text.contains("max_attempts: 5,"), "the default: {text}");
    assert!(text.contains("mysql://u:***@db:3306/x"), "{text}");
    assert!(!text.contains("filesecret"), "a password printed: {text}");
}

#[test]
fn contradictions_stop_the_process_with_a_clear_error() {
    let out = Command::new(binary())
        .env_clear()
        .args(["worker", "--slots", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AGENSIUM_SLOTS"), "{err}");
}

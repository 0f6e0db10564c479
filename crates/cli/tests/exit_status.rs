//! Every row of `spawnfd run`'s exit-status table, and where options end:
//! an unknown option before PROGRAM is a usage error, every word from
//! PROGRAM on is PROGRAM's.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;

use common::{json_report, run, scratch_path, stderr, stdout};

#[test]
fn every_row_of_the_table() {
    // N: PROGRAM's own exit status.
    for n in [0, 1, 2, 42, 255] {
        let out = run(["sh", "-c", &format!("exit {n}")]);
        assert_eq!(out.status.code(), Some(n));
    }
    // Killed by N: spawnfd dies of N; 128+N with --exit-code-for-signals.
    for n in [libc::SIGTERM, libc::SIGKILL, libc::SIGUSR2, libc::SIGPIPE] {
        let script = format!("kill -{n} $$");
        let out = run(["sh", "-c", &script]);
        assert_eq!(out.status.signal(), Some(n), "{n}: {}", stderr(&out));
        let out = run(["--exit-code-for-signals", "sh", "-c", &script]);
        assert_eq!(out.status.code(), Some(128 + n), "{n}");
    }
    // 127: not found.
    let out = run(["spawnfd-no-such-program"]);
    assert_eq!(out.status.code(), Some(127));
    // 126: found but not executable.
    let file = scratch_path("exit-status", "not-executable");
    fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let out = run([&file]);
    assert_eq!(out.status.code(), Some(126));
    // 125: spawnfd's own errors, usage errors included.
    assert_eq!(
        run(["--cwd", "/no/such/dir", "true"]).status.code(),
        Some(125)
    );
    assert_eq!(run(["--bogus", "true"]).status.code(), Some(125));
    assert_eq!(run::<[&str; 0], &str>([]).status.code(), Some(125));
    // 124: timed out, ended by the kill signal.
    let out = run(["--timeout", "0.1", "sleep", "10"]);
    assert_eq!(out.status.code(), Some(124));
    // 137: timed out, and KILL was needed after --kill-after.
    let out = run([
        "--timeout",
        "0.1",
        "--kill-after",
        "0.1",
        "--ignore-signal",
        "TERM",
        "sleep",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(137));
}

#[test]
fn unknown_option_before_program_is_a_usage_error_anywhere() {
    for args in [
        &["--timout", "1", "--", "sleep", "0.1"][..],
        &["--bogus", "true"],
        &["--bogus=1", "true"],
        &["-x", "true"],
        &["--cwd", "/", "--bogus", "true"],
        &["--env", "A=1", "--clear-env", "-q", "--", "true"],
        &["--timeout", "5", "--timout", "1", "true"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(
            stderr(&out).starts_with("error: unexpected argument"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

#[test]
fn usage_error_with_json_is_a_json_report() {
    for args in [
        &["--json", "--timout", "1", "--", "true"][..],
        &["--timout", "--json", "true"],
        &["--cwd", "/", "--json"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let report = json_report(&out);
        assert_eq!(report["error"]["kind"], "usage", "{args:?}");
        assert!(report["error"]["message"].is_string(), "{args:?}");
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    // --json as PROGRAM's word, or as an option's value, asks for nothing
    // (an unknown option is taken to have no value: "1" is PROGRAM).
    let out = run(["--timout", "1", "--json", "true"]);
    assert_eq!(stdout(&out), "");
    let out = run(["--bogus", "echo", "--json"]);
    assert_eq!(stdout(&out), "");
    let out = run(["--cwd", "--json", "--bogus", "true"]);
    assert_eq!(stdout(&out), "");
}

#[test]
fn words_from_program_on_are_programs() {
    let out = run(["echo", "--bogus", "-x", "--json", "--", "--timeout"]);
    assert_eq!(stdout(&out), "--bogus -x --json -- --timeout\n");
    assert_eq!(out.status.code(), Some(0));
    let out = run(["--", "--weird-program", "--json"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("\"--weird-program\""),
        "{}",
        stderr(&out)
    );
}

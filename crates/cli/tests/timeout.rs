//! `spawnfd run --timeout`, `--kill-signal`, `--kill-after`,
//! `--preserve-status` and `--rusage`: runs the built binary and checks its
//! exit status and JSON report.
//!
//! Nothing here asserts how long a run takes, beyond a generous guard
//! against hangs: a run that has not ended after [`HANG_GUARD`] is killed
//! and fails its test, and a run that should have been cut short must have
//! ended before the program it runs would have on its own.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command as StdCommand, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use spawnfd::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_spawnfd");

/// How long any run may take before it counts as hung.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Runs `spawnfd run ARGS...`, with stdin from /dev/null; returns what it
/// wrote and how long it ran. Fails the test if it runs longer than
/// [`HANG_GUARD`].
fn run(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start spawnfd");
    let Some(status) = child.wait_timeout(HANG_GUARD).expect("wait for spawnfd") else {
        child.kill().unwrap();
        child.wait().unwrap();
        panic!("spawnfd run {args:?} still running after {HANG_GUARD:?}");
    };
    let elapsed = start.elapsed();
    // The outputs are small: they fit in the pipes while spawnfd runs.
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let output = Output {
        status,
        stdout,
        stderr,
    };
    (output, elapsed)
}

fn stdout(out: &Output) -> &str {
    std::str::from_utf8(&out.stdout).expect("UTF-8 stdout")
}

fn stderr(out: &Output) -> &str {
    std::str::from_utf8(&out.stderr).expect("UTF-8 stderr")
}

/// Runs `spawnfd run --json ARGS...`; returns its exit status and the JSON
/// object on the last line of its stdout.
fn run_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (out, _) = run(&all);
    let last = stdout(&out)
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no JSON report from {args:?}: {}", stderr(&out)));
    let report = serde_json::from_str(last).expect("valid JSON");
    (out.status.code().expect("spawnfd exits"), report)
}

/// Says why a test does nothing.
fn skip(test: &str, why: &str) {
    eprintln!("skipped: {test}: {why}");
}

/// Whether `program ARGS...` can be run and succeeds.
fn works(program: &str, args: &[&str]) -> bool {
    StdCommand::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

// ---------------------------------------------------------------------
// Time limit

#[test]
fn program_running_too_long_is_terminated_and_spawnfd_exits_124() {
    let (out, elapsed) = run(&["--timeout", "0.2", "--", "sleep", "10"]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "a time-out prints no message");
    assert!(
        elapsed < Duration::from_secs(10),
        "spawnfd waited for sleep 10 to end: {elapsed:?}"
    );

    let (status, report) = run_json(&["--timeout", "0.2", "--", "sleep", "10"]);
    assert_eq!(status, 124);
    assert_eq!(report["timed_out"], true);
    assert_eq!(report["signal"], libc::SIGTERM);
    assert_eq!(report["core_dumped"], false);
    assert!(report["pid"].as_u64().is_some_and(|pid| pid > 0));
    assert!(report.get("exit_code").is_none());
    assert!(report.get("rusage").is_none(), "no --rusage: {report}");
}

#[test]
fn durations_take_units() {
    for timeout in ["200ms", ".2", "0.003m"] {
        let (status, report) = run_json(&["--timeout", timeout, "--", "sleep", "10"]);
        assert_eq!(
            (status, &report["timed_out"]),
            (124, &true.into()),
            "{timeout}"
        );
    }
}

#[test]
fn program_ignoring_the_kill_signal_is_killed_after_the_grace_period() {
    // Ignored from the start, so that the time-out cannot come first.
    let (status, report) = run_json(&[
        "--timeout",
        "0.2",
        "--kill-after",
        "0.2",
        "--ignore-signal",
        "TERM",
        "--",
        "sleep",
        "10",
    ]);
    // KILL was needed: 137, as `timeout -k`.
    assert_eq!(status, 137);
    assert_eq!(report["timed_out"], true);
    assert_eq!(report["signal"], libc::SIGKILL);

    // The same, ignored by a shell (which then executes sleep, which keeps
    // SIGTERM ignored); the time limit leaves the shell ample time to get
    // to its trap.
    let (status, report) = run_json(&[
        "--timeout",
        "1",
        "--kill-after",
        "0.2",
        "--",
        "sh",
        "-c",
        r#"trap "" TERM; exec sleep 10"#,
    ]);
    assert_eq!(status, 137);
    assert_eq!(report["signal"], libc::SIGKILL, "{report}");
}

/// Whether python3 runs here (the tests that need a program that waits
/// for a signal it has blocked, race-free, use it).
fn have_python() -> bool {
    works("python3", &["-c", "pass"])
}

#[test]
fn no_kill_without_kill_after() {
    if !have_python() {
        return skip("no_kill_without_kill_after", "no python3");
    }
    // Started with TERM blocked, so that the time-out's TERM waits for it
    // whenever it comes: the program takes it with sigwait, then goes on
    // for 6 s (longer than the 5 s grace period spawnfd used to have) and
    // exits 3 of its own accord. A KILL would end it with signal 9.
    let script = "import signal, time\n\
                  signal.sigwait({signal.SIGTERM})\n\
                  time.sleep(6)\n\
                  raise SystemExit(3)\n";
    let (status, report) = run_json(&[
        "--timeout",
        "0.1",
        "--signal-mask",
        "TERM",
        "--",
        "python3",
        "-c",
        script,
    ]);
    assert_eq!(status, 124, "{report}");
    assert_eq!(report["timed_out"], true);
    assert_eq!(report["exit_code"], 3, "KILL was sent: {report}");
}

#[test]
fn kill_after_0_sends_no_sigkill() {
    // The program outlives the time limit, ignores SIGTERM, and ends on its
    // own: still a time-out.
    let (status, report) = run_json(&[
        "--timeout",
        "0.1",
        "--kill-after",
        "0",
        "--ignore-signal",
        "TERM",
        "--",
        "sleep",
        "1",
    ]);
    assert_eq!(status, 124);
    assert_eq!(report["timed_out"], true);
    assert_eq!(report["exit_code"], 0);
}

#[test]
fn kill_signal_takes_a_name_or_a_number() {
    for (signal, number) in [
        ("INT", libc::SIGINT),
        ("sighup", libc::SIGHUP),
        ("10", libc::SIGUSR1),
        ("KILL", libc::SIGKILL),
    ] {
        let (status, report) = run_json(&[
            "--timeout",
            "0.2",
            "--kill-signal",
            signal,
            "--",
            "sleep",
            "10",
        ]);
        // 137 when the program died of KILL, as `timeout -s KILL`.
        let expected = if number == libc::SIGKILL { 137 } else { 124 };
        assert_eq!(status, expected, "{signal}");
        assert_eq!(report["timed_out"], true, "{signal}");
        assert_eq!(report["signal"], number, "{signal}");
    }
}

#[test]
fn program_ending_in_time_keeps_its_own_status() {
    let (status, report) = run_json(&["--timeout", "60", "--", "sh", "-c", "exit 3"]);
    assert_eq!(status, 3);
    assert_eq!(report["exit_code"], 3);
    assert_eq!(report["timed_out"], false);

    let (out, _) = run(&["--timeout", "60", "--", "sh", "-c", "echo hi; exit 0"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "hi\n");
    assert_eq!(stderr(&out), "");

    // A signal the time-out did not send is passed through as without
    // --timeout: re-raised, or 128+N with --exit-code-for-signals.
    let (out, _) = run(&["--timeout", "60", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.signal(), Some(9));
    let (status, report) = run_json(&[
        "--timeout",
        "60",
        "--exit-code-for-signals",
        "--",
        "sh",
        "-c",
        "kill -9 $$",
    ]);
    assert_eq!(status, 128 + 9);
    assert_eq!(report["signal"], 9);
    assert_eq!(report["timed_out"], false);
}

#[test]
fn timeout_0_is_no_limit() {
    let (status, report) = run_json(&["--timeout", "0", "--", "sh", "-c", "sleep 0.3; exit 4"]);
    assert_eq!(status, 4);
    assert_eq!(report["exit_code"], 4);
    assert_eq!(report["timed_out"], false);
}

#[test]
fn preserve_status_exits_with_the_programs_status() {
    let (out, _) = run(&["--timeout", "0.2", "--preserve-status", "--", "sleep", "10"]);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));

    let (status, report) = run_json(&[
        "--timeout",
        "0.2",
        "--kill-after",
        "0.1",
        "--preserve-status",
        "--ignore-signal",
        "TERM",
        "--",
        "sleep",
        "10",
    ]);
    assert_eq!(status, 128 + libc::SIGKILL);
    assert_eq!(report["timed_out"], true);

    let (status, _) = run_json(&["--timeout", "60", "--preserve-status", "--", "true"]);
    assert_eq!(status, 0);
}

#[test]
fn stopped_program_is_continued_to_act_on_the_kill_signal() {
    if !works("python3", &["-c", "pass"]) {
        return skip("stopped_program_is_continued", "no python3");
    }
    // Exits 7 on SIGTERM, once it runs again: it stops itself first.
    let script = "import os, signal, sys, time\n\
                  signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n\
                  os.kill(os.getpid(), signal.SIGSTOP)\n\
                  time.sleep(30)\n";
    let (status, report) = run_json(&[
        "--timeout",
        "2",
        "--kill-after",
        "20",
        "--preserve-status",
        "--",
        "python3",
        "-c",
        script,
    ]);
    assert_eq!(report["timed_out"], true);
    assert_eq!(report["exit_code"], 7, "{report}");
    assert_eq!(status, 7);
}

#[test]
fn waiting_goes_on_through_signals_to_spawnfd() {
    // SIGINT is passed on to the child, which traps it; SIGSTOP and
    // SIGCONT interrupt spawnfd's poll.
    let (status, report) = run_json(&[
        "--timeout",
        "30",
        "--rusage",
        "--",
        "sh",
        "-c",
        "trap 'echo INT' INT; kill -INT $PPID; kill -STOP $PPID; kill -CONT $PPID; sleep 0.2; \
         exit 5",
    ]);
    assert_eq!(status, 5);
    assert_eq!(report["exit_code"], 5);
    assert_eq!(report["timed_out"], false);
    assert!(report["rusage"].is_object(), "{report}");
}

// ---------------------------------------------------------------------
// Resource usage

/// The `--rusage` fields of the JSON report, all counts.
const USAGE_FIELDS: [&str; 9] = [
    "user_time_us",
    "system_time_us",
    "max_rss_kib",
    "minor_faults",
    "major_faults",
    "voluntary_context_switches",
    "involuntary_context_switches",
    "block_reads",
    "block_writes",
];

/// A command that uses about 0.3 s of CPU time, whatever the load.
fn cpu_burner() -> Option<Vec<&'static str>> {
    if works("python3", &["-c", "pass"]) {
        Some(vec![
            "python3",
            "-c",
            "import time\n\
             t = time.process_time()\n\
             while time.process_time() - t < 0.3: pass\n",
        ])
    } else if works("perl", &["-e", "1"]) {
        Some(vec![
            "perl",
            "-e",
            "my $t = (times)[0] + (times)[1]; 1 while (times)[0] + (times)[1] - $t < 0.3;",
        ])
    } else {
        None
    }
}

#[test]
fn rusage_reports_cpu_time_and_memory_in_json() {
    let Some(burner) = cpu_burner() else {
        return skip("rusage_reports_cpu_time", "neither python3 nor perl");
    };
    let mut args = vec!["--rusage", "--"];
    args.extend(burner);
    let (status, report) = run_json(&args);
    assert_eq!(status, 0, "{report}");
    let usage = &report["rusage"];
    for field in USAGE_FIELDS {
        assert!(usage[field].is_u64(), "{field} missing from {usage}");
    }
    assert_eq!(usage.as_object().unwrap().len(), USAGE_FIELDS.len());
    let cpu = usage["user_time_us"].as_u64().unwrap() + usage["system_time_us"].as_u64().unwrap();
    assert!(cpu >= 200_000, "only {cpu} µs of CPU time: {usage}");
    assert!(usage["max_rss_kib"].as_u64().unwrap() > 0, "{usage}");
}

#[test]
fn rusage_of_a_program_that_ran_out_of_time() {
    let (status, report) = run_json(&["--rusage", "--timeout", "0.2", "--", "sleep", "10"]);
    assert_eq!(status, 124);
    assert_eq!(report["timed_out"], true);
    assert_eq!(report["signal"], libc::SIGTERM);
    assert!(report["rusage"]["max_rss_kib"].as_u64().unwrap() > 0);
}

#[test]
fn rusage_without_json_is_a_line_on_stderr() {
    let (out, _) = run(&["--rusage", "--", "sh", "-c", "echo out; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "out\n");
    let summary = stderr(&out);
    assert!(summary.starts_with("spawnfd: rusage: user "), "{summary:?}");
    assert_eq!(summary.lines().count(), 1, "{summary:?}");
    for part in [
        "s, system ",
        "max RSS ",
        " KiB",
        "page faults ",
        "context switches ",
        "blocks ",
    ] {
        assert!(summary.contains(part), "{part:?} not in {summary:?}");
    }
}

// ---------------------------------------------------------------------
// Usage errors and help

#[test]
fn bad_durations_and_signals_are_usage_errors() {
    for bad in [
        "",
        "x",
        "-1",
        "+1",
        "1x",
        "1.2.3",
        "1e3",
        " 1",
        "1 s",
        "5S",
        "in",
        "infs",
        "nan",
        ".",
        "99999999999999999999999999d",
    ] {
        for args in [
            vec!["--timeout", bad, "true"],
            vec!["--timeout", "1", "--kill-after", bad, "true"],
        ] {
            let (out, _) = run(&args);
            assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
            assert!(
                stderr(&out).starts_with("error: "),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }
    for bad in ["FOO", "0", "65", ""] {
        let (out, _) = run(&["--timeout", "1", "--kill-signal", bad, "true"]);
        assert_eq!(out.status.code(), Some(125), "{bad:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("unknown signal"), "{}", stderr(&out));
    }
}

#[test]
fn time_limit_options_need_timeout() {
    for args in [
        &["--kill-after", "1", "true"][..],
        &["--kill-signal", "INT", "true"],
        &["--preserve-status", "true"],
    ] {
        let (out, _) = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
    }
}

#[test]
fn help_documents_the_time_limit_and_rusage() {
    let (out, _) = run(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for needle in [
        "--timeout <DURATION>",
        "-s, --signal <SIG>",
        "--kill-signal",
        "-k, --kill-after <DURATION>",
        "--kill-group",
        "--kill-after <DURATION>",
        "--preserve-status",
        "--rusage",
        "500ms",
        "124 ",
        "\"timed_out\"",
        "\"user_time_us\"",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
}

/// Issue 7, item 9: started with `SIGCHLD` ignored (inherited across
/// exec), spawnfd's children are reaped by the kernel as they exit. The
/// status survives in the pidfd (since Linux 6.15); the usage does not,
/// and must be reported as unavailable, not as zeros.
#[test]
fn rusage_of_a_child_reaped_by_someone_else_is_unavailable() {
    let spawnfd_with_sigchld_ignored = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(args)
            .stdin(Stdio::null())
            .ignore_signals(spawnfd::SignalSet::empty().with(spawnfd::Signal::CHLD));
        let out = cmd.output().expect("run spawnfd");
        (
            out.status.code(),
            stdout(&out).to_owned(),
            stderr(&out).to_owned(),
        )
    };
    let script = ["--", "sh", "-c", "exit 3"];

    let (code, out, err) =
        spawnfd_with_sigchld_ignored(&[&["--rusage", "--json"][..], &script].concat());
    // Forced onto a path without pidfds (`spawnfd-paths no-pidfd` or
    // `kernel-4x`), a status another reaper took is lost by design: the
    // wait fails with ECHILD, in the JSON report (`--json`).
    let no_pidfds = matches!(
        std::env::var("SPAWNFD_FORCED_PATH").as_deref(),
        Ok("no-pidfd" | "kernel-4x")
    );
    if no_pidfds {
        assert_eq!(code, Some(125), "{out} {err}");
        let report: Value =
            serde_json::from_str(out.lines().last().expect("a JSON report")).expect("valid JSON");
        assert_eq!(report["error"]["errno"], libc::ECHILD, "{report}");
        return skip(
            "rusage_of_a_child_reaped_by_someone_else_is_unavailable",
            "no pidfds on this path: a status the kernel reaped is lost (ECHILD)",
        );
    }
    if code == Some(125)
        && (err.contains("No child processes") || out.contains("No child processes"))
    {
        return skip(
            "rusage_of_a_child_reaped_by_someone_else_is_unavailable",
            "this kernel keeps no exit status for pidfds (PIDFD_INFO_EXIT, Linux 6.15)",
        );
    }
    let report: Value =
        serde_json::from_str(out.lines().last().expect("a JSON report")).expect("valid JSON");
    assert_eq!(code, Some(3), "{report} {err}");
    assert_eq!(report["exit_code"], 3, "{report}");
    assert!(report.get("rusage").is_some(), "--rusage: {report}");
    assert!(
        report["rusage"].is_null(),
        "zeros instead of nothing: {report}"
    );
    assert!(err.contains("rusage: unavailable"), "{err:?}");

    let (code, out, err) = spawnfd_with_sigchld_ignored(&[&["--rusage"][..], &script].concat());
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(out, "");
    assert!(err.starts_with("spawnfd: rusage: unavailable: "), "{err:?}");
    assert!(!err.contains("max RSS"), "a usage was printed: {err:?}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
}

// ---------------------------------------------------------------------
// timeout(1)'s option names, and the exit status of each case

#[test]
fn exit_status_of_each_time_out_with_short_options() {
    // (options, exit status, the signal PROGRAM died of)
    let ignore_term = ["--ignore-signal", "TERM"];
    let cases: [(&[&str], i32, i32); 8] = [
        (&[], 124, libc::SIGTERM),
        (&["-s", "INT"], 124, libc::SIGINT),
        (&["--kill-signal", "USR1"], 124, libc::SIGUSR1),
        (&["-s", "KILL"], 137, libc::SIGKILL),
        (
            &["-k", "0.2", ignore_term[0], ignore_term[1]],
            137,
            libc::SIGKILL,
        ),
        (
            &["--preserve-status", "-s", "INT"],
            128 + libc::SIGINT,
            libc::SIGINT,
        ),
        (
            &[
                "--preserve-status",
                "-k",
                "0.1",
                ignore_term[0],
                ignore_term[1],
            ],
            128 + libc::SIGKILL,
            libc::SIGKILL,
        ),
        (&["-s", "HUP", "-k", "30"], 124, libc::SIGHUP),
    ];
    for (options, status, signal) in cases {
        let mut args = vec!["--timeout", "0.2"];
        args.extend_from_slice(options);
        args.extend(["--", "sleep", "30"]);
        let (code, report) = run_json(&args);
        assert_eq!(code, status, "{options:?}: {report}");
        assert_eq!(report["timed_out"], true, "{options:?}");
        assert_eq!(report["signal"], signal, "{options:?}: {report}");
    }
}

#[test]
fn infinite_durations_are_no_limit() {
    for timeout in ["inf", "INFINITY", "0"] {
        let (status, report) = run_json(&["--timeout", timeout, "--", "sh", "-c", "exit 4"]);
        assert_eq!(status, 4, "{timeout}: {report}");
        assert_eq!(report["timed_out"], false, "{timeout}");
    }
    if !have_python() {
        return skip("infinite_durations_are_no_limit (-k inf)", "no python3");
    }
    // -k inf: no KILL, as without -k. TERM is blocked and taken with
    // sigwait (see no_kill_without_kill_after).
    let script = "import signal, time\n\
                  signal.sigwait({signal.SIGTERM})\n\
                  time.sleep(0.5)\n\
                  raise SystemExit(5)\n";
    let (status, report) = run_json(&[
        "--timeout",
        "0.1",
        "-k",
        "inf",
        "--signal-mask",
        "TERM",
        "--",
        "python3",
        "-c",
        script,
    ]);
    assert_eq!((status, &report["exit_code"]), (124, &5.into()), "{report}");
}

#[test]
fn run_only_time_options_are_refused_by_exec() {
    for option in [
        &["-s", "TERM"][..],
        &["--signal", "TERM"],
        &["--kill-signal", "TERM"],
        &["-k", "1"],
        &["--kill-group"],
    ] {
        let out = StdCommand::new(BIN)
            .arg("exec")
            .args(option)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{option:?}");
        assert!(
            stderr(&out).contains("exec has none"),
            "{option:?}: {}",
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------------
// --kill-group

#[test]
fn kill_group_makes_program_a_group_leader() {
    for extra in [&[][..], &["--pgid", "0"], &["--setsid"]] {
        let mut args = vec!["--kill-group"];
        args.extend_from_slice(extra);
        // $$ is the shell's pid; field 5 of its stat is its group.
        args.extend([
            "--",
            "sh",
            "-c",
            "read -r _ _ _ _ pgrp _ < /proc/$$/stat; echo $$ $pgrp",
        ]);
        let (out, _) = run(&args);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        let words: Vec<&str> = stdout(&out).split_whitespace().collect();
        assert_eq!(words.len(), 2, "{}", stdout(&out));
        assert_eq!(words[0], words[1], "{extra:?}: not its own group leader");
    }
}

#[test]
fn kill_group_contradicting_pgid_is_a_usage_error() {
    let (out, _) = run(&["--kill-group", "--pgid", "1", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("--kill-group"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--pgid 1"), "{}", stderr(&out));
}

/// A unique value marking the processes one test run starts, found in
/// their environment.
fn marker(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// The live processes whose environment has `SPAWNFD_TEST_MARK=mark`,
/// with their `SPAWNFD_TEST_ROLE`. (A zombie's environment reads empty.)
fn marked_processes(mark: &str) -> Vec<(i32, String)> {
    let needle = format!("SPAWNFD_TEST_MARK={mark}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = environ.split(|&b| b == 0).collect();
        if vars.contains(&needle.as_bytes()) {
            let role = vars
                .iter()
                .find_map(|v| v.strip_prefix(b"SPAWNFD_TEST_ROLE="))
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .unwrap_or_default();
            found.push((pid, role));
        }
    }
    found
}

/// `pidfd_open(pid)`, `None` if the process is gone.
fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a new fd that nothing else owns.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether the process of `pidfd` exits within `limit` (a watchdog: a
/// process that should die of a signal already sent does so at once).
fn exits_within(pidfd: &std::os::fd::OwnedFd, limit: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = limit.as_millis() as i32;
    // SAFETY: one valid pollfd that outlives the call; EINTR counts as
    // not exited, which fails the test loudly rather than hiding anything.
    unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
}

/// Kills what a test left running, through pidfds.
fn kill_marked(mark: &str) {
    use std::os::fd::AsRawFd;
    for (pid, _) in marked_processes(mark) {
        if let Some(fd) = pidfd_open(pid) {
            // SAFETY: pidfd_send_signal with our own pidfd.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    0,
                    0,
                )
            };
        }
    }
}

/// PROGRAM for the group tests: python3 started with TERM blocked, so that
/// the time-out's TERM waits wherever it comes. It forks two grandchildren
/// (`sleep 60`, stdio on /dev/null): one ignores TERM (the pending TERM is
/// discarded when it does, so it cannot die of it), the other takes the
/// default action once it unblocks TERM. PROGRAM waits until both have
/// executed `sleep` (end-of-file on a close-on-exec pipe each holds), so
/// that they are set up, and seen with their final environment, before
/// PROGRAM can die. Then, unless `program_waits`,
/// PROGRAM unblocks TERM and dies of it; with `program_waits` it keeps it
/// blocked and sleeps (only KILL ends it).
fn group_script(program_waits: bool) -> String {
    format!(
        "import os, signal, time\n\
         def grandchild(role, action):\n\
         \x20   r, w = os.pipe()\n\
         \x20   if os.fork() == 0:\n\
         \x20       os.environ['SPAWNFD_TEST_ROLE'] = role\n\
         \x20       null = os.open('/dev/null', os.O_RDWR)\n\
         \x20       for fd in (0, 1, 2): os.dup2(null, fd)\n\
         \x20       signal.signal(signal.SIGTERM, action)\n\
         \x20       signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGTERM}})\n\
         \x20       os.execvp('sleep', ['sleep', '60'])\n\
         \x20   os.close(w)\n\
         \x20   os.read(r, 1)\n\
         \x20   os.close(r)\n\
         grandchild('ignores-term', signal.SIG_IGN)\n\
         grandchild('dies-of-term', signal.SIG_DFL)\n\
         import sys\n\
         early = signal.SIGTERM in signal.sigpending()\n\
         sys.stdout.write('early\\n' if early else 'ready\\n')\n\
         sys.stdout.flush()\n\
         if not {program_waits}:\n\
         \x20   signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGTERM}})\n\
         time.sleep(60)\n",
        program_waits = if program_waits { "True" } else { "False" },
    )
}

/// Runs the group script under `spawnfd run --timeout T OPTIONS`;
/// returns the exit status, the report and the marker.
///
/// The time-out can only reach grandchildren that exist: when it came
/// before PROGRAM had started them (a loaded machine), PROGRAM says so
/// (`early`, or nothing if KILL ended it), what it left is killed, and the
/// run is tried again with twice the time limit, from 0.2 s to 12.8 s.
fn run_group(test: &str, options: &[&str], program_waits: bool) -> (i32, Value, String) {
    let script = group_script(program_waits);
    let mut limit = 0.2;
    loop {
        let mark = marker(test);
        let env = format!("SPAWNFD_TEST_MARK={mark}");
        let timeout = limit.to_string();
        let mut args = vec![
            "--json",
            "--timeout",
            &timeout,
            "--signal-mask",
            "TERM",
            "--env",
            &env,
        ];
        args.extend_from_slice(options);
        args.extend(["--", "python3", "-c", &script]);
        let (out, _) = run(&args);
        let text = stdout(&out);
        let report: Value = serde_json::from_str(text.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| panic!("no JSON report: {text:?} {}", stderr(&out)));
        if text.starts_with("ready\n") || limit >= 12.8 {
            assert!(text.starts_with("ready\n"), "never in time: {text:?}");
            return (out.status.code().expect("spawnfd exits"), report, mark);
        }
        kill_marked(&mark);
        limit *= 2.0;
    }
}

/// Fails the test if a process marked `mark` is still alive
/// (`limit` after spawnfd ended: a watchdog, the KILL has been sent).
fn assert_none_left(mark: &str, what: &str) {
    let left = marked_processes(mark);
    for &(pid, ref role) in &left {
        if let Some(fd) = pidfd_open(pid) {
            if !exits_within(&fd, Duration::from_secs(20)) {
                kill_marked(mark);
                panic!("{what}: the grandchild that {role} (pid {pid}) outlived spawnfd");
            }
        }
    }
}

#[test]
fn group_time_out_with_kill_after_leaves_no_grandchild() {
    if !have_python() {
        return skip(
            "group_time_out_with_kill_after_leaves_no_grandchild",
            "no python3",
        );
    }
    // PROGRAM dies of TERM: the group gets KILL at once, long before the
    // grace period of 60 s would pass (the run would hit HANG_GUARD).
    let (status, report, mark) = run_group("group-k", &["--kill-group", "-k", "60"], false);
    assert_eq!(status, 124, "{report}");
    assert_eq!(report["signal"], libc::SIGTERM, "{report}");
    assert_none_left(&mark, "-k 60, PROGRAM died of TERM");

    // PROGRAM outlives TERM too: all of them get KILL after the grace
    // period.
    let (status, report, mark) = run_group(
        "group-k-program-waits",
        &["--kill-group", "-k", "0.3"],
        true,
    );
    assert_eq!(status, 137, "{report}");
    assert_eq!(report["signal"], libc::SIGKILL, "{report}");
    assert_none_left(&mark, "-k 0.3, PROGRAM blocked TERM");

    // -s KILL: the whole group at once.
    let (status, _, mark) = run_group("group-s-kill", &["--kill-group", "-s", "KILL"], true);
    assert_eq!(status, 137);
    assert_none_left(&mark, "-s KILL");
}

#[test]
fn group_time_out_without_kill_after_sends_no_kill() {
    if !have_python() {
        return skip(
            "group_time_out_without_kill_after_sends_no_kill",
            "no python3",
        );
    }
    let (status, report, mark) = run_group("group-no-k", &["--kill-group"], false);
    assert_eq!(status, 124, "{report}");
    assert_eq!(report["signal"], libc::SIGTERM, "{report}");
    let left = marked_processes(&mark);
    // The grandchild that takes TERM's default action got it from the
    // group's TERM and dies.
    for (pid, role) in &left {
        if role == "dies-of-term" {
            let fd = pidfd_open(*pid);
            let exited = fd
                .as_ref()
                .is_none_or(|fd| exits_within(fd, Duration::from_secs(20)));
            if !exited {
                kill_marked(&mark);
                panic!("the grandchild that dies of TERM was not sent TERM");
            }
        }
    }
    // The one that ignores TERM is left running: no KILL unless -k, as
    // timeout(1).
    let ignoring: Vec<_> = marked_processes(&mark)
        .into_iter()
        .filter(|(_, role)| role == "ignores-term")
        .collect();
    kill_marked(&mark);
    assert_eq!(ignoring.len(), 1, "KILL was sent without -k: {ignoring:?}");
}

#[test]
fn time_out_without_kill_group_signals_program_alone() {
    if !have_python() {
        return skip(
            "time_out_without_kill_group_signals_program_alone",
            "no python3",
        );
    }
    // The problem --kill-group solves: both grandchildren live on.
    let (status, _, mark) = run_group("no-group", &["-k", "5"], false);
    assert_eq!(status, 124);
    let mut roles: Vec<String> = marked_processes(&mark)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    kill_marked(&mark);
    roles.sort();
    assert_eq!(roles, ["dies-of-term", "ignores-term"]);
}

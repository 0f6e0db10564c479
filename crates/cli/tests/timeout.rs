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

#[test]
fn grace_period_is_5s_by_default() {
    let (out, elapsed) = run(&[
        "--json",
        "--timeout",
        "0.1",
        "--ignore-signal",
        "TERM",
        "--",
        "sleep",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(137));
    assert!(stdout(&out).contains(r#""signal":9"#), "{}", stdout(&out));
    assert!(
        elapsed < Duration::from_secs(30),
        "spawnfd waited for sleep 30 to end: {elapsed:?}"
    );
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
        "inf",
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
        "--kill-signal <SIG>",
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
    if code == Some(125) && err.contains("No child processes") {
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

//! Spawning under `strace -f`: the traced program's spawns still work (the
//! child, created with `clone3(CLONE_VM | CLONE_VFORK)` on its own stack,
//! is followed by the tracer through to `execve`), and failures are still
//! reported exactly. Skips, with a printed reason, where `strace` is missing
//! or cannot trace.

mod support;

use std::io;
use std::os::fd::AsRawFd;
use std::process::Stdio;

use spawnfd::{SpawnError, Step};
use support::{
    PROBE, Report, TempPath, assert_isolated_passed, fd_target, in_isolated_run,
    isolated_command_under, pipe_end, probe, run_probe,
};

/// Where the traced scenario writes the probe's report.
const REPORT_ENV: &str = "SPAWNFD_STRACE_REPORT";
const SCENARIO: &str = "strace_scenario";

/// Why strace cannot be used here, if it cannot.
fn strace_unusable() -> Option<String> {
    let out = match std::process::Command::new("strace")
        .args(["-f", "-o", "/dev/null", "--", "true"])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Some("strace is not installed".into());
        }
        Err(e) => return Some(format!("strace cannot be run: {e}")),
    };
    if out.status.success() {
        None
    } else {
        Some(format!(
            "strace cannot trace here ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn spawn_works_under_strace_follow_forks() {
    if let Some(reason) = strace_unusable() {
        eprintln!("skipped: {reason}");
        return;
    }
    let log = TempPath::new("strace-log");
    let report = TempPath::new("strace-report");
    let wrapper = [
        "strace".as_ref(),
        "-f".as_ref(),
        "-e".as_ref(),
        "trace=clone,clone3,vfork,execve".as_ref(),
        "-o".as_ref(),
        log.path().as_os_str(),
        "--".as_ref(),
    ];
    let out = isolated_command_under::<&std::ffi::OsStr>(&wrapper, SCENARIO)
        .env(REPORT_ENV, report.path())
        .stdin(Stdio::null())
        .output()
        .expect("run strace");
    assert_isolated_passed(SCENARIO, out.status, &out.stdout, &out.stderr);

    // The child ran to the end with exactly the planned fds.
    let text = std::fs::read_to_string(report.path()).expect("the traced child's report");
    let child = Report::parse(&text);
    assert_eq!(child.args.get(1).map(String::as_str), Some("traced"));
    assert_eq!(
        child.fd_numbers(),
        [0, 1, 2, 5].into(),
        "the traced child's fds: {:#?}",
        child.fds
    );
    assert!(child.fds[&5].target.starts_with("pipe:["));
    assert_eq!(child.sigblk, 0);

    // The tracer saw the vfork-style clone and the child's execve.
    let log = std::fs::read_to_string(log.path()).expect("the strace log");
    let vfork_clone = log
        .lines()
        .any(|l| (l.contains("clone3(") || l.contains("clone(")) && l.contains("CLONE_VFORK"));
    assert!(
        vfork_clone,
        "no clone with CLONE_VFORK in the strace log:\n{log}"
    );
    let probe_exec = format!("execve(\"{PROBE}\"");
    assert!(
        log.lines()
            .any(|l| l.contains(&probe_exec) && l.contains("\"traced\"")),
        "no execve of the probe in the strace log:\n{log}"
    );
}

/// Run by [`spawn_works_under_strace_follow_forks`] under strace: spawns the
/// probe (report in `$SPAWNFD_STRACE_REPORT`) and checks that failing
/// spawns still fail exactly.
#[test]
#[ignore = "run under strace by spawn_works_under_strace_follow_forks"]
fn strace_scenario() {
    if !in_isolated_run(SCENARIO) {
        return;
    }
    let out = std::env::var_os(REPORT_ENV).expect("the report path");
    let pipe = pipe_end();
    let pipe_target = fd_target(pipe.as_raw_fd());
    let status = probe()
        .arg("traced")
        .env("SPAWNFD_PROBE_OUT", &out)
        .fd(5, pipe)
        .status()
        .expect("spawn the probe under strace");
    assert!(status.success(), "{status}");
    let report = Report::parse(&std::fs::read_to_string(&out).unwrap());
    report.assert_fd(5, &pipe_target);

    // A spawn that fails in the child is reported with its step.
    let err = spawnfd::Command::new("/nonexistent/spawnfd-strace")
        .spawn()
        .expect_err("a missing program");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let detail = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(detail.step(), Step::Exec, "{err}");
    let err = probe().current_dir("/nonexistent").spawn().unwrap_err();
    assert_eq!(
        SpawnError::from_io(&err).map(SpawnError::step),
        Some(Step::Chdir)
    );

    // And a second spawn after those works too.
    let again = run_probe(probe().arg("again"));
    assert_eq!(again.fd_numbers(), [0, 1, 2].into());
}

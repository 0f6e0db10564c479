//! The JSON report on its own channel (`--json-fd N`, `--json-file
//! PATH`), its `start_time` and `elapsed`, and the usage errors reported
//! there.

mod common;

use std::fs;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command as StdCommand, Stdio as StdStdio};

use common::{BIN, scratch_path};
use serde_json::Value;
use spawnfd::{Command, Stdio};

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: two new fds that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Runs `spawnfd run ARGS...` with the write end of a pipe as its fd 3;
/// reads its stdout (if `stdout`) and the pipe at once. Returns the exit
/// status, stdout, stderr and the text of the pipe.
fn run_with_fd3(args: &[&str], stdout: Stdio) -> (Option<i32>, Vec<u8>, String, String) {
    let (json_read, json_write) = pipe();
    let mut child = Command::new(BIN)
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .fd(3, json_write)
        .spawn()
        .expect("start spawnfd");
    // Read stdout on a thread: PROGRAM may write megabytes there.
    let out_reader = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            out.read_to_end(&mut bytes).unwrap();
            bytes
        })
    });
    let mut json = String::new();
    fs::File::from(json_read).read_to_string(&mut json).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let out = out_reader.map(|t| t.join().unwrap()).unwrap_or_default();
    let status = child.wait().unwrap();
    (status.code(), out, err, json)
}

fn parse(text: &str) -> Value {
    assert!(text.ends_with('\n'), "{text:?}");
    assert_eq!(text.lines().count(), 1, "{text:?}");
    serde_json::from_str(text).expect("valid JSON")
}

#[test]
fn report_on_its_own_fd_leaves_stdout_to_program() {
    let (code, out, err, json) =
        run_with_fd3(&["--json-fd", "3", "--", "printf", "abc"], Stdio::piped());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, b"abc");
    let report = parse(&json);
    assert_eq!(report["exit_code"], 0);
    assert!(report["pid"].as_u64().is_some());
}

#[test]
fn report_on_its_own_fd_while_program_floods_stdout() {
    // 8 MiB on stdout, far beyond a pipe's buffer, then exit 3.
    let (code, out, err, json) = run_with_fd3(
        &[
            "--json-fd",
            "3",
            "--",
            "sh",
            "-c",
            "head -c 8388608 /dev/zero; exit 3",
        ],
        Stdio::piped(),
    );
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(out.len(), 8 << 20);
    assert!(out.iter().all(|&b| b == 0), "the report went into stdout");
    assert_eq!(parse(&json)["exit_code"], 3);
}

#[test]
fn report_on_its_own_fd_with_stdout_closed() {
    // PROGRAM's stdout is closed (the library gives it /dev/null); the
    // exit status still reaches fd 3.
    let (code, _, err, json) = run_with_fd3(
        &["--json-fd", "3", "--", "sh", "-c", "echo lost; exit 7"],
        Stdio::null(),
    );
    assert_eq!(code, Some(7), "{err}");
    assert_eq!(parse(&json)["exit_code"], 7);

    // Really closed: spawnfd started with fd 1 closed.
    let file = scratch_path("json", "closed-stdout");
    let out = StdCommand::new("sh")
        .args([
            "-c",
            &format!(
                "exec {BIN} run --json-fd 3 -- sh -c 'exit 9' 3>{} >&-",
                file.display()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(parse(&fs::read_to_string(&file).unwrap())["exit_code"], 9);
}

#[test]
fn json_fd_is_not_passed_to_program() {
    // PROGRAM lists its fds: 3 must not be among them.
    let (code, out, err, json) = run_with_fd3(
        &["--json-fd", "3", "--", "sh", "-c", "ls /proc/$$/fd"],
        Stdio::piped(),
    );
    assert_eq!(code, Some(0), "{err}");
    let fds: Vec<String> = String::from_utf8(out)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(!fds.contains(&"3".to_owned()), "PROGRAM got fd 3: {fds:?}");
    parse(&json);
}

#[test]
fn report_has_start_time_and_elapsed() {
    let before = std::time::SystemTime::now();
    let (code, _, err, json) =
        run_with_fd3(&["--json-fd", "3", "--", "sleep", "0.3"], Stdio::null());
    assert_eq!(code, Some(0), "{err}");
    let report = parse(&json);
    let elapsed = report["elapsed"].as_f64().expect("elapsed is a number");
    // A lower bound only: sleep 0.3 cannot end sooner.
    assert!(elapsed >= 0.3, "{report}");
    let start = report["start_time"]
        .as_str()
        .expect("start_time is a string");
    // 2026-12-02T10:00:00.123456789Z
    assert_eq!(start.len(), 30, "{start}");
    assert!(
        start.ends_with('Z') && start.as_bytes()[10] == b'T',
        "{start}"
    );
    let date = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Same day as the test's own clock, or the next (a run across
    // midnight).
    let out = StdCommand::new("date")
        .args(["-u", "-d", &format!("@{date}"), "+%Y-%m-%d"])
        .output();
    if let Ok(out) = out {
        let today = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(start[..10] >= *today, "{start} before {today}");
    }
    let seconds: f64 = start[17..29].parse().expect("seconds with a fraction");
    assert!((0.0..61.0).contains(&seconds), "{start}");
}

#[test]
fn rusage_has_only_the_fields_linux_maintains() {
    let (_, _, _, json) =
        run_with_fd3(&["--json-fd", "3", "--rusage", "--", "true"], Stdio::null());
    let usage = parse(&json)["rusage"].clone();
    assert!(usage.is_object(), "{usage}");
    for absent in [
        "ixrss", "idrss", "isrss", "nswap", "msgsnd", "msgrcv", "nsignals",
    ] {
        assert!(
            !usage
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.contains(absent)),
            "{absent} in {usage}"
        );
    }
    assert!(usage["max_rss_kib"].as_u64().unwrap() > 0, "{usage}");
}

#[test]
fn report_in_a_file() {
    let file = scratch_path("json", "report-file");
    fs::write(&file, "old contents that must go").unwrap();
    let out = StdCommand::new(BIN)
        .args(["run", "--json-file"])
        .arg(&file)
        .args(["--", "sh", "-c", "echo out; exit 4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(parse(&fs::read_to_string(&file).unwrap())["exit_code"], 4);
}

#[test]
fn unwritable_json_file_is_an_error_before_any_child() {
    let marker = scratch_path("json", "must-not-exist");
    let out = StdCommand::new(BIN)
        .args([
            "run",
            "--json-file",
            "/no/such/dir/report.json",
            "--",
            "touch",
        ])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--json-file"), "{err}");
    assert!(!marker.exists(), "PROGRAM was started");
}

#[test]
fn spawn_errors_and_usage_errors_go_to_the_json_fd() {
    let (code, _, err, json) = run_with_fd3(
        &["--json-fd", "3", "--", "spawnfd-no-such-program"],
        Stdio::null(),
    );
    assert_eq!(code, Some(127));
    assert_eq!(err, "", "an error message besides the report");
    assert_eq!(parse(&json)["error"]["step"], "exec", "{json}");

    for args in [
        &["--json-fd", "3", "--bogus", "true"][..],
        &["-s", "TERM", "--json-fd", "3", "--bogus", "true"],
        &["-k", "1", "--json-fd=3", "--timeout", "x", "true"],
        &["--json-fd", "3", "--fd", "4=3", "true"],
        &["--json-fd", "3", "--kill-group", "--pgid", "2", "true"],
    ] {
        let (code, _, err, json) = run_with_fd3(args, Stdio::null());
        assert_eq!(code, Some(125), "{args:?}");
        assert_eq!(err, "", "{args:?}");
        assert_eq!(parse(&json)["error"]["kind"], "usage", "{args:?}");
    }
}

#[test]
fn usage_error_with_a_closed_json_fd_goes_to_stderr() {
    let out = StdCommand::new(BIN)
        .args(["run", "--json-fd", "9", "--bogus", "true"])
        .stdout(StdStdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    assert!(out.stdout.is_empty());
    // And a closed N at run time: 125, said on stderr.
    let out = StdCommand::new(BIN)
        .args(["run", "--json-fd", "9", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json-fd"));
}

#[test]
fn json_channels_exclude_each_other() {
    let out = StdCommand::new(BIN)
        .args(["run", "--json", "--json-file", "/dev/null", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    // The first channel given takes the usage error: --json, stdout.
    let report = parse(std::str::from_utf8(&out.stdout).unwrap());
    assert_eq!(report["error"]["kind"], "usage");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("--json-file"), "{message}");
}

#[test]
fn usage_error_with_json_file_creates_no_file() {
    let file = scratch_path("json", "usage-error");
    let out = StdCommand::new(BIN)
        .args(["run", "--json-file"])
        .arg(&file)
        .args(["--bogus", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    assert!(!file.exists(), "a file was created for a usage error");
}

//! `spawnfd run --scope`: PROGRAM's whole tree in a cgroup of its own, so
//! that the time limit, the signals spawnfd passes on and spawnfd's own end
//! reach every process it started (daemons in sessions of their own too),
//! checked from `/proc` after spawnfd has exited; the JSON summary; the
//! limits, refused naming the controller that is missing here.
//!
//! Each test makes its scopes under a cgroup of its own (`new_cgroup`),
//! and prints why it is skipped where none can be made.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, json_report, new_cgroup, remove_cgroup, run, scratch_path, stderr, stdout};

/// A parent cgroup for one test, removed when dropped.
struct Parent(PathBuf);

impl Drop for Parent {
    fn drop(&mut self) {
        remove_cgroup(&self.0);
    }
}

fn parent(name: &str) -> Option<Parent> {
    match new_cgroup(&format!("spawnfd-cli-scope-{name}-{}", std::process::id())) {
        Ok((dir, _)) => Some(Parent(dir)),
        Err(why) => {
            println!("skipped: no cgroup can be made here: {why}");
            None
        }
    }
}

/// The pids a script wrote, one per line, to `file`.
fn pids_in(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Whether `pid` still runs `sleep` (a reused pid would run something
/// else).
fn sleeping(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.starts_with(b"sleep\0"))
}

/// The scope's directory is gone, and no cgroup is left under `parent`.
fn nothing_left(parent: &Path) {
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "cgroups left under {}: {left:?}",
        parent.display()
    );
}

/// Daemons in a session of their own, their pids in `file`, then a wait.
fn daemons(file: &Path) -> String {
    format!(
        "setsid sleep 1000 & echo $! >> {f}; (setsid sh -c 'sleep 1000 & echo $! >> {f}; wait') & \
         sleep 1000 & echo $! >> {f}; while [ $(wc -l < {f}) -lt 3 ]; do sleep 0.01; done; ",
        f = file.display()
    )
}

#[test]
fn timeout_ends_every_process_of_the_tree() {
    let Some(parent) = parent("timeout") else {
        return;
    };
    let pids = scratch_path("scope", "timeout-pids");
    let script = daemons(&pids) + "wait";
    let out = run([
        "--json",
        "--scope",
        parent.0.to_str().unwrap(),
        "--timeout",
        "1",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    let report = json_report(&out);
    assert_eq!(report["timed_out"], true, "{report}");
    let started = pids_in(&pids);
    assert_eq!(started.len(), 3, "{started:?}");
    for pid in started {
        assert!(!sleeping(pid), "{pid} outlived spawnfd's time-out");
    }
    nothing_left(&parent.0);
}

#[test]
fn what_program_leaves_running_is_ended_and_counted() {
    let Some(parent) = parent("leftovers") else {
        return;
    };
    let pids = scratch_path("scope", "leftover-pids");
    let script = daemons(&pids) + "exit 0";
    let out = run([
        "--json",
        "--scope",
        parent.0.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_report(&out);
    let scope = &report["scope"];
    // The three sleeps and the subshell that waits for one.
    assert_eq!(scope["left_running"], 4, "{report}");
    let path = scope["path"].as_str().expect("path");
    assert!(path.starts_with(parent.0.to_str().unwrap()), "{path}");
    assert!(!Path::new(path).exists(), "{path} removed");
    assert!(
        scope["cpu_time_us"].as_u64().is_some_and(|us| us > 0),
        "{report}"
    );
    for pid in pids_in(&pids) {
        assert!(!sleeping(pid), "{pid} outlived PROGRAM");
    }
    nothing_left(&parent.0);
}

#[test]
fn forwarded_signals_reach_the_whole_tree() {
    let Some(parent) = parent("forward") else {
        return;
    };
    let pids = scratch_path("scope", "forward-pids");
    // The sleep is in a session of its own, out of any group's reach; sh
    // waits for it once TERM came, and exits 3.
    let script = format!(
        "trap 'wait; exit 3' TERM; setsid sleep 1000 & echo $! > {f}; wait; wait",
        f = pids.display()
    );
    let child = Command::new(BIN)
        // (--timeout: should TERM miss the sleep, sh would wait forever.)
        .args([
            "run",
            "--json",
            "--timeout",
            "20",
            "--scope",
            parent.0.to_str().unwrap(),
        ])
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while pids_in(&pids).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the script did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: kill takes integers; the pid is our running child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "sh got TERM and waited for the sleep"
    );
    let report = json_report(&out);
    // The sleep had TERM too, and was gone before sh ended.
    assert_eq!(report["scope"]["left_running"], 0, "{report}");
    nothing_left(&parent.0);
}

#[test]
fn a_named_scope_is_made_in_spawnfds_own_cgroup() {
    let Some(parent) = parent("named") else {
        return;
    };
    let name = format!("spawnfd-cli-named-{}", std::process::id());
    // spawnfd runs in `parent` (its own cgroup), so NAME lands there.
    let out = Command::new(BIN)
        .args(["run", "--cgroup", parent.0.to_str().unwrap(), "--", BIN])
        .args([
            "run",
            "--json",
            "--scope",
            &name,
            "--",
            "cat",
            "/proc/self/cgroup",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("0::") && l.ends_with(&format!("/{name}"))),
        "{text}"
    );
    let report = json_report(&out);
    let path = report["scope"]["path"].as_str().unwrap();
    assert_eq!(Path::new(path), parent.0.join(&name));
    nothing_left(&parent.0);
}

#[test]
fn limits_without_their_controller_are_refused_before_the_spawn() {
    let Some(parent) = parent("limits") else {
        return;
    };
    let marker = scratch_path("scope", "limits-ran");
    let scope = spawnfd::Scope::new(&parent.0).expect("scope");
    let controllers = scope.controllers().unwrap();
    drop(scope);
    for (option, value, controller) in [
        ("--memory-max", "64M", "memory"),
        ("--pids-max", "16", "pids"),
        ("--cpu-max", "0.5", "cpu"),
    ] {
        let out = run([
            "--json",
            "--scope",
            parent.0.to_str().unwrap(),
            option,
            value,
            "--",
            "touch",
            marker.to_str().unwrap(),
        ]);
        if controllers.iter().any(|c| c == controller) {
            assert_eq!(out.status.code(), Some(0), "{option}: {}", stderr(&out));
            continue;
        }
        assert_eq!(out.status.code(), Some(125), "{option}");
        let report = json_report(&out);
        assert_eq!(report["error"]["option"], option, "{report}");
        let message = report["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("the {controller} controller")),
            "{message}"
        );
        assert!(!marker.exists(), "PROGRAM ran despite {option}");
        println!("skipped: {option} applied: the {controller} controller is not enabled here");
    }
    nothing_left(&parent.0);
}

#[test]
fn bad_scope_options_are_usage_errors_or_refused() {
    // Not a cgroup v2 directory.
    let out = run(["--scope", "/tmp", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("not a cgroup v2 directory"),
        "{}",
        stderr(&out)
    );
    // Limits need --scope; --scope excludes --cgroup; values are checked.
    for args in [
        &["--memory-max", "1G", "--", "true"][..],
        &["--scope", "x", "--cgroup", "/sys/fs/cgroup", "--", "true"],
        &["--scope", "/tmp", "--memory-max", "lots", "--", "true"],
        &["--scope", "/tmp", "--cpu-max", "0", "--", "true"],
        &["--scope", "/tmp", "--pids-max", "0", "--", "true"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(stderr(&out).contains("error"), "{args:?}: {}", stderr(&out));
    }
}

/// The pids PROGRAM printed, one per line, before the JSON report.
fn printed_pids(out: &std::process::Output) -> Vec<u32> {
    stdout(out)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// `spawnfd run ARGS...` as the user nobody, who may create no cgroup
/// here.
fn run_as_nobody(args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    Command::new(BIN)
        .arg("run")
        .args(args)
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output()
        .expect("start spawnfd as nobody")
}

#[test]
fn contain_holds_the_tree_in_a_scope_where_it_may() {
    if parent("contain").is_none() {
        return;
    }
    let out = run([
        "--json",
        "--contain",
        "--",
        "sh",
        "-c",
        "sleep 1000 & echo $!; sleep 1000 & echo $!; exit 0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_report(&out);
    assert_eq!(report["scope"]["containment"], "scope", "{report}");
    assert_eq!(report["scope"]["left_running"], 2, "{report}");
    let path = report["scope"]["path"].as_str().expect("a path").to_owned();
    assert!(!Path::new(&path).exists(), "{path} removed");
    let started = printed_pids(&out);
    assert_eq!(started.len(), 2, "{}", stdout(&out));
    for pid in started {
        assert!(!sleeping(pid), "{pid} outlived PROGRAM");
    }
}

#[test]
fn contain_falls_back_to_programs_process_group() {
    // As nobody, spawnfd may make no cgroup under its own (root's).
    let out = run_as_nobody(&[
        "--json",
        "--contain",
        "--",
        "sh",
        "-c",
        "sleep 1000 & echo $!; sh -c 'sleep 1000' & echo $!; exit 0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_report(&out);
    assert_eq!(report["scope"]["containment"], "process_group", "{report}");
    assert_eq!(report["scope"]["path"], serde_json::Value::Null, "{report}");
    assert!(
        report["scope"]["left_running"].as_u64() >= Some(2),
        "{report}"
    );
    let started = printed_pids(&out);
    assert_eq!(started.len(), 2, "{}", stdout(&out));
    for pid in started {
        assert!(!sleeping(pid), "{pid} outlived PROGRAM");
    }
    // The time limit reaches the group.
    let out = run_as_nobody(&[
        "--json",
        "--contain",
        "--timeout",
        "0.5",
        "--",
        "sh",
        "-c",
        "sleep 1000 & echo $!; sleep 1000 & echo $!; wait",
    ]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    let report = json_report(&out);
    assert_eq!(report["scope"]["containment"], "process_group", "{report}");
    for pid in printed_pids(&out) {
        assert!(!sleeping(pid), "{pid} outlived the time-out");
    }
}

#[test]
fn contain_excludes_the_options_that_need_a_cgroup() {
    for args in [
        &["--contain", "--scope", "x", "--", "true"][..],
        &["--contain", "--cgroup", "/sys/fs/cgroup", "--", "true"],
        &["--contain", "--memory-max", "1G", "--", "true"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

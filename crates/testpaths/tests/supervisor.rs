//! The tool from outside: its usage errors, `--list`, exit statuses, and
//! the user-notification supervisor's answers to real `clone3` calls (this
//! test binary re-run under the tool).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

const TOOL: &str = env!("CARGO_BIN_EXE_spawnfd-paths");
/// Set in the re-run of this binary that makes the calls.
const SCENARIO_ENV: &str = "SPAWNFD_PATHS_SCENARIO";

fn tool(args: &[&str]) -> Output {
    Command::new(TOOL)
        .args(args)
        .output()
        .expect("run spawnfd-paths")
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["no-clear-sighand"],
        &["no-clear-sighand", "--"],
        &["no-clear-sighand", "true"],
        &["no-such-path", "--", "true"],
    ] {
        let out = tool(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("usage: spawnfd-paths"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn list_names_every_path() {
    let out = tool(&["--list"]);
    assert!(out.status.success());
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    for name in [
        "clone3-enosys",
        "clone3-eperm",
        "no-clear-sighand",
        "no-into-cgroup",
        "no-close-range",
        "no-cloexec-range",
        "old-kernel",
        "no-pidfd",
        "no-waitid-pidfd",
        "kernel-4x",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
}

/// The command's status comes back, on the plain and the supervised paths.
#[test]
fn exits_with_the_commands_status() {
    for path in ["no-close-range", "no-clear-sighand"] {
        let out = tool(&[path, "--", "sh", "-c", "echo $SPAWNFD_FORCED_PATH; exit 7"]);
        assert_eq!(out.status.code(), Some(7), "{path}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), path);
        let out = tool(&[path, "--", "sh", "-c", "kill -TERM $$"]);
        assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{path}");
        let out = tool(&[path, "--", "/nonexistent/spawnfd-paths-test"]);
        assert_eq!(out.status.code(), Some(127), "{path}");
    }
}

#[test]
fn supervisor_refuses_flagged_clone3_and_continues_the_rest() {
    for path in ["no-clear-sighand", "clone3-eperm"] {
        let exe = std::env::current_exe().expect("this test binary");
        let out = Command::new(TOOL)
            .args([path, "--"])
            .arg(exe)
            .args(["scenario", "--exact", "--ignored", "--nocapture"])
            .env(SCENARIO_ENV, path)
            .output()
            .expect("run the scenario");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{path}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

/// A fork-like `clone3(flags)` with the first 64-byte struct; the child
/// exits at once and is reaped. The errno of a refusal, `None` if a child
/// was created.
fn fork_like_clone3(flags: u64) -> Option<i32> {
    let mut pidfd: libc::c_int = -1;
    let mut args = [0u64; 8];
    args[0] = flags;
    args[1] = (&raw mut pidfd) as u64;
    args[4] = libc::SIGCHLD as u64;
    // SAFETY: without CLONE_VM the child runs in a copy of this process and
    // only calls _exit; `args` (flags, pidfd, exit_signal) outlives the call.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, args.as_ptr(), 64usize) };
    if pid == 0 {
        // SAFETY: the child ends here.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return io::Error::last_os_error().raw_os_error();
    }
    let mut status = 0;
    // SAFETY: waitpid on our new child; close on the pidfd it came with.
    unsafe {
        libc::waitpid(pid as libc::pid_t, &mut status, 0);
        if pidfd >= 0 {
            libc::close(pidfd);
        }
    }
    None
}

/// Run under the tool by the test above.
#[test]
#[ignore = "run under spawnfd-paths by supervisor_refuses_flagged_clone3_and_continues_the_rest"]
fn scenario() {
    let Ok(path) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    let pidfd = libc::CLONE_PIDFD as u64;
    match path.as_str() {
        "no-clear-sighand" => {
            assert_eq!(fork_like_clone3(CLONE_CLEAR_SIGHAND), Some(libc::EINVAL));
            assert_eq!(
                fork_like_clone3(pidfd | CLONE_CLEAR_SIGHAND),
                Some(libc::EINVAL)
            );
            assert_eq!(fork_like_clone3(pidfd), None);
            assert_eq!(fork_like_clone3(0), None);
        }
        "clone3-eperm" => {
            assert_eq!(fork_like_clone3(pidfd), Some(libc::EPERM));
            assert_eq!(
                fork_like_clone3(pidfd | CLONE_CLEAR_SIGHAND),
                Some(libc::EPERM)
            );
            assert_eq!(fork_like_clone3(CLONE_CLEAR_SIGHAND), None);
        }
        other => panic!("no scenario for {other}"),
    }
    // Threads (glibc's clone3 with CLONE_THREAD) are continued, many at
    // once.
    let threads: Vec<_> = (0..8).map(|i| std::thread::spawn(move || i)).collect();
    let sum: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(sum, 28);
    // Each answer is in the log, the refusals with their errno.
    let log = std::env::var("SPAWNFD_FORCED_PATH_LOG").expect("the log's path");
    let log = std::fs::read_to_string(log).expect("the log");
    let refused = if path == "clone3-eperm" {
        "EPERM"
    } else {
        "EINVAL"
    };
    assert!(
        log.lines().any(|l| l.ends_with(&format!("-> {refused}"))),
        "{log}"
    );
    assert!(log.lines().any(|l| l.ends_with("-> continue")), "{log}");
}

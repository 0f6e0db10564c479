//! Dropped children: no zombies. A `Child` dropped after its exit is reaped
//! by the drop; one dropped while it runs goes to the background reaper (one
//! thread, `reaper_pending()` counts what it waits for), which reaps it when
//! it exits and touches no other child. `reap_on_drop(false)` leaves std's
//! zombie; `kill_on_drop(true)` kills first. No `SIGCHLD` handler is ever
//! installed.
//!
//! The tests look at every child of this process (zombies included) and at
//! the reaper's count, so they run one at a time ([`serial`]), and each
//! leaves no child behind.

mod support;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use spawnfd::{Child, Command, Stdio, pidfd_getpid, reaper_pending};
use support::{
    HANG_GUARD, children_of_self, poll_readable, sig_bit, spawn_held, status_field,
    until_stdin_closed, wait_for,
};

/// Serializes the tests of this binary (see the module documentation). A
/// test that panics while holding it does not poison it.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    // Whatever a failed test before left to the reaper is gone first.
    wait_for("the reaper to finish earlier work", || {
        reaper_pending() == 0
    });
    guard
}

/// A copy of a child's pidfd, which outlives the `Child` and names that
/// process and no other.
fn pidfd_copy(child: &Child) -> OwnedFd {
    child.pidfd().try_clone_to_owned().expect("dup the pidfd")
}

/// Whether the process behind `pidfd` has been reaped (by anyone).
fn reaped(pidfd: &OwnedFd) -> bool {
    match pidfd_getpid(pidfd.as_fd()) {
        Ok(_) => false,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => true,
        Err(e) => panic!("pidfd_getpid: {e}"),
    }
}

/// Our zombie children.
fn zombies() -> Vec<u32> {
    children_of_self()
        .into_iter()
        .filter_map(|(pid, state)| (state == 'Z').then_some(pid))
        .collect()
}

/// Reaps zombie `pid` with `waitpid` (as code using std's behaviour would)
/// and returns its raw status.
fn waitpid(pid: u32) -> i32 {
    let mut raw = 0;
    // SAFETY: `pid` is our unreaped child, so the number is still its own;
    // waitpid writes the status into `raw`.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::__WALL) };
    assert_eq!(
        r,
        pid as libc::pid_t,
        "waitpid: {}",
        std::io::Error::last_os_error()
    );
    raw
}

/// The threads of this process named `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn a_thousand_dropped_children_leave_no_zombie() {
    let _serial = serial();
    let mut watched = Vec::new();
    for i in 0..1000 {
        // Half end at once, half after up to 90 ms; some are dropped while
        // they run, some after they exited.
        let mut cmd = if i % 2 == 0 {
            Command::new("true")
        } else {
            let mut sleep = Command::new("sleep");
            sleep.arg(format!("0.0{}", i % 10));
            sleep
        };
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn child {i}: {e}"));
        if i % 6 == 0 {
            // A `true`: dropped once it has exited.
            assert!(
                poll_readable(child.pidfd(), HANG_GUARD),
                "child {i} never exited"
            );
        }
        if i % 10 == 0 {
            watched.push(pidfd_copy(&child));
        }
        drop(child);
    }
    wait_for("the reaper to reap every dropped child", || {
        reaper_pending() == 0
    });
    assert_eq!(zombies(), Vec::<u32>::new(), "zombie children left");
    assert_eq!(children_of_self(), [], "children left");
    assert!(watched.iter().all(reaped));

    // One reaper thread for all of them, and no SIGCHLD handler: the
    // dispositions are untouched.
    assert_eq!(threads_named("spawnfd-reaper"), 1);
    let caught = status_field("/proc/self/status", "SigCgt:");
    let ignored = status_field("/proc/self/status", "SigIgn:");
    assert_eq!(caught & sig_bit(libc::SIGCHLD), 0, "a SIGCHLD handler");
    assert_eq!(ignored & sig_bit(libc::SIGCHLD), 0, "SIGCHLD ignored");
}

#[test]
fn an_exited_child_is_reaped_by_the_drop_itself() {
    let _serial = serial();
    let child = Command::new("true").spawn().unwrap();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    assert_eq!(zombies(), [child.id()]);
    let pidfd = pidfd_copy(&child);
    drop(child);
    // At once, not by the reaper thread some time later.
    assert!(reaped(&pidfd), "still unreaped after the drop");
    assert_eq!(reaper_pending(), 0);
    assert_eq!(zombies(), Vec::<u32>::new());
}

#[test]
fn a_running_child_is_reaped_by_the_reaper_when_it_exits() {
    let _serial = serial();
    let mut stdins = Vec::new();
    let mut pidfds = Vec::new();
    for n in 1..=20 {
        let (child, stdin) = spawn_held(&mut until_stdin_closed(0));
        pidfds.push(pidfd_copy(&child));
        stdins.push(stdin);
        drop(child);
        assert_eq!(reaper_pending(), n, "the reaper took every running child");
    }
    // Still running: nothing to reap yet, and nothing was killed.
    assert!(pidfds.iter().all(|p| !poll_readable(p, Duration::ZERO)));
    assert!(!pidfds.iter().any(reaped));

    drop(stdins);
    wait_for("the reaper to reap 20 children", || reaper_pending() == 0);
    assert!(pidfds.iter().all(reaped));
    assert_eq!(children_of_self(), []);
}

#[test]
fn reap_on_drop_false_leaves_a_zombie() {
    let _serial = serial();

    // Dropped after its exit.
    let child = Command::new("sh")
        .args(["-c", "exit 7"])
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let exited_pid = child.id();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    drop(child);

    // Dropped while it runs: the reaper is not given it.
    let (child, stdin) = spawn_held(until_stdin_closed(8).reap_on_drop(false));
    let running_pid = child.id();
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert_eq!(reaper_pending(), 0);
    drop(stdin);
    assert!(poll_readable(&pidfd, HANG_GUARD));

    // Give the reaper work of its own meanwhile: it must leave both alone.
    let (busy, busy_stdin) = spawn_held(&mut until_stdin_closed(0));
    drop(busy);
    assert_eq!(reaper_pending(), 1);
    drop(busy_stdin);
    wait_for("the reaper to reap its own child", || reaper_pending() == 0);

    let mut left = zombies();
    left.sort_unstable();
    let mut expected = vec![exited_pid, running_pid];
    expected.sort_unstable();
    assert_eq!(left, expected, "std's zombies");

    // Whoever holds the pid reaps them, as with std.
    assert_eq!(libc::WEXITSTATUS(waitpid(exited_pid)), 7);
    assert_eq!(libc::WEXITSTATUS(waitpid(running_pid)), 8);
    assert_eq!(children_of_self(), []);
}

#[test]
fn kill_on_drop_kills_a_running_child() {
    let _serial = serial();

    // Reaped afterwards by the reaper.
    let child = Command::new("sleep")
        .arg("1000")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert!(poll_readable(&pidfd, HANG_GUARD), "`sleep 1000` still runs");
    wait_for("the reaper to reap the killed child", || reaped(&pidfd));
    wait_for("the reaper's count to drop", || reaper_pending() == 0);

    // With reap_on_drop(false), the zombie shows how it died.
    let child = Command::new("sleep")
        .arg("1000")
        .kill_on_drop(true)
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert!(poll_readable(&pidfd, HANG_GUARD), "`sleep 1000` still runs");
    let raw = waitpid(pid);
    assert!(
        libc::WIFSIGNALED(raw) && libc::WTERMSIG(raw) == libc::SIGKILL,
        "{raw:#x}"
    );
    assert_eq!(children_of_self(), []);
}

#[test]
fn without_kill_on_drop_a_dropped_child_runs_on() {
    let _serial = serial();
    // Left a zombie, so that its status shows it ended by itself.
    let (child, stdin) = spawn_held(until_stdin_closed(6).reap_on_drop(false));
    let pid = child.id();
    let pidfd = pidfd_copy(&child);
    drop(child);
    drop(stdin);
    assert!(poll_readable(&pidfd, HANG_GUARD));
    let raw = waitpid(pid);
    assert!(libc::WIFEXITED(raw), "killed: {raw:#x}");
    assert_eq!(libc::WEXITSTATUS(raw), 6);

    // Given to the reaper: still running after the drop.
    let (child, stdin) = spawn_held(&mut until_stdin_closed(0));
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert!(!poll_readable(&pidfd, Duration::from_millis(50)), "it died");
    assert!(!reaped(&pidfd));
    drop(stdin);
    wait_for("the reaper to reap it", || reaped(&pidfd));
}

#[test]
fn the_reaper_leaves_other_children_alone() {
    let _serial = serial();
    // A child this library does not know, from std.
    let mut other = std::process::Command::new("sh")
        .args(["-c", "read line; exit 5"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let (dropped, dropped_stdin) = spawn_held(&mut until_stdin_closed(0));
    let pidfd = pidfd_copy(&dropped);
    drop(dropped);
    assert_eq!(reaper_pending(), 1);

    // The other child exits while the reaper waits, then the reaper's own.
    drop(other.stdin.take());
    let other_pidfd = support::pidfd_open(other.id()).unwrap();
    assert!(poll_readable(&other_pidfd, HANG_GUARD));
    drop(dropped_stdin);
    wait_for("the reaper to reap its child", || reaped(&pidfd));
    wait_for("the reaper's count to drop", || reaper_pending() == 0);

    assert_eq!(
        zombies(),
        [other.id()],
        "the other child is left to its owner"
    );
    let status = other.wait().unwrap();
    assert_eq!(status.into_raw(), 5 << 8, "its status is intact: {status}");
    assert_eq!(children_of_self(), []);
}

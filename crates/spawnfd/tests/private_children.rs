//! Private children (`Command::exit_signal(None)`) and the exit statuses
//! that other code cannot steal.
//!
//! A thread reaping with `waitpid(-1)`, or `SIGCHLD` set to `SIG_IGN` (the
//! kernel then reaps children itself), takes children's zombies; the pidfd
//! still keeps how each ended (`PIDFD_INFO_EXIT`, Linux 6.15), so every way
//! of waiting, the reaper and `ChildSet` get the exact status anyway. Linux
//! sets the exit signal back to `SIGCHLD` at `execve` (`de_thread`), so an
//! exec'd private child is seen by such reapers too: the status, not the
//! zombie, is what stays private.
//!
//! The tests that change process-wide state (a `waitpid(-1)` thread, which
//! would steal the children of other tests, or a `SIGCHLD` disposition) run
//! in a process of their own ([`support::run_isolated`]).

mod support;

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ChildStdin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use spawnfd::{Child, ChildSet, Command, Signal, SpawnError, Step, pidfd_getpid};
use support::{
    HANG_GUARD, in_isolated_run, no_pidfds, poll_readable, run_isolated, skipped, spawn_held,
    until_stdin_closed, wait_for, watched_by_pid,
};

/// A private child that runs until its stdin pipe (returned) is closed,
/// then exits with `code`.
fn private_held(code: u8) -> (Child, ChildStdin) {
    spawn_held(until_stdin_closed(code).exit_signal(None))
}

/// The `ECHILD` a wait for a child someone else reaped fails with.
#[track_caller]
#[test]
fn every_wait_works_for_a_private_child() {
    let (mut child, stdin) = private_held(11);
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.wait_timeout(Duration::from_millis(10)).unwrap(), None);
    drop(stdin);
    let status = child.wait_timeout(HANG_GUARD).unwrap().expect("it exited");
    assert_eq!(status.code(), Some(11));

    let (mut child, stdin) = private_held(12);
    drop(stdin);
    assert!(poll_readable(child.pidfd(), HANG_GUARD), "it never exited");
    assert_eq!(child.try_wait().unwrap().and_then(|s| s.code()), Some(12));

    let (mut child, stdin) = private_held(13);
    drop(stdin);
    let (status, usage) = child.wait_with_rusage().unwrap();
    assert_eq!(status.code(), Some(13));
    let usage = usage.expect("reaped here: the usage is known");
    assert!(usage.max_rss_kib > 0, "{usage:?}");

    let (mut child, _stdin) = private_held(14);
    child.send_signal(Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));

    let (mut child, _stdin) = private_held(15);
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));

    // A failed spawn of a private child is reaped and reported as usual.
    let err = Command::new("/nonexistent/spawnfd-test")
        .exit_signal(None)
        .spawn()
        .unwrap_err();
    let failure = SpawnError::from_io(&err).unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(failure.step(), Step::Exec, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::ENOENT), "{err}");
}

#[test]
fn a_child_set_delivers_private_children() {
    let mut set = ChildSet::new().unwrap();
    let mut expected = std::collections::HashMap::new();
    let mut stdins = Vec::new();
    for code in 20..40 {
        let (child, stdin) = private_held(code);
        expected.insert(set.insert(child).unwrap(), i32::from(code));
        stdins.push(stdin);
    }
    assert!(set.try_wait_any().unwrap().is_none());
    drop(stdins);
    let mut seen = HashSet::new();
    for exited in set.exits() {
        let exited = exited.unwrap();
        assert!(seen.insert(exited.id), "{:?} delivered twice", exited.id);
        assert_eq!(exited.status.code(), Some(expected[&exited.id]));
    }
    assert_eq!(seen.len(), expected.len());
}

#[test]
fn dropped_private_children_are_reaped() {
    if watched_by_pid() {
        dropped_private_children_are_reaped_by_their_watchers();
        return;
    }
    // Running when dropped: the background reaper takes it.
    let (child, stdin) = private_held(5);
    let pid = child.id();
    let pidfd = child.pidfd().try_clone_to_owned().unwrap();
    drop(child);
    assert_eq!(
        pidfd_getpid(pidfd.as_fd()).unwrap(),
        pid,
        "reaped while running?"
    );
    drop(stdin);
    wait_for("the reaper to reap the dropped private child", || {
        pidfd_getpid(pidfd.as_fd())
            .err()
            .and_then(|e| e.raw_os_error())
            == Some(libc::ESRCH)
    });

    // Exited when dropped: reaped by the drop itself.
    let (child, stdin) = private_held(6);
    drop(stdin);
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    let pidfd = child.pidfd().try_clone_to_owned().unwrap();
    drop(child);
    let err = pidfd_getpid(pidfd.as_fd()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "not reaped by drop");
}

/// Whether process `pid` is a child of ours that has not been reaped
/// (running or a zombie): `waitid(P_PID, WNOHANG | WNOWAIT)` finds it.
fn unreaped_child(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is valid for waitid to fill in.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    // SAFETY: waitid writes into `info`; WNOWAIT reaps nothing.
    let r = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
    if r == 0 {
        return true;
    }
    let err = std::io::Error::last_os_error();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "waitid: {err}");
    false
}

/// `dropped_private_children_are_reaped` where children are watched by pid
/// (sys::watch): the fd is an exit fd, not a pidfd (`pidfd_getpid` does not
/// apply), and each child's watcher thread reaps it, dropped or not, and
/// then makes its exit fd readable.
fn dropped_private_children_are_reaped_by_their_watchers() {
    skipped(
        "dropped_private_children_are_reaped",
        "the fd is an exit fd on this path: the watcher's reap is checked by pid",
    );
    // Running when dropped: its watcher takes it once it exits.
    let (child, stdin) = private_held(5);
    let pid = child.id();
    let exit_fd = child.pidfd().try_clone_to_owned().unwrap();
    drop(child);
    assert!(unreaped_child(pid), "reaped while running?");
    drop(stdin);
    assert!(
        poll_readable(exit_fd.as_fd(), HANG_GUARD),
        "the dropped child never exited"
    );
    assert!(!unreaped_child(pid), "not reaped by its watcher");

    // Exited when dropped: there is no zombie phase, its watcher reaped it
    // before the exit fd became readable.
    let (child, stdin) = private_held(6);
    let pid = child.id();
    drop(stdin);
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    assert!(!unreaped_child(pid), "not reaped by its watcher");
    drop(child);
}

/// Whether a status survives a reap by someone else (`PIDFD_INFO_EXIT`).
///
/// Where children are watched by pid, the waitpid here races the child's
/// watcher, which may reap the child first (`ECHILD` here): then it is
/// tried again, with another child. Without pidfds (`no-pidfd`,
/// `kernel-4x`) a status another reaper took is lost, by design: `false`.
fn pidfd_keeps_exit_status() -> bool {
    if no_pidfds() {
        println!("no pidfds on this path: a status another reaper took is lost (ECHILD)");
        return false;
    }
    for _ in 0..100 {
        let mut child = Command::new("sh").args(["-c", "exit 4"]).spawn().unwrap();
        let mut raw = 0;
        // SAFETY: waitpid on our own child, writing into `raw`.
        let pid = unsafe { libc::waitpid(child.id() as i32, &mut raw, 0) };
        if pid == -1 && watched_by_pid() {
            // Its watcher reaped it first.
            assert_eq!(child.wait().unwrap().code(), Some(4));
            continue;
        }
        assert_eq!(pid, child.id() as i32);
        return child.wait().is_ok_and(|s| s.code() == Some(4));
    }
    panic!("the watchers reaped 100 children before a waitpid could");
}

/// `count` private children with the exit codes `first..`, each running
/// until its stdin pipe (returned apart) is closed.
fn private_batch(first: u8, count: u8) -> (Vec<(Child, u8)>, Vec<ChildStdin>) {
    (first..first + count)
        .map(|code| {
            let (child, stdin) = private_held(code);
            ((child, code), stdin)
        })
        .unzip()
}

// --- A thread that reaps with waitpid(-1) ----------------------------------

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

const HOSTILE: &str = "a_waitpid_thread_takes_no_private_child_isolated";

#[test]
fn a_waitpid_thread_takes_no_private_child() {
    run_isolated(HOSTILE);
}

#[test]
#[ignore = "run in a process of its own by a_waitpid_thread_takes_no_private_child"]
fn a_waitpid_thread_takes_no_private_child_isolated() {
    if !in_isolated_run(HOSTILE) {
        return;
    }
    if !pidfd_keeps_exit_status() {
        println!(
            "skipped: this kernel keeps no exit status for pidfds (PIDFD_INFO_EXIT, Linux 6.15)"
        );
        return;
    }
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // What other libraries' reapers do: waitpid(-1) without __WALL,
        // which sees every child that has an exit signal.
        let hostile = scope.spawn(|| {
            let mut taken = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let mut raw = 0;
                // SAFETY: waitpid writes the status into `raw`.
                let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
                if pid > 0 {
                    taken.push((pid as u32, raw));
                } else if pid < 0 {
                    let err = std::io::Error::last_os_error();
                    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "waitpid: {err}");
                }
                rounds.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
            taken
        });

        // Stops the thread however this scope ends, so that a failed
        // assertion below does not leave the scope waiting for it forever.
        let _stop = StopOnDrop(&stop);
        let (private, stdins) = private_batch(100, 50);
        let (mut control, control_in) = spawn_held(&mut until_stdin_closed(99));
        let control_pid = control.id();

        // End them all, and let the thread go round with every one of them
        // a zombie waiting to be reaped.
        drop(control_in);
        drop(stdins);
        for (child, code) in &private {
            assert!(
                poll_readable(child.pidfd(), HANG_GUARD),
                "child {code} never exited"
            );
        }
        assert!(
            poll_readable(control.pidfd(), HANG_GUARD),
            "the control never exited"
        );
        let seen = rounds.load(Ordering::SeqCst);
        wait_for("the waitpid thread to go round 20 times", || {
            rounds.load(Ordering::SeqCst) >= seen + 20
        });

        // Every private status is intact, by every way of waiting.
        for (i, (mut child, code)) in private.into_iter().enumerate() {
            let status = match i % 3 {
                0 => child.wait().unwrap(),
                1 => child.try_wait().unwrap().expect("its pidfd was readable"),
                _ => child.wait_with_rusage().unwrap().0,
            };
            assert_eq!(status.code(), Some(i32::from(code)), "private child {i}");
        }

        stop.store(true, Ordering::SeqCst);
        let taken = hostile.join().expect("the waitpid thread panicked");
        // It did take the ordinary child (and, since the kernel resets the
        // exit signal at execve, the private ones too): it was at work, and
        // yet every status above came back exactly, from the pidfd.
        if watched_by_pid() {
            // No zombie phase where children are watched by pid: each
            // watcher reaps its child as it exits, so the waitpid thread
            // (which went round at least 20 times) rarely finds one to
            // take; the statuses above are checked all the same.
            skipped(
                "a_waitpid_thread_takes_no_private_child",
                "no zombie phase on this path: the watchers reap before the waitpid thread can",
            );
        } else {
            assert!(
                taken.len() > 1,
                "the waitpid thread took only {taken:?} (control {control_pid})"
            );
        }
        assert_eq!(control.wait().unwrap().code(), Some(99));
    });
}

// --- SIGCHLD ignored --------------------------------------------------------

const IGNORED: &str = "sigchld_ignored_reaps_no_private_child_isolated";

#[test]
fn sigchld_ignored_reaps_no_private_child() {
    run_isolated(IGNORED);
}

/// Sets `SIGCHLD` to `SIG_IGN` in this process (the isolated run): the
/// kernel then reaps ordinary children itself as they exit.
fn ignore_sigchld() {
    // SAFETY: SIG_IGN for SIGCHLD, in the isolated run only.
    let old = unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    assert_ne!(old, libc::SIG_ERR);
}

#[test]
#[ignore = "run in a process of its own by sigchld_ignored_reaps_no_private_child"]
fn sigchld_ignored_reaps_no_private_child_isolated() {
    if !in_isolated_run(IGNORED) {
        return;
    }
    if !pidfd_keeps_exit_status() {
        println!(
            "skipped: this kernel keeps no exit status for pidfds (PIDFD_INFO_EXIT, Linux 6.15)"
        );
        return;
    }
    ignore_sigchld();

    let (private, stdins) = private_batch(70, 20);
    drop(stdins);
    for (child, code) in &private {
        assert!(
            poll_readable(child.pidfd(), HANG_GUARD),
            "child {code} never exited"
        );
    }
    for (mut child, code) in private {
        assert_eq!(child.wait().unwrap().code(), Some(i32::from(code)));
    }

    let mut set = ChildSet::new().unwrap();
    let id = set
        .insert(
            Command::new("sh")
                .args(["-c", "exit 42"])
                .exit_signal(None)
                .spawn()
                .unwrap(),
        )
        .unwrap();
    let exited = set.wait_any().unwrap().expect("the set held a child");
    assert_eq!((exited.id, exited.status.code()), (id, Some(42)));

    // An ordinary child too: the kernel reaped it, the pidfd kept its status.
    let mut normal = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    assert_eq!(normal.wait().unwrap().code(), Some(3));
}

const FAILED_SPAWN: &str = "a_failed_spawn_under_sigchld_ignored_names_the_exec_error_isolated";

#[test]
fn a_failed_spawn_under_sigchld_ignored_names_the_exec_error() {
    run_isolated(FAILED_SPAWN);
}

#[test]
#[ignore = "run in a process of its own by a_failed_spawn_under_sigchld_ignored_names_the_exec_error"]
fn a_failed_spawn_under_sigchld_ignored_names_the_exec_error_isolated() {
    if !in_isolated_run(FAILED_SPAWN) {
        return;
    }
    ignore_sigchld();
    let err = Command::new("/nonexistent/spawnfd-test")
        .spawn()
        .unwrap_err();
    let failure = SpawnError::from_io(&err).unwrap_or_else(|| panic!("not a SpawnError: {err:?}"));
    assert_eq!(failure.step(), Step::Exec, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::ENOENT), "{err}");
}

// --- A waitpid(-1) loop racing every wait -----------------------------------

const RACED: &str = "every_wait_gets_the_status_a_waitpid_loop_races_for_isolated";

/// How many children the race test waits for; `SPAWNFD_TEST_RACE_WAITS`
/// sets another number (for runs that measure the failure rate).
fn race_waits() -> usize {
    std::env::var("SPAWNFD_TEST_RACE_WAITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000)
}

#[test]
fn every_wait_gets_the_status_a_waitpid_loop_races_for() {
    let out = support::isolated_command(RACED)
        .output()
        .expect("re-run the test binary");
    support::assert_isolated_passed(RACED, out.status, &out.stdout, &out.stderr);
    support::relay_skips(&out.stdout);
}

/// Issue 7, item 8: a `waitpid(-1)` that takes the zombie marks it dead
/// (so our `waitid` fails with `ECHILD`) a moment before the kernel records
/// the exit status for the pidfd (`pidfs_exit`, in `release_task`). Every
/// wait that loses that race must still return the exact status.
#[test]
#[ignore = "run in a process of its own by every_wait_gets_the_status_a_waitpid_loop_races_for"]
fn every_wait_gets_the_status_a_waitpid_loop_races_for_isolated() {
    if !in_isolated_run(RACED) {
        return;
    }
    if !pidfd_keeps_exit_status() {
        println!(
            "skipped: this kernel keeps no exit status for pidfds (PIDFD_INFO_EXIT, Linux 6.15)"
        );
        return;
    }
    let waits = race_waits();
    let stop = AtomicBool::new(false);
    let taken = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // Blocks in waitpid(-1) whenever there is a child, so that it wakes
        // at the same moment as the wait under test.
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let mut raw = 0;
                // SAFETY: waitpid writes the status into `raw`.
                let pid = unsafe { libc::waitpid(-1, &mut raw, 0) };
                if pid > 0 {
                    taken.fetch_add(1, Ordering::SeqCst);
                } else {
                    // No child at the moment.
                    std::thread::yield_now();
                }
            }
        });
        let _stop = StopOnDrop(&stop);
        let mut failures = Vec::new();
        for i in 0..waits {
            let code = (i % 200) as u8;
            let mut cmd = until_stdin_closed(code);
            let mut child = cmd.spawn().unwrap();
            // wait, wait_timeout and wait_with_rusage close the stdin
            // pipe themselves and are then asleep in waitid or poll when
            // the child exits; try_wait follows a poll.
            let result = match i % 4 {
                0 => child.wait(),
                1 => child
                    .wait_timeout(HANG_GUARD)
                    .map(|s| s.expect("the child exited")),
                2 => child.wait_with_rusage().map(|(s, _)| s),
                _ => {
                    drop(child.stdin.take());
                    assert!(poll_readable(child.pidfd(), HANG_GUARD));
                    child.try_wait().map(|s| s.expect("the pidfd was readable"))
                }
            };
            match result {
                Ok(status) if status.code() == Some(i32::from(code)) => {}
                other => failures.push((i, code, other.map_err(|e| e.to_string()))),
            }
        }
        stop.store(true, Ordering::SeqCst);
        println!(
            "{waits} waits, {} children taken by the waitpid loop, {} failed",
            taken.load(Ordering::SeqCst),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{} of {waits} waits failed: {failures:?}",
            failures.len()
        );
        // It was at work: most children went through its hands.
        assert!(
            taken.load(Ordering::SeqCst) > waits / 10,
            "the waitpid loop took only {} of {waits} children",
            taken.load(Ordering::SeqCst)
        );
    });
}

//! The pidfd as the child's identity: `pidfd_getpid` (the pid while the
//! process exists, `ESRCH` once reaped, `EBADF` for anything else,
//! `EREMOTE` across PID namespaces); signals after a reap reach nobody, even
//! when the pid has been given to another process; and adoption with
//! `Child::from_pidfd` (of our own child, from `into_pidfd` or
//! `pidfd_open`, or of a process that is not our child).
//!
//! The tests that need a PID namespace run a copy of this test binary as
//! pid 1 of a new one, with a `/proc` of its own; they skip, with a printed
//! reason, where that is not permitted.

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use spawnfd::{Child, ChildSet, Command, Namespaces, Signal, Stdio, pidfd_getpid};
use support::{
    HANG_GUARD, in_isolated_run, isolated_spawnfd_command, pidfd_open, poll_readable,
    run_isolated_spawnfd, spawn_held, stat_field, unshare_unavailable, until_stdin_closed,
    wait_for,
};

/// The errno of a failed call.
#[track_caller]
fn errno<T: std::fmt::Debug>(result: std::io::Result<T>) -> i32 {
    let err = result.expect_err("the call should have failed");
    err.raw_os_error()
        .unwrap_or_else(|| panic!("not an OS error: {err:?}"))
}

/// Whether the process behind `pidfd` has been reaped (by anyone).
fn reaped(pidfd: BorrowedFd<'_>) -> bool {
    match pidfd_getpid(pidfd) {
        Ok(_) => false,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => true,
        Err(e) => panic!("pidfd_getpid: {e}"),
    }
}

// --- pidfd_getpid -----------------------------------------------------------

#[test]
fn pidfd_getpid_names_the_child_until_it_is_reaped() {
    let (mut child, stdin) = spawn_held(&mut until_stdin_closed(3));
    assert_eq!(pidfd_getpid(child.pidfd()).unwrap(), child.id());
    drop(stdin);
    assert!(
        poll_readable(child.pidfd(), HANG_GUARD),
        "the child never exited"
    );
    // A zombie still has its pid.
    assert_eq!(stat_field(child.id(), 3).as_deref(), Some("Z"));
    assert_eq!(pidfd_getpid(child.pidfd()).unwrap(), child.id());
    assert_eq!(child.wait().unwrap().code(), Some(3));
    assert_eq!(errno(pidfd_getpid(child.pidfd())), libc::ESRCH);

    // Any pidfd, not only a child's.
    let ours = pidfd_open(std::process::id()).unwrap();
    assert_eq!(pidfd_getpid(ours.as_fd()).unwrap(), std::process::id());
}

#[test]
fn pidfd_getpid_of_anything_else_is_ebadf() {
    let file = File::open("/dev/null").unwrap();
    assert_eq!(errno(pidfd_getpid(file.as_fd())), libc::EBADF);
    let dir = File::open("/proc/self").unwrap();
    assert_eq!(errno(pidfd_getpid(dir.as_fd())), libc::EBADF);
    let (read, _write) = std::io::pipe().unwrap();
    assert_eq!(errno(pidfd_getpid(read.as_fd())), libc::EBADF);
    // An anonymous inode too (epoll), like a pidfd but not one.
    let set = ChildSet::new().unwrap();
    assert_eq!(errno(pidfd_getpid(set.as_fd())), libc::EBADF);
}

#[test]
fn pidfd_getpid_of_a_closed_fd_is_ebadf() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `limit`.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // No fd of this process can be numbered at or above its soft limit (no
    // test here lowers it).
    let closed = i32::try_from(limit.rlim_cur).unwrap_or(i32::MAX - 1);
    // SAFETY: `closed` is not an open fd, which breaks BorrowedFd's promise
    // on purpose: pidfd_getpid only puts the number in a /proc path, and
    // nothing else uses the BorrowedFd.
    let fd = unsafe { BorrowedFd::borrow_raw(closed) };
    assert_eq!(errno(pidfd_getpid(fd)), libc::EBADF);
}

// --- In a new PID namespace -------------------------------------------------

/// Runs ignored test `test` as pid 1 of new PID and mount namespaces,
/// giving it `fds` (child fd, source), and asserts that it passed.
fn run_in_pid_namespace(test: &str, fds: Vec<(i32, OwnedFd)>) {
    if let Some(reason) = unshare_unavailable(Namespaces::PID | Namespaces::MOUNT) {
        eprintln!("skipped: {reason}");
        return;
    }
    let mut cmd = isolated_spawnfd_command(test);
    cmd.unshare(Namespaces::PID | Namespaces::MOUNT);
    for (at, fd) in fds {
        cmd.fd(at, fd);
    }
    run_isolated_spawnfd(test, &mut cmd);
}

/// In the isolated run: checks that this process is pid 1 of its own PID
/// namespace and mounts a `/proc` for that namespace (in its own mount
/// namespace, not propagated); `false` (with a printed reason) if it cannot.
fn own_proc() -> bool {
    // SAFETY: getpid has no preconditions.
    assert_eq!(
        unsafe { libc::getpid() },
        1,
        "not pid 1 of a new PID namespace"
    );
    // SAFETY: NUL-terminated strings and NULL where the calls allow it; the
    // mounts change this process's own mount namespace only.
    let mounted = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) == 0
            && libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0
    };
    if !mounted {
        let err = std::io::Error::last_os_error();
        println!("skipped: cannot mount a /proc for the new PID namespace: {err}");
    }
    mounted
}

/// The fd at which the PID-namespaced run gets a pidfd of a process
/// outside its namespace.
const OUTSIDE_FD: i32 = 40;

const EREMOTE_TEST: &str = "pidfd_getpid_across_pid_namespaces_is_eremote_isolated";

#[test]
fn pidfd_getpid_across_pid_namespaces_is_eremote() {
    // This process, which the namespaced run cannot see.
    let ours = pidfd_open(std::process::id()).unwrap();
    run_in_pid_namespace(EREMOTE_TEST, vec![(OUTSIDE_FD, ours)]);
}

#[test]
#[ignore = "run in a new PID namespace by pidfd_getpid_across_pid_namespaces_is_eremote"]
fn pidfd_getpid_across_pid_namespaces_is_eremote_isolated() {
    if !in_isolated_run(EREMOTE_TEST) || !own_proc() {
        return;
    }
    let target = std::fs::read_link(format!("/proc/self/fd/{OUTSIDE_FD}")).unwrap();
    assert!(
        target.to_string_lossy().contains("pidfd"),
        "fd {OUTSIDE_FD} is {target:?}"
    );
    // SAFETY: the fd was given to this process at this number for this test
    // and nothing else owns it.
    let outside = unsafe { OwnedFd::from_raw_fd(OUTSIDE_FD) };
    assert_eq!(errno(pidfd_getpid(outside.as_fd())), libc::EREMOTE);
    assert_eq!(errno(Child::from_pidfd(outside)), libc::EREMOTE);

    // A process of this namespace has its pid here.
    let (mut child, stdin) = spawn_held(&mut until_stdin_closed(0));
    assert_eq!(pidfd_getpid(child.pidfd()).unwrap(), child.id());
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

const REUSE_TEST: &str = "signals_after_a_reap_miss_the_process_that_reuses_the_pid_isolated";

#[test]
fn signals_after_a_reap_miss_the_process_that_reuses_the_pid() {
    run_in_pid_namespace(REUSE_TEST, Vec::new());
}

/// Spawns `cmd` (with a piped stdin) so that it gets pid `pid`, through
/// this PID namespace's `ns_last_pid`; `None` (with a printed reason) if
/// it could not.
fn spawn_at_pid(pid: u32, cmd: &mut Command) -> Option<(Child, std::process::ChildStdin)> {
    if let Err(e) = std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()) {
        println!("skipped: cannot write /proc/sys/kernel/ns_last_pid: {e}");
        return None;
    }
    let (mut child, stdin) = spawn_held(cmd);
    if child.id() != pid {
        println!("skipped: the new child got pid {}, not {pid}", child.id());
        drop(stdin);
        child.wait().unwrap();
        return None;
    }
    Some((child, stdin))
}

#[test]
#[ignore = "run in a new PID namespace by signals_after_a_reap_miss_the_process_that_reuses_the_pid"]
fn signals_after_a_reap_miss_the_process_that_reuses_the_pid_isolated() {
    if !in_isolated_run(REUSE_TEST) || !own_proc() {
        return;
    }
    // A, reaped through its handle; B then gets A's pid.
    let mut a = Command::new("true").kill_on_drop(true).spawn().unwrap();
    let a_pid = a.id();
    let a_status = a.wait().unwrap();
    assert!(a_status.success());
    let Some((mut b, b_stdin)) = spawn_at_pid(a_pid, &mut until_stdin_closed(7)) else {
        return;
    };
    assert_eq!(pidfd_getpid(b.pidfd()).unwrap(), a_pid);
    for sig in [Signal::KILL, Signal::TERM, Signal::HUP] {
        assert_eq!(errno(a.send_signal(sig)), libc::ESRCH, "{sig:?}");
    }
    a.kill().unwrap();
    assert_eq!(a.wait().unwrap(), a_status);
    drop(a);

    // C, reaped behind its handle's back (which therefore signals through
    // the pidfd); D then gets C's pid.
    let mut c = Command::new("true").kill_on_drop(true).spawn().unwrap();
    let c_pid = c.id();
    assert!(poll_readable(c.pidfd(), HANG_GUARD));
    let mut raw = 0;
    // SAFETY: C is our unreaped child, so the pid is its own; waitpid
    // writes its status into `raw`.
    let r = unsafe { libc::waitpid(c_pid as libc::pid_t, &mut raw, libc::__WALL) };
    assert_eq!(r, c_pid as libc::pid_t);
    let Some((mut d, d_stdin)) = spawn_at_pid(c_pid, &mut until_stdin_closed(9)) else {
        return;
    };
    assert_eq!(errno(c.send_signal(Signal::KILL)), libc::ESRCH);
    c.kill().unwrap();
    assert_reaped_elsewhere(c.try_wait());
    drop(c); // kill_on_drop: SIGKILL through the pidfd, to nobody

    // B and D got none of it: each ends with its own exit code, not a
    // signal, once its stdin closes.
    drop((b_stdin, d_stdin));
    let b_status = b.wait().unwrap();
    assert_eq!((b_status.code(), b_status.signal()), (Some(7), None));
    let d_status = d.wait().unwrap();
    assert_eq!((d_status.code(), d_status.signal()), (Some(9), None));
}

// --- Signals after a reap, in this namespace --------------------------------

#[test]
fn signals_after_a_reap_reach_nobody() {
    let mut child = Command::new("true").spawn().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(errno(child.send_signal(Signal::KILL)), libc::ESRCH);
    child.kill().unwrap();

    // Reaped behind the handle's back: the handle still signals through the
    // pidfd, which refuses.
    let mut child = Command::new("true").kill_on_drop(true).spawn().unwrap();
    let pid = child.id();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    let mut raw = 0;
    // SAFETY: our unreaped child: the pid is its own; `raw` is writable.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::__WALL) };
    assert_eq!(r, pid as libc::pid_t);
    assert_eq!(errno(child.send_signal(Signal::TERM)), libc::ESRCH);
    child.kill().unwrap();
    assert_reaped_elsewhere(child.try_wait());
    assert_reaped_elsewhere(child.wait().map(Some));
}

/// A wait on a child that someone else reaped: the status the kernel kept
/// for the pidfd (Linux 6.15), or `ECHILD` where it keeps none.
fn assert_reaped_elsewhere(result: std::io::Result<Option<std::process::ExitStatus>>) {
    match result {
        Ok(Some(_)) => {}
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {}
        other => panic!("expected a kept status or ECHILD, got {other:?}"),
    }
}

// --- Adoption ---------------------------------------------------------------

#[test]
fn into_pidfd_then_from_pidfd_adopts_the_child() {
    let child = until_stdin_closed(4).spawn().unwrap();
    let pid = child.id();
    // Giving up the Child closes its stdin: the child ends, and stays a
    // zombie, for nobody reaps it.
    let pidfd = child.into_pidfd();
    assert!(
        poll_readable(&pidfd, HANG_GUARD),
        "its stdin was not closed"
    );
    assert_eq!(stat_field(pid, 3).as_deref(), Some("Z"));

    let mut adopted = Child::from_pidfd(pidfd).unwrap();
    assert_eq!(adopted.id(), pid);
    assert_eq!(adopted.wait().unwrap().code(), Some(4));
    assert!(reaped(adopted.pidfd()));
}

#[test]
fn a_pidfd_from_pidfd_open_adopts_the_child() {
    let child = Command::new("sleep")
        .arg("1000")
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    // Our unreaped child: the pid is still its own.
    let opened = pidfd_open(pid).unwrap();
    drop(child); // running, reap_on_drop(false): only its pidfd closes

    let mut adopted = Child::from_pidfd(opened).unwrap();
    assert_eq!(adopted.id(), pid);
    assert_eq!(adopted.try_wait().unwrap(), None);
    adopted.send_signal(Signal::TERM).unwrap();
    assert_eq!(adopted.wait().unwrap().signal(), Some(libc::SIGTERM));
}

#[test]
fn into_pidfd_gives_up_kill_on_drop() {
    let child = Command::new("sleep")
        .arg("1000")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pidfd = child.into_pidfd();
    // Had the Child sent SIGKILL as it went, that would be queued before
    // this SIGTERM and be the cause of death.
    let mut adopted = Child::from_pidfd(pidfd).unwrap();
    adopted.send_signal(Signal::TERM).unwrap();
    assert_eq!(adopted.wait().unwrap().signal(), Some(libc::SIGTERM));
}

#[test]
fn an_adopted_child_dropped_while_running_is_reaped() {
    let (child, stdin) = spawn_held(&mut until_stdin_closed(0));
    let copy = child.pidfd().try_clone_to_owned().unwrap();
    let adopted = Child::from_pidfd(child.into_pidfd()).unwrap();
    drop(adopted);
    assert!(!reaped(copy.as_fd()));
    drop(stdin);
    wait_for("the reaper to reap the adopted child", || {
        reaped(copy.as_fd())
    });
}

#[test]
fn adopting_a_process_that_is_not_our_child() {
    // A grandchild: `sleep`, started and waited for by a shell of ours,
    // which exits with the status `sleep` ended with.
    let mut shell = Command::new("sh")
        .args(["-c", "sleep 1000 & echo $!; wait $!; exit $?"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(shell.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line.trim().parse().unwrap();
    // The shell waits for it: its pid is still its own.
    let mut adopted = Child::from_pidfd(pidfd_open(pid).unwrap()).unwrap();
    assert_eq!(adopted.id(), pid);

    // Not ours to wait for...
    assert_eq!(errno(adopted.try_wait()), libc::ECHILD);
    assert_eq!(errno(adopted.wait()), libc::ECHILD);
    assert_eq!(errno(adopted.wait_with_rusage()), libc::ECHILD);
    assert_eq!(adopted.wait_timeout(Duration::ZERO).unwrap(), None);
    // ... but ours to signal: the shell sees `sleep` die of it.
    adopted.send_signal(Signal::TERM).unwrap();
    assert_eq!(shell.wait().unwrap().code(), Some(128 + libc::SIGTERM));

    // Reaped by the shell: readable, still not ours (the kernel kept its
    // status for the pidfd, but that is the shell's to know), and signals
    // reach nobody.
    assert!(poll_readable(adopted.pidfd(), Duration::ZERO));
    assert!(reaped(adopted.pidfd()));
    assert_eq!(errno(adopted.wait_timeout(HANG_GUARD)), libc::ECHILD);
    assert_eq!(errno(adopted.send_signal(Signal::TERM)), libc::ESRCH);
    adopted.kill().unwrap();
    drop(adopted); // just closes the pidfd
}

/// Issue 7, item 15: since Linux 6.15 the kernel keeps the exit status of
/// any process a pidfd names once its parent reaps it; a `Child` adopted
/// from a process that is not ours must not report it.
#[test]
fn a_strangers_status_stays_its_parents_after_the_reap() {
    // A grandchild, started by a shell of ours with std (not this crate),
    // that exits 7 once the shell's stdin closes (read through fd 3: a
    // background job's own stdin is /dev/null); the shell reaps it and
    // exits with its status.
    let mut shell = std::process::Command::new("sh")
        .args([
            "-c",
            "exec 3<&0; sh -c 'read line <&3; exit 7' & echo $!; wait $!",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(shell.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line.trim().parse().unwrap();
    let mut stranger = Child::from_pidfd(pidfd_open(pid).unwrap()).unwrap();
    assert_eq!(stranger.id(), pid);
    let copy = stranger.pidfd().try_clone_to_owned().unwrap();
    let mut set = ChildSet::new().unwrap();
    let id = set
        .insert(Child::from_pidfd(pidfd_open(pid).unwrap()).unwrap())
        .unwrap();

    drop(shell.stdin.take());
    // The shell reaped it: its status is the shell's exit status.
    assert_eq!(shell.wait().unwrap().code(), Some(7));
    assert!(reaped(copy.as_fd()));
    assert_eq!(errno(stranger.wait()), libc::ECHILD);
    assert_eq!(errno(stranger.try_wait()), libc::ECHILD);
    assert_eq!(errno(stranger.wait_timeout(HANG_GUARD)), libc::ECHILD);
    assert_eq!(errno(stranger.wait_with_rusage()), libc::ECHILD);
    // A set refuses it too, and lets go of it.
    let err = set.wait_any_timeout(HANG_GUARD).unwrap_err();
    let echild = std::io::Error::from_raw_os_error(libc::ECHILD).to_string();
    assert!(err.to_string().contains(&echild), "{err}");
    assert!(set.get(id).is_none() && set.is_empty());
}

#[test]
fn adopting_our_parent() {
    // SAFETY: getppid has no preconditions.
    let ppid = u32::try_from(unsafe { libc::getppid() }).unwrap();
    let mut parent = Child::from_pidfd(pidfd_open(ppid).unwrap()).unwrap();
    assert_eq!(parent.id(), ppid);
    assert_eq!(errno(parent.wait()), libc::ECHILD);
    assert_eq!(errno(parent.try_wait()), libc::ECHILD);
    assert_eq!(parent.wait_timeout(Duration::ZERO).unwrap(), None);
    drop(parent); // neither waits nor signals
}

#[test]
fn from_pidfd_refuses_what_it_cannot_adopt() {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let copy = child.pidfd().try_clone_to_owned().unwrap();
    assert_eq!(errno(Child::from_pidfd(copy)), libc::ESRCH);

    let file = OwnedFd::from(File::open("/dev/null").unwrap());
    assert_eq!(errno(Child::from_pidfd(file)), libc::EBADF);
}

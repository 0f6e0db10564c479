//! The fork path (`Command::use_fork`, `fork_with_pidfd`), checked from
//! inside the child: the fds exactly as given, the signal slate
//! (`SigIgn`/`SigBlk`/`SigCgt` of the child's `/proc/self/status`), the
//! attributes, failing steps with their errno, `pthread_atfork` handlers
//! (run on this path, not on the default one), a `waitpid(-1)` thread
//! racing the spawns (the pidfd never names a stranger, statuses are
//! exact), and a parent that dies during the hand-shake (the child runs
//! nothing).
//!
//! Dispositions belong to the process: [`setup`] ignores `SIGUSR1` and
//! catches `SIGUSR2` once, as `tests/signals.rs` does; no test changes
//! them afterwards.

mod support;

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spawnfd::{Command, Forked, Namespaces, SpawnError, Step, fork_with_pidfd};
use support::{
    AttrReport, PROBE_ATTRS, TempPath, in_isolated_run, isolated_command, pipe_end, place_at,
    probe, run_isolated, run_probe, sig_bit,
};

extern "C" fn on_usr2(_: libc::c_int) {}

fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        for (sig, handler) in [
            (libc::SIGUSR1, libc::SIG_IGN),
            (
                libc::SIGUSR2,
                on_usr2 as extern "C" fn(libc::c_int) as libc::sighandler_t,
            ),
        ] {
            // SAFETY: an all-zero sigaction is valid; these signals are
            // used by no one else in this test process.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler;
                assert_eq!(libc::sigaction(sig, &action, std::ptr::null_mut()), 0);
            }
        }
    });
}

fn forked_probe() -> Command {
    let mut cmd = probe();
    cmd.use_fork(true);
    cmd
}

fn spawn_error(err: &io::Error) -> &SpawnError {
    SpawnError::from_io(err).unwrap_or_else(|| panic!("not a SpawnError: {err:?}"))
}

#[test]
fn the_child_gets_exactly_the_fds_it_is_given() {
    // An fd this process leaks (no O_CLOEXEC), at a number of this test's.
    let leaky = place_at(support::open_leaky(), 310, false);
    let given = pipe_end();
    let given_target = support::fd_target(given.as_raw_fd());
    let mut cmd = forked_probe();
    cmd.fd(5, given).stdin(spawnfd::Stdio::null());
    let report = run_probe(&mut cmd);
    assert_eq!(
        report.fd_numbers().into_iter().collect::<Vec<_>>(),
        [0, 1, 2, 5],
        "{:#?}",
        report.fds
    );
    report.assert_fd(5, &given_target);
    report.assert_fd(0, "/dev/null");
    drop(leaky);
}

#[test]
fn the_signal_slate_is_clean() {
    setup();
    let report = run_probe(&mut forked_probe());
    assert_eq!(report.sigign, 0, "ignored signals reset (SIGPIPE, SIGUSR1)");
    assert_eq!(report.sigcgt, 0, "the handler of SIGUSR2 reset");
    assert_eq!(report.sigblk, 0, "an empty mask");
}

#[test]
fn kept_ignored_signals_and_the_inherited_mask() {
    setup();
    // Block SIGTERM in this thread only, for the spawn.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigsets that outlive the calls.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    let report = run_probe(
        forked_probe()
            .reset_ignored_signals(false)
            .inherit_signal_mask(),
    );
    // SAFETY: the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    let ignored = sig_bit(libc::SIGPIPE) | sig_bit(libc::SIGUSR1);
    assert_eq!(report.sigign & ignored, ignored, "ignored signals kept");
    assert_eq!(report.sigcgt, 0, "handlers never survive");
    assert_eq!(report.sigblk, sig_bit(libc::SIGTERM), "this thread's mask");
}

#[test]
fn attributes_are_set_in_the_forked_child() {
    let out = TempPath::new("fork-attrs");
    let status = forked_probe()
        .env(PROBE_ATTRS, "1")
        .env("SPAWNFD_PROBE_OUT", out.path())
        .current_dir("/")
        .process_group(0)
        .umask(0o027)
        .nice(3)
        .uid(65534)
        .gid(65534)
        .groups(&[])
        .status()
        .expect("spawn");
    assert!(status.success());
    let report = AttrReport::parse(&std::fs::read_to_string(out.path()).unwrap());
    assert_eq!(report.cwd, "/");
    assert_eq!(report.status["Uid"], "65534 65534 65534 65534");
    assert_eq!(report.status["Gid"], "65534 65534 65534 65534");
    assert_eq!(report.status["Umask"], "0027");
    assert_eq!(report.stat["pgrp"], i64::from(report.pid));
    assert_eq!(report.stat["nice"], 3);
    assert_eq!(report.ppid, std::process::id() as i32);
}

#[test]
fn failing_steps_name_the_step_and_the_errno() {
    let err = forked_probe()
        .current_dir("/nonexistent")
        .spawn()
        .unwrap_err();
    assert_eq!(spawn_error(&err).step(), Step::Chdir, "{err}");
    assert_eq!(spawn_error(&err).raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        spawn_error(&err).path(),
        Some(std::path::Path::new("/nonexistent"))
    );

    let err = Command::new("/nonexistent/program")
        .use_fork(true)
        .spawn()
        .unwrap_err();
    assert_eq!(spawn_error(&err).step(), Step::Exec, "{err}");
    assert_eq!(spawn_error(&err).raw_os_error(), Some(libc::ENOENT));

    // The same request fails the same way on both paths.
    for fork in [false, true] {
        let err = Command::new("true")
            .use_fork(fork)
            .chroot("/nonexistent")
            .spawn()
            .unwrap_err();
        assert_eq!(spawn_error(&err).step(), Step::Chroot, "fork {fork}: {err}");
        assert_eq!(spawn_error(&err).raw_os_error(), Some(libc::ENOENT));
    }
}

#[test]
fn namespaces_are_entered_or_refused_as_on_the_default_path() {
    let outcome = |fork: bool| -> Result<String, (Step, Option<i32>)> {
        let out = TempPath::new("fork-ns");
        let spawned = probe()
            .use_fork(fork)
            .env(PROBE_ATTRS, "1")
            .env("SPAWNFD_PROBE_OUT", out.path())
            .unshare(Namespaces::UTS)
            .status();
        match spawned {
            Ok(status) => {
                assert!(status.success());
                let report = AttrReport::parse(&std::fs::read_to_string(out.path()).unwrap());
                Ok(report.ns["uts"].clone())
            }
            Err(e) => Err((spawn_error(&e).step(), spawn_error(&e).raw_os_error())),
        }
    };
    let own = std::fs::read_link("/proc/self/ns/uts").unwrap();
    match (outcome(false), outcome(true)) {
        (Ok(_), Ok(forked)) => assert_ne!(forked, own.to_string_lossy(), "a new UTS namespace"),
        (Err(a), Err(b)) => assert_eq!(a, b, "refused alike"),
        (a, b) => panic!("the paths differ: default {a:?}, fork {b:?}"),
    }
}

#[test]
fn what_fork_cannot_do_is_refused_up_front() {
    for ns in [Namespaces::USER, Namespaces::PID, Namespaces::TIME] {
        let err = Command::new("true")
            .use_fork(true)
            .unshare(ns)
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{ns:?}: {err}");
    }
    let err = Command::new("true")
        .use_fork(true)
        .exit_signal(None)
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
}

#[test]
fn a_traced_child_on_the_fork_path_stops_after_exec_for_us() {
    if support::status_field("/proc/self/status", "TracerPid:") != 0 {
        // TracerPid is decimal, but any non-zero value means traced.
        eprintln!("skipped: this test is itself traced (strace -f), and its child is too");
        return;
    }
    let mut child = Command::new("true")
        .use_fork(true)
        .ptrace_traceme(true)
        .spawn()
        .expect("spawn");
    // The exec stop (SIGTRAP), then on.
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: waitpid on our own unreaped child (a stop, not an exit).
    let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    assert_eq!(r, pid);
    assert!(libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP);
    // SAFETY: our stopped tracee.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn fork_with_pidfd_returns_in_the_child() {
    let (mut read, write) = io::pipe().unwrap();
    let write_fd = write.as_raw_fd();
    // SAFETY: the child makes raw calls and _exits.
    match unsafe { fork_with_pidfd() }.expect("fork") {
        Forked::Child => unsafe {
            let pid = libc::getpid();
            libc::write(write_fd, (&raw const pid).cast(), 4);
            libc::_exit(9);
        },
        Forked::Parent(mut child) => {
            drop(write);
            let mut pid = [0u8; 4];
            read.read_exact(&mut pid).unwrap();
            assert_eq!(u32::from_ne_bytes(pid), child.id());
            if is_pidfd(&child) {
                assert_eq!(spawnfd::pidfd_getpid(child.pidfd()).unwrap(), child.id());
            }
            assert_eq!(child.wait().unwrap().code(), Some(9));
        }
    }
}

// pthread_atfork: handlers that count the forks (prepare, in the parent)
// and report from the child (a byte on a pipe).
static PREPARED: AtomicUsize = AtomicUsize::new(0);
static CHILD_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn atfork_prepare() {
    PREPARED.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn atfork_child() {
    let fd = CHILD_PIPE.load(Ordering::SeqCst);
    // SAFETY: a one-byte write, async-signal-safe.
    unsafe { libc::write(fd, b"c".as_ptr().cast(), 1) };
}

#[test]
fn atfork_handlers_run_on_the_fork_path_only() {
    run_isolated("atfork_handlers_isolated");
}

#[test]
#[ignore = "run by atfork_handlers_run_on_the_fork_path_only, alone in its process"]
fn atfork_handlers_isolated() {
    if !in_isolated_run("atfork_handlers_isolated") {
        return;
    }
    let (mut read, write) = io::pipe().unwrap();
    CHILD_PIPE.store(write.as_raw_fd(), Ordering::SeqCst);
    // SAFETY: handlers that live as long as the process.
    assert_eq!(
        unsafe { libc::pthread_atfork(Some(atfork_prepare), None, Some(atfork_child)) },
        0
    );
    let bytes = |read: &mut io::PipeReader| -> usize {
        let mut buf = [0u8; 16];
        // Non-blocking look: the children are done by now.
        // SAFETY: fcntl on our fd.
        unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        read.read(&mut buf).unwrap_or(0)
    };

    let before = PREPARED.load(Ordering::SeqCst);
    assert!(Command::new("true").status().unwrap().success());
    assert_eq!(
        PREPARED.load(Ordering::SeqCst),
        before,
        "vfork path: no handler"
    );
    assert_eq!(bytes(&mut read), 0, "vfork path: no child handler");

    assert!(
        Command::new("true")
            .use_fork(true)
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(PREPARED.load(Ordering::SeqCst), before + 1, "fork path");
    assert_eq!(bytes(&mut read), 1, "fork path: the child handler ran");

    // SAFETY: the child only _exits.
    match unsafe { fork_with_pidfd() }.unwrap() {
        Forked::Child => unsafe { libc::_exit(0) },
        Forked::Parent(mut child) => assert!(child.wait().unwrap().success()),
    }
    assert_eq!(
        PREPARED.load(Ordering::SeqCst),
        before + 2,
        "fork_with_pidfd"
    );
    assert_eq!(
        bytes(&mut read),
        1,
        "fork_with_pidfd: the child handler ran"
    );
    drop(write);
}

#[test]
fn a_waitpid_thread_never_steals_what_the_pidfd_reports() {
    run_isolated("waitpid_race_isolated");
}

#[test]
#[ignore = "run by a_waitpid_thread_never_steals_what_the_pidfd_reports, alone in its process"]
fn waitpid_race_isolated() {
    if !in_isolated_run("waitpid_race_isolated") {
        return;
    }
    use std::sync::atomic::AtomicBool;
    static STOP: AtomicBool = AtomicBool::new(false);
    static STOLEN: AtomicUsize = AtomicUsize::new(0);
    // Another library's reaper: takes whatever child exits.
    let reaper = std::thread::spawn(|| {
        while !STOP.load(Ordering::Relaxed) {
            let mut status = 0;
            // SAFETY: waitpid with a status out-parameter.
            let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if r > 0 {
                STOLEN.fetch_add(1, Ordering::Relaxed);
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    });
    let mut kept = 0;
    let mut lost = 0;
    for i in 0..150u32 {
        let code = (i % 200) as i32 + 1;
        let mut child = if i % 3 == 2 {
            // SAFETY: the child only _exits.
            match unsafe { fork_with_pidfd() }.unwrap() {
                Forked::Child => unsafe { libc::_exit(code) },
                Forked::Parent(child) => child,
            }
        } else {
            probe()
                .use_fork(true)
                .env("SPAWNFD_PROBE_OUT", "/dev/null")
                .env("SPAWNFD_PROBE_EXIT", code.to_string())
                .spawn()
                .unwrap()
        };
        // While it may still run: the pidfd names this child and no other.
        // (Watched by pid, the child's fd is an exit fd, not a pidfd.)
        if is_pidfd(&child) {
            match spawnfd::pidfd_getpid(child.pidfd()) {
                Ok(pid) => assert_eq!(pid, child.id()),
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ESRCH), "{e}"),
            }
        }
        match child.wait() {
            Ok(status) => {
                assert_eq!(status.code(), Some(code), "child {i}");
                kept += 1;
            }
            // A kernel that keeps no status for pidfds (before 6.15).
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => lost += 1,
            Err(e) => panic!("wait: {e}"),
        }
    }
    STOP.store(true, Ordering::Relaxed);
    reaper.join().unwrap();
    eprintln!(
        "statuses kept {kept}, lost to the other reaper {lost}, reaped by it {}",
        STOLEN.load(Ordering::Relaxed)
    );
    if kernel_keeps_statuses() && pidfd_open_works() {
        assert_eq!(lost, 0, "this kernel keeps exit statuses for pidfds");
    }
}

/// Whether the child's fd is a pidfd (not the exit fd of a child watched
/// by pid, on kernels or sandboxes without pidfds).
fn is_pidfd(child: &spawnfd::Child) -> bool {
    support::fd_target(child.pidfd().as_raw_fd()) == "anon_inode:[pidfd]"
}

/// Whether this process may open pidfds (the fork path's children have
/// one, and their statuses are kept): not under the no-pidfd paths.
fn pidfd_open_works() -> bool {
    // SAFETY: pidfd_open of ourselves; the fd is closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the fd just opened.
    unsafe { libc::close(fd as i32) };
    true
}

/// Linux 6.15 keeps the exit status of a reaped process for its pidfds.
fn kernel_keeps_statuses() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 15)
}

extern "C" fn die_in_parent_after_fork() {
    // SAFETY: ends this process at once, in the middle of the hand-shake.
    unsafe { libc::_exit(0) };
}

#[test]
fn a_parent_that_dies_during_the_hand_shake_leaves_a_child_that_runs_nothing() {
    run_isolated("hand_shake_subreaper_isolated");
}

/// The subreaper: runs the dying parent, then reaps its orphan.
#[test]
#[ignore = "run by a_parent_that_dies_during_the_hand_shake_leaves_a_child_that_runs_nothing"]
fn hand_shake_subreaper_isolated() {
    if !in_isolated_run("hand_shake_subreaper_isolated") {
        return;
    }
    // SAFETY: a prctl on this (isolated) process.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    let marker = TempPath::new("hand-shake");
    let out = isolated_command("hand_shake_dying_parent_isolated")
        .env("SPAWNFD_TEST_MARKER", marker.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the dying parent: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Its forked child is now ours: it must exit 127 without running sh.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = 0;
    loop {
        // SAFETY: waitpid with a status out-parameter.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if r > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the orphan did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 127);
    assert!(!marker.path().exists(), "the orphan ran the program");
}

/// The parent that dies: its atfork parent handler ends it right after
/// `fork` returns, before it can open the pidfd or say go.
#[test]
#[ignore = "run by hand_shake_subreaper_isolated"]
fn hand_shake_dying_parent_isolated() {
    if !in_isolated_run("hand_shake_dying_parent_isolated") {
        return;
    }
    let marker = std::env::var("SPAWNFD_TEST_MARKER").unwrap();
    // SAFETY: a handler that lives as long as the process.
    assert_eq!(
        unsafe { libc::pthread_atfork(None, Some(die_in_parent_after_fork), None) },
        0
    );
    let _ = Command::new("sh")
        .args(["-c", &format!("touch '{marker}'")])
        .use_fork(true)
        .spawn();
    unreachable!("the atfork handler ends this process");
}

#[test]
fn the_child_side_of_the_hand_shake_holds_no_library_fd() {
    run_isolated("hand_shake_fds_isolated");
}

#[test]
#[ignore = "run by the_child_side_of_the_hand_shake_holds_no_library_fd, alone in its process"]
fn hand_shake_fds_isolated() {
    if !in_isolated_run("hand_shake_fds_isolated") {
        return;
    }
    // The child of fork_with_pidfd has the parent's fds and nothing of the
    // hand-shake (its socket pair is closed on both sides). Where children
    // are watched by pid, the parent also gains the exit pipe (its read end
    // is the Child's fd, its write end the watcher's), made before the
    // fork: the child may hold those too, by design harmless (the watcher
    // writes a byte, it does not rely on end of file).
    let (mut read, write) = io::pipe().unwrap();
    let write_fd = write.as_raw_fd();
    // The child stays until this pipe closes, so that the parent's fds
    // (the watcher's end of the exit pipe among them) are looked at while
    // it lives.
    let (done_read, done_write) = io::pipe().unwrap();
    let (done_fd, done_write_fd) = (done_read.as_raw_fd(), done_write.as_raw_fd());
    let before = fd_set();
    // SAFETY: the child lists its fds with raw calls into a stack buffer,
    // waits and _exits.
    match unsafe { fork_with_pidfd() }.unwrap() {
        Forked::Child => unsafe {
            // 1: open, 2: open and a socket.
            let mut listed = [0u8; 512];
            for (fd, slot) in listed.iter_mut().enumerate() {
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd as i32, &mut st) == 0 {
                    *slot = if st.st_mode & libc::S_IFMT == libc::S_IFSOCK {
                        2
                    } else {
                        1
                    };
                }
            }
            libc::write(write_fd, listed.as_ptr().cast(), listed.len());
            let mut byte = 0u8;
            libc::close(done_write_fd);
            libc::read(done_fd, (&raw mut byte).cast(), 1);
            libc::_exit(0);
        },
        Forked::Parent(mut child) => {
            drop(write);
            let mut listed = vec![0u8; 512];
            read.read_exact(&mut listed).unwrap();
            let after = fd_set();
            drop(done_write);
            drop(done_read);
            assert!(child.wait().unwrap().success());
            let open: std::collections::BTreeSet<i32> =
                (0..512).filter(|&fd| listed[fd as usize] != 0).collect();
            let sockets: Vec<i32> = (0..512)
                .filter(|&fd| listed[fd as usize] == 2 && !before.contains(&fd))
                .collect();
            assert!(
                sockets.is_empty(),
                "the hand-shake's sockets in the child: {sockets:?}"
            );
            let foreign: Vec<_> = open
                .iter()
                .filter(|fd| !before.contains(fd) && !after.contains(fd))
                .collect();
            assert!(foreign.is_empty(), "fds only the child has: {foreign:?}");
            if is_pidfd(&child) {
                assert_eq!(
                    open, before,
                    "the child's fds and the parent's before the fork"
                );
            }
        }
    }
}

fn fd_set() -> std::collections::BTreeSet<i32> {
    // The listing's own fd is open only while it is read (its entries
    // hold it): collect the numbers first.
    let numbers: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    numbers
        .into_iter()
        .filter(|&fd| support::is_open(fd))
        .collect()
}

#[test]
fn forked_children_that_live_on_do_not_hold_other_spawns_channels() {
    run_isolated("in_flight_channels_isolated");
}

/// Fork-path spawns in one thread, long-lived `fork_with_pidfd` children
/// made in another meanwhile: a child forked while a spawn's report pipe
/// is open must not keep a copy of it, or that spawn waits for end of
/// file until the child exits.
#[test]
#[ignore = "run by forked_children_that_live_on_do_not_hold_other_spawns_channels"]
fn in_flight_channels_isolated() {
    if !in_isolated_run("in_flight_channels_isolated") {
        return;
    }
    use std::sync::atomic::AtomicBool;
    static DONE: AtomicBool = AtomicBool::new(false);
    const CHILD_LIFE: libc::c_uint = 4;
    let forker = std::thread::spawn(|| {
        let mut children = Vec::new();
        for _ in 0..60 {
            // SAFETY: the child only sleeps and _exits.
            match unsafe { fork_with_pidfd() }.unwrap() {
                Forked::Child => unsafe {
                    libc::sleep(CHILD_LIFE);
                    libc::_exit(0);
                },
                Forked::Parent(child) => children.push(child),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        DONE.store(true, Ordering::SeqCst);
        children
    });
    let mut slowest = Duration::ZERO;
    let mut spawns = 0;
    while !DONE.load(Ordering::SeqCst) {
        let start = Instant::now();
        let status = Command::new("true").use_fork(true).status().unwrap();
        assert!(status.success());
        slowest = slowest.max(start.elapsed());
        spawns += 1;
    }
    for mut child in forker.join().unwrap() {
        assert!(child.wait().unwrap().success());
    }
    eprintln!("{spawns} spawns, the slowest took {slowest:?}");
    assert!(
        slowest < Duration::from_secs(2),
        "a spawn waited {slowest:?}: a forked child held its report pipe"
    );
}

#[test]
fn hooks_that_reuse_low_fds_do_not_cut_the_report_off() {
    // The forked child's report travels through a pipe; a hook that
    // dup2s onto, or closes, the low numbers (as posix_spawn file actions
    // do) must not reach it: its failure still arrives, step and errno.
    let mut cmd = Command::new("true");
    cmd.use_fork(true);
    // SAFETY: raw system calls only, on fds of the forked child.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 3..64 {
                libc::dup2(0, fd);
            }
            libc::close_range(64, 1000, 0);
            Err(io::Error::from_raw_os_error(libc::ENOTTY))
        });
    }
    let err = cmd.spawn().expect_err("the hook fails");
    let detail = spawn_error(&err);
    assert_eq!(detail.step(), Step::Hook, "{err}");
    assert_eq!(detail.raw_os_error(), Some(libc::ENOTTY), "{err}");
}

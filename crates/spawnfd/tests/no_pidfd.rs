//! The path for kernels without pidfds: children watched by pid, each by a
//! small thread, the child still an fd (a pipe's read end) that becomes
//! readable when it exits (`sys/watch.rs`).
//!
//! Two modes, each forced by a seccomp filter that can never be removed,
//! so every scenario re-runs this test binary (one ignored test, the
//! scenario named in the environment) in a process of its own:
//!
//! - `no-clone-pidfd`: before Linux 5.2. `clone3` is missing (`ENOSYS`),
//!   `clone` refuses `CLONE_PIDFD` (`EINVAL`), `pidfd_open` is missing.
//! - `no-waitid-pidfd`: Linux 5.2 and 5.3, or a sandbox. `waitid` refuses
//!   the id type `P_PIDFD` (`EINVAL`); the pidfd is kept for signals.

mod support;

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spawnfd::{ChildSet, Command, SpawnError, Step};
use support::seccomp::{Refuse, install};
use support::{children_of_self, in_isolated_run, isolated_command, probe, run_probe};

const MODE: &str = "SPAWNFD_NO_PIDFD_MODE";
const SCENARIO: &str = "SPAWNFD_NO_PIDFD_SCENARIO";
const INNER: &str = "scenario";

/// Runs `scenario` under `mode` in a fresh copy of this test binary.
fn run(mode: &str, scenario: &str) {
    let mut cmd = isolated_command(INNER);
    cmd.env(MODE, mode).env(SCENARIO, scenario);
    let out = cmd.output().expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed") && stdout.contains("scenario ran"),
        "{mode}/{scenario} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // (A note may follow libtest's "test scenario ... " on its line.)
    for line in stdout.lines() {
        if let Some((_, note)) = line.split_once("note:") {
            eprintln!("{mode}/{scenario}: note:{note}");
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod no_clone_pidfd {
            $(#[test] fn $name() { super::run("no-clone-pidfd", stringify!($name)); })*
        }
        mod no_waitid_pidfd {
            $(#[test] fn $name() { super::run("no-waitid-pidfd", stringify!($name)); })*
        }
    };
}

scenarios!(
    waits,
    signals,
    kill_after_reap_sends_nothing,
    spawn_errors,
    fd_hygiene,
    foreign_waitpid_loop,
    application_sigchld_handler,
    sigchld_ignored,
    child_set_of_1000,
    dropped_children,
    from_pidfd,
    no_thread_for_the_watcher,
    attended_children,
    forked_process,
    tokio,
);

/// The body of a scenario; does nothing unless this is its isolated run.
#[test]
#[ignore = "run in a process of its own by the scenario tests"]
fn scenario() {
    if !in_isolated_run(INNER) {
        return;
    }
    let mode = std::env::var(MODE).expect("the mode");
    let scenario = std::env::var(SCENARIO).expect("the scenario");
    force(&mode);
    match scenario.as_str() {
        "waits" => waits(),
        "signals" => signals(&mode),
        "kill_after_reap_sends_nothing" => kill_after_reap_sends_nothing(&mode),
        "spawn_errors" => spawn_errors(),
        "fd_hygiene" => fd_hygiene(),
        "foreign_waitpid_loop" => foreign_waitpid_loop(&mode),
        "application_sigchld_handler" => application_sigchld_handler(),
        "sigchld_ignored" => sigchld_ignored(&mode),
        "child_set_of_1000" => child_set_of_1000(),
        "dropped_children" => dropped_children(),
        "from_pidfd" => from_pidfd(&mode),
        "no_thread_for_the_watcher" => no_thread_for_the_watcher(&mode),
        "attended_children" => attended_children(&mode),
        "forked_process" => forked_process(),
        "tokio" => tokio(),
        other => panic!("unknown scenario {other}"),
    }
    settled();
    println!("scenario ran");
}

const CLONE3_ENOSYS: Refuse = Refuse::errno(libc::SYS_clone3, libc::ENOSYS);
/// `P_PIDFD`.
const P_PIDFD: u32 = 3;

/// Installs the mode's filter on this thread (and what it creates).
fn force(mode: &str) {
    let rules: &[Refuse] = match mode {
        "no-clone-pidfd" => &[
            CLONE3_ENOSYS,
            Refuse::errno(libc::SYS_clone, libc::EINVAL).when_arg0_has(libc::CLONE_PIDFD as u32),
            Refuse::errno(libc::SYS_pidfd_open, libc::ENOSYS),
        ],
        "no-waitid-pidfd" => &[Refuse::errno(libc::SYS_waitid, libc::EINVAL).when_arg0_is(P_PIDFD)],
        other => panic!("unknown mode {other}"),
    };
    install(rules).expect("install the mode's seccomp filter");
}

/// The child's fd is an exit fd (a pipe), not a pidfd: the path is forced.
fn assert_watched(child: &spawnfd::Child) {
    let err = spawnfd::pidfd_getpid(child.pidfd()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    let fd = child.pidfd().try_clone_to_owned().unwrap();
    let meta = std::fs::File::from(fd).metadata().unwrap();
    assert!(meta.file_type().is_fifo(), "{meta:?}");
    assert!(support::has_cloexec(child.pidfd()));
    assert!(child.pidfd().as_raw_fd() > 2);
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

/// The library's watcher threads still running.
fn watch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("list /proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == "spawnfd-watch")
        .count()
}

/// Waits (at most 10 s) for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "still not so after 10 s: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every child reaped, no zombie, no entry, no watcher thread left.
fn settled() {
    eventually("no child of this process left", || {
        children_of_self().is_empty()
    });
    eventually("no watcher thread left", || watch_threads() == 0);
    eventually("no watched entry left", || spawnfd::watch_entries() == 0);
}

fn waits() {
    let mut child = sh("exit 7").spawn().unwrap();
    assert_watched(&child);
    assert_eq!(child.wait().unwrap().code(), Some(7));
    assert_eq!(child.wait().unwrap().code(), Some(7));

    let mut child = sh("kill -TERM $$").spawn().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));

    let (mut child, stdin) = support::spawn_held(&mut support::until_stdin_closed(4));
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.wait_timeout(Duration::from_millis(30)).unwrap(), None);
    // The exit fd is not readable while the child runs.
    assert!(!support::poll_readable(
        child.pidfd(),
        Duration::from_millis(10)
    ));
    drop(stdin);
    assert!(support::poll_readable(child.pidfd(), support::HANG_GUARD));
    let status = child.wait_timeout(support::HANG_GUARD).unwrap().unwrap();
    assert_eq!(status.code(), Some(4));
    assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(4));
    // Readable for good.
    assert!(support::poll_readable(child.pidfd(), Duration::ZERO));

    let (mut child, stdin) = support::spawn_held(&mut support::until_stdin_closed(0));
    drop(stdin);
    eventually("try_wait reaps", || child.try_wait().unwrap().is_some());

    // The usage, from the watcher's own reap.
    let mut child = sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3")
        .spawn()
        .unwrap();
    let (status, usage) = child.wait_with_rusage().unwrap();
    assert_eq!(status.code(), Some(3));
    let usage = usage.expect("the watcher reaped the child: usage");
    assert!(usage.max_rss_kib > 0, "{usage:?}");
    assert!(
        !(usage.user_time + usage.system_time).is_zero(),
        "{usage:?}"
    );
    // As on the pidfd path: the usage went with the first reap.
    let err = child.wait_with_rusage().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD));

    // A wait without a limit the clock can hold.
    let mut child = Command::new("true").spawn().unwrap();
    assert!(
        child
            .wait_timeout(Duration::MAX)
            .unwrap()
            .unwrap()
            .success()
    );

    // output() and a piped stdout.
    let out = sh("echo hi; exit 2").output().unwrap();
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(out.status.code(), Some(2));
}

fn signals(mode: &str) {
    // kill before exit.
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    assert_watched(&child);
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    // kill after exit, before and after this handle reaped it: Ok, as std.
    let mut child = Command::new("true").spawn().unwrap();
    eventually("the exit fd is readable", || {
        support::poll_readable(child.pidfd(), Duration::ZERO)
    });
    child.kill().unwrap();
    let err = child.send_signal(spawnfd::Signal::TERM).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    assert!(child.wait().unwrap().success());
    child.kill().unwrap();
    // send_signal reaches a running child.
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    child.send_signal(spawnfd::Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    // The group of a leader that runs. Once the leader has been reaped:
    // without a pidfd, ESRCH (its pid may name another group by then);
    // with one, the pidfd's group scope (Linux 6.9) still reaches what is
    // left of the group, as on the pidfd path, and ESRCH once it is gone.
    let mut child = sh("sleep 100 & wait").process_group(0).spawn().unwrap();
    child.send_signal_to_group(spawnfd::Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    let after = child.send_signal_to_group(spawnfd::Signal::TERM);
    if mode == "no-clone-pidfd" {
        assert_eq!(after.unwrap_err().raw_os_error(), Some(libc::ESRCH));
    } else {
        let pgid = child.id() as libc::pid_t;
        // SAFETY: signal 0 is a check only, nothing is sent (were the id
        // reused by another group meanwhile, this loop would just wait).
        eventually(
            "the group is gone",
            || unsafe { libc::kill(-pgid, 0) } == -1,
        );
        let err = child
            .send_signal_to_group(spawnfd::Signal::TERM)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
        drop(after);
    }
}

/// After the child was reaped, `kill` and `send_signal` make no `kill(2)`
/// at all: a filter added now kills the process (`SIGSYS`) if they do.
fn kill_after_reap_sends_nothing(mode: &str) {
    let mut children: Vec<_> = (0..20)
        .map(|_| Command::new("true").spawn().unwrap())
        .collect();
    for child in &mut children {
        // Reaped by the watcher: the exit fd says so.
        assert!(support::poll_readable(child.pidfd(), support::HANG_GUARD));
    }
    let mut waited = Command::new("true").spawn().unwrap();
    assert!(waited.wait().unwrap().success());
    install(&[
        Refuse::trap(libc::SYS_kill),
        Refuse::trap(libc::SYS_tgkill),
        Refuse::trap(libc::SYS_tkill),
    ])
    .expect("install the kill trap");
    for child in &mut children {
        child.kill().unwrap();
        let err = child.send_signal(spawnfd::Signal::KILL).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{mode}");
        let err = child
            .send_signal_to_group(spawnfd::Signal::KILL)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{mode}");
        assert!(child.wait().unwrap().success());
    }
    waited.kill().unwrap();
    assert_eq!(
        waited
            .send_signal(spawnfd::Signal::KILL)
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ESRCH)
    );
}

fn spawn_errors() {
    let err = probe().current_dir("/nonexistent").spawn().unwrap_err();
    let failure = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(failure.step(), Step::Chdir, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::ENOENT), "{err}");
    let err = Command::new("/nonexistent/program").spawn().unwrap_err();
    let failure = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(failure.step(), Step::Exec, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::ENOENT), "{err}");
    // The cgroup and time-namespace requests need clone3, as on the clone
    // path (here clone3 may be there: then they work or are refused by
    // the kernel; never a panic, never a hang).
    let _ = Command::new("true")
        .unshare(spawnfd::Namespaces::TIME)
        .status();
}

fn fd_hygiene() {
    // Other children running (their exit fds and the watchers' write ends
    // open in this process), and stray fds that are not close-on-exec.
    let others: Vec<_> = (0..3)
        .map(|_| Command::new("sleep").arg("100").spawn().unwrap())
        .collect();
    let strays: Vec<OwnedFd> = (0..3).map(|_| support::open_leaky()).collect();
    let mapped = support::pipe_end();
    let target = support::fd_target(mapped.as_raw_fd());
    let report = run_probe(probe().fd(5, mapped));
    assert_eq!(
        report.fd_numbers(),
        BTreeSet::from([0, 1, 2, 5]),
        "{:#?}",
        report.fds
    );
    report.assert_fd(5, &target);
    assert_eq!(report.sigblk, 0);
    assert_eq!(report.sigign, 0);
    assert_eq!(report.sigcgt, 0);
    for mut child in others {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    drop(strays);
}

/// Another library reaps with `waitpid(-1)` in a loop while children run.
/// Every status a wait reports is the child's own; one the other reaper
/// took before the watcher saw it is `ECHILD` (the kernel keeps no status
/// without a pidfd, before 6.15); nothing hangs and nothing is left.
fn foreign_waitpid_loop(mode: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    let stolen = Arc::new(AtomicUsize::new(0));
    let reaper = {
        let (stop, stolen) = (Arc::clone(&stop), Arc::clone(&stolen));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut status = 0;
                // SAFETY: waitpid with a valid status pointer.
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if pid > 0 {
                    stolen.fetch_add(1, Ordering::Relaxed);
                } else {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };
    let (mut exact, mut lost) = (0, 0);
    for round in 0..10 {
        let children: Vec<_> = (0..20)
            .map(|i| (i, sh(&format!("exit {i}")).spawn().unwrap()))
            .collect();
        for (i, mut child) in children {
            match child.wait() {
                Ok(status) => {
                    assert_eq!(status.code(), Some(i), "{mode} round {round}");
                    exact += 1;
                }
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ECHILD), "{mode}: {e}");
                    lost += 1;
                }
            }
        }
    }
    // Spawn failures are exact whatever the other reaper does.
    let err = probe().current_dir("/nonexistent").spawn().unwrap_err();
    assert_eq!(SpawnError::from_io(&err).unwrap().step(), Step::Chdir);
    stop.store(true, Ordering::Relaxed);
    reaper.join().unwrap();
    println!(
        "note: {exact} exact statuses, {lost} lost, {} reaped by the other reaper",
        stolen.load(Ordering::Relaxed)
    );
    if mode == "no-waitid-pidfd" {
        // With a pidfd, the kernel (6.15 and later) keeps every status.
        assert_eq!(lost, 0, "{mode}");
    }
}

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigchld(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

fn sigaction_of(sig: i32) -> libc::sigaction {
    // SAFETY: an all-zero sigaction is a valid value to be overwritten;
    // a query (NULL new action) changes nothing.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, std::ptr::null(), &mut old), 0);
        old
    }
}

fn thread_mask() -> libc::sigset_t {
    // SAFETY: a query of this thread's mask into a zeroed set.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut old);
        old
    }
}

/// The application's own `SIGCHLD` handler (which reaps nothing) is not
/// disturbed, it still gets its signals, and every status is exact;
/// `SIGPIPE`'s disposition and this thread's mask are untouched.
fn application_sigchld_handler() {
    // SAFETY: a handler that only bumps an atomic, installed in this
    // isolated process.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigchld as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        assert_eq!(
            libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut()),
            0
        );
    }
    let pipe_before = sigaction_of(libc::SIGPIPE).sa_sigaction;
    let mask_before = format!("{:?}", thread_mask());
    for i in 0..50 {
        let status = sh(&format!("exit {}", i % 5)).status().unwrap();
        assert_eq!(status.code(), Some(i % 5));
    }
    assert_eq!(
        sigaction_of(libc::SIGCHLD).sa_sigaction,
        on_sigchld as *const () as libc::sighandler_t
    );
    assert_eq!(sigaction_of(libc::SIGPIPE).sa_sigaction, pipe_before);
    assert_eq!(format!("{:?}", thread_mask()), mask_before);
    eventually("the handler ran", || HANDLED.load(Ordering::Relaxed) > 0);
}

/// `SIGCHLD` ignored: the kernel reaps exec'd children at exit. With a
/// pidfd the kernel (6.15 and later) keeps their statuses; without, the
/// waits fail with `ECHILD`, never with a wrong status or a hang.
fn sigchld_ignored(mode: &str) {
    // SAFETY: SIG_IGN for SIGCHLD, in this isolated process.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let (mut exact, mut lost) = (0, 0);
    for i in 0..30 {
        let mut child = sh(&format!("exit {}", i % 4)).spawn().unwrap();
        match child.wait() {
            Ok(status) => {
                assert_eq!(status.code(), Some(i % 4), "{mode}");
                exact += 1;
            }
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ECHILD), "{mode}: {e}");
                lost += 1;
            }
        }
    }
    // Spawn failures (before exec, reaped by the library) are exact.
    let err = probe().current_dir("/nonexistent").spawn().unwrap_err();
    assert_eq!(SpawnError::from_io(&err).unwrap().step(), Step::Chdir);
    println!("note: {exact} exact statuses, {lost} lost");
    if mode == "no-waitid-pidfd" {
        assert_eq!(lost, 0, "{mode}");
    }
}

fn child_set_of_1000() {
    spawnfd::raise_fd_limit().unwrap();
    let mut set = ChildSet::new().unwrap();
    let mut expected = std::collections::HashMap::new();
    for i in 0..1000 {
        let child = sh(&format!("exit {}", i % 13)).spawn().unwrap();
        if i == 0 {
            assert_watched(&child);
        }
        let id = set.insert(child).unwrap();
        expected.insert(id, i % 13);
    }
    let mut seen = 0;
    for exited in set.exits() {
        let exited = exited.unwrap();
        let code = expected.remove(&exited.id).expect("an id of the set, once");
        assert_eq!(exited.status.code(), Some(code));
        seen += 1;
    }
    assert_eq!(seen, 1000);
    assert!(expected.is_empty());
}

fn dropped_children() {
    let reaper_before = spawnfd::reaper_pending();
    // Running when dropped; exited when dropped; killed on drop.
    drop(Command::new("sleep").arg("0.2").spawn().unwrap());
    let child = Command::new("true").spawn().unwrap();
    assert!(support::poll_readable(child.pidfd(), support::HANG_GUARD));
    drop(child);
    let child = Command::new("sleep")
        .arg("100")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id();
    drop(child);
    eventually("the killed child is gone", || {
        support::stat_field(pid, 3).is_none()
    });
    // No background reaper was needed.
    assert_eq!(spawnfd::reaper_pending(), reaper_before);
    // And none is left a zombie (checked with the rest in `settled`).
    eventually("no zombie", || {
        children_of_self().iter().all(|&(_, state)| state != 'Z')
    });
}

fn from_pidfd(mode: &str) {
    let (child, stdin) = support::spawn_held(&mut support::until_stdin_closed(6));
    let fd = child.into_pidfd();
    drop(stdin);
    // Taken back, with its status (the watcher reaped it meanwhile).
    let mut child = spawnfd::Child::from_pidfd(fd).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(6));
    drop(child);
    // Given away and reaped: the library holds no fd for them (only the
    // exit fds handed out stay open), and each is taken back later.
    let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    eventually("the first watcher is done", || watch_threads() == 0);
    let before = open_fds();
    let given: Vec<OwnedFd> = (0..5)
        .map(|i| sh(&format!("exit {i}")).spawn().unwrap().into_pidfd())
        .collect();
    for fd in &given {
        assert!(support::poll_readable(fd, support::HANG_GUARD));
    }
    eventually("the watchers are done", || watch_threads() == 0);
    assert_eq!(open_fds(), before + given.len(), "{mode}");
    for (i, fd) in given.into_iter().enumerate() {
        let mut child = spawnfd::Child::from_pidfd(fd).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(i as i32));
    }
    // A real pidfd cannot be waited on here.
    if mode == "no-waitid-pidfd" {
        let mut other = Command::new("sleep").arg("100").spawn().unwrap();
        let pidfd = support::pidfd_open(other.id()).unwrap();
        let err = spawnfd::Child::from_pidfd(pidfd).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
        other.kill().unwrap();
        other.wait().unwrap();
    } else {
        let err = support::pidfd_open(std::process::id()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSYS));
    }
}

/// No thread can be had for the watcher (`EAGAIN`): the spawn fails at
/// `Step::Clone`, before any process exists.
fn no_thread_for_the_watcher(mode: &str) {
    // Prime the path first, so that the refusal hits the watcher's thread.
    let mut child = Command::new("true").spawn().unwrap();
    assert!(child.wait().unwrap().success());
    install(&[
        CLONE3_ENOSYS,
        Refuse::errno(libc::SYS_clone, libc::EAGAIN).when_arg0_has(libc::CLONE_THREAD as u32),
    ])
    .expect("install the thread refusal");
    let err = Command::new("true").spawn().unwrap_err();
    let failure = SpawnError::from_io(&err).unwrap_or_else(|| panic!("{mode}: {err}"));
    assert_eq!(failure.step(), Step::Clone, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::EAGAIN), "{err}");
    assert!(children_of_self().is_empty(), "{mode}: a child was created");
}

/// The children the spawning thread attends until exec (no vfork): in a
/// new user namespace, and traced. The guard that kills and reaps one
/// whose setup failed does so by pid here; a traced child's stops are
/// its tracer's, the watcher only takes its exit.
fn attended_children(mode: &str) {
    use spawnfd::{IdMap, Namespaces};
    let map = |inside, outside, count| IdMap {
        inside,
        outside,
        count,
    };
    if let Some(why) = support::unshare_unavailable(Namespaces::USER) {
        println!("note: skipped the user namespace part: {why}");
    } else {
        let report = support::run_attrs(
            support::attr_probe()
                .unshare(Namespaces::USER)
                .uid_map(&[map(0, 0, 1)]),
        );
        assert_eq!(report.uid_map, ["0 0 1"], "{mode}");
        // Overlapping lines: the kernel refuses the map, the child is
        // killed and reaped before the spawn returns its error.
        let err = Command::new("true")
            .unshare(Namespaces::USER)
            .uid_map(&[map(0, 0, 2), map(1, 5, 1)])
            .spawn()
            .unwrap_err();
        let failure = SpawnError::from_io(&err).unwrap_or_else(|| panic!("{mode}: {err}"));
        assert_eq!(failure.step(), Step::IdMap, "{err}");
        assert!(children_of_self().is_empty(), "{mode}: a child is left");
    }

    if support::status_field("/proc/self/status", "TracerPid:") != 0 {
        println!("note: skipped the traced part: this process is traced");
        return;
    }
    let mut child = Command::new("true").ptrace_traceme(true).spawn().unwrap();
    let pid = child.id();
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WSTOPPED | libc::WNOWAIT | libc::__WALL;
    // SAFETY: a writable siginfo; the child is ours, stopped or about to.
    let r = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    assert_eq!(info.si_code, libc::CLD_TRAPPED, "{mode}: the stop at exec");
    // SAFETY: resuming our own stopped tracee, no signal.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_CONT,
            pid as libc::pid_t,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    assert!(child.wait().unwrap().success(), "{mode}");
}

/// A process forked after the spawn: the child is not its child, and its
/// waits fail at once (there is no watcher thread in it to wake them);
/// its own children are watched by its own table and threads.
fn forked_process() {
    let (mut child, stdin) = support::spawn_held(&mut support::until_stdin_closed(8));
    // SAFETY: the forked process makes only the calls below (no lock of
    // the library is taken there: its entries belong to another pid) and
    // ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        let code = (|| {
            let not_ours = |r: io::Result<_>| r.err()?.raw_os_error();
            if not_ours(child.try_wait().map(drop)) != Some(libc::ECHILD) {
                return 1;
            }
            if not_ours(child.wait().map(drop)) != Some(libc::ECHILD) {
                return 2;
            }
            if not_ours(child.kill()) != Some(libc::ECHILD) {
                return 3;
            }
            let mine = Command::new("sh").args(["-c", "exit 5"]).status();
            if mine.ok().and_then(|s| s.code()) != Some(5) {
                return 4;
            }
            0
        })();
        // SAFETY: ends the forked process without running anything else.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waitpid on the process just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked process failed: {status:#x}"
    );
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(8));
}

#[cfg(feature = "tokio")]
fn tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut child = spawnfd::tokio::Command::new("sh")
            .args(["-c", "sleep 0.1; exit 9"])
            .spawn()
            .unwrap();
        assert_watched_fd(child.pidfd());
        assert_eq!(child.wait().await.unwrap().code(), Some(9));
        assert_eq!(child.id(), None);

        let mut child = spawnfd::tokio::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        child.kill().await.unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));

        let out = spawnfd::tokio::Command::new("sh")
            .args(["-c", "echo out; exit 1"])
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.status.code(), Some(1));

        // Dropped while it runs, kill_on_drop: its watcher reaps it.
        let child = spawnfd::tokio::Command::new("sleep")
            .arg("100")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        drop(child);
    });
}

#[cfg(feature = "tokio")]
fn assert_watched_fd(fd: std::os::fd::BorrowedFd<'_>) {
    let err = spawnfd::pidfd_getpid(fd).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
}

#[cfg(not(feature = "tokio"))]
fn tokio() {
    println!("note: skipped, the tokio feature is off");
}

//! Waiting for a child: the statuses that `wait`, `try_wait`,
//! `wait_timeout` and `wait_with_rusage` return (exit codes, signals, core
//! dumps, and stops, which are not exits), what each does with the child's
//! stdin, the resource usage of a reaped child, and waits interrupted by a
//! signal handler, which must carry on.
//!
//! A child that must still be running when a test looks is blocked on a
//! stdin pipe the test holds ([`support::spawn_held`]): it exits only when
//! the test drops that pipe, whatever the load of the machine. Durations
//! appear only as guards against hanging and as lower bounds ("waited at
//! least its timeout").

mod support;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use spawnfd::{
    ChildSet, Command, ExitStatus, RLIM_INFINITY, Resource, Signal, SpawnError, Stdio, Step,
    pidfd_getpid,
};
use support::{
    HANG_GUARD, ScratchDir, assert_reaped, in_isolated_run, poll_readable,
    run_isolated_relaying_skips, skipped, spawn_held, stat_field, until_stdin_closed, wait_for,
    watched_by_pid,
};

/// `sh -c SCRIPT`, with the standard fds left alone.
fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

/// What std reports for the same script: the statuses must be equal.
fn std_status(script: &str) -> std::process::ExitStatus {
    std::process::Command::new("sh")
        .args(["-c", script])
        .status()
        .expect("run sh with std")
}

// --- Exit codes, signals, core dumps, stops --------------------------------

#[test]
fn exit_codes_are_exact_and_equal_to_std() {
    for code in [0u8, 1, 2, 42, 126, 127, 128, 200, 255] {
        let script = format!("exit {code}");
        let status = sh(&script).spawn().unwrap().wait().unwrap();
        assert_eq!(status.code(), Some(i32::from(code)), "{script}");
        assert_eq!(status.signal(), None, "{script}");
        assert!(!status.core_dumped(), "{script}");
        assert_eq!(status.success(), code == 0, "{script}");
        assert_eq!(status.into_raw(), i32::from(code) << 8, "{script}");
        assert_eq!(status, std_status(&script), "{script}");
    }
}

#[test]
fn deaths_by_signal_are_exact_and_equal_to_std() {
    for sig in [
        Signal::HUP,
        Signal::USR1,
        Signal::USR2,
        Signal::PIPE,
        Signal::ALRM,
        Signal::TERM,
        Signal::KILL,
    ] {
        let name = &sig.name().unwrap()[3..];
        // The `sleep` only gives the shell something to do if the signal
        // failed to kill it: it would then exit 0.
        let script = format!("kill -{name} $$; sleep 5");
        let status = sh(&script).spawn().unwrap().wait().unwrap();
        assert_eq!(status.signal(), Some(sig.as_raw()), "{script}: {status}");
        assert_eq!(status.code(), None, "{script}");
        assert!(!status.core_dumped(), "{script}");
        assert_eq!(status.into_raw(), sig.as_raw(), "{script}");
        assert_eq!(status, std_status(&script), "{script}");
    }
}

/// Why a core dump cannot be seen here, if it cannot: `core_pattern` is
/// empty, pipes to a program that does not exist, or names a directory (a
/// core would then be left outside the test's directory).
fn core_dumps_unavailable() -> Option<String> {
    let pattern = match std::fs::read_to_string("/proc/sys/kernel/core_pattern") {
        Ok(pattern) => pattern.trim_end().to_owned(),
        Err(e) => return Some(format!("cannot read /proc/sys/kernel/core_pattern: {e}")),
    };
    if let Some(handler) = pattern.strip_prefix('|') {
        let program = handler.split_whitespace().next().unwrap_or("");
        return (!Path::new(program).exists())
            .then(|| format!("core_pattern pipes to {program:?}, which does not exist"));
    }
    if pattern.is_empty() {
        return Some("core_pattern is empty: the kernel writes no core".into());
    }
    if pattern.contains('/') {
        return Some(format!(
            "core_pattern {pattern:?} names a directory: the test would leave cores there, \
             or find none"
        ));
    }
    None
}

/// Whether cores go to a file in the dumping process's directory (rather
/// than to a pipe).
fn cores_are_files() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern").is_ok_and(|p| !p.starts_with('|'))
}

/// `sh -c 'kill -SIG $$'` in a scratch directory (where a core lands), with
/// `RLIMIT_CORE` set to `limit`; `None` (with a printed reason) if this
/// process may not give the child that limit.
fn self_killer(sig: Signal, limit: u64, dir: &ScratchDir) -> Option<Command> {
    let mut cmd = sh(&format!("kill -{} $$; sleep 5", &sig.name().unwrap()[3..]));
    cmd.current_dir(dir.path())
        .rlimit(Resource::CORE, limit, limit);
    // Probe once whether the limit is accepted (raising a hard limit needs
    // privilege).
    let mut probe = Command::new("true");
    probe.rlimit(Resource::CORE, limit, limit);
    match probe.status() {
        Ok(status) => {
            assert!(status.success());
            Some(cmd)
        }
        Err(e) if SpawnError::from_io(&e).is_some_and(|f| f.step() == Step::Rlimit) => {
            println!("skipped: RLIMIT_CORE {limit} cannot be given to a child here: {e}");
            None
        }
        Err(e) => panic!("spawn true with RLIMIT_CORE {limit}: {e}"),
    }
}

#[test]
fn core_dumps_are_reported() {
    if let Some(reason) = core_dumps_unavailable() {
        eprintln!("skipped: {reason}");
        return;
    }
    // Each way of waiting decodes the status, so each gets one signal.
    type Wait = fn(&mut spawnfd::Child) -> ExitStatus;
    let waits: [(Signal, Wait); 3] = [
        (Signal::SEGV, |c| c.wait().unwrap()),
        (Signal::ABRT, |c| c.wait_with_rusage().unwrap().0),
        (Signal::QUIT, |c| {
            assert!(poll_readable(c.pidfd(), HANG_GUARD), "the child never died");
            c.try_wait().unwrap().expect("the pidfd is readable")
        }),
    ];
    for (sig, wait) in waits {
        let dir = ScratchDir::new("core");
        let Some(mut cmd) = self_killer(sig, RLIM_INFINITY, &dir) else {
            return;
        };
        let status = wait(&mut cmd.spawn().unwrap());
        assert_eq!(status.signal(), Some(sig.as_raw()), "{sig:?}: {status}");
        assert!(status.core_dumped(), "{sig:?} with cores enabled: {status}");
        assert_eq!(status.into_raw(), sig.as_raw() | 0x80, "{sig:?}");
        assert_eq!(status.code(), None);
        if cores_are_files() {
            let written = std::fs::read_dir(dir.path()).unwrap().count();
            assert_ne!(written, 0, "{sig:?}: no core file in {:?}", dir.path());
        }
        // The scratch directory goes, and any core in it, when `dir` drops.
    }

    // The control: with no room for a core, the same death dumps none. (A
    // pipe handler is run whatever the limit, so only for files.)
    if cores_are_files() {
        let dir = ScratchDir::new("no-core");
        let Some(mut cmd) = self_killer(Signal::SEGV, 0, &dir) else {
            return;
        };
        let status = cmd.spawn().unwrap().wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGSEGV));
        assert!(!status.core_dumped(), "RLIMIT_CORE 0 yet {status}");
    }
}

#[test]
fn a_stopped_or_continued_child_has_not_exited() {
    let (mut child, stdin) = spawn_held(
        sh("kill -STOP $$; read line; exit 6")
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let pid = child.id();
    // `T`, or `t` when a tracer (strace -f) holds the stopped child.
    let stopped = || matches!(stat_field(pid, 3).as_deref(), Some("T" | "t"));
    wait_for("the child to stop itself", stopped);
    assert_eq!(child.try_wait().unwrap(), None, "a stop is not an exit");
    assert_eq!(child.wait_timeout(Duration::from_millis(20)).unwrap(), None);
    assert!(!poll_readable(child.pidfd(), Duration::ZERO));

    child.send_signal(Signal::CONT).unwrap();
    wait_for("the child to continue", || !stopped());
    assert_eq!(child.try_wait().unwrap(), None, "nor is continuing");

    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(6));
}

// --- try_wait and wait_timeout ---------------------------------------------

#[test]
fn try_wait_does_not_block_and_leaves_stdin_open() {
    let mut child = until_stdin_closed(3).spawn().unwrap();
    for _ in 0..3 {
        assert_eq!(child.try_wait().unwrap(), None);
    }
    // The child is still reading the pipe try_wait left open: a line ends
    // its `read`, and then it exits.
    let mut stdin = child.stdin.take().expect("try_wait keeps stdin");
    stdin.write_all(b"go\n").unwrap();
    assert!(
        poll_readable(child.pidfd(), HANG_GUARD),
        "the child never exited"
    );
    let status = child.try_wait().unwrap().expect("the pidfd is readable");
    assert_eq!(status.code(), Some(3));
    // Reaped once; the same status ever after, by every method.
    assert_eq!(child.try_wait().unwrap(), Some(status));
    assert_eq!(child.wait_timeout(Duration::ZERO).unwrap(), Some(status));
    assert_eq!(child.wait().unwrap(), status);
    assert_reaped(&child, "try_wait");
}

/// The voluntary context switches of the calling thread so far.
fn voluntary_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .expect("voluntary_ctxt_switches in /proc/thread-self/status")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn wait_timeout_is_none_while_the_child_runs_then_its_status() {
    let (mut child, stdin) = spawn_held(&mut until_stdin_closed(9));

    assert_eq!(child.wait_timeout(Duration::ZERO).unwrap(), None);
    let start = Instant::now();
    assert_eq!(
        child.wait_timeout(Duration::from_millis(100)).unwrap(),
        None
    );
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "wait_timeout returned None before its timeout: {:?}",
        start.elapsed()
    );

    // One poll of the pidfd, not a loop of short sleeps: the thread goes to
    // sleep once (a sleep of 100 ms or less per turn would be 10 or more
    // voluntary context switches in one second). Measured against one
    // sleep measured the same way: under a tracer (strace -f) every
    // system call stops the thread, reading the count included.
    let before = voluntary_switches();
    std::thread::sleep(Duration::from_millis(1));
    let one_sleep = voluntary_switches() - before;
    let before = voluntary_switches();
    assert_eq!(child.wait_timeout(Duration::from_secs(1)).unwrap(), None);
    let switches = voluntary_switches() - before;
    assert!(
        switches <= one_sleep + 5,
        "wait_timeout(1 s) slept {switches} times (one sleep: {one_sleep}): a sleeping loop?"
    );

    drop(stdin);
    let status = child
        .wait_timeout(HANG_GUARD)
        .unwrap()
        .expect("the child exits once its stdin is closed");
    assert_eq!(status.code(), Some(9));
    assert_eq!(child.wait_timeout(Duration::ZERO).unwrap(), Some(status));
    assert_eq!(child.try_wait().unwrap(), Some(status));
    assert_eq!(child.wait().unwrap(), status);
    assert_reaped(&child, "wait_timeout");
}

#[test]
fn wait_timeout_closes_stdin_first() {
    // The child holds on until its stdin is closed, which only the
    // wait_timeout below does.
    let mut child = until_stdin_closed(4).spawn().unwrap();
    let status = child
        .wait_timeout(HANG_GUARD)
        .unwrap()
        .expect("the child saw EOF and exited");
    assert_eq!(status.code(), Some(4));
    assert!(child.stdin.is_none());
}

#[test]
fn wait_timeout_zero_reaps_a_child_that_has_exited() {
    let mut child = sh("exit 12").spawn().unwrap();
    assert!(
        poll_readable(child.pidfd(), HANG_GUARD),
        "the child never exited"
    );
    if watched_by_pid() {
        // No zombie phase: its watcher reaped it before the exit fd
        // became readable, and wait_timeout(0) has its status.
        skipped(
            "wait_timeout_zero_reaps_a_child_that_has_exited",
            "no zombie phase on this path: the child's watcher reaped it",
        );
        assert_reaped(&child, "its watcher");
    } else {
        // A zombie: its pid is still its own.
        assert_eq!(pidfd_getpid(child.pidfd()).unwrap(), child.id());
    }
    let status = child.wait_timeout(Duration::ZERO).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(12));
    assert_reaped(&child, "wait_timeout(0)");
}

// --- Resource usage --------------------------------------------------------

/// A shell that spins until the kernel has charged it `ticks` clock ticks of
/// CPU time (utime + stime of its own `/proc/PID/stat`), then exits 3.
fn cpu_burner(ticks: u64) -> Command {
    let script = format!(
        "while :; do \
           read -r s < /proc/$$/stat; set -- $s; \
           [ $(( ${{14}} + ${{15}} )) -ge {ticks} ] && exit 3; \
           i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; \
         done"
    );
    sh(&script)
}

#[test]
fn rusage_reports_the_childs_own_cpu_time_and_memory() {
    // SAFETY: sysconf only reads a system constant.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap();
    assert!(hz > 0);
    // At least 250 ms, rounded up to whole ticks.
    let ticks = (hz * 250).div_ceil(1000);

    let mut burner = cpu_burner(ticks).spawn().unwrap();
    let (status, usage) = burner.wait_with_rusage().unwrap();
    assert_eq!(status.code(), Some(3));
    let usage = usage.expect("reaped here: the usage is known");
    let cpu = usage.user_time + usage.system_time;
    assert!(
        cpu >= Duration::from_millis(200),
        "the child ran {ticks} ticks of {hz} Hz, but rusage says {cpu:?}: {usage:?}"
    );
    assert!(usage.max_rss_kib > 0, "{usage:?}");
    assert!(usage.minor_faults > 0, "{usage:?}");

    // The usage is this child's own, not a running total of the children
    // reaped so far (getrusage(RUSAGE_CHILDREN) would be).
    let (status, idle) = Command::new("true")
        .spawn()
        .unwrap()
        .wait_with_rusage()
        .unwrap();
    assert!(status.success());
    let idle = idle.expect("reaped here: the usage is known");
    assert!(
        idle.user_time + idle.system_time < Duration::from_millis(100),
        "`true` is charged the CPU time of an earlier child: {idle:?}"
    );
    assert!(idle.max_rss_kib > 0 && idle.minor_faults > 0, "{idle:?}");
}

#[test]
fn rusage_counts_the_sleeps_of_a_child() {
    let mut child = Command::new("sleep").arg("0.01").spawn().unwrap();
    let (status, usage) = child.wait_with_rusage().unwrap();
    assert!(status.success());
    let usage = usage.expect("reaped here: the usage is known");
    assert!(
        usage.voluntary_context_switches >= 1,
        "`sleep` went to sleep at least once: {usage:?}"
    );
}

#[test]
fn wait_with_rusage_reaps_once() {
    // After wait: the usage went with the reaped child.
    let mut child = sh("exit 2").spawn().unwrap();
    let status = child.wait().unwrap();
    let err = child.wait_with_rusage().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
    assert_eq!(child.wait().unwrap(), status, "the status is kept");

    // After try_wait reaped it.
    let mut child = sh("exit 2").spawn().unwrap();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    assert!(child.try_wait().unwrap().is_some());
    let err = child.wait_with_rusage().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");

    // wait_with_rusage first: the other waits then return its status, and
    // a second wait_with_rusage fails.
    let mut child = sh("exit 5").spawn().unwrap();
    let (status, _) = child.wait_with_rusage().unwrap();
    assert_eq!(status.code(), Some(5));
    assert_eq!(child.wait().unwrap(), status);
    assert_eq!(child.try_wait().unwrap(), Some(status));
    assert_eq!(child.wait_timeout(Duration::ZERO).unwrap(), Some(status));
    let err = child.wait_with_rusage().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
}

/// Issue 7, item 9: after someone else reaped the child, the kernel keeps
/// its status for the pidfd (since Linux 6.15) but not its usage, which
/// went to the other reaper: the usage is absent, never a row of zeros.
#[test]
fn wait_with_rusage_after_a_foreign_reap_has_no_usage() {
    let mut child = sh("exit 6").spawn().unwrap();
    let pid = child.id();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    if watched_by_pid() {
        // No zombie phase: the exit fd is readable once its watcher has
        // reaped the child, so no other reaper can take it first; the
        // watcher's reap has the usage.
        skipped(
            "wait_with_rusage_after_a_foreign_reap_has_no_usage",
            "no zombie phase on this path: the child's watcher reaped it, with its usage",
        );
        let mut raw = 0;
        // SAFETY: waitpid on a pid that is no longer our child: ECHILD,
        // nothing reaped; `raw` is writable.
        let r =
            unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::__WALL | libc::WNOHANG) };
        assert_eq!(r, -1, "the watcher left the child unreaped");
        let (status, usage) = child.wait_with_rusage().unwrap();
        assert_eq!(status.code(), Some(6));
        assert!(usage.is_some(), "the watcher reaped it: the usage is known");
        return;
    }
    let mut raw = 0;
    // SAFETY: our unreaped child, so the pid is its own; `raw` is writable.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::__WALL) };
    assert_eq!(r, pid as libc::pid_t);
    assert_eq!(libc::WEXITSTATUS(raw), 6);
    match child.wait_with_rusage() {
        Ok((status, usage)) => {
            assert_eq!(status.code(), Some(6));
            assert_eq!(usage, None, "a usage the kernel no longer has");
        }
        // A kernel that keeps no status for pidfds (before 6.15).
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD), "{e}"),
    }
}

#[test]
fn wait_with_rusage_closes_stdin_first() {
    let mut child = until_stdin_closed(8).spawn().unwrap();
    let (status, _) = child.wait_with_rusage().unwrap();
    assert_eq!(status.code(), Some(8));
    assert!(child.stdin.is_none());
}

// --- Waits interrupted by a signal handler ---------------------------------

const INTERRUPTED: &str = "waits_carry_on_after_a_signal_handler_runs_isolated";

#[test]
fn waits_carry_on_after_a_signal_handler_runs() {
    run_isolated_relaying_skips(INTERRUPTED);
}

/// How many times `on_usr1` ran.
static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// The system call thread `tid` of this process is blocked in, if any
/// (the first field of `/proc/self/task/TID/syscall`; `running` otherwise).
fn blocked_in(tid: libc::pid_t) -> Option<libc::c_long> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The system calls that `libc::poll` and `libc::epoll_wait` may make.
fn poll_calls() -> Vec<libc::c_long> {
    #[allow(unused_mut)] // Only x86_64 has the old calls.
    let mut calls = vec![libc::SYS_ppoll];
    #[cfg(target_arch = "x86_64")]
    calls.push(libc::SYS_poll);
    calls
}

fn epoll_calls() -> Vec<libc::c_long> {
    #[allow(unused_mut)]
    let mut calls = vec![libc::SYS_epoll_pwait];
    #[cfg(target_arch = "x86_64")]
    calls.push(libc::SYS_epoll_wait);
    calls
}

/// Runs `wait` on a thread of its own; each time that thread sleeps in one
/// of `calls`, interrupts it with `SIGUSR1` (whose handler has no
/// `SA_RESTART`, so the call fails with `EINTR`), three times; checks that
/// it goes back to sleep in the call; then runs `release` (which lets the
/// waited-for child exit) and returns what `wait` returned.
fn interrupted_thrice<T: Send>(
    what: &str,
    calls: &[libc::c_long],
    release: impl FnOnce(),
    wait: impl FnOnce() -> T + Send,
) -> T {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let waiter = scope.spawn(move || {
            // SAFETY: gettid and pthread_self have no preconditions.
            tx.send(unsafe { (libc::gettid(), libc::pthread_self()) })
                .unwrap();
            wait()
        });
        let (tid, thread) = rx.recv().unwrap();
        let asleep = || waiter.is_finished() || blocked_in(tid).is_some_and(|c| calls.contains(&c));
        for round in 1..=3 {
            wait_for(
                &format!("{what} to sleep in {calls:?} (round {round})"),
                asleep,
            );
            if waiter.is_finished() {
                break; // it returned early: the caller's assertions say how
            }
            let before = HANDLED.load(Ordering::SeqCst);
            // SAFETY: `thread` is the waiter, which is joinable until the
            // scope ends, so its pthread_t is valid even if it has returned.
            assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR1) }, 0);
            wait_for("the SIGUSR1 handler to run", || {
                HANDLED.load(Ordering::SeqCst) > before
            });
        }
        wait_for(
            &format!("{what} to sleep again after the last signal"),
            asleep,
        );
        release();
        waiter.join().expect("the waiting thread panicked")
    })
}

#[test]
#[ignore = "run in a process of its own by waits_carry_on_after_a_signal_handler_runs"]
fn waits_carry_on_after_a_signal_handler_runs_isolated() {
    if !in_isolated_run(INTERRUPTED) {
        return;
    }
    // SAFETY: an all-zero sigaction is valid; the handler only touches an
    // atomic; this process is the isolated run, where nothing else uses
    // SIGUSR1. No SA_RESTART: an interrupted call fails with EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    // The blocking waits sleep in poll on the pidfd (a ptrace stop must
    // not end them, and poll wakes only at the exit), then reap. Where
    // children are watched by pid, the library's waits sleep on the
    // watcher's condition variable (a futex) instead (sys::watch); a
    // ChildSet still sleeps in epoll_wait.
    let by_pid = watched_by_pid();
    let blocking = if by_pid {
        vec![libc::SYS_futex]
    } else {
        poll_calls()
    };
    let poll = blocking.clone();

    let (mut child, stdin) = spawn_held(&mut until_stdin_closed(21));
    let status = interrupted_thrice("wait", &blocking, || drop(stdin), || child.wait());
    assert_eq!(status.unwrap().code(), Some(21));

    let (mut child, stdin) = spawn_held(&mut until_stdin_closed(22));
    let result = interrupted_thrice(
        "wait_with_rusage",
        &blocking,
        || drop(stdin),
        || child.wait_with_rusage(),
    );
    assert_eq!(result.unwrap().0.code(), Some(22));

    let (mut child, stdin) = spawn_held(&mut until_stdin_closed(23));
    let status = interrupted_thrice(
        "wait_timeout",
        &poll,
        || drop(stdin),
        || child.wait_timeout(HANG_GUARD),
    );
    let status = status
        .unwrap()
        .expect("wait_timeout gave up before its timeout");
    assert_eq!(status.code(), Some(23));

    let mut set = ChildSet::new().unwrap();
    let (child, stdin) = spawn_held(&mut until_stdin_closed(24));
    let id = set.insert(child).unwrap();
    let exited = interrupted_thrice(
        "ChildSet::wait_any",
        &epoll_calls(),
        || drop(stdin),
        || set.wait_any(),
    );
    let exited = exited.unwrap().expect("the set held a child");
    assert_eq!((exited.id, exited.status.code()), (id, Some(24)));

    let (child, stdin) = spawn_held(&mut until_stdin_closed(25));
    let id = set.insert(child).unwrap();
    let exited = interrupted_thrice(
        "ChildSet::wait_any_timeout",
        &epoll_calls(),
        || drop(stdin),
        || set.wait_any_timeout(HANG_GUARD),
    );
    let exited = exited
        .unwrap()
        .expect("wait_any_timeout gave up before its timeout");
    assert_eq!((exited.id, exited.status.code()), (id, Some(25)));

    assert!(HANDLED.load(Ordering::SeqCst) >= 15);
}

#[test]
fn a_timeout_too_long_to_add_to_now_means_no_limit() {
    let mut child = sh("exit 1").spawn().unwrap();
    // Already exited: any wait returns at once.
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    let status = child.wait_timeout(Duration::MAX).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(1));
}

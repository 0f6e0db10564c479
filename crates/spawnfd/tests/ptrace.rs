//! `ptrace_traceme`: the child becomes a tracee of the spawning thread
//! before `execve`, stops with `SIGTRAP` after it, and runs on under this
//! tracer (its `TracerPid` is the spawning thread); the library's waits
//! (and the reaper of a dropped child) return only on its exit and leave
//! its ptrace stops to the tracer.
//!
//! A binary of its own: ptrace stops are reported to every thread of the
//! tracer's process, whatever the flags ask for, and no test of another
//! binary (a `waitpid(-1)`) may reap or wait for children meanwhile. The
//! tests here look only at their own child, by pid, and each traces it
//! from its own thread (the one that spawned it).

mod support;

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use spawnfd::{Child, Command, Stdio};
use support::{AttrReport, attr_probe, status_field};

/// `waitid(P_PID, pid, WEXITED | WSTOPPED | WNOWAIT)`: the next stop or the
/// exit of `child`, without reaping it.
fn next_event(child: &Child) -> libc::siginfo_t {
    try_next_event(child).unwrap_or_else(|e| panic!("waitid: {e}"))
}

/// [`next_event`], or its error: `ECHILD` once the child has been reaped.
fn try_next_event(child: &Child) -> io::Result<libc::siginfo_t> {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WSTOPPED | libc::WNOWAIT;
    // SAFETY: `info` is writable; the child is ours.
    let r = unsafe { libc::waitid(libc::P_PID, child.id(), &mut info, flags) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
}

/// `waitid(P_PID, pid, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL)`:
/// what the kernel would report for `pid` now, without taking it; `None`
/// if nothing (running, or a stop already taken); `Err` with `ECHILD` once
/// it is no unreaped child of ours.
fn look(pid: libc::pid_t) -> io::Result<Option<libc::siginfo_t>> {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WSTOPPED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    // SAFETY: `info` is writable; a pid is a plain integer.
    let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled in a SIGCHLD siginfo, or left it zero.
    Ok((unsafe { info.si_pid() } != 0).then_some(info))
}

/// Asserts that `pid`'s stop with `SIGTRAP` is still there for the tracer
/// to take (nothing took it).
fn assert_trapped(pid: libc::pid_t, after: &str) {
    let info = look(pid)
        .expect("the traced child is still ours")
        .unwrap_or_else(|| panic!("the ptrace stop was taken by {after}"));
    assert_eq!(
        info.si_code,
        libc::CLD_TRAPPED,
        "still the ptrace stop after {after}"
    );
    // SAFETY: for CLD_TRAPPED, si_status is the stop signal.
    assert_eq!(unsafe { info.si_status() }, libc::SIGTRAP);
}

/// Spawns `cmd` as a tracee and waits (without taking it) for its first
/// stop, with `SIGTRAP` after exec; `None` where this process is itself
/// traced (a tracee cannot trace).
fn spawn_stopped(cmd: &mut Command) -> Option<Child> {
    if status_field("/proc/self/status", "TracerPid:") != 0 {
        eprintln!("skipped: this test is itself traced, and a tracee cannot trace");
        return None;
    }
    // Not the harness's output: a tracee left behind by a failed test
    // would keep its pipe open.
    cmd.ptrace_traceme(true)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().expect("spawn a tracee");
    let info = next_event(&child);
    assert_eq!(info.si_code, libc::CLD_TRAPPED, "a ptrace stop");
    // SAFETY: for CLD_TRAPPED, si_status is the stop signal.
    assert_eq!(unsafe { info.si_status() }, libc::SIGTRAP);
    Some(child)
}

/// Whether thread `tid` of this process is blocked in one of `calls`
/// (the first field of `/proc/self/task/TID/syscall`).
fn blocked_in(tid: libc::pid_t, calls: &[libc::c_long]) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) else {
        return false;
    };
    let nr = text.split_whitespace().next().and_then(|n| n.parse().ok());
    nr.is_some_and(|nr: libc::c_long| calls.contains(&nr))
}

/// `ptrace(request, pid, 0, data)`.
fn ptrace(request: libc::c_uint, pid: libc::pid_t, data: libc::c_int) {
    // SAFETY: a ptrace request on our own tracee, with no address and an
    // integer (a signal number) as data.
    let r = unsafe {
        libc::ptrace(
            request,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            data as usize as *mut libc::c_void,
        )
    };
    assert_ne!(r, -1, "ptrace {request}: {}", io::Error::last_os_error());
}

#[test]
fn traceme_child_stops_after_exec_and_runs_under_us() {
    if status_field("/proc/self/status", "TracerPid:") != 0 {
        // TracerPid is decimal, but any non-zero value means traced.
        eprintln!("skipped: this test is itself traced, and a tracee cannot trace");
        return;
    }
    let mut cmd = attr_probe();
    cmd.ptrace_traceme(true).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the probe as a tracee");
    let pid = child.id() as libc::pid_t;

    // The first event is the stop at exec.
    let info = next_event(&child);
    assert_eq!(info.si_code, libc::CLD_TRAPPED, "a ptrace stop");
    // SAFETY: for CLD_TRAPPED, si_status is the stop signal.
    assert_eq!(unsafe { info.si_status() }, libc::SIGTRAP);

    // Let it run, still traced; pass on any signal that stops it later.
    let mut signal = 0;
    loop {
        ptrace(libc::PTRACE_CONT, pid, signal);
        let info = match try_next_event(&child) {
            Ok(info) => info,
            // Exited and reaped already: a child watched by pid (no pidfd,
            // or no waitid(P_PIDFD)) is reaped by its watcher thread the
            // moment it exits.
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
            Err(e) => panic!("waitid: {e}"),
        };
        if info.si_code != libc::CLD_TRAPPED {
            break;
        }
        // SAFETY: for CLD_TRAPPED, si_status is the stop signal.
        signal = unsafe { info.si_status() };
    }

    let mut out = String::new();
    let mut stdout = child.stdout.take().expect("the probe's stdout");
    stdout.read_to_string(&mut out).expect("read the report");
    let status = child.wait().expect("reap the probe");
    assert!(status.success(), "the probe failed: {status}");

    // The tracer is the thread that spawned the child (TracerPid is a
    // thread id).
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let r = AttrReport::parse(&out);
    assert_eq!(r.status("TracerPid"), tid.to_string());
}

#[test]
fn try_wait_and_wait_timeout_leave_a_ptrace_stop_to_the_tracer() {
    let Some(mut child) = spawn_stopped(Command::new("sleep").arg("60")) else {
        return;
    };
    let pid = child.id() as libc::pid_t;

    // Stopped, not exited: nothing to reap, and the stop stays reported.
    assert_eq!(child.try_wait().expect("try_wait"), None);
    assert_trapped(pid, "try_wait");
    let waited = child.wait_timeout(Duration::from_millis(20));
    assert_eq!(waited.expect("wait_timeout"), None);
    assert_trapped(pid, "wait_timeout");

    // Its real end is what the waits report.
    child.kill().expect("kill the tracee");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert_eq!(child.try_wait().expect("try_wait after wait"), Some(status));
}

/// A blocking wait (`wait`, or `wait_with_rusage`) in another thread, on a
/// tracee in a ptrace stop: it must sleep through the stop, which the
/// tracer still sees, and return the exit that follows the tracer's
/// `PTRACE_CONT`.
fn blocking_wait_sleeps_through_a_ptrace_stop(rusage: bool) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exit 3"]);
    let Some(mut child) = spawn_stopped(&mut cmd) else {
        return;
    };
    let pid = child.id() as libc::pid_t;
    // Where the wait sleeps: on the pidfd, or, for a child watched by pid
    // (no pidfd, or no waitid(P_PIDFD): the forced paths), on the
    // condition variable its watcher thread signals.
    #[cfg(target_arch = "x86_64")]
    let pidfd_calls = [libc::SYS_poll, libc::SYS_ppoll];
    #[cfg(not(target_arch = "x86_64"))]
    let pidfd_calls = [libc::SYS_ppoll];
    let fdinfo = format!("/proc/self/fdinfo/{}", child.pidfd().as_raw_fd());
    let is_pidfd = std::fs::read_to_string(fdinfo)
        .expect("the child's fdinfo")
        .lines()
        .any(|l| l.starts_with("Pid:"));
    let sleeps_in: &[libc::c_long] = if is_pidfd {
        &pidfd_calls
    } else {
        &[libc::SYS_futex]
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::gettid() }).unwrap();
        if rusage {
            let (status, usage) = child.wait_with_rusage().expect("wait_with_rusage");
            assert!(usage.is_some(), "reaped by this wait, with its usage");
            status
        } else {
            child.wait().expect("wait")
        }
    });
    let tid = rx.recv().unwrap();

    // Until the waiter sleeps (or has returned, taking the stop for an
    // exit). Not a time limit on the library: a guard against a test that
    // would otherwise hang.
    let guard = Instant::now();
    while !waiter.is_finished() && !blocked_in(tid, sleeps_in) {
        assert!(
            guard.elapsed() < Duration::from_secs(60),
            "the waiting thread neither sleeps nor returns"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!waiter.is_finished(), "the wait returned on a ptrace stop");
    assert_trapped(pid, "a blocking wait in another thread");

    ptrace(libc::PTRACE_CONT, pid, 0);
    let status = waiter.join().expect("the waiting thread");
    assert_eq!(status.code(), Some(3), "{status}");
}

#[test]
fn wait_in_another_thread_sleeps_through_a_ptrace_stop() {
    blocking_wait_sleeps_through_a_ptrace_stop(false);
}

#[test]
fn wait_with_rusage_in_another_thread_sleeps_through_a_ptrace_stop() {
    blocking_wait_sleeps_through_a_ptrace_stop(true);
}

#[test]
fn a_dropped_tracee_in_a_ptrace_stop_is_reaped_when_it_exits() {
    // Reaped on drop, the default.
    let Some(child) = spawn_stopped(Command::new("sleep").arg("60")) else {
        return;
    };
    let pid = child.id() as libc::pid_t;
    drop(child);
    // The drop took nothing: still our unreaped child, stopped, so its pid
    // cannot have been reused and `kill` reaches it.
    assert_trapped(pid, "the drop");
    // SAFETY: kill takes plain integers; `pid` is our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);

    // The reaper takes it once it has exited: no zombie is left. Generous,
    // for a loaded machine; a zombie would stay for good.
    let guard = Instant::now();
    loop {
        match look(pid) {
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
            Err(e) => panic!("waitid: {e}"),
            Ok(_) => {}
        }
        assert!(
            guard.elapsed() < Duration::from_secs(10),
            "the dropped tracee was not reaped: a zombie"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

//! `ptrace_traceme`: the child becomes a tracee of the spawning thread
//! before `execve`, stops with `SIGTRAP` after it, and runs on under this
//! tracer (its `TracerPid` is the spawning thread).
//!
//! A binary of its own with a single test: ptrace stops are reported to the
//! tracing thread through `wait`, and no other test may reap or wait for
//! children meanwhile.

mod support;

use std::io::{self, Read};

use spawnfd::{Child, Stdio};
use support::{AttrReport, attr_probe, status_field};

/// `waitid(P_PID, pid, WEXITED | WSTOPPED | WNOWAIT)`: the next stop or the
/// exit of `child`, without reaping it.
fn next_event(child: &Child) -> libc::siginfo_t {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WSTOPPED | libc::WNOWAIT;
    // SAFETY: `info` is writable; the child is ours.
    let r = unsafe { libc::waitid(libc::P_PID, child.id(), &mut info, flags) };
    assert_eq!(r, 0, "waitid: {}", io::Error::last_os_error());
    info
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
        let info = next_event(&child);
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

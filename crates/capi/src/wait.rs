//! Waiting for, signalling and letting go of a child by its pidfd (or
//! exit fd), through a `spawnfd::Child` adopted from a copy of the fd.
//!
//! The blocking waits, `spawnfd_wait` and `spawnfd_wait_timeout`, are
//! cancellation points as `waitpid` is. They are naked trampolines
//! (`trampoline.rs`) into the C shim (`cancel.c`, whose top comment says
//! why): no Rust frame is on the stack while `poll` waits, so glibc's
//! cancellation unwinds C frames only, and the child is reaped only after
//! `poll` has returned, by `nohang` here, with cancellation disabled.
//!
//! # Safety
//!
//! The `unsafe` writes results where the caller asked, takes no fd it
//! does not own (the caller's fd is copied first).

use std::ffi::c_int;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use spawnfd_core::{Child, ResourceUsage, Signal};

use crate::ffi::{dup_above_stdio, entry, errno_of};

/// The child behind a copy of the caller's fd. Give it back with
/// [`done`], which never reaps or kills: a `Child` dropped would.
///
/// `ESRCH` when the child is gone: a pidfd whose process has been reaped,
/// or an exit fd (a pipe) that the library no longer knows, its child
/// having been reaped through it already. `EBADF` for any other fd.
pub(crate) fn adopt(fd: c_int) -> Result<Child, c_int> {
    let copy = dup_above_stdio(fd).map_err(|e| errno_of(&e))?;
    let pipe = is_fifo(copy.as_fd());
    match Child::from_pidfd(copy) {
        Ok(child) => Ok(child),
        Err(e) if errno_of(&e) == libc::EBADF && pipe => Err(libc::ESRCH),
        Err(e) => Err(errno_of(&e)),
    }
}

/// Whether `fd` is a pipe (what an exit fd is).
pub(crate) fn is_fifo(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: stat is plain integers, for which all zeroes is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd and a writable stat.
    let r = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
}

/// Lets go of an adopted child: closes the copy, nothing else.
pub(crate) fn done(child: Child) {
    drop(child.into_pidfd());
}

/// The usage as a `struct rusage` (the fields Linux fills in).
pub(crate) fn rusage(usage: Option<ResourceUsage>) -> libc::rusage {
    // SAFETY: rusage is plain integers, for which all zeroes is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if let Some(u) = usage {
        let tv = |d: Duration| libc::timeval {
            tv_sec: d.as_secs() as libc::time_t,
            tv_usec: d.subsec_micros() as libc::suseconds_t,
        };
        ru.ru_utime = tv(u.user_time);
        ru.ru_stime = tv(u.system_time);
        ru.ru_maxrss = u.max_rss_kib as libc::c_long;
        ru.ru_minflt = u.minor_faults as libc::c_long;
        ru.ru_majflt = u.major_faults as libc::c_long;
        ru.ru_nvcsw = u.voluntary_context_switches as libc::c_long;
        ru.ru_nivcsw = u.involuntary_context_switches as libc::c_long;
        ru.ru_inblock = u.block_reads as libc::c_long;
        ru.ru_oublock = u.block_writes as libc::c_long;
    }
    ru
}

/// Whether the fd is readable now (the child has exited).
pub(crate) fn readable(fd: BorrowedFd<'_>) -> Result<bool, c_int> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd; a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(errno_of(&e));
        }
    }
}

/// What [`fast_reap`] found.
pub(crate) enum Fast {
    /// The child runs (or is in a ptrace stop, which is its tracer's).
    Running,
    /// Reaped here: `waitid`'s `si_code` (`CLD_EXITED`, `CLD_KILLED`,
    /// `CLD_DUMPED`) and `si_status`; `*ru` filled in.
    Reaped { code: c_int, status: c_int },
    /// Not a case for the fast path (an exit fd, a process that is not
    /// our child, a child someone else reaped, a kernel without
    /// `waitid(P_PIDFD)`): adopt the fd instead.
    Slow,
}

/// The raw `waitid(P_PIDFD, fd, flags, ru)` (glibc's wrapper takes no
/// rusage): `Some((si_code, si_status))`, or `None` when `WNOHANG`
/// found nothing to report.
fn waitid_pidfd(
    fd: c_int,
    flags: c_int,
    ru: *mut libc::rusage,
) -> Result<Option<(c_int, c_int)>, c_int> {
    const P_PIDFD: libc::idtype_t = 3;
    // SAFETY: siginfo_t is plain data, for which all zeroes is valid.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a writable siginfo; `ru` is NULL or writable (the callers'
    // contract); the fd is only named.
    let r = unsafe { libc::syscall(libc::SYS_waitid, P_PIDFD, fd, &raw mut si, flags, ru) };
    if r < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: waitid filled in a SIGCHLD siginfo, or left it zero.
    let (pid, status) = unsafe { (si.si_pid(), si.si_status()) };
    Ok((pid != 0).then_some((si.si_code, status)))
}

/// The common case of a wait, in two system calls: `fd` is a pidfd of a
/// child of this process that nobody else reaped. A look that takes
/// nothing (`WNOWAIT`, so that a ptrace stop stays its tracer's), then,
/// for an exit, the reap. Everything else is [`Fast::Slow`]: the caller
/// adopts the fd as a `Child` (a copy, `/proc` read for the pid), which
/// knows exit fds, kept statuses and strangers.
///
/// # Safety
///
/// `ru` is `NULL` or writable.
pub(crate) unsafe fn fast_reap(fd: c_int, ru: *mut libc::rusage) -> Fast {
    let is_exit = |code| matches!(code, libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED);
    let look = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    match waitid_pidfd(fd, look, std::ptr::null_mut()) {
        Ok(None) => Fast::Running,
        Ok(Some((code, _))) if !is_exit(code) => Fast::Running,
        Ok(Some(_)) => {
            // A zombie now: only its exit can be reported.
            match waitid_pidfd(fd, libc::WEXITED | libc::WNOHANG | libc::__WALL, ru) {
                Ok(Some((code, status))) if is_exit(code) => Fast::Reaped { code, status },
                // Taken by another reaper since the look.
                _ => Fast::Slow,
            }
        }
        Err(_) => Fast::Slow,
    }
}

/// The `wait(2)` status word of an exit `waitid` reported.
pub(crate) fn wait_status(code: c_int, status: c_int) -> c_int {
    match code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        _ => status & 0x7f,
    }
}

/// Reaps the child of `fd` if it has exited: 0 with `*wstatus` and `*ru`
/// filled in, `EAGAIN` while it runs, or an errno value. What the C
/// shim's waits call between polls (its address is passed to them).
///
/// # Safety
///
/// `wstatus` and `ru` are `NULL` or writable.
pub(crate) unsafe extern "C" fn nohang(
    fd: c_int,
    wstatus: *mut c_int,
    ru: *mut libc::rusage,
) -> c_int {
    entry(|| {
        // SAFETY: `ru` is NULL or writable, by the contract.
        match unsafe { fast_reap(fd, ru) } {
            Fast::Running => return libc::EAGAIN,
            Fast::Reaped { code, status } => {
                if !wstatus.is_null() {
                    // SAFETY: writable, by the contract.
                    unsafe { *wstatus = wait_status(code, status) };
                }
                return 0;
            }
            Fast::Slow => {}
        }
        let mut child = match adopt(fd) {
            Ok(child) => child,
            // Reaped already (this process's pid for it is gone).
            Err(libc::ESRCH) => return libc::ECHILD,
            Err(e) => return e,
        };
        let result = match readable(child.pidfd()) {
            Err(e) => Err(e),
            Ok(false) => Err(libc::EAGAIN),
            // Exited: reaped without blocking (waitid on a zombie).
            Ok(true) => child.wait_with_rusage().map_err(|e| errno_of(&e)),
        };
        if result.is_ok() {
            // Reaped: dropping it only closes the copy (and, on the
            // exit-fd path, lets the watcher's entry go).
            drop(child);
        } else {
            done(child);
        }
        match result {
            Err(e) => e,
            Ok((status, usage)) => {
                if !wstatus.is_null() {
                    // SAFETY: writable, by the contract.
                    unsafe { *wstatus = status.into_raw() };
                }
                if !ru.is_null() {
                    // SAFETY: writable, by the contract.
                    unsafe { *ru = rusage(usage) };
                }
                0
            }
        }
    })
}

/// Reaps the child of `pidfd` if it has exited, without blocking: as
/// `spawnfd_wait`, but `EAGAIN` while it runs. Meant for an event loop
/// that saw the pidfd readable.
///
/// Not a cancellation point. Thread-safe; not async-signal-safe.
///
/// # Safety
///
/// As `spawnfd_wait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_try_wait(
    pidfd: c_int,
    wstatus: *mut c_int,
    ru: *mut libc::rusage,
) -> c_int {
    // SAFETY: the caller's contract is nohang's.
    unsafe { nohang(pidfd, wstatus, ru) }
}

/// Sends signal `sig` (1 to 64) to the child of `pidfd`, through the
/// pidfd (`pidfd_send_signal`): never to a process that reused its pid.
///
/// Returns 0 or an errno value (`errno` left as it was):
/// - `ESRCH`: the child has been reaped (a zombie accepts signals; on the
///   exit-fd path the child is reaped as soon as it exits);
/// - `EINVAL`: `sig` is not 1 to 64;
/// - `EPERM`: not allowed to signal it;
/// - `EBADF`: not a pidfd or exit fd.
///
/// Thread-safe. Not a cancellation point. Not async-signal-safe.
#[unsafe(no_mangle)]
pub extern "C" fn spawnfd_kill(pidfd: c_int, sig: c_int) -> c_int {
    signal_with(pidfd, sig, Child::send_signal)
}

/// Sends `sig` to the process group the child leads (spawned with
/// `spawnfd_cmd_setsid` or `spawnfd_cmd_process_group(cmd, 0)`): through
/// the pidfd's group scope since Linux 6.9, else `kill(-pid)` only while
/// the child is known to be unreaped.
///
/// Returns 0 or an errno value: `ESRCH` (no such group, or the leader
/// reaped before 6.9), `EINVAL`, `EPERM`, `EBADF`, `ENOTSUP` (before 6.9,
/// for a process that is not this process's child).
///
/// Thread-safe. Not a cancellation point.
#[unsafe(no_mangle)]
pub extern "C" fn spawnfd_kill_group(pidfd: c_int, sig: c_int) -> c_int {
    signal_with(pidfd, sig, Child::send_signal_to_group)
}

/// Sends `sig` through `send` to the child behind an adopted copy of
/// `pidfd`: 0 or an errno value.
fn signal_with(pidfd: c_int, sig: c_int, send: fn(&Child, Signal) -> std::io::Result<()>) -> c_int {
    entry(|| {
        let Some(sig) = Signal::new(sig) else {
            return libc::EINVAL;
        };
        let child = match adopt(pidfd) {
            Ok(child) => child,
            Err(e) => return e,
        };
        let sent = send(&child, sig);
        done(child);
        sent.err().map_or(0, |e| errno_of(&e))
    })
}

/// Stores the pid of the process behind `pidfd` in `*pid`, as glibc's
/// `pidfd_getpid` (which needs glibc 2.39).
///
/// Returns 0 or an errno value: `ESRCH` (reaped), `EBADF` (not a pidfd or
/// exit fd), `EREMOTE` (in a PID namespace this process cannot see),
/// `EINVAL` (`pid` is `NULL`). Thread-safe.
///
/// # Safety
///
/// `pid` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_pidfd_getpid(pidfd: c_int, pid: *mut libc::pid_t) -> c_int {
    entry(|| {
        if pid.is_null() {
            return libc::EINVAL;
        }
        let child = match adopt(pidfd) {
            Ok(child) => child,
            Err(e) => return e,
        };
        let id = child.id();
        done(child);
        // SAFETY: writable, by the contract.
        unsafe { *pid = id as libc::pid_t };
        0
    })
}

/// Gives the child of `pidfd` to the library, which reaps it when it
/// exits (at once if it has; else a background thread, started on first
/// need, waits for it), so that a child nobody waits for leaves no
/// zombie. Takes `pidfd`: on success it is closed (the library keeps a
/// copy while it needs one); do not use or close it afterwards.
///
/// Returns 0, or an errno value, the fd then still the caller's:
/// `EBADF` (not a pidfd or exit fd), `EMFILE`. A child reaped already is
/// no error (0, the fd closed). A process that is not this process's
/// child is not reaped (the fd is just closed).
///
/// This is the Rust library's reap-on-drop for C, where the caller owns
/// the pidfd; its kill-on-drop is `spawnfd_kill(pidfd, SIGKILL)` first.
///
/// Thread-safe; safe to call from a cancellation cleanup handler. Not a
/// cancellation point.
#[unsafe(no_mangle)]
pub extern "C" fn spawnfd_detach(pidfd: c_int) -> c_int {
    entry(|| {
        match adopt(pidfd) {
            // Dropped: reaped now if it has exited, else by the reaper.
            Ok(child) => drop(child),
            Err(libc::ESRCH) => {}
            Err(e) => return e,
        }
        // SAFETY: the caller gives us the fd, which it stops using.
        drop(unsafe { OwnedFd::from_raw_fd(pidfd) });
        0
    })
}

//! Waiting for and signalling a child through its pidfd: no pid is ever
//! looked up, so a recycled pid can never be reached.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `P_PIDFD` for `waitid` (since Linux 5.4).
const P_PIDFD: libc::idtype_t = 3;

/// How a wait found the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reaped {
    /// Reaped by this call: the `rusage` given to [`wait`] was filled in.
    Here(ExitStatus),
    /// Reaped by someone else (a `waitpid(-1)` elsewhere, or the kernel
    /// under `SIGCHLD = SIG_IGN`); the status is the one our look saw just
    /// before, or the one the kernel kept for the pidfd, and the resource
    /// usage went with the zombie.
    Elsewhere(ExitStatus),
}

impl Reaped {
    pub(crate) fn status(self) -> ExitStatus {
        match self {
            Reaped::Here(status) | Reaped::Elsewhere(status) => status,
        }
    }
}

/// [`wait_child`] for a child of this process, with only the status:
/// for the spawn path, whose children are always its own.
pub(crate) fn wait(
    pidfd: BorrowedFd<'_>,
    block: bool,
    rusage: Option<&mut libc::rusage>,
) -> io::Result<Option<ExitStatus>> {
    Ok(wait_child(pidfd, block, rusage, true)?.map(Reaped::status))
}

/// `waitid(P_PIDFD, fd, WEXITED | __WALL)`: reaps the child once it has
/// exited, filling in `rusage` if given (the raw system call takes one;
/// libc's wrapper does not). With `block`, waits for the exit (retrying on
/// `EINTR`); without, returns `None` while the child has not exited.
/// `__WALL` makes it work for a child created without an exit signal too.
///
/// On `ECHILD` (someone else reaped the child) and with `kept`, returns the
/// status the kernel keeps for the pidfd ([`kept_status`], since Linux
/// 6.15). Pass `kept` only for a child of this process: the kernel keeps
/// the status of any process a pidfd names, and a stranger's is not ours
/// to report.
///
/// # Exits only: a ptrace stop is the tracer's
///
/// A child that this process traces (`PTRACE_TRACEME`, or attached later)
/// has its ptrace stops reported to every thread of this process whatever
/// the flags ask for (`wait_task_stopped`: "Traditionally we see ptrace'd
/// stopped tasks regardless of options"), so a bare `WEXITED` wait would
/// take a stop away from the tracer and return it as the child's end. So
/// nothing here takes an event it has not first seen to be an exit:
///
/// 1. The look has `WNOWAIT`, which leaves what it reports in place. A stop
///    it sees is left to the tracer (`None` without `block`). The first
///    look does not block either (`WNOHANG`): a stranger's pidfd fails at
///    once with `ECHILD`, and an exit already there is taken at once.
/// 2. Only an exit seen by the look is reaped, with `WNOHANG`: the child is
///    a zombie then, which can report nothing but that exit; if another
///    reaper takes it in between (`ECHILD`), the look's status is exact.
/// 3. With `block`, the wait sleeps in `poll` on the pidfd, which becomes
///    readable only once the process has exited, so a stop does not wake
///    it; the blocking look after it can only see the exit. (It still
///    blocks while the exit is not ours to see yet: a tracer in another
///    process sees the zombie first, and hands it on when it lets go.)
///    Where a kernel reports the pidfd readable at once (some RHEL 8
///    kernels, 4.18 with pidfds backported) that look may still see a
///    stop: it is left there and looked at again after a pause (100 µs,
///    doubling to 10 ms, as the watched path does), until the tracer takes
///    it or resumes the child.
pub(crate) fn wait_child(
    pidfd: BorrowedFd<'_>,
    block: bool,
    rusage: Option<&mut libc::rusage>,
    kept: bool,
) -> io::Result<Option<Reaped>> {
    let look = libc::WEXITED | libc::__WALL | libc::WNOWAIT;
    let mut flags = look | libc::WNOHANG;
    let mut pause = Duration::from_micros(100);
    let seen = loop {
        let err = match waitid(pidfd, flags, None) {
            Ok(Some(event)) if event.is_exit() => break event.exit_status(),
            // Running, or in a ptrace stop: not exited.
            Ok(_) if !block => return Ok(None),
            Ok(event) => {
                if event.is_some() && flags & libc::WNOHANG == 0 {
                    // A stop after a readable pidfd: a kernel whose pidfd
                    // poll does not wait (see above).
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                wait_readable(pidfd, None)?;
                flags = look;
                continue;
            }
            Err(err) => err,
        };
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) if kept => match kept_status(pidfd) {
                Some(status) => return Ok(Some(Reaped::Elsewhere(status))),
                None => return Err(err),
            },
            _ => return Err(err),
        }
    };
    let reap = libc::WEXITED | libc::__WALL | libc::WNOHANG;
    match waitid(pidfd, reap, rusage) {
        Ok(Some(event)) if event.is_exit() => Ok(Some(Reaped::Here(event.exit_status()))),
        // Taken by another reaper since the look (ECHILD); nothing else
        // can come from a zombie.
        Ok(_) => Ok(Some(Reaped::Elsewhere(seen))),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => Ok(Some(Reaped::Elsewhere(seen))),
        Err(e) => Err(e),
    }
}

/// The exit status of a child of this process that has exited or is about
/// to, left in place (`WNOWAIT`) for a later wait to reap. A ptrace stop
/// seen meanwhile stays the tracer's. `None` if it cannot be had (another
/// reaper took the child).
pub(crate) fn exit_status_of(pidfd: BorrowedFd<'_>) -> Option<ExitStatus> {
    let look = libc::WEXITED | libc::__WALL | libc::WNOWAIT;
    loop {
        match waitid(pidfd, look, None) {
            Ok(Some(event)) if event.is_exit() => return Some(event.exit_status()),
            // A stop: the exit makes the pidfd readable.
            Ok(_) => {
                wait_readable(pidfd, None).ok()?;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(_) => return kept_status(pidfd),
        }
    }
}

/// What `waitid` reported: the `si_code` (`CLD_EXITED`, `CLD_TRAPPED`, …)
/// and `si_status` of its siginfo.
pub(crate) struct Event {
    pub(crate) code: i32,
    pub(crate) status: i32,
}

impl Event {
    /// The `wait(2)` status word of this event.
    pub(crate) fn exit_status(&self) -> ExitStatus {
        wait_status(self.code, self.status)
    }

    /// Whether the process has ended (not a stop or a continue).
    pub(crate) fn is_exit(&self) -> bool {
        matches!(
            self.code,
            libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED
        )
    }
}

/// Whom a `waitid` (or a signal) is for: the process behind a pidfd, or a
/// pid, for children watched without `waitid(P_PIDFD)` (`sys::watch`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    Pidfd(BorrowedFd<'a>),
    /// Only for an unreaped child of this process, whose pid cannot have
    /// been reused.
    Pid(u32),
}

/// The raw `waitid(P_PIDFD, fd, flags, rusage)` system call (libc's wrapper
/// takes no `rusage`): `Ok(None)` when `WNOHANG` found nothing to report.
pub(crate) fn waitid(
    pidfd: BorrowedFd<'_>,
    flags: libc::c_int,
    rusage: Option<&mut libc::rusage>,
) -> io::Result<Option<Event>> {
    waitid_on(Target::Pidfd(pidfd), flags, rusage)
}

/// The raw `waitid(P_PIDFD or P_PID, id, flags, rusage)` system call.
pub(crate) fn waitid_on(
    target: Target<'_>,
    flags: libc::c_int,
    rusage: Option<&mut libc::rusage>,
) -> io::Result<Option<Event>> {
    let (idtype, id) = match target {
        Target::Pidfd(fd) => (P_PIDFD, fd.as_raw_fd() as libc::id_t),
        Target::Pid(pid) => (libc::P_PID, pid as libc::id_t),
    };
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let usage = rusage.map_or(std::ptr::null_mut(), |r| r as *mut libc::rusage);
    // SAFETY: `info` and `usage` (if not NULL) are writable; the id is an
    // fd we borrow or a pid.
    let r = unsafe { libc::syscall(libc::SYS_waitid, idtype, id, &raw mut info, flags, usage) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid filled in a SIGCHLD siginfo (or left it zero under
    // WNOHANG), so these union fields are the ones to read.
    let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
    Ok((pid != 0).then_some(Event {
        code: info.si_code,
        status,
    }))
}

/// Whether this kernel (or its sandbox) knows `waitid(P_PIDFD)` (Linux
/// 5.4): `Some(false)` if it refuses the id type with `EINVAL`, `None`
/// if the answer says nothing (another refusal of `waitid` itself).
///
/// Asked without a child and without an fd: the id is `INT_MAX`, which no
/// fd can be (`nr_open` is at most 2^30), so a kernel that has `P_PIDFD`
/// fails with `EBADF`, and one that does not, with `EINVAL` (an unknown
/// id type is refused before the id is looked at).
pub(crate) fn probe_waitid_pidfd() -> Option<bool> {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a writable siginfo, no rusage; the id names no fd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            P_PIDFD,
            libc::c_int::MAX,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG,
            std::ptr::null_mut::<libc::rusage>(),
        )
    };
    if r == 0 {
        return None;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EBADF) => Some(true),
        Some(libc::EINVAL) => Some(false),
        _ => None,
    }
}

/// `kill(pid, sig)`. The caller must know that `pid` still names its
/// process: an unreaped child of this process.
pub(crate) fn kill_pid(pid: u32, sig: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "process id out of range"))?;
    // SAFETY: kill takes plain integers; the pid is positive.
    if unsafe { libc::kill(pid, sig) } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends `sig` to `target` (`pidfd_send_signal`, or `kill` for a pid,
/// which the caller knows to be an unreaped child of this process).
pub(crate) fn signal_target(target: Target<'_>, sig: i32) -> io::Result<()> {
    match target {
        Target::Pidfd(fd) => send_signal(fd, sig),
        Target::Pid(pid) => kill_pid(pid, sig),
    }
}

/// Whether the process behind `pidfd` is a child of this process, running
/// or a zombie: `waitid(P_PIDFD, WEXITED | WNOHANG | WNOWAIT | __WALL)`
/// looks without reaping, and fails with `ECHILD` for any other process.
pub(crate) fn is_child(pidfd: BorrowedFd<'_>) -> io::Result<bool> {
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    match waitid(pidfd, flags, None) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Waits until the pidfd is readable (the process has exited) or `timeout`
/// passes (`None`: no limit); `Ok(false)` on time-out. `poll` retried on
/// `EINTR` with the time that is left.
pub(crate) fn wait_readable(pidfd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    super::os::poll_one(pidfd, libc::POLLIN, timeout)
}

/// The pid behind a pidfd, as glibc's `pidfd_getpid`: read from the `Pid:`
/// line of `/proc/self/fdinfo/FD`.
///
/// Errors: `EBADF` if `fd` is not a pidfd, `ESRCH` if the process has been
/// reaped, `EREMOTE` if it lives in a PID namespace this process cannot see
/// into.
pub(crate) fn getpid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
    let info = std::fs::read_to_string(path).map_err(|e| match e.raw_os_error() {
        // No such fd.
        Some(libc::ENOENT) => io::Error::from_raw_os_error(libc::EBADF),
        _ => e,
    })?;
    let field = info
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
    match field.trim().parse::<i64>() {
        Ok(-1) => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        Ok(0) => Err(io::Error::from_raw_os_error(libc::EREMOTE)),
        Ok(pid) => u32::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::EBADF)),
        Err(_) => Err(io::Error::from_raw_os_error(libc::EBADF)),
    }
}

/// The kernel's `struct pidfd_info`, first version (64 bytes).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

/// `PIDFD_GET_INFO`: `_IOWR(0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: libc::c_ulong = 0xC040_FF0B;
const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `PIDFD_INFO_PID`: the task is still attached to its pid (the ioctl
/// filled in its ids).
const PIDFD_INFO_PID: u64 = 1 << 0;

/// What `PIDFD_GET_INFO` says about how the process behind a pidfd ended.
#[derive(Debug, PartialEq, Eq)]
enum ExitInfo {
    /// The status the kernel recorded at the reap (since Linux 6.15).
    Exited(ExitStatus),
    /// The task still exists, and nothing is recorded yet: running, a
    /// zombie, or reaped a moment ago and not yet released.
    NotYet,
    /// No exit information, and the task is gone: the ioctl failed with
    /// `ESRCH`, or succeeded without the task's ids. On a kernel that
    /// records none (6.13, 6.14) that is final. On 6.15 and later it can
    /// be a call that straddled the release: the ioctl reads the exit
    /// information first and looks the task up after, so it may have read
    /// it just before `pidfs_exit` recorded it and found the task just as
    /// it was being detached (`ESRCH` from a pid number already cleared).
    /// Since the status is recorded before the task is detached, asking
    /// again settles it.
    Gone,
    /// Nothing will ever come: no `PIDFD_GET_INFO` (`ENOTTY` or `EINVAL`,
    /// before 6.13), or another refusal (`EREMOTE`, `EBADF`, ...).
    Never,
}

/// One `PIDFD_GET_INFO` asking for `PIDFD_INFO_EXIT`.
fn exit_info(pidfd: BorrowedFd<'_>) -> ExitInfo {
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: the ioctl writes at most the 64 bytes of `info`.
    let r = unsafe {
        libc::ioctl(
            pidfd.as_raw_fd(),
            PIDFD_GET_INFO,
            &mut info as *mut PidfdInfo,
        )
    };
    if r != 0 {
        return match io::Error::last_os_error().raw_os_error() {
            Some(libc::ESRCH) => ExitInfo::Gone,
            _ => ExitInfo::Never,
        };
    }
    if info.mask & PIDFD_INFO_EXIT != 0 {
        ExitInfo::Exited(ExitStatus::from_raw(info.exit_code))
    } else if info.mask & PIDFD_INFO_PID != 0 {
        ExitInfo::NotYet
    } else {
        ExitInfo::Gone
    }
}

/// The longest [`kept_status`] waits for the kernel to record a status.
const KEPT_STATUS_PATIENCE: Duration = Duration::from_secs(1);

/// How the process behind `pidfd`, which someone else reaped (our
/// `waitid` failed with `ECHILD`), ended, as the kernel keeps it for
/// pidfds (`PIDFD_INFO_EXIT`, since Linux 6.15). `None` on older kernels.
///
/// The other reaper's `wait_task_zombie` marks the zombie `EXIT_DEAD`
/// (from then on our `waitid` gets `ECHILD`) before its `release_task`
/// calls `pidfs_exit`, which records the status, and only then detaches
/// the task from its pid. In that window the ioctl still finds the task
/// but no exit information: ask again (`sched_yield`, then sleeps from
/// 50 µs doubling to 10 ms, a second at most; the other reaper may have
/// been preempted in the window) until the status appears or the task is
/// gone without one (then `None`, as before 6.15: `ESRCH` on 6.13 and
/// 6.14; `ENOTTY` or `EINVAL` before 6.13 end it at once).
pub(crate) fn kept_status(pidfd: BorrowedFd<'_>) -> Option<ExitStatus> {
    let start = Instant::now();
    let mut gone = 0;
    for round in 0u32.. {
        match exit_info(pidfd) {
            ExitInfo::Exited(status) => return Some(status),
            ExitInfo::Never => return None,
            // The task was detached, which happens after pidfs_exit ran:
            // one more look is conclusive.
            ExitInfo::Gone if gone > 0 => return None,
            ExitInfo::Gone => gone += 1,
            ExitInfo::NotYet => {}
        }
        if start.elapsed() >= KEPT_STATUS_PATIENCE {
            return None;
        }
        if round < 3 {
            std::thread::yield_now();
        } else {
            let shift = (round - 3).min(8);
            let pause = Duration::from_micros(50 << shift).min(Duration::from_millis(10));
            std::thread::sleep(pause);
        }
    }
    None
}

/// Rebuilds the `wait(2)` status word that std's `ExitStatus` wraps.
fn wait_status(code: i32, status: i32) -> ExitStatus {
    let raw = match code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_KILLED => status & 0x7f,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        libc::CLD_CONTINUED => 0xffff,
        // CLD_STOPPED, CLD_TRAPPED
        _ => ((status & 0xff) << 8) | 0x7f,
    };
    ExitStatus::from_raw(raw)
}

/// `pidfd_send_signal(fd, sig, NULL, 0)` (since Linux 5.1).
pub(crate) fn send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    send_signal_with(pidfd, sig, 0)
}

/// `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9): the signal goes to the process
/// group whose id is the pidfd's process id.
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 4;

/// Whether this kernel refused `PIDFD_SIGNAL_PROCESS_GROUP` as an unknown
/// flag. Set only after a probe with no flags was accepted where the flag
/// was not (see [`send_group_signal`]): never from a transient error.
static GROUP_FLAG_REFUSED: AtomicBool = AtomicBool::new(false);

/// How [`send_group_signal`] went.
#[derive(Debug)]
pub(crate) enum GroupSignal {
    /// The kernel sent the signal to the group (or refused it, as it
    /// refuses any signal: `ESRCH`, `EPERM`, ...).
    Sent(io::Result<()>),
    /// The kernel does not know `PIDFD_SIGNAL_PROCESS_GROUP` (before 6.9):
    /// nothing was sent.
    Unsupported,
}

/// `pidfd_send_signal(fd, sig, NULL, PIDFD_SIGNAL_PROCESS_GROUP)`: `sig`
/// to every process of the group whose id is the pidfd's process's pid
/// (`ESRCH` if that group has no process). The kernel resolves the group
/// from the pidfd's `struct pid`, never from a number, so a group made
/// later under a reused id is never reached.
///
/// A kernel without the flag refuses it with `EINVAL`, which the call also
/// gives for a pidfd of a PID namespace it cannot see. To tell them apart,
/// the same pidfd is probed with no flag and signal 0: if that is not
/// `EINVAL`, the flag was the problem, and that is remembered.
pub(crate) fn send_group_signal(pidfd: BorrowedFd<'_>, sig: i32) -> GroupSignal {
    if GROUP_FLAG_REFUSED.load(Ordering::Relaxed) {
        return GroupSignal::Unsupported;
    }
    match send_signal_with(pidfd, sig, PIDFD_SIGNAL_PROCESS_GROUP) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => match send_signal_with(pidfd, 0, 0) {
            Err(probe) if probe.raw_os_error() == Some(libc::EINVAL) => GroupSignal::Sent(Err(e)),
            _ => {
                GROUP_FLAG_REFUSED.store(true, Ordering::Relaxed);
                GroupSignal::Unsupported
            }
        },
        result => GroupSignal::Sent(result),
    }
}

/// Whether a call of [`send_group_signal`] found the kernel refusing
/// `PIDFD_SIGNAL_PROCESS_GROUP` (before Linux 6.9).
pub(crate) fn group_signal_refused() -> bool {
    GROUP_FLAG_REFUSED.load(Ordering::Relaxed)
}

/// `kill(-pgid, sig)`. The caller must know that no other group can have
/// taken the id `pgid` (its leader is an unreaped child of this process).
pub(crate) fn kill_group(pgid: u32, sig: i32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "process group id out of range")
    })?;
    // SAFETY: kill takes plain integers; a negative pid names a group.
    if unsafe { libc::kill(-pgid, sig) } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `pidfd_send_signal(fd, sig, NULL, flags)` (since Linux 5.1).
fn send_signal_with(pidfd: BorrowedFd<'_>, sig: i32, flags: u32) -> io::Result<()> {
    // SAFETY: integer arguments and a NULL siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_beyond_the_clock_waits_without_limit() {
        let mut child = crate::Command::new("true").spawn().unwrap();
        assert!(wait_readable(child.pidfd(), Some(Duration::MAX)).unwrap());
        assert!(
            child
                .wait_timeout(Duration::MAX)
                .unwrap()
                .unwrap()
                .success()
        );
    }

    #[test]
    fn this_kernel_knows_waitid_p_pidfd() {
        // Linux 5.4 and later, outside a sandbox that refuses it (a path
        // forced by spawnfd-paths may emulate one).
        if std::env::var_os("SPAWNFD_FORCED_PATH").is_none() {
            assert_eq!(probe_waitid_pidfd(), Some(true));
        }
    }

    #[test]
    fn status_words_round_trip() {
        assert_eq!(wait_status(libc::CLD_EXITED, 3).code(), Some(3));
        assert_eq!(wait_status(libc::CLD_KILLED, 9).signal(), Some(9));
        let dumped = wait_status(libc::CLD_DUMPED, 6);
        assert_eq!(dumped.signal(), Some(6));
        assert!(dumped.core_dumped());
        assert!(wait_status(libc::CLD_CONTINUED, 0).continued());
        assert_eq!(
            wait_status(libc::CLD_STOPPED, 19).stopped_signal(),
            Some(19)
        );
    }
}

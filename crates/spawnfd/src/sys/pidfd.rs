//! Waiting for and signalling a child through its pidfd: no pid is ever
//! looked up, so a recycled pid can never be reached.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// `P_PIDFD` for `waitid` (since Linux 5.4).
pub(crate) const P_PIDFD: libc::idtype_t = 3;

/// `waitid(P_PIDFD, fd, WEXITED | __WALL)`: reaps the child, filling in
/// `rusage` if given (the raw system call takes one; libc's wrapper does
/// not). With `block`, waits (retrying on `EINTR`); without, returns `None`
/// while the child runs. `__WALL` makes it work for a child created without
/// an exit signal too.
pub(crate) fn wait(
    pidfd: BorrowedFd<'_>,
    block: bool,
    mut rusage: Option<&mut libc::rusage>,
) -> io::Result<Option<ExitStatus>> {
    let flags = libc::WEXITED | libc::__WALL | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let usage = match rusage.as_deref_mut() {
            Some(r) => r as *mut libc::rusage,
            None => std::ptr::null_mut(),
        };
        // SAFETY: `info` and `usage` (if not NULL) are writable; the id is an
        // fd we borrow.
        let r = unsafe {
            libc::syscall(
                libc::SYS_waitid,
                P_PIDFD,
                pidfd.as_raw_fd(),
                &mut info as *mut libc::siginfo_t,
                flags,
                usage,
            )
        };
        if r == -1 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Reaped by someone else (a `waitpid(-1)` elsewhere, or the
                // kernel itself under `SIGCHLD = SIG_IGN`): the pidfd still
                // knows how it ended (Linux 6.15).
                Some(libc::ECHILD) => match exit_info(pidfd) {
                    Some(status) => return Ok(Some(status)),
                    None => return Err(err),
                },
                _ => return Err(err),
            }
        }
        // SAFETY: waitid filled in a SIGCHLD siginfo (or left it zero under
        // WNOHANG), so these union fields are the ones to read.
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        return Ok(Some(wait_status(info.si_code, status)));
    }
}

/// Waits until the pidfd is readable (the process has exited) or `timeout`
/// passes (`None`: no limit); `Ok(false)` on time-out. `poll` retried on
/// `EINTR` with the time that is left.
pub(crate) fn wait_readable(pidfd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    // A deadline beyond what the clock can hold is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up, so a short wait does not become a busy loop.
                let ms = left.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            0 if ms == 0 => return Ok(false),
            0 => {}
            _ => return Ok(true),
        }
    }
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

/// How the process behind `pidfd` ended, once it has been reaped by
/// anyone, as the kernel keeps it for pidfds (`PIDFD_INFO_EXIT`, since
/// Linux 6.15). `None` while it runs, or on older kernels.
pub(crate) fn exit_info(pidfd: BorrowedFd<'_>) -> Option<ExitStatus> {
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
    (r == 0 && info.mask & PIDFD_INFO_EXIT != 0).then(|| ExitStatus::from_raw(info.exit_code))
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
    // SAFETY: integer arguments and a NULL siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
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

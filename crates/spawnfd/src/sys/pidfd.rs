//! Waiting for and signalling a child through its pidfd: no pid is ever
//! looked up, so a recycled pid can never be reached.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// `P_PIDFD` for `waitid` (since Linux 5.4).
const P_PIDFD: libc::idtype_t = 3;

/// `waitid(P_PIDFD, fd, WEXITED)`: reaps the child. With `block`, waits
/// (retrying on `EINTR`); without, returns `None` while the child runs.
pub(crate) fn wait(pidfd: BorrowedFd<'_>, block: bool) -> io::Result<Option<ExitStatus>> {
    let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is writable; the id is an fd we borrow.
        let r = unsafe { libc::waitid(P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, flags) };
        if r == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
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

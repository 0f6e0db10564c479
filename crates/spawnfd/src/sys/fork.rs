//! Creating a child with the C library's `fork()` and holding its pidfd
//! before the child can do anything: the fork path's mechanism.
//!
//! `fork()` rather than a raw `clone`: the C library runs the
//! `pthread_atfork` handlers and puts its own state right in the child
//! (its allocator's locks, its stdio list, the thread's cached tid), so the
//! child is a process the C library knows about. A raw clone without
//! `CLONE_VM` would skip all of that.
//!
//! `fork()` gives a pid, not a pidfd, and a pid taken to `pidfd_open` after
//! the child has been reaped may name somebody else. So the child does
//! nothing until the parent holds the pidfd: it first blocks reading one
//! byte from a socket pair (the *go* channel), and it cannot exit in the
//! meantime (every signal is blocked; only `SIGKILL` could end it, see
//! [`fork`]). The parent opens the pidfd (`pidfd_open`, Linux 5.3), checks
//! that it names a child of ours, and only then sends the byte. The child
//! closes its copy of the parent's end before it reads, so that a parent
//! that dies (or gives up) meanwhile gives it end of file, and it exits
//! with status 127 without running anything. The byte is sent with
//! `MSG_NOSIGNAL`: a child that is gone raises no `SIGPIPE` in the parent.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use super::clone::BlockAllSignals;
use super::os;
use super::raw::{Errno, syscall};

/// `pidfd_open` here: 0 not asked yet, 1 known, 2 missing or refused.
static PIDFD_OPEN: AtomicU8 = AtomicU8::new(0);

/// Whether `pidfd_open` is missing here (before Linux 5.3) or refused by
/// a sandbox: then a forked child is watched by pid (`sys::watch`). Asked
/// once with `pidfd_open(0, 0)`, which creates nothing: `EINVAL` where the
/// call exists (pid 0 is refused), `ENOSYS` or `EPERM` where it does not
/// or a filter refuses it. Any other answer is not cached.
pub(crate) fn pidfd_open_missing() -> bool {
    match PIDFD_OPEN.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // SAFETY: integer arguments; pid 0 never yields an fd.
            let r = unsafe { syscall!(libc::SYS_pidfd_open, 0usize, 0usize) };
            match r {
                Err(Errno(libc::ENOSYS | libc::EPERM)) => {
                    PIDFD_OPEN.store(2, Ordering::Relaxed);
                    true
                }
                Err(Errno(libc::EINVAL)) => {
                    PIDFD_OPEN.store(1, Ordering::Relaxed);
                    false
                }
                Ok(fd) => {
                    // Not a kernel we know: give it back, decide nothing.
                    // SAFETY: an fd the call just made.
                    drop(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
                    false
                }
                Err(_) => false,
            }
        }
    }
}

/// Which side of a [`fork`] this is.
pub(crate) enum Forked {
    /// The new process, once the parent holds its pidfd.
    Child,
    /// The parent, with the child's pid and, unless none was asked for or
    /// the kernel has none, its pidfd.
    Parent { pid: u32, pidfd: Option<OwnedFd> },
}

/// `fork()`, returning in the child only once the parent holds the
/// child's pidfd (with `want_pidfd`; without, at once after the fork).
///
/// In the child, `close_in_child` are closed first (the parent's ends of
/// the caller's channels), then it waits for the go byte; if the parent
/// sends none (it died, or could not open the pidfd) the child exits with
/// status 127.
///
/// Before the pidfd exists only `SIGKILL` can end the child (the caller
/// blocks every signal, and the child inherits that mask), and it would
/// have to be reaped by another reaper and its pid reused by another child
/// of this process, all in those microseconds, for the pidfd to name
/// anything else: a pidfd that names no child of ours is refused
/// (`ESRCH`, where `waitid(P_PIDFD)` can tell; the child was reaped
/// elsewhere and is gone).
///
/// # Safety
/// As `fork()` in a multi-threaded process: until the child execs or
/// exits, it may run only what is safe after `fork` (async-signal-safe
/// code; the in_child steps are). The caller holds `_blocked`.
pub(crate) unsafe fn fork(
    want_pidfd: bool,
    close_in_child: &[RawFd],
    _blocked: &BlockAllSignals,
) -> io::Result<Forked> {
    let (go_parent, go_child) = os::socketpair()?;
    // SAFETY: the caller's contract.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // The child: raw system calls only, and no drop of the fds (their
        // numbers are closed here by hand).
        let (parent_end, child_end) = (go_parent.as_raw_fd(), go_child.as_raw_fd());
        std::mem::forget(go_parent);
        std::mem::forget(go_child);
        close_raw(parent_end);
        for &fd in close_in_child {
            close_raw(fd);
        }
        let mut byte = 0u8;
        loop {
            // SAFETY: a one-byte read into a live byte.
            match unsafe { syscall!(libc::SYS_read, child_end, &raw mut byte, 1usize) } {
                Ok(1) => break,
                Err(Errno(libc::EINTR)) => {}
                // End of file: the parent died or gave up.
                _ => loop {
                    // SAFETY: exit_group takes an integer and does not
                    // return.
                    let _ = unsafe { syscall!(libc::SYS_exit_group, 127usize) };
                },
            }
        }
        close_raw(child_end);
        return Ok(Forked::Child);
    }
    drop(go_child);
    let pid = pid as u32;
    let pidfd = if want_pidfd {
        match open_child_pidfd(pid) {
            Ok(fd) => Some(fd),
            Err(e) => {
                // No go byte: the child exits; it is unreaped, so its pid
                // is still its own.
                drop(go_parent);
                if e.raw_os_error() != Some(libc::ESRCH) {
                    reap_pid(pid);
                }
                return Err(e);
            }
        }
    } else {
        None
    };
    loop {
        // SAFETY: a one-byte send from a live byte; MSG_NOSIGNAL keeps a
        // child that is gone (EPIPE) from raising SIGPIPE here.
        let r = unsafe {
            libc::send(
                go_parent.as_raw_fd(),
                [1u8].as_ptr().cast(),
                1,
                libc::MSG_NOSIGNAL,
            )
        };
        // A child that is gone (killed) is found by the caller's reading
        // of its report and reaping.
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    Ok(Forked::Parent { pid, pidfd })
}

/// `pidfd_open(pid)` for a child that cannot have exited, checked to be a
/// child of ours.
fn open_child_pidfd(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd (close-on-exec: pidfd_open sets it) owned by nobody
    // else.
    let fd = os::above_stdio(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
    if !super::watch::waitid_pidfd_missing() {
        use std::os::fd::AsFd;
        if let Ok(false) = super::pidfd::is_child(fd.as_fd()) {
            // Not our child: ours was killed and reaped by someone else.
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(fd)
}

/// Waits for (and reaps) an unreaped child by pid.
pub(crate) fn reap_pid(pid: u32) {
    use super::pidfd::{Target, waitid_on};
    while let Err(e) = waitid_on(Target::Pid(pid), libc::WEXITED | libc::__WALL, None) {
        if e.raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
}

fn close_raw(fd: RawFd) {
    // SAFETY: close with an integer argument; EBADF is fine.
    let _ = unsafe { syscall!(libc::SYS_close, fd) };
}

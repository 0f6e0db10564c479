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
//!
//! # The report pipe is made by the child
//!
//! A fork copies every fd of the parent, also those of another thread's
//! spawn that happen to be open at that moment; a copy of a spawn's report
//! pipe's write end in a child that lives on (a `fork_with_pidfd` child, a
//! `spawn_fn` child, another library's `fork`) would keep that spawn
//! waiting for end of file until the copy closed. So the write end never
//! exists in the parent: the child makes the pipe after the hand-shake
//! ([`child_report_pipe`]) and hands the read end over the go channel
//! (`SCM_RIGHTS`, [`receive_report_pipe`]). A list of the fds in flight,
//! closed by each child, cannot replace this: `fork` copies the fd table
//! and the memory at different moments, so a child can hold an fd that
//! its copy of the list does not show yet (measured).

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
    /// The new process, once the parent holds its pidfd, with its end of
    /// the go channel (for [`child_report_pipe`]; it closes it).
    Child { channel: RawFd },
    /// The parent, with the child's pid and, unless none was asked for or
    /// the kernel has none, its pidfd, and its end of the go channel.
    Parent {
        pid: u32,
        pidfd: Option<OwnedFd>,
        channel: OwnedFd,
    },
}

/// `fork()`, returning in the child only once the parent holds the
/// child's pidfd (with `want_pidfd`; without, at once after the fork).
///
/// In the child, the parent's end of the go channel is closed first, then
/// it waits for the go byte; if the parent
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
pub(crate) unsafe fn fork(want_pidfd: bool, _blocked: &BlockAllSignals) -> io::Result<Forked> {
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
        return Ok(Forked::Child { channel: child_end });
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
    Ok(Forked::Parent {
        pid,
        pidfd,
        channel: go_parent,
    })
}

/// In the child, after the hand-shake: makes the report pipe (both ends
/// close-on-exec, the write end numbered `min` or above, clear of every
/// child fd), sends the read end to the parent over `channel` with a
/// 4-byte 0, and closes `channel` and the read end; returns the write end.
/// A failure is sent as its errno, without an fd. Raw system calls only.
pub(crate) fn child_report_pipe(channel: RawFd, min: RawFd) -> Result<RawFd, Errno> {
    let made = make_pipe_above(min);
    let (errno, read) = match made {
        Ok((read, _)) => (0, Some(read)),
        Err(Errno(e)) => (e, None),
    };
    let sent = send_with_fd(channel, errno, read);
    if let Some(read) = read {
        close_raw(read);
    }
    close_raw(channel);
    match (made, sent) {
        (Ok((_, write)), Ok(())) => Ok(write),
        (Ok((_, write)), Err(e)) => {
            close_raw(write);
            Err(e)
        }
        (Err(e), _) => Err(e),
    }
}

/// The highest fd number below both 1024 (a larger number would grow the
/// fd table) and the soft `RLIMIT_NOFILE`; 0 if the limit cannot be read.
fn high_fd() -> RawFd {
    let mut limit = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is writable and outlives the call; nothing is set.
    let r = unsafe {
        syscall!(
            libc::SYS_prlimit64,
            0usize,
            libc::RLIMIT_NOFILE,
            0usize,
            &raw mut limit
        )
    };
    match r {
        Ok(_) => limit.rlim_cur.min(1024).saturating_sub(1) as RawFd,
        Err(_) => 0,
    }
}

/// `pipe2(O_CLOEXEC)`, the write end moved to `min` or above: high in the
/// fd table where it can be (just below 1024 and `RLIMIT_NOFILE`), out of
/// the way of the low numbers that hooks and `posix_spawn` file actions
/// `dup2`, open and close (musl moves its pipe for the same reason).
fn make_pipe_above(min: RawFd) -> Result<(RawFd, RawFd), Errno> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: `fds` has room for two fds.
    unsafe { syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC) }?;
    let [read, write] = fds;
    let high = high_fd();
    if high > min && write < high {
        // SAFETY: fcntl with integer arguments.
        if let Ok(moved) = unsafe { syscall!(libc::SYS_fcntl, write, libc::F_DUPFD_CLOEXEC, high) }
        {
            close_raw(write);
            return Ok((read, moved as RawFd));
        }
    }
    if write >= min {
        return Ok((read, write));
    }
    // SAFETY: fcntl with integer arguments.
    match unsafe { syscall!(libc::SYS_fcntl, write, libc::F_DUPFD_CLOEXEC, min) } {
        Ok(moved) => {
            close_raw(write);
            Ok((read, moved as RawFd))
        }
        Err(e) => {
            close_raw(read);
            close_raw(write);
            Err(e)
        }
    }
}

/// The control message buffer for one fd, aligned as `cmsghdr` wants.
#[repr(C, align(8))]
struct FdMessage([u8; 24]);

/// `sendmsg(channel, [errno], SCM_RIGHTS fd)`, raw; `MSG_NOSIGNAL`.
fn send_with_fd(channel: RawFd, errno: i32, fd: Option<RawFd>) -> Result<(), Errno> {
    let mut payload = errno.to_ne_bytes();
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    let mut control = FdMessage([0; 24]);
    // SAFETY: an all-zero msghdr is valid (no name, no control yet).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE/CMSG_LEN of one int fit the 24-byte buffer
        // (16-byte header plus 4, aligned to 8); the header is written in
        // place, then the fd after it.
        unsafe {
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
            let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(4) as usize;
            libc::CMSG_DATA(cmsg).cast::<RawFd>().write_unaligned(fd);
        }
    }
    loop {
        // SAFETY: `msg` and what it points to outlive the call.
        match unsafe {
            syscall!(
                libc::SYS_sendmsg,
                channel,
                &raw const msg,
                libc::MSG_NOSIGNAL
            )
        } {
            Err(Errno(libc::EINTR)) => {}
            r => return r.map(drop),
        }
    }
}

/// In the parent: the child's report pipe, from [`child_report_pipe`].
/// `Ok(None)` when the child died before sending it (end of file); an
/// `Err` with the errno the child could not make the pipe with.
pub(crate) fn receive_report_pipe(channel: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut payload = [0u8; 4];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    let mut control = FdMessage([0; 24]);
    // SAFETY: an all-zero msghdr is valid before it is filled in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len();
    let n = loop {
        // SAFETY: `msg` and its buffers outlive the call; the fd arrives
        // close-on-exec (MSG_CMSG_CLOEXEC).
        let n = unsafe { libc::recvmsg(channel.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled in the control buffer `msg` points to; the
    // first header, if any, is inside it.
    let received = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        (!cmsg.is_null()
            && (*cmsg).cmsg_level == libc::SOL_SOCKET
            && (*cmsg).cmsg_type == libc::SCM_RIGHTS)
            .then(|| libc::CMSG_DATA(cmsg).cast::<RawFd>().read_unaligned())
    };
    // SAFETY: an fd the kernel just installed for us, owned by nobody else.
    let received = received.map(|fd| os::above_stdio(unsafe { OwnedFd::from_raw_fd(fd) }));
    if n == 0 {
        return Ok(None);
    }
    let errno = i32::from_ne_bytes(payload);
    match received {
        Some(fd) if errno == 0 => Ok(Some(fd)),
        _ => Err(io::Error::from_raw_os_error(if errno == 0 {
            libc::EIO
        } else {
            errno
        })),
    }
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

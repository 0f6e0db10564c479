//! The system calls of the capability report (`crate::capabilities`):
//! each asks the kernel whether it takes a call, in a way that creates no
//! process that outlives the probe, leaves no fd open and changes no
//! process-wide state.
//!
//! Process creation is probed with the pidfd to be written at an address
//! no process can write (a kernel address): a kernel that takes the
//! request fails it with `EFAULT` when it stores the pidfd, which
//! `copy_process` does before the new task is visible or has run, and
//! undoes everything. A kernel (or seccomp filter) that refuses the
//! request answers before that: `ENOSYS`, `EPERM`, `EINVAL` (an unknown
//! flag), `E2BIG` (a `struct clone_args` larger than it knows). The probes
//! share no memory with the child (no `CLONE_VM`), so that a kernel that
//! ignored the pidfd and created a child anyway (a legacy `clone` before
//! Linux 5.2 ignores the `CLONE_PIDFD` bit) creates a copy of this process
//! that only calls `_exit`, and is reaped at once; it has no exit signal,
//! so nothing is sent to this process and a `waitpid(-1)` elsewhere
//! (without `__WALL`) cannot take it.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// An address in kernel space: `put_user` to it fails with `EFAULT`.
const UNWRITABLE: u64 = 0xffff_ffff_ffff_f000;

/// The kernel's `struct clone_args` up to its third version (88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What a creation probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Created {
    /// The call failed with this errno (`EFAULT`: the kernel took the
    /// request and failed only at writing the pidfd).
    Errno(i32),
    /// A child was created (and has been reaped), with no pidfd written:
    /// the kernel ignored `CLONE_PIDFD`.
    WithoutPidfd,
}

/// The errno of the last failed call.
fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Reaps the child `pid` of a probe (created without an exit signal).
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child, with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r >= 0 || last_errno() != libc::EINTR {
            return;
        }
    }
}

/// `clone3` of `size` bytes with `flags` and the pidfd to be written at
/// an unwritable address (`cgroup` in the struct's last field).
pub(crate) fn clone3(flags: u64, size: usize, cgroup: u64) -> Created {
    let args = CloneArgs {
        flags,
        pidfd: UNWRITABLE,
        cgroup,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid struct of at least `size` bytes (the
    // callers pass 64 or 88) that outlives the call. No CLONE_VM: should a
    // child be created after all, it runs in a copy of this process and
    // only calls _exit, which is async-signal-safe.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &raw const args, size.min(88)) };
    ended(ret)
}

/// The legacy `clone(flags)`, with `CLONE_PIDFD`'s pidfd (the parent-tid
/// argument) at an unwritable address, and no exit signal.
pub(crate) fn clone(flags: u64) -> Created {
    // SAFETY: clone with no new stack and no CLONE_VM: a child (if any)
    // returns here in a copy of this process, and only calls _exit. The
    // parent-tid argument is the third on every architecture.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0usize,
            UNWRITABLE,
            0usize,
            0usize,
        )
    };
    ended(ret)
}

/// The outcome of a creation call that returned `ret`.
fn ended(ret: libc::c_long) -> Created {
    if ret == 0 {
        // The child of a call that should have failed.
        // SAFETY: _exit ends this copy of the process at once.
        unsafe { libc::_exit(0) };
    }
    if ret < 0 {
        return Created::Errno(last_errno());
    }
    reap(ret as libc::pid_t);
    Created::WithoutPidfd
}

/// A process made to end at once, with a pidfd: `clone3` (or with
/// `legacy`, `clone`) with `CLONE_PIDFD` and no exit signal; the child
/// exits with status 0 before we return. The caller reaps it (through the
/// pidfd) and so the pidfd is the only trace. `Err(errno)` if refused.
pub(crate) fn exited_child(legacy: bool) -> Result<(OwnedFd, libc::pid_t), Created> {
    let mut pidfd: libc::c_int = -1;
    let ret = if legacy {
        // SAFETY: as in `clone`, with a writable pidfd slot that outlives
        // the call.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                libc::CLONE_PIDFD as libc::c_ulong,
                0usize,
                &raw mut pidfd,
                0usize,
                0usize,
            )
        }
    } else {
        let args = CloneArgs {
            flags: libc::CLONE_PIDFD as u64,
            pidfd: (&raw mut pidfd) as u64,
            ..CloneArgs::default()
        };
        // SAFETY: as in `clone3`; the pidfd slot outlives the call.
        unsafe { libc::syscall(libc::SYS_clone3, &raw const args, 64usize) }
    };
    if ret == 0 {
        // SAFETY: the child ends here (a copy of this process).
        unsafe { libc::_exit(0) };
    }
    if ret < 0 {
        return Err(Created::Errno(last_errno()));
    }
    if pidfd < 0 {
        // The kernel ignored CLONE_PIDFD.
        reap(ret as libc::pid_t);
        return Err(Created::WithoutPidfd);
    }
    // SAFETY: the kernel stored a new pidfd (close-on-exec) that nobody
    // else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((super::os::above_stdio(pidfd), ret as libc::pid_t))
}

/// Reaps a probe's child: through its pidfd if `waitid(P_PIDFD)` works,
/// else by pid.
pub(crate) fn reap_child(pidfd: BorrowedFd<'_>, pid: libc::pid_t) {
    if super::pidfd::wait(pidfd, true, None).is_err() {
        reap(pid);
    }
}

/// `pidfd_open(getpid(), 0)`: a pidfd of this process (close-on-exec,
/// above fd 2 where it can be), or the errno.
pub(crate) fn pidfd_open_self() -> Result<OwnedFd, i32> {
    // SAFETY: getpid has no preconditions; pidfd_open takes integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: a new fd (pidfds are always close-on-exec) owned by nobody
    // else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    Ok(super::os::above_stdio(fd))
}

/// `waitid(P_PIDFD, id, WEXITED | WNOHANG | __WALL)` without `rusage`:
/// on a pidfd of this process (never its own child) the answer is
/// `ECHILD`, on a number that is no fd `EBADF`, where the kernel knows
/// `P_PIDFD`; `EINVAL` where it does not. `None` if it succeeded.
pub(crate) fn waitid_pidfd(id: libc::c_int) -> Option<i32> {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is writable; a NULL rusage is allowed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            3, // P_PIDFD
            id,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG | libc::__WALL,
            std::ptr::null_mut::<libc::rusage>(),
        )
    };
    (r < 0).then(last_errno)
}

/// `pidfd_send_signal(-1, 0, NULL, flags)`: `EBADF` where the kernel has
/// the call and knows `flags` (it checks the flags before the fd);
/// nothing is sent.
pub(crate) fn pidfd_send_signal_flags(flags: u32) -> Option<i32> {
    // SAFETY: integer arguments and a NULL siginfo; fd -1 names nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            -1,
            0,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    (r < 0).then(last_errno)
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
/// Since Linux 6.15.
pub(crate) const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// `PIDFD_GET_INFO` asking for `PIDFD_INFO_EXIT`: the mask the kernel
/// returned, or the errno.
pub(crate) fn pidfd_info_exit(pidfd: BorrowedFd<'_>) -> Result<u64, i32> {
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
        return Err(last_errno());
    }
    Ok(info.mask)
}

/// `close_range(~0, ~0, flags)`: a range that can hold no fd (no fd
/// table is that large), so nothing is closed or marked; the errno of a
/// refusal.
pub(crate) fn close_range(flags: u32) -> Option<i32> {
    // SAFETY: integer arguments; the range holds no fd.
    let r = unsafe { libc::syscall(libc::SYS_close_range, u32::MAX, u32::MAX, flags) };
    (r < 0).then(last_errno)
}

/// `uname`: (release, machine).
pub(crate) fn uname() -> (String, String) {
    // SAFETY: an all-zero utsname is a valid value to be overwritten.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into `u`.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::from("unknown"), String::from("unknown"));
    }
    let field = |chars: &[libc::c_char]| {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&u.release), field(&u.machine))
}

/// This process's real user id.
pub(crate) fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

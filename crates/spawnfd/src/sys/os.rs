//! The parent's other system calls: pipes, the process's signal
//! dispositions, and reading two pipes at once.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Sets the soft `RLIMIT_NOFILE` to the hard one; returns it.
pub(crate) fn raise_fd_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 on ourselves, reading into and then writing from
    // `limit`.
    unsafe {
        if libc::prlimit64(0, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::prlimit64(0, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// An all-zero `rusage`, to be filled in by `waitid`.
pub(crate) fn zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is plain integers, for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Whether the real user id is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// Whether the process has supplementary groups (`getgroups`).
pub(crate) fn has_supplementary_groups() -> bool {
    // SAFETY: with size 0, getgroups only counts and writes nothing.
    unsafe { libc::getgroups(0, std::ptr::null_mut()) != 0 }
}

/// Whether `fd` is a directory of a cgroup v2 file system (`fstatfs`).
pub(crate) fn is_cgroup2_dir(fd: BorrowedFd<'_>) -> bool {
    const CGROUP2_SUPER_MAGIC: libc::c_long = 0x6367_7270;
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes into `fs`.
    let r = unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) };
    r == 0 && fs.f_type as libc::c_long == CGROUP2_SUPER_MAGIC
}

/// `pipe2(O_CLOEXEC)`: (read end, write end), numbered 3 or above where
/// they can be (see [`above_stdio`]).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(read), above_stdio(write)))
}

/// `openat(dir, name, flags | O_CLOEXEC)`, numbered 3 or above where it can
/// be (see [`above_stdio`]).
pub(crate) fn open_at(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated; `dir` is an fd the caller holds
    // open; openat returns a new fd or -1.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd owned by nobody else.
    Ok(above_stdio(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Moves a close-on-exec fd of the library off a closed standard fd (0, 1
/// or 2), where it would stand in for the process's stdio: code that later
/// opens a file expecting it to become stdin would get another number.
/// Children never see it there either way: an inherited standard fd that
/// is close-on-exec is not the parent's stdio, and the child gets
/// `/dev/null` in its place (see `in_child`). If the move fails (`EMFILE`),
/// the fd stays where it is.
pub(crate) fn above_stdio(fd: OwnedFd) -> OwnedFd {
    if fd.as_raw_fd() > 2 {
        return fd;
    }
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own returns a new fd or -1.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if moved < 0 {
        return fd;
    }
    // SAFETY: a new fd owned by nobody else; `fd` closes on return.
    unsafe { OwnedFd::from_raw_fd(moved) }
}

/// The identity of the file an fd is open on: `(st_dev, st_ino)`. Every
/// pipe has an inode of its own, the same through every copy of its fds.
pub(crate) fn fd_identity(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into `st`.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// Writes one byte (retrying `EINTR`); errors are dropped: the caller has
/// no one to give them to, and the byte only signals readiness.
pub(crate) fn write_byte(fd: BorrowedFd<'_>) {
    loop {
        // SAFETY: a one-byte write from a live byte.
        let r = unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        if r == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}

/// Blocks every signal the C library lets a program block (its own, such
/// as glibc's `SIGSETXID`, stay deliverable, so that a `setuid` in another
/// thread, which waits for every thread to take it, completes) in the
/// calling thread, and restores the old mask on drop: a thread created
/// meanwhile starts with every signal blocked.
pub(crate) struct BlockSignals(Option<libc::sigset_t>);

impl BlockSignals {
    pub(crate) fn new() -> BlockSignals {
        // SAFETY: sigset_t is plain data, filled in by sigfillset and
        // pthread_sigmask before it is read.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let ok = libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old) == 0;
            BlockSignals(ok.then_some(old))
        }
    }
}

impl Drop for BlockSignals {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: the mask read in `new`, restored as it was.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
        }
    }
}

/// Keeps the calling thread's `errno` across a spawn: saved when made,
/// written back when dropped. The C library calls of the spawn, and a
/// `pre_exec` hook of a child that shares this thread's thread-local
/// storage, may write it; the caller must not see that.
pub(crate) struct KeepErrno(libc::c_int);

impl KeepErrno {
    pub(crate) fn new() -> KeepErrno {
        // SAFETY: __errno_location returns this thread's errno, valid for
        // the thread's lifetime.
        KeepErrno(unsafe { *libc::__errno_location() })
    }
}

impl Drop for KeepErrno {
    fn drop(&mut self) {
        // SAFETY: as in `new`, on the same thread (the guard is not Send:
        // it holds a c_int only, but lives in one stack frame).
        unsafe { *libc::__errno_location() = self.0 };
    }
}

/// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`, both ends numbered
/// 3 or above where they can be (see [`above_stdio`]).
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two fds.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(a), above_stdio(b)))
}

/// Keeps the process's dumpable flag (`PR_GET_DUMPABLE`) across a spawn
/// whose child changes credentials.
///
/// Until it execs, the child runs on the parent's memory, and the kernel
/// resets the dumpable flag of that memory when credentials change
/// (`commit_creds`): the parent would stop writing core dumps, same-uid
/// `ptrace` would be refused, its `/proc/PID` files would turn root-owned
/// and a later child's `uid_map` could no longer be written. Dropped once
/// the child has exec'd or exited, this puts the flag back. (A flag of 2,
/// `suid_dumpable`'s root-only mode, cannot be set through `prctl`; it
/// stays as the kernel left it.)
pub(crate) struct KeepDumpable(Option<libc::c_int>);

impl KeepDumpable {
    pub(crate) fn new(needed: bool) -> KeepDumpable {
        if !needed {
            return KeepDumpable(None);
        }
        // SAFETY: prctl with an integer option and no pointers.
        let flag = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
        KeepDumpable((flag == 0 || flag == 1).then_some(flag))
    }
}

impl Drop for KeepDumpable {
    fn drop(&mut self) {
        let Some(flag) = self.0 else { return };
        // SAFETY: prctl with integer arguments.
        unsafe {
            if libc::prctl(libc::PR_GET_DUMPABLE) != flag {
                libc::prctl(libc::PR_SET_DUMPABLE, flag as libc::c_ulong);
            }
        }
    }
}

/// Reads two pipes to their ends at once, so that a child blocked writing
/// to one never deadlocks against us reading the other.
pub(crate) fn read2(out: Option<OwnedFd>, err: Option<OwnedFd>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    match (out, err) {
        (None, None) => {}
        (Some(out), None) => drop(File::from(out).read_to_end(&mut out_buf)?),
        (None, Some(err)) => drop(File::from(err).read_to_end(&mut err_buf)?),
        (Some(out), Some(err)) => {
            set_nonblocking(&out)?;
            set_nonblocking(&err)?;
            let mut pipes = [
                (Some(File::from(out)), &mut out_buf),
                (Some(File::from(err)), &mut err_buf),
            ];
            while pipes.iter().any(|(f, _)| f.is_some()) {
                let mut polls: Vec<libc::pollfd> = pipes
                    .iter()
                    .map(|(f, _)| libc::pollfd {
                        fd: f.as_ref().map_or(-1, |f| f.as_raw_fd()),
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect();
                // SAFETY: `polls` is a valid array of pollfds.
                if unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) } < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                for ((file, buf), p) in pipes.iter_mut().zip(&polls) {
                    if p.revents == 0 {
                        continue;
                    }
                    if let Some(f) = file {
                        match f.read_to_end(buf) {
                            Ok(_) => *file = None,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
    }
    Ok((out_buf, err_buf))
}

fn set_nonblocking(fd: &impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: fcntl on an fd we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags == -1 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits until `fd` reports one of `events` or `timeout` passes (`None`:
/// no limit); `Ok(false)` on time-out. `poll` retried on `EINTR` with the
/// time that is left.
pub(crate) fn poll_one(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    // A deadline beyond what the clock can hold is no deadline.
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up, so a short wait does not become a busy loop.
                let ms = left.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
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

//! Qt's forkfd API (`include/forkfd.h`: `forkfd`, `vforkfd`, `spawnfd`,
//! `forkfd_wait4`, `forkfd_close`) over the engine, so that a program
//! written against Qt's `forkfd.h` links against libspawnfd unchanged.
//!
//! The design removes what went wrong in the original by construction:
//! no `SIGCHLD` handler and no `SIGPIPE` disposition (the child is a
//! pidfd, which the kernel makes readable when it exits, or an exit fd
//! written by the library's watcher thread on kernels without pidfds), so
//! there is nothing to chain and nothing process-wide to change; no table
//! of pids (the pidfd names one process for ever, and `fork_with_pidfd`
//! holds it before the child can exit, so no other reaper can make it
//! name another); the status comes from `waitid` on the pidfd as one
//! struct (no pipe payload to read short); `forkfd_close` closes the
//! caller's fd once and hands an unreaped child to the library's reaper.
//!
//! Unlike the native API, this one reports errors as Qt's does: -1 with
//! `errno` set. On success `errno` is left as it was.
//!
//! # Safety
//!
//! The `unsafe` forks (`fork_with_pidfd`, under the caller's contract
//! that the child keeps the rules of a forked child), runs the caller's
//! child function in the child, writes results where the caller asked and
//! closes the one fd the caller gives to `forkfd_close`.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitStatus;
use std::sync::OnceLock;

use spawnfd_core::{Command, Forked, fork_with_pidfd};

use crate::error::Failure;
use crate::ffi::{Entry, errno_of};
use crate::wait::{Fast, adopt, done, fast_reap, is_fifo, readable, rusage};

/// `forkfd`/`vforkfd` flag: the returned fd is close-on-exec.
pub const FFD_CLOEXEC: c_int = 1;
/// `forkfd`/`vforkfd` flag: the returned fd is `O_NONBLOCK`, and
/// `forkfd_wait4` on it never blocks.
pub const FFD_NONBLOCK: c_int = 2;
/// `vforkfd` flag: make the child with `fork()` (the default is vfork
/// semantics). Accepted and meaningless for `forkfd`, which always forks.
pub const FFD_USE_FORK: c_int = 4;
/// `spawnfd` flag: search `PATH` for the program (`pidfd_spawnp`).
/// Qt's value (`O_RDWR`), which is also `FFD_NONBLOCK`'s: as in Qt, where
/// `spawnfd` hands its flags to the code that makes the fd, the fd of a
/// `spawnfd` with this flag is also `O_NONBLOCK`, and `spawnfd` cannot
/// make a non-blocking fd without searching `PATH`.
pub const FFD_SPAWN_SEARCH_PATH: c_int = 2;
/// What `forkfd` returns in the child.
pub const FFD_CHILD_PROCESS: c_int = -2;
/// `forkfd_wait4` option: do not block (-1 with `EAGAIN` while the child
/// runs). The same value as Linux's `WNOHANG`.
pub const FFDW_NOHANG: c_int = 1;
/// `forkfd_wait4` option: leave the child waitable (report its status
/// without reaping it).
pub const FFDW_NOWAIT: c_int = 2;

/// How a child ended, as Qt's `struct forkfd_info`: `code` is the
/// `siginfo_t` `si_code` (`CLD_EXITED`, `CLD_KILLED` or `CLD_DUMPED`) and
/// `status` its `si_status` (the exit code, or the signal).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct forkfd_info {
    /// `CLD_EXITED`, `CLD_KILLED` or `CLD_DUMPED`.
    pub code: i32,
    /// The exit code (`CLD_EXITED`) or the signal.
    pub status: i32,
}

/// The flags `forkfd` and `vforkfd` take.
const FLAGS: c_int = FFD_CLOEXEC | FFD_NONBLOCK | FFD_USE_FORK;

/// Runs an entry point of this API: `Ok(v)` returns `v` with `errno` as
/// the caller had it, `Err(e)` returns -1 with `errno` = `e` (set after
/// the [`Entry`] gave the caller's back). A panic (a bug) is `EIO`.
fn call(body: impl FnOnce() -> Result<c_int, c_int>) -> c_int {
    let result = {
        let _entry = Entry::new();
        catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(libc::EIO))
    };
    match result {
        Ok(v) => v,
        Err(e) => {
            // SAFETY: the calling thread's errno.
            unsafe { *libc::__errno_location() = e };
            -1
        }
    }
}

/// The fd as the flags ask (the library made it close-on-exec, so
/// without `FFD_CLOEXEC` the flag is cleared: never the other way round,
/// so no fork can copy an fd that was meant to be close-on-exec), handed
/// to the caller.
fn give(fd: OwnedFd, flags: c_int) -> Result<c_int, c_int> {
    let raw = fd.as_raw_fd();
    let last = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    if flags & FFD_CLOEXEC == 0 {
        // SAFETY: fcntl on our own fd, integers only.
        if unsafe { libc::fcntl(raw, libc::F_SETFD, 0) } < 0 {
            return Err(last());
        }
    }
    if flags & FFD_NONBLOCK != 0 {
        // SAFETY: as above.
        let fl = unsafe { libc::fcntl(raw, libc::F_GETFL) };
        // SAFETY: as above.
        if fl < 0 || unsafe { libc::fcntl(raw, libc::F_SETFL, fl | libc::O_NONBLOCK) } < 0 {
            return Err(last());
        }
    }
    Ok(fd.into_raw_fd())
}

/// `fork()` with the child as a file descriptor, as Qt's `forkfd`.
///
/// See `include/forkfd.h` for the contract: in the child it returns
/// `FFD_CHILD_PROCESS` (and stores 0 in `*ppid`), once the parent holds
/// the child's pidfd; in the parent the fd (a pidfd, or an exit fd on
/// kernels without pidfds), with the child's pid in `*ppid`; -1 with
/// `errno` on failure.
///
/// # Safety
///
/// `ppid` is `NULL` or writable. The child of a multi-threaded process
/// may run only what is safe after `fork` until it execs or `_exit`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn forkfd(flags: c_int, ppid: *mut libc::pid_t) -> c_int {
    call(|| {
        if flags & !FLAGS != 0 {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller's contract is fork's.
        match unsafe { fork_with_pidfd() } {
            Err(e) => Err(errno_of(&e)),
            Ok(Forked::Child) => {
                if !ppid.is_null() {
                    // SAFETY: writable, by the contract (the child's copy).
                    unsafe { *ppid = 0 };
                }
                Ok(FFD_CHILD_PROCESS)
            }
            Ok(Forked::Parent(child)) => {
                if !ppid.is_null() {
                    // SAFETY: writable, by the contract.
                    unsafe { *ppid = child.id() as libc::pid_t };
                }
                give(child.into_pidfd(), flags)
            }
        }
    })
}

/// The caller's child function and its argument.
#[derive(Clone, Copy)]
struct Job {
    f: unsafe extern "C" fn(*mut c_void) -> c_int,
    token: *mut c_void,
}

// SAFETY: the function and its token are the caller's, who promised
// (vforkfd's contract) that the child may call it; the library only
// passes the pointer along.
unsafe impl Sync for Job {}

impl Job {
    /// Runs the function: its return is the child's exit status.
    ///
    /// # Safety
    ///
    /// In the child, under `vforkfd`'s rules.
    unsafe fn run(&self) -> c_int {
        // SAFETY: the caller's function and token, as given.
        unsafe { (self.f)(self.token) }
    }
}

/// A child that runs `child_fn(token)` and exits with its return value,
/// as Qt's `vforkfd`. See `include/forkfd.h`.
///
/// # Safety
///
/// `ppid` is `NULL` or writable; `child_fn` keeps the rules of the path
/// (vfork: async-signal-safe only, the parent's memory; `FFD_USE_FORK`:
/// a forked child's).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vforkfd(
    flags: c_int,
    ppid: *mut libc::pid_t,
    child_fn: Option<unsafe extern "C" fn(token: *mut c_void) -> c_int>,
    token: *mut c_void,
) -> c_int {
    call(|| {
        if flags & !FLAGS != 0 {
            return Err(libc::EINVAL);
        }
        let job = Job {
            f: child_fn.ok_or(libc::EINVAL)?,
            token,
        };
        // fork's slate as far as shared memory allows: every fd as it is,
        // ignored signals kept, the caller's mask; caught signals go to
        // SIG_DFL (a handler of the parent must not run in a child that
        // shares its memory).
        let mut cmd = Command::new("vforkfd");
        cmd.keep_inherited_fds(true)
            .reset_ignored_signals(false)
            .inherit_signal_mask()
            .use_fork(flags & FFD_USE_FORK != 0);
        // SAFETY: the child function keeps the rules of its path, by the
        // contract.
        let spawned = unsafe { cmd.spawn_fn(move || job.run()) };
        let child = spawned.map_err(|e| Failure::from_io(&e).error)?;
        if !ppid.is_null() {
            // SAFETY: writable, by the contract.
            unsafe { *ppid = child.id() as libc::pid_t };
        }
        give(child.into_pidfd(), flags)
    })
}

/// glibc's `pidfd_spawn` and `pidfd_spawnp` (2.39): the child's pidfd in
/// `*pidfd` (close-on-exec), 0 or an errno value.
type PidfdSpawn = unsafe extern "C" fn(
    pidfd: *mut c_int,
    path: *const c_char,
    file_actions: *const libc::posix_spawn_file_actions_t,
    attrp: *const libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int;

/// `pidfd_spawn` and `pidfd_spawnp` as the process has them (looked up
/// once, with `dlsym(RTLD_DEFAULT)`: glibc 2.39 or later, or whatever
/// the program itself exports under those names).
fn pidfd_spawners() -> (Option<PidfdSpawn>, Option<PidfdSpawn>) {
    static SPAWNERS: OnceLock<(Option<PidfdSpawn>, Option<PidfdSpawn>)> = OnceLock::new();
    *SPAWNERS.get_or_init(|| {
        let find = |name: &CStr| {
            // SAFETY: a NUL-terminated name; RTLD_DEFAULT is a valid handle.
            let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            // SAFETY: glibc's (or the program's) function of that name has
            // this signature.
            (!sym.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, PidfdSpawn>(sym) })
        };
        (find(c"pidfd_spawn"), find(c"pidfd_spawnp"))
    })
}

/// The flags `spawnfd` takes.
const SPAWN_FLAGS: c_int = FFD_CLOEXEC | FFD_SPAWN_SEARCH_PATH;

/// Qt's `spawnfd`: `posix_spawn` (`posix_spawnp` with
/// `FFD_SPAWN_SEARCH_PATH`) with the child as a pidfd, race-free: only
/// through glibc's `pidfd_spawn`/`pidfd_spawnp` (2.39), which make the
/// pidfd with the child. Without them -1 with `ENOSYS`, and no child. See
/// `include/forkfd.h`.
///
/// # Safety
///
/// `ppid` is `NULL` or writable; `path`, `file_actions`, `attrp`, `argv`
/// and `envp` are what `posix_spawn` takes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd(
    flags: c_int,
    ppid: *mut libc::pid_t,
    path: *const c_char,
    file_actions: *const libc::posix_spawn_file_actions_t,
    attrp: *mut libc::posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    call(|| {
        if flags & !SPAWN_FLAGS != 0 || path.is_null() {
            return Err(libc::EINVAL);
        }
        let (spawn, spawnp) = pidfd_spawners();
        let f = if flags & FFD_SPAWN_SEARCH_PATH != 0 {
            spawnp
        } else {
            spawn
        };
        // Never posix_spawn and pidfd_open: that pid can be reaped and
        // reused before it is opened.
        let f = f.ok_or(libc::ENOSYS)?;
        let mut raw: c_int = -1;
        // SAFETY: the caller's arguments, as posix_spawn takes them, by
        // the contract; `raw` is writable.
        let r = unsafe { f(&raw mut raw, path, file_actions, attrp, argv, envp) };
        if r != 0 {
            return Err(r);
        }
        if raw < 0 {
            return Err(libc::EIO);
        }
        // SAFETY: pidfd_spawn succeeded: `raw` is the new pidfd, ours.
        let mut fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let last = || {
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)
        };
        if raw <= 2 {
            // Not in the place of stdin, stdout or stderr.
            // SAFETY: fcntl on our own fd, integers only.
            let dup = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 3) };
            if dup < 0 {
                let e = last();
                // The child is handed to the reaper with the fd.
                adopt_owned(fd);
                return Err(e);
            }
            // SAFETY: a new fd of ours; the old one closes on drop.
            fd = unsafe { OwnedFd::from_raw_fd(dup) };
        } else {
            // SAFETY: as above. Close-on-exec until `give` clears it.
            unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        if !ppid.is_null() {
            // -1 if another reaper took the child already (its status
            // is still the fd's).
            let pid = spawnfd_core::pidfd_getpid(fd.as_fd())
                .map(|p| p as libc::pid_t)
                .unwrap_or(-1);
            // SAFETY: writable, by the contract.
            unsafe { *ppid = pid };
        }
        // FFD_SPAWN_SEARCH_PATH is FFD_NONBLOCK's bit: as in Qt, the fd
        // is then non-blocking too.
        give(fd, flags)
    })
}

/// Hands the child of `fd` to the library's reaper (reaped now if it has
/// exited, else when it does) and closes `fd`.
fn adopt_owned(fd: OwnedFd) {
    // Dropped: reaped now if it has exited, else by the reaper.
    drop(spawnfd_core::Child::from_pidfd(fd));
}

/// The `forkfd_info` of a wait status.
fn info_of(status: ExitStatus) -> forkfd_info {
    let raw = status.into_raw();
    if libc::WIFEXITED(raw) {
        forkfd_info {
            code: libc::CLD_EXITED,
            status: libc::WEXITSTATUS(raw),
        }
    } else {
        forkfd_info {
            code: if libc::WCOREDUMP(raw) {
                libc::CLD_DUMPED
            } else {
                libc::CLD_KILLED
            },
            status: libc::WTERMSIG(raw),
        }
    }
}

/// `waitid(P_PIDFD, fd, WEXITED | WNOHANG | WNOWAIT)` with its usage:
/// the status of an exited, unreaped child without reaping it; `EAGAIN`
/// while it runs.
fn peek_pidfd(fd: c_int, ru: &mut libc::rusage) -> Result<forkfd_info, c_int> {
    // SAFETY: siginfo_t is plain data, for which all zeroes is valid.
    let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
    const P_PIDFD: libc::idtype_t = 3;
    // SAFETY: the raw waitid (glibc's takes no rusage) with a valid
    // siginfo and rusage.
    let r = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            P_PIDFD,
            fd,
            &raw mut si,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ru as *mut libc::rusage,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: waitid filled in si_pid (0: not exited yet).
    if unsafe { si.si_pid() } == 0 {
        return Err(libc::EAGAIN);
    }
    Ok(forkfd_info {
        code: si.si_code,
        // SAFETY: a SIGCHLD siginfo, whose si_status waitid set.
        status: unsafe { si.si_status() },
    })
}

/// `forkfd_wait4` without blocking, what the C shim calls between polls
/// (`cancel.c`): 0 with `*info` and `*ru` filled in, `EAGAIN` while the
/// child runs, or an errno value. Leaves `errno` and the cancellation
/// state as it found them.
///
/// # Safety
///
/// `info` and `ru` are `NULL` or writable.
pub(crate) unsafe extern "C" fn wait4_nohang(
    fd: c_int,
    info: *mut forkfd_info,
    options: c_int,
    ru: *mut libc::rusage,
) -> c_int {
    crate::ffi::entry(|| {
        if options & FFDW_NOWAIT == 0 {
            // SAFETY: `ru` is NULL or writable, by the contract.
            match unsafe { fast_reap(fd, ru) } {
                Fast::Running => return libc::EAGAIN,
                Fast::Reaped { code, status } => {
                    if !info.is_null() {
                        // SAFETY: writable, by the contract.
                        unsafe { *info = forkfd_info { code, status } };
                    }
                    return 0;
                }
                Fast::Slow => {}
            }
        }
        let mut child = match adopt(fd) {
            Ok(child) => child,
            // Reaped already: by another reaper (a waitpid(-1), SIGCHLD
            // ignored) or by an earlier wait. The status the kernel kept.
            Err(libc::ESRCH) => {
                return match kept_status(fd) {
                    Some(i) => {
                        // SAFETY: NULL or writable, by the contract.
                        unsafe { put(info, i, ru, rusage(None)) };
                        0
                    }
                    None => libc::ECHILD,
                };
            }
            Err(e) => return e,
        };
        match readable(child.pidfd()) {
            Ok(true) => {}
            Ok(false) => {
                done(child);
                return libc::EAGAIN;
            }
            Err(e) => {
                done(child);
                return e;
            }
        }
        let nowait = options & FFDW_NOWAIT != 0;
        // An exit fd (a pipe) is waited on through the watcher's entry.
        let exit_fd = is_fifo(child.pidfd());
        let result: Result<(forkfd_info, libc::rusage), c_int> = if nowait && !exit_fd {
            // SAFETY: rusage is plain integers, for which all zeroes is valid.
            let mut raw: libc::rusage = unsafe { std::mem::zeroed() };
            match peek_pidfd(child.pidfd().as_raw_fd(), &mut raw) {
                Ok(info) => Ok((info, raw)),
                // Reaped by someone else: the status the kernel kept.
                Err(libc::ECHILD) => match child.try_wait() {
                    Ok(Some(status)) => Ok((info_of(status), rusage(None))),
                    Ok(None) => Err(libc::EAGAIN),
                    Err(e) => Err(errno_of(&e)),
                },
                Err(e) => Err(e),
            }
        } else {
            child
                .wait_with_rusage()
                .map(|(status, usage)| (info_of(status), rusage(usage)))
                .map_err(|e| errno_of(&e))
        };
        if result.is_ok() && !nowait {
            // Reaped: dropping it only closes the copy (and, on the
            // exit-fd path, lets the watcher's entry go).
            drop(child);
        } else {
            // Left waitable: the watcher's entry (exit-fd path) stays.
            done(child);
        }
        // Taken by another reaper after the fd was adopted (a waitpid(-1)
        // between the adoption and the wait): the status the kernel kept.
        let result = match result {
            Err(libc::ECHILD) if !nowait => kept_status(fd)
                .map(|i| (i, rusage(None)))
                .ok_or(libc::ECHILD),
            other => other,
        };
        match result {
            Err(e) => e,
            Ok((i, usage)) => {
                // SAFETY: NULL or writable, by the contract.
                unsafe { put(info, i, ru, usage) };
                0
            }
        }
    })
}

/// Stores the results where the caller asked.
///
/// # Safety
///
/// `info` and `ru` are `NULL` or writable.
unsafe fn put(info: *mut forkfd_info, i: forkfd_info, ru: *mut libc::rusage, usage: libc::rusage) {
    if !info.is_null() {
        // SAFETY: writable, by the contract.
        unsafe { *info = i };
    }
    if !ru.is_null() {
        // SAFETY: writable, by the contract.
        unsafe { *ru = usage };
    }
}

/// The kernel's `struct pidfd_info` as of its first size (64 bytes, Linux
/// 6.13; `exit_code` is filled since 6.15).
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
/// `pidfd_info.mask`: `exit_code` is set (Linux 6.15).
const PIDFD_INFO_EXIT: u64 = 1 << 3;

/// The exit status the kernel keeps in a pidfd whose process has been
/// reaped (`PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`, Linux 6.15): the
/// status of exactly this process, whoever reaped it. The kernel records
/// it a moment after the reap, so an exited process without it is asked
/// again for up to a second. `None` on older kernels, for an exit fd, or
/// for an fd that is no pidfd.
fn kept_status(fd: c_int) -> Option<forkfd_info> {
    for _ in 0..1000 {
        let mut pi = PidfdInfo {
            mask: PIDFD_INFO_EXIT,
            ..PidfdInfo::default()
        };
        // SAFETY: the ioctl writes at most the struct whose size it
        // encodes; any other fd refuses it.
        let r = unsafe { libc::ioctl(fd, PIDFD_GET_INFO as _, &raw mut pi) };
        if r < 0 {
            return None;
        }
        if pi.mask & PIDFD_INFO_EXIT != 0 {
            return Some(info_of(ExitStatus::from_raw(pi.exit_code)));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    None
}

/// Closes `ffd`, as Qt's `forkfd_close`: exactly once (never retried: on
/// Linux the fd is gone even when `close` says `EINTR`, which is
/// therefore success), after handing a child that has not been reaped to
/// the library's reaper (no zombie is left). See `include/forkfd.h`.
#[unsafe(no_mangle)]
pub extern "C" fn forkfd_close(ffd: c_int) -> c_int {
    call(|| {
        // Dropped: reaped now if it has exited, else by the reaper. Any
        // other fd (or one whose child is gone) is just closed.
        if let Ok(child) = adopt(ffd) {
            drop(child);
        }
        // SAFETY: the caller gives up `ffd`; it is closed once, here.
        if unsafe { libc::close(ffd) } == 0 {
            return Ok(0);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => Ok(0),
            Some(e) => Err(e),
            None => Err(libc::EIO),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout Qt's header gives `struct forkfd_info`.
    #[test]
    fn pidfd_info_is_the_kernels() {
        assert_eq!(std::mem::size_of::<PidfdInfo>(), 64);
        assert_eq!(std::mem::offset_of!(PidfdInfo, exit_code), 60);
    }

    #[test]
    fn forkfd_info_is_two_int32() {
        assert_eq!(std::mem::size_of::<forkfd_info>(), 8);
        assert_eq!(std::mem::offset_of!(forkfd_info, code), 0);
        assert_eq!(std::mem::offset_of!(forkfd_info, status), 4);
        assert_eq!(FFDW_NOHANG, libc::WNOHANG);
    }
}

//! `spawnfd_scope`: a child's whole tree in a cgroup v2 directory of its
//! own (the crate's `Scope`), for C: made, handed to a command
//! (`spawnfd_cmd_scope`), killed, signalled, frozen, waited for until
//! empty, accounted, bound to this process's life, and removed.

use std::ffi::{CString, c_char, c_int};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use spawnfd_core::{Scope, Signal};

use crate::cmd::spawnfd_cmd;
use crate::ffi::{entry, errno_of, os_str};

/// A scope: a cgroup v2 directory made for a child and everything it
/// starts. Opaque; made by `spawnfd_scope_new` or
/// `spawnfd_scope_new_named`, freed by `spawnfd_scope_free` (or
/// `spawnfd_scope_close`).
pub struct spawnfd_scope {
    scope: Option<Scope>,
    /// The directory's path, for `spawnfd_scope_path`.
    path: CString,
}

/// What a tree used (`spawnfd_scope_usage`). A field whose controller is
/// not enabled for the scope is `-1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct spawnfd_tree_usage {
    /// CPU time of every process that was in the scope, in microseconds
    /// (`cpu.stat`, present in every cgroup v2 directory).
    pub cpu_usec: i64,
    /// Of it, in user mode.
    pub user_usec: i64,
    /// Of it, in the kernel.
    pub system_usec: i64,
    /// The most memory the tree held at once, in bytes (`memory.peak`).
    pub memory_peak: i64,
    /// The most processes the tree had at once (`pids.peak`).
    pub pids_peak: i64,
}

/// Runs `body` with the scope behind `scope`, or `EINVAL` for `NULL` or
/// a closed scope.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope that no other thread frees meanwhile.
unsafe fn with_scope(
    scope: *const spawnfd_scope,
    body: impl FnOnce(&Scope) -> std::io::Result<()>,
) -> c_int {
    entry(|| {
        // SAFETY: NULL or live, by the contract.
        match unsafe { scope.as_ref() }.and_then(|s| s.scope.as_ref()) {
            None => libc::EINVAL,
            Some(scope) => body(scope).err().map_or(0, |e| errno_of(&e)),
        }
    })
}

/// Stores a new scope in `*out`.
///
/// # Safety
///
/// `out` points to writable storage for a pointer.
unsafe fn give(out: *mut *mut spawnfd_scope, made: std::io::Result<Scope>) -> c_int {
    match made {
        Err(e) => errno_of(&e),
        Ok(scope) => {
            let Ok(path) = CString::new(scope.path().as_os_str().as_bytes()) else {
                return libc::EINVAL;
            };
            let boxed = Box::new(spawnfd_scope {
                scope: Some(scope),
                path,
            });
            // SAFETY: writable, by the contract.
            unsafe { *out = Box::into_raw(boxed) };
            0
        }
    }
}

/// Makes a scope: a new cgroup named `spawnfd-PID-N` under the cgroup v2
/// directory `parent`, or with `parent` `NULL`, under this process's own
/// cgroup (found from `/proc/self/cgroup` and the cgroup2 mount). Stores
/// it in `*scope`.
///
/// Returns 0, or:
/// - `EINVAL`: `scope` is `NULL`, or `parent` is not a cgroup v2
///   directory;
/// - `ENOENT`: no cgroup v2 hierarchy is mounted (with `parent` `NULL`),
///   or `parent` does not exist;
/// - `EPERM` (`EACCES`), `EROFS`: this process may not create cgroups
///   there (the cgroup is not delegated to it);
/// - `EAGAIN`: `cgroup.max.descendants` is reached.
///
/// Thread-safe. Free it with `spawnfd_scope_free`.
///
/// # Safety
///
/// `scope` points to writable storage for a pointer; `parent` is `NULL` or
/// a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_new(
    scope: *mut *mut spawnfd_scope,
    parent: *const c_char,
) -> c_int {
    entry(|| {
        if scope.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: a C string or NULL, by the contract.
        let made = match unsafe { os_str(parent) } {
            Some(parent) => Scope::new(parent),
            None => Scope::in_own_cgroup(),
        };
        // SAFETY: writable, by the contract.
        unsafe { give(scope, made) }
    })
}

/// As `spawnfd_scope_new`, with the cgroup named `name` (one path
/// component) under `parent` (not `NULL` here).
///
/// Returns as `spawnfd_scope_new`, and `EINVAL` for a `NULL` argument or a
/// name that is empty, `.`, `..` or holds a `/`; `EEXIST` if `parent` has
/// a cgroup of that name.
///
/// # Safety
///
/// As `spawnfd_scope_new`; `name` is `NULL` or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_new_named(
    scope: *mut *mut spawnfd_scope,
    parent: *const c_char,
    name: *const c_char,
) -> c_int {
    entry(|| {
        // SAFETY: C strings or NULL, by the contract.
        let (parent, name) = unsafe { (os_str(parent), os_str(name)) };
        let (Some(parent), Some(name)) = (parent, name) else {
            return libc::EINVAL;
        };
        if scope.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: writable, by the contract.
        unsafe { give(scope, Scope::with_name(parent, name)) }
    })
}

/// The scope's directory, a C string that lives as long as the scope;
/// `NULL` for a `NULL` scope.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_path(scope: *const spawnfd_scope) -> *const c_char {
    // SAFETY: NULL or live, by the contract.
    match unsafe { scope.as_ref() } {
        None => std::ptr::null(),
        Some(scope) => scope.path.as_ptr(),
    }
}

/// The fd of `cgroup.events`, owned by the scope: `poll` it for
/// `POLLPRI`, which the kernel raises on each change (the tree becoming
/// empty, or frozen), then look with `spawnfd_scope_is_empty`. `-1` for a
/// `NULL` or closed scope.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_events_fd(scope: *const spawnfd_scope) -> c_int {
    // SAFETY: NULL or live, by the contract.
    match unsafe { scope.as_ref() }.and_then(|s| s.scope.as_ref()) {
        None => -1,
        Some(scope) => scope.events_fd().as_raw_fd(),
    }
}

/// Starts the command's children in `scope` (as `spawnfd_cmd_cgroup_fd`
/// with the scope's directory): atomically with `CLONE_INTO_CGROUP`, else
/// the child moves itself there before anything else. The scope must
/// outlive the spawns. Replaces an earlier cgroup.
///
/// Returns 0, or `EINVAL` (a `NULL` argument).
///
/// # Safety
///
/// `cmd` is a live command no other thread uses meanwhile; `scope` is
/// `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_scope(
    cmd: *mut spawnfd_cmd,
    scope: *const spawnfd_scope,
) -> c_int {
    // SAFETY: NULL or live, by the contract.
    let dir = unsafe { scope.as_ref() }
        .and_then(|s| s.scope.as_ref())
        .map(|s| s.as_fd().as_raw_fd());
    let Some(dir) = dir else {
        return libc::EINVAL;
    };
    // SAFETY: the command's contract is the caller's.
    unsafe { crate::cmd::spawnfd_cmd_cgroup_fd(cmd, dir) }
}

/// Kills every process in the scope: `cgroup.kill` (Linux 5.14), else the
/// tree frozen, each process sent `SIGKILL` through a pidfd, thawed, until
/// none is left. No process can escape by forking meanwhile. The children
/// must still be waited for.
///
/// Returns 0, or the errno of writing the cgroup's files (`EINVAL` for a
/// `NULL` scope).
///
/// # Safety
///
/// `scope` is `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_kill(scope: *const spawnfd_scope) -> c_int {
    // SAFETY: the contract is the caller's.
    unsafe { with_scope(scope, Scope::kill) }
}

/// Sends `sig` to every process in the scope, the tree frozen meanwhile
/// so that none forks out of its reach; stores in `*count` (if not
/// `NULL`) how many got it.
///
/// Returns 0, or `EINVAL` (a `NULL` scope, `sig` not a signal), the errno
/// of a signal or of the cgroup's files.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope; `count` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_signal(
    scope: *const spawnfd_scope,
    sig: c_int,
    count: *mut usize,
) -> c_int {
    let Some(signal) = Signal::new(sig) else {
        return libc::EINVAL;
    };
    // SAFETY: the contract is the caller's.
    unsafe {
        with_scope(scope, |s| {
            let sent = s.signal(signal)?;
            if !count.is_null() {
                // SAFETY: writable, by the contract.
                *count = sent;
            }
            Ok(())
        })
    }
}

/// Freezes every process of the scope (`cgroup.freeze`), and returns once
/// the kernel says the tree is frozen.
///
/// Returns 0, or the errno of the cgroup's files.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_freeze(scope: *const spawnfd_scope) -> c_int {
    // SAFETY: the contract is the caller's.
    unsafe { with_scope(scope, Scope::freeze) }
}

/// Thaws the scope's tree.
///
/// Returns 0, or the errno of the cgroup's files.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_thaw(scope: *const spawnfd_scope) -> c_int {
    // SAFETY: the contract is the caller's.
    unsafe { with_scope(scope, Scope::thaw) }
}

/// Stores in `*empty` 1 if no process is left in the scope, else 0.
///
/// Returns 0, or `EINVAL` (a `NULL` argument), the errno of reading
/// `cgroup.events`.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope; `empty` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_is_empty(
    scope: *const spawnfd_scope,
    empty: *mut c_int,
) -> c_int {
    if empty.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: the contract is the caller's.
    unsafe {
        with_scope(scope, |s| {
            let is = s.is_empty()?;
            // SAFETY: writable, by the contract.
            *empty = c_int::from(is);
            Ok(())
        })
    }
}

/// Waits until no process is left in the scope (the child's exit is
/// `spawnfd_wait`'s: two events), at most `timeout_ms` milliseconds (`-1`:
/// no limit). Sleeps in `poll` on the cgroup's events; not a cancellation
/// point.
///
/// Returns 0 once the tree is empty, `ETIMEDOUT` when the time passed
/// first, `EINVAL` (a `NULL` scope, `timeout_ms` below -1), or the errno
/// of `poll` and of reading `cgroup.events`.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_wait_empty(
    scope: *const spawnfd_scope,
    timeout_ms: c_int,
) -> c_int {
    if timeout_ms < -1 {
        return libc::EINVAL;
    }
    // SAFETY: the contract is the caller's.
    unsafe {
        with_scope(scope, |s| {
            if timeout_ms == -1 {
                return s.wait_empty();
            }
            let limit = Duration::from_millis(timeout_ms as u64);
            match s.wait_empty_timeout(limit)? {
                true => Ok(()),
                false => Err(std::io::Error::from_raw_os_error(libc::ETIMEDOUT)),
            }
        })
    }
}

/// Stores what the scope's tree used in `*usage`: CPU time always, memory
/// and process peaks where their controllers are enabled (`-1` where not).
///
/// Returns 0, or `EINVAL` (a `NULL` argument), the errno of reading the
/// cgroup's files.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope; `usage` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_usage(
    scope: *const spawnfd_scope,
    usage: *mut spawnfd_tree_usage,
) -> c_int {
    if usage.is_null() {
        return libc::EINVAL;
    }
    let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let or_none = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
    // SAFETY: the contract is the caller's.
    unsafe {
        with_scope(scope, |s| {
            let u = s.usage()?;
            // SAFETY: writable, by the contract.
            *usage = spawnfd_tree_usage {
                cpu_usec: us(u.cpu.total),
                user_usec: us(u.cpu.user),
                system_usec: us(u.cpu.system),
                memory_peak: or_none(u.memory_peak),
                pids_peak: or_none(u.pids_peak),
            };
            Ok(())
        })
    }
}

/// Whether freeing the scope kills what is still in it (`on` non-zero,
/// the default). With 0, a scope freed while processes remain is removed
/// by a background thread once the last of them is gone.
///
/// Returns 0, or `EINVAL` (a `NULL` scope).
///
/// # Safety
///
/// `scope` is `NULL` or a live scope no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_kill_on_free(scope: *mut spawnfd_scope, on: c_int) -> c_int {
    entry(|| {
        // SAFETY: NULL or live and ours alone, by the contract.
        match unsafe { scope.as_mut() }.and_then(|s| s.scope.as_mut()) {
            None => libc::EINVAL,
            Some(scope) => {
                scope.kill_on_drop(on != 0);
                0
            }
        }
    })
}

/// Binds the tree's life to this process's: when the process ends,
/// however it ends (`exit`, a crash, `SIGKILL`), the tree is killed and
/// the directory removed by a watchdog, a small process of its own that
/// lives as long as the scope. Where `PR_SET_PDEATHSIG` follows the thread
/// that spawned a child and reaches that child alone, this follows the
/// process and reaches the whole tree.
///
/// Returns 0, or `EINVAL` (a `NULL` scope), the errno of making a pipe or
/// starting the watchdog.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_kill_on_process_exit(scope: *mut spawnfd_scope) -> c_int {
    entry(|| {
        // SAFETY: NULL or live and ours alone, by the contract.
        match unsafe { scope.as_mut() }.and_then(|s| s.scope.as_mut()) {
            None => libc::EINVAL,
            Some(scope) => scope
                .kill_on_process_exit()
                .err()
                .map_or(0, |e| errno_of(&e)),
        }
    })
}

/// Ends the scope and frees it, reporting what went wrong: kills what is
/// left in the tree (unless `spawnfd_scope_kill_on_free(scope, 0)`), waits
/// for it to be gone and removes the directory. `scope` is freed in every
/// case. `NULL` is ignored.
///
/// Returns 0, or the errno of the kill or of the removal (`EBUSY`: the
/// tree did not empty).
///
/// # Safety
///
/// `scope` is `NULL` or a live scope, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_close(scope: *mut spawnfd_scope) -> c_int {
    entry(|| {
        if scope.is_null() {
            return 0;
        }
        // SAFETY: made by Box::into_raw in `give` and not yet freed, by
        // the contract.
        let mut boxed = unsafe { Box::from_raw(scope) };
        match boxed.scope.take() {
            None => 0,
            Some(s) => s.close().err().map_or(0, |e| errno_of(&e)),
        }
    })
}

/// Frees a scope as `spawnfd_scope_close` does, without the report: what
/// is left is killed (unless `spawnfd_scope_kill_on_free(scope, 0)`) and
/// the directory removed, by a background thread if the tree is slow to
/// go. `NULL` is ignored.
///
/// # Safety
///
/// `scope` is `NULL` or a live scope, not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_scope_free(scope: *mut spawnfd_scope) {
    entry(|| {
        if !scope.is_null() {
            // SAFETY: made by Box::into_raw in `give` and not yet freed,
            // by the contract.
            drop(unsafe { Box::from_raw(scope) });
        }
        0
    });
}

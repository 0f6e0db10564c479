//! `posix_spawn`'s API, served by the engine: file actions and attributes
//! of the library's own with `posix_spawn`'s call shapes, so that a
//! program written against `<spawn.h>` switches by including
//! `<spawnfd_spawn.h>` instead (which renames its calls to these) and
//! linking libspawnfd.
//!
//! The semantics are `posix_spawn`'s, as glibc and musl give them, so
//! the switch changes no behaviour the program relies on: fds without
//! `FD_CLOEXEC` are inherited, ignored signals stay ignored, the mask is
//! the calling thread's, and the child is the caller's to reap by pid
//! (`Command::spawn_pid`: no pidfd, no watcher, no reaper).
//! What the engine brings: vfork speed whatever the parent's size, the
//! exact errno of the failing step as the return value, no process-wide
//! state touched, and `spawnfd_pidfd_spawn` for a pidfd.
//!
//! The file actions and the scheduling attributes run in the child as a
//! `pre_exec` hook (`replay`), after the engine's steps (setsid, process
//! group, ids), in order, with every signal blocked (as glibc's child
//! does, so that a `tcsetpgrp` from the background is not stopped), each
//! a raw system call.
//!
//! # Safety
//!
//! The `unsafe` reads the caller's objects, strings and arrays, and in the
//! child makes raw system calls on what the actions name.

use std::ffi::{CString, OsStr, c_char, c_int, c_long, c_short, c_void};
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use spawnfd_core::{Command, SignalSet};

use crate::cmd::sigset;
use crate::ffi::{dup_above_stdio, entry, errno_of, os_str};

/// `POSIX_SPAWN_RESETIDS`: the child's effective ids become the real ones.
pub const SPAWNFD_POSIX_SPAWN_RESETIDS: c_short = 0x01;
/// `POSIX_SPAWN_SETPGROUP`: the child joins the attribute's process group
/// (0: a new one, led by the child).
pub const SPAWNFD_POSIX_SPAWN_SETPGROUP: c_short = 0x02;
/// `POSIX_SPAWN_SETSIGDEF`: the attribute's signals are reset to `SIG_DFL`.
pub const SPAWNFD_POSIX_SPAWN_SETSIGDEF: c_short = 0x04;
/// `POSIX_SPAWN_SETSIGMASK`: the child's mask is the attribute's.
pub const SPAWNFD_POSIX_SPAWN_SETSIGMASK: c_short = 0x08;
/// `POSIX_SPAWN_SETSCHEDPARAM`: `sched_setparam` with the attribute's.
pub const SPAWNFD_POSIX_SPAWN_SETSCHEDPARAM: c_short = 0x10;
/// `POSIX_SPAWN_SETSCHEDULER`: `sched_setscheduler` with the attribute's
/// policy and parameters.
pub const SPAWNFD_POSIX_SPAWN_SETSCHEDULER: c_short = 0x20;
/// `POSIX_SPAWN_USEVFORK` (glibc): accepted, without effect (every child
/// is made with vfork semantics, `clone3(CLONE_VM | CLONE_VFORK)`).
pub const SPAWNFD_POSIX_SPAWN_USEVFORK: c_short = 0x40;
/// `POSIX_SPAWN_SETSID` (glibc, POSIX 2024): the child leads a new session.
pub const SPAWNFD_POSIX_SPAWN_SETSID: c_short = 0x80;
/// `POSIX_SPAWN_SETCGROUP` (glibc 2.39): the child starts in the cgroup v2
/// directory of the attribute's fd (`CLONE_INTO_CGROUP`).
pub const SPAWNFD_POSIX_SPAWN_SETCGROUP: c_short = 0x100;

const KNOWN_FLAGS: c_short = 0x1ff;

/// libspawnfd's `posix_spawn_file_actions_t`: declare one, give it to
/// `spawnfd_posix_spawn_file_actions_init`, add actions, spawn with it
/// any number of times, then `spawnfd_posix_spawn_file_actions_destroy`.
/// Its fields are the library's.
#[repr(C)]
pub struct spawnfd_posix_spawn_file_actions_t {
    /// The actions (`NULL` before `init` and after `destroy`).
    pub _actions: *mut c_void,
    /// Room to grow; zero.
    pub _reserved: [*mut c_void; 7],
}

/// libspawnfd's `posix_spawnattr_t`: declare one, give it to
/// `spawnfd_posix_spawnattr_init`, set what you need, spawn with it any
/// number of times, then `spawnfd_posix_spawnattr_destroy`. Its fields are
/// the library's.
#[repr(C)]
pub struct spawnfd_posix_spawnattr_t {
    /// The attributes (`NULL` before `init` and after `destroy`).
    pub _attr: *mut c_void,
    /// Room to grow; zero.
    pub _reserved: [*mut c_void; 7],
}

/// One file action, run in the child in the order added.
#[derive(Clone, Debug)]
enum Action {
    Open {
        fd: c_int,
        path: CString,
        flags: c_int,
        mode: libc::mode_t,
    },
    Close(c_int),
    Dup2(c_int, c_int),
    Chdir(CString),
    Fchdir(c_int),
    CloseFrom(c_int),
    TcSetPgrp(c_int),
}

/// The attributes, with `posix_spawnattr_init`'s defaults.
#[derive(Clone, Copy)]
struct Attr {
    flags: c_short,
    pgroup: libc::pid_t,
    mask: SignalSet,
    default: SignalSet,
    policy: c_int,
    priority: c_int,
    cgroup: c_int,
}

impl Default for Attr {
    fn default() -> Attr {
        Attr {
            flags: 0,
            pgroup: 0,
            mask: SignalSet::empty(),
            default: SignalSet::empty(),
            policy: libc::SCHED_OTHER,
            priority: 0,
            cgroup: -1,
        }
    }
}

// ---------------------------------------------------------------------------
// File actions

/// The actions of a live object, for changing.
///
/// # Safety
///
/// `fa` is `NULL` or an object no other thread uses meanwhile.
unsafe fn actions_mut<'a>(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
) -> Result<&'a mut Vec<Action>, c_int> {
    // SAFETY: NULL or a live object, by the contract; `_actions` is NULL
    // or the Box that `init` made.
    unsafe {
        let fa = fa.as_mut().ok_or(libc::EINVAL)?;
        fa._actions
            .cast::<Vec<Action>>()
            .as_mut()
            .ok_or(libc::EINVAL)
    }
}

/// An fd number a file action may name: 0 up to the soft
/// `RLIMIT_NOFILE` (as glibc checks), else `EBADF`.
fn valid_fd(fd: c_int) -> Result<c_int, c_int> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a writable rlimit.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let fits = r != 0 || (fd as u64) < limit.rlim_cur;
    if fd < 0 || !fits {
        Err(libc::EBADF)
    } else {
        Ok(fd)
    }
}

/// Adds an action, as every `add*` function does.
///
/// # Safety
///
/// As [`actions_mut`].
unsafe fn add(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    action: impl FnOnce() -> Result<Action, c_int>,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's contract.
        let result = unsafe { actions_mut(fa) }.and_then(|list| {
            list.push(action()?);
            Ok(())
        });
        result.err().unwrap_or(0)
    })
}

/// A path for an action: a copy; `EINVAL` for `NULL`.
///
/// # Safety
///
/// `path` is `NULL` or a C string.
unsafe fn action_path(path: *const c_char) -> Result<CString, c_int> {
    // SAFETY: the caller's contract.
    let path = unsafe { os_str(path) }.ok_or(libc::EINVAL)?;
    CString::new(path.as_bytes()).map_err(|_| libc::EINVAL)
}

/// `posix_spawn_file_actions_init`: makes `fa` an empty list.
///
/// Returns 0, or `EINVAL` (`fa` is `NULL`), `ENOMEM`.
///
/// # Safety
///
/// `fa` is `NULL` or points to writable storage for the object, not a
/// live list (which would leak).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_init(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
) -> c_int {
    entry(|| {
        if fa.is_null() {
            return libc::EINVAL;
        }
        let list = Box::into_raw(Box::new(Vec::<Action>::new()));
        // SAFETY: writable storage, by the contract.
        unsafe {
            fa.write(spawnfd_posix_spawn_file_actions_t {
                _actions: list.cast(),
                _reserved: [std::ptr::null_mut(); 7],
            })
        };
        0
    })
}

/// `posix_spawn_file_actions_destroy`: frees the list; `fa` may be
/// initialised again.
///
/// Returns 0, or `EINVAL` (`fa` is `NULL` or not initialised).
///
/// # Safety
///
/// `fa` is `NULL` or an object no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_destroy(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
) -> c_int {
    entry(|| {
        // SAFETY: NULL or a live object, by the contract.
        let Some(fa) = (unsafe { fa.as_mut() }) else {
            return libc::EINVAL;
        };
        if fa._actions.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: the Box `init` made, taken back once.
        drop(unsafe { Box::from_raw(fa._actions.cast::<Vec<Action>>()) });
        fa._actions = std::ptr::null_mut();
        0
    })
}

/// `posix_spawn_file_actions_addopen`: the child opens `path` with
/// `oflag` and `mode` as fd `fd` (replacing what was there). The path is
/// copied; relative to the child's working directory at that point.
///
/// Returns 0, or `EBADF` (`fd` negative or not below `RLIMIT_NOFILE`),
/// `EINVAL` (`fa` or `path` is `NULL`, or `fa` not initialised), `ENOMEM`.
/// The open's own error is the spawn's.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_destroy`; `path` is `NULL` or a
/// C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_addopen(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    fd: c_int,
    path: *const c_char,
    oflag: c_int,
    mode: libc::mode_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        add(fa, || {
            Ok(Action::Open {
                fd: valid_fd(fd)?,
                path: action_path(path)?,
                flags: oflag,
                mode,
            })
        })
    }
}

/// `posix_spawn_file_actions_addclose`: fd `fd` is closed in the child (at
/// its exec: it is marked close-on-exec, so a later action may still
/// name it, and the library's own fds survive). Closing an fd that is not
/// open is no error.
///
/// Returns 0, or `EBADF`, `EINVAL`, `ENOMEM` as `..._addopen`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_destroy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_addclose(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    fd: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(fa, || Ok(Action::Close(valid_fd(fd)?))) }
}

/// `posix_spawn_file_actions_adddup2`: the child's fd `newfd` becomes a
/// copy of `fd`, without `FD_CLOEXEC`. With `fd == newfd`, `FD_CLOEXEC`
/// is cleared on it (POSIX 2024, glibc 2.29+), so the fd is inherited.
///
/// Returns 0, or `EBADF`, `EINVAL`, `ENOMEM` as `..._addopen`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_destroy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_adddup2(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    fd: c_int,
    newfd: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(fa, || Ok(Action::Dup2(valid_fd(fd)?, valid_fd(newfd)?))) }
}

/// `posix_spawn_file_actions_addchdir_np` (glibc; `addchdir` in POSIX
/// 2024): the child changes its working directory to `path` (copied).
///
/// Returns 0, or `EINVAL`, `ENOMEM` as `..._addopen`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_addopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_addchdir_np(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    path: *const c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(fa, || Ok(Action::Chdir(action_path(path)?))) }
}

/// `posix_spawn_file_actions_addfchdir_np` (glibc; `addfchdir` in POSIX
/// 2024): the child changes its working directory to the directory `fd`.
///
/// Returns 0, or `EBADF`, `EINVAL`, `ENOMEM` as `..._addopen`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_destroy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_addfchdir_np(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    fd: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(fa, || Ok(Action::Fchdir(valid_fd(fd)?))) }
}

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34): every fd from
/// `from` up is closed in the child (at its exec, as `..._addclose`):
/// the way to give the program only the fds you placed, whatever other
/// threads open meanwhile.
///
/// Returns 0, or `EBADF`, `EINVAL`, `ENOMEM` as `..._addopen`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_destroy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_addclosefrom_np(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    from: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(fa, || Ok(Action::CloseFrom(valid_fd(from)?))) }
}

/// `posix_spawn_file_actions_addtcsetpgrp_np` (glibc 2.35): the child's
/// process group becomes the foreground group of the terminal `tcfd`.
///
/// Returns 0, or `EBADF`, `EINVAL`, `ENOMEM` as `..._addopen`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn_file_actions_destroy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn_file_actions_addtcsetpgrp_np(
    fa: *mut spawnfd_posix_spawn_file_actions_t,
    tcfd: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(fa, || Ok(Action::TcSetPgrp(valid_fd(tcfd)?))) }
}

// ---------------------------------------------------------------------------
// Attributes

/// The attributes of a live object.
///
/// # Safety
///
/// `attr` is `NULL` or an object no other thread changes meanwhile.
unsafe fn attr_ref<'a>(attr: *const spawnfd_posix_spawnattr_t) -> Result<&'a mut Attr, c_int> {
    // SAFETY: NULL or a live object, by the contract; `_attr` is NULL or
    // the Box that `init` made.
    unsafe {
        let attr = attr.as_ref().ok_or(libc::EINVAL)?;
        attr._attr.cast::<Attr>().as_mut().ok_or(libc::EINVAL)
    }
}

/// Reads or changes an attribute, as every get and set function does.
///
/// # Safety
///
/// As [`attr_ref`], the object used by this thread only when changed.
unsafe fn with_attr(
    attr: *const spawnfd_posix_spawnattr_t,
    f: impl FnOnce(&mut Attr) -> Result<(), c_int>,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's contract.
        unsafe { attr_ref(attr) }.and_then(f).err().unwrap_or(0)
    })
}

/// Writes `value` to `out`; `EINVAL` for `NULL`.
///
/// # Safety
///
/// `out` is `NULL` or writable.
unsafe fn put<T>(out: *mut T, value: T) -> Result<(), c_int> {
    if out.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: writable, by the contract.
    unsafe { out.write(value) };
    Ok(())
}

/// Writes `set` to the `sigset_t` at `out`.
///
/// # Safety
///
/// `out` is `NULL` or a writable `sigset_t`.
unsafe fn put_sigset(out: *mut libc::sigset_t, set: SignalSet) -> Result<(), c_int> {
    if out.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: a writable sigset_t, by the contract.
    unsafe {
        libc::sigemptyset(out);
        for sig in set.iter() {
            libc::sigaddset(out, sig.as_raw());
        }
    }
    Ok(())
}

/// `posix_spawnattr_init`: the defaults (no flag set, process group 0,
/// empty masks, `SCHED_OTHER` with priority 0, no cgroup).
///
/// Returns 0, or `EINVAL` (`attr` is `NULL`), `ENOMEM`.
///
/// # Safety
///
/// `attr` is `NULL` or points to writable storage for the object, not a
/// live one (which would leak).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_init(
    attr: *mut spawnfd_posix_spawnattr_t,
) -> c_int {
    entry(|| {
        if attr.is_null() {
            return libc::EINVAL;
        }
        let state = Box::into_raw(Box::new(Attr::default()));
        // SAFETY: writable storage, by the contract.
        unsafe {
            attr.write(spawnfd_posix_spawnattr_t {
                _attr: state.cast(),
                _reserved: [std::ptr::null_mut(); 7],
            })
        };
        0
    })
}

/// `posix_spawnattr_destroy`: frees the attributes; `attr` may be
/// initialised again.
///
/// Returns 0, or `EINVAL` (`attr` is `NULL` or not initialised).
///
/// # Safety
///
/// `attr` is `NULL` or an object no other thread uses meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_destroy(
    attr: *mut spawnfd_posix_spawnattr_t,
) -> c_int {
    entry(|| {
        // SAFETY: NULL or a live object, by the contract.
        let Some(attr) = (unsafe { attr.as_mut() }) else {
            return libc::EINVAL;
        };
        if attr._attr.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: the Box `init` made, taken back once.
        drop(unsafe { Box::from_raw(attr._attr.cast::<Attr>()) });
        attr._attr = std::ptr::null_mut();
        0
    })
}

/// `posix_spawnattr_setflags`: which attributes apply
/// (`SPAWNFD_POSIX_SPAWN_*`, the values of `<spawn.h>`'s `POSIX_SPAWN_*`).
///
/// Returns 0, or `EINVAL` (an unknown flag; `attr` `NULL` or not
/// initialised, as for every get and set function).
///
/// # Safety
///
/// `attr` is `NULL` or an object no other thread uses meanwhile (every
/// set function); every get function: `attr` as that, and its out
/// argument `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setflags(
    attr: *mut spawnfd_posix_spawnattr_t,
    flags: c_short,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            if flags & !KNOWN_FLAGS != 0 {
                return Err(libc::EINVAL);
            }
            a.flags = flags;
            Ok(())
        })
    }
}

/// `posix_spawnattr_getflags`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getflags(
    attr: *const spawnfd_posix_spawnattr_t,
    flags: *mut c_short,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_attr(attr, |a| put(flags, a.flags)) }
}

/// `posix_spawnattr_setpgroup`: the process group for
/// `POSIX_SPAWN_SETPGROUP` (0: a new group led by the child).
///
/// Returns 0, or `EINVAL` (a negative id).
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setpgroup(
    attr: *mut spawnfd_posix_spawnattr_t,
    pgroup: libc::pid_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            if pgroup < 0 {
                return Err(libc::EINVAL);
            }
            a.pgroup = pgroup;
            Ok(())
        })
    }
}

/// `posix_spawnattr_getpgroup`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getpgroup(
    attr: *const spawnfd_posix_spawnattr_t,
    pgroup: *mut libc::pid_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_attr(attr, |a| put(pgroup, a.pgroup)) }
}

/// `posix_spawnattr_setsigmask`: the child's mask for
/// `POSIX_SPAWN_SETSIGMASK` (without it, the calling thread's).
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`; `set` is `NULL` or a
/// `sigset_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setsigmask(
    attr: *mut spawnfd_posix_spawnattr_t,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            // SAFETY: NULL or a sigset_t, by the contract.
            a.mask = sigset(set)?;
            Ok(())
        })
    }
}

/// `posix_spawnattr_getsigmask`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getsigmask(
    attr: *const spawnfd_posix_spawnattr_t,
    set: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_attr(attr, |a| put_sigset(set, a.mask)) }
}

/// `posix_spawnattr_setsigdefault`: the signals reset to `SIG_DFL` for
/// `POSIX_SPAWN_SETSIGDEF` (without it, ignored signals stay ignored;
/// caught ones are always reset).
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setsigmask`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setsigdefault(
    attr: *mut spawnfd_posix_spawnattr_t,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            // SAFETY: NULL or a sigset_t, by the contract.
            a.default = sigset(set)?;
            Ok(())
        })
    }
}

/// `posix_spawnattr_getsigdefault`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getsigdefault(
    attr: *const spawnfd_posix_spawnattr_t,
    set: *mut libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_attr(attr, |a| put_sigset(set, a.default)) }
}

/// `posix_spawnattr_setschedpolicy`: the policy for
/// `POSIX_SPAWN_SETSCHEDULER`.
///
/// Returns 0, or `EINVAL` (not `SCHED_OTHER`, `SCHED_FIFO`, `SCHED_RR`,
/// `SCHED_BATCH` or `SCHED_IDLE`).
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setschedpolicy(
    attr: *mut spawnfd_posix_spawnattr_t,
    policy: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            match policy {
                libc::SCHED_OTHER
                | libc::SCHED_FIFO
                | libc::SCHED_RR
                | libc::SCHED_BATCH
                | libc::SCHED_IDLE => a.policy = policy,
                _ => return Err(libc::EINVAL),
            }
            Ok(())
        })
    }
}

/// `posix_spawnattr_getschedpolicy`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getschedpolicy(
    attr: *const spawnfd_posix_spawnattr_t,
    policy: *mut c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_attr(attr, |a| put(policy, a.policy)) }
}

/// `posix_spawnattr_setschedparam`: the parameters for
/// `POSIX_SPAWN_SETSCHEDPARAM` and `POSIX_SPAWN_SETSCHEDULER`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`; `param` is `NULL` or a
/// `struct sched_param`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setschedparam(
    attr: *mut spawnfd_posix_spawnattr_t,
    param: *const libc::sched_param,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            // SAFETY: NULL or a sched_param, by the contract.
            a.priority = param.as_ref().ok_or(libc::EINVAL)?.sched_priority;
            Ok(())
        })
    }
}

/// `posix_spawnattr_getschedparam`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getschedparam(
    attr: *const spawnfd_posix_spawnattr_t,
    param: *mut libc::sched_param,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            put(
                param,
                libc::sched_param {
                    sched_priority: a.priority,
                },
            )
        })
    }
}

/// `posix_spawnattr_setcgroup_np` (glibc 2.39): the cgroup v2 directory
/// (an fd, borrowed at each spawn) for `POSIX_SPAWN_SETCGROUP`.
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_setcgroup_np(
    attr: *mut spawnfd_posix_spawnattr_t,
    cgroup: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        with_attr(attr, |a| {
            a.cgroup = cgroup;
            Ok(())
        })
    }
}

/// `posix_spawnattr_getcgroup_np` (glibc 2.39).
///
/// # Safety
///
/// As `spawnfd_posix_spawnattr_setflags`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnattr_getcgroup_np(
    attr: *const spawnfd_posix_spawnattr_t,
    cgroup: *mut c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { with_attr(attr, |a| put(cgroup, a.cgroup)) }
}

// ---------------------------------------------------------------------------
// Spawning

/// Where a spawn's child goes.
enum Handover {
    /// Its pid, to be reaped by the caller (`posix_spawn`).
    Pid(*mut libc::pid_t),
    /// Its pidfd (`pidfd_spawn`).
    Pidfd(*mut c_int),
}

/// The strings of a `NULL`-terminated array (`NULL`: none).
///
/// # Safety
///
/// `array` is `NULL` or a `NULL`-terminated array of C strings.
unsafe fn strings<'a>(array: *const *mut c_char) -> Vec<&'a OsStr> {
    let mut out = Vec::new();
    if array.is_null() {
        return out;
    }
    for i in 0.. {
        // SAFETY: within the array, up to its NULL, by the contract.
        let s = unsafe { *array.add(i) };
        // SAFETY: a C string, by the contract.
        match unsafe { os_str(s) } {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

/// The command a `posix_spawn` call describes.
///
/// # Safety
///
/// As `spawnfd_posix_spawn`.
unsafe fn command(
    path: *const c_char,
    fa: *const spawnfd_posix_spawn_file_actions_t,
    attr: *const spawnfd_posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
    search: bool,
) -> Result<Command, c_int> {
    // SAFETY: a C string or NULL, by the contract.
    let path = unsafe { os_str(path) }.ok_or(libc::EINVAL)?;
    // posix_spawn runs a path without a `/` from the working directory;
    // the engine would search for it.
    let mut c = if search || path.as_bytes().contains(&b'/') || path.is_empty() {
        Command::new(path)
    } else {
        let mut relative = std::ffi::OsString::from("./");
        relative.push(path);
        Command::new(relative)
    };
    // SAFETY: NULL or a NULL-terminated array, by the contract.
    let args = unsafe { strings(argv) };
    c.arg0(args.first().copied().unwrap_or_default());
    c.args(args.iter().skip(1));
    c.env_clear();
    // SAFETY: as for `argv`.
    for entry in unsafe { strings(envp) } {
        let bytes = entry.as_bytes();
        let eq = bytes.iter().position(|&b| b == b'=').ok_or(libc::EINVAL)?;
        c.env(
            OsStr::from_bytes(&bytes[..eq]),
            OsStr::from_bytes(&bytes[eq + 1..]),
        );
    }
    if search {
        // The caller's PATH, as glibc's and musl's posix_spawnp search,
        // whatever environment the child gets.
        let dirs = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
        c.search_path(dirs);
    }
    // posix_spawn's inheritance: fds as they are, ignored signals kept,
    // the calling thread's mask.
    c.keep_inherited_fds(true)
        .reset_ignored_signals(false)
        .inherit_signal_mask();

    let attr = if attr.is_null() {
        Attr::default()
    } else {
        // SAFETY: a live object, by the contract.
        *unsafe { attr_ref(attr) }?
    };
    let has = |flag| attr.flags & flag != 0;
    if has(SPAWNFD_POSIX_SPAWN_SETSIGDEF) {
        c.default_signals(attr.default);
    }
    if has(SPAWNFD_POSIX_SPAWN_SETSIGMASK) {
        c.signal_mask(attr.mask);
    }
    if has(SPAWNFD_POSIX_SPAWN_SETSID) {
        c.setsid(true);
    }
    if has(SPAWNFD_POSIX_SPAWN_SETPGROUP) {
        c.process_group(attr.pgroup);
    }
    if has(SPAWNFD_POSIX_SPAWN_RESETIDS) {
        // SAFETY: these calls read the process's ids.
        let (uid, euid, gid, egid) = unsafe {
            (
                libc::getuid(),
                libc::geteuid(),
                libc::getgid(),
                libc::getegid(),
            )
        };
        if gid != egid {
            c.gid(gid);
        }
        if uid != euid {
            c.uid(uid);
        }
    }
    if has(SPAWNFD_POSIX_SPAWN_SETCGROUP) {
        let fd = dup_above_stdio(attr.cgroup).map_err(|e| errno_of(&e))?;
        c.cgroup_fd(fd);
    }
    let sched = if has(SPAWNFD_POSIX_SPAWN_SETSCHEDULER) {
        Some((Some(attr.policy), attr.priority))
    } else if has(SPAWNFD_POSIX_SPAWN_SETSCHEDPARAM) {
        Some((None, attr.priority))
    } else {
        None
    };
    let actions = if fa.is_null() {
        Vec::new()
    } else {
        // SAFETY: a live object, by the contract.
        let fa = unsafe { &*fa };
        // SAFETY: NULL or the list `init` made, read only.
        unsafe { fa._actions.cast::<Vec<Action>>().as_ref() }
            .ok_or(libc::EINVAL)?
            .clone()
    };
    if sched.is_some() || !actions.is_empty() {
        let replayed = Replay { actions, sched };
        // SAFETY: `replay` makes raw system calls only, allocates nothing,
        // takes no lock and cannot panic: a pre_exec hook's rules on the
        // vfork path.
        unsafe { c.pre_exec(move || replayed.run()) };
    }
    Ok(c)
}

/// A spawn of either shape.
///
/// # Safety
///
/// As `spawnfd_posix_spawn`.
unsafe fn spawn(
    to: Handover,
    path: *const c_char,
    fa: *const spawnfd_posix_spawn_file_actions_t,
    attr: *const spawnfd_posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
    search: bool,
) -> c_int {
    entry(|| {
        // SAFETY: the caller's contract.
        let mut c = match unsafe { command(path, fa, attr, argv, envp, search) } {
            Ok(c) => c,
            Err(e) => return e,
        };
        match to {
            Handover::Pid(out) => match c.spawn_pid() {
                Ok(pid) => {
                    if !out.is_null() {
                        // SAFETY: writable, by the contract.
                        unsafe { *out = pid as libc::pid_t };
                    }
                    0
                }
                Err(e) => errno_of(&e),
            },
            Handover::Pidfd(out) => {
                if out.is_null() {
                    return libc::EINVAL;
                }
                match c.spawn() {
                    Ok(child) => {
                        let fd: OwnedFd = child.into_pidfd();
                        // SAFETY: writable, by the contract.
                        unsafe { *out = fd.into_raw_fd() };
                        0
                    }
                    Err(e) => errno_of(&e),
                }
            }
        }
    })
}

/// `posix_spawn`: starts `path` (not searched for: a name without `/` is
/// in the working directory) with the arguments `argv` and the
/// environment `envp`, after the file actions `fa` and the attributes
/// `attr` (either may be `NULL`), and stores the child's pid in `*pid`
/// (if `pid` is not `NULL`). The child is the caller's to reap
/// (`waitpid`); the library keeps nothing of it.
///
/// The child gets what `posix_spawn` gives it: every fd without
/// `FD_CLOEXEC` (use `..._addclosefrom_np` to give it only those you
/// place), the signals this process ignores still ignored (unless in the
/// `SETSIGDEF` set) and every caught one reset, the calling thread's
/// signal mask (unless `SETSIGMASK`). It is created with vfork semantics
/// (`clone3(CLONE_VM | CLONE_VFORK)`): the cost does not grow with this
/// process's memory, and this returns once the child has exec'd.
///
/// Returns 0, or the errno of what failed, no child left behind:
/// - `ENOENT`, `EACCES`, `ENOEXEC`, `E2BIG`, ... from the exec, or from
///   the file action or attribute that failed in the child (an `open`'s
///   `ENOENT`, `setpgid`'s `EPERM`);
/// - `EINVAL`: `path` is `NULL`; `fa` or `attr` is not initialised; an
///   `envp` entry has no `=` or an empty name; `POSIX_SPAWN_SETSID` with
///   `POSIX_SPAWN_SETPGROUP`;
/// - `EBADF`: the `SETCGROUP` fd is not open;
/// - `EAGAIN`, `ENOMEM`: the process could not be created.
///
/// The child's environment holds `envp`'s entries sorted by name; where
/// `envp` holds a name twice, the child gets the last value, once.
/// `errno` is left as it was. Thread-safe (`fa` and `attr` are only
/// read); changes nothing process-wide; not a cancellation point.
///
/// # Safety
///
/// `path` is `NULL` or a C string; `fa` and `attr` are `NULL` or objects
/// nobody changes meanwhile; `argv` and `envp` are `NULL` or
/// `NULL`-terminated arrays of C strings; `pid` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawn(
    pid: *mut libc::pid_t,
    path: *const c_char,
    fa: *const spawnfd_posix_spawn_file_actions_t,
    attr: *const spawnfd_posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { spawn(Handover::Pid(pid), path, fa, attr, argv, envp, false) }
}

/// `posix_spawnp`: `spawnfd_posix_spawn`, with `file` searched for (if it
/// has no `/`) in this process's `PATH` (`/bin:/usr/bin` if unset), not
/// in `envp`'s, as glibc and musl do.
///
/// # Safety
///
/// As `spawnfd_posix_spawn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_posix_spawnp(
    pid: *mut libc::pid_t,
    file: *const c_char,
    fa: *const spawnfd_posix_spawn_file_actions_t,
    attr: *const spawnfd_posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { spawn(Handover::Pid(pid), file, fa, attr, argv, envp, true) }
}

/// `pidfd_spawn` (glibc 2.39): `spawnfd_posix_spawn`, with the child
/// handed over as its pidfd in `*pidfd` (close-on-exec, 3 or above) in
/// place of a pid: wait with `spawnfd_wait` (or `waitid(P_PIDFD)`),
/// signal with `spawnfd_kill`, poll for its exit. Where the kernel has no
/// pidfds it is the library's exit fd, which the spawnfd_* functions
/// take as well.
///
/// Returns as `spawnfd_posix_spawn`, and `EINVAL` for a `NULL` `pidfd`.
///
/// # Safety
///
/// As `spawnfd_posix_spawn`; `pidfd` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_pidfd_spawn(
    pidfd: *mut c_int,
    path: *const c_char,
    fa: *const spawnfd_posix_spawn_file_actions_t,
    attr: *const spawnfd_posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { spawn(Handover::Pidfd(pidfd), path, fa, attr, argv, envp, false) }
}

/// `pidfd_spawnp` (glibc 2.39): `spawnfd_pidfd_spawn` with the search of
/// `spawnfd_posix_spawnp`.
///
/// # Safety
///
/// As `spawnfd_pidfd_spawn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_pidfd_spawnp(
    pidfd: *mut c_int,
    file: *const c_char,
    fa: *const spawnfd_posix_spawn_file_actions_t,
    attr: *const spawnfd_posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { spawn(Handover::Pidfd(pidfd), file, fa, attr, argv, envp, true) }
}

// ---------------------------------------------------------------------------
// In the child

/// What the child replays after the engine's steps: the scheduling
/// attributes, then the file actions in order.
struct Replay {
    actions: Vec<Action>,
    /// (policy for `sched_setscheduler`, else `sched_setparam`; priority)
    sched: Option<(Option<c_int>, c_int)>,
}

/// A raw system call's result: the value, or the errno (read from the
/// calling thread's `errno`, which the engine gives back to the spawning
/// thread after the spawn).
fn check(r: c_long) -> Result<c_long, c_int> {
    if r >= 0 {
        return Ok(r);
    }
    // SAFETY: this thread's errno location.
    Err(unsafe { *libc::__errno_location() })
}

impl Replay {
    /// Runs in the child (a `pre_exec` hook): every signal blocked while
    /// the steps run, the child's mask put back after.
    fn run(&self) -> io::Result<()> {
        // SAFETY: an all-zero sigset_t is valid; sigfillset fills it.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: writable sets that outlive the calls.
        unsafe {
            libc::sigfillset(&mut all);
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &raw const all,
                &raw mut old,
                8usize,
            );
        }
        let result = self.steps();
        // SAFETY: `old` is the mask the child had.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &raw const old,
                0usize,
                8usize,
            );
        }
        result.map_err(io::Error::from_raw_os_error)
    }

    fn steps(&self) -> Result<(), c_int> {
        if let Some((policy, priority)) = self.sched {
            let param = libc::sched_param {
                sched_priority: priority,
            };
            // SAFETY: `param` outlives the calls; integer arguments.
            check(unsafe {
                match policy {
                    Some(policy) => {
                        libc::syscall(libc::SYS_sched_setscheduler, 0, policy, &raw const param)
                    }
                    None => libc::syscall(libc::SYS_sched_setparam, 0, &raw const param),
                }
            })?;
        }
        for action in &self.actions {
            action.run()?;
        }
        Ok(())
    }
}

impl Action {
    fn run(&self) -> Result<(), c_int> {
        // SAFETY (every block): raw system calls with integer arguments
        // and NUL-terminated paths that the hook's closure owns.
        match *self {
            Action::Open {
                fd,
                ref path,
                flags,
                mode,
            } => {
                let opened = check(unsafe {
                    libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, mode)
                })? as c_int;
                if opened != fd {
                    let moved = check(unsafe { libc::syscall(libc::SYS_dup3, opened, fd, 0) });
                    unsafe { libc::syscall(libc::SYS_close, opened) };
                    moved?;
                }
            }
            Action::Close(fd) => match check(unsafe { mark_cloexec(fd) }) {
                Err(libc::EBADF) | Ok(_) => {}
                Err(e) => return Err(e),
            },
            Action::Dup2(from, to) if from == to => {
                let flags = check(unsafe { libc::syscall(libc::SYS_fcntl, from, libc::F_GETFD) })?;
                check(unsafe {
                    libc::syscall(
                        libc::SYS_fcntl,
                        from,
                        libc::F_SETFD,
                        flags & !c_long::from(libc::FD_CLOEXEC),
                    )
                })?;
            }
            Action::Dup2(from, to) => {
                check(unsafe { libc::syscall(libc::SYS_dup3, from, to, 0) })?;
            }
            Action::Chdir(ref path) => {
                check(unsafe { libc::syscall(libc::SYS_chdir, path.as_ptr()) })?;
            }
            Action::Fchdir(fd) => {
                check(unsafe { libc::syscall(libc::SYS_fchdir, fd) })?;
            }
            Action::CloseFrom(from) => close_from(from)?,
            Action::TcSetPgrp(fd) => {
                let pgrp = check(unsafe { libc::syscall(libc::SYS_getpgid, 0) })? as libc::pid_t;
                check(unsafe {
                    libc::syscall(libc::SYS_ioctl, fd, libc::TIOCSPGRP, &raw const pgrp)
                })?;
            }
        }
        Ok(())
    }
}

/// `fcntl(fd, F_SETFD, FD_CLOEXEC)`: closed at exec.
///
/// # Safety
///
/// Integer arguments only.
unsafe fn mark_cloexec(fd: c_int) -> c_long {
    // SAFETY: the caller's.
    unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, libc::FD_CLOEXEC) }
}

/// The fd a `/proc/self/fd` entry names (its name, NUL-padded), if any.
fn fd_number(name: &[u8]) -> Option<c_int> {
    let digits = name.split(|&b| b == 0).next()?;
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0 as c_int, |fd, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        fd.checked_mul(10)?.checked_add(c_int::from(b - b'0'))
    })
}

/// Marks every fd from `from` up close-on-exec: `close_range` with
/// `CLOSE_RANGE_CLOEXEC` (Linux 5.11), else each fd `/proc/self/fd` lists.
fn close_from(from: c_int) -> Result<(), c_int> {
    const CLOSE_RANGE_CLOEXEC: c_int = 1 << 2;
    // SAFETY: integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_close_range, from, c_int::MAX, CLOSE_RANGE_CLOEXEC) };
    if check(r).is_ok() {
        return Ok(());
    }
    // SAFETY: a NUL-terminated path; the fd is closed below.
    let dir = check(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })? as c_int;
    let mut buf = [0u8; 4096];
    let result = loop {
        // SAFETY: `buf` is writable for its length.
        let n = match check(unsafe {
            libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len())
        }) {
            Ok(0) => break Ok(()),
            Ok(n) => n as usize,
            Err(e) => break Err(e),
        };
        let mut at = 0;
        // struct linux_dirent64: ino (8), off (8), reclen (2), type (1),
        // then the NUL-terminated name. Read with `get`: nothing here may
        // panic.
        while let Some(&[lo, hi]) = buf.get(at + 16..at + 18) {
            let reclen = usize::from(u16::from_ne_bytes([lo, hi]));
            if reclen < 19 || at + reclen > n {
                break;
            }
            let name = buf.get(at + 19..at + reclen).unwrap_or_default();
            if let Some(fd) = fd_number(name).filter(|&fd| fd >= from && fd != dir) {
                // SAFETY: integer arguments.
                unsafe { mark_cloexec(fd) };
            }
            at += reclen;
        }
    };
    // SAFETY: our own fd.
    unsafe { libc::syscall(libc::SYS_close, dir) };
    result
}

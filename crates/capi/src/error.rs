//! `spawnfd_error`, the step codes and their names, and the formatting of
//! an error.
//!
//! # Safety
//!
//! The `unsafe` writes into the caller's error struct and buffer, whose
//! size the caller states, and reads the caller's error struct.

use std::ffi::{c_char, c_int};
use std::io;

use spawnfd_core::{SpawnError, Step};

/// No step failed: the spawn was refused while it was prepared, before any
/// process existed (bad input: `EINVAL`; a caller's fd that could not be
/// copied: `EBADF`, `EMFILE`; `ENOMEM`). `spawnfd_error.message` says why.
pub const SPAWNFD_STEP_PREPARE: c_int = 0;
/// Parent: creating a pipe.
pub const SPAWNFD_STEP_PIPE: c_int = 1;
/// Parent: `clone3`/`clone` refused to create the process (or to create
/// it in its cgroup); also the child joining its cgroup where the kernel
/// cannot start it there.
pub const SPAWNFD_STEP_CLONE: c_int = 2;
/// Parent: writing the `uid_map`, `setgroups` or `gid_map` of a new user
/// namespace (`path` is the file).
pub const SPAWNFD_STEP_ID_MAP: c_int = 3;
/// Child: setting a signal's disposition (`signal`).
pub const SPAWNFD_STEP_SIGNAL_DISPOSITION: c_int = 4;
/// Child: `setsid`.
pub const SPAWNFD_STEP_SETSID: c_int = 5;
/// Child: `setpgid` (`id` is the group).
pub const SPAWNFD_STEP_PROCESS_GROUP: c_int = 6;
/// Child: `prlimit` (`id` is the resource).
pub const SPAWNFD_STEP_RLIMIT: c_int = 7;
/// Child: `setpriority` (`id` is the niceness).
pub const SPAWNFD_STEP_NICE: c_int = 8;
/// Child: `sched_setaffinity`.
pub const SPAWNFD_STEP_CPU_AFFINITY: c_int = 9;
/// Child: `chroot` (`path`).
pub const SPAWNFD_STEP_CHROOT: c_int = 10;
/// Child: `setgroups`.
pub const SPAWNFD_STEP_SETGROUPS: c_int = 11;
/// Child: `setgid` (`id`).
pub const SPAWNFD_STEP_SETGID: c_int = 12;
/// Child: `setuid` (`id`).
pub const SPAWNFD_STEP_SETUID: c_int = 13;
/// Child: changing to the working directory (`path`, or `fd`, the
/// directory fd as the library's copy of it numbers it).
pub const SPAWNFD_STEP_CHDIR: c_int = 14;
/// Child: opening `/dev/null` (`fd` is the child fd it was for).
pub const SPAWNFD_STEP_DEV_NULL: c_int = 15;
/// Child: placing a file descriptor at its child fd (`fd` is the child fd).
pub const SPAWNFD_STEP_FD_MAPPING: c_int = 16;
/// Child: detaching from the controlling terminal (`TIOCNOTTY`).
pub const SPAWNFD_STEP_DETACH_TERMINAL: c_int = 17;
/// Child: acquiring the controlling terminal (`TIOCSCTTY`, `fd`).
pub const SPAWNFD_STEP_CONTROLLING_TERMINAL: c_int = 18;
/// Child: `tcsetpgrp` (`fd`).
pub const SPAWNFD_STEP_FOREGROUND: c_int = 19;
/// Child: `PR_SET_PDEATHSIG` (`signal`).
pub const SPAWNFD_STEP_PARENT_DEATH_SIGNAL: c_int = 20;
/// Child: `PR_SET_NO_NEW_PRIVS`.
pub const SPAWNFD_STEP_NO_NEW_PRIVS: c_int = 21;
/// Child: `PTRACE_TRACEME`.
pub const SPAWNFD_STEP_PTRACE: c_int = 22;
/// Child: setting the signal mask.
pub const SPAWNFD_STEP_SIGNAL_MASK: c_int = 23;
/// Child: closing the fds the child was not given.
pub const SPAWNFD_STEP_CLOSE_FDS: c_int = 24;
/// Child: `execve` (`path` is the file that failed, when one is to blame).
pub const SPAWNFD_STEP_EXEC: c_int = 25;
/// Exec in place only (not used by `spawnfd_spawn`): `unshare`.
pub const SPAWNFD_STEP_UNSHARE: c_int = 26;
/// Child: making the mount tree private or mounting `/proc` (`path`).
pub const SPAWNFD_STEP_MOUNT_PROC: c_int = 27;
/// Child: a hook (`spawnfd_cmd_hook`) returned non-zero; `id` is its
/// index (0 for the first added) and `error` the value it returned.
pub const SPAWNFD_STEP_HOOK: c_int = 28;
/// Child: the capability sets (`id` is the capability, when one is to
/// blame).
pub const SPAWNFD_STEP_CAPABILITIES: c_int = 29;
/// Child: `landlock_restrict_self`.
pub const SPAWNFD_STEP_LANDLOCK: c_int = 30;
/// Child: installing the seccomp filter, the last step before exec.
pub const SPAWNFD_STEP_SECCOMP: c_int = 31;

/// `spawnfd_error.flags`: `id` holds an id (uid, gid, process group,
/// niceness or resource number, or the index of the hook that failed,
/// per the step).
pub const SPAWNFD_ERROR_HAS_ID: u32 = 1;
/// `spawnfd_error.flags`: `program`, `path` or `message` was cut short to
/// fit (it still ends with a NUL).
pub const SPAWNFD_ERROR_TRUNCATED: u32 = 2;
/// `spawnfd_error.flags`: the child died of `signal` before it could exec
/// or report a cause (`error` is then `ECHILD`).
pub const SPAWNFD_ERROR_DIED: u32 = 4;
/// `spawnfd_error.flags`: `execve` said `ENOENT` of a file that exists:
/// its `#!` interpreter or ELF loader is missing (`path` is the file).
pub const SPAWNFD_ERROR_MISSING_INTERPRETER: u32 = 8;

/// The size of `spawnfd_error.program`.
pub const SPAWNFD_ERROR_PROGRAM_MAX: usize = 256;
/// The size of `spawnfd_error.path`.
pub const SPAWNFD_ERROR_PATH_MAX: usize = 1024;
/// The size of `spawnfd_error.message`.
pub const SPAWNFD_ERROR_MESSAGE_MAX: usize = 1536;

/// Why a spawn failed: a plain struct that the caller allocates (on the
/// stack is fine) and `spawnfd_spawn` fills in.
///
/// On success every field is zero (`fd` is -1). On failure `error` is the
/// value `spawnfd_spawn` returned, `step` the step that failed
/// (`SPAWNFD_STEP_*`, named by `spawnfd_step_name`) and `message` the
/// whole story, as `spawnfd_error_format` prints it:
///
/// ```text
/// spawn "/bin/true": chdir "/nonexistent": No such file or directory (os error 2)
/// ```
///
/// The strings always end with a NUL; one cut short to fit sets
/// `SPAWNFD_ERROR_TRUNCATED`. The struct holds no pointers: copy it,
/// keep it, free nothing.
#[repr(C)]
pub struct spawnfd_error {
    /// `SPAWNFD_STEP_*`: the step that failed.
    pub step: c_int,
    /// The errno value (also `spawnfd_spawn`'s return value).
    pub error: c_int,
    /// The fd the step worked on, -1 if none: the child fd for
    /// `SPAWNFD_STEP_FD_MAPPING` and `SPAWNFD_STEP_DEV_NULL`, the caller's
    /// fd for a copy that failed at `SPAWNFD_STEP_PREPARE`.
    pub fd: c_int,
    /// The signal involved, 0 if none: for
    /// `SPAWNFD_STEP_SIGNAL_DISPOSITION` and
    /// `SPAWNFD_STEP_PARENT_DEATH_SIGNAL`, or the one that killed the child
    /// (`SPAWNFD_ERROR_DIED`).
    pub signal: c_int,
    /// `SPAWNFD_ERROR_*` bits.
    pub flags: u32,
    /// The id the step tried to set, valid with `SPAWNFD_ERROR_HAS_ID`.
    pub id: i64,
    /// The program, as given to `spawnfd_cmd_new`.
    pub program: [c_char; SPAWNFD_ERROR_PROGRAM_MAX],
    /// The path the step worked on, empty if none.
    pub path: [c_char; SPAWNFD_ERROR_PATH_MAX],
    /// The whole error as one line of text.
    pub message: [c_char; SPAWNFD_ERROR_MESSAGE_MAX],
}

/// An error on its way to the caller's `spawnfd_error`.
#[derive(Debug, Default)]
pub(crate) struct Failure {
    pub(crate) step: c_int,
    pub(crate) error: c_int,
    pub(crate) fd: Option<c_int>,
    pub(crate) signal: c_int,
    pub(crate) flags: u32,
    pub(crate) id: i64,
    pub(crate) path: Vec<u8>,
    pub(crate) message: String,
}

impl Failure {
    /// A failure before any process, with its message.
    pub(crate) fn prepare(error: c_int, message: String) -> Failure {
        Failure {
            step: SPAWNFD_STEP_PREPARE,
            error,
            message,
            ..Failure::default()
        }
    }

    /// The failure an `io::Error` from the Rust library describes.
    pub(crate) fn from_io(e: &io::Error) -> Failure {
        let Some(spawn) = SpawnError::from_io(e) else {
            return Failure::prepare(crate::ffi::errno_of(e), e.to_string());
        };
        use std::os::unix::ffi::OsStrExt;
        let mut failure = Failure {
            step: spawn.step().code() as c_int,
            error: spawn.raw_os_error().unwrap_or(libc::ECHILD),
            fd: spawn.fd(),
            signal: spawn.signal().or(spawn.died_by_signal()).unwrap_or(0),
            path: spawn
                .path()
                .map(|p| p.as_os_str().as_bytes().to_vec())
                .unwrap_or_default(),
            message: e.to_string(),
            ..Failure::default()
        };
        if let Some(id) = spawn.id() {
            failure.id = id;
            failure.flags |= SPAWNFD_ERROR_HAS_ID;
        } else if let Some(index) = spawn.hook() {
            failure.id = index as i64;
            failure.flags |= SPAWNFD_ERROR_HAS_ID;
        } else if let Some(resource) = spawn.resource() {
            failure.id = resource.as_raw().into();
            failure.flags |= SPAWNFD_ERROR_HAS_ID;
        }
        if spawn.died_by_signal().is_some() {
            failure.flags |= SPAWNFD_ERROR_DIED;
        }
        if spawn.missing_interpreter() {
            failure.flags |= SPAWNFD_ERROR_MISSING_INTERPRETER;
        }
        failure
    }
}

/// Copies `src` into `dst` with a NUL, cut short to fit; whether it was.
fn put(dst: &mut [c_char], src: &[u8]) -> bool {
    let n = src.len().min(dst.len() - 1);
    for (d, &s) in dst.iter_mut().zip(&src[..n]) {
        *d = s as c_char;
    }
    dst[n] = 0;
    n < src.len()
}

/// Clears `*err` to "no error" (fd -1), if `err` is not `NULL`.
///
/// # Safety
///
/// `err` is `NULL` or points to a writable `spawnfd_error`.
pub(crate) unsafe fn clear(err: *mut spawnfd_error) {
    // SAFETY: NULL or writable, by the contract.
    if let Some(err) = unsafe { err.as_mut() } {
        err.step = SPAWNFD_STEP_PREPARE;
        err.error = 0;
        err.fd = -1;
        err.signal = 0;
        err.flags = 0;
        err.id = 0;
        err.program[0] = 0;
        err.path[0] = 0;
        err.message[0] = 0;
    }
}

/// Writes `failure` about `program` into `*err` (if not `NULL`); returns
/// its errno value.
///
/// # Safety
///
/// As [`clear`].
pub(crate) unsafe fn report(err: *mut spawnfd_error, program: &[u8], failure: Failure) -> c_int {
    // SAFETY: NULL or writable, by the contract.
    if let Some(err) = unsafe { err.as_mut() } {
        err.step = failure.step;
        err.error = failure.error;
        err.fd = failure.fd.unwrap_or(-1);
        err.signal = failure.signal;
        err.flags = failure.flags;
        err.id = failure.id;
        let cut = put(&mut err.program, program)
            | put(&mut err.path, &failure.path)
            | put(&mut err.message, failure.message.as_bytes());
        if cut {
            err.flags |= SPAWNFD_ERROR_TRUNCATED;
        }
    }
    failure.error
}

/// The name of step `step` (`SPAWNFD_STEP_*`), as used in messages:
/// mostly the system call's (`"exec"`, `"chdir"`, `"setuid"`); `"prepare"`
/// for `SPAWNFD_STEP_PREPARE`, `"unknown"` for a number that is no step.
///
/// Returns a static string: never `NULL`, never to be freed.
///
/// Thread-safe and async-signal-safe.
#[unsafe(no_mangle)]
pub extern "C" fn spawnfd_step_name(step: c_int) -> *const c_char {
    let name: &'static CStrLit = match step {
        SPAWNFD_STEP_PREPARE => c"prepare",
        _ => match u32::try_from(step).ok().and_then(Step::from_code) {
            Some(s) => step_c_name(s),
            None => c"unknown",
        },
    };
    name.as_ptr()
}

type CStrLit = std::ffi::CStr;

/// `Step::name` as a C string literal.
fn step_c_name(step: Step) -> &'static CStrLit {
    match step {
        Step::Pipe => c"pipe",
        Step::Clone => c"clone",
        Step::IdMap => c"write id map",
        Step::SignalDisposition => c"signal disposition",
        Step::Setsid => c"setsid",
        Step::ProcessGroup => c"setpgid",
        Step::Rlimit => c"setrlimit",
        Step::Nice => c"setpriority",
        Step::CpuAffinity => c"sched_setaffinity",
        Step::Chroot => c"chroot",
        Step::Setgroups => c"setgroups",
        Step::Setgid => c"setgid",
        Step::Setuid => c"setuid",
        Step::Chdir => c"chdir",
        Step::DevNull => c"open /dev/null",
        Step::FdMapping => c"fd mapping",
        Step::DetachTerminal => c"detach terminal",
        Step::ControllingTerminal => c"set controlling terminal",
        Step::Foreground => c"tcsetpgrp",
        Step::ParentDeathSignal => c"set parent-death signal",
        Step::NoNewPrivs => c"set no_new_privs",
        Step::Ptrace => c"ptrace traceme",
        Step::SignalMask => c"signal mask",
        Step::CloseFds => c"close fds",
        Step::Exec => c"exec",
        Step::Unshare => c"unshare",
        Step::MountProc => c"mount proc",
        Step::Hook => c"pre_exec hook",
        Step::Capabilities => c"capabilities",
        Step::Landlock => c"landlock_restrict_self",
        Step::Seccomp => c"seccomp filter",
        _ => c"unknown",
    }
}

/// Writes the error `err` describes into `buf` as one line of text, as
/// `snprintf` does: at most `len - 1` bytes and a NUL (nothing when `len`
/// is 0).
///
/// The text is `err->message` when it is set (what `spawnfd_spawn` wrote),
/// else one made of the step's name and the errno's description.
///
/// Returns the length of the whole text, without the NUL: a value of
/// `len` or more means it was cut short. `buf` may be `NULL` when `len` is
/// 0 (to learn the size). A `NULL` `err` gives an empty text.
///
/// Thread-safe; does not change `errno`.
///
/// # Safety
///
/// `err` is `NULL` or a `spawnfd_error` whose strings end with a NUL;
/// `buf` has room for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_error_format(
    err: *const spawnfd_error,
    buf: *mut c_char,
    len: usize,
) -> usize {
    let _entry = crate::ffi::Entry::new();
    // SAFETY: NULL or a valid error, by the contract.
    let text: Vec<u8> = match unsafe { err.as_ref() } {
        None => Vec::new(),
        Some(err) => {
            // SAFETY: the struct's strings end with a NUL, by the contract;
            // the array is the pointer's whole extent.
            let message = unsafe { std::ffi::CStr::from_ptr(err.message.as_ptr()) };
            if !message.is_empty() {
                message.to_bytes().to_vec()
            } else if err.error == 0 {
                b"no error".to_vec()
            } else {
                // SAFETY: spawnfd_step_name returns a static C string.
                let name = unsafe { std::ffi::CStr::from_ptr(spawnfd_step_name(err.step)) };
                format!(
                    "{}: {}",
                    name.to_string_lossy(),
                    io::Error::from_raw_os_error(err.error)
                )
                .into_bytes()
            }
        }
    };
    if len > 0 && !buf.is_null() {
        let n = text.len().min(len - 1);
        // SAFETY: `buf` has room for `len` bytes and `n < len`; `text` is
        // ours, so they do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
            *buf.add(n) = 0;
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step the Rust library names has its code and name here.
    #[test]
    fn step_codes_and_names_are_the_libraries() {
        let consts = [
            SPAWNFD_STEP_PIPE,
            SPAWNFD_STEP_CLONE,
            SPAWNFD_STEP_ID_MAP,
            SPAWNFD_STEP_SIGNAL_DISPOSITION,
            SPAWNFD_STEP_SETSID,
            SPAWNFD_STEP_PROCESS_GROUP,
            SPAWNFD_STEP_RLIMIT,
            SPAWNFD_STEP_NICE,
            SPAWNFD_STEP_CPU_AFFINITY,
            SPAWNFD_STEP_CHROOT,
            SPAWNFD_STEP_SETGROUPS,
            SPAWNFD_STEP_SETGID,
            SPAWNFD_STEP_SETUID,
            SPAWNFD_STEP_CHDIR,
            SPAWNFD_STEP_DEV_NULL,
            SPAWNFD_STEP_FD_MAPPING,
            SPAWNFD_STEP_DETACH_TERMINAL,
            SPAWNFD_STEP_CONTROLLING_TERMINAL,
            SPAWNFD_STEP_FOREGROUND,
            SPAWNFD_STEP_PARENT_DEATH_SIGNAL,
            SPAWNFD_STEP_NO_NEW_PRIVS,
            SPAWNFD_STEP_PTRACE,
            SPAWNFD_STEP_SIGNAL_MASK,
            SPAWNFD_STEP_CLOSE_FDS,
            SPAWNFD_STEP_EXEC,
            SPAWNFD_STEP_UNSHARE,
            SPAWNFD_STEP_MOUNT_PROC,
            SPAWNFD_STEP_HOOK,
            SPAWNFD_STEP_CAPABILITIES,
            SPAWNFD_STEP_LANDLOCK,
            SPAWNFD_STEP_SECCOMP,
        ];
        for (i, &code) in consts.iter().enumerate() {
            assert_eq!(code as usize, i + 1);
            let step = Step::from_code(code as u32).expect("a step");
            // SAFETY: a static C string.
            let name = unsafe { std::ffi::CStr::from_ptr(spawnfd_step_name(code)) };
            assert_eq!(name.to_str().unwrap(), step.name(), "{step:?}");
        }
        // A step the Rust library adds must get a constant here.
        assert_eq!(Step::from_code(consts.len() as u32 + 1), None);
    }
}

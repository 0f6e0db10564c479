//! `spawnfd_cmd`: the command, built with setters that check what they
//! can at once, and turned into a `spawnfd::Command` at each spawn.
//!
//! # Safety
//!
//! The `unsafe` reads the caller's strings and arrays (see `ffi.rs`) and
//! takes the command pointer the caller got from `spawnfd_cmd_new`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString, c_char, c_int, c_uint, c_void};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use spawnfd_core::{IdMap, Namespaces, Resource, Signal, SignalSet};

use crate::ffi::{entry, owned, slice};

/// `spawnfd_cmd_stdin` and friends: the parent's fd of the same number
/// (the default); `/dev/null` if it is closed. (The header's definition
/// is written in `cbindgen.toml`, parenthesised.)
pub const SPAWNFD_INHERIT: c_int = -1;
/// `spawnfd_cmd_stdin` and friends: `/dev/null`.
pub const SPAWNFD_NULL: c_int = -2;

/// `spawnfd_cmd_unshare`: a mount namespace (`CLONE_NEWNS`).
pub const SPAWNFD_NS_MOUNT: u64 = 0x0002_0000;
/// `spawnfd_cmd_unshare`: a UTS namespace (`CLONE_NEWUTS`).
pub const SPAWNFD_NS_UTS: u64 = 0x0400_0000;
/// `spawnfd_cmd_unshare`: an IPC namespace (`CLONE_NEWIPC`).
pub const SPAWNFD_NS_IPC: u64 = 0x0800_0000;
/// `spawnfd_cmd_unshare`: a network namespace (`CLONE_NEWNET`).
pub const SPAWNFD_NS_NET: u64 = 0x4000_0000;
/// `spawnfd_cmd_unshare`: a PID namespace (`CLONE_NEWPID`).
pub const SPAWNFD_NS_PID: u64 = 0x2000_0000;
/// `spawnfd_cmd_unshare`: a cgroup namespace (`CLONE_NEWCGROUP`).
pub const SPAWNFD_NS_CGROUP: u64 = 0x0200_0000;
/// `spawnfd_cmd_unshare`: a user namespace (`CLONE_NEWUSER`).
pub const SPAWNFD_NS_USER: u64 = 0x1000_0000;
/// `spawnfd_cmd_unshare`: a time namespace (`CLONE_NEWTIME`, Linux 5.6).
pub const SPAWNFD_NS_TIME: u64 = 0x80;

/// The most lines a `uid_map` or `gid_map` takes (Linux 4.15).
const MAX_MAP_LINES: usize = 340;
/// The most supplementary groups (`NGROUPS_MAX`).
const MAX_GROUPS: usize = 65536;
/// The most CPUs `spawnfd_cmd_cpu_affinity` takes.
const MAX_CPUS: c_uint = 1 << 16;

/// One line of a `uid_map` or `gid_map`: ids `inside .. inside + count`
/// in the new user namespace are `outside .. outside + count` outside it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct spawnfd_id_map {
    /// The first id inside the namespace.
    pub inside: u32,
    /// The first id outside (in this process's user namespace).
    pub outside: u32,
    /// How many ids (at least 1).
    pub count: u32,
}

/// A command to spawn: the program, its arguments and environment, its
/// fds and every attribute of the child. Opaque: made by
/// `spawnfd_cmd_new`, changed by the `spawnfd_cmd_*` setters, spawned by
/// `spawnfd_spawn` (as often as you like) and freed by `spawnfd_cmd_free`.
///
/// It holds copies of every string and array it is given, and the
/// *numbers* of the caller's fds, which it borrows: nothing is opened or
/// closed until a spawn, which copies them for the child and closes its
/// copies before it returns.
pub struct spawnfd_cmd {
    pub(crate) r: Recipe,
}

/// Where a child's standard fd comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Inherit,
    Null,
    /// The caller's fd, borrowed.
    Fd(RawFd),
}

/// The working directory.
#[derive(Clone, Debug)]
pub(crate) enum Cwd {
    Path(PathBuf),
    Fd(RawFd),
}

/// The cgroup.
#[derive(Clone, Debug)]
pub(crate) enum Cgroup {
    Path(PathBuf),
    Fd(RawFd),
}

/// The child's signal mask.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mask {
    Empty,
    Inherit,
    Set(SignalSet),
}

/// A child hook as C gives it (`spawnfd_cmd_hook`).
type HookFn = unsafe extern "C" fn(arg: *mut c_void) -> c_int;

/// A hook and its argument, run in the child (`spawnfd_cmd_hook`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CHook {
    pub(crate) f: HookFn,
    pub(crate) arg: *mut c_void,
}

// SAFETY: the hook and its argument are the caller's, who promised
// (spawnfd_cmd_hook's contract) that they may be used from the thread that
// spawns, in the child; the library only passes the pointer along.
unsafe impl Send for CHook {}
// SAFETY: as above; the library never dereferences `arg`.
unsafe impl Sync for CHook {}

impl CHook {
    /// Runs the hook: what it returned.
    ///
    /// # Safety
    ///
    /// In the child, under the rules `spawnfd_cmd_hook` states.
    pub(crate) unsafe fn call(&self) -> c_int {
        // SAFETY: the caller's function and argument, as given.
        unsafe { (self.f)(self.arg) }
    }
}

/// Everything a command says, as plain values.
#[derive(Clone, Debug)]
pub(crate) struct Recipe {
    pub(crate) program: OsString,
    pub(crate) arg0: Option<OsString>,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<Cwd>,
    pub(crate) stdio: [Source; 3],
    /// Child fd (3 and up) -> the caller's fd.
    pub(crate) fds: BTreeMap<RawFd, RawFd>,
    pub(crate) setsid: bool,
    pub(crate) pgid: Option<i32>,
    pub(crate) ctty: Option<RawFd>,
    pub(crate) noctty: bool,
    pub(crate) foreground: Option<RawFd>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) umask: Option<u32>,
    pub(crate) rlimits: Vec<(Resource, u64, u64)>,
    pub(crate) nice: Option<i32>,
    pub(crate) cpus: Option<Vec<usize>>,
    pub(crate) pdeathsig: Option<Signal>,
    pub(crate) no_new_privs: bool,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) namespaces: Namespaces,
    pub(crate) mount_proc: bool,
    pub(crate) uid_map: Vec<IdMap>,
    pub(crate) gid_map: Vec<IdMap>,
    pub(crate) traceme: bool,
    pub(crate) ignore: SignalSet,
    pub(crate) reset_ignored: bool,
    pub(crate) mask: Mask,
    pub(crate) exit_signal: Option<Signal>,
    /// The child hooks, in the order they run.
    pub(crate) hooks: Vec<CHook>,
    /// The fork path (`spawnfd_cmd_use_fork`).
    pub(crate) use_fork: bool,
    /// Inherited fds left as they are (`spawnfd_cmd_keep_inherited_fds`).
    pub(crate) keep_fds: bool,
    /// Reset to `SIG_DFL` even when ignored ones are kept.
    pub(crate) default_signals: SignalSet,
    /// Where a program without `/` is searched for, instead of `PATH`.
    pub(crate) search_path: Option<OsString>,
    pub(crate) bounding_caps: Option<u64>,
    pub(crate) inheritable_caps: Option<u64>,
    pub(crate) ambient_caps: Option<u64>,
    pub(crate) keep_caps: bool,
    pub(crate) seccomp: Option<Vec<libc::sock_filter>>,
    /// The caller's Landlock ruleset fd, copied at each spawn.
    pub(crate) landlock: Option<RawFd>,
}

impl Recipe {
    fn new(program: OsString) -> Recipe {
        Recipe {
            program,
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdio: [Source::Inherit; 3],
            fds: BTreeMap::new(),
            setsid: false,
            pgid: None,
            ctty: None,
            noctty: false,
            foreground: None,
            uid: None,
            gid: None,
            groups: None,
            chroot: None,
            umask: None,
            rlimits: Vec::new(),
            nice: None,
            cpus: None,
            pdeathsig: None,
            no_new_privs: false,
            cgroup: None,
            namespaces: Namespaces::NONE,
            mount_proc: false,
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            traceme: false,
            ignore: SignalSet::empty(),
            reset_ignored: true,
            mask: Mask::Empty,
            exit_signal: Some(Signal::CHLD),
            hooks: Vec::new(),
            use_fork: false,
            keep_fds: false,
            default_signals: SignalSet::empty(),
            search_path: None,
            bounding_caps: None,
            inheritable_caps: None,
            ambient_caps: None,
            keep_caps: false,
            seccomp: None,
            landlock: None,
        }
    }
}

/// Runs a setter: `EINVAL` for a `NULL` command, else `set`'s result.
///
/// # Safety
///
/// `cmd` is `NULL` or a command from `spawnfd_cmd_new`, not freed, that
/// no other thread uses meanwhile.
unsafe fn setter(
    cmd: *mut spawnfd_cmd,
    set: impl FnOnce(&mut Recipe) -> Result<(), c_int>,
) -> c_int {
    entry(|| {
        // SAFETY: NULL or a live command used by this thread only, by the
        // contract.
        match unsafe { cmd.as_mut() } {
            None => libc::EINVAL,
            Some(cmd) => set(&mut cmd.r).err().unwrap_or(0),
        }
    })
}

/// A signal number (1 to 64), else `EINVAL`.
fn signal(sig: c_int) -> Result<Signal, c_int> {
    Signal::new(sig).ok_or(libc::EINVAL)
}

/// The set in a `sigset_t` (its first 64 bits, the kernel's mask).
///
/// # Safety
///
/// `set` is `NULL` or points to a `sigset_t`.
pub(crate) unsafe fn sigset(set: *const libc::sigset_t) -> Result<SignalSet, c_int> {
    if set.is_null() {
        return Err(libc::EINVAL);
    }
    let mut bits = 0u64;
    for sig in 1..=64 {
        // SAFETY: a valid sigset_t by the contract; sigismember only reads
        // it.
        if unsafe { libc::sigismember(set, sig) } == 1 {
            bits |= 1 << (sig - 1);
        }
    }
    Ok(SignalSet::from_raw(bits))
}

/// A child fd: 0 or more.
fn child_fd(fd: c_int) -> Result<RawFd, c_int> {
    if fd < 0 { Err(libc::EINVAL) } else { Ok(fd) }
}

/// A `0`/non-zero flag.
fn is_set(flag: c_int) -> bool {
    flag != 0
}

/// Id map lines, each mapping at least one id.
///
/// # Safety
///
/// `map` points to `n` lines, or `n` is 0.
unsafe fn id_map(map: *const spawnfd_id_map, n: usize) -> Result<Vec<IdMap>, c_int> {
    if n > MAX_MAP_LINES {
        return Err(libc::EINVAL);
    }
    // SAFETY: `n` lines, by the contract.
    let lines = unsafe { slice(map, n) }?;
    lines
        .iter()
        .map(|l| {
            if l.count == 0 {
                return Err(libc::EINVAL);
            }
            Ok(IdMap {
                inside: l.inside,
                outside: l.outside,
                count: l.count,
            })
        })
        .collect()
}

/// Makes a command that runs `program` and stores it in `*cmd`.
///
/// A `program` without a `/` is searched for in `PATH` (the child's
/// `PATH` when the environment is changed), as `execvp` does. `argv[0]` is
/// `program` unless `spawnfd_cmd_arg0` says otherwise. By default the
/// child inherits the environment, the working directory and fds 0, 1
/// and 2, and gets no other fd, every signal disposition reset to
/// `SIG_DFL` and an empty signal mask.
///
/// Returns 0, or:
/// - `EINVAL`: `cmd` or `program` is `NULL`, or `program` is empty;
/// - `ENOMEM`.
///
/// Thread-safe. Free the command with `spawnfd_cmd_free`.
///
/// # Safety
///
/// `cmd` points to writable storage for a pointer; `program` is `NULL` or
/// a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_new(
    cmd: *mut *mut spawnfd_cmd,
    program: *const c_char,
) -> c_int {
    entry(|| {
        if cmd.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: a C string or NULL, by the contract.
        let program = match unsafe { owned(program) } {
            Ok(p) if !p.is_empty() => p,
            _ => return libc::EINVAL,
        };
        let made = Box::new(spawnfd_cmd {
            r: Recipe::new(program),
        });
        // SAFETY: writable, by the contract.
        unsafe { *cmd = Box::into_raw(made) };
        0
    })
}

/// Frees a command. `NULL` is ignored. Closes no fd (the command only
/// borrows fd numbers). Do not free a command that another thread is
/// spawning from.
///
/// # Safety
///
/// `cmd` is `NULL` or a command from `spawnfd_cmd_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_free(cmd: *mut spawnfd_cmd) {
    entry(|| {
        if !cmd.is_null() {
            // SAFETY: made by Box::into_raw in spawnfd_cmd_new and not yet
            // freed, by the contract.
            drop(unsafe { Box::from_raw(cmd) });
        }
        0
    });
}

/// Adds an argument (after `argv[0]`).
///
/// Returns 0, or `EINVAL` (`cmd` or `arg` is `NULL`), `ENOMEM`.
///
/// # Safety
///
/// `cmd` is a live command no other thread uses meanwhile; `arg` is
/// `NULL` or a C string. (The same holds for every setter.)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_arg(cmd: *mut spawnfd_cmd, arg: *const c_char) -> c_int {
    // SAFETY: a C string or NULL, by the contract.
    let arg = unsafe { owned(arg) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.args.push(arg?);
            Ok(())
        })
    }
}

/// Adds the arguments of the `NULL`-terminated array `argv` (after
/// `argv[0]`). `argv` itself may be `NULL`: nothing is added.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`), `ENOMEM`.
///
/// # Safety
///
/// `argv` is `NULL` or a `NULL`-terminated array of C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_args(
    cmd: *mut spawnfd_cmd,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            let mut at = argv;
            while !at.is_null() {
                // SAFETY: a NULL-terminated array, by the contract: `at`
                // is within it until its NULL is read.
                let arg = *at;
                if arg.is_null() {
                    break;
                }
                // SAFETY: a C string, by the contract.
                r.args.push(owned(arg)?);
                // SAFETY: the array goes on past a non-NULL element.
                at = at.add(1);
            }
            Ok(())
        })
    }
}

/// Sets `argv[0]`, which is the program by default.
///
/// Returns 0, or `EINVAL` (a `NULL` argument), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_arg0(cmd: *mut spawnfd_cmd, arg0: *const c_char) -> c_int {
    // SAFETY: a C string or NULL, by the contract.
    let arg0 = unsafe { owned(arg0) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.arg0 = Some(arg0?);
            Ok(())
        })
    }
}

/// Sets the environment variable `key` to `value` in the child.
///
/// Returns 0, or `EINVAL` (a `NULL` argument, an empty `key` or one that
/// holds `=`), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_env(
    cmd: *mut spawnfd_cmd,
    key: *const c_char,
    value: *const c_char,
) -> c_int {
    // SAFETY: C strings or NULL, by the contract.
    let (key, value) = unsafe { (owned(key), owned(value)) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            let key = env_key(key?)?;
            r.env.insert(key, Some(value?));
            Ok(())
        })
    }
}

/// An environment key: not empty, no `=`.
fn env_key(key: OsString) -> Result<OsString, c_int> {
    if key.is_empty() || key.as_bytes().contains(&b'=') {
        return Err(libc::EINVAL);
    }
    Ok(key)
}

/// Removes the variable `key` from the child's environment.
///
/// Returns 0, or `EINVAL` (a `NULL` argument, an empty `key` or one that
/// holds `=`), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_env_remove(
    cmd: *mut spawnfd_cmd,
    key: *const c_char,
) -> c_int {
    // SAFETY: a C string or NULL, by the contract.
    let key = unsafe { owned(key) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            let key = env_key(key?)?;
            if r.env_clear {
                r.env.remove(&key);
            } else {
                r.env.insert(key, None);
            }
            Ok(())
        })
    }
}

/// Starts the child with an empty environment, plus what is set after.
///
/// The environment a child inherits otherwise is one snapshot of this
/// process's, taken at the spawn under the lock `setenv` takes in Rust
/// (C's `setenv` takes none: do not call it while another thread spawns).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_env_clear(cmd: *mut spawnfd_cmd) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.env_clear = true;
            r.env.clear();
            Ok(())
        })
    }
}

/// Sets the child's working directory (a relative program path is then
/// relative to it). The child enters it after `chroot` and after taking
/// its credentials; a failure is `SPAWNFD_STEP_CHDIR` with the path.
/// Replaces `spawnfd_cmd_cwd_fd`.
///
/// Returns 0, or `EINVAL` (a `NULL` argument), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_cwd(cmd: *mut spawnfd_cmd, dir: *const c_char) -> c_int {
    // SAFETY: a C string or NULL, by the contract.
    let dir = unsafe { owned(dir) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.cwd = Some(Cwd::Path(dir?.into()));
            Ok(())
        })
    }
}

/// Sets the child's working directory to the open directory `dirfd`
/// (`fchdir`), entered early, before the fds are placed, `chroot` and the
/// credentials. The fd is borrowed: it must stay open until the spawns
/// are done. Replaces `spawnfd_cmd_cwd`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `dirfd` negative).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_cwd_fd(cmd: *mut spawnfd_cmd, dirfd: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.cwd = Some(Cwd::Fd(child_fd(dirfd)?));
            Ok(())
        })
    }
}

fn stdio(r: &mut Recipe, which: usize, how: c_int) -> Result<(), c_int> {
    r.stdio[which] = match how {
        SPAWNFD_INHERIT => Source::Inherit,
        SPAWNFD_NULL => Source::Null,
        fd if fd >= 0 => Source::Fd(fd),
        _ => return Err(libc::EINVAL),
    };
    Ok(())
}

/// The child's fd 0: `SPAWNFD_INHERIT` (the default), `SPAWNFD_NULL`, or
/// an fd of the caller's, borrowed (copied at each spawn, never closed).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, or `how` is negative and
/// neither constant).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_stdin(cmd: *mut spawnfd_cmd, how: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe { setter(cmd, |r| stdio(r, 0, how)) }
}

/// The child's fd 1, as `spawnfd_cmd_stdin`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_stdout(cmd: *mut spawnfd_cmd, how: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe { setter(cmd, |r| stdio(r, 1, how)) }
}

/// The child's fd 2, as `spawnfd_cmd_stdin`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_stderr(cmd: *mut spawnfd_cmd, how: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe { setter(cmd, |r| stdio(r, 2, how)) }
}

/// Gives the child the caller's fd `parent_fd` as its fd `child_fd`.
///
/// The fd is **borrowed**: each spawn copies it (`F_DUPFD_CLOEXEC`, above
/// fd 2) and closes the copy before it returns; the caller's fd is never
/// closed and must stay open until the spawns are done. Any mapping works,
/// swaps and cycles included (`child_fd` may be another mapping's
/// `parent_fd`). A `child_fd` of 0, 1 or 2 is `spawnfd_cmd_stdin`,
/// `_stdout` or `_stderr` with that fd. A later call for the same
/// `child_fd` replaces the earlier one. The child gets no other fd but 0,
/// 1 and 2, whatever other threads open meanwhile.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, an fd negative), `ENOMEM`.
/// A `parent_fd` that is not open at the spawn is `EBADF` there, at
/// `SPAWNFD_STEP_PREPARE`, before any process exists.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_fd(
    cmd: *mut spawnfd_cmd,
    child: c_int,
    parent_fd: c_int,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            let child = child_fd(child)?;
            let parent = child_fd(parent_fd)?;
            if let Ok(which @ 0..3) = usize::try_from(child) {
                return stdio(r, which, parent);
            }
            r.fds.insert(child, parent);
            Ok(())
        })
    }
}

/// Makes the child the leader of a new session (`setsid`) when `on` is
/// non-zero. Conflicts with `spawnfd_cmd_process_group` (`EINVAL` at the
/// spawn).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_setsid(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.setsid = is_set(on);
            Ok(())
        })
    }
}

/// Puts the child in process group `pgid` (`setpgid(0, pgid)`); 0 makes a
/// new group led by the child.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `pgid` negative).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_process_group(
    cmd: *mut spawnfd_cmd,
    pgid: libc::pid_t,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if pgid < 0 {
                return Err(libc::EINVAL);
            }
            r.pgid = Some(pgid);
            Ok(())
        })
    }
}

/// Makes the terminal at child fd `fd` the child's controlling terminal
/// (`TIOCSCTTY`). Needs `spawnfd_cmd_setsid`, and `fd` must be one of the
/// child's fds (checked at the spawn: `EINVAL`).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `fd` negative).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_controlling_terminal(
    cmd: *mut spawnfd_cmd,
    fd: c_int,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.ctty = Some(child_fd(fd)?);
            Ok(())
        })
    }
}

/// Detaches the child from the parent's controlling terminal
/// (`TIOCNOTTY`) when `on` is non-zero. Conflicts with
/// `spawnfd_cmd_setsid` and `spawnfd_cmd_controlling_terminal`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_detach_terminal(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.noctty = is_set(on);
            Ok(())
        })
    }
}

/// Puts the child's process group in the foreground of the terminal at
/// child fd `fd` (`tcsetpgrp`), without a `SIGTTOU` stopping it.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `fd` negative).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_foreground(cmd: *mut spawnfd_cmd, fd: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.foreground = Some(child_fd(fd)?);
            Ok(())
        })
    }
}

/// Sets the child's user id (`setuid`, after its groups and group id). A
/// root parent that sets a uid but no groups drops its supplementary
/// groups in the child, as Rust's std does.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `uid` is `(uid_t)-1`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_uid(cmd: *mut spawnfd_cmd, uid: libc::uid_t) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if uid == libc::uid_t::MAX {
                return Err(libc::EINVAL);
            }
            r.uid = Some(uid);
            Ok(())
        })
    }
}

/// Sets the child's group id (`setgid`, after its groups, before its uid).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `gid` is `(gid_t)-1`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_gid(cmd: *mut spawnfd_cmd, gid: libc::gid_t) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if gid == libc::gid_t::MAX {
                return Err(libc::EINVAL);
            }
            r.gid = Some(gid);
            Ok(())
        })
    }
}

/// Sets the child's supplementary groups (`setgroups`, first of its
/// credentials) to the `n` groups at `groups` (`n` may be 0: none).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `groups` `NULL` with `n` > 0,
/// `n` above 65536, a group `(gid_t)-1`), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `groups` holds `n` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_groups(
    cmd: *mut spawnfd_cmd,
    groups: *const libc::gid_t,
    n: usize,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if n > MAX_GROUPS {
                return Err(libc::EINVAL);
            }
            // SAFETY: `n` values, by the contract.
            let groups = slice(groups, n)?;
            if groups.contains(&libc::gid_t::MAX) {
                return Err(libc::EINVAL);
            }
            r.groups = Some(groups.to_vec());
            Ok(())
        })
    }
}

/// Changes the child's root directory (`chroot`) before it takes its
/// credentials; the working directory, the program path and `PATH` are
/// then resolved inside it. Does not change directory: add
/// `spawnfd_cmd_cwd(cmd, "/")`.
///
/// Returns 0, or `EINVAL` (a `NULL` argument), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_chroot(cmd: *mut spawnfd_cmd, dir: *const c_char) -> c_int {
    // SAFETY: a C string or NULL, by the contract.
    let dir = unsafe { owned(dir) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.chroot = Some(dir?.into());
            Ok(())
        })
    }
}

/// Sets the child's file mode creation mask (`umask`).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `mask` has bits beyond 0777).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_umask(cmd: *mut spawnfd_cmd, mask: libc::mode_t) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if mask > 0o777 {
                return Err(libc::EINVAL);
            }
            r.umask = Some(mask);
            Ok(())
        })
    }
}

/// Sets the child's soft and hard limit of `resource` (`RLIMIT_*`, with
/// `prlimit`, before it drops privileges). `RLIM_INFINITY` is no limit. A
/// later call for the same resource replaces an earlier one.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, an unknown resource, `soft`
/// above `hard`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_rlimit(
    cmd: *mut spawnfd_cmd,
    resource: c_int,
    soft: libc::rlim_t,
    hard: libc::rlim_t,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            let resource = Resource::new(resource).ok_or(libc::EINVAL)?;
            if soft > hard {
                return Err(libc::EINVAL);
            }
            r.rlimits.retain(|(res, _, _)| *res != resource);
            r.rlimits.push((resource, soft, hard));
            Ok(())
        })
    }
}

/// Sets the child's niceness, -20 to 19 (`setpriority`); below the
/// parent's needs privilege (`EACCES`/`EPERM` at `SPAWNFD_STEP_NICE`).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, out of range).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_nice(cmd: *mut spawnfd_cmd, nice: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if !(-20..=19).contains(&nice) {
                return Err(libc::EINVAL);
            }
            r.nice = Some(nice);
            Ok(())
        })
    }
}

/// Restricts the child to the `n` CPUs numbered in `cpus`
/// (`sched_setaffinity`).
///
/// Returns 0, or `EINVAL` (`cmd` or `cpus` is `NULL`, `n` is 0, a CPU
/// number of 65536 or more), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `cpus` holds `n` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_cpu_affinity(
    cmd: *mut spawnfd_cmd,
    cpus: *const c_uint,
    n: usize,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            // SAFETY: `n` values, by the contract.
            let cpus = slice(cpus, n)?;
            if cpus.is_empty() || cpus.iter().any(|&c| c >= MAX_CPUS) {
                return Err(libc::EINVAL);
            }
            r.cpus = Some(cpus.iter().map(|&c| c as usize).collect());
            Ok(())
        })
    }
}

/// Has the kernel send `sig` to the child when the thread that spawned it
/// exits (`PR_SET_PDEATHSIG`; the *thread*, not the process: spawn from a
/// thread that lives as long as the child should).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, not a signal 1 to 64).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_parent_death_signal(
    cmd: *mut spawnfd_cmd,
    sig: c_int,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.pdeathsig = Some(signal(sig)?);
            Ok(())
        })
    }
}

/// Sets `PR_SET_NO_NEW_PRIVS` in the child when `on` is non-zero.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_no_new_privs(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.no_new_privs = is_set(on);
            Ok(())
        })
    }
}

/// Starts the child in the cgroup v2 directory `dir` (`CLONE_INTO_CGROUP`
/// since Linux 5.7; else the child joins it first thing). A failure is
/// `SPAWNFD_STEP_CLONE`; a path that is no cgroup v2 directory is
/// `EINVAL` at the spawn. Replaces `spawnfd_cmd_cgroup_fd`.
///
/// Returns 0, or `EINVAL` (a `NULL` argument), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_cgroup(cmd: *mut spawnfd_cmd, dir: *const c_char) -> c_int {
    // SAFETY: a C string or NULL, by the contract.
    let dir = unsafe { owned(dir) };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.cgroup = Some(Cgroup::Path(dir?.into()));
            Ok(())
        })
    }
}

/// As `spawnfd_cmd_cgroup`, with the cgroup directory open as `dirfd`
/// (borrowed, as every fd given to a command).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `dirfd` negative).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_cgroup_fd(cmd: *mut spawnfd_cmd, dirfd: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.cgroup = Some(Cgroup::Fd(child_fd(dirfd)?));
            Ok(())
        })
    }
}

/// Creates the child in new namespaces: `SPAWNFD_NS_*` bits (the
/// `CLONE_NEW*` flags). Adds to earlier calls. A new user namespace wants
/// its maps (`spawnfd_cmd_uid_map`, `spawnfd_cmd_gid_map`).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, a bit that is no namespace).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_unshare(cmd: *mut spawnfd_cmd, namespaces: u64) -> c_int {
    const ALL: u64 = SPAWNFD_NS_MOUNT
        | SPAWNFD_NS_UTS
        | SPAWNFD_NS_IPC
        | SPAWNFD_NS_NET
        | SPAWNFD_NS_PID
        | SPAWNFD_NS_CGROUP
        | SPAWNFD_NS_USER
        | SPAWNFD_NS_TIME;
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            if namespaces & !ALL != 0 {
                return Err(libc::EINVAL);
            }
            for (bit, ns) in [
                (SPAWNFD_NS_MOUNT, Namespaces::MOUNT),
                (SPAWNFD_NS_UTS, Namespaces::UTS),
                (SPAWNFD_NS_IPC, Namespaces::IPC),
                (SPAWNFD_NS_NET, Namespaces::NET),
                (SPAWNFD_NS_PID, Namespaces::PID),
                (SPAWNFD_NS_CGROUP, Namespaces::CGROUP),
                (SPAWNFD_NS_USER, Namespaces::USER),
                (SPAWNFD_NS_TIME, Namespaces::TIME),
            ] {
                if namespaces & bit != 0 {
                    r.namespaces |= ns;
                }
            }
            Ok(())
        })
    }
}

/// Mounts a fresh procfs on the child's `/proc` when `on` is non-zero, as
/// `unshare --mount-proc`. Needs `SPAWNFD_NS_MOUNT` (`EINVAL` at the
/// spawn); meant with `SPAWNFD_NS_PID`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_mount_proc(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.mount_proc = is_set(on);
            Ok(())
        })
    }
}

/// The `uid_map` of the child's new user namespace: `n` lines (up to 340),
/// written by the parent before the child goes on.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `map` `NULL` with `n` > 0, a
/// line with `count` 0, more than 340 lines), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `map` holds `n` lines.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_uid_map(
    cmd: *mut spawnfd_cmd,
    map: *const spawnfd_id_map,
    n: usize,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            // SAFETY: `n` lines, by the contract.
            r.uid_map = id_map(map, n)?;
            Ok(())
        })
    }
}

/// The `gid_map` of the child's new user namespace, as
/// `spawnfd_cmd_uid_map`. Where the parent lacks `CAP_SETGID` there,
/// `setgroups` is denied in the namespace first, as the kernel requires.
///
/// # Safety
///
/// As `spawnfd_cmd_uid_map`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_gid_map(
    cmd: *mut spawnfd_cmd,
    map: *const spawnfd_id_map,
    n: usize,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            // SAFETY: `n` lines, by the contract.
            r.gid_map = id_map(map, n)?;
            Ok(())
        })
    }
}

/// Makes the child a tracee of this process (`PTRACE_TRACEME`) when `on`
/// is non-zero: it stops with `SIGTRAP` after the exec.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_ptrace_traceme(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.traceme = is_set(on);
            Ok(())
        })
    }
}

/// Sets the signals in `set` to `SIG_IGN` in the child (after the reset of
/// the parent's ignored ones); they stay ignored across `execve`.
/// Replaces an earlier set.
///
/// Returns 0, or `EINVAL` (a `NULL` argument, `SIGKILL` or `SIGSTOP` in
/// the set).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `set` is `NULL` or a `sigset_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_ignore_signals(
    cmd: *mut spawnfd_cmd,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            // SAFETY: NULL or a sigset_t, by the contract.
            let set = sigset(set)?;
            if set.contains(Signal::KILL) || set.contains(Signal::STOP) {
                return Err(libc::EINVAL);
            }
            r.ignore = set;
            Ok(())
        })
    }
}

/// Sets the child's signal mask to `set` (`SIGKILL` and `SIGSTOP` are
/// left out by the kernel). The default is an empty mask. Replaces
/// `spawnfd_cmd_inherit_signal_mask`.
///
/// Returns 0, or `EINVAL` (a `NULL` argument).
///
/// # Safety
///
/// As `spawnfd_cmd_ignore_signals`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_signal_mask(
    cmd: *mut spawnfd_cmd,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            // SAFETY: NULL or a sigset_t, by the contract.
            r.mask = Mask::Set(sigset(set)?);
            Ok(())
        })
    }
}

/// Gives the child the signal mask of the thread that spawns it, as
/// `fork` does, instead of an empty one (`on` non-zero); `on` 0 goes back
/// to the empty mask.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_inherit_signal_mask(
    cmd: *mut spawnfd_cmd,
    on: c_int,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.mask = if is_set(on) {
                Mask::Inherit
            } else {
                Mask::Empty
            };
            Ok(())
        })
    }
}

/// Whether signals the parent ignores are reset to `SIG_DFL` in the child
/// (non-zero, the default) or stay ignored (0), as `execve` leaves them.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_reset_ignored_signals(
    cmd: *mut spawnfd_cmd,
    on: c_int,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.reset_ignored = is_set(on);
            Ok(())
        })
    }
}

/// Resets the signals of `set` to `SIG_DFL` in the child even where
/// `spawnfd_cmd_reset_ignored_signals(cmd, 0)` keeps the ignored ones
/// (`posix_spawn`'s `POSIX_SPAWN_SETSIGDEF`). Replaces an earlier set.
///
/// Returns 0, or `EINVAL` (a `NULL` argument).
///
/// # Safety
///
/// As `spawnfd_cmd_ignore_signals`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_default_signals(
    cmd: *mut spawnfd_cmd,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            // SAFETY: NULL or a sigset_t, by the contract.
            r.default_signals = sigset(set)?;
            Ok(())
        })
    }
}

/// Searches for a program without a `/` in `dirs` (a `PATH`-style list)
/// instead of the child's `PATH`; `NULL` goes back to `PATH`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `dirs` is `NULL` or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_search_path(
    cmd: *mut spawnfd_cmd,
    dirs: *const c_char,
) -> c_int {
    // SAFETY: NULL or a C string, by the contract.
    let dirs = unsafe { crate::ffi::os_str(dirs) }.map(OsStr::to_owned);
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.search_path = dirs;
            Ok(())
        })
    }
}

/// Keeps only the capabilities of the mask `caps` (bit N for capability
/// N, as in `/proc/PID/status`) in the child's bounding set
/// (`PR_CAPBSET_DROP` of the others, before the credentials change:
/// needs `CAP_SETPCAP`). A failure is `SPAWNFD_STEP_CAPABILITIES`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_capability_bounding_set(
    cmd: *mut spawnfd_cmd,
    caps: u64,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.bounding_caps = Some(caps);
            Ok(())
        })
    }
}

/// Sets the child's inheritable capabilities to the mask `caps` (after
/// the credentials change).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_inheritable_capabilities(
    cmd: *mut spawnfd_cmd,
    caps: u64,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.inheritable_caps = Some(caps);
            Ok(())
        })
    }
}

/// Raises the capabilities of the mask `caps` in the child's ambient set,
/// after the credentials change: the program has them even as an
/// unprivileged user. They are added to the inheritable set, and the
/// permitted set is kept across a change of uid. Each must be permitted
/// here and in the bounding set, else `EPERM` at
/// `SPAWNFD_STEP_CAPABILITIES`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_ambient_capabilities(
    cmd: *mut spawnfd_cmd,
    caps: u64,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.ambient_caps = Some(caps);
            Ok(())
        })
    }
}

/// Keeps the child's permitted capabilities across its change of uid
/// (`PR_SET_KEEPCAPS`), `on` non-zero.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_keep_capabilities(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.keep_caps = is_set(on);
            Ok(())
        })
    }
}

/// Installs the seccomp filter of the `len` instructions at `filter` (a
/// classic BPF program, copied) in the child, the last step before exec.
/// The kernel wants `spawnfd_cmd_no_new_privs` or `CAP_SYS_ADMIN`
/// (`EACCES` at `SPAWNFD_STEP_SECCOMP` otherwise); a program it finds
/// invalid is `EINVAL` there. `NULL` with 0 removes the filter.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `len` 0 with a filter or more
/// than 4096, `filter` `NULL` with a length).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `filter` points to `len` `struct sock_filter`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_seccomp_filter(
    cmd: *mut spawnfd_cmd,
    filter: *const libc::sock_filter,
    len: usize,
) -> c_int {
    let program = if filter.is_null() && len == 0 {
        None
    } else if len == 0 || len > 4096 {
        return libc::EINVAL;
    } else {
        // SAFETY: `len` instructions at `filter`, by the contract.
        match unsafe { crate::ffi::slice(filter, len) } {
            Ok(program) => Some(program.to_vec()),
            Err(e) => return e,
        }
    };
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.seccomp = program;
            Ok(())
        })
    }
}

/// Restricts the child with the Landlock ruleset `fd` (borrowed: copied at
/// each spawn, never closed), just before the seccomp filter and exec. The
/// kernel wants `spawnfd_cmd_no_new_privs` or `CAP_SYS_ADMIN`. -1 removes
/// it.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, `fd` below -1).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_landlock_ruleset(cmd: *mut spawnfd_cmd, fd: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.landlock = match fd {
                -1 => None,
                fd if fd >= 0 => Some(fd),
                _ => return Err(libc::EINVAL),
            };
            Ok(())
        })
    }
}

/// The signal this process gets when the child exits: `SIGCHLD` by
/// default, 0 for none (a "private" child, until it execs: Linux sets it
/// back to `SIGCHLD` then).
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`, not 0 and not a signal 1 to
/// 64).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_exit_signal(cmd: *mut spawnfd_cmd, sig: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.exit_signal = if sig == 0 { None } else { Some(signal(sig)?) };
            Ok(())
        })
    }
}

/// Adds a hook: `hook(arg)` runs in the child after every other set-up
/// step, just before `execve` (over the Rust library's
/// `Command::pre_exec`). Hooks run in the order they were added; each
/// returns 0, or an errno value to fail the spawn: `spawnfd_spawn` then
/// returns that value, with `err->step` `SPAWNFD_STEP_HOOK` and `err->id`
/// the failing hook's index (0 for the first added, with
/// `SPAWNFD_ERROR_HAS_ID`); the hooks after it do not run. A negative
/// return is taken as `EINVAL`.
///
/// When it runs, the child's fds are placed, its credentials, working
/// directory, limits and terminal are set, its signal dispositions are
/// final, its signal mask is the one it will exec with, and every fd it
/// was not given is still open but close-on-exec. So an fd the hook opens
/// or duplicates *without* `O_CLOEXEC` reaches the program, and one with
/// `O_CLOEXEC` is closed by `execve`.
///
/// The rules depend on the path:
/// - **Default (vfork) path**: the child is made with `clone3(CLONE_VM |
///   CLONE_VFORK)` and **runs in this process's memory**, on the
///   spawning thread's thread-local storage (its `errno` too: the spawn
///   puts the caller's back), while every other thread keeps running.
///   Only async-signal-safe functions (signal-safety(7)): no `malloc`,
///   no locks, no stdio. Whatever the hook writes to memory is written
///   in the parent. Its stack is the child's own, 256 KiB with a guard
///   page below it.
/// - **Fork path** (`spawnfd_cmd_use_fork(cmd, 1)`): the child is a copy
///   made by `fork()`: `pthread_atfork` handlers have run, `malloc` works,
///   memory is private, the stack is the spawning thread's. Only the rules
///   of a forked child of a multi-threaded program hold (a lock another
///   thread held at the fork stays held).
///
/// On the default path a hook cannot be combined with
/// `spawnfd_cmd_ptrace_traceme` (the spawn is refused with `EINVAL` at
/// `SPAWNFD_STEP_PREPARE`): take the fork path.
///
/// Returns 0, or `EINVAL` (`cmd` or `hook` is `NULL`), `ENOMEM`.
///
/// # Safety
///
/// As `spawnfd_cmd_arg`; `hook` is `NULL` or a function that keeps the
/// rules above, and `arg` is whatever it needs, valid for every spawn of
/// the command.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_hook(
    cmd: *mut spawnfd_cmd,
    hook: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            let f = hook.ok_or(libc::EINVAL)?;
            r.hooks.push(CHook { f, arg });
            Ok(())
        })
    }
}

/// Creates the child with the C library's `fork()` (`on` non-zero)
/// instead of `clone3(CLONE_VM | CLONE_VFORK)` (0, the default): the fork
/// path, over the Rust library's `Command::use_fork`.
///
/// For hooks that are not async-signal-safe (see `spawnfd_cmd_hook`),
/// for `pthread_atfork` handlers that must run, and for tools that cannot
/// follow a child sharing the parent's memory (address sanitizers). It
/// costs what `fork` costs: page tables are copied, so the spawn is
/// slower the more memory this process maps.
///
/// Everything else is as on the default path: the same steps and errors,
/// the same fds and signal slate, the child held by its pidfd from before
/// its first step (race-free against other reapers: it waits until the
/// parent holds the pidfd, and exits if the parent dies first). The child
/// reports through a close-on-exec pipe instead of shared memory.
/// Refused at the spawn (`EINVAL`, `SPAWNFD_STEP_PREPARE`): new user, PID
/// or time namespaces, and an exit signal other than `SIGCHLD`.
///
/// Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_use_fork(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.use_fork = is_set(on);
            Ok(())
        })
    }
}

/// Leaves the fds the child inherits as they are (`on` non-zero; 0, the
/// default, gives the child only fds 0, 1, 2 and those set with
/// `spawnfd_cmd_fd`): `fork`'s weaker hygiene. Every fd this process
/// holds without `O_CLOEXEC` reaches the program, those other threads
/// open meanwhile included, and a closed or close-on-exec standard fd
/// stays so (it is not replaced by `/dev/null`). Fds set with
/// `spawnfd_cmd_fd` and `spawnfd_cmd_stdin` and friends are still placed.
///
/// Meant for programs ported from `fork`+`exec` that pass fds by leaving
/// them open. Returns 0, or `EINVAL` (`cmd` is `NULL`).
///
/// # Safety
///
/// As `spawnfd_cmd_arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_cmd_keep_inherited_fds(cmd: *mut spawnfd_cmd, on: c_int) -> c_int {
    // SAFETY: the setter contract is the caller's.
    unsafe {
        setter(cmd, |r| {
            r.keep_fds = is_set(on);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's hand-written defines (`cbindgen.toml`) say what the
    /// constants here say.
    #[test]
    fn negative_constants_match_the_header() {
        let toml = include_str!("../cbindgen.toml");
        assert!(toml.contains(&format!("#define SPAWNFD_INHERIT ({SPAWNFD_INHERIT})")));
        assert!(toml.contains(&format!("#define SPAWNFD_NULL ({SPAWNFD_NULL})")));
    }

    /// The namespace constants are the kernel's `CLONE_NEW*` flags.
    #[test]
    fn namespace_constants_are_the_clone_flags() {
        assert_eq!(SPAWNFD_NS_MOUNT, Namespaces::MOUNT.clone_flags());
        assert_eq!(SPAWNFD_NS_UTS, Namespaces::UTS.clone_flags());
        assert_eq!(SPAWNFD_NS_IPC, Namespaces::IPC.clone_flags());
        assert_eq!(SPAWNFD_NS_NET, Namespaces::NET.clone_flags());
        assert_eq!(SPAWNFD_NS_PID, Namespaces::PID.clone_flags());
        assert_eq!(SPAWNFD_NS_CGROUP, Namespaces::CGROUP.clone_flags());
        assert_eq!(SPAWNFD_NS_USER, Namespaces::USER.clone_flags());
        assert_eq!(SPAWNFD_NS_TIME, Namespaces::TIME.clone_flags());
    }
}

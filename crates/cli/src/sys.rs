//! The C library calls spawnfd makes for itself, not for the child: user
//! and group lookups, its own ids and resource limits, signal
//! dispositions, and polling the child's pidfd.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsString, c_char, c_int};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use spawnfd::{Resource, Signal, SignalSet};

use crate::args::CpuList;

/// The largest buffer given to `getpwnam_r` and `getgrnam_r`; a database
/// entry that needs more is reported as `ERANGE`.
const MAX_ENTRY_BUFFER: usize = 1 << 20;

/// The most groups asked of `getgrouplist` (the kernel's `NGROUPS_MAX`).
const MAX_GROUPS: usize = 65536;

/// A user's ids, from the password database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
}

/// A user's entry in the password database: what `--user` needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The user and primary group ids.
    pub ids: User,
    /// The name, as the entry spells it (`pw_name`).
    pub name: OsString,
    /// The home directory (`pw_dir`).
    pub home: OsString,
    /// The login shell (`pw_shell`), possibly empty.
    pub shell: OsString,
}

/// What a `get*nam_r` call said.
enum Lookup {
    Found,
    NotFound,
    /// The buffer was too small and has been enlarged.
    Retry,
}

/// Interprets the status of a `get*nam_r` call that used `buf`.
fn lookup_status(status: c_int, found: bool, buf: &mut Vec<c_char>) -> io::Result<Lookup> {
    match status {
        0 if found => Ok(Lookup::Found),
        // getpwnam_r(3): "0 or ENOENT or ESRCH ...: the name was not found".
        0 | libc::ENOENT | libc::ESRCH => Ok(Lookup::NotFound),
        libc::ERANGE if buf.len() < MAX_ENTRY_BUFFER => {
            buf.resize(buf.len() * 2, 0);
            Ok(Lookup::Retry)
        }
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Runs a `get*nam_r` lookup of `name` with a growing buffer; `call` gets
/// the name, the entry to fill, the buffer and the result pointer, and
/// `read` takes what it needs from the entry found, while the buffer its
/// strings point into is still alive.
fn lookup<T, R>(
    name: &str,
    mut call: impl FnMut(&CString, *mut T, &mut [c_char], *mut *mut T) -> c_int,
    read: impl FnOnce(&T) -> R,
) -> io::Result<Option<R>> {
    let Ok(name) = CString::new(name) else {
        return Ok(None);
    };
    let mut buf: Vec<c_char> = vec![0; 1024];
    loop {
        let mut entry = MaybeUninit::<T>::uninit();
        let mut result: *mut T = ptr::null_mut();
        let status = call(&name, entry.as_mut_ptr(), &mut buf, &mut result);
        match lookup_status(status, !result.is_null(), &mut buf)? {
            Lookup::Retry => {}
            Lookup::NotFound => return Ok(None),
            // SAFETY: on success the call filled `entry` in (`result`
            // points to it), its strings pointing into `buf`.
            Lookup::Found => return Ok(Some(read(unsafe { entry.assume_init_ref() }))),
        }
    }
}

/// Looks `name` up in the password database (`getpwnam_r`).
pub fn account_by_name(name: &str) -> io::Result<Option<Account>> {
    lookup::<libc::passwd, _>(
        name,
        |name, entry, buf, result| {
            // SAFETY: `name` is NUL-terminated, `entry` and `result` are
            // writable, and `buf` is writable for its length.
            unsafe { libc::getpwnam_r(name.as_ptr(), entry, buf.as_mut_ptr(), buf.len(), result) }
        },
        |e| Account {
            ids: User {
                uid: e.pw_uid,
                gid: e.pw_gid,
            },
            // SAFETY: the strings of an entry that was found are
            // NUL-terminated (or null) and point into the live buffer.
            name: unsafe { c_string(e.pw_name) },
            // SAFETY: as above.
            home: unsafe { c_string(e.pw_dir) },
            // SAFETY: as above.
            shell: unsafe { c_string(e.pw_shell) },
        },
    )
}

/// A copy of the C string at `ptr`; empty for a null pointer.
///
/// # Safety
///
/// `ptr` is null or points to a NUL-terminated string.
unsafe fn c_string(ptr: *const c_char) -> OsString {
    if ptr.is_null() {
        return OsString::new();
    }
    // SAFETY: the caller's contract.
    OsString::from_vec(unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec())
}

/// Looks `name` up in the group database (`getgrnam_r`); returns its id.
pub fn group_by_name(name: &str) -> io::Result<Option<u32>> {
    lookup::<libc::group, _>(
        name,
        |name, entry, buf, result| {
            // SAFETY: as in `account_by_name`.
            unsafe { libc::getgrnam_r(name.as_ptr(), entry, buf.as_mut_ptr(), buf.len(), result) }
        },
        |e| e.gr_gid,
    )
}

/// The groups of user `name`: `gid` and every group the group database
/// lists `name` in (`getgrouplist`, as `initgroups` uses).
pub fn group_list(name: &str, gid: u32) -> io::Result<Vec<u32>> {
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = c_int::try_from(groups.len()).unwrap_or(c_int::MAX);
        // SAFETY: `name` is NUL-terminated and `groups` is writable for
        // `count` ids; the call writes at most that many and stores in
        // `count` how many it found.
        let status =
            unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        let count = usize::try_from(count).unwrap_or(0);
        if status >= 0 {
            groups.truncate(count);
            return Ok(groups);
        }
        if groups.len() >= MAX_GROUPS {
            return Err(io::Error::other(format!(
                "the user is in more than {MAX_GROUPS} groups"
            )));
        }
        // glibc says how many it needs; other libraries may not.
        let wanted = count.max(groups.len() * 2).min(MAX_GROUPS);
        groups.resize(wanted, 0);
    }
}

/// The CPUs this machine may ever have: `/sys/devices/system/cpu/possible`
/// (`0-7`), or, without it, CPUs 0 up to `sysconf(_SC_NPROCESSORS_CONF)`;
/// `None` if neither says.
pub fn machine_cpus() -> Option<CpuList> {
    if let Ok(text) = std::fs::read_to_string("/sys/devices/system/cpu/possible") {
        if let Ok(cpus) = text.trim_end().parse() {
            return Some(cpus);
        }
    }
    // SAFETY: sysconf has no preconditions.
    let configured = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    usize::try_from(configured)
        .ok()
        .filter(|&n| n > 0)
        .map(CpuList::first_n)
}

/// This process's effective user and group ids.
pub fn effective_ids() -> (u32, u32) {
    // SAFETY: neither call takes arguments or can fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// This process's soft and hard limit of `resource`, as `u64` whatever the
/// width of `rlim_t` (`prlimit64`).
pub fn resource_limit(resource: Resource) -> io::Result<(u64, u64)> {
    /// The kernel's `struct rlimit64`.
    #[repr(C)]
    struct Rlimit64 {
        cur: u64,
        max: u64,
    }
    let mut limit = Rlimit64 { cur: 0, max: 0 };
    // SAFETY: prlimit64 on this process (pid 0), setting nothing and
    // writing the old limits to `limit`, which has the kernel's layout.
    let status = unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0,
            resource.as_raw(),
            ptr::null::<Rlimit64>(),
            &raw mut limit,
        )
    };
    if status == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.cur, limit.max))
}

/// Whether `signal` is ignored (`SIG_IGN`) in this process.
fn is_ignored(signal: c_int) -> bool {
    let mut action = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: only reads the disposition, into `action`. glibc refuses its
    // own internal signals (32 and 33) with EINVAL.
    let status = unsafe { libc::sigaction(signal, ptr::null(), action.as_mut_ptr()) };
    // SAFETY: on success the call filled `action` in.
    status == 0 && unsafe { action.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// Whether `SIGPIPE` was ignored when the process started, as recorded by
/// [`record_sigpipe`] before the Rust runtime set it to ignored.
static SIGPIPE_IGNORED_AT_START: AtomicBool = AtomicBool::new(false);

/// Runs [`record_sigpipe`] before `main`, with the program's other
/// `.init_array` constructors: the C library runs them all before it calls
/// `main`, where the Rust runtime starts (std records the arguments the
/// same way).
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn(c_int, *const *const c_char, *const *const c_char) =
    record_sigpipe;

extern "C" fn record_sigpipe(
    _argc: c_int,
    _argv: *const *const c_char,
    _env: *const *const c_char,
) {
    SIGPIPE_IGNORED_AT_START.store(is_ignored(libc::SIGPIPE), Ordering::Relaxed);
}

/// The signals that were ignored when spawnfd started: those ignored now,
/// except that `SIGPIPE` is taken from before the Rust runtime ignored it.
///
pub fn ignored_at_start() -> SignalSet {
    (1..=64)
        .filter(|&signal| {
            if signal == libc::SIGPIPE {
                SIGPIPE_IGNORED_AT_START.load(Ordering::Relaxed)
            } else {
                is_ignored(signal)
            }
        })
        .filter_map(Signal::new)
        .collect()
}

/// `fd`, moved above the standard fds if it took one of 0, 1 or 2 (which
/// were closed when spawnfd started), close-on-exec.
pub fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd of ours, 3 or above.
    let raw = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Which of the fds [`wait_either`] watches is readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    First,
    Second,
    /// The deadline passed.
    Neither,
}

/// Waits until `first` or `second` is readable, or `deadline` passes
/// (`None`: no deadline); `first` wins when both are. For a pidfd,
/// readable means that its process has exited (and can be reaped without
/// blocking).
///
/// One `poll` sleeps until the deadline; one interrupted by a signal
/// (`EINTR`) is called again with the time that is left, as is one whose
/// timeout had to be cut to fit a `c_int` of milliseconds.
pub fn wait_either(
    first: BorrowedFd<'_>,
    second: BorrowedFd<'_>,
    deadline: Option<Instant>,
) -> io::Result<Ready> {
    loop {
        let timeout_ms = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Rounded up: a poll that returned just before the deadline
                // would make this a busy loop.
                let ms = left.as_nanos().div_ceil(1_000_000);
                c_int::try_from(ms).unwrap_or(c_int::MAX)
            }
        };
        let mut pollfds = [first, second].map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two pollfds, writable, of fds we borrow.
        match unsafe { libc::poll(pollfds.as_mut_ptr(), 2, timeout_ms) } {
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            // The deadline had passed before this poll: time is up.
            0 if timeout_ms == 0 => return Ok(Ready::Neither),
            // Time is up, or nearly: the next turn polls with what is left
            // (nothing, most often) and decides.
            0 => {}
            // POLLIN; or POLLERR, POLLHUP or POLLNVAL, which the caller's
            // waitid (or read) reports better.
            _ if pollfds[0].revents != 0 => return Ok(Ready::First),
            _ => return Ok(Ready::Second),
        }
    }
}

/// A Landlock ruleset that handles every file system access this kernel's
/// Landlock knows, allowing reading and executing beneath `read` and every
/// access beneath `write`; the path at fault, and why, if it cannot be
/// made.
pub fn landlock_ruleset(
    read: &[std::path::PathBuf],
    write: &[std::path::PathBuf],
) -> Result<OwnedFd, (std::path::PathBuf, io::Error)> {
    const EXECUTE: u64 = 1 << 0;
    const WRITE_FILE: u64 = 1 << 1;
    const READ_FILE: u64 = 1 << 2;
    const READ_DIR: u64 = 1 << 3;
    const TRUNCATE: u64 = 1 << 14;
    const IOCTL_DEV: u64 = 1 << 15;
    let first = || read.first().or(write.first()).cloned().unwrap_or_default();
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with no attribute: returns
    // the ABI version.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    if abi < 1 {
        let e = io::Error::last_os_error();
        let why = io::Error::new(e.kind(), format!("this kernel has no Landlock ({e})"));
        return Err((first(), why));
    }
    // ABI 1: 13 rights; 2: REFER; 3: TRUNCATE; 5: IOCTL_DEV.
    let mut handled: u64 = (1 << 13) - 1;
    if abi >= 2 {
        handled |= 1 << 13;
    }
    if abi >= 3 {
        handled |= TRUNCATE;
    }
    if abi >= 5 {
        handled |= IOCTL_DEV;
    }
    // SAFETY: a ruleset attribute of which the kernel reads the first u64
    // (handled_access_fs), the size given.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &raw const handled,
            8usize,
            0u32,
        )
    };
    if fd < 0 {
        return Err((first(), io::Error::last_os_error()));
    }
    // SAFETY: a new fd owned by nobody else.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as c_int) };
    let rules = read
        .iter()
        .map(|p| (p, EXECUTE | READ_FILE | READ_DIR))
        .chain(write.iter().map(|p| (p, handled)));
    for (path, access) in rules {
        let dir = std::fs::File::open(path).map_err(|e| (path.clone(), e))?;
        let is_dir = dir.metadata().map_err(|e| (path.clone(), e))?.is_dir();
        // A file takes only the rights of files.
        let file_rights = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
        let allowed = access & handled & if is_dir { u64::MAX } else { file_rights };
        #[repr(C, packed)]
        struct PathBeneath {
            allowed_access: u64,
            parent_fd: i32,
        }
        let rule = PathBeneath {
            allowed_access: allowed,
            parent_fd: dir.as_raw_fd(),
        };
        // SAFETY: LANDLOCK_RULE_PATH_BENEATH (1) with its attribute.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                1u32,
                &raw const rule,
                0u32,
            )
        };
        if r != 0 {
            return Err((path.clone(), io::Error::last_os_error()));
        }
    }
    above_stdio(ruleset).map_err(|e| (first(), e))
}

//! Helpers shared by the `exec_errors`, `path_search`, `std_compat` and
//! `child` integration tests: temporary directories, executable files, and
//! views of this process's fds and children.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The `spawnfd-probe` helper binary, which reports the child's state.
pub const PROBE: &str = env!("CARGO_BIN_EXE_spawnfd-probe");

/// A directory under `std::env::temp_dir()`, removed with its contents on
/// drop. The name holds the pid, a tag and a counter, so parallel tests and
/// concurrent test binaries never share one.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("spawnfd-test-{}-{tag}-{n}", std::process::id()));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new subdirectory.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.path.join(name);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Writes `contents` to `dir/name` with permission bits `mode` and returns
/// the file's path.
pub fn write_file(dir: &Path, name: &str, contents: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(&path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    path
}

/// Writes an executable shell script `dir/name` that prints `line`.
pub fn echo_script(dir: &Path, name: &str, line: &str) -> PathBuf {
    write_file(
        dir,
        name,
        format!("#!/bin/sh\necho {line}\n").as_bytes(),
        0o755,
    )
}

/// Serializes the tests of one binary that take it.
///
/// Used where parallel tests would disturb each other: counting this
/// process's fds, and writing executables (a child created by a concurrent
/// spawn holds a copy of every open fd until it closes them, so it can
/// briefly keep a script open for writing and make its `execve` fail with
/// `ETXTBSY`). A test that panics while holding it does not poison it.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The number of fds this process has open (including, at the time of the
/// count, the one listing `/proc/self/fd`, which is the same every time).
pub fn open_fd_count() -> usize {
    fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// This process's child processes, as `(pid, state)`: every process whose
/// parent is us, zombies (`Z`) included.
pub fn children_of_self() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // The process may exit while we look: skip it then.
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, ppid)) = parse_stat(&stat) {
            if ppid == me {
                children.push((pid, state));
            }
        }
    }
    children
}

/// The state and parent pid in a `/proc/PID/stat` line. The command name
/// is in parentheses and may hold spaces and parentheses itself, so the
/// fields are taken after its last `)`.
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The errno of an `io::Error` from a failed spawn: the one in its
/// `SpawnError` payload.
pub fn spawn_errno(err: &io::Error) -> Option<i32> {
    spawnfd::SpawnError::from_io(err).and_then(spawnfd::SpawnError::raw_os_error)
}

/// A process being watched for its end: through a pidfd, or where
/// pidfds are refused (the forced paths of `.ci/paths`) by its start time
/// in `/proc/PID/stat`, which a process that reused the pid would not
/// share.
pub enum Watched {
    Pidfd(OwnedFd),
    Stat(u32, String),
}

/// `pid`'s start time (field 22 of `/proc/PID/stat`), unless it is gone
/// or a zombie.
pub fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    (fields.first() != Some(&"Z")).then(|| fields.get(19).map(|s| s.to_string()))?
}

/// A watch on `pid`, if it still runs.
pub fn watch(pid: u32) -> Option<Watched> {
    // SAFETY: pidfd_open takes integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd >= 0 {
        // SAFETY: a new fd owned by nobody else.
        return Some(Watched::Pidfd(unsafe {
            <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32)
        }));
    }
    start_time(pid).map(|start| Watched::Stat(pid, start))
}

/// Whether the watched process has exited.
pub fn exited(watched: &Watched) -> bool {
    match watched {
        Watched::Pidfd(fd) => {
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; no wait.
            unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
        }
        Watched::Stat(pid, start) => start_time(*pid).as_ref() != Some(start),
    }
}

/// Waits up to 20 s for the watched process to exit; whether it did.
pub fn exits_in_time(watched: &Watched) -> bool {
    let start = std::time::Instant::now();
    while !exited(watched) {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    true
}

//! cgroup v2 directories and their files, for `Scope`: made and removed
//! relative to an open parent directory, files read and written through
//! the directory's fd (never a path that could be swapped under us), and
//! `cgroup.events` watched with `poll` (kernfs wakes `POLLPRI` on every
//! change).

#![allow(unsafe_code)]

use std::ffi::{CStr, c_int};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::Duration;

use super::os::open_at;

/// `mkdirat(dir, name, 0755)`.
pub(crate) fn mkdir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: a NUL-terminated name; `dir` is open.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `unlinkat(dir, name, AT_REMOVEDIR)`: removes an empty cgroup.
pub(crate) fn rmdir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: a NUL-terminated name; `dir` is open.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens the directory `name` under `dir` (close-on-exec, above 2).
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    open_at(dir.as_raw_fd(), name, libc::O_RDONLY | libc::O_DIRECTORY)
}

/// The whole of the file `name` under `dir`.
pub(crate) fn read_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<String> {
    let mut file = File::from(open_at(dir.as_raw_fd(), name, libc::O_RDONLY)?);
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Writes `value` to the file `name` under `dir` in one `write`, as cgroup
/// files want.
pub(crate) fn write_at(dir: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    let file = File::from(open_at(dir.as_raw_fd(), name, libc::O_WRONLY)?);
    let n = file.write_at(value, 0)?;
    if n != value.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "a cgroup file took part of a write",
        ));
    }
    Ok(())
}

/// Reads an open `cgroup.events` (or any kernfs file) from its start.
/// Reading also re-arms its `poll`: the next change wakes it.
pub(crate) fn pread_all(file: &File) -> io::Result<String> {
    let mut buf = [0u8; 512];
    let n = file.read_at(&mut buf, 0)?;
    Ok(String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned())
}

/// Sleeps until a kernfs file changes (`POLLPRI`) or `timeout` passes;
/// whether it changed.
pub(crate) fn wait_changed(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    super::os::poll_one(fd, libc::POLLPRI, timeout)
}

/// `pidfd_open(pid, 0)`; `None` if the process is gone or pidfds are
/// missing here.
pub(crate) fn pidfd_of(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new fd (close-on-exec, as every pidfd) owned by nobody else.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as libc::c_int) };
    Some(super::os::above_stdio(fd))
}

/// Opens the file `name` under `dir` for reading (close-on-exec, above 2).
pub(crate) fn open_file_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<File> {
    open_at(dir.as_raw_fd(), name, libc::O_RDONLY).map(File::from)
}

/// The names of the directories under `dir` (the child cgroups).
pub(crate) fn subdirectories(dir: BorrowedFd<'_>) -> io::Result<Vec<std::ffi::CString>> {
    // Through /proc/self/fd: std reads directories by path only.
    let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            use std::os::unix::ffi::OsStrExt;
            if let Ok(name) = std::ffi::CString::new(entry.file_name().as_bytes()) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// The body of a scope's watchdog (`Scope::kill_on_process_exit`), run in
/// a forked child (the fork path's `spawn_fn`) with the pipe's read end as
/// fd 3, the scope's directory as fd 4 and its parent as fd 5: sleeps until
/// every write end of the pipe is closed (its owner exited, however, or
/// let go), then kills the tree, waits until it is empty and removes the
/// directory. Only async-signal-safe calls: the child of a threaded
/// process.
pub(crate) fn watchdog_main(name: &CStr) -> i32 {
    const PIPE: c_int = 3;
    const DIR: c_int = 4;
    const PARENT: c_int = 5;
    // The spawn closed what it marked close-on-exec before calling this
    // (as an exec would), the pipe's write end among them. Closing every
    // fd above ours again costs one call and holds even if that listing
    // failed: a write end left open here would keep the end of file from
    // ever coming.
    // SAFETY: integer arguments.
    if unsafe { libc::syscall(libc::SYS_close_range, PARENT + 1, c_int::MAX, 0) } != 0 {
        for fd in PARENT + 1..65536 {
            // SAFETY: closing fds of this single-threaded child.
            unsafe { libc::close(fd) };
        }
    }
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: a one-byte buffer.
        let n = unsafe { libc::read(PIPE, byte.as_mut_ptr().cast(), 1) };
        if n == 0 || (n < 0 && last_errno() != libc::EINTR) {
            break;
        }
    }
    if !write_file_at(DIR, c"cgroup.kill", b"1") {
        // Before Linux 5.14: freeze, kill each member, thaw, until empty.
        for _ in 0..1000 {
            if populated(DIR) != Some(true) {
                break;
            }
            write_file_at(DIR, c"cgroup.freeze", b"1");
            kill_listed(DIR);
            write_file_at(DIR, c"cgroup.freeze", b"0");
            // SAFETY: a plain sleep.
            unsafe { libc::usleep(10_000) };
        }
    }
    // Until the last one is gone (at most a minute), then the directory.
    for _ in 0..6000 {
        if populated(DIR) != Some(true) {
            break;
        }
        // SAFETY: a plain sleep.
        unsafe { libc::usleep(10_000) };
    }
    // SAFETY: a NUL-terminated name; fd 5 is the parent directory.
    unsafe { libc::unlinkat(PARENT, name.as_ptr(), libc::AT_REMOVEDIR) };
    0
}

fn last_errno() -> c_int {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// `openat(dir, name)`, one write, close; whether the write was taken.
fn write_file_at(dir: c_int, name: &CStr, value: &[u8]) -> bool {
    // SAFETY: a NUL-terminated name.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return false;
    }
    // SAFETY: `value` is readable for its length; `fd` is ours.
    let n = unsafe { libc::write(fd, value.as_ptr().cast(), value.len()) };
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    n == value.len() as isize
}

/// Reads a small cgroup file into `buf`; its length.
fn read_file_at(dir: c_int, name: &CStr, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: a NUL-terminated name.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `buf` is writable for its length; `fd` is ours.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    usize::try_from(n).ok()
}

/// Whether `cgroup.events` says `populated 1`; `None` if unreadable.
fn populated(dir: c_int) -> Option<bool> {
    let mut buf = [0u8; 128];
    let n = read_file_at(dir, c"cgroup.events", &mut buf)?;
    let text = buf.get(..n)?;
    let key = b"populated ";
    let at = text.windows(key.len()).position(|w| w == key)?;
    Some(text.get(at + key.len()) == Some(&b'1'))
}

/// Sends `SIGKILL` to each pid in `cgroup.procs` (the tree is frozen: a
/// listed member cannot exit and give its pid up meanwhile).
fn kill_listed(dir: c_int) {
    let mut buf = [0u8; 4096];
    let Some(n) = read_file_at(dir, c"cgroup.procs", &mut buf) else {
        return;
    };
    let mut pid: libc::pid_t = 0;
    for &b in buf.get(..n).unwrap_or_default() {
        if b.is_ascii_digit() {
            pid = pid
                .saturating_mul(10)
                .saturating_add(libc::pid_t::from(b - b'0'));
        } else {
            if pid > 0 {
                // SAFETY: integer arguments.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            pid = 0;
        }
    }
}

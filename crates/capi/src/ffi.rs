//! What every entry point shares: errno and the cancellation state kept
//! and given back, panics caught, C strings and the caller's fds taken in.
//!
//! # Safety
//!
//! The `unsafe` here reads C strings and arrays the caller passed, reads
//! and writes the calling thread's `errno`, and calls the C shim's
//! cancellation-state switch; each block says which contract it relies on.

use std::ffi::{CStr, OsStr, OsString, c_char, c_int};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};

unsafe extern "C" {
    /// `pthread_setcancelstate(PTHREAD_CANCEL_DISABLE)`; the old state.
    fn sfd_shim_cancel_disable() -> c_int;
    /// `pthread_setcancelstate(old)`.
    fn sfd_shim_cancel_restore(old: c_int);
}

/// Held for the length of an entry point: cancellation disabled (no
/// cancellation point in the library or libc can unwind a Rust frame) and
/// `errno` as the caller had it, both given back on the way out.
pub(crate) struct Entry {
    errno: c_int,
    cancel: c_int,
}

impl Entry {
    pub(crate) fn new() -> Entry {
        // SAFETY: `__errno_location` returns the calling thread's errno,
        // valid for the thread's life.
        let errno = unsafe { *libc::__errno_location() };
        // SAFETY: no arguments; the shim only calls pthread_setcancelstate.
        let cancel = unsafe { sfd_shim_cancel_disable() };
        Entry { errno, cancel }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: `cancel` is the state pthread_setcancelstate gave back.
        unsafe { sfd_shim_cancel_restore(self.cancel) };
        // SAFETY: as in `new`; the thread's own errno.
        unsafe { *libc::__errno_location() = self.errno };
    }
}

/// Runs `body` as an entry point: under an [`Entry`], a panic (a bug)
/// turned into `EIO` instead of unwinding into C.
pub(crate) fn entry(body: impl FnOnce() -> c_int) -> c_int {
    let _entry = Entry::new();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(libc::EIO)
}

/// The bytes of a C string; `None` for `NULL`.
///
/// # Safety
///
/// `s` is `NULL` or points to a NUL-terminated string that stays valid
/// and unchanged for `'a`.
pub(crate) unsafe fn os_str<'a>(s: *const c_char) -> Option<&'a OsStr> {
    if s.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and NUL-terminated and valid by the contract.
    let bytes = unsafe { CStr::from_ptr(s) }.to_bytes();
    Some(OsStr::from_bytes(bytes))
}

/// An owned copy of a C string; `EINVAL` for `NULL`.
///
/// # Safety
///
/// As [`os_str`].
pub(crate) unsafe fn owned(s: *const c_char) -> Result<OsString, c_int> {
    // SAFETY: the caller's contract is `os_str`'s.
    unsafe { os_str(s) }
        .map(OsStr::to_owned)
        .ok_or(libc::EINVAL)
}

/// The `n` elements at `ptr` (which may be `NULL` when `n` is 0).
///
/// # Safety
///
/// `ptr` points to `n` initialised values, valid for `'a`, or `n` is 0.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, n: usize) -> Result<&'a [T], c_int> {
    if n == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-NULL, `n` values, by the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// A copy of the caller's fd (which stays the caller's), numbered 3 or
/// above and close-on-exec (`F_DUPFD_CLOEXEC`).
pub(crate) fn dup_above_stdio(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: fcntl with F_DUPFD_CLOEXEC reads no memory; an invalid fd
    // is EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The errno value of an `io::Error`: its own, else one for its kind.
pub(crate) fn errno_of(e: &io::Error) -> c_int {
    if let Some(errno) = e.raw_os_error() {
        return errno;
    }
    match e.kind() {
        io::ErrorKind::InvalidInput => libc::EINVAL,
        io::ErrorKind::Unsupported => libc::ENOTSUP,
        io::ErrorKind::OutOfMemory => libc::ENOMEM,
        io::ErrorKind::NotFound => libc::ENOENT,
        io::ErrorKind::PermissionDenied => libc::EPERM,
        io::ErrorKind::WouldBlock => libc::EAGAIN,
        io::ErrorKind::TimedOut => libc::ETIMEDOUT,
        io::ErrorKind::ReadOnlyFilesystem => libc::EROFS,
        io::ErrorKind::AlreadyExists => libc::EEXIST,
        io::ErrorKind::ResourceBusy => libc::EBUSY,
        _ => libc::EIO,
    }
}

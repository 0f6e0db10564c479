//! The exported blocking waits, `spawnfd_wait` and `spawnfd_wait_timeout`:
//! naked functions that jump into the C shim (`cancel.c`) with the
//! caller's arguments untouched and the address of the Rust non-blocking
//! reap (`wait::nohang`) in the next argument register. They have no
//! frame, so no Rust frame is on the stack while the shim's `poll` can be
//! cancelled. (A Rust `#[no_mangle]` function would be exported, and the
//! shim's C functions cannot be: rustc's export list names only Rust
//! items; hence the jump.)
//!
//! The same holds for Qt's `forkfd_wait4` (`forkfd.rs`), which jumps to
//! the shim's `sfd_shim_forkfd_wait4` with `forkfd::wait4_nohang`.
//!
//! This file depends on `core`, `libc::rusage` and the two Rust waits only, so that CI
//! compiles it for aarch64 without that target's standard library
//! (`.ci/aarch64-capi-check.rs`).
//!
//! # Safety
//!
//! The trampolines change no register but the argument register after
//! the caller's last argument (caller-saved, unused by the callee's
//! signature as the caller knows it) and jump: the shim returns to the
//! caller directly.

use core::ffi::c_int;

/// The C shim's waits (`cancel.c`): the caller's arguments, then
/// `nohang`'s address.
mod shim {
    use core::ffi::c_int;

    pub(super) type Nohang = unsafe extern "C" fn(c_int, *mut c_int, *mut libc::rusage) -> c_int;
    pub(super) type Wait4Nohang = unsafe extern "C" fn(
        c_int,
        *mut crate::forkfd::forkfd_info,
        c_int,
        *mut libc::rusage,
    ) -> c_int;

    unsafe extern "C" {
        pub(super) fn sfd_shim_wait(
            fd: c_int,
            wstatus: *mut c_int,
            ru: *mut libc::rusage,
            nohang: Nohang,
        ) -> c_int;
        pub(super) fn sfd_shim_forkfd_wait4(
            fd: c_int,
            info: *mut crate::forkfd::forkfd_info,
            options: c_int,
            ru: *mut libc::rusage,
            nohang: Wait4Nohang,
        ) -> c_int;
        pub(super) fn sfd_shim_wait_timeout(
            fd: c_int,
            timeout_ms: c_int,
            wstatus: *mut c_int,
            ru: *mut libc::rusage,
            nohang: Nohang,
        ) -> c_int;
    }
}

/// Waits for the child of `pidfd` to exit and reaps it, as `waitpid`.
///
/// Stores its wait status in `*wstatus` (read it with `WIFEXITED`,
/// `WEXITSTATUS`, `WIFSIGNALED`, `WTERMSIG`, ...) and its resource usage
/// in `*ru` (the fields Linux fills in; all zero when another reaper took
/// the child first and the kernel kept its status, Linux 6.15+). Either
/// may be `NULL`. The pidfd stays the caller's: close it afterwards.
///
/// Returns 0 or an errno value; `errno` is left as it was:
/// - `ECHILD`: the child has been reaped already (by an earlier wait, or
///   by another reaper on a kernel that keeps no status for pidfds), or
///   the process is not a child of this process;
/// - `EBADF`: `pidfd` is not open, or not a pidfd or exit fd;
/// - `EMFILE`: no fd was free for the library's momentary copy of it.
///
/// A cancellation point, as `waitpid`: a thread cancelled while it waits
/// has reaped nothing (the pidfd and the child are as they were; a
/// cleanup handler may hand them to `spawnfd_detach`). Thread-safe; do
/// not wait for one child from two threads at once (one gets `ECHILD`).
/// Not async-signal-safe. Must not be called with asynchronous
/// cancellation enabled (as no function that is not async-cancel-safe).
///
/// # Safety
///
/// `wstatus` and `ru` are `NULL` or writable.
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub unsafe extern "C" fn spawnfd_wait(
    pidfd: c_int,
    wstatus: *mut c_int,
    ru: *mut libc::rusage,
) -> c_int {
    // The fourth argument register gets `nohang`; the first three are the
    // caller's. A tail jump: this function has no frame.
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!(
        "lea rcx, [rip + {nohang}]",
        "jmp {wait}",
        nohang = sym crate::wait::nohang,
        wait = sym shim::sfd_shim_wait,
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "adrp x3, {nohang}",
        "add x3, x3, :lo12:{nohang}",
        "b {wait}",
        nohang = sym crate::wait::nohang,
        wait = sym shim::sfd_shim_wait,
    );
}

/// As `spawnfd_wait`, waiting at most `timeout_ms` milliseconds
/// (negative: no limit; 0: not at all, as `spawnfd_try_wait`).
///
/// Returns 0 (reaped), `ETIMEDOUT` (still running: nothing reaped), or
/// the errors of `spawnfd_wait`. A cancellation point, as
/// `spawnfd_wait`.
///
/// # Safety
///
/// As `spawnfd_wait`.
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub unsafe extern "C" fn spawnfd_wait_timeout(
    pidfd: c_int,
    timeout_ms: c_int,
    wstatus: *mut c_int,
    ru: *mut libc::rusage,
) -> c_int {
    // The fifth argument register gets `nohang`.
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!(
        "lea r8, [rip + {nohang}]",
        "jmp {wait}",
        nohang = sym crate::wait::nohang,
        wait = sym shim::sfd_shim_wait_timeout,
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "adrp x4, {nohang}",
        "add x4, x4, :lo12:{nohang}",
        "b {wait}",
        nohang = sym crate::wait::nohang,
        wait = sym shim::sfd_shim_wait_timeout,
    );
}

/// Qt's `forkfd_wait4`: waits for the child of `ffd` (a pidfd or exit fd
/// from `forkfd` or `vforkfd`) to exit, stores how in `*info` and its
/// resource usage in `*rusage` (either may be `NULL`) and reaps it
/// (unless `FFDW_NOWAIT`). Returns 0, or -1 with `errno` set. The
/// contract is in `include/forkfd.h`.
///
/// A cancellation point when it blocks, as `waitpid`: cancelled, it has
/// reaped nothing.
///
/// # Safety
///
/// `info` and `rusage` are `NULL` or writable.
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub unsafe extern "C" fn forkfd_wait4(
    ffd: c_int,
    info: *mut crate::forkfd::forkfd_info,
    options: c_int,
    rusage: *mut libc::rusage,
) -> c_int {
    // The fifth argument register gets the non-blocking wait.
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!(
        "lea r8, [rip + {nohang}]",
        "jmp {wait}",
        nohang = sym crate::forkfd::wait4_nohang,
        wait = sym shim::sfd_shim_forkfd_wait4,
    );
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!(
        "adrp x4, {nohang}",
        "add x4, x4, :lo12:{nohang}",
        "b {wait}",
        nohang = sym crate::forkfd::wait4_nohang,
        wait = sym shim::sfd_shim_forkfd_wait4,
    );
}

//! The code that runs inside the new child, between `clone` and `execve`.
//!
//! # Rules
//!
//! The child is created with `CLONE_VM | CLONE_VFORK`: it runs in the
//! parent's memory, on a small stack of its own, while the spawning thread
//! sleeps in the kernel until the child calls `execve` or exits. Other
//! threads of the parent keep running. So everything here must be
//! async-signal-safe and must leave the parent's memory as it found it:
//!
//! - **no allocation and no locks**: another parent thread may hold the
//!   allocator's lock, and the heap is the parent's;
//! - **no panics and no unwinding**: the panic machinery allocates, locks and
//!   would unwind into frames of the parent's stack that do not exist here.
//!   The module denies indexing, unchecked arithmetic and `unwrap`;
//! - **no `Drop` of heap values**, which would free the parent's memory;
//! - **raw system calls only** ([`crate::sys::raw`]): libc's wrappers write
//!   the spawning thread's `errno` and may take locks;
//! - **no thread-local storage**: the child shares the spawning thread's TLS
//!   pointer;
//! - **a small fixed stack**: no large buffers, no recursion.
//!
//! The parent prepares everything in a [`ChildCtx`] (the C strings, the
//! candidate paths, the fd slots, the signal sets). [`child_main`] replays it
//! as a straight line of steps and never returns: it either execs or writes
//! one [`Report`] and exits with status 127.
//!
//! # The order of the steps
//!
//! All signals are blocked when the child starts (the parent blocked them
//! around the clone), so no handler can run until step 5.
//!
//! 1. **Signal dispositions**: reset the signals the parent ignores (or, on
//!    the `clone` fallback without `CLONE_CLEAR_SIGHAND`, also those it
//!    catches) to `SIG_DFL`. First, so that later steps run with a clean
//!    table; the child's table is its own copy (no `CLONE_SIGHAND`).
//! 2. **Working directory**: `chdir`, before anything that could resolve a
//!    relative path: the program path is then relative to the new directory,
//!    as with std.
//! 3. **File descriptors**: check the inherited standard fds in one `ppoll`
//!    (a closed one becomes `/dev/null`), open `/dev/null` where asked, place
//!    every source at its child number and close all others (see
//!    [`crate::fdmap`]). Closing comes last among the fd steps so that the
//!    `/dev/null` opens and the moves above land on numbers it then cleans up.
//! 4. **Signal mask**: set the child's mask (empty by default). Last before
//!    exec, so that a pending signal is delivered only to a child whose
//!    dispositions are already default.
//! 5. **Exec**: `execve` each candidate path in order, as `execvp` does.

#![allow(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use core::ffi::{CStr, c_char, c_int, c_void};
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering::Relaxed};

use crate::error::Step;
use crate::fdmap::{self, FdOps, Slot};
use crate::sys::raw::{Errno, syscall};

/// Where a child fd's file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// An fd of the parent (and so of the child's copied table).
    Fd(c_int),
    /// `/dev/null`, opened in the child with these `O_*` access flags.
    Null(c_int),
    /// The same fd number of the parent (only 0, 1, 2), or `/dev/null` when
    /// that fd is closed.
    Inherit,
}

/// What the child tells the parent. Written by the child, read by the parent
/// after the kernel has woken it (`CLONE_VFORK`), which orders the accesses.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The step the child reached: [`Step::code`].
    pub(crate) stage: AtomicU32,
    /// The step that failed, 0 when none.
    pub(crate) failed: AtomicU32,
    pub(crate) errno: AtomicI32,
    /// Step-specific: the child fd, the signal, or the index of the exec
    /// candidate to blame (-1: every candidate was missing).
    pub(crate) detail: AtomicI64,
}

/// Everything the child needs, prepared by the parent.
pub(crate) struct ChildCtx<'a> {
    /// NULL-terminated `argv`.
    pub(crate) argv: *const *const c_char,
    /// NULL-terminated `envp`.
    pub(crate) envp: *const *const c_char,
    /// The paths to try with `execve`, in order.
    pub(crate) exec_paths: &'a [*const c_char],
    pub(crate) cwd: Option<&'a CStr>,
    /// Child fds sorted by target; `src` is filled in by the child.
    pub(crate) slots: &'a mut [Slot],
    /// The source of each slot, in the same order.
    pub(crate) sources: &'a [Source],
    /// Signals to reset to `SIG_DFL`: bit `n - 1` for signal `n`.
    pub(crate) reset_signals: u64,
    /// The child's signal mask, in the kernel's layout.
    pub(crate) mask: u64,
    pub(crate) report: &'a Report,
}

/// A failed step.
struct Fail {
    step: Step,
    errno: Errno,
    detail: i64,
}

impl Fail {
    fn new(step: Step, errno: Errno, detail: i64) -> Self {
        Fail {
            step,
            errno,
            detail,
        }
    }
}

/// The child's entry point, called on the child's own stack.
///
/// # Safety
/// `arg` must point to a live [`ChildCtx`] whose pointers are valid, and the
/// caller must be a freshly cloned child sharing the parent's memory.
pub(crate) unsafe extern "C" fn child_main(arg: *mut c_void) -> ! {
    // SAFETY: the parent passes a pointer to a ChildCtx that outlives the
    // child's use of it (the parent is suspended until exec or exit).
    let ctx = unsafe { &mut *arg.cast::<ChildCtx<'_>>() };
    let fail = run(ctx);
    let report = ctx.report;
    report.errno.store(fail.errno.0, Relaxed);
    report.detail.store(fail.detail, Relaxed);
    report.failed.store(fail.step.code(), Relaxed);
    exit(127)
}

fn exit(code: c_int) -> ! {
    loop {
        // SAFETY: exit_group takes a plain integer and does not return.
        let _ = unsafe { syscall!(libc::SYS_exit_group, code) };
    }
}

/// The steps, in order; returns only on failure.
fn run(ctx: &mut ChildCtx<'_>) -> Fail {
    let stage = |step: Step| ctx.report.stage.store(step.code(), Relaxed);

    // 1. Signal dispositions.
    stage(Step::SignalDisposition);
    if let Err(fail) = reset_signals(ctx.reset_signals) {
        return fail;
    }

    // 2. Working directory.
    stage(Step::Chdir);
    if let Some(dir) = ctx.cwd {
        // SAFETY: `dir` is a NUL-terminated string.
        if let Err(e) = unsafe { syscall!(libc::SYS_chdir, dir.as_ptr()) } {
            return Fail::new(Step::Chdir, e, -1);
        }
    }

    // 3. File descriptors.
    stage(Step::DevNull);
    if let Err(fail) = resolve_sources(ctx.slots, ctx.sources) {
        return fail;
    }
    stage(Step::FdMapping);
    match fdmap::place(&mut RawFds, ctx.slots) {
        Ok(()) => {}
        Err(fdmap::Failure::Map { target, errno }) => {
            return Fail::new(Step::FdMapping, errno, i64::from(target));
        }
        Err(fdmap::Failure::Close(errno)) => return Fail::new(Step::CloseFds, errno, -1),
    }

    // 4. Signal mask.
    stage(Step::SignalMask);
    let mask = ctx.mask;
    // SAFETY: `mask` is an 8-byte kernel sigset_t that outlives the call.
    if let Err(e) = unsafe {
        syscall!(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &raw const mask,
            0usize,
            8usize
        )
    } {
        return Fail::new(Step::SignalMask, e, -1);
    }

    // 5. Exec: like execvp, go on past files that are missing, remember a
    // file that is there but not executable, stop at any other error.
    stage(Step::Exec);
    let mut denied: Option<usize> = None;
    let mut last = Errno(libc::ENOENT);
    for (i, &path) in ctx.exec_paths.iter().enumerate() {
        // SAFETY: path, argv and envp are NUL-terminated strings and
        // NULL-terminated arrays prepared by the parent.
        let Err(e) = (unsafe { syscall!(libc::SYS_execve, path, ctx.argv, ctx.envp) }) else {
            continue; // unreachable: a successful execve does not return
        };
        match e.0 {
            libc::EACCES => denied = denied.or(Some(i)),
            libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
            _ => return Fail::new(Step::Exec, e, i as i64),
        }
        last = e;
    }
    if let Some(i) = denied {
        return Fail::new(Step::Exec, Errno(libc::EACCES), i as i64);
    }
    // Every candidate said ENOENT. If one of them exists after all, what is
    // missing is its interpreter (`#!` line) or ELF loader: name that file.
    // Checked only now, so a successful search pays nothing for it.
    if last == Errno(libc::ENOENT) {
        for (i, &path) in ctx.exec_paths.iter().enumerate() {
            // SAFETY: `path` is a NUL-terminated string.
            if unsafe { syscall!(libc::SYS_faccessat, libc::AT_FDCWD, path, libc::F_OK) }.is_ok() {
                return Fail::new(Step::Exec, last, EXISTS_BUT.wrapping_add(i as i64));
            }
        }
    }
    Fail::new(Step::Exec, last, -1)
}

/// Added to a candidate's index in [`Report::detail`] when `execve` said
/// `ENOENT` for a file that exists.
pub(crate) const EXISTS_BUT: i64 = 1 << 32;

fn reset_signals(set: u64) -> Result<(), Fail> {
    // A zeroed kernel `struct sigaction`: SIG_DFL, no flags, empty mask.
    let default = [0u64; 4];
    let mut bits = set;
    while bits != 0 {
        let sig = bits.trailing_zeros().wrapping_add(1);
        bits &= bits.wrapping_sub(1);
        // SAFETY: `default` is a valid kernel sigaction; no old action is
        // requested.
        if let Err(e) = unsafe {
            syscall!(
                libc::SYS_rt_sigaction,
                sig,
                default.as_ptr(),
                0usize,
                8usize
            )
        } {
            return Err(Fail::new(Step::SignalDisposition, e, i64::from(sig)));
        }
    }
    Ok(())
}

/// Fills in each slot's source fd: checks the inherited standard fds (a
/// closed one gets `/dev/null`) and opens `/dev/null` where asked.
fn resolve_sources(slots: &mut [Slot], sources: &[Source]) -> Result<(), Fail> {
    // Which inherited fds are closed? Ask before opening anything, since an
    // open lands on the lowest free number.
    let mut polls = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 3];
    let mut any_inherit = false;
    for (slot, source) in slots.iter().zip(sources) {
        if *source == Source::Inherit {
            if let Some(p) = polls.get_mut(slot.target as usize) {
                p.fd = slot.target;
                any_inherit = true;
            }
        }
    }
    if any_inherit {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `polls` holds 3 pollfds; `zero` is a valid timeout.
        // POLLNVAL is reported for closed fds whatever `events` says.
        if let Err(e) = unsafe {
            syscall!(
                libc::SYS_ppoll,
                polls.as_mut_ptr(),
                3usize,
                &raw const zero,
                0usize,
                8usize
            )
        } {
            return Err(Fail::new(Step::DevNull, e, -1));
        }
    }

    for (slot, source) in slots.iter_mut().zip(sources) {
        slot.src = match *source {
            Source::Fd(fd) => fd,
            Source::Null(flags) => open_dev_null(flags, slot.target)?,
            Source::Inherit => {
                let closed = polls
                    .get(slot.target as usize)
                    .is_some_and(|p| p.revents & libc::POLLNVAL != 0);
                if closed {
                    open_dev_null(libc::O_RDWR, slot.target)?
                } else {
                    slot.target
                }
            }
        };
    }
    Ok(())
}

fn open_dev_null(flags: c_int, target: c_int) -> Result<c_int, Fail> {
    // SAFETY: the path is a NUL-terminated literal.
    match unsafe {
        syscall!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c"/dev/null".as_ptr(),
            flags | libc::O_CLOEXEC,
            0usize
        )
    } {
        Ok(fd) => Ok(fd as c_int),
        Err(e) => Err(Fail::new(Step::DevNull, e, i64::from(target))),
    }
}

/// [`FdOps`] as raw system calls on the child's own fd table.
struct RawFds;

impl FdOps for RawFds {
    fn dup_above(&mut self, fd: c_int, min: c_int) -> Result<c_int, Errno> {
        // SAFETY: fcntl with integer arguments.
        unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, min) }.map(|fd| fd as c_int)
    }

    fn dup_onto(&mut self, src: c_int, dst: c_int) -> Result<(), Errno> {
        // SAFETY: dup3 with integer arguments.
        unsafe { syscall!(libc::SYS_dup3, src, dst, 0usize) }.map(drop)
    }

    fn clear_cloexec(&mut self, fd: c_int) -> Result<(), Errno> {
        // SAFETY: fcntl with integer arguments.
        unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_SETFD, 0usize) }.map(drop)
    }

    fn close_range(&mut self, first: u32, last: u32) -> Result<(), Errno> {
        // SAFETY: close_range with integer arguments (since Linux 5.9).
        unsafe { syscall!(libc::SYS_close_range, first, last, 0usize) }.map(drop)
    }

    fn close_unlisted(&mut self, slots: &[Slot]) -> Result<(), Errno> {
        close_unlisted(slots)
    }
}

fn is_target(slots: &[Slot], fd: c_int) -> bool {
    slots.binary_search_by_key(&fd, |s| s.target).is_ok()
}

fn close_fd(fd: c_int) {
    // SAFETY: close with an integer argument; EBADF is fine here.
    let _ = unsafe { syscall!(libc::SYS_close, fd) };
}

/// Closes every fd that is not a target, without `close_range`: list
/// `/proc/self/fd` into a buffer on the stack, or, without `/proc`, try
/// every number below `RLIMIT_NOFILE`.
fn close_unlisted(slots: &[Slot]) -> Result<(), Errno> {
    // SAFETY: the path is a NUL-terminated literal.
    let dir = match unsafe {
        syscall!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0usize
        )
    } {
        Ok(fd) => fd as c_int,
        Err(_) => return close_below_limit(slots),
    };
    // 8-byte aligned, as linux_dirent64 records are.
    let mut buf = [0u64; 128];
    loop {
        // SAFETY: `buf` is writable for its whole size.
        let n = match unsafe {
            syscall!(
                libc::SYS_getdents64,
                dir,
                buf.as_mut_ptr(),
                core::mem::size_of_val(&buf)
            )
        } {
            Ok(0) => break,
            Ok(n) => n as usize,
            Err(e) => {
                close_fd(dir);
                return Err(e);
            }
        };
        // SAFETY: `buf` is plain bytes; `n` is at most its size.
        let bytes: &[u8] = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast(), n) };
        let mut off = 0usize;
        // Each record: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
        while let Some(rec) = bytes.get(off..) {
            let Some(&[lo, hi]) = rec.get(16..18) else {
                break;
            };
            let reclen = usize::from(u16::from_ne_bytes([lo, hi]));
            if reclen == 0 {
                break;
            }
            if let Some(fd) = rec.get(19..reclen).and_then(parse_fd) {
                if fd != dir && !is_target(slots, fd) {
                    close_fd(fd);
                }
            }
            off = off.wrapping_add(reclen);
        }
    }
    close_fd(dir);
    Ok(())
}

/// Parses a NUL-terminated decimal fd name; `.` and `..` give `None`.
fn parse_fd(name: &[u8]) -> Option<c_int> {
    let mut fd: c_int = 0;
    let mut seen_digit = false;
    for &b in name.iter().take_while(|&&b| b != 0) {
        if !b.is_ascii_digit() {
            return None;
        }
        fd = fd
            .checked_mul(10)?
            .checked_add(c_int::from(b.wrapping_sub(b'0')))?;
        seen_digit = true;
    }
    seen_digit.then_some(fd)
}

fn close_below_limit(slots: &[Slot]) -> Result<(), Errno> {
    let mut limit = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 on ourselves, reading into `limit`.
    unsafe {
        syscall!(
            libc::SYS_prlimit64,
            0usize,
            libc::RLIMIT_NOFILE,
            0usize,
            &raw mut limit
        )
    }?;
    let top = c_int::try_from(limit.rlim_cur).unwrap_or(c_int::MAX);
    for fd in 0..top {
        if !is_target(slots, fd) {
            close_fd(fd);
        }
    }
    Ok(())
}

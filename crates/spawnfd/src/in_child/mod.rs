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
//! The one exception is user code: the `pre_exec` hooks and the function
//! of `spawn_fn`, called last (steps 15 and 16). Their rules are the
//! caller's (`Command::pre_exec` documents them); this module only makes
//! sure that what they hand back is never dropped here and that a panic
//! in them stops in the child ([`run_hooks`]), and gives them a larger
//! stack (256 KiB, see `sys::clone`).
//!
//! [`crate::spawn::exec`] runs the same steps in the calling thread of the
//! calling process, before its own `execve`; the rules hold there too,
//! for the same reasons (other threads may hold the allocator's lock, and
//! a failure must leave the caller's memory as it was).
//!
//! The parent prepares everything in a [`ChildCtx`] (the C strings, the
//! candidate paths, the fd slots, the signal sets). [`child_main`] replays it
//! as a straight line of steps and never returns: it either execs or writes
//! one [`Report`] and exits with status 127.
//!
//! # The order of the steps
//!
//! All signals are blocked when the child starts (the parent blocked them
//! around the clone), so no handler can run and no job-control signal can
//! stop the child until step 13. Each step records itself in the report
//! before it runs, so a child that dies is blamed on the right step; each
//! failure carries its own [`Step`].
//!
//! 0. **User namespace hand-shake** (only with a new user namespace): wait
//!    on a futex until the parent has written the id maps. Then, where the
//!    kernel could not start the child in its cgroup (no
//!    `CLONE_INTO_CGROUP`: `clone`, or before Linux 5.7), **join the
//!    cgroup** by writing `0` to its `cgroup.procs`, before anything else
//!    runs; a failure is [`Step::Clone`]'s, as the kernel's refusal would be.
//! 1. **Signal dispositions**: reset every signal of the child's own table
//!    (its own copy since the clone, which no other thread can change) to
//!    `SIG_DFL`: the ignored ones, and the caught ones where the kernel did
//!    not (`CLONE_CLEAR_SIGHAND` is missing before Linux 5.5 and on the
//!    `clone` fallback); where the ignored ones are kept, reset those
//!    asked for all the same (`default_signals`); then ignore the
//!    requested ones. First, so that later steps run with a clean table.
//! 2. **Session and process group** (`setsid`, `setpgid`): before anything
//!    that concerns terminals, which belong to sessions.
//! 3. **Working directory given as an fd** (`fchdir`): before the fds are
//!    placed, which may reuse its number.
//! 4. **File descriptors**: check the inherited standard fds (one closed,
//!    or close-on-exec and so not the parent's stdio, becomes
//!    `/dev/null`), open `/dev/null` where asked, and
//!    place every source at its child number ([`crate::in_child::fdmap`]). Before a
//!    chroot, which may hide `/dev/null`, and before the limits, since a
//!    lowered `RLIMIT_NOFILE` would refuse the temporary copies.
//! 5. **Terminal** (`TIOCNOTTY` through `/dev/tty`, `TIOCSCTTY`,
//!    `tcsetpgrp`): on the placed child fds, after the session exists;
//!    `tcsetpgrp` from a background group is not stopped by `SIGTTOU`
//!    because signals are still blocked.
//! 6. **Limits and scheduling** (`prlimit`, `setpriority`,
//!    `sched_setaffinity`): while the child still has the parent's
//!    privileges, which raising a hard limit or a priority needs.
//! 7. **File mode mask** (`umask`).
//! 8. **Root directory and `/proc`** (`chroot`, [`Step::MountProc`]):
//!    before the credentials, since only the privileged may. With
//!    `mount_proc`, the mount tree is made private first, on the real root
//!    (a mount's propagation changes only at its root, which a chroot
//!    directory need not be), and procfs is mounted after the `chroot`, so
//!    that it is the new root's `/proc` that shows the new PID namespace.
//! 9. **Credentials**: `setgroups`, then `setgid`, then `setuid`: after
//!    `setuid` the child could no longer change the others. Around them,
//!    the **capability sets** ([`Step::Capabilities`]): `PR_SET_KEEPCAPS`
//!    and the bounding set before (dropping from it needs `CAP_SETPCAP`),
//!    the inheritable set (`capset`) and the ambient set after.
//! 10. **Working directory by path** (`chdir`): inside the new root and as
//!     the new user, who must be able to reach it; the program path is then
//!     relative to it, as with std.
//! 11. **Lifetime and privileges** (`PR_SET_PDEATHSIG`, then the check that
//!     the parent did not die before it; `PR_SET_NO_NEW_PRIVS`): after the
//!     credentials, whose change would clear the parent-death signal.
//! 12. **Tracing** (`PTRACE_TRACEME`): late, so that the tracee cannot be
//!     stopped before the mask step. From there on a signal stops it for
//!     its tracer, the spawning thread, which is therefore not suspended
//!     for a traced child and resumes such stops until exec.
//! 13. **Signal mask**: empty by default; once every disposition is final,
//!     so a pending signal meets only default or requested actions.
//! 14. **Close every other fd**: last before exec, so that it also closes
//!     whatever the steps above opened. `close_range(CLOSE_RANGE_CLOEXEC)`
//!     marks them, and exec closes them after the parent has been woken,
//!     so a parent with thousands of open fds is not kept waiting (and an
//!     exec in place whose execve fails keeps them). Without the flag
//!     (before 5.11) or `close_range` (before 5.9), each fd listed in
//!     `/proc/self/fd` is marked with `F_SETFD`. Skipped with
//!     `keep_inherited_fds`.
//! 15. **Hooks** (`Command::pre_exec`), in the order they were added. Last
//!     of all, after step 14, as std runs its `pre_exec` after its own
//!     steps: a hook sees the child as the program will (fds placed,
//!     credentials, directories and limits set, the final signal mask and
//!     dispositions), an fd it makes without `O_CLOEXEC` reaches the
//!     program instead of being marked by step 14 behind its back, and the
//!     fds step 14 marked are still open for it to use. Its signals are
//!     those of the program (the mask of step 13; every disposition
//!     default or ignored, so no handler of the parent can run). A hook's
//!     error is forgotten, never dropped (that would free the parent's
//!     memory); a panic is caught here and reported, since unwinding out
//!     of the child's entry would abort it only after the panic machinery
//!     had marked the *spawning thread* as panicking (its panic count
//!     lives in the thread-local storage the child shares).
//!     Then the **Landlock ruleset** (`landlock_restrict_self`) and the
//!     **seccomp filter**, last of all, so that they restrict the program
//!     and not the set-up (the filter need not allow the steps above).
//! 16. **Exec**: `execve` each candidate path in order, as `execvp` does;
//!     or, for `Command::spawn_fn`, close every fd marked close-on-exec
//!     (as the exec would have; not with `keep_inherited_fds`), run the
//!     function and exit with what it returned.
//!
//! # The fork path
//!
//! With `Command::use_fork` the same steps run in a child made by libc's
//! `fork()`: a copy of the parent, not a share, which these rules serve as
//! well. The differences are data in the [`ChildCtx`]: the namespaces are
//! entered with `unshare` in step 0 (the clone did not create them), caught
//! signals are reset in step 1, and the [`Report`] also goes, record by
//! record, to a close-on-exec pipe ([`Report::pipe`]), the parent having no
//! view of the child's memory.

#![allow(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

// The fd placement algorithm, generic over its system calls (so that it
// can be tested in the parent). It is child-side code under this
// module's lints, but needs no `unsafe`.
pub(crate) mod fdmap;
// The capability sets, the Landlock ruleset and the seccomp filter.
mod sandbox;

use core::ffi::{CStr, c_char, c_int, c_long, c_void};
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Relaxed, Release};
use core::sync::atomic::{AtomicI32, AtomicI64};

use self::fdmap::{FdOps, Slot};
use crate::error::Step;
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

/// What the child tells the parent. The child writes every field with
/// `Release` and the parent reads them with `Acquire` once the kernel has
/// told it that the child exec'd or exited (the `CLONE_VFORK` wake-up, or
/// the cleared `CLONE_CHILD_CLEARTID` word): the order follows from the
/// atomics themselves, not from what the wake-up happens to imply.
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
    /// On the fork path: the write end of the report pipe (close-on-exec,
    /// numbered above every child fd), to which each stage and the failure
    /// are also written as [`Record`]s.
    pub(crate) pipe: Option<c_int>,
}

/// One record of the report pipe (24 bytes, written whole: a pipe write of
/// at most `PIPE_BUF` bytes is atomic).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Record {
    /// [`Record::STAGE`] or [`Record::FAILED`].
    pub(crate) kind: u32,
    /// The step ([`Step::code`]).
    pub(crate) step: u32,
    pub(crate) errno: i32,
    pub(crate) pad: u32,
    pub(crate) detail: i64,
}

impl Record {
    pub(crate) const STAGE: u32 = 1;
    pub(crate) const FAILED: u32 = 2;
    pub(crate) const SIZE: usize = core::mem::size_of::<Record>();

    /// Writes the record to `fd`; a failure is ignored (the parent then
    /// reads less and blames the last stage it saw).
    fn send(&self, fd: c_int) {
        loop {
            // SAFETY: `self` is plain data of `SIZE` bytes that outlives the
            // call.
            let r =
                unsafe { syscall!(libc::SYS_write, fd, core::ptr::from_ref(self), Record::SIZE) };
            if r != Err(Errno(libc::EINTR)) {
                return;
            }
        }
    }
}

/// A `pre_exec` hook, as the command holds it.
pub(crate) type Hook = Box<dyn Fn() -> std::io::Result<()> + Send + Sync>;

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
    /// Leave the signals the parent ignores ignored (`execve`'s default),
    /// instead of resetting them to `SIG_DFL`.
    pub(crate) keep_ignored: bool,
    /// Reset caught signals too: the kernel did not (no
    /// `CLONE_CLEAR_SIGHAND`), and the parent's handlers must not run here.
    pub(crate) reset_caught: bool,
    /// The child's signal mask, in the kernel's layout.
    pub(crate) mask: u64,
    /// Signals to set to `SIG_IGN`, after the reset.
    pub(crate) ignore_signals: u64,
    /// The capability sets, the Landlock ruleset, the seccomp filter.
    pub(crate) sandbox: crate::spawn::sandbox::ChildSandbox<'a>,
    /// Signals reset to `SIG_DFL` even with `keep_ignored`
    /// (`Command::default_signals`; never `SIGKILL` or `SIGSTOP`).
    pub(crate) default_signals: u64,
    pub(crate) attrs: ChildAttrs<'a>,
    /// With a new user namespace: 0 until the parent has written the id
    /// maps (futex word).
    pub(crate) go: Option<&'a AtomicU32>,
    /// Where the kernel could not start the child in its cgroup (no
    /// `CLONE_INTO_CGROUP`): the cgroup to join.
    pub(crate) join_cgroup: Option<JoinCgroup>,
    /// `CLONE_NEW*` flags to `unshare` in step 0 (the fork path, where no
    /// clone created them).
    pub(crate) unshare: u64,
    /// Skip step 14 (`keep_inherited_fds`).
    pub(crate) keep_fds: bool,
    /// The `pre_exec` hooks (step 15).
    pub(crate) hooks: &'a [Hook],
    /// `Command::spawn_fn`: run this instead of `execve` and exit with its
    /// value.
    pub(crate) function: Option<&'a (dyn Fn() -> i32 + Sync)>,
    pub(crate) report: &'a Report,
}

/// A cgroup the child joins itself.
#[derive(Clone, Copy)]
pub(crate) struct JoinCgroup {
    /// The cgroup's `cgroup.procs`, open for writing.
    pub(crate) procs: c_int,
    /// Create the new cgroup namespace after joining (instead of at the
    /// clone), so that its root is the joined cgroup, as with
    /// `CLONE_INTO_CGROUP`.
    pub(crate) new_namespace: bool,
}

/// The attributes beyond std's, laid out for the child.
#[derive(Default)]
pub(crate) struct ChildAttrs<'a> {
    pub(crate) setsid: bool,
    pub(crate) pgid: Option<c_int>,
    /// `(resource, soft, hard)`.
    pub(crate) rlimits: &'a [(c_int, u64, u64)],
    pub(crate) nice: Option<c_int>,
    /// A CPU bit set, empty for none.
    pub(crate) cpus: &'a [u64],
    pub(crate) umask: Option<u32>,
    pub(crate) chroot: Option<&'a CStr>,
    /// Make the mount tree private and mount procfs on `/proc` (in a new
    /// mount namespace, checked by the parent).
    pub(crate) mount_proc: bool,
    pub(crate) groups: Option<&'a [u32]>,
    /// `setgroups(0)` as std does for a `uid` without `groups`: EPERM is
    /// not an error then.
    pub(crate) drop_groups: bool,
    pub(crate) gid: Option<u32>,
    pub(crate) uid: Option<u32>,
    /// Working directory as an fd of the parent (and so of the child).
    pub(crate) cwd_fd: Option<c_int>,
    pub(crate) noctty: bool,
    pub(crate) ctty: Option<c_int>,
    pub(crate) foreground: Option<c_int>,
    /// The signal, and the parent's pid for the race check (0: skip it,
    /// as in a new PID namespace, where `getppid` says 0).
    pub(crate) pdeathsig: Option<(c_int, c_int)>,
    pub(crate) no_new_privs: bool,
    pub(crate) traceme: bool,
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
    replay(ctx);
    exit(127)
}

/// Runs the steps in the calling process and, as they return only on
/// failure, writes the failure into the report. The child's entry calls it
/// in the new process; [`crate::spawn::exec`] calls it in the process that asked
/// for the exec, under the same rules.
pub(crate) fn replay(ctx: &mut ChildCtx<'_>) {
    let fail = run(ctx);
    let report = ctx.report;
    report.errno.store(fail.errno.0, Release);
    report.detail.store(fail.detail, Release);
    // Last: a parent that sees `failed` sees the fields above.
    report.failed.store(fail.step.code(), Release);
    if let Some(fd) = report.pipe {
        Record {
            kind: Record::FAILED,
            step: fail.step.code(),
            errno: fail.errno.0,
            pad: 0,
            detail: fail.detail,
        }
        .send(fd);
    }
}

fn exit(code: c_int) -> ! {
    loop {
        // SAFETY: exit_group takes a plain integer and does not return.
        let _ = unsafe { syscall!(libc::SYS_exit_group, code) };
    }
}

/// The steps, in order; returns only on failure.
fn run(ctx: &mut ChildCtx<'_>) -> Fail {
    match steps(ctx) {
        Err(fail) => fail,
        Ok(never) => match never {},
    }
}

/// Records the step about to run, so that the parent can name it if the
/// child dies without a report.
fn stage(report: &Report, step: Step) {
    report.stage.store(step.code(), Release);
    if let Some(fd) = report.pipe {
        Record {
            kind: Record::STAGE,
            step: step.code(),
            ..Record::default()
        }
        .send(fd);
    }
}

/// Maps a failed system call to its step.
fn at<T>(step: Step, detail: i64, r: Result<T, Errno>) -> Result<T, Fail> {
    r.map_err(|e| Fail::new(step, e, detail))
}

fn steps(ctx: &mut ChildCtx<'_>) -> Result<core::convert::Infallible, Fail> {
    let report = ctx.report;
    let a = &ctx.attrs;

    // 0. With a new user namespace, wait for the parent to write its maps.
    if let Some(go) = ctx.go {
        wait_for_go(go);
    }

    // 0. Where the kernel could not start the child in its cgroup, join it
    //    now, before anything else runs: "0" is the writing process. The
    //    step is the one a refusal of CLONE_INTO_CGROUP names.
    //    A new cgroup namespace is made after, rooted at that cgroup; on
    //    the fork path the other new namespaces too, which the clone would
    //    have made (so a refusal names the same step).
    let new_cgroup_ns = ctx.join_cgroup.is_some_and(|join| join.new_namespace);
    if ctx.join_cgroup.is_some() || ctx.unshare != 0 {
        stage(report, Step::Clone);
        if let Some(join) = ctx.join_cgroup {
            // SAFETY: a one-byte buffer that outlives the call; `procs` is
            // an fd the parent keeps open until we exec or exit.
            at(Step::Clone, -1, unsafe {
                syscall!(libc::SYS_write, join.procs, b"0".as_ptr(), 1usize)
            })?;
        }
        let namespaces = ctx.unshare
            | if new_cgroup_ns {
                libc::CLONE_NEWCGROUP as u64
            } else {
                0
            };
        if namespaces != 0 {
            // SAFETY: an integer argument.
            at(Step::Clone, -1, unsafe {
                syscall!(libc::SYS_unshare, namespaces)
            })?;
        }
    }

    // 1. Signal dispositions: reset, then the requested ignores. First, so
    //    that later steps run with a clean table.
    stage(report, Step::SignalDisposition);
    reset_dispositions(ctx.keep_ignored, ctx.reset_caught)?;
    if ctx.keep_ignored {
        set_dispositions(ctx.default_signals, SIG_DFL)?;
    }
    set_dispositions(ctx.ignore_signals, SIG_IGN)?;

    // 2. Session and process group, before anything about terminals.
    if a.setsid {
        stage(report, Step::Setsid);
        // SAFETY: no arguments.
        at(Step::Setsid, -1, unsafe { syscall!(libc::SYS_setsid) })?;
    }
    if let Some(pgid) = a.pgid {
        stage(report, Step::ProcessGroup);
        // SAFETY: integer arguments.
        at(Step::ProcessGroup, i64::from(pgid), unsafe {
            syscall!(libc::SYS_setpgid, 0usize, pgid)
        })?;
    }

    // 3. Working directory given as an fd: before the fds are placed,
    //    which may reuse its number. (The fd is itself the permission to
    //    enter the directory; a path is entered in step 10, as the new
    //    user.)
    if let Some(fd) = a.cwd_fd {
        stage(report, Step::Chdir);
        // SAFETY: an integer argument.
        at(Step::Chdir, i64::from(fd), unsafe {
            syscall!(libc::SYS_fchdir, fd)
        })?;
    }

    // 4. File descriptors: check the inherited standard fds, open
    //    /dev/null where asked (before a chroot can hide it), place every
    //    source at its child number. Before the limits, so a lowered
    //    RLIMIT_NOFILE cannot stand in the way of the moves.
    stage(report, Step::DevNull);
    resolve_sources(ctx.slots, ctx.sources)?;
    stage(report, Step::FdMapping);
    fdmap::place(&mut RawFds, ctx.slots).map_err(fd_failure)?;

    // 5. Terminal, on the placed child fds (opening /dev/tty before any
    //    chroot). Signals are still blocked, so
    //    tcsetpgrp from a background group is not stopped by SIGTTOU.
    set_terminal(report, a)?;

    // 6. Limits and scheduling, while the child still has the parent's
    //    privileges (raising a hard limit or priority needs them).
    for &(resource, soft, hard) in a.rlimits {
        stage(report, Step::Rlimit);
        let limit = libc::rlimit64 {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `limit` outlives the call; no old limit is asked for.
        at(Step::Rlimit, i64::from(resource), unsafe {
            syscall!(
                libc::SYS_prlimit64,
                0usize,
                resource,
                &raw const limit,
                0usize
            )
        })?;
    }
    if let Some(nice) = a.nice {
        stage(report, Step::Nice);
        // SAFETY: integer arguments.
        at(Step::Nice, i64::from(nice), unsafe {
            syscall!(libc::SYS_setpriority, libc::PRIO_PROCESS, 0usize, nice)
        })?;
    }
    if !a.cpus.is_empty() {
        stage(report, Step::CpuAffinity);
        // SAFETY: `cpus` is a bit set of the given size in bytes.
        at(Step::CpuAffinity, -1, unsafe {
            syscall!(
                libc::SYS_sched_setaffinity,
                0usize,
                core::mem::size_of_val(a.cpus),
                a.cpus.as_ptr()
            )
        })?;
    }

    // 7. File mode mask (cannot fail).
    if let Some(mask) = a.umask {
        // SAFETY: an integer argument.
        let _ = unsafe { syscall!(libc::SYS_umask, mask) };
    }

    // 8. Root directory and /proc, before the credentials that may forbid
    //    them: the tree made private on the real root, then chroot, then
    //    procfs on the new root's /proc.
    if a.mount_proc {
        stage(report, Step::MountProc);
        make_mounts_private()?;
    }
    if let Some(dir) = a.chroot {
        stage(report, Step::Chroot);
        // SAFETY: a NUL-terminated path.
        at(Step::Chroot, -1, unsafe {
            syscall!(libc::SYS_chroot, dir.as_ptr())
        })?;
    }
    if a.mount_proc {
        stage(report, Step::MountProc);
        mount_proc()?;
    }

    // 9. Credentials: groups, then group id, then user id (after setuid the
    //    child could no longer change its groups); the capability sets
    //    around them (the bounding set while CAP_SETPCAP is ours, the
    //    ambient set once the ids are final).
    sandbox::before_credentials(report, &ctx.sandbox)?;
    set_credentials(report, a)?;
    sandbox::after_credentials(report, &ctx.sandbox)?;

    // 10. Working directory by path: inside the new root, as the new user.
    if let Some(dir) = ctx.cwd {
        stage(report, Step::Chdir);
        // SAFETY: a NUL-terminated path.
        at(Step::Chdir, -1, unsafe {
            syscall!(libc::SYS_chdir, dir.as_ptr())
        })?;
    }

    // 11. Lifetime and privileges. After the credentials, which would clear
    //     the parent-death signal.
    if let Some((sig, parent)) = a.pdeathsig {
        stage(report, Step::ParentDeathSignal);
        // SAFETY: integer arguments.
        at(Step::ParentDeathSignal, i64::from(sig), unsafe {
            syscall!(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, sig)
        })?;
        // The parent may have died before the prctl: then nobody will send
        // the signal, so send it ourselves (delivered once unblocked).
        // SAFETY: no arguments.
        let ppid = unsafe { syscall!(libc::SYS_getppid) }.unwrap_or(0);
        if parent != 0 && ppid != c_long::from(parent) {
            // SAFETY: integer arguments; the signal goes to ourselves.
            let me = unsafe { syscall!(libc::SYS_getpid) }.unwrap_or(0);
            // SAFETY: integer arguments.
            at(Step::ParentDeathSignal, i64::from(sig), unsafe {
                syscall!(libc::SYS_kill, me, sig)
            })?;
        }
    }
    if a.no_new_privs {
        stage(report, Step::NoNewPrivs);
        // SAFETY: integer arguments.
        at(Step::NoNewPrivs, -1, unsafe {
            syscall!(
                libc::SYS_prctl,
                libc::PR_SET_NO_NEW_PRIVS,
                1usize,
                0usize,
                0usize,
                0usize
            )
        })?;
    }

    // 12. Tracing, late, so that the tracee cannot stop in the earlier
    //     steps. A signal that reaches it from the mask step on stops it
    //     for its tracer, the spawning thread: that thread is not
    //     suspended for a traced child and resumes such stops (sys/clone).
    if a.traceme {
        stage(report, Step::Ptrace);
        // SAFETY: integer arguments.
        at(Step::Ptrace, -1, unsafe {
            syscall!(
                libc::SYS_ptrace,
                libc::PTRACE_TRACEME,
                0usize,
                0usize,
                0usize
            )
        })?;
    }

    // 13. Signal mask, once every disposition is final.
    stage(report, Step::SignalMask);
    let mask = ctx.mask;
    // SAFETY: `mask` is an 8-byte kernel sigset_t that outlives the call.
    at(Step::SignalMask, -1, unsafe {
        syscall!(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &raw const mask,
            0usize,
            8usize
        )
    })?;

    // 14. Close every fd that is not the child's: last, so that it also
    //     closes whatever the steps above opened.
    if !ctx.keep_fds {
        stage(report, Step::CloseFds);
        fdmap::close_unmapped(&mut RawFds, ctx.slots).map_err(fd_failure)?;
    }

    // 15. The pre_exec hooks, in the state the program will start in.
    if !ctx.hooks.is_empty() {
        stage(report, Step::Hook);
        run_hooks(ctx.hooks)?;
    }

    // 15b. The Landlock ruleset and the seccomp filter, last: they would
    //      restrict the hooks and the steps above.
    sandbox::restrict(report, &ctx.sandbox)?;

    // 16. Exec, or the function of spawn_fn.
    stage(report, Step::Exec);
    if let Some(function) = ctx.function {
        // The parent of a forked child sees end of file: the function runs.
        if let Some(fd) = report.pipe {
            close_fd(fd);
        }
        // What step 14 marked (and whatever else is close-on-exec) goes
        // now, as an exec would close it: the function starts with the
        // fds the program would have had. A failure leaves them open, as
        // marked; the function runs all the same.
        if !ctx.keep_fds {
            let _ = close_marked();
        }
        exit(call_function(function))
    }
    Err(exec(ctx))
}

/// Added to a hook's index in [`Report::detail`] when it panicked.
pub(crate) const HOOK_PANICKED: i64 = 1 << 32;

/// Runs the hooks in order; the first error or panic is the failure.
///
/// The error a hook returns is forgotten: dropping it would free memory
/// that may be the parent's. A panic is caught, not left to unwind to the
/// child's `extern "C"` entry, whose abort would come only after the panic
/// count of the spawning thread (in the thread-local storage the child
/// shares) had been raised for good, leaving that thread "panicking" in
/// the parent (poisoning every mutex it then unlocks); catching it brings
/// the count back. The payload is forgotten too.
fn run_hooks(hooks: &[Hook]) -> Result<(), Fail> {
    for (i, hook) in hooks.iter().enumerate() {
        let index = i as i64;
        match std::panic::catch_unwind(core::panic::AssertUnwindSafe(hook)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                let errno = error.raw_os_error().unwrap_or(libc::EINVAL);
                core::mem::forget(error);
                return Err(Fail::new(Step::Hook, Errno(errno), index));
            }
            Err(payload) => {
                core::mem::forget(payload);
                return Err(Fail::new(
                    Step::Hook,
                    Errno(0),
                    HOOK_PANICKED.wrapping_add(index),
                ));
            }
        }
    }
    Ok(())
}

/// The exit status of a `spawn_fn` child whose function panicked, as a
/// Rust program's whose `main` panicked.
pub(crate) const FUNCTION_PANICKED: c_int = 101;

/// Runs the function of `spawn_fn`; a panic is caught as in [`run_hooks`].
fn call_function(function: &(dyn Fn() -> i32 + Sync)) -> c_int {
    match std::panic::catch_unwind(core::panic::AssertUnwindSafe(function)) {
        Ok(code) => code,
        Err(payload) => {
            core::mem::forget(payload);
            FUNCTION_PANICKED
        }
    }
}

fn fd_failure(failure: fdmap::Failure) -> Fail {
    match failure {
        fdmap::Failure::Map { target, errno } => {
            Fail::new(Step::FdMapping, errno, i64::from(target))
        }
        fdmap::Failure::Close(errno) => Fail::new(Step::CloseFds, errno, -1),
    }
}

/// [`Report::detail`] of a failed [`Step::MountProc`] when mounting procfs
/// on `/proc` failed (0: making `/` private).
pub(crate) const MOUNT_PROC_AT: i64 = 1;

/// `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)`: nothing mounted
/// from here on propagates to the parent's mount namespace, which the new
/// one's mounts may share propagation with.
fn make_mounts_private() -> Result<(), Fail> {
    // SAFETY: a NUL-terminated literal path; the other pointers are NULL.
    at(Step::MountProc, 0, unsafe {
        syscall!(
            libc::SYS_mount,
            0usize,
            c"/".as_ptr(),
            0usize,
            libc::MS_REC | libc::MS_PRIVATE,
            0usize
        )
    })
    .map(drop)
}

/// Mounts a new procfs on `/proc`, over what was there. It shows the PID
/// namespace of the mounting process: the child's own.
fn mount_proc() -> Result<(), Fail> {
    // SAFETY: NUL-terminated literal source, target and type; no data.
    at(Step::MountProc, MOUNT_PROC_AT, unsafe {
        syscall!(
            libc::SYS_mount,
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            0usize
        )
    })
    .map(drop)
}

/// Sleeps on the futex word until the parent sets it.
fn wait_for_go(go: &AtomicU32) {
    while go.load(Relaxed) == 0 {
        // SAFETY: a futex wait on a live, aligned u32 while it holds 0;
        // spurious wake-ups and EINTR loop.
        let _ = unsafe {
            syscall!(
                libc::SYS_futex,
                go.as_ptr(),
                libc::FUTEX_WAIT,
                0usize,
                0usize
            )
        };
    }
}

fn set_credentials(report: &Report, a: &ChildAttrs<'_>) -> Result<(), Fail> {
    if let Some(groups) = a.groups {
        stage(report, Step::Setgroups);
        // SAFETY: `groups` is an array of that many gid_t.
        let r = unsafe { syscall!(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
        match r {
            // std's implicit drop of root's groups is skipped where the
            // child may not change groups.
            Err(Errno(libc::EPERM)) if a.drop_groups => {}
            r => drop(at(Step::Setgroups, -1, r)?),
        }
    }
    if let Some(gid) = a.gid {
        stage(report, Step::Setgid);
        // SAFETY: an integer argument.
        at(Step::Setgid, i64::from(gid), unsafe {
            syscall!(libc::SYS_setgid, gid)
        })?;
    }
    if let Some(uid) = a.uid {
        stage(report, Step::Setuid);
        // SAFETY: an integer argument.
        at(Step::Setuid, i64::from(uid), unsafe {
            syscall!(libc::SYS_setuid, uid)
        })?;
    }
    Ok(())
}

fn set_terminal(report: &Report, a: &ChildAttrs<'_>) -> Result<(), Fail> {
    if a.noctty {
        stage(report, Step::DetachTerminal);
        // SAFETY: a NUL-terminated literal path.
        match unsafe {
            syscall!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c"/dev/tty".as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
                0usize
            )
        } {
            // No controlling terminal (or no /dev/tty at all): nothing to
            // detach from.
            Err(Errno(libc::ENXIO | libc::ENOENT)) => {}
            Err(e) => return Err(Fail::new(Step::DetachTerminal, e, -1)),
            Ok(tty) => {
                // SAFETY: an ioctl without argument on the fd just opened.
                let r = unsafe { syscall!(libc::SYS_ioctl, tty, libc::TIOCNOTTY) };
                close_fd(tty as c_int);
                at(Step::DetachTerminal, -1, r)?;
            }
        }
    }
    if let Some(fd) = a.ctty {
        stage(report, Step::ControllingTerminal);
        // SAFETY: integer arguments.
        at(Step::ControllingTerminal, i64::from(fd), unsafe {
            syscall!(libc::SYS_ioctl, fd, libc::TIOCSCTTY, 0usize)
        })?;
    }
    if let Some(fd) = a.foreground {
        stage(report, Step::Foreground);
        // SAFETY: no arguments beyond the pid 0.
        let pgrp = at(Step::Foreground, i64::from(fd), unsafe {
            syscall!(libc::SYS_getpgid, 0usize)
        })? as libc::pid_t;
        // SAFETY: `pgrp` outlives the call.
        at(Step::Foreground, i64::from(fd), unsafe {
            syscall!(libc::SYS_ioctl, fd, libc::TIOCSPGRP, &raw const pgrp)
        })?;
    }
    Ok(())
}

/// Like execvp: go on past files that are missing, remember a file that is
/// there but not executable, stop at any other error.
fn exec(ctx: &ChildCtx<'_>) -> Fail {
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

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// Sets signal `sig` to `handler` (`SIG_DFL` or `SIG_IGN`); returns the
/// handler it had.
fn set_disposition(sig: u32, handler: u64) -> Result<u64, Fail> {
    // A kernel `struct sigaction`: the handler, no flags, (no restorer,)
    // an empty mask.
    let action = [handler, 0, 0, 0];
    let mut old = [0u64; 4];
    // SAFETY: `action` and `old` are kernel sigactions that outlive the
    // call.
    let r = unsafe {
        syscall!(
            libc::SYS_rt_sigaction,
            sig,
            action.as_ptr(),
            old.as_mut_ptr(),
            8usize
        )
    };
    at(Step::SignalDisposition, i64::from(sig), r)?;
    Ok(old.first().copied().unwrap_or(SIG_DFL))
}

/// Sets signal `sig` to `SIG_DFL`, not asking for the old action.
fn reset_disposition(sig: u32) -> Result<(), Fail> {
    let action = [SIG_DFL, 0, 0, 0];
    // SAFETY: `action` is a kernel sigaction that outlives the call; no old
    // action is requested.
    let r = unsafe { syscall!(libc::SYS_rt_sigaction, sig, action.as_ptr(), 0usize, 8usize) };
    at(Step::SignalDisposition, i64::from(sig), r).map(drop)
}

/// Sets each signal of `set` to `handler` (`SIG_DFL` or `SIG_IGN`).
fn set_dispositions(set: u64, handler: u64) -> Result<(), Fail> {
    let mut bits = set;
    while bits != 0 {
        let sig = bits.trailing_zeros().wrapping_add(1);
        bits &= bits.wrapping_sub(1);
        set_disposition(sig, handler)?;
    }
    Ok(())
}

/// Resets the dispositions that must not reach the new program: the
/// ignored ones (unless `keep_ignored`) and, with `reset_caught`, those with
/// a handler.
///
/// The child looks at its own table, which is its own copy since the clone
/// and which no thread of the parent can change any more: a set read by
/// the parent before the clone would miss a signal that another thread
/// ignored or caught in between. There is no call that reads or resets
/// them all at once, so it is one `rt_sigaction` per signal (cheaper than
/// reading `/proc/self/status`, and without needing `/proc`):
///
/// - resetting ignored signals (the default): each one to `SIG_DFL`,
///   which also resets a handler;
/// - keeping them, where the kernel already reset the handlers
///   (`CLONE_CLEAR_SIGHAND`): nothing to do, every disposition is `SIG_DFL`
///   or `SIG_IGN`;
/// - keeping them without it: each one to `SIG_DFL`, and back to `SIG_IGN`
///   where it was ignored.
fn reset_dispositions(keep_ignored: bool, reset_caught: bool) -> Result<(), Fail> {
    if keep_ignored && !reset_caught {
        return Ok(());
    }
    for sig in 1..=64u32 {
        if sig == libc::SIGKILL as u32 || sig == libc::SIGSTOP as u32 {
            continue;
        }
        if keep_ignored {
            if set_disposition(sig, SIG_DFL)? == SIG_IGN {
                set_disposition(sig, SIG_IGN)?;
            }
        } else {
            reset_disposition(sig)?;
        }
    }
    Ok(())
}

/// Fills in each slot's source fd: opens `/dev/null` where asked, and
/// checks each inherited standard fd.
///
/// An inherited fd 0, 1 or 2 that is closed in the parent, or open but
/// close-on-exec, is not the parent's stdio: real stdio is never
/// close-on-exec, while an fd that took a free low number (a pidfd, an
/// epoll fd, a directory the library or the application opened with
/// `O_CLOEXEC`) is. The child gets `/dev/null` there instead.
fn resolve_sources(slots: &mut [Slot], sources: &[Source]) -> Result<(), Fail> {
    // Look at every inherited fd before opening anything: an open lands on
    // the lowest free number, which may be one of them.
    let mut real_stdio = [false; 3];
    for (slot, source) in slots.iter().zip(sources) {
        if *source == Source::Inherit {
            if let Some(real) = real_stdio.get_mut(slot.target as usize) {
                // SAFETY: fcntl with integer arguments; EBADF for a closed fd.
                let flags = unsafe { syscall!(libc::SYS_fcntl, slot.target, libc::F_GETFD) };
                *real = matches!(flags, Ok(f) if f & c_long::from(libc::FD_CLOEXEC) == 0);
            }
        }
    }
    for (slot, source) in slots.iter_mut().zip(sources) {
        slot.src = match *source {
            Source::Fd(fd) => fd,
            Source::Null(flags) => open_dev_null(flags, slot.target)?,
            Source::Inherit => {
                if real_stdio.get(slot.target as usize) == Some(&true) {
                    slot.target
                } else {
                    open_dev_null(libc::O_RDWR, slot.target)?
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
        // Mark the fds close-on-exec rather than closing them here: closing
        // thousands of files takes milliseconds, and the parent is suspended
        // until exec, which then closes them after it has woken the parent
        // (as posix_spawn's exec does). And an exec in place
        // (`Command::exec`) whose execve fails goes on with the caller's
        // fds intact. CLOSE_RANGE_CLOEXEC is since Linux 5.11; before,
        // EINVAL, and `close_unlisted` marks the fds one by one (ENOSYS
        // sends `fdmap` there).
        // SAFETY: close_range with integer arguments (since Linux 5.9).
        match unsafe {
            syscall!(
                libc::SYS_close_range,
                first,
                last,
                libc::CLOSE_RANGE_CLOEXEC
            )
        } {
            Err(Errno(libc::EINVAL)) => Err(Errno(libc::ENOSYS)),
            r => r.map(drop),
        }
    }

    fn close_unlisted(&mut self, slots: &[Slot]) -> Result<(), Errno> {
        close_unlisted(slots)
    }
}

fn is_target(slots: &[Slot], fd: c_int) -> bool {
    slots.binary_search_by_key(&fd, |s| s.target).is_ok()
}

/// Sets `FD_CLOEXEC` on `fd` (its only descriptor flag); `EBADF` is fine.
fn set_cloexec(fd: c_int) {
    // SAFETY: fcntl with integer arguments.
    let _ = unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

fn close_fd(fd: c_int) {
    // SAFETY: close with an integer argument; EBADF is fine here.
    let _ = unsafe { syscall!(libc::SYS_close, fd) };
}

/// Marks every fd that is not a target close-on-exec, without
/// `close_range(CLOSE_RANGE_CLOEXEC)` ([`each_fd`]). Marked rather than
/// closed, as `close_range` does: exec closes them, and an exec in place
/// whose execve fails keeps them.
fn close_unlisted(slots: &[Slot]) -> Result<(), Errno> {
    each_fd(|fd| {
        if !is_target(slots, fd) {
            set_cloexec(fd);
        }
    })
}

/// Closes every fd marked close-on-exec, as an exec would: the fd table a
/// `spawn_fn` function starts with is the one the program would have had
/// ([`each_fd`]).
fn close_marked() -> Result<(), Errno> {
    each_fd(|fd| {
        // SAFETY: fcntl with integer arguments; EBADF (a number that is
        // not open, without /proc) gives no flag.
        if let Ok(flags) = unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_GETFD, 0usize) } {
            if flags as c_int & libc::FD_CLOEXEC != 0 {
                close_fd(fd);
            }
        }
    })
}

/// Calls `f` with each fd `/proc/self/fd` lists (read into a buffer on the
/// stack, the directory's own fd left out), or, without `/proc`, with
/// every number below `RLIMIT_NOFILE` (open or not: `f` takes `EBADF`).
/// `f` may close the fd it is given.
fn each_fd(mut f: impl FnMut(c_int)) -> Result<(), Errno> {
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
        Err(_) => return each_below_limit(f),
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
                if fd != dir {
                    f(fd);
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

/// [`each_fd`] without `/proc`: every number below the soft
/// `RLIMIT_NOFILE`.
fn each_below_limit(mut f: impl FnMut(c_int)) -> Result<(), Errno> {
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
        f(fd);
    }
    Ok(())
}

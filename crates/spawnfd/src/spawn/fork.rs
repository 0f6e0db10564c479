//! The fork path: a spawn whose child is made by the C library's `fork()`
//! ([`Command::use_fork`](crate::Command::use_fork)), and
//! [`fork_with_pidfd`], a `fork` that returns in the child with the parent
//! holding a [`Child`].
//!
//! The child runs the very same steps as on the default path
//! ([`crate::in_child`]), on its copy of the spawning thread's stack. What
//! differs is the way things travel: the child's new namespaces are
//! entered with `unshare` in its first step (the clone did not make them),
//! caught signals are reset by the child (there is no
//! `CLONE_CLEAR_SIGHAND`), and the report comes through a close-on-exec
//! pipe, one 24-byte record per stage and one for a failure: end of file
//! after the exec stage means the child exec'd, end of file before it that
//! the child died at the stage last seen, exactly what the shared `Report`
//! says on the default path. The pidfd is held before the child runs its
//! first step, and the pipe is made by the child, so that no other fork
//! can copy its write end ([`crate::sys::fork`]).

// The parent's reading of the report and the child's entry are raw calls;
// `fork_with_pidfd` is an `unsafe fn`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::command::Command;
use crate::error::{Detail, Step};
use crate::in_child::{ChildCtx, JoinCgroup, Record, Report, child_main};
use crate::spawn::attrs::Namespaces;
use crate::spawn::{Function, Prepared, Spawned};
use crate::sys::clone::{self, BlockAllSignals, Created};
use crate::sys::fork::{self as sysfork, Forked as SysForked};
use crate::sys::os;
use crate::sys::pidfd::Target;
use crate::sys::watch::{self, Pending};
use crate::wait::child::{Child, Handle, OnDrop};

/// A spawn on the fork path. `prep` has been checked for it
/// (`spawn::check_path`).
pub(crate) fn spawn_forked(
    cmd: &Command,
    mut prep: Prepared<'_>,
    function: Option<Function<'_>>,
) -> io::Result<Spawned> {
    let clone_error =
        |prep: &Prepared<'_>, e: io::Error| prep.error(Step::Clone, e.raw_os_error(), Detail::None);
    let no_pidfd = sysfork::pidfd_open_missing();
    // Without pidfd_open, or without waitid(P_PIDFD), the child is
    // watched by pid (unless handed over by pid); the thread comes before
    // the child.
    let watcher = if (no_pidfd || watch::waitid_pidfd_missing()) && !prep.by_pid {
        Some(Pending::new().map_err(|e| clone_error(&prep, e))?)
    } else {
        None
    };
    // The child joins its cgroup itself, first thing, and then makes its
    // new namespaces (a cgroup namespace after joining, rooted there).
    let join_cgroup = match prep.attrs.cgroup_procs() {
        None => None,
        Some(Ok(procs)) => Some(JoinCgroup {
            procs,
            new_namespace: cmd.attrs.namespaces.contains(Namespaces::CGROUP),
        }),
        Some(Err(e)) => return Err(clone_error(&prep, e)),
    };
    let mut unshare = prep.attrs.namespaces;
    if join_cgroup.is_some_and(|join| join.new_namespace) {
        unshare &= !(libc::CLONE_NEWCGROUP as u64);
    }
    // The report pipe is made by the child (sys::fork says why), its
    // write end numbered above every child fd: placing the fds must not
    // overwrite it (musl's posix_spawn moves its pipe for the same reason).
    let top = prep.slots.iter().map(|s| s.target).max().unwrap_or(2);
    let report_min = top.saturating_add(1).max(3);
    let report = Report::default();
    let blocked = BlockAllSignals::new()?;
    let mask = super::child_mask(cmd, &blocked);
    let mut ctx = ChildCtx {
        argv: prep.argv.as_ptr(),
        envp: prep.envp.as_ptr(),
        exec_paths: prep.exec_paths.strings(),
        cwd: prep.cwd.as_deref(),
        slots: &mut prep.slots,
        sources: &prep.sources,
        keep_ignored: !cmd.signals.reset_ignored,
        // No CLONE_CLEAR_SIGHAND: the child resets the handlers itself.
        reset_caught: true,
        mask,
        ignore_signals: cmd.attrs.ignore.as_raw(),
        default_signals: crate::spawn::default_signals(cmd),
        sandbox: crate::spawn::sandbox::plan(cmd),
        attrs: prep.attrs.child_attrs(&cmd.attrs),
        go: None,
        join_cgroup,
        unshare,
        keep_fds: cmd.keep_fds,
        hooks: &cmd.hooks,
        function,
        report: &report,
    };
    // SAFETY: the child runs only `child_main` (the in_child steps, which
    // are safe after fork) and never returns here; signals are blocked by
    // `blocked`.
    let forked = unsafe { sysfork::fork(!no_pidfd, &blocked) };
    let (pid, pidfd, channel) = match forked {
        Ok(SysForked::Parent {
            pid,
            pidfd,
            channel,
        }) => (pid, pidfd, channel),
        Ok(SysForked::Child { channel }) => {
            let Ok(pipe) = sysfork::child_report_pipe(channel, report_min) else {
                // The parent has the errno; nothing has run.
                child_exit(127)
            };
            let child_report = Report {
                pipe: Some(pipe),
                ..Report::default()
            };
            ctx.report = &child_report;
            // SAFETY: `ctx` is a live ChildCtx in this (copied) memory,
            // whose buffers nobody frees here: child_main never returns.
            unsafe { child_main((&raw mut ctx).cast()) }
        }
        Err(e) => return Err(prep.error(Step::Clone, e.raw_os_error(), Detail::None)),
    };
    match sysfork::receive_report_pipe(&channel) {
        Ok(Some(report_read)) => {
            drop(channel);
            let traced = cmd.attrs.traceme.then(|| match (&pidfd, &watcher) {
                (Some(fd), None) => Target::Pidfd(fd.as_fd()),
                // Unreaped until the caller or the watcher reaps it.
                _ => Target::Pid(pid),
            });
            read_report(&report_read, &report, traced, pid);
        }
        // The child died before it could make the pipe: `finish` blames
        // stage 0 (the clone) and looks at how it died.
        Ok(None) => {}
        // It could not make it (EMFILE): a failure to create the child.
        Err(e) => {
            use std::sync::atomic::Ordering::Relaxed;
            report
                .errno
                .store(e.raw_os_error().unwrap_or(libc::EIO), Relaxed);
            report.failed.store(Step::Clone.code(), Relaxed);
        }
    }
    drop(blocked);
    prep.finish(Created { pid, pidfd }, watcher, &report)
}

/// Reads the child's records until end of file into `report`, as the
/// child's stores would have filled it on the default path. A traced child
/// that stops before exec is stopped for us, its tracer: it is resumed, as
/// the default path's attended wait does, between polls.
fn read_report(pipe: &OwnedFd, report: &Report, traced: Option<Target<'_>>, pid: u32) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut buf = [0u8; 64 * Record::SIZE];
    let mut have = 0usize;
    let mut poll_ms = 0;
    loop {
        if let Some(target) = traced {
            let mut fds = [libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, poll_ms) };
            if n == 0 {
                // Exec closed the pipe (all its writers gone) before the
                // stop it makes.
                let exec_seen = || {
                    let mut fds = [libc::pollfd {
                        fd: pipe.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    }];
                    // SAFETY: one valid pollfd; no wait.
                    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
                    n > 0 && fds[0].revents & libc::POLLHUP != 0
                };
                poll_ms = if clone::resume_if_stopped(target, pid, exec_seen) {
                    0
                } else {
                    (poll_ms * 2).clamp(1, 5)
                };
                continue;
            }
        }
        let Some(free) = buf.get_mut(have..) else {
            break;
        };
        // SAFETY: `free` is writable for its length.
        let n = unsafe { libc::read(pipe.as_raw_fd(), free.as_mut_ptr().cast(), free.len()) };
        if n < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            // Nothing more can be read: what came is the report.
            break;
        }
        if n == 0 {
            break;
        }
        have += n as usize;
        // Take every whole record; keep a partial one for the next read.
        let whole = have / Record::SIZE * Record::SIZE;
        for chunk in buf[..whole].chunks_exact(Record::SIZE) {
            // SAFETY: a Record is plain integers, any bytes are one; the
            // read is unaligned.
            let record: Record = unsafe { std::ptr::read_unaligned(chunk.as_ptr().cast()) };
            match record.kind {
                Record::STAGE => report.stage.store(record.step, Relaxed),
                Record::FAILED => {
                    report.errno.store(record.errno, Relaxed);
                    report.detail.store(record.detail, Relaxed);
                    report.failed.store(record.step, Relaxed);
                }
                _ => {}
            }
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
}

/// Ends a child that has run nothing yet.
fn child_exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes an integer and does not return.
        unsafe { libc::syscall(libc::SYS_exit_group, code) };
    }
}

/// What [`fork_with_pidfd`] returns on each side.
///
/// ```
/// use spawnfd::{fork_with_pidfd, Forked};
///
/// // SAFETY: the child makes one system call and _exits.
/// let forked = unsafe { fork_with_pidfd() }?;
/// if let Forked::Parent(mut child) = forked {
///     // The pidfd was held before the child ran: its status is exact
///     // whatever other reapers this process has.
///     assert_eq!(child.wait()?.code(), Some(0));
/// } else {
///     unsafe { libc::_exit(0) }
/// }
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In the calling process: the new process, held by its pidfd.
    Parent(Child),
}

/// `fork()` with the child held by a pidfd in the parent before the child
/// runs a single instruction of the caller's: what Qt's `forkfd()` and
/// glibc's proposed `pidfd_fork()` promise, on top of the C library's real
/// `fork()` (so `pthread_atfork` handlers run and the C library's state is
/// valid in the child).
///
/// In the child, this returns [`Forked::Child`] once the parent holds the
/// pidfd (it waits for that first; if the parent dies before, the child
/// exits with status 127 without returning). The child is a `fork` child:
/// the parent's signal dispositions, mask and fds, as they are. In the
/// parent it returns [`Forked::Parent`] with a [`Child`] whose waits and
/// signals go through the pidfd (`pidfd_open`, Linux 5.3; where it is
/// missing, the child is watched by pid as on the other paths without
/// pidfds), so another reaper in the process (a `waitpid(-1)`, `SIGCHLD`
/// set to `SIG_IGN`) can never make it name another process. The child's
/// exit signal is `SIGCHLD`. A [`Child`] dropped unreaped is reaped by the
/// library's reaper, as any other.
///
/// # Safety
///
/// This is `fork` in a process that may have other threads: in the child,
/// until it execs or exits, only async-signal-safe code is sound (a lock
/// another thread held at the fork stays held; glibc's allocator is reset,
/// Rust's locks are not). End the child with `libc::_exit` or an exec,
/// never by returning from `main` or unwinding (that would run the
/// parent's destructors and `atexit` handlers in the copy).
///
/// # Errors
///
/// `fork`'s (`EAGAIN`, `ENOMEM`), those of the hand-shake's socket pair
/// and of `pidfd_open` (`EMFILE`), and `ESRCH` if the child was killed and
/// reaped by someone else before the pidfd was opened. No child is left
/// behind on an error.
///
/// # Examples
///
/// ```
/// use spawnfd::{fork_with_pidfd, Forked};
///
/// // SAFETY: the child only calls _exit.
/// match unsafe { fork_with_pidfd() }? {
///     Forked::Child => unsafe { libc::_exit(7) },
///     Forked::Parent(mut child) => assert_eq!(child.wait()?.code(), Some(7)),
/// }
/// # std::io::Result::Ok(())
/// ```
pub unsafe fn fork_with_pidfd() -> io::Result<Forked> {
    let _errno = os::KeepErrno::new();
    let no_pidfd = sysfork::pidfd_open_missing();
    let watcher = if no_pidfd || watch::waitid_pidfd_missing() {
        Some(Pending::new()?)
    } else {
        None
    };
    let blocked = BlockAllSignals::new()?;
    // SAFETY: the caller's contract; signals are blocked by `blocked`.
    let forked = unsafe { sysfork::fork(!no_pidfd, &blocked) }?;
    match forked {
        SysForked::Child { channel } => {
            // SAFETY: the child's end of the go channel, ours to close.
            drop(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(channel) });
            // The watcher's entry belongs to the parent's thread, and its
            // locks may have been held at the fork: leave it untouched.
            std::mem::forget(watcher);
            // The caller's mask back, as fork() leaves it.
            drop(blocked);
            Ok(Forked::Child)
        }
        SysForked::Parent { pid, pidfd, .. } => {
            drop(blocked);
            let handle = match (watcher, pidfd) {
                (Some(watcher), pidfd) => {
                    let (entry, exit_fd) = watcher.start(pid, pidfd);
                    Handle::Watched(entry, exit_fd)
                }
                (None, Some(pidfd)) => Handle::Pidfd(pidfd),
                (None, None) => {
                    // Not reached: a pidfd is asked for unless there is a
                    // watcher. Leave no child behind all the same (it is
                    // unreaped: the pid is still its own).
                    let _ = crate::sys::pidfd::kill_pid(pid, libc::SIGKILL);
                    sysfork::reap_pid(pid);
                    return Err(io::Error::from_raw_os_error(libc::ECHILD));
                }
            };
            Ok(Forked::Parent(Child::new(
                handle,
                pid,
                [None, None, None],
                OnDrop::default(),
            )))
        }
    }
}

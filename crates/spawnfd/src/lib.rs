//! Race-free, vfork-speed process spawning for Linux.
//!
//! `spawnfd` starts child processes correctly and fast, even from heavily
//! multi-threaded programs. Its [`Command`] is a drop-in superset of
//! [`std::process::Command`]:
//!
//! ```
//! use spawnfd::{Command, Stdio};
//!
//! let mut child = Command::new("sh")
//!     .args(["-c", "echo $GREETING"])
//!     .env("GREETING", "hello")
//!     .stdout(Stdio::piped())
//!     .spawn()?;
//! let out = std::io::read_to_string(child.stdout.take().unwrap())?;
//! assert_eq!(out, "hello\n");
//! assert!(child.wait()?.success());
//! # std::io::Result::Ok(())
//! ```
//!
//! What it does differently:
//!
//! - **The child is created with `clone3(CLONE_VM | CLONE_VFORK |
//!   CLONE_PIDFD)`** on a small stack of its own: no page tables are copied,
//!   so the cost does not grow with the parent's memory, and the pidfd comes
//!   with the process, atomically.
//! - **The child runs only a prepared plan** of raw system calls: every
//!   string, path candidate and fd move is computed in the parent first.
//! - **The child gets exactly the fds it was given** ([`Command::fd`]),
//!   whatever other threads open meanwhile, and a clean signal slate.
//! - **Failures are exact**: `spawn` returns the failing step, errno and
//!   path or fd as a [`SpawnError`], never a fake success followed by exit
//!   status 127.
//! - **The child is a file descriptor** ([`Child::pidfd`]): waiting and
//!   signalling go through it and can never reach a recycled pid.
//! - **For code that needs more**: [`Command::pre_exec`] hooks run last in
//!   the child, [`Command::use_fork`] takes the C library's `fork()` (with
//!   the same steps, errors and pidfd), [`Command::spawn_fn`] runs a
//!   function instead of a program, and [`fork_with_pidfd`] is a `fork`
//!   whose parent holds a pidfd before the child runs.
//!
//! # What the library holds
//!
//! - Up to 16 child stacks of 64 KiB (plus a guard page each), mapped on
//!   first use and reused, one per spawn running at the same moment; and
//!   up to 4 of 256 KiB for children that run user code
//!   ([`Command::pre_exec`] hooks, [`Command::spawn_fn`]).
//! - Nothing for the fork path ([`Command::use_fork`],
//!   [`fork_with_pidfd`]) beyond a socket pair and a pipe per spawn,
//!   closed when it returns.
//! - The reaper, on first need only: the first [`Child`] dropped while its
//!   process runs starts one thread (`spawnfd-reaper`) and one epoll fd
//!   (close-on-exec, numbered 3 or above), which reap the dropped children
//!   as they exit and live as long as the process. A process made by
//!   `fork` leaves its parent's reaper alone and starts its own when it
//!   needs one. If the fd or the thread cannot be had at that moment
//!   (`EMFILE`, `EAGAIN`), the children wait, nothing lost, for the next
//!   need; an epoll fd closed behind the library's back is replaced.
//!
//! - Only where the kernel gives no pidfd or cannot wait on one (below):
//!   one thread per running child (`spawnfd-watch`, 64 KiB of stack, every
//!   signal blocked) and one pipe, whose read end is the child's exit fd.
//!   The thread reaps its child when it exits and ends.
//!
//! No signal handler is installed; no thread is started but the reaper
//! (and, without pidfds, the watchers).
//!
//! # Requirements
//!
//! Linux 5.3 for `clone3` (5.5 for `CLONE_CLEAR_SIGHAND`; older kernels use
//! `clone`, from 5.2, with `CLONE_PIDFD`), 5.4 for `waitid(P_PIDFD)`, 5.9
//! for `close_range` (older kernels list `/proc/self/fd` instead). Which
//! of these the kernel (or a seccomp sandbox) allows is learnt from its
//! answers, the same way for every request, so what a spawn does never
//! depends on what was spawned before.
//!
//! Without `CLONE_PIDFD` (before 5.2) or `waitid(P_PIDFD)` (before 5.4, or
//! refused by a sandbox), each child is watched by pid by a thread of its
//! own and its fd is an *exit fd*, a pipe that becomes readable when it
//! exits: `Child`, `ChildSet` and the tokio module work the same, with the
//! differences listed under [`Child`] (no zombie phase; without a pidfd, a
//! status that another reaper in the process takes first is lost).
//!
//! x86_64 and aarch64. CI builds and tests x86_64, and compiles the
//! aarch64 assembly (the only code that differs) for aarch64 without
//! running it.
//!
//! # Features
//!
//! - `tokio` (off by default): the `spawnfd::tokio` module, whose
//!   `Command` and `Child` are shaped like `tokio::process` and wait for a
//!   child through the runtime's reactor (its pidfd becoming readable),
//!   with no `SIGCHLD` handler and no thread. Without it the crate depends
//!   on `libc` only.
//!
//! # Examples
//!
//! The `examples/` folder of the package has small programs that check
//! their own results: `capture_output` (piped stdout and stderr),
//! `pass_fds` (giving the child chosen fds), `timeout` (`wait_timeout`
//! then `kill`), `supervisor` (a [`ChildSet`] restarting failed children
//! a bounded number of times) and `tokio` (with the `tokio` feature).
//! Run one with `cargo run --example capture_output`.
//!
//! See the `ARCHITECTURE.md` file of the repository for how a spawn flows
//! through the modules.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!("spawnfd supports Linux only");

// The builder and the types every part shares.
mod capabilities;
mod command;
mod error;
mod signal;
// The parent's side of a spawn: validate and lay out the command, create
// the child (vfork, fork or in place), read its report.
mod spawn;
// The only code that runs in the child, between the clone and `execve`.
mod in_child;
// The child once it exists: `Child`, `ChildSet`, the reaper, tokio.
mod wait;
// A child's whole process tree as one unit: a cgroup v2 directory.
mod scope;
// Everything that talks to the kernel.
mod sys;
// `Command` and `Child` for tokio, as `tokio::process` (feature `tokio`).
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use wait::tokio;

pub use capabilities::{Capabilities, Feature, FeatureReport, Probe, capabilities};
pub use command::{Command, CommandArgs, CommandEnvs, Stdio};
pub use error::{SpawnError, Step};
pub use scope::{Containment, CpuUsage, KillMethod, Scope, TreeUsage};
pub use signal::{Signal, SignalSet};
pub use spawn::attrs::{IdMap, Namespaces, RLIM_INFINITY, Resource};
pub use spawn::fork::{Forked, fork_with_pidfd};
pub use spawn::sandbox::{Capability, CapabilitySet};
pub use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};
pub use wait::child::{Child, ResourceUsage};
pub use wait::childset::{ChildId, ChildSet, Exited, Exits};

#[doc(hidden)]
pub use sys::watch::entries as watch_entries;
#[doc(hidden)]
pub use wait::reaper::pending as reaper_pending;

use std::io;
use std::os::fd::BorrowedFd;

/// The pid of the process behind a pidfd, as glibc's `pidfd_getpid`
/// (from the `Pid:` line of `/proc/self/fdinfo`).
///
/// # Errors
///
/// - `EBADF`: `fd` is not a pidfd;
/// - `ESRCH`: its process has exited and been reaped;
/// - `EREMOTE`: its process is in a PID namespace this process cannot
///   see into.
///
/// ```
/// use spawnfd::{Command, pidfd_getpid};
/// let mut child = Command::new("true").spawn()?;
/// assert_eq!(pidfd_getpid(child.pidfd())?, child.id());
/// child.wait()?;
/// assert_eq!(pidfd_getpid(child.pidfd()).unwrap_err().raw_os_error(), Some(libc::ESRCH));
/// # std::io::Result::Ok(())
/// ```
pub fn pidfd_getpid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    sys::pidfd::getpid(fd)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit and
/// returns the new soft limit: for holding thousands of children (each has
/// a pidfd) in a [`ChildSet`].
pub fn raise_fd_limit() -> io::Result<u64> {
    sys::os::raise_fd_limit()
}

//! Everything that talks to the Linux kernel.
//!
//! What this layer provides to the rest of the crate:
//!
//! - [`raw`]: system calls that touch no thread-local state, the only way
//!   the child may call the kernel;
//! - [`clone`]: creating the child with `CLONE_VM | CLONE_VFORK |
//!   CLONE_PIDFD` on its own stack (`clone3` since Linux 5.3 with
//!   `CLONE_CLEAR_SIGHAND` since 5.5, else `clone` since 5.2), with every
//!   signal blocked around it; which call works is probed once and cached;
//! - [`pidfd`]: waiting for and signalling a child through its pidfd
//!   (`waitid(P_PIDFD)` since 5.4, `pidfd_send_signal` since 5.1);
//! - [`fork`]: the fork path's child, made by libc's `fork()`, waiting
//!   until the parent holds its pidfd (`pidfd_open`, since 5.3);
//! - [`epoll`]: readiness of many pidfds at once, for the reaper and
//!   `ChildSet`;
//! - [`per_process`]: state that a process made by `fork` does not share
//!   with its parent, reached without a lock;
//! - [`watch`]: children watched by pid, each by a small thread, where
//!   `CLONE_PIDFD` or `waitid(P_PIDFD)` is missing: the child is still an
//!   fd (a pipe's read end) that becomes readable when it exits;
//! - [`cgroup`]: cgroup v2 directories and files for `Scope` (made,
//!   removed, read and written through an open directory; `cgroup.events`
//!   polled for `POLLPRI`);
//! - [`os`]: the parent's other needs: pipes, the process's signal
//!   dispositions, non-blocking reads of two pipes at once;
//! - [`probe`]: the calls of the capability report, which ask the kernel
//!   what it takes without creating a lasting process or fd.
//!
//! Safe wrappers live here; the rest of the crate holds no `unsafe` except
//! the child module, which calls [`raw`].

mod arch;
pub(crate) mod cgroup;
pub(crate) mod clone;
pub(crate) mod epoll;
pub(crate) mod fork;
pub(crate) mod os;
pub(crate) mod per_process;
pub(crate) mod pidfd;
pub(crate) mod probe;
pub(crate) mod raw;
pub(crate) mod watch;

//! Ending a scope's whole tree: `cgroup.kill`, or freeze, signal, thaw.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use super::Scope;
use crate::sys::{cgroup, pidfd};

/// How [`Scope::kill`] ends the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KillMethod {
    /// Writing `1` to `cgroup.kill` (Linux 5.14): the kernel sends
    /// `SIGKILL` to every process of the cgroup and its descendants, and
    /// a fork racing with it cannot bring a new one in.
    CgroupKill,
    /// Before 5.14: freeze the tree (`cgroup.freeze`, Linux 5.2), so that
    /// nothing in it can fork; send `SIGKILL` to each member, through a
    /// pidfd opened while it was listed in `cgroup.procs` (so never to a
    /// process that took a dead member's pid); thaw; again until the
    /// tree is empty.
    FreezeAndSignal,
}

impl KillMethod {
    /// `CgroupKill` where the directory has a `cgroup.kill` (a property
    /// of the kernel: looked at once per process).
    pub(super) fn detect(dir: BorrowedFd<'_>) -> KillMethod {
        static DETECTED: std::sync::OnceLock<KillMethod> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(|| match cgroup::open_file_at(dir, c"cgroup.kill") {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => KillMethod::FreezeAndSignal,
            _ => KillMethod::CgroupKill,
        })
    }
}

/// How long one round of the freezer path waits for the tree to be frozen
/// (a process in uninterruptible sleep freezes only when it wakes); the
/// round signals what is listed then all the same.
const FREEZE_WAIT: Duration = Duration::from_millis(100);

/// How long one round waits for the signalled processes to be gone
/// before it looks again.
const ROUND_WAIT: Duration = Duration::from_millis(10);

pub(super) fn kill(scope: &Scope) -> io::Result<()> {
    match scope.method {
        KillMethod::CgroupKill => scope.write(c"cgroup.kill", b"1"),
        KillMethod::FreezeAndSignal => freeze_and_signal(scope),
    }
}

fn freeze_and_signal(scope: &Scope) -> io::Result<()> {
    while !scope.is_empty()? {
        scope.write(c"cgroup.freeze", b"1")?;
        scope.wait_frozen(Some(FREEZE_WAIT))?;
        signal_members(scope, libc::SIGKILL)?;
        scope.write(c"cgroup.freeze", b"0")?;
        scope.wait_empty_timeout(ROUND_WAIT)?;
    }
    Ok(())
}

/// Sends `sig` to each process listed in the scope and below it; how many.
///
/// A pidfd for each listed pid, then the list again: a pid still listed
/// after its pidfd was opened is the member the pidfd names (a living
/// process keeps its pid), so the signal can only reach the tree. Without
/// pidfds (before 5.3) the pid itself, which is exact while the tree is
/// frozen (a frozen member cannot exit and give its pid up).
pub(super) fn signal_members(scope: &Scope, sig: i32) -> io::Result<usize> {
    let listed = scope.pids()?;
    let opened: Vec<_> = listed
        .iter()
        .map(|&pid| (pid, cgroup::pidfd_of(pid)))
        .collect();
    let members: HashSet<u32> = scope.pids()?.into_iter().collect();
    let mut sent = 0;
    for (pid, fd) in opened {
        if !members.contains(&pid) {
            continue;
        }
        let result = match &fd {
            Some(fd) => pidfd::send_signal(fd.as_fd(), sig),
            None => pidfd::kill_pid(pid, sig),
        };
        match result {
            Ok(()) => sent += 1,
            // Gone meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// [`Scope::signal`]: frozen around the sweep where the kernel can freeze
/// (and the caller had not), so that no member forks out of its reach.
pub(super) fn signal(scope: &Scope, sig: i32) -> io::Result<usize> {
    let freeze = !scope.is_frozen()? && scope.can_freeze();
    if freeze {
        scope.write(c"cgroup.freeze", b"1")?;
        scope.wait_frozen(Some(FREEZE_WAIT))?;
    }
    let sent = signal_members(scope, sig);
    if freeze {
        scope.write(c"cgroup.freeze", b"0")?;
    }
    sent
}

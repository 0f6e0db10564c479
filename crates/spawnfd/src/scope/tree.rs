//! A child's own tree, held by its `Child`: a [`Scope`] where one can be
//! made, else a process group the child leads (the fallback where this
//! process may create no cgroup).
//!
//! What the group can and cannot do, against a scope:
//!
//! - a member that leaves the group (`setsid`, `setpgid`: what daemons do)
//!   is out of reach: not killed, not waited for;
//! - the group cannot be frozen, accounted or limited;
//! - no event says when it is empty: [`wait_group_gone`] looks every few
//!   milliseconds whether any member still runs (one that exited and waits
//!   for its parent to reap it is gone, as in a cgroup);
//! - signals are exact since Linux 6.9 (`PIDFD_SIGNAL_PROCESS_GROUP`: the
//!   kernel finds the group from the child's pidfd, even once the child
//!   has been reaped). Before, `kill(-pgid)` while the child is unreaped
//!   (its zombie holds the id), and once it is reaped, a signal to each
//!   process `/proc` lists in the group, through a pidfd opened while it
//!   was listed (`sweep`).

use std::collections::HashSet;
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::Scope;
use crate::sys::{cgroup, pidfd};

/// How a child's tree is held together: what
/// [`Child::containment`](crate::Child::containment) answers for a child
/// spawned with [`Command::scope_in`](crate::Command::scope_in),
/// [`Command::contain_tree`](crate::Command::contain_tree) or
/// [`Command::process_group_tree`](crate::Command::process_group_tree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Containment {
    /// A [`Scope`] of its own (a cgroup): every descendant, whatever it
    /// does, killed at once, waited for through `cgroup.events`,
    /// frozen, accounted and limited ([`Child::scope`](crate::Child::scope)).
    Scope,
    /// A process group the child leads: every descendant that stays in
    /// the group. A daemon that calls `setsid` escapes it; there is no
    /// freezing, accounting or limit.
    ProcessGroup,
}

/// What the command asks for (`Command::scope_in`, `contain_tree`,
/// `contain_tree_in`, `process_group_tree`).
#[derive(Clone, Debug)]
pub(crate) enum TreeRequest {
    /// A scope under this parent, or the spawn fails.
    Scope(PathBuf),
    /// A scope under this parent (`None`: this process's own cgroup), else
    /// a process group.
    ScopeOrGroup(Option<PathBuf>),
    /// A process group.
    Group,
}

impl TreeRequest {
    /// Whether the child may end up leading a process group.
    pub(crate) fn may_use_group(&self) -> bool {
        !matches!(self, TreeRequest::Scope(_))
    }
}

/// What a `Child` holds of its tree.
#[derive(Debug)]
pub(crate) enum Tree {
    Scope(Box<Scope>),
    /// The group the child leads (its id is the child's pid).
    Group,
}

impl Tree {
    pub(crate) fn containment(&self) -> Containment {
        match self {
            Tree::Scope(_) => Containment::Scope,
            Tree::Group => Containment::ProcessGroup,
        }
    }
}

/// Makes the scope `request` asks for; `Ok(None)` where it settles for a
/// process group (asked for, or no scope could be made).
pub(crate) fn make(request: &TreeRequest) -> io::Result<Option<Scope>> {
    let (made, fallback) = match request {
        TreeRequest::Group => return Ok(None),
        TreeRequest::Scope(parent) => (Scope::new(parent), false),
        TreeRequest::ScopeOrGroup(Some(parent)) => (Scope::new(parent), true),
        TreeRequest::ScopeOrGroup(None) => (Scope::in_own_cgroup(), true),
    };
    match made {
        Ok(scope) => Ok(Some(scope)),
        Err(e) if fallback && no_cgroup_here(&e, request) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `e`, from making a scope, says that this process cannot create
/// cgroups there (rather than a mistake in what it asked for).
fn no_cgroup_here(e: &io::Error, request: &TreeRequest) -> bool {
    use io::ErrorKind as K;
    match e.kind() {
        // Not delegated, a read-only mount, no such directory, or a full
        // `cgroup.max.descendants` (EAGAIN).
        K::PermissionDenied | K::ReadOnlyFilesystem | K::NotFound | K::WouldBlock => true,
        // No cgroup v2 hierarchy where this process lives: only when the
        // place was not named by the caller (a named non-cgroup is a
        // mistake to report).
        K::InvalidInput => matches!(request, TreeRequest::ScopeOrGroup(None)),
        _ => false,
    }
}

/// How many sweeps [`sweep`] makes at most: a group whose members keep
/// forking faster than they are signalled (possible only for a signal they
/// survive) is left with what the last sweep reached.
const MAX_SWEEPS: usize = 64;

/// Sends `sig` to each process `/proc` lists in the group `pgid`, again
/// until a look finds none it has not signalled; how many it signalled.
///
/// Each member gets its signal through a pidfd opened while it was listed
/// (and listed again after), so never a process that took a dead
/// member's pid. Without pidfds, its pid. A member that forks between the
/// look and its signal is found by the next look; one killed cannot fork
/// any more, so for `SIGKILL` the last look finds the group empty.
///
/// The group's own id stays reserved while any member lives; once the
/// group is empty, a new group could take the id only after the kernel
/// has cycled through every pid number.
pub(crate) fn sweep(pgid: u32, sig: i32) -> io::Result<usize> {
    let mut signalled: HashSet<(u32, u64)> = HashSet::new();
    for _ in 0..MAX_SWEEPS {
        let fresh: Vec<_> = members(pgid)?
            .into_iter()
            .map(|m| (m.pid, m.start))
            .filter(|m| !signalled.contains(m))
            .collect();
        if fresh.is_empty() {
            break;
        }
        let opened: Vec<_> = fresh
            .iter()
            .map(|&(pid, start)| (pid, start, cgroup::pidfd_of(pid)))
            .collect();
        let listed: HashSet<(u32, u64)> = members(pgid)?
            .into_iter()
            .map(|m| (m.pid, m.start))
            .collect();
        for (pid, start, fd) in opened {
            if !listed.contains(&(pid, start)) {
                continue;
            }
            let sent = match &fd {
                Some(fd) => pidfd::send_signal(fd.as_fd(), sig),
                None => pidfd::kill_pid(pid, sig),
            };
            match sent {
                Ok(()) => {
                    signalled.insert((pid, start));
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(signalled.len())
}

/// A process `/proc` lists in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) pid: u32,
    /// Its start time, which tells it from a later process with its pid.
    pub(crate) start: u64,
    /// Exited, and not yet reaped by its parent.
    pub(crate) zombie: bool,
}

/// The processes `/proc` lists in the group `pgid`, zombies included.
pub(crate) fn members(pgid: u32) -> io::Result<Vec<Member>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Gone since the listing: not a member any more.
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(stat) = parse_stat(&stat) {
            if stat.pgrp == pgid {
                found.push(Member {
                    pid,
                    start: stat.start,
                    zombie: stat.state == 'Z',
                });
            }
        }
    }
    Ok(found)
}

/// What a `/proc/PID/stat` line says of a process's group.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    /// Field 3.
    state: char,
    /// Field 5.
    pgrp: u32,
    /// Field 22.
    start: u64,
}

/// Reads a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses itself: the fields
/// after it are counted from its last `)`.
fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 4 (ppid), then 5 (pgrp).
    let pgrp = fields.nth(1)?.parse().ok()?;
    // Field 22 (starttime) is 17 further on.
    let start = fields.nth(16)?.parse().ok()?;
    Some(Stat { state, pgrp, start })
}

/// Whether no member of the group `pgid` runs (those that exited and
/// wait for their parent to reap them are gone).
pub(crate) fn none_running(pgid: u32) -> io::Result<bool> {
    Ok(members(pgid)?.iter().all(|m| m.zombie))
}

/// Looks whether the group is empty (`empty`) until it is or `timeout`
/// passes, every 1 ms at first, backing off to every 20 ms; `Ok(false)` on
/// time-out.
pub(crate) fn wait_group_gone(
    mut empty: impl FnMut() -> io::Result<bool>,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut pause = Duration::from_millis(1);
    loop {
        if empty()? {
            return Ok(true);
        }
        let mut nap = pause;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            nap = nap.min(left);
        }
        std::thread::sleep(nap);
        pause = (pause * 2).min(GROUP_POLL_MAX);
    }
}

/// The longest pause between two looks at a group.
const GROUP_POLL_MAX: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_counts_fields_after_the_last_parenthesis() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
        // majflt cmajflt utime stime cutime cstime priority nice threads
        // itrealvalue starttime ...
        let line = b"42 (a) b) (c) S 1 40 40 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2";
        let stat = Stat {
            state: 'S',
            pgrp: 40,
            start: 98765,
        };
        assert_eq!(parse_stat(line), Some(stat));
        assert_eq!(parse_stat(b"42 (x"), None);
        assert_eq!(parse_stat(b"42 (x) S 1"), None);
    }

    #[test]
    fn members_lists_this_process_in_its_own_group() {
        let me = std::process::id();
        let own = std::fs::read(format!("/proc/{me}/stat")).unwrap();
        let pgid = parse_stat(&own).unwrap().pgrp;
        let found = members(pgid).unwrap();
        assert!(found.iter().any(|m| m.pid == me && !m.zombie), "{found:?}");
    }
}

//! Many children at once: one epoll instance over their pidfds, exits
//! delivered as they happen, no thread per child and no `SIGCHLD`.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::signal::Signal;
use crate::sys::epoll::{Epoll, Events};
use crate::wait::child::Child;

/// The key of a child in a [`ChildSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(u64);

impl ChildId {
    /// The key as a number, unique within its set.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// A child that exited, as a [`ChildSet`] delivers it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Exited {
    /// The key [`ChildSet::insert`] returned for it.
    pub id: ChildId,
    /// How it ended.
    pub status: ExitStatus,
    /// The child itself, reaped (its `wait` returns `status`), with
    /// whatever pipes it still holds.
    pub child: Child,
}

/// Owns any number of children and yields their exits as they happen.
///
/// Built on one epoll instance watching every child's pidfd: waiting costs
/// one `epoll_wait` for any number of children, with no thread per child
/// and no `SIGCHLD` handler, so it cannot disturb (or be disturbed by)
/// other code that waits for processes. Each exit is delivered exactly once,
/// after the child has been reaped.
///
/// ```
/// use spawnfd::{ChildSet, Command};
///
/// let mut set = ChildSet::new()?;
/// for code in [3, 1, 2] {
///     set.insert(Command::new("sh").arg("-c").arg(format!("exit {code}")).spawn()?)?;
/// }
/// let mut codes: Vec<i32> = set.exits().map(|e| e.unwrap().status.code().unwrap()).collect();
/// codes.sort();
/// assert_eq!(codes, [1, 2, 3]);
/// assert!(set.is_empty());
/// # std::io::Result::Ok(())
/// ```
///
/// # Many children
///
/// Each child holds a pidfd, so the set is bounded by `RLIMIT_NOFILE`
/// (often 1024 soft). To hold thousands, raise the soft limit first, for
/// example with [`raise_fd_limit`](crate::raise_fd_limit), and consider
/// giving the children back the customary limit with
/// `Command::rlimit(Resource::NOFILE, 1024, hard)`: programs that use
/// `select` break on fds above 1023.
///
/// The set's own fd is pollable ([`AsFd`]): it becomes readable when any
/// child has exited, so a set can be nested in another event loop.
#[derive(Debug)]
pub struct ChildSet {
    epoll: Epoll,
    children: HashMap<u64, Child>,
    next: u64,
    /// Children reported ready by the last `epoll_wait`, not yet taken.
    ready: VecDeque<u64>,
    events: Events,
}

/// How many readiness events one `epoll_wait` may bring.
const BATCH: usize = 256;

impl ChildSet {
    /// An empty set.
    ///
    /// # Errors
    ///
    /// Those of `epoll_create1`, e.g. `EMFILE`.
    pub fn new() -> io::Result<ChildSet> {
        Ok(ChildSet {
            epoll: Epoll::new()?,
            children: HashMap::new(),
            next: 0,
            ready: VecDeque::new(),
            events: Events::with_capacity(BATCH),
        })
    }

    /// Adds a child; its exit will be delivered by the `wait` methods.
    ///
    /// A child already reaped through its handle is refused with
    /// `InvalidInput`: there is no exit left to deliver.
    pub fn insert(&mut self, child: Child) -> io::Result<ChildId> {
        if child.reaped().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ChildSet::insert: the child has already been reaped",
            ));
        }
        let id = self.next;
        self.epoll.add(child.pidfd(), id)?;
        self.next += 1;
        self.children.insert(id, child);
        Ok(ChildId(id))
    }

    /// How many children the set holds (exits not yet delivered).
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether the set holds no child.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The child with this key, if still in the set.
    pub fn get(&self, id: ChildId) -> Option<&Child> {
        self.children.get(&id.0)
    }

    /// The child with this key, mutably (for its pipes, or to signal it).
    pub fn get_mut(&mut self, id: ChildId) -> Option<&mut Child> {
        self.children.get_mut(&id.0)
    }

    /// Takes a child out of the set, running or not.
    pub fn remove(&mut self, id: ChildId) -> Option<Child> {
        let child = self.children.remove(&id.0)?;
        let _ = self.epoll.delete(child.pidfd());
        Some(child)
    }

    /// The children in the set, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (ChildId, &Child)> {
        self.children.iter().map(|(&id, c)| (ChildId(id), c))
    }

    /// Sends `signal` to every child in the set; returns the first error,
    /// after trying them all.
    pub fn signal_all(&self, signal: Signal) -> io::Result<()> {
        let mut result = Ok(());
        for child in self.children.values() {
            if let Err(e) = child.send_signal(signal) {
                if result.is_ok() && e.raw_os_error() != Some(libc::ESRCH) {
                    result = Err(e);
                }
            }
        }
        result
    }

    /// Kills every child in the set with `SIGKILL`, and with it the whole
    /// tree of each child that has a tree of its own
    /// ([`Command::scope_in`](crate::Command::scope_in),
    /// [`contain_tree`](crate::Command::contain_tree):
    /// [`Child::kill_tree`]); returns the first error, after trying them
    /// all. The children are still to be reaped (`wait_any`, `exits`).
    pub fn kill_trees(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for child in self.children.values_mut() {
            let killed = match child.containment() {
                Some(_) => child.kill_tree(),
                None => child.kill(),
            };
            if let Err(e) = killed {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }

    /// Waits for some child to exit and reaps it; `None` when the set is
    /// empty.
    pub fn wait_any(&mut self) -> io::Result<Option<Exited>> {
        self.wait_until(None)
    }

    /// As [`ChildSet::wait_any`], waiting at most `timeout`; `None` also
    /// when no child exited in time.
    pub fn wait_any_timeout(&mut self, timeout: Duration) -> io::Result<Option<Exited>> {
        // A deadline beyond what the clock can hold is no deadline.
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Reaps a child that has exited, if any, without blocking.
    pub fn try_wait_any(&mut self) -> io::Result<Option<Exited>> {
        self.wait_until(Some(Instant::now()))
    }

    /// The exits, as they happen, until the set is empty.
    pub fn exits(&mut self) -> Exits<'_> {
        Exits { set: self }
    }

    fn wait_until(&mut self, deadline: Option<Instant>) -> io::Result<Option<Exited>> {
        loop {
            while let Some(id) = self.ready.pop_front() {
                if let Some(exited) = self.reap(id)? {
                    return Ok(Some(exited));
                }
            }
            if self.children.is_empty() {
                return Ok(None);
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.epoll.wait(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.ready.extend(self.events.tokens());
            if self.ready.is_empty() && timeout.is_some_and(|t| t.is_zero()) {
                return Ok(None);
            }
            if self.ready.is_empty() && deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Reaps child `id` if it has exited (it was reported readable).
    fn reap(&mut self, id: u64) -> io::Result<Option<Exited>> {
        let Some(child) = self.children.get_mut(&id) else {
            return Ok(None); // removed since it was reported
        };
        let status = match child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => return Ok(None),
            Err(e) => {
                // No status to be had: reaped behind the set's back on a
                // kernel that keeps none for pidfds (before 6.15), or not
                // our child (an adopted stranger). `try_wait` already waited
                // for a status the kernel was about to record, so none is
                // lost here. Let go of the child with the error rather
                // than report it forever.
                let id = ChildId(id);
                self.remove(id);
                return Err(io::Error::new(
                    e.kind(),
                    format!("ChildSet: child {id:?} has no status this process can have: {e}"),
                ));
            }
        };
        let child = self.remove(ChildId(id)).expect("the child was just found");
        Ok(Some(Exited {
            id: ChildId(id),
            status,
            child,
        }))
    }
}

impl AsFd for ChildSet {
    /// The epoll fd: readable when some child has exited.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

/// The exits of a [`ChildSet`], from [`ChildSet::exits`]: blocks for each,
/// ends when the set is empty.
#[derive(Debug)]
pub struct Exits<'a> {
    set: &'a mut ChildSet,
}

impl Iterator for Exits<'_> {
    type Item = io::Result<Exited>;

    fn next(&mut self) -> Option<io::Result<Exited>> {
        self.set.wait_any().transpose()
    }
}

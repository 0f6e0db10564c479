//! A running or exited child, reached only through its pidfd.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};
use std::sync::Arc;
use std::time::Duration;

use crate::scope::tree::{self, Containment, Tree};
use crate::signal::Signal;
use crate::sys::watch::Watched;
use crate::sys::{os, pidfd};
use crate::wait::reaper;

/// A child process, as [`std::process::Child`], held by its pidfd.
///
/// Waiting and signalling go through the pidfd, which names this process
/// and no other: once the child has been reaped, no call here can reach a
/// process that was later given the same pid.
///
/// # Waiting from an event loop
///
/// The pidfd ([`Child::pidfd`], or `AsFd`) becomes readable when the child
/// exits. Register it with `poll`, `epoll`, mio or any async runtime's
/// reactor (tokio's `AsyncFd`, async-io's `Async`), and call
/// [`Child::try_wait`] when it is readable: the child is then reaped
/// without blocking. No `SIGCHLD` handler is involved. With the `tokio`
/// feature, the `spawnfd::tokio` module does this for you.
///
/// Do not set `O_NONBLOCK` on the pidfd (as async-io's `Async::new` does):
/// `waitid` then fails with `EAGAIN` instead of waiting, and a blocking
/// [`Child::wait`] can fail with `WouldBlock` (once the child has exited,
/// while a tracer in another process still holds its exit). Register it
/// as it is (`Async::new_nonblocking`, mio's `SourceFd`).
///
/// # Dropping
///
/// Unlike std's, a `Child` dropped before it was reaped does not become a
/// zombie: if it has exited, it is reaped on the spot; if not, its pidfd is
/// handed to a background reaper (one thread for the whole process, started
/// on first need, sleeping in `epoll_wait` on the pidfds it was given) that
/// reaps it when it exits. [`Command::reap_on_drop(false)`] keeps std's
/// behaviour, and [`Command::kill_on_drop(true)`] kills the child first, as
/// tokio offers.
///
/// # Without pidfds
///
/// Where the kernel gives no pidfd (before Linux 5.2) or cannot wait on
/// one (`waitid(P_PIDFD)`, before 5.4, or refused by a sandbox), each
/// child is watched by a small thread of the library that reaps it when it
/// exits, and the fd of [`Child::pidfd`] and `AsFd` is an *exit fd*: the
/// read end of a pipe that becomes readable (and stays so) at that moment.
/// It serves `poll`, epoll and reactors as a pidfd does, but it is not a
/// pidfd (`pidfd_send_signal` and `pidfd_getpid` fail on it; do not read
/// from it). What else differs there: the child is reaped as soon as it
/// exits, so [`Child::send_signal`] to an exited child is `ESRCH` and
/// `reap_on_drop(false)` leaves no zombie; without a pidfd, a status
/// that another reaper of this process (a `waitpid(-1)`, `SIGCHLD` set to
/// `SIG_IGN`) takes before the library saw it is lost (`ECHILD`), as on
/// the pidfd path before Linux 6.15.
///
/// [`Command::reap_on_drop(false)`]: crate::Command::reap_on_drop
/// [`Command::kill_on_drop(true)`]: crate::Command::kill_on_drop
#[derive(Debug)]
pub struct Child {
    /// `None` only after `into_pidfd`. The exit fd for a watched child.
    pidfd: Option<OwnedFd>,
    /// The entry of a child watched by pid (no `waitid(P_PIDFD)` here).
    watched: Option<Arc<Watched>>,
    pid: u32,
    /// The process whose child this is (its pid), `None` for a process
    /// adopted by `from_pidfd` that is not our child. Only that process
    /// may report a status the kernel kept after someone else reaped the
    /// child: to any other (a stranger's adopter, or a process forked
    /// from the parent after the spawn) it is not a child at all.
    parent: Option<u32>,
    status: Option<ExitStatus>,
    on_drop: OnDrop,
    /// The parent's end of the child's stdin, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's stdout, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's stderr, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    /// The child's own tree (`Command::scope_in`, `contain_tree`).
    tree: Option<Tree>,
}

/// What dropping an unreaped `Child` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OnDrop {
    pub(crate) kill: bool,
    pub(crate) reap: bool,
}

impl Default for OnDrop {
    fn default() -> Self {
        OnDrop {
            kill: false,
            reap: true,
        }
    }
}

/// What a `Child` is reached through.
pub(crate) enum Handle {
    /// Its pidfd.
    Pidfd(OwnedFd),
    /// Its watcher's entry and its exit fd.
    Watched(Arc<Watched>, OwnedFd),
}

impl Handle {
    /// Lets go of a handle that no `Child` took (a spawn that failed).
    pub(crate) fn discard(self) {
        if let Handle::Watched(entry, _) = self {
            entry.discard();
        }
    }
}

/// Resource usage of a reaped child, from `waitid`'s `rusage`.
///
/// ```
/// use spawnfd::Command;
/// let mut child = Command::new("true").spawn()?;
/// let (status, usage) = child.wait_with_rusage()?;
/// assert!(status.success());
/// // `None` only if someone else reaped the child first.
/// assert!(usage.unwrap().max_rss_kib > 0);
/// # std::io::Result::Ok(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceUsage {
    /// CPU time spent in user mode.
    pub user_time: Duration,
    /// CPU time spent in the kernel.
    pub system_time: Duration,
    /// The largest resident set size, in KiB.
    pub max_rss_kib: u64,
    /// Page faults served without I/O.
    pub minor_faults: u64,
    /// Page faults that needed I/O.
    pub major_faults: u64,
    /// Context switches because the child waited (for I/O, a lock, …).
    pub voluntary_context_switches: u64,
    /// Context switches because the scheduler preempted the child.
    pub involuntary_context_switches: u64,
    /// Blocks read from file systems.
    pub block_reads: u64,
    /// Blocks written to file systems.
    pub block_writes: u64,
}

impl ResourceUsage {
    fn from_raw(r: &libc::rusage) -> ResourceUsage {
        let time = |t: libc::timeval| {
            Duration::new(
                t.tv_sec.max(0) as u64,
                (t.tv_usec.clamp(0, 999_999) * 1000) as u32,
            )
        };
        let count = |n: libc::c_long| n.max(0) as u64;
        ResourceUsage {
            user_time: time(r.ru_utime),
            system_time: time(r.ru_stime),
            max_rss_kib: count(r.ru_maxrss),
            minor_faults: count(r.ru_minflt),
            major_faults: count(r.ru_majflt),
            voluntary_context_switches: count(r.ru_nvcsw),
            involuntary_context_switches: count(r.ru_nivcsw),
            block_reads: count(r.ru_inblock),
            block_writes: count(r.ru_oublock),
        }
    }
}

impl Child {
    pub(crate) fn new(
        handle: Handle,
        pid: u32,
        pipes: [Option<OwnedFd>; 3],
        on_drop: OnDrop,
    ) -> Child {
        let [stdin, stdout, stderr] = pipes;
        let (pidfd, watched) = match handle {
            Handle::Pidfd(fd) => (fd, None),
            Handle::Watched(entry, fd) => (fd, Some(entry)),
        };
        Child {
            pidfd: Some(pidfd),
            watched,
            pid,
            parent: Some(std::process::id()),
            status: None,
            on_drop,
            stdin: stdin.map(ChildStdin::from),
            stdout: stdout.map(ChildStdout::from),
            stderr: stderr.map(ChildStderr::from),
            tree: None,
        }
    }

    /// Adopts a pidfd obtained elsewhere (`pidfd_open`, another library,
    /// an fd passed over a socket) as a `Child`.
    ///
    /// Signalling and polling work for any process. Waiting (and reaping
    /// on drop) works only for a child of this process: for others,
    /// `wait`, `try_wait` and `wait_with_rusage` fail with `ECHILD`
    /// (`wait_timeout` too, once the process has exited), and dropping
    /// just closes the pidfd.
    ///
    /// Whether the process is our child is found out here, once, with
    /// `waitid(P_PIDFD, WEXITED | WNOHANG | WNOWAIT | __WALL)`, which looks
    /// without reaping. It decides what a wait reports after the process
    /// was reaped by someone else: since Linux 6.15 the kernel keeps the
    /// exit status of every process a pidfd names, its real parent having
    /// reaped it or not, and a stranger's status is not ours to report, so
    /// only our own child's kept status is returned (see
    /// [`Child::wait`]); a stranger's waits fail with `ECHILD` before and
    /// after its parent reaps it. A child of ours that someone else
    /// reaped before this call is refused with `ESRCH` (below), its pid
    /// being gone; one being reaped by another thread at this very moment
    /// may be taken for a stranger.
    ///
    /// Where children are watched without pidfds (see [`Child`]), the exit
    /// fd that [`Child::into_pidfd`] gave is taken back here (it is known
    /// by its inode; a copy of it works too); a real pidfd is refused with
    /// [`io::ErrorKind::Unsupported`], the kernel being unable to wait on
    /// it.
    ///
    /// # Errors
    ///
    /// As [`pidfd_getpid`](crate::pidfd_getpid): `EBADF` if `pidfd` is not
    /// a pidfd, `ESRCH` if its process has been reaped, `EREMOTE` if it is
    /// in a PID namespace this process cannot see; and those of `waitid`
    /// other than `ECHILD`.
    pub fn from_pidfd(pidfd: OwnedFd) -> io::Result<Child> {
        if let Some(entry) = crate::sys::watch::adopt(pidfd.as_fd()) {
            let pid = entry.pid();
            let handle = Handle::Watched(entry, pidfd);
            return Ok(Child::new(
                handle,
                pid,
                [None, None, None],
                OnDrop::default(),
            ));
        }
        let pid = pidfd::getpid(pidfd.as_fd())?;
        let ours = match pidfd::is_child(pidfd.as_fd()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "this kernel cannot wait on a pidfd (waitid(P_PIDFD) needs Linux 5.4, \
                     or a sandbox refuses it): only exit fds of this library's own children \
                     can be adopted here",
                ));
            }
            other => other?,
        };
        let handle = Handle::Pidfd(pidfd);
        let mut child = Child::new(handle, pid, [None, None, None], OnDrop::default());
        if !ours {
            child.parent = None;
        }
        Ok(child)
    }

    /// Whether a status the kernel kept after someone else reaped the
    /// child may be reported: only by the process whose child it is.
    fn kept_is_ours(&self) -> bool {
        self.parent == Some(std::process::id())
    }

    /// The child's process id. Prefer the pidfd for anything that acts on
    /// the process: the pid may name another process once this one is
    /// reaped.
    pub fn id(&self) -> u32 {
        self.pid
    }

    fn fd(&self) -> BorrowedFd<'_> {
        // Only `into_pidfd` takes it, and that consumes self.
        self.pidfd
            .as_ref()
            .expect("a Child always holds its pidfd")
            .as_fd()
    }

    /// The child's pidfd (`CLONE_PIDFD`; `O_CLOEXEC`). It stays valid, and
    /// names this process, after the child has been reaped.
    ///
    /// Where the kernel gives no pidfd, or cannot wait on one, this is the
    /// child's exit fd instead (see [`Child`]): readable once the child has
    /// exited, but no pidfd.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.fd()
    }

    /// Gives up the `Child` for its pidfd, which the caller then waits on
    /// (or not: an unreaped child then stays a zombie until this process
    /// waits for it or exits). The pipes of stdin, stdout and stderr are
    /// closed.
    ///
    /// Where children are watched without pidfds this is the exit fd (see
    /// [`Child`]): the child is reaped by its watcher all the same, and
    /// [`Child::from_pidfd`] takes the fd back, with the status.
    pub fn into_pidfd(mut self) -> OwnedFd {
        self.on_drop.reap = false;
        self.on_drop.kill = false;
        if let Some(entry) = self.watched.take() {
            entry.release(true);
        }
        self.pidfd.take().expect("a Child always holds its pidfd")
    }

    /// Waits for the child to exit and reaps it (`waitid(P_PIDFD)`),
    /// closing its stdin first so that a child reading it sees EOF.
    /// Returns the same status on every later call.
    ///
    /// Only the child's exit ends the wait. A child that this process
    /// traces ([`Command::ptrace_traceme`], or attached later) sleeps
    /// through its ptrace stops, which are never taken here: they stay for
    /// the tracer to take with `waitpid`/`waitid`. The same holds for
    /// every wait of this type, and for the reaper of a dropped child.
    ///
    /// If other code reaped the child first (a `waitpid(-1)` elsewhere, or
    /// `SIGCHLD` set to `SIG_IGN`), the status comes from the pidfd, which
    /// keeps it (`PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`, since Linux
    /// 6.15). The kernel records it a moment after the other reaper took
    /// the zombie; a wait that comes in between waits for it, a second at
    /// most. On older kernels, or for a process that is not our child
    /// (see [`Child::from_pidfd`]), the wait then fails with `ECHILD`.
    ///
    /// [`Command::ptrace_traceme`]: crate::Command::ptrace_traceme
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        if let Some(entry) = &self.watched {
            let (status, _) = entry.wait(None)?.ok_or_else(no_status)?;
            self.status = Some(status);
            return Ok(status);
        }
        let status = pidfd::wait_child(self.fd(), true, None, self.kept_is_ours())?
            .ok_or_else(|| io::Error::other("waitid returned no status for the child"))?
            .status();
        self.status = Some(status);
        Ok(status)
    }

    /// Reaps the child if it has exited, without blocking (but for the
    /// moment it may take the kernel to record the status of a child that
    /// someone else is reaping: see [`Child::wait`]). `Ok(None)` for a
    /// child in a ptrace stop, which is left to its tracer.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        if let Some(entry) = &self.watched {
            self.status = entry.wait(Some(Duration::ZERO))?.map(|(status, _)| status);
            return Ok(self.status);
        }
        let reaped = pidfd::wait_child(self.fd(), false, None, self.kept_is_ours())?;
        self.status = reaped.map(pidfd::Reaped::status);
        Ok(self.status)
    }

    /// Waits at most `timeout` for the child to exit, by polling its pidfd
    /// (no sleeping loop, no helper thread); reaps it if it did. `Ok(None)`
    /// if it is still running. Closes stdin first.
    ///
    /// ```
    /// use spawnfd::Command;
    /// use std::time::Duration;
    /// let mut child = Command::new("sleep").arg("10").spawn()?;
    /// assert_eq!(child.wait_timeout(Duration::from_millis(10))?, None);
    /// child.kill()?;
    /// assert!(child.wait_timeout(Duration::from_secs(60))?.is_some());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        if let Some(entry) = &self.watched {
            self.status = entry.wait(Some(timeout))?.map(|(status, _)| status);
            return Ok(self.status);
        }
        if !pidfd::wait_readable(self.fd(), Some(timeout))? {
            return Ok(None);
        }
        self.try_wait()
    }

    /// Waits for the child and reaps it, returning its resource usage
    /// (`waitid`'s `rusage`: CPU times, peak RSS, faults, context
    /// switches) with its status. Closes stdin first.
    ///
    /// The usage is `None` when someone else reaped the child first (a
    /// `waitpid(-1)` elsewhere, or `SIGCHLD` set to `SIG_IGN`): the status
    /// then comes from the pidfd, as for [`Child::wait`], but the kernel
    /// keeps no usage for it, which went to the other reaper.
    ///
    /// # Errors
    ///
    /// `ECHILD` if the child was already reaped through this handle (its
    /// usage went with it; `wait` still returns its status), or if it was
    /// reaped by someone else on a kernel that keeps no status for pidfds
    /// (before 6.15).
    pub fn wait_with_rusage(&mut self) -> io::Result<(ExitStatus, Option<ResourceUsage>)> {
        drop(self.stdin.take());
        if self.status.is_some() {
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        }
        if let Some(entry) = &self.watched {
            let (status, usage) = entry.wait(None)?.ok_or_else(no_status)?;
            self.status = Some(status);
            return Ok((status, usage.as_ref().map(ResourceUsage::from_raw)));
        }
        let mut raw = os::zeroed_rusage();
        let reaped = pidfd::wait_child(self.fd(), true, Some(&mut raw), self.kept_is_ours())?
            .ok_or_else(|| io::Error::other("waitid returned no status for the child"))?;
        self.status = Some(reaped.status());
        let usage = match reaped {
            pidfd::Reaped::Here(_) => Some(ResourceUsage::from_raw(&raw)),
            pidfd::Reaped::Elsewhere(_) => None,
        };
        Ok((reaped.status(), usage))
    }

    /// Sends `SIGKILL` through the pidfd.
    ///
    /// As with std, a child that has already exited is not an error: the
    /// result is `Ok(())`, and nothing is sent once it has been reaped.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let sent = match &self.watched {
            Some(entry) => entry.signal(libc::SIGKILL),
            None => pidfd::send_signal(self.fd(), libc::SIGKILL),
        };
        match sent {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Sends `signal` through the pidfd (`pidfd_send_signal`).
    ///
    /// # Errors
    ///
    /// `ESRCH` once the child has been reaped (by this handle or otherwise):
    /// the signal reached nobody, and never a process that reused the pid.
    /// A child that has exited but is not yet reaped (a zombie) accepts and
    /// ignores signals.
    pub fn send_signal(&self, signal: Signal) -> io::Result<()> {
        if let Some(entry) = &self.watched {
            return entry.signal(signal.as_raw());
        }
        pidfd::send_signal(self.fd(), signal.as_raw())
    }

    /// Sends `signal` to the process group the child leads: the child and
    /// every process in its group, such as the children it started.
    ///
    /// The child must lead its own group, having been spawned with
    /// [`Command::process_group(0)`] or [`Command::setsid(true)`];
    /// otherwise there is no group with its pid as id, and the result is
    /// `ESRCH` (a process that left the group is not reached either).
    ///
    /// Since Linux 6.9 the signal goes through the pidfd
    /// (`pidfd_send_signal` with `PIDFD_SIGNAL_PROCESS_GROUP`): the kernel
    /// finds the group from the process the pidfd names, so the call is
    /// race-free, and it still reaches the rest of the group after the
    /// child has been reaped (`ESRCH` once the whole group is gone). Before
    /// 6.9 (the flag refused with `EINVAL`; found out once, then
    /// remembered) it is `kill(-pid, signal)`, sent only while the child is
    /// known to be unreaped, its zombie holding the id so that no other
    /// group can have it: `ESRCH` once it has been reaped, by this handle
    /// or by anyone else. (Another thread of this process that reaps with
    /// `waitpid(-1)` could still reap it between that check and the
    /// `kill`.) For a process adopted with [`Child::from_pidfd`] that is
    /// not this process's child, that fallback cannot know, and the call
    /// fails with [`io::ErrorKind::Unsupported`].
    ///
    /// ```
    /// use spawnfd::{Command, Signal};
    /// // A shell that waits for a child of its own: both get TERM.
    /// let mut child = Command::new("sh")
    ///     .args(["-c", "sleep 30 & wait"])
    ///     .process_group(0)
    ///     .spawn()?;
    /// child.send_signal_to_group(Signal::TERM)?;
    /// assert!(!child.wait()?.success());
    /// # std::io::Result::Ok(())
    /// ```
    ///
    /// [`Command::process_group(0)`]: crate::Command::process_group
    /// [`Command::setsid(true)`]: crate::Command::setsid
    pub fn send_signal_to_group(&self, signal: Signal) -> io::Result<()> {
        self.signal_group(signal.as_raw())
    }

    /// `send_signal_to_group` with a raw signal number (0 included: is
    /// anyone left?).
    fn signal_group(&self, sig: i32) -> io::Result<()> {
        if let Some(entry) = &self.watched {
            return entry.signal_group(sig);
        }
        match pidfd::send_group_signal(self.fd(), sig) {
            pidfd::GroupSignal::Sent(result) => result,
            pidfd::GroupSignal::Unsupported => self.kill_group_while_unreaped(sig),
        }
    }

    /// `kill(-pid, sig)`, only while the child is known to be unreaped,
    /// so that its pid (the group's id) cannot name another group.
    fn kill_group_while_unreaped(&self, sig: i32) -> io::Result<()> {
        let reaped = || io::Error::from_raw_os_error(libc::ESRCH);
        if self.status.is_some() {
            return Err(reaped());
        }
        if !self.kept_is_ours() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "signalling a process group through a pidfd needs Linux 6.9; \
                 before, only the group of an unreaped child of this process can be signalled",
            ));
        }
        // Running or a zombie, and ours: waitid finds it without reaping.
        if !pidfd::is_child(self.fd())? {
            return Err(reaped());
        }
        pidfd::kill_group(self.pid, sig)
    }

    /// Waits for the child and collects what it writes to the pipes of its
    /// stdout and stderr, reading both at once so that neither can fill up
    /// and block the child. Closes stdin first.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = os::read2(
            self.stdout.take().map(OwnedFd::from),
            self.stderr.take().map(OwnedFd::from),
        )?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Whether the child has been reaped by this handle.
    pub(crate) fn reaped(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Whether the child is watched by pid (no pidfd: `sys::watch`).
    pub(crate) fn is_watched(&self) -> bool {
        self.watched.is_some()
    }

    /// Gives the child its own tree (`Command::scope_in`, `contain_tree`).
    pub(crate) fn with_tree(mut self, tree: Tree) -> Child {
        self.tree = Some(tree);
        self
    }

    /// The child's own [`Scope`](crate::Scope), if it was spawned with
    /// [`Command::scope_in`](crate::Command::scope_in) (or
    /// [`contain_tree`](crate::Command::contain_tree) made one): freeze it,
    /// read its usage, set its limits, poll its events fd.
    pub fn scope(&self) -> Option<&crate::Scope> {
        match &self.tree {
            Some(Tree::Scope(scope)) => Some(scope),
            _ => None,
        }
    }

    /// How the child's own tree is held: by a [`Scope`](crate::Scope) or
    /// by the process group it leads (see
    /// [`Command::contain_tree`](crate::Command::contain_tree) for what
    /// each promises); `None` for a child spawned without a tree of its
    /// own.
    pub fn containment(&self) -> Option<Containment> {
        self.tree.as_ref().map(Tree::containment)
    }

    /// The processes of the child's own tree that still run, the child
    /// included until it exits: with a scope, those its cgroup lists
    /// ([`Scope::pids`](crate::Scope::pids)); with a process group, those
    /// `/proc` lists in it (not the ones that exited and wait for their
    /// parent to reap them).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a child without a tree of its own, as
    /// [`kill_tree`](Child::kill_tree); the errors of reading the cgroup or
    /// `/proc`.
    pub fn tree_pids(&self) -> io::Result<Vec<u32>> {
        match self.own_tree("tree_pids")? {
            Tree::Scope(scope) => scope.pids(),
            Tree::Group => Ok(tree::members(self.pid)?
                .into_iter()
                .filter(|m| !m.zombie)
                .map(|m| m.pid)
                .collect()),
        }
    }

    /// Kills the child and every process it started: with a scope,
    /// daemons included ([`Scope::kill`](crate::Scope::kill)); with a
    /// process group, every process still in the group. The child must
    /// still be waited for (or dropped); [`wait_tree`](Child::wait_tree)
    /// waits for all of it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a child without a tree of its own (spawned
    /// without [`Command::scope_in`](crate::Command::scope_in) or
    /// [`contain_tree`](crate::Command::contain_tree)): use
    /// [`kill`](Child::kill) or [`send_signal_to_group`](Child::send_signal_to_group);
    /// the scope's errors.
    pub fn kill_tree(&mut self) -> io::Result<()> {
        match self.own_tree("kill_tree")? {
            Tree::Scope(scope) => scope.kill(),
            Tree::Group => self.signal_group_tree(libc::SIGKILL),
        }
    }

    /// Waits for the child to exit, then for every process it started to
    /// be gone, and returns the child's status. With a scope,
    /// [`Scope::wait_empty`](crate::Scope::wait_empty); with a process
    /// group, until no process of it still runs (one that exited and
    /// waits to be reaped by its parent is gone, as in a cgroup), looked
    /// at every few milliseconds.
    ///
    /// # Errors
    ///
    /// As [`kill_tree`](Child::kill_tree), and [`wait`](Child::wait)'s.
    pub fn wait_tree(&mut self) -> io::Result<ExitStatus> {
        self.own_tree("wait_tree")?;
        let status = self.wait()?;
        match &self.tree {
            Some(Tree::Scope(scope)) => scope.wait_empty()?,
            _ => {
                tree::wait_group_gone(|| self.group_tree_is_empty(), None)?;
            }
        }
        Ok(status)
    }

    fn own_tree(&self, what: &str) -> io::Result<&Tree> {
        self.tree.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "Child::{what}: child {} has no tree of its own (spawn it with \
                     Command::scope_in or Command::contain_tree)",
                    self.pid
                ),
            )
        })
    }

    /// Sends `sig` to the process group the child leads as its tree.
    ///
    /// `send_signal_to_group` reaches the whole group at once where it
    /// can: through the pidfd since 6.9 (`ESRCH` then means the group is
    /// empty), else while the child is unreaped. Where it cannot (the
    /// child reaped before 6.9, or watched by pid), each member `/proc`
    /// lists.
    pub(crate) fn signal_group_tree(&self, sig: i32) -> io::Result<()> {
        match self.signal_group(sig) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) && self.group_signal_is_exact() => {
                Ok(())
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ESRCH)
                    || e.kind() == io::ErrorKind::Unsupported =>
            {
                tree::sweep(self.pid, sig).map(drop)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether no process of the group the child leads as its tree still
    /// runs. A member that has exited and waits for its parent to reap it
    /// (the child's own zombie too) counts as gone, as in a cgroup: an
    /// orphan's zombie waits for init, which may take its time.
    pub(crate) fn group_tree_is_empty(&self) -> io::Result<bool> {
        match self.signal_group(0) {
            // Nobody at all, zombies included: the kernel found the group
            // from the pidfd.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) && self.group_signal_is_exact() => {
                return Ok(true);
            }
            // Someone (EPERM: a member this process may not signal, such
            // as a set-user-ID program), or no exact answer.
            Ok(()) => {}
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ESRCH))
                    || e.kind() == io::ErrorKind::Unsupported => {}
            Err(e) => return Err(e),
        }
        tree::none_running(self.pid)
    }

    /// Whether `send_signal_to_group` reaches the group through the pidfd
    /// (6.9), so that `ESRCH` means that the group is empty rather than
    /// that the child has been reaped.
    fn group_signal_is_exact(&self) -> bool {
        self.watched.is_none() && !pidfd::group_signal_refused()
    }

    pub(crate) fn with_status(mut self, status: ExitStatus) -> Child {
        self.status = Some(status);
        self
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Its own tree ends with the handle with kill_on_drop; a scope is
        // removed once the last of it is gone.
        match self.tree.take() {
            Some(Tree::Scope(mut scope)) => {
                scope.kill_on_drop(self.on_drop.kill);
                drop(scope);
            }
            Some(Tree::Group) if self.on_drop.kill => {
                let _ = self.signal_group_tree(libc::SIGKILL);
            }
            _ => {}
        }
        let Some(fd) = self.pidfd.take() else { return };
        if let Some(entry) = self.watched.take() {
            // Its watcher reaps it, dropped or not: no reaper needed.
            if self.status.is_none() && self.on_drop.kill {
                let _ = entry.signal(libc::SIGKILL);
            }
            entry.release(false);
            return;
        }
        if self.status.is_some() {
            return;
        }
        if self.on_drop.kill {
            let _ = pidfd::send_signal(fd.as_fd(), libc::SIGKILL);
        }
        if !self.on_drop.reap {
            return;
        }
        // Exited already: reaped here and now, no thread needed. Not our
        // child (an adopted pidfd), or reaped by someone else: ECHILD,
        // nothing to reap (and no status to wait for). Running, or in a
        // ptrace stop (left to the tracer, not taken for an exit): the
        // reaper waits for its exit.
        if let Ok(None) = pidfd::wait_child(fd.as_fd(), false, None, false) {
            reaper::adopt(fd);
        }
    }
}

/// A wait that returned without a status.
fn no_status() -> io::Error {
    io::Error::other("waitid returned no status for the child")
}

impl AsFd for Child {
    /// The pidfd.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

impl AsRawFd for Child {
    /// The pidfd.
    fn as_raw_fd(&self) -> RawFd {
        self.fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use crate::{Command, Stdio};

    /// The `kill(-pid)` path of `send_signal_to_group`, which a kernel
    /// with `PIDFD_SIGNAL_PROCESS_GROUP` never takes: it signals the group
    /// while the leader is unreaped, running or a zombie, and refuses once
    /// it has been reaped.
    #[test]
    fn group_fallback_signals_only_while_the_leader_is_unreaped() {
        let mut child = Command::new("sh")
            .args(["-c", "read line; exit 3"])
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        child.kill_group_while_unreaped(libc::SIGTERM).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        let err = child.kill_group_while_unreaped(libc::SIGTERM).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));

        // A zombie still holds its group's id: signal 0 is accepted.
        let mut child = Command::new("true").process_group(0).spawn().unwrap();
        assert!(crate::sys::pidfd::wait_readable(child.pidfd(), None).unwrap());
        child.kill_group_while_unreaped(libc::SIGCONT).unwrap();
        assert!(child.wait().unwrap().success());
        let err = child.kill_group_while_unreaped(libc::SIGTERM).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }

    /// A stranger's pidfd gives the fallback no way to know that its pid
    /// is still its own.
    #[test]
    fn group_fallback_refuses_a_process_that_is_not_our_child() {
        let mut child = Command::new("sleep")
            .arg("100")
            .process_group(0)
            .spawn()
            .unwrap();
        let mut stranger =
            super::Child::from_pidfd(child.pidfd().try_clone_to_owned().unwrap()).unwrap();
        stranger.parent = None;
        let err = stranger
            .kill_group_while_unreaped(libc::SIGTERM)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        // Not dropped: that would hand the (running) child to the reaper.
        drop(stranger.into_pidfd());
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

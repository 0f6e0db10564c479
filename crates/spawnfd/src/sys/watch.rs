//! Children watched without `waitid(P_PIDFD)`: where the kernel gives no
//! pidfd (`clone` refuses `CLONE_PIDFD`, before Linux 5.2) or cannot wait
//! on one (`waitid` refuses `P_PIDFD`, before 5.4, or a sandbox refuses
//! it), the child is still a file descriptor that becomes readable when it
//! exits, so that `Child`, `ChildSet` and the tokio module work unchanged.
//!
//! # How
//!
//! Each such child has a [`Watched`] entry and one small thread (64 KiB of
//! stack, named `spawnfd-watch`), made *before* the child is cloned (so
//! that a thread that cannot be had, `EAGAIN`, fails the spawn at
//! [`Step::Clone`](crate::Step::Clone) before any process exists). The
//! thread gets the pid once the child exists, then blocks in
//! `waitid(P_PID, pid, WEXITED | __WALL | WNOWAIT)`, which only looks.
//! When that returns, it takes the entry's lock, reaps the child with
//! `waitid(P_PID, pid, WEXITED | __WALL | WNOHANG, rusage)`, stores the
//! status and the usage, releases the lock, writes one byte into a pipe
//! (`pipe2(O_CLOEXEC)`, both ends above fd 2) and closes its write end,
//! and ends. The pipe's read end is the child's "exit fd": what
//! `Child::pidfd`, `AsFd` and `into_pidfd` give, what `ChildSet` puts in
//! its epoll instance and what tokio registers. A byte, not only the end
//! of file: a copy of the write end held by a process forked elsewhere
//! (a `fork` without exec by other code) would keep the end of file from
//! ever coming, the byte comes anyway. Nothing here reads the byte, so
//! the fd stays readable for good; the library's own waits sleep on the
//! entry's condition variable, not on the fd.
//!
//! A traced child (`Command::ptrace_traceme`, traced by the spawning
//! thread) is different: the kernel reports its ptrace stops to every
//! thread of the tracer's process, whatever the flags ask for. The thread
//! acts on exits only; a stop it sees is the tracer's (the look, with
//! `WNOWAIT`, never takes it), and it looks again after a pause (from
//! 100 µs, doubling to 10 ms) until the tracer has taken it or resumed
//! the child.
//!
//! Every signal is blocked in the thread (glibc's `pthread_sigmask`,
//! which keeps the C library's own signals, so a `setuid` elsewhere in
//! the process still completes): no handler of the application runs on
//! its small stack, and the byte's write cannot raise `SIGPIPE` if the
//! reader was closed.
//!
//! # Signals never reach a reused pid
//!
//! `kill(pid)` is sent only under the entry's lock, and only while the
//! entry says the child is unreaped; the thread reaps under the same lock,
//! so the pid cannot be reaped, and reused, in between. Where the kernel
//! does give a pidfd (waitid refuses `P_PIDFD` only), it is kept in the
//! entry and signals go through it (`pidfd_send_signal`), exact whoever
//! reaps. The one gap, as with std's `Child::kill`: without a pidfd, a
//! reaper elsewhere in this process (a `waitpid(-1)` in another library,
//! `SIGCHLD` set to `SIG_IGN`) could reap the child between our look and
//! the `kill`.
//!
//! # What differs from the pidfd path
//!
//! - **No zombie phase.** The child is reaped the moment it exits:
//!   `send_signal` to an exited child is `ESRCH` (a zombie accepts
//!   signals on the pidfd path), and `reap_on_drop(false)` cannot keep a
//!   zombie. No background reaper is needed: a dropped child's thread
//!   reaps it (`kill_on_drop` still kills it first).
//! - **A status taken by another reaper.** Linux sets a child's exit
//!   signal back to `SIGCHLD` when it execs (`de_thread`), so after exec
//!   any `waitpid(-1)` elsewhere can reap it, and `SIGCHLD = SIG_IGN`
//!   makes the kernel reap it at exit. (An exit signal of 0 would hide the
//!   child only until its exec: this path keeps the command's exit signal,
//!   as the pidfd path does.) What the thread's look (`WNOWAIT`) saw is
//!   kept: if another reaper takes the zombie between the look and the
//!   reap, the status is exact and the usage is `None`. If it takes it
//!   before the look, the status is kept only where a pidfd exists and the
//!   kernel keeps statuses for pidfds (6.15); otherwise waits fail with
//!   `ECHILD`, as on the pidfd path before 6.15.
//! - **The exit fd is a pipe, not a pidfd**: `pidfd_send_signal`,
//!   `pidfd_getpid` and `waitid(P_PIDFD)` do not work on it. Do not read
//!   from it (the byte is its readiness). `Child::from_pidfd` takes it
//!   back (it is recognised by its inode); any other fd is `Unsupported`
//!   where `waitid(P_PIDFD)` is.
//! - **A thread per running child**, 64 KiB of stack each (a process that
//!   runs 1,000 children at once has 1,000 such threads). One thread
//!   blocking in `waitid(P_ALL, __WALL | WNOWAIT)` would cost less, but
//!   that call reports the first zombie among *all* children of the
//!   process: a zombie of another library, which we may not reap, would be
//!   reported again and again, a busy loop until its owner reaps it, and
//!   our children's exits would wait behind it.
//!
//! # Choosing the path
//!
//! Once per process, never from a transient error: `waitid(P_PIDFD,
//! INT_MAX)` is `EBADF` where the id type is known and `EINVAL` where it is
//! not ([`pidfd::probe_waitid_pidfd`]), asked before the first spawn, so
//! the first child is watched like the others. `CLONE_PIDFD` refused by
//! `clone` is [`Method::CloneNoPidfd`](super::clone::Method), learnt as
//! the other methods are (refused, then the next one created the same
//! child).
//!
//! # Fork
//!
//! The table of entries is per process ([`PerProcess`]). An entry checks
//! the pid of the process that made it before it takes its lock: in a
//! process forked from ours the children are not its children, and its
//! waits fail with `ECHILD` at once instead of sleeping on a thread that
//! does not exist there.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::os;
use super::per_process::PerProcess;
use super::pidfd::{self, Target};

/// The stack of a watcher thread: it makes a few system calls.
const STACK: usize = 64 * 1024;

/// `waitid(P_PIDFD)` here: 0 not asked yet, 1 known, 2 refused.
static WAITID_PIDFD: AtomicU8 = AtomicU8::new(0);

/// Whether children must be watched by pid because `waitid(P_PIDFD)` is
/// refused (asked once; an answer that says nothing is not cached).
pub(crate) fn waitid_pidfd_missing() -> bool {
    match WAITID_PIDFD.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => match pidfd::probe_waitid_pidfd() {
            Some(known) => {
                WAITID_PIDFD.store(if known { 1 } else { 2 }, Ordering::Relaxed);
                !known
            }
            None => false,
        },
    }
}

/// How a watched child stands.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// The thread waits for the pid.
    Starting,
    /// No child was created after all: the thread ends.
    Abandoned,
    /// Unreaped: `kill(pid)` reaches it.
    Running,
    /// Reaped by the thread (usage `Some`), or by another reaper after
    /// the thread saw its status (usage `None`).
    Reaped(ExitStatus, Option<libc::rusage>),
    /// Reaped by someone else before the thread could see it, with no
    /// status kept: the errno of the thread's `waitid`.
    Lost(i32),
}

struct State {
    phase: Phase,
    pid: u32,
    /// Where the kernel gave one (only `waitid(P_PIDFD)` is missing): for
    /// exact signals and the kernel's kept status.
    pidfd: Option<OwnedFd>,
    /// `Child` handles holding the entry.
    owners: u32,
    /// The exit fd was given away (`into_pidfd`): the entry stays in the
    /// table, for `Child::from_pidfd` to take back, a few dozen bytes and
    /// (once the child is reaped) no fd, until then or the process ends.
    given_away: bool,
    /// The thread has written its byte: the exit fd is readable. A wait
    /// returns the status only then, so that whoever has the status finds
    /// the fd readable too, as a pidfd is once its process is reaped.
    announced: bool,
}

/// One watched child.
pub(crate) struct Watched {
    /// The process that made the entry, whose child it is.
    process: u32,
    /// The exit fd's identity (`st_dev`, `st_ino`), its key in the table.
    key: (u64, u64),
    state: Mutex<State>,
    changed: Condvar,
    /// The thread, joined where nothing may outlive the call: a spawn that
    /// failed (its pipe's write end and its stack are gone when the error
    /// is returned). Otherwise it ends on its own, detached.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").field("key", &self.key).finish()
    }
}

/// The entries of a process, by their exit fd's identity.
type Table = HashMap<(u64, u64), Arc<Watched>>;

/// This process's entries.
static TABLE: PerProcess<Mutex<Table>> = PerProcess::new();

fn table() -> MutexGuard<'static, Table> {
    TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// How many entries this process holds (for tests).
#[doc(hidden)]
pub fn entries() -> usize {
    match TABLE.get() {
        Some(t) => t.lock().unwrap_or_else(|e| e.into_inner()).len(),
        None => 0,
    }
}

/// A watcher thread that runs, waiting for its child's pid.
pub(crate) struct Pending {
    entry: Option<Arc<Watched>>,
    read: Option<OwnedFd>,
}

impl Pending {
    /// The pipe, the entry and the thread, before the child exists.
    pub(crate) fn new() -> io::Result<Pending> {
        let (read, write) = os::pipe()?;
        let key = os::fd_identity(read.as_fd())?;
        let entry = Arc::new(Watched {
            process: std::process::id(),
            key,
            state: Mutex::new(State {
                phase: Phase::Starting,
                pid: 0,
                pidfd: None,
                owners: 0,
                given_away: false,
                announced: false,
            }),
            changed: Condvar::new(),
            thread: Mutex::new(None),
        });
        let theirs = Arc::clone(&entry);
        // The thread starts with every signal blocked (but the C
        // library's own): it inherits the mask of the thread creating it.
        let started = {
            let _blocked = os::BlockSignals::new();
            std::thread::Builder::new()
                .name("spawnfd-watch".into())
                .stack_size(STACK)
                .spawn(move || theirs.run(write))
        };
        *entry.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(started?);
        table().insert(key, Arc::clone(&entry));
        Ok(Pending {
            entry: Some(entry),
            read: Some(read),
        })
    }

    /// Hands the thread the child it watches; returns the entry and the
    /// exit fd.
    pub(crate) fn start(mut self, pid: u32, pidfd: Option<OwnedFd>) -> (Arc<Watched>, OwnedFd) {
        let (Some(entry), Some(read)) = (self.entry.take(), self.read.take()) else {
            unreachable!("a Pending is started once")
        };
        {
            let mut state = entry.lock();
            state.phase = Phase::Running;
            state.pid = pid;
            state.pidfd = pidfd;
            state.owners = 1;
        }
        entry.changed.notify_all();
        (entry, read)
    }
}

impl Drop for Pending {
    /// No child was created: the thread ends (joined, so that its end of
    /// the pipe is closed when the spawn's error is returned), the entry
    /// goes.
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            entry.lock().phase = Phase::Abandoned;
            entry.changed.notify_all();
            table().remove(&entry.key);
            entry.join();
        }
    }
}

/// The errno of a wait for a child this process cannot wait for.
fn no_child() -> io::Error {
    io::Error::from_raw_os_error(libc::ECHILD)
}

impl Watched {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock, in the process that made the entry only (in a forked
    /// process the lock may have been held at the fork, and the thread
    /// does not exist).
    fn lock_here(&self) -> io::Result<MutexGuard<'_, State>> {
        if self.process != std::process::id() {
            return Err(no_child());
        }
        Ok(self.lock())
    }

    /// Waits for the thread to end, if it has not been joined yet: once
    /// it has reaped the child (or been abandoned), it only writes its byte
    /// and closes its end of the pipe.
    fn join(&self) {
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// The watcher thread.
    fn run(&self, write: OwnedFd) {
        let pid = {
            let mut state = self.lock();
            loop {
                match state.phase {
                    Phase::Starting => {
                        state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner())
                    }
                    Phase::Abandoned => return,
                    _ => break state.pid,
                }
            }
        };
        let target = Target::Pid(pid);
        let mut pause = Duration::from_micros(100);
        let look = loop {
            let flags = libc::WEXITED | libc::__WALL | libc::WNOWAIT;
            match pidfd::waitid_on(target, flags, None) {
                Ok(Some(event)) if event.is_exit() => break Ok(event.exit_status()),
                // A ptrace stop: reported to every thread of the tracer's
                // process whatever the flags say, and its tracer's to take
                // (WNOWAIT left it there). Look again shortly: it is
                // reported until the tracer takes it or resumes the child.
                Ok(Some(_)) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                // Without WNOHANG, waitid returns with a child or an error.
                Ok(None) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => break Err(e),
            }
        };
        let mut state = self.lock();
        state.phase = match look {
            Ok(seen) => {
                let mut usage = os::zeroed_rusage();
                let flags = libc::WEXITED | libc::__WALL | libc::WNOHANG;
                // A zombie now: only its exit can be reported.
                match pidfd::waitid_on(target, flags, Some(&mut usage)) {
                    Ok(Some(event)) if event.is_exit() => {
                        Phase::Reaped(event.exit_status(), Some(usage))
                    }
                    // Taken by another reaper since the look.
                    _ => Phase::Reaped(seen, None),
                }
            }
            Err(e) => match state
                .pidfd
                .as_ref()
                .and_then(|fd| pidfd::kept_status(fd.as_fd()))
            {
                Some(status) => Phase::Reaped(status, None),
                None => Phase::Lost(e.raw_os_error().unwrap_or(libc::ECHILD)),
            },
        };
        let forget = state.owners == 0 && !state.given_away;
        if state.given_away {
            // Kept for `from_pidfd` with the status alone: no fd held.
            state.pidfd = None;
        }
        drop(state);
        // The phase first, then the byte: a poller woken by the byte finds
        // the status at once (an edge-triggered reactor such as tokio's
        // would not be woken again). Waiters wait for the byte as well.
        os::write_byte(write.as_fd());
        drop(write);
        self.lock().announced = true;
        self.changed.notify_all();
        if forget {
            table().remove(&self.key);
        }
    }

    /// Waits at most `timeout` (`None`: no limit) for the thread to reap
    /// the child: `Ok(None)` on time-out; `ECHILD` if its status is lost.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
    ) -> io::Result<Option<(ExitStatus, Option<libc::rusage>)>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.lock_here()?;
        loop {
            match state.phase {
                // Reaped, and the byte about to be written (the thread
                // does nothing else in between): wait for it, whatever the
                // time limit, so the exit fd is readable on return.
                Phase::Reaped(..) | Phase::Lost(_) if !state.announced => {
                    state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                Phase::Reaped(status, usage) => return Ok(Some((status, usage))),
                Phase::Lost(errno) => return Err(io::Error::from_raw_os_error(errno)),
                Phase::Running | Phase::Starting | Phase::Abandoned => {}
            }
            state = match deadline {
                // No limit (or one beyond what the clock can hold).
                None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Sends `sig` to the child: through its pidfd if there is one, else
    /// `kill(pid)` under the lock the thread reaps under, only while the
    /// child is unreaped. `ESRCH` once it has been reaped.
    pub(crate) fn signal(&self, sig: i32) -> io::Result<()> {
        let state = self.lock_here()?;
        if let Some(fd) = &state.pidfd {
            return pidfd::send_signal(fd.as_fd(), sig);
        }
        match state.phase {
            Phase::Running => pidfd::kill_pid(state.pid, sig),
            _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }

    /// Sends `sig` to the group the child leads: through the pidfd's group
    /// scope where there are both (Linux 6.9), else `kill(-pid)` under the
    /// lock while the child is unreaped (its pid then still names its
    /// group). `ESRCH` once it has been reaped.
    pub(crate) fn signal_group(&self, sig: i32) -> io::Result<()> {
        let state = self.lock_here()?;
        if let Some(fd) = &state.pidfd {
            if let pidfd::GroupSignal::Sent(result) = pidfd::send_group_signal(fd.as_fd(), sig) {
                return result;
            }
        }
        match state.phase {
            Phase::Running => pidfd::kill_group(state.pid, sig),
            _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }

    /// A `Child` holding the entry is gone (`given_away`: its exit fd
    /// lives on, `into_pidfd`). Once the child is reaped and nobody holds
    /// the entry, it leaves the table; while it runs, the thread removes it
    /// when it has reaped the child.
    pub(crate) fn release(&self, given_away: bool) {
        let Ok(mut state) = self.lock_here() else {
            return;
        };
        state.owners = state.owners.saturating_sub(1);
        state.given_away |= given_away;
        let done = matches!(state.phase, Phase::Reaped(..) | Phase::Lost(_));
        let forget = done && state.owners == 0 && !state.given_away;
        if done && state.given_away {
            // Kept for `from_pidfd` with the status alone: no fd held.
            state.pidfd = None;
        }
        drop(state);
        if forget {
            table().remove(&self.key);
        }
    }
}

impl Watched {
    /// Lets go of the entry of a child whose spawn failed and that the
    /// thread has reaped (`wait` returned): the thread is joined, so that
    /// the failed spawn leaves no fd and no thread behind.
    pub(crate) fn discard(&self) {
        let done = self.process == std::process::id()
            && matches!(self.lock().phase, Phase::Reaped(..) | Phase::Lost(_));
        if done {
            self.join();
        }
        self.release(false);
    }

    /// The child's pid (0 before it is known).
    pub(crate) fn pid(&self) -> u32 {
        self.lock().pid
    }
}

/// The entry whose exit fd `fd` is (a copy of), taken by a new owner:
/// `Child::from_pidfd` on an fd from `into_pidfd`.
pub(crate) fn adopt(fd: BorrowedFd<'_>) -> Option<Arc<Watched>> {
    let key = os::fd_identity(fd).ok()?;
    let entry = TABLE.get().map(|_| table().get(&key).cloned())??;
    {
        let mut state = entry.lock_here().ok()?;
        state.owners += 1;
        state.given_away = false;
    }
    Some(entry)
}

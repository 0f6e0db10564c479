//! The background reaper: reaps children whose `Child` was dropped while
//! they ran, so that none is left a zombie.
//!
//! One thread per process, started by the first child that needs it,
//! sleeping in `epoll_wait` on the pidfds it was given. A pidfd becomes
//! readable when its process exits; the thread then reaps it with
//! `waitid(P_PIDFD, WNOHANG)` and closes the pidfd. No `SIGCHLD` handler,
//! no `waitpid(-1)`: other children of the process are never touched. A
//! dropped child that this process traces is reaped at its exit too; its
//! ptrace stops, which the kernel reports to every thread here, are never
//! taken for an exit (`pidfd::wait_child` reaps only an exit it has seen).
//!
//! # What can go wrong, and what is done about it
//!
//! - **`fork` after the thread started.** The forked process inherits the
//!   reaper's memory and its epoll fd, but not its thread. The reaper is
//!   tagged with the pid that made it ([`PerProcess`]): a forked process
//!   leaves the parent's alone (never locks its mutex, which another thread
//!   may have held at the fork; never adds to its epoll instance, which the
//!   parent's thread would then see firing for fds it does not know) and
//!   makes its own, with its own epoll instance and thread, on first need.
//!   Its copies of the parent's epoll fd and pidfds stay open, unused, until
//!   it execs (they are close-on-exec) or exits.
//! - **No fd or no thread for now** (`EMFILE` from `epoll_create1`,
//!   `EAGAIN` from thread creation). Nothing is cached: the pidfds that
//!   could not be handed over (already open, no new fd needed) are kept,
//!   reaped with `WNOHANG` if they exited meanwhile, and handed over at the
//!   next need.
//! - **The epoll fd closed behind the library's back** ("close all fds"),
//!   or its number now naming something else. `epoll_wait` (or
//!   `epoll_ctl`) fails, or reports tokens never registered: a fresh
//!   instance is made, the pidfds still open re-registered, and a new
//!   thread waits on it (the old one may stay asleep on the orphaned
//!   instance until one of its pidfds fires, and then ends). The old
//!   number is never closed, as it may now be someone else's fd. A pidfd
//!   that was closed too cannot be recovered: that is said on stderr, as
//!   there is no caller to return an error to.

use std::collections::HashMap;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sys::epoll::{Epoll, Events};
use crate::sys::per_process::PerProcess;
use crate::sys::pidfd;

/// The reaper of one process.
#[derive(Default)]
struct Reaper {
    state: Mutex<State>,
}

/// An epoll instance of the reaper. Never closed: the reaper's current one
/// lives as long as the process, and a replaced one is replaced because
/// its number may no longer be ours.
type Instance = Arc<ManuallyDrop<Epoll>>;

#[derive(Default)]
struct State {
    /// The instance the current thread waits on, once one could be made.
    epoll: Option<Instance>,
    /// Bumped for each thread started; a thread whose number is no longer
    /// this one ends.
    generation: u64,
    /// Whether a thread of the current generation runs.
    running: bool,
    /// The pidfds registered with `epoll`, by number (the token).
    watched: HashMap<RawFd, OwnedFd>,
    /// The pidfds not handed over yet (no epoll instance or no thread for
    /// now), for the next need.
    waiting: Vec<OwnedFd>,
}

static REAPER: PerProcess<Reaper> = PerProcess::new();

impl Reaper {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Takes over the pidfd of a running child, to reap it when it exits.
pub(crate) fn adopt(pidfd: OwnedFd) {
    let reaper = REAPER.get_or_init(Reaper::default);
    let mut state = reaper.lock();
    state.waiting.push(pidfd);
    state.hand_over(reaper);
}

/// How many children the reaper is waiting for (for tests), handed over or
/// not yet.
#[doc(hidden)]
pub fn pending() -> usize {
    match REAPER.get() {
        Some(reaper) => {
            let state = reaper.lock();
            state.watched.len() + state.waiting.len()
        }
        None => 0,
    }
}

impl State {
    /// Hands the waiting pidfds to the thread, making the epoll instance
    /// and starting the thread if needed; what cannot be handed over now
    /// stays waiting.
    fn hand_over(&mut self, reaper: &'static Reaper) {
        // Those that exited meanwhile need no thread.
        self.waiting.retain(still_running);
        if self.waiting.is_empty() {
            return;
        }
        let epoll = match &self.epoll {
            Some(epoll) => epoll.clone(),
            None => match Epoll::new() {
                Ok(epoll) => {
                    let epoll = Arc::new(ManuallyDrop::new(epoll));
                    self.epoll = Some(epoll.clone());
                    epoll
                }
                // EMFILE, ENFILE, ENOMEM: again at the next need.
                Err(_) => return,
            },
        };
        for fd in std::mem::take(&mut self.waiting) {
            match epoll.add(fd.as_fd(), fd.as_raw_fd() as u64) {
                Ok(()) => {
                    self.watched.insert(fd.as_raw_fd(), fd);
                }
                // Not an epoll instance any more: closed behind our back.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBADF | libc::EINVAL)) => {
                    self.waiting.push(fd);
                    drop(epoll);
                    self.renew(reaper);
                    return;
                }
                // ENOMEM, ENOSPC (max_user_watches): again at the next need.
                Err(_) => self.waiting.push(fd),
            }
        }
        if !self.running {
            self.start(reaper);
        }
    }

    /// Starts a thread for the current instance; if none can be started
    /// now, the pidfds wait for the next need.
    fn start(&mut self, reaper: &'static Reaper) {
        self.generation += 1;
        let generation = self.generation;
        let started = std::thread::Builder::new()
            .name("spawnfd-reaper".into())
            .spawn(move || reaper.run(generation));
        self.running = started.is_ok();
        if !self.running {
            // Nobody waits on the instance: unregister, keep for later.
            for (_, fd) in self.watched.drain() {
                if let Some(epoll) = &self.epoll {
                    let _ = epoll.delete(fd.as_fd());
                }
                self.waiting.push(fd);
            }
        }
    }

    /// Replaces an epoll instance whose fd was closed behind our back, or
    /// whose number names something else: a fresh instance, the pidfds
    /// that are still ours registered again, and a new thread.
    fn renew(&mut self, reaper: &'static Reaper) {
        self.running = false;
        self.epoll = None; // never closed: see `Instance`
        let mut lost = 0;
        let watched: Vec<OwnedFd> = self.watched.drain().map(|(_, fd)| fd).collect();
        for fd in watched {
            match pidfd::getpid(fd.as_fd()) {
                // Still a pidfd (ESRCH: of a process reaped by someone else,
                // which the next look at it settles).
                Ok(_) => self.waiting.push(fd),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => self.waiting.push(fd),
                // Closed too, and perhaps someone else's by now: not closed
                // here.
                Err(_) => {
                    let _ = fd.into_raw_fd();
                    lost += 1;
                }
            }
        }
        if lost > 0 {
            eprintln!(
                "spawnfd: the reaper's epoll fd and {lost} pidfd(s) of dropped children were \
                 closed behind its back; those children are left to this process to reap"
            );
        }
        self.hand_over(reaper);
    }
}

/// Whether the child behind `fd` has not exited (it runs, or is in a
/// ptrace stop, which is its tracer's); reaps it if it has exited.
fn still_running(fd: &OwnedFd) -> bool {
    matches!(pidfd::wait_child(fd.as_fd(), false, None, false), Ok(None))
}

impl Reaper {
    fn run(&'static self, generation: u64) {
        let mut events = Events::with_capacity(64);
        loop {
            let epoll = {
                let state = self.lock();
                match &state.epoll {
                    Some(epoll) if state.generation == generation => epoll.clone(),
                    // Replaced: another thread has taken over.
                    _ => return,
                }
            };
            let waited = epoll.wait(&mut events, None);
            let mut state = self.lock();
            if state.generation != generation {
                return;
            }
            match waited {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EBADF, EINVAL: the fd was closed, or names another file.
                Err(_) => {
                    drop(epoll);
                    state.renew(self);
                    return;
                }
            }
            let mut unknown = false;
            for token in events.tokens() {
                let fd = token as RawFd;
                let Some(pidfd) = state.watched.get(&fd) else {
                    unknown = true;
                    continue;
                };
                let reaped = pidfd::wait_child(pidfd.as_fd(), false, None, false);
                // Readable, but the exit is not ours to see yet (a tracer
                // in another process holds it), or a kernel whose pidfd
                // poll does not wait: look again next time.
                if let Ok(None) = reaped {
                    continue;
                }
                let Some(pidfd) = state.watched.remove(&fd) else {
                    continue;
                };
                let _ = epoll.delete(pidfd.as_fd());
                match reaped {
                    // Reaped, or by someone else (ECHILD): ours to close.
                    Ok(_) => drop(pidfd),
                    Err(e) if e.raw_os_error() == Some(libc::ECHILD) => drop(pidfd),
                    // The number is no longer a pidfd: closed behind our
                    // back, perhaps someone else's now.
                    Err(_) => {
                        let _ = pidfd.into_raw_fd();
                        eprintln!(
                            "spawnfd: a pidfd of a dropped child was closed behind the \
                             reaper's back; that child is left to this process to reap"
                        );
                    }
                }
            }
            if unknown {
                // Tokens never registered here: this number now names
                // another epoll instance, or someone else adds to ours.
                drop(epoll);
                state.renew(self);
                return;
            }
        }
    }
}

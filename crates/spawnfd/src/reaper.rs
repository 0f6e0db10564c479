//! The background reaper: reaps children whose `Child` was dropped while
//! they ran, so that none is left a zombie.
//!
//! One thread for the whole process, started by the first child that needs
//! it, sleeping in `epoll_wait` on the pidfds it was given. A pidfd becomes
//! readable when its process exits; the thread then reaps it with
//! `waitid(P_PIDFD, WNOHANG)` and closes the pidfd. No `SIGCHLD` handler,
//! no `waitpid(-1)`: other children of the process are never touched.
//!
//! If the thread cannot be started (or epoll is refused), the pidfd is
//! closed and the child is left for the process to reap, as std would.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

use crate::sys::epoll::{Epoll, Events};
use crate::sys::pidfd;

struct Reaper {
    epoll: Epoll,
    /// The pidfds being watched, by number.
    pidfds: Mutex<HashMap<RawFd, OwnedFd>>,
}

static REAPER: OnceLock<Option<Reaper>> = OnceLock::new();

fn reaper() -> Option<&'static Reaper> {
    REAPER
        .get_or_init(|| {
            let reaper = Reaper {
                epoll: Epoll::new().ok()?,
                pidfds: Mutex::new(HashMap::new()),
            };
            Some(reaper)
        })
        .as_ref()
        .filter(|_| start_thread())
}

/// Starts the thread once; whether it runs.
fn start_thread() -> bool {
    static STARTED: OnceLock<bool> = OnceLock::new();
    *STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("spawnfd-reaper".into())
            .spawn(|| {
                if let Some(Some(reaper)) = REAPER.get() {
                    reaper.run();
                }
            })
            .is_ok()
    })
}

/// Takes over the pidfd of a running child, to reap it when it exits.
pub(crate) fn adopt(pidfd: OwnedFd) {
    let Some(reaper) = reaper() else { return };
    let fd = pidfd.as_raw_fd();
    let mut pidfds = reaper.pidfds.lock().unwrap_or_else(|e| e.into_inner());
    // Registered under the lock, so the thread cannot see the fd ready
    // before it is in the map.
    if reaper.epoll.add(pidfd.as_fd(), fd as u64).is_ok() {
        pidfds.insert(fd, pidfd);
    }
}

/// How many children the reaper is waiting for (for tests).
#[doc(hidden)]
pub fn pending() -> usize {
    match REAPER.get() {
        Some(Some(reaper)) => reaper.pidfds.lock().map_or(0, |p| p.len()),
        _ => 0,
    }
}

impl Reaper {
    fn run(&self) {
        let mut events = Events::with_capacity(64);
        loop {
            if let Err(e) = self.epoll.wait(&mut events, None) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
                continue;
            }
            let mut pidfds = self.pidfds.lock().unwrap_or_else(|e| e.into_inner());
            for token in events.tokens() {
                let fd = token as RawFd;
                let Some(pidfd) = pidfds.get(&fd) else {
                    continue;
                };
                // Readable but not reapable yet: look again next time.
                if let Ok(None) = pidfd::wait_child(pidfd.as_fd(), false, None, false) {
                    continue;
                }
                if let Some(pidfd) = pidfds.remove(&fd) {
                    let _ = self.epoll.delete(pidfd.as_fd());
                }
            }
        }
    }
}

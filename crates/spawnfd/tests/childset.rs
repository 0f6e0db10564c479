//! `ChildSet`: every exit delivered exactly once, with the right id, pid
//! and status, among thousands of children that end in any order; nothing
//! delivered while every child runs (its fd not readable either); and
//! `remove`, `get`, `get_mut`, `iter`, `signal_all`, `insert` of a reaped
//! child, and the end of `exits`.
//!
//! A child that must still be running when a test looks is blocked on a
//! stdin pipe ([`support::until_stdin_closed`]): it exits only when the
//! test closes that pipe, whatever the load of the machine.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::ChildStdin;
use std::time::{Duration, Instant};

use spawnfd::{Child, ChildId, ChildSet, Command, Exited, Signal, Stdio, pidfd_getpid};
use support::{
    HANG_GUARD, assert_reaped, is_pipe, poll_readable, spawn_held, until_stdin_closed,
    watched_by_pid,
};

/// `sh -c SCRIPT` with the standard fds on `/dev/null`.
fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Spawns `cmd`, panicking with it on failure.
#[track_caller]
fn spawn(cmd: &mut Command) -> Child {
    cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

/// Waits (at most [`HANG_GUARD`]) for the next exit; panics if there is
/// none.
#[track_caller]
fn next_exit(set: &mut ChildSet) -> Exited {
    set.wait_any_timeout(HANG_GUARD)
        .expect("wait_any_timeout")
        .expect("a child of the set exited")
}

/// A small deterministic pseudo-random sequence (xorshift64), so that a
/// failing order can be replayed from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the set was given and what it has delivered, for the big test.
#[derive(Default)]
struct Ledger {
    /// For each id `insert` returned: the child's pid and exit code.
    expected: HashMap<ChildId, (u32, i32)>,
    delivered: HashSet<ChildId>,
}

impl Ledger {
    /// Checks one delivered exit against what was expected of its child.
    #[track_caller]
    fn take(&mut self, exited: Exited) {
        let Exited {
            id,
            status,
            mut child,
            ..
        } = exited;
        let &(pid, code) = self
            .expected
            .get(&id)
            .unwrap_or_else(|| panic!("{id:?} was never handed out"));
        assert!(self.delivered.insert(id), "{id:?} was delivered twice");
        assert_eq!(status.code(), Some(code), "{id:?} (pid {pid}): {status}");
        assert_eq!(child.id(), pid, "{id:?} came with another child");
        // Delivered after it was reaped, and its handle knows it.
        assert_eq!(child.try_wait().unwrap(), Some(status));
        assert_reaped(&child, &format!("{id:?} delivered by the set"));
    }

    /// Takes every exit the set has ready, without blocking.
    fn drain(&mut self, set: &mut ChildSet) {
        while let Some(exited) = set.try_wait_any().unwrap() {
            assert!(
                set.get(exited.id).is_none(),
                "delivered but still in the set"
            );
            self.take(exited);
        }
        assert_eq!(set.len() + self.delivered.len(), self.expected.len());
    }
}

#[test]
fn thousands_of_exits_are_each_delivered_exactly_once() {
    const WANTED: usize = 2000;
    let limit = spawnfd::raise_fd_limit().expect("raise RLIMIT_NOFILE");
    // Each child holds a pidfd here and every 8th a pipe end too; leave room
    // for the other tests of this binary.
    let room = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(300);
    let n = WANTED.min(room * 8 / 9);
    if n < WANTED {
        eprintln!("RLIMIT_NOFILE allows only {limit} fds: {n} children instead of {WANTED}");
    }
    assert!(n >= 100, "RLIMIT_NOFILE {limit} is too low for this test");

    let seed = u64::from(std::process::id()) << 20 | 0x5eed;
    eprintln!("order seed {seed:#x}");
    let mut rng = Rng(seed);
    let mut set = ChildSet::new().unwrap();
    let mut ledger = Ledger::default();
    // The children that wait for their stdin to close, each ended at a
    // moment of the test's choosing.
    let mut held: Vec<ChildStdin> = Vec::new();

    for i in 0..n {
        let code = (i % 256) as u8;
        let child = match i % 8 {
            0 => {
                let (child, stdin) = spawn_held(&mut until_stdin_closed(code));
                held.push(stdin);
                child
            }
            1 => spawn(&mut sh(&format!("sleep 0.0{}; exit {code}", i % 10))),
            _ => spawn(&mut sh(&format!("exit {code}"))),
        };
        let pid = child.id();
        let id = set.insert(child).unwrap();
        let previous = ledger.expected.insert(id, (pid, i32::from(code)));
        assert!(previous.is_none(), "{id:?} handed out twice");
        assert_eq!(set.get(id).map(|c| c.id()), Some(pid));
        if rng.below(64) == 0 {
            ledger.drain(&mut set);
        }
    }

    // End the held children in a shuffled order, taking exits in between.
    while !held.is_empty() {
        drop(held.swap_remove(rng.below(held.len())));
        if rng.below(4) == 0 {
            ledger.drain(&mut set);
        }
    }
    for exited in set.exits() {
        ledger.take(exited.unwrap());
    }

    assert_eq!(ledger.delivered.len(), n);
    assert!(set.is_empty());
    assert_eq!(set.len(), 0);
    assert!(set.exits().next().is_none());
    assert!(set.try_wait_any().unwrap().is_none());
    assert!(set.wait_any().unwrap().is_none());
}

#[test]
fn nothing_is_delivered_while_every_child_runs() {
    let mut set = ChildSet::new().unwrap();
    let mut children = Vec::new();
    for code in [31, 32, 33, 34] {
        let (child, stdin) = spawn_held(&mut until_stdin_closed(code));
        children.push((set.insert(child).unwrap(), Some(stdin), i32::from(code)));
    }
    assert_eq!(set.len(), 4);

    let start = Instant::now();
    assert!(
        set.wait_any_timeout(Duration::from_millis(50))
            .unwrap()
            .is_none()
    );
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "wait_any_timeout gave up early: {:?}",
        start.elapsed()
    );
    assert!(set.wait_any_timeout(Duration::ZERO).unwrap().is_none());
    assert!(set.try_wait_any().unwrap().is_none());
    assert!(
        !poll_readable(&set, Duration::ZERO),
        "readable with no exit"
    );
    assert_eq!(set.len(), 4);

    // Ended one at a time, out of order: each wait brings exactly that one,
    // and the set's fd is readable exactly while an exit is waiting.
    for i in [2, 0, 3, 1] {
        let (id, stdin, code) = &mut children[i];
        drop(stdin.take());
        assert!(
            poll_readable(&set, HANG_GUARD),
            "the set's fd never turned readable"
        );
        let exited = next_exit(&mut set);
        assert_eq!((exited.id, exited.status.code()), (*id, Some(*code)));
        assert!(set.try_wait_any().unwrap().is_none());
        assert!(
            !poll_readable(&set, Duration::ZERO),
            "readable with no exit left"
        );
    }
    assert!(set.is_empty());
}

#[test]
fn a_removed_child_is_never_delivered() {
    let mut set = ChildSet::new().unwrap();
    let (a, a_stdin) = spawn_held(&mut until_stdin_closed(41));
    let (b, b_stdin) = spawn_held(&mut until_stdin_closed(42));
    let (a_pid, a_id, b_id) = (a.id(), set.insert(a).unwrap(), set.insert(b).unwrap());

    let mut a = set.remove(a_id).expect("a running child is in the set");
    assert_eq!(a.id(), a_pid);
    assert!(set.remove(a_id).is_none(), "removed twice");
    assert!(set.get(a_id).is_none());
    assert!(set.get_mut(a_id).is_none());
    assert_eq!(set.len(), 1);

    // It exits outside the set: the set neither sees nor reaps it.
    drop(a_stdin);
    assert!(poll_readable(a.pidfd(), HANG_GUARD), "a never exited");
    assert!(set.try_wait_any().unwrap().is_none());
    assert!(!poll_readable(&set, Duration::ZERO));
    assert_eq!(a.wait().unwrap().code(), Some(41));

    drop(b_stdin);
    let exited = next_exit(&mut set);
    assert_eq!((exited.id, exited.status.code()), (b_id, Some(42)));
    assert!(set.wait_any().unwrap().is_none());
}

#[test]
fn a_child_removed_after_its_exit_was_seen_is_not_delivered() {
    let mut set = ChildSet::new().unwrap();
    let mut ids = HashMap::new();
    for code in 50..60 {
        let child = sh(&format!("exit {code}")).spawn().unwrap();
        ids.insert(set.insert(child).unwrap(), code);
    }
    // All ten have exited before the first wait: one epoll_wait reports
    // them all, and one is delivered; the others are then queued in the set.
    for id in ids.keys() {
        let child = set.get(*id).unwrap();
        assert!(
            poll_readable(child.pidfd(), HANG_GUARD),
            "{id:?} never exited"
        );
    }
    let first = set.wait_any().unwrap().expect("ten children exited");
    assert_eq!(first.status.code(), Some(ids[&first.id]));

    // Removing the others, queued or not, takes them for good; they are
    // still unreaped, with their status for their new owner.
    for (&id, &code) in ids.iter().filter(|(id, _)| **id != first.id) {
        let mut child = set.remove(id).expect("not delivered, so still in the set");
        if watched_by_pid() {
            // No zombie phase: each was reaped by its watcher, not by the
            // set; its status waits in its handle.
            assert!(is_pipe(child.pidfd()), "{id:?}: the exit fd is no pipe");
        } else {
            assert_eq!(
                pidfd_getpid(child.pidfd()).unwrap(),
                child.id(),
                "reaped by the set"
            );
        }
        assert_eq!(child.try_wait().unwrap().and_then(|s| s.code()), Some(code));
    }
    assert!(set.is_empty());
    assert!(set.try_wait_any().unwrap().is_none());
    assert!(set.wait_any_timeout(Duration::ZERO).unwrap().is_none());
    assert!(set.wait_any().unwrap().is_none());
    assert!(set.exits().next().is_none());
}

#[test]
fn get_mut_reaches_a_child_to_signal_or_feed_it() {
    let mut set = ChildSet::new().unwrap();
    let mut ids = Vec::new();
    let mut pids = Vec::new();
    for code in [61, 62, 63] {
        let child = until_stdin_closed(code).spawn().unwrap();
        pids.push(child.id());
        ids.push(set.insert(child).unwrap());
    }
    for (id, pid) in ids.iter().zip(&pids) {
        assert_eq!(set.get(*id).map(|c| c.id()), Some(*pid));
    }

    set.get_mut(ids[0])
        .unwrap()
        .send_signal(Signal::TERM)
        .unwrap();
    let exited = next_exit(&mut set);
    assert_eq!(exited.id, ids[0]);
    assert_eq!(exited.status.signal(), Some(libc::SIGTERM));

    drop(set.get_mut(ids[1]).unwrap().stdin.take());
    let exited = next_exit(&mut set);
    assert_eq!((exited.id, exited.status.code()), (ids[1], Some(62)));

    let stdin = set.get_mut(ids[2]).unwrap().stdin.as_mut().unwrap();
    stdin.write_all(b"line\n").unwrap();
    let exited = next_exit(&mut set);
    assert_eq!((exited.id, exited.status.code()), (ids[2], Some(63)));
}

#[test]
fn signal_all_reaches_every_child() {
    let mut set = ChildSet::new().unwrap();
    let mut sleepers = HashSet::new();
    for _ in 0..5 {
        let child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        sleepers.insert(set.insert(child).unwrap());
    }
    // One that has exited and waits to be reaped: a zombie accepts the
    // signal and ignores it.
    let zombie = sh("exit 3").spawn().unwrap();
    assert!(poll_readable(zombie.pidfd(), HANG_GUARD));
    let zombie = set.insert(zombie).unwrap();

    set.signal_all(Signal::TERM).unwrap();
    let mut seen = HashSet::new();
    for exited in set.exits() {
        let exited = exited.unwrap();
        seen.insert(exited.id);
        if exited.id == zombie {
            assert_eq!(exited.status.code(), Some(3));
        } else {
            assert!(sleepers.contains(&exited.id), "{:?}", exited.id);
            assert_eq!(
                exited.status.signal(),
                Some(libc::SIGTERM),
                "{:?}",
                exited.id
            );
        }
    }
    assert_eq!(seen.len(), 6);
    set.signal_all(Signal::TERM).unwrap();
}

#[test]
fn inserting_a_reaped_child_is_refused() {
    let mut set = ChildSet::new().unwrap();

    let mut waited = Command::new("true").spawn().unwrap();
    waited.wait().unwrap();
    let err = set.insert(waited).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");

    let mut tried = sh("exit 4").spawn().unwrap();
    assert!(poll_readable(tried.pidfd(), HANG_GUARD));
    assert!(tried.try_wait().unwrap().is_some());
    let err = set.insert(tried).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");

    assert!(set.is_empty());
    assert!(set.wait_any().unwrap().is_none());
}

#[test]
fn exits_ends_when_the_set_is_empty() {
    let mut set = ChildSet::new().unwrap();
    assert!(set.exits().next().is_none());
    assert!(set.wait_any().unwrap().is_none());
    assert!(set.try_wait_any().unwrap().is_none());

    for code in [3, 1, 2] {
        set.insert(sh(&format!("exit {code}")).spawn().unwrap())
            .unwrap();
    }
    let mut codes: Vec<i32> = set
        .exits()
        .map(|e| e.unwrap().status.code().unwrap())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [1, 2, 3]);
    assert!(set.is_empty());
    assert!(set.exits().next().is_none());
}

#[test]
fn ids_are_unique_and_iter_lists_the_children() {
    let mut set = ChildSet::new().unwrap();
    let mut held = Vec::new();
    let mut pids = HashMap::new();
    for code in 0..5 {
        let (child, stdin) = spawn_held(&mut until_stdin_closed(code));
        let pid = child.id();
        let id = set.insert(child).unwrap();
        assert!(pids.insert(id, pid).is_none(), "{id:?} handed out twice");
        held.push(stdin);
    }
    let numbers: HashSet<u64> = pids.keys().map(|id| id.as_u64()).collect();
    assert_eq!(numbers.len(), 5);
    let listed: HashMap<ChildId, u32> = set.iter().map(|(id, c)| (id, c.id())).collect();
    assert_eq!(listed, pids);

    drop(held);
    let delivered: HashSet<ChildId> = set.exits().map(|e| e.unwrap().id).collect();
    assert_eq!(delivered, pids.keys().copied().collect());
    assert_eq!(set.iter().count(), 0);
}

#[test]
fn exited_children_come_with_their_pipes() {
    let mut set = ChildSet::new().unwrap();
    let child = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = set.insert(child).unwrap();
    let mut exited = next_exit(&mut set);
    assert_eq!((exited.id, exited.status.code()), (id, Some(7)));
    let mut out = String::new();
    exited
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    exited
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
    assert_eq!(exited.child.wait().unwrap(), exited.status);
}

#[test]
fn a_child_reaped_elsewhere_does_not_wedge_the_set() {
    let mut set = ChildSet::new().unwrap();
    let (child, stdin) = spawn_held(&mut until_stdin_closed(3));
    let pid = child.id();
    set.insert(child).unwrap();
    drop(stdin);
    let mut raw = 0;
    // SAFETY: waitpid on our own child, which nothing else reaps: its pid
    // is still its own.
    let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::__WALL) };
    if watched_by_pid() && reaped == -1 {
        // Watched by pid: the child's watcher thread races this waitpid
        // and may reap it first (no zombie phase); the set then has its
        // status, and must let go of it all the same.
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "waitpid: {err}");
    } else {
        assert_eq!(reaped, pid as libc::pid_t);
    }

    // Whatever the set reports about it (an error is fair), it must let go
    // of the child in the end.
    for _ in 0..10 {
        if let Ok(None) = set.wait_any_timeout(Duration::from_millis(10)) {
            break;
        }
    }
    assert!(
        set.is_empty(),
        "the set still holds {} child(ren)",
        set.len()
    );
    assert!(set.exits().next().is_none());
}

#[test]
fn a_timeout_too_long_to_add_to_now_means_no_limit() {
    let mut set = ChildSet::new().unwrap();
    let child = sh("exit 1").spawn().unwrap();
    // Already exited: any wait returns at once.
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    let id = set.insert(child).unwrap();
    let exited = set.wait_any_timeout(Duration::MAX).unwrap().unwrap();
    assert_eq!((exited.id, exited.status.code()), (id, Some(1)));
}

//! Dropped children: no zombies. A `Child` dropped after its exit is reaped
//! by the drop; one dropped while it runs goes to the background reaper (one
//! thread, `reaper_pending()` counts what it waits for), which reaps it when
//! it exits and touches no other child. `reap_on_drop(false)` leaves std's
//! zombie; `kill_on_drop(true)` kills first. No `SIGCHLD` handler is ever
//! installed.
//!
//! The tests look at every child of this process (zombies included) and at
//! the reaper's count, so they run one at a time ([`serial`]), and each
//! leaves no child behind.

mod support;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use spawnfd::{Child, Command, Stdio, pidfd_getpid, reaper_pending, watch_entries};
use support::{
    HANG_GUARD, ProcessWatch, children_of_self, poll_readable, sig_bit, skipped, spawn_held,
    status_field, until_stdin_closed, wait_for, watched_by_pid,
};

/// The dropped children still to be reaped: the reaper's count, or where
/// children are watched by pid (sys::watch: no background reaper, each
/// child's own thread reaps it, dropped or not) the watch entries left,
/// which go once their children are reaped.
fn pending() -> usize {
    if watched_by_pid() {
        watch_entries()
    } else {
        reaper_pending()
    }
}

/// Says why a test of the background reaper's own machinery does not
/// apply where children are watched by pid: the reaper is never used there.
fn no_reaper_here(test: &str) -> bool {
    if watched_by_pid() {
        skipped(
            test,
            "no background reaper where children are watched by pid: each child's \
             watcher thread reaps it (tests/no_pidfd.rs covers the watchers)",
        );
        return true;
    }
    false
}

/// The name of the threads that reap dropped children on this path.
fn reaping_threads() -> usize {
    if watched_by_pid() {
        threads_named("spawnfd-watch")
    } else {
        threads_named("spawnfd-reaper")
    }
}

/// Serializes the tests of this binary (see the module documentation). A
/// test that panics while holding it does not poison it.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    // Whatever a failed test before left to the reaper is gone first.
    wait_for("the reaper to finish earlier work", || pending() == 0);
    guard
}

/// A copy of a child's pidfd, which outlives the `Child` and names that
/// process and no other.
fn pidfd_copy(child: &Child) -> OwnedFd {
    child.pidfd().try_clone_to_owned().expect("dup the pidfd")
}

/// Whether the process behind `pidfd` has been reaped (by anyone). Where
/// children are watched by pid the copy is of the exit fd, which its
/// watcher makes readable once it has reaped the child.
fn reaped(pidfd: &OwnedFd) -> bool {
    if watched_by_pid() {
        return poll_readable(pidfd, Duration::ZERO);
    }
    match pidfd_getpid(pidfd.as_fd()) {
        Ok(_) => false,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => true,
        Err(e) => panic!("pidfd_getpid: {e}"),
    }
}

/// Our zombie children.
fn zombies() -> Vec<u32> {
    children_of_self()
        .into_iter()
        .filter_map(|(pid, state)| (state == 'Z').then_some(pid))
        .collect()
}

/// Reaps zombie `pid` with `waitpid` (as code using std's behaviour would)
/// and returns its raw status.
fn waitpid(pid: u32) -> i32 {
    let mut raw = 0;
    // SAFETY: `pid` is our unreaped child, so the number is still its own;
    // waitpid writes the status into `raw`.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut raw, libc::__WALL) };
    assert_eq!(
        r,
        pid as libc::pid_t,
        "waitpid: {}",
        std::io::Error::last_os_error()
    );
    raw
}

/// The threads of this process named `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn a_thousand_dropped_children_leave_no_zombie() {
    let _serial = serial();
    let mut watched = Vec::new();
    for i in 0..1000 {
        // Half end at once, half after up to 90 ms; some are dropped while
        // they run, some after they exited.
        let mut cmd = if i % 2 == 0 {
            Command::new("true")
        } else {
            let mut sleep = Command::new("sleep");
            sleep.arg(format!("0.0{}", i % 10));
            sleep
        };
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn child {i}: {e}"));
        if i % 6 == 0 {
            // A `true`: dropped once it has exited.
            assert!(
                poll_readable(child.pidfd(), HANG_GUARD),
                "child {i} never exited"
            );
        }
        if i % 10 == 0 {
            watched.push(pidfd_copy(&child));
        }
        drop(child);
    }
    wait_for("the reaper to reap every dropped child", || pending() == 0);
    assert_eq!(zombies(), Vec::<u32>::new(), "zombie children left");
    assert_eq!(children_of_self(), [], "children left");
    assert!(watched.iter().all(reaped));

    // One reaper thread for all of them (where children are watched by
    // pid: none, each watcher having ended with its child), and no SIGCHLD
    // handler: the dispositions are untouched.
    if watched_by_pid() {
        wait_for("the watcher threads to end", || reaping_threads() == 0);
    } else {
        assert_eq!(reaping_threads(), 1);
    }
    let caught = status_field("/proc/self/status", "SigCgt:");
    let ignored = status_field("/proc/self/status", "SigIgn:");
    assert_eq!(caught & sig_bit(libc::SIGCHLD), 0, "a SIGCHLD handler");
    assert_eq!(ignored & sig_bit(libc::SIGCHLD), 0, "SIGCHLD ignored");
}

#[test]
fn an_exited_child_is_reaped_by_the_drop_itself() {
    let _serial = serial();
    let child = Command::new("true").spawn().unwrap();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    if watched_by_pid() {
        // No zombie phase: its watcher reaped it before the exit fd became
        // readable; the drop only lets go of the entry.
        assert_eq!(zombies(), Vec::<u32>::new());
        drop(child);
        assert_eq!(pending(), 0);
        return;
    }
    assert_eq!(zombies(), [child.id()]);
    let pidfd = pidfd_copy(&child);
    drop(child);
    // At once, not by the reaper thread some time later.
    assert!(reaped(&pidfd), "still unreaped after the drop");
    assert_eq!(pending(), 0);
    assert_eq!(zombies(), Vec::<u32>::new());
}

#[test]
fn a_running_child_is_reaped_by_the_reaper_when_it_exits() {
    let _serial = serial();
    let mut stdins = Vec::new();
    let mut pidfds = Vec::new();
    for n in 1..=20 {
        let (child, stdin) = spawn_held(&mut until_stdin_closed(0));
        pidfds.push(pidfd_copy(&child));
        stdins.push(stdin);
        drop(child);
        assert_eq!(pending(), n, "the reaper took every running child");
    }
    // Still running: nothing to reap yet, and nothing was killed.
    assert!(pidfds.iter().all(|p| !poll_readable(p, Duration::ZERO)));
    assert!(!pidfds.iter().any(reaped));

    drop(stdins);
    wait_for("the reaper to reap 20 children", || pending() == 0);
    assert!(pidfds.iter().all(reaped));
    assert_eq!(children_of_self(), []);
}

#[test]
fn reap_on_drop_false_leaves_a_zombie() {
    let _serial = serial();
    if watched_by_pid() {
        reap_on_drop_false_keeps_no_zombie_when_watched();
        return;
    }

    // Dropped after its exit.
    let child = Command::new("sh")
        .args(["-c", "exit 7"])
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let exited_pid = child.id();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    drop(child);

    // Dropped while it runs: the reaper is not given it.
    let (child, stdin) = spawn_held(until_stdin_closed(8).reap_on_drop(false));
    let running_pid = child.id();
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert_eq!(pending(), 0);
    drop(stdin);
    assert!(poll_readable(&pidfd, HANG_GUARD));

    // Give the reaper work of its own meanwhile: it must leave both alone.
    let (busy, busy_stdin) = spawn_held(&mut until_stdin_closed(0));
    drop(busy);
    assert_eq!(pending(), 1);
    drop(busy_stdin);
    wait_for("the reaper to reap its own child", || pending() == 0);

    let mut left = zombies();
    left.sort_unstable();
    let mut expected = vec![exited_pid, running_pid];
    expected.sort_unstable();
    assert_eq!(left, expected, "std's zombies");

    // Whoever holds the pid reaps them, as with std.
    assert_eq!(libc::WEXITSTATUS(waitpid(exited_pid)), 7);
    assert_eq!(libc::WEXITSTATUS(waitpid(running_pid)), 8);
    assert_eq!(children_of_self(), []);
}

/// `reap_on_drop(false)` where children are watched by pid: there is no
/// zombie phase, the watcher reaps the child whatever the drop asks, so no
/// zombie is left (documented).
fn reap_on_drop_false_keeps_no_zombie_when_watched() {
    skipped(
        "reap_on_drop_false_leaves_a_zombie",
        "no zombie phase where children are watched by pid: reap_on_drop(false) keeps none",
    );
    let child = Command::new("sh")
        .args(["-c", "exit 7"])
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    assert!(poll_readable(child.pidfd(), HANG_GUARD));
    drop(child);
    let (child, stdin) = spawn_held(until_stdin_closed(8).reap_on_drop(false));
    let pidfd = pidfd_copy(&child);
    drop(child);
    drop(stdin);
    assert!(poll_readable(&pidfd, HANG_GUARD));
    wait_for("the watchers to let go", || pending() == 0);
    assert_eq!(zombies(), Vec::<u32>::new(), "a zombie where none is kept");
    assert_eq!(children_of_self(), []);
}

#[test]
fn kill_on_drop_kills_a_running_child() {
    let _serial = serial();

    // Reaped afterwards by the reaper.
    let child = Command::new("sleep")
        .arg("1000")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert!(poll_readable(&pidfd, HANG_GUARD), "`sleep 1000` still runs");
    wait_for("the reaper to reap the killed child", || reaped(&pidfd));
    wait_for("the reaper's count to drop", || pending() == 0);

    if watched_by_pid() {
        // No zombie to show how it died (no zombie phase on this path):
        // the first part showed that the kill ended it.
        skipped(
            "kill_on_drop_kills_a_running_child",
            "no zombie phase where children are watched by pid: reap_on_drop(false) keeps none",
        );
        return;
    }
    // With reap_on_drop(false), the zombie shows how it died.
    let child = Command::new("sleep")
        .arg("1000")
        .kill_on_drop(true)
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert!(poll_readable(&pidfd, HANG_GUARD), "`sleep 1000` still runs");
    let raw = waitpid(pid);
    assert!(
        libc::WIFSIGNALED(raw) && libc::WTERMSIG(raw) == libc::SIGKILL,
        "{raw:#x}"
    );
    assert_eq!(children_of_self(), []);
}

#[test]
fn without_kill_on_drop_a_dropped_child_runs_on() {
    let _serial = serial();
    if watched_by_pid() {
        // No zombie phase: a status is shown by the running check below.
        skipped(
            "without_kill_on_drop_a_dropped_child_runs_on",
            "no zombie phase where children are watched by pid: reap_on_drop(false) keeps none",
        );
    } else {
        // Left a zombie, so that its status shows it ended by itself.
        let (child, stdin) = spawn_held(until_stdin_closed(6).reap_on_drop(false));
        let pid = child.id();
        let pidfd = pidfd_copy(&child);
        drop(child);
        drop(stdin);
        assert!(poll_readable(&pidfd, HANG_GUARD));
        let raw = waitpid(pid);
        assert!(libc::WIFEXITED(raw), "killed: {raw:#x}");
        assert_eq!(libc::WEXITSTATUS(raw), 6);
    }

    // Given to the reaper: still running after the drop.
    let (child, stdin) = spawn_held(&mut until_stdin_closed(0));
    let pidfd = pidfd_copy(&child);
    drop(child);
    assert!(!poll_readable(&pidfd, Duration::from_millis(50)), "it died");
    assert!(!reaped(&pidfd));
    drop(stdin);
    wait_for("the reaper to reap it", || reaped(&pidfd));
}

#[test]
fn the_reaper_leaves_other_children_alone() {
    let _serial = serial();
    // A child this library does not know, from std.
    let mut other = std::process::Command::new("sh")
        .args(["-c", "read line; exit 5"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let (dropped, dropped_stdin) = spawn_held(&mut until_stdin_closed(0));
    let pidfd = pidfd_copy(&dropped);
    drop(dropped);
    assert_eq!(pending(), 1);

    // The other child exits while the reaper waits, then the reaper's own.
    drop(other.stdin.take());
    // A pidfd where the path has them, else its pid and start time.
    let other_watch = ProcessWatch::open(other.id() as i32);
    assert!(other_watch.exited_within(HANG_GUARD.as_millis() as i32));
    drop(dropped_stdin);
    wait_for("the reaper to reap its child", || reaped(&pidfd));
    wait_for("the reaper's count to drop", || pending() == 0);

    assert_eq!(
        zombies(),
        [other.id()],
        "the other child is left to its owner"
    );
    let status = other.wait().unwrap();
    assert_eq!(status.into_raw(), 5 << 8, "its status is intact: {status}");
    assert_eq!(children_of_self(), []);
}

// --- Issue 7, item 5: fork, a transient EMFILE, a closed epoll fd ------------
//
// Each runs in a process of its own: they fork, lower RLIMIT_NOFILE, or
// close the reaper's fd behind its back.

/// How long an isolated run waits for the reaper before it calls the reaper
/// broken: far above what reaping needs, well below the harness's patience.
const REAP_GUARD: Duration = Duration::from_secs(20);

/// Waits at most [`REAP_GUARD`] for the process behind `pidfd` to be reaped.
fn reaped_within_guard(pidfd: &OwnedFd) -> bool {
    let deadline = std::time::Instant::now() + REAP_GUARD;
    while !reaped(pidfd) {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// The CPU time (utime + stime, in clock ticks) of this process's thread
/// named `spawnfd-reaper` (the first found).
fn reaper_thread_ticks() -> u64 {
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != "spawnfd-reaper" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap();
        let (_, rest) = stat.rsplit_once(')').unwrap();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 (utime, stime) are at 11 and 12 after the ')'.
        return fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    panic!("no spawnfd-reaper thread");
}

const FORKED: &str = "a_forked_process_gets_its_own_reaper_isolated";

#[test]
fn a_forked_process_gets_its_own_reaper() {
    // Its process is a child of this one, which other tests count.
    let _serial = serial();
    support::run_isolated(FORKED);
}

#[test]
#[ignore = "run in a process of its own by a_forked_process_gets_its_own_reaper"]
fn a_forked_process_gets_its_own_reaper_isolated() {
    if !support::in_isolated_run(FORKED) || no_reaper_here("a_forked_process_gets_its_own_reaper") {
        return;
    }
    // The reaper of this process runs, with a child to wait for.
    let (ours, ours_stdin) = spawn_held(&mut until_stdin_closed(0));
    let ours_pidfd = pidfd_copy(&ours);
    drop(ours);
    assert_eq!(pending(), 1);

    let (report_read, report_write) = std::io::pipe().unwrap();
    let (done_read, done_write) = std::io::pipe().unwrap();
    // SAFETY: the forked child only spawns, drops and reads pipes, then
    // leaves with _exit; it never returns into the test harness.
    let forked = unsafe { libc::fork() };
    assert!(forked >= 0, "fork: {}", std::io::Error::last_os_error());
    if forked == 0 {
        drop((report_read, done_write));
        let ok = std::panic::catch_unwind(|| {
            // A child of the forked process, dropped while it runs: its own
            // reaper must reap it.
            let (child, stdin) = spawn_held(&mut until_stdin_closed(0));
            let pidfd = pidfd_copy(&child);
            drop(child);
            drop(stdin);
            reaped_within_guard(&pidfd)
        })
        .unwrap_or(false);
        let mut report_write = report_write;
        let _ = std::io::Write::write_all(&mut report_write, if ok { b"y" } else { b"n" });
        // Stay alive (its registrations with it) while the parent looks at
        // its reaper's CPU time.
        let mut byte = [0u8];
        let _ = std::io::Read::read(&mut { done_read }, &mut byte);
        // SAFETY: _exit ends the forked process without running the
        // harness's atexit handlers or destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    drop((report_write, done_read));
    let mut answer = [0u8];
    std::io::Read::read_exact(&mut { report_read }, &mut answer).unwrap();

    // The forked process is alive with its own reaper's registrations: this
    // process's reaper thread must be asleep, not spinning on them.
    let before = reaper_thread_ticks();
    std::thread::sleep(Duration::from_millis(300));
    let spent = reaper_thread_ticks() - before;
    drop(done_write);
    let mut raw = 0;
    // SAFETY: our child; `raw` is writable.
    assert_eq!(unsafe { libc::waitpid(forked, &mut raw, 0) }, forked);
    assert_eq!(
        answer[0], b'y',
        "the forked process's dropped child was not reaped (a zombie)"
    );
    assert!(
        libc::WIFEXITED(raw) && libc::WEXITSTATUS(raw) == 0,
        "{raw:#x}"
    );
    assert!(
        spent <= 3,
        "this process's reaper spent {spent} ticks in 300 ms: spinning"
    );

    // And this process's reaper still works.
    drop(ours_stdin);
    assert!(reaped_within_guard(&ours_pidfd), "our own child");
    assert_eq!(children_of_self(), []);
}

const EMFILE: &str = "a_reaper_that_could_not_start_retries_at_the_next_need_isolated";

#[test]
fn a_reaper_that_could_not_start_retries_at_the_next_need() {
    // Its process is a child of this one, which other tests count.
    let _serial = serial();
    support::run_isolated(EMFILE);
}

/// Sets the soft `RLIMIT_NOFILE`.
fn set_nofile(soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write `limit`.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

#[test]
#[ignore = "run in a process of its own by a_reaper_that_could_not_start_retries_at_the_next_need"]
fn a_reaper_that_could_not_start_retries_at_the_next_need_isolated() {
    if !support::in_isolated_run(EMFILE)
        || no_reaper_here("a_reaper_that_could_not_start_retries_at_the_next_need")
    {
        return;
    }
    let (first, first_stdin) = spawn_held(&mut until_stdin_closed(0));
    let first_pidfd = pidfd_copy(&first);
    let (exits_meanwhile, exits_stdin) = spawn_held(&mut until_stdin_closed(0));
    let exits_pidfd = pidfd_copy(&exits_meanwhile);

    // No fd left: the reaper's epoll_create1 fails with EMFILE.
    let mut fillers = Vec::new();
    set_nofile(256);
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }
    drop(first);
    drop(exits_meanwhile);
    // Neither is lost: both wait for the next need.
    assert_eq!(pending(), 2);
    drop(fillers);
    set_nofile(1024);
    assert_eq!(threads_named("spawnfd-reaper"), 0);

    // One of them exits before the next need.
    drop(exits_stdin);
    assert!(poll_readable(&exits_pidfd, HANG_GUARD));
    let (second, second_stdin) = spawn_held(&mut until_stdin_closed(0));
    let second_pidfd = pidfd_copy(&second);
    drop(second);
    assert!(reaped(&exits_pidfd), "reaped at the next need");
    assert_eq!(pending(), 2);
    drop((first_stdin, second_stdin));
    assert!(
        reaped_within_guard(&first_pidfd),
        "the child dropped during EMFILE"
    );
    assert!(reaped_within_guard(&second_pidfd));
    assert_eq!(children_of_self(), []);
}

const CLOSED: &str = "a_reaper_whose_epoll_fd_was_closed_goes_on_isolated";

#[test]
fn a_reaper_whose_epoll_fd_was_closed_goes_on() {
    // Its process is a child of this one, which other tests count.
    let _serial = serial();
    support::run_isolated(CLOSED);
}

/// This process's epoll fds.
fn epoll_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            (target.to_string_lossy() == "anon_inode:[eventpoll]")
                .then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

#[test]
#[ignore = "run in a process of its own by a_reaper_whose_epoll_fd_was_closed_goes_on"]
fn a_reaper_whose_epoll_fd_was_closed_goes_on_isolated() {
    if !support::in_isolated_run(CLOSED)
        || no_reaper_here("a_reaper_whose_epoll_fd_was_closed_goes_on")
    {
        return;
    }
    let (first, first_stdin) = spawn_held(&mut until_stdin_closed(0));
    let first_pidfd = pidfd_copy(&first);
    drop(first);
    let epolls = epoll_fds();
    assert_eq!(epolls.len(), 1, "the reaper's epoll fd: {epolls:?}");
    // What a daemon's "close every fd" does to it.
    // SAFETY: the reaper's fd, closed behind its back on purpose.
    assert_eq!(unsafe { libc::close(epolls[0]) }, 0);

    // Its thread still sleeps on the orphaned instance: that child's exit
    // wakes it.
    drop(first_stdin);
    assert!(reaped_within_guard(&first_pidfd));
    // A child dropped afterwards must be reaped too, not silently lost.
    let (second, second_stdin) = spawn_held(&mut until_stdin_closed(0));
    let second_pidfd = pidfd_copy(&second);
    drop(second);
    drop(second_stdin);
    assert!(reaped_within_guard(&second_pidfd), "reaping ended");
    // And the next one, with a number the reaper's new fd may share.
    let (third, third_stdin) = spawn_held(&mut until_stdin_closed(0));
    let third_pidfd = pidfd_copy(&third);
    drop(third);
    drop(third_stdin);
    assert!(reaped_within_guard(&third_pidfd));
    assert_eq!(children_of_self(), []);
}

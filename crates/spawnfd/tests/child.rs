//! `Child`: waiting, exit statuses, signals through the pidfd, and the
//! pidfd itself.

mod support;

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;

use spawnfd::{Child, Command, Signal, Stdio};
use support::{ProcessWatch, is_pipe, skipped, watched_by_pid};

/// A child that runs until its stdin is closed: it cannot exit before the
/// test says so, whatever the machine's load.
fn blocked_child() -> Child {
    Command::new("sh")
        .args(["-c", "read line; exit 3"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

/// A child that sleeps long enough to be still running when signalled.
fn sleeper() -> Child {
    Command::new("sleep")
        .arg("100")
        .spawn()
        .expect("spawn sleep")
}

/// How long to wait for a child that was told to exit: only a bound against
/// hanging forever if it never does, far above what it needs.
const EXIT_BOUND_MS: i32 = 120_000;

/// `poll`s `fd` for `POLLIN` and returns the revents (0 on timeout).
fn poll_in(fd: BorrowedFd<'_>, timeout_ms: i32) -> i16 {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd that outlives the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n >= 0 {
            return pfd.revents;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.kind(), std::io::ErrorKind::Interrupted, "poll: {err}");
    }
}

#[test]
fn wait_returns_the_exit_code() {
    let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    assert_eq!(status.signal(), None);
    assert!(!status.success());
}

#[test]
fn wait_returns_the_killing_signal() {
    let mut child = Command::new("sh")
        .args(["-c", "kill -9 $$"])
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(status.code(), None);
}

#[test]
fn try_wait_is_none_while_running_and_then_the_status() {
    let mut child = blocked_child();
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.try_wait().unwrap(), None);

    drop(child.stdin.take());
    // The pidfd turns readable when the child exits; then try_wait has it.
    let revents = poll_in(child.pidfd(), EXIT_BOUND_MS);
    assert_ne!(revents & libc::POLLIN, 0);
    let status = child.try_wait().unwrap().expect("the child has exited");
    assert_eq!(status.code(), Some(3));
    // Reaped once, remembered after.
    assert_eq!(child.try_wait().unwrap(), Some(status));
    assert_eq!(child.wait().unwrap(), status);
}

#[test]
fn wait_twice_gives_the_same_status() {
    let mut child = Command::new("sh").args(["-c", "exit 5"]).spawn().unwrap();
    let first = child.wait().unwrap();
    let second = child.wait().unwrap();
    assert_eq!(first, second);
    assert_eq!(second.code(), Some(5));
}

#[test]
fn wait_closes_stdin_first() {
    // `cat` exits only at EOF on its stdin, which wait must give it.
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(child.stdin.is_some());
    assert!(child.wait().unwrap().success());
    assert!(child.stdin.is_none());
}

#[test]
fn kill_a_running_child() {
    let mut child = sleeper();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn kill_after_reaping_is_ok() {
    let mut child = Command::new("true").spawn().unwrap();
    assert!(child.wait().unwrap().success());
    child.kill().unwrap();
    child.kill().unwrap();
    // The status is unchanged.
    assert!(child.wait().unwrap().success());
}

#[test]
fn kill_an_exited_but_unreaped_child_is_ok() {
    let mut child = blocked_child();
    drop(child.stdin.take());
    assert_ne!(poll_in(child.pidfd(), EXIT_BOUND_MS) & libc::POLLIN, 0);
    // A zombie: the signal has nowhere to go, which is not an error.
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn send_signal_term_to_a_running_child() {
    let mut child = sleeper();
    child.send_signal(Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

#[test]
fn send_signal_after_reaping_fails_with_esrch() {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    let err = child.send_signal(Signal::TERM).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    let err = child.send_signal(Signal::KILL).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
}

/// The `Pid:` field of an fd's `/proc/self/fdinfo` entry.
fn fdinfo_pid(fd: BorrowedFd<'_>) -> Option<i64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|pid| pid.trim().parse().ok())
}

#[test]
fn pidfd_is_a_pidfd_for_the_child() {
    let mut child = sleeper();
    let fd = child.pidfd();
    let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    if watched_by_pid() {
        // Watched by pid (sys::watch): the child's fd is its exit fd, a
        // pipe, which names no process.
        skipped(
            "pidfd_is_a_pidfd_for_the_child",
            "the fd is an exit fd (a pipe) on this path, not a pidfd",
        );
        assert!(is_pipe(fd), "fd {} is {target:?}", fd.as_raw_fd());
    } else {
        assert!(
            target.to_string_lossy().contains("anon_inode:[pidfd]"),
            "fd {} is {target:?}",
            fd.as_raw_fd()
        );
        assert_eq!(fdinfo_pid(fd), Some(i64::from(child.id())));
    }
    // The Child is its pidfd as AsFd and AsRawFd too.
    assert_eq!(child.as_fd().as_raw_fd(), fd.as_raw_fd());
    assert_eq!(child.as_raw_fd(), fd.as_raw_fd());
    // FD_CLOEXEC: no other child inherits it.
    // SAFETY: F_GETFD only reads the flags of an fd we hold.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_ne!(flags & libc::FD_CLOEXEC, 0);

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn pidfd_becomes_readable_when_the_child_exits() {
    let mut child = blocked_child();
    // Still running: not readable (no wait).
    assert_eq!(poll_in(child.pidfd(), 0) & libc::POLLIN, 0);
    drop(child.stdin.take());
    assert_ne!(poll_in(child.pidfd(), EXIT_BOUND_MS) & libc::POLLIN, 0);
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn id_is_the_childs_own_pid() {
    let mut child = Command::new("sh")
        .args(["-c", "echo $$"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let reported: u32 = out.trim().parse().unwrap();
    assert_eq!(reported, child.id());
    assert!(child.wait().unwrap().success());
}

/// A group leader (`sh`) with a child of its own (`sleep`), both in the
/// group; returns the leader and a watch on the grandchild (a pidfd, or its
/// pid and start time where there are no pidfds). `then` is what
/// the shell does after starting it.
fn leader_with_grandchild(then: &str) -> (Child, ProcessWatch) {
    let mut child = Command::new("sh")
        .args(["-c", &format!("sleep 100 & echo $!; {then}")])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut line = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0] as char);
    }
    let grandchild = ProcessWatch::open(line.trim().parse().expect("the grandchild's pid"));
    (child, grandchild)
}

#[test]
fn send_signal_to_group_reaches_the_childs_children() {
    let (mut child, grandchild) = leader_with_grandchild("wait");
    child.send_signal_to_group(Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    // The grandchild got TERM too: it exits (it is not ours to reap).
    assert!(
        grandchild.exited_within(EXIT_BOUND_MS),
        "the grandchild did not exit"
    );
}

#[test]
fn send_signal_to_group_of_a_child_that_leads_none_is_esrch() {
    let mut child = sleeper();
    let err = child.send_signal_to_group(Signal::TERM).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    // It reached nobody: the child still runs.
    assert_eq!(poll_in(child.pidfd(), 0) & libc::POLLIN, 0);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    (next(), next()) >= (major, minor)
}

#[test]
fn send_signal_to_group_after_the_leader_is_reaped() {
    let (mut child, grandchild) = leader_with_grandchild("exit 0");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let result = child.send_signal_to_group(Signal::TERM);
    // Where there are no pidfds (a child watched by pid without one), or
    // the forced path refuses the flag, the group is signalled with
    // kill(-pid), as before 6.9.
    if kernel_at_least(6, 9) && !support::no_group_signal() {
        // Through the pidfd the group is still the same group: the
        // grandchild, still in it, gets the signal.
        result.unwrap();
        assert!(
            grandchild.exited_within(EXIT_BOUND_MS),
            "the grandchild did not exit"
        );
    } else {
        // kill(-pid) is refused once the leader is reaped: its pid may
        // have been reused.
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::ESRCH));
        eprintln!(
            "skipped: send_signal_to_group_after_the_leader_is_reaped: the group part needs \
             PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9) and a pidfd"
        );
        grandchild.kill();
    }
}

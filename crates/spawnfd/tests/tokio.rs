//! `spawnfd::tokio`: awaiting children through their pidfd on the
//! multi-thread runtime, tokio's pipe types, kill and drop semantics, and
//! no `SIGCHLD` handler.

#![cfg(feature = "tokio")]

mod support;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use spawnfd::tokio::{Child, Command};
use spawnfd::{Signal, Stdio, pidfd_getpid};
use support::{is_pipe, poll_readable, watched_by_pid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

/// A bound against hanging forever on a child that was told to exit, far
/// above what it needs.
const EXIT_BOUND: Duration = Duration::from_secs(120);

/// A child that sleeps long enough to be still running when signalled.
fn sleeper() -> Command {
    let mut cmd = Command::new("sleep");
    cmd.arg("100");
    cmd
}

/// A child that exits with 3 once its stdin is closed, and not before.
fn blocked_child() -> Child {
    Command::new("sh")
        .args(["-c", "read line; exit 3"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

/// Awaits `child.wait()` within [`EXIT_BOUND`].
async fn wait(child: &mut Child) -> std::process::ExitStatus {
    tokio::time::timeout(EXIT_BOUND, child.wait())
        .await
        .expect("the child did not exit in time")
        .expect("wait")
}

/// Whether the process behind `pidfd` has been reaped: `pidfd_getpid`
/// then fails with `ESRCH`. Where children are watched by pid the fd is
/// an exit fd (a pipe), which its watcher makes readable once it has
/// reaped the child.
fn reaped(pidfd: &OwnedFd) -> bool {
    if watched_by_pid() {
        return poll_readable(pidfd, Duration::ZERO);
    }
    match pidfd_getpid(pidfd.as_fd()) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => true,
        Err(e) => panic!("pidfd_getpid: {e}"),
        Ok(_) => false,
    }
}

/// Waits until the process behind `pidfd` has exited *and* been reaped
/// ([`reaped`]), within [`EXIT_BOUND`].
async fn until_reaped(pidfd: &OwnedFd) {
    let deadline = tokio::time::Instant::now() + EXIT_BOUND;
    loop {
        if reaped(pidfd) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the process was not reaped in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether this process catches `SIGCHLD`, from the `SigCgt` mask of
/// `/proc/self/status` (bit `n - 1` for signal `n`).
fn catches_sigchld() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .expect("SigCgt line");
    let mask = u64::from_str_radix(mask.trim(), 16).unwrap();
    mask & (1 << (libc::SIGCHLD - 1)) != 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_the_exit_code() {
    let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let status = wait(&mut child).await;
    assert_eq!(status.code(), Some(7));
    // Later calls return the same status.
    assert_eq!(child.wait().await.unwrap(), status);
}

#[tokio::test(flavor = "current_thread")]
async fn wait_on_the_current_thread_runtime() {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.1; exit 8"])
        .spawn()
        .unwrap();
    assert_eq!(wait(&mut child).await.code(), Some(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_runs_to_completion() {
    let status = Command::new("sh")
        .args(["-c", "exit 5"])
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_captures_stdout_and_stderr() {
    let output = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 4"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert_eq!(output.stdout, b"out\n");
    assert_eq!(output.stderr, b"err\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_reads_both_pipes_at_once() {
    // The child fills stderr first: reading stdout to its end before
    // touching stderr would leave both blocked.
    let output = Command::new("sh")
        .args([
            "-c",
            "head -c 1000000 /dev/zero >&2; head -c 1000000 /dev/zero",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(output.stdout.len(), 1_000_000);
    assert_eq!(output.stderr.len(), 1_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_to_stdout_round_trip_through_cat() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // More than a pipe holds, so writing and reading must interleave.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut stdin = child.stdin.take().unwrap();
    let input = data.clone();
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
        // Dropping stdin closes it: `cat` sees EOF.
    });
    let mut echoed = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_to_end(&mut echoed).await.unwrap();
    writer.await.unwrap();
    assert!(echoed == data, "cat echoed {} bytes", echoed.len());
    assert!(wait(&mut child).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_closes_stdin_first() {
    let mut child = blocked_child();
    assert_eq!(wait(&mut child).await.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_reports_sigkill() {
    let mut child = sleeper().spawn().unwrap();
    tokio::time::timeout(EXIT_BOUND, child.kill())
        .await
        .unwrap()
        .unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // Killing a reaped child is not an error, as with tokio.
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_kill_then_wait() {
    let mut child = sleeper().spawn().unwrap();
    child.start_kill().unwrap();
    assert_eq!(wait(&mut child).await.signal(), Some(libc::SIGKILL));
    child.start_kill().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_signal_goes_through_the_pidfd() {
    let mut child = sleeper().spawn().unwrap();
    child.send_signal(Signal::TERM).unwrap();
    assert_eq!(wait(&mut child).await.signal(), Some(libc::SIGTERM));
    // Reaped: the signal reaches nobody.
    let err = child.send_signal(Signal::TERM).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_wait_none_then_some_and_id_until_reaped() {
    let mut child = blocked_child();
    let pid = child.id().expect("a running child has an id");
    if watched_by_pid() {
        // The exit fd of a child watched by pid names no process.
        assert!(is_pipe(child.pidfd()));
    } else {
        assert_eq!(pidfd_getpid(child.pidfd()).unwrap(), pid);
    }
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.id(), Some(pid));

    drop(child.stdin.take());
    let status = wait(&mut child).await;
    assert_eq!(status.code(), Some(3));
    assert_eq!(child.try_wait().unwrap(), Some(status));
    assert_eq!(child.id(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_is_cancel_safe() {
    let mut child = sleeper().spawn().unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(50), child.wait()).await;
    assert!(waited.is_err(), "sleep 100 exited: {waited:?}");
    // The cancelled wait left the child to be waited for again.
    assert_eq!(child.try_wait().unwrap(), None);
    child.start_kill().unwrap();
    assert_eq!(wait(&mut child).await.signal(), Some(libc::SIGKILL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_children_awaited_at_once() {
    const N: i32 = 200;
    let mut tasks = JoinSet::new();
    for i in 0..N {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exit {i}"))
            .spawn()
            .unwrap();
        tasks.spawn(async move { (i, wait(&mut child).await.code()) });
    }
    let mut seen = vec![false; N as usize];
    while let Some(joined) = tasks.join_next().await {
        let (i, code) = joined.unwrap();
        assert_eq!(code, Some(i));
        seen[i as usize] = true;
    }
    assert!(seen.iter().all(|&s| s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_child_is_awaited_too() {
    // No exit signal at all: only the pidfd tells that it exited.
    let mut child = Command::new("sh")
        .args(["-c", "exit 9"])
        .exit_signal(None)
        .spawn()
        .unwrap();
    assert_eq!(wait(&mut child).await.code(), Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_on_drop_kills_and_reaps() {
    let mut cmd = sleeper();
    cmd.kill_on_drop(true);
    assert!(cmd.get_kill_on_drop());
    let child = cmd.spawn().unwrap();
    let pidfd = child.pidfd().try_clone_to_owned().unwrap();
    drop(child);
    // `sleep 100` is gone, long before it would have ended, and no zombie
    // is left: the library reaped it.
    until_reaped(&pidfd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_without_kill_on_drop_leaves_it_running() {
    let child = sleeper().spawn().unwrap();
    let pidfd = child.pidfd().try_clone_to_owned().unwrap();
    drop(child);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!reaped(&pidfd), "the dropped child died");
    // Kill it through another handle; the background reaper reaps it.
    let other = spawnfd::Child::from_pidfd(pidfd.try_clone().unwrap()).unwrap();
    other.send_signal(Signal::KILL).unwrap();
    until_reaped(&pidfd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawnfd_child_converts() {
    let child = spawnfd::Command::new("sh")
        .args(["-c", "echo converted; exit 2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Child::try_from(child)
        .unwrap()
        .wait_with_output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"converted\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_methods_are_forwarded() {
    let mut cmd = Command::from(spawnfd::Command::new("sh"));
    cmd.args(["-c", "echo \"$GREETING\" $(pwd); exit 6"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GREETING", "hello")
        .current_dir("/")
        .setsid(true);
    assert_eq!(cmd.get_program(), "sh");
    assert_eq!(cmd.get_current_dir(), Some(std::path::Path::new("/")));
    let output = cmd.output().await.unwrap();
    assert_eq!(output.status.code(), Some(6));
    assert_eq!(output.stdout, b"hello /\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sigchld_handler_is_installed() {
    // No code in this binary installs one (tokio's would come with
    // `tokio::process`, which it does not use), so other tests running
    // meanwhile cannot change the answer.
    assert!(!catches_sigchld());
    let mut child = Command::new("true").spawn().unwrap();
    wait(&mut child).await;
    Command::new("true").status().await.unwrap();
    Command::new("true").output().await.unwrap();
    let mut dropped = sleeper().kill_on_drop(true).spawn().unwrap();
    dropped.start_kill().unwrap();
    drop(dropped);
    assert!(!catches_sigchld());
}

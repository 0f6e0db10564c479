//! `Command::spawn_pid`: a child handed over as a bare pid, which the
//! caller reaps with `waitpid`, on every creation path (the forced paths
//! of `.ci/paths` included: there is no watcher to take the status first).

mod support;

use std::io::ErrorKind;
use std::sync::{Mutex, MutexGuard};

use spawnfd::{Command, SpawnError, Stdio, Step};
use support::{Report, TempPath, has_children, probe};

/// One test at a time: they count this process's fds and children.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `waitpid(pid)`: the raw status, or the errno.
fn waitpid(pid: u32) -> Result<i32, i32> {
    let mut status = 0;
    loop {
        // SAFETY: a writable int.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if r == pid as libc::pid_t {
            return Ok(status);
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

/// Every fd of this process (the test harness's threads open none).
fn our_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

fn by_pid(use_fork: bool) {
    let _serial = serial();
    let out = TempPath::new("spawn-pid");
    let extra = std::fs::File::open("/dev/null").expect("open /dev/null");
    let before = our_fds();
    let pid = probe()
        .use_fork(use_fork)
        .env("SPAWNFD_PROBE_OUT", out.path())
        .fd(7, extra)
        .spawn_pid()
        .expect("spawn_pid");
    // Nothing of the child is kept: no pidfd, no exit fd.
    assert_eq!(our_fds(), before - 1, "only the given fd was closed");
    let status = waitpid(pid).expect("our waitpid reaps the child");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status:#x}"
    );
    // The child got what spawn gives: its own view.
    let report = Report::parse(&std::fs::read_to_string(out.path()).expect("the probe's report"));
    let fds: Vec<_> = report.fds.keys().copied().collect();
    assert_eq!(fds, [0, 1, 2, 7], "{report:?}");
    assert_eq!(report.sigblk, 0);
}

#[test]
fn the_caller_reaps_the_child_by_pid() {
    by_pid(false);
}

#[test]
fn the_caller_reaps_a_forked_child_by_pid() {
    by_pid(true);
}

#[test]
fn a_failed_child_is_reaped_and_named() {
    let _serial = serial();
    for use_fork in [false, true] {
        let err = Command::new("/nonexistent/spawnfd-test")
            .use_fork(use_fork)
            .spawn_pid()
            .expect_err("no such program");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let detail = SpawnError::from_io(&err).expect("a SpawnError");
        assert_eq!(detail.step(), Step::Exec);
        assert!(!has_children(), "the failed child was reaped");
    }
}

#[test]
fn a_child_that_dies_after_exec_is_the_callers_to_reap() {
    let _serial = serial();
    // A child that exits of its own (not a failure to spawn) is the
    // caller's to reap, status included.
    let pid = Command::new("sh")
        .args(["-c", "kill -TERM $$"])
        .spawn_pid()
        .expect("spawn_pid");
    let status = waitpid(pid).expect("waitpid");
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM);
}

#[test]
fn piped_stdio_is_refused_before_any_child() {
    let _serial = serial();
    let before = our_fds();
    let err = Command::new("true")
        .stdout(Stdio::piped())
        .spawn_pid()
        .expect_err("a pipe would have no owner");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("spawn_pid"), "{err}");
    assert!(!has_children());
    assert_eq!(our_fds(), before);
    // An fd of the caller's is fine.
    let (r, w) = std::io::pipe().expect("pipe");
    let pid = Command::new("echo")
        .arg("hi")
        .stdout(w)
        .spawn_pid()
        .expect("spawn_pid");
    waitpid(pid).expect("waitpid");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::fs::File::from(std::os::fd::OwnedFd::from(r)),
        &mut text,
    )
    .expect("read");
    assert_eq!(text, "hi\n");
}

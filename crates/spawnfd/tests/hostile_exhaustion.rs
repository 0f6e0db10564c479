//! Spawning at the limits: a full fd table, `RLIMIT_NPROC` reached, too
//! little address space for a child's stack, an argument above the
//! kernel's limit. Each gives a clear error naming its step, leaves no fd
//! and no child behind, and the next spawn after the condition clears
//! succeeds.
//!
//! Each case lowers a limit of the whole process, so each runs in a
//! process of its own.

mod support;

use std::io;
use std::os::fd::OwnedFd;

use spawnfd::{ChildSet, Command, SpawnError, Stdio, Step};
use support::{in_isolated_run, is_root, run_isolated_relaying_skips};

/// The fds this process has open, found with `fcntl` (listing
/// `/proc/self/fd` would need an fd of its own, and the table may be full).
fn open_fds() -> Vec<i32> {
    let (soft, _) = get_limit(libc::RLIMIT_NOFILE);
    (0..soft.min(1 << 20) as i32)
        // SAFETY: F_GETFD with an integer argument; EBADF for a free number.
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .collect()
}

/// Whether this process has no child at all, running or zombie (asked
/// with `waitid`, which needs no fd).
fn no_children() -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    // SAFETY: `info` is writable; nothing is reaped (WNOWAIT).
    let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
    r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads `limit`.
    let r = unsafe { libc::setrlimit(resource, &limit) };
    assert_eq!(r, 0, "setrlimit: {}", io::Error::last_os_error());
}

fn get_limit(resource: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes `limit`.
    assert_eq!(unsafe { libc::getrlimit(resource, &mut limit) }, 0);
    (limit.rlim_cur, limit.rlim_max)
}

/// The step and errno of a failed spawn.
#[track_caller]
fn failure(result: io::Result<spawnfd::Child>) -> (Step, Option<i32>, String) {
    let err = result.expect_err("the spawn should fail");
    let failure = SpawnError::from_io(&err)
        .unwrap_or_else(|| panic!("not a SpawnError: {err:?}"))
        .clone();
    (failure.step(), failure.raw_os_error(), err.to_string())
}

// ---------------------------------------------------------------------------

const EMFILE: &str = "a_full_fd_table_isolated";

#[test]
fn a_full_fd_table() {
    run_isolated_relaying_skips(EMFILE);
}

#[test]
#[ignore = "run in a process of its own by a_full_fd_table"]
fn a_full_fd_table_isolated() {
    if !in_isolated_run(EMFILE) {
        return;
    }
    // Warm up: the stack pool and anything lazily opened.
    assert!(Command::new("true").status().unwrap().success());
    let (_, hard) = get_limit(libc::RLIMIT_NOFILE);
    set_limit(libc::RLIMIT_NOFILE, 256, hard);
    let before = open_fds();
    // Fill the table.
    let mut filler: Vec<OwnedFd> = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => filler.push(f.into()),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("open: {e}"),
        }
    }
    let full = open_fds();

    // A pipe for stdout: refused at the pipe step.
    let (step, errno, msg) = failure(Command::new("true").stdout(Stdio::piped()).spawn());
    assert_eq!((step, errno), (Step::Pipe, Some(libc::EMFILE)), "{msg}");
    // No pipe: the pidfd itself has no number left.
    let (step, errno, msg) = failure(Command::new("true").spawn());
    assert_eq!((step, errno), (Step::Clone, Some(libc::EMFILE)), "{msg}");
    // A set needs an fd for its epoll instance.
    let err = ChildSet::new().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
    assert_eq!(open_fds(), full, "a failed spawn left an fd");
    assert!(no_children(), "a failed spawn left a child");

    // One free number: a spawn needs just that one (its pidfd).
    drop(filler.pop());
    let mut child = Command::new("true")
        .spawn()
        .expect("spawn with one fd free");
    assert!(child.wait().unwrap().success());
    drop(child);
    drop(filler);
    assert_eq!(open_fds(), before);
    let out = Command::new("echo").arg("back").output().unwrap();
    assert_eq!(out.stdout, b"back\n");
}

// ---------------------------------------------------------------------------

const NPROC: &str = "rlimit_nproc_reached_isolated";

#[test]
fn rlimit_nproc_reached() {
    run_isolated_relaying_skips(NPROC);
}

#[test]
#[ignore = "run in a process of its own by rlimit_nproc_reached"]
fn rlimit_nproc_reached_isolated() {
    if !in_isolated_run(NPROC) {
        return;
    }
    if !is_root() {
        println!("skipped: becoming another uid to meet RLIMIT_NPROC needs root");
        return;
    }
    const NOBODY: u32 = 65534;
    assert!(Command::new("true").status().unwrap().success());
    // SAFETY: set this process's (all threads') ids; the process is this
    // test's alone. The group first, while still root.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setgid(NOBODY), 0);
        assert_eq!(libc::setuid(NOBODY), 0);
    }
    // This process alone already has two tasks of this uid (the main
    // thread and the test's): a limit of one leaves no room for a child.
    let (_, hard) = get_limit(libc::RLIMIT_NPROC);
    set_limit(libc::RLIMIT_NPROC, 1, hard);
    let before = open_fds();
    let (step, errno, msg) = failure(Command::new("true").spawn());
    assert_eq!((step, errno), (Step::Clone, Some(libc::EAGAIN)), "{msg}");
    assert!(msg.contains("clone"), "{msg}");
    assert_eq!(open_fds(), before, "a failed spawn left an fd");
    assert!(no_children());
    // Room again.
    set_limit(libc::RLIMIT_NPROC, hard, hard);
    assert!(Command::new("true").status().unwrap().success());
}

// ---------------------------------------------------------------------------

const ENOMEM: &str = "no_address_space_for_a_stack_isolated";

#[test]
fn no_address_space_for_a_stack() {
    run_isolated_relaying_skips(ENOMEM);
}

/// This process's address space size, from `/proc/self/status`.
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
#[ignore = "run in a process of its own by no_address_space_for_a_stack"]
fn no_address_space_for_a_stack_isolated() {
    if !in_isolated_run(ENOMEM) {
        return;
    }
    // No spawn has run in this process yet, so the pool holds no stack and
    // the first spawn must map one. Leave less room than one stack (64 KiB
    // and a guard page).
    let (_, hard) = get_limit(libc::RLIMIT_AS);
    let before = open_fds();
    set_limit(libc::RLIMIT_AS, vm_size() + 16 * 1024, hard);
    let result = Command::new("true").spawn();
    set_limit(libc::RLIMIT_AS, hard, hard);
    let (step, errno, msg) = failure(result);
    assert_eq!((step, errno), (Step::Clone, Some(libc::ENOMEM)), "{msg}");
    assert_eq!(open_fds(), before, "a failed spawn left an fd");
    assert!(no_children());
    assert!(Command::new("true").status().unwrap().success());
}

// ---------------------------------------------------------------------------

/// One argument above the kernel's limit for a single string
/// (`MAX_ARG_STRLEN`, 32 pages), and an argument list above the limit for
/// all of them: `execve` says `E2BIG`, at the exec step, and nothing is
/// left behind. Nothing here changes the process, so it needs no process
/// of its own.
#[test]
fn arguments_above_the_kernel_limit() {
    let before = open_fds();
    let long = "x".repeat(200 * 1024);
    let (step, errno, msg) = failure(Command::new("true").arg(&long).spawn());
    assert_eq!((step, errno), (Step::Exec, Some(libc::E2BIG)), "{msg}");
    let many: Vec<String> = (0..400).map(|_| "y".repeat(100 * 1024)).collect();
    let (step, errno, msg) = failure(Command::new("true").args(&many).spawn());
    assert_eq!((step, errno), (Step::Exec, Some(libc::E2BIG)), "{msg}");
    let (step, errno, msg) = failure(
        Command::new("true")
            .env("SPAWNFD_HUGE", &long)
            .stdout(Stdio::piped())
            .spawn(),
    );
    assert_eq!((step, errno), (Step::Exec, Some(libc::E2BIG)), "{msg}");
    // Only the fds other tests open meanwhile may differ; ours are closed.
    let after = open_fds();
    assert!(
        after.len() <= before.len() + 8,
        "fds before {before:?}, after {after:?}"
    );
    // The next spawn is fine.
    let out = Command::new("echo").arg("x".repeat(1000)).output().unwrap();
    assert_eq!(out.stdout.len(), 1001);
}

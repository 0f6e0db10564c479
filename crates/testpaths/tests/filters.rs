//! The plain BPF rules of the paths without pidfds, without
//! `waitid(P_PIDFD)` and of a 4.x kernel: this test binary is re-run under
//! the tool, and the re-run makes the calls each path refuses and checks
//! the errno it gets (and that the calls the path leaves alone still
//! work).

use std::io;
use std::process::Command;

const TOOL: &str = env!("CARGO_BIN_EXE_spawnfd-paths");
/// Set in the re-run of this binary that makes the calls.
const SCENARIO_ENV: &str = "SPAWNFD_PATHS_FILTER_SCENARIO";

/// `P_PIDFD` for `waitid` (Linux 5.4).
const P_PIDFD: libc::idtype_t = 3;
/// An address no process can write: the kernel refuses it (`EFAULT`).
const KERNEL_ADDRESS: u64 = 0xffff_ffff_ffff_f000;

fn errno_of(r: libc::c_long) -> Option<i32> {
    (r < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn pidfd_open_self() -> Option<i32> {
    // SAFETY: pidfd_open with integers; a new fd is closed at once.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if r >= 0 {
        // SAFETY: the fd just made, owned by nobody else.
        unsafe { libc::close(r as i32) };
    }
    errno_of(r)
}

/// `pidfd_send_signal(-1, 0, NULL, 0)`: `EBADF` where the call exists.
fn pidfd_send_signal() -> Option<i32> {
    // SAFETY: integer arguments and a NULL siginfo; no fd -1 exists.
    errno_of(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            -1,
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
}

/// `pidfd_getfd(-1, 0, 0)`: `EBADF` where the call exists.
fn pidfd_getfd() -> Option<i32> {
    // SAFETY: integer arguments.
    errno_of(unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0) })
}

/// `clone(CLONE_PIDFD)` with the pidfd to be written at a kernel address:
/// `EFAULT` where the kernel knows the flag, and no process is created.
fn clone_pidfd() -> Option<i32> {
    // SAFETY: the kernel cannot write the pidfd and fails before the child
    // exists; should a call create one anyway, it is a copy of this
    // process (no CLONE_VM) that exits at once and is reaped below.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_PIDFD as libc::c_ulong,
            0usize,
            KERNEL_ADDRESS,
            0usize,
            0usize,
        )
    };
    if r == 0 {
        // SAFETY: the child ends here.
        unsafe { libc::_exit(0) };
    }
    if r > 0 {
        let mut status = 0;
        // SAFETY: our new child.
        unsafe { libc::waitpid(r as i32, &mut status, libc::__WALL) };
        return None;
    }
    errno_of(r)
}

/// `clone3` with a too small struct: `EINVAL` where the call exists.
fn clone3() -> Option<i32> {
    // SAFETY: the kernel refuses a size below 64 before reading anything.
    errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) })
}

/// `waitid(P_PIDFD, fd, WEXITED | WNOHANG)` on a pidfd of this process
/// (not a child: `ECHILD`), or on no fd (`EBADF`) where there is none.
fn waitid_pidfd() -> Option<i32> {
    // SAFETY: pidfd_open with integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    let id = if fd >= 0 {
        fd as libc::id_t
    } else {
        i32::MAX as libc::id_t
    };
    // SAFETY: an all-zero siginfo_t is valid to be written.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is writable; the id is an integer.
    let r = unsafe { libc::waitid(P_PIDFD, id, &mut info, libc::WEXITED | libc::WNOHANG) };
    let e = (r < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0));
    if fd >= 0 {
        // SAFETY: the fd made above.
        unsafe { libc::close(fd as i32) };
    }
    e
}

/// `waitid(P_PID, own pid)`: `ECHILD`, on every path.
fn waitid_pid() -> Option<i32> {
    // SAFETY: as above.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            libc::getpid() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        )
    };
    (r < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn close_range() -> Option<i32> {
    // SAFETY: close_range on numbers that hold no fd.
    errno_of(unsafe { libc::syscall(libc::SYS_close_range, 900_000u32, 900_001u32, 0u32) })
}

fn run_under(path: &str) {
    let exe = std::env::current_exe().expect("this test binary");
    let out = Command::new(TOOL)
        .args([path, "--"])
        .arg(exe)
        .args(["scenario", "--exact", "--ignored", "--nocapture"])
        .env(SCENARIO_ENV, path)
        .output()
        .expect("run the scenario");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{path}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_pidfd_refuses_every_pidfd_call() {
    run_under("no-pidfd");
}

#[test]
fn no_waitid_pidfd_refuses_only_p_pidfd() {
    run_under("no-waitid-pidfd");
}

#[test]
fn kernel_4x_refuses_all_of_them() {
    run_under("kernel-4x");
}

/// Without the tool: the calls work here (the running kernel has them
/// all), so the refusals above come from the filters.
#[test]
fn unfiltered_the_calls_work() {
    if std::env::var_os("SPAWNFD_FORCED_PATH").is_some() {
        return;
    }
    assert_eq!(clone3(), Some(libc::EINVAL));
    assert_eq!(clone_pidfd(), Some(libc::EFAULT));
    assert_eq!(pidfd_open_self(), None);
    assert_eq!(pidfd_send_signal(), Some(libc::EBADF));
    assert_eq!(pidfd_getfd(), Some(libc::EBADF));
    assert_eq!(waitid_pidfd(), Some(libc::ECHILD));
    assert_eq!(close_range(), None);
}

/// Run under the tool by the tests above.
#[test]
#[ignore = "run under spawnfd-paths by the tests above"]
fn scenario() {
    let Ok(path) = std::env::var(SCENARIO_ENV) else {
        return;
    };
    let (no_pidfd, no_waitid, no_close_range) = match path.as_str() {
        "no-pidfd" => (true, false, false),
        "no-waitid-pidfd" => (false, true, false),
        "kernel-4x" => (true, true, true),
        other => panic!("no scenario for {other}"),
    };
    if no_pidfd {
        assert_eq!(clone3(), Some(libc::ENOSYS));
        assert_eq!(clone_pidfd(), Some(libc::EINVAL));
        assert_eq!(pidfd_open_self(), Some(libc::ENOSYS));
        assert_eq!(pidfd_send_signal(), Some(libc::ENOSYS));
        assert_eq!(pidfd_getfd(), Some(libc::ENOSYS));
    } else {
        assert_eq!(clone3(), Some(libc::EINVAL));
        assert_eq!(clone_pidfd(), Some(libc::EFAULT));
        assert_eq!(pidfd_open_self(), None);
        assert_eq!(pidfd_send_signal(), Some(libc::EBADF));
    }
    if no_waitid {
        assert_eq!(waitid_pidfd(), Some(libc::EINVAL));
    } else if !no_pidfd {
        assert_eq!(waitid_pidfd(), Some(libc::ECHILD));
    }
    // Other id types are left alone.
    assert_eq!(waitid_pid(), Some(libc::ECHILD));
    assert_eq!(
        close_range(),
        no_close_range.then_some(libc::ENOSYS),
        "close_range"
    );
    // Threads and processes without a pidfd are still created (glibc's
    // clone fallback).
    std::thread::spawn(|| ()).join().expect("a thread");
    let status = Command::new("true").status().expect("run true");
    assert!(status.success());
}

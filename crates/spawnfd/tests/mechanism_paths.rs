//! The mechanism path this process was forced onto: `spawnfd-paths`
//! (crates/testpaths; `.ci/paths` runs the matrix) installs a seccomp
//! filter that emulates an older kernel or a container profile and names
//! it in `SPAWNFD_FORCED_PATH`. These tests check that the filter is really
//! in force (the refused calls fail with the emulated errno; where a
//! supervisor answers `clone3`, it refused the library's own call) and that
//! spawns on that path still give the exact child state. Without the
//! variable they do nothing and say why.

mod support;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use spawnfd::{Command, SpawnError, Step};
use support::{
    CAP_SYS_ADMIN, TestCgroup, forced_path, has_capability, in_isolated_run, open_leaky, pipe_end,
    probe, run_isolated_relaying_skips, run_probe, sig_bit,
};

const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// The forced path, or `None` after saying why the test does nothing.
fn path() -> Option<String> {
    let path = forced_path();
    if path.is_none() {
        println!(
            "skipped: SPAWNFD_FORCED_PATH is not set (run under spawnfd-paths, see .ci/paths)"
        );
    }
    path
}

/// The kernel's `struct clone_args`, third version (88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A fork-like `clone3(flags)` of `size` bytes (no shared memory, no new
/// stack): the child exits at once and is reaped here. Returns the errno
/// of a refused call, `None` if a child was created.
fn fork_like_clone3(flags: u64, size: usize, cgroup: Option<&OwnedFd>) -> Option<i32> {
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags,
        pidfd: (&raw mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    // SAFETY: without CLONE_VM the child runs in a copy of this process and
    // only calls _exit, which is async-signal-safe; `args` outlives the call.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, &raw const args, size) };
    if pid == 0 {
        // SAFETY: see above: the child ends here.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return Some(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    let mut status = 0;
    // SAFETY: waitpid on the child just created.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::__WALL) };
    if pidfd >= 0 {
        // SAFETY: the pidfd the kernel just gave us.
        drop(unsafe { OwnedFd::from_raw_fd(pidfd) });
    }
    None
}

/// `close_range` over numbers no test uses; the errno if refused.
fn close_range(flags: u32) -> Option<i32> {
    // SAFETY: close_range with integers, on a range that holds no fd.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 900_000u32, 900_001u32, flags) };
    (r != 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

const SPAWN: u64 = (libc::CLONE_PIDFD) as u64;

/// `pidfd_open(getpid())`, the fd closed at once; the errno if refused.
fn pidfd_open_self() -> Option<i32> {
    // SAFETY: pidfd_open with integers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if r < 0 {
        return Some(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: the fd just made, owned by nobody else.
    drop(unsafe { OwnedFd::from_raw_fd(r as i32) });
    None
}

/// `pidfd_send_signal(pidfd_open(self), 0, NULL, PIDFD_SIGNAL_PROCESS_GROUP)`:
/// signal 0 to this process's own group. The errno of a refusal; `None`
/// where the kernel takes the flag. `Some(ENOSYS)` without pidfds.
fn group_signal_self() -> Option<i32> {
    // SAFETY: pidfd_open with integers.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if r < 0 {
        return Some(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: the fd just made, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(r as i32) };
    // SAFETY: integers and a NULL siginfo; signal 0 only checks.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            1u32 << 2,
        )
    };
    (r < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// `clone(CLONE_PIDFD)` with the pidfd to be written at a kernel address:
/// `EFAULT` where the kernel takes the flag (no process is created), the
/// errno of a refusal; `None` if a child was created after all (it exits
/// at once and is reaped here).
fn clone_with_pidfd() -> Option<i32> {
    // SAFETY: without CLONE_VM a child would run in a copy of this process
    // and only call _exit.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_PIDFD as libc::c_ulong,
            0usize,
            0xffff_ffff_ffff_f000u64,
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
        // SAFETY: waitpid on the child just created.
        unsafe { libc::waitpid(r as libc::pid_t, &mut status, libc::__WALL) };
        return None;
    }
    Some(io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// `waitid(P_PIDFD, no fd, WEXITED | WNOHANG)`: `EBADF` where the kernel
/// knows the id type, `EINVAL` where it does not.
fn waitid_pidfd() -> Option<i32> {
    // SAFETY: an all-zero siginfo_t is valid to be written.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is writable; the id is an fd number that is not open.
    let r = unsafe {
        libc::waitid(
            3,
            i32::MAX as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        )
    };
    (r < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

#[test]
fn the_filter_is_in_force() {
    let Some(path) = path() else { return };
    // Any directory: the emulated refusals come before the kernel would
    // look at it.
    let cgroup_dir: OwnedFd = std::fs::File::open("/").expect("open a directory").into();
    let into_cgroup = |size| fork_like_clone3(CLONE_INTO_CGROUP, size, Some(&cgroup_dir));
    match path.as_str() {
        "clone3-enosys" => {
            assert_eq!(fork_like_clone3(0, 64, None), Some(libc::ENOSYS));
            assert_eq!(fork_like_clone3(SPAWN, 88, None), Some(libc::ENOSYS));
        }
        "clone3-eperm" => {
            assert_eq!(fork_like_clone3(SPAWN, 64, None), Some(libc::EPERM));
            let flags = SPAWN | CLONE_CLEAR_SIGHAND;
            assert_eq!(fork_like_clone3(flags, 88, None), Some(libc::EPERM));
            // A process spawn without a pidfd (glibc's posix_spawn) and
            // thread creation go on.
            assert_eq!(fork_like_clone3(0, 88, None), None);
        }
        "no-clear-sighand" | "old-kernel" => {
            let flags = SPAWN | CLONE_CLEAR_SIGHAND;
            assert_eq!(fork_like_clone3(flags, 64, None), Some(libc::EINVAL));
            assert_eq!(fork_like_clone3(SPAWN, 64, None), None);
            // A 5.4 kernel knows 64 bytes: a cgroup fd past them is E2BIG.
            assert_eq!(into_cgroup(88), Some(libc::E2BIG));
        }
        "no-into-cgroup" => {
            let flags = SPAWN | CLONE_CLEAR_SIGHAND;
            assert_eq!(fork_like_clone3(flags, 64, None), None);
            assert_eq!(into_cgroup(88), Some(libc::E2BIG));
            assert_eq!(into_cgroup(80), Some(libc::EINVAL));
        }
        "no-pidfd" | "kernel-4x" => {
            assert_eq!(fork_like_clone3(SPAWN, 64, None), Some(libc::ENOSYS));
            assert_eq!(pidfd_open_self(), Some(libc::ENOSYS));
            assert_eq!(clone_with_pidfd(), Some(libc::EINVAL));
        }
        "no-close-range" | "no-cloexec-range" | "no-waitid-pidfd" => {}
        other => panic!("unknown forced path {other}"),
    }
    match path.as_str() {
        "old-kernel" => assert_eq!(group_signal_self(), Some(libc::EINVAL)),
        "no-pidfd" | "kernel-4x" => assert_eq!(group_signal_self(), Some(libc::ENOSYS)),
        // As the running kernel answers.
        _ => {}
    }
    match path.as_str() {
        "no-waitid-pidfd" | "kernel-4x" => assert_eq!(waitid_pidfd(), Some(libc::EINVAL)),
        _ if pidfd_open_self().is_none() => assert_eq!(waitid_pidfd(), Some(libc::EBADF)),
        _ => {}
    }
    match path.as_str() {
        "no-close-range" | "old-kernel" | "kernel-4x" => {
            assert_eq!(close_range(0), Some(libc::ENOSYS));
            assert_eq!(close_range(CLOSE_RANGE_CLOEXEC), Some(libc::ENOSYS));
        }
        "no-cloexec-range" => {
            assert_eq!(close_range(CLOSE_RANGE_CLOEXEC), Some(libc::EINVAL));
            assert_eq!(close_range(0), None);
        }
        _ => {
            assert_eq!(close_range(CLOSE_RANGE_CLOEXEC), None);
        }
    }
    // The harness's own threads are still created (glibc's clone3 or its
    // clone fallback).
    std::thread::spawn(|| ()).join().expect("a thread");
}

/// Where a supervisor answers `clone3`, its log shows the library's own
/// call (a process spawn with a pidfd) and the answer it got.
#[test]
fn the_librarys_clone3_got_the_emulated_answer() {
    let Some(path) = path() else { return };
    let Ok(log) = std::env::var("SPAWNFD_FORCED_PATH_LOG") else {
        println!(
            "skipped: {path} has no supervisor (clone3 is answered by plain BPF or not at all)"
        );
        return;
    };
    run_probe(&mut probe());
    let expected = match path.as_str() {
        "clone3-eperm" => "EPERM",
        "no-clear-sighand" | "old-kernel" => "EINVAL",
        "no-into-cgroup" => "continue",
        other => panic!("unexpected supervised path {other}"),
    };
    let text = std::fs::read_to_string(&log).expect("the supervisor's log");
    let library_call = text.lines().any(|line| {
        let flags = line
            .split(' ')
            .find_map(|f| f.strip_prefix("flags=0x"))
            .and_then(|f| u64::from_str_radix(f, 16).ok())
            .unwrap_or(0);
        flags & SPAWN != 0
            && flags & libc::CLONE_THREAD as u64 == 0
            && flags & libc::CLONE_VM as u64 != 0
            && line.ends_with(&format!("-> {expected}"))
    });
    assert!(
        library_call,
        "no clone3 of the library answered {expected} in the log:\n{text}"
    );
}

/// Non-close-on-exec fds open in the parent, a handler and an ignored
/// signal installed, a signal blocked: the child still gets exactly its
/// fds and a clean signal slate, on every spawn (the first probes the
/// mechanism, the later ones use the cached choice), from several threads.
#[test]
fn spawns_give_the_exact_child_state() {
    let Some(path) = path() else { return };
    extern "C" fn on_usr2(_: libc::c_int) {}
    // SAFETY: a handler that does nothing, and SIG_IGN for SIGURG (whose
    // default is to ignore anyway), in this test binary only.
    unsafe {
        libc::signal(libc::SIGUSR2, on_usr2 as *const () as libc::sighandler_t);
        libc::signal(libc::SIGURG, libc::SIG_IGN);
    }
    let strays: Vec<OwnedFd> = (0..4).map(|_| open_leaky()).collect();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| {
                // SAFETY: a valid set; this thread's mask only.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGUSR1);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                }
                for _ in 0..4 {
                    let mapped = pipe_end();
                    let target = support::fd_target(mapped.as_raw_fd());
                    let report = run_probe(probe().fd(5, mapped));
                    assert_eq!(
                        report.fd_numbers(),
                        [0, 1, 2, 5].into(),
                        "{:#?}",
                        report.fds
                    );
                    report.assert_fd(5, &target);
                    assert_eq!(report.sigblk, 0, "SigBlk");
                    assert_eq!(report.sigign, 0, "SigIgn");
                    assert_eq!(report.sigcgt & sig_bit(libc::SIGUSR2), 0, "SigCgt");
                    assert_eq!(report.sigcgt, 0, "SigCgt");
                }
            })
        })
        .collect();
    for t in threads {
        t.join()
            .unwrap_or_else(|_| panic!("a spawning thread failed on {path}"));
    }
    drop(strays);
}

#[test]
fn child_failures_are_exact() {
    let Some(_) = path() else { return };
    let err = probe().current_dir("/nonexistent").spawn().unwrap_err();
    let failure = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(failure.step(), Step::Chdir, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::ENOENT), "{err}");
    let err = Command::new("/nonexistent/spawnfd-paths")
        .spawn()
        .unwrap_err();
    let failure = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(failure.step(), Step::Exec, "{err}");
    // And the pidfd still reaches the child.
    let mut child = Command::new("sleep").arg("100").spawn().expect("sleep");
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
}

/// A cgroup spawn puts the program in the cgroup on every path: through
/// `clone3(CLONE_INTO_CGROUP)` where the path has it, by the child joining
/// it otherwise; after a plain spawn (which has probed the mechanism) and
/// as the first spawn of a process.
#[test]
fn cgroup_spawn_matches_the_path() {
    let Some(_) = path() else { return };
    run_probe(&mut probe());
    spawn_into_cgroup();
}

#[test]
fn first_spawn_into_cgroup_matches_the_path() {
    let Some(_) = path() else { return };
    run_isolated_relaying_skips(FIRST_CGROUP);
}

const FIRST_CGROUP: &str = "first_spawn_into_cgroup_scenario";

/// Run alone by [`first_spawn_into_cgroup_matches_the_path`], so that no
/// spawn has probed the mechanism before.
#[test]
#[ignore = "run in a process of its own by first_spawn_into_cgroup_matches_the_path"]
fn first_spawn_into_cgroup_scenario() {
    if in_isolated_run(FIRST_CGROUP) {
        spawn_into_cgroup();
    }
}

/// A spawn in new namespaces as the first spawn of a process works on every
/// path (the mechanism must not depend on which spawn came first).
#[test]
fn first_spawn_with_namespaces_works() {
    let Some(_) = path() else { return };
    if !has_capability(CAP_SYS_ADMIN) {
        println!("skipped: new UTS namespaces need CAP_SYS_ADMIN");
        return;
    }
    run_isolated_relaying_skips(FIRST_NAMESPACES);
}

const FIRST_NAMESPACES: &str = "first_spawn_with_namespaces_scenario";

#[test]
#[ignore = "run in a process of its own by first_spawn_with_namespaces_works"]
fn first_spawn_with_namespaces_scenario() {
    if !in_isolated_run(FIRST_NAMESPACES) {
        return;
    }
    let path = forced_path().unwrap_or_default();
    let mut cmd = probe();
    cmd.unshare(spawnfd::Namespaces::UTS);
    let first = cmd.status();
    if let Err(first) = first {
        // The same request after a plain spawn: if that works, the answer
        // depended on which spawn came first.
        run_probe(&mut probe());
        match cmd.status() {
            Ok(_) => panic!(
                "{path}: the first spawn in a new UTS namespace failed ({first}), \
                 the same spawn after a plain one worked"
            ),
            Err(again) => {
                println!("skipped: new UTS namespaces are refused here: {first}; then {again}");
                return;
            }
        }
    }
    assert!(first.expect("checked above").success());
}

/// Spawns the probe into a new cgroup and checks the outcome the forced
/// path allows.
fn spawn_into_cgroup() {
    let path = forced_path().unwrap_or_default();
    let cgroup = match TestCgroup::create() {
        Ok(cgroup) => cgroup,
        Err(reason) => {
            println!("skipped: {reason}");
            return;
        }
    };
    let mut cmd = support::attr_probe();
    cmd.cgroup(&cgroup.dir);
    // On the paths without CLONE_INTO_CGROUP the child joins the cgroup
    // itself: the program runs in it all the same.
    match cmd.output() {
        Ok(out) => {
            assert!(out.status.success(), "{path}: {}", out.status);
            let report = support::AttrReport::parse(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(report.cgroup_v2(), Some(cgroup.name.as_str()), "{path}");
        }
        Err(e) => {
            let refused = SpawnError::from_io(&e).is_some_and(|f| {
                f.step() == Step::Clone
                    && matches!(
                        f.raw_os_error(),
                        Some(libc::EBUSY | libc::EOPNOTSUPP | libc::EACCES | libc::EPERM)
                    )
            });
            assert!(refused, "{path}: spawn into {}: {e}", cgroup.dir.display());
            println!(
                "skipped: the kernel refuses a process in {}: {e}",
                cgroup.dir.display()
            );
        }
    }
}

//! `Command::pre_exec` hooks, seen from inside the child: where they run
//! among the steps (after the fds are placed and marked, with the final
//! signal mask), their order, their failures (a `SpawnError` at
//! `Step::Hook` with the errno, no fd or child left behind), a panic that
//! stays in the child, the caller's `errno` kept, and the stack they get.
//! Each test runs on both paths: the default (vfork) one and the fork one.

mod common;
mod support;

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use spawnfd::{Command, SignalSet, SpawnError, Step};
use support::{in_isolated_run, probe, run_isolated, run_probe, sig_bit};

const PATHS: [bool; 2] = [false, true];

/// A command for the probe on the default path or the fork path.
fn probe_on(fork: bool) -> Command {
    let mut cmd = probe();
    cmd.use_fork(fork);
    cmd
}

/// A pipe whose write end the hooks write to, and a way to read what they
/// wrote once the child is done.
struct Channel {
    read: io::PipeReader,
    write: Option<io::PipeWriter>,
}

impl Channel {
    fn new() -> Channel {
        let (read, write) = io::pipe().expect("pipe");
        Channel {
            read,
            write: Some(write),
        }
    }

    /// The number of the write end, for a hook to write to.
    fn fd(&self) -> i32 {
        self.write.as_ref().unwrap().as_raw_fd()
    }

    /// Everything the children wrote, once the parent's write end is closed.
    fn take(mut self) -> Vec<u8> {
        drop(self.write.take());
        let mut out = Vec::new();
        self.read.read_to_end(&mut out).expect("read the channel");
        out
    }
}

/// Writes `bytes` to `fd` with one raw call (async-signal-safe).
fn put(fd: i32, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: a write from a live buffer.
    if unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn spawn_error(err: &io::Error) -> &SpawnError {
    SpawnError::from_io(err).unwrap_or_else(|| panic!("not a SpawnError: {err:?}"))
}

#[test]
fn hooks_run_in_the_child_in_order() {
    for fork in PATHS {
        let channel = Channel::new();
        let fd = channel.fd();
        let mut cmd = probe_on(fork);
        for tag in [b"a", b"b", b"c"] {
            // SAFETY: one write and one getpid, both async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    put(fd, tag)?;
                    put(fd, &libc::getpid().to_ne_bytes())
                });
            }
        }
        let mut child = cmd
            .env("SPAWNFD_PROBE_OUT", "/dev/null")
            .spawn()
            .expect("spawn");
        let pid = child.id() as i32;
        assert!(child.wait().unwrap().success());
        let out = channel.take();
        let mut expected = Vec::new();
        for tag in [b'a', b'b', b'c'] {
            expected.push(tag);
            expected.extend_from_slice(&pid.to_ne_bytes());
        }
        assert_eq!(out, expected, "fork path: {fork}");
    }
}

#[test]
fn a_hook_runs_after_the_fds_are_marked_so_its_fd_reaches_the_program() {
    for fork in PATHS {
        let mut cmd = probe_on(fork);
        // SAFETY: memfd_create and dup2 are system calls; the name is a
        // static C string.
        unsafe {
            cmd.pre_exec(|| {
                let fd = libc::memfd_create(c"made-by-hook".as_ptr(), 0);
                if fd < 0 || libc::dup2(fd, 40) < 0 {
                    return Err(io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
        let report = run_probe(&mut cmd);
        // Had step 14 run after the hook, fd 40 would be close-on-exec and
        // gone.
        report.assert_fd(40, "/memfd:made-by-hook (deleted)");
        assert_eq!(
            report.fd_numbers().into_iter().collect::<Vec<_>>(),
            [0, 1, 2, 40],
            "fork path: {fork}"
        );
    }
}

/// The child's signal mask, as the kernel keeps it.
fn own_mask() -> u64 {
    let mut old: u64 = 0;
    // SAFETY: a query of the mask into an 8-byte kernel sigset.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            std::ptr::null::<u64>(),
            &raw mut old,
            8usize,
        )
    };
    old
}

#[test]
fn a_hook_runs_with_the_final_signal_mask() {
    for fork in PATHS {
        let channel = Channel::new();
        let fd = channel.fd();
        let mut cmd = probe_on(fork);
        let mask = SignalSet::from_iter([spawnfd::Signal::USR1, spawnfd::Signal::TERM]);
        cmd.signal_mask(mask);
        // SAFETY: one raw system call and one write.
        unsafe { cmd.pre_exec(move || put(fd, &own_mask().to_ne_bytes())) };
        let report = run_probe(&mut cmd);
        let seen = u64::from_ne_bytes(channel.take().try_into().expect("8 bytes"));
        let expected = sig_bit(libc::SIGUSR1) | sig_bit(libc::SIGTERM);
        assert_eq!(seen, expected, "the hook's mask, fork path: {fork}");
        assert_eq!(report.sigblk, expected, "the program's mask");
    }
}

#[test]
fn a_failing_hook_is_a_spawn_error_with_its_errno_and_index() {
    for fork in PATHS {
        let channel = Channel::new();
        let fd = channel.fd();
        let mut cmd = probe_on(fork);
        // SAFETY: writes and errors made without allocating.
        unsafe {
            cmd.pre_exec(move || put(fd, b"1"));
            cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EACCES)));
            cmd.pre_exec(move || put(fd, b"never"));
        }
        let err = cmd.spawn().unwrap_err();
        let spawn = spawn_error(&err);
        assert_eq!(spawn.step(), Step::Hook, "{err}");
        assert_eq!(spawn.raw_os_error(), Some(libc::EACCES));
        assert_eq!(spawn.hook(), Some(1));
        assert!(!spawn.hook_panicked());
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            err.to_string(),
            format!(
                "spawn {:?}: pre_exec hook 1: Permission denied (os error 13)",
                support::PROBE
            )
        );
        assert_eq!(channel.take(), b"1", "the hook after the failing one ran");
    }
}

#[test]
fn an_error_without_errno_is_einval() {
    for fork in PATHS {
        let mut cmd = Command::new("true");
        cmd.use_fork(fork);
        // SAFETY: the error's kind needs no allocation (its message would).
        unsafe { cmd.pre_exec(|| Err(io::ErrorKind::Other.into())) };
        let err = cmd.spawn().unwrap_err();
        assert_eq!(spawn_error(&err).step(), Step::Hook);
        assert_eq!(spawn_error(&err).raw_os_error(), Some(libc::EINVAL));
    }
}

/// In a process of its own: on the fork path the panic machinery runs in
/// a forked copy, where a lock another thread held at the fork (std's
/// backtrace lock, held by a test failing at that moment) stays held.
#[test]
fn a_panicking_hook_fails_the_spawn_and_leaves_the_parent_thread_sound() {
    run_isolated("a_panicking_hook_isolated");
}

#[test]
#[ignore = "run by a_panicking_hook_fails_the_spawn_and_leaves_the_parent_thread_sound"]
fn a_panicking_hook_isolated() {
    if !in_isolated_run("a_panicking_hook_isolated") {
        return;
    }
    for fork in PATHS {
        let mut cmd = Command::new("true");
        cmd.use_fork(fork);
        // SAFETY: not safe on the default path (the panic allocates in the
        // parent's memory): this is what the test is about.
        unsafe { cmd.pre_exec(|| panic!("a hook that panics")) };
        let err = cmd.spawn().unwrap_err();
        let spawn = spawn_error(&err);
        assert_eq!(spawn.step(), Step::Hook, "{err}");
        assert!(spawn.hook_panicked(), "{err}");
        assert_eq!(spawn.hook(), Some(0));
        assert_eq!(spawn.raw_os_error(), None);
        // The child's panic ran on this thread's thread-local storage: it
        // must not have left this thread "panicking", which would poison
        // every mutex it unlocks.
        assert!(!std::thread::panicking());
        let lock = Mutex::new(0);
        drop(lock.lock().unwrap());
        assert!(!lock.is_poisoned());
    }
}

/// This thread's errno.
fn errno() -> i32 {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn set_errno(value: i32) {
    // SAFETY: this thread's errno.
    unsafe { *libc::__errno_location() = value };
}

#[test]
fn the_callers_errno_survives_a_hook_that_sets_it() {
    for fork in PATHS {
        for failing in [false, true] {
            let mut cmd = Command::new("true");
            cmd.use_fork(fork);
            // SAFETY: close is async-signal-safe; on the default path it
            // writes the spawning thread's errno, which is the point.
            unsafe {
                cmd.pre_exec(move || {
                    libc::close(-1);
                    if failing {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            set_errno(4321);
            let result = cmd.spawn();
            let seen = errno();
            match result {
                Ok(mut child) => {
                    assert!(!failing);
                    assert!(child.wait().unwrap().success());
                }
                Err(e) => {
                    assert!(failing, "{e}");
                    assert_eq!(spawn_error(&e).raw_os_error(), Some(libc::EBADF));
                }
            }
            assert_eq!(seen, 4321, "fork path {fork}, failing hook {failing}");
        }
    }
}

#[test]
fn a_hook_has_a_stack_of_more_than_128_kib() {
    for fork in PATHS {
        let mut cmd = Command::new("true");
        cmd.use_fork(fork);
        // SAFETY: only stack memory is used.
        unsafe {
            cmd.pre_exec(|| {
                let mut big = [0u8; 160 * 1024];
                std::hint::black_box(&mut big);
                big[0] = big[big.len() - 1];
                std::hint::black_box(&big);
                Ok(())
            });
        }
        assert!(cmd.status().unwrap().success(), "fork path {fork}");
    }
}

#[test]
fn hooks_with_ptrace_traceme_are_refused_on_the_default_path() {
    let mut cmd = Command::new("true");
    cmd.ptrace_traceme(true);
    // SAFETY: the hook does nothing.
    unsafe { cmd.pre_exec(|| Ok(())) };
    let err = cmd.spawn().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("use_fork(true)"), "{err}");
}

#[test]
fn failed_hooks_leave_no_fds_and_no_children() {
    run_isolated("failed_hooks_leave_no_fds_and_no_children_isolated");
}

#[test]
#[ignore = "run by failed_hooks_leave_no_fds_and_no_children, alone in its process"]
fn failed_hooks_leave_no_fds_and_no_children_isolated() {
    if !in_isolated_run("failed_hooks_leave_no_fds_and_no_children_isolated") {
        return;
    }
    let failing = |fork: bool, panics: bool| {
        let mut cmd = Command::new("true");
        cmd.use_fork(fork).stdout(spawnfd::Stdio::piped());
        // SAFETY: as in the tests above.
        unsafe {
            if panics {
                cmd.pre_exec(|| panic!("quietly"));
            } else {
                cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::EIO)));
            }
        }
        cmd.spawn().unwrap_err()
    };
    // The hooks' panics print; keep the output to the test's own.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"quietly") {
            default(info);
        }
    }));
    for fork in PATHS {
        for panics in [false, true] {
            drop(failing(fork, panics));
            let fds = common::open_fd_count();
            for _ in 0..50 {
                let err = failing(fork, panics);
                assert_eq!(spawn_error(&err).step(), Step::Hook);
            }
            // Where children are watched by pid, a failed child's watcher
            // thread closes its end of the exit pipe as it ends, a moment
            // after the spawn returned: give it that moment.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while common::open_fd_count() != fds && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert_eq!(common::open_fd_count(), fds, "fork {fork}, panics {panics}");
            assert!(!support::has_children(), "a failed child is left");
        }
    }
}

#[test]
fn exec_in_place_runs_the_hooks() {
    run_isolated("exec_in_place_runs_the_hooks_isolated");
}

#[test]
#[ignore = "run by exec_in_place_runs_the_hooks, alone in its process"]
fn exec_in_place_runs_the_hooks_isolated() {
    if !in_isolated_run("exec_in_place_runs_the_hooks_isolated") {
        return;
    }
    // exec returns only on failure: a failing hook shows that it ran, at
    // its step. (The steps before it changed this process, which is why
    // it is a process of its own.)
    let mut cmd = Command::new("/nonexistent/never-reached");
    // SAFETY: returns an error made without allocating.
    unsafe { cmd.pre_exec(|| Err(io::Error::from_raw_os_error(libc::ENOTSUP))) };
    let err = cmd.exec();
    assert_eq!(spawn_error(&err).step(), Step::Hook, "{err}");
    assert_eq!(spawn_error(&err).raw_os_error(), Some(libc::ENOTSUP));
}

#[test]
fn a_child_killed_during_set_up_was_spawned_and_its_wait_says_so() {
    for fork in PATHS {
        let mut cmd = Command::new("true");
        cmd.use_fork(fork);
        // SAFETY: raw system calls only.
        unsafe {
            cmd.pre_exec(|| {
                libc::syscall(
                    libc::SYS_kill,
                    libc::syscall(libc::SYS_getpid),
                    libc::SIGKILL,
                );
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("a killed child was spawned");
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "fork path: {fork}");
    }
}

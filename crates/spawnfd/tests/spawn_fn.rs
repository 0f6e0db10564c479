//! `Command::spawn_fn`: a child that runs a function instead of a
//! program (what forkfd's `vforkfd` needs), on both paths: its exit
//! status, vfork semantics on the default path (the parent returns once
//! the child has exited; memory shared) and fork semantics on the fork
//! path, fds inherited as they are with `keep_inherited_fds`, the signal
//! slate it gets, a failing step before the function, a panic.
//!
//! Dispositions belong to the process: [`setup`] ignores `SIGUSR1` and
//! catches `SIGUSR2` once; no test changes them afterwards.

mod support;

use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use spawnfd::{Command, SpawnError, Step};

const PATHS: [bool; 2] = [false, true];

extern "C" fn on_usr2(_: libc::c_int) {}

fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        for (sig, handler) in [
            (libc::SIGUSR1, libc::SIG_IGN),
            (
                libc::SIGUSR2,
                on_usr2 as extern "C" fn(libc::c_int) as libc::sighandler_t,
            ),
        ] {
            // SAFETY: an all-zero sigaction is valid; these signals are
            // used by no one else in this test process.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler;
                assert_eq!(libc::sigaction(sig, &action, std::ptr::null_mut()), 0);
            }
        }
    });
}

/// A command set up as forkfd's children are: fds, ignored signals and the
/// mask inherited.
fn forkfd_like(fork: bool) -> Command {
    let mut cmd = Command::new("function");
    cmd.use_fork(fork)
        .keep_inherited_fds(true)
        .reset_ignored_signals(false)
        .inherit_signal_mask();
    cmd
}

#[test]
fn the_child_exits_with_what_the_function_returns() {
    for fork in PATHS {
        // SAFETY: the function makes no call at all.
        let mut child = unsafe { forkfd_like(fork).spawn_fn(|| 42) }.expect("spawn_fn");
        assert_eq!(child.wait().unwrap().code(), Some(42), "fork {fork}");
        // SAFETY: as above.
        let mut child = unsafe { forkfd_like(fork).spawn_fn(|| 256 + 7) }.unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7), "the low 8 bits");
    }
}

#[test]
fn the_default_path_is_vfork_and_the_fork_path_is_fork() {
    for fork in PATHS {
        let seen = AtomicU32::new(0);
        // SAFETY: an atomic store and a raw getpid: async-signal-safe.
        let mut child = unsafe {
            forkfd_like(fork).spawn_fn(|| {
                seen.store(libc::getpid() as u32, Ordering::SeqCst);
                0
            })
        }
        .unwrap();
        if fork {
            // A copy: the parent's memory is untouched.
            assert!(child.wait().unwrap().success());
            assert_eq!(seen.load(Ordering::SeqCst), 0);
        } else {
            // The parent was suspended until the child had run the
            // function (the kernel wakes it when the child releases the
            // memory at exit, before it is a zombie: no try_wait here),
            // and the child's writes went to the parent's memory.
            assert_eq!(seen.load(Ordering::SeqCst), child.id());
            assert!(child.wait().unwrap().success());
        }
    }
}

/// `FD_CLOEXEC` of `fd`, or -1 if it is closed.
fn fd_flags(fd: i32) -> i32 {
    // SAFETY: F_GETFD only reads a number's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) }
}

/// What the function sees of `fd`: bit 0 set if it is open, bit 1 if it
/// is close-on-exec.
fn seen(fd: i32) -> i32 {
    match fd_flags(fd) {
        -1 => 0,
        flags => 1 | (flags & libc::FD_CLOEXEC) << 1,
    }
}

#[test]
fn kept_fds_are_inherited_as_they_are() {
    let cloexec = support::memfd("spawn-fn-cloexec");
    let leaky = support::open_leaky();
    let (c, l) = (cloexec.as_raw_fd(), leaky.as_raw_fd());
    for fork in PATHS {
        for keep in [true, false] {
            let mut cmd = forkfd_like(fork);
            cmd.keep_inherited_fds(keep);
            // SAFETY: fcntl is a system call.
            let mut child = unsafe { cmd.spawn_fn(|| seen(c) | seen(l) << 2) }.unwrap();
            let code = child.wait().unwrap().code().unwrap();
            let expected = if keep {
                // Both open, each with its own flag.
                0b01_11
            } else {
                // Both closed before the function, as an exec would have
                // closed them for a program.
                0
            };
            assert_eq!(code, expected, "fork {fork}, keep {keep}");
        }
    }
}

#[test]
fn the_function_starts_with_the_fds_a_program_would_have() {
    let given = support::memfd("spawn-fn-given");
    let parents = support::memfd("spawn-fn-parents");
    let p = parents.as_raw_fd();
    // A number that is neither of the parent's.
    let target = p.max(given.as_raw_fd()) + 1;
    // The fds the hook opens (a hook is 'static; this test alone uses
    // these).
    static KEPT: AtomicI32 = AtomicI32::new(-1);
    static MARKED: AtomicI32 = AtomicI32::new(-1);
    for fork in PATHS {
        let mut cmd = Command::new("function");
        cmd.use_fork(fork).fd(target, given.try_clone().unwrap());
        // SAFETY: open is async-signal-safe; the atomics are plain stores.
        unsafe {
            cmd.pre_exec(|| {
                let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
                KEPT.store(fd, Ordering::SeqCst);
                let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                MARKED.store(fd, Ordering::SeqCst);
                Ok(())
            });
        }
        // SAFETY: fcntl and atomic loads.
        let mut child = unsafe {
            cmd.spawn_fn(|| {
                let (k, m) = (KEPT.load(Ordering::SeqCst), MARKED.load(Ordering::SeqCst));
                // What an exec would keep is open; what it would close is
                // gone: the parent's fd, the hook's close-on-exec fd.
                let mut code = seen(target) | seen(k) << 2 | seen(m) << 4 | seen(p) << 6;
                if k < 0 || m < 0 {
                    code = 255;
                }
                code
            })
        }
        .unwrap();
        let code = child.wait().unwrap().code().unwrap();
        // The given fd and the hook's plain fd open without the flag; the
        // rest closed.
        assert_eq!(code, 0b00_00_01_01, "fork {fork}: {code:#b}");
    }
}

/// The handler of `sig` in the calling process.
fn handler(sig: i32) -> libc::sighandler_t {
    // SAFETY: reads the action into a zeroed sigaction.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        old.sa_sigaction
    }
}

#[test]
fn caught_signals_are_reset_and_ignored_ones_kept() {
    setup();
    for fork in PATHS {
        // SAFETY: sigaction is async-signal-safe; the query changes nothing.
        let mut child = unsafe {
            forkfd_like(fork).spawn_fn(|| {
                let ignored = handler(libc::SIGUSR1) == libc::SIG_IGN;
                let reset = handler(libc::SIGUSR2) == libc::SIG_DFL;
                i32::from(ignored) | i32::from(reset) << 1
            })
        }
        .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(3), "fork {fork}");
    }
    // The parent's own dispositions are untouched.
    assert_eq!(handler(libc::SIGUSR1), libc::SIG_IGN);
    assert_ne!(handler(libc::SIGUSR2), libc::SIG_DFL);
}

#[test]
fn a_failing_step_before_the_function_is_a_spawn_error() {
    for fork in PATHS {
        let ran = AtomicU32::new(0);
        let mut cmd = forkfd_like(fork);
        cmd.current_dir("/nonexistent");
        // SAFETY: an atomic store.
        let err = unsafe {
            cmd.spawn_fn(|| {
                ran.store(1, Ordering::SeqCst);
                0
            })
        }
        .unwrap_err();
        let spawn = SpawnError::from_io(&err).expect("a SpawnError");
        assert_eq!(spawn.step(), Step::Chdir, "{err}");
        assert_eq!(spawn.raw_os_error(), Some(libc::ENOENT));
        assert_eq!(spawn.program(), "function");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}

/// In a process of its own: on the fork path the panic machinery runs in
/// a forked copy, where a lock another thread held at the fork (std's
/// backtrace lock, held by a test failing at that moment) stays held.
#[test]
fn a_panicking_function_exits_with_101() {
    support::run_isolated("a_panicking_function_isolated");
}

#[test]
#[ignore = "run by a_panicking_function_exits_with_101, alone in its process"]
fn a_panicking_function_isolated() {
    if !support::in_isolated_run("a_panicking_function_isolated") {
        return;
    }
    for fork in PATHS {
        // SAFETY: not safe on the default path (the panic allocates in the
        // parent's memory): this is the case under test.
        let mut child = unsafe { forkfd_like(fork).spawn_fn(|| panic!("in the child")) }.unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(101), "fork {fork}");
        assert!(!std::thread::panicking());
    }
}

#[test]
fn the_function_gets_the_spawning_threads_mask() {
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigsets that outlive the calls.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    for fork in PATHS {
        // SAFETY: sigprocmask queries only.
        let mut child = unsafe {
            forkfd_like(fork).spawn_fn(|| {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                libc::sigismember(&now, libc::SIGHUP)
            })
        }
        .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(1), "fork {fork}");
    }
    // SAFETY: the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
}

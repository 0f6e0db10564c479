//! The child's signal slate, as the child itself sees it: dispositions the
//! parent ignores (SIGPIPE, SIGUSR1, a real-time signal) are reset, handlers
//! are gone, the mask is empty; and the opt-outs `reset_ignored_signals`,
//! `inherit_signal_mask` and `signal_mask`.
//!
//! Dispositions belong to the whole process: every test here first calls
//! [`setup`], which sets them once (SIGUSR1 and SIGRTMIN+2 ignored, a
//! handler for SIGUSR2); no test changes them afterwards. Masks belong to a
//! thread: a test blocks signals in its own thread only, and restores the
//! mask when done.

mod support;

use std::sync::Once;

use spawnfd::{Signal, SignalSet};
use support::{Report, probe, run_probe, sig_bit, status_field};

/// The real-time signal this file ignores: SIGRTMIN + 2 (36 with glibc).
fn rt_ignored() -> i32 {
    libc::SIGRTMIN() + 2
}

/// Another real-time signal, used in masks.
fn rt_masked() -> i32 {
    libc::SIGRTMIN() + 6
}

extern "C" fn on_usr2(_: libc::c_int) {}

/// Sets this process's dispositions once: ignores SIGUSR1 and SIGRTMIN+2,
/// installs a handler for SIGUSR2; checks that SIGPIPE is ignored (the Rust
/// runtime does it).
fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        for (sig, handler) in [
            (libc::SIGUSR1, libc::SIG_IGN),
            (rt_ignored(), libc::SIG_IGN),
            (
                libc::SIGUSR2,
                on_usr2 as extern "C" fn(libc::c_int) as libc::sighandler_t,
            ),
        ] {
            // SAFETY: an all-zero sigaction is valid; these signals are used
            // by no one else in this test process.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler;
                assert_eq!(libc::sigaction(sig, &action, std::ptr::null_mut()), 0);
            }
        }
    });
    let ignored = status_field("/proc/self/status", "SigIgn:");
    let caught = status_field("/proc/self/status", "SigCgt:");
    for sig in [libc::SIGPIPE, libc::SIGUSR1, rt_ignored()] {
        assert_ne!(ignored & sig_bit(sig), 0, "signal {sig} ignored here");
    }
    assert_ne!(caught & sig_bit(libc::SIGUSR2), 0, "SIGUSR2 caught here");
}

/// Blocks `signals` in the calling thread until dropped.
struct Blocked {
    old: libc::sigset_t,
}

impl Blocked {
    fn new(signals: &[i32]) -> Blocked {
        // SAFETY: sigemptyset/sigaddset fill in a local set; pthread_sigmask
        // changes the mask of this thread only and saves the old one.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &sig in signals {
                libc::sigaddset(&mut set, sig);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            assert_eq!(libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old), 0);
            Blocked { old }
        }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: restores this thread's mask as it was.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// This thread's signal mask.
fn thread_mask() -> u64 {
    status_field("/proc/thread-self/status", "SigBlk:")
}

fn signal(raw: i32) -> Signal {
    Signal::new(raw).unwrap()
}

/// The names of the signals in a set, for messages.
fn names(bits: u64) -> SignalSet {
    SignalSet::from_raw(bits)
}

#[track_caller]
fn assert_no_handler_for_usr2(report: &Report) {
    assert_eq!(
        report.sigcgt & sig_bit(libc::SIGUSR2),
        0,
        "the child catches {:?}",
        names(report.sigcgt)
    );
}

#[test]
fn child_starts_with_default_dispositions_and_an_empty_mask() {
    setup();
    let _blocked = Blocked::new(&[libc::SIGTERM]);
    assert_ne!(thread_mask() & sig_bit(libc::SIGTERM), 0);

    let report = run_probe(&mut probe());
    assert_eq!(
        report.sigign,
        0,
        "the child ignores {:?}",
        names(report.sigign)
    );
    assert_eq!(
        report.sigblk,
        0,
        "the child blocks {:?}",
        names(report.sigblk)
    );
    assert_no_handler_for_usr2(&report);
}

#[test]
fn ignored_real_time_signal_is_reset() {
    setup();
    let report = run_probe(&mut probe());
    assert_eq!(
        report.sigign & sig_bit(rt_ignored()),
        0,
        "{:?}",
        names(report.sigign)
    );
}

#[test]
fn ignored_signals_can_be_kept() {
    setup();
    let ours = status_field("/proc/self/status", "SigIgn:");
    let report = run_probe(probe().reset_ignored_signals(false));
    assert_eq!(
        names(report.sigign),
        names(ours),
        "the child ignores what we ignore"
    );
    for sig in [libc::SIGPIPE, libc::SIGUSR1, rt_ignored()] {
        assert_ne!(report.sigign & sig_bit(sig), 0);
    }
    // Handlers cannot survive exec, kept or not.
    assert_no_handler_for_usr2(&report);
    assert_eq!(report.sigblk, 0);
}

#[test]
fn signal_mask_can_be_inherited_from_the_spawning_thread() {
    setup();
    let _blocked = Blocked::new(&[libc::SIGTERM, rt_masked()]);
    let ours = thread_mask();
    assert_ne!(ours & sig_bit(libc::SIGTERM), 0);

    let report = run_probe(probe().inherit_signal_mask());
    assert_eq!(names(report.sigblk), names(ours));
    assert_ne!(report.sigblk & sig_bit(libc::SIGTERM), 0);
    assert_ne!(report.sigblk & sig_bit(rt_masked()), 0);
    // The dispositions are still reset.
    assert_eq!(report.sigign, 0, "{:?}", names(report.sigign));

    // The spawning thread's mask is as it was.
    assert_eq!(thread_mask(), ours);
}

#[test]
fn signal_mask_can_be_set_exactly() {
    setup();
    let _blocked = Blocked::new(&[libc::SIGTERM]);
    let set = SignalSet::empty()
        .with(Signal::HUP)
        .with(Signal::USR2)
        .with(signal(rt_masked()))
        .with(signal(64));
    let report = run_probe(probe().signal_mask(set));
    assert_eq!(names(report.sigblk), set);

    // SIGKILL and SIGSTOP cannot be blocked: the kernel leaves them out.
    let report = run_probe(probe().signal_mask(SignalSet::all()));
    let unblockable = sig_bit(libc::SIGKILL) | sig_bit(libc::SIGSTOP);
    assert_eq!(names(report.sigblk), names(!unblockable));
}

#[test]
fn handlers_are_not_inherited() {
    setup();
    for keep_ignored in [true, false] {
        let report = run_probe(
            probe()
                .reset_ignored_signals(!keep_ignored)
                .inherit_signal_mask(),
        );
        assert_no_handler_for_usr2(&report);
    }
}

#[test]
fn default_signals_are_reset_among_kept_ignored_ones() {
    setup();
    let report = run_probe(
        probe()
            .reset_ignored_signals(false)
            .default_signals(SignalSet::from_iter([Signal::USR1, Signal::KILL])),
    );
    // SIGUSR1 reset, though kept ignored otherwise; SIGKILL (never
    // anything but SIG_DFL) is no error.
    assert_eq!(report.sigign & sig_bit(libc::SIGUSR1), 0);
    assert_ne!(report.sigign & sig_bit(libc::SIGPIPE), 0);
    assert_ne!(report.sigign & sig_bit(rt_ignored()), 0);
    assert_no_handler_for_usr2(&report);
    // On the fork path too.
    let report = run_probe(
        probe()
            .use_fork(true)
            .reset_ignored_signals(false)
            .default_signals(SignalSet::from_iter([Signal::PIPE])),
    );
    assert_eq!(report.sigign & sig_bit(libc::SIGPIPE), 0);
    assert_ne!(report.sigign & sig_bit(libc::SIGUSR1), 0);
}

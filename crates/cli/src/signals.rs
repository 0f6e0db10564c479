//! Passing the signals spawnfd receives on to PROGRAM, and ending as
//! PROGRAM ended.
//!
//! Before the spawn, the signals of [`forwarded`] are blocked in this
//! (single) thread and read from a `signalfd`, which [`Forwarder::wait`]
//! polls beside the child's pidfd: a signal is then never lost between the
//! spawn and the wait, and no handler runs. The child does not inherit the
//! mask: the library starts it with an empty one (or the mask spawnfd had
//! before it blocked anything, with `--inherit-signal-mask`).
//!
//! Each signal read is sent to PROGRAM through its pidfd, or to its
//! process group ([`Child::send_signal_to_group`]) when spawnfd made one
//! (`--setsid`, `--pgid 0`, `--kill-group`), so that PROGRAM's own children get it as they would
//! without spawnfd. When PROGRAM is in spawnfd's process group, a signal
//! the kernel sent (`SI_KERNEL`: the terminal's Ctrl-C, Ctrl-\, Ctrl-Z,
//! hang-up and window size change, all sent to the foreground group) has
//! reached PROGRAM directly and is not sent again.
//!
//! Not forwarded: `SIGKILL` and `SIGSTOP` (they cannot be caught: against
//! `SIGKILL`, PROGRAM gets the parent-death signal); `SIGCHLD` (about
//! spawnfd's own child); `SIGPIPE`, which spawnfd keeps ignored so that a
//! closed stdout makes its own writes fail rather than kill it; and the
//! fault signals (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`,
//! `SIGABRT`, `SIGSYS`), which report spawnfd's own faults. glibc's
//! internal signals 32 and 33 cannot be blocked.
//!
//! Job control: `SIGTSTP`, `SIGTTIN` and `SIGTTOU` are forwarded (unless
//! the terminal already sent them to PROGRAM's group), then spawnfd stops
//! itself with `SIGSTOP`, as a shell's job stops as a whole; the `SIGCONT`
//! that resumes it is forwarded in turn.

#![allow(unsafe_code)]

use std::io;
use std::mem::{self, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::Arc;
use std::time::Instant;

use spawnfd::{Child, Scope, Signal, SignalSet};

use crate::sys;

/// The signals spawnfd passes on to PROGRAM (see the module documentation
/// for those it does not).
pub fn forwarded() -> SignalSet {
    let mut set: SignalSet = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGTERM,
        libc::SIGSTKFLT,
        libc::SIGCONT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGURG,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGWINCH,
        libc::SIGIO,
        libc::SIGPWR,
    ]
    .into_iter()
    .filter_map(Signal::new)
    .collect();
    for number in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        if let Some(signal) = Signal::new(number) {
            set.insert(signal);
        }
    }
    set
}

/// Where forwarded signals go.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// PROGRAM alone, through its pidfd; `shares_group`: PROGRAM is in
    /// spawnfd's process group, so signals the kernel sent to the group
    /// have reached it already.
    Child { shares_group: bool },
    /// PROGRAM's own process group, which spawnfd made; its id is
    /// PROGRAM's pid.
    Group,
    /// Every process of PROGRAM's scope (`--scope`), given with
    /// [`Forwarder::send_to_scope`].
    Scope,
}

/// The `signalfd` of the forwarded signals, and where they go.
#[derive(Debug)]
pub struct Forwarder {
    fd: OwnedFd,
    target: Target,
    /// The scope of [`Target::Scope`].
    scope: Option<Arc<Scope>>,
}

/// The calling thread's signal mask, as a [`SignalSet`].
fn to_set(mask: &libc::sigset_t) -> SignalSet {
    (1..=64)
        // SAFETY: `mask` is an initialised set; the number is in range.
        .filter(|&n| unsafe { libc::sigismember(mask, n) } == 1)
        .filter_map(Signal::new)
        .collect()
}

/// `set` as a `sigset_t`.
fn to_sigset(set: SignalSet) -> libc::sigset_t {
    let mut mask = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe { libc::sigemptyset(mask.as_mut_ptr()) };
    // SAFETY: initialised just above.
    let mut mask = unsafe { mask.assume_init() };
    for signal in set.iter() {
        // SAFETY: `mask` is initialised; glibc refuses its internal
        // signals with EINVAL, which leaves them out.
        unsafe { libc::sigaddset(&mut mask, signal.as_raw()) };
    }
    mask
}

/// The calling thread's signal mask.
pub fn current_mask() -> io::Result<SignalSet> {
    // Blocking nothing more reads the mask without changing it.
    change_mask(libc::SIG_BLOCK, SignalSet::empty())
}

/// Changes the calling thread's mask (`how`: `SIG_BLOCK`, `SIG_UNBLOCK`)
/// by `set`; returns the mask before.
fn change_mask(how: libc::c_int, set: SignalSet) -> io::Result<SignalSet> {
    let mask = to_sigset(set);
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: both sets are valid for the call; `old` is written on
    // success.
    let status = unsafe { libc::pthread_sigmask(how, &mask, old.as_mut_ptr()) };
    if status != 0 {
        return Err(io::Error::from_raw_os_error(status));
    }
    // SAFETY: the call succeeded and filled `old` in.
    Ok(to_set(&unsafe { old.assume_init() }))
}

impl Forwarder {
    /// Blocks the [`forwarded`] signals in the calling thread and opens a
    /// `signalfd` for them (close-on-exec, non-blocking, above fd 2).
    /// Returns it with the signal mask from before.
    ///
    /// Call it in the only thread, before the spawn: threads started later
    /// inherit the mask, and a signal that arrives before the child exists
    /// waits in the `signalfd` until [`Forwarder::wait`] passes it on.
    pub fn new(target: Target) -> io::Result<(Forwarder, SignalSet)> {
        let set = forwarded();
        let before = change_mask(libc::SIG_BLOCK, set)?;
        let mask = to_sigset(set);
        // SAFETY: a new signalfd (-1) for a valid set; the flags are valid.
        let raw = unsafe { libc::signalfd(-1, &mask, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok((
            Forwarder {
                fd: sys::above_stdio(fd)?,
                target,
                scope: None,
            },
            before,
        ))
    }

    /// Passes the signals on to PROGRAM's own process group (`--contain`
    /// where no cgroup can be made).
    pub fn send_to_group(&mut self) {
        self.target = Target::Group;
    }

    /// Passes the signals on to every process of `scope` (`--scope`).
    pub fn send_to_scope(&mut self, scope: Arc<Scope>) {
        self.target = Target::Scope;
        self.scope = Some(scope);
    }

    /// Waits until `child` has exited (`Ok(true)`, it can then be reaped
    /// without blocking) or `deadline` passes (`Ok(false)`; `None`: no
    /// deadline), passing on the signals that arrive meanwhile.
    pub fn wait(&self, child: &Child, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            match sys::wait_either(child.pidfd(), self.fd.as_fd(), deadline)? {
                sys::Ready::First => return Ok(true),
                sys::Ready::Second => self.forward_pending(child)?,
                sys::Ready::Neither => return Ok(false),
            }
        }
    }

    /// Reads every signal waiting in the `signalfd` and passes it on.
    fn forward_pending(&self, child: &Child) -> io::Result<()> {
        loop {
            let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
            let size = mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: `info` is writable for `size` bytes.
            let read = unsafe { libc::read(self.fd.as_raw_fd(), info.as_mut_ptr().cast(), size) };
            if read < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock => return Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(err),
                }
            }
            if usize::try_from(read).ok() != Some(size) {
                return Ok(());
            }
            // SAFETY: the kernel wrote a whole signalfd_siginfo.
            let info = unsafe { info.assume_init() };
            let Some(signal) = i32::try_from(info.ssi_signo).ok().and_then(Signal::new) else {
                continue;
            };
            self.forward(child, signal, info.ssi_code == libc::SI_KERNEL);
        }
    }

    /// Passes `signal` on; `from_kernel`: the kernel sent it (`SI_KERNEL`),
    /// as the terminal does to its foreground group. Then stops spawnfd
    /// for the job-control signals.
    fn forward(&self, child: &Child, signal: Signal, from_kernel: bool) {
        // A child that has exited but is not reaped accepts and ignores
        // signals; a group whose processes are all gone is ESRCH. A failure
        // changes nothing (the child may have run a set-user-id program):
        // spawnfd waits for it as before.
        match self.target {
            Target::Child { shares_group } => {
                if !(shares_group && from_kernel) {
                    let _ = child.send_signal(signal);
                }
            }
            Target::Group => {
                // Through the pidfd, or kill(-pid) while the leader is
                // unreaped: never another group that took a reused id.
                // ESRCH: PROGRAM left its group alone; it still gets it.
                if let Err(e) = child.send_signal_to_group(signal) {
                    if e.raw_os_error() == Some(libc::ESRCH) {
                        let _ = child.send_signal(signal);
                    }
                }
            }
            Target::Scope => {
                // Each process of the tree, PROGRAM among them (an exited
                // PROGRAM is no longer a member; its tree still is).
                if let Some(scope) = &self.scope {
                    let _ = scope.signal(signal);
                }
            }
        }
        if [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(&signal.as_raw()) {
            // SAFETY: raise takes a plain integer; SIGSTOP cannot be caught.
            unsafe { libc::raise(libc::SIGSTOP) };
        }
    }
}

/// Ends spawnfd by `signal`, as PROGRAM ended, so that the caller (a shell
/// that stops a script on Ctrl-C, say) sees what it would have seen
/// without spawnfd: no core dump (`RLIMIT_CORE` 0, and not dumpable, which
/// also stops a core pattern that pipes to a program), default
/// disposition, unblocked, raised. Returns only if spawnfd is still alive,
/// as for a signal whose default action is not to terminate, or one of
/// glibc's own.
pub fn die_of(signal: Signal) {
    let number = signal.as_raw();
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain values and a valid rlimit; failures leave a core dump
    // possible, nothing worse.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // SAFETY: a zeroed sigaction with SIG_DFL installs no handler; glibc
    // refuses SIGKILL, SIGSTOP and its own signals with EINVAL.
    unsafe {
        let mut action: libc::sigaction = mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(number, &action, ptr::null_mut());
    }
    let _ = change_mask(libc::SIG_UNBLOCK, SignalSet::empty().with(signal));
    // SAFETY: raise takes a plain integer.
    unsafe { libc::raise(number) };
}

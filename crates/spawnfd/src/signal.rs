//! Signal numbers and sets of them, as the child's signal plan uses them.

use std::fmt;

/// A signal number, 1 to 64.
///
/// ```
/// use spawnfd::Signal;
/// assert_eq!(Signal::TERM.as_raw(), libc::SIGTERM);
/// assert_eq!(Signal::new(libc::SIGUSR1), Some(Signal::USR1));
/// assert_eq!(Signal::new(0), None);
/// assert_eq!(Signal::from_name("term"), Some(Signal::TERM));
/// assert_eq!(Signal::TERM.name(), Some("SIGTERM"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

macro_rules! signals {
    ($($name:ident = $value:ident,)*) => {
        impl Signal {
            $(
                #[doc = concat!("`", stringify!($value), "`")]
                pub const $name: Signal = Signal(libc::$value);
            )*

            /// The signal's name (`SIGTERM`), for the standard signals.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(libc::$value => Some(stringify!($value)),)*
                    _ => None,
                }
            }

            /// The standard signal called `name`: `SIGTERM`, `TERM` or
            /// `term`. (Real-time signals have no names; use
            /// [`Signal::new`].)
            pub fn from_name(name: &str) -> Option<Signal> {
                let upper = name.to_ascii_uppercase();
                let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
                match full.as_str() {
                    $(stringify!($value) => Some(Signal::$name),)*
                    _ => None,
                }
            }
        }
    };
}

signals! {
    HUP = SIGHUP, INT = SIGINT, QUIT = SIGQUIT, ILL = SIGILL, TRAP = SIGTRAP,
    ABRT = SIGABRT, BUS = SIGBUS, FPE = SIGFPE, KILL = SIGKILL, USR1 = SIGUSR1,
    SEGV = SIGSEGV, USR2 = SIGUSR2, PIPE = SIGPIPE, ALRM = SIGALRM, TERM = SIGTERM,
    STKFLT = SIGSTKFLT, CHLD = SIGCHLD, CONT = SIGCONT, STOP = SIGSTOP, TSTP = SIGTSTP,
    TTIN = SIGTTIN, TTOU = SIGTTOU, URG = SIGURG, XCPU = SIGXCPU, XFSZ = SIGXFSZ,
    VTALRM = SIGVTALRM, PROF = SIGPROF, WINCH = SIGWINCH, IO = SIGIO, PWR = SIGPWR,
    SYS = SIGSYS,
}

impl Signal {
    /// The signal with this number, if it is one (1 to 64).
    pub const fn new(raw: i32) -> Option<Signal> {
        if raw >= 1 && raw <= 64 {
            Some(Signal(raw))
        } else {
            None
        }
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    const fn bit(self) -> u64 {
        1 << (self.0 - 1)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Signal({})", self.0),
        }
    }
}

/// A set of signals, in the layout the kernel uses for signal masks.
///
/// ```
/// use spawnfd::{Signal, SignalSet};
/// let set: SignalSet = [Signal::TERM, Signal::INT].into_iter().collect();
/// assert!(set.contains(Signal::TERM));
/// assert!(!set.contains(Signal::HUP));
/// assert_eq!(set.iter().count(), 2);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SignalSet(u64);

impl SignalSet {
    /// No signals.
    pub const fn empty() -> SignalSet {
        SignalSet(0)
    }

    /// Every signal, 1 to 64.
    pub const fn all() -> SignalSet {
        SignalSet(!0)
    }

    /// This set with `sig` added.
    #[must_use]
    pub const fn with(self, sig: Signal) -> SignalSet {
        SignalSet(self.0 | sig.bit())
    }

    /// This set with `sig` removed.
    #[must_use]
    pub const fn without(self, sig: Signal) -> SignalSet {
        SignalSet(self.0 & !sig.bit())
    }

    /// Adds `sig`.
    pub fn insert(&mut self, sig: Signal) {
        self.0 |= sig.bit();
    }

    /// Whether `sig` is in the set.
    pub const fn contains(self, sig: Signal) -> bool {
        self.0 & sig.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The signals in the set, in increasing order.
    pub fn iter(self) -> impl Iterator<Item = Signal> {
        (1..=64)
            .filter_map(Signal::new)
            .filter(move |s| self.contains(*s))
    }

    /// The set as the kernel's 64-bit `sigset_t` word.
    pub const fn as_raw(self) -> u64 {
        self.0
    }

    /// A set from the kernel's 64-bit `sigset_t` word (bit `n - 1` for
    /// signal `n`), as in `/proc/PID/status`.
    pub const fn from_raw(bits: u64) -> SignalSet {
        SignalSet(bits)
    }
}

impl FromIterator<Signal> for SignalSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> Self {
        let mut set = SignalSet::empty();
        for sig in iter {
            set.insert(sig);
        }
        set
    }
}

impl fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

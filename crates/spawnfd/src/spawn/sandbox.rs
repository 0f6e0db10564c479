//! The sandbox attributes: capability sets, a seccomp filter and a
//! Landlock ruleset, what agent sandboxes and CI runners otherwise set up
//! by hand with a fork and a hook. The public types that name
//! capabilities, and the plan the child follows (`in_child::sandbox`).

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};

/// A capability (`CAP_*`, capabilities(7)), for the capability sets of
/// [`Command`](crate::Command).
///
/// ```
/// use spawnfd::Capability;
/// assert_eq!(Capability::NET_BIND_SERVICE.as_raw(), 10);
/// assert_eq!(Capability::from_name("cap_net_admin"), Some(Capability::NET_ADMIN));
/// assert_eq!(Capability::from_name("SYS_ADMIN"), Some(Capability::SYS_ADMIN));
/// assert_eq!(Capability::SETUID.name(), "CAP_SETUID");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(u8);

macro_rules! capabilities {
    ($($name:ident = $value:literal,)*) => {
        impl Capability {
            $(
                #[doc = concat!("`CAP_", stringify!($name), "` (", stringify!($value), ")")]
                pub const $name: Capability = Capability($value);
            )*

            /// Every capability this crate names, in number order.
            pub const ALL: &'static [Capability] = &[$(Capability::$name,)*];

            /// The name, as capabilities(7) spells it (`CAP_NET_ADMIN`);
            /// `CAP_N` for a number this crate has no name for.
            pub fn name(self) -> String {
                match self {
                    $(Capability::$name => concat!("CAP_", stringify!($name)).to_owned(),)*
                    Capability(n) => format!("CAP_{n}"),
                }
            }

            /// The capability named `name`: `CAP_NET_ADMIN`, `net_admin`,
            /// in any case.
            pub fn from_name(name: &str) -> Option<Capability> {
                let upper = name.to_ascii_uppercase();
                let short = upper.strip_prefix("CAP_").unwrap_or(&upper);
                match short {
                    $(stringify!($name) => Some(Capability::$name),)*
                    _ => None,
                }
            }
        }
    };
}

capabilities! {
    CHOWN = 0, DAC_OVERRIDE = 1, DAC_READ_SEARCH = 2, FOWNER = 3, FSETID = 4, KILL = 5,
    SETGID = 6, SETUID = 7, SETPCAP = 8, LINUX_IMMUTABLE = 9, NET_BIND_SERVICE = 10,
    NET_BROADCAST = 11, NET_ADMIN = 12, NET_RAW = 13, IPC_LOCK = 14, IPC_OWNER = 15,
    SYS_MODULE = 16, SYS_RAWIO = 17, SYS_CHROOT = 18, SYS_PTRACE = 19, SYS_PACCT = 20,
    SYS_ADMIN = 21, SYS_BOOT = 22, SYS_NICE = 23, SYS_RESOURCE = 24, SYS_TIME = 25,
    SYS_TTY_CONFIG = 26, MKNOD = 27, LEASE = 28, AUDIT_WRITE = 29, AUDIT_CONTROL = 30,
    SETFCAP = 31, MAC_OVERRIDE = 32, MAC_ADMIN = 33, SYSLOG = 34, WAKE_ALARM = 35,
    BLOCK_SUSPEND = 36, AUDIT_READ = 37, PERFMON = 38, BPF = 39, CHECKPOINT_RESTORE = 40,
}

impl Capability {
    /// The capability numbered `n` (0 to 63, as a kernel may know more
    /// than this crate names); `None` beyond.
    pub const fn new(n: u32) -> Option<Capability> {
        if n < 64 {
            Some(Capability(n as u8))
        } else {
            None
        }
    }

    /// Its number.
    pub const fn as_raw(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A set of [`Capability`]s, as the kernel's 64-bit masks.
///
/// ```
/// use spawnfd::{Capability, CapabilitySet};
/// let set = CapabilitySet::from_iter([Capability::NET_BIND_SERVICE, Capability::KILL]);
/// assert!(set.contains(Capability::KILL));
/// assert_eq!(set.as_raw(), 1 << 10 | 1 << 5);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapabilitySet(u64);

impl CapabilitySet {
    /// No capability.
    pub const fn empty() -> CapabilitySet {
        CapabilitySet(0)
    }

    /// This set with `cap` added.
    pub const fn with(self, cap: Capability) -> CapabilitySet {
        CapabilitySet(self.0 | 1 << cap.0)
    }

    /// This set without `cap`.
    pub const fn without(self, cap: Capability) -> CapabilitySet {
        CapabilitySet(self.0 & !(1 << cap.0))
    }

    /// Adds `cap`.
    pub fn insert(&mut self, cap: Capability) {
        *self = self.with(cap);
    }

    /// Whether `cap` is in the set.
    pub const fn contains(self, cap: Capability) -> bool {
        self.0 & 1 << cap.0 != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in the set, in number order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        (0..64u8)
            .filter(move |&n| self.0 & 1 << n != 0)
            .map(Capability)
    }

    /// The kernel's mask (bit N for capability N).
    pub const fn as_raw(self) -> u64 {
        self.0
    }

    /// The set of a kernel mask.
    pub const fn from_raw(bits: u64) -> CapabilitySet {
        CapabilitySet(bits)
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> CapabilitySet {
        let mut set = CapabilitySet::empty();
        for cap in iter {
            set.insert(cap);
        }
        set
    }
}

impl fmt::Debug for CapabilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What a `Command` asks of the sandbox attributes.
#[derive(Debug, Default)]
pub(crate) struct Sandbox {
    pub(crate) bounding: Option<CapabilitySet>,
    pub(crate) inheritable: Option<CapabilitySet>,
    pub(crate) ambient: Option<CapabilitySet>,
    pub(crate) keep_caps: bool,
    /// A classic BPF program, as `struct sock_filter`s.
    pub(crate) seccomp: Option<Vec<libc::sock_filter>>,
    pub(crate) landlock: Option<OwnedFd>,
}

/// The sandbox as the child replays it: masks, the filter and the ruleset
/// fd, borrowed from the command for the spawn.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChildSandbox<'a> {
    /// Capabilities to drop from the bounding set (0..=last_cap).
    pub(crate) bounding_drop: u64,
    /// `PR_SET_KEEPCAPS` before the credentials change.
    pub(crate) keep_caps: bool,
    /// The inheritable set to install after the credentials, if any.
    pub(crate) inheritable: Option<u64>,
    /// Ambient capabilities to raise after it.
    pub(crate) ambient: u64,
    pub(crate) seccomp: Option<&'a [libc::sock_filter]>,
    pub(crate) landlock: Option<i32>,
}

impl Sandbox {
    /// The child's plan; `last_cap` is the kernel's highest capability.
    pub(crate) fn child_plan(&self, last_cap: u32) -> ChildSandbox<'_> {
        let known = if last_cap >= 63 {
            u64::MAX
        } else {
            (1u64 << (last_cap + 1)) - 1
        };
        let ambient = self.ambient.map_or(0, CapabilitySet::as_raw);
        let inheritable = match (self.inheritable, self.ambient) {
            (None, None) => None,
            // An ambient capability must be inheritable (and permitted).
            (inh, _) => Some(inh.map_or(0, CapabilitySet::as_raw) | ambient),
        };
        ChildSandbox {
            bounding_drop: self.bounding.map_or(0, |keep| known & !keep.as_raw()),
            keep_caps: self.keep_caps || ambient != 0,
            inheritable,
            ambient,
            seccomp: self.seccomp.as_deref(),
            landlock: self.landlock.as_ref().map(AsRawFd::as_raw_fd),
        }
    }
}

/// The child's sandbox plan for `cmd`.
pub(crate) fn plan(cmd: &crate::Command) -> ChildSandbox<'_> {
    // Only a bounding set needs to know the kernel's last capability.
    let last = if cmd.sandbox.bounding.is_some() {
        last_cap()
    } else {
        63
    };
    cmd.sandbox.child_plan(last)
}

/// The kernel's highest capability number (`/proc/sys/kernel/cap_last_cap`;
/// 40, Linux 5.9's, where it cannot be read).
pub(crate) fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

//! The child attributes beyond std's: the public types that name them, and
//! the set a `Command` keeps.

use std::ffi::{CString, OsStr, c_int};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::error::invalid;
use crate::in_child::ChildAttrs;
use crate::in_child::fdmap::Slot;
use crate::signal::{Signal, SignalSet};

/// A resource limit (`RLIMIT_*`), for [`Command::rlimit`](crate::Command::rlimit).
///
/// ```
/// use spawnfd::Resource;
/// assert_eq!(Resource::NOFILE.as_raw(), libc::RLIMIT_NOFILE as i32);
/// assert_eq!(Resource::new(99), None);
/// assert_eq!(Resource::from_name("nofile"), Some(Resource::NOFILE));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource(i32);

macro_rules! resources {
    ($($name:ident = $value:ident,)*) => {
        impl Resource {
            $(
                #[doc = concat!("`", stringify!($value), "`")]
                pub const $name: Resource = Resource(libc::$value as i32);
            )*

            /// The name without `RLIMIT_`, as in `/proc/PID/limits`
            /// headings' short form (`NOFILE`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Resource::$name => stringify!($name),)*
                    _ => "?",
                }
            }

            /// The resource named `name` (`NOFILE`, `nofile`, or
            /// `RLIMIT_NOFILE`).
            pub fn from_name(name: &str) -> Option<Resource> {
                let upper = name.to_ascii_uppercase();
                let short = upper.strip_prefix("RLIMIT_").unwrap_or(&upper);
                match short {
                    $(stringify!($name) => Some(Resource::$name),)*
                    _ => None,
                }
            }
        }
    };
}

resources! {
    CPU = RLIMIT_CPU, FSIZE = RLIMIT_FSIZE, DATA = RLIMIT_DATA, STACK = RLIMIT_STACK,
    CORE = RLIMIT_CORE, RSS = RLIMIT_RSS, NPROC = RLIMIT_NPROC, NOFILE = RLIMIT_NOFILE,
    MEMLOCK = RLIMIT_MEMLOCK, AS = RLIMIT_AS, LOCKS = RLIMIT_LOCKS,
    SIGPENDING = RLIMIT_SIGPENDING, MSGQUEUE = RLIMIT_MSGQUEUE, NICE = RLIMIT_NICE,
    RTPRIO = RLIMIT_RTPRIO, RTTIME = RLIMIT_RTTIME,
}

impl Resource {
    /// The resource with this number, if the kernel knows it (0 to 15,
    /// `RLIM_NLIMITS` being 16 since Linux 2.6.25).
    pub const fn new(raw: i32) -> Option<Resource> {
        if raw >= 0 && raw < 16 {
            Some(Resource(raw))
        } else {
            None
        }
    }

    /// The `RLIMIT_*` number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RLIMIT_{}", self.name())
    }
}

/// `CLONE_NEWTIME` (Linux 5.6), which not every libc crate version has.
pub(crate) const CLONE_NEWTIME: u64 = 0x80;

/// "No limit", for [`Command::rlimit`](crate::Command::rlimit).
pub const RLIM_INFINITY: u64 = u64::MAX;

/// A set of namespaces to create the child in, for
/// [`Command::unshare`](crate::Command::unshare).
///
/// ```
/// use spawnfd::Namespaces;
/// let ns = Namespaces::MOUNT | Namespaces::PID;
/// assert!(ns.contains(Namespaces::PID));
/// assert!(!ns.contains(Namespaces::USER));
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Namespaces(u64);

impl Namespaces {
    /// No new namespace.
    pub const NONE: Namespaces = Namespaces(0);
    /// A mount namespace (`CLONE_NEWNS`).
    pub const MOUNT: Namespaces = Namespaces(libc::CLONE_NEWNS as u64);
    /// A UTS namespace: host and domain name (`CLONE_NEWUTS`).
    pub const UTS: Namespaces = Namespaces(libc::CLONE_NEWUTS as u64);
    /// An IPC namespace (`CLONE_NEWIPC`).
    pub const IPC: Namespaces = Namespaces(libc::CLONE_NEWIPC as u64);
    /// A network namespace (`CLONE_NEWNET`).
    pub const NET: Namespaces = Namespaces(libc::CLONE_NEWNET as u64);
    /// A PID namespace, in which the child is pid 1 (`CLONE_NEWPID`).
    pub const PID: Namespaces = Namespaces(libc::CLONE_NEWPID as u64);
    /// A cgroup namespace (`CLONE_NEWCGROUP`).
    pub const CGROUP: Namespaces = Namespaces(libc::CLONE_NEWCGROUP as u64);
    /// A user namespace (`CLONE_NEWUSER`); see
    /// [`Command::uid_map`](crate::Command::uid_map).
    pub const USER: Namespaces = Namespaces(libc::CLONE_NEWUSER as u64);
    /// A time namespace: its own offsets of `CLOCK_MONOTONIC` and
    /// `CLOCK_BOOTTIME` (`CLONE_NEWTIME`, Linux 5.6).
    ///
    /// Only `clone3` can create the child in one: the flag's bit (`0x80`)
    /// is part of the exit-signal field of `clone(2)`, so a spawn that
    /// falls back to `clone` (no `clone3`, or a seccomp filter refusing
    /// it) fails with [`io::ErrorKind::Unsupported`]. The kernel moves the
    /// child into the namespace when it executes the program (it cannot
    /// while the child shares the parent's memory); its offsets start at
    /// zero, and [`Command::exec`](crate::Command::exec) refuses it, since
    /// `unshare(CLONE_NEWTIME)` moves only later children.
    pub const TIME: Namespaces = Namespaces(CLONE_NEWTIME);

    const NAMES: [(Namespaces, &'static str); 8] = [
        (Namespaces::MOUNT, "mount"),
        (Namespaces::UTS, "uts"),
        (Namespaces::IPC, "ipc"),
        (Namespaces::NET, "net"),
        (Namespaces::PID, "pid"),
        (Namespaces::CGROUP, "cgroup"),
        (Namespaces::USER, "user"),
        (Namespaces::TIME, "time"),
    ];

    /// Whether every namespace of `other` is in `self`.
    pub const fn contains(self, other: Namespaces) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The `CLONE_NEW*` flags.
    pub const fn clone_flags(self) -> u64 {
        self.0
    }

    /// The namespace called `name`: `mount` (or `mnt`), `uts`, `ipc`, `net`,
    /// `pid`, `cgroup`, `user`, `time`, as in `/proc/PID/ns`, in any case.
    pub fn from_name(name: &str) -> Option<Namespaces> {
        let name = name.to_ascii_lowercase();
        let name = if name == "mnt" { "mount" } else { &name };
        Namespaces::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(ns, _)| *ns)
    }
}

impl std::ops::BitOr for Namespaces {
    type Output = Namespaces;
    fn bitor(self, rhs: Namespaces) -> Namespaces {
        Namespaces(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Namespaces {
    fn bitor_assign(&mut self, rhs: Namespaces) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Namespaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = Namespaces::NAMES
            .iter()
            .filter(|(ns, _)| self.contains(*ns))
            .map(|(_, n)| n);
        f.debug_set().entries(names).finish()
    }
}

/// One line of a user namespace's `uid_map` or `gid_map`: ids
/// `inside..inside + count` in the namespace are `outside..outside + count`
/// outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdMap {
    /// The first id inside the namespace.
    pub inside: u32,
    /// The first id outside (in the parent's user namespace).
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

/// The cgroup to start the child in.
#[derive(Debug)]
pub(crate) enum Cgroup {
    Path(PathBuf),
    Fd(OwnedFd),
}

/// Everything a `Command` sets beyond std's builder.
#[derive(Debug, Default)]
pub(crate) struct Attrs {
    pub(crate) setsid: bool,
    pub(crate) pgid: Option<i32>,
    /// Child fd to make the controlling terminal (`TIOCSCTTY`).
    pub(crate) ctty: Option<RawFd>,
    /// Detach from the controlling terminal (`TIOCNOTTY`).
    pub(crate) noctty: bool,
    /// Child fd of the terminal whose foreground group the child's becomes.
    pub(crate) foreground: Option<RawFd>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) chroot: Option<PathBuf>,
    /// The working directory as an open directory (replaces a path).
    pub(crate) cwd_fd: Option<OwnedFd>,
    pub(crate) umask: Option<u32>,
    /// In the order given; a later limit for the same resource wins.
    pub(crate) rlimits: Vec<(i32, u64, u64)>,
    pub(crate) nice: Option<i32>,
    pub(crate) cpus: Option<Vec<usize>>,
    pub(crate) pdeathsig: Option<Signal>,
    pub(crate) no_new_privs: bool,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) namespaces: Namespaces,
    /// Mount a fresh procfs on `/proc` in the new mount namespace.
    pub(crate) mount_proc: bool,
    pub(crate) uid_map: Vec<IdMap>,
    pub(crate) gid_map: Vec<IdMap>,
    pub(crate) traceme: bool,
    pub(crate) ignore: SignalSet,
}

impl Attrs {
    /// Whether the child changes its user or group ids, which makes the
    /// kernel reset the dumpable flag of the memory it shares with us.
    pub(crate) fn changes_credentials(&self) -> bool {
        self.uid.is_some() || self.gid.is_some() || self.groups.is_some()
    }
}

/// The attributes validated and laid out for one spawn: what the child
/// reads, owned here, plus the parent's own part (cgroup fd, id maps).
#[derive(Debug, Default)]
pub(crate) struct AttrPlan {
    chroot: Option<CString>,
    groups: Option<Vec<u32>>,
    drop_groups: bool,
    rlimits: Vec<(c_int, u64, u64)>,
    cpus: Vec<u64>,
    /// The cgroup directory opened from a path.
    cgroup_opened: Option<OwnedFd>,
    pub(crate) cgroup: Option<RawFd>,
    /// The directory's `cgroup.procs`, opened for writing once a spawn
    /// needs the child to move itself there (no `CLONE_INTO_CGROUP`).
    cgroup_procs: Option<OwnedFd>,
    pdeathsig: Option<(c_int, c_int)>,
    pub(crate) namespaces: u64,
    pub(crate) uid_map: Vec<u8>,
    pub(crate) gid_map: Vec<u8>,
    /// The child leads a new process group, whatever the command says
    /// (its tree's group: `Command::contain_tree`).
    pub(crate) lead_group: bool,
}

/// The most CPUs [`Command::cpu_affinity`](crate::Command::cpu_affinity)
/// accepts, as glibc's dynamic CPU sets allow.
const MAX_CPUS: usize = 1 << 16;

impl Attrs {
    /// Validates the attributes against the child's fds (`slots`, sorted by
    /// target) and lays them out. Every refusal is `InvalidInput`, before any
    /// process exists.
    pub(crate) fn plan(&self, program: &OsStr, slots: &[Slot]) -> io::Result<AttrPlan> {
        macro_rules! bad {
            ($($what:tt)*) => { invalid(program, format_args!($($what)*)) };
        }
        let mapped = |fd: RawFd| slots.binary_search_by_key(&fd, |s| s.target).is_ok();
        let mut plan = AttrPlan::default();

        if self.setsid && self.pgid.is_some() {
            return Err(bad!(
                "setsid() and process_group() conflict: a session leader leads its own group"
            ));
        }
        if let Some(pgid) = self.pgid.filter(|&p| p < 0) {
            return Err(bad!("process group {pgid} is negative"));
        }
        if let Some(fd) = self.ctty {
            if !self.setsid {
                return Err(bad!(
                    "controlling_terminal({fd}) needs setsid(true): only a session leader can acquire one"
                ));
            }
            if !mapped(fd) {
                return Err(bad!(
                    "controlling terminal fd {fd} is not one of the child's fds"
                ));
            }
        }
        if let Some(fd) = self.foreground.filter(|&fd| !mapped(fd)) {
            return Err(bad!(
                "foreground terminal fd {fd} is not one of the child's fds"
            ));
        }
        if self.noctty && (self.setsid || self.ctty.is_some()) {
            return Err(bad!(
                "detach_terminal() conflicts with setsid() and controlling_terminal()"
            ));
        }

        for &(resource, soft, hard) in &self.rlimits {
            if soft > hard {
                let name = Resource::new(resource).map_or("?", Resource::name);
                return Err(bad!(
                    "rlimit {name}: soft limit {soft} is above hard limit {hard}"
                ));
            }
            plan.rlimits.push((resource, soft, hard));
        }
        if let Some(nice) = self.nice.filter(|n| !(-20..=19).contains(n)) {
            return Err(bad!("niceness {nice} is outside -20..=19"));
        }
        if let Some(cpus) = &self.cpus {
            if cpus.is_empty() {
                return Err(bad!("the CPU affinity set is empty"));
            }
            let top = cpus.iter().copied().max().unwrap_or(0);
            if top >= MAX_CPUS {
                return Err(bad!(
                    "CPU {top} is beyond the largest supported, {}",
                    MAX_CPUS - 1
                ));
            }
            plan.cpus = vec![0u64; top / 64 + 1];
            for &cpu in cpus {
                plan.cpus[cpu / 64] |= 1 << (cpu % 64);
            }
        }
        if let Some(mask) = self.umask.filter(|&m| m > 0o777) {
            return Err(bad!("umask {mask:#o} has bits beyond 0o777"));
        }
        if let Some(dir) = &self.chroot {
            plan.chroot = Some(
                CString::new(dir.as_os_str().as_bytes())
                    .map_err(|_| bad!("the chroot directory contains a NUL byte: {dir:?}"))?,
            );
        }

        // std's rule: a root parent that sets a uid but no groups drops its
        // supplementary groups, where permitted; there is nothing to drop
        // (and a credential change to save) when it has none.
        plan.groups = self.groups.clone();
        if plan.groups.is_none()
            && self.uid.is_some()
            && crate::sys::os::is_root()
            && crate::sys::os::has_supplementary_groups()
        {
            plan.groups = Some(Vec::new());
            plan.drop_groups = true;
        }

        for sig in [Signal::KILL, Signal::STOP] {
            if self.ignore.contains(sig) {
                return Err(bad!("{sig:?} cannot be ignored"));
            }
        }

        if self.mount_proc && !self.namespaces.contains(Namespaces::MOUNT) {
            return Err(bad!(
                "mount_proc needs a new mount namespace (Namespaces::MOUNT): it would \
                 mount over the parent's /proc"
            ));
        }

        plan.namespaces = self.namespaces.clone_flags();
        let user_ns = self.namespaces.contains(Namespaces::USER);
        for (name, map, text) in [
            ("uid_map", &self.uid_map, &mut plan.uid_map),
            ("gid_map", &self.gid_map, &mut plan.gid_map),
        ] {
            if map.is_empty() {
                continue;
            }
            if !user_ns {
                return Err(bad!("{name} needs a new user namespace (Namespaces::USER)"));
            }
            for line in map {
                if line.count == 0 {
                    return Err(bad!("{name} line {line:?} maps no ids"));
                }
                *text = [
                    std::mem::take(text),
                    format!("{} {} {}\n", line.inside, line.outside, line.count).into_bytes(),
                ]
                .concat();
            }
        }

        if let Some(sig) = self.pdeathsig {
            // In a new PID namespace getppid() says 0: no race check there.
            let parent = if self.namespaces.contains(Namespaces::PID) {
                0
            } else {
                std::process::id() as c_int
            };
            plan.pdeathsig = Some((sig.as_raw(), parent));
        }

        match &self.cgroup {
            None => {}
            Some(Cgroup::Fd(fd)) => {
                if !crate::sys::os::is_cgroup2_dir(fd.as_fd()) {
                    return Err(bad!(
                        "cgroup fd {} is not a cgroup v2 directory",
                        fd.as_raw_fd()
                    ));
                }
                plan.cgroup = Some(fd.as_raw_fd());
            }
            Some(Cgroup::Path(dir)) => {
                let opened = std::fs::File::options()
                    .read(true)
                    .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                    .open(dir)
                    .map_err(|e| bad!("cgroup directory {dir:?}: {e}"))?;
                let fd = crate::sys::os::above_stdio(OwnedFd::from(opened));
                if !crate::sys::os::is_cgroup2_dir(fd.as_fd()) {
                    return Err(bad!("{dir:?} is not a cgroup v2 directory"));
                }
                plan.cgroup = Some(fd.as_raw_fd());
                plan.cgroup_opened = Some(fd);
            }
        }
        Ok(plan)
    }
}

impl AttrPlan {
    /// Starts the child in the cgroup directory `dir` (a scope's, which
    /// outlives the spawn) in place of the command's.
    pub(crate) fn use_cgroup(&mut self, dir: BorrowedFd<'_>) {
        self.cgroup = Some(dir.as_raw_fd());
        self.cgroup_opened = None;
        self.cgroup_procs = None;
    }

    /// The cgroup's `cgroup.procs`, opened for writing (close-on-exec,
    /// above fd 2) on first use: where the child writes `0` to move itself
    /// into the cgroup when the kernel cannot start it there. `None`
    /// without a cgroup.
    pub(crate) fn cgroup_procs(&mut self) -> Option<io::Result<RawFd>> {
        let dir = self.cgroup?;
        if let Some(fd) = &self.cgroup_procs {
            return Some(Ok(fd.as_raw_fd()));
        }
        let opened = crate::sys::os::open_at(dir, c"cgroup.procs", libc::O_WRONLY);
        Some(opened.map(|fd| {
            let raw = fd.as_raw_fd();
            self.cgroup_procs = Some(fd);
            raw
        }))
    }

    /// The child's view, borrowing the plan's buffers.
    pub(crate) fn child_attrs<'a>(&'a self, attrs: &Attrs) -> ChildAttrs<'a> {
        ChildAttrs {
            setsid: attrs.setsid,
            // A session leader leads its group already.
            pgid: if self.lead_group && !attrs.setsid {
                Some(0)
            } else {
                attrs.pgid
            },
            rlimits: &self.rlimits,
            nice: attrs.nice,
            cpus: &self.cpus,
            umask: attrs.umask,
            chroot: self.chroot.as_deref(),
            mount_proc: attrs.mount_proc,
            groups: self.groups.as_deref(),
            drop_groups: self.drop_groups,
            gid: attrs.gid,
            uid: attrs.uid,
            cwd_fd: attrs.cwd_fd.as_ref().map(AsRawFd::as_raw_fd),
            noctty: attrs.noctty,
            ctty: attrs.ctty,
            foreground: attrs.foreground,
            pdeathsig: self.pdeathsig,
            no_new_privs: attrs.no_new_privs,
            traceme: attrs.traceme,
        }
    }

    /// The chroot directory, for error messages.
    pub(crate) fn chroot(&self) -> Option<&CString> {
        self.chroot.as_ref()
    }
}

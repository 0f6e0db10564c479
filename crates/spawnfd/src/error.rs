//! The one error type of a failed spawn: which step failed, with which errno,
//! on what.

use std::error::Error;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// The step of a spawn that failed.
///
/// Steps marked *child* run inside the new process, before `execve`; the
/// others run in the parent. [`Step::CHILD_ORDER`] lists the child's steps
/// in the order it runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Parent: creating a pipe for `Stdio::piped()`.
    Pipe,
    /// Parent: `clone3`/`clone` refused to create the process, or to
    /// create it in its cgroup; also the child's joining its cgroup where
    /// the kernel cannot start it there (before Linux 5.7, or on the
    /// `clone` fallback).
    Clone,
    /// Parent: writing the `uid_map`, `setgroups` or `gid_map` of a new
    /// user namespace ([`SpawnError::path`] is the file).
    IdMap,
    /// Child: setting a signal's disposition ([`SpawnError::signal`]).
    SignalDisposition,
    /// Child: `setsid`.
    Setsid,
    /// Child: `setpgid` ([`SpawnError::id`] is the group asked for).
    ProcessGroup,
    /// Child: `prlimit` ([`SpawnError::resource`]).
    Rlimit,
    /// Child: `setpriority` ([`SpawnError::id`] is the niceness).
    Nice,
    /// Child: `sched_setaffinity`.
    CpuAffinity,
    /// Child: `chroot` ([`SpawnError::path`]).
    Chroot,
    /// Child: `setgroups`.
    Setgroups,
    /// Child: `setgid` ([`SpawnError::id`]).
    Setgid,
    /// Child: `setuid` ([`SpawnError::id`]).
    Setuid,
    /// Child: changing to the working directory ([`SpawnError::path`], or
    /// [`SpawnError::fd`] for a directory given as an fd).
    Chdir,
    /// Child: opening `/dev/null` for `Stdio::null()` or for a closed
    /// standard fd ([`SpawnError::fd`] is the child fd it was for).
    DevNull,
    /// Child: placing a file descriptor at its child fd
    /// ([`SpawnError::fd`] is the child fd).
    FdMapping,
    /// Child: detaching from the controlling terminal (`TIOCNOTTY`).
    DetachTerminal,
    /// Child: acquiring the controlling terminal (`TIOCSCTTY`,
    /// [`SpawnError::fd`]).
    ControllingTerminal,
    /// Child: `tcsetpgrp` ([`SpawnError::fd`]).
    Foreground,
    /// Child: `PR_SET_PDEATHSIG` ([`SpawnError::signal`]).
    ParentDeathSignal,
    /// Child: `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Child: `PTRACE_TRACEME`.
    Ptrace,
    /// Child: setting the signal mask.
    SignalMask,
    /// Child: closing the file descriptors the child was not given.
    CloseFds,
    /// Child: `execve` ([`SpawnError::path`] is the file that failed, when
    /// one file is to blame).
    Exec,
    /// Exec in place ([`Command::exec`](crate::Command::exec)): `unshare`
    /// refused the new namespaces, before any other step.
    Unshare,
    /// Child: [`Command::mount_proc`](crate::Command::mount_proc), making
    /// the mount tree private (before `chroot`; [`SpawnError::path`] is
    /// `/`) or mounting procfs on `/proc` (after it; the path is `/proc`).
    MountProc,
    /// Child: a [`Command::pre_exec`](crate::Command::pre_exec) hook
    /// returned an error ([`SpawnError::hook`] is its index, in the order
    /// the hooks were added; the errno is the one it returned, `EINVAL`
    /// for an error without one) or panicked (no errno).
    Hook,
    /// Child: the capability sets
    /// ([`Command::capability_bounding_set`](crate::Command::capability_bounding_set),
    /// `inheritable_capabilities`, `ambient_capabilities`,
    /// `keep_capabilities`): `PR_SET_KEEPCAPS` and the bounding set before
    /// the credentials change, `capset` and the ambient set after it.
    Capabilities,
    /// Child: `landlock_restrict_self`
    /// ([`Command::landlock_ruleset`](crate::Command::landlock_ruleset)),
    /// after the hooks, before the seccomp filter and exec.
    Landlock,
    /// Child: installing the seccomp filter
    /// ([`Command::seccomp_filter`](crate::Command::seccomp_filter)), the
    /// last step before exec.
    Seccomp,
}

/// Every step, in declaration order: step `code` is `STEPS[code - 1]`.
const STEPS: [Step; 31] = [
    Step::Pipe,
    Step::Clone,
    Step::IdMap,
    Step::SignalDisposition,
    Step::Setsid,
    Step::ProcessGroup,
    Step::Rlimit,
    Step::Nice,
    Step::CpuAffinity,
    Step::Chroot,
    Step::Setgroups,
    Step::Setgid,
    Step::Setuid,
    Step::Chdir,
    Step::DevNull,
    Step::FdMapping,
    Step::DetachTerminal,
    Step::ControllingTerminal,
    Step::Foreground,
    Step::ParentDeathSignal,
    Step::NoNewPrivs,
    Step::Ptrace,
    Step::SignalMask,
    Step::CloseFds,
    Step::Exec,
    Step::Unshare,
    Step::MountProc,
    Step::Hook,
    Step::Capabilities,
    Step::Landlock,
    Step::Seccomp,
];

impl Step {
    /// The steps a child runs, in the order it runs them (those it has
    /// something to do for): joining its cgroup first (only where the
    /// kernel could not start it there: [`Clone`](Step::Clone), the step a
    /// refusal of `CLONE_INTO_CGROUP` names), exec last.
    /// [`Chdir`](Step::Chdir) appears twice: a working directory given as
    /// an fd is entered before the fds are placed (which may reuse its
    /// number), one given by path after `chroot` and the credentials (so
    /// it is resolved in the new root, as the new user). So does
    /// [`MountProc`](Step::MountProc): the mount tree is made private
    /// before `chroot` (propagation changes only at a mount's root) and
    /// `/proc` is mounted after it, on the new root's `/proc`. The file
    /// mode mask, which cannot fail and so has no step, is set just after
    /// [`CpuAffinity`](Step::CpuAffinity). The
    /// [`pre_exec`](crate::Command::pre_exec) hooks ([`Hook`](Step::Hook))
    /// run last before exec, once everything else is in place, but for the
    /// Landlock ruleset and the seccomp filter, which would restrict them.
    /// [`Capabilities`](Step::Capabilities) appears twice too: the
    /// bounding set and `PR_SET_KEEPCAPS` before the credentials, the
    /// inheritable and ambient sets after.
    /// [`Command::exec`](crate::Command::exec) runs the same steps, after
    /// [`Unshare`](Step::Unshare).
    ///
    /// ```
    /// use spawnfd::Step;
    ///
    /// let order = Step::CHILD_ORDER;
    /// let position = |step| order.iter().position(|&s| s == step).unwrap();
    /// // Limits are set while the child still has the parent's privileges.
    /// assert!(position(Step::Rlimit) < position(Step::Setuid));
    /// assert_eq!(order.last(), Some(&Step::Exec));
    /// ```
    pub const CHILD_ORDER: &'static [Step] = &[
        Step::Clone,
        Step::SignalDisposition,
        Step::Setsid,
        Step::ProcessGroup,
        Step::Chdir,
        Step::DevNull,
        Step::FdMapping,
        Step::DetachTerminal,
        Step::ControllingTerminal,
        Step::Foreground,
        Step::Rlimit,
        Step::Nice,
        Step::CpuAffinity,
        Step::MountProc,
        Step::Chroot,
        Step::MountProc,
        Step::Capabilities,
        Step::Setgroups,
        Step::Setgid,
        Step::Setuid,
        Step::Capabilities,
        Step::Chdir,
        Step::ParentDeathSignal,
        Step::NoNewPrivs,
        Step::Ptrace,
        Step::SignalMask,
        Step::CloseFds,
        Step::Hook,
        Step::Landlock,
        Step::Seccomp,
        Step::Exec,
    ];

    /// A short lower-case name, as used in error messages: mostly the
    /// system call's.
    pub fn name(self) -> &'static str {
        match self {
            Step::Pipe => "pipe",
            Step::Clone => "clone",
            Step::IdMap => "write id map",
            Step::SignalDisposition => "signal disposition",
            Step::Setsid => "setsid",
            Step::ProcessGroup => "setpgid",
            Step::Rlimit => "setrlimit",
            Step::Nice => "setpriority",
            Step::CpuAffinity => "sched_setaffinity",
            Step::Chroot => "chroot",
            Step::Setgroups => "setgroups",
            Step::Setgid => "setgid",
            Step::Setuid => "setuid",
            Step::Chdir => "chdir",
            Step::DevNull => "open /dev/null",
            Step::FdMapping => "fd mapping",
            Step::DetachTerminal => "detach terminal",
            Step::ControllingTerminal => "set controlling terminal",
            Step::Foreground => "tcsetpgrp",
            Step::ParentDeathSignal => "set parent-death signal",
            Step::NoNewPrivs => "set no_new_privs",
            Step::Ptrace => "ptrace traceme",
            Step::SignalMask => "signal mask",
            Step::CloseFds => "close fds",
            Step::Exec => "exec",
            Step::Unshare => "unshare",
            Step::MountProc => "mount proc",
            Step::Hook => "pre_exec hook",
            Step::Capabilities => "capabilities",
            Step::Landlock => "landlock_restrict_self",
            Step::Seccomp => "seccomp filter",
        }
    }

    /// The step with this [`code`](Step::code), if there is one.
    pub fn from_code(code: u32) -> Option<Step> {
        STEPS
            .get(usize::try_from(code).ok()?.checked_sub(1)?)
            .copied()
    }

    /// A stable number for the step, never 0: the number the child writes
    /// into its report, and the one `spawnfd exec --status-fd` writes.
    /// 1 is [`Pipe`](Step::Pipe), then each variant in the order they are
    /// declared here, up to 25 for [`Exec`](Step::Exec), 26 for
    /// [`Unshare`](Step::Unshare), 27 for [`MountProc`](Step::MountProc),
    /// 28 for [`Hook`](Step::Hook), 29 for
    /// [`Capabilities`](Step::Capabilities), 30 for
    /// [`Landlock`](Step::Landlock) and 31 for [`Seccomp`](Step::Seccomp);
    /// a new step gets the next free number.
    pub const fn code(self) -> u32 {
        self as u32 + 1
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a failed step was working on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    None,
    Path(PathBuf),
    /// A program searched for in `PATH` and found nowhere usable.
    Searched,
    /// A file that exists but whose `execve` said `ENOENT`: its `#!`
    /// interpreter or ELF loader is missing.
    Interpreter(PathBuf),
    Fd(RawFd),
    /// The directory fd of `current_dir_fd`, as the parent numbers it.
    DirFd(RawFd),
    Signal(i32),
    /// A user, group or process group id, or a niceness.
    Id(i64),
    /// An `RLIMIT_*` resource.
    Resource(i32),
    /// The capability being dropped or raised.
    Capability(u32),
    /// The child died before `execve` without reporting (for example,
    /// killed by a signal); the value is the signal number.
    Died(i32),
    /// The `pre_exec` hook of this index returned an error.
    Hook(usize),
    /// The `pre_exec` hook of this index panicked.
    HookPanicked(usize),
    /// Creating the child failed because the kernel or its sandbox lacks or
    /// refuses a feature: what, and each method's answer ("new user
    /// namespaces are refused here: EPERM from clone3 and clone").
    Unavailable(String),
}

/// A spawn that failed, with the exact step and errno.
///
/// `Command::spawn` and friends return it inside an [`io::Error`] whose
/// [`kind()`](io::Error::kind) is the kind of the errno. Reach it with
/// [`SpawnError::from_io`] (or `err.get_ref()` and `downcast_ref`):
///
/// ```
/// use spawnfd::{Command, SpawnError, Step};
///
/// let err = Command::new("/bin/true").current_dir("/nonexistent").spawn().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// let detail = SpawnError::from_io(&err).unwrap();
/// assert_eq!(detail.step(), Step::Chdir);
/// assert_eq!(detail.raw_os_error(), Some(libc::ENOENT));
/// assert_eq!(
///     err.to_string(),
///     r#"spawn "/bin/true": chdir "/nonexistent": No such file or directory (os error 2)"#
/// );
/// ```
///
/// Note that an `io::Error` that carries a payload has no errno of its own:
/// `err.raw_os_error()` is `None`; use
/// `SpawnError::from_io(&err).and_then(SpawnError::raw_os_error)`.
#[derive(Debug)]
pub struct SpawnError {
    step: Step,
    /// Always a raw OS error (`from_raw_os_error`), so that `source()` can
    /// hand out a reference to it.
    os: Option<io::Error>,
    program: OsString,
    detail: Detail,
}

impl Clone for SpawnError {
    fn clone(&self) -> Self {
        SpawnError::new(
            self.step,
            self.raw_os_error(),
            &self.program,
            self.detail.clone(),
        )
    }
}

impl PartialEq for SpawnError {
    fn eq(&self, other: &Self) -> bool {
        self.step == other.step
            && self.raw_os_error() == other.raw_os_error()
            && self.program == other.program
            && self.detail == other.detail
    }
}

impl Eq for SpawnError {}

impl SpawnError {
    pub(crate) fn new(step: Step, errno: Option<i32>, program: &OsStr, detail: Detail) -> Self {
        SpawnError {
            step,
            os: errno.map(io::Error::from_raw_os_error),
            program: program.to_owned(),
            detail,
        }
    }

    /// The `SpawnError` inside an `io::Error` returned by this crate, if any.
    pub fn from_io(err: &io::Error) -> Option<&SpawnError> {
        err.get_ref()?.downcast_ref()
    }

    /// The step that failed.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The errno the failing system call returned.
    ///
    /// `None` only when the child died before `execve` without reporting a
    /// cause (see [`SpawnError::died_by_signal`]) or a `pre_exec` hook
    /// panicked (see [`SpawnError::hook_panicked`]).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.os.as_ref().and_then(io::Error::raw_os_error)
    }

    /// The program as given to `Command::new`.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The path the step worked on: the working directory for
    /// [`Step::Chdir`], the file `execve` failed on for [`Step::Exec`].
    pub fn path(&self) -> Option<&Path> {
        match &self.detail {
            Detail::Path(p) | Detail::Interpreter(p) => Some(p),
            _ => None,
        }
    }

    /// Whether `execve` failed with `ENOENT` on a file that exists, which
    /// means that the interpreter named by its `#!` line (or the ELF loader
    /// it asks for) is missing; [`SpawnError::path`] is the file.
    pub fn missing_interpreter(&self) -> bool {
        matches!(self.detail, Detail::Interpreter(_))
    }

    /// The child fd the step worked on, for [`Step::FdMapping`],
    /// [`Step::DevNull`] and [`Step::Pipe`].
    ///
    /// For [`Step::Chdir`] with a directory given to
    /// [`Command::current_dir_fd`](crate::Command::current_dir_fd), the fd
    /// as the parent numbers it.
    pub fn fd(&self) -> Option<RawFd> {
        match self.detail {
            Detail::Fd(fd) | Detail::DirFd(fd) => Some(fd),
            _ => None,
        }
    }

    /// The id the step tried to set: the uid for [`Step::Setuid`], the gid
    /// for [`Step::Setgid`], the group for [`Step::ProcessGroup`], the
    /// niceness for [`Step::Nice`].
    pub fn id(&self) -> Option<i64> {
        match self.detail {
            Detail::Id(id) => Some(id),
            _ => None,
        }
    }

    /// The capability that could not be dropped from the bounding set or
    /// raised in the ambient set, for [`Step::Capabilities`].
    pub fn capability(&self) -> Option<crate::Capability> {
        match self.detail {
            Detail::Capability(cap) => crate::Capability::new(cap),
            _ => None,
        }
    }

    /// The resource whose limit could not be set, for [`Step::Rlimit`].
    pub fn resource(&self) -> Option<crate::Resource> {
        match self.detail {
            Detail::Resource(r) => crate::Resource::new(r),
            _ => None,
        }
    }

    /// The signal whose disposition could not be set, for
    /// [`Step::SignalDisposition`] and [`Step::ParentDeathSignal`].
    pub fn signal(&self) -> Option<i32> {
        match self.detail {
            Detail::Signal(sig) => Some(sig),
            _ => None,
        }
    }

    /// The index of the [`pre_exec`](crate::Command::pre_exec) hook that
    /// failed, for [`Step::Hook`]: 0 for the first one added.
    ///
    /// ```
    /// use spawnfd::{Command, SpawnError, Step};
    ///
    /// let mut cmd = Command::new("true");
    /// // SAFETY: the hooks make no system call and allocate nothing.
    /// unsafe {
    ///     cmd.pre_exec(|| Ok(()));
    ///     cmd.pre_exec(|| Err(std::io::Error::from_raw_os_error(libc::EPERM)));
    /// }
    /// let err = cmd.spawn().unwrap_err();
    /// let err = SpawnError::from_io(&err).unwrap();
    /// assert_eq!((err.step(), err.hook()), (Step::Hook, Some(1)));
    /// assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    /// ```
    pub fn hook(&self) -> Option<usize> {
        match self.detail {
            Detail::Hook(i) | Detail::HookPanicked(i) => Some(i),
            _ => None,
        }
    }

    /// Whether the failing [`pre_exec`](crate::Command::pre_exec) hook
    /// panicked (the child then reported the panic instead of unwinding;
    /// there is no errno).
    ///
    /// ```no_run
    /// use spawnfd::{Command, SpawnError};
    ///
    /// let mut cmd = Command::new("true");
    /// // Hooks must not panic (the rules of Command::pre_exec); when one
    /// // does all the same, the spawn says so.
    /// // SAFETY: breaks the rules on purpose, in a program of one thread.
    /// unsafe { cmd.pre_exec(|| panic!("not ready")) };
    /// let err = cmd.spawn().unwrap_err();
    /// let err = SpawnError::from_io(&err).unwrap();
    /// assert!(err.hook_panicked());
    /// assert_eq!(err.raw_os_error(), None);
    /// ```
    pub fn hook_panicked(&self) -> bool {
        matches!(self.detail, Detail::HookPanicked(_))
    }

    /// The signal that killed the child before it could exec or report,
    /// if that is how the spawn failed.
    pub fn died_by_signal(&self) -> Option<i32> {
        match self.detail {
            Detail::Died(sig) => Some(sig),
            _ => None,
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spawn {:?}: {}", self.program, self.step)?;
        match &self.detail {
            Detail::None => {}
            Detail::Path(p) => write!(f, " {p:?}")?,
            Detail::Searched => write!(f, " (searched PATH)")?,
            Detail::Interpreter(p) => write!(f, " {p:?} (its interpreter or loader is missing)")?,
            Detail::Fd(fd) => write!(f, " (child fd {fd})")?,
            Detail::DirFd(fd) => write!(f, " (directory fd {fd})")?,
            Detail::Signal(sig) => write!(f, " (signal {sig})")?,
            Detail::Id(id) => write!(f, " {id}")?,
            Detail::Capability(cap) => match crate::Capability::new(*cap) {
                Some(cap) => write!(f, " {}", cap.name())?,
                None => write!(f, " {cap}")?,
            },
            Detail::Resource(r) => match crate::Resource::new(*r) {
                Some(r) => write!(f, " {}", r.name())?,
                None => write!(f, " {r}")?,
            },
            Detail::Died(sig) => return write!(f, ": child died by signal {sig} before exec"),
            Detail::Hook(i) => write!(f, " {i}")?,
            Detail::HookPanicked(i) => return write!(f, " {i} panicked"),
            Detail::Unavailable(why) => return write!(f, ": {why}"),
        }
        match &self.os {
            Some(e) => write!(f, ": {e}"),
            None => Ok(()),
        }
    }
}

impl Error for SpawnError {
    /// The OS error of the failing system call.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.os.as_ref().map(|e| e as &(dyn Error + 'static))
    }
}

impl From<SpawnError> for io::Error {
    fn from(err: SpawnError) -> io::Error {
        let kind = match &err.os {
            Some(e) => e.kind(),
            None => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// An `InvalidInput` error for a request refused before any process exists.
pub(crate) fn invalid(program: &OsStr, what: fmt::Arguments<'_>) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("spawn {program:?}: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of `fn NAME` in `source`: from its line to the next item
    /// at the start of a line.
    fn body<'a>(source: &'a str, name: &str) -> &'a str {
        let start = source
            .find(&format!("\nfn {name}("))
            .or_else(|| source.find(&format!("\npub(super) fn {name}(")))
            .unwrap_or_else(|| panic!("no fn {name} in the child's source"));
        let rest = &source[start + 1..];
        let end = rest.find("\n}\n").expect("the end of the function");
        &rest[..end]
    }

    /// The steps `fn NAME` stages, in the order of its lines, with the
    /// helpers it calls expanded in place, and `umask` where it is set.
    fn staged(source: &str, name: &str) -> Vec<String> {
        let mut order = vec![];
        for line in body(source, name).lines().skip(1) {
            if let Some((_, rest)) = line.split_once("stage(report, Step::") {
                order.push(rest.split(')').next().unwrap().to_string());
            } else if line.contains("SYS_umask") {
                order.push("umask".to_string());
            }
            for helper in ["set_terminal", "set_credentials"] {
                if line.contains(&format!(" {helper}(report")) {
                    order.extend(staged(source, helper));
                }
            }
            // The sandbox steps, in in_child/sandbox.rs.
            for helper in ["before_credentials", "after_credentials", "restrict"] {
                if line.contains(&format!("sandbox::{helper}(report")) {
                    order.extend(staged(include_str!("in_child/sandbox.rs"), helper));
                }
            }
        }
        order
    }

    #[test]
    fn child_order_is_the_order_of_the_child_code() {
        // The documented order, read from the code that runs in the child:
        // the help of the spawnfd command is built from CHILD_ORDER, so it
        // must not drift from what the child does.
        let source = include_str!("in_child/mod.rs");
        let code = staged(source, "steps");
        let mut documented: Vec<String> =
            Step::CHILD_ORDER.iter().map(|s| format!("{s:?}")).collect();
        let affinity = documented.iter().position(|s| s == "CpuAffinity").unwrap();
        documented.insert(affinity + 1, "umask".to_string());
        assert_eq!(code, documented);
    }

    #[test]
    fn step_codes_round_trip() {
        for (i, &step) in STEPS.iter().enumerate() {
            assert_eq!(step.code() as usize, i + 1, "{step:?}");
            assert_eq!(Step::from_code(step.code()), Some(step));
        }
        assert_eq!(Step::from_code(0), None);
        assert_eq!(Step::from_code(STEPS.len() as u32 + 1), None);
    }
}

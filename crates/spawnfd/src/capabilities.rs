//! The capability report: which mechanism the library uses here for each
//! feature, and why, from probes of the running kernel and sandbox.
//!
//! Every probe asks the kernel now (nothing is read from the library's
//! caches), creates no process that outlives it, leaves no fd open and
//! changes no process-wide state (see `sys/probe.rs` for how process
//! creation is probed without creating a process).

use std::fmt;
use std::os::fd::AsRawFd;

use crate::sys::probe::{self, Created};

const CLONE_PIDFD: u64 = libc::CLONE_PIDFD as u64;
const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
/// Since Linux 5.5.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// Since Linux 5.7.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// Since Linux 5.6.
const CLONE_NEWTIME: u64 = 0x80;
/// Linux 7.1: the child is reaped by the kernel at its exit (its exit
/// signal must be 0).
const CLONE_AUTOREAP: u64 = 1 << 34;
/// Linux 7.1: the child gets `no_new_privs`.
const CLONE_NNP: u64 = 1 << 35;
/// Linux 7.1: the child is killed when the last copy of the pidfd clone3
/// returned is closed (needs `CLONE_PIDFD` and `CLONE_AUTOREAP`; without
/// `CLONE_NNP`, `CAP_SYS_ADMIN`).
const CLONE_PIDFD_AUTOKILL: u64 = 1 << 36;
/// Since Linux 6.9.
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 4;
/// Since Linux 5.11.
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// A feature of the kernel the library uses, or falls back from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// How children are created: `clone3`, `clone3` without
    /// `CLONE_CLEAR_SIGHAND`, or `clone`, each with `CLONE_PIDFD`.
    ProcessCreation,
    /// `CLONE_CLEAR_SIGHAND` (Linux 5.5): the kernel resets caught signals
    /// in the child.
    ClearSighand,
    /// `CLONE_INTO_CGROUP` (Linux 5.7): a child started in a cgroup.
    IntoCgroup,
    /// `clone` with `CLONE_PIDFD` (Linux 5.2), the fallback where `clone3`
    /// is refused.
    ClonePidfd,
    /// `pidfd_open` (Linux 5.3).
    PidfdOpen,
    /// `waitid(P_PIDFD)` (Linux 5.4): waiting on exactly one child.
    WaitidPidfd,
    /// `pidfd_send_signal` (Linux 5.1).
    PidfdSendSignal,
    /// `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9): a signal to a child's
    /// process group through its pidfd.
    SignalProcessGroup,
    /// `PIDFD_INFO_EXIT` (Linux 6.15): the exit status the kernel keeps for
    /// a pidfd after another process reaped the child.
    KeptExitStatus,
    /// `close_range` (Linux 5.9).
    CloseRange,
    /// `CLOSE_RANGE_CLOEXEC` (Linux 5.11).
    CloseRangeCloexec,
    /// New time namespaces (`CLONE_NEWTIME`, Linux 5.6; only `clone3` can
    /// carry the flag).
    TimeNamespace,
    /// New user namespaces, for this process's credentials.
    UserNamespace,
    /// A cgroup v2 hierarchy mounted here.
    Cgroup2,
    /// A `CLONE_VM` child shares this process's memory. Emulators that run
    /// such a clone as a fork (valgrind, qemu-user) do not: every child is
    /// then made on the fork path.
    SharedMemoryChild,
    /// `CLONE_PIDFD_AUTOKILL` (Linux 7.1): a child the kernel kills when
    /// the last copy of its clone3 pidfd is closed, however the process
    /// holding it ends. Reported, not used: see
    /// [`Scope::kill_on_process_exit`](crate::Scope::kill_on_process_exit)
    /// for what the library offers instead.
    PidfdAutokill,
}

impl Feature {
    /// Every feature, in the order of the report.
    pub const ALL: &'static [Feature] = &[
        Feature::ProcessCreation,
        Feature::ClearSighand,
        Feature::IntoCgroup,
        Feature::ClonePidfd,
        Feature::PidfdOpen,
        Feature::WaitidPidfd,
        Feature::PidfdSendSignal,
        Feature::SignalProcessGroup,
        Feature::KeptExitStatus,
        Feature::CloseRange,
        Feature::CloseRangeCloexec,
        Feature::TimeNamespace,
        Feature::UserNamespace,
        Feature::Cgroup2,
        Feature::SharedMemoryChild,
        Feature::PidfdAutokill,
    ];

    /// A stable `snake_case` key (the CLI's JSON uses it).
    pub fn key(self) -> &'static str {
        match self {
            Feature::ProcessCreation => "process_creation",
            Feature::ClearSighand => "clone_clear_sighand",
            Feature::IntoCgroup => "clone_into_cgroup",
            Feature::ClonePidfd => "clone_pidfd",
            Feature::PidfdOpen => "pidfd_open",
            Feature::WaitidPidfd => "waitid_pidfd",
            Feature::PidfdSendSignal => "pidfd_send_signal",
            Feature::SignalProcessGroup => "pidfd_signal_process_group",
            Feature::KeptExitStatus => "pidfd_info_exit",
            Feature::CloseRange => "close_range",
            Feature::CloseRangeCloexec => "close_range_cloexec",
            Feature::TimeNamespace => "time_namespace",
            Feature::UserNamespace => "user_namespace",
            Feature::Cgroup2 => "cgroup2",
            Feature::SharedMemoryChild => "clone_vm_shared",
            Feature::PidfdAutokill => "clone_pidfd_autokill",
        }
    }

    /// The name a person reads in the report.
    pub fn title(self) -> &'static str {
        match self {
            Feature::ProcessCreation => "process creation",
            Feature::ClearSighand => "CLONE_CLEAR_SIGHAND",
            Feature::IntoCgroup => "CLONE_INTO_CGROUP",
            Feature::ClonePidfd => "clone with CLONE_PIDFD",
            Feature::PidfdOpen => "pidfd_open",
            Feature::WaitidPidfd => "waitid(P_PIDFD)",
            Feature::PidfdSendSignal => "pidfd_send_signal",
            Feature::SignalProcessGroup => "PIDFD_SIGNAL_PROCESS_GROUP",
            Feature::KeptExitStatus => "kept exit status (PIDFD_INFO_EXIT)",
            Feature::CloseRange => "close_range",
            Feature::CloseRangeCloexec => "CLOSE_RANGE_CLOEXEC",
            Feature::TimeNamespace => "time namespaces",
            Feature::UserNamespace => "user namespaces",
            Feature::Cgroup2 => "cgroup v2",
            Feature::SharedMemoryChild => "CLONE_VM children sharing memory",
            Feature::PidfdAutokill => "CLONE_PIDFD_AUTOKILL",
        }
    }
}

/// One call a probe made, and how the kernel answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    call: String,
    errno: Option<i32>,
    note: &'static str,
}

impl Probe {
    fn new(call: impl Into<String>, errno: Option<i32>, note: &'static str) -> Probe {
        Probe {
            call: call.into(),
            errno,
            note,
        }
    }

    /// The call, as C would write it (`clone3({CLONE_PIDFD}, 64)`).
    pub fn call(&self) -> &str {
        &self.call
    }

    /// The errno the call failed with; `None` if it succeeded.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// The errno's name (`"ENOSYS"`), `"ok"` for a success.
    pub fn outcome(&self) -> String {
        match self.errno {
            None => "ok".to_owned(),
            Some(e) => errno_name(e),
        }
    }

    /// What the answer means, when the errno alone does not say
    /// (`"accepted: only the unwritable pidfd address failed"`).
    pub fn note(&self) -> &str {
        self.note
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.call, self.outcome())?;
        if !self.note.is_empty() {
            write!(f, " ({})", self.note)?;
        }
        Ok(())
    }
}

/// What the report says about one [`Feature`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureReport {
    feature: Feature,
    available: bool,
    mechanism: Option<String>,
    reason: String,
    probes: Vec<Probe>,
}

impl FeatureReport {
    /// The feature.
    pub fn feature(&self) -> Feature {
        self.feature
    }

    /// Whether the kernel (and its sandbox) gives the feature here.
    pub fn is_available(&self) -> bool {
        self.available
    }

    /// What the library uses here for this feature: the feature itself
    /// when available (`"clone3"`), its fallback when not (`"the child
    /// resets each caught signal itself"`); `None` where the library has no
    /// fallback (requests that need it fail with `Unsupported`).
    pub fn mechanism(&self) -> Option<&str> {
        self.mechanism.as_deref()
    }

    /// Why, from the probes: "clone3 gave ENOSYS".
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The calls made, with their answers.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }
}

impl fmt::Display for FeatureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = self.feature.title();
        match (self.available, &self.mechanism) {
            (true, Some(m)) => write!(f, "{title}: uses {m} because {}", self.reason),
            (true, None) => write!(f, "{title}: available because {}", self.reason),
            (false, Some(m)) => {
                write!(f, "{title}: unavailable: {}; uses {m} instead", self.reason)
            }
            (false, None) => write!(f, "{title}: unavailable: {}", self.reason),
        }
    }
}

/// What this kernel and sandbox give the library: the kernel release and,
/// for each [`Feature`], the mechanism used here and why. Made by
/// [`capabilities`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    kernel_release: String,
    machine: String,
    features: Vec<FeatureReport>,
}

impl Capabilities {
    /// The kernel release, as `uname -r` prints it (`"6.18.0"`).
    pub fn kernel_release(&self) -> &str {
        &self.kernel_release
    }

    /// The machine, as `uname -m` prints it (`"x86_64"`).
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// Every feature's report, in the order of [`Feature::ALL`].
    pub fn features(&self) -> &[FeatureReport] {
        &self.features
    }

    /// The report on `feature`.
    pub fn get(&self, feature: Feature) -> Option<&FeatureReport> {
        self.features.iter().find(|r| r.feature == feature)
    }

    /// Whether `feature` is available here (`false` if not reported).
    pub fn is_available(&self, feature: Feature) -> bool {
        self.get(feature).is_some_and(FeatureReport::is_available)
    }

    /// The features that are not available here.
    pub fn unavailable(&self) -> impl Iterator<Item = &FeatureReport> {
        self.features.iter().filter(|r| !r.available)
    }

    /// One line: how many features are available, and which are not.
    pub fn summary(&self) -> String {
        let missing: Vec<&str> = self.unavailable().map(|r| r.feature.title()).collect();
        let total = self.features.len();
        if missing.is_empty() {
            format!("all {total} features available")
        } else {
            format!(
                "{} of {total} features available; unavailable: {}",
                total - missing.len(),
                missing.join(", ")
            )
        }
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kernel: Linux {} ({})",
            self.kernel_release, self.machine
        )?;
        for report in &self.features {
            writeln!(f, "{report}")?;
            for probe in &report.probes {
                writeln!(f, "    {probe}")?;
            }
        }
        write!(f, "summary: {}", self.summary())
    }
}

/// Probes the running kernel and its sandbox (seccomp filters, sysctls,
/// privileges) and reports, for each [`Feature`], the mechanism the
/// library uses here and why, with the calls made and the kernel's
/// answers (errno names).
///
/// The probes ask the kernel now; none creates a process that outlives
/// it, leaves an fd open or changes process-wide state. Process creation
/// is probed with requests that fail only at the last step (the pidfd's
/// address is unwritable: `EFAULT` means the kernel took the request);
/// the kept exit status needs a child that has exited, so one is created,
/// exits at once and is reaped (no exit signal is sent) before this
/// returns. It takes well under a millisecond per probe.
///
/// ```
/// use spawnfd::{Feature, capabilities};
///
/// let caps = capabilities();
/// println!("{caps}");
/// let creation = caps.get(Feature::ProcessCreation).unwrap();
/// // "clone3", "clone3 without CLONE_CLEAR_SIGHAND" or "clone" where
/// // processes can be created with a pidfd.
/// if let Some(method) = creation.mechanism() {
///     assert!(method.starts_with("clone"), "{method}");
/// }
/// for missing in caps.unavailable() {
///     eprintln!("{}: {}", missing.feature().title(), missing.reason());
/// }
/// ```
pub fn capabilities() -> Capabilities {
    let (kernel_release, machine) = probe::uname();
    let mut features = Vec::with_capacity(Feature::ALL.len());
    let creation = probe_creation();
    features.push(creation.report.clone());
    features.push(creation.clear_sighand.clone());
    features.push(probe_into_cgroup(&creation));
    features.push(creation.clone_pidfd.clone());
    let self_pidfd = probe::pidfd_open_self();
    features.push(report_pidfd_open(&self_pidfd));
    let waitid = probe_waitid(&self_pidfd);
    drop(self_pidfd);
    features.push(waitid);
    features.push(probe_send_signal());
    features.push(probe_group_signal());
    features.push(probe_kept_status(&creation));
    features.push(probe_close_range());
    features.push(probe_close_range_cloexec());
    features.push(probe_time_namespace(&creation));
    features.push(probe_user_namespace(&creation));
    features.push(probe_cgroup2());
    features.push(probe_shared_memory());
    features.push(probe_autokill(&creation));
    Capabilities {
        kernel_release,
        machine,
        features,
    }
}

/// The name of an errno (`"EPERM"`), or `"errno N"`.
pub(crate) fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ENOSYS => "ENOSYS",
        libc::EUSERS => "EUSERS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EREMOTE => "EREMOTE",
        _ => return format!("errno {errno}"),
    };
    name.to_owned()
}

/// The flags of a probe, as C would write them.
fn flag_names(flags: u64) -> String {
    let names: Vec<&str> = [
        (CLONE_PIDFD, "CLONE_PIDFD"),
        (CLONE_NEWTIME, "CLONE_NEWTIME"),
        (CLONE_NEWUSER, "CLONE_NEWUSER"),
        (CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"),
        (CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"),
        (CLONE_AUTOREAP, "CLONE_AUTOREAP"),
        (CLONE_NNP, "CLONE_NNP"),
        (CLONE_PIDFD_AUTOKILL, "CLONE_PIDFD_AUTOKILL"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|&(_, name)| name)
    .collect();
    names.join("|")
}

/// What a creation probe's answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// The kernel took the request (`EFAULT` at the pidfd, or a child).
    Accepted,
    /// `ENOSYS`, `EPERM` or `EINVAL` (or `E2BIG`): the library takes the
    /// next method.
    Refused(i32),
    /// Created a child without writing the pidfd: `CLONE_PIDFD` ignored.
    IgnoredPidfd,
    /// Any other errno (`EAGAIN`, `ENOMEM`, `ENOSPC`, ...): the request
    /// itself, not the method, failed.
    Failed(i32),
}

impl Answer {
    fn of(created: Created) -> Answer {
        match created {
            Created::Errno(libc::EFAULT) => Answer::Accepted,
            Created::Errno(e @ (libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::E2BIG)) => {
                Answer::Refused(e)
            }
            Created::Errno(e) => Answer::Failed(e),
            Created::WithoutPidfd => Answer::IgnoredPidfd,
        }
    }

    fn errno(self) -> Option<i32> {
        match self {
            Answer::Refused(e) | Answer::Failed(e) => Some(e),
            Answer::Accepted | Answer::IgnoredPidfd => None,
        }
    }

    /// For a probe line.
    fn probe(self, call: String) -> Probe {
        match self {
            Answer::Accepted => Probe::new(call, Some(libc::EFAULT), ACCEPTED),
            Answer::IgnoredPidfd => Probe::new(
                call,
                None,
                "a child was created without a pidfd: CLONE_PIDFD ignored; it was reaped",
            ),
            Answer::Refused(e) | Answer::Failed(e) => Probe::new(call, Some(e), ""),
        }
    }
}

const ACCEPTED: &str = "accepted: only the unwritable pidfd address failed, nothing was created";

/// `clone3` of `size` bytes with `flags`; the probe line and its answer.
fn clone3(flags: u64, size: usize) -> (Answer, Probe) {
    let cgroup = if flags & CLONE_INTO_CGROUP != 0 {
        // A number no fd has (fds are below INT_MAX): only the kernel's
        // answer before it looks the fd up matters.
        i32::MAX as u64
    } else {
        0
    };
    let answer = Answer::of(probe::clone3(flags, size, cgroup));
    let call = format!("clone3({{{}}}, {size})", flag_names(flags));
    (answer, answer.probe(call))
}

/// The legacy `clone` with `flags`.
fn clone(flags: u64) -> (Answer, Probe) {
    let answer = Answer::of(probe::clone(flags));
    let call = format!("clone({})", flag_names(flags));
    (answer, answer.probe(call))
}

/// How processes are created here, which later probes build on.
struct Creation {
    report: FeatureReport,
    clear_sighand: FeatureReport,
    clone_pidfd: FeatureReport,
    /// The flags of the `clone3` method that works (with or without
    /// `CLONE_CLEAR_SIGHAND`), if one does.
    clone3_flags: Option<u64>,
    /// Why `clone3` is not used, if it is not ("clone3 gave ENOSYS").
    clone3_refusal: Option<String>,
    /// Whether `clone` with `CLONE_PIDFD` works.
    clone_works: bool,
}

fn report(
    feature: Feature,
    available: bool,
    mechanism: Option<&str>,
    reason: impl Into<String>,
    probes: Vec<Probe>,
) -> FeatureReport {
    FeatureReport {
        feature,
        available,
        mechanism: mechanism.map(str::to_owned),
        reason: reason.into(),
        probes,
    }
}

fn probe_creation() -> Creation {
    let full = CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
    let (first, first_probe) = clone3(full, 64);
    let mut probes = vec![first_probe.clone()];
    // The library's chain: a refusal of clone3 goes to clone3 without
    // CLONE_CLEAR_SIGHAND, then to clone.
    let (plain, plain_probe) = match first {
        Answer::Refused(_) => {
            let (a, p) = clone3(CLONE_PIDFD, 64);
            probes.push(p.clone());
            (Some(a), Some(p))
        }
        _ => (None, None),
    };
    let (legacy, legacy_probe) = clone(CLONE_PIDFD);
    let clone_works = legacy == Answer::Accepted;
    let clone_pidfd = match legacy {
        Answer::Accepted => report(
            Feature::ClonePidfd,
            true,
            Some("clone(CLONE_PIDFD)"),
            "clone took CLONE_PIDFD",
            vec![legacy_probe.clone()],
        ),
        Answer::IgnoredPidfd => report(
            Feature::ClonePidfd,
            false,
            Some(WATCHED_BY_PID),
            "clone ignored CLONE_PIDFD (a kernel before 5.2): it creates processes without pidfds",
            vec![legacy_probe.clone()],
        ),
        Answer::Refused(e) | Answer::Failed(e) => report(
            Feature::ClonePidfd,
            false,
            Some(WATCHED_BY_PID),
            format!(
                "clone gave {} for CLONE_PIDFD{}",
                errno_name(e),
                if e == libc::EINVAL {
                    " (before 5.2)"
                } else {
                    ""
                }
            ),
            vec![legacy_probe.clone()],
        ),
    };

    let clear_fallback = Some("the child resetting each caught signal itself");
    let mut clone3_flags = None;
    let mut clone3_refusal = None;
    let (creation, clear_sighand) = match (first, plain) {
        (Answer::Accepted, _) => {
            clone3_flags = Some(full);
            (
                report(
                    Feature::ProcessCreation,
                    true,
                    Some("clone3"),
                    "clone3 took CLONE_PIDFD and CLONE_CLEAR_SIGHAND",
                    probes,
                ),
                report(
                    Feature::ClearSighand,
                    true,
                    Some("CLONE_CLEAR_SIGHAND"),
                    "clone3 took it",
                    vec![first_probe],
                ),
            )
        }
        (Answer::Refused(e), Some(Answer::Accepted)) => {
            clone3_flags = Some(CLONE_PIDFD);
            let why = format!("clone3 gave {} for CLONE_CLEAR_SIGHAND", errno_name(e));
            let mut clear_probes = vec![first_probe];
            clear_probes.extend(plain_probe);
            (
                report(
                    Feature::ProcessCreation,
                    true,
                    Some("clone3 without CLONE_CLEAR_SIGHAND"),
                    why.clone(),
                    probes,
                ),
                report(
                    Feature::ClearSighand,
                    false,
                    clear_fallback,
                    if e == libc::EINVAL {
                        format!("{why} (before 5.5)")
                    } else {
                        why
                    },
                    clear_probes,
                ),
            )
        }
        (first, plain) => {
            // clone3 is not used: why.
            let errno = plain.and_then(Answer::errno).or(first.errno());
            let refusal = match errno {
                Some(e) => format!("clone3 gave {}", errno_name(e)),
                None => "clone3 did not take CLONE_PIDFD".to_owned(),
            };
            clone3_refusal = Some(refusal.clone());
            probes.push(legacy_probe.clone());
            let creation = if clone_works {
                report(
                    Feature::ProcessCreation,
                    true,
                    Some("clone"),
                    refusal.clone(),
                    probes,
                )
            } else if let (Answer::IgnoredPidfd, p) | (Answer::Accepted, p) = clone(0) {
                // The last method: clone without CLONE_PIDFD, each child
                // watched by pid.
                probes.push(p);
                report(
                    Feature::ProcessCreation,
                    true,
                    Some("clone without CLONE_PIDFD (children watched by pid)"),
                    format!("{refusal}, and {}", clone_pidfd.reason),
                    probes,
                )
            } else {
                report(
                    Feature::ProcessCreation,
                    false,
                    None,
                    format!(
                        "no way to create a process with a pidfd: {refusal}, and {}",
                        clone_pidfd.reason
                    ),
                    probes,
                )
            };
            let clear = report(
                Feature::ClearSighand,
                false,
                clear_fallback,
                format!("{refusal}, and only clone3 carries it"),
                vec![first_probe],
            );
            (creation, clear)
        }
    };
    Creation {
        report: creation,
        clear_sighand,
        clone_pidfd,
        clone3_flags,
        clone3_refusal,
        clone_works,
    }
}

fn probe_into_cgroup(creation: &Creation) -> FeatureReport {
    let Some(flags) = creation.clone3_flags else {
        let why = creation
            .clone3_refusal
            .as_deref()
            .unwrap_or("clone3 is refused");
        return report(
            Feature::IntoCgroup,
            false,
            Some("the child joins the cgroup itself (writes 0 to cgroup.procs)"),
            format!("only clone3 carries it, and {why}"),
            vec![],
        );
    };
    let (answer, p) = clone3(flags | CLONE_INTO_CGROUP, 88);
    match answer {
        Answer::Accepted | Answer::Failed(libc::EBADF) => report(
            Feature::IntoCgroup,
            true,
            Some("CLONE_INTO_CGROUP"),
            "clone3 took it with the 88-byte clone_args",
            vec![p],
        ),
        Answer::Refused(libc::E2BIG) => report(
            Feature::IntoCgroup,
            false,
            Some("the child joins the cgroup itself (writes 0 to cgroup.procs)"),
            "clone3 gave E2BIG for the 88-byte clone_args (before 5.7)",
            vec![p],
        ),
        other => report(
            Feature::IntoCgroup,
            false,
            Some("the child joins the cgroup itself (writes 0 to cgroup.procs)"),
            format!(
                "clone3 gave {} for CLONE_INTO_CGROUP",
                other
                    .errno()
                    .map_or_else(|| "no pidfd".to_owned(), errno_name)
            ),
            vec![p],
        ),
    }
}

/// The fallback where a child cannot be waited for through a pidfd.
const WATCHED_BY_PID: &str = "children watched by pid: a small thread per child reaps it and makes its exit fd (a pipe) readable";

fn report_pidfd_open(fd: &Result<std::os::fd::OwnedFd, i32>) -> FeatureReport {
    let call = "pidfd_open(getpid(), 0)";
    match fd {
        Ok(_) => report(
            Feature::PidfdOpen,
            true,
            Some("pidfd_open"),
            "it gave a pidfd of this process (closed at once)",
            vec![Probe::new(call, None, "")],
        ),
        Err(e) => report(
            Feature::PidfdOpen,
            false,
            None,
            format!("pidfd_open gave {}", errno_name(*e)),
            vec![Probe::new(call, Some(*e), "")],
        ),
    }
}

fn probe_waitid(self_pidfd: &Result<std::os::fd::OwnedFd, i32>) -> FeatureReport {
    let (id, call, ok) = match self_pidfd {
        Ok(fd) => (
            fd.as_raw_fd(),
            "waitid(P_PIDFD, pidfd of this process, WEXITED|WNOHANG|__WALL)",
            libc::ECHILD,
        ),
        Err(_) => (
            i32::MAX,
            "waitid(P_PIDFD, INT_MAX (no fd), WEXITED|WNOHANG|__WALL)",
            libc::EBADF,
        ),
    };
    let errno = probe::waitid_pidfd(id);
    match errno {
        Some(e) if e == ok => report(
            Feature::WaitidPidfd,
            true,
            Some("waitid(P_PIDFD)"),
            if e == libc::ECHILD {
                "waitid knows P_PIDFD (ECHILD for a process that is not a child)"
            } else {
                "waitid knows P_PIDFD (EBADF for no fd)"
            },
            vec![Probe::new(call, errno, "")],
        ),
        Some(e) => report(
            Feature::WaitidPidfd,
            false,
            Some(WATCHED_BY_PID),
            format!(
                "waitid gave {} for P_PIDFD{}",
                errno_name(e),
                if e == libc::EINVAL {
                    " (before 5.4)"
                } else {
                    ""
                }
            ),
            vec![Probe::new(call, errno, "")],
        ),
        None => report(
            Feature::WaitidPidfd,
            true,
            Some("waitid(P_PIDFD)"),
            "waitid took P_PIDFD",
            vec![Probe::new(call, errno, "")],
        ),
    }
}

fn probe_send_signal() -> FeatureReport {
    let call = "pidfd_send_signal(-1, 0, NULL, 0)";
    let errno = probe::pidfd_send_signal_flags(0);
    let probes = vec![Probe::new(call, errno, "")];
    match errno {
        Some(libc::EBADF) => report(
            Feature::PidfdSendSignal,
            true,
            Some("pidfd_send_signal"),
            "the call exists (EBADF for no fd)",
            probes,
        ),
        Some(e) => report(
            Feature::PidfdSendSignal,
            false,
            None,
            format!("pidfd_send_signal gave {}", errno_name(e)),
            probes,
        ),
        None => report(
            Feature::PidfdSendSignal,
            true,
            Some("pidfd_send_signal"),
            "the call exists",
            probes,
        ),
    }
}

fn probe_group_signal() -> FeatureReport {
    let call = "pidfd_send_signal(-1, 0, NULL, PIDFD_SIGNAL_PROCESS_GROUP)";
    let errno = probe::pidfd_send_signal_flags(PIDFD_SIGNAL_PROCESS_GROUP);
    let probes = vec![Probe::new(call, errno, "")];
    let fallback = Some("kill(-pgid), only while the group's leader is unreaped");
    match errno {
        Some(libc::EBADF) | None => report(
            Feature::SignalProcessGroup,
            true,
            Some("PIDFD_SIGNAL_PROCESS_GROUP"),
            "pidfd_send_signal knows the flag (EBADF for no fd)",
            probes,
        ),
        Some(libc::EINVAL) => report(
            Feature::SignalProcessGroup,
            false,
            fallback,
            "pidfd_send_signal gave EINVAL for the flag (before 6.9)",
            probes,
        ),
        Some(e) => report(
            Feature::SignalProcessGroup,
            false,
            fallback,
            format!("pidfd_send_signal gave {}", errno_name(e)),
            probes,
        ),
    }
}

fn probe_kept_status(creation: &Creation) -> FeatureReport {
    let no_fallback = None;
    let legacy = if creation.clone3_flags.is_some() {
        false
    } else if creation.clone_works {
        true
    } else {
        return report(
            Feature::KeptExitStatus,
            false,
            no_fallback,
            "it needs a pidfd, and no process can be created with one here",
            vec![],
        );
    };
    let call = if legacy {
        "clone(CLONE_PIDFD), the child exits, reaped"
    } else {
        "clone3({CLONE_PIDFD}, 64), the child exits, reaped"
    };
    let (pidfd, pid) = match probe::exited_child(legacy) {
        Ok(child) => child,
        Err(created) => {
            let errno = match created {
                Created::Errno(e) => Some(e),
                _ => None,
            };
            return report(
                Feature::KeptExitStatus,
                false,
                no_fallback,
                "no child with a pidfd could be created to look at",
                vec![Probe::new(call, errno, "")],
            );
        }
    };
    probe::reap_child(std::os::fd::AsFd::as_fd(&pidfd), pid);
    let mut probes = vec![Probe::new(call, None, "")];
    let info_call = "ioctl(pidfd, PIDFD_GET_INFO, {mask: PIDFD_INFO_EXIT})";
    let lost = "a status reaped by another process is lost (ECHILD)";
    let result = probe::pidfd_info_exit(std::os::fd::AsFd::as_fd(&pidfd));
    drop(pidfd);
    match result {
        Ok(mask) if mask & probe::PIDFD_INFO_EXIT != 0 => {
            probes.push(Probe::new(info_call, None, "PIDFD_INFO_EXIT in the mask"));
            report(
                Feature::KeptExitStatus,
                true,
                Some("PIDFD_INFO_EXIT"),
                "the kernel kept the reaped child's status for its pidfd",
                probes,
            )
        }
        Ok(_) => {
            probes.push(Probe::new(
                info_call,
                None,
                "no PIDFD_INFO_EXIT in the mask",
            ));
            report(
                Feature::KeptExitStatus,
                false,
                no_fallback,
                format!("PIDFD_GET_INFO keeps no exit status (6.13, 6.14): {lost}"),
                probes,
            )
        }
        Err(e) => {
            probes.push(Probe::new(info_call, Some(e), ""));
            let why = match e {
                libc::ESRCH => "PIDFD_GET_INFO keeps no exit status (6.13, 6.14)".to_owned(),
                libc::ENOTTY | libc::EINVAL => "no PIDFD_GET_INFO (before 6.13)".to_owned(),
                e => format!("PIDFD_GET_INFO gave {}", errno_name(e)),
            };
            report(
                Feature::KeptExitStatus,
                false,
                no_fallback,
                format!("{why}: {lost}"),
                probes,
            )
        }
    }
}

fn probe_close_range() -> FeatureReport {
    let errno = probe::close_range(0);
    let probes = vec![Probe::new("close_range(~0U, ~0U, 0)", errno, "")];
    match errno {
        None => report(
            Feature::CloseRange,
            true,
            Some("close_range"),
            "close_range took an empty range",
            probes,
        ),
        Some(e) => report(
            Feature::CloseRange,
            false,
            Some("the child closing each fd listed in /proc/self/fd (or below RLIMIT_NOFILE)"),
            format!(
                "close_range gave {}{}",
                errno_name(e),
                if e == libc::ENOSYS {
                    " (before 5.9)"
                } else {
                    ""
                }
            ),
            probes,
        ),
    }
}

fn probe_close_range_cloexec() -> FeatureReport {
    let errno = probe::close_range(CLOSE_RANGE_CLOEXEC);
    let probes = vec![Probe::new(
        "close_range(~0U, ~0U, CLOSE_RANGE_CLOEXEC)",
        errno,
        "",
    )];
    match errno {
        None => report(
            Feature::CloseRangeCloexec,
            true,
            Some("CLOSE_RANGE_CLOEXEC"),
            "close_range took the flag: exec closes the fds after the parent is woken",
            probes,
        ),
        Some(libc::EINVAL) => report(
            Feature::CloseRangeCloexec,
            false,
            Some("close_range closing the fds before exec"),
            "close_range gave EINVAL for the flag (5.9, 5.10)",
            probes,
        ),
        Some(e) => report(
            Feature::CloseRangeCloexec,
            false,
            Some("the child closing each fd listed in /proc/self/fd (or below RLIMIT_NOFILE)"),
            format!("close_range gave {}", errno_name(e)),
            probes,
        ),
    }
}

fn probe_time_namespace(creation: &Creation) -> FeatureReport {
    let Some(flags) = creation.clone3_flags else {
        let why = creation
            .clone3_refusal
            .as_deref()
            .unwrap_or("clone3 is refused");
        return report(
            Feature::TimeNamespace,
            false,
            None,
            format!("only clone3 carries CLONE_NEWTIME, and {why}"),
            vec![],
        );
    };
    let (answer, p) = clone3(flags | CLONE_NEWTIME, 64);
    match answer {
        Answer::Accepted => report(
            Feature::TimeNamespace,
            true,
            Some("clone3(CLONE_NEWTIME)"),
            "clone3 took CLONE_NEWTIME",
            vec![p],
        ),
        other => {
            let e = other.errno().unwrap_or(0);
            let hint = match e {
                libc::EPERM => " (it needs CAP_SYS_ADMIN)",
                libc::EINVAL => " (before 5.6, or a kernel without CONFIG_TIME_NS)",
                _ => "",
            };
            report(
                Feature::TimeNamespace,
                false,
                None,
                format!(
                    "new time namespaces are refused here: {} from clone3{hint}",
                    errno_name(e)
                ),
                vec![p],
            )
        }
    }
}

/// What a process-bound child gets instead of `CLONE_PIDFD_AUTOKILL`.
const AUTOKILL_INSTEAD: &str = "Scope::kill_on_process_exit (a watchdog process)";

fn probe_autokill(creation: &Creation) -> FeatureReport {
    let feature = Feature::PidfdAutokill;
    let Some(base) = creation.clone3_flags else {
        let why = creation
            .clone3_refusal
            .as_deref()
            .unwrap_or("clone3 is refused");
        return report(
            feature,
            false,
            Some(AUTOKILL_INSTEAD),
            format!("only clone3 carries CLONE_PIDFD_AUTOKILL, and {why}"),
            vec![],
        );
    };
    // CLONE_NNP, so that no privilege is needed; exit signal 0, as
    // CLONE_AUTOREAP requires.
    let (answer, taken) = clone3(base | CLONE_AUTOREAP | CLONE_NNP | CLONE_PIDFD_AUTOKILL, 64);
    if answer != Answer::Accepted {
        let e = answer.errno().unwrap_or(0);
        let hint = if e == libc::EINVAL {
            " (the flags are new in Linux 7.1)"
        } else {
            ""
        };
        return report(
            feature,
            false,
            Some(AUTOKILL_INSTEAD),
            format!("clone3 refuses the flag: {}{hint}", errno_name(e)),
            vec![taken],
        );
    }
    // The bit is the flag only if it keeps the flag's rule: no
    // CLONE_PIDFD_AUTOKILL without CLONE_AUTOREAP (EINVAL).
    let (alone, rule) = clone3(base | CLONE_NNP | CLONE_PIDFD_AUTOKILL, 64);
    if alone.errno() != Some(libc::EINVAL) {
        return report(
            feature,
            false,
            Some(AUTOKILL_INSTEAD),
            "clone3 takes the bit without CLONE_AUTOREAP: it is not CLONE_PIDFD_AUTOKILL here",
            vec![taken, rule],
        );
    }
    report(
        feature,
        true,
        Some(AUTOKILL_INSTEAD),
        "clone3 took CLONE_PIDFD_AUTOKILL with CLONE_AUTOREAP and refused it without; \
         the library does not use it yet",
        vec![taken, rule],
    )
}

fn probe_user_namespace(creation: &Creation) -> FeatureReport {
    let (answer, p) = if let Some(flags) = creation.clone3_flags {
        clone3(flags | CLONE_NEWUSER, 64)
    } else if creation.clone_works {
        clone(CLONE_PIDFD | CLONE_NEWUSER)
    } else {
        return report(
            Feature::UserNamespace,
            false,
            None,
            "no process can be created with a pidfd here",
            vec![],
        );
    };
    let method = if creation.clone3_flags.is_some() {
        "clone3"
    } else {
        "clone"
    };
    let unprivileged = unprivileged_userns();
    let uid = probe::uid();
    match answer {
        Answer::Accepted => report(
            Feature::UserNamespace,
            true,
            Some(&format!("{method}(CLONE_NEWUSER)")),
            format!("{method} took CLONE_NEWUSER for uid {uid}{unprivileged}"),
            vec![p],
        ),
        other => {
            let e = other.errno().unwrap_or(0);
            let hint = match e {
                libc::ENOSPC => " (the limit in /proc/sys/user/max_user_namespaces is reached)",
                libc::EINVAL => " (a kernel without CONFIG_USER_NS)",
                _ => "",
            };
            report(
                Feature::UserNamespace,
                false,
                None,
                format!(
                    "new user namespaces are refused here: {} from {method} for uid {uid}{hint}{unprivileged}",
                    errno_name(e)
                ),
                vec![p],
            )
        }
    }
}

/// What the sysctls say about user namespaces for unprivileged users, as
/// a clause to append ("; for unprivileged users: ..."), empty if nothing
/// restricts them.
fn unprivileged_userns() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_owned())
    };
    let mut limits = Vec::new();
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        limits.push("kernel.unprivileged_userns_clone = 0 refuses them");
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        limits.push("kernel.apparmor_restrict_unprivileged_userns = 1 restricts them");
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        limits.push("user.max_user_namespaces = 0 refuses every new one");
    }
    if limits.is_empty() {
        String::new()
    } else {
        format!("; for unprivileged users: {}", limits.join(", "))
    }
}

/// Whether a `CLONE_VM | CLONE_VFORK` child shares our memory: a child
/// stores a word and exits (`sys::clone::probe_vm_shared`, asked anew).
fn probe_shared_memory() -> FeatureReport {
    let call = "clone(CLONE_VM|CLONE_VFORK), the child stores a word";
    match crate::sys::clone::probe_vm_shared() {
        Some(true) => report(
            Feature::SharedMemoryChild,
            true,
            Some("vfork-style children (CLONE_VM | CLONE_VFORK)"),
            "the probe child's store was seen here",
            vec![Probe::new(call, None, "the store was seen")],
        ),
        Some(false) => report(
            Feature::SharedMemoryChild,
            false,
            Some("fork() for every child (the fork path, as with use_fork)"),
            "the probe child's store was not seen: the clone ran as a fork (as under \
             valgrind or qemu-user); new user and PID namespaces and other exit \
             signals are refused",
            vec![Probe::new(call, None, "the store was not seen")],
        ),
        None => report(
            Feature::SharedMemoryChild,
            true,
            Some("vfork-style children (CLONE_VM | CLONE_VFORK)"),
            "no probe child could be made now (a transient error); assumed shared, \
             and asked again before the next spawn",
            vec![Probe::new(call, Some(libc::EAGAIN), "no child was made")],
        ),
    }
}

fn probe_cgroup2() -> FeatureReport {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo");
    let read_probe = |r: &std::io::Result<String>| {
        Probe::new(
            "read /proc/self/mountinfo",
            r.as_ref().err().map(|e| e.raw_os_error().unwrap_or(0)),
            "",
        )
    };
    let probes = vec![read_probe(&mountinfo)];
    let Ok(mountinfo) = mountinfo else {
        return report(
            Feature::Cgroup2,
            false,
            None,
            "/proc/self/mountinfo cannot be read",
            probes,
        );
    };
    match cgroup2_mount(&mountinfo) {
        Some(mount) => {
            let own = std::fs::read_to_string("/proc/self/cgroup")
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
                });
            let reason = match own {
                Some(path) => format!("it is mounted at {mount}; this process is in {path}"),
                None => format!("it is mounted at {mount}"),
            };
            report(
                Feature::Cgroup2,
                true,
                Some(&format!("cgroup2 at {mount}")),
                reason,
                probes,
            )
        }
        None => report(
            Feature::Cgroup2,
            false,
            None,
            "no cgroup2 file system in /proc/self/mountinfo",
            probes,
        ),
    }
}

/// The first cgroup2 mount point in a `/proc/self/mountinfo` text, its
/// octal escapes (`\040` for a space) undone.
pub(crate) fn cgroup2_mount(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        Some(unescape(left.split(' ').nth(4)?))
    })
}

/// Undoes the kernel's `\NNN` octal escapes of a mountinfo field.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let digits = bytes.get(i + 1..i + 4);
        let octal = digits
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (b, octal) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The message of a spawn that every creation method refused, or that
/// the kernel refused for a missing feature: `tried` holds each call made
/// for the request and its errno, the last one the final answer. `None`
/// when the answer is no refusal (`EAGAIN`, `ENOMEM`, ...), which the
/// errno alone says.
///
/// "new user namespaces are refused here: EPERM from clone3 and clone";
/// "creating a process is refused here: ENOSYS from clone3, EPERM from
/// clone".
pub(crate) fn refused_here(namespaces: u64, tried: &[(&'static str, i32)]) -> Option<String> {
    let &(_, last) = tried.last()?;
    if !matches!(
        last,
        libc::EPERM | libc::EINVAL | libc::ENOSYS | libc::ENOSPC
    ) {
        return None;
    }
    if namespaces == 0 && tried.len() < 2 && last != libc::ENOSYS {
        // One method answered for itself: the errno says all.
        return None;
    }
    // Each errno once, in order, with the calls that gave it.
    let mut groups: Vec<(i32, Vec<&str>)> = Vec::new();
    for &(call, errno) in tried {
        match groups.iter_mut().find(|(e, _)| *e == errno) {
            Some((_, calls)) if !calls.contains(&call) => calls.push(call),
            Some(_) => {}
            None => groups.push((errno, vec![call])),
        }
    }
    let answers: Vec<String> = groups
        .iter()
        .map(|(errno, calls)| format!("{} from {}", errno_name(*errno), and_list(calls)))
        .collect();
    let what = if namespaces == 0 {
        "creating a process is refused here".to_owned()
    } else {
        format!("new {} refused here", namespace_names(namespaces))
    };
    let hint = match last {
        libc::ENOSPC if namespaces != 0 => {
            " (a limit in /proc/sys/user/max_*_namespaces is reached)"
        }
        _ => "",
    };
    Some(format!("{what}: {}{hint}", answers.join(", ")))
}

/// "a, b and c".
fn and_list(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// "user namespaces are", "user and network namespaces are".
fn namespace_names(flags: u64) -> String {
    let names: Vec<&str> = [
        (libc::CLONE_NEWUSER as u64, "user"),
        (libc::CLONE_NEWNS as u64, "mount"),
        (libc::CLONE_NEWUTS as u64, "UTS"),
        (libc::CLONE_NEWIPC as u64, "IPC"),
        (libc::CLONE_NEWNET as u64, "network"),
        (libc::CLONE_NEWPID as u64, "PID"),
        (libc::CLONE_NEWCGROUP as u64, "cgroup"),
        (CLONE_NEWTIME, "time"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|&(_, name)| name)
    .collect();
    match names.as_slice() {
        [] => "namespaces are".to_owned(),
        [one] => format!("{one} namespaces are"),
        many => format!("{} namespaces are", and_list(many)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_is_missing_and_who_said_so() {
        let user = libc::CLONE_NEWUSER as u64;
        assert_eq!(
            refused_here(
                user,
                &[
                    ("clone3", libc::EPERM),
                    ("clone3", libc::EPERM),
                    ("clone", libc::EPERM)
                ]
            )
            .as_deref(),
            Some("new user namespaces are refused here: EPERM from clone3 and clone")
        );
        let two = user | libc::CLONE_NEWNET as u64;
        assert_eq!(
            refused_here(two, &[("clone3", libc::ENOSYS), ("clone", libc::EPERM)]).as_deref(),
            Some(
                "new user and network namespaces are refused here: ENOSYS from clone3, EPERM from clone"
            )
        );
        assert_eq!(
            refused_here(user, &[("clone3", libc::ENOSPC)]).as_deref(),
            Some(
                "new user namespaces are refused here: ENOSPC from clone3 \
                 (a limit in /proc/sys/user/max_*_namespaces is reached)"
            )
        );
        assert_eq!(
            refused_here(
                0,
                &[
                    ("clone3", libc::EPERM),
                    ("clone3", libc::EPERM),
                    ("clone", libc::EPERM)
                ]
            )
            .as_deref(),
            Some("creating a process is refused here: EPERM from clone3 and clone")
        );
        // No refusal: the errno says all.
        assert_eq!(refused_here(user, &[("clone3", libc::EAGAIN)]), None);
        assert_eq!(refused_here(0, &[("clone3", libc::EPERM)]), None);
        assert_eq!(refused_here(0, &[]), None);
    }

    #[test]
    fn cgroup2_mount_is_found_and_unescaped() {
        let text = "24 1 0:22 / / rw - ext4 /dev/root rw\n\
                    35 24 0:30 / /sys/fs/cgroup/my\\040dir rw,nosuid - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(text).as_deref(),
            Some("/sys/fs/cgroup/my dir")
        );
        assert_eq!(cgroup2_mount("24 1 0:22 / / rw - ext4 /dev/root rw"), None);
        assert_eq!(cgroup2_mount(""), None);
        assert_eq!(cgroup2_mount("garbage - cgroup2"), None);
        assert_eq!(unescape("a\\"), "a\\");
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(unescape("\\134x"), "\\x");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ENOSYS), "ENOSYS");
        assert_eq!(errno_name(libc::EFAULT), "EFAULT");
        assert_eq!(errno_name(9999), "errno 9999");
    }

    #[test]
    fn flags_are_named() {
        assert_eq!(
            flag_names(CLONE_PIDFD | CLONE_CLEAR_SIGHAND),
            "CLONE_PIDFD|CLONE_CLEAR_SIGHAND"
        );
        assert_eq!(flag_names(0), "");
    }
}

//! `spawnfd::capabilities()`: its report agrees with this kernel (and,
//! under `spawnfd-paths`, with what the forced path emulates), and its
//! probes leave no process, fd or signal behind.

mod support;

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use spawnfd::{Feature, capabilities};
use support::forced_path;

/// The tests of this binary probe one at a time, so that one's transient
/// pidfd or child is not taken for another's leftover.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_fds() -> BTreeSet<String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn every_feature_is_reported_once_with_its_evidence() {
    let _serial = serial();
    let caps = capabilities();
    let features: Vec<Feature> = caps.features().iter().map(|r| r.feature()).collect();
    assert_eq!(features, Feature::ALL);
    for report in caps.features() {
        assert!(!report.reason().is_empty(), "{report}");
        // A mechanism for everything available; probes with an answer.
        if report.is_available() {
            assert!(report.mechanism().is_some(), "{report}");
        }
        for probe in report.probes() {
            let text = probe.to_string();
            assert!(text.contains(" -> "), "{text}");
            assert_eq!(probe.errno().is_none(), probe.outcome() == "ok", "{text}");
        }
    }
    let text = caps.to_string();
    assert!(text.starts_with(&format!("kernel: Linux {}", caps.kernel_release())));
    assert!(
        text.lines().last().unwrap().starts_with("summary: "),
        "{text}"
    );
    assert_eq!(
        caps.unavailable().count(),
        caps.features().iter().filter(|r| !r.is_available()).count()
    );
}

#[test]
fn the_report_agrees_with_this_kernel() {
    let _serial = serial();
    if forced_path().is_some() {
        println!("skipped: under a forced path (see forced_paths_flip_their_features)");
        return;
    }
    let caps = capabilities();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(caps.kernel_release(), release.trim());
    let (major, minor) = {
        let mut parts = release.trim().split(['.', '-']);
        let major: u32 = parts.next().unwrap().parse().unwrap();
        let minor: u32 = parts.next().unwrap().parse().unwrap();
        (major, minor)
    };
    if (major, minor) < (6, 15) {
        println!("skipped: written for Linux 6.15 and later, this is {release}");
        return;
    }
    // Linux 6.15 and later have all of these; nothing filters them here.
    for feature in [
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
    ] {
        assert!(caps.is_available(feature), "{caps}");
    }
    let creation = caps.get(Feature::ProcessCreation).unwrap();
    assert_eq!(creation.mechanism(), Some("clone3"), "{creation}");
    assert_eq!(creation.probes()[0].outcome(), "EFAULT");
    // The cgroup v2 mount point is the one in mountinfo.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split(' ').next()? == "cgroup2").then(|| left.split(' ').nth(4).unwrap().to_owned())
    });
    let cgroup = caps.get(Feature::Cgroup2).unwrap();
    match mount {
        Some(mount) => {
            assert!(cgroup.is_available(), "{cgroup}");
            assert_eq!(cgroup.mechanism(), Some(&*format!("cgroup2 at {mount}")));
        }
        None => assert!(!cgroup.is_available(), "{cgroup}"),
    }
    // Natively, a CLONE_VM child shares our memory (valgrind's does not:
    // crates/cli/tests/doctor.rs).
    let shared = caps.get(Feature::SharedMemoryChild).unwrap();
    assert!(shared.is_available(), "{shared}");
    assert_eq!(shared.probes()[0].note(), "the store was seen", "{shared}");
    // As root, namespaces are allowed (unless a sandbox says otherwise).
    if support::is_root() && support::has_capability(support::CAP_SYS_ADMIN) {
        assert!(caps.is_available(Feature::UserNamespace), "{caps}");
        assert!(caps.is_available(Feature::TimeNamespace), "{caps}");
    }
    // CLONE_PIDFD_AUTOKILL is Linux 7.1's: before, clone3 refuses the
    // unknown flag with EINVAL; from 7.1 the bit keeps the flag's rule (no
    // autokill without autoreap). Either way the library's own
    // process-bound hold is what the report names.
    let autokill = caps.get(Feature::PidfdAutokill).unwrap();
    assert_eq!(
        autokill.mechanism(),
        Some("Scope::kill_on_process_exit (a watchdog process)")
    );
    if (major, minor) < (7, 1) {
        assert!(!autokill.is_available(), "{autokill}");
        assert_eq!(autokill.probes()[0].outcome(), "EINVAL", "{autokill}");
    } else {
        assert!(autokill.is_available(), "{autokill}");
        assert_eq!(autokill.probes()[1].outcome(), "EINVAL", "{autokill}");
    }
}

/// Under `spawnfd-paths` (the `.ci/paths` matrix), the features the path
/// takes away are reported unavailable, with the emulated errno.
#[test]
fn forced_paths_flip_their_features() {
    let _serial = serial();
    let Some(path) = forced_path() else {
        println!("skipped: SPAWNFD_FORCED_PATH is not set (run under spawnfd-paths)");
        return;
    };
    let caps = capabilities();
    let creation = caps.get(Feature::ProcessCreation).unwrap();
    let errno_of = |f: Feature| {
        caps.get(f)
            .and_then(|r| r.probes().first())
            .map(|p| p.outcome())
            .unwrap_or_default()
    };
    let available = |f: Feature| caps.is_available(f);
    match path.as_str() {
        "clone3-enosys" | "clone3-eperm" => {
            let errno = if path == "clone3-enosys" {
                "ENOSYS"
            } else {
                "EPERM"
            };
            assert_eq!(creation.mechanism(), Some("clone"), "{caps}");
            assert_eq!(creation.reason(), format!("clone3 gave {errno}"));
            assert!(!available(Feature::ClearSighand), "{caps}");
            assert!(!available(Feature::IntoCgroup), "{caps}");
            assert!(!available(Feature::TimeNamespace), "{caps}");
        }
        "no-clear-sighand" | "old-kernel" => {
            assert_eq!(
                creation.mechanism(),
                Some("clone3 without CLONE_CLEAR_SIGHAND"),
                "{caps}"
            );
            assert_eq!(errno_of(Feature::ClearSighand), "EINVAL", "{caps}");
            assert_eq!(errno_of(Feature::IntoCgroup), "E2BIG", "{caps}");
        }
        "no-into-cgroup" => {
            assert_eq!(creation.mechanism(), Some("clone3"), "{caps}");
            assert!(available(Feature::ClearSighand), "{caps}");
            assert_eq!(errno_of(Feature::IntoCgroup), "E2BIG", "{caps}");
            // The fallback: the child joins its cgroup.
            let cgroup = caps.get(Feature::IntoCgroup).expect("reported");
            assert!(
                cgroup
                    .mechanism()
                    .is_some_and(|m| m.contains("cgroup.procs")),
                "{caps}"
            );
        }
        "no-close-range" | "no-cloexec-range" | "no-waitid-pidfd" => {
            assert_eq!(creation.mechanism(), Some("clone3"), "{caps}");
        }
        "no-pidfd" | "kernel-4x" => {
            // Created all the same, without pidfds: watched by pid.
            let creation = caps.get(Feature::ProcessCreation).expect("reported");
            assert!(creation.is_available(), "{caps}");
            assert!(
                creation
                    .mechanism()
                    .is_some_and(|m| m.contains("watched by pid")),
                "{caps}"
            );
            assert_eq!(errno_of(Feature::ClonePidfd), "EINVAL", "{caps}");
            assert_eq!(errno_of(Feature::PidfdOpen), "ENOSYS", "{caps}");
            assert_eq!(errno_of(Feature::PidfdSendSignal), "ENOSYS", "{caps}");
            assert!(!available(Feature::KeptExitStatus), "{caps}");
        }
        other => panic!("unknown forced path {other}"),
    }
    match path.as_str() {
        "no-close-range" | "old-kernel" | "kernel-4x" => {
            assert_eq!(errno_of(Feature::CloseRange), "ENOSYS", "{caps}");
            assert!(!available(Feature::CloseRangeCloexec), "{caps}");
        }
        "no-cloexec-range" => {
            assert!(available(Feature::CloseRange), "{caps}");
            assert_eq!(errno_of(Feature::CloseRangeCloexec), "EINVAL", "{caps}");
        }
        _ => assert!(available(Feature::CloseRangeCloexec), "{caps}"),
    }
    match path.as_str() {
        "no-waitid-pidfd" | "kernel-4x" => {
            assert_eq!(errno_of(Feature::WaitidPidfd), "EINVAL", "{caps}");
        }
        "no-pidfd" => {}
        _ => assert!(available(Feature::WaitidPidfd), "{caps}"),
    }
    // Linux 5.4 had pidfd_send_signal, but its flags had to be 0.
    if path == "old-kernel" {
        assert_eq!(errno_of(Feature::SignalProcessGroup), "EINVAL", "{caps}");
    }
    // None of the emulated kernels has Linux 7.1's flag.
    assert!(!available(Feature::PidfdAutokill), "{caps}");
}

/// Probing leaves no fd open, no child (running or zombie) and sends this
/// process no signal: many times, from several threads at once.
#[test]
fn probes_leave_nothing_behind() {
    let _serial = serial();
    let before = open_fds();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut last = None;
                for _ in 0..10 {
                    last = Some(capabilities());
                }
                last
            })
        })
        .collect();
    let mut reports = vec![];
    for t in threads {
        reports.push(t.join().expect("a probing thread").expect("a report"));
    }
    // The same answers every time (nothing is learnt from history).
    for r in &reports {
        assert_eq!(
            r.features()
                .iter()
                .map(|f| f.is_available())
                .collect::<Vec<_>>(),
            reports[0]
                .features()
                .iter()
                .map(|f| f.is_available())
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(open_fds(), before, "fds left open");
    assert!(!support::has_children(), "a probe left a child");
    // No SIGCHLD (or other signal) is pending for the process.
    let pending = support::status_field("/proc/self/status", "ShdPnd:");
    assert_eq!(pending & support::sig_bit(libc::SIGCHLD), 0);
}

/// A spawn that every creation method refuses for a missing feature says
/// which feature, and what each method answered: here a seccomp filter
/// refuses clone3 outright and clone for a new user namespace, as a
/// container profile that forbids user namespaces does.
#[test]
fn refused_user_namespaces_are_named_with_each_methods_answer() {
    let _serial = serial();
    support::run_isolated(REFUSED_USER_NS);
}

const REFUSED_USER_NS: &str = "refused_user_namespaces_scenario";

#[test]
#[ignore = "run in a process of its own by refused_user_namespaces_are_named_with_each_methods_answer"]
fn refused_user_namespaces_scenario() {
    use support::seccomp::{Refuse, install};
    if !support::in_isolated_run(REFUSED_USER_NS) {
        return;
    }
    // Where children are watched by pid, each spawn first starts a watcher
    // thread, and glibc's pthread_create uses clone3, falling back to clone
    // on ENOSYS only: a clone3 refused with EPERM would refuse every thread
    // of the process, which no real profile does (those that forbid clone3
    // answer ENOSYS, as Docker's does, for that reason). There clone3 is
    // refused with ENOSYS, as missing; clone is still refused for a new
    // user namespace.
    let by_pid = support::watched_by_pid();
    let clone3_errno = if by_pid { libc::ENOSYS } else { libc::EPERM };
    if let Err(e) = install(&[
        Refuse::errno(libc::SYS_clone3, clone3_errno),
        Refuse::errno(libc::SYS_clone, libc::EPERM).when_arg0_has(libc::CLONE_NEWUSER as u32),
    ]) {
        println!("skipped: the filter cannot be installed here ({e})");
        return;
    }
    let err = support::probe()
        .unshare(spawnfd::Namespaces::USER)
        .status()
        .expect_err("a user namespace refused by every method");
    let failure = spawnfd::SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(failure.step(), spawnfd::Step::Clone, "{err}");
    assert_eq!(failure.raw_os_error(), Some(libc::EPERM), "{err}");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    let expected = if by_pid {
        // clone3 missing is an answer too, where it was tried.
        let message = err.to_string();
        let (_, answers) = message
            .split_once(": clone: new user namespaces are refused here: ")
            .unwrap_or_else(|| panic!("{err}"));
        assert!(
            answers.ends_with("EPERM from clone") && !answers.contains("EPERM from clone3"),
            "{err}"
        );
        answers.to_owned()
    } else {
        "EPERM from clone3 and clone".to_owned()
    };
    assert!(
        err.to_string().ends_with(&format!(
            ": clone: new user namespaces are refused here: {expected}"
        )),
        "{err}"
    );
    // A plain spawn still works (clone without the namespace).
    assert!(support::probe().status().expect("a plain spawn").success());
}

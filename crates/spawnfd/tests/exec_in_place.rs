//! `Command::exec`: the steps of a spawn run in the calling process, which
//! then becomes the program. Each exec runs in a process of its own (the
//! test binary re-run for one ignored test), since it replaces or changes
//! that process.

mod support;

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;

use spawnfd::{Command, Namespaces, Resource, Signal, SignalSet, SpawnError, Stdio, Step};
use support::{
    AttrReport, Report, TempPath, attr_probe_at, in_isolated_run, is_root, isolated_command, memfd,
    probe, probe_for_anyone, run_isolated, sig_bit,
};

/// Where the outer test wants the probe's report.
const REPORT: &str = "SPAWNFD_TEST_EXEC_REPORT";

/// The fd lines of a probe report, parsed.
fn fd_report(text: &str) -> Report {
    let fds: String = text
        .lines()
        .filter(|l| l.starts_with("fd "))
        .map(|l| format!("{l}\n"))
        .collect();
    Report::parse(&fds)
}

#[test]
fn exec_keeps_the_pid_and_applies_the_attributes() {
    let report = TempPath::new("exec-report");
    File::create(report.path()).expect("create the report file");
    let child = isolated_command("inner_exec_attributes")
        .env(REPORT, report.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("re-run the test binary");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for the test binary");
    let text = std::fs::read_to_string(report.path()).expect("read the report");
    assert!(
        out.status.success() && !text.is_empty(),
        "the exec'd probe failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The probe ran as the process that the test spawned: no child.
    let attrs = AttrReport::parse(&text);
    assert_eq!(attrs.pid, pid as i32, "exec changed the pid");
    assert_eq!(attrs.ppid, std::process::id() as i32);

    // Exactly the mapped fds, none close-on-exec.
    let fds = fd_report(&text);
    assert_eq!(fds.fd_numbers(), [0, 1, 2, 5].into());
    assert!(
        fds.fd(5).target.contains("memfd:exec-fd"),
        "{:?}",
        fds.fd(5)
    );
    assert!(fds.fds.values().all(|e| !e.cloexec));

    assert_eq!(attrs.status("Umask"), "0027");
    assert_eq!(attrs.limit("NOFILE"), ("64", "128"));
    assert_eq!(attrs.cwd, "/");
    assert_eq!(
        attrs.sigblk, 0,
        "the caller's blocked signals stayed blocked"
    );
    assert_eq!(
        attrs.sigign,
        sig_bit(libc::SIGUSR2),
        "only the requested signal is ignored"
    );
    let own_uts = std::fs::read_link("/proc/self/ns/uts").expect("read our uts namespace");
    if support::unshare_unavailable(Namespaces::UTS).is_none() {
        assert_ne!(
            attrs.ns("uts"),
            own_uts.to_str().unwrap(),
            "no new uts namespace"
        );
    }
    if is_root() {
        assert_eq!(attrs.status("Uid"), "65534 65534 65534 65534");
        assert_eq!(attrs.status("Gid"), "65534 65534 65534 65534");
        assert_eq!(attrs.status("Groups"), "");
    }
}

#[test]
#[ignore = "run by exec_keeps_the_pid_and_applies_the_attributes"]
fn inner_exec_attributes() {
    if !in_isolated_run("inner_exec_attributes") {
        return;
    }
    // The harness may run this on a thread other than the main one: the
    // credentials set on the calling thread alone are those execve gives
    // the whole process, and the pid stays the process's.
    let out = File::options()
        .write(true)
        .open(std::env::var_os(REPORT).expect("the report path"))
        .expect("open the report file");
    // Dirty state the exec must not pass on: an ignored signal, a blocked
    // one, a leaked fd.
    // SAFETY: SIG_IGN needs no handler; sigset calls on a local set.
    unsafe {
        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let _leaked = support::open_leaky();
    let (program, _dir) = probe_for_anyone();
    let mut cmd = attr_probe_at(&program);
    cmd.fd(1, out)
        .fd(5, memfd("exec-fd"))
        .umask(0o027)
        .rlimit(Resource::NOFILE, 64, 128)
        .current_dir("/")
        .ignore_signals(SignalSet::from_iter([Signal::USR2]));
    if support::unshare_unavailable(Namespaces::UTS).is_none() {
        cmd.unshare(Namespaces::UTS);
    }
    if is_root() {
        cmd.groups(&[]).gid(65534).uid(65534);
    }
    let err = cmd.exec();
    panic!("exec failed: {err}");
}

#[test]
fn failed_step_returns_the_error_and_the_process_goes_on() {
    run_isolated("inner_exec_chdir_fails");
}

#[test]
#[ignore = "run by failed_step_returns_the_error_and_the_process_goes_on"]
fn inner_exec_chdir_fails() {
    if !in_isolated_run("inner_exec_chdir_fails") {
        return;
    }
    let before = current_mask();
    let err = probe().current_dir("/nonexistent/exec").exec();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let spawn = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(spawn.step(), Step::Chdir);
    assert_eq!(spawn.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        spawn.path(),
        Some(std::path::Path::new("/nonexistent/exec"))
    );
    // Still this process, with its signal mask given back.
    assert_eq!(current_mask(), before);

    let err = Command::new("/nonexistent/program").exec();
    let spawn = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(
        (spawn.step(), err.kind()),
        (Step::Exec, ErrorKind::NotFound)
    );
    assert_eq!(current_mask(), before);
}

#[test]
fn failed_setuid_is_reported_as_setuid() {
    run_isolated("inner_exec_setuid_fails");
}

#[test]
#[ignore = "run by failed_setuid_is_reported_as_setuid"]
fn inner_exec_setuid_fails() {
    if !in_isolated_run("inner_exec_setuid_fails") {
        return;
    }
    if !is_root() {
        eprintln!("skipped: needs root, to give up root first");
        return;
    }
    // Give up root in this process (every thread: the libc wrapper), so
    // that the exec's setuid(0) fails.
    // SAFETY: plain calls; the test process is of its own.
    assert_eq!(unsafe { libc::setresuid(65534, 65534, 65534) }, 0);
    let err = probe().uid(0).exec();
    let spawn = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(spawn.step(), Step::Setuid);
    assert_eq!(spawn.raw_os_error(), Some(libc::EPERM));
}

/// The calling thread's signal mask.
fn current_mask() -> u64 {
    let mut old: u64 = 0;
    // SAFETY: a query only, into an 8-byte kernel sigset.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            std::ptr::null::<u64>(),
            &raw mut old,
            8usize,
        )
    };
    assert_eq!(r, 0);
    old
}

#[test]
fn what_needs_a_new_process_is_refused_before_anything_changes() {
    run_isolated("inner_exec_refusals");
}

#[test]
#[ignore = "run by what_needs_a_new_process_is_refused_before_anything_changes"]
fn inner_exec_refusals() {
    if !in_isolated_run("inner_exec_refusals") {
        return;
    }
    type Setup = fn(&mut Command);
    let cases: [(&str, Setup); 11] = [
        ("PID namespace", |c| {
            c.unshare(Namespaces::PID);
        }),
        ("time namespace", |c| {
            c.unshare(Namespaces::TIME);
        }),
        ("mount_proc without a mount namespace", |c| {
            c.mount_proc(true);
        }),
        ("user namespace", |c| {
            c.unshare(Namespaces::USER);
        }),
        ("id maps", |c| {
            c.uid_map(&[spawnfd::IdMap {
                inside: 0,
                outside: 0,
                count: 1,
            }]);
        }),
        ("exit signal", |c| {
            c.exit_signal(None);
        }),
        ("kill on drop", |c| {
            c.kill_on_drop(true);
        }),
        ("piped stdin", |c| {
            c.stdin(Stdio::piped());
        }),
        ("piped stdout", |c| {
            c.stdout(Stdio::piped());
        }),
        ("piped stderr", |c| {
            c.stderr(Stdio::piped());
        }),
        ("NUL in an argument", |c| {
            c.arg("a\0b");
        }),
    ];
    // SAFETY: umask cannot fail.
    let umask = unsafe { libc::umask(0o022) };
    let cwd = std::env::current_dir().unwrap();
    for (what, setup) in cases {
        let mut cmd = probe();
        // Each of these would change this process if a step ran.
        cmd.umask(0o077)
            .current_dir("/")
            .ignore_signals(SignalSet::from_iter([Signal::USR1]));
        setup(&mut cmd);
        let err = cmd.exec();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}");
        assert!(SpawnError::from_io(&err).is_none(), "{what}: {err}");
        // SAFETY: umask cannot fail.
        assert_eq!(
            unsafe { libc::umask(0o022) },
            0o022,
            "{what}: umask changed"
        );
        assert_eq!(std::env::current_dir().unwrap(), cwd, "{what}: cwd changed");
        // SAFETY: a query of the disposition only.
        let handler = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGUSR1, std::ptr::null(), &mut old);
            old.sa_sigaction
        };
        assert_eq!(handler, libc::SIG_DFL, "{what}: SIGUSR1 ignored");
    }
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(umask) };
}

#[test]
fn a_program_killed_after_exec_is_the_process_itself() {
    // The exec'd program is the process the test spawned: a signal it
    // dies of is that process's, with no spawnfd parent in between.
    let out = isolated_command("inner_exec_kills_itself")
        .output()
        .expect("re-run the test binary");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGTERM),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by a_program_killed_after_exec_is_the_process_itself"]
fn inner_exec_kills_itself() {
    if !in_isolated_run("inner_exec_kills_itself") {
        return;
    }
    let err = Command::new("sh").args(["-c", "kill -TERM $$"]).exec();
    panic!("exec failed: {err}");
}

/// Where the outer test wants the exec'd probe to join.
const CGROUP: &str = "SPAWNFD_TEST_EXEC_CGROUP";

#[test]
fn exec_joins_the_cgroup_before_the_program_runs() {
    let cgroup = match support::TestCgroup::create() {
        Ok(cgroup) => cgroup,
        Err(reason) => return eprintln!("skipped: exec into a cgroup: {reason}"),
    };
    for new_namespace in [false, true] {
        if new_namespace && support::unshare_unavailable(Namespaces::CGROUP).is_some() {
            eprintln!("skipped: exec into a cgroup and a new cgroup namespace: not permitted");
            continue;
        }
        let report = TempPath::new("exec-cgroup-report");
        File::create(report.path()).expect("create the report file");
        let out = isolated_command("inner_exec_cgroup")
            .env(REPORT, report.path())
            .env(CGROUP, &cgroup.dir)
            .env(
                "SPAWNFD_TEST_NEW_CGROUP_NS",
                if new_namespace { "1" } else { "" },
            )
            .output()
            .expect("re-run the test binary");
        let text = std::fs::read_to_string(report.path()).expect("read the report");
        assert!(
            out.status.success() && !text.is_empty(),
            "the exec'd probe failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let attrs = AttrReport::parse(&text);
        // Joined, and a new cgroup namespace is rooted at the joined one.
        let expected = if new_namespace {
            "/"
        } else {
            cgroup.name.as_str()
        };
        assert_eq!(attrs.cgroup_v2(), Some(expected), "{:#?}", attrs.cgroups);
    }
}

#[test]
#[ignore = "run by exec_joins_the_cgroup_before_the_program_runs"]
fn inner_exec_cgroup() {
    if !in_isolated_run("inner_exec_cgroup") {
        return;
    }
    let out = File::options()
        .write(true)
        .open(std::env::var_os(REPORT).expect("the report path"))
        .expect("open the report file");
    let mut cmd = support::attr_probe();
    cmd.fd(1, out)
        .cgroup(std::env::var_os(CGROUP).expect("the cgroup"));
    if std::env::var_os("SPAWNFD_TEST_NEW_CGROUP_NS").is_some_and(|v| !v.is_empty()) {
        cmd.unshare(Namespaces::CGROUP);
    }
    let err = cmd.exec();
    panic!("exec failed: {err}");
}

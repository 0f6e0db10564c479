//! A standard fd that is closed in the parent and that the child would
//! inherit becomes `/dev/null` in the child, and never whatever the spawn
//! itself opens at that number.
//!
//! Closing this process's own fd 0, 1 or 2 while other tests run could
//! hand the number to their files, so this binary has a single test, which
//! goes through the scenarios one after the other and puts every fd back.

mod support;

use std::any::Any;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{self, AssertUnwindSafe};

use spawnfd::{Command, Stdio};
use support::{ProbeRun, Report, fd_target, is_open, memfd, probe, spawn_probe};

/// Closes one of our standard fds and puts it back on drop, even when a
/// scenario panics.
struct Closed {
    fd: RawFd,
    saved: OwnedFd,
}

impl Closed {
    fn new(fd: RawFd) -> Closed {
        // SAFETY: F_DUPFD_CLOEXEC of one of our open standard fds, to a
        // number above those the scenarios use.
        let saved = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        assert!(saved >= 0, "save fd {fd}: {}", io::Error::last_os_error());
        // SAFETY: `saved` is new and owned by nobody else.
        let saved = unsafe { OwnedFd::from_raw_fd(saved) };
        // SAFETY: closes the number that `Drop` restores; nothing else in
        // this process uses it meanwhile (the only test runs here).
        assert_eq!(unsafe { libc::close(fd) }, 0);
        Closed { fd, saved }
    }
}

impl Drop for Closed {
    fn drop(&mut self) {
        // SAFETY: dup2 of our saved copy back onto its number, replacing
        // whatever the scenario left there.
        unsafe { libc::dup2(self.saved.as_raw_fd(), self.fd) };
    }
}

/// One scenario: `closed` is closed while `configure` builds the command
/// and the child is spawned; `expect` checks the child's report against
/// what our standard fds were and against the parent's ends of the pipes.
struct Scenario {
    name: &'static str,
    closed: RawFd,
    configure: fn(&mut Command),
    /// Child fd -> expected target, given our std targets and the child's
    /// pipes (`None` where not piped).
    expect: fn(&[String; 3], &[Option<String>; 3]) -> [String; 3],
}

fn run(scenario: &Scenario, std_targets: &[String; 3]) -> Result<(), String> {
    let (report, pipes) = {
        let _closed = Closed::new(scenario.closed);
        assert!(!is_open(scenario.closed));
        let mut cmd = probe();
        (scenario.configure)(&mut cmd);
        let run: ProbeRun = spawn_probe(&mut cmd);
        let child = &run.child;
        let pipes = [
            child.stdin.as_ref().map(|p| fd_target(p.as_raw_fd())),
            child.stdout.as_ref().map(|p| fd_target(p.as_raw_fd())),
            child.stderr.as_ref().map(|p| fd_target(p.as_raw_fd())),
        ];
        (run.report(), pipes)
    };
    let expected = (scenario.expect)(std_targets, &pipes);
    check(&report, &expected).map_err(|e| format!("{}: {e}", scenario.name))
}

fn check(report: &Report, expected: &[String; 3]) -> Result<(), String> {
    let got: Vec<(RawFd, &str, bool)> = report
        .fds
        .iter()
        .map(|(&fd, e)| (fd, e.target.as_str(), e.cloexec))
        .collect();
    let want: Vec<(RawFd, &str, bool)> = expected
        .iter()
        .enumerate()
        .map(|(fd, t)| (fd as RawFd, t.as_str(), false))
        .collect();
    if got == want {
        Ok(())
    } else {
        Err(format!("child fds {got:?}, expected {want:?}"))
    }
}

fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else {
        "?"
    }
}

fn dev_null_at(fd: usize, std_targets: &[String; 3]) -> [String; 3] {
    let mut t = std_targets.clone();
    t[fd] = "/dev/null".to_owned();
    t
}

fn pipe(pipes: &[Option<String>; 3], fd: usize) -> String {
    pipes[fd].clone().expect("a piped fd")
}

#[test]
fn closed_standard_fds_become_dev_null() {
    let std_targets = [0, 1, 2].map(fd_target);
    let scenarios = [
        Scenario {
            name: "fd 0 closed, inherited",
            closed: 0,
            configure: |_| {},
            expect: |t, _| dev_null_at(0, t),
        },
        Scenario {
            name: "fd 1 closed, inherited",
            closed: 1,
            configure: |_| {},
            expect: |t, _| dev_null_at(1, t),
        },
        Scenario {
            name: "fd 2 closed, inherited explicitly",
            closed: 2,
            configure: |c| {
                c.stderr(Stdio::inherit());
            },
            expect: |t, _| dev_null_at(2, t),
        },
        Scenario {
            name: "fd 1 closed, the others null",
            closed: 1,
            configure: |c| {
                c.stdin(Stdio::null()).stderr(Stdio::null());
            },
            expect: |_, _| ["/dev/null", "/dev/null", "/dev/null"].map(str::to_owned),
        },
        // The spawn's own pipes are made while fd 0 or 1 is free, so one
        // of their ends may take that number: the child must still get
        // /dev/null there, not a pipe.
        Scenario {
            name: "fd 1 closed, stderr piped",
            closed: 1,
            configure: |c| {
                c.stderr(Stdio::piped());
            },
            expect: |t, p| [t[0].clone(), "/dev/null".to_owned(), pipe(p, 2)],
        },
        Scenario {
            name: "fd 0 closed, stdout piped",
            closed: 0,
            configure: |c| {
                c.stdout(Stdio::piped());
            },
            expect: |t, p| ["/dev/null".to_owned(), pipe(p, 1), t[2].clone()],
        },
    ];
    // A scenario that panics (a spawn that fails, say) is a failure too; the
    // others still run.
    let mut failures: Vec<String> = scenarios
        .iter()
        .filter_map(
            |s| match panic::catch_unwind(AssertUnwindSafe(|| run(s, &std_targets))) {
                Ok(result) => result.err(),
                Err(payload) => Some(format!("{}: panicked: {}", s.name, message(&*payload))),
            },
        )
        .collect();

    // A file given with fd() at the closed number is placed there, not
    // replaced by /dev/null.
    let mem = memfd("spawnfd-hardening");
    let mem_target = fd_target(mem.as_raw_fd());
    let report = {
        let _closed = Closed::new(2);
        spawn_probe(probe().fd(2, mem)).report()
    };
    let expected = [std_targets[0].clone(), std_targets[1].clone(), mem_target];
    if let Err(e) = check(&report, &expected) {
        failures.push(format!("fd 2 closed, given with fd(2, memfd): {e}"));
    }

    assert_eq!([0, 1, 2].map(fd_target), std_targets, "fds restored");
    assert!(failures.is_empty(), "{failures:#?}");
}

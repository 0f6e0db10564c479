//! The `clone` fallback where `clone3` is refused (no clone3, or a seccomp
//! profile that forbids it), and the `Unsupported` error where no pidfd can
//! be had at all.
//!
//! Each scenario installs a seccomp filter, which cannot be removed, and
//! the choice of clone call is cached per process: so the test re-runs this
//! test binary once per scenario, with `SPAWNFD_SCENARIO` naming it.

use std::io;
use std::process::Command as StdCommand;

use spawnfd::{Command, SpawnError, Step, Stdio};

const PROBE: &str = env!("CARGO_BIN_EXE_spawnfd-probe");

/// What the filter refuses, and how.
#[derive(Clone, Copy)]
enum Refusal {
    /// `clone3` fails with `ENOSYS`, as before Linux 5.3.
    Clone3Enosys,
    /// `clone3` fails with `EPERM`, as under older container profiles.
    Clone3Eperm,
    /// `clone3` as missing and `clone` refusing `CLONE_PIDFD` with
    /// `EINVAL`, as before Linux 5.2.
    NoPidfd,
}

impl Refusal {
    fn parse(name: &str) -> Option<Refusal> {
        match name {
            "clone3-enosys" => Some(Refusal::Clone3Enosys),
            "clone3-eperm" => Some(Refusal::Clone3Eperm),
            "no-pidfd" => Some(Refusal::NoPidfd),
            _ => None,
        }
    }
}

/// Installs a seccomp filter on the calling thread (and what it creates).
fn install_filter(refusal: Refusal) -> io::Result<()> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let clone3_errno = match refusal {
        Refusal::Clone3Eperm => libc::EPERM,
        _ => libc::ENOSYS,
    } as u32;
    let clone_errno = match refusal {
        Refusal::NoPidfd => RET_ERRNO | libc::EINVAL as u32,
        _ => RET_ALLOW,
    };
    // seccomp_data: nr at 0, arch at 4, args[0] (low half) at 16.
    let mut program = [
        op(LD_W_ABS, 0, 0, 0),
        op(JEQ_K, 0, 1, libc::SYS_clone3 as u32),
        op(RET_K, 0, 0, RET_ERRNO | clone3_errno),
        op(JEQ_K, 0, 3, libc::SYS_clone as u32),
        op(LD_W_ABS, 0, 0, 16),
        op(JSET_K, 0, 1, libc::CLONE_PIDFD as u32),
        op(RET_K, 0, 0, clone_errno),
        op(RET_K, 0, 0, RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments, then with a pointer to a filter
    // program that outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs one scenario in a fresh copy of this test binary.
fn run_scenario(name: &str) {
    let out = StdCommand::new(std::env::current_exe().unwrap())
        .args(["--exact", "scenario", "--nocapture", "--test-threads=1"])
        .env("SPAWNFD_SCENARIO", name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scenario {name} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed") || stdout.contains("skipped:"),
        "scenario {name} did not run:\n{stdout}\n{stderr}"
    );
    if let Some(reason) = stdout.lines().find(|l| l.starts_with("skipped:")) {
        eprintln!("scenario {name} {reason}");
    }
}

#[test]
fn falls_back_to_clone_when_clone3_is_missing() {
    run_scenario("clone3-enosys");
}

#[test]
fn falls_back_to_clone_when_seccomp_refuses_clone3() {
    run_scenario("clone3-eperm");
}

#[test]
fn reports_unsupported_without_clone_pidfd() {
    run_scenario("no-pidfd");
}

/// The body of a scenario; does nothing unless `SPAWNFD_SCENARIO` is set.
#[test]
fn scenario() {
    let Some(refusal) = std::env::var("SPAWNFD_SCENARIO")
        .ok()
        .and_then(|s| Refusal::parse(&s))
    else {
        return;
    };
    if let Err(e) = install_filter(refusal) {
        println!("skipped: seccomp filters are not permitted here ({e})");
        return;
    }
    // The filter holds: clone3 is refused on this thread.
    // SAFETY: a clone3 call with a NULL argument block, which the filter
    // refuses before the kernel reads it.
    let r = unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) };
    assert_eq!(r, -1);

    match refusal {
        Refusal::NoPidfd => {
            let err = Command::new(PROBE).spawn().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
            assert!(err.to_string().contains("pidfd"), "{err}");
        }
        Refusal::Clone3Enosys | Refusal::Clone3Eperm => {
            // Twice: the first spawn probes and caches, the second uses
            // the cached choice.
            for _ in 0..2 {
                let out = Command::new(PROBE)
                    .arg("fallback")
                    .stdout(Stdio::piped())
                    .output()
                    .unwrap();
                assert!(out.status.success());
                let report = String::from_utf8(out.stdout).unwrap();
                let fds: Vec<&str> = report.lines().filter(|l| l.starts_with("fd ")).collect();
                assert_eq!(fds.len(), 3, "{report}");
                assert!(report.contains("\nsigign 0000000000000000\n"), "{report}");
                assert!(report.contains("\nsigblk 0000000000000000\n"), "{report}");
                assert!(report.contains("\narg 1 fallback\n"), "{report}");
            }
            // Child errors still come back exactly on this path.
            let err = Command::new(PROBE).current_dir("/nonexistent").spawn().unwrap_err();
            let detail = SpawnError::from_io(&err).unwrap();
            assert_eq!(detail.step(), Step::Chdir);
            assert_eq!(detail.raw_os_error(), Some(libc::ENOENT));
            // And the pidfd works for waiting and signalling.
            let mut child = Command::new("sleep").arg("100").spawn().unwrap();
            child.kill().unwrap();
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&child.wait().unwrap()),
                Some(libc::SIGKILL)
            );
        }
    }
    println!("scenario ran");
}

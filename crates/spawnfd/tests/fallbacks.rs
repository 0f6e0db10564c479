//! The paths for older kernels and sparse sandboxes: the `clone` fallback
//! where `clone3` is refused, children watched by pid where no pidfd can be
//! had (the whole of that path is in `no_pidfd.rs`), closing fds without
//! `close_range`, and spawning without `/proc`.
//!
//! Each scenario refuses system calls with a seccomp filter (which cannot be
//! removed) or unmounts `/proc`, and the library caches what it probed per
//! process: so the tests re-run this test binary once per scenario, with
//! `SPAWNFD_SCENARIO` naming it.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Command as StdCommand;

use spawnfd::{Command, SpawnError, Stdio, Step};
use support::seccomp::{Refuse, install};

mod support;

const PROBE: &str = env!("CARGO_BIN_EXE_spawnfd-probe");

const CLONE3_ENOSYS: Refuse = Refuse::errno(libc::SYS_clone3, libc::ENOSYS);
const CLOSE_RANGE_ENOSYS: Refuse = Refuse::errno(libc::SYS_close_range, libc::ENOSYS);

/// Opens fds that are not close-on-exec, which no child may see.
fn open_stray_fds() -> Vec<OwnedFd> {
    (0..3)
        .map(|_| {
            // SAFETY: open without O_CLOEXEC on purpose; the fd is owned below.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
            assert!(fd >= 0);
            // SAFETY: a fresh fd owned by nobody else.
            unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
        })
        .collect()
}

/// The fd numbers in a probe report.
fn reported_fds(report: &str) -> Vec<i32> {
    report
        .lines()
        .filter_map(|l| l.strip_prefix("fd ")?.split(' ').next()?.parse().ok())
        .collect()
}

/// Spawns the probe with fd 5 mapped and stray fds open; checks it saw
/// exactly 0, 1, 2, 5 and a clean signal slate.
fn check_exact_fds() {
    let strays = open_stray_fds();
    let mapped: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let out = Command::new(PROBE)
        .fd(5, mapped)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        reported_fds(&report),
        [0, 1, 2, 5],
        "strays {strays:?}:\n{report}"
    );
    if report.contains("\nsigign ") {
        assert!(report.contains("\nsigign 0000000000000000\n"), "{report}");
    }
    drop(strays);
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
        stdout.contains("scenario ran") || stdout.contains("skipped:"),
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
fn watches_children_without_clone_pidfd() {
    run_scenario("no-pidfd");
}

#[test]
fn closes_fds_without_close_range() {
    run_scenario("no-close-range");
}

#[test]
fn spawns_without_proc() {
    run_scenario("no-proc");
}

/// The body of a scenario; does nothing unless `SPAWNFD_SCENARIO` is set.
#[test]
fn scenario() {
    let Ok(name) = std::env::var("SPAWNFD_SCENARIO") else {
        return;
    };
    let filter = match name.as_str() {
        "clone3-enosys" => install(&[CLONE3_ENOSYS]),
        "clone3-eperm" => install(&[Refuse::errno(libc::SYS_clone3, libc::EPERM)]),
        "no-pidfd" => install(&[
            CLONE3_ENOSYS,
            Refuse::errno(libc::SYS_clone, libc::EINVAL).when_arg0_has(libc::CLONE_PIDFD as u32),
        ]),
        "no-close-range" => install(&[CLOSE_RANGE_ENOSYS]),
        "no-proc" => hide_proc().and_then(|()| install(&[CLOSE_RANGE_ENOSYS])),
        other => panic!("unknown scenario {other}"),
    };
    if let Err(e) = filter {
        println!("skipped: {name} cannot be set up here ({e})");
        return;
    }

    match name.as_str() {
        "no-pidfd" => {
            // Spawned without CLONE_PIDFD: the child's fd is its exit fd,
            // a pipe, and waiting works through its watcher.
            let mut child = Command::new(PROBE).stdout(Stdio::null()).spawn().unwrap();
            let err = spawnfd::pidfd_getpid(child.pidfd()).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
            assert!(child.wait().unwrap().success());
            check_exact_fds();
        }
        "clone3-enosys" | "clone3-eperm" => {
            // The filter holds: clone3 is refused on this thread.
            // SAFETY: a clone3 call with a NULL argument block, which the
            // filter refuses before the kernel reads it.
            assert_eq!(
                unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) },
                -1
            );
            // Before any other spawn, clone3's refusal of this very request
            // is the answer: clone cannot create a time namespace, its
            // CLONE_NEWTIME bit being part of the exit-signal field.
            let time_ns = || {
                Command::new(PROBE)
                    .unshare(spawnfd::Namespaces::TIME)
                    .status()
            };
            let err = time_ns().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
            assert!(err.to_string().contains("needs clone3"), "{err}");
            // Twice: the first spawn probes and caches, the second uses the
            // cached choice.
            check_exact_fds();
            check_exact_fds();
            // With clone remembered, the same refusal without trying clone3.
            let err = time_ns().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported, "{err}");
            assert!(err.to_string().contains("needs clone3"), "{err}");
            // Child errors still come back exactly on this path.
            let err = Command::new(PROBE)
                .current_dir("/nonexistent")
                .spawn()
                .unwrap_err();
            let detail = SpawnError::from_io(&err).unwrap();
            assert_eq!(detail.step(), Step::Chdir);
            assert_eq!(detail.raw_os_error(), Some(libc::ENOENT));
            // And the pidfd works for waiting and signalling.
            let mut child = Command::new("sleep").arg("100").spawn().unwrap();
            child.kill().unwrap();
            let status = child.wait().unwrap();
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(libc::SIGKILL)
            );
        }
        "no-close-range" | "no-proc" => {
            // SAFETY: close_range with integer arguments on an fd range
            // that holds nothing.
            let r = unsafe { libc::syscall(libc::SYS_close_range, 100_000u32, 100_001u32, 0u32) };
            assert_eq!(r, -1);
            if name == "no-proc" {
                assert!(std::fs::metadata("/proc/self").is_err());
            }
            check_exact_fds();
        }
        _ => unreachable!(),
    }
    println!("scenario ran");
}

/// Detaches `/proc` in a private mount namespace of this process.
fn hide_proc() -> io::Result<()> {
    // SAFETY: unshare, mount and umount2 with valid C strings; they affect
    // only this process's new mount namespace.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0
            || libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            || libc::umount2(c"/proc".as_ptr(), libc::MNT_DETACH) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

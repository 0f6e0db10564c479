//! Terminals, on a fresh pseudo-terminal: acquiring a controlling terminal
//! in a new session (`setsid` + `controlling_terminal`), putting the
//! child's group in the foreground (`foreground`), detaching from the
//! parent's terminal (`detach_terminal`); each checked from inside the
//! child (`tty_nr` and `tpgid` of its `/proc/self/stat`), and each failure
//! or refusal once.
//!
//! The scenarios that need this process to own a controlling terminal run
//! in a process of their own, which makes itself a session leader: the test
//! process keeps its session. Skips, with a printed reason, where no
//! pseudo-terminal can be opened.

mod support;

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::fs::MetadataExt;
use std::time::{Duration, Instant};

use spawnfd::Step;
use support::{
    AttrReport, attr_probe, expect_step, in_isolated_run, isolated_command, refused, run_attrs,
};

/// A new pseudo-terminal: both ends opened `O_NOCTTY`, so that opening them
/// never makes it our controlling terminal.
struct Pty {
    /// Kept open for as long as the terminal is used: closing it hangs up
    /// the terminal.
    _master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    /// Opens one, or says why it cannot.
    fn open() -> Result<Pty, String> {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: posix_openpt takes flags and returns a new fd or -1.
        let master = unsafe { libc::posix_openpt(flags) };
        if master < 0 {
            return Err(format!("posix_openpt: {}", io::Error::last_os_error()));
        }
        // SAFETY: a new fd that nobody else owns.
        let master = unsafe { OwnedFd::from_raw_fd(master) };
        let fd = master.as_raw_fd();
        // SAFETY: grantpt and unlockpt act on the master we own.
        if unsafe { libc::grantpt(fd) } != 0 || unsafe { libc::unlockpt(fd) } != 0 {
            return Err(format!("unlock the pty: {}", io::Error::last_os_error()));
        }
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: ptsname_r writes a NUL-terminated name into `name`, of
        // the size given.
        let r = unsafe { libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) };
        if r != 0 {
            return Err(format!("ptsname_r: {}", io::Error::from_raw_os_error(r)));
        }
        // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated path.
        let path = unsafe { CStr::from_ptr(name.as_ptr()) };
        // SAFETY: a NUL-terminated path and plain flags.
        let slave = unsafe { libc::open(path.as_ptr(), flags) };
        if slave < 0 {
            return Err(format!("open {path:?}: {}", io::Error::last_os_error()));
        }
        Ok(Pty {
            _master: master,
            // SAFETY: a new fd that nobody else owns.
            slave: unsafe { OwnedFd::from_raw_fd(slave) },
        })
    }

    /// Opens one, or prints why it cannot (for a skip).
    fn open_or_skip() -> Option<Pty> {
        Pty::open()
            .inspect_err(|reason| eprintln!("skipped: no pseudo-terminal: {reason}"))
            .ok()
    }

    /// A new fd of the terminal (for a child, which takes ownership).
    fn slave(&self) -> OwnedFd {
        self.slave.try_clone().expect("dup the pty")
    }

    /// What `/proc/PID/stat` says as `tty_nr` for a process whose
    /// controlling terminal this is: the kernel's `new_encode_dev`.
    fn tty_nr(&self) -> i64 {
        let file = File::from(self.slave());
        let rdev = file.metadata().expect("fstat the pty").st_rdev();
        let (major, minor) = (i64::from(libc::major(rdev)), i64::from(libc::minor(rdev)));
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }
}

/// The child fd the terminal is given at.
const TTY_FD: i32 = 5;

fn dev_null() -> File {
    File::open("/dev/null").expect("open /dev/null")
}

// --- In this process: a new session takes the terminal ---------------------

#[test]
fn controlling_terminal_is_acquired_by_the_new_session() {
    let Some(pty) = Pty::open_or_skip() else {
        return;
    };
    let r = run_attrs(
        attr_probe()
            .setsid(true)
            .fd(TTY_FD, pty.slave())
            .controlling_terminal(TTY_FD),
    );
    let pid = i64::from(r.pid);
    assert_ne!(r.stat("tty_nr"), 0);
    assert_eq!(r.stat("tty_nr"), pty.tty_nr());
    assert_eq!(r.stat("session"), pid);
    // Acquiring it makes the session leader's group the foreground one.
    assert_eq!(r.stat("tpgid"), pid);
}

#[test]
fn foreground_on_the_childs_own_terminal() {
    let Some(pty) = Pty::open_or_skip() else {
        return;
    };
    let r = run_attrs(
        attr_probe()
            .setsid(true)
            .fd(TTY_FD, pty.slave())
            .controlling_terminal(TTY_FD)
            .foreground(TTY_FD),
    );
    assert_eq!(r.stat("tty_nr"), pty.tty_nr());
    assert_eq!(r.stat("tpgid"), r.stat("pgrp"));
    assert_eq!(r.stat("pgrp"), i64::from(r.pid));
}

#[test]
fn detach_terminal_without_a_controlling_terminal_succeeds() {
    let r = run_attrs(attr_probe().detach_terminal(true));
    assert_eq!(r.stat("tty_nr"), 0);
}

// --- Failures and refusals -------------------------------------------------

#[test]
fn terminal_requests_that_cannot_work_are_refused() {
    let message = refused(
        attr_probe()
            .fd(TTY_FD, dev_null())
            .controlling_terminal(TTY_FD),
    );
    assert!(message.contains("needs setsid(true)"), "{message}");

    let message = refused(attr_probe().setsid(true).controlling_terminal(9));
    assert!(
        message.contains("controlling terminal fd 9 is not one of the child's fds"),
        "{message}"
    );

    let message = refused(attr_probe().foreground(9));
    assert!(
        message.contains("foreground terminal fd 9 is not one of the child's fds"),
        "{message}"
    );

    let message = refused(attr_probe().setsid(true).detach_terminal(true));
    assert!(message.contains("detach_terminal() conflicts"), "{message}");
}

#[test]
fn controlling_terminal_on_a_non_terminal_fails_with_enotty() {
    let (failure, message) = expect_step(
        attr_probe()
            .setsid(true)
            .fd(TTY_FD, dev_null())
            .controlling_terminal(TTY_FD),
        Step::ControllingTerminal,
        libc::ENOTTY,
    );
    assert_eq!(failure.fd(), Some(TTY_FD));
    assert!(
        message.ends_with(
            ": set controlling terminal (child fd 5): Inappropriate ioctl for device (os error 25)"
        ),
        "{message}"
    );
}

#[test]
fn foreground_on_a_non_terminal_fails_with_enotty() {
    let (failure, message) = expect_step(
        attr_probe().fd(TTY_FD, dev_null()).foreground(TTY_FD),
        Step::Foreground,
        libc::ENOTTY,
    );
    assert_eq!(failure.fd(), Some(TTY_FD), "{message}");
}

// --- In a session of its own, with the terminal as ours --------------------

const OWN_TERMINAL: &str = "own_terminal_scenario";

/// Runs `test` in a process of its own and asserts that it passed; kills
/// it if it has not ended after a long while, so that a child stopped by
/// `SIGTTOU` fails the test instead of hanging it.
fn run_isolated_guarded(test: &str) {
    let out = support::ScratchDir::new("isolated-out");
    let stdout = out.path().join("stdout");
    let stderr = out.path().join("stderr");
    let mut child = isolated_command(test)
        .stdin(std::process::Stdio::null())
        .stdout(File::create(&stdout).expect("create the stdout file"))
        .stderr(File::create(&stderr).expect("create the stderr file"))
        .spawn()
        .expect("re-run the test binary");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the isolated run") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the isolated run of {test} hung:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path| std::fs::read(path).expect("read the isolated run's output");
    support::assert_isolated_passed(test, status, &read(&stdout), &read(&stderr));
}

#[test]
fn children_of_a_session_with_a_terminal() {
    if Pty::open_or_skip().is_none() {
        return;
    }
    run_isolated_guarded(OWN_TERMINAL);
}

/// Makes this (isolated) process a session leader whose controlling
/// terminal is a new pty; then a child inherits the terminal, one detaches
/// from it, and one puts its new group in the foreground from the
/// background without being stopped by `SIGTTOU`.
#[test]
#[ignore = "run in a process of its own by children_of_a_session_with_a_terminal"]
fn own_terminal_scenario() {
    if !in_isolated_run(OWN_TERMINAL) {
        return;
    }
    let pty = Pty::open().expect("open a pty");
    // SAFETY: setsid and ioctl(TIOCSCTTY) change only this process, which
    // is the isolated run; the fd is ours. SIGHUP is ignored because the
    // terminal hangs up when the pty is closed at the end, and the kernel
    // then sends SIGHUP to us, its session leader. (The children do not
    // inherit that: their ignored signals are reset.)
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        assert_ne!(libc::setsid(), -1, "setsid: {}", io::Error::last_os_error());
        let r = libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0);
        assert_eq!(r, 0, "TIOCSCTTY: {}", io::Error::last_os_error());
    }
    // SAFETY: getsid(0) and getpgrp() ask about ourselves.
    let (session, group) = unsafe { (i64::from(libc::getsid(0)), i64::from(libc::getpgrp())) };
    // SAFETY: tcgetpgrp on a terminal fd we own.
    let foreground = unsafe { libc::tcgetpgrp(pty.slave.as_fd().as_raw_fd()) };
    assert_eq!(i64::from(foreground), group, "we are in the foreground");

    let inherits: AttrReport = run_attrs(&mut attr_probe());
    assert_eq!(inherits.stat("tty_nr"), pty.tty_nr(), "inherited");
    assert_eq!(inherits.stat("session"), session);
    assert_eq!(inherits.stat("tpgid"), group);

    let detached = run_attrs(attr_probe().detach_terminal(true));
    assert_eq!(detached.stat("tty_nr"), 0, "detached");
    assert_eq!(detached.stat("session"), session);

    let leader = run_attrs(
        attr_probe()
            .process_group(0)
            .fd(TTY_FD, pty.slave())
            .foreground(TTY_FD),
    );
    let pid = i64::from(leader.pid);
    assert_eq!(leader.stat("pgrp"), pid);
    assert_eq!(leader.stat("session"), session);
    assert_eq!(
        leader.stat("tpgid"),
        pid,
        "its new group is in the foreground"
    );
}

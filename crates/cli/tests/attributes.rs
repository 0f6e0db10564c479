//! Runs the built `spawnfd` binary with the child attribute options and
//! checks each from inside the child: `/proc/self/status`, `/proc/self/stat`,
//! `/proc/self/ns/*`, `/proc/self/cgroup`, the shell's `ulimit` and `umask`.
//!
//! Tests that need root, a terminal, user namespaces, a writable cgroup v2
//! hierarchy or python3 print why they skip when these are missing.

#![allow(unsafe_code)]

mod common;

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, json_report, new_cgroup, remove_cgroup, run, scratch_path, stderr, stdout};

/// Runs `spawnfd run ARGS...` and returns its stdout, which it must have
/// ended successfully.
fn run_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run(args);
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    stdout(&out).to_owned()
}

/// Asserts that spawnfd failed itself (125) with a message containing
/// `needle`.
fn assert_fails_125(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(125), "{}", stderr(out));
    assert!(stderr(out).starts_with("spawnfd: "), "{}", stderr(out));
    assert!(
        stderr(out).contains(needle),
        "{needle:?} not in {:?}",
        stderr(out)
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn effective_ids() -> (u32, u32) {
    // SAFETY: neither call takes arguments or can fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Says why a test does nothing.
fn skip(test: &str, why: &str) {
    eprintln!("skipped: {test}: {why}");
}

/// Where this test runs under a forced mechanism path (`.ci/paths`) that
/// takes away what `out`'s spawn needed (`clone3` for a time namespace or
/// a cgroup), spawnfd's message saying so: the library's answer there.
fn unavailable_on_forced_path(out: &Output) -> Option<String> {
    let path = std::env::var("SPAWNFD_FORCED_PATH").ok()?;
    let err = stderr(out);
    let refused = err.contains("needs clone3") || err.contains("needs CLONE_INTO_CGROUP");
    (out.status.code() == Some(125) && refused)
        .then(|| format!("unavailable on the forced path {path}: {}", err.trim()))
}

/// A fresh path in the test scratch directory.
fn scratch(name: &str) -> PathBuf {
    scratch_path("attrs", name)
}

/// The value of `key` in a `/proc/PID/status` text, without the spaces
/// around it.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
}

/// The fields of `/proc/PID/stat` that the tests look at.
#[derive(Debug)]
struct Stat {
    pid: i64,
    pgrp: i64,
    session: i64,
    tty_nr: i64,
    tpgid: i64,
    nice: i64,
}

/// Parses a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may hold spaces, so the fields after it are counted from
/// its closing parenthesis.
fn parse_stat(text: &str) -> Stat {
    let (pid, rest) = text.split_once(" (").expect("pid (comm)");
    let (_, rest) = rest.rsplit_once(") ").expect("(comm) state");
    // fields[0] is field 3 (the state letter).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields[n - 3].parse().expect("numeric stat field");
    Stat {
        pid: pid.parse().expect("pid"),
        pgrp: field(5),
        session: field(6),
        tty_nr: field(7),
        tpgid: field(8),
        nice: field(19),
    }
}

/// `/proc/self/stat` of the child, which is `cat` itself.
fn child_stat(args: &[&str]) -> Stat {
    let mut all = args.to_vec();
    all.extend(["--", "cat", "/proc/self/stat"]);
    parse_stat(&run_ok(all))
}

/// `/proc/self/status` of the child.
fn child_status(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--", "cat", "/proc/self/status"]);
    run_ok(all)
}

/// Asserts that spawnfd refuses `args` as a usage error (exit status 125)
/// with a message containing `needle`.
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: "),
        "{args:?}: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(needle),
        "{args:?}: {needle:?} not in {}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------
// Usage errors and help

#[test]
fn malformed_values_are_usage_errors() {
    for (args, needle) in [
        (&["--rlimit", "FOO=1"][..], "unknown resource \"FOO\""),
        (&["--rlimit", "NOFILE"], "RES=SOFT:HARD"),
        (&["--rlimit", "NOFILE=x"], "LIMIT must be"),
        (
            &["--rlimit", "NOFILE=2:1"],
            "soft limit 2 is above the hard limit 1",
        ),
        (&["--rlimit", "NOFILE=:"], "SOFT, HARD or both"),
        (&["--rlimit", "NOFILE=unlimited:5"], "above the hard limit"),
        (&["--cpus", "x"], "a CPU must be"),
        (&["--cpus", ""], "CPU numbers"),
        (&["--cpus", "3-1"], "backwards"),
        (&["--cpus", "0,,1"], "CPU numbers"),
        (
            &["--cpus", "0-99999999999999999999999"],
            "CPU 99999999999999999999999 is above the largest supported, 65535",
        ),
        (
            &["--cpus", "0,70000"],
            "CPU 70000 is above the largest supported, 65535",
        ),
        (&["--umask", "9"], "octal"),
        (&["--umask", "1000"], "above 0777"),
        (&["--umask", ""], "octal"),
        (&["--nice", "20"], "20"),
        (&["--nice", "-21"], "-21"),
        (&["--nice", "x"], "invalid value"),
        (&["--pgid", "-1"], "-1"),
        (&["--setsid", "--ctty", "-1"], "-1"),
        (&["--foreground", "x"], "invalid value"),
        (&["--uid", ""], "not an empty string"),
        (&["--uid", "-1"], "-1"),
        (&["--gid", "4294967296"], "invalid value"),
        (&["--groups", "1,,2"], "empty"),
        (&["--groups", "99999999999"], "too large"),
        (&["--unshare", "foo"], "unknown namespace \"foo\""),
        (&["--unshare", ""], "unknown namespace"),
        (
            &["--unshare", "user", "--uid-map", "0:0"],
            "INSIDE:OUTSIDE:COUNT",
        ),
        (&["--unshare", "user", "--uid-map", "0:0:0"], "at least 1"),
        (
            &["--unshare", "user", "--gid-map", "a:0:1"],
            "INSIDE must be",
        ),
        (&["--pdeathsig", "FOO"], "unknown signal \"FOO\""),
        (&["--pdeathsig", "65"], "unknown signal"),
        (&["--ignore-signal", "0"], "unknown signal"),
        (&["--ignore-signal", "USR1,"], "unknown signal"),
        (&["--signal-mask", ""], "unknown signal"),
        (&["--cwd-fd", "-1"], "-1"),
        (&["--uid", "4294967295"], "(uid_t) -1"),
        (&["--gid", "4294967295"], "(uid_t) -1"),
        (&["--groups", "5,4294967295"], "(uid_t) -1"),
        (&["--uid", "+5"], "not an id"),
        (
            &["--rlimit", "NOFILE=1K"],
            "a size suffix applies only to limits in bytes",
        ),
        (&["--rlimit", "CPU=1M:2M"], "CPU is in seconds"),
        (&["--rlimit", "AS=16777216T"], "too large"),
        (&["--rlimit", "AS=1KB"], "size suffix K, M, G or T"),
        (&["--cpus", "0-10:0"], "stride of 0-10:0 must be at least 1"),
        (&["--cpus", "3:2"], "a stride needs a range"),
        (
            &["--cpus", "0,65535"],
            "--cpus: CPU 65535 does not exist on this machine, whose CPUs are",
        ),
        (
            &[
                "--unshare",
                "user",
                "--uid-map",
                "0:1000:10",
                "--uid-map",
                "9:0:1",
            ],
            "--uid-map: the lines 0:1000:10 and 9:0:1 overlap inside the namespace (id 9)",
        ),
        (
            &[
                "--unshare",
                "user",
                "--gid-map",
                "0:1000:10",
                "--gid-map",
                "20:1005:1",
            ],
            "--gid-map: the lines 0:1000:10 and 20:1005:1 overlap outside the namespace",
        ),
        (
            &["--unshare", "user", "--uid-map", "4294967294:0:2"],
            "beyond the largest id, 4294967294",
        ),
        (&["--unshare", "times"], "unknown namespace \"times\""),
    ] {
        let mut all = args.to_vec();
        all.push("true");
        assert_usage_error(&all, needle);
    }
}

/// An id map of more lines than the kernel takes (340) is a usage error,
/// not a failure to write the map.
#[test]
fn id_map_of_too_many_lines_is_a_usage_error() {
    let lines: Vec<String> = (0..341).map(|i| format!("{i}:{i}:1")).collect();
    let mut args = vec!["--unshare", "user"];
    for line in &lines {
        args.extend(["--uid-map", line]);
    }
    args.push("true");
    assert_usage_error(
        &args,
        "--uid-map: 341 lines are more than an id map may have (340)",
    );
}

#[test]
fn conflicting_options_are_usage_errors() {
    for (args, needle) in [
        (&["--setsid", "--pgid", "0"][..], "cannot be used with"),
        (&["--ctty", "0"], "--setsid"),
        (&["--noctty", "--setsid"], "cannot be used with"),
        (&["--uid", "1", "--user", "root"], "cannot be used with"),
        (&["--gid", "1", "--group", "root"], "cannot be used with"),
        (&["--cwd", "/", "--cwd-fd", "0"], "cannot be used with"),
        (
            &["--map-root-user", "--uid-map", "0:0:1"],
            "cannot be used with",
        ),
        (
            &["--signal-mask", "USR1", "--inherit-signal-mask"],
            "cannot be used with",
        ),
        (
            &["--uid-map", "0:0:1"],
            "--uid-map needs a new user namespace",
        ),
        (
            &["--unshare", "uts", "--gid-map", "0:0:1"],
            "--gid-map needs a new user namespace",
        ),
    ] {
        let mut all = args.to_vec();
        all.push("true");
        assert_usage_error(&all, needle);
    }
}

#[test]
fn help_lists_every_attribute_option() {
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in [
        "--cwd-fd",
        "--chroot",
        "--umask",
        "--setsid",
        "--pgid",
        "--ctty",
        "--noctty",
        "--foreground",
        "--uid",
        "--user",
        "--gid",
        "--group",
        "--groups",
        "--rlimit",
        "--nice",
        "--cpus",
        "--unshare",
        "--uid-map",
        "--gid-map",
        "--map-root-user",
        "--cgroup",
        "--mount-proc",
        "--pdeathsig",
        "--no-new-privs",
        "--ignore-signal",
        "--signal-mask",
        "--inherit-signal-mask",
        "--keep-ignored-signals",
    ] {
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "{flag} missing from:\n{help}"
        );
    }
    for heading in [
        "Directories and files:",
        "Session and terminal:",
        "User and groups:",
        "Limits and scheduling:",
        "Namespaces and cgroup:",
        "Privileges and lifetime:",
        "Signals:",
    ] {
        assert!(help.contains(heading), "{heading} missing from:\n{help}");
    }
}

// ---------------------------------------------------------------------
// Directories and files

#[test]
fn umask_sets_the_file_mode_creation_mask() {
    assert_eq!(
        run_ok(["--umask", "027", "--", "sh", "-c", "umask"]),
        "0027\n"
    );
    assert_eq!(
        run_ok(["--umask", "0o77", "--", "sh", "-c", "umask"]),
        "0077\n"
    );
    assert_eq!(
        run_ok(["--umask", "0", "--", "sh", "-c", "umask"]),
        "0000\n"
    );
}

#[test]
fn cwd_fd_changes_to_the_open_directory() {
    let dir = scratch("cwd-fd");
    fs::create_dir(&dir).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" run --cwd-fd 3 -- pwd -P 3<"$1""#)
        .arg(BIN)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        dir.canonicalize().unwrap().to_str().unwrap()
    );

    // The directory's fd is not passed on: ls sees 0, 1, 2 and its own.
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" run --cwd-fd 3 -- ls /proc/self/fd 3<"$1""#)
        .arg(BIN)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).split_whitespace().count(),
        4,
        "{}",
        stdout(&out)
    );
}

#[test]
fn cwd_fd_that_is_not_open_exits_125() {
    let out = run(["--cwd-fd", "987", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        stderr(&out),
        "spawnfd: --cwd-fd 987: fd 987: Bad file descriptor (os error 9)\n"
    );
}

#[test]
fn chroot_to_a_missing_directory_exits_125() {
    let out = run(["--chroot", "/nonexistent", "true"]);
    assert_fails_125(&out, r#"chroot "/nonexistent""#);

    let out = run(["--json", "--chroot", "/nonexistent", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let error = &json_report(&out)["error"];
    assert_eq!(error["step"], "chroot");
    assert_eq!(error["path"], "/nonexistent");
    assert_eq!(error["errno"], libc::ENOENT);
}

#[test]
fn chroot_resolves_program_inside_and_starts_in_the_new_root() {
    if !is_root() {
        return skip("chroot test", "chroot needs root");
    }
    // /bin/true exists outside an empty root, not inside it.
    let empty = scratch("empty-root");
    fs::create_dir(&empty).unwrap();
    let out = run([
        OsStr::new("--chroot"),
        empty.as_os_str(),
        OsStr::new("/bin/true"),
    ]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"exec "/bin/true""#),
        "{}",
        stderr(&out)
    );

    // Without --cwd, PROGRAM starts in the new root, as with chroot(1).
    let dir = scratch("chroot-cwd");
    fs::create_dir(&dir).unwrap();
    let pwd = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("run")
            .args(args)
            .args(["--", "pwd"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(pwd(&["--chroot", "/"]), "/\n");
    assert_eq!(pwd(&["--chroot", "/", "--cwd", "/usr"]), "/usr\n");
    assert_eq!(pwd(&[]), format!("{}\n", dir.display()), "control");
}

// ---------------------------------------------------------------------
// Session and terminal

#[test]
fn setsid_makes_a_new_session() {
    let stat = child_stat(&["--setsid"]);
    assert_eq!(stat.session, stat.pid, "{stat:?}");
    assert_eq!(stat.pgrp, stat.pid, "{stat:?}");
    assert_eq!(stat.tty_nr, 0, "no controlling terminal: {stat:?}");

    let control = child_stat(&[]);
    assert_ne!(control.session, control.pid, "{control:?}");
}

#[test]
fn pgid_0_makes_a_new_process_group() {
    let stat = child_stat(&["--pgid", "0"]);
    assert_eq!(stat.pgrp, stat.pid, "{stat:?}");
    assert_ne!(stat.session, stat.pid, "same session: {stat:?}");

    let control = child_stat(&[]);
    assert_ne!(control.pgrp, control.pid, "{control:?}");
}

#[test]
fn pgid_to_a_group_that_does_not_exist_exits_125() {
    // A pid far above any in use is no process group of the session.
    let out = run(["--json", "--pgid", "2147483647", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let error = &json_report(&out)["error"];
    assert_eq!(error["step"], "setpgid");
    assert_eq!(error["id"], 2147483647);
}

/// A pseudo-terminal: the master end and the path of the slave.
struct Pty {
    _master: OwnedFd,
    slave: PathBuf,
}

fn open_pty() -> Option<Pty> {
    // SAFETY: posix_openpt takes flags and returns a new fd or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        return None;
    }
    // SAFETY: `master` was just opened and is owned by nothing else.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&master);
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: `raw` is the open master; `name` is writable for its size.
    let ok = unsafe {
        libc::grantpt(raw) == 0
            && libc::unlockpt(raw) == 0
            && libc::ptsname_r(raw, name.as_mut_ptr(), name.len()) == 0
    };
    if !ok {
        return None;
    }
    // SAFETY: ptsname_r wrote a NUL-terminated path into `name`.
    let slave = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    Some(Pty {
        _master: master,
        slave: PathBuf::from(slave.to_str().ok()?),
    })
}

impl Pty {
    /// The slave end, opened without making it a controlling terminal.
    fn open_slave(&self) -> File {
        File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&self.slave)
            .expect("open the pty slave")
    }

    /// The slave's device number as `/proc/PID/stat` shows `tty_nr`.
    fn tty_nr(&self) -> i64 {
        let rdev = fs::metadata(&self.slave).unwrap().rdev();
        let (major, minor) = (i64::from(libc::major(rdev)), i64::from(libc::minor(rdev)));
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }

    /// `/proc/self/stat` of the last program of `spawnfd run ARGS... --
    /// cat /proc/self/stat`, run with the slave as stdin.
    fn stat(&self, args: &[&str]) -> Stat {
        let out = Command::new(BIN)
            .arg("run")
            .args(args)
            .args(["--", "cat", "/proc/self/stat"])
            .stdin(Stdio::from(self.open_slave()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        parse_stat(stdout(&out))
    }
}

#[test]
fn ctty_gives_a_new_session_its_controlling_terminal() {
    let Some(pty) = open_pty() else {
        return skip("ctty test", "cannot open a pseudo-terminal");
    };
    let stat = pty.stat(&["--setsid", "--ctty", "0"]);
    assert_eq!(stat.tty_nr, pty.tty_nr(), "{stat:?}");
    // A session leader that acquires a terminal is its foreground group.
    assert_eq!(stat.tpgid, stat.pid, "{stat:?}");

    let control = pty.stat(&["--setsid"]);
    assert_eq!(control.tty_nr, 0, "{control:?}");
}

#[test]
fn ctty_on_a_file_that_is_no_terminal_exits_125() {
    let out = run(["--setsid", "--ctty", "0", "true"]);
    assert_fails_125(&out, "set controlling terminal (child fd 0)");
    let out = run(["--setsid", "--ctty", "7", "true"]);
    assert_fails_125(&out, "fd 7 is not one of the child's fds");
}

#[test]
fn noctty_detaches_from_the_controlling_terminal() {
    let Some(pty) = open_pty() else {
        return skip("noctty test", "cannot open a pseudo-terminal");
    };
    // The outer spawnfd gives the inner one a terminal to detach from.
    let outer = ["--setsid", "--ctty", "0", "--", BIN, "run"];
    let stat = pty.stat(&[&outer[..], &["--noctty"]].concat());
    assert_eq!(stat.tty_nr, 0, "{stat:?}");

    let control = pty.stat(&outer);
    assert_eq!(control.tty_nr, pty.tty_nr(), "{control:?}");
}

#[test]
fn foreground_puts_the_child_group_in_the_foreground() {
    let Some(pty) = open_pty() else {
        return skip("foreground test", "cannot open a pseudo-terminal");
    };
    let outer = ["--setsid", "--ctty", "0", "--", BIN, "run", "--pgid", "0"];
    let stat = pty.stat(&[&outer[..], &["--foreground", "0"]].concat());
    assert_eq!(stat.pgrp, stat.pid, "{stat:?}");
    assert_eq!(stat.tpgid, stat.pgrp, "{stat:?}");

    let control = pty.stat(&outer);
    assert_ne!(control.tpgid, control.pgrp, "{control:?}");
}

// ---------------------------------------------------------------------
// User and groups

#[test]
fn uid_gid_and_groups_set_the_credentials() {
    if !is_root() {
        return skip("credentials test", "changing ids needs root");
    }
    let status = child_status(&["--uid", "1000", "--gid", "1001", "--groups", "5,6"]);
    assert_eq!(status_field(&status, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&status, "Gid"), "1001\t1001\t1001\t1001");
    assert_eq!(status_field(&status, "Groups"), "5 6");

    // --uid alone changes only the uid, and drops root's groups.
    let status = child_status(&["--uid", "1000"]);
    assert_eq!(status_field(&status, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&status, "Gid"), "0\t0\t0\t0");
    assert_eq!(status_field(&status, "Groups"), "");

    // --groups '' clears the supplementary groups; names are looked up.
    let status = child_status(&["--groups", ""]);
    assert_eq!(status_field(&status, "Groups"), "");
    let status = child_status(&["--groups", "7,root"]);
    assert_eq!(
        status_field(&status, "Groups"),
        "0 7",
        "sorted by the kernel"
    );

    // setpriv's spellings: --reuid, --regid, --clear-groups (which wins
    // over the groups --user would give).
    let status = child_status(&["--reuid", "1000", "--regid", "1001"]);
    assert_eq!(status_field(&status, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(&status, "Gid"), "1001\t1001\t1001\t1001");
    let status = child_status(&["--user", "root"]);
    assert_ne!(status_field(&status, "Groups"), "", "the control");
    let status = child_status(&["--user", "root", "--clear-groups"]);
    assert_eq!(status_field(&status, "Groups"), "");
}

/// `--uid` and `--gid` take names as well as numbers, and only change
/// the one id: `--uid NAME` is not `--user NAME`.
#[test]
fn uid_and_gid_take_names() {
    if !is_root() {
        return skip("--uid NAME test", "changing ids needs root");
    }
    let Some((uid, _, _)) = system_ids("nobody") else {
        return skip("--uid NAME test", "no user nobody");
    };
    // The group database's name for group 0 (root on most systems).
    let group0 = String::from_utf8(
        Command::new("getent")
            .args(["group", "0"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let Some(group0) = group0.split(':').next().filter(|n| !n.is_empty()) else {
        return skip("--gid NAME test", "no name for group 0");
    };
    let status = child_status(&["--uid", "nobody", "--gid", group0, "--groups", "7"]);
    assert_eq!(
        status_field(&status, "Uid"),
        format!("{uid}\t{uid}\t{uid}\t{uid}")
    );
    assert_eq!(status_field(&status, "Gid"), "0\t0\t0\t0");
    assert_eq!(status_field(&status, "Groups"), "7");

    let out = run(["--uid", "no-such-user-here", "true"]);
    assert_fails_125(&out, "--uid \"no-such-user-here\": no such user");
    let out = run(["--gid", "no-such-group-here", "true"]);
    assert_fails_125(&out, "--gid \"no-such-group-here\": no such group");
}

/// The ids the system's `id` gives for `user`: uid, gid, and the sorted
/// list of all groups; `None` if there is no such user.
fn system_ids(user: &str) -> Option<(String, String, Vec<u32>)> {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap().trim().to_owned())
    };
    let mut groups: Vec<u32> = id("-G")?
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    Some((id("-u")?, id("-g")?, groups))
}

/// The sorted `Groups:` of a status text.
fn groups_of(status: &str) -> Vec<u32> {
    let mut groups: Vec<u32> = status_field(status, "Groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    groups.sort_unstable();
    groups
}

#[test]
fn user_takes_the_ids_and_groups_of_the_named_user() {
    if !is_root() {
        return skip("--user test", "changing ids needs root");
    }
    let mut tested = 0;
    // postgres is in a supplementary group on the CI image; nobody and
    // root are everywhere.
    for name in ["nobody", "root", "postgres", "daemon"] {
        let Some((uid, gid, groups)) = system_ids(name) else {
            continue;
        };
        let status = child_status(&["--user", name]);
        assert_eq!(status_field(&status, "Uid").split('\t').next(), Some(&*uid));
        assert_eq!(status_field(&status, "Gid").split('\t').next(), Some(&*gid));
        assert_eq!(groups_of(&status), groups, "{name}");
        tested += 1;
    }
    assert!(tested > 0, "no user among nobody, root, postgres, daemon");
}

#[test]
fn user_group_and_groups_override_the_users_own() {
    if !is_root() {
        return skip("--user override test", "changing ids needs root");
    }
    let Some((uid, _, groups)) = system_ids("nobody") else {
        return skip("--user override test", "no user nobody");
    };
    // --group replaces the primary group; the supplementary ones stay.
    let status = child_status(&["--user", "nobody", "--group", "root"]);
    assert_eq!(status_field(&status, "Uid").split('\t').next(), Some(&*uid));
    assert_eq!(status_field(&status, "Gid"), "0\t0\t0\t0");
    assert_eq!(groups_of(&status), groups);

    // --gid and --groups replace both.
    let status = child_status(&["--user", "nobody", "--gid", "5", "--groups", "7,root"]);
    assert_eq!(status_field(&status, "Gid"), "5\t5\t5\t5");
    // The kernel sorts the groups.
    assert_eq!(status_field(&status, "Groups"), "0 7");
}

#[test]
fn unknown_user_or_group_exits_125() {
    let out = run(["--user", "spawnfd-no-such-user", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        stderr(&out),
        "spawnfd: --user \"spawnfd-no-such-user\": no such user\n"
    );

    let out = run(["--user", "123456", "true"]);
    assert_fails_125(&out, "use --uid");

    for option in ["--group", "--groups"] {
        let out = run([option, "spawnfd-no-such-group", "true"]);
        assert_eq!(out.status.code(), Some(125));
        assert_eq!(
            stderr(&out),
            format!("spawnfd: {option} \"spawnfd-no-such-group\": no such group\n")
        );
    }

    let out = run(["--json", "--user", "spawnfd-no-such-user", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(stderr(&out), "");
    let error = &json_report(&out)["error"];
    assert_eq!(error["option"], "--user");
    assert_eq!(
        error["message"],
        "--user \"spawnfd-no-such-user\": no such user"
    );
}

/// Whether the system lets this process create a user namespace.
fn user_namespaces_work() -> bool {
    Command::new("unshare")
        .args(["--user", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn uid_without_a_mapping_fails_with_the_setuid_step() {
    if !user_namespaces_work() {
        return skip("setuid failure test", "no user namespaces here");
    }
    // In a new user namespace where only 0 is mapped, uid 5 does not exist.
    let (euid, _) = effective_ids();
    let map = format!("0:{euid}:1");
    let args = ["--unshare", "user", "--uid-map", &map, "--uid", "5", "true"];
    let out = run(args);
    assert_fails_125(&out, "setuid 5: Invalid argument");

    let out = run([&["--json"][..], &args].concat());
    assert_eq!(out.status.code(), Some(125));
    let error = &json_report(&out)["error"];
    assert_eq!(error["step"], "setuid");
    assert_eq!(error["id"], 5);
    assert_eq!(error["errno"], libc::EINVAL);
}

// ---------------------------------------------------------------------
// Limits and scheduling

#[test]
fn rlimit_sets_soft_and_hard_limits() {
    let limits = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--", "sh", "-c", "ulimit -n; ulimit -Hn"]);
        run_ok(all)
    };
    assert_eq!(limits(&["--rlimit", "NOFILE=100:200"]), "100\n200\n");
    assert_eq!(limits(&["--rlimit", "nofile=150"]), "150\n150\n");
    assert_eq!(limits(&["--rlimit", "RLIMIT_NOFILE=90:90"]), "90\n90\n");
    // The last of several for one resource counts.
    assert_eq!(
        limits(&["--rlimit", "NOFILE=100", "--rlimit", "NOFILE=120"]),
        "120\n120\n"
    );
    // A missing limit is spawnfd's own, which it inherited from here.
    let own_hard = run_ok(["sh", "-c", "ulimit -Hn"]);
    assert_eq!(
        limits(&["--rlimit", "NOFILE=100:"]),
        format!("100\n{own_hard}")
    );
    assert_eq!(
        run_ok(["--rlimit", "core=unlimited", "--", "sh", "-c", "ulimit -c"]),
        "unlimited\n"
    );
}

#[test]
fn rlimit_shows_in_proc_limits() {
    let out = run_ok([
        "--rlimit",
        "STACK=1048576:2097152",
        "--",
        "cat",
        "/proc/self/limits",
    ]);
    let line = out
        .lines()
        .find(|l| l.starts_with("Max stack size"))
        .expect("a stack line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3..6], ["1048576", "2097152", "bytes"], "{line}");
}

#[test]
fn rlimit_size_suffixes_are_binary_units() {
    let out = run_ok([
        "--rlimit",
        "STACK=1MiB:2m",
        "--rlimit",
        "AS=4G:unlimited",
        "--",
        "cat",
        "/proc/self/limits",
    ]);
    let fields = |heading: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(heading))
            .unwrap_or_else(|| panic!("no {heading} in {out}"));
        line[heading.len()..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(fields("Max stack size"), ["1048576", "2097152", "bytes"]);
    assert_eq!(
        fields("Max address space"),
        ["4294967296", "unlimited", "bytes"]
    );
}

#[test]
fn rlimit_that_cannot_be_set_names_the_resource() {
    // Above fs.nr_open even for root, above the hard limit for others.
    let out = run(["--rlimit", "NOFILE=unlimited", "true"]);
    assert_fails_125(&out, "setrlimit NOFILE: Operation not permitted");

    let out = run(["--json", "--rlimit", "NOFILE=unlimited", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let error = &json_report(&out)["error"];
    assert_eq!(error["step"], "setrlimit");
    assert_eq!(error["resource"], "NOFILE");
    assert_eq!(error["errno"], libc::EPERM);
}

#[test]
fn nice_sets_the_niceness() {
    // Raising the niceness is always allowed.
    assert_eq!(child_stat(&["--nice", "19"]).nice, 19);
    assert_eq!(run_ok(["--nice", "7", "--", "nice"]), "7\n");
    if is_root() {
        assert_eq!(child_stat(&["--nice", "-5"]).nice, -5);
    } else {
        skip("negative --nice", "needs root");
    }
}

/// The CPUs this process may run on, from its own status.
fn own_cpus() -> Vec<usize> {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let mut cpus = Vec::new();
    for item in status_field(&status, "Cpus_allowed_list").split(',') {
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        cpus.extend(first.parse::<usize>().unwrap()..=last.parse().unwrap());
    }
    cpus
}

#[test]
fn cpus_sets_the_affinity() {
    let cpus = own_cpus();
    let first = cpus[0].to_string();
    let status = child_status(&["--cpus", &first]);
    assert_eq!(status_field(&status, "Cpus_allowed_list"), first);

    if let [a, b, ..] = cpus[..] {
        let list = format!("{b},{a}");
        let status = child_status(&["--cpus", &list]);
        let expected = if b == a + 1 {
            format!("{a}-{b}")
        } else {
            format!("{a},{b}")
        };
        assert_eq!(status_field(&status, "Cpus_allowed_list"), expected);
    }
}

#[test]
fn cpus_takes_strides_as_taskset() {
    let cpus = own_cpus();
    let [a, b, ..] = cpus[..] else {
        return skip("--cpus stride test", "this process may run on one CPU only");
    };
    let allowed = |list: &str| {
        let status = child_status(&["--cpus", list]);
        status_field(&status, "Cpus_allowed_list").to_owned()
    };
    // A stride that lands on b, and one that jumps over it.
    let both = if b == a + 1 {
        format!("{a}-{b}")
    } else {
        format!("{a},{b}")
    };
    assert_eq!(allowed(&format!("{a}-{b}:{}", b - a)), both);
    assert_eq!(allowed(&format!("{a}-{b}:{}", b - a + 1)), a.to_string());
    assert_eq!(allowed(&format!("{b},{a}-{b}:{}", b - a + 1)), both);
}

/// `--cpus` expanded every range into a list of numbers, so a few
/// kilobytes of wide ranges took half a gigabyte and a minute. The list is
/// now a bit set bounded by the largest CPU: 64 KiB of ranges up to that
/// CPU parse within a few MiB. spawnfd runs under an address-space limit,
/// so that a regression fails at once instead of swamping the machine.
/// (No machine here has a CPU 16384, so the list is parsed in full and
/// then refused as naming CPUs that do not exist.)
#[test]
fn cpus_long_list_of_wide_ranges_costs_little_memory() {
    const AS_LIMIT: u64 = 256 << 20;
    let first = own_cpus()[0];
    let list = format!("{first}{}", ",16384-65535,16384-65535:3".repeat(2600));
    assert!(list.len() > 64 << 10);
    let out_path = scratch("cpus-long-list-out");
    let err_path = scratch("cpus-long-list-err");
    let mut child = spawnfd::Command::new(BIN)
        .args(["run", "--cpus", &list, "--", "cat", "/proc/self/status"])
        .rlimit(spawnfd::Resource::AS, AS_LIMIT, AS_LIMIT)
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn spawnfd");
    let (status, usage) = child.wait_with_rusage().expect("wait for spawnfd");
    let usage = usage.expect("the usage of our own child, reaped by us");
    let err = fs::read_to_string(&err_path).unwrap();
    assert_eq!(status.code(), Some(125), "{status}: {err}");
    assert!(
        err.contains("--cpus: CPU 16384 does not exist on this machine"),
        "{err}"
    );
    assert!(
        usage.max_rss_kib < 32 << 10,
        "spawnfd's peak RSS was {} KiB",
        usage.max_rss_kib
    );
}

/// A CPU above the library's limit is a usage error that names it and the
/// limit, also in a range and at the end of a long list.
#[test]
fn cpus_above_the_limit_are_usage_errors() {
    for list in [
        "65536".to_owned(),
        "0-65536".to_owned(),
        format!("{}0-65536", "1,".repeat(2000)),
    ] {
        assert_usage_error(
            &["--cpus", &list, "true"],
            "CPU 65536 is above the largest supported, 65535",
        );
    }
    assert_usage_error(
        &["--cpus", "99999999999999999999999999999999", "true"],
        "CPU 999999999999999999999999... (32 digits) is above the largest supported, 65535",
    );
}

// ---------------------------------------------------------------------
// Namespaces and cgroup

/// The namespace `name` (a file of /proc/PID/ns) of this process.
fn own_namespace(name: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn unshare_creates_the_named_namespaces() {
    if !is_root() {
        return skip("--unshare test", "new namespaces need root");
    }
    let out = run_ok([
        "--unshare",
        "uts,net",
        "--",
        "readlink",
        "/proc/self/ns/uts",
        "/proc/self/ns/net",
        "/proc/self/ns/ipc",
    ]);
    let links: Vec<&str> = out.lines().collect();
    assert_ne!(links[0], own_namespace("uts"));
    assert_ne!(links[1], own_namespace("net"));
    assert_eq!(links[2], own_namespace("ipc"), "ipc was not asked for");

    for (option, file) in [
        ("mount", "mnt"),
        ("mnt", "mnt"),
        ("IPC", "ipc"),
        ("pid", "pid"),
        ("cgroup", "cgroup"),
    ] {
        let link = run_ok([
            "--unshare",
            option,
            "--",
            "readlink",
            &format!("/proc/self/ns/{file}"),
        ]);
        assert_ne!(link.trim_end(), own_namespace(file), "--unshare {option}");
    }

    // The option may be repeated, and PROGRAM is pid 1 of a new pid
    // namespace.
    let out = run_ok([
        "--unshare",
        "pid",
        "--unshare",
        "uts",
        "--",
        "sh",
        "-c",
        "echo $$",
    ]);
    assert_eq!(out, "1\n");
}

#[test]
fn unshare_time_gives_a_new_time_namespace() {
    if !is_root() {
        return skip("--unshare time test", "new namespaces need root");
    }
    let out = run([
        "--unshare",
        "time",
        "--",
        "readlink",
        "/proc/self/ns/time",
        "/proc/self/ns/time_for_children",
        "/proc/self/ns/uts",
    ]);
    if let Some(why) = unavailable_on_forced_path(&out) {
        return skip("--unshare time test", &why);
    }
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    let out = stdout(&out);
    let links: Vec<&str> = out.lines().collect();
    assert_ne!(links[0], own_namespace("time"), "{out}");
    assert_eq!(links[0], links[1], "PROGRAM is in its children's: {out}");
    assert_eq!(links[2], own_namespace("uts"), "uts was not asked for");
}

/// The numeric entries of a `/proc` listing.
fn pids_listed(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

#[test]
fn mount_proc_shows_only_the_new_pid_namespace() {
    if !is_root() {
        return skip("--mount-proc test", "new namespaces need root");
    }
    let mounts_before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    // PROGRAM (cat) is pid 1 in its own /proc/self/stat.
    let stat = parse_stat(&run_ok([
        "--unshare",
        "pid",
        "--mount-proc",
        "--",
        "cat",
        "/proc/self/stat",
    ]));
    assert_eq!(stat.pid, 1);
    // /proc lists the namespace's processes only: ls, pid 1.
    let listing = run_ok([
        "--unshare",
        "pid",
        "--mount-proc",
        "--",
        "ls",
        "-1",
        "/proc",
    ]);
    assert_eq!(pids_listed(&listing), ["1"], "{listing}");
    // --mount-proc implies a mount namespace of its own.
    let mnt = run_ok([
        "--unshare",
        "pid",
        "--mount-proc",
        "--",
        "readlink",
        "/proc/self/ns/mnt",
    ]);
    assert_ne!(mnt.trim_end(), own_namespace("mnt"));

    // Ours is untouched: the same mounts, and it still lists this process.
    assert_eq!(
        fs::read_to_string("/proc/self/mountinfo").unwrap(),
        mounts_before
    );
    let own = fs::read_to_string("/proc/self/stat").unwrap();
    assert_eq!(parse_stat(&own).pid, i64::from(std::process::id()));
    let ours = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .any(|name| name == std::process::id().to_string());
    assert!(ours, "our pid is no longer in /proc");
}

#[test]
fn mount_proc_with_chroot_needs_the_new_roots_proc() {
    if !is_root() {
        return skip("--mount-proc --chroot test", "chroot needs root");
    }
    // An empty new root has no /proc: the step names the path inside it.
    let root = scratch("mount-proc-empty-root");
    fs::create_dir_all(&root).unwrap();
    let root_arg = root.to_str().unwrap();
    let out = run([
        "--unshare",
        "pid",
        "--mount-proc",
        "--chroot",
        root_arg,
        "/true",
    ]);
    assert_fails_125(&out, "mount proc \"/proc\": No such file or directory");
    let out = run([
        "--json",
        "--unshare",
        "pid",
        "--mount-proc",
        "--chroot",
        root_arg,
        "/true",
    ]);
    assert_eq!(json_report(&out)["error"]["step"], "mount proc");
    fs::remove_dir(&root).unwrap();
}

/// The lines of an id map file as numbers.
fn map_lines(text: &str) -> Vec<Vec<u64>> {
    text.lines()
        .map(|l| l.split_whitespace().map(|f| f.parse().unwrap()).collect())
        .collect()
}

#[test]
fn unshare_user_writes_the_id_maps() {
    if !user_namespaces_work() {
        return skip("user namespace test", "no user namespaces here");
    }
    let (euid, egid) = effective_ids();
    let (uid_map, gid_map) = (format!("0:{euid}:1"), format!("0:{egid}:1"));
    let out = run_ok([
        "--unshare",
        "user",
        "--uid-map",
        &uid_map,
        "--gid-map",
        &gid_map,
        "--",
        "cat",
        "/proc/self/uid_map",
        "/proc/self/gid_map",
    ]);
    assert_eq!(
        map_lines(&out),
        [vec![0, u64::from(euid), 1], vec![0, u64::from(egid), 1]]
    );
}

#[test]
fn map_root_user_makes_the_child_root_of_a_user_namespace() {
    if !user_namespaces_work() {
        return skip("--map-root-user test", "no user namespaces here");
    }
    let (euid, egid) = effective_ids();
    let out = run_ok([
        "--map-root-user",
        "--",
        "sh",
        "-c",
        "id -u; id -g; readlink /proc/self/ns/user; cat /proc/self/uid_map /proc/self/gid_map",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["0", "0"], "{out}");
    assert_ne!(lines[2], own_namespace("user"));
    assert_eq!(
        map_lines(&lines[3..].join("\n")),
        [vec![0, u64::from(euid), 1], vec![0, u64::from(egid), 1]]
    );
}

#[test]
fn cgroup_starts_the_child_in_the_directory() {
    if !is_root() {
        return skip("--cgroup test", "moving into a cgroup needs root here");
    }
    let name = format!("spawnfd-cli-test-{}", std::process::id());
    let (dir, relative) = match new_cgroup(&name) {
        Ok(created) => created,
        Err(why) => return skip("--cgroup test", &why),
    };
    let out = run([
        OsStr::new("--cgroup"),
        dir.as_os_str(),
        OsStr::new("--"),
        OsStr::new("cat"),
        OsStr::new("/proc/self/cgroup"),
    ]);
    remove_cgroup(&dir);
    if let Some(why) = unavailable_on_forced_path(&out) {
        return skip("--cgroup test", &why);
    }
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| l == format!("0::{relative}")),
        "0::{relative} not in {}",
        stdout(&out)
    );
}

#[test]
fn cgroup_that_is_not_a_cgroup_v2_directory_exits_125() {
    let dir = scratch("not-a-cgroup");
    fs::create_dir(&dir).unwrap();
    let out = run([OsStr::new("--cgroup"), dir.as_os_str(), OsStr::new("true")]);
    assert_fails_125(&out, "is not a cgroup v2 directory");
}

// ---------------------------------------------------------------------
// Privileges and lifetime

#[test]
fn no_new_privs_is_set() {
    let status = child_status(&["--no-new-privs"]);
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    let control = child_status(&[]);
    assert_eq!(status_field(&control, "NoNewPrivs"), "0");
}

/// Prints the parent-death signal (`prctl(PR_GET_PDEATHSIG)`).
const PRINT_PDEATHSIG: &str = "import ctypes; libc = ctypes.CDLL(None); sig = ctypes.c_int(); \
                               libc.prctl(2, ctypes.byref(sig)); print(sig.value)";

#[test]
fn pdeathsig_is_set() {
    let have_python = Command::new("python3")
        .args(["-c", ""])
        .status()
        .is_ok_and(|s| s.success());
    if !have_python {
        return skip("--pdeathsig value test", "no python3 to call prctl");
    }
    for (sig, expected) in [("TERM", "15\n"), ("SIGkill", "9\n"), ("10", "10\n")] {
        let out = run_ok(["--pdeathsig", sig, "--", "python3", "-c", PRINT_PDEATHSIG]);
        assert_eq!(out, expected, "--pdeathsig {sig}");
    }
    // KILL by default; none with --no-pdeathsig.
    assert_eq!(run_ok(["python3", "-c", PRINT_PDEATHSIG]), "9\n", "default");
    assert_eq!(
        run_ok(["--no-pdeathsig", "python3", "-c", PRINT_PDEATHSIG]),
        "0\n",
        "--no-pdeathsig"
    );
}

#[test]
fn pdeathsig_kills_the_child_when_spawnfd_dies() {
    // The child kills spawnfd, then would sleep for a minute; the kernel
    // kills it at once instead, which closes the stdout pipe.
    let started = Instant::now();
    let out = run([
        "--pdeathsig",
        "KILL",
        "--",
        "sh",
        "-c",
        "kill -KILL $PPID; exec sleep 60",
    ]);
    assert_eq!(out.status.code(), None, "spawnfd was killed");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the child outlived spawnfd for {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------
// Signals

/// The `SigIgn`, `SigBlk`, ... mask of a status text.
fn signal_bits(status: &str, key: &str) -> u64 {
    u64::from_str_radix(status_field(status, key), 16).unwrap()
}

fn bit(signal: i32) -> u64 {
    1 << (signal - 1)
}

#[test]
fn ignore_signal_ignores_in_the_child() {
    let status = child_status(&["--ignore-signal", "USR1"]);
    assert_eq!(signal_bits(&status, "SigIgn"), bit(libc::SIGUSR1));

    let status = child_status(&["--ignore-signal", "sigusr2,1", "--ignore-signal", "TERM"]);
    assert_eq!(
        signal_bits(&status, "SigIgn"),
        bit(libc::SIGUSR2) | bit(libc::SIGHUP) | bit(libc::SIGTERM)
    );

    let status = child_status(&["--ignore-signal", "RTMIN+1"]);
    assert_eq!(signal_bits(&status, "SigIgn"), bit(libc::SIGRTMIN() + 1));

    let control = child_status(&[]);
    assert_eq!(signal_bits(&control, "SigIgn"), 0);
}

#[test]
fn ignoring_kill_is_refused() {
    let out = run(["--ignore-signal", "KILL", "true"]);
    assert_fails_125(&out, "cannot be ignored");
}

#[test]
fn signal_mask_blocks_in_the_child() {
    let status = child_status(&["--signal-mask", "USR1,TERM"]);
    assert_eq!(
        signal_bits(&status, "SigBlk"),
        bit(libc::SIGUSR1) | bit(libc::SIGTERM)
    );
    // KILL and STOP cannot be blocked and are left out.
    let status = child_status(&["--signal-mask", "KILL,STOP,HUP"]);
    assert_eq!(signal_bits(&status, "SigBlk"), bit(libc::SIGHUP));
    // env(1)'s spelling.
    let status = child_status(&["--block-signal", "INT"]);
    assert_eq!(signal_bits(&status, "SigBlk"), bit(libc::SIGINT));
}

#[test]
fn inherit_signal_mask_keeps_spawnfds_mask() {
    // The outer spawnfd starts the inner one with USR1 blocked.
    let outer = ["--signal-mask", "USR1", "--", BIN, "run"];
    let status = child_status(&[&outer[..], &["--inherit-signal-mask"]].concat());
    assert_eq!(signal_bits(&status, "SigBlk"), bit(libc::SIGUSR1));

    let control = child_status(&outer);
    assert_eq!(signal_bits(&control, "SigBlk"), 0);
}

#[test]
fn keep_ignored_signals_keeps_those_spawnfd_started_with() {
    // The outer spawnfd starts the inner one with HUP and PIPE ignored.
    let outer = ["--ignore-signal", "HUP,PIPE", "--", BIN, "run"];
    let status = child_status(&[&outer[..], &["--keep-ignored-signals"]].concat());
    // Not INT and QUIT, which the inner spawnfd ignores itself.
    assert_eq!(
        signal_bits(&status, "SigIgn"),
        bit(libc::SIGHUP) | bit(libc::SIGPIPE)
    );

    let status = child_status(
        &[
            &outer[..],
            &["--keep-ignored-signals", "--ignore-signal", "USR1"],
        ]
        .concat(),
    );
    assert_eq!(
        signal_bits(&status, "SigIgn"),
        bit(libc::SIGHUP) | bit(libc::SIGPIPE) | bit(libc::SIGUSR1)
    );

    let control = child_status(&outer);
    assert_eq!(signal_bits(&control, "SigIgn"), 0);

    // The Rust runtime ignores SIGPIPE in spawnfd; that does not count.
    let status = child_status(&["--", BIN, "run", "--keep-ignored-signals"]);
    assert_eq!(signal_bits(&status, "SigIgn"), 0);
}

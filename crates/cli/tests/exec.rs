//! `spawnfd exec`: the options applied to spawnfd's own process, PROGRAM
//! executed in its place, the exit statuses, and the `--status-fd` record.

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, stderr, stdout};

/// Runs `spawnfd exec ARGS...` in place of `sh`, with fd 3 of spawnfd on
/// the captured stdout and its stdout on the captured stderr: stdout
/// holds exactly what was written to the status fd.
fn exec_with_status_fd(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" exec --status-fd 3 "$@" 3>&1 1>&2"#)
        .arg(BIN)
        .args(args)
        .output()
        .expect("start sh")
}

/// The fields of a status record: (exit status, step, errno, detail).
fn record(bytes: &[u8]) -> (u16, u32, i32, i64) {
    assert_eq!(bytes.len(), 24, "one 24-byte record: {bytes:?}");
    assert_eq!(&bytes[..4], b"SPFX");
    assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 1, "version");
    let mut detail = [0; 8];
    detail.copy_from_slice(&bytes[16..]);
    (
        u16::from_le_bytes([bytes[6], bytes[7]]),
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        i32::from_le_bytes(bytes[12..16].try_into().unwrap()),
        i64::from_le_bytes(detail),
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn program_replaces_spawnfd_with_the_attributes_applied() {
    // sh execs spawnfd, which execs the inner sh: all three are the process
    // that was spawned here.
    let script =
        r#"echo $$; umask; ulimit -Sn; ulimit -Hn; pwd; echo "$X"; id -u; ls /proc/self/fd"#;
    let mut ids = vec![];
    if is_root() {
        ids = vec!["--uid", "65534", "--gid", "65534"];
    }
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" "$@" 5</dev/null 9</dev/null"#)
        .arg(BIN)
        .args([
            "exec",
            "--umask",
            "027",
            "--rlimit",
            "nofile=64:128",
            "--cwd",
            "/",
        ])
        .args(["--env", "X=from-exec", "--fd", "7=5"])
        .args(ids)
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sh");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<&str> = stdout(&out).lines().collect();
    let uid = if is_root() {
        "65534".to_owned()
    } else {
        own_uid()
    };
    assert_eq!(
        lines[..7],
        [
            pid.to_string().as_str(),
            "0027",
            "64",
            "128",
            "/",
            "from-exec",
            uid.as_str(),
        ],
        "{}",
        stderr(&out)
    );
    // ls's own fds: the standard three, its directory (3), and 7; not the
    // 5 and 9 that spawnfd inherited.
    let fds: Vec<&str> = lines[7..].to_vec();
    assert_eq!(fds, ["0", "1", "2", "3", "7"]);
}

#[test]
fn program_gets_the_requested_signal_mask() {
    // (Directly: the shell would clear its mask.)
    let out = Command::new(BIN)
        .args(["exec", "--signal-mask", "USR1,TERM", "--"])
        .args(["grep", "SigBlk", "/proc/self/status"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "SigBlk:\t0000000000004200\n");
}

fn own_uid() -> String {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }.to_string()
}

#[test]
fn exit_statuses_are_125_126_127() {
    for (args, status, message) in [
        (&["--", "/nonexistent/program"][..], 127, "No such file"),
        (&["--", "/etc/passwd"][..], 126, "Permission denied"),
        (
            &["--cwd", "/nonexistent/dir", "--", "true"][..],
            125,
            "chdir",
        ),
        (
            &["--unshare", "pid", "--", "true"][..],
            125,
            "PID namespace",
        ),
        (
            &["--unshare", "time", "--", "true"][..],
            125,
            "time namespace",
        ),
        (&["--timeout", "1s", "--", "true"][..], 125, "--timeout"),
        (&["--json", "--", "true"][..], 125, "--json"),
    ] {
        let out = Command::new(BIN).arg("exec").args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(status),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}

/// The `/proc` mount of a mountinfo text: its mount id, and its fields.
fn proc_mount(mountinfo: &str) -> (String, String) {
    // Of several (stacked), the last is the one in view.
    let line = mountinfo
        .lines()
        .rfind(|line| line.split(' ').nth(4) == Some("/proc"))
        .unwrap_or_else(|| panic!("no /proc in {mountinfo}"));
    (line.split(' ').next().unwrap().to_owned(), line.to_owned())
}

/// In place, --mount-proc enters a mount namespace of its own (unshare)
/// and mounts a fresh /proc there, of spawnfd's PID namespace: the same
/// pid, a /proc mount that is not ours.
#[test]
fn mount_proc_mounts_a_fresh_proc_in_place() {
    if !is_root() {
        eprintln!("skipped: exec --mount-proc: mounting needs root");
        return;
    }
    let ours = proc_mount(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    let out = Command::new(BIN)
        .args(["exec", "--mount-proc", "--", "sh", "-c"])
        .arg("echo $$; readlink /proc/self/ns/mnt; cat /proc/self/mountinfo")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let (pid, rest) = text.split_once('\n').unwrap();
    let (mnt, mountinfo) = rest.split_once('\n').unwrap();
    // sh is spawnfd itself, the child of this process.
    let pid: u32 = pid.parse().unwrap();
    assert_ne!(pid, std::process::id());
    assert_ne!(
        mnt,
        std::fs::read_link("/proc/self/ns/mnt")
            .unwrap()
            .to_str()
            .unwrap()
    );
    let (id, line) = proc_mount(mountinfo);
    assert_ne!(id, ours.0, "the same /proc mount: {line}");
    assert!(line.contains(" - proc proc "), "{line}");
    assert!(line.contains("nosuid,nodev,noexec"), "{line}");
    // Ours is untouched.
    let after = proc_mount(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    assert_eq!(after, ours);
}

#[test]
fn status_fd_gets_nothing_on_success() {
    let out = exec_with_status_fd(&["--", "sh", "-c", "echo ran"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    assert_eq!(stderr(&out), "ran\n");
}

#[test]
fn status_fd_is_closed_once_the_program_runs() {
    // End-of-file while PROGRAM (sleep) still runs: the fd was
    // close-on-exec, and PROGRAM is the process spawned here.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" exec --status-fd 3 -- sleep 30 3>&1 1>/dev/null 2>/dev/null"#)
        .arg(BIN)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sh");
    let start = Instant::now();
    let mut bytes = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let elapsed = start.elapsed();
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(bytes.is_empty(), "{bytes:?}");
    assert!(running && elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "sleep was the process"
    );
}

#[test]
fn status_fd_gets_one_record_for_a_failed_chdir() {
    let out = exec_with_status_fd(&["--cwd", "/nonexistent/dir", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(record(&out.stdout), (125, 14, libc::ENOENT, -1));
    assert!(stderr(&out).contains("chdir"), "{}", stderr(&out));
}

#[test]
fn status_fd_gets_one_record_for_a_missing_program() {
    let out = exec_with_status_fd(&["--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(record(&out.stdout), (127, 25, libc::ENOENT, -1));

    let out = exec_with_status_fd(&["--", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(record(&out.stdout), (126, 25, libc::EACCES, -1));
}

#[test]
fn status_fd_gets_one_record_for_a_failed_rlimit() {
    if !is_root() {
        eprintln!("skipped: raising a hard limit above fs.nr_open needs root to get that far");
        return;
    }
    // Root may raise hard limits, but not NOFILE above fs.nr_open.
    let out = exec_with_status_fd(&["--rlimit", "nofile=4294967295:4294967295", "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(
        record(&out.stdout),
        (125, 7, libc::EPERM, i64::from(libc::RLIMIT_NOFILE))
    );
}

#[test]
fn status_fd_gets_one_record_for_a_failed_setuid() {
    if !is_root() {
        eprintln!("skipped: needs root to give up root first");
        return;
    }
    // spawnfd run starts spawnfd exec as nobody, whose setuid(0) fails.
    let out = Command::new("sh")
        .arg("-c")
        .arg(concat!(
            r#"exec "$0" run --fd 3=3 --uid 65534 --gid 65534 -- "#,
            r#""$0" exec --status-fd 3 --uid 0 -- true 3>&1 1>&2"#
        ))
        .arg(BIN)
        .output()
        .unwrap();
    if stderr(&out).contains("Permission denied") && out.status.code() == Some(126) {
        eprintln!("skipped: spawnfd cannot be run by nobody here");
        return;
    }
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(record(&out.stdout), (125, 13, libc::EPERM, 0));
    assert!(stderr(&out).contains("setuid"), "{}", stderr(&out));
}

#[test]
fn status_fd_gets_a_record_for_a_failure_before_any_step() {
    let out = exec_with_status_fd(&["--user", "no-such-user-spawnfd", "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let (status, step, _, detail) = record(&out.stdout);
    assert_eq!((status, step, detail), (125, 0, -1));

    // Refused by the library before anything changed: no step either.
    let out = exec_with_status_fd(&["--unshare", "user", "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert_eq!(record(&out.stdout), (125, 0, libc::EINVAL, -1));
}

#[test]
fn status_fd_must_be_open_and_not_given_twice() {
    let out = Command::new(BIN)
        .args(["exec", "--status-fd", "1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" exec --status-fd 3 --fd 3=3 -- true 3>/dev/null"#)
        .arg(BIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let out = Command::new(BIN)
        .args(["exec", "--status-fd", "77", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("--status-fd"), "{}", stderr(&out));
}

/// Prints the parent-death signal (`prctl(PR_GET_PDEATHSIG)`).
const PRINT_PDEATHSIG: &str = "import ctypes; libc = ctypes.CDLL(None); sig = ctypes.c_int(); \
                               libc.prctl(2, ctypes.byref(sig)); print(sig.value)";

#[test]
fn no_parent_death_signal_unless_asked() {
    let have_python = Command::new("python3")
        .args(["-c", ""])
        .status()
        .is_ok_and(|s| s.success());
    if !have_python {
        eprintln!("skipped: exec's parent-death signal: no python3 to call prctl");
        return;
    }
    // run gives KILL by default; a relay's program is left alone, as
    // env(1) leaves it.
    for (options, expected) in [(&[][..], "0\n"), (&["--pdeathsig", "TERM"][..], "15\n")] {
        let out = Command::new(BIN)
            .arg("exec")
            .args(options)
            .args(["--", "python3", "-c", PRINT_PDEATHSIG])
            .output()
            .unwrap();
        assert!(out.status.success(), "{options:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), expected, "{options:?}");
    }
}

#[test]
fn cgroup_is_joined_in_place() {
    if !is_root() {
        return eprintln!("skipped: exec --cgroup: moving into a cgroup needs root here");
    }
    let name = format!("spawnfd-cli-exec-{}", std::process::id());
    let (dir, relative) = match common::new_cgroup(&name) {
        Ok(created) => created,
        Err(why) => return eprintln!("skipped: exec --cgroup: {why}"),
    };
    let out = Command::new(BIN)
        .arg("exec")
        .arg("--cgroup")
        .arg(&dir)
        .args(["--", "cat", "/proc/self/cgroup"])
        .output()
        .unwrap();
    common::remove_cgroup(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| l == format!("0::{relative}")),
        "{}",
        stdout(&out)
    );
}

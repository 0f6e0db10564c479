//! `spawnfd run` as a transparent wrapper: signals sent to spawnfd reach
//! PROGRAM, spawnfd ends as PROGRAM did, PROGRAM does not outlive a killed
//! spawnfd, and a shell script running spawnfd stops on Ctrl-C.
//!
//! Every test checks that no process it started is left: PROGRAM carries
//! a marker word, and /proc is searched for it once spawnfd has ended.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::BIN;

/// How long anything may take before the test counts it as hung.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// A word no other process has in its command line: this test process's
/// pid and a counter.
fn marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "spawnfd-signals-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pids of the processes whose command line holds `marker`, other
/// than zombies (which are dead, waiting for a reaper that may never come
/// in a container).
fn live_with(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let holds = cmdline
            .split(|&b| b == 0)
            .any(|word| word == marker.as_bytes());
        if holds && state(pid).is_some_and(|s| s != 'Z' && s != 'X') {
            pids.push(pid);
        }
    }
    pids
}

/// The state letter of process `pid` (`R`, `S`, `T`, `Z`, ...).
fn state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses, which may hold anything.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.chars().next()
}

/// Waits until no live process holds `marker`; fails the test otherwise.
fn assert_none_left(marker: &str) {
    let start = Instant::now();
    loop {
        let left = live_with(marker);
        if left.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(5) {
            for &pid in &left {
                kill(pid as i32, libc::SIGKILL);
            }
            panic!("processes left holding {marker}: {left:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn kill(pid: i32, signal: i32) {
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid, signal) };
}

/// Waits for `child`, killing it and failing the test after [`HANG_GUARD`].
fn wait(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {HANG_GUARD:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Starts `spawnfd run ARGS... -- sh -c SCRIPT MARKER` with stdout piped;
/// returns it and the first line SCRIPT prints (it should print one once
/// it is ready for signals).
fn start(
    args: &[&str],
    script: &str,
    marker: &str,
) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new(BIN)
        .arg("run")
        .args(args)
        .args(["--", "sh", "-c", script, marker])
        // A group of its own, whose parent (this test) is in another group
        // of the same session: the group is then not orphaned, wherever
        // the tests run (a background job, CI), so the kernel does not
        // discard the job-control stops sent to it.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start spawnfd");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    (child, stdout, first)
}

const FORWARDED: [(&str, i32); 5] = [
    ("TERM", libc::SIGTERM),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("HUP", libc::SIGHUP),
    ("USR1", libc::SIGUSR1),
];

#[test]
fn signals_to_spawnfd_reach_the_child_which_handles_them() {
    for (name, number) in FORWARDED {
        let marker = marker();
        // The trap runs once the short sleep has returned.
        let script = format!(
            "trap 'echo got {name}; exit 3' {name}; echo ready; \
             while :; do sleep 0.02; done"
        );
        let (mut child, mut stdout, first) = start(&[], &script, &marker);
        assert_eq!(first, "ready\n", "{name}");
        kill(child.id() as i32, number);
        let status = wait(&mut child);
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, format!("got {name}\n"), "{name}");
        assert_eq!(status.code(), Some(3), "{name}: {status}");
        assert_none_left(&marker);
    }
}

#[test]
fn spawnfd_dies_of_the_signal_that_killed_the_child() {
    for (name, number) in FORWARDED {
        let marker = marker();
        let script = "echo ready; while :; do sleep 0.02; done";
        // No core file from QUIT.
        let (mut child, _stdout, first) = start(&["--rlimit", "CORE=0"], script, &marker);
        assert_eq!(first, "ready\n", "{name}");
        kill(child.id() as i32, number);
        let status = wait(&mut child);
        assert_eq!(status.signal(), Some(number), "{name}: {status}");
        assert!(!status.core_dumped(), "{name}: {status}");
        assert_none_left(&marker);

        // With --exit-code-for-signals: 128+N.
        let marker = self::marker();
        let (mut child, _stdout, _) = start(
            &["--rlimit", "CORE=0", "--exit-code-for-signals"],
            script,
            &marker,
        );
        kill(child.id() as i32, number);
        let status = wait(&mut child);
        assert_eq!(status.code(), Some(128 + number), "{name}: {status}");
        assert_none_left(&marker);
    }
}

#[test]
fn signals_go_to_the_group_spawnfd_made() {
    for group in [&["--setsid"][..], &["--pgid", "0"]] {
        let marker = marker();
        // The shell's background child is in the same group: it reports
        // TERM too.
        let script = "trap 'echo child got TERM; exit 4' TERM; \
                      sh -c 'trap \"echo grandchild got TERM; exit 0\" TERM; \
                      while :; do sleep 0.02; done' \"$0\" & \
                      sleep 0.2; echo ready; wait; while :; do sleep 0.02; done";
        let (mut child, mut stdout, first) = start(group, script, &marker);
        assert_eq!(first, "ready\n", "{group:?}");
        kill(child.id() as i32, libc::SIGTERM);
        let status = wait(&mut child);
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(rest.contains("child got TERM\n"), "{group:?}: {rest}");
        assert!(rest.contains("grandchild got TERM\n"), "{group:?}: {rest}");
        assert_eq!(status.code(), Some(4), "{group:?}: {status}");
        assert_none_left(&marker);
    }
}

/// Starts `spawnfd run [ARGS...] -- sleep 1000`, as a marker-named copy
/// of sleep, and returns spawnfd and the sleep's pid.
fn start_sleep(args: &[&str], marker: &str) -> (Child, u32) {
    let script = "echo $$; exec sleep 1000";
    let (child, _stdout, first) = start(args, script, marker);
    let pid: u32 = first.trim().parse().expect("the shell's pid");
    // Until the shell has become sleep (the marker then leaves its
    // command line: look at the name instead).
    let start = Instant::now();
    while fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c != "sleep\n") {
        assert!(start.elapsed() < HANG_GUARD, "sleep never started");
        thread::sleep(Duration::from_millis(2));
    }
    (child, pid)
}

/// Whether process `pid` runs and is sleep.
fn sleep_alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
        && fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
}

#[test]
fn child_dies_with_a_killed_spawnfd_unless_no_pdeathsig() {
    let marker = marker();
    let (mut child, pid) = start_sleep(&[], &marker);
    kill(child.id() as i32, libc::SIGKILL);
    assert_eq!(wait(&mut child).signal(), Some(libc::SIGKILL));
    let start = Instant::now();
    while sleep_alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "child {pid} outlived spawnfd"
        );
        thread::sleep(Duration::from_millis(5));
    }

    let (mut child, pid) = start_sleep(&["--no-pdeathsig"], &marker);
    kill(child.id() as i32, libc::SIGKILL);
    assert_eq!(wait(&mut child).signal(), Some(libc::SIGKILL));
    thread::sleep(Duration::from_millis(200));
    let alive = sleep_alive(pid);
    if alive {
        kill(pid as i32, libc::SIGKILL);
    }
    assert!(
        alive,
        "child {pid} died with spawnfd despite --no-pdeathsig"
    );
}

#[test]
fn job_control_stop_stops_child_and_spawnfd_and_cont_resumes_both() {
    let marker = marker();
    let (mut child, pid) = start_sleep(&[], &marker);
    let spawnfd = child.id();
    kill(spawnfd as i32, libc::SIGTSTP);
    let start = Instant::now();
    while state(pid) != Some('T') || state(spawnfd) != Some('T') {
        assert!(start.elapsed() < HANG_GUARD, "not both stopped");
        thread::sleep(Duration::from_millis(2));
    }
    kill(spawnfd as i32, libc::SIGCONT);
    let start = Instant::now();
    while state(pid) == Some('T') || state(spawnfd) == Some('T') {
        assert!(start.elapsed() < HANG_GUARD, "not both continued");
        thread::sleep(Duration::from_millis(2));
    }
    kill(spawnfd as i32, libc::SIGTERM);
    assert_eq!(wait(&mut child).signal(), Some(libc::SIGTERM));
    assert!(!sleep_alive(pid));
}

/// Runs `bash -c SCRIPT` in a process group of its own, sends SIGINT to
/// the group once SCRIPT printed its first line, and returns bash's status
/// and the rest of its output.
fn interrupt_bash(script: &str) -> (ExitStatus, String) {
    let mut bash = Command::new("bash")
        .args(["-c", script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start bash");
    let mut stdout = BufReader::new(bash.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "ready\n");
    kill(-(bash.id() as i32), libc::SIGINT);
    let status = wait(&mut bash);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    (status, rest)
}

#[test]
fn ctrl_c_stops_a_bash_script_running_spawnfd() {
    if Command::new("bash").args(["-c", ":"]).status().is_err() {
        eprintln!("skipped: ctrl_c_stops_a_bash_script_running_spawnfd: no bash");
        return;
    }
    let marker = marker();
    let script = format!("{BIN} run -- sh -c 'echo ready; exec sleep 100' {marker}; echo after");
    let (status, rest) = interrupt_bash(&script);
    assert_eq!(rest, "", "{status}");
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    assert_none_left(&marker);

    // The control: with 130 as an exit code, bash goes on.
    let script = format!(
        "{BIN} run --exit-code-for-signals -- sh -c 'echo ready; exec sleep 100' {marker}; \
         echo after $?"
    );
    let (status, rest) = interrupt_bash(&script);
    assert_eq!(rest, "after 130\n", "{status}");
    assert_none_left(&marker);
}

#[test]
fn child_never_inherits_the_signals_spawnfd_blocks_to_pass_them_on() {
    // This test process blocks nothing in the thread that starts spawnfd.
    for args in [&[][..], &["--inherit-signal-mask"]] {
        let out = common::run(
            args.iter()
                .chain(&["--", "grep", "SigBlk", "/proc/self/status"]),
        );
        assert_eq!(
            common::stdout(&out),
            "SigBlk:\t0000000000000000\n",
            "{args:?}"
        );
    }
}

/// A new pseudo-terminal: the master (close-on-exec) and the path of its
/// slave.
fn open_pty() -> (fs::File, String) {
    use std::os::fd::FromRawFd;
    // SAFETY: posix_openpt returns a new fd or -1; grantpt, unlockpt and
    // ptsname_r take that fd and a buffer of the size given.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (fs::File::from_raw_fd(master), slave)
    }
}

/// Reads from the pty master until `needle` has appeared; returns all read.
fn read_until(master: &mut fs::File, needle: &str) -> String {
    let mut seen = String::new();
    let mut buf = [0; 256];
    while !seen.contains(needle) {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    seen
}

#[test]
fn ctrl_c_typed_on_a_terminal_stops_the_script() {
    use std::io::Write;
    if Command::new("bash").args(["-c", ":"]).status().is_err() {
        return eprintln!("skipped: ctrl_c_typed_on_a_terminal_stops_the_script: no bash");
    }
    let marker = marker();
    let (mut master, slave) = open_pty();
    // bash leads a session whose controlling terminal is the pty, so that
    // its group is the terminal's foreground group: Ctrl-C typed on the
    // master makes the line discipline send SIGINT to bash, spawnfd and
    // PROGRAM at once, as for a script run from an interactive shell.
    let script =
        format!("{BIN} run -- sh -c 'echo ready; exec sleep 100' {marker}; echo after; sleep 100");
    let slave_path = slave.clone();
    let mut command = Command::new("bash");
    command.args(["-c", &script]);
    // SAFETY: between fork and exec only async-signal-safe calls: setsid,
    // open, ioctl, dup2, close.
    unsafe {
        command.pre_exec(move || {
            let path = std::ffi::CString::new(slave_path.as_str()).unwrap();
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = libc::open(path.as_ptr(), libc::O_RDWR);
            if fd < 0 || libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for target in 0..3 {
                libc::dup2(fd, target);
            }
            if fd > 2 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut bash = command.spawn().expect("start bash on the pty");
    let before = read_until(&mut master, "ready");
    assert!(before.contains("ready"), "{before:?}");
    // VINTR, Ctrl-C, as typed.
    master.write_all(b"\x03").unwrap();
    let status = wait(&mut bash);
    // What the master got after the interrupt, until the slave closed.
    let after = read_until(&mut master, "after");
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}: {after:?}");
    assert!(!after.contains("after"), "bash went on: {after:?}");
    assert_none_left(&marker);
}

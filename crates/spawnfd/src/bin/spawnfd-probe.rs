//! Reports the process state it was started with, for the integration tests.
//!
//! Prints one fact per line:
//!
//! ```text
//! fd 0 /dev/null cloexec=0      each open fd, what it refers to, FD_CLOEXEC
//! sigblk 0000000000000000       the signal mask (SigBlk of /proc/self/status)
//! sigign 0000000000000000       ignored signals (SigIgn)
//! sigcgt 0000000000000000       caught signals (SigCgt)
//! cwd /tmp                      the working directory
//! arg 0 spawnfd-probe           each argument, argv[0] first
//! env KEY=VALUE                 each environment variable
//! ```
//!
//! Without `/proc`, the fds are found by trying each number below 4096 and
//! their targets are shown as `?`; the signal lines are left out.
//!
//! The report goes to stdout, or to the file named by `SPAWNFD_PROBE_OUT`
//! (created or truncated, opened only after the fds have been listed).
//! The exit status is `SPAWNFD_PROBE_EXIT` (default 0).
//!
//! The program defines the C `main` itself, so that Rust's runtime start-up,
//! which ignores `SIGPIPE`, does not run: the dispositions reported are the
//! ones the program was started with.

#![no_main]

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    let mut report = Vec::new();
    // List the fds first, before this program opens anything else.
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => list_fds(dir, &mut report),
        Err(_) => scan_fds(&mut report),
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for (key, name) in [
            ("SigBlk:", "sigblk"),
            ("SigIgn:", "sigign"),
            ("SigCgt:", "sigcgt"),
        ] {
            if let Some(line) = status.lines().find(|l| l.starts_with(key)) {
                writeln!(report, "{name} {}", line[key.len()..].trim()).unwrap();
            }
        }
    }

    match std::env::current_dir() {
        Ok(dir) => writeln!(report, "cwd {}", dir.display()).unwrap(),
        Err(e) => writeln!(report, "cwd ?{e}").unwrap(),
    }
    for (i, arg) in std::env::args_os().enumerate() {
        write!(report, "arg {i} ").unwrap();
        report.extend_from_slice(arg.as_bytes());
        report.push(b'\n');
    }
    for (key, value) in std::env::vars_os() {
        report.extend_from_slice(b"env ");
        report.extend_from_slice(key.as_bytes());
        report.push(b'=');
        report.extend_from_slice(value.as_bytes());
        report.push(b'\n');
    }

    match std::env::var_os("SPAWNFD_PROBE_OUT") {
        Some(path) => std::fs::write(path, &report).expect("write the report file"),
        None => std::io::stdout()
            .write_all(&report)
            .expect("write the report"),
    }
    let code = std::env::var("SPAWNFD_PROBE_EXIT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    std::process::exit(code)
}

fn cloexec(fd: i32) -> Option<i32> {
    // SAFETY: F_GETFD on a number only reads its flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags >= 0).then_some(i32::from(flags & libc::FD_CLOEXEC != 0))
}

fn list_fds(dir: std::fs::ReadDir, report: &mut Vec<u8>) {
    // The listing holds one fd of its own, which refers to the directory and
    // is left out.
    let mut fds: Vec<(i32, String)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let fd: i32 = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .filter(|(_, target)| !(target.starts_with("/proc/") && target.ends_with("/fd")))
        .collect();
    fds.sort();
    for (fd, target) in fds {
        if let Some(cloexec) = cloexec(fd) {
            writeln!(report, "fd {fd} {target} cloexec={cloexec}").unwrap();
        }
    }
}

fn scan_fds(report: &mut Vec<u8>) {
    for fd in 0..4096 {
        if let Some(cloexec) = cloexec(fd) {
            writeln!(report, "fd {fd} ? cloexec={cloexec}").unwrap();
        }
    }
}

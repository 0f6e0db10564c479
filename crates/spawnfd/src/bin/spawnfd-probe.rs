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
//! With `SPAWNFD_PROBE_ATTRS` set (to anything), the report goes on with the
//! process attributes, after the lines above:
//!
//! ```text
//! status Uid: 0 0 0 0           a line of /proc/self/status as it is (with
//!                                its tabs): Uid, Gid, Groups, NoNewPrivs,
//!                                Umask, TracerPid, Cpus_allowed_list, NSpid
//! limit NOFILE 1024 4096         each resource limit (getrlimit): soft, hard,
//!                                `unlimited` for RLIM_INFINITY
//! stat session 123               from /proc/self/stat: session, pgrp,
//!                                tty_nr, tpgid, nice
//! pid 123                        getpid()
//! ppid 45                        getppid()
//! pdeathsig 0                    prctl(PR_GET_PDEATHSIG)
//! cgroup 0::/user.slice          each line of /proc/self/cgroup
//! ns net net:[4026531833]        each link of /proc/self/ns
//! uid_map 0 0 4294967295         each line of /proc/self/uid_map, spaced
//! gid_map 0 0 4294967295         each line of /proc/self/gid_map, spaced
//! root /                         readlink /proc/self/root
//! rootdir bin                    each entry of the directory `/`
//! ```
//!
//! Those attribute lines are opt-in so that the reports of the tests that
//! do not ask for them stay as they were.
//!
//! Without `/proc`, the fds are found by trying each number below 4096 and
//! their targets are shown as `?`; the signal lines and the attribute lines
//! read from `/proc` are left out.
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

    if std::env::var_os("SPAWNFD_PROBE_ATTRS").is_some() {
        attributes(&mut report);
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

/// The resource limits, named as `/proc/PID/limits` and `spawnfd::Resource`
/// name them.
const RESOURCES: [(libc::__rlimit_resource_t, &str); 16] = [
    (libc::RLIMIT_CPU, "CPU"),
    (libc::RLIMIT_FSIZE, "FSIZE"),
    (libc::RLIMIT_DATA, "DATA"),
    (libc::RLIMIT_STACK, "STACK"),
    (libc::RLIMIT_CORE, "CORE"),
    (libc::RLIMIT_RSS, "RSS"),
    (libc::RLIMIT_NPROC, "NPROC"),
    (libc::RLIMIT_NOFILE, "NOFILE"),
    (libc::RLIMIT_MEMLOCK, "MEMLOCK"),
    (libc::RLIMIT_AS, "AS"),
    (libc::RLIMIT_LOCKS, "LOCKS"),
    (libc::RLIMIT_SIGPENDING, "SIGPENDING"),
    (libc::RLIMIT_MSGQUEUE, "MSGQUEUE"),
    (libc::RLIMIT_NICE, "NICE"),
    (libc::RLIMIT_RTPRIO, "RTPRIO"),
    (libc::RLIMIT_RTTIME, "RTTIME"),
];

/// The `/proc/self/status` fields reported, by name.
const STATUS_FIELDS: [&str; 8] = [
    "Uid",
    "Gid",
    "Groups",
    "NoNewPrivs",
    "Umask",
    "TracerPid",
    "Cpus_allowed_list",
    "NSpid",
];

/// The `/proc/self/stat` fields reported: name and field number (man 5
/// proc, counting from 1, the first after the command being 3).
const STAT_FIELDS: [(&str, usize); 5] = [
    ("pgrp", 5),
    ("session", 6),
    ("tty_nr", 7),
    ("tpgid", 8),
    ("nice", 19),
];

/// Appends the attribute lines (see the module documentation).
fn attributes(report: &mut Vec<u8>) {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for field in STATUS_FIELDS {
            let line = status
                .lines()
                .find(|l| l.split_once(':').is_some_and(|(key, _)| key == field));
            if let Some(line) = line {
                writeln!(report, "status {line}").unwrap();
            }
        }
    }

    for (resource, name) in RESOURCES {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into `limit`, which outlives the call.
        if unsafe { libc::getrlimit(resource, &mut limit) } == 0 {
            let show = |value: libc::rlim_t| {
                if value == libc::RLIM_INFINITY {
                    "unlimited".to_owned()
                } else {
                    value.to_string()
                }
            };
            let (soft, hard) = (show(limit.rlim_cur), show(limit.rlim_max));
            writeln!(report, "limit {name} {soft} {hard}").unwrap();
        }
    }

    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // The command (field 2) may hold spaces and parentheses: the fields
        // that follow it start after the last ')'.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            for (name, number) in STAT_FIELDS {
                if let Some(value) = fields.get(number - 3) {
                    writeln!(report, "stat {name} {value}").unwrap();
                }
            }
        }
    }

    // SAFETY: getpid and getppid have no preconditions.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    writeln!(report, "pid {pid}").unwrap();
    writeln!(report, "ppid {ppid}").unwrap();

    let mut pdeathsig: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG writes an int into `pdeathsig`.
    if unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &raw mut pdeathsig) } == 0 {
        writeln!(report, "pdeathsig {pdeathsig}").unwrap();
    }

    if let Ok(cgroups) = std::fs::read_to_string("/proc/self/cgroup") {
        for line in cgroups.lines() {
            writeln!(report, "cgroup {line}").unwrap();
        }
    }

    if let Ok(dir) = std::fs::read_dir("/proc/self/ns") {
        let mut links: Vec<(String, String)> = dir
            .filter_map(Result::ok)
            .filter_map(|e| {
                let target = std::fs::read_link(e.path()).ok()?;
                let name = e.file_name().to_string_lossy().into_owned();
                Some((name, target.to_string_lossy().into_owned()))
            })
            .collect();
        links.sort();
        for (name, target) in links {
            writeln!(report, "ns {name} {target}").unwrap();
        }
    }

    for name in ["uid_map", "gid_map"] {
        if let Ok(map) = std::fs::read_to_string(format!("/proc/self/{name}")) {
            for line in map.lines() {
                let fields: Vec<&str> = line.split_whitespace().collect();
                writeln!(report, "{name} {}", fields.join(" ")).unwrap();
            }
        }
    }

    if let Ok(root) = std::fs::read_link("/proc/self/root") {
        writeln!(report, "root {}", root.display()).unwrap();
    }
    if let Ok(dir) = std::fs::read_dir("/") {
        let mut names: Vec<String> = dir
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            writeln!(report, "rootdir {name}").unwrap();
        }
    }
}

//! The sandbox options of `spawnfd run`, seen from inside PROGRAM:
//! `/proc/self/status` (`CapBnd`, `CapInh`, `CapAmb`, `CapEff`,
//! `Seccomp`, `NoNewPrivs`), a denied system call, a denied path; and
//! their errors. The capability tests need root and say so otherwise.

mod common;

use common::{json_report, run, scratch_path, stderr, stdout};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The value of `key:` in PROGRAM's `/proc/self/status`, as printed by
/// `cat` run under `args`.
fn status_of(args: &[&str], key: &str) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "cat", "/proc/self/status"]);
    let out = run(&all);
    assert_eq!(out.status.code(), Some(0), "{all:?}: {}", stderr(&out));
    stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}"))
        .trim()
        .to_owned()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap()
}

#[test]
fn capability_sets_in_setprivs_spelling() {
    if !is_root() {
        println!("skipped: the capability sets need root");
        return;
    }
    assert_eq!(
        hex(&status_of(
            &["--bounding-set", "-all,+net_bind_service,kill"],
            "CapBnd"
        )),
        1 << 10 | 1 << 5
    );
    assert_eq!(hex(&status_of(&["--inh-caps", "+cap_chown"], "CapInh")), 1);
    let nobody = [
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--ambient-caps",
        "+net_bind_service",
    ];
    assert_eq!(hex(&status_of(&nobody, "CapAmb")), 1 << 10);
    assert_eq!(hex(&status_of(&nobody, "CapEff")), 1 << 10);
    // Outside the bounding set: the step says so.
    let out = run([
        "--json",
        "--bounding-set",
        "-all",
        "--ambient-caps",
        "+net_admin",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json_report(&out)["error"]["step"], "capabilities");
}

/// `uname(2)` fails with EPERM, the rest is allowed: as bytes.
fn deny_uname() -> Vec<u8> {
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let program: [(u16, u8, u8, u32); 4] = [
        (0x20, 0, 0, 0),
        (0x15, 0, 1, libc::SYS_uname as u32),
        (0x06, 0, 0, eperm),
        (0x06, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    program
        .iter()
        .flat_map(|&(code, jt, jf, k)| {
            let mut b = code.to_ne_bytes().to_vec();
            b.extend([jt, jf]);
            b.extend(k.to_ne_bytes());
            b
        })
        .collect()
}

#[test]
fn a_seccomp_filter_from_a_file_filters_program() {
    let file = scratch_path("sandbox", "deny-uname.bpf");
    std::fs::write(&file, deny_uname()).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(status_of(&["--seccomp", file], "Seccomp"), "2");
    assert_eq!(
        status_of(&["--seccomp", file], "NoNewPrivs"),
        "1",
        "implied"
    );
    let out = run(["--seccomp", file, "--", "uname"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("not permitted"), "{}", stderr(&out));
    // A file that is no program: refused before the spawn.
    let bad = scratch_path("sandbox", "bad.bpf");
    std::fs::write(&bad, b"12345").unwrap();
    let out = run(["--json", "--seccomp", bad.to_str().unwrap(), "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json_report(&out)["error"]["option"], "--seccomp");
}

#[test]
fn landlock_paths_allow_only_what_they_name() {
    let system = [
        "--landlock-read",
        "/usr",
        "--landlock-read",
        "/bin",
        "--landlock-read",
        "/lib",
    ];
    let mut args = system.to_vec();
    args.extend(["--", "cat", "/usr/lib/os-release", "/etc/hostname"]);
    let out = run(&args);
    if stderr(&out).contains("no Landlock") {
        println!("skipped: this kernel has no Landlock");
        return;
    }
    assert_ne!(out.status.code(), Some(0));
    assert!(
        !stdout(&out).is_empty(),
        "nothing read under /usr: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("/etc/hostname"), "{}", stderr(&out));
    // Writing: only under a --landlock-write path.
    let dir = scratch_path("sandbox", "rw");
    std::fs::create_dir_all(&dir).unwrap();
    let touch = |file: &std::path::Path| {
        let mut args = system.to_vec();
        args.extend([
            "--landlock-write",
            dir.to_str().unwrap(),
            "--",
            "touch",
            file.to_str().unwrap(),
        ]);
        run(&args)
    };
    let inside = dir.join("made");
    let out = touch(&inside);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(inside.exists());
    let outside = scratch_path("sandbox", "outside");
    let out = touch(&outside);
    assert_ne!(out.status.code(), Some(0));
    assert!(!outside.exists());
    // A path that does not exist is spawnfd's error, before the spawn.
    let out = run([
        "--json",
        "--landlock-read",
        "/nonexistent/dir",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json_report(&out)["error"]["option"], "--landlock-read");
}

#[test]
fn bad_capability_names_are_usage_errors() {
    for args in [
        &["--bounding-set", "+nonsense", "--", "true"][..],
        &["--ambient-caps", "", "--", "true"],
        &["--inh-caps", "+cap_chown,", "--", "true"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(
            stderr(&out).contains("capability"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

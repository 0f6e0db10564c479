//! The sandbox attributes, each seen from inside the child
//! (`/proc/self/status`: `CapBnd`, `CapInh`, `CapAmb`, `CapEff`,
//! `Seccomp`; a denied system call; a denied path) and each failure named
//! by its step. Needs root for the capability tests (they say so
//! otherwise) and Landlock for its test.

mod common;

use std::io::{self, ErrorKind};
use std::os::fd::{FromRawFd, OwnedFd};

use spawnfd::{Capability, CapabilitySet, Command, SpawnError, Step};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The child's `/proc/self/status` lines `key:` as a number (hex masks).
fn child_status(cmd: &mut Command, key: &str) -> u64 {
    let out = cmd.arg("/proc/self/status").output().expect("cat");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .trim();
    u64::from_str_radix(value, if key.starts_with("Cap") { 16 } else { 10 }).unwrap()
}

fn step_of(err: &io::Error) -> Step {
    SpawnError::from_io(err)
        .unwrap_or_else(|| panic!("not a SpawnError: {err}"))
        .step()
}

fn errno_of(err: &io::Error) -> Option<i32> {
    SpawnError::from_io(err).and_then(SpawnError::raw_os_error)
}

fn caps(list: &[Capability]) -> CapabilitySet {
    list.iter().copied().collect()
}

#[test]
fn the_bounding_set_keeps_only_what_is_asked() {
    if !is_root() {
        println!("skipped: dropping from the bounding set needs CAP_SETPCAP (root)");
        return;
    }
    for fork in [false, true] {
        let keep = caps(&[Capability::NET_BIND_SERVICE, Capability::KILL]);
        let bnd = child_status(
            Command::new("cat")
                .use_fork(fork)
                .capability_bounding_set(keep),
            "CapBnd",
        );
        assert_eq!(bnd, keep.as_raw(), "fork path: {fork}");
    }
}

#[test]
fn ambient_capabilities_survive_the_change_to_an_unprivileged_user() {
    if !is_root() {
        println!("skipped: the ambient set needs the capability permitted (root)");
        return;
    }
    let ambient = caps(&[Capability::NET_BIND_SERVICE]);
    let mut cmd = Command::new("cat");
    cmd.uid(65534).gid(65534).ambient_capabilities(ambient);
    let amb = child_status(&mut cmd, "CapAmb");
    assert_eq!(amb, ambient.as_raw());
    let mut cmd = Command::new("cat");
    cmd.uid(65534).gid(65534).ambient_capabilities(ambient);
    assert_eq!(
        child_status(&mut cmd, "CapEff"),
        ambient.as_raw(),
        "effective after exec"
    );
    // Without them, nobody has none.
    assert_eq!(
        child_status(Command::new("cat").uid(65534).gid(65534), "CapEff"),
        0
    );
    // The inheritable set, alone.
    let inh = caps(&[Capability::CHOWN]);
    assert_eq!(
        child_status(Command::new("cat").inheritable_capabilities(inh), "CapInh"),
        inh.as_raw()
    );
}

#[test]
fn an_ambient_capability_outside_the_bounding_set_fails_at_its_step() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let err = Command::new("true")
        .capability_bounding_set(caps(&[Capability::KILL]))
        .ambient_capabilities(caps(&[Capability::NET_ADMIN]))
        .spawn()
        .expect_err("not in the bounding set");
    assert_eq!(step_of(&err), Step::Capabilities, "{err}");
    assert_eq!(errno_of(&err), Some(libc::EPERM), "{err}");
    // (Refused by `capset`, which names no capability: the inheritable
    // set may not grow beyond the bounding set.)
    assert!(err.to_string().contains("capabilities"), "{err}");
}

#[test]
fn a_bounding_set_drop_that_fails_names_its_capability() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    // A thread of its own gives up CAP_SETPCAP, which PR_CAPBSET_DROP
    // needs: capabilities belong to each thread, and the child (made by
    // this thread, on either path) inherits this one's. The thread ends
    // with the test; no other thread is touched.
    std::thread::spawn(|| {
        const CAP_SETPCAP: u32 = 8;
        let header = [0x2008_0522u32, 0];
        let mut data = [0u32; 6];
        // SAFETY: a version-3 header and room for its two data structs.
        assert_eq!(
            unsafe { libc::syscall(libc::SYS_capget, header.as_ptr(), data.as_mut_ptr()) },
            0
        );
        data[0] &= !(1 << CAP_SETPCAP);
        // SAFETY: as above; the kernel only reads `data`.
        assert_eq!(
            unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) },
            0
        );
        for fork in [false, true] {
            // Everything but CAP_NET_ADMIN: the one drop, which fails.
            let keep = CapabilitySet::from_raw(u64::MAX).without(Capability::NET_ADMIN);
            let err = Command::new("true")
                .use_fork(fork)
                .capability_bounding_set(keep)
                .spawn()
                .expect_err("no CAP_SETPCAP");
            let spawn_error = SpawnError::from_io(&err).expect("a SpawnError");
            assert_eq!(spawn_error.step(), Step::Capabilities, "{err}");
            assert_eq!(spawn_error.raw_os_error(), Some(libc::EPERM), "{err}");
            assert_eq!(
                spawn_error.capability(),
                Some(Capability::NET_ADMIN),
                "{err}"
            );
            assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
        }
    })
    .join()
    .unwrap();
}

/// A filter that makes `uname(2)` fail with EPERM and allows the rest.
fn deny_uname() -> Vec<libc::sock_filter> {
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    vec![
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        }, // ld [nr]
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: libc::SYS_uname as u32,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: eperm,
        },
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ]
}

#[test]
fn a_seccomp_filter_filters_the_program_only() {
    for fork in [false, true] {
        // The program is filtered: /proc says so, and uname(2) is denied.
        let mode = child_status(
            Command::new("cat")
                .use_fork(fork)
                .no_new_privs(true)
                .seccomp_filter(&deny_uname()),
            "Seccomp",
        );
        assert_eq!(mode, 2, "filter mode");
        let out = Command::new("uname")
            .use_fork(fork)
            .no_new_privs(true)
            .seccomp_filter(&deny_uname())
            .output()
            .expect("uname");
        assert!(!out.status.success(), "uname ran unfiltered");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not permitted"), "{stderr}");
        // The parent is not.
        assert!(Command::new("uname").output().unwrap().status.success());
    }
}

#[test]
fn seccomp_failures_name_their_step() {
    // Empty or too long: refused before any process.
    for len in [0, 4097] {
        let filter = vec![
            libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: libc::SECCOMP_RET_ALLOW
            };
            len
        ];
        let err = Command::new("true")
            .seccomp_filter(&filter)
            .spawn()
            .expect_err("bad length");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    // A program the kernel refuses: a jump out of the program.
    let bad = [libc::sock_filter {
        code: 0x05,
        jt: 0,
        jf: 0,
        k: 10,
    }];
    let err = Command::new("true")
        .no_new_privs(true)
        .seccomp_filter(&bad)
        .spawn()
        .expect_err("bad jump");
    assert_eq!(step_of(&err), Step::Seccomp);
    assert_eq!(errno_of(&err), Some(libc::EINVAL), "{err}");
}

/// A Landlock ruleset that handles reading files and directories and
/// executing, allowing them under `allowed` only; `None` where the kernel
/// has no Landlock.
fn ruleset(allowed: &[&str]) -> Option<OwnedFd> {
    const EXECUTE: u64 = 1;
    const READ_FILE: u64 = 4;
    const READ_DIR: u64 = 8;
    let handled = EXECUTE | READ_FILE | READ_DIR;
    // SAFETY: a valid attribute struct of the given size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &raw const handled,
            8usize,
            0u32,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new fd owned by nobody else.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for path in allowed {
        let Ok(dir) = std::fs::File::open(path) else {
            continue;
        };
        #[repr(C, packed)]
        struct PathBeneath {
            allowed: u64,
            parent: i32,
        }
        let rule = PathBeneath {
            allowed: handled,
            parent: std::os::fd::AsRawFd::as_raw_fd(&dir),
        };
        // SAFETY: LANDLOCK_RULE_PATH_BENEATH with its attribute struct.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                std::os::fd::AsRawFd::as_raw_fd(&ruleset),
                1u32,
                &raw const rule,
                0u32,
            )
        };
        assert_eq!(
            r,
            0,
            "landlock_add_rule {path}: {}",
            io::Error::last_os_error()
        );
    }
    Some(ruleset)
}

#[test]
fn a_landlock_ruleset_denies_what_it_does_not_allow() {
    // (The loader falls back from a denied /etc/ld.so.cache to /lib.)
    let allowed = ["/usr", "/bin", "/lib", "/lib64"];
    let Some(rules) = ruleset(&allowed) else {
        println!("skipped: this kernel has no Landlock");
        return;
    };
    let out = Command::new("cat")
        .args(["/usr/lib/os-release", "/etc/hostname"])
        .no_new_privs(true)
        .landlock_ruleset(rules)
        .output()
        .expect("cat");
    // The allowed file was read, the other denied.
    assert!(!out.stdout.is_empty(), "nothing read under /usr");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/etc/hostname") && stderr.contains("denied"),
        "{stderr}"
    );
    assert!(!out.status.success());
    // Unrestricted, both are read.
    assert!(
        Command::new("cat")
            .args(["/usr/lib/os-release", "/etc/hostname"])
            .output()
            .unwrap()
            .status
            .success()
    );
}

#[test]
fn a_landlock_failure_names_its_step() {
    // Not a ruleset fd.
    let file = std::fs::File::open("/dev/null").unwrap();
    let err = Command::new("true")
        .no_new_privs(true)
        .landlock_ruleset(OwnedFd::from(file))
        .spawn()
        .expect_err("not a ruleset");
    assert_eq!(step_of(&err), Step::Landlock, "{err}");
}

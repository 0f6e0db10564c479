//! New namespaces (`Command::unshare`), checked by the child's own
//! `/proc/self/ns` links: the namespaces asked for differ from ours, every
//! other one is ours. Also what each looks like from inside (pid 1 in a new
//! PID namespace, the cgroup root in a new cgroup namespace) and the id
//! maps of a new user namespace, written by the parent before the child
//! goes on.
//!
//! Each test skips, with a printed reason, where the kernel does not permit
//! the namespace here.

mod support;

use std::collections::BTreeMap;

use spawnfd::{Command, IdMap, Namespaces};
use support::{
    AttrReport, CAP_SETGID, CAP_SETUID, ScratchDir, attr_probe, attr_probe_at, expect_step,
    has_capability, probe_for_anyone, refused, run_attrs, unshare_unavailable,
};

/// This process's `/proc/self/ns` links by name.
fn our_namespaces() -> BTreeMap<String, String> {
    std::fs::read_dir("/proc/self/ns")
        .expect("list /proc/self/ns")
        .map(|e| {
            let e = e.expect("an entry");
            let link = std::fs::read_link(e.path()).expect("readlink");
            (
                e.file_name().to_string_lossy().into_owned(),
                link.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Whether namespaces `ns` can be made here; prints why not.
fn available(ns: Namespaces) -> bool {
    match unshare_unavailable(ns) {
        None => true,
        Some(reason) => {
            eprintln!("skipped: {reason}");
            false
        }
    }
}

/// Asserts that the child's namespaces named in `new` differ from ours and
/// that all the others are ours.
#[track_caller]
fn assert_new_namespaces(r: &AttrReport, new: &[&str]) {
    let ours = our_namespaces();
    assert_eq!(
        r.ns.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the same kinds of namespace"
    );
    for (name, link) in &ours {
        if new.contains(&name.as_str()) {
            assert_ne!(r.ns(name), link, "{name}: a new namespace");
        } else {
            assert_eq!(r.ns(name), link, "{name}: ours");
        }
    }
}

/// Runs the probe in new namespaces `ns`, if permitted.
fn run_in(
    ns: Namespaces,
    configure: impl FnOnce(&mut Command) -> &mut Command,
) -> Option<AttrReport> {
    if !available(ns) {
        return None;
    }
    let mut cmd = attr_probe();
    cmd.unshare(ns);
    Some(run_attrs(configure(&mut cmd)))
}

#[test]
fn mount_namespace() {
    if let Some(r) = run_in(Namespaces::MOUNT, |cmd| cmd) {
        assert_new_namespaces(&r, &["mnt"]);
    }
}

#[test]
fn uts_namespace() {
    if let Some(r) = run_in(Namespaces::UTS, |cmd| cmd) {
        assert_new_namespaces(&r, &["uts"]);
    }
}

#[test]
fn ipc_namespace() {
    if let Some(r) = run_in(Namespaces::IPC, |cmd| cmd) {
        assert_new_namespaces(&r, &["ipc"]);
    }
}

#[test]
fn net_namespace() {
    if let Some(r) = run_in(Namespaces::NET, |cmd| cmd) {
        assert_new_namespaces(&r, &["net"]);
    }
}

#[test]
fn pid_namespace_makes_the_child_pid_1() {
    if let Some(r) = run_in(Namespaces::PID, |cmd| cmd) {
        assert_new_namespaces(&r, &["pid", "pid_for_children"]);
        assert_eq!(r.pid, 1, "getpid() in the new namespace");
        assert_eq!(r.ppid, 0, "its parent is outside the namespace");
        // Seen through our /proc: its pid out here, then 1.
        let nspid = r.status("NSpid");
        assert!(nspid.ends_with(" 1"), "NSpid {nspid}");
    }
}

#[test]
fn cgroup_namespace_is_rooted_at_the_childs_cgroup() {
    if let Some(r) = run_in(Namespaces::CGROUP, |cmd| cmd) {
        assert_new_namespaces(&r, &["cgroup"]);
        assert_eq!(r.cgroup_v2(), Some("/"), "{:#?}", r.cgroups);
    }
}

#[test]
fn time_namespace() {
    // The kernel moves the child into it at exec (not before: the child
    // shares our memory until then), so the program sees both links new.
    if let Some(r) = run_in(Namespaces::TIME, |cmd| cmd) {
        assert_new_namespaces(&r, &["time", "time_for_children"]);
    }
}

/// The output of `program args` run with a fresh `/proc` in new PID and
/// mount namespaces, if permitted.
fn with_mount_proc(program: &str, args: &[&str]) -> Option<String> {
    let ns = Namespaces::PID | Namespaces::MOUNT;
    if !available(ns) {
        return None;
    }
    let out = Command::new(program)
        .args(args)
        .unshare(ns)
        .mount_proc(true)
        .output()
        .expect("spawn with mount_proc");
    assert!(out.status.success(), "{out:?}");
    Some(String::from_utf8(out.stdout).expect("UTF-8 output"))
}

/// The `/proc` mounts of this process, from its mountinfo.
fn our_proc_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .filter(|line| line.split(' ').nth(4) == Some("/proc"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn mount_proc_shows_the_new_pid_namespace() {
    let mounts_before = our_proc_mounts();
    // The child, `cat` itself, is pid 1 in its own /proc/self/stat.
    let Some(stat) = with_mount_proc("cat", &["/proc/self/stat"]) else {
        return;
    };
    assert!(stat.starts_with("1 (cat) "), "{stat}");
    // /proc lists the namespace's processes only: `ls` alone.
    let listing = with_mount_proc("ls", &["-1", "/proc"]).expect("permitted above");
    let pids: Vec<&str> = listing
        .lines()
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert_eq!(pids, ["1"], "{listing}");

    // Ours is untouched: the same mounts, and it still shows this process.
    assert_eq!(our_proc_mounts(), mounts_before);
    let own = std::fs::read_to_string("/proc/self/stat").unwrap();
    assert!(
        own.starts_with(&format!("{} ", std::process::id())),
        "{own}"
    );
    assert!(std::path::Path::new(&format!("/proc/{}", std::process::id())).exists());
}

#[test]
fn mount_proc_needs_a_new_mount_namespace() {
    let message = refused(
        Command::new("true")
            .unshare(Namespaces::PID)
            .mount_proc(true),
    );
    assert!(
        message.contains("mount_proc needs a new mount namespace"),
        "{message}"
    );
}

#[test]
fn mount_proc_after_chroot_names_the_new_roots_proc() {
    let ns = Namespaces::PID | Namespaces::MOUNT;
    if !available(ns) || !support::is_root() {
        return eprintln!("skipped: mount_proc with chroot: needs root and new namespaces");
    }
    // An empty new root has no /proc to mount on: the step says so, which
    // also shows that the mount comes after the chroot.
    let root = ScratchDir::new("mount-proc-root");
    let (failure, message) = expect_step(
        Command::new("/true")
            .unshare(ns)
            .chroot(root.path())
            .mount_proc(true),
        spawnfd::Step::MountProc,
        libc::ENOENT,
    );
    assert_eq!(
        failure.path(),
        Some(std::path::Path::new("/proc")),
        "{message}"
    );
    assert!(message.contains("mount proc \"/proc\""), "{message}");
}

/// This process's effective user and group ids.
fn our_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid have no preconditions.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

fn map(inside: u32, outside: u32) -> [IdMap; 1] {
    [IdMap {
        inside,
        outside,
        count: 1,
    }]
}

#[test]
fn user_namespace_with_our_ids_as_root() {
    let (uid, gid) = our_ids();
    let Some(r) = run_in(Namespaces::USER, |cmd| {
        cmd.uid_map(&map(0, uid)).gid_map(&map(0, gid))
    }) else {
        return;
    };
    assert_new_namespaces(&r, &["user"]);
    assert_eq!(r.uid_map, [format!("0 {uid} 1")]);
    assert_eq!(r.gid_map, [format!("0 {gid} 1")]);
    assert_eq!(r.status("Uid"), "0 0 0 0", "we are root inside");
    assert_eq!(r.status("Gid"), "0 0 0 0");
}

#[test]
fn user_namespace_without_maps_leaves_the_ids_unmapped() {
    let Some(r) = run_in(Namespaces::USER, |cmd| cmd) else {
        return;
    };
    assert!(r.uid_map.is_empty(), "{:?}", r.uid_map);
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "65534".to_owned());
    assert_eq!(
        r.status("Uid"),
        [overflow.as_str(); 4].join(" "),
        "an unmapped uid shows as the overflow uid"
    );
}

#[test]
fn user_namespace_mapping_root_to_another_user() {
    if !(has_capability(CAP_SETUID) && has_capability(CAP_SETGID)) {
        eprintln!("skipped: mapping another user needs CAP_SETUID and CAP_SETGID");
        return;
    }
    if !available(Namespaces::USER) {
        return;
    }
    // Root inside is uid 1000 outside: the child becomes it with uid(0),
    // and runs the probe as that user.
    let (probe, _copy) = probe_for_anyone();
    let r = run_attrs(
        attr_probe_at(&probe)
            .unshare(Namespaces::USER)
            .uid_map(&map(0, 1000))
            .gid_map(&map(0, 1000))
            .uid(0)
            .gid(0),
    );
    assert_eq!(r.uid_map, ["0 1000 1"]);
    assert_eq!(r.gid_map, ["0 1000 1"]);
    assert_eq!(r.status("Uid"), "0 0 0 0");
    assert_eq!(r.status("Gid"), "0 0 0 0");
    assert_eq!(
        r.status("Groups"),
        "",
        "std's rule, permitted with a gid_map"
    );
}

#[test]
fn all_namespaces_at_once() {
    let all = Namespaces::MOUNT
        | Namespaces::UTS
        | Namespaces::IPC
        | Namespaces::NET
        | Namespaces::PID
        | Namespaces::CGROUP
        | Namespaces::USER;
    let (uid, gid) = our_ids();
    let Some(r) = run_in(all, |cmd| cmd.uid_map(&map(0, uid)).gid_map(&map(0, gid))) else {
        return;
    };
    assert_new_namespaces(
        &r,
        &[
            "mnt",
            "uts",
            "ipc",
            "net",
            "pid",
            "pid_for_children",
            "cgroup",
            "user",
        ],
    );
    assert_eq!(r.pid, 1);
    assert_eq!(r.status("Uid"), "0 0 0 0");
}

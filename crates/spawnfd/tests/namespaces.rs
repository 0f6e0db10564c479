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
    AttrReport, CAP_SETGID, CAP_SETUID, attr_probe, attr_probe_at, has_capability,
    probe_for_anyone, run_attrs, unshare_unavailable,
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

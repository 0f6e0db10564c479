//! The child's credentials (`groups`, `gid`, `uid`), checked in the
//! child's own `/proc/self/status`, with std's rule for root's
//! supplementary groups; and each credential step failing once, inside a
//! new user namespace where the ids asked for are not mapped.
//!
//! Changing to another user needs `CAP_SETUID` and `CAP_SETGID` (root), and
//! the failures need user namespaces: the tests skip, with a printed
//! reason, where those are missing. The probe is run from a path every
//! user can reach ([`support::probe_for_anyone`]).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use spawnfd::{Command, IdMap, Namespaces, Step};
use support::{
    CAP_SETGID, CAP_SETUID, PROBE, ScratchDir, attr_probe, attr_probe_at, expect_step,
    has_capability, in_isolated_run, is_root, probe_for_anyone, refused, run_attrs, run_isolated,
    unshare_unavailable,
};

/// Whether this process may take any user and group id; prints why not.
fn may_change_ids() -> bool {
    let may = has_capability(CAP_SETUID) && has_capability(CAP_SETGID);
    if !may {
        eprintln!("skipped: changing the user needs CAP_SETUID and CAP_SETGID");
    }
    may
}

/// Whether a new user namespace can be made here; prints why not.
fn user_namespaces() -> bool {
    match unshare_unavailable(Namespaces::USER) {
        None => true,
        Some(reason) => {
            eprintln!("skipped: {reason}");
            false
        }
    }
}

/// The value of this process's `/proc/self/status` field `key`, blanks
/// squeezed as in [`support::AttrReport::status`].
fn our_status(key: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").expect("read our status");
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in our status"));
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The same id four times: real, effective, saved and file-system.
fn all(id: u32) -> String {
    format!("{id} {id} {id} {id}")
}

/// A probe that runs as another user: from a path that user can reach.
fn probe_as_anyone() -> (Command, Option<ScratchDir>) {
    let (path, copy) = probe_for_anyone();
    (attr_probe_at(path), copy)
}

#[test]
fn uid_gid_and_groups_are_taken() {
    if !may_change_ids() {
        return;
    }
    let (mut probe, _copy) = probe_as_anyone();
    let r = run_attrs(probe.uid(1234).gid(2345).groups(&[3, 4, 5]));
    assert_eq!(r.status("Uid"), all(1234));
    assert_eq!(r.status("Gid"), all(2345));
    assert_eq!(r.status("Groups"), "3 4 5");
}

const ROOT_WITH_GROUPS: &str = "root_with_groups_scenario";

#[test]
fn uid_without_groups_drops_roots_groups() {
    if !may_change_ids() {
        return;
    }
    if !is_root() {
        eprintln!("skipped: std's rule is for a parent whose uid is 0");
        return;
    }
    run_isolated(ROOT_WITH_GROUPS);
}

/// Gives this (isolated) root process supplementary groups, then checks
/// std's rule: a child given a uid but no groups keeps none of them, even
/// where it may not change its groups (in a user namespace without a
/// `gid_map`, where the implicit `setgroups(0)` is skipped).
#[test]
#[ignore = "run in a process of its own by uid_without_groups_drops_roots_groups"]
fn root_with_groups_scenario() {
    if !in_isolated_run(ROOT_WITH_GROUPS) {
        return;
    }
    let groups: [libc::gid_t; 2] = [10, 20];
    // SAFETY: `groups` holds that many gids; glibc applies the change to
    // every thread of this process, which is the isolated run.
    let r = unsafe { libc::setgroups(groups.len(), groups.as_ptr()) };
    assert_eq!(r, 0, "setgroups: {}", std::io::Error::last_os_error());

    let inherits = run_attrs(&mut attr_probe());
    assert_eq!(inherits.status("Groups"), "10 20", "inherited");

    let (mut probe, _copy) = probe_as_anyone();
    let r = run_attrs(probe.uid(1234));
    assert_eq!(r.status("Uid"), all(1234));
    assert_eq!(r.status("Gid"), our_status("Gid"), "the group is kept");
    assert_eq!(
        r.status("Groups"),
        "",
        "std's rule: no supplementary groups"
    );

    let (mut probe, _copy) = probe_as_anyone();
    let r = run_attrs(probe.uid(1234).groups(&[30]));
    assert_eq!(r.status("Groups"), "30", "explicit groups win");

    if let Some(reason) = unshare_unavailable(Namespaces::USER) {
        eprintln!("user namespace part skipped: {reason}");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let r = run_attrs(
        attr_probe()
            .unshare(Namespaces::USER)
            .uid_map(&[IdMap {
                inside: 0,
                outside: euid,
                count: 1,
            }])
            .uid(0),
    );
    assert_eq!(r.status("Uid"), all(0));
}

#[test]
fn groups_and_gid_alone_keep_the_user() {
    if !may_change_ids() {
        return;
    }
    let r = run_attrs(attr_probe().groups(&[7, 8]));
    assert_eq!(r.status("Groups"), "7 8");
    assert_eq!(r.status("Uid"), our_status("Uid"));

    let r = run_attrs(attr_probe().gid(2345));
    assert_eq!(r.status("Gid"), all(2345));
    assert_eq!(
        r.status("Groups"),
        our_status("Groups"),
        "kept without a uid"
    );
    assert_eq!(r.status("Uid"), our_status("Uid"));
}

#[test]
fn working_directory_is_entered_as_the_new_user() {
    if !may_change_ids() {
        return;
    }
    // A directory only its owner (root) may enter: the new user may not,
    // which shows that chdir comes after setuid.
    let dir = ScratchDir::new("private");
    let private = dir.path().join("private");
    std::fs::create_dir(&private).expect("create the directory");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))
        .expect("chmod the directory");
    let (mut probe, _copy) = probe_as_anyone();
    let (failure, _) = expect_step(
        probe.uid(1234).current_dir(&private),
        Step::Chdir,
        libc::EACCES,
    );
    assert_eq!(failure.path(), Some(private.as_path()));
}

#[test]
fn setuid_to_an_unmapped_uid_fails_with_einval() {
    if !user_namespaces() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let (failure, message) = expect_step(
        attr_probe()
            .unshare(Namespaces::USER)
            .uid_map(&[IdMap {
                inside: 0,
                outside: euid,
                count: 1,
            }])
            .uid(5),
        Step::Setuid,
        libc::EINVAL,
    );
    assert_eq!(failure.id(), Some(5));
    assert_eq!(
        message,
        format!("spawn {PROBE:?}: setuid 5: Invalid argument (os error 22)")
    );
}

#[test]
fn setgid_to_an_unmapped_gid_fails_with_einval() {
    if !user_namespaces() {
        return;
    }
    // SAFETY: getegid has no preconditions.
    let egid = unsafe { libc::getegid() };
    let (failure, message) = expect_step(
        attr_probe()
            .unshare(Namespaces::USER)
            .gid_map(&[IdMap {
                inside: 0,
                outside: egid,
                count: 1,
            }])
            .gid(5),
        Step::Setgid,
        libc::EINVAL,
    );
    assert_eq!(failure.id(), Some(5));
    assert!(
        message.ends_with(": setgid 5: Invalid argument (os error 22)"),
        "{message}"
    );
}

#[test]
fn setgroups_before_a_gid_map_fails_with_eperm() {
    if !user_namespaces() {
        return;
    }
    // The kernel allows setgroups in a user namespace only once its
    // gid_map is written; explicit groups are not std's implicit drop, so
    // the refusal is reported.
    let (_, message) = expect_step(
        attr_probe().unshare(Namespaces::USER).groups(&[0]),
        Step::Setgroups,
        libc::EPERM,
    );
    assert!(
        message.ends_with(": setgroups: Operation not permitted (os error 1)"),
        "{message}"
    );
}

#[test]
fn invalid_id_map_fails_in_the_parent() {
    if !user_namespaces() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    // Two lines mapping the same inside id: the kernel refuses the map.
    let overlapping = [
        IdMap {
            inside: 0,
            outside: euid,
            count: 1,
        },
        IdMap {
            inside: 0,
            outside: euid,
            count: 1,
        },
    ];
    let (failure, message) = expect_step(
        attr_probe().unshare(Namespaces::USER).uid_map(&overlapping),
        Step::IdMap,
        libc::EINVAL,
    );
    let path = failure.path().expect("the map's path");
    assert!(path.starts_with("/proc"), "{message}");
    assert_eq!(
        path.file_name(),
        Path::new("uid_map").file_name(),
        "{message}"
    );
}

#[test]
fn id_maps_without_a_user_namespace_are_refused() {
    let map = [IdMap {
        inside: 0,
        outside: 0,
        count: 1,
    }];
    let message = refused(attr_probe().uid_map(&map));
    assert!(
        message.contains("uid_map needs a new user namespace"),
        "{message}"
    );
    let message = refused(attr_probe().unshare(Namespaces::PID).gid_map(&map));
    assert!(
        message.contains("gid_map needs a new user namespace"),
        "{message}"
    );
    let empty = [IdMap {
        inside: 0,
        outside: 0,
        count: 0,
    }];
    let message = refused(attr_probe().unshare(Namespaces::USER).uid_map(&empty));
    assert!(message.contains("maps no ids"), "{message}");
}

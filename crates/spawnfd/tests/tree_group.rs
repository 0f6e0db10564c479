//! A child's tree held by the process group it leads
//! (`Command::process_group_tree`, and `contain_tree`'s fallback where no
//! cgroup can be made): killed, waited for and ended on drop, each
//! checked from `/proc`; and the limit of the fallback (a member that
//! leaves the group escapes) shown rather than hidden.
//!
//! Run on every forced path of `.ci/paths`: since Linux 6.9 the group is
//! signalled through the child's pidfd; `old-kernel` refuses that flag
//! (the `kill(-pgid)` and `/proc` sweep paths) and `no-pidfd` has no
//! pidfds at all.

mod common;

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{exits_in_time, watch};
use spawnfd::{Command, Containment};

/// The live (not zombie) processes `/proc` lists in the group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str()) {
            found.push(pid);
        }
    }
    found
}

/// Waits up to 20 s until the group `pgid` has at least `n` live members.
fn wait_for_group(pgid: u32, n: usize) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let members = group_members(pgid);
        if members.len() >= n {
            return members;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {members:?} in group {pgid}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pid a process of the tree wrote to `path`, waiting up to 20 s
/// for it.
fn read_pid(path: &std::path::Path) -> u32 {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no pid in {path:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A tree that stays in its group: children, grandchildren, and a loop
/// that keeps forking while it is killed.
const TREE: &str = "
    sleep 1000 & sleep 1000 &
    sh -c 'sleep 1000 & sleep 1000; wait' &
    while :; do sleep 1000 & sleep 0.01; done
";

#[test]
fn kill_tree_ends_every_member_of_the_group_and_no_one_else() {
    let tmp = common::TempDir::new("group-escape");
    let escaped_pid = tmp.path().join("escaped");
    // One daemon leaves the group (setsid): the limit of the fallback.
    let script = format!(
        "setsid sh -c 'echo $$ > {}; exec sleep 1000' & {TREE}",
        escaped_pid.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .process_group_tree()
        .spawn()
        .expect("spawn");
    assert_eq!(child.containment(), Some(Containment::ProcessGroup));
    assert!(child.scope().is_none());
    let pgid = child.id();
    let members = wait_for_group(pgid, 10);
    assert!(members.contains(&pgid), "the child leads its group");
    let escaped = read_pid(&escaped_pid);
    let escaped_watch = watch(escaped).expect("the escaped daemon runs");
    let watches: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    child.kill_tree().expect("kill_tree");
    let status = child.wait_tree().expect("wait_tree");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for (w, pid) in watches.iter().zip(&members) {
        assert!(exits_in_time(w), "{pid} survived kill_tree");
    }
    assert_eq!(group_members(pgid), Vec::<u32>::new(), "the group is empty");
    // The daemon that left the group is out of reach, as documented.
    assert!(
        !common::exited(&escaped_watch),
        "a process outside the group was killed"
    );
    // SAFETY: kill with integers; the daemon is alive (its watch says so)
    // and in a session of its own, so no one else has its pid.
    unsafe { libc::kill(escaped as libc::pid_t, libc::SIGKILL) };
    assert!(exits_in_time(&escaped_watch));
}

#[test]
fn wait_tree_returns_only_after_the_last_member_of_the_group() {
    let (r, w) = io::pipe().expect("pipe");
    let mut child = Command::new("sh")
        .args(["-c", "sh -c 'read x <&3' & exit 0"])
        .fd(3, OwnedFd::from(r))
        .process_group_tree()
        .spawn()
        .expect("spawn");
    let pgid = child.id();
    assert!(child.wait().unwrap().success());
    // The grandchild is in the child's group, which outlives the child.
    let grandchild = wait_for_group(pgid, 1)[0];
    assert_ne!(grandchild, pgid);
    assert_eq!(child.tree_pids().unwrap(), vec![grandchild]);
    let status = std::thread::scope(|s| {
        let t = s.spawn(|| child.wait_tree());
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !t.is_finished(),
            "wait_tree returned with {grandchild} alive in the group"
        );
        drop(w);
        t.join().unwrap()
    });
    assert!(status.expect("wait_tree").success());
    assert_eq!(group_members(pgid), Vec::<u32>::new());
    assert_eq!(child.tree_pids().unwrap(), Vec::<u32>::new());
}

#[test]
fn kill_tree_reaches_the_group_after_the_child_was_reaped() {
    // The child exits at once and is reaped; its group lives on. Before
    // Linux 6.9 (old-kernel) and without pidfds (no-pidfd) the id of a
    // reaped leader is no longer safe to signal: the members are found in
    // /proc and signalled one by one, the forking loop included.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "sleep 1000 & sleep 1000 & (while :; do sleep 1000 & sleep 0.01; done) & exit 0",
        ])
        .process_group_tree()
        .spawn()
        .expect("spawn");
    let pgid = child.id();
    assert!(child.wait().unwrap().success());
    let members = wait_for_group(pgid, 4);
    let watches: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    child.kill_tree().expect("kill_tree");
    for (w, pid) in watches.iter().zip(&members) {
        assert!(exits_in_time(w), "{pid} survived kill_tree");
    }
    assert!(child.wait_tree().unwrap().success());
    assert_eq!(
        group_members(pgid),
        Vec::<u32>::new(),
        "the loop's children too"
    );
    // Nothing left: a second kill is no error.
    child.kill_tree().expect("kill_tree of an empty group");
}

#[test]
fn a_dropped_child_with_kill_on_drop_ends_its_group() {
    let child = Command::new("sh")
        .args(["-c", "sleep 1000 & sh -c 'sleep 1000; :' & wait"])
        .process_group_tree()
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let pgid = child.id();
    let members = wait_for_group(pgid, 4);
    let watches: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    drop(child);
    for (w, pid) in watches.iter().zip(&members) {
        assert!(exits_in_time(w), "{pid} outlived the dropped Child");
    }
}

#[test]
fn a_session_leader_holds_its_tree_in_its_own_group() {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 1000 & wait"])
        .setsid(true)
        .process_group_tree()
        .spawn()
        .expect("spawn");
    let pgid = child.id();
    let members = wait_for_group(pgid, 2);
    // The session's id is the child's pid too.
    let stat = std::fs::read_to_string(format!("/proc/{pgid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[3], pgid.to_string(), "a session of its own");
    let watches: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    child.kill_tree().unwrap();
    child.wait_tree().unwrap();
    for w in &watches {
        assert!(exits_in_time(w));
    }
}

#[test]
fn another_process_group_conflicts_with_a_group_tree() {
    let tmp = common::TempDir::new("group-conflict");
    let marker = tmp.path().join("ran");
    let script = format!("touch {}", marker.display());
    for request in [
        Command::new("sh")
            .args(["-c", &script])
            .process_group_tree()
            .process_group(1)
            .spawn(),
        Command::new("sh")
            .args(["-c", &script])
            .contain_tree()
            .process_group(1)
            .spawn(),
    ] {
        let err = request.expect_err("a group of another");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("process_group(1)"), "{err}");
    }
    // A scope needs no group: no conflict.
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .process_group(0)
        .process_group_tree()
        .spawn()
        .expect("process_group(0) is the tree's own group");
    child.wait_tree().unwrap();
    assert!(marker.exists());
    // Not a tree: kill_tree and wait_tree refuse.
    let mut plain = Command::new("true").spawn().unwrap();
    assert_eq!(plain.containment(), None);
    assert_eq!(
        plain.kill_tree().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        plain.tree_pids().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        plain.wait_tree().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    plain.wait().unwrap();
}

/// The cgroup v2 directory of this process, if a scope can be made under
/// it.
fn scope_parent() -> Option<std::path::PathBuf> {
    let scope = spawnfd::Scope::in_own_cgroup().ok()?;
    let parent = scope.path().parent()?.to_path_buf();
    scope.close().ok()?;
    Some(parent)
}

#[test]
fn contain_tree_falls_back_to_a_group_where_no_cgroup_can_be_made() {
    let Some(parent) = scope_parent() else {
        println!("skipped: no cgroup v2 directory this process may create cgroups in");
        return;
    };
    // Where a cgroup can be made, a scope.
    let mut child = Command::new("true")
        .contain_tree_in(&parent)
        .spawn()
        .unwrap();
    assert_eq!(child.containment(), Some(Containment::Scope));
    child.wait_tree().unwrap();
    // A cgroup whose cgroup.max.descendants is 0 takes no cgroup below
    // it (mkdir fails with EAGAIN), even from root.
    let full = spawnfd::Scope::new(&parent).expect("scope");
    std::fs::write(full.path().join("cgroup.max.descendants"), "0").unwrap();
    let err = Command::new("true")
        .scope_in(full.path())
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
    let mut child = Command::new("sh")
        .args(["-c", "sleep 1000 & cat /proc/self/stat; wait"])
        .stdout(spawnfd::Stdio::piped())
        .contain_tree_in(full.path())
        .spawn()
        .expect("the fallback");
    assert_eq!(child.containment(), Some(Containment::ProcessGroup));
    // Seen from inside: cat's group is the child's.
    let mut line = String::new();
    io::BufRead::read_line(
        &mut io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let fields: Vec<&str> = line
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], child.id().to_string(), "{line}");
    child.kill_tree().unwrap();
    assert_eq!(child.wait_tree().unwrap().signal(), Some(libc::SIGKILL));
    assert_eq!(group_members(child.id()), Vec::<u32>::new());
    // Nothing was made under the full cgroup.
    let subdirs = std::fs::read_dir(full.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .count();
    assert_eq!(subdirs, 0);
    // A named parent that is no cgroup is a mistake, not a fallback.
    let err = Command::new("true")
        .contain_tree_in("/tmp")
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_child_set_kills_every_group_tree() {
    let mut set = spawnfd::ChildSet::new().unwrap();
    let mut watches = Vec::new();
    for _ in 0..2 {
        let child = Command::new("sh")
            .args(["-c", "sleep 1000 & sleep 1000 & wait"])
            .process_group_tree()
            .spawn()
            .expect("spawn");
        let members = wait_for_group(child.id(), 3);
        watches.extend(members.iter().filter_map(|&pid| watch(pid)));
        set.insert(child).unwrap();
    }
    set.kill_trees().expect("kill_trees");
    for exited in set.exits() {
        assert_eq!(exited.unwrap().status.signal(), Some(libc::SIGKILL));
    }
    for w in &watches {
        assert!(exits_in_time(w), "a member outlived kill_trees");
    }
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_waits_for_the_last_member_of_the_group() {
    let (r, w) = io::pipe().expect("pipe");
    let mut child = spawnfd::tokio::Command::new("sh")
        .args(["-c", "sh -c 'read x <&3' & exit 0"])
        .fd(3, OwnedFd::from(r))
        .process_group_tree()
        .spawn()
        .expect("spawn");
    assert_eq!(child.containment(), Some(Containment::ProcessGroup));
    let pgid = child.id().expect("running");
    let wait = child.wait_tree();
    tokio::pin!(wait);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut wait)
            .await
            .is_err(),
        "wait_tree returned with the grandchild alive"
    );
    drop(w);
    let status = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("in time")
        .expect("wait_tree");
    assert!(status.success());
    assert_eq!(group_members(pgid), Vec::<u32>::new());
}

/// The tokio module asks only for the runtime's IO driver: a group's wait
/// needs no timer either.
#[cfg(feature = "tokio")]
#[test]
fn tokio_waits_for_a_group_with_the_io_driver_alone() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut child = spawnfd::tokio::Command::new("sh")
            .args(["-c", "sleep 0.3 & exit 0"])
            .process_group_tree()
            .spawn()
            .expect("spawn");
        let pgid = child.id().expect("running");
        let started = Instant::now();
        assert!(child.wait_tree().await.expect("wait_tree").success());
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "returned before the sleep ended"
        );
        assert_eq!(group_members(pgid), Vec::<u32>::new());
    });
}

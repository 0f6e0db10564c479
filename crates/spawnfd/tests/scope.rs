//! `Scope`: a child's whole tree in a cgroup v2 directory of its own,
//! killed (by `cgroup.kill` and by the freezer path), frozen, waited for,
//! accounted and cleaned up, each checked from `/proc` and the cgroup's
//! own files.
//!
//! Needs a cgroup v2 hierarchy this process may create cgroups in (found
//! from `/proc/self/mountinfo`): each test prints why it is skipped where
//! there is none.

mod common;

use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{exited, watch};
use spawnfd::{Command, KillMethod, Scope, Stdio};

/// Where the tests make their scopes: this process's own cgroup, if a
/// scope can be made there; else why not.
fn parent() -> Result<PathBuf, String> {
    let scope = Scope::in_own_cgroup().map_err(|e| format!("no scope can be made here: {e}"))?;
    let parent = scope
        .path()
        .parent()
        .map(PathBuf::from)
        .ok_or("no parent")?;
    scope.close().map_err(|e| e.to_string())?;
    Ok(parent)
}

macro_rules! parent_or_skip {
    () => {
        match parent() {
            Ok(parent) => parent,
            Err(why) => {
                println!("skipped: {why}");
                return;
            }
        }
    };
}

/// Waits up to 20 s until the scope's directory `path` has been removed.
fn wait_removed(path: &std::path::Path) {
    let start = Instant::now();
    while path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} left behind",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to 20 s until the scope holds at least `n` processes.
fn wait_for_members(scope: &Scope, n: usize) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let pids = scope.pids().expect("pids");
        if pids.len() >= n {
            return pids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {pids:?} in the scope"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A tree that does what escapes process groups: children, a daemon
/// double-forked into a session of its own, and a loop that keeps forking.
const TREE: &str = "
    sleep 1000 & sleep 1000 &
    sh -c 'sleep 1000 & sleep 1000' &
    setsid sh -c '(setsid sleep 1000 &) ; sleep 1000' &
    while :; do sleep 1000 & sleep 0.01; done
";

fn kill_a_forking_tree(method: KillMethod) {
    let parent = parent_or_skip!();
    let mut scope = Scope::new(&parent).expect("scope");
    scope.set_kill_method(method);
    assert_eq!(scope.kill_method(), method);
    let mut child = Command::new("sh")
        .args(["-c", TREE])
        .scope(&scope)
        .spawn()
        .expect("spawn");
    let members = wait_for_members(&scope, 12);
    let fds: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    scope.kill().expect("kill");
    assert!(
        scope
            .wait_empty_timeout(Duration::from_secs(20))
            .expect("wait"),
        "the tree is gone"
    );
    assert!(scope.is_empty().unwrap());
    assert_eq!(scope.pids().unwrap(), Vec::<u32>::new());
    for (fd, pid) in fds.iter().zip(&members) {
        assert!(exited(fd), "{pid} survived the kill ({method:?})");
    }
    let status = child.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!scope.is_frozen().unwrap(), "left thawed");
    let path = scope.path().to_path_buf();
    scope.close().expect("close");
    assert!(!path.exists(), "{} removed", path.display());
}

#[test]
fn kill_ends_a_forking_tree_with_cgroup_kill() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    if scope.kill_method() != KillMethod::CgroupKill {
        println!("skipped: no cgroup.kill here (before Linux 5.14)");
        return;
    }
    drop(scope);
    kill_a_forking_tree(KillMethod::CgroupKill);
}

#[test]
fn kill_ends_a_forking_tree_by_freezing_and_signalling() {
    kill_a_forking_tree(KillMethod::FreezeAndSignal);
}

#[test]
fn the_tree_is_empty_only_when_its_last_daemon_exits() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    // The daemon reads fd 3 until we close our end; the child exits at once.
    let (r, w) = io::pipe().expect("pipe");
    let mut child = Command::new("sh")
        .args(["-c", "setsid sh -c 'read x <&3' & exit 0"])
        .fd(3, OwnedFd::from(r))
        .scope(&scope)
        .spawn()
        .expect("spawn");
    assert!(
        child.wait().unwrap().success(),
        "the child's own exit comes first"
    );
    wait_for_members(&scope, 1);
    assert!(!scope.is_empty().unwrap());
    assert!(
        !scope
            .wait_empty_timeout(Duration::from_millis(100))
            .unwrap()
    );
    // The events fd wakes when the daemon goes.
    let waiter = std::thread::scope(|s| {
        let t = s.spawn(|| scope.wait_empty());
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !t.is_finished(),
            "wait_empty returned with the daemon alive"
        );
        drop(w);
        t.join().unwrap()
    });
    waiter.expect("wait_empty");
    assert!(scope.is_empty().unwrap());
}

#[test]
fn the_events_fd_polls_for_priority_on_change() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    let mut child = Command::new("sleep")
        .arg("0.2")
        .scope(&scope)
        .spawn()
        .expect("spawn");
    // Read once (re-arming), then poll: the exit wakes it.
    assert!(!scope.is_empty().unwrap());
    let mut pfd = libc::pollfd {
        fd: scope.events_fd().as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
    assert_eq!(n, 1);
    assert_ne!(pfd.revents & libc::POLLPRI, 0);
    child.wait().unwrap();
    assert!(scope.wait_empty_timeout(Duration::from_secs(20)).unwrap());
}

#[test]
fn dropping_a_scope_kills_its_tree_and_removes_it() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    let path = scope.path().to_path_buf();
    let mut child = Command::new("sh")
        .args(["-c", "sleep 1000 & setsid sleep 1000 & wait"])
        .scope(&scope)
        .spawn()
        .expect("spawn");
    let members = wait_for_members(&scope, 3);
    let fds: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    drop(scope);
    assert!(!path.exists(), "{} removed", path.display());
    for fd in &fds {
        assert!(exited(fd));
    }
    child.wait().unwrap();
}

#[test]
fn a_scope_dropped_without_kill_is_removed_once_empty() {
    let parent = parent_or_skip!();
    let mut scope = Scope::new(&parent).expect("scope");
    scope.kill_on_drop(false);
    let path = scope.path().to_path_buf();
    let (r, w) = io::pipe().expect("pipe");
    let mut child = Command::new("sh")
        .args(["-c", "read x <&3; exit 0"])
        .fd(3, OwnedFd::from(r))
        .scope(&scope)
        .spawn()
        .expect("spawn");
    drop(scope);
    assert!(path.exists(), "kept while the tree runs");
    drop(w);
    assert!(child.wait().unwrap().success(), "not killed");
    wait_removed(&path);
}

#[test]
fn the_child_starts_in_its_scope() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    let out = Command::new("cat")
        .arg("/proc/self/cgroup")
        .scope(&scope)
        .output()
        .expect("cat");
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a v2 line");
    let name = scope.path().file_name().unwrap().to_str().unwrap();
    assert!(
        line.ends_with(&format!("/{name}")),
        "{line} is the scope {name}"
    );
}

#[test]
fn freeze_stops_the_tree_and_thaw_resumes_it() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    let mut child = Command::new("sh")
        .args(["-c", "while :; do echo x; done"])
        .stdout(Stdio::piped())
        .scope(&scope)
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    scope.freeze().expect("freeze");
    assert!(scope.is_frozen().unwrap());
    // Drain what was written before the freeze; then nothing comes.
    let fd = out.get_ref().as_fd().try_clone_to_owned().unwrap();
    // SAFETY: fcntl on our own fd.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut buf = vec![0u8; 1 << 20];
    while out.read(&mut buf).is_ok_and(|n| n > 0) {}
    std::thread::sleep(Duration::from_millis(200));
    let err = out
        .read(&mut buf)
        .expect_err("nothing written while frozen");
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    scope.thaw().expect("thaw");
    // SAFETY: as above.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, 0) };
    assert!(out.read(&mut buf).unwrap() > 0, "written again once thawed");
    assert!(!scope.is_frozen().unwrap());
    scope.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn usage_counts_what_a_busy_grandchild_burned() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    // The grandchild spins, then prints its own CPU times (`times`: the
    // shell's user and system time on the first line).
    let out = Command::new("sh")
        .args([
            "-c",
            "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; times'",
        ])
        .scope(&scope)
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().expect("times");
    let burned: Duration = first
        .split_whitespace()
        .map(|t| {
            let (m, s) = t.trim_end_matches('s').split_once('m').expect("XmY.YYYs");
            Duration::from_secs_f64(m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap())
        })
        .sum();
    assert!(
        burned > Duration::from_millis(50),
        "the grandchild burned {burned:?}"
    );
    assert!(scope.wait_empty_timeout(Duration::from_secs(20)).unwrap());
    let usage = scope.usage().expect("usage");
    assert!(
        usage.cpu.total >= burned,
        "{usage:?} covers the grandchild's {burned:?}"
    );
    assert!(usage.cpu.user + usage.cpu.system <= usage.cpu.total + Duration::from_millis(20));
}

#[test]
fn limits_need_their_controllers() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    let controllers = scope.controllers().expect("controllers");
    for (controller, result) in [
        ("memory", scope.set_memory_max(Some(64 << 20))),
        ("pids", scope.set_pids_max(Some(16))),
        (
            "cpu",
            scope.set_cpu_max(Some(Duration::from_millis(50)), Duration::from_millis(100)),
        ),
    ] {
        if controllers.iter().any(|c| c == controller) {
            result.unwrap_or_else(|e| panic!("{controller}: {e}"));
        } else {
            let err = result.expect_err("no controller");
            assert_eq!(err.kind(), io::ErrorKind::Unsupported);
            assert!(
                err.to_string()
                    .contains(&format!("the {controller} controller")),
                "{err}"
            );
            println!("skipped: {controller} limit: the controller is not enabled here ({err})");
        }
    }
    let usage = scope.usage().unwrap();
    if !controllers.iter().any(|c| c == "memory") {
        assert_eq!(usage.memory_current, None);
    }
    let bad = scope.set_cpu_max(Some(Duration::from_millis(50)), Duration::from_secs(5));
    assert_eq!(bad.unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn bad_parents_and_names_are_refused_and_leave_nothing() {
    let parent = parent_or_skip!();
    let err = Scope::new("/tmp").expect_err("not a cgroup");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("not a cgroup v2 directory"),
        "{err}"
    );
    let err = Scope::new("/nonexistent/cgroup").expect_err("no such dir");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    for name in ["", ".", "..", "a/b"] {
        let err = Scope::with_name(&parent, name).expect_err(name);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
    }
    let name = format!("spawnfd-test-named-{}", std::process::id());
    let first = Scope::with_name(&parent, &name).expect("named");
    let err = Scope::with_name(&parent, &name).expect_err("taken");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let path = first.path().to_path_buf();
    drop(first);
    assert!(!path.exists());
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_waits_for_the_last_daemon_without_a_thread() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    let (r, w) = io::pipe().expect("pipe");
    let mut child = spawnfd::tokio::Command::new("sh")
        .args(["-c", "setsid sh -c 'read x <&3' & exit 0"])
        .fd(3, OwnedFd::from(r))
        .scope(&scope)
        .spawn()
        .expect("spawn");
    assert!(child.wait().await.unwrap().success());
    wait_for_members(&scope, 1);
    // Two waits at once, on one thread: neither may finish while the
    // daemon runs.
    let both = async { tokio::join!(scope.wait_empty_async(), scope.wait_empty_async()) };
    tokio::pin!(both);
    let early = tokio::time::timeout(Duration::from_millis(100), &mut both).await;
    assert!(early.is_err(), "a wait ended with the daemon alive");
    drop(w);
    let (a, b) = tokio::time::timeout(Duration::from_secs(20), both)
        .await
        .expect("woken");
    a.unwrap();
    b.unwrap();
    assert!(scope.is_empty().unwrap());
}

#[test]
fn signal_reaches_every_member_of_the_tree() {
    let parent = parent_or_skip!();
    let scope = Scope::new(&parent).expect("scope");
    // Each member leaves a mark when it gets SIGUSR1, and exits.
    let dir = common::TempDir::new("scope-signal");
    let script = format!(
        "mark() {{ trap \"touch {d}/\\$1; exit 0\" USR1; while :; do sleep 0.05; done; }}
         (mark a) & (setsid sh -c '(trap \"touch {d}/b; exit 0\" USR1; while :; do sleep 0.05; done)') &
         mark c",
        d = dir.path().display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .scope(&scope)
        .spawn()
        .expect("spawn");
    // sh, its two subshells, the setsid sh and its subshell, sleeps.
    wait_for_members(&scope, 5);
    std::thread::sleep(Duration::from_millis(100));
    let sent = scope.signal(spawnfd::Signal::USR1).expect("signal");
    assert!(sent >= 4, "sent to {sent}");
    assert!(!scope.is_frozen().unwrap(), "thawed after the sweep");
    child.wait().unwrap();
    for mark in ["a", "b", "c"] {
        let path = dir.path().join(mark);
        let start = Instant::now();
        while !path.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{mark} never got the signal"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    scope.kill().unwrap();
}

// ---------------------------------------------------------------------------
// A scope of the child's own: Command::scope_in, owned by the Child.

#[test]
fn a_child_with_its_own_scope_is_waited_for_with_its_tree() {
    let parent = parent_or_skip!();
    let (r, w) = io::pipe().expect("pipe");
    let mut child = Command::new("sh")
        .args(["-c", "setsid sh -c 'read x <&3' & exit 0"])
        .fd(3, OwnedFd::from(r))
        .scope_in(&parent)
        .spawn()
        .expect("spawn");
    let path = child.scope().expect("its scope").path().to_path_buf();
    assert!(
        path.starts_with(&parent) && path.exists(),
        "{}",
        path.display()
    );
    assert!(child.wait().unwrap().success());
    wait_for_members(child.scope().unwrap(), 1);
    let status = std::thread::scope(|s| {
        let t = s.spawn(|| child.wait_tree());
        std::thread::sleep(Duration::from_millis(100));
        assert!(!t.is_finished(), "wait_tree returned with the daemon alive");
        drop(w);
        t.join().unwrap()
    });
    assert!(status.expect("wait_tree").success());
    assert!(child.scope().unwrap().is_empty().unwrap());
    assert!(child.scope().unwrap().usage().unwrap().cpu.total > Duration::ZERO);
    drop(child);
    assert!(!path.exists(), "{} removed with the Child", path.display());
}

#[test]
fn kill_tree_ends_the_childs_whole_tree() {
    let parent = parent_or_skip!();
    let mut child = Command::new("sh")
        .args(["-c", TREE])
        .scope_in(&parent)
        .spawn()
        .expect("spawn");
    let members = wait_for_members(child.scope().unwrap(), 12);
    let fds: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    child.kill_tree().expect("kill_tree");
    let status = child.wait_tree().expect("wait_tree");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for fd in &fds {
        assert!(exited(fd), "a member survived kill_tree");
    }
}

#[test]
fn a_dropped_child_with_kill_on_drop_ends_its_tree() {
    let parent = parent_or_skip!();
    let child = Command::new("sh")
        .args(["-c", "setsid sleep 1000 & sleep 1000 & wait"])
        .scope_in(&parent)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let path = child.scope().unwrap().path().to_path_buf();
    let members = wait_for_members(child.scope().unwrap(), 3);
    let fds: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    drop(child);
    for fd in &fds {
        assert!(exited(fd), "a member outlived the dropped Child");
    }
    assert!(!path.exists(), "{} removed", path.display());
}

#[test]
fn a_dropped_child_without_kill_on_drop_leaves_its_tree_running() {
    let parent = parent_or_skip!();
    let (r, w) = io::pipe().expect("pipe");
    let child = Command::new("sh")
        .args(["-c", "read x <&3; exit 0"])
        .fd(3, OwnedFd::from(r))
        .scope_in(&parent)
        .spawn()
        .expect("spawn");
    let path = child.scope().unwrap().path().to_path_buf();
    let fd = watch(child.id()).expect("a watch");
    drop(child);
    std::thread::sleep(Duration::from_millis(50));
    assert!(!exited(&fd), "killed though kill_on_drop is off");
    assert!(path.exists(), "kept while the tree runs");
    drop(w);
    wait_removed(&path);
}

#[test]
fn scope_in_failures_and_misuse_leave_nothing() {
    let parent = parent_or_skip!();
    // A parent of this test's own (other tests make scopes beside it).
    let nest = Scope::new(&parent).expect("scope");
    let parent = nest.path();
    let cgroups = || {
        std::fs::read_dir(parent)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    };
    assert_eq!(cgroups(), 0);
    // A parent that is no cgroup: refused before any process.
    let err = Command::new("true")
        .scope_in("/tmp")
        .spawn()
        .expect_err("not a cgroup");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("scope"), "{err}");
    // A failed spawn removes the scope it made.
    let err = Command::new("/nonexistent/prog")
        .scope_in(parent)
        .spawn()
        .expect_err("no program");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(cgroups(), 0, "the failed spawn's scope is gone");
    // spawn_pid cannot own a scope.
    let err = Command::new("true")
        .scope_in(parent)
        .spawn_pid()
        .expect_err("no owner");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(cgroups(), 0);
    // kill_tree and wait_tree need a scope of the child's own.
    let mut plain = Command::new("true").spawn().unwrap();
    assert_eq!(
        plain.kill_tree().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert_eq!(
        plain.wait_tree().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    plain.wait().unwrap();
}

#[test]
fn a_child_set_kills_every_tree() {
    let parent = parent_or_skip!();
    let mut set = spawnfd::ChildSet::new().unwrap();
    let mut fds = Vec::new();
    for _ in 0..2 {
        let child = Command::new("sh")
            .args(["-c", "setsid sleep 1000 & sleep 1000 & wait"])
            .scope_in(&parent)
            .spawn()
            .expect("spawn");
        let members = wait_for_members(child.scope().unwrap(), 3);
        fds.extend(members.iter().filter_map(|&pid| watch(pid)));
        set.insert(child).unwrap();
    }
    set.kill_trees().expect("kill_trees");
    for exited_child in set.exits() {
        let exited_child = exited_child.unwrap();
        assert!(
            exited_child
                .child
                .scope()
                .unwrap()
                .wait_empty_timeout(Duration::from_secs(20))
                .unwrap()
        );
    }
    for fd in &fds {
        assert!(exited(fd), "a member outlived kill_trees");
    }
}

#[cfg(feature = "tokio")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_children_wait_for_and_kill_their_trees() {
    let parent = parent_or_skip!();
    let mut child = spawnfd::tokio::Command::new("sh")
        .args(["-c", "setsid sleep 1000 & sleep 1000 & wait"])
        .scope_in(&parent)
        .spawn()
        .expect("spawn");
    let members = wait_for_members(child.scope().unwrap(), 3);
    let fds: Vec<_> = members.iter().filter_map(|&pid| watch(pid)).collect();
    child.kill_tree().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait_tree())
        .await
        .expect("in time")
        .expect("wait_tree");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for fd in &fds {
        assert!(exited(fd));
    }
}

/// The helper run of `the_tree_dies_with_its_process_however_it_ends`:
/// makes a scope bound to its own life, starts a tree in it, prints the
/// scope's path and the tree's pids, and waits to be killed.
#[test]
#[ignore = "run as a helper process by the_tree_dies_with_its_process_however_it_ends"]
fn process_bound_scope_helper() {
    let Some(parent) = std::env::var_os("SPAWNFD_TEST_SCOPE_PARENT") else {
        return;
    };
    let mut scope = Scope::new(parent).expect("scope");
    scope.kill_on_process_exit().expect("watchdog");
    let _child = Command::new("sh")
        .args(["-c", "setsid sleep 1000 & sleep 1000 & wait"])
        .scope(&scope)
        .spawn()
        .expect("spawn");
    let pids = wait_for_members(&scope, 3);
    println!("scope {}", scope.path().display());
    for pid in pids {
        println!("pid {pid}");
    }
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(1000));
}

#[test]
fn the_tree_dies_with_its_process_however_it_ends() {
    let parent = parent_or_skip!();
    // Killed on the way out, whatever happens here.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "process_bound_scope_helper",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("SPAWNFD_TEST_SCOPE_PARENT", &parent)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut helper = Killed(helper);
    let mut lines = BufReader::new(helper.0.stdout.take().unwrap()).lines();
    let mut path = None;
    let mut fds = Vec::new();
    while fds.len() < 3 {
        let line = lines.next().expect("the helper's report").unwrap();
        // (The harness may print "test NAME ... " on the same line.)
        if let Some((_, p)) = line.split_once("scope ") {
            path = Some(PathBuf::from(p));
        } else if let Some((_, pid)) = line.split_once("pid ") {
            fds.extend(watch(pid.trim().parse().unwrap()));
        }
    }
    let path = path.expect("the scope's path");
    assert!(path.exists());
    // SIGKILL: no destructor of the helper runs.
    helper.0.kill().unwrap();
    helper.0.wait().unwrap();
    let start = Instant::now();
    while path.exists() || !fds.iter().all(exited) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the tree outlived its killed process ({})",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_process_bound_scope_closes_without_killing_what_it_must_keep() {
    let parent = parent_or_skip!();
    // Dropped with kill_on_drop(false): the watchdog must not kill the
    // tree when the handle goes; the directory goes once the tree ends.
    let mut scope = Scope::new(&parent).expect("scope");
    scope.kill_on_process_exit().expect("watchdog");
    scope.kill_on_drop(false);
    let path = scope.path().to_path_buf();
    let (r, w) = io::pipe().expect("pipe");
    let mut child = Command::new("sh")
        .args(["-c", "read x <&3; exit 0"])
        .fd(3, OwnedFd::from(r))
        .scope(&scope)
        .spawn()
        .expect("spawn");
    drop(scope);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "killed though kill_on_drop is off"
    );
    drop(w);
    assert!(child.wait().unwrap().success());
    wait_removed(&path);
}

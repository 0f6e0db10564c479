//! `scope`: what containment costs, side by side in one run.
//!
//! 1. Spawn + wait of `true` (the same program in every row), in turns
//!    interleaved round by round: plain; in a fresh `Scope` (made, the
//!    child started in it with `CLONE_INTO_CGROUP`, waited for, the scope
//!    closed); with `Command::scope_in` (the same, owned by the `Child`);
//!    systemd's way (`mkdir` a cgroup, spawn, write the pid to its
//!    `cgroup.procs`, wait, `rmdir`), which leaves the child outside the
//!    cgroup until the write; and `Command::process_group_tree` (the
//!    fallback where no cgroup can be made: the child leads a process
//!    group, `wait_tree` looks until it is empty).
//! 2. Killing a tree of 100 sleeping processes and waiting until the last
//!    is gone: `cgroup.kill`, the freezer path (freeze, `SIGKILL` each
//!    member, thaw), and `kill(-pgid, SIGKILL)` of a process group (whose
//!    members have not left it). Each tree runs in a scope either way, so
//!    that "gone" is observed the same way (`cgroup.events`). And the
//!    fallback end to end, with no scope: `kill_tree` and `wait_tree` of
//!    a `process_group_tree` child (the group signalled through the
//!    pidfd, whether any member still runs looked at every 1 to 20 ms in
//!    `/proc`).
//!
//! Needs a cgroup v2 directory this process may create cgroups in: its
//! own, as root.
//!
//!   cargo run -p spawnfd-bench --release --bin scope -- [--spawns N] [--kills N]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use spawnfd::{Command, KillMethod, Scope};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p90(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() * 9 / 10]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn plain(program: &Path) {
    let status = Command::new(program).spawn().unwrap().wait().unwrap();
    assert!(status.success());
}

fn in_scope(program: &Path, parent: &Path) {
    let scope = Scope::new(parent).unwrap();
    let status = Command::new(program)
        .scope(&scope)
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    assert!(status.success());
    scope.close().unwrap();
}

fn scope_in(program: &Path, parent: &Path) {
    let mut child = Command::new(program).scope_in(parent).spawn().unwrap();
    assert!(child.wait().unwrap().success());
}

fn group_tree(program: &Path) {
    let mut child = Command::new(program).process_group_tree().spawn().unwrap();
    assert!(child.wait_tree().unwrap().success());
}

fn create_then_move(program: &Path, parent: &Path, n: usize) {
    let dir = parent.join(format!("spawnfd-bench-move-{}-{n}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let mut child = Command::new(program).spawn().unwrap();
    // The child may have exited already: then there is nothing to move.
    let _ = std::fs::write(dir.join("cgroup.procs"), child.id().to_string());
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir(&dir).unwrap();
}

/// A scope with `n` sleeping processes in it, their shell among them; the
/// shell leads a process group of its own.
fn tree(parent: &Path, n: usize) -> (Scope, spawnfd::Child) {
    let scope = Scope::new(parent).unwrap();
    let script = format!("i=0; while [ $i -lt {n} ]; do sleep 1000 & i=$((i+1)); done; wait");
    let child = Command::new("sh")
        .args(["-c", &script])
        .process_group(0)
        .scope(&scope)
        .spawn()
        .unwrap();
    while scope.pids().unwrap().len() < n + 1 {
        std::thread::sleep(Duration::from_millis(5));
    }
    (scope, child)
}

/// A `process_group_tree` child: a shell and `n` sleeping processes in
/// its group, no scope.
fn group_tree_of(n: usize) -> spawnfd::Child {
    let script = format!("i=0; while [ $i -lt {n} ]; do sleep 1000 & i=$((i+1)); done; wait");
    let child = Command::new("sh")
        .args(["-c", &script])
        .process_group_tree()
        .spawn()
        .unwrap();
    while child.tree_pids().unwrap().len() < n + 1 {
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn main() {
    let mut spawns = 2000;
    let mut kills = 30;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--spawns" => spawns = args.next().unwrap().parse().unwrap(),
            "--kills" => kills = args.next().unwrap().parse().unwrap(),
            _ => panic!("usage: scope [--spawns N] [--kills N]"),
        }
    }
    let probe = Scope::in_own_cgroup().expect("a cgroup v2 directory this process may write");
    let parent: PathBuf = probe.path().parent().unwrap().to_path_buf();
    probe.close().unwrap();
    let program = PathBuf::from("/bin/true");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "parent cgroup {}; load average at start: {}",
        parent.display(),
        load.trim()
    );

    // Part 1, interleaved: each round one spawn of each contender, in a
    // rotating order.
    let names = [
        "plain",
        "fresh Scope",
        "scope_in",
        "mkdir + move + rmdir",
        "process_group_tree",
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    for round in 0..spawns + 20 {
        for k in 0..names.len() {
            let c = (round + k) % names.len();
            let start = Instant::now();
            match c {
                0 => plain(&program),
                1 => in_scope(&program, &parent),
                2 => scope_in(&program, &parent),
                3 => create_then_move(&program, &parent, round),
                _ => group_tree(&program),
            }
            if round >= 20 {
                times[c].push(start.elapsed());
            }
        }
    }
    let base = median(times[0].clone());
    println!(
        "\nspawn + wait of {}, {spawns} rounds (medians and p90 in µs)\n",
        program.display()
    );
    println!("| contender | median | p90 | median / plain |");
    println!("|---|---:|---:|---:|");
    for (name, t) in names.iter().zip(&times) {
        let m = median(t.clone());
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} |",
            us(m),
            us(p90(t.clone())),
            m.as_secs_f64() / base.as_secs_f64()
        );
    }

    // Part 2: kill a 100-process tree and wait until it is gone.
    let kinds = [
        "cgroup.kill",
        "freeze + SIGKILL each + thaw",
        "kill(-pgid)",
        "process_group_tree: kill_tree + wait_tree",
    ];
    let mut kill_times: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    for round in 0..kills {
        for k in 0..kinds.len() {
            let c = (round + k) % kinds.len();
            if c == 3 {
                let mut child = group_tree_of(100);
                let start = Instant::now();
                child.kill_tree().unwrap();
                child.wait_tree().unwrap();
                kill_times[c].push(start.elapsed());
                continue;
            }
            let (mut scope, mut child) = tree(&parent, 100);
            let start = Instant::now();
            match c {
                0 => {
                    scope.set_kill_method(KillMethod::CgroupKill);
                    scope.kill().unwrap();
                }
                1 => {
                    scope.set_kill_method(KillMethod::FreezeAndSignal);
                    scope.kill().unwrap();
                }
                _ => {
                    // SAFETY: kill takes integers; the group is the
                    // shell's, which is unreaped.
                    assert_eq!(
                        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) },
                        0
                    );
                }
            }
            scope.wait_empty().unwrap();
            kill_times[c].push(start.elapsed());
            child.wait().unwrap();
            scope.close().unwrap();
        }
    }
    let base = median(kill_times[0].clone());
    println!(
        "\nkill a tree of 100 sleeping processes and wait until it is gone, {kills} rounds (µs)\n"
    );
    println!("| method | median | p90 | median / cgroup.kill |");
    println!("|---|---:|---:|---:|");
    for (name, t) in kinds.iter().zip(&kill_times) {
        let m = median(t.clone());
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} |",
            us(m),
            us(p90(t.clone())),
            m.as_secs_f64() / base.as_secs_f64()
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average at end: {}", load.trim());
}

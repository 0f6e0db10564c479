//! A supervisor: several workers in one `ChildSet`, each failed worker
//! started again, at most `MAX_RESTARTS` times. One `epoll_wait` waits
//! for all of them; no thread per child, no `SIGCHLD` handler.
//!
//! `cargo run --example supervisor`

use std::collections::HashMap;

use spawnfd::{ChildId, ChildSet, Command};

const MAX_RESTARTS: u32 = 3;

/// A worker: its name and a shell script that sees its attempt number
/// (0 for the first start) in `$ATTEMPT`.
struct Worker {
    name: &'static str,
    script: &'static str,
}

const WORKERS: [Worker; 3] = [
    // Does its job the first time.
    Worker {
        name: "steady",
        script: "exit 0",
    },
    // Fails twice, then succeeds.
    Worker {
        name: "flaky",
        script: "[ \"$ATTEMPT\" -ge 2 ]",
    },
    // Always fails: given up after MAX_RESTARTS restarts.
    Worker {
        name: "broken",
        script: "exit 1",
    },
];

fn start(set: &mut ChildSet, worker: usize, attempt: u32) -> std::io::Result<ChildId> {
    let child = Command::new("sh")
        .args(["-c", WORKERS[worker].script])
        .env("ATTEMPT", attempt.to_string())
        .spawn()?;
    set.insert(child)
}

fn main() -> std::io::Result<()> {
    let mut set = ChildSet::new()?;
    // Which worker each child is, and how many times it was started.
    let mut running: HashMap<ChildId, usize> = HashMap::new();
    let mut starts = [1u32; WORKERS.len()];
    let mut outcome: [Option<bool>; WORKERS.len()] = [None; WORKERS.len()];

    for worker in 0..WORKERS.len() {
        running.insert(start(&mut set, worker, 0)?, worker);
    }
    // `wait_any` returns `None` once the set is empty.
    while let Some(exited) = set.wait_any()? {
        let worker = running.remove(&exited.id).expect("a child of ours");
        let name = WORKERS[worker].name;
        if exited.status.success() {
            println!("{name}: done after {} start(s)", starts[worker]);
            outcome[worker] = Some(true);
        } else if starts[worker] <= MAX_RESTARTS {
            println!("{name}: {}, restarting", exited.status);
            running.insert(start(&mut set, worker, starts[worker])?, worker);
            starts[worker] += 1;
        } else {
            println!(
                "{name}: {}, giving up after {MAX_RESTARTS} restarts",
                exited.status
            );
            outcome[worker] = Some(false);
        }
    }

    assert_eq!(outcome, [Some(true), Some(true), Some(false)]);
    assert_eq!(starts, [1, 3, 1 + MAX_RESTARTS]);
    assert!(running.is_empty());
    Ok(())
}

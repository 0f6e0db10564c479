//! A time limit: wait for a child at most so long, then kill it. The
//! wait sleeps on the child's pidfd (`poll`), so it ends as soon as the
//! child does, and the kill cannot reach another process that took the
//! pid.
//!
//! `cargo run --example timeout`

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use spawnfd::Command;

fn main() -> std::io::Result<()> {
    // In time: the status, as soon as the child exits.
    let mut quick = Command::new("sh").args(["-c", "exit 7"]).spawn()?;
    let status = quick.wait_timeout(Duration::from_secs(10))?;
    assert_eq!(status.and_then(|s| s.code()), Some(7));
    println!("quick child: {}", status.unwrap());

    // Too slow: `None` after the limit, then SIGKILL and reap.
    let start = Instant::now();
    let mut slow = Command::new("sleep").arg("30").spawn()?;
    let limit = Duration::from_millis(200);
    let status = match slow.wait_timeout(limit)? {
        Some(status) => status,
        None => {
            println!("slow child still running after {limit:?}: killing it");
            slow.kill()?;
            slow.wait()?
        }
    };
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(start.elapsed() < Duration::from_secs(10));
    println!("slow child: {status}, after {:?}", start.elapsed());
    Ok(())
}

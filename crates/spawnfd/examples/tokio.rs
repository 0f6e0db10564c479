//! `spawnfd::tokio`: children awaited through the runtime's reactor (the
//! pidfd becomes readable when the child exits), here several at once,
//! one under a time limit.
//!
//! `cargo run --example tokio --features tokio`

use std::time::Duration;

use spawnfd::Stdio;
use spawnfd::tokio::Command;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Output captured without blocking a thread.
    let output = Command::new("echo").arg("hello").output().await?;
    assert_eq!(output.stdout, b"hello\n");
    println!("output: {:?}", String::from_utf8_lossy(&output.stdout));

    // Lines as they come, while other children run.
    let mut lines_child = Command::new("sh")
        .args(["-c", "for i in 1 2 3; do echo line $i; done"])
        .stdout(Stdio::piped())
        .spawn()?;
    let others = [
        Command::new("sh").args(["-c", "exit 2"]).status(),
        Command::new("sh").args(["-c", "exit 3"]).status(),
    ];
    let mut lines = BufReader::new(lines_child.stdout.take().unwrap()).lines();
    let mut got = Vec::new();
    while let Some(line) = lines.next_line().await? {
        got.push(line);
    }
    assert_eq!(got, ["line 1", "line 2", "line 3"]);
    assert!(lines_child.wait().await?.success());
    let [a, b] = others;
    let (a, b) = tokio::try_join!(a, b)?;
    assert_eq!((a.code(), b.code()), (Some(2), Some(3)));
    println!(
        "read {} lines; the others exited with {a} and {b}",
        got.len()
    );

    // A time limit, as tokio::time::timeout around the wait.
    let mut slow = Command::new("sleep").arg("30").kill_on_drop(true).spawn()?;
    let limited = tokio::time::timeout(Duration::from_millis(200), slow.wait()).await;
    assert!(limited.is_err(), "sleep 30 ended within 200 ms");
    slow.kill().await?;
    println!("slow child killed after the time limit");
    Ok(())
}

//! Capturing a child's output: all of it at once with `output`, or reading
//! a piped stdout as it comes; and what a failed spawn reports.
//!
//! `cargo run --example capture_output`

use std::io::{BufRead, BufReader};

use spawnfd::{Command, SpawnError, Stdio, Step};

fn main() -> std::io::Result<()> {
    // Everything at once: stdout and stderr captured, stdin /dev/null.
    let out = Command::new("sh")
        .args(["-c", "echo to stdout; echo to stderr >&2; exit 3"])
        .output()?;
    assert_eq!(out.stdout, b"to stdout\n");
    assert_eq!(out.stderr, b"to stderr\n");
    assert_eq!(out.status.code(), Some(3));
    println!(
        "output: status {}, stdout {:?}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );

    // Line by line while the child runs.
    let mut child = Command::new("sh")
        .args(["-c", "for i in 1 2 3; do echo line $i; done"])
        .stdout(Stdio::piped())
        .spawn()?;
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .collect::<Result<_, _>>()?;
    assert_eq!(lines, ["line 1", "line 2", "line 3"]);
    assert!(child.wait()?.success());
    println!("read {} lines as they came", lines.len());

    // A spawn that fails says which step failed, and no child is left.
    let err = Command::new("true")
        .current_dir("/nonexistent")
        .spawn()
        .unwrap_err();
    let spawn_err = SpawnError::from_io(&err).expect("a spawn error");
    assert_eq!(spawn_err.step(), Step::Chdir);
    assert_eq!(spawn_err.raw_os_error(), Some(libc::ENOENT));
    println!("failed spawn: {err}");
    Ok(())
}

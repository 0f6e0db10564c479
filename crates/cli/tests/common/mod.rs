//! Helpers shared by the CLI's test files: running the built `spawnfd` and
//! reading what it printed.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_spawnfd");

/// Runs `spawnfd run ARGS...`.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(BIN)
        .arg("run")
        .args(args)
        .output()
        .expect("start spawnfd")
}

pub fn stdout(out: &Output) -> &str {
    std::str::from_utf8(&out.stdout).expect("UTF-8 stdout")
}

pub fn stderr(out: &Output) -> &str {
    std::str::from_utf8(&out.stderr).expect("UTF-8 stderr")
}

/// The one JSON object on the last line of stdout.
pub fn json_report(out: &Output) -> Value {
    let last = stdout(out).lines().last().expect("a JSON line on stdout");
    serde_json::from_str(last).expect("valid JSON")
}

/// A fresh path in the test scratch directory, `prefix-name`.
pub fn scratch_path(prefix: &str, name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}-{name}"));
    let _ = fs::remove_dir_all(&path);
    let _ = fs::remove_file(&path);
    path
}

//! Helpers shared by the CLI's test files: running the built `spawnfd` and
//! reading what it printed.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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

/// A new, empty cgroup v2 directory below this process's own cgroup, if
/// there is a cgroup2 mount this process may create one in; `None` with the
/// reason otherwise. The path is also returned as the child will see it in
/// `/proc/self/cgroup`.
pub fn new_cgroup(name: &str) -> Result<(PathBuf, String), String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    // Fields: ... mount-point ... - fstype source options.
    let mount = mountinfo
        .lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
        })
        .ok_or("no cgroup2 mount")?;
    let own = fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 line in /proc/self/cgroup")?;
    let relative = format!("{}/{name}", own.trim_end_matches('/'));
    let dir = mount.join(relative.trim_start_matches('/'));
    let _ = fs::remove_dir(&dir);
    fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    Ok((dir, relative))
}

/// Removes a cgroup directory once its processes are gone.
pub fn remove_cgroup(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::remove_dir(dir).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

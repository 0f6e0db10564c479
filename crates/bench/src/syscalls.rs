//! System calls per spawn, parent and child together, counted by
//! `strace -f -c`.
//!
//! For each contender the bench runs itself twice under strace in the
//! `--one` sub-mode: once doing `n` spawns and once doing none. Both runs do
//! the same start-up and one untimed warm-up spawn (which absorbs one-time
//! costs such as spawnfd's stack pool or the dynamic linker's lazy binding),
//! so the difference of the two summaries divided by `n` is the
//! steady-state cost of one spawn.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::contenders::Contender;

/// Calls per syscall name, from one `strace -c` summary.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    pub total: u64,
    pub by_name: BTreeMap<String, u64>,
}

/// Parses the table `strace -c` writes:
///
/// ```text
/// % time     seconds  usecs/call     calls    errors syscall
/// ------ ----------- ----------- --------- --------- ----------------
///  52.00    0.000013           1        13           mmap
/// ...
/// 100.00    0.000025           0        29         1 total
/// ```
///
/// The `errors` column may be empty, so `calls` is taken as the fourth
/// field and the name as the last.
pub fn parse_summary(text: &str) -> Option<Counts> {
    let mut counts = Counts::default();
    let mut saw_total = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].starts_with('-') || fields[0] == "%" {
            continue;
        }
        let (Ok(calls), Some(&name)) = (fields[3].parse::<u64>(), fields.last()) else {
            continue;
        };
        if name == "total" {
            counts.total = calls;
            saw_total = true;
        } else {
            *counts.by_name.entry(name.to_owned()).or_default() += calls;
        }
    }
    saw_total.then_some(counts)
}

/// Per-spawn counts of one contender.
pub struct PerSpawn {
    pub total: f64,
    /// Most frequent first.
    pub top: Vec<(String, f64)>,
}

impl PerSpawn {
    /// `(with - baseline) / n`, per syscall and in total.
    pub fn from_runs(with: &Counts, baseline: &Counts, n: u64) -> PerSpawn {
        let n = n as f64;
        let per = |a: u64, b: u64| (a as f64 - b as f64) / n;
        let mut top: Vec<(String, f64)> = with
            .by_name
            .iter()
            .map(|(name, &calls)| {
                let base = baseline.by_name.get(name).copied().unwrap_or(0);
                (name.clone(), per(calls, base))
            })
            .filter(|&(_, calls)| calls >= 0.5)
            .collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        PerSpawn {
            total: per(with.total, baseline.total),
            top,
        }
    }
}

/// Whether `strace -f` can trace `program` here (it may be missing, or
/// ptrace may be forbidden); `Err` says why not.
pub fn check_strace(program: &Path) -> Result<(), String> {
    let output = Command::new("strace")
        .args(["-f", "-o", "/dev/null"])
        .arg(program)
        .stdout(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`strace -f {}` failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run strace ({e})")),
    }
}

/// Runs `bench --one contender --n n --tiny tiny` under `strace -f -c` and
/// parses the summary.
pub fn count(bench: &Path, tiny: &Path, contender: Contender, n: u64) -> io::Result<Counts> {
    let dir = std::env::temp_dir();
    let out = dir.join(format!(
        "spawnfd-bench-strace-{}-{}-{n}",
        std::process::id(),
        contender.name()
    ));
    // Started with spawnfd, whose clean signal slate makes the counts
    // independent of how the bench itself was started: a process started
    // by glibc's posix_spawn (as `cargo run` starts the bench) inherits
    // signals 32 and 33 ignored, which spawnfd would reset in every child.
    let result = spawnfd::Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg(bench)
        .args(["--one", contender.name(), "--n", &n.to_string(), "--tiny"])
        .arg(tiny)
        .stdout(spawnfd::Stdio::null())
        .output();
    let summary = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    let output = result?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "strace run of {} failed ({}): {}",
            contender.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    parse_summary(&summary?).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no total line in the strace summary",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH: &str = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.000040           0       210           rt_sigaction
 30.00    0.000030           0       102         2 openat
 30.00    0.000030           0        10           mmap
------ ----------- ----------- --------- --------- ----------------
100.00    0.000100           0       322         2 total
";
    const BASE: &str = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.000040           0        10           rt_sigaction
 30.00    0.000030           0         2         2 openat
 30.00    0.000030           0        10           mmap
------ ----------- ----------- --------- --------- ----------------
100.00    0.000100           0        22         2 total
";

    #[test]
    fn parses_and_subtracts() {
        let with = parse_summary(WITH).unwrap();
        assert_eq!(with.total, 322);
        assert_eq!(with.by_name["openat"], 102);
        let base = parse_summary(BASE).unwrap();
        let per = PerSpawn::from_runs(&with, &base, 100);
        assert!((per.total - 3.0).abs() < 1e-9);
        let names: Vec<&str> = per.top.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["rt_sigaction", "openat"]);
        assert_eq!(parse_summary("garbage"), None);
    }
}

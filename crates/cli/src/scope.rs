//! `--scope` and its limits: PROGRAM and everything it starts in a cgroup
//! v2 directory of their own (the library's [`Scope`]), so that the time
//! limit, the signals spawnfd passes on and spawnfd's own end reach the
//! whole tree, and the JSON report can say what the tree used.
//!
//! With `--scope`, signals go to every process of the scope
//! ([`Scope::signal`], the tree frozen during the sweep), `KILL` is
//! [`Scope::kill`] (`cgroup.kill`, or the freezer path before Linux 5.14),
//! and once PROGRAM has been reaped whatever it left running is killed,
//! the tree's usage read, and the directory removed.
//!
//! `--contain` makes such a scope under spawnfd's own cgroup where spawnfd
//! may, and else holds the tree in PROGRAM's own process group (the
//! library's `Command::process_group_tree`): signals and the time limit
//! go to the group (as with `--kill-group`), and what is left of the group
//! when PROGRAM has been reaped is killed ([`finish_group`]).

use std::io;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde_json::{Map, Value};
use spawnfd::{Child, Containment, Scope, TreeUsage};

use crate::report::Error;

/// The options of the process tree.
#[derive(Debug, Args)]
#[command(next_help_heading = "Process tree")]
pub struct ScopeArgs {
    /// Run PROGRAM and all it starts in a new cgroup, ended as one
    ///
    /// WHERE is a cgroup v2 directory (a path with a '/'), under which
    /// spawnfd makes a new cgroup named spawnfd-PID-N, or a NAME for a new
    /// cgroup under spawnfd's own cgroup (as a systemd service with
    /// Delegate=yes may make). PROGRAM starts inside it (CLONE_INTO_CGROUP,
    /// or PROGRAM moves itself there before anything else), and so does
    /// every process it starts, daemons and double forks included: a
    /// process can leave it only by writing to another cgroup's
    /// cgroup.procs. Then the signals spawnfd passes on, and those of
    /// --timeout, go to every process in the cgroup (frozen while they
    /// are sent, so that none forks out of their reach); KILL is written to
    /// cgroup.kill (Linux 5.14; before, the tree is frozen, each process
    /// killed, and thawed, until none is left). When PROGRAM has ended,
    /// whatever it left running is killed, and the cgroup is removed. With
    /// a JSON report, its "scope" object has the cgroup's path, how many
    /// processes were left running, and the tree's CPU time (and peak
    /// memory and process count where those controllers are enabled).
    /// spawnfd needs the right to create cgroups there (root, or a
    /// delegated cgroup). Not with --cgroup.
    #[arg(long, value_name = "WHERE", conflicts_with = "cgroup")]
    scope: Option<String>,

    /// Hold PROGRAM and all it starts together: a new cgroup where spawnfd
    /// may make one, else PROGRAM's own process group
    ///
    /// As --scope with a new cgroup named spawnfd-PID-N under spawnfd's own
    /// cgroup, where spawnfd may create one there. Where it may not (the
    /// cgroup is not delegated to it, the hierarchy is read-only or not
    /// mounted, or cgroup.max.descendants is reached), PROGRAM leads a new
    /// process group instead, as with --kill-group, and whatever is left
    /// of the group when PROGRAM has ended is killed. The group is the
    /// weaker hold: a process that leaves it (setsid, setpgid, as daemons
    /// do) is out of reach, and PROGRAM is no longer in the terminal's
    /// foreground group. With a JSON report, the "scope" object says which
    /// ("containment": "scope" or "process_group"). Not with --scope,
    /// --cgroup or the limits, which need a cgroup.
    #[arg(long, conflicts_with_all = ["scope", "cgroup", "memory_max", "pids_max", "cpu_max"])]
    contain: bool,

    /// Limit the scope's memory to SIZE (memory.max)
    ///
    /// SIZE in bytes, or with a unit K, M, G or T (powers of 1024): `512M`.
    /// Past it the kernel reclaims memory from the tree, then kills in it.
    /// Needs the memory controller enabled for the scope (its parent's
    /// cgroup.subtree_control lists +memory); spawnfd says so otherwise.
    #[arg(long, value_name = "SIZE", requires = "scope", value_parser = parse_size)]
    memory_max: Option<u64>,

    /// Limit the number of processes in the scope to N (pids.max)
    ///
    /// A fork past it fails with EAGAIN. Needs the pids controller, as
    /// --memory-max needs memory's.
    #[arg(long, value_name = "N", requires = "scope", value_parser = parse_count)]
    pids_max: Option<u64>,

    /// Limit the scope to CPUS processors' worth of time (cpu.max)
    ///
    /// A decimal number of CPUs: `0.5` is 50 ms of CPU time in every
    /// 100 ms, `2` two CPUs. At least 0.01. Needs the cpu controller, as
    /// --memory-max needs memory's.
    #[arg(long, value_name = "CPUS", requires = "scope", value_parser = parse_cpus)]
    cpu_max: Option<Duration>,
}

/// The period `--cpu-max` shares out.
const CPU_PERIOD: Duration = Duration::from_millis(100);

/// How PROGRAM's tree is held.
#[derive(Debug)]
pub enum Hold {
    /// Not at all (neither `--scope` nor `--contain`).
    Nothing,
    Scope(Scope),
    /// PROGRAM's own process group (`--contain` without a cgroup).
    Group,
}

impl ScopeArgs {
    /// Makes the scope, with its limits, or settles for a group.
    pub fn create(&self) -> Result<Hold, Error> {
        if self.contain {
            return match Scope::in_own_cgroup() {
                Ok(scope) => Ok(Hold::Scope(scope)),
                Err(e) if no_cgroup_here(&e) => Ok(Hold::Group),
                Err(source) => Err(Error::Scope {
                    what: "--contain".to_owned(),
                    source,
                }),
            };
        }
        let Some(place) = &self.scope else {
            return Ok(Hold::Nothing);
        };
        let made = if place.contains('/') {
            Scope::new(Path::new(place))
        } else {
            own_cgroup_scope(place)
        };
        let scope = made.map_err(|source| Error::Scope {
            what: format!("--scope {place}"),
            source,
        })?;
        let limit = |option: &str, set: io::Result<()>| {
            set.map_err(|source| Error::Scope {
                what: option.to_owned(),
                source,
            })
        };
        if let Some(bytes) = self.memory_max {
            limit("--memory-max", scope.set_memory_max(Some(bytes)))?;
        }
        if let Some(max) = self.pids_max {
            limit("--pids-max", scope.set_pids_max(Some(max)))?;
        }
        if let Some(quota) = self.cpu_max {
            limit("--cpu-max", scope.set_cpu_max(Some(quota), CPU_PERIOD))?;
        }
        Ok(Hold::Scope(scope))
    }
}

/// Whether `e`, from making a scope under spawnfd's own cgroup, says that
/// spawnfd may not create cgroups there (the library's
/// `Command::contain_tree` falls back on the same).
fn no_cgroup_here(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::PermissionDenied | K::ReadOnlyFilesystem | K::NotFound | K::WouldBlock | K::InvalidInput
    )
}

/// A scope named `name` under spawnfd's own cgroup.
fn own_cgroup_scope(name: &str) -> io::Result<Scope> {
    // The parent is where Scope::in_own_cgroup would make one; a probe
    // scope tells it without reading /proc here a second way.
    let probe = Scope::in_own_cgroup()?;
    let parent = probe.path().parent().map(Path::to_path_buf);
    probe.close()?;
    let parent = parent.ok_or_else(|| io::Error::other("spawnfd's cgroup has no path"))?;
    Scope::with_name(parent, name)
}

/// What the tree did, for the report: read once PROGRAM has been reaped.
#[derive(Clone, Debug)]
pub struct Summary {
    pub containment: Containment,
    /// The scope's directory; `None` for a process group.
    pub path: Option<String>,
    /// Processes still running when PROGRAM had ended (then killed).
    pub left_running: usize,
    /// The tree's usage, if it could be read.
    pub usage: Option<TreeUsage>,
}

/// Ends what PROGRAM left in `scope` and reads what the tree used.
pub fn finish(scope: &Scope) -> Summary {
    let left_running = scope.pids().map_or(0, |pids| pids.len());
    if left_running > 0 {
        let _ = scope.kill();
        let _ = scope.wait_empty_timeout(Duration::from_secs(10));
    }
    Summary {
        containment: Containment::Scope,
        path: Some(scope.path().display().to_string()),
        left_running,
        usage: scope.usage().ok(),
    }
}

/// Ends what PROGRAM, reaped, left in its process group (`--contain`
/// without a cgroup).
pub fn finish_group(child: &mut Child) -> Summary {
    let left_running = child.tree_pids().map_or(0, |pids| pids.len());
    if left_running > 0 && child.kill_tree().is_ok() {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while child.tree_pids().is_ok_and(|pids| !pids.is_empty())
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Summary {
        containment: Containment::ProcessGroup,
        path: None,
        left_running,
        usage: None,
    }
}

impl Summary {
    /// The `"scope"` object of the JSON report: `"containment"`
    /// (`"scope"` or `"process_group"`), `"path"` (null for a group),
    /// `"left_running"`, and with a scope's usage `"cpu_time_us"`,
    /// `"user_time_us"`, `"system_time_us"`, `"memory_peak_bytes"` and
    /// `"pids_peak"` (null where the controller is not enabled).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        let containment = match self.containment {
            Containment::ProcessGroup => "process_group",
            _ => "scope",
        };
        map.insert("containment".into(), containment.into());
        map.insert("path".into(), self.path.clone().into());
        map.insert("left_running".into(), self.left_running.into());
        if let Some(usage) = &self.usage {
            let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            map.insert("cpu_time_us".into(), us(usage.cpu.total).into());
            map.insert("user_time_us".into(), us(usage.cpu.user).into());
            map.insert("system_time_us".into(), us(usage.cpu.system).into());
            map.insert("memory_peak_bytes".into(), usage.memory_peak.into());
            map.insert("pids_peak".into(), usage.pids_peak.into());
        }
        map.into()
    }
}

/// `--memory-max SIZE`: bytes, or with K, M, G or T (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => {
            return Err(format!(
                "size {s:?}: a number of bytes, with K, M, G or T if you like"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("size {s:?}: a number of bytes, with K, M, G or T if you like"))?;
    n.checked_mul(1 << shift)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("size {s:?} is out of range"))
}

/// `--pids-max N`: 1 or more.
fn parse_count(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("{s:?}: a number of processes, 1 or more")),
    }
}

/// `--cpu-max CPUS`: the quota per [`CPU_PERIOD`].
pub fn parse_cpus(s: &str) -> Result<Duration, String> {
    let cpus: f64 = s
        .parse()
        .ok()
        .filter(|c: &f64| c.is_finite() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .ok_or_else(|| format!("{s:?}: a number of CPUs, such as 0.5 or 2"))?;
    if !(0.01..=1e6).contains(&cpus) {
        return Err(format!("{s:?}: from 0.01 CPUs up"));
    }
    Ok(CPU_PERIOD.mul_f64(cpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_counts_and_cpus_parse() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        for bad in ["", "M", "1.5G", "-1", "0", "1X", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_count("16"), Ok(16));
        for bad in ["0", "-1", "+3", "x"] {
            assert!(parse_count(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_cpus("0.5"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_cpus("2"), Ok(Duration::from_millis(200)));
        for bad in ["0", "0.001", "-1", "inf", "NaN", "1e3", ""] {
            assert!(parse_cpus(bad).is_err(), "{bad:?}");
        }
    }
}

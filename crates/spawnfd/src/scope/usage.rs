//! What a scope's tree used, and the limits put on it.

use std::ffi::CStr;
use std::io;
use std::time::Duration;

use super::{Scope, events_field};

/// CPU time of every process that ran in a scope, the dead included
/// (`cpu.stat`, present in every cgroup v2 directory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CpuUsage {
    /// User and system time together (`usage_usec`).
    pub total: Duration,
    /// Time in user mode (`user_usec`).
    pub user: Duration,
    /// Time in the kernel (`system_usec`).
    pub system: Duration,
}

/// What a scope's tree used: CPU time always; memory, process counts and
/// I/O where the cgroup's controllers give them (`None` where they are
/// not enabled for the scope).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeUsage {
    /// CPU time.
    pub cpu: CpuUsage,
    /// The most memory the tree used at once, in bytes (`memory.peak`,
    /// Linux 5.19).
    pub memory_peak: Option<u64>,
    /// The memory it uses now (`memory.current`).
    pub memory_current: Option<u64>,
    /// Processes in it now (`pids.current`).
    pub pids_current: Option<u64>,
    /// The most processes at once (`pids.peak`, Linux 6.1).
    pub pids_peak: Option<u64>,
    /// Bytes read from block devices (`io.stat` `rbytes`, summed).
    pub io_read_bytes: Option<u64>,
    /// Bytes written to block devices (`io.stat` `wbytes`, summed).
    pub io_write_bytes: Option<u64>,
}

impl Scope {
    /// What the tree has used so far (of the processes that have left it
    /// too: a cgroup's counters keep what its members spent).
    ///
    /// # Errors
    ///
    /// The error of reading `cpu.stat`; the other counters are `None`
    /// where their controller is not enabled.
    pub fn usage(&self) -> io::Result<TreeUsage> {
        let stat = self.read(c"cpu.stat")?;
        let micros = |key| Duration::from_micros(events_field(&stat, key).unwrap_or(0));
        let number = |file: &CStr| self.read(file).ok().and_then(|t| t.trim().parse().ok());
        let io = self.read(c"io.stat").ok();
        let io_sum = |key: &str| {
            io.as_ref().map(|text| {
                text.split_whitespace()
                    .filter_map(|field| field.strip_prefix(key)?.strip_prefix('='))
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum()
            })
        };
        Ok(TreeUsage {
            cpu: CpuUsage {
                total: micros("usage_usec"),
                user: micros("user_usec"),
                system: micros("system_usec"),
            },
            memory_peak: number(c"memory.peak"),
            memory_current: number(c"memory.current"),
            pids_current: number(c"pids.current"),
            pids_peak: number(c"pids.peak"),
            io_read_bytes: io_sum("rbytes"),
            io_write_bytes: io_sum("wbytes"),
        })
    }

    /// The controllers enabled for the scope (its `cgroup.controllers`:
    /// those its parent lists in `cgroup.subtree_control`).
    pub fn controllers(&self) -> io::Result<Vec<String>> {
        Ok(self
            .read(c"cgroup.controllers")?
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }

    /// Limits the tree's memory to `bytes` (`memory.max`; `None`: no
    /// limit). Past it the kernel reclaims, then kills in the tree.
    ///
    /// # Errors
    ///
    /// `Unsupported` where the memory controller is not enabled for the
    /// scope, saying so; the kernel's errno otherwise.
    pub fn set_memory_max(&self, bytes: Option<u64>) -> io::Result<()> {
        self.set_limit("memory", c"memory.max", &limit_value(bytes))
    }

    /// Limits the number of processes in the tree (`pids.max`; `None`: no
    /// limit): a `fork` past it fails with `EAGAIN`.
    ///
    /// # Errors
    ///
    /// As [`Scope::set_memory_max`], for the pids controller.
    pub fn set_pids_max(&self, max: Option<u64>) -> io::Result<()> {
        self.set_limit("pids", c"pids.max", &limit_value(max))
    }

    /// Limits the tree to `quota` of CPU time in each `period`
    /// (`cpu.max`; `None`: no limit): `Some(50 ms)` per 100 ms is half a
    /// CPU, `Some(200 ms)` two CPUs.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a period outside 1 ms to 1 s or a quota under
    /// 1 ms; otherwise as [`Scope::set_memory_max`], for the cpu
    /// controller.
    pub fn set_cpu_max(&self, quota: Option<Duration>, period: Duration) -> io::Result<()> {
        let period_us = period.as_micros();
        if !(1_000..=1_000_000).contains(&period_us) {
            return Err(super::invalid(format!(
                "cpu.max period {period:?}: the kernel takes 1 ms to 1 s"
            )));
        }
        let quota = match quota {
            None => "max".to_owned(),
            Some(q) if q.as_micros() < 1_000 => {
                return Err(super::invalid(format!(
                    "cpu.max quota {q:?}: the kernel takes 1 ms or more"
                )));
            }
            Some(q) => q.as_micros().to_string(),
        };
        self.set_limit("cpu", c"cpu.max", &format!("{quota} {period_us}"))
    }

    fn set_limit(&self, controller: &str, file: &CStr, value: &str) -> io::Result<()> {
        let enabled = self.controllers()?;
        if !enabled.iter().any(|c| c == controller) {
            let parent = self.path.parent().unwrap_or(&self.path);
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{}: the {controller} controller is not enabled for this scope \
                     (enabled: {}); its parent {} must list +{controller} in \
                     cgroup.subtree_control",
                    file.to_string_lossy(),
                    if enabled.is_empty() {
                        "none".to_owned()
                    } else {
                        enabled.join(" ")
                    },
                    parent.display()
                ),
            ));
        }
        self.write(file, value.as_bytes())
    }
}

fn limit_value(limit: Option<u64>) -> String {
    limit.map_or_else(|| "max".to_owned(), |n| n.to_string())
}

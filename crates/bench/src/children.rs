//! The `--children` mode, part 1: many children that exit at random times,
//! reaped by one `spawnfd::ChildSet`, by `tokio::process` and by one std
//! thread per child.
//!
//! Every variant spawns `n` sleepers (see [`crate::elf::TinyProgram::sleeper`]),
//! child `i` sleeping `d_i` milliseconds, `d_i` drawn uniformly from
//! `0..=max_ms` by a seeded generator, so that all variants of a round get
//! the same children; then waits until every one has been reaped:
//!
//! - `childset`: `spawnfd::Command::spawn` and `ChildSet::insert`, on one
//!   thread; then `ChildSet::exits()` until the set is empty. Nothing is
//!   reaped while spawning: the children that exit meanwhile wait as
//!   zombies, and every child's pidfd stays open until it is reaped.
//! - `childset-drain`: the same, but after each insert the exits already
//!   there are taken with `try_wait_any` (one `epoll_wait` with a zero
//!   timeout, as an event loop that also spawns would do): children are
//!   reaped, and their pidfds closed, while spawning.
//! - `tokio-ct`: a current-thread tokio runtime; in one `block_on`,
//!   `tokio::process::Command::spawn` and a `JoinSet` task per child
//!   awaiting `child.wait()`, then `join_next` until empty. The tasks first
//!   run at the first `join_next`: nothing is reaped while spawning either.
//! - `tokio-mt`: the same on a multi-thread runtime (one worker per CPU):
//!   the workers run the tasks, and reap, while the main thread spawns.
//! - `threads`: `std::process::Command::spawn` and one std thread per child
//!   (stack size `--stack-kib`, default 64 KiB) calling `child.wait()`; then
//!   joining them all. Reaping goes on while spawning.
//! - `waitpid-any`: the classic single-threaded reaper, for reference:
//!   `std::process::Command::spawn` (no fd per child), then one loop of
//!   blocking `waitpid(-1)`, one system call per exit and nothing else. It
//!   reaps every child of the process, so a library cannot use it (it
//!   would steal other code's children); and each call has the kernel scan
//!   the list of all the process's children.
//!
//! Each run is a fresh process (the bench itself in the internal `--reap`
//! mode), so that its CPU time and peak memory are its own; it prints one
//! `result` line (see [`RunResult`]) and the driver collects it. Every run
//! checks that each child's exit was delivered exactly once, with status 0
//! and the pid it was spawned with, and that no child is left unreaped.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Result;
use crate::elf::TinyProgram;
use crate::memory::format_size;

/// A way of waiting for many children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaper {
    ChildSet,
    ChildSetDrain,
    TokioCt,
    TokioMt,
    Threads,
    Waitpid,
}

impl Reaper {
    pub const ALL: [Reaper; 6] = [
        Reaper::ChildSet,
        Reaper::ChildSetDrain,
        Reaper::TokioCt,
        Reaper::TokioMt,
        Reaper::Threads,
        Reaper::Waitpid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reaper::ChildSet => "childset",
            Reaper::ChildSetDrain => "childset-drain",
            Reaper::TokioCt => "tokio-ct",
            Reaper::TokioMt => "tokio-mt",
            Reaper::Threads => "threads",
            Reaper::Waitpid => "waitpid-any",
        }
    }

    pub fn from_name(name: &str) -> Option<Reaper> {
        Reaper::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What one `--reap` run measured, all times in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunResult {
    /// Children spawned (and reaped).
    pub n: u64,
    /// Wall time from the first spawn to the last spawn's return.
    pub spawn_wall: u64,
    /// Wall time from the last spawn's return until all were reaped.
    pub reap_wall: u64,
    /// User CPU time of the whole run process (all its threads, from its
    /// start), when all were reaped.
    pub user: u64,
    /// System CPU time, likewise.
    pub sys: u64,
    /// User + system CPU time from the last spawn until all were reaped.
    pub reap_cpu: u64,
    /// User + system CPU time of the reaped children (`RUSAGE_CHILDREN`):
    /// their own run, and the kernel work done in their exit.
    pub children_cpu: u64,
    /// Children already reaped when the last spawn returned.
    pub early: u64,
    /// `VmHWM`, KiB: the peak resident set size.
    pub hwm_kib: u64,
    /// `VmRSS` just before the first spawn, KiB.
    pub start_rss_kib: u64,
}

const FIELDS: [&str; 10] = [
    "n",
    "spawn_wall",
    "reap_wall",
    "user",
    "sys",
    "reap_cpu",
    "children_cpu",
    "early",
    "hwm_kib",
    "start_rss_kib",
];

impl RunResult {
    fn values(&self) -> [u64; 10] {
        [
            self.n,
            self.spawn_wall,
            self.reap_wall,
            self.user,
            self.sys,
            self.reap_cpu,
            self.children_cpu,
            self.early,
            self.hwm_kib,
            self.start_rss_kib,
        ]
    }

    /// The `result` line, newline included.
    pub fn encode(&self) -> String {
        let fields: Vec<String> = FIELDS
            .iter()
            .zip(self.values())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("result {}\n", fields.join(" "))
    }

    /// Parses a `result` line (without its newline).
    pub fn parse(line: &str) -> Option<RunResult> {
        let rest = line.strip_prefix("result ")?;
        let mut map = HashMap::new();
        for field in rest.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            map.insert(k, v.parse::<u64>().ok()?);
        }
        let get = |k: &str| map.get(k).copied();
        Some(RunResult {
            n: get("n")?,
            spawn_wall: get("spawn_wall")?,
            reap_wall: get("reap_wall")?,
            user: get("user")?,
            sys: get("sys")?,
            reap_cpu: get("reap_cpu")?,
            children_cpu: get("children_cpu")?,
            early: get("early")?,
            hwm_kib: get("hwm_kib")?,
            start_rss_kib: get("start_rss_kib")?,
        })
    }

    /// User + system CPU time of the whole run.
    pub fn cpu(&self) -> u64 {
        self.user + self.sys
    }

    /// What the peak grew by over the start, per child, in bytes.
    pub fn bytes_per_child(&self) -> f64 {
        (self.hwm_kib.saturating_sub(self.start_rss_kib) * 1024) as f64 / self.n.max(1) as f64
    }
}

/// The sleep of every child, in milliseconds, `0..=max_ms`, from `seed`.
pub fn sleeps(n: usize, max_ms: u32, seed: u64) -> Vec<u32> {
    let mut rng = crate::Shuffle::seeded(seed);
    (0..n)
        .map(|_| (rng.next() % (u64::from(max_ms) + 1)) as u32)
        .collect()
}

/// A sleep as the sleeper's argument: seconds with three decimals.
pub fn sleep_arg(ms: u32) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `CLOCK_MONOTONIC`, in nanoseconds (what `Instant` reads on Linux).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the time to a local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A `timespec` as a stamper writes it (two native `i64`), in nanoseconds.
pub fn stamp_ns(bytes: [u8; 16]) -> u64 {
    let (sec, nsec) = bytes.split_at(8);
    let sec = i64::from_ne_bytes(sec.try_into().expect("8 bytes"));
    let nsec = i64::from_ne_bytes(nsec.try_into().expect("8 bytes"));
    sec as u64 * 1_000_000_000 + nsec as u64
}

/// User and system CPU time, in nanoseconds, of this process
/// (`RUSAGE_SELF`: all its threads, live or exited) or of its reaped
/// children (`RUSAGE_CHILDREN`).
pub fn cpu_ns(who: libc::c_int) -> (u64, u64) {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: writes to a local.
    unsafe { libc::getrusage(who, &mut usage) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    (ns(usage.ru_utime), ns(usage.ru_stime))
}

fn self_cpu() -> u64 {
    let (user, sys) = cpu_ns(libc::RUSAGE_SELF);
    user + sys
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in KiB.
pub fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// What each variant keeps per child: spawn order index and pid, and per
/// exit the index, the pid and the status (the same for all variants).
struct Ledger {
    spawned: Vec<(u64, u32)>,
    reaped: Vec<(u64, u32, ExitStatus)>,
}

impl Ledger {
    fn new(n: usize) -> Ledger {
        Ledger {
            spawned: Vec::with_capacity(n),
            reaped: Vec::with_capacity(n),
        }
    }

    /// Every spawned child reaped exactly once, with its pid and status 0.
    fn check(mut self) -> Result<(), String> {
        self.spawned.sort_unstable();
        self.reaped
            .sort_unstable_by_key(|&(key, pid, _)| (key, pid));
        if self.reaped.len() != self.spawned.len() {
            return Err(format!(
                "{} exits delivered for {} children",
                self.reaped.len(),
                self.spawned.len()
            ));
        }
        for (&(key, pid), &(rkey, rpid, status)) in self.spawned.iter().zip(&self.reaped) {
            if (key, pid) != (rkey, rpid) {
                return Err(format!(
                    "child {key} (pid {pid}): the exits delivered do not match the children \
                     spawned (got child {rkey}, pid {rpid}): one missing or delivered twice"
                ));
            }
            if !status.success() {
                return Err(format!("child {key} (pid {pid}) failed: {status}"));
            }
        }
        let mut keys: Vec<u64> = self.spawned.iter().map(|&(k, _)| k).collect();
        keys.dedup();
        if keys.len() != self.spawned.len() {
            return Err("two children were given the same key".into());
        }
        Ok(())
    }
}

/// The `--reap` mode: one run of one variant, reported on stdout.
pub fn run(
    reaper: Reaper,
    n: usize,
    max_ms: u32,
    seed: u64,
    prog: &Path,
    stack_kib: usize,
) -> Result<()> {
    spawnfd::raise_fd_limit()?;
    let sleeps = sleeps(n, max_ms, seed);
    let result = match reaper {
        Reaper::ChildSet => run_childset(&sleeps, prog, false)?,
        Reaper::ChildSetDrain => run_childset(&sleeps, prog, true)?,
        Reaper::Waitpid => run_waitpid(&sleeps, prog)?,
        Reaper::TokioCt | Reaper::TokioMt => {
            let runtime = if reaper == Reaper::TokioCt {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()?
            };
            runtime.block_on(run_tokio(&sleeps, prog))?
        }
        Reaper::Threads => run_threads(&sleeps, prog, stack_kib << 10)?,
    };
    no_child_left()?;
    io::stdout().write_all(result.encode().as_bytes())?;
    Ok(())
}

/// Checks that this process has no child left to reap (none that a
/// variant missed, nor any zombie).
fn no_child_left() -> Result<(), String> {
    // SAFETY: an all-zero siginfo_t is a valid value of the C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: writes to a local; WNOHANG returns at once and WNOWAIT leaves
    // any child found unreaped.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    let errno = io::Error::last_os_error().raw_os_error();
    if r == -1 && errno == Some(libc::ECHILD) {
        Ok(())
    } else {
        Err("a child is left that the variant did not reap".into())
    }
}

/// Takes the measures at the three moments of a run.
struct Clock {
    start_wall: u64,
    start_rss_kib: u64,
    spawned_wall: u64,
    spawned_cpu: u64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            start_rss_kib: status_kib("VmRSS").unwrap_or(0),
            start_wall: monotonic_ns(),
            spawned_wall: 0,
            spawned_cpu: 0,
        }
    }

    fn spawned(&mut self) {
        self.spawned_wall = monotonic_ns();
        self.spawned_cpu = self_cpu();
    }

    /// All reaped: the measures, then the ledger's check.
    fn reaped(self, ledger: Ledger, early: u64) -> Result<RunResult> {
        let end_wall = monotonic_ns();
        let (user, sys) = cpu_ns(libc::RUSAGE_SELF);
        let (cuser, csys) = cpu_ns(libc::RUSAGE_CHILDREN);
        let hwm_kib = status_kib("VmHWM").unwrap_or(0);
        let n = ledger.spawned.len() as u64;
        ledger.check()?;
        Ok(RunResult {
            n,
            spawn_wall: self.spawned_wall - self.start_wall,
            reap_wall: end_wall - self.spawned_wall,
            user,
            sys,
            reap_cpu: (user + sys).saturating_sub(self.spawned_cpu),
            children_cpu: cuser + csys,
            early,
            hwm_kib,
            start_rss_kib: self.start_rss_kib,
        })
    }
}

fn run_childset(sleeps: &[u32], prog: &Path, drain: bool) -> Result<RunResult> {
    let mut ledger = Ledger::new(sleeps.len());
    let mut set = spawnfd::ChildSet::new()?;
    let mut clock = Clock::start();
    for &ms in sleeps {
        let child = spawnfd::Command::new(prog).arg(sleep_arg(ms)).spawn()?;
        let pid = child.id();
        let id = set.insert(child)?;
        ledger.spawned.push((id.as_u64(), pid));
        if drain {
            while let Some(exited) = set.try_wait_any()? {
                ledger
                    .reaped
                    .push((exited.id.as_u64(), exited.child.id(), exited.status));
            }
        }
    }
    clock.spawned();
    let early = ledger.reaped.len() as u64;
    for exited in set.exits() {
        let exited = exited?;
        ledger
            .reaped
            .push((exited.id.as_u64(), exited.child.id(), exited.status));
    }
    clock.reaped(ledger, early)
}

fn run_waitpid(sleeps: &[u32], prog: &Path) -> Result<RunResult> {
    use std::os::unix::process::ExitStatusExt;

    let mut ledger = Ledger::new(sleeps.len());
    let mut clock = Clock::start();
    for &ms in sleeps {
        // Dropping a std Child neither waits nor kills.
        let child = std::process::Command::new(prog)
            .arg(sleep_arg(ms))
            .spawn()?;
        // Nothing is reaped before the last spawn, so no pid is reused:
        // the pid is the key.
        ledger.spawned.push((u64::from(child.id()), child.id()));
    }
    clock.spawned();
    for _ in sleeps {
        let mut status = 0;
        let pid = loop {
            // SAFETY: waits for any child of this process, writing to a local.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid > 0 {
                break pid as u32;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        };
        ledger
            .reaped
            .push((u64::from(pid), pid, ExitStatus::from_raw(status)));
    }
    clock.reaped(ledger, 0)
}

async fn run_tokio(sleeps: &[u32], prog: &Path) -> Result<RunResult> {
    let mut ledger = Ledger::new(sleeps.len());
    let mut tasks = tokio::task::JoinSet::new();
    let done = Arc::new(AtomicU64::new(0));
    let mut clock = Clock::start();
    for (i, &ms) in sleeps.iter().enumerate() {
        let mut child = tokio::process::Command::new(prog)
            .arg(sleep_arg(ms))
            .spawn()?;
        let pid = child.id().ok_or("no pid for a running child")?;
        ledger.spawned.push((i as u64, pid));
        let done = Arc::clone(&done);
        tasks.spawn(async move {
            let status = child.wait().await;
            done.fetch_add(1, Ordering::Relaxed);
            (i as u64, pid, status)
        });
    }
    clock.spawned();
    let early = done.load(Ordering::Relaxed);
    while let Some(joined) = tasks.join_next().await {
        let (i, pid, status) = joined?;
        ledger.reaped.push((i, pid, status?));
    }
    clock.reaped(ledger, early)
}

fn run_threads(sleeps: &[u32], prog: &Path, stack: usize) -> Result<RunResult> {
    let mut ledger = Ledger::new(sleeps.len());
    let mut threads = Vec::with_capacity(sleeps.len());
    let done = Arc::new(AtomicU64::new(0));
    let mut clock = Clock::start();
    for (i, &ms) in sleeps.iter().enumerate() {
        let mut child = std::process::Command::new(prog)
            .arg(sleep_arg(ms))
            .spawn()?;
        let pid = child.id();
        ledger.spawned.push((i as u64, pid));
        let done = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                let status = child.wait();
                done.fetch_add(1, Ordering::Relaxed);
                (i as u64, pid, status)
            })
            .map_err(|e| format!("thread {i}: {e}"))?;
        threads.push(thread);
    }
    clock.spawned();
    let early = done.load(Ordering::Relaxed);
    for thread in threads {
        let (i, pid, status) = thread.join().map_err(|_| "a waiting thread panicked")?;
        ledger.reaped.push((i, pid, status?));
    }
    clock.reaped(ledger, early)
}

/// The system limits that bound how many children can run at once, and
/// the largest count they allow.
pub struct Limits {
    pub pid_max: u64,
    pub threads_max: u64,
    /// Threads running on the system now (all processes).
    pub tasks: u64,
    pub max_map_count: u64,
    /// `RLIMIT_NOFILE` soft and hard, after raising the soft one.
    pub nofile: (u64, u64),
}

impl Limits {
    pub fn read() -> Limits {
        let number = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(u64::MAX)
        };
        // The fourth field of /proc/loadavg: running/total scheduling
        // entities (threads).
        let tasks = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| {
                let field = s.split_whitespace().nth(3)?.to_owned();
                field.split_once('/')?.1.parse().ok()
            })
            .unwrap_or(0);
        let soft = spawnfd::raise_fd_limit().unwrap_or(0);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: writes this process's limit to a local.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        Limits {
            pid_max: number("/proc/sys/kernel/pid_max"),
            threads_max: number("/proc/sys/kernel/threads-max"),
            tasks,
            max_map_count: number("/proc/sys/vm/max_map_count"),
            nofile: (soft, limit.rlim_max),
        }
    }

    /// The largest count all variants can run, with why it is lower than
    /// `wanted`, if it is. The thread-per-child variant needs two tasks
    /// per child (a thread and the child) and two mappings (stack and
    /// guard); `childset` and tokio need an fd per child.
    pub fn feasible(&self, wanted: usize) -> (usize, Vec<String>) {
        const SLACK: u64 = 512;
        let bounds = [
            (
                self.pid_max.saturating_sub(self.tasks + SLACK) / 2,
                "pid_max: a thread and a child per child",
            ),
            (
                self.threads_max.saturating_sub(self.tasks + SLACK) / 2,
                "threads-max: a thread and a child per child",
            ),
            (
                self.max_map_count.saturating_sub(4 * SLACK) / 2,
                "vm.max_map_count: a stack and a guard mapping per thread",
            ),
            (
                self.nofile.1.saturating_sub(SLACK / 8),
                "RLIMIT_NOFILE hard limit: a pidfd per child",
            ),
        ];
        let wanted = wanted as u64;
        let mut n = wanted;
        let mut why = Vec::new();
        for (bound, reason) in bounds {
            if bound < wanted {
                n = n.min(bound);
                why.push(format!("{reason} allows {bound}"));
            }
        }
        (n as usize, why)
    }

    pub fn describe(&self) -> String {
        format!(
            "kernel.pid_max {}, kernel.threads-max {}, threads running now {}, vm.max_map_count {}, \
             RLIMIT_NOFILE {}:{} (soft raised to hard)",
            self.pid_max,
            self.threads_max,
            self.tasks,
            self.max_map_count,
            self.nofile.0,
            self.nofile.1
        )
    }
}

/// Options of the part-1 driver.
pub struct ReapOptions {
    pub n: usize,
    pub max_ms: u32,
    pub rounds: usize,
    pub stack_kib: usize,
    /// Pause between runs, so that each starts on a settled machine.
    pub pause: Duration,
}

/// Runs every variant `rounds` times, each time in a fresh process, in an
/// order rotated every round; prints each run and then the medians, the
/// ratios and the targets.
pub fn drive(bench: &Path, options: &ReapOptions) -> Result<()> {
    let limits = Limits::read();
    println!("  limits: {}", limits.describe());
    let (n, why) = limits.feasible(options.n);
    if why.is_empty() {
        println!("  {} children fit within them", options.n);
    } else {
        println!(
            "  LOWERED to {n} children (asked {}): {}",
            options.n,
            why.join("; ")
        );
    }
    let sleeper = TinyProgram::sleeper()?;
    println!("  child: {}", sleeper.description());
    println!(
        "  each child sleeps a random 0 to {} ms (uniform, seeded: the same children for every \
         variant of a round), then exits with 0",
        options.max_ms
    );
    println!(
        "  each run in a fresh process; {} rounds, the variants in an order rotated every round, \
         {} s of pause before each run; thread stacks {} KiB",
        options.rounds,
        options.pause.as_secs_f64(),
        options.stack_kib
    );
    println!();
    println!(
        "  {:<5} {:<14} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>10}",
        "round",
        "variant",
        "n",
        "spawn s",
        "reap s",
        "CPU s",
        "sys s",
        "reapCPU",
        "kidCPU",
        "early",
        "VmHWM"
    );
    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); Reaper::ALL.len()];
    let count = Reaper::ALL.len();
    // Each round starts further along, so that over the rounds every
    // variant runs early and late in a round.
    let step = (count / options.rounds).max(1);
    for round in 0..options.rounds {
        for k in 0..count {
            let i = (round * step + k) % count;
            let reaper = Reaper::ALL[i];
            std::thread::sleep(options.pause);
            let r = run_one(bench, reaper, n, options, round as u64 + 1, sleeper.path())?;
            let s = |ns: u64| ns as f64 / 1e9;
            println!(
                "  {:<5} {:<14} {:>6} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>6} {:>10}",
                round + 1,
                reaper.name(),
                r.n,
                s(r.spawn_wall),
                s(r.reap_wall),
                s(r.cpu()),
                s(r.sys),
                s(r.reap_cpu),
                s(r.children_cpu),
                r.early,
                format_size(r.hwm_kib << 10),
            );
            results[i].push(r);
        }
    }
    println!(
        "  every run checked that each child's exit was delivered exactly once, with status 0 \
         and the pid it was spawned with, and that no child was left unreaped"
    );
    print_summary(&results);
    Ok(())
}

/// One run of `--reap`, started with spawnfd (a clean signal slate, as the
/// workers of the timing mode).
fn run_one(
    bench: &Path,
    reaper: Reaper,
    n: usize,
    options: &ReapOptions,
    seed: u64,
    prog: &Path,
) -> Result<RunResult> {
    let output = spawnfd::Command::new(bench)
        .arg("--reap")
        .arg(reaper.name())
        .arg("--count")
        .arg(n.to_string())
        .arg("--max-sleep-ms")
        .arg(options.max_ms.to_string())
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--stack-kib")
        .arg(options.stack_kib.to_string())
        .arg("--tiny")
        .arg(prog)
        .stdout(spawnfd::Stdio::piped())
        .spawn()?
        .wait_with_output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("{} run failed: {}", reaper.name(), output.status).into());
    }
    text.lines()
        .find_map(RunResult::parse)
        .ok_or_else(|| format!("{} run: no result in {text:?}", reaper.name()).into())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    crate::stats::quantile(&v, 0.5).unwrap_or(f64::NAN)
}

/// The medians over the rounds of one variant.
struct Medians {
    spawn_wall: f64,
    reap_wall: f64,
    cpu: f64,
    sys: f64,
    reap_cpu: f64,
    /// Reaping-phase CPU per child reaped in that phase, µs.
    reap_per_child: f64,
    children_cpu: f64,
    early: f64,
    hwm: f64,
    per_child: f64,
}

impl Medians {
    fn of(runs: &[RunResult]) -> Medians {
        let m = |f: fn(&RunResult) -> f64| median(runs.iter().map(f));
        Medians {
            spawn_wall: m(|r| r.spawn_wall as f64 / 1e9),
            reap_wall: m(|r| r.reap_wall as f64 / 1e9),
            cpu: m(|r| r.cpu() as f64 / 1e9),
            sys: m(|r| r.sys as f64 / 1e9),
            reap_cpu: m(|r| r.reap_cpu as f64 / 1e9),
            reap_per_child: m(|r| r.reap_cpu as f64 / 1e3 / (r.n - r.early).max(1) as f64),
            children_cpu: m(|r| r.children_cpu as f64 / 1e9),
            early: m(|r| r.early as f64),
            hwm: m(|r| (r.hwm_kib << 10) as f64),
            per_child: m(RunResult::bytes_per_child),
        }
    }
}

fn print_summary(results: &[Vec<RunResult>]) {
    let medians: Vec<Medians> = results.iter().map(|r| Medians::of(r)).collect();
    println!();
    println!("  medians over the rounds:");
    println!(
        "  {:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>6} {:>10} {:>8}",
        "variant",
        "spawn s",
        "reap s",
        "CPU s",
        "sys s",
        "reapCPU",
        "µs/late",
        "kidCPU",
        "early",
        "VmHWM",
        "B/child"
    );
    for (reaper, m) in Reaper::ALL.iter().zip(&medians) {
        println!(
            "  {:<14} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.4} {:>9.1} {:>8.3} {:>6.0} {:>10} {:>8.0}",
            reaper.name(),
            m.spawn_wall,
            m.reap_wall,
            m.cpu,
            m.sys,
            m.reap_cpu,
            m.reap_per_child,
            m.children_cpu,
            m.early,
            format_size(m.hwm as u64),
            m.per_child
        );
    }
    let of = |r: Reaper| {
        let i = Reaper::ALL.iter().position(|&x| x == r).expect("a variant");
        &medians[i]
    };
    let set = of(Reaper::ChildSet);
    let drain = of(Reaper::ChildSetDrain);
    let ct = of(Reaper::TokioCt);
    let mt = of(Reaper::TokioMt);
    let threads = of(Reaper::Threads);
    let any = of(Reaper::Waitpid);
    println!();
    println!("== targets (reported, never enforced) ==");
    let row = |label: &str, value: f64, target: Option<(bool, &str)>| {
        let verdict = target.map_or_else(String::new, |(pass, t)| crate::verdict(pass, t));
        let line = format!("  {label:<46} {value:>9.3}  {verdict}");
        println!("{}", line.trim_end());
    };
    let half = |v: f64| Some((v <= 0.5, "<= 0.5"));
    row(
        "reaping-phase CPU, childset/tokio-ct",
        set.reap_cpu / ct.reap_cpu,
        half(set.reap_cpu / ct.reap_cpu),
    );
    row(
        "reaping-phase CPU, childset/tokio-mt",
        set.reap_cpu / mt.reap_cpu,
        None,
    );
    row(
        "reaping-phase CPU, childset/waitpid-any",
        set.reap_cpu / any.reap_cpu,
        None,
    );
    row(
        "total CPU, childset/tokio-ct",
        set.cpu / ct.cpu,
        half(set.cpu / ct.cpu),
    );
    row(
        "total CPU, childset/tokio-mt",
        set.cpu / mt.cpu,
        half(set.cpu / mt.cpu),
    );
    row(
        "total CPU, childset-drain/tokio-ct",
        drain.cpu / ct.cpu,
        half(drain.cpu / ct.cpu),
    );
    row(
        "total CPU, childset-drain/tokio-mt",
        drain.cpu / mt.cpu,
        half(drain.cpu / mt.cpu),
    );
    row("total CPU, childset/threads", set.cpu / threads.cpu, None);
    row(
        "total CPU, childset-drain/threads",
        drain.cpu / threads.cpu,
        None,
    );
    row(
        "peak memory (VmHWM), childset/threads",
        set.hwm / threads.hwm,
        Some((set.hwm / threads.hwm <= 0.1, "<= 0.1")),
    );
    row(
        "peak memory (VmHWM), childset-drain/threads",
        drain.hwm / threads.hwm,
        Some((drain.hwm / threads.hwm <= 0.1, "<= 0.1")),
    );
    row(
        "peak memory (VmHWM), childset/tokio-ct",
        set.hwm / ct.hwm,
        None,
    );
    row(
        "peak memory (VmHWM), childset/tokio-mt",
        set.hwm / mt.hwm,
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip() {
        let r = RunResult {
            n: 10_000,
            spawn_wall: 2_500_000_000,
            reap_wall: 1_990_000_000,
            user: 120_000_000,
            sys: 1_300_000_000,
            reap_cpu: 45_000_000,
            children_cpu: 300_000_000,
            early: 17,
            hwm_kib: 5120,
            start_rss_kib: 3000,
        };
        let line = r.encode();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        assert_eq!(RunResult::parse(line.trim_end()), Some(r));
        assert_eq!(RunResult::parse("result n=1"), None);
        assert_eq!(RunResult::parse("took 1"), None);
        assert_eq!(r.cpu(), 1_420_000_000);
        assert!((r.bytes_per_child() - 2120.0 * 1024.0 / 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn sleeps_are_reproducible_and_in_range() {
        let a = sleeps(5000, 2000, 1);
        assert_eq!(a, sleeps(5000, 2000, 1));
        assert_ne!(a, sleeps(5000, 2000, 2));
        assert!(a.iter().all(|&ms| ms <= 2000));
        assert!(a.iter().any(|&ms| ms < 100) && a.iter().any(|&ms| ms > 1900));
        assert_eq!(sleep_arg(1234), "1.234");
        assert_eq!(sleep_arg(7), "0.007");
        assert_eq!(sleep_arg(2000), "2.000");
    }

    #[test]
    fn names() {
        for r in Reaper::ALL {
            assert_eq!(Reaper::from_name(r.name()), Some(r));
        }
        assert_eq!(Reaper::from_name("epoll"), None);
    }

    #[test]
    fn stamps() {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&3i64.to_ne_bytes());
        bytes[8..].copy_from_slice(&5i64.to_ne_bytes());
        assert_eq!(stamp_ns(bytes), 3_000_000_005);
        let (a, b) = (monotonic_ns(), monotonic_ns());
        assert!(b >= a);
    }

    #[test]
    fn feasible_counts() {
        let limits = Limits {
            pid_max: 32768,
            threads_max: 192_730,
            tasks: 100,
            max_map_count: 65530,
            nofile: (20000, 20000),
        };
        assert_eq!(limits.feasible(10_000), (10_000, Vec::new()));
        let (n, why) = limits.feasible(20_000);
        assert_eq!(n, (32768 - 612) / 2);
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(status_kib("VmRSS").is_some_and(|kib| kib > 0));
        assert!(status_kib("VmHWM").is_some_and(|kib| kib > 0));
    }

    #[test]
    fn one_run_of_each_variant() {
        let Ok(sleeper) = TinyProgram::sleeper() else {
            return;
        };
        spawnfd::raise_fd_limit().unwrap();
        let sleeps = sleeps(20, 30, 7);
        for reaper in Reaper::ALL {
            let r = match reaper {
                Reaper::ChildSet => run_childset(&sleeps, sleeper.path(), false),
                Reaper::ChildSetDrain => run_childset(&sleeps, sleeper.path(), true),
                // It would reap the other tests' children.
                Reaper::Waitpid => continue,
                Reaper::TokioCt => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(run_tokio(&sleeps, sleeper.path())),
                Reaper::TokioMt => tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(run_tokio(&sleeps, sleeper.path())),
                Reaper::Threads => run_threads(&sleeps, sleeper.path(), 64 << 10),
            }
            .unwrap();
            assert_eq!(r.n, 20, "{}", reaper.name());
            assert!(r.hwm_kib >= r.start_rss_kib);
        }
    }
}

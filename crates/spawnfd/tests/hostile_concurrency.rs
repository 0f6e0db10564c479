//! Spawning under attack: several threads spawn thousands of children while
//! other threads of the same process open fds without `O_CLOEXEC`, install,
//! remove and ignore signal handlers (`SIGCHLD` included), storm the process
//! group with signals, change the environment, and reap every child they
//! can with `waitpid(-1)`. Every child must have exactly its own fds and a
//! clean signal slate, see an environment that existed, and end with
//! exactly the status it chose; no fd and no zombie may be left.
//!
//! All of this changes process-wide state, so it runs in a process (and a
//! process group) of its own. `SPAWNFD_HOSTILE_SPAWNS` sets the number of
//! children (default 1,500; 10,000 for a full run). The run prints its
//! figures on lines starting with `hostile:`.
//!
//! The storm sends the process group only signals that children ignore by
//! default (`SIGWINCH`, `SIGURG`, `SIGCHLD`), and `SIGUSR1` to this
//! process alone, whose `SIGUSR1` is always handled or ignored: a child may
//! not die of the storm, so every status is known in advance.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spawnfd::{Command, SpawnError, Stdio};
use support::{PROBE, assert_isolated_passed, fd_target, in_isolated_run, isolated_command};

const TEST: &str = "hostile_concurrency_isolated";

/// The children spawned in all, unless `SPAWNFD_HOSTILE_SPAWNS` says.
const DEFAULT_SPAWNS: u64 = 1500;
/// The spawning threads.
const SPAWNERS: u64 = 6;

#[test]
fn spawning_under_hostile_threads() {
    let mut cmd = isolated_command(TEST);
    // A group of its own: the storm signals the group.
    cmd.process_group(0);
    let out = cmd.output().expect("re-run the test binary");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("hostile:") {
            eprintln!("{line}");
        }
    }
    assert_isolated_passed(TEST, out.status, &out.stdout, &out.stderr);
}

// --- The attackers --------------------------------------------------------

/// Signals the storm sends to the process group: children ignore them by
/// default.
const STORM_GROUP: [i32; 3] = [libc::SIGWINCH, libc::SIGURG, libc::SIGCHLD];

/// Signals whose disposition the churn thread changes. `SIGUSR1` (sent to
/// this process) is only ever handled or ignored; the others may also be
/// left at their default, since nobody sends them to this process, or they
/// are ignored by default.
fn churned_signals() -> Vec<i32> {
    vec![
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGWINCH,
        libc::SIGURG,
        libc::SIGCHLD,
        libc::SIGRTMIN() + 2,
    ]
}

static HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Relaxed);
}

/// Sets `sig`'s disposition: `SIG_DFL`, `SIG_IGN` or [`on_signal`], with
/// or without `SA_RESTART`.
fn set_disposition(sig: i32, handler: libc::sighandler_t, restart: bool) {
    // SAFETY: an all-zero sigaction is valid; the handler only touches an
    // atomic.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        assert_eq!(libc::sigaction(sig, &action, std::ptr::null_mut()), 0);
    }
}

fn handler() -> libc::sighandler_t {
    on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
}

/// A tiny deterministic generator, one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Opens fds without `O_CLOEXEC` in every way careless code does, holds up
/// to 48, closes them, again.
fn leak_fds(stop: &AtomicBool, opened: &AtomicU64) {
    let mut rng = Rng(0x5eed_0001);
    let mut held: Vec<OwnedFd> = Vec::new();
    while !stop.load(Relaxed) {
        // A batch between yields, so that it keeps up on a single CPU too.
        for _ in 0..8 {
            // SAFETY: plain calls that return new fds (or -1), each owned below.
            let fds: Vec<RawFd> = unsafe {
                match rng.below(4) {
                    0 => vec![libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY)],
                    1 => {
                        let mut p = [-1; 2];
                        libc::pipe2(p.as_mut_ptr(), 0);
                        p.to_vec()
                    }
                    2 => vec![libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0)],
                    _ => vec![libc::dup(2)],
                }
            };
            for fd in fds.into_iter().filter(|&fd| fd >= 0) {
                // SAFETY: a new fd owned by nobody else.
                held.push(unsafe { OwnedFd::from_raw_fd(fd) });
                opened.fetch_add(1, Relaxed);
            }
            if held.len() >= 48 {
                held.clear();
            }
        }
        std::thread::yield_now();
    }
}

/// Installs, removes and ignores handlers, with and without `SA_RESTART`.
fn churn_signals(stop: &AtomicBool, changes: &AtomicU64, sigchld_too: bool) {
    let mut rng = Rng(0x5eed_0002);
    let signals: Vec<i32> = churned_signals()
        .into_iter()
        .filter(|&s| sigchld_too || s != libc::SIGCHLD)
        .collect();
    while !stop.load(Relaxed) {
        let sig = signals[rng.below(signals.len() as u64) as usize];
        let restart = rng.below(2) == 0;
        let disposition = match rng.below(3) {
            0 if sig != libc::SIGUSR1 => libc::SIG_DFL,
            1 => libc::SIG_IGN,
            _ => handler(),
        };
        set_disposition(sig, disposition, restart);
        changes.fetch_add(1, Relaxed);
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Sends the group signals children ignore, and `SIGUSR1` to this process.
fn storm(stop: &AtomicBool, sent: &AtomicU64) {
    while !stop.load(Relaxed) {
        for sig in STORM_GROUP {
            // SAFETY: kill takes integers; 0 is this process's own group.
            assert_eq!(unsafe { libc::kill(0, sig) }, 0);
        }
        // SAFETY: as above, to this process only.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) }, 0);
        sent.fetch_add(STORM_GROUP.len() as u64 + 1, Relaxed);
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The environment variables the attacker changes.
const VAR_A: &str = "HOSTILE_A";
const VAR_B: &str = "HOSTILE_B";
const PAD_PREFIX: &str = "HOSTILE_PAD_";

/// Sets `HOSTILE_A` then `HOSTILE_B` to the next number, under a lock of
/// its own; now and then adds and removes padding variables, so that the C
/// library reallocates `environ`.
fn change_env(stop: &AtomicBool, pair: &Mutex<()>, counter: &AtomicU64) {
    let mut n = 0u64;
    while !stop.load(Relaxed) {
        n += 1;
        {
            let _pair = pair.lock().unwrap();
            // Announced before it is set: a child may see the value (and
            // be checked) while this thread is preempted right after
            // setting it.
            counter.store(n, Relaxed);
            // SAFETY: none: changing the environment while other threads
            // spawn is exactly the hostility under test. Nothing else in
            // this process reads the environment without std's lock but
            // the spawns themselves.
            unsafe {
                std::env::set_var(VAR_A, n.to_string());
                std::env::set_var(VAR_B, n.to_string());
            }
        }
        if n.is_multiple_of(16) {
            for k in 0..8 {
                let key = format!("{PAD_PREFIX}{k}");
                // SAFETY: as above.
                unsafe {
                    if n.is_multiple_of(32) {
                        std::env::set_var(key, pad_value(k));
                    } else {
                        std::env::remove_var(key);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The value of padding variable `k`.
fn pad_value(k: usize) -> String {
    "x".repeat(64 << k)
}

/// Reaps every child it can, as a careless library's `SIGCHLD` handling
/// would.
fn reap_all(stop: &AtomicBool, reaped: &AtomicU64) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if pid > 0 {
            reaped.fetch_add(1, Relaxed);
            continue;
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::ECHILD) if stop.load(Relaxed) => return,
            Some(libc::ECHILD) => std::thread::sleep(Duration::from_micros(200)),
            _ => panic!("waitpid(-1): {err}"),
        }
    }
}

// --- The spawners -----------------------------------------------------------

/// What went wrong, counted over the whole run; each kind keeps a few
/// examples.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<String, u64>,
    examples: BTreeMap<String, Vec<String>>,
}

impl Tally {
    fn record(&mut self, kind: &str, example: String) {
        *self.counts.entry(kind.to_owned()).or_default() += 1;
        let examples = self.examples.entry(kind.to_owned()).or_default();
        if examples.len() < 3 {
            examples.push(example);
        }
    }

    fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// What the spawners share.
struct Shared {
    tally: Mutex<Tally>,
    /// The environment the process started with, less the attacker's
    /// variables.
    base_env: BTreeMap<Vec<u8>, Vec<u8>>,
    env_counter: AtomicU64,
    spawned: AtomicU64,
    echild: AtomicU64,
}

impl Shared {
    fn fail(&self, kind: &str, example: String) {
        self.tally.lock().unwrap().record(kind, example);
    }
}

/// Which environment a child was given: its own (built) or the live
/// `environ` (inherited).
fn env_mode(built: bool) -> &'static str {
    if built {
        "built environment"
    } else {
        "inherited environment"
    }
}

/// A spawn's kind of failure: its step and errno, or the error kind.
fn spawn_failure_kind(err: &io::Error, built: bool) -> String {
    let mode = env_mode(built);
    match SpawnError::from_io(err) {
        Some(e) => format!(
            "spawn error at {:?} ({}), {mode}",
            e.step(),
            io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0))
        ),
        None => format!("spawn error {:?}, {mode}", err.kind()),
    }
}

fn spawner(id: u64, spawns: u64, shared: &Shared) {
    let mut rng = Rng(0x5eed_1000 + id);
    for i in 0..spawns {
        let tag = id * 1_000_000 + i;
        match rng.below(10) {
            0..=6 => probe_case(&mut rng, tag, shared),
            _ => shell_case(&mut rng, shared),
        }
        shared.spawned.fetch_add(1, Relaxed);
    }
}

/// A probe with 0 to 3 pipes mapped at random numbers, its report on a
/// pipe at fd 1; the environment inherited (the live `environ`) or built
/// with a variable of its own and an exit status.
fn probe_case(rng: &mut Rng, tag: u64, shared: &Shared) {
    let mut cmd = Command::new(PROBE);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut expected: BTreeMap<RawFd, String> = BTreeMap::new();
    expected.insert(0, "/dev/null".into());
    expected.insert(2, "/dev/null".into());
    for _ in 0..rng.below(4) {
        let target = 3 + rng.below(38) as RawFd;
        if expected.contains_key(&target) {
            continue;
        }
        let (read, _write) = io::pipe().expect("pipe");
        expected.insert(target, fd_target(read.as_raw_fd()));
        cmd.fd(target, read);
    }
    let built = rng.below(2) == 0;
    let code = rng.below(100) as i32;
    if built {
        cmd.env("HOSTILE_CHILD", tag.to_string())
            .env("SPAWNFD_PROBE_EXIT", code.to_string());
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return shared.fail(&spawn_failure_kind(&e, built), format!("probe: {e}")),
    };
    drop(cmd);
    let out = match child.wait_with_output() {
        Ok(out) => out,
        Err(e) => return wait_failed(shared, "probe", &e),
    };
    let want = if built { code } else { 0 };
    if out.status.code() != Some(want) {
        return shared.fail(
            "wrong status",
            format!("probe: {} (expected exit {want})", out.status),
        );
    }
    if let Err((kind, example)) = check_report(&out.stdout, &expected, built.then_some(tag), shared)
    {
        shared.fail(&format!("{kind}, {}", env_mode(built)), example);
    }
}

/// `sh -c 'exit N'` or `sh -c 'kill -SIG $$'`: the status must be exactly
/// that.
fn shell_case(rng: &mut Rng, shared: &Shared) {
    const KILLS: [(i32, &str); 3] = [
        (libc::SIGTERM, "TERM"),
        (libc::SIGKILL, "KILL"),
        (libc::SIGHUP, "HUP"),
    ];
    let (script, expect_code, expect_signal) = if rng.below(2) == 0 {
        let code = rng.below(256) as i32;
        (format!("exit {code}"), Some(code), None)
    } else {
        let (sig, name) = KILLS[rng.below(3) as usize];
        (format!("kill -{name} $$; exit 99"), None, Some(sig))
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let built = rng.below(2) == 0;
    if built {
        cmd.env("HOSTILE_CHILD", "sh");
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let kind = spawn_failure_kind(&e, built);
            return shared.fail(&kind, format!("sh -c {script:?}: {e}"));
        }
    };
    match child.wait() {
        Ok(status) if status.code() == expect_code && status.signal() == expect_signal => {}
        Ok(status) => shared.fail("wrong status", format!("sh -c {script:?}: {status}")),
        Err(e) => wait_failed(shared, &format!("sh -c {script:?}"), &e),
    }
}

fn wait_failed(shared: &Shared, what: &str, err: &io::Error) {
    if err.raw_os_error() == Some(libc::ECHILD) {
        shared.echild.fetch_add(1, Relaxed);
        shared.fail("ECHILD from wait", format!("{what}: {err}"));
    } else {
        shared.fail("wait error", format!("{what}: {err}"));
    }
}

/// Checks a probe's report: exactly the expected fds (fd 1 is the report's
/// pipe), none close-on-exec; an empty mask, nothing ignored or caught; an
/// environment of variables that existed.
fn check_report(
    text: &[u8],
    expected: &BTreeMap<RawFd, String>,
    built: Option<u64>,
    shared: &Shared,
) -> Result<(), (String, String)> {
    let fail = |kind: &str, what: String| Err((kind.to_owned(), what));
    let mut fds: BTreeMap<RawFd, String> = BTreeMap::new();
    let mut env: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut sigs: BTreeMap<&str, u64> = BTreeMap::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let (kind, rest) = split_at_byte(line, b' ');
        match kind {
            b"fd" => {
                let line = String::from_utf8_lossy(rest);
                let (fd, rest) = line.split_once(' ').unwrap_or(("?", ""));
                let (target, cloexec) = rest.rsplit_once(" cloexec=").unwrap_or((rest, "?"));
                let Ok(fd) = fd.parse::<RawFd>() else {
                    return fail("bad report", format!("fd line {line:?}"));
                };
                if cloexec != "0" {
                    return fail("fd with FD_CLOEXEC", format!("fd {fd}: {line}"));
                }
                fds.insert(fd, target.to_owned());
            }
            b"sigblk" | b"sigign" | b"sigcgt" => {
                let name = if kind == b"sigblk" {
                    "SigBlk"
                } else if kind == b"sigign" {
                    "SigIgn"
                } else {
                    "SigCgt"
                };
                let value = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
                match value {
                    Some(v) => sigs.insert(name, v),
                    None => return fail("bad report", format!("{name} {rest:?}")),
                };
            }
            b"env" => {
                let (key, value) = split_at_byte(rest, b'=');
                if key.is_empty() {
                    return fail("malformed environment", format!("{rest:?}"));
                }
                env.insert(key.to_vec(), value.to_vec());
            }
            b"cwd" | b"arg" => {}
            _ => return fail("bad report", String::from_utf8_lossy(line).into_owned()),
        }
    }

    let pipe1 = fds.remove(&1);
    if !pipe1.as_deref().is_some_and(|t| t.starts_with("pipe:")) {
        return fail(
            "wrong fds",
            format!("fd 1 is {pipe1:?}, not the report pipe"),
        );
    }
    if &fds != expected {
        return fail("wrong fds", format!("{fds:?}, expected {expected:?} and 1"));
    }
    for name in ["SigBlk", "SigIgn", "SigCgt"] {
        match sigs.get(name) {
            Some(0) => {}
            Some(v) => return fail(&format!("{name} not 0"), format!("{name} {v:016x}")),
            None => return fail("bad report", format!("no {name}")),
        }
    }
    check_env(&env, built, shared).map_err(|(kind, what)| (kind.to_owned(), what))
}

/// The child's environment holds only variables that existed: those the
/// process started with, unchanged; the attacker's, with values it set;
/// and (for a built environment) the command's own. A built one is a
/// snapshot: `HOSTILE_A` is `HOSTILE_B` or one ahead.
fn check_env(
    env: &BTreeMap<Vec<u8>, Vec<u8>>,
    built: Option<u64>,
    shared: &Shared,
) -> Result<(), (&'static str, String)> {
    let last = shared.env_counter.load(Relaxed);
    let number = |key: &str| -> Result<u64, (&'static str, String)> {
        let value = env
            .get(key.as_bytes())
            .ok_or(("environment lost a variable", key.to_owned()))?;
        std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&n| n <= last)
            .ok_or((
                "environment value that never existed",
                format!("{key}={}", String::from_utf8_lossy(value)),
            ))
    };
    let (a, b) = (number(VAR_A)?, number(VAR_B)?);
    if built.is_some() && !(a == b || a == b + 1) {
        return Err((
            "environment not a snapshot",
            format!("{VAR_A}={a} {VAR_B}={b}"),
        ));
    }
    for (key, value) in env {
        let text = || {
            format!(
                "{}={}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(&value[..value.len().min(40)])
            )
        };
        let key_str = OsStr::from_bytes(key).to_string_lossy();
        let known = if key_str == VAR_A || key_str == VAR_B {
            true
        } else if let Some(k) = key_str.strip_prefix(PAD_PREFIX) {
            k.parse::<usize>()
                .is_ok_and(|k| k < 8 && value.as_slice() == pad_value(k).as_bytes())
        } else if key_str == "HOSTILE_CHILD" || key_str == "SPAWNFD_PROBE_EXIT" {
            built.is_some()
                && (key_str != "HOSTILE_CHILD" || value == built.unwrap().to_string().as_bytes())
        } else {
            shared.base_env.get(key) == Some(value)
        };
        if !known {
            return Err(("environment value that never existed", text()));
        }
    }
    for key in shared.base_env.keys() {
        if !env.contains_key(key) {
            return Err((
                "environment lost a variable",
                String::from_utf8_lossy(key).into_owned(),
            ));
        }
    }
    Ok(())
}

fn split_at_byte(bytes: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == sep) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

// --- The run --------------------------------------------------------------

/// This process's open fds and what they refer to (the listing's own fd
/// left out).
fn open_fds() -> BTreeMap<RawFd, String> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("list /proc/self/fd");
    let listing_fd = format!("/proc/{}/fd", std::process::id());
    dir.filter_map(|e| {
        let e = e.ok()?;
        let fd = e.file_name().to_str()?.parse().ok()?;
        let target = std::fs::read_link(e.path()).ok()?;
        let target = target.to_string_lossy().into_owned();
        (target != listing_fd).then_some((fd, target))
    })
    .collect()
}

/// The pids every thread of this process has as children (zombies too).
fn children() -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    for task in std::fs::read_dir("/proc/self/task")
        .expect("list tasks")
        .flatten()
    {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    pids
}

/// Whether the kernel keeps a reaped child's status for its pidfd
/// (`PIDFD_INFO_EXIT`, Linux 6.15): without it, another reaper makes a
/// wait fail, as documented, and that attacker is left out.
fn kernel_keeps_exit_status() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 15)
}

#[test]
#[ignore = "run in a process of its own by spawning_under_hostile_threads"]
fn hostile_concurrency_isolated() {
    if !in_isolated_run(TEST) {
        return;
    }
    let spawns: u64 = std::env::var("SPAWNFD_HOSTILE_SPAWNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_SPAWNS);
    let reapers = kernel_keeps_exit_status();
    if !reapers {
        println!(
            "skipped: waitpid(-1) and SIGCHLD ignored (the kernel keeps no status for pidfds before 6.15)"
        );
    }
    // A watchdog: a deadlock must fail the run, not hang it.
    let guard = Duration::from_secs(120) + Duration::from_millis(50) * spawns as u32;
    std::thread::spawn(move || {
        std::thread::sleep(guard);
        eprintln!("hostile: still running after {guard:?}: aborting");
        std::process::abort();
    });

    // SAFETY: no other thread runs yet.
    unsafe {
        std::env::set_var(VAR_A, "0");
        std::env::set_var(VAR_B, "0");
    }
    set_disposition(libc::SIGUSR1, handler(), true);
    let base_env: BTreeMap<Vec<u8>, Vec<u8>> = std::env::vars_os()
        .filter(|(k, _)| k != VAR_A && k != VAR_B)
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();

    // One spawn first: the library keeps an fd of its own from then on.
    let status = Command::new("/bin/sh")
        .args(["-c", "exit 0"])
        .status()
        .unwrap();
    assert!(status.success());
    let fds_before = open_fds();
    assert!(children().is_empty());

    let stop = Arc::new(AtomicBool::new(false));
    let counters: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
    let pair = Arc::new(Mutex::new(()));
    let shared = Arc::new(Shared {
        tally: Mutex::new(Tally::default()),
        base_env,
        env_counter: AtomicU64::new(0),
        spawned: AtomicU64::new(0),
        echild: AtomicU64::new(0),
    });

    let mut attackers = Vec::new();
    {
        let (stop, c) = (stop.clone(), counters.clone());
        attackers.push(std::thread::spawn(move || leak_fds(&stop, &c[0])));
    }
    {
        let (stop, c) = (stop.clone(), counters.clone());
        attackers.push(std::thread::spawn(move || {
            churn_signals(&stop, &c[1], reapers)
        }));
    }
    {
        let (stop, c) = (stop.clone(), counters.clone());
        attackers.push(std::thread::spawn(move || storm(&stop, &c[2])));
    }
    {
        let (stop, pair, shared) = (stop.clone(), pair.clone(), shared.clone());
        attackers.push(std::thread::spawn(move || {
            change_env(&stop, &pair, &shared.env_counter)
        }));
    }
    let reaper = reapers.then(|| {
        let (stop, c) = (stop.clone(), counters.clone());
        std::thread::spawn(move || reap_all(&stop, &c[3]))
    });

    let start = Instant::now();
    let per_thread = spawns.div_ceil(SPAWNERS);
    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|id| {
            let shared = shared.clone();
            std::thread::spawn(move || spawner(id, per_thread, &shared))
        })
        .collect();
    for s in spawners {
        s.join().expect("a spawner panicked");
    }
    let seconds = start.elapsed().as_secs_f64();

    stop.store(true, Relaxed);
    for a in attackers {
        a.join().expect("an attacker panicked");
    }
    if let Some(r) = reaper {
        r.join().expect("the waitpid(-1) thread panicked");
    }
    // Back to a quiet state before looking.
    for sig in churned_signals() {
        set_disposition(sig, libc::SIG_DFL, true);
    }
    set_disposition(libc::SIGPIPE, libc::SIG_IGN, true);

    let fds_after = open_fds();
    let leaked: Vec<String> = fds_after
        .iter()
        .filter(|(fd, target)| fds_before.get(fd) != Some(target))
        .map(|(fd, target)| format!("{fd} -> {target}"))
        .collect();
    let lost: Vec<RawFd> = fds_before
        .keys()
        .filter(|fd| !fds_after.contains_key(fd))
        .copied()
        .collect();
    let zombies = children();

    let tally = shared.tally.lock().unwrap();
    let done = shared.spawned.load(Relaxed);
    let wrong = tally.counts.get("wrong status").copied().unwrap_or(0);
    // After libtest's "test ... " on the same line.
    println!();
    println!(
        "hostile: {done} spawns by {SPAWNERS} threads in {seconds:.1} s ({:.0}/s); \
         wrong statuses {wrong}; failures of any kind {}; ECHILD from wait {}; \
         fd leaks {}; zombies {}",
        done as f64 / seconds,
        tally.total(),
        shared.echild.load(Relaxed),
        leaked.len() + lost.len(),
        zombies.len(),
    );
    println!(
        "hostile: attackers: {} fds opened without O_CLOEXEC, {} disposition changes, \
         {} signals sent ({} handled), {} environment changes, {} children reaped by waitpid(-1)",
        counters[0].load(Relaxed),
        counters[1].load(Relaxed),
        counters[2].load(Relaxed),
        HANDLED.load(Relaxed),
        shared.env_counter.load(Relaxed),
        counters[3].load(Relaxed),
    );
    for (kind, count) in &tally.counts {
        println!("hostile: {kind}: {count}, e.g. {:?}", tally.examples[kind]);
    }
    assert_eq!(done, per_thread * SPAWNERS);
    assert!(
        leaked.is_empty() && lost.is_empty(),
        "fds leaked {leaked:?}, closed {lost:?}"
    );
    assert!(zombies.is_empty(), "children left: {zombies:?}");
    assert!(
        tally.counts.is_empty(),
        "{} of {done} spawns went wrong: {:?}",
        tally.total(),
        tally.counts
    );
}

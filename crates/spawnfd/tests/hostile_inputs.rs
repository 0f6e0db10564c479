//! Random commands, good and bad: arguments (with NUL bytes sometimes), an
//! environment set, removed and cleared (keys that are empty or hold `=`
//! or NUL sometimes), fd maps (targets 0 to 63 from pipes, files and
//! memfds, repeated or negative sometimes, or clashing with `stdin`), a
//! working directory (missing, or with a NUL byte, sometimes), umask,
//! `RLIMIT_NOFILE` (soft above hard sometimes), niceness, process group or
//! session, CPU affinity (empty or beyond the largest CPU sometimes).
//!
//! A bad command is refused with `InvalidInput` and a message before any
//! process exists (a missing directory, which only the child can find,
//! fails at the `Chdir` step, its child reaped); either way no child and
//! no fd is left, and nothing panics. A good one gives the probe exactly
//! the arguments, environment, fds, directory, umask, limit, niceness,
//! group and CPUs asked for, as the probe reports them from inside.
//!
//! This file holds one test: it counts this process's children, which a
//! test running beside it would change.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use proptest::prelude::*;
use spawnfd::{Command, Resource, SpawnError, Stdio, Step};
use support::{
    CAP_SYS_NICE, CAP_SYS_RESOURCE, PROBE, PROBE_ATTRS, ScratchDir, TempPath, fd_target,
    has_capability, memfd, pipe_end,
};

// --- What a case asks for ---------------------------------------------------

#[derive(Clone, Debug)]
enum EnvOp {
    Set(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Clear,
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Pipe,
    DevNull,
    File,
    Memfd,
}

#[derive(Clone, Copy, Debug)]
enum Cwd {
    Existing,
    Missing,
    WithNul,
}

#[derive(Clone, Copy, Debug)]
enum Group {
    /// `process_group(0)`: a new group.
    New,
    /// `process_group(getpgrp())`: this process's group.
    Own,
    Negative,
}

#[derive(Clone, Debug)]
enum Cpus {
    /// A subset of this process's CPUs, by index into them.
    Subset(Vec<prop::sample::Index>),
    Empty,
    BeyondLargest,
}

#[derive(Clone, Debug)]
struct Case {
    arg0: Option<Vec<u8>>,
    args: Vec<Vec<u8>>,
    env: Vec<EnvOp>,
    fds: Vec<(RawFd, Source)>,
    /// Also set `stdin()`, which clashes with a mapped fd 0.
    stdin_too: bool,
    cwd: Option<Cwd>,
    umask: Option<u32>,
    /// `RLIMIT_NOFILE` (soft, hard), as fractions of this process's hard
    /// limit in thousandths.
    nofile: Option<(u64, u64)>,
    nice: Option<i32>,
    group: Option<Group>,
    setsid: bool,
    cpus: Option<Cpus>,
}

/// Bytes for an argument or a value: no newline (the probe reports one
/// per line), a NUL byte one time in `nul_odds`.
fn bytes(nul_odds: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        nul_odds => proptest::collection::vec(any::<u8>().prop_filter("no NUL, no newline", |&b| b != 0 && b != b'\n'), 0..12),
        1 => ("[a-z]{0,4}", "[a-z]{0,4}").prop_map(|(a, b)| [a.as_bytes(), b"\0", b.as_bytes()].concat()),
    ]
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        30 => proptest::sample::select(&["HI_A", "HI_B", "HI_C", "HI_\u{e9}"][..]).prop_map(|k| k.as_bytes().to_vec()),
        1 => Just(Vec::new()),
        1 => Just(b"HI=X".to_vec()),
        1 => Just(b"HI\0X".to_vec()),
    ]
}

fn env_op() -> impl Strategy<Value = EnvOp> {
    prop_oneof![
        6 => (key(), bytes(60)).prop_map(|(k, v)| EnvOp::Set(k, v)),
        2 => key().prop_map(EnvOp::Remove),
        1 => Just(EnvOp::Clear),
    ]
}

fn target() -> impl Strategy<Value = RawFd> {
    prop_oneof![40 => 0..64, 1 => -3..0]
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Pipe),
        Just(Source::DevNull),
        Just(Source::File),
        Just(Source::Memfd)
    ]
}

/// `None` or `Some` of a value of `inner`, even odds.
fn sometimes<T: std::fmt::Debug + Clone>(
    inner: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![1 => Just(None), 1 => inner.prop_map(Some)]
}

fn case() -> impl Strategy<Value = Case> {
    let basics = (
        prop_oneof![8 => Just(None), 1 => bytes(20).prop_map(Some)],
        proptest::collection::vec(bytes(50), 0..4),
        proptest::collection::vec(env_op(), 0..6),
        proptest::collection::vec((target(), source()), 0..6),
        prop_oneof![15 => Just(false), 1 => Just(true)],
        sometimes(prop_oneof![
            20 => Just(Cwd::Existing),
            1 => Just(Cwd::Missing),
            1 => Just(Cwd::WithNul)
        ]),
    );
    let attrs = (
        sometimes(prop_oneof![20 => 0..=0o777u32, 1 => 0o1000..=0o7777u32]),
        sometimes(prop_oneof![
            12 => (1..=1000u64, 1..=1000u64).prop_map(|(a, b)| (a.min(b), a.max(b))),
            1 => (1..=1000u64, 1..=1000u64).prop_filter("soft above hard", |(a, b)| a != b)
                .prop_map(|(a, b)| (a.max(b), a.min(b))),
        ]),
        sometimes(prop_oneof![20 => -20..=19, 1 => prop_oneof![-40..-20, 20..40]]),
        sometimes(prop_oneof![
            10 => Just(Group::New),
            10 => Just(Group::Own),
            1 => Just(Group::Negative)
        ]),
        prop_oneof![8 => Just(false), 1 => Just(true)],
        sometimes(prop_oneof![
            20 => proptest::collection::vec(any::<prop::sample::Index>(), 1..4).prop_map(Cpus::Subset),
            1 => Just(Cpus::Empty),
            1 => Just(Cpus::BeyondLargest)
        ]),
    );
    (basics, attrs).prop_map(
        |((arg0, args, env, fds, stdin_too, cwd), (umask, nofile, nice, group, setsid, cpus))| {
            Case {
                arg0,
                args,
                env,
                fds,
                stdin_too,
                cwd,
                umask,
                nofile,
                nice,
                group,
                setsid,
                cpus,
            }
        },
    )
}

// --- What this process is like ----------------------------------------------

/// Facts about this process that the expectations depend on.
struct Own {
    cpus: Vec<usize>,
    nofile_hard: u64,
    nice: i32,
    pgrp: i32,
    umask: String,
    cwd: PathBuf,
    may_lower_nice: bool,
    may_raise_nofile: bool,
}

fn own() -> Own {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {key} in our status"))
            .trim()
            .to_owned()
    };
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a local.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // SAFETY: getpriority and getpgrp on ourselves cannot fail.
    let (nice, pgrp) = unsafe { (libc::getpriority(libc::PRIO_PROCESS, 0), libc::getpgrp()) };
    Own {
        cpus: parse_cpu_list(&field("Cpus_allowed_list")),
        nofile_hard: limit.rlim_max.min(1 << 16),
        nice,
        pgrp,
        umask: field("Umask"),
        cwd: std::env::current_dir().unwrap(),
        may_lower_nice: has_capability(CAP_SYS_NICE),
        may_raise_nofile: has_capability(CAP_SYS_RESOURCE),
    }
}

/// `0-2,5` → `[0, 1, 2, 5]`.
fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for item in list.split(',') {
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        cpus.extend(first.parse::<usize>().unwrap()..=last.parse().unwrap());
    }
    cpus
}

/// `[0, 1, 2, 5]` → `0-2,5`, as the kernel writes it.
fn format_cpu_list(cpus: &BTreeSet<usize>) -> String {
    let mut items: Vec<String> = Vec::new();
    let mut iter = cpus.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last = iter.next().unwrap();
        }
        items.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
    }
    items.join(",")
}

/// This process's open fds and their targets (the listing's own fd left
/// out).
fn open_fds() -> BTreeMap<RawFd, String> {
    let listing = format!("/proc/{}/fd", std::process::id());
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let target = target.to_string_lossy().into_owned();
            (target != listing).then_some((fd, target))
        })
        .collect()
}

/// The children of every thread of this process, zombies too.
fn children() -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    pids
}

// --- Building the command and what it should give ---------------------------

/// What a case should come to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Refused before any process exists.
    Refused,
    /// A child was made and failed at this step, then reaped.
    Failed(Step, i32),
    Spawned,
}

/// The child state a good case asks for.
struct Expected {
    args: Vec<Vec<u8>>,
    env: BTreeMap<Vec<u8>, Vec<u8>>,
    fds: BTreeMap<RawFd, String>,
    cwd: PathBuf,
    umask: String,
    nofile: Option<(u64, u64)>,
    nice: i32,
    group: Option<Group>,
    setsid: bool,
    cpus: Option<BTreeSet<usize>>,
}

/// Whether an environment key is refused.
fn bad_key(key: &[u8]) -> bool {
    key.is_empty() || key.contains(&b'=') || key.contains(&0)
}

/// Builds the command for `case` (the resources it needs are kept in
/// `keep`), with the outcome and, for a spawn, the child state expected.
fn build(
    case: &Case,
    own: &Own,
    dir: &ScratchDir,
    report: &TempPath,
    keep: &mut Vec<TempPath>,
) -> (Command, Outcome, Expected) {
    let mut refused = false;
    let mut cmd = Command::new(PROBE);

    let mut args = vec![PROBE.as_bytes().to_vec()];
    if let Some(arg0) = &case.arg0 {
        cmd.arg0(OsStr::from_bytes(arg0));
        args[0] = arg0.clone();
    }
    for arg in &case.args {
        cmd.arg(OsStr::from_bytes(arg));
        args.push(arg.clone());
    }
    refused |= args.iter().any(|a| a.contains(&0));

    // The environment changes, kept as the command keeps them.
    let mut clear = false;
    let mut vars: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for op in &case.env {
        match op {
            EnvOp::Set(k, v) => {
                cmd.env(OsStr::from_bytes(k), OsStr::from_bytes(v));
                vars.insert(k.clone(), Some(v.clone()));
            }
            EnvOp::Remove(k) => {
                cmd.env_remove(OsStr::from_bytes(k));
                if clear {
                    vars.remove(k);
                } else {
                    vars.insert(k.clone(), None);
                }
            }
            EnvOp::Clear => {
                cmd.env_clear();
                clear = true;
                vars.clear();
            }
        }
    }
    cmd.env(PROBE_ATTRS, "1")
        .env("SPAWNFD_PROBE_OUT", report.path());
    vars.insert(PROBE_ATTRS.as_bytes().to_vec(), Some(b"1".to_vec()));
    vars.insert(
        b"SPAWNFD_PROBE_OUT".to_vec(),
        Some(report.path().as_os_str().as_bytes().to_vec()),
    );
    refused |= vars
        .iter()
        .any(|(k, v)| bad_key(k) || v.as_ref().is_some_and(|v| v.contains(&0)));
    let mut env: BTreeMap<Vec<u8>, Vec<u8>> = if clear {
        BTreeMap::new()
    } else {
        std::env::vars_os()
            .map(|(k, v)| (k.into_vec(), v.into_vec()))
            .collect()
    };
    for (k, v) in vars {
        match v {
            Some(v) => env.insert(k, v),
            None => env.remove(&k),
        };
    }

    let mut fds: BTreeMap<RawFd, String> = BTreeMap::new();
    let mut targets = BTreeSet::new();
    for (i, &(target, source)) in case.fds.iter().enumerate() {
        let fd: OwnedFd = match source {
            Source::Pipe => pipe_end(),
            Source::DevNull => std::fs::File::open("/dev/null").unwrap().into(),
            Source::File => {
                let path = TempPath::new("hostile-input");
                let file = std::fs::File::create(path.path()).unwrap();
                keep.push(path);
                file.into()
            }
            Source::Memfd => memfd(&format!("hostile-{i}")),
        };
        fds.insert(target, fd_target(fd.as_raw_fd()));
        refused |= target < 0 || !targets.insert(target);
        cmd.fd(target, fd);
    }
    for (fd, std_fd) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
        if !targets.contains(&fd) {
            fds.insert(fd, "/dev/null".into());
            set_std(&mut cmd, std_fd);
        } else if fd == 0 && case.stdin_too {
            set_std(&mut cmd, std_fd);
            refused = true;
        }
    }

    let mut cwd = own.cwd.clone();
    let mut missing_dir = false;
    match case.cwd {
        None => {}
        Some(Cwd::Existing) => {
            cmd.current_dir(dir.path());
            cwd = dir.path().canonicalize().unwrap();
        }
        Some(Cwd::Missing) => {
            cmd.current_dir(dir.path().join("missing"));
            missing_dir = true;
        }
        Some(Cwd::WithNul) => {
            cmd.current_dir(OsStr::from_bytes(b"/tmp\0x"));
            refused = true;
        }
    }

    let mut umask = own.umask.clone();
    if let Some(mask) = case.umask {
        cmd.umask(mask);
        refused |= mask > 0o777;
        umask = format!("{mask:04o}");
    }
    let mut nofile = None;
    let mut step_failure = None;
    if let Some((soft, hard)) = case.nofile {
        let scale = |n: u64| (own.nofile_hard * n / 1000).max(64);
        let (soft, hard) = (scale(soft), scale(hard));
        cmd.rlimit(Resource::NOFILE, soft, hard);
        refused |= soft > hard;
        nofile = Some((soft, hard));
        if hard > own.nofile_hard && !own.may_raise_nofile {
            step_failure = Some((Step::Rlimit, libc::EPERM));
        }
    }
    let mut nice = own.nice;
    if let Some(n) = case.nice {
        cmd.nice(n);
        refused |= !(-20..=19).contains(&n);
        nice = n;
        if n < own.nice && !own.may_lower_nice && step_failure.is_none() {
            step_failure = Some((Step::Nice, libc::EACCES));
        }
    }
    match case.group {
        None => {}
        Some(Group::New) => {
            cmd.process_group(0);
        }
        Some(Group::Own) => {
            cmd.process_group(own.pgrp);
        }
        Some(Group::Negative) => {
            cmd.process_group(-2);
            refused = true;
        }
    }
    if case.setsid {
        cmd.setsid(true);
        refused |= case.group.is_some();
    }
    let mut cpus = None;
    match &case.cpus {
        None => {}
        Some(Cpus::Subset(picks)) => {
            let set: BTreeSet<usize> = picks.iter().map(|i| *i.get(&own.cpus)).collect();
            cmd.cpu_affinity(&set.iter().copied().collect::<Vec<_>>());
            cpus = Some(set);
        }
        Some(Cpus::Empty) => {
            cmd.cpu_affinity(&[]);
            refused = true;
        }
        Some(Cpus::BeyondLargest) => {
            cmd.cpu_affinity(&[own.cpus[0], 1 << 16]);
            refused = true;
        }
    }

    // The child's steps run in this order: process group before the
    // limits, the limits before a working directory given by path.
    let outcome = if refused {
        Outcome::Refused
    } else if let Some((step, errno)) = step_failure {
        Outcome::Failed(step, errno)
    } else if missing_dir {
        Outcome::Failed(Step::Chdir, libc::ENOENT)
    } else {
        Outcome::Spawned
    };
    let expected = Expected {
        args,
        env,
        fds,
        cwd,
        umask,
        nofile,
        nice,
        group: case.group,
        setsid: case.setsid,
        cpus,
    };
    (cmd, outcome, expected)
}

fn set_std(cmd: &mut Command, which: &str) {
    match which {
        "stdin" => cmd.stdin(Stdio::null()),
        "stdout" => cmd.stdout(Stdio::null()),
        _ => cmd.stderr(Stdio::null()),
    };
}

// --- Reading the probe's report ---------------------------------------------

/// The probe's report, from its bytes (arguments and values need not be
/// UTF-8; a value holding a newline continues on the next lines).
#[derive(Debug, Default)]
struct Seen {
    args: Vec<Vec<u8>>,
    env: BTreeMap<Vec<u8>, Vec<u8>>,
    fds: BTreeMap<RawFd, (String, bool)>,
    cwd: String,
    status: BTreeMap<String, String>,
    limits: BTreeMap<String, (String, String)>,
    stat: BTreeMap<String, i64>,
    pid: i64,
}

const KINDS: [&[u8]; 17] = [
    b"fd",
    b"sigblk",
    b"sigign",
    b"sigcgt",
    b"cwd",
    b"arg",
    b"env",
    b"status",
    b"limit",
    b"stat",
    b"pid",
    b"ppid",
    b"pdeathsig",
    b"cgroup",
    b"ns",
    b"root",
    b"rootdir",
];

fn parse_report(text: &[u8]) -> Seen {
    let mut seen = Seen::default();
    let mut last_env: Option<Vec<u8>> = None;
    for line in text.split(|&b| b == b'\n') {
        let (kind, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        if !KINDS.contains(&kind) && !kind.ends_with(b"_map") {
            if let Some(key) = &last_env {
                // A value with a newline in it (of an inherited variable).
                let value = seen.env.get_mut(key).unwrap();
                value.push(b'\n');
                value.extend_from_slice(line);
                continue;
            }
            assert!(line.is_empty(), "unexpected report line {line:?}");
            continue;
        }
        last_env = None;
        let text = String::from_utf8_lossy(rest).into_owned();
        match kind {
            b"arg" => {
                let i = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
                seen.args
                    .push(rest.get(i + 1..).unwrap_or_default().to_vec());
            }
            b"env" => {
                let i = rest.iter().position(|&b| b == b'=').expect("env line: '='");
                seen.env.insert(rest[..i].to_vec(), rest[i + 1..].to_vec());
                last_env = Some(rest[..i].to_vec());
            }
            b"fd" => {
                let (fd, rest) = text.split_once(' ').expect("fd line");
                let (target, cloexec) = rest.rsplit_once(" cloexec=").expect("fd line");
                seen.fds
                    .insert(fd.parse().unwrap(), (target.to_owned(), cloexec == "1"));
            }
            b"cwd" => seen.cwd = text,
            b"status" => {
                let (key, value) = text.split_once(':').expect("status line");
                seen.status.insert(
                    key.to_owned(),
                    value.split_whitespace().collect::<Vec<_>>().join(" "),
                );
            }
            b"limit" => {
                let f: Vec<&str> = text.split(' ').collect();
                seen.limits
                    .insert(f[0].to_owned(), (f[1].to_owned(), f[2].to_owned()));
            }
            b"stat" => {
                let (name, value) = text.split_once(' ').expect("stat line");
                seen.stat.insert(name.to_owned(), value.parse().unwrap());
            }
            b"pid" => seen.pid = text.parse().unwrap(),
            _ => {}
        }
    }
    seen
}

// --- The property -----------------------------------------------------------

fn check(case: &Case, own: &Own) -> Result<(), TestCaseError> {
    let fds_before = open_fds();
    prop_assert!(children().is_empty(), "a child before the case");
    let dir = ScratchDir::new("hostile-inputs");
    let report = TempPath::new("hostile-inputs-report");
    let mut keep = Vec::new();
    let (mut cmd, outcome, expected) = build(case, own, &dir, &report, &mut keep);

    let result = cmd.spawn();
    match (&outcome, result) {
        (Outcome::Refused, Err(err)) => {
            prop_assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{}", err);
            prop_assert!(
                SpawnError::from_io(&err).is_none(),
                "a step failed: {}",
                err
            );
            prop_assert!(err.to_string().len() > 20, "a message: {}", err);
            prop_assert!(children().is_empty(), "refused, yet a child exists");
        }
        (Outcome::Failed(step, errno), Err(err)) => {
            let failure = SpawnError::from_io(&err);
            prop_assert!(failure.is_some(), "not a step failure: {}", err);
            let failure = failure.unwrap();
            prop_assert_eq!(failure.step(), *step, "{}", err);
            prop_assert_eq!(failure.raw_os_error(), Some(*errno), "{}", err);
            prop_assert!(children().is_empty(), "the failed child was not reaped");
        }
        (Outcome::Spawned, Ok(mut child)) => {
            drop(cmd);
            let status = child.wait().unwrap();
            prop_assert!(status.success(), "the probe failed: {}", status);
            let seen = parse_report(&std::fs::read(report.path()).unwrap());
            drop(child);
            check_child(&seen, &expected)?;
            return finish(fds_before, keep, dir, report);
        }
        (_, Ok(mut child)) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TestCaseError::fail(format!(
                "spawned, but expected {outcome:?}: {cmd:?}"
            )));
        }
        (_, Err(err)) => {
            return Err(TestCaseError::fail(format!(
                "expected {outcome:?}, got {err} ({:?})",
                SpawnError::from_io(&err).map(|e| e.step())
            )));
        }
    }
    drop(cmd);
    finish(fds_before, keep, dir, report)
}

/// No fd and no child left once the case's own resources are gone.
fn finish(
    fds_before: BTreeMap<RawFd, String>,
    keep: Vec<TempPath>,
    dir: ScratchDir,
    report: TempPath,
) -> Result<(), TestCaseError> {
    drop((keep, dir, report));
    prop_assert_eq!(open_fds(), fds_before, "fds left open");
    prop_assert!(children().is_empty(), "children left: {:?}", children());
    Ok(())
}

fn check_child(seen: &Seen, expected: &Expected) -> Result<(), TestCaseError> {
    prop_assert_eq!(&seen.args, &expected.args);
    prop_assert_eq!(&seen.env, &expected.env);
    let fds: BTreeMap<RawFd, String> = seen
        .fds
        .iter()
        .map(|(&fd, (target, _))| (fd, target.clone()))
        .collect();
    prop_assert_eq!(&fds, &expected.fds);
    prop_assert!(
        seen.fds.values().all(|(_, cloexec)| !cloexec),
        "FD_CLOEXEC: {:?}",
        seen.fds
    );
    prop_assert_eq!(PathBuf::from(&seen.cwd), expected.cwd.clone());
    prop_assert_eq!(seen.status.get("Umask"), Some(&expected.umask));
    if let Some((soft, hard)) = expected.nofile {
        prop_assert_eq!(
            seen.limits.get("NOFILE"),
            Some(&(soft.to_string(), hard.to_string()))
        );
    }
    prop_assert_eq!(seen.stat.get("nice"), Some(&i64::from(expected.nice)));
    let (pgrp, session) = (seen.stat["pgrp"], seen.stat["session"]);
    match expected.group {
        Some(Group::New) => prop_assert_eq!(pgrp, seen.pid),
        Some(Group::Own) => prop_assert_eq!(pgrp, i64::from(own_pgrp())),
        _ => {}
    }
    if expected.setsid {
        prop_assert_eq!((pgrp, session), (seen.pid, seen.pid));
    }
    if let Some(cpus) = &expected.cpus {
        prop_assert_eq!(
            seen.status.get("Cpus_allowed_list"),
            Some(&format_cpu_list(cpus))
        );
    }
    Ok(())
}

/// This process's facts, after one spawn: the library keeps an fd of its
/// own from the first spawn on.
fn warmed_up() -> &'static Own {
    static OWN: std::sync::OnceLock<Own> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        let status = Command::new(PROBE).stdout(Stdio::null()).status().unwrap();
        assert!(status.success());
        own()
    })
}

fn own_pgrp() -> i32 {
    // SAFETY: getpgrp cannot fail.
    unsafe { libc::getpgrp() }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_commands_are_refused_or_give_exactly_what_they_ask(case in case()) {
        check(&case, warmed_up())?;
    }
}

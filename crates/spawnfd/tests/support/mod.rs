//! Helpers shared by the fd, signal, strace and attribute tests: running
//! `spawnfd-probe` and parsing its report, placing raw fds at chosen
//! numbers, reading `/proc`, and re-running one test of the current binary
//! in a process of its own.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod seccomp;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};

use spawnfd::{Child, Command};

/// The helper program that reports the state it was started with.
pub const PROBE: &str = env!("CARGO_BIN_EXE_spawnfd-probe");

/// One open fd of the probe, as it reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// `readlink /proc/self/fd/N`: a path, `pipe:[INODE]`, `/memfd:NAME`, …
    pub target: String,
    pub cloexec: bool,
}

/// The probe's report, parsed.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub fds: BTreeMap<RawFd, FdEntry>,
    pub sigblk: u64,
    pub sigign: u64,
    pub sigcgt: u64,
    pub cwd: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl Report {
    /// Parses the lines `spawnfd-probe` writes; panics on anything else.
    pub fn parse(text: &str) -> Report {
        let mut report = Report::default();
        for line in text.lines() {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "fd" => {
                    let (fd, rest) = rest.split_once(' ').expect("fd line: number");
                    let (target, flag) = rest.rsplit_once(" cloexec=").expect("fd line: flag");
                    let entry = FdEntry {
                        target: target.to_owned(),
                        cloexec: flag == "1",
                    };
                    report.fds.insert(fd.parse().expect("fd number"), entry);
                }
                "sigblk" => report.sigblk = parse_hex(rest),
                "sigign" => report.sigign = parse_hex(rest),
                "sigcgt" => report.sigcgt = parse_hex(rest),
                "cwd" => report.cwd = rest.to_owned(),
                "arg" => {
                    let (_, arg) = rest.split_once(' ').unwrap_or((rest, ""));
                    report.args.push(arg.to_owned());
                }
                "env" => {
                    let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
                    report.env.insert(key.to_owned(), value.to_owned());
                }
                _ => panic!("unexpected line in the probe's report: {line:?}"),
            }
        }
        report
    }

    /// The numbers of the open fds.
    pub fn fd_numbers(&self) -> BTreeSet<RawFd> {
        self.fds.keys().copied().collect()
    }

    /// The entry of fd `fd`; panics with the whole fd table if it is closed.
    pub fn fd(&self, fd: RawFd) -> &FdEntry {
        self.fds
            .get(&fd)
            .unwrap_or_else(|| panic!("fd {fd} is not open in the child: {:#?}", self.fds))
    }

    /// Asserts that fd `fd` is open on `target` without `FD_CLOEXEC`.
    #[track_caller]
    pub fn assert_fd(&self, fd: RawFd, target: &str) {
        let entry = self.fd(fd);
        assert_eq!(entry.target, target, "child fd {fd}: {:#?}", self.fds);
        assert!(
            !entry.cloexec,
            "child fd {fd} has FD_CLOEXEC: {:#?}",
            self.fds
        );
    }
}

fn parse_hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim(), 16).unwrap_or_else(|e| panic!("hex {text:?}: {e}"))
}

/// Bit `sig - 1`: signal `sig` in a `/proc/PID/status` signal set.
pub const fn sig_bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// A path in the temporary directory, unique in this process run, removed
/// on drop.
pub struct TempPath(PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> TempPath {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("spawnfd-{tag}-{}-{n}", std::process::id());
        TempPath(std::env::temp_dir().join(name))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A `Command` for the probe.
pub fn probe() -> Command {
    Command::new(PROBE)
}

/// A probe that was started with [`spawn_probe`].
pub struct ProbeRun {
    pub child: Child,
    out: TempPath,
}

/// Starts `cmd` (a probe command) with its report going to a temporary
/// file, so that its standard fds stay as configured.
#[track_caller]
pub fn spawn_probe(cmd: &mut Command) -> ProbeRun {
    let out = TempPath::new("report");
    cmd.env("SPAWNFD_PROBE_OUT", out.path());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    ProbeRun { child, out }
}

impl ProbeRun {
    /// Waits for the probe (closing its stdin pipe, if any) and returns its
    /// report.
    #[track_caller]
    pub fn report(mut self) -> Report {
        let status = self.child.wait().expect("wait for the probe");
        assert!(status.success(), "the probe failed: {status}");
        let text = std::fs::read_to_string(self.out.path()).expect("read the probe's report");
        Report::parse(&text)
    }
}

/// Runs `cmd` (a probe command) to completion and returns its report.
#[track_caller]
pub fn run_probe(cmd: &mut Command) -> Report {
    spawn_probe(cmd).report()
}

/// Whether this process has any child, running or not yet reaped.
pub fn has_children() -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is writable; WNOWAIT leaves any child as it is.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if r == 0 {
        return true;
    }
    let err = io::Error::last_os_error();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "waitid: {err}");
    false
}

/// What fd `fd` of this process refers to (`readlink /proc/self/fd/N`).
pub fn fd_target(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap_or_else(|e| panic!("readlink of our fd {fd}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// Whether fd `fd` is open in this process.
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of a number, open or not.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Whether fd `fd` of this process has `FD_CLOEXEC`.
pub fn has_cloexec(fd: impl AsFd) -> bool {
    // SAFETY: F_GETFD on an fd we borrow.
    let flags = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "F_GETFD: {}", io::Error::last_os_error());
    flags & libc::FD_CLOEXEC != 0
}

/// Duplicates `fd` onto number `at`, which must be free (tests pick numbers
/// in a range of their own, far above what `open` hands out), with or
/// without `FD_CLOEXEC`.
#[track_caller]
pub fn place_at(fd: impl AsFd, at: RawFd, cloexec: bool) -> OwnedFd {
    assert!(!is_open(at), "fd {at} is already open in the test process");
    let flags = if cloexec { libc::O_CLOEXEC } else { 0 };
    // SAFETY: dup3 with a borrowed source and a number nothing else owns.
    let fd = unsafe { libc::dup3(fd.as_fd().as_raw_fd(), at, flags) };
    assert_eq!(fd, at, "dup3 onto {at}: {}", io::Error::last_os_error());
    // SAFETY: `at` was just made and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(at) }
}

/// A new pipe whose read end is returned; the write end is closed. Each
/// call gives a distinct `pipe:[INODE]`, handy to tell fds apart.
pub fn pipe_end() -> OwnedFd {
    let (read, _write) = io::pipe().expect("pipe");
    read.into()
}

/// Opens `/dev/null` without `O_CLOEXEC`, as careless code in another
/// library would.
pub fn open_leaky() -> OwnedFd {
    // SAFETY: a NUL-terminated path and plain flags.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
    assert!(fd >= 0, "open /dev/null: {}", io::Error::last_os_error());
    // SAFETY: a new fd owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `dup(fd)`: a copy without `FD_CLOEXEC`.
pub fn dup_leaky(fd: impl AsFd) -> OwnedFd {
    // SAFETY: dup of a borrowed fd.
    let new = unsafe { libc::dup(fd.as_fd().as_raw_fd()) };
    assert!(new >= 0, "dup: {}", io::Error::last_os_error());
    // SAFETY: a new fd owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(new) }
}

/// A memfd (with `MFD_CLOEXEC`) named `name`.
pub fn memfd(name: &str) -> OwnedFd {
    let name = CString::new(name).expect("memfd name");
    // SAFETY: a NUL-terminated name and plain flags.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", io::Error::last_os_error());
    // SAFETY: a new fd owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A hexadecimal signal-set field (`SigBlk:`, `SigIgn:`, …) of a
/// `/proc/…/status` file.
pub fn status_field(path: &str, key: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {path}"));
    parse_hex(line)
}

/// The environment variable that tells a re-run test binary which test to
/// run for real.
pub const ISOLATED: &str = "SPAWNFD_TEST_ISOLATED";

/// A command that re-runs only the ignored test `test` of the current test
/// binary in a new process; the test does its work only there (see
/// [`in_isolated_run`]).
pub fn isolated_command(test: &str) -> std::process::Command {
    isolated_command_under::<&str>(&[], test)
}

/// As [`isolated_command`], with the test binary run by `wrapper` (a
/// program and its arguments, such as `strace -f`).
pub fn isolated_command_under<S: AsRef<OsStr>>(wrapper: &[S], test: &str) -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = std::process::Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => std::process::Command::new(exe),
    };
    cmd.args(isolated_args(test)).env(ISOLATED, test);
    cmd
}

/// The test-binary arguments that run only the ignored test `test`.
fn isolated_args(test: &str) -> [&str; 5] {
    [
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]
}

/// Asserts that a run of [`isolated_command`] passed and did run its test.
#[track_caller]
pub fn assert_isolated_passed(test: &str, status: ExitStatus, stdout: &[u8], stderr: &[u8]) {
    let stdout = String::from_utf8_lossy(stdout);
    let stderr = String::from_utf8_lossy(stderr);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "the isolated run of {test} failed ({status}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// Runs `test` alone in a new process and asserts that it passed.
#[track_caller]
pub fn run_isolated(test: &str) {
    let out = isolated_command(test)
        .output()
        .expect("re-run the test binary");
    assert_isolated_passed(test, out.status, &out.stdout, &out.stderr);
}

/// Whether this process is the isolated run of `test`; an ignored test
/// that is run directly (`cargo test -- --ignored`) should do nothing.
pub fn in_isolated_run(test: &str) -> bool {
    std::env::var_os(ISOLATED).is_some_and(|t| t == test)
}

/// The variable that makes the probe append its attribute lines.
pub const PROBE_ATTRS: &str = "SPAWNFD_PROBE_ATTRS";

/// The probe's report with its attribute lines (see [`attr_probe`]),
/// parsed. The fd, argument and environment lines are left out.
#[derive(Clone, Debug, Default)]
pub struct AttrReport {
    pub sigblk: u64,
    pub sigign: u64,
    pub cwd: String,
    /// `/proc/self/status` fields by name, the value's blanks (tabs)
    /// squeezed to single spaces: `Uid` → `"0 0 0 0"`.
    pub status: BTreeMap<String, String>,
    /// Resource limits by name (`NOFILE`): soft and hard, `unlimited` for
    /// none.
    pub limits: BTreeMap<String, (String, String)>,
    /// `/proc/self/stat` fields by name: `session`, `pgrp`, `tty_nr`,
    /// `tpgid`, `nice`.
    pub stat: BTreeMap<String, i64>,
    pub pid: i32,
    pub ppid: i32,
    pub pdeathsig: i32,
    /// The lines of `/proc/self/cgroup`.
    pub cgroups: Vec<String>,
    /// `/proc/self/ns` links by name (`net` → `net:[4026531833]`).
    pub ns: BTreeMap<String, String>,
    pub uid_map: Vec<String>,
    pub gid_map: Vec<String>,
    /// `readlink /proc/self/root`, when the child had a `/proc`.
    pub root: Option<String>,
    /// The entries of the child's `/`.
    pub rootdir: Vec<String>,
}

impl AttrReport {
    /// Parses a report of the probe run with [`PROBE_ATTRS`]; panics on a
    /// line it does not know.
    pub fn parse(text: &str) -> AttrReport {
        let mut report = AttrReport::default();
        let number = |line: &str, value: &str| -> i64 {
            value
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("number in {line:?}: {e}"))
        };
        for line in text.lines() {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "fd" | "sigcgt" | "arg" | "env" => {}
                "sigblk" => report.sigblk = parse_hex(rest),
                "sigign" => report.sigign = parse_hex(rest),
                "cwd" => report.cwd = rest.to_owned(),
                "status" => {
                    let (key, value) = rest.split_once(':').expect("status line: a colon");
                    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                    report.status.insert(key.to_owned(), value);
                }
                "limit" => {
                    let fields: Vec<&str> = rest.split(' ').collect();
                    let [name, soft, hard] = fields[..] else {
                        panic!("limit line {line:?}");
                    };
                    let limit = (soft.to_owned(), hard.to_owned());
                    report.limits.insert(name.to_owned(), limit);
                }
                "stat" => {
                    let (name, value) = rest.split_once(' ').expect("stat line: a value");
                    report.stat.insert(name.to_owned(), number(line, value));
                }
                "pid" => report.pid = number(line, rest) as i32,
                "ppid" => report.ppid = number(line, rest) as i32,
                "pdeathsig" => report.pdeathsig = number(line, rest) as i32,
                "cgroup" => report.cgroups.push(rest.to_owned()),
                "ns" => {
                    let (name, link) = rest.split_once(' ').expect("ns line: a link");
                    report.ns.insert(name.to_owned(), link.to_owned());
                }
                "uid_map" => report.uid_map.push(rest.to_owned()),
                "gid_map" => report.gid_map.push(rest.to_owned()),
                "root" => report.root = Some(rest.to_owned()),
                "rootdir" => report.rootdir.push(rest.to_owned()),
                _ => panic!("unexpected line in the probe's report: {line:?}"),
            }
        }
        report
    }

    /// The `/proc/self/status` field `key`; panics if it was not reported.
    #[track_caller]
    pub fn status(&self, key: &str) -> &str {
        self.status
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in the child's status: {:#?}", self.status))
    }

    /// The `/proc/self/stat` field `name`; panics if it was not reported.
    #[track_caller]
    pub fn stat(&self, name: &str) -> i64 {
        *self
            .stat
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in the child's stat: {:#?}", self.stat))
    }

    /// The soft and hard limit of `name` (`NOFILE`).
    #[track_caller]
    pub fn limit(&self, name: &str) -> (&str, &str) {
        let (soft, hard) = self
            .limits
            .get(name)
            .unwrap_or_else(|| panic!("no {name} limit in the child: {:#?}", self.limits));
        (soft, hard)
    }

    /// The cgroup v2 path (the `0::` line of `/proc/self/cgroup`).
    pub fn cgroup_v2(&self) -> Option<&str> {
        self.cgroups.iter().find_map(|l| l.strip_prefix("0::"))
    }

    /// The `/proc/self/ns` link `name` (`net`, `mnt`, …).
    #[track_caller]
    pub fn ns(&self, name: &str) -> &str {
        self.ns
            .get(name)
            .unwrap_or_else(|| panic!("no {name} namespace in the child: {:#?}", self.ns))
    }
}

/// A `Command` for `program` (the probe or a copy of it) that reports its
/// attributes, with an environment of nothing else.
pub fn attr_probe_at(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env(PROBE_ATTRS, "1");
    cmd
}

/// A `Command` for the probe that reports its attributes.
pub fn attr_probe() -> Command {
    attr_probe_at(PROBE)
}

/// Runs `cmd` (from [`attr_probe`]) to completion with its report on a
/// pipe, and parses the report. Panics if the spawn fails or the probe does.
#[track_caller]
pub fn run_attrs(cmd: &mut Command) -> AttrReport {
    // A program copied by a test may still be open for writing in a child
    // that another test thread is spawning at that moment (it holds a copy
    // of the fd table until its exec): ETXTBSY, for a moment. Try again.
    let mut tries = 0;
    let out = loop {
        match cmd.output() {
            Err(e) if e.to_string().contains("Text file busy") && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => break result.unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")),
        }
    };
    assert!(
        out.status.success(),
        "the probe failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    AttrReport::parse(&String::from_utf8_lossy(&out.stdout))
}

/// Spawns `cmd`, which must fail in a step: returns the [`SpawnError`] and
/// the `io::Error`'s message. Panics if the spawn succeeds (after killing
/// and reaping the child) or fails some other way.
///
/// [`SpawnError`]: spawnfd::SpawnError
#[track_caller]
pub fn spawn_failure(cmd: &mut Command) -> (spawnfd::SpawnError, String) {
    match cmd.spawn() {
        Ok(mut child) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} was spawned, but it should have failed");
        }
        Err(err) => {
            let spawn = spawnfd::SpawnError::from_io(&err)
                .unwrap_or_else(|| panic!("not a SpawnError: {err:?}"))
                .clone();
            (spawn, err.to_string())
        }
    }
}

/// Spawns `cmd`, which must be refused before any process exists
/// (`InvalidInput` without a [`SpawnError`](spawnfd::SpawnError) payload):
/// returns the message.
#[track_caller]
pub fn refused(cmd: &mut Command) -> String {
    match cmd.spawn() {
        Ok(mut child) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} was spawned, but it should have been refused");
        }
        Err(err) => {
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err:?}");
            assert!(
                spawnfd::SpawnError::from_io(&err).is_none(),
                "a step failed, but the request should have been refused: {err}"
            );
            err.to_string()
        }
    }
}

/// A directory under the temporary directory, unique in this process run,
/// removed with its contents on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(tag: &str) -> ScratchDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("spawnfd-{tag}-{}-dir{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        ScratchDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether every user may execute `path`: it and each directory above it
/// have the "others" execute bit.
pub fn executable_by_anyone(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    })
}

/// The probe at a path every user can execute: the probe itself, or a copy
/// in a scratch directory (mode 0755) when the build directory is closed
/// to others. Keep the returned directory alive while the path is used.
pub fn probe_for_anyone() -> (PathBuf, Option<ScratchDir>) {
    use std::os::unix::fs::PermissionsExt;
    let probe = Path::new(PROBE);
    if executable_by_anyone(probe) {
        return (probe.to_owned(), None);
    }
    let dir = ScratchDir::new("probe-copy");
    let copy = dir.path().join("spawnfd-probe");
    std::fs::copy(probe, &copy).expect("copy the probe");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the probe's directory");
    assert!(
        executable_by_anyone(&copy),
        "{} is not reachable by every user; set TMPDIR to a directory that is",
        copy.display()
    );
    (copy, Some(dir))
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Why a child cannot be created in new namespaces `ns` here, if it cannot:
/// tries it once with the probe and returns the kernel's refusal.
pub fn unshare_unavailable(ns: spawnfd::Namespaces) -> Option<String> {
    let mut cmd = probe();
    cmd.unshare(ns)
        .stdin(spawnfd::Stdio::null())
        .stdout(spawnfd::Stdio::null())
        .stderr(spawnfd::Stdio::null());
    match cmd.status() {
        Ok(status) => {
            assert!(status.success(), "the probe failed in {ns:?}: {status}");
            None
        }
        // A time namespace on the clone fallback (a forced path, or an old
        // kernel): the library says why.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
            Some(format!("new {ns:?} namespaces are unsupported here: {e}"))
        }
        Err(e) => match spawnfd::SpawnError::from_io(&e) {
            Some(failure) if failure.step() == spawnfd::Step::Clone => {
                Some(format!("new {ns:?} namespaces are not permitted here: {e}"))
            }
            _ => panic!("spawn in new {ns:?} namespaces: {e}"),
        },
    }
}

/// Spawns `cmd`, which must fail at `step` with `errno`: returns the
/// [`SpawnError`](spawnfd::SpawnError) and the message.
#[track_caller]
pub fn expect_step(
    cmd: &mut Command,
    step: spawnfd::Step,
    errno: i32,
) -> (spawnfd::SpawnError, String) {
    let (failure, message) = spawn_failure(cmd);
    assert_eq!(failure.step(), step, "{message}");
    assert_eq!(failure.raw_os_error(), Some(errno), "{message}");
    (failure, message)
}

/// Capability numbers (`linux/capability.h`) for [`has_capability`].
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SYS_CHROOT: u32 = 18;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_NICE: u32 = 23;
pub const CAP_SYS_RESOURCE: u32 = 24;

/// Whether this process has capability `cap` in its effective set (root
/// in a container may lack some).
pub fn has_capability(cap: u32) -> bool {
    status_field("/proc/self/status", "CapEff:") & (1 << cap) != 0
}

// --- Waiting and reaping (the wait, reaper, childset, private_children and
// pidfd tests) ------------------------------------------------------------

/// How long a test waits for something that must happen (a child told to
/// exit exiting, the reaper catching up): only a guard against hanging
/// forever when the library is broken, far above what any of it needs.
pub const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(120);

/// A command for `sh -c 'read line; exit CODE'` with a piped stdin: a child
/// that runs until its stdin pipe is closed, whatever the machine's load,
/// and then exits with `code`.
pub fn until_stdin_closed(code: u8) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("read line; exit {code}")])
        .stdin(spawnfd::Stdio::piped())
        .stdout(spawnfd::Stdio::null())
        .stderr(spawnfd::Stdio::null());
    cmd
}

/// Spawns `cmd` (which must have a piped stdin) and takes the parent's end
/// of the stdin pipe out of the `Child`, so that the child keeps running
/// through `wait_timeout` and the like (which close the `Child`'s stdin)
/// until the returned end is dropped.
#[track_caller]
pub fn spawn_held(cmd: &mut Command) -> (Child, std::process::ChildStdin) {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let stdin = child.stdin.take().expect("the command has a piped stdin");
    (child, stdin)
}

/// `poll`s `fd` for `POLLIN` for at most `timeout` and returns whether it
/// became readable (`EINTR` is retried).
pub fn poll_readable(fd: impl AsFd, timeout: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut pfd = libc::pollfd {
            fd: fd.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd that outlives the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return pfd.revents & libc::POLLIN != 0;
        }
        let err = io::Error::last_os_error();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "poll: {err}");
    }
}

/// Evaluates `done` every few milliseconds until it holds; panics naming
/// `what` if it still does not after [`HANG_GUARD`].
#[track_caller]
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "still waiting, after {HANG_GUARD:?}, for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes integers only.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Field `n` (counting from 1, as man 5 proc does: 3 is the state) of
/// `/proc/PID/stat`; `None` if there is no such process (any more).
pub fn stat_field(pid: u32, n: usize) -> Option<String> {
    assert!(n >= 3, "fields 1 and 2 are the pid and the command");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields 3 and on come
    // after its last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n - 3).map(str::to_owned)
}

/// This process's child processes as `(pid, state)`: every process whose
/// parent is us, zombies (`Z`) included.
pub fn children_of_self() -> Vec<(u32, char)> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("list /proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            // A process may be gone by the time we read it: skip it then.
            let ppid = stat_field(pid, 4)?;
            let state = stat_field(pid, 3)?.chars().next()?;
            (ppid == me).then_some((pid, state))
        })
        .collect()
}

/// As [`isolated_command`], as a `spawnfd::Command`: for running the test
/// with what only this crate offers (new namespaces, mapped fds).
pub fn isolated_spawnfd_command(test: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(isolated_args(test)).env(ISOLATED, test);
    cmd
}

/// Runs `cmd` (from [`isolated_spawnfd_command`] for `test`) to completion,
/// asserts that the test passed, and passes on the lines in which it said
/// why it skipped a part (those holding `skipped:`).
#[track_caller]
pub fn run_isolated_spawnfd(test: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("re-run the test binary for {test}: {e}"));
    assert_isolated_passed(test, out.status, &out.stdout, &out.stderr);
    relay_skips(&out.stdout);
}

/// Prints the lines of an isolated run's output that hold `skipped:`.
pub fn relay_skips(output: &[u8]) {
    for line in String::from_utf8_lossy(output).lines() {
        if let Some((_, reason)) = line.split_once("skipped:") {
            eprintln!("skipped (in the isolated run):{reason}");
        }
    }
}

/// Runs `test` alone in a new process, asserts that it passed, and passes
/// on its `skipped:` lines.
#[track_caller]
pub fn run_isolated_relaying_skips(test: &str) {
    let out = isolated_command(test)
        .output()
        .expect("re-run the test binary");
    assert_isolated_passed(test, out.status, &out.stdout, &out.stderr);
    relay_skips(&out.stdout);
}

// --- Cgroups and forced mechanism paths -------------------------------------

/// A new cgroup v2 directory below ours, removed on drop (once the
/// children in it have been reaped).
pub struct TestCgroup {
    pub dir: PathBuf,
    /// Its path as `/proc/PID/cgroup` shows it.
    pub name: String,
}

impl TestCgroup {
    /// Creates the cgroup, or says why it cannot.
    pub fn create() -> Result<TestCgroup, String> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("mountinfo: {e}"))?;
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS… - FSTYPE SOURCE …"
        let mount = mountinfo
            .lines()
            .find_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                let fields: Vec<&str> = left.split(' ').collect();
                let cgroup2 = right.split(' ').next() == Some("cgroup2");
                if !cgroup2 || fields.get(3) != Some(&"/") {
                    return None;
                }
                fields.get(4).map(PathBuf::from)
            })
            .ok_or("no cgroup2 file system is mounted (at its root)")?;
        let ours = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup: {e}"))?
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
            .ok_or("this process is in no cgroup v2")?;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let leaf = format!("spawnfd-test-{}-{n}", std::process::id());
        let name = format!("{}/{leaf}", ours.trim_end_matches('/'));
        let dir = mount.join(name.trim_start_matches('/'));
        std::fs::create_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(TestCgroup { dir, name })
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}

/// The mechanism path this process was forced onto by `spawnfd-paths`
/// (`SPAWNFD_FORCED_PATH`), if any.
pub fn forced_path() -> Option<String> {
    std::env::var("SPAWNFD_FORCED_PATH").ok()
}

/// Whether the forced path has children watched by pid (`sys::watch`):
/// no `CLONE_PIDFD` (`no-pidfd`, `kernel-4x`) or no `waitid(P_PIDFD)`
/// (`no-waitid-pidfd`). There the child's fd is an exit fd (a pipe that
/// becomes readable when the child has exited), not a pidfd, and a child
/// has no zombie phase: its watcher reaps it when it exits, after which
/// `send_signal` is `ESRCH`.
pub fn watched_by_pid() -> bool {
    matches!(
        forced_path().as_deref(),
        Some("no-pidfd" | "no-waitid-pidfd" | "kernel-4x")
    )
}

/// Whether the forced path has no pidfds at all (`pidfd_open` is `ENOSYS`,
/// `clone` refuses `CLONE_PIDFD`): a status another reaper took is lost
/// (`ECHILD`), none being kept for a pidfd.
pub fn no_pidfds() -> bool {
    matches!(forced_path().as_deref(), Some("no-pidfd" | "kernel-4x"))
}

/// Whether the forced path refuses `PIDFD_SIGNAL_PROCESS_GROUP` (a group
/// signal through a pidfd, Linux 6.9): `old-kernel`, and the paths
/// without pidfds.
pub fn no_group_signal() -> bool {
    no_pidfds() || forced_path().as_deref() == Some("old-kernel")
}

/// Says that (part of) `test` does not apply on this path, and why.
pub fn skipped(test: &str, why: &str) {
    println!("skipped: {test}: {why}");
}

/// Whether `fd` is a pipe (the exit fd of a child watched by pid).
pub fn is_pipe(fd: BorrowedFd<'_>) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|t| t.to_string_lossy().starts_with("pipe:["))
}

/// A process that is not our child (a grandchild, an orphan), watched for
/// its end: through a pidfd (`pidfd_open`) where the kernel has them, else
/// (the `no-pidfd` paths, `pidfd_open` refused with `ENOSYS`) by its pid
/// and its start time (`/proc/PID/stat`), so that a process that took over
/// the pid is not taken for it.
pub enum ProcessWatch {
    Pidfd(OwnedFd),
    Pid { pid: i32, start: u64 },
}

/// Field 22 of `/proc/PID/stat` (the start time) and field 3 (the state).
fn stat_start_and_state(pid: i32) -> Option<(u64, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Fields from 3 on: field N is fields[N - 3].
    let start = fields.get(22 - 3)?.parse().ok()?;
    Some((start, state))
}

impl ProcessWatch {
    /// Starts watching process `pid`, which must exist.
    #[track_caller]
    pub fn open(pid: i32) -> ProcessWatch {
        // SAFETY: pidfd_open with integer arguments.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: a new fd that nothing else owns.
            return ProcessWatch::Pidfd(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let err = io::Error::last_os_error();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::ENOSYS),
            "pidfd_open({pid}): {err}"
        );
        let (start, _) =
            stat_start_and_state(pid).unwrap_or_else(|| panic!("process {pid} does not exist"));
        ProcessWatch::Pid { pid, start }
    }

    /// Whether the process has exited (a zombie or gone) within `ms`
    /// milliseconds.
    pub fn exited_within(&self, ms: i32) -> bool {
        match self {
            ProcessWatch::Pidfd(fd) => {
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                let n = unsafe { libc::poll(&mut pfd, 1, ms) };
                n == 1 && pfd.revents & libc::POLLIN != 0
            }
            &ProcessWatch::Pid { pid, start } => {
                let deadline =
                    std::time::Instant::now() + std::time::Duration::from_millis(ms.max(0) as u64);
                loop {
                    match stat_start_and_state(pid) {
                        Some((now, state)) if now == start && !matches!(state, 'Z' | 'X') => {}
                        _ => return true,
                    }
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
    }
}

impl ProcessWatch {
    /// Sends `SIGKILL` to the process (by pid only while its start time
    /// says it is still the same process).
    pub fn kill(&self) {
        match self {
            ProcessWatch::Pidfd(fd) => {
                // SAFETY: pidfd_send_signal on a pidfd we hold.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        0,
                        0,
                    )
                };
            }
            &ProcessWatch::Pid { pid, start } => {
                if stat_start_and_state(pid).is_some_and(|(now, _)| now == start) {
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

/// Asserts that `child` has been reaped (`what` says by what): its pidfd
/// names no process any more (`pidfd_getpid` is `ESRCH`). Where children
/// are watched by pid its fd is an exit fd (a pipe), which names no
/// process at all: there the fd is readable (its watcher wrote its byte
/// after the reap) and a signal reaches nobody (`ESRCH`, never a process
/// that took over the pid).
#[track_caller]
pub fn assert_reaped(child: &Child, what: &str) {
    if watched_by_pid() {
        assert!(is_pipe(child.pidfd()), "{what}: the exit fd is no pipe");
        assert!(
            poll_readable(child.pidfd(), std::time::Duration::ZERO),
            "{what}: the exit fd is not readable"
        );
        let cont = spawnfd::Signal::new(libc::SIGCONT).expect("SIGCONT");
        assert_eq!(
            child.send_signal(cont).unwrap_err().raw_os_error(),
            Some(libc::ESRCH),
            "{what}: the child was not reaped"
        );
    } else {
        assert_eq!(
            spawnfd::pidfd_getpid(child.pidfd())
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ESRCH),
            "{what}: the child was not reaped"
        );
    }
}

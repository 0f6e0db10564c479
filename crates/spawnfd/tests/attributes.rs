//! The child attributes beyond std's, each checked from inside the real
//! child (the probe reports its own `/proc/self` view): session and process
//! group, file mode mask, working directory by fd, resource limits,
//! niceness, CPU affinity, root directory, parent-death signal,
//! `no_new_privs`, ignored signals and cgroup. Every failing step is
//! triggered once, with its `Step` and errno; every refused request is
//! refused before any process exists.
//!
//! Nothing here changes this process's own limits, dispositions or session:
//! the scenarios that must (a lowered hard limit, a parent that dies) run in
//! a process of their own ([`support::run_isolated`]). Tests that need root,
//! a cgroup v2 hierarchy or user namespaces skip with a printed reason
//! where those are missing.

mod support;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio as StdStdio;

use spawnfd::{
    Child, Command, Namespaces, RLIM_INFINITY, Resource, Signal, SignalSet, Stdio, Step,
};
use support::{
    CAP_SETGID, CAP_SETUID, CAP_SYS_CHROOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, PROBE, ProcessWatch,
    ScratchDir, TestCgroup, assert_isolated_passed, attr_probe, attr_probe_at, expect_step,
    has_capability, in_isolated_run, isolated_command, probe_for_anyone, refused, run_attrs,
    run_isolated, sig_bit, status_field, unshare_unavailable,
};

/// A `sleep` that lasts until the test is done with it: killed and reaped
/// on drop.
struct Sleeper(Child);

impl Sleeper {
    /// Starts `sleep` with what `configure` sets (a group, a session).
    fn spawn(configure: impl FnOnce(&mut Command) -> &mut Command) -> Sleeper {
        let mut cmd = Command::new("sleep");
        cmd.arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = configure(&mut cmd).spawn().expect("spawn sleep");
        Sleeper(child)
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This process's session id.
fn our_session() -> i64 {
    // SAFETY: getsid(0) asks about ourselves and cannot fail.
    i64::from(unsafe { libc::getsid(0) })
}

// --- Session and process group ---------------------------------------------

#[test]
fn setsid_makes_the_child_a_session_and_group_leader_without_a_terminal() {
    let r = run_attrs(attr_probe().setsid(true));
    let pid = i64::from(r.pid);
    assert_eq!(r.stat("session"), pid);
    assert_eq!(r.stat("pgrp"), pid);
    assert_eq!(
        r.stat("tty_nr"),
        0,
        "a new session has no controlling terminal"
    );
}

#[test]
fn process_group_zero_makes_a_new_group_in_our_session() {
    let r = run_attrs(attr_probe().process_group(0));
    assert_eq!(r.stat("pgrp"), i64::from(r.pid));
    assert_eq!(r.stat("session"), our_session());
}

#[test]
fn process_group_joins_the_group_of_a_sibling() {
    let sibling = Sleeper::spawn(|cmd| cmd.process_group(0));
    let r = run_attrs(attr_probe().process_group(sibling.pid()));
    assert_ne!(r.pid, sibling.pid());
    assert_eq!(r.stat("pgrp"), i64::from(sibling.pid()));
    assert_eq!(r.stat("session"), our_session());
}

#[test]
fn process_group_of_another_session_fails_with_eperm() {
    // The sibling leads a group of its own session: setpgid may only join
    // groups of the caller's session.
    let sibling = Sleeper::spawn(|cmd| cmd.setsid(true));
    let pgid = sibling.pid();
    let (failure, message) = expect_step(
        attr_probe().process_group(pgid),
        Step::ProcessGroup,
        libc::EPERM,
    );
    assert_eq!(failure.id(), Some(i64::from(pgid)));
    assert_eq!(
        message,
        format!("spawn {PROBE:?}: setpgid {pgid}: Operation not permitted (os error 1)")
    );
}

#[test]
fn setsid_with_a_process_group_or_a_negative_group_is_refused() {
    let message = refused(attr_probe().setsid(true).process_group(0));
    assert!(message.contains("conflict"), "{message}");
    let message = refused(attr_probe().process_group(-3));
    assert!(
        message.contains("process group -3 is negative"),
        "{message}"
    );
}

// --- File mode mask and working directory ----------------------------------

#[test]
fn umask_is_set() {
    let r = run_attrs(attr_probe().umask(0o027));
    assert_eq!(r.status("Umask"), "0027");
    let r = run_attrs(attr_probe().umask(0));
    assert_eq!(r.status("Umask"), "0000");
}

#[test]
fn umask_beyond_permission_bits_is_refused() {
    let message = refused(attr_probe().umask(0o1000));
    assert!(message.contains("umask 0o1000"), "{message}");
}

#[test]
fn current_dir_fd_is_the_working_directory() {
    let dir = ScratchDir::new("cwd-fd");
    let expected = dir.path().canonicalize().expect("canonicalize");
    let opened = File::open(dir.path()).expect("open the directory");
    let r = run_attrs(attr_probe().current_dir_fd(opened));
    assert_eq!(Path::new(&r.cwd), expected);
}

#[test]
fn current_dir_fd_of_a_regular_file_fails_with_enotdir() {
    let file = File::open(PROBE).expect("open a regular file");
    let fd = file.as_raw_fd();
    let (failure, message) = expect_step(
        attr_probe().current_dir_fd(file),
        Step::Chdir,
        libc::ENOTDIR,
    );
    assert_eq!(failure.fd(), Some(fd), "{message}");
    assert_eq!(failure.path(), None, "{message}");
}

// --- Resource limits -------------------------------------------------------

#[test]
fn every_limit_is_reported_under_its_library_name() {
    let r = run_attrs(&mut attr_probe());
    let reported: BTreeSet<&str> = r.limits.keys().map(String::as_str).collect();
    let named: BTreeSet<&str> = (0..16)
        .filter_map(Resource::new)
        .map(Resource::name)
        .collect();
    assert_eq!(reported, named);
}

#[test]
fn rlimits_are_set_and_a_later_one_replaces_an_earlier_one() {
    let r = run_attrs(
        attr_probe()
            .rlimit(Resource::NOFILE, 10, 20)
            .rlimit(Resource::CORE, 0, 0)
            .rlimit(Resource::NOFILE, 100, 200),
    );
    assert_eq!(r.limit("NOFILE"), ("100", "200"));
    assert_eq!(r.limit("CORE"), ("0", "0"));
}

#[test]
fn rlimit_infinity_is_no_limit() {
    let mut ours = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `ours`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut ours) }, 0);
    if ours.rlim_max != libc::RLIM_INFINITY && !has_capability(CAP_SYS_RESOURCE) {
        eprintln!("skipped: our file size limit is finite and we lack CAP_SYS_RESOURCE");
        return;
    }
    let r = run_attrs(attr_probe().rlimit(Resource::FSIZE, 4096, RLIM_INFINITY));
    assert_eq!(r.limit("FSIZE"), ("4096", "unlimited"));
}

/// A valid fd plan must not depend on the child's new fd limit: here every
/// child fd is below it. The library sets the limits before it places the
/// fds, and placing a swap (stdout and stderr exchanged) first copies the
/// sources above every fd number in play, including a source at 900, which
/// `F_DUPFD_CLOEXEC` refuses beyond the new soft limit: the spawn fails with
/// `fd mapping (child fd 1): EINVAL`.
#[test]
fn nofile_limit_does_not_break_the_fd_plan() {
    let null = File::open("/dev/null").expect("open /dev/null");
    let high = support::place_at(&null, 900, true);
    let out = support::TempPath::new("limit-report");
    let mut cmd = attr_probe();
    cmd.env("SPAWNFD_PROBE_OUT", out.path())
        .stdout(io::stderr())
        .stderr(io::stdout())
        .fd(3, high)
        .rlimit(Resource::NOFILE, 50, 50);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(status.success(), "the probe failed: {status}");
    let report = std::fs::read_to_string(out.path()).expect("read the report");
    let r = support::AttrReport::parse(&report);
    assert_eq!(r.limit("NOFILE"), ("50", "50"));
}

#[test]
fn rlimit_with_soft_above_hard_is_refused() {
    let message = refused(attr_probe().rlimit(Resource::NOFILE, 200, 100));
    assert!(
        message.contains("rlimit NOFILE: soft limit 200 is above hard limit 100"),
        "{message}"
    );
}

#[test]
fn rlimit_nofile_beyond_nr_open_fails_with_eperm() {
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .expect("read fs.nr_open")
        .trim()
        .parse()
        .expect("fs.nr_open");
    let (failure, message) = expect_step(
        attr_probe().rlimit(Resource::NOFILE, nr_open + 1, nr_open + 1),
        Step::Rlimit,
        libc::EPERM,
    );
    assert_eq!(failure.resource(), Some(Resource::NOFILE), "{message}");
    assert!(
        message.ends_with(": setrlimit NOFILE: Operation not permitted (os error 1)"),
        "{message}"
    );
}

const RAISE_HARD_LIMIT: &str = "raise_hard_limit_scenario";

#[test]
fn privileged_child_may_raise_a_hard_limit_above_the_parents() {
    if !has_capability(CAP_SYS_RESOURCE) {
        eprintln!("skipped: raising a hard limit needs CAP_SYS_RESOURCE");
        return;
    }
    run_isolated(RAISE_HARD_LIMIT);
}

/// Lowers this (isolated) process's own fd limit, then gives the child a
/// higher hard limit than its parent has: the child does so before it
/// drops any privilege.
#[test]
#[ignore = "run in a process of its own by privileged_child_may_raise_a_hard_limit_above_the_parents"]
fn raise_hard_limit_scenario() {
    if !in_isolated_run(RAISE_HARD_LIMIT) {
        return;
    }
    let low = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    // SAFETY: setrlimit reads `low`; this process is the isolated run.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) }, 0);

    let r = run_attrs(&mut attr_probe());
    assert_eq!(r.limit("NOFILE"), ("256", "256"), "inherited as it is");
    let r = run_attrs(attr_probe().rlimit(Resource::NOFILE, 1024, 4096));
    assert_eq!(r.limit("NOFILE"), ("1024", "4096"));
}

// --- Niceness --------------------------------------------------------------

/// This process's niceness.
fn our_nice() -> i32 {
    // SAFETY: getpriority on ourselves; -1 is a valid niceness here, as
    // asking about ourselves cannot fail.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[test]
fn nice_is_set() {
    if our_nice() > 7 && !has_capability(CAP_SYS_NICE) {
        eprintln!("skipped: we run at niceness {} already", our_nice());
        return;
    }
    let r = run_attrs(attr_probe().nice(7));
    assert_eq!(r.stat("nice"), 7);
}

#[test]
fn privileged_parent_may_lower_the_childs_niceness() {
    if !has_capability(CAP_SYS_NICE) {
        eprintln!("skipped: a niceness below ours needs CAP_SYS_NICE");
        return;
    }
    let r = run_attrs(attr_probe().nice(-5));
    assert_eq!(r.stat("nice"), -5);
}

#[test]
fn niceness_out_of_range_is_refused() {
    for nice in [20, 25, -21] {
        let message = refused(attr_probe().nice(nice));
        assert!(
            message.contains(&format!("niceness {nice} is outside -20..=19")),
            "{message}"
        );
    }
}

#[test]
fn lowering_the_niceness_without_privilege_fails_with_eacces() {
    if our_nice() == -20 {
        eprintln!("skipped: we already run at niceness -20");
        return;
    }
    // In a new user namespace the child has no privilege over the
    // scheduler (CAP_SYS_NICE counts only in the initial namespace), and a
    // zero RLIMIT_NICE allows no niceness below the current one.
    if let Some(reason) = unshare_unavailable(Namespaces::USER) {
        eprintln!("skipped: {reason}");
        return;
    }
    let (failure, message) = expect_step(
        attr_probe()
            .unshare(Namespaces::USER)
            .rlimit(Resource::NICE, 0, 0)
            .nice(-20),
        Step::Nice,
        libc::EACCES,
    );
    assert_eq!(failure.id(), Some(-20), "{message}");
    assert!(
        message.ends_with(": setpriority -20: Permission denied (os error 13)"),
        "{message}"
    );
}

// --- CPU affinity ----------------------------------------------------------

/// The CPUs this process may run on.
fn our_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes a set of the size given.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(r, 0, "sched_getaffinity: {}", io::Error::last_os_error());
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads the set, `cpu` is below its size.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

#[test]
fn cpu_affinity_restricts_the_child() {
    let cpus = our_cpus();
    let first = cpus[0];
    let r = run_attrs(attr_probe().cpu_affinity(&[first]));
    assert_eq!(r.status("Cpus_allowed_list"), first.to_string());

    if let [a, b, ..] = cpus[..] {
        let r = run_attrs(attr_probe().cpu_affinity(&[b, a]));
        let expected = if b == a + 1 {
            format!("{a}-{b}")
        } else {
            format!("{a},{b}")
        };
        assert_eq!(r.status("Cpus_allowed_list"), expected);
    }
}

#[test]
fn empty_cpu_affinity_is_refused() {
    let message = refused(attr_probe().cpu_affinity(&[]));
    assert!(message.contains("CPU affinity set is empty"), "{message}");
}

#[test]
fn cpu_affinity_to_a_missing_cpu_fails_with_einval() {
    let missing = 1000;
    if our_cpus().contains(&missing) {
        eprintln!("skipped: this machine has a CPU {missing}");
        return;
    }
    let (_, message) = expect_step(
        attr_probe().cpu_affinity(&[missing]),
        Step::CpuAffinity,
        libc::EINVAL,
    );
    assert!(
        message.ends_with(": sched_setaffinity: Invalid argument (os error 22)"),
        "{message}"
    );
}

// --- Root directory --------------------------------------------------------

/// A root directory holding a copy of the probe (`/spawnfd-probe`), the
/// shared libraries `ldd` says it loads (at the same paths) and an empty
/// directory `/sub`.
struct ProbeRoot {
    dir: ScratchDir,
    /// The directories of the libraries, for `LD_LIBRARY_PATH`.
    lib_dirs: BTreeSet<PathBuf>,
}

impl ProbeRoot {
    /// Builds the root, or says why it cannot.
    fn build() -> Result<ProbeRoot, String> {
        let ldd = match std::process::Command::new("ldd").arg(PROBE).output() {
            Ok(out) => out,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err("ldd is not installed".into());
            }
            Err(e) => return Err(format!("ldd cannot be run: {e}")),
        };
        let text = String::from_utf8_lossy(&ldd.stdout);
        // "libc.so.6 => /lib/…/libc.so.6 (0x…)" and "/lib64/ld-linux….so.2
        // (0x…)"; "linux-vdso.so.1 (0x…)" is no file. A static probe gets
        // "not a dynamic executable" and a failed status.
        let libs: Vec<PathBuf> = text
            .lines()
            .filter_map(|line| {
                let path = match line.split_once("=>") {
                    Some((_, right)) => right.split_whitespace().next()?,
                    None => line.split_whitespace().next()?,
                };
                path.starts_with('/').then(|| PathBuf::from(path))
            })
            .collect();
        if !ldd.status.success() && !libs.is_empty() {
            return Err(format!("ldd failed ({}): {text}", ldd.status));
        }

        let dir = ScratchDir::new("root");
        let copy = |from: &Path, to: &Path| -> Result<(), String> {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("create {}: {e}", parent.display()))?;
            }
            std::fs::copy(from, to)
                .map(drop)
                .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
        };
        copy(Path::new(PROBE), &dir.path().join("spawnfd-probe"))?;
        let mut lib_dirs = BTreeSet::new();
        for lib in &libs {
            let inside = lib.strip_prefix("/").expect("an absolute path");
            copy(lib, &dir.path().join(inside))?;
            lib_dirs.extend(lib.parent().map(Path::to_owned));
        }
        std::fs::create_dir(dir.path().join("sub")).map_err(|e| format!("create sub: {e}"))?;
        Ok(ProbeRoot { dir, lib_dirs })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The names in the root directory, sorted.
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .expect("list the root")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The probe inside the root, with the library path it needs. Its
    /// stdin is `/dev/null` opened here: the root has no `/dev/null` for
    /// `Stdio::null()` (see
    /// `stdio_null_works_in_a_root_without_dev_null`).
    fn probe(&self) -> Command {
        let dirs: Vec<String> = self
            .lib_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let null = File::open("/dev/null").expect("open /dev/null");
        let mut cmd = attr_probe_at("/spawnfd-probe");
        cmd.env("LD_LIBRARY_PATH", dirs.join(":"))
            .stdin(null)
            .chroot(self.path());
        cmd
    }
}

#[test]
fn chroot_runs_the_child_inside_the_new_root() {
    if !has_capability(CAP_SYS_CHROOT) {
        eprintln!("skipped: chroot needs CAP_SYS_CHROOT");
        return;
    }
    let root = match ProbeRoot::build() {
        Ok(root) => root,
        Err(reason) => {
            eprintln!("skipped: cannot build a root for the probe: {reason}");
            return;
        }
    };
    let r = run_attrs(root.probe().current_dir("/"));
    assert_eq!(r.cwd, "/");
    assert_eq!(r.rootdir, root.entries(), "the child's / is the new root");
    assert_eq!(r.root, None, "the new root has no /proc");

    // The working directory is resolved inside the new root.
    let r = run_attrs(root.probe().current_dir("/sub"));
    assert_eq!(r.cwd, "/sub");
}

/// `Stdio::null()` (the stdin of `output()`) should give the child
/// `/dev/null` whatever its root, as std does, which opens it in the
/// parent. The library opens it in the child after the chroot, so the
/// spawn fails with `open /dev/null (child fd 0): ENOENT` in a root that
/// has no `/dev/null`.
#[test]
fn stdio_null_works_in_a_root_without_dev_null() {
    if !has_capability(CAP_SYS_CHROOT) {
        eprintln!("skipped: chroot needs CAP_SYS_CHROOT");
        return;
    }
    let root = match ProbeRoot::build() {
        Ok(root) => root,
        Err(reason) => {
            eprintln!("skipped: cannot build a root for the probe: {reason}");
            return;
        }
    };
    let r = run_attrs(root.probe().stdin(Stdio::null()).current_dir("/"));
    assert_eq!(r.cwd, "/");
}

/// `detach_terminal` is a no-op without a controlling terminal, but in a
/// root without `/dev/tty` the library's `open("/dev/tty")`, made after the
/// chroot, fails with `ENOENT` (only `ENXIO` is taken as "no terminal"), and
/// the spawn fails with `detach terminal: ENOENT`.
#[test]
fn detach_terminal_works_in_a_root_without_dev_tty() {
    if !has_capability(CAP_SYS_CHROOT) {
        eprintln!("skipped: chroot needs CAP_SYS_CHROOT");
        return;
    }
    let root = match ProbeRoot::build() {
        Ok(root) => root,
        Err(reason) => {
            eprintln!("skipped: cannot build a root for the probe: {reason}");
            return;
        }
    };
    let r = run_attrs(root.probe().detach_terminal(true).current_dir("/"));
    assert_eq!(r.stat.get("tty_nr"), None, "no /proc in the new root");
    assert_eq!(r.cwd, "/");
}

#[test]
fn chroot_to_a_missing_directory_fails_with_enoent() {
    let dir = "/nonexistent-spawnfd-root";
    let (failure, message) = expect_step(attr_probe().chroot(dir), Step::Chroot, libc::ENOENT);
    assert_eq!(failure.path(), Some(Path::new(dir)));
    assert_eq!(
        message,
        format!("spawn {PROBE:?}: chroot {dir:?}: No such file or directory (os error 2)")
    );
}

// --- Parent-death signal ---------------------------------------------------

#[test]
fn parent_death_signal_is_set_in_the_child() {
    let r = run_attrs(&mut attr_probe());
    assert_eq!(r.pdeathsig, 0, "none by default");
    let r = run_attrs(attr_probe().parent_death_signal(Signal::TERM));
    assert_eq!(r.pdeathsig, libc::SIGTERM);
}

#[test]
fn parent_death_signal_survives_the_change_of_user() {
    if !(has_capability(CAP_SETUID) && has_capability(CAP_SETGID)) {
        eprintln!("skipped: changing the user needs CAP_SETUID and CAP_SETGID");
        return;
    }
    // A credential change clears the parent-death signal: the library sets
    // it afterwards.
    let (probe, _copy) = probe_for_anyone();
    let r = run_attrs(
        attr_probe_at(&probe)
            .uid(65534)
            .gid(65534)
            .parent_death_signal(Signal::TERM),
    );
    assert_eq!(r.status("Uid"), "65534 65534 65534 65534");
    assert_eq!(r.pdeathsig, libc::SIGTERM);
}

const INTERMEDIATE: &str = "parent_death_intermediate";

/// The parent pid of process `pid`, from `/proc/PID/stat`.
fn ppid_of(pid: i32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read the stat");
    let (_, rest) = stat.rsplit_once(')').expect("stat: command");
    rest.split_whitespace()
        .nth(1)
        .expect("stat: ppid")
        .parse()
        .expect("ppid")
}

#[test]
fn parent_death_signal_kills_the_child_when_its_parent_dies() {
    let mut intermediate = isolated_command(INTERMEDIATE)
        .stdin(StdStdio::piped())
        .stdout(StdStdio::piped())
        .stderr(StdStdio::piped())
        .spawn()
        .expect("start the intermediate");
    let mut stdout = BufReader::new(intermediate.stdout.take().expect("stdout"));
    let mut output = String::new();
    let sleeper = loop {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("read the intermediate");
        assert_ne!(
            n, 0,
            "the intermediate ended without naming its child:\n{output}"
        );
        output.push_str(&line);
        // The test harness may have written "test … ... " on that line first.
        if let Some((_, pid)) = line.trim().rsplit_once("sleeper ") {
            break pid.parse::<i32>().expect("the sleeper's pid");
        }
    };
    // The sleeper is the intermediate's child, not yet reaped: its pid
    // cannot name anyone else.
    assert_eq!(ppid_of(sleeper), intermediate.id());
    // A pidfd where the path has them, else its pid and start time.
    let watch = ProcessWatch::open(sleeper);

    // Let the intermediate finish: the thread that spawned the sleeper ends.
    drop(intermediate.stdin.take());
    stdout
        .read_to_string(&mut output)
        .expect("read the intermediate");
    let mut errors = String::new();
    let mut stderr = intermediate.stderr.take().expect("stderr");
    stderr
        .read_to_string(&mut errors)
        .expect("read the intermediate");
    let status = intermediate.wait().expect("wait for the intermediate");
    assert_isolated_passed(INTERMEDIATE, status, output.as_bytes(), errors.as_bytes());

    // `sleep 1000` does not end by itself: only the signal ends it. The
    // bound only keeps a broken library from hanging the test.
    assert!(
        watch.exited_within(60_000),
        "the child of the dead intermediate is still alive after 60 s"
    );
}

/// Spawns `sleep` with `SIGKILL` as its parent-death signal, prints its
/// pid, and returns once stdin is closed: the spawning thread then ends.
#[test]
#[ignore = "run in a process of its own by parent_death_signal_kills_the_child_when_its_parent_dies"]
fn parent_death_intermediate() {
    if !in_isolated_run(INTERMEDIATE) {
        return;
    }
    let sleeper = Command::new("sleep")
        .arg("1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .parent_death_signal(Signal::KILL)
        .spawn()
        .expect("spawn sleep");
    println!("sleeper {}", sleeper.id());
    let _ = io::stdin().read_to_end(&mut Vec::new());
}

// --- no_new_privs and ignored signals --------------------------------------

#[test]
fn no_new_privs_is_set_only_when_asked() {
    let r = run_attrs(&mut attr_probe());
    assert_eq!(r.status("NoNewPrivs"), "0");
    let r = run_attrs(attr_probe().no_new_privs(true));
    assert_eq!(r.status("NoNewPrivs"), "1");
}

#[test]
fn ignore_signals_ignores_exactly_those() {
    let set = SignalSet::empty().with(Signal::USR1).with(Signal::HUP);
    let r = run_attrs(attr_probe().ignore_signals(set));
    assert_eq!(
        SignalSet::from_raw(r.sigign),
        set,
        "SIGPIPE, which the test process ignores, is reset"
    );

    // Kept ignored signals and requested ones add up.
    let ours = status_field("/proc/self/status", "SigIgn:");
    assert_ne!(
        ours & sig_bit(libc::SIGPIPE),
        0,
        "the Rust runtime ignores SIGPIPE"
    );
    let r = run_attrs(
        attr_probe()
            .reset_ignored_signals(false)
            .ignore_signals(set),
    );
    assert_eq!(
        SignalSet::from_raw(r.sigign),
        SignalSet::from_raw(ours | set.as_raw())
    );
}

#[test]
fn ignoring_sigkill_or_sigstop_is_refused() {
    for sig in [Signal::KILL, Signal::STOP] {
        let set = SignalSet::empty().with(Signal::USR1).with(sig);
        let message = refused(attr_probe().ignore_signals(set));
        assert!(
            message.contains(&format!("{sig:?} cannot be ignored")),
            "{message}"
        );
    }
}

// --- cgroup ----------------------------------------------------------------

/// Runs the probe as `configure` sets it up, into `cgroup`; `None` (after
/// printing why) if the kernel refuses the cgroup as a place for a process.
fn run_in_cgroup(
    cgroup: &TestCgroup,
    configure: impl FnOnce(&mut Command) -> &mut Command,
) -> Option<support::AttrReport> {
    let mut cmd = attr_probe();
    configure(&mut cmd);
    match cmd.output() {
        Ok(out) => {
            assert!(out.status.success(), "the probe failed: {}", out.status);
            Some(support::AttrReport::parse(&String::from_utf8_lossy(
                &out.stdout,
            )))
        }
        Err(e) => {
            let failure = spawnfd::SpawnError::from_io(&e);
            let refused = failure.is_some_and(|f| {
                f.step() == Step::Clone
                    && matches!(
                        f.raw_os_error(),
                        Some(libc::EBUSY | libc::EOPNOTSUPP | libc::EACCES | libc::EPERM)
                    )
            });
            assert!(refused, "spawn into {}: {e}", cgroup.dir.display());
            eprintln!(
                "skipped: the kernel refuses a process in {}: {e}",
                cgroup.dir.display()
            );
            None
        }
    }
}

#[test]
fn cgroup_starts_the_child_in_that_cgroup() {
    let cgroup = match TestCgroup::create() {
        Ok(cgroup) => cgroup,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    // On every path: through CLONE_INTO_CGROUP where the kernel has it,
    // else the child joins the cgroup before any other step.
    let Some(r) = run_in_cgroup(&cgroup, |cmd| cmd.cgroup(&cgroup.dir)) else {
        return;
    };
    assert_eq!(
        r.cgroup_v2(),
        Some(cgroup.name.as_str()),
        "{:#?}",
        r.cgroups
    );

    let opened = File::open(&cgroup.dir).expect("open the cgroup");
    let Some(r) = run_in_cgroup(&cgroup, |cmd| cmd.cgroup_fd(opened)) else {
        return;
    };
    assert_eq!(
        r.cgroup_v2(),
        Some(cgroup.name.as_str()),
        "{:#?}",
        r.cgroups
    );

    // In a new cgroup namespace too, whose root is that cgroup.
    if unshare_unavailable(Namespaces::CGROUP).is_none() {
        let r = run_in_cgroup(&cgroup, |cmd| {
            cmd.cgroup(&cgroup.dir).unshare(Namespaces::CGROUP)
        })
        .expect("the same cgroup as above");
        assert_eq!(r.cgroup_v2(), Some("/"), "{:#?}", r.cgroups);
    }
}

#[test]
fn cgroup_that_is_missing_or_not_a_cgroup_is_refused() {
    let message = refused(attr_probe().cgroup("/nonexistent-spawnfd-cgroup"));
    assert!(message.contains("cgroup directory"), "{message}");

    let tmp = std::env::temp_dir();
    let message = refused(attr_probe().cgroup(&tmp));
    assert!(
        message.ends_with("is not a cgroup v2 directory"),
        "{message}"
    );
    let opened = File::open(&tmp).expect("open the temporary directory");
    let message = refused(attr_probe().cgroup_fd(opened));
    assert!(
        message.ends_with("is not a cgroup v2 directory"),
        "{message}"
    );
}

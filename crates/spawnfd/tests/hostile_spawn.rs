//! The spawn path against a process that does not hold still: seccomp
//! filters that force the fallbacks, signal storms, threads that change
//! handlers and the environment, odd credentials and fd tables.
//!
//! Each case changes process-wide state, so each runs in a process of its
//! own (a re-run of this test binary, in a process group of its own so that
//! its signal storms reach nobody else) and under a watchdog: a spawn that
//! hangs fails the test instead of the whole run.

mod support;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spawnfd::{ChildSet, Command, IdMap, Namespaces, SpawnError, Step};
use support::seccomp::{self, Refuse};
use support::{
    ISOLATED, fd_target, in_isolated_run, is_root, isolated_command, probe, relay_skips, run_probe,
    unshare_unavailable,
};

/// Runs the ignored test `test` in a new process (and process group),
/// failing if it fails or takes longer than `limit`.
#[track_caller]
fn run_guarded(test: &str, limit: Duration) {
    let mut cmd = isolated_command(test);
    cmd.process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("re-run the test binary");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("poll the isolated run").is_none() {
        if Instant::now() > deadline {
            // SAFETY: kill with a negative pid: the isolated run's own
            // process group, which only it and its children are in.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let out = child.wait_with_output().expect("reap the isolated run");
            panic!(
                "{test} hung for {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect the isolated run");
    support::assert_isolated_passed(test, out.status, &out.stdout, &out.stderr);
    relay_skips(&out.stdout);
}

fn refuse_clone3(errno: i32) -> io::Result<()> {
    seccomp::install(&[Refuse::errno(libc::SYS_clone3, errno)])
}

/// Pins the calling thread to CPU 0, where the parent and child of a
/// spawn take turns instead of running side by side.
fn pin_to_cpu0() {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU 0 is within the set's size; sched_setaffinity reads it.
    unsafe {
        libc::CPU_SET(0, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set),
            0
        );
    }
}

fn map(inside: u32, outside: u32) -> [IdMap; 1] {
    [IdMap {
        inside,
        outside,
        count: 1,
    }]
}

/// Sends `sig` to this process's group until dropped: as fast as it can,
/// or with a pause between signals.
struct Storm {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Storm {
    fn new(sig: i32) -> Storm {
        Storm::paced(sig, Duration::ZERO)
    }

    fn paced(sig: i32, pause: Duration) -> Storm {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: kill(0, sig): this process group, which the
                // isolated run owns.
                unsafe { libc::kill(0, sig) };
                sent += 1;
                if !pause.is_zero() {
                    std::thread::sleep(pause);
                }
            }
            sent
        });
        Storm {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The fds this process has open.
fn open_fds() -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// Gives this process `n` supplementary groups (root only), with ten-digit
/// ids, so that 500 of them push the signal lines of `/proc/self/status`
/// past its first 4096 bytes.
fn set_many_groups(n: u32) -> bool {
    let groups: Vec<libc::gid_t> = (1_000_000_000..1_000_000_000 + n).collect();
    // SAFETY: `groups` holds `n` gids.
    unsafe { libc::setgroups(groups.len(), groups.as_ptr()) == 0 }
}

// ---------------------------------------------------------------------------

const USERNS_ON_CLONE: &str = "user_namespaces_on_the_clone_fallback_isolated";

/// Defect: the `clone` fallback handed the child a pointer into the
/// parent's stack; without `CLONE_VFORK` (user namespaces) the parent went
/// on and reused it: most spawns died of SIGSEGV, all of them on one CPU.
#[test]
fn user_namespaces_on_the_clone_fallback() {
    run_guarded(USERNS_ON_CLONE, Duration::from_secs(120));
}

#[test]
#[ignore = "run in a process of its own by user_namespaces_on_the_clone_fallback"]
fn user_namespaces_on_the_clone_fallback_isolated() {
    if !in_isolated_run(USERNS_ON_CLONE) {
        return;
    }
    if let Some(why) = unshare_unavailable(Namespaces::USER) {
        println!("skipped: {why}");
        return;
    }
    refuse_clone3(libc::ENOSYS).expect("install the seccomp filter");
    for pinned in [false, true] {
        if pinned {
            pin_to_cpu0();
        }
        for i in 0..100 {
            let status = Command::new("true")
                .unshare(Namespaces::USER)
                .uid_map(&map(0, 0))
                .gid_map(&map(0, 0))
                .status()
                .unwrap_or_else(|e| panic!("spawn {i} (pinned: {pinned}): {e}"));
            assert!(status.success(), "spawn {i} (pinned: {pinned}): {status}");
        }
    }
    // The child really was in a new user namespace with its map.
    let r = support::run_attrs(
        support::attr_probe()
            .unshare(Namespaces::USER)
            .uid_map(&map(0, 0)),
    );
    assert_eq!(r.uid_map, ["0 0 1"]);
    assert_ne!(
        r.ns.get("user").map(String::as_str),
        std::fs::read_link("/proc/self/ns/user")
            .ok()
            .as_deref()
            .and_then(|p| p.to_str())
    );
}

// ---------------------------------------------------------------------------

const DUMPABLE: &str = "credentials_leave_the_parent_dumpable_isolated";

/// Defect: a child changing uid/gid on the memory it shares with the parent
/// made the kernel reset the parent's dumpable flag, for good.
#[test]
fn credentials_leave_the_parent_dumpable() {
    run_guarded(DUMPABLE, Duration::from_secs(60));
}

#[test]
#[ignore = "run in a process of its own by credentials_leave_the_parent_dumpable"]
fn credentials_leave_the_parent_dumpable_isolated() {
    if !in_isolated_run(DUMPABLE) {
        return;
    }
    if !is_root() {
        println!("skipped: changing a child's uid needs root");
        return;
    }
    let dumpable = || {
        // SAFETY: prctl with an integer option.
        unsafe { libc::prctl(libc::PR_GET_DUMPABLE) }
    };
    assert_eq!(dumpable(), 1, "this test process starts dumpable");
    let r = support::run_attrs(support::attr_probe().uid(65534).gid(65534));
    assert_eq!(r.status["Uid"], "65534 65534 65534 65534");
    assert_eq!(
        dumpable(),
        1,
        "a child's setuid made the parent non-dumpable"
    );
    // A failed credential change leaves it alone too.
    let status = Command::new("true").gid(65534).uid(65534).status().unwrap();
    assert!(status.success());
    assert_eq!(dumpable(), 1);
    // What the flag guards: a later child's id maps can still be written.
    if let Some(why) = unshare_unavailable(Namespaces::USER) {
        println!("skipped: the uid_map part: {why}");
        return;
    }
    let r = support::run_attrs(
        support::attr_probe()
            .unshare(Namespaces::USER)
            .uid_map(&map(0, 65534)),
    );
    assert_eq!(r.uid_map, ["0 65534 1"]);
}

// ---------------------------------------------------------------------------

const TRACED_STORM: &str = "traced_children_survive_a_signal_storm_isolated";

/// Defect: a signal queued while a `ptrace_traceme` child had its signals
/// blocked stopped it for its tracer at the mask step, and the tracer was
/// the spawning thread, suspended until exec: the spawn hung forever.
#[test]
fn traced_children_survive_a_signal_storm() {
    run_guarded(TRACED_STORM, Duration::from_secs(120));
}

#[test]
#[ignore = "run in a process of its own by traced_children_survive_a_signal_storm"]
fn traced_children_survive_a_signal_storm_isolated() {
    if !in_isolated_run(TRACED_STORM) {
        return;
    }
    if support::status_field("/proc/self/status", "TracerPid:") != 0 {
        println!("skipped: this test is itself traced, and a tracee cannot trace");
        return;
    }
    // SIGWINCH is ignored by default: the storm harms nobody, but a traced
    // child stops for each one that reaches it, and needs its tracer to go
    // on. (Unpaced, a storm would stop it again before it could take a
    // step: a tracee makes progress only as fast as its tracer resumes it.)
    let storm = Storm::paced(libc::SIGWINCH, Duration::from_micros(20));
    for i in 0..200 {
        let mut child = Command::new("true")
            .ptrace_traceme(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {i}: {e}"));
        // It exec'd: the first stop is the SIGTRAP of exec (or a SIGWINCH
        // that came after it); end it.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "child {i}: {status}");
    }
    let sent = storm.stop();
    println!("{sent} SIGWINCH sent during 200 traced spawns");
    assert!(sent > 0);
}

// ---------------------------------------------------------------------------

const CLOEXEC_STDIO: &str = "close_on_exec_standard_fds_are_not_inherited_isolated";

/// Defect: with fd 0 closed, a library fd (a pidfd, a ChildSet's epoll fd)
/// or any close-on-exec fd took number 0 and the next child inherited it as
/// its stdin.
#[test]
fn close_on_exec_standard_fds_are_not_inherited() {
    run_guarded(CLOEXEC_STDIO, Duration::from_secs(60));
}

#[test]
#[ignore = "run in a process of its own by close_on_exec_standard_fds_are_not_inherited"]
fn close_on_exec_standard_fds_are_not_inherited_isolated() {
    if !in_isolated_run(CLOEXEC_STDIO) {
        return;
    }
    // SAFETY: closes this process's stdin, which this test alone uses.
    unsafe { libc::close(0) };

    // Library fds never take the free number.
    let set = ChildSet::new().unwrap();
    assert!(
        std::os::fd::AsFd::as_fd(&set).as_raw_fd() > 2,
        "ChildSet's epoll fd"
    );
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    assert!(sleeper.pidfd().as_raw_fd() > 2, "a pidfd");
    let r = run_probe(&mut probe());
    assert_eq!(r.fd(0).target, "/dev/null", "fd 0 closed in the parent");

    // An application's close-on-exec fd on 0 is not stdin either.
    // SAFETY: open with a literal path; the fd is owned below.
    let fd = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    assert_eq!(fd, 0, "the lowest free number");
    // SAFETY: a fresh fd owned by nobody else.
    let dir = unsafe { OwnedFd::from_raw_fd(fd) };
    let r = run_probe(&mut probe());
    r.assert_fd(0, "/dev/null");

    // A real stdin (not close-on-exec) is inherited as it is.
    let file = std::fs::File::open("/dev/zero").unwrap();
    drop(dir);
    // SAFETY: dup2 onto the free fd 0, which becomes ours; dup2 leaves
    // the new fd without FD_CLOEXEC.
    assert_eq!(unsafe { libc::dup2(file.as_raw_fd(), 0) }, 0);
    let r = run_probe(&mut probe());
    r.assert_fd(0, "/dev/zero");
    assert_eq!(fd_target(0), "/dev/zero");

    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

// ---------------------------------------------------------------------------

const HANDLER_RACE: &str = "handlers_installed_meanwhile_never_run_in_the_child_isolated";

/// How many times a handler ran in a process other than the test's.
static RAN_IN_CHILD: AtomicUsize = AtomicUsize::new(0);
static TEST_PID: AtomicUsize = AtomicUsize::new(0);

extern "C" fn counting_handler(_: libc::c_int) {
    // SAFETY: getpid is async-signal-safe (the raw call: no cached pid).
    let pid = unsafe { libc::syscall(libc::SYS_getpid) } as usize;
    if pid != TEST_PID.load(Ordering::Relaxed) {
        RAN_IN_CHILD.fetch_add(1, Ordering::Relaxed);
    }
}

fn set_handler(sig: i32, handler: libc::sighandler_t) {
    // SAFETY: an all-zero sigaction with a handler and an empty mask.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

/// Defect: without `CLONE_CLEAR_SIGHAND` (the `clone` fallback), the child
/// reset the handlers of a snapshot taken before the clone; a handler
/// another thread installed after it ran in the child, on the parent's
/// memory. (The snapshot was also cut at 4096 bytes, so a process with
/// hundreds of groups lost its `SigCgt` line.)
#[test]
fn handlers_installed_meanwhile_never_run_in_the_child() {
    run_guarded(HANDLER_RACE, Duration::from_secs(120));
}

#[test]
#[ignore = "run in a process of its own by handlers_installed_meanwhile_never_run_in_the_child"]
fn handlers_installed_meanwhile_never_run_in_the_child_isolated() {
    if !in_isolated_run(HANDLER_RACE) {
        return;
    }
    TEST_PID.store(std::process::id() as usize, Ordering::Relaxed);
    if is_root() {
        assert!(set_many_groups(500));
    }
    refuse_clone3(libc::ENOSYS).expect("install the seccomp filter");
    // SIGUSR2 flips between ignored and caught; never default here, so the
    // storm cannot kill this process.
    set_handler(libc::SIGUSR2, libc::SIG_IGN);
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                set_handler(
                    libc::SIGUSR2,
                    counting_handler as *const () as libc::sighandler_t,
                );
                set_handler(libc::SIGUSR2, libc::SIG_IGN);
            }
        })
    };
    let storm = Storm::new(libc::SIGUSR2);
    let mut killed = 0;
    for i in 0..2000 {
        // Ignored signals are kept, so a snapshot saying "ignored" meant
        // "leave it alone".
        let status = Command::new("true")
            .reset_ignored_signals(false)
            .status()
            .unwrap_or_else(|e| panic!("spawn {i}: {e}"));
        match status.signal() {
            Some(libc::SIGUSR2) => killed += 1,
            _ => assert!(status.success(), "child {i}: {status}"),
        }
    }
    let sent = storm.stop();
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    println!("2000 spawns, {sent} SIGUSR2 sent, {killed} children killed by one");
    assert_eq!(
        RAN_IN_CHILD.load(Ordering::Relaxed),
        0,
        "a parent's handler ran in a child"
    );
    // And the child's dispositions are clean, read from inside it.
    set_handler(
        libc::SIGUSR1,
        counting_handler as *const () as libc::sighandler_t,
    );
    let r = run_probe(&mut probe());
    assert_eq!(r.sigign, 0);
}

// ---------------------------------------------------------------------------

const MANY_GROUPS: &str = "many_groups_leak_no_status_fd_isolated";

/// Defect: with a status file longer than 4096 bytes, each spawn opened
/// `/proc/self/status` again and kept the fd: 100 spawns, 100 fds.
#[test]
fn many_groups_leak_no_status_fd() {
    run_guarded(MANY_GROUPS, Duration::from_secs(60));
}

#[test]
#[ignore = "run in a process of its own by many_groups_leak_no_status_fd"]
fn many_groups_leak_no_status_fd_isolated() {
    if !in_isolated_run(MANY_GROUPS) {
        return;
    }
    if !is_root() {
        println!("skipped: setting 500 supplementary groups needs root");
        return;
    }
    assert!(set_many_groups(500));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let sigign = status.find("SigIgn:").unwrap();
    assert!(sigign > 4096, "SigIgn at byte {sigign}");
    // SIGHUP ignored: the child must get it reset, read past the first page.
    set_handler(libc::SIGHUP, libc::SIG_IGN);
    assert!(Command::new("true").status().unwrap().success());
    let before = open_fds();
    for _ in 0..100 {
        assert!(Command::new("true").status().unwrap().success());
    }
    assert_eq!(open_fds(), before, "fds leaked by 100 spawns");
    let r = run_probe(&mut probe());
    assert_eq!(r.sigign, 0, "SIGHUP reset in the child");
}

// ---------------------------------------------------------------------------

const HISTORY: &str = "the_method_does_not_depend_on_history_isolated";

/// Defect: with clone3 refused, whether a spawn with namespaces worked
/// depended on whether a plain spawn had run first (which cached the
/// fallback); a first spawn with namespaces reported the refusal.
#[test]
fn the_method_does_not_depend_on_history() {
    run_guarded(HISTORY, Duration::from_secs(60));
}

#[test]
#[ignore = "run in a process of its own by the_method_does_not_depend_on_history"]
fn the_method_does_not_depend_on_history_isolated() {
    if !in_isolated_run(HISTORY) {
        return;
    }
    if !is_root() {
        println!("skipped: a new UTS namespace needs root");
        return;
    }
    // Docker's older profiles: clone3 refused with EPERM.
    refuse_clone3(libc::EPERM).expect("install the seccomp filter");
    // The very first spawn asks for a namespace.
    let r = support::run_attrs(support::attr_probe().unshare(Namespaces::UTS));
    assert_ne!(
        r.ns.get("uts").map(String::as_str),
        std::fs::read_link("/proc/self/ns/uts")
            .ok()
            .as_deref()
            .and_then(|p| p.to_str()),
        "the child is in a new UTS namespace"
    );
    // Then plain ones and namespaces again, all on the fallback.
    assert!(Command::new("true").status().unwrap().success());
    assert!(
        Command::new("true")
            .unshare(Namespaces::UTS)
            .status()
            .unwrap()
            .success()
    );
}

// ---------------------------------------------------------------------------

const ENV_RACE: &str = "spawns_race_set_var_safely_isolated";

/// Defect: the child was given the live `environ`, which another thread's
/// `std::env::set_var` reallocates: exec failed with EFAULT.
#[test]
fn spawns_race_set_var_safely() {
    run_guarded(ENV_RACE, Duration::from_secs(120));
}

#[test]
#[ignore = "run in a process of its own by spawns_race_set_var_safely"]
fn spawns_race_set_var_safely_isolated() {
    if !in_isolated_run(ENV_RACE) {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let changer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let value = "v".repeat(200);
            while !stop.load(Ordering::Relaxed) {
                for i in 0..64 {
                    // SAFETY: std's environment lock orders this against
                    // std's readers, which spawnfd's snapshot is one of.
                    unsafe { std::env::set_var(format!("SPAWNFD_CHURN_{i}"), &value) };
                }
                for i in 0..64 {
                    // SAFETY: as above.
                    unsafe { std::env::remove_var(format!("SPAWNFD_CHURN_{i}")) };
                }
            }
        })
    };
    let mut seen = 0;
    for i in 0..500 {
        let out = Command::new(support::PROBE)
            .stdout(spawnfd::Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("spawn {i}: {e}"));
        assert!(out.status.success(), "child {i}: {}", out.status);
        let report = support::Report::parse(&String::from_utf8(out.stdout).unwrap());
        let churn: Vec<_> = report
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("SPAWNFD_CHURN_"))
            .collect();
        // Every variable the child got is whole.
        for (key, value) in &churn {
            assert_eq!(value.len(), 200, "{key} cut in child {i}");
        }
        seen += churn.len();
        assert_eq!(report.env.get(ISOLATED).map(String::as_str), Some(ENV_RACE));
    }
    stop.store(true, Ordering::Relaxed);
    changer.join().unwrap();
    println!("500 spawns beside set_var/remove_var; {seen} changing variables seen");
}

// ---------------------------------------------------------------------------

const KILLED_IN_SETUP: &str = "children_killed_during_setup_are_spawned_isolated";

/// Defect: a child killed during its setup by a signal somebody sent (a
/// Ctrl-C, a group signal) was reported as a spawn failure at the mask
/// step; it is a spawned child whose wait reports the signal. A child that
/// dies of a fault of its own before exec is still a spawn failure.
#[test]
fn children_killed_during_setup_are_spawned() {
    run_guarded(KILLED_IN_SETUP, Duration::from_secs(120));
}

#[test]
#[ignore = "run in a process of its own by children_killed_during_setup_are_spawned"]
fn children_killed_during_setup_are_spawned_isolated() {
    if !in_isolated_run(KILLED_IN_SETUP) {
        return;
    }
    // This process survives the storm; its children, whose handlers are
    // reset, die of it.
    set_handler(
        libc::SIGUSR1,
        counting_handler as *const () as libc::sighandler_t,
    );
    let storm = Storm::new(libc::SIGUSR1);
    let mut killed = 0;
    for i in 0..500 {
        let status = Command::new("true")
            .status()
            .unwrap_or_else(|e| panic!("spawn {i} failed instead of being killed: {e}"));
        match status.signal() {
            Some(libc::SIGUSR1) => killed += 1,
            _ => assert!(status.success(), "child {i}: {status}"),
        }
    }
    let sent = storm.stop();
    println!("500 spawns, {sent} SIGUSR1 sent, {killed} children killed by one");

    // A fault of the child's own: a seccomp filter turns its setpriority
    // (the nice step) into SIGSYS. That is a failed spawn, at that step.
    seccomp::install(&[Refuse::trap(libc::SYS_setpriority)]).expect("install the seccomp filter");
    let err = Command::new("true").nice(1).spawn().unwrap_err();
    let failure = SpawnError::from_io(&err).expect("a SpawnError");
    assert_eq!(failure.step(), Step::Nice, "{err}");
    assert_eq!(failure.died_by_signal(), Some(libc::SIGSYS), "{err}");
}

// ---------------------------------------------------------------------------

const FORKED: &str = "both_sides_of_a_fork_keep_spawning_isolated";

/// A process forked while other threads spawn (and so may hold whatever
/// the spawn path holds at that instant) keeps spawning, as does its
/// parent.
#[test]
fn both_sides_of_a_fork_keep_spawning() {
    run_guarded(FORKED, Duration::from_secs(120));
}

/// Spawns the probe with fd 5 mapped and checks, from the child's report,
/// that it has exactly fds 0, 1, 2 and 5 and a clean signal slate.
fn exact_probe() -> Result<(), String> {
    let mapped: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let out = Command::new(support::PROBE)
        .fd(5, mapped)
        .stdout(spawnfd::Stdio::piped())
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    if !out.status.success() {
        return Err(format!("probe: {}", out.status));
    }
    let r = support::Report::parse(&String::from_utf8_lossy(&out.stdout));
    let fds: Vec<i32> = r.fds.keys().copied().collect();
    if fds != [0, 1, 2, 5] || r.sigblk != 0 || r.sigign != 0 {
        return Err(format!(
            "fds {fds:?} sigblk {:x} sigign {:x}",
            r.sigblk, r.sigign
        ));
    }
    Ok(())
}

#[test]
#[ignore = "run in a process of its own by both_sides_of_a_fork_keep_spawning"]
fn both_sides_of_a_fork_keep_spawning_isolated() {
    if !in_isolated_run(FORKED) {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let spawners: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    exact_probe().unwrap();
                    // A dropped running child goes to the reaper.
                    drop(Command::new("sleep").arg("0.01").spawn().unwrap());
                    n += 1;
                }
                n
            })
        })
        .collect();
    for round in 0..20 {
        std::thread::sleep(Duration::from_millis(5));
        // SAFETY: fork in a multi-threaded process: the child below only
        // spawns through the library (which takes no lock another thread
        // could have held at the fork, but std's environment lock, which
        // nothing here writes) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            let mut code = 0;
            for i in 0..10 {
                if let Err(e) = exact_probe() {
                    eprintln!("forked process {round}, spawn {i}: {e}");
                    code = 1;
                }
                drop(Command::new("sleep").arg("0.01").spawn().unwrap());
            }
            // Its own dropped children are reaped by its own reaper.
            let deadline = Instant::now() + Duration::from_secs(30);
            while spawnfd::reaper_pending() > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if spawnfd::reaper_pending() > 0 {
                eprintln!("forked process {round}: dropped children never reaped");
                code = 1;
            }
            // SAFETY: leaves the forked process without running the test
            // harness's exit path.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the process just forked, which is ours.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(status, 0, "forked process {round} failed");
    }
    stop.store(true, Ordering::Relaxed);
    let spawned: usize = spawners.into_iter().map(|t| t.join().unwrap()).sum();
    println!("20 forks beside {spawned} spawns by two threads");
    assert!(spawned > 0);
}

// ---------------------------------------------------------------------------

const ODD_SIGNALS: &str = "sigchld_ignored_and_every_signal_blocked_isolated";

/// `SIGCHLD` ignored (the kernel reaps children at once) and every signal
/// blocked in the spawning thread: the child still starts with a clean
/// slate, and its status is still known.
#[test]
fn sigchld_ignored_and_every_signal_blocked() {
    run_guarded(ODD_SIGNALS, Duration::from_secs(60));
}

#[test]
#[ignore = "run in a process of its own by sigchld_ignored_and_every_signal_blocked"]
fn sigchld_ignored_and_every_signal_blocked_isolated() {
    if !in_isolated_run(ODD_SIGNALS) {
        return;
    }
    set_handler(libc::SIGCHLD, libc::SIG_IGN);
    // SAFETY: an all-ones signal set for this thread's mask.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut()),
            0
        );
    }
    exact_probe().unwrap();
    let r = run_probe(&mut probe());
    assert_eq!(r.sigblk, 0, "the child's mask");
    assert_eq!(r.sigign, 0, "SIGCHLD reset in the child");
    // Reaped by the kernel, yet the status is known (Linux 6.15 keeps it
    // for the pidfd).
    let status = Command::new("sh").args(["-c", "exit 7"]).status();
    match status {
        Ok(status) => assert_eq!(status.code(), Some(7)),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
            println!("skipped: the status part: this kernel keeps no exit status for pidfds");
        }
        Err(e) => panic!("{e}"),
    }
}

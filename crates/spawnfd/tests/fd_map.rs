//! The child's fd table, as the child itself sees it: exactly 0, 1, 2 and
//! the fds given with `Command::fd`, placed by any permutation, without
//! `FD_CLOEXEC`, whatever other threads open meanwhile; `Stdio` kinds;
//! refused mappings.
//!
//! Tests in this file run in parallel threads of one process, so each test
//! that places fds at chosen numbers uses a range of its own, far above the
//! numbers `open` hands out.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use proptest::prelude::*;
use spawnfd::{Command, Stdio};
use support::{
    TempPath, assert_isolated_passed, dup_leaky, fd_target, has_children, has_cloexec,
    in_isolated_run, isolated_command, memfd, open_leaky, pipe_end, place_at, probe, run_isolated,
    run_probe, spawn_probe,
};

/// What this process has at 0, 1 and 2, which a child inherits by default.
fn own_std_targets() -> [String; 3] {
    [0, 1, 2].map(fd_target)
}

#[track_caller]
fn assert_fd_numbers(report: &support::Report, expected: impl IntoIterator<Item = RawFd>) {
    let expected: BTreeSet<RawFd> = expected.into_iter().collect();
    assert_eq!(
        report.fd_numbers(),
        expected,
        "child fds: {:#?}",
        report.fds
    );
}

#[test]
fn default_child_has_only_the_standard_fds() {
    // Fds a careless library leaves open without O_CLOEXEC: at low numbers
    // and at a high one.
    let leaky = [
        open_leaky(),
        dup_leaky(io::stdout()),
        dup_leaky(io::stderr()),
    ];
    let high = place_at(open_leaky(), 300, false);
    let cloexec = File::open("/dev/null").unwrap();
    for fd in &leaky {
        assert!(!has_cloexec(fd));
    }
    assert!(!has_cloexec(&high));

    let std_targets = own_std_targets();
    let report = run_probe(&mut probe());

    assert_fd_numbers(&report, [0, 1, 2]);
    for (fd, target) in std_targets.iter().enumerate() {
        report.assert_fd(fd as RawFd, target);
    }
    drop((leaky, high, cloexec));
}

#[test]
fn mapped_fds_are_the_same_open_files_without_cloexec() {
    let mem = memfd("spawnfd-fd-map-test");
    let pipe = pipe_end();
    let temp = TempPath::new("mapped");
    let file = File::create(temp.path()).unwrap();
    let sources: [(RawFd, OwnedFd); 3] = [(3, mem), (7, pipe), (100, file.into())];

    let mut cmd = probe();
    let mut expected = BTreeMap::new();
    for (target, source) in sources {
        assert!(has_cloexec(&source), "the test's sources are O_CLOEXEC");
        expected.insert(target, fd_target(source.as_raw_fd()));
        cmd.fd(target, source);
    }
    assert_eq!(expected[&100], temp.path().to_str().unwrap());

    let report = run_probe(&mut cmd);
    assert_fd_numbers(&report, [0, 1, 2, 3, 7, 100]);
    for (target, file) in &expected {
        report.assert_fd(*target, file);
    }
    assert!(expected[&3].starts_with("/memfd:spawnfd-fd-map-test"));
    assert!(expected[&7].starts_with("pipe:["));
}

#[test]
fn a_command_places_its_fds_in_every_child_it_spawns() {
    let pipe = pipe_end();
    let target = fd_target(pipe.as_raw_fd());
    let mut cmd = probe();
    cmd.fd(9, pipe);
    for _ in 0..3 {
        let report = run_probe(&mut cmd);
        assert_fd_numbers(&report, [0, 1, 2, 9]);
        report.assert_fd(9, &target);
    }
}

/// Places a distinct pipe at each number; returns the fds and what they
/// refer to.
fn pipes_at(numbers: &[RawFd], cloexec: bool) -> (Vec<OwnedFd>, Vec<String>) {
    numbers
        .iter()
        .map(|&n| {
            let fd = place_at(pipe_end(), n, cloexec);
            let target = fd_target(n);
            (fd, target)
        })
        .unzip()
}

#[test]
fn swapped_fds() {
    let (fds, files) = pipes_at(&[520, 521], true);
    let [a, b]: [OwnedFd; 2] = fds.try_into().unwrap();
    // child 520 <- parent 521, child 521 <- parent 520
    let report = run_probe(probe().fd(520, b).fd(521, a));
    assert_fd_numbers(&report, [0, 1, 2, 520, 521]);
    report.assert_fd(520, &files[1]);
    report.assert_fd(521, &files[0]);
}

#[test]
fn three_cycle() {
    let (fds, files) = pipes_at(&[530, 531, 532], false);
    let [a, b, c]: [OwnedFd; 3] = fds.try_into().unwrap();
    // child 530 <- 531, 531 <- 532, 532 <- 530
    let report = run_probe(probe().fd(530, b).fd(531, c).fd(532, a));
    assert_fd_numbers(&report, [0, 1, 2, 530, 531, 532]);
    report.assert_fd(530, &files[1]);
    report.assert_fd(531, &files[2]);
    report.assert_fd(532, &files[0]);
}

#[test]
fn source_at_its_own_number_loses_cloexec() {
    let (fds, files) = pipes_at(&[540, 541], true);
    let [same, other]: [OwnedFd; 2] = fds.try_into().unwrap();
    assert!(has_cloexec(&same));
    // 540 stays where it is; 542 <- 541 next to it.
    let report = run_probe(probe().fd(540, same).fd(542, other));
    assert_fd_numbers(&report, [0, 1, 2, 540, 542]);
    report.assert_fd(540, &files[0]);
    report.assert_fd(542, &files[1]);
}

#[test]
fn one_file_at_several_numbers() {
    let file = pipe_end();
    let target = fd_target(file.as_raw_fd());
    let copies = [file.try_clone().unwrap(), file.try_clone().unwrap()];
    let [c1, c2] = copies;
    let report = run_probe(probe().fd(4, file).fd(11, c1).fd(60, c2));
    assert_fd_numbers(&report, [0, 1, 2, 4, 11, 60]);
    for fd in [4, 11, 60] {
        report.assert_fd(fd, &target);
    }
}

#[test]
fn mapped_fd_may_replace_a_standard_fd() {
    let mem = memfd("spawnfd-as-stdout");
    let target = fd_target(mem.as_raw_fd());
    let std_targets = own_std_targets();
    let report = run_probe(probe().fd(1, mem));
    assert_fd_numbers(&report, [0, 1, 2]);
    report.assert_fd(0, &std_targets[0]);
    report.assert_fd(1, &target);
    report.assert_fd(2, &std_targets[2]);
}

/// The standard fds of this process as sources, in a process whose fds 0,
/// 1 and 2 are three different files so that the child's can be told apart.
#[test]
fn standard_fds_as_sources() {
    let files = ["stdin", "stdout", "stderr"].map(TempPath::new);
    for f in &files {
        File::create(f.path()).unwrap();
    }
    let test = "standard_fds_as_sources_isolated";
    let status = isolated_command(test)
        .stdin(File::open(files[0].path()).unwrap())
        .stdout(File::create(files[1].path()).unwrap())
        .stderr(File::create(files[2].path()).unwrap())
        .status()
        .unwrap();
    let stdout = std::fs::read(files[1].path()).unwrap();
    let stderr = std::fs::read(files[2].path()).unwrap();
    assert_isolated_passed(test, status, &stdout, &stderr);
}

#[test]
#[ignore = "run by standard_fds_as_sources in a process of its own"]
fn standard_fds_as_sources_isolated() {
    if !in_isolated_run("standard_fds_as_sources_isolated") {
        return;
    }
    let [t0, t1, t2] = own_std_targets();
    assert!(t0 != t1 && t1 != t2 && t0 != t2, "{t0} {t1} {t2}");

    // Swap 1 and 2: each source is the other's target.
    let r = run_probe(
        probe()
            .stdout(Stdio::from(io::stderr()))
            .stderr(Stdio::from(io::stdout())),
    );
    assert_fd_numbers(&r, [0, 1, 2]);
    r.assert_fd(0, &t0);
    r.assert_fd(1, &t2);
    r.assert_fd(2, &t1);

    // Our fd 1 goes to child fd 0 while child fd 1 is a new pipe.
    let run = spawn_probe(
        probe()
            .stdin(Stdio::from(io::stdout()))
            .stdout(Stdio::piped()),
    );
    let pipe = fd_target(run.child.stdout.as_ref().unwrap().as_raw_fd());
    let r = run.report();
    r.assert_fd(0, &t1);
    r.assert_fd(1, &pipe);
    r.assert_fd(2, &t2);

    // Our fd 2 goes to child fd 1 while child fd 2 is a mapped memfd.
    let mem = memfd("spawnfd-as-stderr");
    let mem_target = fd_target(mem.as_raw_fd());
    let r = run_probe(probe().stdout(Stdio::from(io::stderr())).fd(2, mem));
    assert_fd_numbers(&r, [0, 1, 2]);
    r.assert_fd(0, &t0);
    r.assert_fd(1, &t2);
    r.assert_fd(2, &mem_target);

    // One source number, fd 2, at all three child numbers.
    let r = run_probe(
        probe()
            .stdin(Stdio::from(io::stderr()))
            .stdout(Stdio::from(io::stderr()))
            .stderr(Stdio::from(io::stderr())),
    );
    assert_fd_numbers(&r, [0, 1, 2]);
    for fd in 0..3 {
        r.assert_fd(fd, &t2);
    }

    // A copy of our stdout at child fd 5, and a pipe at child fd 1.
    let run = spawn_probe(
        probe()
            .fd(5, dup_leaky(io::stdout()))
            .stdout(Stdio::piped()),
    );
    let pipe = fd_target(run.child.stdout.as_ref().unwrap().as_raw_fd());
    let r = run.report();
    assert_fd_numbers(&r, [0, 1, 2, 5]);
    r.assert_fd(1, &pipe);
    r.assert_fd(5, &t1);

    // An inherited standard fd that is close-on-exec is not the parent's
    // stdio (real stdio never is; a library's fd that took a free low
    // number is): the child gets /dev/null there, as for a closed one.
    for fd in [0, 2] {
        // SAFETY: sets a flag on a standard fd of this process, which only
        // this test uses here.
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) },
            0
        );
    }
    let r = run_probe(&mut probe());
    assert_fd_numbers(&r, [0, 1, 2]);
    r.assert_fd(0, "/dev/null");
    r.assert_fd(1, &t1);
    r.assert_fd(2, "/dev/null");
    // SAFETY: as above, clearing the flag again.
    unsafe { libc::fcntl(0, libc::F_SETFD, 0) };
    // SAFETY: as above.
    unsafe { libc::fcntl(2, libc::F_SETFD, 0) };

    // The borrowed standard fds are still ours, unchanged.
    assert_eq!(own_std_targets(), [t0, t1, t2]);
    writeln!(io::stdout(), "standard fds as sources: checked").unwrap();
}

#[test]
fn stdio_null_gives_dev_null() {
    let r = run_probe(
        probe()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert_fd_numbers(&r, [0, 1, 2]);
    for fd in 0..3 {
        r.assert_fd(fd, "/dev/null");
    }
}

#[test]
fn stdio_piped_gives_the_other_end_of_each_pipe() {
    let mut run = spawn_probe(
        probe()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let child = &mut run.child;
    let ends = [
        fd_target(child.stdin.as_ref().unwrap().as_raw_fd()),
        fd_target(child.stdout.as_ref().unwrap().as_raw_fd()),
        fd_target(child.stderr.as_ref().unwrap().as_raw_fd()),
    ];
    assert!(ends.iter().all(|e| e.starts_with("pipe:[")), "{ends:?}");
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let r = run.report();
    assert_fd_numbers(&r, [0, 1, 2]);
    for (fd, end) in ends.iter().enumerate() {
        r.assert_fd(fd as RawFd, end);
    }
    // The report went to a file: the pipes carry nothing but EOF.
    assert_eq!(io::read_to_string(stdout).unwrap(), "");
    assert_eq!(io::read_to_string(stderr).unwrap(), "");
}

#[test]
fn stdio_from_file_gives_that_file() {
    let input = TempPath::new("stdin");
    let output = TempPath::new("stdout");
    std::fs::write(input.path(), "input").unwrap();
    let r = run_probe(
        probe()
            .stdin(File::open(input.path()).unwrap())
            .stdout(File::create(output.path()).unwrap())
            .stderr(Stdio::inherit()),
    );
    assert_fd_numbers(&r, [0, 1, 2]);
    r.assert_fd(0, input.path().to_str().unwrap());
    r.assert_fd(1, output.path().to_str().unwrap());
    r.assert_fd(2, &fd_target(2));
}

/// A spawn refused before any process exists leaves no child behind; run
/// alone, so that no other test's children are counted.
#[test]
fn invalid_child_fds_are_refused() {
    run_isolated("invalid_child_fds_are_refused_isolated");
}

#[test]
#[ignore = "run by invalid_child_fds_are_refused in a process of its own"]
fn invalid_child_fds_are_refused_isolated() {
    if !in_isolated_run("invalid_child_fds_are_refused_isolated") {
        return;
    }
    assert!(!has_children());
    let cases: [(&str, Command); 4] = [
        ("negative", {
            let mut c = probe();
            c.fd(-1, pipe_end());
            c
        }),
        ("repeated", {
            let mut c = probe();
            c.fd(7, pipe_end()).fd(3, pipe_end()).fd(7, pipe_end());
            c
        }),
        ("repeated standard fd", {
            let mut c = probe();
            c.fd(0, pipe_end()).fd(0, pipe_end());
            c
        }),
        ("both fd(2) and stderr()", {
            let mut c = probe();
            c.fd(2, pipe_end()).stderr(Stdio::null());
            c
        }),
    ];
    for (what, mut cmd) in cases {
        let err = cmd.spawn().expect_err(what);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{what}: {err}");
        assert!(!has_children(), "{what}: a child was created");
        assert_eq!(
            cmd.status().unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            cmd.output().unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(!has_children(), "{what}: a child was created");
    }

    // The check sees a child when there is one: one that runs until it is
    // killed (where children are watched by pid, one that exits at once
    // may be reaped by its watcher before the check looks).
    let mut sleeper = Command::new("sleep");
    sleeper.arg("1000").fd(3, pipe_end());
    let mut child = sleeper.spawn().expect("spawn sleep");
    assert!(has_children());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!has_children());
}

/// A standard fd given both by `fd()` and by `stdin()`, `stdout()` or
/// `stderr()` is refused, whichever it is.
#[test]
fn standard_fd_given_twice_is_refused() {
    let mut refused = Vec::new();
    for fd in 0..3 {
        let mut cmd = probe();
        cmd.env("SPAWNFD_PROBE_OUT", "/dev/null").fd(fd, pipe_end());
        match fd {
            0 => cmd.stdin(Stdio::null()),
            1 => cmd.stdout(Stdio::null()),
            _ => cmd.stderr(Stdio::null()),
        };
        let kind = match cmd.spawn() {
            Ok(mut child) => {
                child.wait().unwrap();
                None
            }
            Err(e) => Some(e.kind()),
        };
        refused.push((fd, kind));
    }
    let expected: Vec<_> = (0..3)
        .map(|fd| (fd, Some(io::ErrorKind::InvalidInput)))
        .collect();
    assert_eq!(refused, expected, "(child fd, error kind; None: spawned)");
}

/// `output()` captures stdout and stderr only where no fd was given: a
/// mapped fd 1 or 2 stays the mapped file.
#[test]
fn mapped_standard_fd_is_not_replaced_by_output_capture() {
    for fd in [1, 2] {
        let mem = memfd("spawnfd-mapped-under-output");
        let target = fd_target(mem.as_raw_fd());
        let out = TempPath::new("report");
        let output = probe()
            .env("SPAWNFD_PROBE_OUT", out.path())
            .fd(fd, mem)
            .output()
            .unwrap();
        assert!(output.status.success());
        let report = support::Report::parse(&std::fs::read_to_string(out.path()).unwrap());
        assert_fd_numbers(&report, [0, 1, 2]);
        report.assert_fd(0, "/dev/null");
        report.assert_fd(fd, &target);
    }
}

/// While another thread keeps opening fds without O_CLOEXEC, every child
/// still gets exactly the planned fds.
#[test]
fn fds_opened_concurrently_do_not_leak() {
    let stop = Arc::new(AtomicBool::new(false));
    let leaker = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) || rounds == 0 {
                let mut fds = [0; 2];
                // SAFETY: `fds` has room for two fds.
                assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
                let leaky = [open_leaky(), dup_leaky(io::stderr())];
                for fd in fds {
                    // SAFETY: the fds pipe() just made, closed once.
                    unsafe { libc::close(fd) };
                }
                drop(leaky);
                rounds += 1;
            }
            rounds
        }
    });

    for i in 0..200 {
        let pipe = pipe_end();
        let file = fd_target(pipe.as_raw_fd());
        let report = run_probe(probe().fd(3, pipe).stdin(Stdio::null()));
        assert_eq!(
            report.fd_numbers(),
            BTreeSet::from([0, 1, 2, 3]),
            "spawn {i}: {:#?}",
            report.fds
        );
        report.assert_fd(0, "/dev/null");
        report.assert_fd(3, &file);
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = leaker.join().unwrap();
    assert!(rounds > 0);
}

/// A random mapping: each child target gets a source placed at its own
/// number; several sources may share one pipe; sources and targets overlap,
/// so swaps, cycles and identities arise.
#[derive(Clone, Debug)]
struct Mapping {
    /// (child target, parent source number, which pipe, source FD_CLOEXEC)
    slots: Vec<(RawFd, RawFd, usize, bool)>,
}

/// The range this test places its sources in.
const PROP_RANGE: std::ops::Range<RawFd> = 700..724;

fn mapping() -> impl Strategy<Value = Mapping> {
    let targets = proptest::collection::btree_set(prop_oneof![0..6, PROP_RANGE], 1..10);
    targets.prop_flat_map(|targets| {
        let n = targets.len();
        let numbers: Vec<RawFd> = PROP_RANGE.collect();
        (
            Just(targets),
            proptest::sample::subsequence(numbers, n).prop_shuffle(),
            proptest::collection::vec(0..3usize, n),
            proptest::collection::vec(any::<bool>(), n),
        )
            .prop_map(|(targets, sources, pipes, cloexec)| Mapping {
                slots: targets
                    .into_iter()
                    .zip(sources)
                    .zip(pipes.into_iter().zip(cloexec))
                    .map(|((t, s), (p, c))| (t, s, p, c))
                    .collect(),
            })
    })
}

fn check_mapping(mapping: &Mapping) -> Result<(), TestCaseError> {
    let pipes = [pipe_end(), pipe_end(), pipe_end()];
    let std_targets = own_std_targets();
    let mut cmd = probe();
    let mut expected: BTreeMap<RawFd, String> = (0..3)
        .map(|fd| (fd, std_targets[fd as usize].clone()))
        .collect();
    for &(target, source, pipe, cloexec) in &mapping.slots {
        let fd = place_at(pipes[pipe].as_fd(), source, cloexec);
        expected.insert(target, fd_target(source));
        cmd.fd(target, fd);
    }
    drop(pipes);

    let report = run_probe(&mut cmd);
    let got: BTreeMap<RawFd, String> = report
        .fds
        .iter()
        .map(|(&fd, e)| (fd, e.target.clone()))
        .collect();
    prop_assert_eq!(got, expected);
    prop_assert!(report.fds.values().all(|e| !e.cloexec), "{:#?}", report.fds);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_mapping_gives_exactly_the_mapped_fds(mapping in mapping()) {
        check_mapping(&mapping)?;
    }
}

//! The C tests under valgrind (memcheck): no memory errors, no definite
//! leaks (the C program's allocations or libspawnfd's), no fd left open
//! at exit (`--track-fds=yes`; the C tests check `/proc/self/fd`
//! themselves too), in the programs and in any process valgrind forks for
//! them. Skipped where valgrind is not installed.
//!
//! Valgrind implements neither `clone3` (ENOSYS: the library falls back
//! to `clone`) nor `pidfd_open`/`pidfd_send_signal` (ENOSYS), and it runs
//! `clone(CLONE_VM | CLONE_VFORK)` as a fork: it drops `CLONE_VM` (the
//! kernel sees `CLONE_PIDFD | CLONE_VFORK | SIGCHLD`), so the child runs in
//! a copy of the parent's memory and its report never reaches the parent.
//! `tests/c/spawn_once.c` runs first: where its spawn is refused, the full
//! C tests (which need spawns to work) are skipped, saying why, and only
//! `spawn_once`'s own run is judged. See the README's "Testing".

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The options under test. `--error-exitcode` makes a memory error or a
/// definite leak the exit status; the logs are read too, since a child of
/// the program (valgrind runs the library's vfork child as a fork) is a
/// valgrind process of its own whose status the program may not pass on.
const VALGRIND: &[&str] = &[
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--track-fds=yes",
];

/// A program that outlives this was hung (all of them take a few seconds).
const TIME_LIMIT: Duration = Duration::from_secs(90);

struct Run {
    name: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The program's own valgrind log, then those of processes forked.
    main_log: String,
    other_logs: Vec<(PathBuf, String)>,
}

fn valgrind_run(name: &str) -> Run {
    let exe = common::compile(name);
    let dir = common::scratch(&format!("valgrind-{name}"));
    let mut child = Command::new("valgrind")
        // The C programs leave out, saying so, what cannot be had there.
        .env("SPAWNFD_UNDER_VALGRIND", "1")
        .args(VALGRIND)
        .arg(format!("--log-file={}/vg.%p.log", dir.display()))
        .arg(&exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("valgrind");
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} under valgrind: still running after {TIME_LIMIT:?}, killed (a hang)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    let main_path = dir.join(format!("vg.{pid}.log"));
    let main_log = std::fs::read_to_string(&main_path)
        .unwrap_or_else(|e| panic!("{}: {e}", main_path.display()));
    let mut other_logs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path != main_path {
            let text = std::fs::read_to_string(&path).unwrap();
            other_logs.push((path, text));
        }
    }
    println!(
        "{name} under valgrind: {status} in {:.1}s, {} forked process log(s)",
        start.elapsed().as_secs_f64(),
        other_logs.len()
    );
    Run {
        name: name.to_owned(),
        code: status.code(),
        stdout,
        stderr,
        main_log,
        other_logs,
    }
}

/// The fds valgrind lists as open at exit that the process opened itself
/// (not `<inherited from parent>`); 0, 1 and 2 are not listed.
fn opened_fds(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log
        .lines()
        .map(|l| match l.split_once("== ") {
            Some((pid, rest)) if pid.starts_with("==") => rest,
            _ => l,
        })
        .collect();
    let mut open = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(fd) = line.strip_prefix("Open file descriptor ") {
            // The block runs to the next blank line.
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| !l.trim().is_empty())
                .copied()
                .collect();
            if !block.iter().any(|l| l.contains("<inherited from parent>")) {
                open.push(format!("fd {fd}\n{}", block.join("\n")));
            }
        }
    }
    open
}

/// Memcheck's verdict on one log: no errors (definite leaks count as
/// errors with `--errors-for-leak-kinds=definite`), no definite leak, no
/// fd of its own left open.
fn check_log(what: &str, log: &str, check_fds: bool) {
    assert!(
        log.contains("ERROR SUMMARY: 0 errors"),
        "{what}: memcheck found errors:\n{log}"
    );
    assert!(
        !log.contains("definitely lost in"),
        "{what}: a definite leak:\n{log}"
    );
    if check_fds {
        let open = opened_fds(log);
        assert!(
            open.is_empty(),
            "{what}: fds left open at exit:\n{}\n\n{log}",
            open.join("\n\n")
        );
    }
}

/// Memcheck's findings other than leaks in one log: invalid reads and
/// writes, uses of uninitialised values, bad frees, bad system call
/// arguments.
fn check_accesses(what: &str, log: &str) {
    const KINDS: [&str; 7] = [
        "Invalid read",
        "Invalid write",
        "Invalid free",
        "Mismatched free",
        "uninitialised",
        "Syscall param",
        "Source and destination overlap",
    ];
    let found: Vec<&str> = log
        .lines()
        .filter(|l| KINDS.iter().any(|k| l.contains(k)))
        .collect();
    assert!(
        found.is_empty(),
        "{what}: memcheck found errors:\n{}\n\n{log}",
        found.join("\n")
    );
}

impl Run {
    /// The program's exit status was its own (not 99, memcheck's), and
    /// every log is clean. `complete`: it ran to its end, so its fds are
    /// judged too (a program stopped by a failed check leaves its own
    /// open).
    fn check(&self, complete: bool) {
        assert_ne!(
            self.code,
            Some(99),
            "{}: memcheck's exit status:\n{}",
            self.name,
            self.main_log
        );
        check_log(&self.name, &self.main_log, complete);
        for (path, log) in &self.other_logs {
            // A forked copy that exec'd left only valgrind's header (it
            // runs what it exec'd natively: no --trace-children). One
            // that ended before exec (exit_group) has a summary, and the
            // parent's fds (those it had to place, a pipe of the test's):
            // only its memory accesses are judged. Not its leaks: it
            // ends with exit_group in a copy of the parent, whose other
            // threads (and their pointers) were not copied, so blocks
            // they hold look lost there.
            if log.contains("ERROR SUMMARY") {
                check_accesses(&format!("{} ({})", self.name, path.display()), log);
            }
        }
    }

    fn passed(&self) {
        print!("{}", self.stdout);
        eprint!("{}", self.stderr);
        assert_eq!(
            self.code,
            Some(0),
            "{} under valgrind failed:\n{}\n{}\n{}",
            self.name,
            self.stdout,
            self.stderr,
            self.main_log
        );
        self.check(true);
    }
}

/// `spawn_once` under valgrind, once per test process: `None` where the
/// library spawns there, otherwise its refusal.
fn refusal() -> Option<&'static str> {
    static GATE: OnceLock<Option<String>> = OnceLock::new();
    GATE.get_or_init(|| {
        let run = valgrind_run("spawn_once");
        print!("{}", run.stdout);
        eprint!("{}", run.stderr);
        assert_eq!(
            run.code,
            Some(0),
            "spawn_once under valgrind:\n{}\n{}\n{}",
            run.stdout,
            run.stderr,
            run.main_log
        );
        run.check(true);
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix("refused: "))
            .map(str::to_owned)
    })
    .as_deref()
}

fn have_valgrind() -> bool {
    if common::have("valgrind") {
        return true;
    }
    println!("skipped: valgrind not installed");
    false
}

/// One C test under valgrind, after the gate.
fn c_test(name: &str) {
    if !have_valgrind() {
        return;
    }
    if let Some(why) = refusal() {
        println!(
            "skipped: {name} under valgrind: libspawnfd cannot spawn there ({why}): \
             valgrind runs clone(CLONE_VM|CLONE_VFORK) as a fork, without CLONE_VM"
        );
        return;
    }
    valgrind_run(name).passed();
}

#[test]
fn spawn_once_under_valgrind() {
    if have_valgrind() {
        let _ = refusal();
    }
}

#[test]
fn spawn_under_valgrind() {
    c_test("spawn");
}

#[test]
fn errors_under_valgrind() {
    c_test("errors");
}

#[test]
fn wait_under_valgrind() {
    c_test("wait");
}

#[test]
fn cancellation_under_valgrind() {
    c_test("cancellation");
}

#[test]
fn posix_under_valgrind() {
    c_test("posix");
}

#[test]
fn fd_listing_is_read() {
    let log = "==7== FILE DESCRIPTORS: 5 open (3 std) at exit.\n\
               ==7== Open file descriptor 4:\n\
               ==7==    at 0x4A84B37: pipe2 (syscall-template.S:120)\n\
               ==7== \n\
               ==7== Open file descriptor 10: /dev/null\n\
               ==7==    <inherited from parent>\n\
               ==7== \n";
    let open = opened_fds(log);
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0].starts_with("fd 4:"), "{open:?}");
}

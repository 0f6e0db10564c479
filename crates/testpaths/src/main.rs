//! `spawnfd-paths`: runs a command under a forced spawn mechanism path, so
//! that the spawnfd tests exercise the fallbacks an older kernel or a
//! container's seccomp profile would make the library take.
//!
//! ```text
//! spawnfd-paths PATH -- CMD [ARGS]...   run CMD under PATH's filter
//! spawnfd-paths --list                  the paths, one line each
//! ```
//!
//! Each path is a seccomp filter, installed before CMD is exec'd and so
//! inherited by CMD, its threads and its children, and it cannot be
//! lifted. CMD's environment gets `SPAWNFD_FORCED_PATH=PATH`.
//!
//! - A call refused outright (`clone3` → `ENOSYS`, `close_range` →
//!   `ENOSYS`, `close_range` with `CLOSE_RANGE_CLOEXEC` → `EINVAL`,
//!   `clone` with `CLONE_PIDFD` → `EINVAL`, `pidfd_open`,
//!   `pidfd_send_signal` and `pidfd_getfd` → `ENOSYS`, `waitid` with
//!   `P_PIDFD` → `EINVAL`, `pidfd_send_signal` with
//!   `PIDFD_SIGNAL_PROCESS_GROUP` → `EINVAL`) is a plain BPF rule; the tool then execs CMD in
//!   its own place.
//! - A `clone3` verdict that depends on the flags or the size of `struct
//!   clone_args` (which BPF cannot read) comes from a supervisor: the tool
//!   forks CMD and answers each `clone3` notification itself (see
//!   `supervisor.rs`), exiting with CMD's status (a CMD killed by a signal
//!   is re-raised).
//!
//! `clone3-eperm` refuses only process spawns that ask for a pidfd
//! (`CLONE_PIDFD` without `CLONE_THREAD`), which is every call the library
//! makes. Refusing every `clone3` with `EPERM`, as such profiles do, would
//! break the test harness rather than test the library: glibc 2.34 and
//! newer create threads and run `posix_spawn` (and so
//! `std::process::Command`) through `clone3` and fall back to `clone` only
//! on `ENOSYS`. Under such profiles those programs only ever worked with an
//! older glibc, which never called `clone3`; letting glibc's calls through
//! is that situation. The `size` argument cannot tell the calls apart
//! (glibc passes 88 bytes, the library 64, or 88 with a cgroup).
//!
//! # Exit status
//!
//! | Status | Meaning                                            |
//! |--------|----------------------------------------------------|
//! | N      | CMD exited with status N                           |
//! | 2      | a usage error (no CMD, an unknown path)             |
//! | 125    | the filter could not be installed                  |
//! | 126    | CMD could not be run                               |
//! | 127    | CMD was not found                                  |

mod filter;
mod paths;
mod supervisor;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use paths::{Clone3, PATHS};

/// The variable naming the forced path in CMD's environment.
const PATH_ENV: &str = "SPAWNFD_FORCED_PATH";

const USAGE: &str = "usage: spawnfd-paths PATH -- CMD [ARGS]...\n       spawnfd-paths --list";

fn main() {
    std::process::exit(run(std::env::args_os().skip(1).collect()));
}

fn run(args: Vec<OsString>) -> i32 {
    let (name, cmd) = match args.split_first() {
        Some((first, rest)) if first == "--list" && rest.is_empty() => {
            list();
            return 0;
        }
        Some((first, _)) if first == "--help" || first == "-h" => {
            println!("{USAGE}\n\nPATH is one of:");
            list();
            return 0;
        }
        Some((name, rest)) => match rest.split_first() {
            Some((dashes, cmd)) if dashes == "--" && !cmd.is_empty() => (name, cmd),
            _ => return usage("expected -- CMD after PATH"),
        },
        None => return usage("no PATH given"),
    };
    let Some(path) = name.to_str().and_then(paths::find) else {
        let known: Vec<&str> = PATHS.iter().map(|p| p.name).collect();
        return usage(&format!(
            "unknown path {}; the paths are: {}",
            name.to_string_lossy(),
            known.join(", ")
        ));
    };
    let mut command = Command::new(&cmd[0]);
    command.args(&cmd[1..]).env(PATH_ENV, path.name);

    if let Clone3::Supervised(rules) = path.clone3 {
        return match supervisor::run(path, &rules, &mut command) {
            Ok(supervisor::Ended::Exited(code)) => code,
            Ok(supervisor::Ended::Signaled(sig)) => reraise(sig),
            Err(e) => {
                eprintln!("spawnfd-paths: the supervisor failed: {e}");
                125
            }
        };
    }
    if let Err(e) = filter::install(path) {
        eprintln!(
            "spawnfd-paths: cannot install the {} filter: {e}",
            path.name
        );
        return 125;
    }
    let e = command.exec();
    eprintln!(
        "spawnfd-paths: cannot run {}: {e}",
        cmd[0].to_string_lossy()
    );
    if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

fn list() {
    let width = PATHS.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in PATHS {
        println!("{:width$}  {}", p.name, p.emulates);
    }
}

fn usage(problem: &str) -> i32 {
    eprintln!("spawnfd-paths: {problem}\n{USAGE}");
    2
}

/// Dies of `sig` as the command did; 128 + `sig` if it does not kill.
fn reraise(sig: i32) -> i32 {
    // SAFETY: resetting a disposition, emptying the mask and raising a
    // signal in this single-threaded program.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    128 + sig
}

//! The fd and environment options people type, in `run` and in `exec`:
//! `--fd N`, `--pass-fds LIST` (make's jobserver, socket activation),
//! `-u/--unset`, `-i/--ignore-environment`, `-C/--chdir`, `--argv0`, and
//! the variables `--user` sets. Each test looks at PROGRAM's own state:
//! `/proc/self/environ`, `/proc/self/cmdline`, `/proc/self/cwd` and the
//! fds a shell finds open in `/proc/self/fd`.

mod common;

use std::fs::{self, File};
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{BIN, json_report, scratch_path, stderr, stdout};

/// Both subcommands: each test runs with each.
const SUBCOMMANDS: [&str; 2] = ["run", "exec"];

/// `/dev/null`, to fill fd numbers with.
const NULL: &str = "/dev/null";

/// A shell command that prints the fds open in the shell running it, from
/// 0 to 40, on one line (`[` is a builtin: /proc/self is the shell).
const LIST_FDS: &str =
    r#"n=0; while [ $n -le 40 ]; do [ -L /proc/self/fd/$n ] && printf '%s ' $n; n=$((n+1)); done"#;

/// Runs `spawnfd SUBCOMMAND ARGS...` with exactly the fds 0, 1, 2 and
/// those of `fds` (each a file opened for reading, at its number), and
/// `env` added to its environment. The library's `Command` starts it, so
/// no other fd of this test process reaches it.
fn spawnfd_with(
    subcommand: &str,
    args: &[&str],
    fds: &[(RawFd, &Path)],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = spawnfd::Command::new(BIN);
    cmd.arg(subcommand).args(args).envs(env.iter().copied());
    for &(fd, path) in fds {
        cmd.fd(fd, File::open(path).expect("open a file to pass"));
    }
    cmd.stdin(spawnfd::Stdio::null())
        .output()
        .expect("start spawnfd")
}

/// Runs `spawnfd SUBCOMMAND ARGS...` with spawnfd's environment as is.
fn spawnfd(subcommand: &str, args: &[&str]) -> Output {
    spawnfd_with(subcommand, args, &[], &[])
}

/// The fd numbers [`LIST_FDS`] printed.
fn fds_listed(out: &Output) -> Vec<u32> {
    stdout(out)
        .split_whitespace()
        .map(|fd| fd.parse().expect("an fd number"))
        .collect()
}

/// The variables of a `/proc/self/environ` that PROGRAM printed, in order.
fn environ(out: &Output) -> Vec<String> {
    out.stdout
        .split(|&b| b == 0)
        .filter(|var| !var.is_empty())
        .map(|var| String::from_utf8_lossy(var).into_owned())
        .collect()
}

/// The value of `name` in an [`environ`] list.
fn var<'a>(vars: &'a [String], name: &str) -> Option<&'a str> {
    vars.iter()
        .find_map(|v| v.strip_prefix(name)?.strip_prefix('='))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A scratch directory open to every user, with a file `data` in it.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = scratch_path("env-and-fds", name);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    fs::write(dir.join("data"), "data\n").unwrap();
    dir
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Asserts a usage error: 125, clap's message naming `flag`, and PROGRAM
/// (`touch MARKER`) not started.
fn assert_usage_error(subcommand: &str, args: &[&str], flag: &str) {
    // A directory of its own: the tests run in parallel.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let dir = scratch_dir(&format!("usage-{subcommand}-{call}"));
    let marker = dir.join("marker");
    let _ = fs::remove_file(&marker);
    let mut line: Vec<&str> = args.to_vec();
    line.extend(["--", "touch", marker.to_str().unwrap()]);
    let out = spawnfd_with(subcommand, &line, &[(4, Path::new(NULL))], &[]);
    assert_eq!(
        out.status.code(),
        Some(125),
        "{subcommand} {args:?}: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).starts_with("error: ") && stderr(&out).contains(flag),
        "{subcommand} {args:?}: {}",
        stderr(&out)
    );
    assert!(!marker.exists(), "{subcommand} {args:?}: PROGRAM ran");
}

// --fd N and --pass-fds

#[test]
fn fd_n_gives_fd_n_under_its_own_number() {
    let dir = scratch_dir("fd-n");
    let data = dir.join("data");
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &[
                "--fd",
                "5",
                "--",
                "sh",
                "-c",
                "readlink /proc/$$/fd/5; cat <&5",
            ],
            &[(5, &data)],
            &[],
        );
        assert_ok(&out, sub);
        assert_eq!(stdout(&out), format!("{}\ndata\n", data.display()), "{sub}");
    }
}

#[test]
fn pass_fds_range_passes_exactly_its_open_fds() {
    // Of 3 to 9, 4, 6 and 9 are open; 11 is open outside the range.
    let null = Path::new(NULL);
    let redirections = [(4, null), (6, null), (9, null), (11, null)];
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &["--pass-fds", "3-9", "--", "sh", "-c", LIST_FDS],
            &redirections,
            &[],
        );
        assert_ok(&out, sub);
        assert_eq!(fds_listed(&out), [0, 1, 2, 4, 6, 9], "{sub}");

        // Control: without the option, none of them.
        let out = spawnfd_with(sub, &["--", "sh", "-c", LIST_FDS], &redirections, &[]);
        assert_ok(&out, sub);
        assert_eq!(fds_listed(&out), [0, 1, 2], "{sub}: control");
    }
}

#[test]
fn pass_fds_takes_lists_repeats_and_overlaps() {
    let null = Path::new(NULL);
    let redirections = [
        (4, null),
        (6, null),
        (7, null),
        (9, null),
        (10, null),
        (12, null),
    ];
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &[
                "--pass-fds",
                "4,5-6,6",
                "--pass-fds",
                "9-10",
                "--pass-fds",
                "10",
                "--fd",
                "20=12",
                "--",
                "sh",
                "-c",
                LIST_FDS,
            ],
            &redirections,
            &[],
        );
        assert_ok(&out, sub);
        assert_eq!(fds_listed(&out), [0, 1, 2, 4, 6, 9, 10, 20], "{sub}");
    }
}

#[test]
fn pass_fds_file_is_the_same_open_file() {
    // The fd is spawnfd's own open file description, not a reopened path:
    // PROGRAM reads on from where spawnfd's fd stands.
    let dir = scratch_dir("same-file");
    fs::write(dir.join("lines"), "first\nsecond\n").unwrap();
    for sub in SUBCOMMANDS {
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"exec 7<"$1"; read -r first <&7; echo "$first"; "$0" "$2" --pass-fds 3-9 -- sh -c 'cat <&7'"#)
            .arg(BIN)
            .arg(dir.join("lines"))
            .arg(sub)
            .output()
            .unwrap();
        assert_ok(&out, sub);
        assert_eq!(stdout(&out), "first\nsecond\n", "{sub}");
    }
}

#[test]
fn pass_fds_single_closed_fd_exits_125_before_program() {
    let dir = scratch_dir("closed");
    let marker = dir.join("marker");
    for sub in SUBCOMMANDS {
        let _ = fs::remove_file(&marker);
        let out = spawnfd_with(
            sub,
            &["--pass-fds", "4,5", "--", "touch", marker.to_str().unwrap()],
            &[(4, Path::new(NULL))],
            &[],
        );
        assert_eq!(out.status.code(), Some(125), "{sub}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "spawnfd: --pass-fds 5: fd 5: Bad file descriptor (os error 9)\n",
            "{sub}"
        );
        assert!(!marker.exists(), "{sub}: PROGRAM ran");
    }
    // With --json, the usual report.
    let out = spawnfd("run", &["--json", "--pass-fds", "5", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json_report(&out)["error"]["errno"], libc::EBADF);
}

#[test]
fn bad_fd_options_are_usage_errors() {
    for sub in SUBCOMMANDS {
        for (args, flag) in [
            (&["--pass-fds", "1"][..], "--pass-fds"),
            (&["--pass-fds", "0-9"], "--pass-fds"),
            (&["--pass-fds", "2"], "always inherited"),
            (&["--pass-fds", "9-3"], "backwards"),
            (&["--pass-fds", ""], "--pass-fds"),
            (&["--pass-fds", "3,,4"], "--pass-fds"),
            (&["--pass-fds", "3-"], "--pass-fds"),
            (&["--pass-fds", "x"], "--pass-fds"),
            (&["--pass-fds", "2147483648"], "--pass-fds"),
            (&["--fd", "4x"], "--fd"),
            (&["--fd", "-4"], "'-4'"),
            (&["--fd", "4", "--pass-fds", "3-9"], "--pass-fds 3-9"),
            (&["--fd", "5=4", "--pass-fds", "3,5"], "--pass-fds 5"),
            (&["--fd", "4", "--fd", "4=1"], "only once"),
        ] {
            assert_usage_error(sub, args, flag);
        }
    }
    // The status fd may not be passed too, not even inside a range.
    assert_usage_error(
        "exec",
        &["--status-fd", "5", "--pass-fds", "3-9"],
        "--status-fd 5",
    );
    // A usage error with --json is a JSON report, --pass-fds being known to
    // take a value.
    let out = spawnfd("run", &["--pass-fds", "1", "--json", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json_report(&out)["error"]["kind"], "usage");
}

#[test]
fn huge_range_is_looked_at_only_below_the_limit() {
    // Not two billion fcntl calls: the range stops at the hard limit.
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &["--pass-fds", "3-2147483647", "--", "sh", "-c", LIST_FDS],
            &[(4, Path::new(NULL))],
            &[],
        );
        assert_ok(&out, sub);
        assert!(fds_listed(&out).contains(&4), "{sub}: {}", stdout(&out));
    }
}

// make's jobserver

/// A sub-make whose two jobs each wait for the other to have started: it
/// succeeds only if they run at the same time. The watchdog is WAIT
/// tenths of a second.
const SUB_MAKEFILE: &str = "\
all: a b
a:
\t@touch a.started; i=0; while [ ! -e b.started ]; do i=$$((i+1)); if [ $$i -gt $(WAIT) ]; then echo 'a: b never started' >&2; exit 1; fi; sleep 0.1; done
b:
\t@touch b.started; i=0; while [ ! -e a.started ]; do i=$$((i+1)); if [ $$i -gt $(WAIT) ]; then echo 'b: a never started' >&2; exit 1; fi; sleep 0.1; done
";

/// The path of GNU make, if there is one.
fn gnu_make() -> Option<(PathBuf, String)> {
    let out = Command::new("make").arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = version.lines().next()?.to_owned();
    first
        .starts_with("GNU Make")
        .then(|| (PathBuf::from("make"), first))
}

/// Runs `make -j4` in a fresh directory whose recipe runs the sub-make
/// through `spawnfd run PASS -- $(MAKE) -C sub WAIT=wait`.
fn make_through_spawnfd(name: &str, pass: &str, wait_tenths: u32) -> Option<Output> {
    let Some((make, version)) = gnu_make() else {
        eprintln!("skipped: make jobserver: GNU make is not installed");
        return None;
    };
    let dir = scratch_dir(name);
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("sub/Makefile"), SUB_MAKEFILE).unwrap();
    fs::write(
        dir.join("Makefile"),
        format!("all:\n\t{BIN} run {pass} -- $(MAKE) -C sub WAIT={wait_tenths}\n"),
    )
    .unwrap();
    let mut cmd = Command::new(make);
    cmd.arg("-j4").arg("-C").arg(&dir);
    // From 4.4 make's default jobserver is a named pipe, passed by name:
    // ask for the pipe fds this is about.
    let newer = version
        .strip_prefix("GNU Make ")
        .and_then(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            Some((parts.next()?, parts.next().unwrap_or(0)))
        })
        .is_some_and(|v| v >= (4, 4));
    if newer {
        cmd.arg("--jobserver-style=pipe");
    }
    // MAKEFLAGS from an outer make (cargo run by make) would change the
    // jobserver this test sets up.
    cmd.env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    Some(cmd.stdin(Stdio::null()).output().expect("start make"))
}

#[test]
fn make_jobserver_reaches_a_sub_make_through_pass_fds() {
    // Both recipes of the README: a range, or the fds read from MAKEFLAGS.
    let from_makeflags = r#"--pass-fds $$(echo " $$MAKEFLAGS" | sed -n 's/.*--jobserver-auth=\([0-9]*\),\([0-9]*\).*/\1,\2/p')"#;
    for (name, pass) in [
        ("make-range", "--pass-fds 3-9"),
        ("make-flags", from_makeflags),
    ] {
        let Some(out) = make_through_spawnfd(name, pass, 300) else {
            return;
        };
        assert_ok(&out, name);
        assert!(
            !stderr(&out).contains("jobserver unavailable"),
            "{name}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn make_jobserver_is_lost_without_pass_fds() {
    // Control: spawnfd closes the jobserver's fds; the sub-make says so
    // and runs one job at a time, so the two jobs never overlap.
    let Some(out) = make_through_spawnfd("make-control", "", 5) else {
        return;
    };
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("jobserver unavailable"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("never started"), "{}", stderr(&out));
}

// Socket activation

/// A fake service manager in python3: a listening socket on fd 3,
/// LISTEN_FDS=1 and LISTEN_PID set to its own pid, then it executes
/// `argv[1:]`. It prints the socket's inode first.
const ACTIVATE: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # dup2 onto itself leaves it close-on-exec
print(os.fstat(3).st_ino, flush=True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"#;

/// The check a socket-activated server makes: LISTEN_PID is its pid, and
/// fd 3 is a socket. Prints its pid and fd 3's link.
const SERVER: &str = r#"[ "$LISTEN_PID" = "$$" ] || { echo "LISTEN_PID $LISTEN_PID is not $$" >&2; exit 1; }
[ "$LISTEN_FDS" = 1 ] || exit 2
echo $$; readlink /proc/$$/fd/3"#;

fn python3() -> bool {
    let found = Command::new("python3")
        .arg("-c")
        .arg("")
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: socket activation: python3 is not installed");
    }
    found
}

#[test]
fn socket_activation_through_exec_keeps_the_pid() {
    if !python3() {
        return;
    }
    let dir = scratch_dir("listen-exec");
    let socket = dir.join("socket");
    let _ = fs::remove_file(&socket);
    let child = Command::new("python3")
        .args(["-c", ACTIVATE])
        .arg(&socket)
        .args([BIN, "exec", "--pass-fds", "3", "--", "sh", "-c", SERVER])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, "exec");
    let lines: Vec<&str> = stdout(&out).lines().collect();
    let [inode, server_pid, link] = lines[..] else {
        panic!("unexpected output: {}", stdout(&out));
    };
    assert_eq!(
        server_pid,
        pid.to_string(),
        "the server is the process python3 was"
    );
    assert_eq!(link, format!("socket:[{inode}]"));
}

#[test]
fn socket_activation_through_run_with_the_readme_recipe() {
    if !python3() {
        return;
    }
    let dir = scratch_dir("listen-run");
    let socket = dir.join("socket");
    let _ = fs::remove_file(&socket);
    // The README's recipe: pass fds 3 to 2+LISTEN_FDS, and set LISTEN_PID
    // to the server's pid in the server's own process.
    let recipe = format!(
        r#"exec "{BIN}" run --pass-fds 3-$((2+LISTEN_FDS)) -- sh -c 'LISTEN_PID=$$ exec sh -c "$0"' '{SERVER}'"#
    );
    let out = Command::new("python3")
        .args(["-c", ACTIVATE])
        .arg(&socket)
        .args(["/bin/sh", "-c", &recipe])
        .output()
        .unwrap();
    assert_ok(&out, "run");
    let lines: Vec<&str> = stdout(&out).lines().collect();
    let [inode, _server_pid, link] = lines[..] else {
        panic!("unexpected output: {}", stdout(&out));
    };
    assert_eq!(link, format!("socket:[{inode}]"));
}

// The environment

#[test]
fn unset_removes_variables_and_env_wins_over_it() {
    let env = [("SPAWNFD_A", "a"), ("SPAWNFD_B", "b"), ("SPAWNFD_C", "c")];
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &[
                "--env",
                "SPAWNFD_B=new",
                "-u",
                "SPAWNFD_A",
                "--unset",
                "SPAWNFD_B",
                "-uSPAWNFD_NOT_SET",
                "--",
                "cat",
                "/proc/self/environ",
            ],
            &[],
            &env,
        );
        assert_ok(&out, sub);
        let vars = environ(&out);
        assert_eq!(var(&vars, "SPAWNFD_A"), None, "{sub}: {vars:?}");
        assert_eq!(
            var(&vars, "SPAWNFD_B"),
            Some("new"),
            "{sub}: --env wins over -u"
        );
        assert_eq!(var(&vars, "SPAWNFD_C"), Some("c"), "{sub}: control");
    }
}

#[test]
fn ignore_environment_has_three_names() {
    for sub in SUBCOMMANDS {
        for flag in ["-i", "--ignore-environment", "--clear-env"] {
            let out = spawnfd_with(
                sub,
                &[
                    "--env",
                    "A=1",
                    flag,
                    "-u",
                    "A",
                    "--",
                    "cat",
                    "/proc/self/environ",
                ],
                &[],
                &[("SPAWNFD_INHERITED", "yes")],
            );
            assert_ok(&out, sub);
            assert_eq!(environ(&out), ["A=1"], "{sub} {flag}");
        }
        // -i groups with other short options.
        let out = spawnfd(
            sub,
            &["-iuX", "--env", "B=2", "--", "cat", "/proc/self/environ"],
        );
        assert_ok(&out, sub);
        assert_eq!(environ(&out), ["B=2"], "{sub} -iuX");
    }
}

#[test]
fn bad_env_options_are_usage_errors() {
    for sub in SUBCOMMANDS {
        for (args, flag) in [
            (&["-u", ""][..], "--unset"),
            (&["--unset", "A=1"], "--unset"),
            (&["-u"], "--unset"),
            (&["-C"], "--cwd"),
            (&["--argv0"], "--argv0"),
            (&["--argv0", "-login"], "unexpected argument"),
            (&["--preserve-environment"], "needs --user"),
            (&["--uid", "0", "--preserve-environment"], "needs --user"),
            (&["-i", "--clear-env"], "--ignore-environment"),
        ] {
            assert_usage_error(sub, args, flag);
        }
    }
}

#[test]
fn chdir_has_three_names() {
    let dir = scratch_dir("chdir");
    let dir = dir.canonicalize().unwrap();
    for sub in SUBCOMMANDS {
        for flag in ["-C", "--chdir", "--cwd"] {
            let out = spawnfd(
                sub,
                &[
                    flag,
                    dir.to_str().unwrap(),
                    "--",
                    "readlink",
                    "/proc/self/cwd",
                ],
            );
            assert_ok(&out, sub);
            assert_eq!(stdout(&out), format!("{}\n", dir.display()), "{sub} {flag}");
        }
        // A relative PROGRAM path is relative to DIR.
        let out = spawnfd(
            sub,
            &["-C", "/usr", "--", "./bin/cat", "/proc/self/cmdline"],
        );
        assert_ok(&out, sub);
        assert_eq!(out.stdout, b"./bin/cat\0/proc/self/cmdline\0", "{sub}");
    }
}

#[test]
fn argv0_is_what_program_sees_as_its_name() {
    for sub in SUBCOMMANDS {
        let out = spawnfd(
            sub,
            &["--argv0", "fancy name", "--", "cat", "/proc/self/cmdline"],
        );
        assert_ok(&out, sub);
        assert_eq!(out.stdout, b"fancy name\0/proc/self/cmdline\0", "{sub}");
        // A name starting with '-', as a login shell's, given with '='.
        let out = spawnfd(sub, &["--argv0=-login", "--", "cat", "/proc/self/cmdline"]);
        assert_ok(&out, sub);
        assert_eq!(out.stdout, b"-login\0/proc/self/cmdline\0", "{sub}");
    }
}

// --user's variables

/// The passwd entry of `nobody`: (home, shell).
fn nobody() -> Option<(String, String)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("nobody:"))?;
    let fields: Vec<&str> = line.split(':').collect();
    let shell = if fields[6].is_empty() {
        "/bin/sh"
    } else {
        fields[6]
    };
    Some((fields[5].to_owned(), shell.to_owned()))
}

/// Root and a `nobody` in /etc/passwd, or a skip message.
fn as_root_with_nobody() -> Option<(String, String)> {
    if !is_root() {
        eprintln!("skipped: --user's variables: needs root to change user");
        return None;
    }
    let entry = nobody();
    if entry.is_none() {
        eprintln!("skipped: --user's variables: no user nobody in /etc/passwd");
    }
    entry
}

/// spawnfd's environment for the --user tests: root's variables.
const ROOT_ENV: [(&str, &str); 5] = [
    ("HOME", "/root"),
    ("USER", "root"),
    ("LOGNAME", "root"),
    ("SHELL", "/bin/bash"),
    ("SPAWNFD_KEPT", "kept"),
];

#[test]
fn user_sets_home_user_logname_and_shell() {
    let Some((home, shell)) = as_root_with_nobody() else {
        return;
    };
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &["--user", "nobody", "--", "cat", "/proc/self/environ"],
            &[],
            &ROOT_ENV,
        );
        assert_ok(&out, sub);
        let vars = environ(&out);
        assert_eq!(var(&vars, "HOME"), Some(home.as_str()), "{sub}: {vars:?}");
        assert_eq!(var(&vars, "USER"), Some("nobody"), "{sub}");
        assert_eq!(var(&vars, "LOGNAME"), Some("nobody"), "{sub}");
        assert_eq!(var(&vars, "SHELL"), Some(shell.as_str()), "{sub}");
        assert_eq!(
            var(&vars, "SPAWNFD_KEPT"),
            Some("kept"),
            "{sub}: the rest stays"
        );
        assert!(var(&vars, "PATH").is_some(), "{sub}: PATH stays");
    }
}

#[test]
fn unset_and_env_win_over_users_variables() {
    let Some((_, shell)) = as_root_with_nobody() else {
        return;
    };
    for sub in SUBCOMMANDS {
        let out = spawnfd_with(
            sub,
            &[
                "--env",
                "HOME=/custom",
                "--user",
                "nobody",
                "-u",
                "SHELL",
                "--",
                "cat",
                "/proc/self/environ",
            ],
            &[],
            &ROOT_ENV,
        );
        assert_ok(&out, sub);
        let vars = environ(&out);
        assert_eq!(var(&vars, "HOME"), Some("/custom"), "{sub}: {vars:?}");
        assert_eq!(var(&vars, "SHELL"), None, "{sub}: {vars:?}");
        assert_eq!(var(&vars, "USER"), Some("nobody"), "{sub}");

        // With an empty environment, the four are all there is.
        let out = spawnfd_with(
            sub,
            &[
                "-i",
                "--user",
                "nobody",
                "--",
                "/bin/cat",
                "/proc/self/environ",
            ],
            &[],
            &ROOT_ENV,
        );
        assert_ok(&out, sub);
        let mut vars = environ(&out);
        vars.sort();
        let (home, _) = nobody().unwrap();
        assert_eq!(
            vars,
            [
                format!("HOME={home}"),
                "LOGNAME=nobody".into(),
                format!("SHELL={shell}"),
                "USER=nobody".into()
            ],
            "{sub}"
        );
    }
}

#[test]
fn preserve_environment_and_uid_keep_the_variables() {
    if as_root_with_nobody().is_none() {
        return;
    }
    for sub in SUBCOMMANDS {
        for args in [
            &["--user", "nobody", "--preserve-environment"][..],
            &["--uid", "65534", "--gid", "65534"],
        ] {
            let mut line = args.to_vec();
            line.extend(["--", "cat", "/proc/self/environ"]);
            let out = spawnfd_with(sub, &line, &[], &ROOT_ENV);
            assert_ok(&out, sub);
            let vars = environ(&out);
            for (name, value) in ROOT_ENV {
                assert_eq!(var(&vars, name), Some(value), "{sub} {args:?}: {vars:?}");
            }
        }
        // Control: the user did change.
        let out = spawnfd(
            sub,
            &[
                "--user",
                "nobody",
                "--preserve-environment",
                "--",
                "id",
                "-un",
            ],
        );
        assert_eq!(stdout(&out), "nobody\n", "{sub}");
    }
}

// --stdin, --stdout, --stderr

#[test]
fn stdin_stdout_and_stderr_name_files() {
    for subcommand in SUBCOMMANDS {
        let input = scratch_path("redirect-in", subcommand);
        let output = scratch_path("redirect-out", subcommand);
        let errors = scratch_path("redirect-err", subcommand);
        fs::write(&input, "from the file\n").unwrap();
        fs::write(&output, "old content that must go\n").unwrap();
        let (input_s, output_s, errors_s) = (
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            errors.to_str().unwrap(),
        );
        let script = "read line; echo \"out: $line\"; echo err >&2; \
                      readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2";
        let out = spawnfd(
            subcommand,
            &[
                "--stdin", input_s, "--stdout", output_s, "--stderr", errors_s, "--", "sh", "-c",
                script,
            ],
        );
        assert!(out.status.success(), "{subcommand}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "",
            "{subcommand}: nothing on spawnfd's stdout"
        );
        assert_eq!(
            fs::read_to_string(&output).unwrap(),
            format!("out: from the file\n{input_s}\n{output_s}\n{errors_s}\n"),
            "{subcommand}: PROGRAM's own fds 0-2 are the files"
        );
        assert_eq!(fs::read_to_string(&errors).unwrap(), "err\n");
    }
}

#[test]
fn stdout_and_stderr_to_one_file_share_it() {
    for subcommand in SUBCOMMANDS {
        let both = scratch_path("redirect-both", subcommand);
        let path = both.to_str().unwrap();
        // Interleaved writes: with two separate opens the second stream
        // would overwrite the first from offset 0.
        let out = spawnfd(
            subcommand,
            &[
                "--stdout",
                path,
                "--stderr",
                path,
                "--",
                "sh",
                "-c",
                "echo one; echo two >&2; echo three; echo four >&2",
            ],
        );
        assert!(out.status.success(), "{subcommand}: {}", stderr(&out));
        assert_eq!(
            fs::read_to_string(&both).unwrap(),
            "one\ntwo\nthree\nfour\n"
        );
    }
}

#[test]
fn redirection_errors_come_before_program() {
    for subcommand in SUBCOMMANDS {
        let ran = scratch_path("redirect-ran", subcommand);
        let touch = format!("touch {}", ran.display());
        for (option, path) in [
            ("--stdin", "/nonexistent/spawnfd-in"),
            ("--stdout", "/nonexistent/spawnfd-out"),
            ("--stderr", "/proc/self/spawnfd-no-such-file"),
        ] {
            let out = spawnfd(subcommand, &[option, path, "--", "sh", "-c", &touch]);
            assert_eq!(out.status.code(), Some(125), "{subcommand} {option}");
            let message = stderr(&out);
            assert!(
                message.contains(option) && message.contains(path),
                "{message}"
            );
            assert!(!ran.exists(), "{subcommand} {option}: PROGRAM ran");
        }
        // The same fd twice is a usage error.
        let out = spawnfd(
            subcommand,
            &["--stdout", "/dev/null", "--fd", "1=2", "--", "true"],
        );
        assert_eq!(out.status.code(), Some(125), "{subcommand}");
        assert!(
            stderr(&out).contains("--stdout and --fd 1=2"),
            "{}",
            stderr(&out)
        );
    }
}

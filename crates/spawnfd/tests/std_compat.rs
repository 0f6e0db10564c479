//! Code written against `std::process` compiles unchanged against
//! `spawnfd` and gives the same results: the same scenarios, written once
//! with the std-named API, are compiled for both and compared.

mod common;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Output};

/// What the getters of a command return, owned.
type Getters = (
    OsString,
    Vec<OsString>,
    Vec<(OsString, Option<OsString>)>,
    Option<PathBuf>,
);

/// The scenarios, as ordinary std-style code. `$module` is the module
/// generated; the rest is the path of the crate providing `Command` and
/// `Stdio`. Every function returns std's types, so this also checks that
/// `spawnfd` hands out std's `ExitStatus` and `Output`.
macro_rules! scenarios {
    ($module:ident, $($krate:ident)::+) => {
        mod $module {
            use std::io::{Read, Write};
            use std::path::Path;
            use std::process::{ExitStatus, Output};

            use $($krate)::+::{Command, Stdio};

            use super::Getters;
            use crate::common::PROBE;

            pub fn echo_output() -> Output {
                Command::new("echo").args(["hello", "world"]).output().unwrap()
            }

            pub fn exit_status(code: i32) -> ExitStatus {
                Command::new("sh")
                    .arg("-c")
                    .arg(format!("exit {code}"))
                    .status()
                    .unwrap()
            }

            /// Feeds `input` through `cat` from another thread while this
            /// one reads, so that neither pipe fills up.
            pub fn cat_round_trip(input: Vec<u8>) -> (Vec<u8>, ExitStatus) {
                let mut child = Command::new("cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut stdin = child.stdin.take().unwrap();
                let writer = std::thread::spawn(move || stdin.write_all(&input));
                let mut echoed = Vec::new();
                child.stdout.take().unwrap().read_to_end(&mut echoed).unwrap();
                writer.join().unwrap().unwrap();
                (echoed, child.wait().unwrap())
            }

            pub fn both_streams() -> Output {
                Command::new("sh")
                    .args(["-c", "echo out; echo err >&2; exit 4"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
                    .wait_with_output()
                    .unwrap()
            }

            /// The child's environment, as `KEY=VALUE` lines, sorted.
            fn probe_env(cmd: &mut Command) -> Vec<String> {
                let out = cmd.output().unwrap();
                assert!(out.status.success(), "{out:?}");
                let mut env: Vec<String> = String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .filter_map(|l| l.strip_prefix("env "))
                    .map(str::to_owned)
                    .collect();
                env.sort();
                env
            }

            pub fn changed_env() -> Vec<String> {
                probe_env(
                    Command::new(PROBE)
                        .env("SPAWNFD_COMPAT_A", "1")
                        .envs([("SPAWNFD_COMPAT_B", "2"), ("SPAWNFD_COMPAT_C", "3")])
                        .env_remove("SPAWNFD_COMPAT_C")
                        .env_remove("HOME")
                        .env_remove("SPAWNFD_COMPAT_NEVER_SET"),
                )
            }

            pub fn cleared_env() -> Vec<String> {
                probe_env(
                    Command::new(PROBE)
                        .env("SPAWNFD_COMPAT_BEFORE_CLEAR", "1")
                        .env_clear()
                        .env("SPAWNFD_COMPAT_ONLY", "yes")
                        .env("SPAWNFD_COMPAT_GONE", "no")
                        .env_remove("SPAWNFD_COMPAT_GONE"),
                )
            }

            pub fn working_dir(dir: &Path) -> String {
                let out = Command::new("pwd").current_dir(dir).output().unwrap();
                String::from_utf8(out.stdout).unwrap()
            }

            fn getters(cmd: &Command) -> Getters {
                (
                    cmd.get_program().to_owned(),
                    cmd.get_args().map(ToOwned::to_owned).collect(),
                    cmd.get_envs()
                        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
                        .collect(),
                    cmd.get_current_dir().map(ToOwned::to_owned),
                )
            }

            /// The getters after several sequences of builder calls.
            pub fn all_getters() -> Vec<Getters> {
                let mut results = vec![getters(&Command::new("prog"))];

                let mut cmd = Command::new("some/prog");
                cmd.arg("a")
                    .args(["b", "c"])
                    .env("ZED", "last")
                    .env("ALPHA", "first")
                    .env_remove("MIDDLE")
                    .env("ALPHA", "again")
                    .current_dir("relative/dir");
                results.push(getters(&cmd));
                cmd.current_dir("/abs").env_remove("ZED");
                results.push(getters(&cmd));

                let mut cmd = Command::new("prog");
                cmd.env("KEPT_BEFORE", "x")
                    .env_remove("REMOVED_BEFORE")
                    .env_clear()
                    .env("AFTER", "1")
                    .env("DROPPED", "2")
                    .env_remove("DROPPED")
                    .env_remove("NEVER_SET");
                results.push(getters(&cmd));
                results
            }

            /// `echo | tr`, the first child's stdout given to the second.
            pub fn pipeline() -> (Output, ExitStatus) {
                let mut first = Command::new("echo")
                    .arg("one two")
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let second = Command::new("tr")
                    .args(["a-z", "A-Z"])
                    .stdin(Stdio::from(first.stdout.take().unwrap()))
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let output = second.wait_with_output().unwrap();
                (output, first.wait().unwrap())
            }

            /// What `output()` gives a child as stdin, and whether reading
            /// it ends at once.
            pub fn output_stdin() -> Output {
                Command::new("sh")
                    .args(["-c", "readlink /proc/self/fd/0; cat; echo end"])
                    .output()
                    .unwrap()
            }

            pub fn killed() -> ExitStatus {
                let mut child = Command::new("sleep").arg("100").spawn().unwrap();
                child.kill().unwrap();
                child.wait().unwrap()
            }
        }
    };
}

scenarios!(with_std, std::process);
scenarios!(with_spawnfd, spawnfd);

#[test]
fn output_captures_stdout() {
    let out = with_spawnfd::echo_output();
    assert_eq!(out, with_std::echo_output());
    assert_eq!(out.stdout, b"hello world\n");
    assert!(out.stderr.is_empty());
    assert!(out.status.success());
}

#[test]
fn status_gives_the_exit_code() {
    for code in [0, 1, 7, 255] {
        let status = with_spawnfd::exit_status(code);
        assert_eq!(status, with_std::exit_status(code));
        assert_eq!(status.code(), Some(code));
    }
}

#[test]
fn piped_stdin_and_stdout_round_trip() {
    // Larger than a pipe's buffer, so both directions must flow at once.
    let input: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let (echoed, status) = with_spawnfd::cat_round_trip(input.clone());
    assert!(echoed == input, "cat did not echo its input");
    assert!(status.success());
    assert_eq!((echoed, status), with_std::cat_round_trip(input));
}

#[test]
fn wait_with_output_collects_both_streams() {
    let out = with_spawnfd::both_streams();
    assert_eq!(out, with_std::both_streams());
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn env_changes_match() {
    let env = with_spawnfd::changed_env();
    assert_eq!(env, with_std::changed_env());
    assert!(env.iter().any(|v| v == "SPAWNFD_COMPAT_A=1"), "{env:?}");
    assert!(env.iter().any(|v| v == "SPAWNFD_COMPAT_B=2"), "{env:?}");
    assert!(
        !env.iter().any(|v| v.starts_with("SPAWNFD_COMPAT_C=")),
        "{env:?}"
    );
    assert!(!env.iter().any(|v| v.starts_with("HOME=")), "{env:?}");
    // The rest is the parent's environment.
    let inherited = std::env::vars_os().filter(|(k, _)| k != "HOME").count();
    assert_eq!(env.len(), inherited + 2, "{env:?}");
}

#[test]
fn env_clear_matches() {
    let env = with_spawnfd::cleared_env();
    assert_eq!(env, with_std::cleared_env());
    assert_eq!(env, ["SPAWNFD_COMPAT_ONLY=yes"]);
}

#[test]
fn current_dir_matches() {
    let dir = common::TempDir::new("compat-cwd");
    let expected = format!("{}\n", dir.path().display());
    assert_eq!(with_spawnfd::working_dir(dir.path()), expected);
    assert_eq!(with_std::working_dir(dir.path()), expected);
}

#[test]
fn getters_match() {
    let got = with_spawnfd::all_getters();
    assert_eq!(got, with_std::all_getters());
    // Spot checks, so that a shared mistake cannot pass.
    let (program, args, envs, cwd) = &got[1];
    assert_eq!(program, "some/prog");
    assert_eq!(args, &["a", "b", "c"]);
    let envs: Vec<_> = envs
        .iter()
        .map(|(k, v)| (k.to_str().unwrap(), v.as_ref().map(|v| v.to_str().unwrap())))
        .collect();
    assert_eq!(
        envs,
        [
            ("ALPHA", Some("again")),
            ("MIDDLE", None),
            ("ZED", Some("last"))
        ]
    );
    assert_eq!(cwd.as_deref(), Some("relative/dir".as_ref()));
}

#[test]
fn one_childs_stdout_feeds_anothers_stdin() {
    let (output, first) = with_spawnfd::pipeline();
    assert_eq!((output.clone(), first), with_std::pipeline());
    assert_eq!(output.stdout, b"ONE TWO\n");
    assert!(output.status.success() && first.success());
}

#[test]
fn output_gives_stdin_dev_null() {
    let out = with_spawnfd::output_stdin();
    assert_eq!(out, with_std::output_stdin());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/dev/null\nend\n");
    assert!(out.status.success());
}

#[test]
fn kill_then_wait() {
    let status = with_spawnfd::killed();
    assert_eq!(status, with_std::killed());
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

/// Takes std's types: spawnfd's values must be exactly these.
fn describe(
    status: ExitStatus,
    output: &Output,
    stdout: Option<std::process::ChildStdout>,
) -> String {
    format!(
        "{status} / {} bytes / stdout {}",
        output.stdout.len(),
        if stdout.is_some() { "piped" } else { "none" }
    )
}

#[test]
fn values_are_std_types() {
    use spawnfd::{Command, Stdio};

    let output = Command::new("echo").arg("x").output().unwrap();
    let mut child = Command::new("true").stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take();
    let status = child.wait().unwrap();
    assert_eq!(
        describe(status, &output, stdout),
        "exit status: 0 / 2 bytes / stdout piped"
    );
}

#[test]
fn types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<spawnfd::Command>();
    assert_send_sync::<spawnfd::Child>();
    assert_send_sync::<spawnfd::Stdio>();
    assert_send_sync::<spawnfd::SpawnError>();
}

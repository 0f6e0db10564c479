//! Runs the built `spawnfd` binary and checks what it does: exit statuses,
//! messages, the JSON report, and the environment, directory and fds the
//! child gets.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, json_report, run, scratch_path, stderr, stdout};
use serde_json::Value;

/// Runs `spawnfd run ARGS...` from `sh`, with FILE open at fd 5 of spawnfd.
fn run_with_fd5(args: &str, file: &Path) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(r#"exec "$0" run {args} 5<"$1""#))
        .arg(BIN)
        .arg(file)
        .output()
        .expect("start sh")
}

/// A fresh path in the test scratch directory.
fn scratch(name: &str) -> PathBuf {
    scratch_path("cli", name)
}

/// A file holding `contents`, for `--fd` tests.
fn file_with(name: &str, contents: &str) -> PathBuf {
    let path = scratch(name);
    fs::write(&path, contents).unwrap();
    path
}

/// The fd numbers the child lists in `/proc/self/fd` (via `ls`, whose own
/// directory fd is among them).
fn listed_fds(out: &Output) -> Vec<u32> {
    let mut fds: Vec<u32> = stdout(out)
        .split_whitespace()
        .map(|fd| fd.parse().unwrap())
        .collect();
    fds.sort_unstable();
    fds
}

#[test]
fn exit_status_is_passed_through() {
    assert_eq!(run(["sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(run(["true"]).status.code(), Some(0));
    assert_eq!(run(["sh", "-c", "exit 255"]).status.code(), Some(255));
}

#[test]
fn child_output_and_arguments_are_passed_through() {
    // Words after PROGRAM are PROGRAM's, even if they look like options.
    let out = run(["echo", "--json", "-n", "hello"]);
    assert_eq!(stdout(&out), "--json -n hello\n");
    assert!(out.status.success());
}

#[test]
fn killed_child_gives_128_plus_signal_with_exit_code_for_signals() {
    let out = run(["--exit-code-for-signals", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(128 + 9));
    let out = run(["--exit-code-for-signals", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15));
}

#[test]
fn sigint_to_spawnfd_is_passed_on_and_spawnfd_still_reports() {
    // The child's parent is spawnfd, which passes SIGINT on to it; the
    // child's trap runs (ending the sleep it waits for, which would hold
    // the output pipe open) and it exits 3, which spawnfd reports.
    let out = run([
        "--json",
        "--",
        "sh",
        "-c",
        "trap 'echo got INT; kill $!; exit 3' INT; sleep 30 & kill -INT $PPID; wait",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).starts_with("got INT\n"), "{}", stdout(&out));
    assert_eq!(json_report(&out)["exit_code"], 3);
}

#[test]
fn json_reports_pid_and_exit_code_after_child_output() {
    let out = run(["--json", "--", "sh", "-c", "echo $$; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let lines: Vec<&str> = stdout(&out).lines().collect();
    assert_eq!(lines.len(), 2, "child output then the report: {lines:?}");
    let report: Value = serde_json::from_str(lines[1]).unwrap();
    let pid: u64 = lines[0].parse().unwrap();
    assert_eq!(report["pid"], pid);
    assert_eq!(report["exit_code"], 3);
    // Besides the start time and the elapsed time, nothing else.
    assert!(report["start_time"].is_string() && report["elapsed"].is_f64());
    assert_eq!(report.as_object().unwrap().len(), 4, "{report}");
}

#[test]
fn json_reports_signal() {
    let out = run(["--json", "--", "sh", "-c", "kill -9 $$"]);
    // spawnfd dies of it too, after the report.
    assert_eq!(out.status.signal(), Some(9));
    let report = json_report(&out);
    assert_eq!(report["signal"], 9);
    assert_eq!(report["core_dumped"], false);
    assert!(report["pid"].as_u64().is_some_and(|pid| pid > 0));
    assert!(report.get("exit_code").is_none());
}

#[test]
fn command_not_found_exits_127_with_the_library_message() {
    let name = "spawnfd-test-no-such-program";
    let expected = spawnfd::Command::new(name).spawn().unwrap_err().to_string();
    assert!(expected.contains("No such file or directory"), "{expected}");

    let out = run([name]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(stderr(&out), format!("spawnfd: {expected}\n"));
    assert_eq!(stdout(&out), "");
}

#[test]
fn command_not_found_as_json() {
    let out = run(["--json", "--", "/nonexistent/program"]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(stderr(&out), "", "--json prints no message");
    let error = &json_report(&out)["error"];
    assert_eq!(error["step"], "exec");
    assert_eq!(error["errno"], libc::ENOENT);
    assert_eq!(error["path"], "/nonexistent/program");
    assert_eq!(
        error["message"],
        r#"spawn "/nonexistent/program": exec "/nonexistent/program": No such file or directory (os error 2)"#
    );
    assert!(error.get("fd").is_none(), "absent fields are omitted");
}

#[test]
fn missing_interpreter_exits_126_and_names_the_script() {
    let path = file_with("bad-interpreter", "#!/nonexistent/interpreter\n");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();

    let out = run([&path]);
    assert_eq!(out.status.code(), Some(126));
    assert!(
        stderr(&out).contains("(its interpreter or loader is missing)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn non_executable_file_exits_126() {
    let path = file_with("not-executable", "#!/bin/sh\nexit 0\n");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

    let out = run([&path]);
    assert_eq!(out.status.code(), Some(126));
    assert!(
        stderr(&out).starts_with("spawnfd: spawn "),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    let out = run([OsStr::new("--json"), OsStr::new("--"), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(json_report(&out)["error"]["errno"], libc::EACCES);
}

#[test]
fn missing_cwd_exits_125() {
    let dir = scratch("no-such-dir");
    let out = run([OsStr::new("--cwd"), dir.as_os_str(), OsStr::new("true")]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).starts_with("spawnfd: "), "{}", stderr(&out));
    assert!(stderr(&out).contains("chdir"), "{}", stderr(&out));

    let out = run([
        OsStr::new("--json"),
        OsStr::new("--cwd"),
        dir.as_os_str(),
        OsStr::new("true"),
    ]);
    assert_eq!(out.status.code(), Some(125));
    let error = &json_report(&out)["error"];
    assert_eq!(error["step"], "chdir");
    assert_eq!(error["path"], dir.to_str().unwrap());
}

#[test]
fn cwd_sets_the_working_directory() {
    let dir = scratch("cwd");
    fs::create_dir(&dir).unwrap();
    let out = run([
        OsStr::new("--cwd"),
        dir.as_os_str(),
        OsStr::new("sh"),
        OsStr::new("-c"),
        OsStr::new("pwd -P"),
    ]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim_end(),
        dir.canonicalize().unwrap().to_str().unwrap()
    );
}

#[test]
fn env_sets_variables_split_at_the_first_equals_sign() {
    let out = run([
        "--env",
        "X=a=b",
        "--env",
        "Y=",
        "--",
        "sh",
        "-c",
        r#"echo "$X|${Y-unset}""#,
    ]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "a=b|\n");
}

#[test]
fn environment_is_inherited_unless_cleared() {
    let env_of = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("run")
            .args(args)
            .arg("/usr/bin/env")
            .env("SPAWNFD_TEST_INHERITED", "yes")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        env_of(&[])
            .lines()
            .any(|l| l == "SPAWNFD_TEST_INHERITED=yes")
    );
    assert_eq!(env_of(&["--clear-env"]), "");
    assert_eq!(env_of(&["--clear-env", "--env", "A=1"]), "A=1\n");
    // --clear-env applies first, whatever the order on the command line.
    assert_eq!(env_of(&["--env", "A=1", "--clear-env"]), "A=1\n");
}

#[test]
fn usage_errors_exit_125() {
    for args in [
        &["--env", "NOEQUALS", "true"][..],
        &["--env", "=value", "true"],
        &["--fd", "3x", "true"],
        &["--fd", "x=5", "true"],
        // A CHILD given twice is refused before the library sees it.
        &["--fd", "3=1", "--fd", "3=2", "true"],
        &["--fd=-1=5", "true"],
        &[],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn fd_gives_the_parent_fd_at_the_child_number() {
    let file = file_with("fd-7", "through fd 7\n");
    let out = run_with_fd5(r#"--fd 7=5 -- sh -c "cat <&7""#, &file);
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "through fd 7\n");
    assert!(out.status.success());
}

#[test]
fn fd_may_keep_its_number() {
    let file = file_with("fd-5", "through fd 5\n");
    let out = run_with_fd5(r#"--fd 5=5 -- sh -c "cat <&5""#, &file);
    assert_eq!(stdout(&out), "through fd 5\n");
    assert!(out.status.success());
}

#[test]
fn fd_0_replaces_stdin() {
    let file = file_with("fd-0", "as stdin\n");
    let out = run_with_fd5("--fd 0=5 -- cat", &file);
    assert_eq!(stdout(&out), "as stdin\n");
}

#[test]
fn child_gets_no_fd_that_is_not_given() {
    let file = file_with("fd-none", "");
    let out = run_with_fd5("-- ls /proc/self/fd", &file);
    assert!(out.status.success(), "{}", stderr(&out));
    // 0, 1, 2 and the directory ls reads; not spawnfd's fd 5.
    assert_eq!(listed_fds(&out), [0, 1, 2, 3]);

    let out = run_with_fd5("--fd 5=5 -- ls /proc/self/fd", &file);
    assert!(
        listed_fds(&out).contains(&5),
        "control: a given fd is listed"
    );
}

#[test]
fn same_parent_fd_may_be_given_twice() {
    let file = file_with("fd-twice", "");
    let out = run_with_fd5(
        r#"--fd 3=5 --fd 4=5 -- sh -c "readlink /proc/self/fd/3 /proc/self/fd/4""#,
        &file,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let path = file.to_str().unwrap();
    assert_eq!(stdout(&out), format!("{path}\n{path}\n"));
}

#[test]
fn standard_fd_may_be_given_as_parent() {
    // spawnfd duplicates its stdout for the child and keeps its own fd 1
    // for the report.
    let out = run([
        "--json",
        "--fd",
        "3=1",
        "--",
        "sh",
        "-c",
        "echo via-fd-3 >&3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("via-fd-3\n"), "{}", stdout(&out));
    assert_eq!(json_report(&out)["exit_code"], 0);
}

#[test]
fn closed_parent_fd_exits_125() {
    let out = run(["--fd", "3=987", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        stderr(&out),
        "spawnfd: --fd 3=987: fd 987: Bad file descriptor (os error 9)\n"
    );

    let out = run(["--json", "--fd", "3=987", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(json_report(&out)["error"]["errno"], libc::EBADF);
}

#[test]
fn closed_parent_fd_is_refused_even_after_a_duplicate() {
    // Duplicating spawnfd's fd 1 for CHILD 3 takes the lowest free number;
    // with fd 3 closed, that is 3, which must not then pass for PARENT 3.
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$0" run --fd 3=1 --fd 4=3 -- true 3<&-"#)
        .arg(BIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("--fd 4=3: fd 3"), "{}", stderr(&out));
}

#[test]
fn invalid_input_exits_125() {
    // The library refuses a controlling terminal that is none of
    // PROGRAM's fds (clap cannot know PROGRAM's fds).
    let out = run(["--setsid", "--ctty", "9", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("fd 9"), "{}", stderr(&out));

    let out = run(["--json", "--setsid", "--ctty", "9", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let error = &json_report(&out)["error"];
    assert_eq!(error["kind"], "invalid_input");
    assert!(error["message"].as_str().unwrap().contains("fd 9"));
    assert!(error.get("step").is_none());
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for code in ["128+N", "127", "126", "125"] {
        assert!(help.contains(code), "{code} missing from:\n{help}");
    }
    for flag in ["--fd", "--cwd", "--env", "--clear-env", "--json"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

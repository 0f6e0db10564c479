//! Failed spawns: the exact step, errno, path or fd and message; invalid
//! requests refused before any child exists; and nothing left behind.

mod common;

use std::error::Error as _;
use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;
use std::path::Path;

use common::{TempDir, serial, spawn_errno, write_file};
use spawnfd::{Command, SpawnError, Stdio, Step};

/// A path that does not exist.
const MISSING: &str = "/nonexistent-spawnfd-test/prog";

fn dev_null() -> File {
    File::open("/dev/null").expect("open /dev/null")
}

/// Spawns `cmd`, which must fail, and returns the error.
fn spawn_err(cmd: &mut Command) -> io::Error {
    match cmd.spawn() {
        Ok(mut child) => {
            let status = child.wait();
            panic!("spawn of {cmd:?} succeeded (then {status:?})");
        }
        Err(err) => err,
    }
}

/// The `SpawnError` payload of `err`, which must have one.
fn detail(err: &io::Error) -> &SpawnError {
    SpawnError::from_io(err).unwrap_or_else(|| panic!("no SpawnError in {err:?}"))
}

/// A child fd number that is out of range for this process: `dup3` onto it
/// fails with `EBADF`. 100000 unless `RLIMIT_NOFILE` allows it.
fn fd_beyond_limit() -> i32 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(r, 0, "getrlimit: {}", io::Error::last_os_error());
    let limit = i32::try_from(limit.rlim_cur).unwrap_or(i32::MAX);
    limit.max(100_000)
}

#[test]
fn missing_absolute_program() {
    let _serial = serial();
    let err = spawn_err(&mut Command::new(MISSING));
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // The errno lives in the payload, not in the io::Error itself.
    assert_eq!(err.raw_os_error(), None);
    assert_eq!(spawn_errno(&err), Some(libc::ENOENT));
    let d = detail(&err);
    assert_eq!(d.step(), Step::Exec);
    assert_eq!(d.program(), MISSING);
    assert_eq!(d.path(), Some(Path::new(MISSING)));
    assert_eq!(d.fd(), None);
    assert_eq!(
        err.to_string(),
        format!(r#"spawn "{MISSING}": exec "{MISSING}": No such file or directory (os error 2)"#)
    );
}

#[test]
fn missing_program_in_path() {
    let _serial = serial();
    let name = "spawnfd-test-no-such-program";
    // Searched in the parent's PATH, and in a PATH given to the child.
    let dirs = TempDir::new("missing-in-path");
    let path = format!(
        "{}:{}",
        dirs.subdir("a").display(),
        dirs.subdir("b").display()
    );
    for err in [
        spawn_err(&mut Command::new(name)),
        spawn_err(Command::new(name).env("PATH", &path)),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(spawn_errno(&err), Some(libc::ENOENT));
        let d = detail(&err);
        assert_eq!(d.step(), Step::Exec);
        assert_eq!(d.program(), name);
        // No single file is to blame.
        assert_eq!(d.path(), None);
        assert_eq!(
            err.to_string(),
            format!(
                r#"spawn "{name}": exec (searched PATH): No such file or directory (os error 2)"#
            )
        );
    }
}

#[test]
fn file_without_exec_permission() {
    let _serial = serial();
    let dir = TempDir::new("noexec");
    let file = write_file(dir.path(), "script", b"#!/bin/sh\necho hi\n", 0o644);
    let err = spawn_err(&mut Command::new(&file));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(spawn_errno(&err), Some(libc::EACCES));
    let d = detail(&err);
    assert_eq!(d.step(), Step::Exec);
    assert_eq!(d.path(), Some(file.as_path()));
    assert_eq!(
        err.to_string(),
        format!("spawn {file:?}: exec {file:?}: Permission denied (os error 13)")
    );
}

#[test]
fn directory_as_program() {
    let _serial = serial();
    let dir = TempDir::new("dir-as-program");
    let err = spawn_err(&mut Command::new(dir.path()));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(spawn_errno(&err), Some(libc::EACCES));
    let d = detail(&err);
    assert_eq!(d.step(), Step::Exec);
    assert_eq!(d.path(), Some(dir.path()));
}

#[test]
fn missing_working_directory() {
    let _serial = serial();
    let cwd = "/nonexistent-spawnfd-test-cwd";
    let err = spawn_err(Command::new("true").current_dir(cwd));
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(spawn_errno(&err), Some(libc::ENOENT));
    let d = detail(&err);
    assert_eq!(d.step(), Step::Chdir);
    assert_eq!(d.program(), "true");
    assert_eq!(d.path(), Some(Path::new(cwd)));
    assert_eq!(
        err.to_string(),
        format!(r#"spawn "true": chdir "{cwd}": No such file or directory (os error 2)"#)
    );
}

#[test]
fn working_directory_is_a_file() {
    let _serial = serial();
    let dir = TempDir::new("cwd-file");
    let file = write_file(dir.path(), "plain", b"", 0o644);
    let err = spawn_err(Command::new("true").current_dir(&file));
    assert_eq!(err.kind(), ErrorKind::NotADirectory);
    assert_eq!(spawn_errno(&err), Some(libc::ENOTDIR));
    let d = detail(&err);
    assert_eq!(d.step(), Step::Chdir);
    assert_eq!(d.path(), Some(file.as_path()));
}

#[test]
fn child_fd_beyond_the_fd_limit() {
    let _serial = serial();
    let target = fd_beyond_limit();
    let err = spawn_err(Command::new("true").fd(target, dev_null()));
    assert_eq!(spawn_errno(&err), Some(libc::EBADF));
    let d = detail(&err);
    assert_eq!(d.step(), Step::FdMapping);
    assert_eq!(d.fd(), Some(target));
    assert_eq!(d.path(), None);
    assert_eq!(
        err.to_string(),
        format!(
            r#"spawn "true": fd mapping (child fd {target}): Bad file descriptor (os error 9)"#
        )
    );
}

#[test]
fn file_that_is_neither_elf_nor_script() {
    let _serial = serial();
    let dir = TempDir::new("enoexec");
    let file = write_file(
        dir.path(),
        "garbage",
        b"this is not a program\n\x01\x02\x03\n",
        0o755,
    );
    // No fallback to /bin/sh: the kernel's ENOEXEC is the answer.
    let err = spawn_err(&mut Command::new(&file));
    assert_eq!(spawn_errno(&err), Some(libc::ENOEXEC));
    let d = detail(&err);
    assert_eq!(d.step(), Step::Exec);
    assert_eq!(d.path(), Some(file.as_path()));
    assert_eq!(
        err.to_string(),
        format!("spawn {file:?}: exec {file:?}: Exec format error (os error 8)")
    );
}

#[test]
fn script_whose_interpreter_is_missing() {
    let _serial = serial();
    let dir = TempDir::new("interp");
    let file = write_file(dir.path(), "script", b"#!/nonexistent/interpreter\n", 0o755);
    // The kernel says ENOENT although the file exists; the error says which
    // file and why, by path and through PATH alike.
    for cmd in [Command::new(&file), {
        let mut cmd = Command::new("script");
        cmd.env("PATH", format!("/nonexistent:{}", dir.path().display()));
        cmd
    }] {
        let mut cmd = cmd;
        let err = spawn_err(&mut cmd);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let d = detail(&err);
        assert_eq!(d.step(), Step::Exec);
        assert_eq!(d.raw_os_error(), Some(libc::ENOENT));
        assert!(d.missing_interpreter());
        assert_eq!(d.path(), Some(file.as_path()));
        assert!(
            err.to_string().ends_with(&format!(
                ": exec {file:?} (its interpreter or loader is missing): \
                 No such file or directory (os error 2)"
            )),
            "{err}"
        );
    }
    // A file that is really missing is not blamed on an interpreter.
    let err = spawn_err(&mut Command::new(dir.path().join("absent")));
    assert!(!detail(&err).missing_interpreter());
}

#[test]
fn source_is_the_os_error() {
    let _serial = serial();
    let err = spawn_err(&mut Command::new(MISSING));
    let d = detail(&err);
    let source = d.source().expect("SpawnError has a source");
    let os = source
        .downcast_ref::<io::Error>()
        .expect("the source is an io::Error");
    assert_eq!(os.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(os.kind(), ErrorKind::NotFound);
    // Through the io::Error too: its source is the payload's source.
    let via_io = err.source().and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(via_io.and_then(io::Error::raw_os_error), Some(libc::ENOENT));
}

/// A named way to fail a spawn.
type Case = (&'static str, Box<dyn Fn() -> io::Error>);

fn case(name: &'static str, fail: impl Fn() -> io::Error + 'static) -> Case {
    (name, Box::new(fail))
}

/// The ways a spawn fails, each building its own command (and so its own
/// fds and pipes) every time.
fn failing_spawns(dir: &TempDir) -> Vec<Case> {
    let noexec = write_file(dir.path(), "noexec", b"#!/bin/sh\n", 0o644);
    let garbage = write_file(dir.path(), "garbage", b"not a program\n", 0o755);
    let missing_dirs = format!("{0}/x:{0}/y", dir.path().display());
    let file_as_cwd = noexec.clone();
    let target = fd_beyond_limit();
    vec![
        case("missing program", || spawn_err(&mut Command::new(MISSING))),
        case("missing in PATH", move || {
            spawn_err(Command::new("spawnfd-test-missing").env("PATH", &missing_dirs))
        }),
        case("not executable", move || {
            spawn_err(&mut Command::new(&noexec))
        }),
        case("exec format", move || {
            spawn_err(&mut Command::new(&garbage))
        }),
        case("missing cwd", || {
            spawn_err(Command::new("true").current_dir("/nonexistent-spawnfd-test"))
        }),
        case("cwd is a file", move || {
            spawn_err(Command::new("true").current_dir(&file_as_cwd))
        }),
        case("fd beyond the limit", move || {
            let extra = OwnedFd::from(dev_null());
            spawn_err(Command::new("true").fd(target, dev_null()).fd(5, extra))
        }),
        case("all stdio piped", || {
            spawn_err(
                Command::new(MISSING)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
        }),
        case("output() and its pipes", || {
            Command::new(MISSING)
                .output()
                .expect_err("output() must fail")
        }),
        case("piped stdout, failing fd mapping", move || {
            spawn_err(
                Command::new("true")
                    .stdout(Stdio::piped())
                    .fd(target, dev_null()),
            )
        }),
        case("refused after stdin's pipe was made", || {
            // fd 1 comes from both fd() and stdout(): refused after fd 0's pipe exists.
            spawn_err(
                Command::new("true")
                    .stdin(Stdio::piped())
                    .fd(1, dev_null())
                    .fd(3, dev_null())
                    .stdout(Stdio::null()),
            )
        }),
    ]
}

#[test]
fn failed_spawns_leave_no_fds_and_no_children() {
    let _serial = serial();
    let dir = TempDir::new("leaks");
    let cases = failing_spawns(&dir);
    // A first round for whatever the first spawn sets up once.
    for (_, fail) in &cases {
        drop(fail());
    }
    let children_before: Vec<u32> = common::children_of_self()
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    for (name, fail) in &cases {
        let before = common::open_fd_count();
        for _ in 0..100 {
            let err = fail();
            assert!(
                SpawnError::from_io(&err).is_some() || err.kind() == ErrorKind::InvalidInput,
                "{name}: unexpected error {err:?}"
            );
        }
        let after = common::open_fd_count();
        assert_eq!(after, before, "{name}: fds leaked by 100 failed spawns");

        let new_children: Vec<_> = common::children_of_self()
            .into_iter()
            .filter(|(pid, _)| !children_before.contains(pid))
            .collect();
        assert!(
            new_children.is_empty(),
            "{name}: failed spawns left child processes (pid, state): {new_children:?}"
        );
    }
}

/// Spawns `cmd`, which must be refused as invalid, and returns the message.
fn invalid(cmd: &mut Command) -> String {
    let err = spawn_err(cmd);
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    // Refused in the parent: no step, no errno.
    assert!(SpawnError::from_io(&err).is_none(), "{err:?}");
    err.to_string()
}

#[test]
fn nul_bytes_are_refused() {
    let _serial = serial();
    let msg = invalid(&mut Command::new("tr\0ue"));
    assert_eq!(msg, r#"spawn "tr\0ue": the program contains a NUL byte"#);

    let msg = invalid(Command::new("echo").args(["fine", "bad\0arg"]));
    assert_eq!(
        msg,
        r#"spawn "echo": argument 2 contains a NUL byte: "bad\0arg""#
    );

    let msg = invalid(Command::new("echo").arg0("ec\0ho"));
    assert_eq!(msg, r#"spawn "echo": arg0 contains a NUL byte"#);

    let msg = invalid(Command::new("true").env("KEY\0", "value"));
    assert!(
        msg.starts_with(r#"spawn "true": environment key "KEY\0""#),
        "{msg}"
    );

    let msg = invalid(Command::new("true").env("KEY", "val\0ue"));
    assert_eq!(
        msg,
        r#"spawn "true": the value of environment variable "KEY" contains a NUL byte"#
    );

    let msg = invalid(Command::new("true").current_dir("/tmp\0/x"));
    assert_eq!(
        msg,
        r#"spawn "true": the working directory contains a NUL byte: "/tmp\0/x""#
    );

    // The output() path validates the same way.
    let err = Command::new("tr\0ue").output().expect_err("NUL in program");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn bad_environment_keys_are_refused() {
    let _serial = serial();
    let msg = invalid(Command::new("true").env("A=B", "value"));
    assert_eq!(
        msg,
        r#"spawn "true": environment key "A=B" is empty or contains '=' or a NUL byte"#
    );
    let msg = invalid(Command::new("true").env("", "value"));
    assert_eq!(
        msg,
        r#"spawn "true": environment key "" is empty or contains '=' or a NUL byte"#
    );
    // A removal with a bad key is refused as well.
    let msg = invalid(Command::new("true").env_remove("A=B"));
    assert!(msg.contains(r#"environment key "A=B""#), "{msg}");
}

#[test]
fn bad_child_fds_are_refused() {
    let _serial = serial();
    let msg = invalid(Command::new("true").fd(-1, dev_null()));
    assert_eq!(msg, r#"spawn "true": child fd -1 is negative"#);

    let msg = invalid(Command::new("true").fd(5, dev_null()).fd(5, dev_null()));
    assert_eq!(msg, r#"spawn "true": child fd 5 is given more than once"#);
}

#[test]
fn stdin_and_fd_0_together_are_refused() {
    let _serial = serial();
    let msg = invalid(Command::new("true").stdin(Stdio::null()).fd(0, dev_null()));
    assert_eq!(
        msg,
        r#"spawn "true": child fd 0 is given both by stdin() and by fd()"#
    );
}

#[test]
fn stdout_and_fd_1_together_are_refused() {
    let _serial = serial();
    let msg = invalid(
        Command::new("true")
            .fd(1, dev_null())
            .stdout(Stdio::piped()),
    );
    assert_eq!(
        msg,
        r#"spawn "true": child fd 1 is given both by stdout() and by fd()"#
    );
}

#[test]
fn stderr_and_fd_2_together_are_refused() {
    let _serial = serial();
    let msg = invalid(
        Command::new("true")
            .stderr(Stdio::inherit())
            .fd(2, dev_null()),
    );
    assert_eq!(
        msg,
        r#"spawn "true": child fd 2 is given both by stderr() and by fd()"#
    );
}

#[test]
fn the_same_command_fails_the_same_way_twice() {
    let _serial = serial();
    let mut cmd = Command::new("true");
    cmd.current_dir("/nonexistent-spawnfd-test");
    let first = spawn_err(&mut cmd);
    let second = spawn_err(&mut cmd);
    assert_eq!(detail(&first), detail(&second));
    assert_eq!(first.to_string(), second.to_string());
}

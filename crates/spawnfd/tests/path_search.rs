//! The search for a program without a `/` in `PATH`, as `execvp` does it:
//! order, skipped entries, permission errors, the empty entry, and whose
//! `PATH` is searched.

mod common;

use std::ffi::OsString;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use common::{PROBE, TempDir, echo_script, serial, spawn_errno, write_file};
use spawnfd::{Command, SpawnError, Step};

/// The name of the scripts the tests search for.
const PROG: &str = "spawnfd-test-prog";

/// Runs `cmd`, which must succeed, and returns what it printed.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Spawns `cmd`, which must fail in the exec step, and returns the error.
fn exec_err(cmd: &mut Command) -> io::Error {
    let err = match cmd.output() {
        Ok(out) => panic!("{cmd:?} ran: {out:?}"),
        Err(err) => err,
    };
    let detail = SpawnError::from_io(&err).unwrap_or_else(|| panic!("no SpawnError: {err:?}"));
    assert_eq!(detail.step(), Step::Exec, "{err}");
    err
}

fn failed_path(err: &io::Error) -> Option<PathBuf> {
    SpawnError::from_io(err)?.path().map(Path::to_path_buf)
}

/// `dirs` joined with `:`.
fn search_path<P: AsRef<Path>>(dirs: &[P]) -> OsString {
    std::env::join_paths(dirs.iter().map(AsRef::as_ref)).expect("no ':' in the test paths")
}

#[test]
fn the_first_matching_directory_wins() {
    let _serial = serial();
    let tmp = TempDir::new("first-wins");
    let (a, b) = (tmp.subdir("a"), tmp.subdir("b"));
    echo_script(&a, PROG, "A");
    echo_script(&b, PROG, "B");
    let empty = tmp.subdir("empty");

    let ab = search_path(&[&empty, &a, &b]);
    assert_eq!(run(Command::new(PROG).env("PATH", ab)), "A\n");
    let ba = search_path(&[&empty, &b, &a]);
    assert_eq!(run(Command::new(PROG).env("PATH", ba)), "B\n");
}

#[test]
fn a_denied_match_is_skipped_for_a_later_executable_one() {
    let _serial = serial();
    let tmp = TempDir::new("skip-denied");
    let (a, b, c) = (tmp.subdir("a"), tmp.subdir("b"), tmp.subdir("c"));
    write_file(&a, PROG, b"#!/bin/sh\necho A\n", 0o644);
    // A directory of that name is denied too.
    std::fs::create_dir(b.join(PROG)).expect("mkdir");
    echo_script(&c, PROG, "C");
    let path = search_path(&[&a, &b, &c]);
    assert_eq!(run(Command::new(PROG).env("PATH", path)), "C\n");
}

#[test]
fn only_denied_matches_report_the_first_one() {
    let _serial = serial();
    let tmp = TempDir::new("all-denied");
    let (a, b, c) = (tmp.subdir("a"), tmp.subdir("b"), tmp.subdir("c"));
    let first = write_file(&b, PROG, b"#!/bin/sh\necho B\n", 0o644);
    write_file(&c, PROG, b"#!/bin/sh\necho C\n", 0o600);
    // `a` has no such file: a missing entry before the denied ones.
    let err = exec_err(Command::new(PROG).env("PATH", search_path(&[&a, &b, &c])));
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(spawn_errno(&err), Some(libc::EACCES));
    assert_eq!(failed_path(&err), Some(first.clone()));
    assert_eq!(
        err.to_string(),
        format!("spawn \"{PROG}\": exec {first:?}: Permission denied (os error 13)")
    );

    // Denied, then missing: still the denial.
    let missing = tmp.path().join("missing");
    let err = exec_err(Command::new(PROG).env("PATH", search_path(&[&b, &missing])));
    assert_eq!(spawn_errno(&err), Some(libc::EACCES));
    assert_eq!(failed_path(&err), Some(first));
}

#[test]
fn another_exec_error_stops_the_search() {
    let _serial = serial();
    let tmp = TempDir::new("enoexec-stops");
    let (a, b) = (tmp.subdir("a"), tmp.subdir("b"));
    let garbage = write_file(&a, PROG, b"not a program\n", 0o755);
    echo_script(&b, PROG, "B");
    let err = exec_err(Command::new(PROG).env("PATH", search_path(&[&a, &b])));
    assert_eq!(spawn_errno(&err), Some(libc::ENOEXEC));
    assert_eq!(failed_path(&err), Some(garbage));
}

#[test]
fn an_entry_that_is_a_file_is_skipped() {
    let _serial = serial();
    let tmp = TempDir::new("file-entry");
    let file = write_file(tmp.path(), "plain-file", b"", 0o644);
    let b = tmp.subdir("b");
    echo_script(&b, PROG, "B");
    // `plain-file/PROG` fails with ENOTDIR, which the search goes past.
    let path = search_path(&[&file, &b]);
    assert_eq!(run(Command::new(PROG).env("PATH", path)), "B\n");
}

#[test]
fn an_empty_entry_is_the_working_directory() {
    let _serial = serial();
    let tmp = TempDir::new("empty-entry");
    let here = tmp.subdir("here");
    echo_script(&here, PROG, "HERE");
    let missing = tmp.path().join("missing");
    let missing = missing.to_str().expect("UTF-8 temp dir");

    // Empty entries at the end, at the start, and in the middle.
    for path in [
        format!("{missing}:"),
        format!(":{missing}"),
        format!("{missing}::{missing}"),
    ] {
        let out = run(Command::new(PROG).env("PATH", &path).current_dir(&here));
        assert_eq!(out, "HERE\n", "PATH={path}");
    }

    // Without an empty entry, the working directory is not searched.
    let path = format!("{missing}:{missing}");
    let err = exec_err(Command::new(PROG).env("PATH", path).current_dir(&here));
    assert_eq!(spawn_errno(&err), Some(libc::ENOENT));
}

#[test]
fn a_search_that_finds_nothing_names_no_file() {
    let _serial = serial();
    let tmp = TempDir::new("found-nothing");
    let (a, b) = (tmp.subdir("a"), tmp.subdir("b"));
    let expected =
        format!("spawn \"{PROG}\": exec (searched PATH): No such file or directory (os error 2)");
    // However many entries PATH has.
    for dirs in [&[&a, &b][..], &[&a]] {
        let err = exec_err(Command::new(PROG).env("PATH", search_path(dirs)));
        assert_eq!(err.kind(), ErrorKind::NotFound, "PATH={dirs:?}");
        assert_eq!(failed_path(&err), None, "PATH={dirs:?}");
        assert_eq!(err.to_string(), expected, "PATH={dirs:?}");
    }
}

#[test]
fn the_commands_path_changes_the_search_but_not_the_parents() {
    let _serial = serial();
    let tmp = TempDir::new("child-path");
    let dir = tmp.subdir("bin");
    write_file(
        &dir,
        PROG,
        b"#!/bin/sh\necho \"found with PATH=$PATH\"\n",
        0o755,
    );
    let parent_path = std::env::var_os("PATH");

    let out = run(Command::new(PROG).env("PATH", &dir));
    assert_eq!(out, format!("found with PATH={}\n", dir.display()));
    assert_eq!(
        std::env::var_os("PATH"),
        parent_path,
        "the parent's PATH changed"
    );

    // With the environment untouched, the parent's PATH is searched, and it
    // does not hold the directory.
    let err = exec_err(&mut Command::new(PROG));
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // Changing another variable keeps the parent's PATH for the child.
    let err = exec_err(Command::new(PROG).env("SPAWNFD_TEST_OTHER", "1"));
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// A program found through the parent's `PATH` in a directory other than
/// `/bin` and `/usr/bin`, and in neither of those: one the default search
/// path cannot find. `None` if this system has none.
fn program_outside_default_path() -> Option<String> {
    let default_dirs = [Path::new("/bin"), Path::new("/usr/bin")];
    let parent_path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&parent_path) {
        if dir.as_os_str().is_empty() || default_dirs.iter().any(|d| same_dir(d, &dir)) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let executable = std::fs::metadata(entry.path()).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            });
            if executable && default_dirs.iter().all(|d| !d.join(&name).exists()) {
                return Some(name);
            }
        }
    }
    None
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A change to a command's builder.
type Change = fn(&mut Command) -> &mut Command;

/// The two ways to leave the child without `PATH`.
const NO_PATH: [(&str, Change); 2] = [
    ("env_clear", Command::env_clear),
    ("env_remove", |cmd| cmd.env_remove("PATH")),
];

#[test]
fn without_path_the_default_search_path_is_used() {
    let _serial = serial();
    assert!(Path::new("/bin/sh").exists(), "this test needs /bin/sh");
    let tmp = TempDir::new("default-path");
    let here = tmp.subdir("here");
    echo_script(&here, PROG, "HERE");
    let outside = program_outside_default_path();

    for (how, no_path) in NO_PATH {
        // `sh` is in /bin.
        let out = run(no_path(&mut Command::new("sh")).args(["-c", "echo ok"]));
        assert_eq!(out, "ok\n", "{how}");

        // The default has no empty entry: the working directory is not
        // searched.
        let err = exec_err(no_path(&mut Command::new(PROG)).current_dir(&here));
        assert_eq!(spawn_errno(&err), Some(libc::ENOENT), "{how}");

        // Nor is the parent's PATH.
        if let Some(name) = &outside {
            let err = exec_err(no_path(&mut Command::new(name)));
            assert_eq!(spawn_errno(&err), Some(libc::ENOENT), "{how}: {name}");
        }
    }
}

#[test]
fn a_program_with_a_slash_is_not_searched() {
    let _serial = serial();
    let tmp = TempDir::new("slash");
    let (here, on_path) = (tmp.subdir("here"), tmp.subdir("on-path"));
    echo_script(&here, PROG, "HERE");
    let sub = tmp.subdir("here/sub");
    echo_script(&sub, PROG, "SUB");
    echo_script(&on_path, PROG, "ON-PATH");

    let relative = format!("./{PROG}");
    let out = run(Command::new(&relative)
        .env("PATH", &on_path)
        .current_dir(&here));
    assert_eq!(out, "HERE\n");
    let nested = format!("sub/{PROG}");
    let out = run(Command::new(&nested)
        .env("PATH", &on_path)
        .current_dir(&here));
    assert_eq!(out, "SUB\n");

    // Not in the working directory: an error on that one path, although
    // PATH has a program of that name.
    let err = exec_err(
        Command::new(&relative)
            .env("PATH", &on_path)
            .current_dir(tmp.path()),
    );
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(failed_path(&err), Some(PathBuf::from(&relative)));
}

/// The `arg N VALUE` lines of a probe report.
fn probe_args(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter_map(|l| l.strip_prefix("arg "))
        .map(|l| l.split_once(' ').map_or("", |(_, arg)| arg))
        .collect()
}

#[test]
fn arg0_is_what_the_child_sees() {
    let _serial = serial();
    let probe = Path::new(PROBE);
    let dir = probe.parent().expect("the probe is in a directory");
    let name = probe.file_name().expect("the probe has a name");

    // Found in PATH: argv[0] is the name as given, or arg0.
    let report = run(Command::new(name).env("PATH", dir).arg("one"));
    assert_eq!(probe_args(&report), [name.to_str().unwrap(), "one"]);
    let report = run(Command::new(name)
        .env("PATH", dir)
        .arg0("renamed")
        .arg("one"));
    assert_eq!(probe_args(&report), ["renamed", "one"]);

    // Given by path.
    let report = run(Command::new(probe).arg0("").args(["a b", ""]));
    assert_eq!(probe_args(&report), ["", "a b", ""]);
}

#[test]
fn search_path_replaces_the_childs_path() {
    let _serial = serial();
    let tmp = TempDir::new("search-path");
    let (a, b) = (tmp.subdir("a"), tmp.subdir("b"));
    echo_script(&a, PROG, "A");
    echo_script(&b, PROG, "B");
    // The child's PATH names b; the search is in a, and the child's PATH
    // is left as given (the script's `echo` still finds its shell's).
    let mut cmd = Command::new(PROG);
    cmd.env(
        "PATH",
        search_path(&[&b, Path::new("/usr/bin"), Path::new("/bin")]),
    )
    .search_path(search_path(&[&a]));
    assert_eq!(run(&mut cmd), "A\n");
    // Not found in the search path, though the child's PATH has it.
    let err = exec_err(
        Command::new(PROG)
            .env("PATH", search_path(&[&b]))
            .search_path(search_path(&[tmp.subdir("empty")])),
    );
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

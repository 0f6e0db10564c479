//! Random command lines through the built `spawnfd`: options taken from
//! `spawnfd run --help`, with hostile values, in any order, `--` anywhere.
//! spawnfd never panics or dies of a signal, and a usage error (exit status
//! 125, clap's message on stderr) never starts PROGRAM. (The parser itself is tested in-process, with
//! many more lines, in the binary's own tests.)
//!
//! PROGRAM is `touch MARKER`; no other word can run anything: the values
//! are fixed words that name no program, and spawnfd's `PATH` is an empty
//! directory.

mod common;

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{BIN, scratch_path};
use proptest::prelude::*;

/// The long options `spawnfd run --help` lists, and whether each takes a
/// value (`--name <VALUE>`).
fn run_options() -> Vec<(String, bool)> {
    let out = std::process::Command::new(BIN)
        .args(["run", "--help"])
        .output()
        .expect("run spawnfd run --help");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).expect("UTF-8 help");
    let options: Vec<(String, bool)> = help
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            // A short name first: `-h, --help`, `-u, --unset <NAME>`.
            let line = match line.as_bytes() {
                [b'-', short, b',', b' ', ..] if short.is_ascii_alphanumeric() => &line[4..],
                _ => line,
            };
            let rest = line.strip_prefix("--")?;
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(rest.len());
            let takes_value = rest[end..].starts_with(" <");
            Some((format!("--{}", &rest[..end]), takes_value))
        })
        // They create the file their value names (/nonexistent, 0.2, ...)
        // wherever that is; tests/json.rs and tests/env_and_fds.rs cover
        // them.
        .filter(|(name, _)| !["--json-file", "--stdout", "--stderr"].contains(&name.as_str()))
        .collect();
    assert!(
        options.len() > 30,
        "only {} options in:\n{help}",
        options.len()
    );
    options
}

/// Values for the options; none names a program (checked by
/// [`assert_no_program_named`]).
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "3=5",
    "1=0",
    "7=7",
    "-1=2",
    "2147483648",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "0-65535",
    "65536",
    "3-1",
    "0,,1",
    "022",
    "1000",
    "NOFILE=64:128",
    "NOFILE=2:1",
    "CORE=unlimited",
    "TERM",
    "KILL",
    "RTMIN+99",
    "65",
    "USR1,USR2",
    "uts",
    "0:0:1",
    "0:0:0",
    "0.2",
    "50ms",
    "1e3",
    "K=V",
    "=V",
    "K",
    "nobody",
    "-",
    "--",
    "--cpus=1",
    "/",
    "/nonexistent",
    "\u{1F600}",
];

/// Panics if a word of [`VALUES`] is the name of a program in the usual
/// directories (it could then run as PROGRAM).
fn assert_no_program_named() {
    for dir in ["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"] {
        for word in VALUES.iter().filter(|w| !w.is_empty() && !w.contains('/')) {
            assert!(
                !Path::new(dir).join(word).exists(),
                "{dir}/{word} exists: pick another test value"
            );
        }
    }
}

/// Words of the command line before PROGRAM.
fn words(options: Vec<(String, bool)>) -> impl Strategy<Value = Vec<OsString>> {
    let option = proptest::sample::select(options);
    let value = || proptest::sample::select(VALUES).prop_map(OsString::from);
    let word = prop_oneof![
        4 => (option.clone(), value()).prop_map(|((name, takes), value)| {
            let mut words = vec![OsString::from(name)];
            if takes {
                words.push(value);
            }
            words
        }),
        2 => (option.clone(), value()).prop_map(|((name, _), value)| {
            let mut word = OsString::from(name + "=");
            word.push(value);
            vec![word]
        }),
        1 => option.prop_map(|(name, _)| vec![OsString::from(name)]),
        1 => value().prop_map(|v| vec![v]),
        1 => Just(vec![OsString::from("--")]),
    ];
    proptest::collection::vec(word, 0..8).prop_map(|w| w.into_iter().flatten().collect())
}

/// `touch`'s path.
fn system_touch() -> &'static str {
    ["/usr/bin/touch", "/bin/touch"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("touch in /usr/bin or /bin")
}

struct Setup {
    /// PROGRAM: a copy of touch of this test's own, so that no option that
    /// writes to a file it names (and takes PROGRAM for that name) can
    /// ever damage the system's.
    touch: PathBuf,
    /// Where PROGRAM leaves its mark (open to every user).
    marker: PathBuf,
    /// spawnfd's `PATH`: an empty directory.
    empty: PathBuf,
    out: PathBuf,
    err: PathBuf,
}

fn setup(name: &str) -> Setup {
    let dir = scratch_path("hostile-argv", name);
    let empty = dir.join("empty");
    fs::create_dir_all(&empty).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let touch = dir.join("touch");
    fs::copy(system_touch(), &touch).unwrap();
    Setup {
        touch,
        marker: dir.join("marker"),
        out: dir.join("out"),
        err: dir.join("err"),
        empty,
    }
}

/// Runs `spawnfd run WORDS... [--] touch MARKER`, checks the outcome and
/// returns spawnfd's exit status.
fn check(
    setup: &Setup,
    words: &[OsString],
    program_after_dashes: bool,
) -> Result<i32, TestCaseError> {
    let _ = fs::remove_file(&setup.marker);
    let mut cmd = spawnfd::Command::new(BIN);
    cmd.arg("run").args(words);
    if program_after_dashes {
        cmd.arg("--");
    }
    cmd.arg(&setup.touch)
        .arg(&setup.marker)
        .env_clear()
        .env("PATH", &setup.empty)
        .stdin(spawnfd::Stdio::null())
        .stdout(File::create(&setup.out).unwrap())
        .stderr(File::create(&setup.err).unwrap());
    let mut child = cmd.spawn().expect("spawn spawnfd");
    let status = match child.wait_timeout(Duration::from_secs(60)).unwrap() {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TestCaseError::fail(format!(
                "{words:?}: still running after 60 s"
            )));
        }
    };
    let stderr = String::from_utf8_lossy(&fs::read(&setup.err).unwrap()).into_owned();
    let ran = setup.marker.exists();
    prop_assert!(!stderr.contains("panicked"), "{:?}: {}", words, stderr);
    let Some(code) = status.code() else {
        return Err(TestCaseError::fail(format!(
            "{words:?}: spawnfd died: {status}: {stderr}"
        )));
    };
    prop_assert_ne!(code, 101, "{:?}: {}", words, stderr);
    if stderr.starts_with("error: ") || stderr.contains("Usage: ") {
        prop_assert_eq!(code, 125, "{:?}: {}", words, stderr);
        prop_assert!(
            !ran,
            "{:?}: a usage error, but PROGRAM ran: {}",
            words,
            stderr
        );
    }
    Ok(code)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn usage_errors_never_start_the_program(
        words in words(run_options()),
        program_after_dashes in any::<bool>(),
    ) {
        assert_no_program_named();
        check(setup_once(), &words, program_after_dashes)?;
    }
}

/// The scratch files, made once for all cases.
fn setup_once() -> &'static Setup {
    static SETUP: std::sync::OnceLock<Setup> = std::sync::OnceLock::new();
    SETUP.get_or_init(|| setup("cases"))
}

#[test]
fn a_usage_error_leaves_the_program_unstarted() {
    let setup = setup("fixed");
    for words in [
        &["--cpus", "65536"][..],
        &["--nice", "20"],
        &["--uid-map", "0:0:1"],
        &["--fd"],
    ] {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        assert_eq!(check(&setup, &words, true).unwrap(), 125, "{words:?}");
    }
    // And the program does run when the line is right.
    assert_eq!(check(&setup, &[], true).unwrap(), 0);
    assert!(setup.marker.exists());
}

//! `spawnfd generate`: the manual pages and completion scripts carry every
//! option the command line has, as its `--help` lists them.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::{BIN, stderr, stdout};

/// The long options `spawnfd SUBCOMMAND --help` lists.
fn long_options(subcommand: &str) -> Vec<String> {
    let out = Command::new(BIN)
        .args([subcommand, "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let options: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-h, ").unwrap_or(line);
            let line = line.split_once(", ").map_or(line, |(_, long)| long);
            let name = line.strip_prefix("--")?;
            let end = name.find([' ', '<', ',']).unwrap_or(name.len());
            Some(format!("--{}", &name[..end]))
        })
        .collect();
    assert!(options.len() > 20, "{subcommand}: {options:?}");
    options
}

/// A fresh directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spawnfd-generate-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir(&dir).unwrap();
    dir
}

#[test]
fn man_pages_document_every_option_steps_and_statuses() {
    let dir = scratch("man");
    let out = Command::new(BIN)
        .args(["generate", "man"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (page, subcommand) in [("spawnfd-run.1", "run"), ("spawnfd-exec.1", "exec")] {
        let roff = fs::read_to_string(dir.join(page)).unwrap();
        assert!(roff.starts_with(".ie") || roff.contains(".TH"), "{page}");
        for option in long_options(subcommand) {
            // roff writes '-' as "\-".
            let escaped = option.replace('-', "\\-");
            assert!(roff.contains(&escaped), "{page} lacks {option}");
        }
        assert!(roff.contains("Set\\-up steps"), "{page}: steps");
        assert!(roff.contains("setuid"), "{page}: steps");
        assert!(roff.contains("Exit status"), "{page}: statuses");
    }
    assert!(dir.join("spawnfd.1").exists());

    // man(1) renders them without a warning, where it is installed.
    if Command::new("man").arg("--version").output().is_err() {
        eprintln!("skipped: rendering the man pages: no man(1) here");
    } else {
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(dir.join("spawnfd-run.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).is_empty(), "man warns: {}", stderr(&out));
        assert!(stdout(&out).contains("spawnfd-run"));
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn man_into_a_missing_directory_is_an_error() {
    let out = Command::new(BIN)
        .args(["generate", "man", "/nonexistent/spawnfd-man"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("/nonexistent/spawnfd-man"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bash_completes_every_option_of_run_and_exec() {
    if Command::new("bash").arg("--version").output().is_err() {
        return eprintln!("skipped: bash completion: no bash here");
    }
    let dir = scratch("bash");
    let script = dir.join("spawnfd.bash");
    let out = Command::new(BIN)
        .args(["generate", "completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    fs::write(&script, &out.stdout).unwrap();

    // What bash offers after `spawnfd SUBCOMMAND --`, as a user pressing
    // Tab would get it.
    for subcommand in ["run", "exec"] {
        let complete = format!(
            "source \"$0\"; COMP_WORDS=(spawnfd {subcommand} --); COMP_CWORD=2; \
             _spawnfd spawnfd -- {subcommand}; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = Command::new("bash")
            .args(["-c", &complete])
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let offered: Vec<&str> = stdout(&out).lines().collect();
        for option in long_options(subcommand) {
            assert!(
                offered.contains(&option.as_str()),
                "{subcommand}: {option} not offered"
            );
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BIN)
            .args(["generate", "completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("--timeout"), "{shell}");
    }
    let out = Command::new(BIN)
        .args(["generate", "completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
}

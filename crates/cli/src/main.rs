//! `spawnfd`: run programs from the shell through the spawnfd library.
//!
//! ```text
//! spawnfd run [--fd CHILD=PARENT|N]... [--pass-fds LIST]... [-i] [-u NAME]...
//!             [--env KEY=VALUE]... [--argv0 NAME] [--stdin|--stdout|--stderr FILE]...
//!             [--json | --json-fd N | --json-file PATH]
//!             [--timeout DURATION [-s SIG] [-k DURATION] [--preserve-status]]
//!             [--kill-group] [--rusage] [ATTRIBUTE OPTIONS]... -- PROGRAM [ARGS]...
//! spawnfd exec [--fd CHILD=PARENT|N]... [--pass-fds LIST]... [-i] [-u NAME]...
//!              [--env KEY=VALUE]... [--argv0 NAME] [--stdin|--stdout|--stderr FILE]...
//!              [--status-fd N]
//!              [ATTRIBUTE OPTIONS]... -- PROGRAM [ARGS]...
//! spawnfd doctor [--json]
//! ```
//!
//! `doctor` prints the library's capability report: the kernel release and,
//! for each feature, the mechanism used here and why, or why it is
//! unavailable (`doctor`).
//!
//! `exec` applies the same options to spawnfd's own process and executes
//! PROGRAM in its place (no child, same pid); with `--status-fd N` a
//! failure is also written to fd N as a binary record (`status_record`),
//! and a success is end-of-file there. It returns only on failure, with
//! 125, 126 or 127 as below.
//!
//! `--timeout` stops PROGRAM if it runs too long, as timeout(1) does;
//! `--rusage` reports its resource usage (in the `--json` object, or as a
//! line on stderr).
//!
//! The attribute options set PROGRAM's directories (`--cwd`, `--cwd-fd`,
//! `--chroot`, `--umask`), session and terminal, user and groups, limits
//! and scheduling, namespaces and cgroup, privileges and signals; `spawnfd
//! run --help` lists them all.
//!
//! Each subcommand lives in a module of its own (`run`, `exec`, `doctor`,
//! `generate`); the modules beside
//! them hold what subcommands share: the option value types (`args`), the
//! child attribute options (`attrs`), taking over inherited fds (`fds`),
//! waiting for the child with a time limit and its resource usage (`wait`),
//! passing signals on to the child and ending as it did (`signals`),
//! the C library calls spawnfd makes for itself, such as user lookups
//! (`sys`), and exit statuses, error messages and JSON reports (`report`).
//!
//! # Exit status
//!
//! As env(1), timeout(1) and chroot(1), so that spawnfd's own failures
//! cannot be taken for PROGRAM's status:
//!
//! | Status  | Meaning                                                      |
//! |---------|--------------------------------------------------------------|
//! | N       | the child exited with status N                               |
//! | signal N | the child was killed by signal N: spawnfd kills itself with N (default action, no core dump), so a calling shell sees what it would see without spawnfd |
//! | 128 + N | the child was killed by signal N, with `--exit-code-for-signals` (or with `--preserve-status` after a time-out) |
//! | 127     | PROGRAM was not found (exec failed with `ENOENT`)            |
//! | 126     | PROGRAM was found but could not be executed (other exec error, or a missing `#!` interpreter) |
//! | 125     | spawnfd itself failed: a usage error (unknown option, bad value; with `--json` a `{"error": {"kind": "usage", ...}}` report on stdout), bad `--fd`, unknown user or group, a failed set-up step (chdir, chroot, setuid, ...), options the library refused, ..., or a child that ran out of time could not be signalled |
//! | 124     | the child ran out of time (`--timeout`) and was sent the `--signal`, then ended other than by `SIGKILL` (unless `--preserve-status`) |
//! | 137     | the child ran out of time and died of `SIGKILL` (after `--kill-after`, or as `--signal`), as `timeout -k` (unless `--preserve-status`) |
//!
//! # Signals
//!
//! `spawnfd run` is transparent: it passes the signals it receives on to
//! the child and waits for it (`signals`), never exits before it, and the
//! child gets `SIGKILL` as its parent-death signal unless `--pdeathsig` or
//! `--no-pdeathsig` say otherwise, so that it does not outlive a spawnfd
//! that is killed. `SIGKILL` because it is the only signal that reaches
//! here (the catchable ones are passed on), and a child must not be able to
//! ignore it.

#![deny(unsafe_code)]

mod args;
mod attrs;
mod doctor;
mod exec;
mod fds;
mod generate;
mod help;
mod json_channel;
mod program;
mod report;
mod run;
mod sandbox;
mod scope;
mod signals;
mod status_record;
mod sys;
mod wait;

#[cfg(test)]
mod parse_tests;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "spawnfd",
    version,
    about = "Run programs through spawnfd: exact spawn errors, only the fds you give",
    after_help = report::EXIT_STATUS_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Commands {
    Run(run::RunArgs),
    Exec(exec::ExecArgs),
    Doctor(doctor::DoctorArgs),
    Generate(generate::GenerateArgs),
}

impl Cli {
    /// Checks the rules that clap's argument relations cannot express; a
    /// broken one is a usage error, reported as clap reports its own.
    fn check(&self) -> Result<(), clap::Error> {
        let (name, result) = match &self.command {
            Commands::Run(args) => ("run", args.check()),
            Commands::Exec(args) => ("exec", args.check()),
            Commands::Generate(_) | Commands::Doctor(_) => return Ok(()),
        };
        result.map_err(|message| {
            let mut cli = Cli::command();
            cli.build();
            let subcommand = cli
                .find_subcommand_mut(name)
                .expect("the subcommand exists");
            subcommand.error(ErrorKind::MissingRequiredArgument, message)
        })
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match parse(&args) {
        Ok(cli) => run(cli),
        Err(err) => usage_error(&err, json_target(&args)),
    }
}

/// Parses and checks a command line (`args[0]` being the program name).
/// An error is a usage error, or the request for help or the version;
/// nothing has been started then. [`usage_error`] reports it.
fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    cli.check()?;
    Ok(cli)
}

/// The status a parse error makes spawnfd exit with: 0 for the help and
/// the version, which go to stdout; [`report::SPAWNFD_FAILED`] (125) for a
/// usage error, as env(1), timeout(1) and chroot(1) do, so that it cannot
/// be taken for PROGRAM's own status.
fn usage_status(err: &clap::Error) -> u8 {
    if err.use_stderr() {
        report::SPAWNFD_FAILED
    } else {
        0
    }
}

/// Reports a parse error: the help or version on stdout; a usage error on
/// stderr, or with a JSON channel (`json`) as `{"error": {"message": ...,
/// "kind": "usage"}}` there: on stdout for `--json`, on fd N for
/// `--json-fd N` if N is open; on stderr otherwise (`--json-file` creates
/// no file for a command line that could not be parsed).
fn usage_error(err: &clap::Error, json: Option<json_channel::Target>) -> ExitCode {
    let status = usage_status(err);
    if status != 0 {
        if let Some(mut sink) = json.as_ref().and_then(json_channel::for_usage_error) {
            return report::print_usage_error(err, &mut sink);
        }
    }
    // Nothing better to do if the terminal or pipe is gone.
    let _ = err.print();
    ExitCode::from(status)
}

/// The JSON channel a command line that could not be parsed asked for:
/// the first `--json`, `--json-fd N` or `--json-file PATH` among the
/// options of `spawnfd run` before PROGRAM (the first word that is neither
/// an option nor an option's value) or `--`. Options are known from
/// clap's definition: long ones with `=VALUE` or a separate value, and
/// clusters of short ones (`-s TERM`, `-sTERM`, `-k1`). An unknown option
/// is taken to have no value; a `--json-fd` value that is not an fd
/// number asks for nothing.
fn json_target(args: &[OsString]) -> Option<json_channel::Target> {
    let cli = Cli::command();
    let run = cli.find_subcommand("run")?;
    let mut words = args.iter().skip(1);
    if words.next()?.to_str() != Some("run") {
        return None;
    }
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    while let Some(word) = words.next() {
        let bytes = word.as_encoded_bytes();
        if bytes == b"--" || bytes == b"-" || !bytes.starts_with(b"-") {
            return None;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            };
            let name = String::from_utf8_lossy(name);
            let arg = run.get_arguments().find(|arg| {
                arg.get_long() == Some(&name)
                    || arg.get_all_aliases().is_some_and(|a| a.contains(&&*name))
            });
            if !arg.is_some_and(takes_value) {
                if let Some(target) = json_channel::target_of(&name, None) {
                    return Some(target);
                }
                continue;
            }
            let value = match inline {
                Some(value) => Some(OsStr::from_bytes(value).to_os_string()),
                None => words.next().cloned(),
            };
            if let Some(target) = json_channel::target_of(&name, value.as_ref()) {
                return Some(target);
            }
            if matches!(&*name, "json-fd" | "json-file") {
                return None;
            }
        } else {
            // A cluster of short options: the first that takes a value
            // takes the rest of the word, or the next word.
            for (i, &c) in bytes.iter().enumerate().skip(1) {
                let known = run
                    .get_arguments()
                    .find(|arg| arg.get_short().is_some_and(|s| s as u32 == u32::from(c)));
                if known.is_some_and(takes_value) {
                    if i + 1 == bytes.len() {
                        words.next();
                    }
                    break;
                }
            }
        }
    }
    None
}

/// Runs the subcommand and returns the status to exit with.
fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Commands::Run(args) => run::run(args),
        Commands::Exec(args) => exec::exec(args),
        Commands::Doctor(args) => doctor::doctor(args),
        Commands::Generate(args) => generate::generate(args, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

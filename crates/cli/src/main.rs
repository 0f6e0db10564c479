//! `spawnfd`: run programs from the shell through the spawnfd library.
//!
//! ```text
//! spawnfd run [--fd CHILD=PARENT]... [--env KEY=VALUE]... [--clear-env] [--json]
//!             [--timeout DURATION [--kill-signal SIG] [--kill-after DURATION]
//!             [--preserve-status]] [--rusage] [ATTRIBUTE OPTIONS]... -- PROGRAM [ARGS]...
//! spawnfd exec [--fd CHILD=PARENT]... [--env KEY=VALUE]... [--clear-env] [--status-fd N]
//!              [ATTRIBUTE OPTIONS]... -- PROGRAM [ARGS]...
//! ```
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
//! Each subcommand lives in a module of its own (`run`); the modules beside
//! them hold what subcommands share: the option value types (`args`), the
//! child attribute options (`attrs`), taking over inherited fds (`fds`),
//! waiting for the child with a time limit and its resource usage (`wait`),
//! the C library calls spawnfd makes for itself, such as user lookups
//! (`sys`), and exit statuses, error messages and JSON reports (`report`).
//!
//! # Exit status
//!
//! | Status  | Meaning                                                      |
//! |---------|--------------------------------------------------------------|
//! | N       | the child exited with status N                               |
//! | 128 + N | the child was killed by signal N (not re-raised)             |
//! | 127     | PROGRAM was not found (exec failed with `ENOENT`)            |
//! | 126     | PROGRAM was found but could not be executed (other exec error, or a missing `#!` interpreter) |
//! | 125     | spawnfd itself failed: bad `--fd`, unknown user or group, a failed set-up step (chdir, chroot, setuid, ...), options the library refused, ..., or a child that ran out of time could not be signalled |
//! | 124     | the child ran out of time (`--timeout`) and was sent the kill signal, however it then ended (unless `--preserve-status`) |
//! | 2       | usage error (bad command line)                               |

#![deny(unsafe_code)]

mod args;
mod attrs;
mod exec;
mod fds;
mod report;
mod run;
mod status_record;
mod sys;
mod wait;

#[cfg(test)]
mod parse_tests;

use std::ffi::OsString;
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
}

impl Cli {
    /// Checks the rules that clap's argument relations cannot express; a
    /// broken one is a usage error, reported as clap reports its own.
    fn check(&self) -> Result<(), clap::Error> {
        let (name, result) = match &self.command {
            Commands::Run(args) => ("run", args.check()),
            Commands::Exec(args) => ("exec", args.check()),
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
    match parse(std::env::args_os()) {
        Ok(cli) => run(cli),
        Err(err) => err.exit(),
    }
}

/// Parses and checks a command line (`args[0]` being the program name).
/// An error is a usage error (exit status 2), or the request for help or
/// the version (0); nothing has been started then.
fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    cli.check()?;
    Ok(cli)
}

/// Runs the subcommand and returns the status to exit with.
fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Commands::Run(args) => run::run(args),
        Commands::Exec(args) => exec::exec(args),
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

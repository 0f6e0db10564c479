//! `spawnfd`: run programs from the shell through the spawnfd library.
//!
//! ```text
//! spawnfd run [--fd CHILD=PARENT]... [--cwd DIR] [--env KEY=VALUE]... [--clear-env] [--json] -- PROGRAM [ARGS]...
//! ```
//!
//! Each subcommand lives in a module of its own (`run`); the modules beside
//! them hold what subcommands share: the option value types (`args`),
//! taking over inherited fds (`fds`), and exit statuses, error messages and
//! JSON reports (`report`).
//!
//! # Exit status
//!
//! | Status  | Meaning                                                      |
//! |---------|--------------------------------------------------------------|
//! | N       | the child exited with status N                               |
//! | 128 + N | the child was killed by signal N (not re-raised)             |
//! | 127     | PROGRAM was not found (exec failed with `ENOENT`)            |
//! | 126     | PROGRAM was found but could not be executed (other exec error, or a missing `#!` interpreter) |
//! | 125     | spawnfd itself failed: bad `--fd`, chdir failure, invalid input, ... |
//! | 2       | usage error (bad command line)                               |

#![deny(unsafe_code)]

mod args;
mod fds;
mod report;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    run(Cli::parse())
}

/// Runs the subcommand and returns the status to exit with.
fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Commands::Run(args) => run::run(args),
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

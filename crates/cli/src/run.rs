//! `spawnfd run`: run one program, wait for it, and exit with its status.
//!
//! The child inherits stdin, stdout and stderr (unless `--fd` maps 0, 1
//! or 2), the environment (changed by `--clear-env` and `--env`) and the
//! working directory (or `--cwd`); of the other fds it gets exactly those
//! given with `--fd`. While it runs, `spawnfd` ignores `SIGINT` and
//! `SIGQUIT`, as `system(3)` and `time(1)` do, so that a Ctrl-C at the
//! terminal reaches the child and `spawnfd` still reports how it ended; the
//! child starts with every signal at its default disposition.
//!
//! For the exit statuses, see [`EXIT_STATUS_HELP`](crate::report::EXIT_STATUS_HELP).

use std::ffi::OsString;
use std::os::fd::{OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};

use clap::Args;
use spawnfd::Command;

use crate::args::{EnvVar, FdMapping};
use crate::fds;
use crate::report::{self, EXIT_STATUS_HELP, Error};

/// Run PROGRAM, wait for it, and exit with its exit status.
///
/// PROGRAM inherits stdin, stdout, stderr, the environment and the working
/// directory, and no other fd unless given with --fd. A PROGRAM without a
/// '/' is searched for in PATH (the child's PATH, when --env or --clear-env
/// change it). spawnfd ignores SIGINT and SIGQUIT while PROGRAM runs, so that
/// a Ctrl-C stops PROGRAM and spawnfd still reports its status; PROGRAM
/// starts with every signal at its default disposition.
#[derive(Debug, Args)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct RunArgs {
    /// Give PROGRAM this process's fd PARENT as its fd CHILD (repeatable)
    ///
    /// For example `--fd 3=5`, or `--fd 5=5` to keep the number. A CHILD of
    /// 0, 1 or 2 replaces PROGRAM's stdin, stdout or stderr. PARENT must be
    /// open in spawnfd (for example `5<file` in the shell); it may appear in
    /// several --fd options. A CHILD may appear only once. Fds not given
    /// here (other than 0, 1 and 2) are closed in PROGRAM.
    #[arg(long = "fd", value_name = "CHILD=PARENT")]
    fds: Vec<FdMapping>,

    /// Run PROGRAM in directory DIR
    ///
    /// A PROGRAM path containing '/' but not starting with one is relative
    /// to DIR.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Set the environment variable KEY to VALUE in PROGRAM (repeatable)
    ///
    /// The option is split at its first '=': `--env X=a=b` sets X to "a=b".
    /// Applied after --clear-env.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = EnvVar::parser())]
    env: Vec<EnvVar>,

    /// Start PROGRAM with an empty environment, plus the --env variables
    ///
    /// PROGRAM is then searched for in /bin:/usr/bin, unless --env sets
    /// PATH.
    #[arg(long)]
    clear_env: bool,

    /// Print one JSON object on stdout once PROGRAM has ended
    ///
    /// PROGRAM shares spawnfd's stdout, so the object is written after
    /// everything PROGRAM wrote there, and ends with a newline. It is
    /// {"pid": N, "exit_code": N} or {"pid": N, "signal": N, "core_dumped":
    /// BOOL}; when PROGRAM could not be started, {"error": {"message": ...,
    /// "step": ..., "errno": N, "path": ..., "fd": N}}, with only the
    /// fields that apply ("kind": "invalid_input" for input spawnfd refused).
    /// The exit status is the same as without --json; no error message is
    /// printed on stderr.
    #[arg(long)]
    json: bool,

    /// The program to run, then its arguments
    ///
    /// Everything from PROGRAM on is passed to PROGRAM unchanged, even
    /// words that look like spawnfd options. Put `--` before PROGRAM if it
    /// starts with '-'.
    #[arg(
        value_names = ["PROGRAM", "ARGS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<OsString>,
}

/// Runs the subcommand and returns the status to exit with.
pub fn run(args: RunArgs) -> ExitCode {
    let ended = execute(&args);
    report::finish(ended, args.json)
}

/// Starts PROGRAM and waits for it; returns its pid and how it ended.
fn execute(args: &RunArgs) -> Result<(u32, ExitStatus), Error> {
    // First of all, before anything opens an fd of its own.
    let fds = fds::claim(&args.fds)?;
    ignore_terminal_signals();
    // The command, and with it this process's copies of the --fd fds, is
    // dropped once the child has them: a pipe handed to the child must not
    // be held open here while it runs.
    let mut child = command(args, fds).spawn().map_err(Error::Spawn)?;
    let pid = child.id();
    let status = child.wait().map_err(|source| Error::Wait { pid, source })?;
    Ok((pid, status))
}

/// The command described by `args`, with the claimed `--fd` fds.
fn command(args: &RunArgs, fds: Vec<(RawFd, OwnedFd)>) -> Command {
    let (program, program_args) = args.command.split_first().expect("clap requires PROGRAM");
    let mut cmd = Command::new(program);
    cmd.args(program_args);
    if args.clear_env {
        cmd.env_clear();
    }
    cmd.envs(args.env.iter().map(|var| (&var.key, &var.value)));
    if let Some(dir) = &args.cwd {
        cmd.current_dir(dir);
    }
    for (child_fd, fd) in fds {
        cmd.fd(child_fd, fd);
    }
    cmd
}

/// Ignores `SIGINT` and `SIGQUIT` in this process for the rest of its life.
///
/// The child does not inherit this: spawnfd resets ignored signals to their
/// default disposition in the children it starts.
#[allow(unsafe_code)]
fn ignore_terminal_signals() {
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: setting a disposition to SIG_IGN installs no handler; the
        // call cannot fail for these valid, catchable signals.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
}

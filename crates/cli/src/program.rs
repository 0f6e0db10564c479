//! What `run` and `exec` share: PROGRAM and its arguments, the fds it is
//! given, its environment and its attributes, and how they become a
//! library [`Command`].

use std::ffi::OsString;
use std::os::fd::OwnedFd;

use clap::Args;
use spawnfd::{Command, Signal, SignalSet};

use crate::args::{EnvVar, FdMapping};
use crate::attrs::AttrArgs;
use crate::fds::{self, FdOption};
use crate::report::Error;
use crate::sys;

/// PROGRAM, its fds, environment and attributes.
#[derive(Debug, Args)]
pub struct ProgramArgs {
    /// Give PROGRAM this process's fd PARENT as its fd CHILD (repeatable)
    ///
    /// For example `--fd 3=5`, or `--fd 5=5` to keep the number. A CHILD of
    /// 0, 1 or 2 replaces PROGRAM's stdin, stdout or stderr. PARENT must be
    /// open in spawnfd (for example `5<file` in the shell); it may appear in
    /// several --fd options. A CHILD may appear only once. Fds not given
    /// here (other than 0, 1 and 2) are closed in PROGRAM.
    #[arg(long = "fd", value_name = "CHILD=PARENT")]
    fds: Vec<FdMapping>,

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

    /// The program to run, then its arguments
    ///
    /// Everything from PROGRAM on is passed to PROGRAM unchanged, even
    /// words that look like spawnfd options. Before PROGRAM, a word that
    /// starts with '-' is an option, and an unknown one a usage error: put
    /// `--` before a PROGRAM that starts with '-'.
    #[arg(
        value_names = ["PROGRAM", "ARGS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    command: Vec<OsString>,

    #[command(flatten)]
    pub attrs: AttrArgs,
}

/// What the subcommand decides about the command it builds.
pub struct Setting {
    /// The signal mask to give PROGRAM with `--inherit-signal-mask`.
    pub mask_at_start: SignalSet,
    /// The parent-death signal when neither `--pdeathsig` nor
    /// `--no-pdeathsig` is given.
    pub default_pdeathsig: Option<Signal>,
}

impl ProgramArgs {
    /// Checks the rules clap's argument relations cannot express; returns
    /// the message of the usage error.
    pub fn check(&self) -> Result<(), String> {
        self.attrs.check()
    }

    /// PROGRAM and its arguments.
    #[cfg(test)]
    pub fn command_line(&self) -> &[OsString] {
        &self.command
    }

    /// The fd numbers the options name, in either process (`--fd` and
    /// `--cwd-fd`).
    pub fn named_fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.fds
            .iter()
            .flat_map(|m| [m.child, m.parent])
            .chain(self.attrs.cwd_fd())
    }

    /// Takes over the fds of `--fd` and `--cwd-fd` (see [`fds::claim`]).
    /// Call it first of all, before anything opens an fd of its own.
    pub fn claim_fds(&self) -> Result<Claimed, Error> {
        let mut options: Vec<FdOption> = self.fds.iter().copied().map(FdOption::Map).collect();
        options.extend(self.attrs.cwd_fd().map(FdOption::CwdFd));
        let mut fds = fds::claim(&options)?;
        let cwd_fd = self.attrs.cwd_fd().and_then(|_| fds.pop());
        Ok(Claimed { fds, cwd_fd })
    }

    /// The command these options describe, given the fds of
    /// [`ProgramArgs::claim_fds`]. The command holds this process's copies
    /// of those fds until it is dropped.
    pub fn command(&self, claimed: Claimed, setting: Setting) -> Result<Command, Error> {
        let (program, program_args) = self.command.split_first().expect("clap requires PROGRAM");
        let mut cmd = Command::new(program);
        cmd.args(program_args);
        if self.clear_env {
            cmd.env_clear();
        }
        cmd.envs(self.env.iter().map(|var| (&var.key, &var.value)));
        for (mapping, fd) in self.fds.iter().zip(claimed.fds) {
            cmd.fd(mapping.child, fd);
        }
        let ignored_at_start = self
            .attrs
            .keeps_ignored_signals()
            .then(sys::ignored_at_start);
        self.attrs
            .configure(&mut cmd, claimed.cwd_fd, ignored_at_start, setting)?;
        Ok(cmd)
    }
}

/// The fds taken over for `--fd` (in their order) and `--cwd-fd`.
pub struct Claimed {
    fds: Vec<OwnedFd>,
    cwd_fd: Option<OwnedFd>,
}

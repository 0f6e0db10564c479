//! What `run` and `exec` share: PROGRAM and its arguments, the fds it is
//! given, its environment and its attributes, and how they become a
//! library [`Command`].

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use clap::Args;
use spawnfd::{Command, Signal, SignalSet};

use crate::args::{EnvName, EnvVar, FdMapping, PassFdList, PassFds};
use crate::attrs::AttrArgs;
use crate::fds::{self, FdOption};
use crate::report::Error;
use crate::sys;

/// PROGRAM, its fds, environment and attributes.
#[derive(Debug, Args)]
pub struct ProgramArgs {
    /// Give PROGRAM this process's fd PARENT as its fd CHILD; N is N=N (repeatable)
    ///
    /// For example `--fd 3=5`, or `--fd 5` (short for `--fd 5=5`) to keep
    /// the number. A CHILD of 0, 1 or 2 replaces PROGRAM's stdin, stdout or
    /// stderr. PARENT must be open in spawnfd (for example `5<file` in the
    /// shell), or spawnfd exits with 125 before starting anything; it may
    /// appear in several --fd options. A CHILD may be given only once, by
    /// --fd or --pass-fds: twice is a usage error. Fds not given here or
    /// with --pass-fds (other than 0, 1 and 2) are closed in PROGRAM.
    #[arg(long = "fd", value_name = "CHILD=PARENT")]
    fds: Vec<FdMapping>,

    /// Give PROGRAM these fds under their own numbers: 3, 3-9, 3,5,8-10 (repeatable)
    ///
    /// A comma-separated list of fd numbers and ranges, 3 and up: `3`,
    /// `3-9`, `3,5,8-10`. A single number must be open in spawnfd, or
    /// spawnfd exits with 125 before starting anything; a range passes
    /// those of its fds that are open and skips the others, so `--pass-fds
    /// 3-9` works whatever is open (a range is looked at only below
    /// spawnfd's hard limit of open files, `ulimit -Hn`, where fds can be
    /// opened). 0, 1 and 2 are always inherited and cannot be named (use
    /// --fd to replace one). An fd given by --fd as a CHILD must not be
    /// named here too (usage error); numbers may repeat within --pass-fds.
    /// This keeps make's jobserver working for a sub-make (the fds of
    /// `--jobserver-auth=R,W` in MAKEFLAGS) and systemd's socket activation
    /// (fds 3 to 2+LISTEN_FDS); see the README for the recipes.
    #[arg(long, value_name = "LIST")]
    pass_fds: Vec<PassFdList>,

    /// Give PROGRAM the file FILE, opened for reading, as its stdin
    ///
    /// As `<FILE` in the shell (or process-wrapper's --stdin): spawnfd
    /// opens FILE before PROGRAM starts (relative to spawnfd's working
    /// directory, and as spawnfd's user, whatever --cwd, --chroot or --uid
    /// say), so a file that cannot be opened is an error (125) before
    /// anything starts. Not with --fd 0=....
    #[arg(long, value_name = "FILE")]
    stdin: Option<PathBuf>,

    /// Write PROGRAM's stdout to FILE, created or truncated (mode 0666 less the umask)
    ///
    /// As `>FILE` in the shell, or Bazel's process-wrapper --stdout, and
    /// opened as --stdin is. With --stderr naming the same FILE, both share
    /// one open file, as `>FILE 2>&1`, so neither overwrites the other. Not
    /// with --fd 1=....
    #[arg(long, value_name = "FILE")]
    stdout: Option<PathBuf>,

    /// Write PROGRAM's stderr to FILE, created or truncated, as --stdout
    #[arg(long, value_name = "FILE")]
    stderr: Option<PathBuf>,

    /// Remove the variable NAME from PROGRAM's environment (repeatable), as env -u
    ///
    /// Applied after --ignore-environment and the variables --user sets,
    /// and before --env, as GNU env does: `-u X --env X=1` leaves X set to
    /// 1, whatever the order on the command line. NAME must be non-empty
    /// and without '='; a NAME that is not set is no error.
    #[arg(short = 'u', long = "unset", value_name = "NAME", value_parser = EnvName::parser())]
    unset: Vec<EnvName>,

    /// Set the environment variable KEY to VALUE in PROGRAM (repeatable)
    ///
    /// The option is split at its first '=': `--env X=a=b` sets X to "a=b".
    /// Applied last, after --ignore-environment, --user's variables and
    /// --unset, so it wins over them; of several for the same KEY the last
    /// counts.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = EnvVar::parser())]
    env: Vec<EnvVar>,

    /// Start PROGRAM with an empty environment, plus the --env variables, as env -i
    ///
    /// --clear-env is another name for it. Applied first, whatever the
    /// order on the command line; --user then still sets HOME, USER,
    /// LOGNAME and SHELL (unless --preserve-environment). PROGRAM is then
    /// searched for in /bin:/usr/bin, unless --env sets PATH.
    #[arg(short = 'i', long = "ignore-environment", visible_alias = "clear-env")]
    clear_env: bool,

    /// Give PROGRAM NAME as its argv[0] instead of PROGRAM, as env --argv0 and exec -a
    ///
    /// PROGRAM is still what is executed (searched for in PATH as usual);
    /// only the name it sees as its own changes: `$0` in a shell script,
    /// what ps shows, /proc/PID/cmdline. A NAME that starts with '-' (a
    /// login shell's, say) is given as `--argv0=-sh`. NAME may be empty.
    #[arg(long, value_name = "NAME")]
    argv0: Option<OsString>,

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
        self.attrs.check()?;
        self.check_child_fds_given_once()
    }

    /// A CHILD of --fd is given by no other --fd and in no --pass-fds
    /// item. (Numbers may repeat within --pass-fds: each means N=N.)
    fn check_child_fds_given_once(&self) -> Result<(), String> {
        for (option, fd) in self.redirected() {
            if let Some(mapping) = self.fds.iter().find(|m| m.child == fd) {
                return Err(format!(
                    "{option} and --fd {mapping} both give PROGRAM's fd {fd}; \
                     give it only once"
                ));
            }
        }
        for (i, mapping) in self.fds.iter().enumerate() {
            let child = mapping.child;
            if let Some(other) = self.fds[..i].iter().find(|m| m.child == child) {
                return Err(format!(
                    "--fd {other} and --fd {mapping} both give PROGRAM's fd {child}; \
                     a CHILD may be given only once"
                ));
            }
            if let Some(item) = self.pass_fd_items().find(|item| item.contains(child)) {
                return Err(format!(
                    "--fd {mapping} gives PROGRAM's fd {child}, which --pass-fds {item} \
                     names too; a CHILD may be given only once"
                ));
            }
        }
        Ok(())
    }

    /// The items of every --pass-fds.
    fn pass_fd_items(&self) -> impl Iterator<Item = PassFds> + '_ {
        self.pass_fds.iter().flat_map(|list| list.0.iter().copied())
    }

    /// PROGRAM and its arguments.
    /// The standard fds that --stdin, --stdout and --stderr replace.
    fn redirected(&self) -> impl Iterator<Item = (&'static str, RawFd)> + '_ {
        [
            ("--stdin", self.stdin.is_some(), 0),
            ("--stdout", self.stdout.is_some(), 1),
            ("--stderr", self.stderr.is_some(), 2),
        ]
        .into_iter()
        .filter_map(|(option, given, fd)| given.then_some((option, fd)))
    }

    /// Opens the files of --stdin, --stdout and --stderr and gives them to
    /// `cmd`. After [`ProgramArgs::claim_fds`]: the files are new fds.
    fn open_redirections(&self, cmd: &mut Command) -> Result<(), Error> {
        if let Some(path) = &self.stdin {
            cmd.fd(0, open_redirection("--stdin", path)?);
        }
        let stdout = match &self.stdout {
            Some(path) => Some(open_redirection("--stdout", path)?),
            None => None,
        };
        if let Some(path) = &self.stderr {
            let shared = stdout
                .as_ref()
                .filter(|_| self.stdout.as_ref() == Some(path));
            let fd = match shared {
                // `>FILE 2>&1`: one open file, one offset.
                Some(out) => out
                    .try_clone()
                    .map_err(|source| resolve("--stderr", path, source))?,
                None => open_redirection("--stderr", path)?,
            };
            cmd.fd(2, fd);
        }
        if let Some(fd) = stdout {
            cmd.fd(1, fd);
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn command_line(&self) -> &[OsString] {
        &self.command
    }

    /// Whether an option names `fd` of this process (`--fd`, `--pass-fds`,
    /// `--cwd-fd`). A range of --pass-fds names all of its numbers, open or
    /// not.
    pub fn names_fd(&self, fd: RawFd) -> bool {
        self.fds.iter().any(|m| m.child == fd || m.parent == fd)
            || self.pass_fd_items().any(|item| item.contains(fd))
            || self.attrs.cwd_fd() == Some(fd)
    }

    /// Takes over the fds of `--fd`, `--pass-fds` and `--cwd-fd` (see
    /// [`fds::claim`]). Call it first of all, before anything opens an fd
    /// of its own: the open fds of a --pass-fds range are those inherited.
    pub fn claim_fds(&self) -> Result<Claimed, Error> {
        let items: Vec<PassFds> = self.pass_fd_items().collect();
        let passed = fds::open_in(&items);
        let mut options: Vec<FdOption> = self.fds.iter().copied().map(FdOption::Map).collect();
        options.extend(passed.iter().copied().map(FdOption::Pass));
        options.extend(self.attrs.cwd_fd().map(FdOption::CwdFd));
        let mut fds = fds::claim(&options)?;
        let cwd_fd = self.attrs.cwd_fd().and_then(|_| fds.pop());
        let children = self.fds.iter().map(|m| m.child).chain(passed);
        Ok(Claimed {
            fds: children.zip(fds).collect(),
            cwd_fd,
        })
    }

    /// The command these options describe, given the fds of
    /// [`ProgramArgs::claim_fds`]. The command holds this process's copies
    /// of those fds until it is dropped.
    pub fn command(&self, claimed: Claimed, setting: Setting) -> Result<Command, Error> {
        let (program, program_args) = self.command.split_first().expect("clap requires PROGRAM");
        let mut cmd = Command::new(program);
        cmd.args(program_args);
        if let Some(argv0) = &self.argv0 {
            cmd.arg0(argv0);
        }
        for (child, fd) in claimed.fds {
            cmd.fd(child, fd);
        }
        self.open_redirections(&mut cmd)?;
        // The environment in GNU env's order, with --user's variables
        // (set by `configure`) after the clearing and before the rest.
        if self.clear_env {
            cmd.env_clear();
        }
        let ignored_at_start = self
            .attrs
            .keeps_ignored_signals()
            .then(sys::ignored_at_start);
        self.attrs
            .configure(&mut cmd, claimed.cwd_fd, ignored_at_start, setting)?;
        for EnvName(name) in &self.unset {
            cmd.env_remove(name);
        }
        cmd.envs(self.env.iter().map(|var| (&var.key, &var.value)));
        Ok(cmd)
    }
}

/// Opens `path` for `option`: for reading (`--stdin`), or created and
/// truncated for writing; close-on-exec (std opens with `O_CLOEXEC`) and
/// above fd 2.
fn open_redirection(option: &'static str, path: &Path) -> Result<OwnedFd, Error> {
    let file = if option == "--stdin" {
        File::open(path)
    } else {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    };
    file.and_then(|file| sys::above_stdio(file.into()))
        .map_err(|source| resolve(option, path, source))
}

/// The error of `option`'s file `path`.
fn resolve(option: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Resolve {
        option,
        value: path.display().to_string(),
        source,
    }
}

/// The fds taken over for `--fd` and `--pass-fds`, each with PROGRAM's
/// number for it, and for `--cwd-fd`.
pub struct Claimed {
    fds: Vec<(RawFd, OwnedFd)>,
    cwd_fd: Option<OwnedFd>,
}

//! `spawnfd run`: run one program, wait for it, and exit with its status.
//!
//! The child inherits stdin, stdout and stderr (unless `--fd` maps 0, 1
//! or 2), the environment (changed by `-i`, `--user`, `-u` and `--env`,
//! [`crate::program`]) and the working directory (or `-C`/`--cwd`,
//! `--cwd-fd`); of the other fds it gets exactly those given with `--fd`
//! and `--pass-fds`. While it runs, `spawnfd` passes the
//! signals it receives on to the child ([`crate::signals`]) and, once the
//! child has ended, ends the same way: it kills itself with the signal that
//! killed the child (or exits 128+N with `--exit-code-for-signals`). The
//! child starts with every signal at its default disposition and none
//! blocked (unless `--ignore-signal`, `--keep-ignored-signals`,
//! `--signal-mask` or `--inherit-signal-mask`, which gives it spawnfd's
//! mask from before it blocked the signals it passes on), and with `SIGKILL`
//! as its parent-death signal (unless `--pdeathsig` or `--no-pdeathsig`).
//!
//! # Waiting
//!
//! [`crate::wait`] waits on the child's pidfd: `--timeout` stops a child
//! that runs too long (the `--signal`, then `SIGKILL` after the grace
//! period of `--kill-after` if given; spawnfd then exits with 124, as
//! timeout(1), unless `--preserve-status`; with `--kill-group` the child
//! leads a process group and the whole group is signalled), and `--rusage` reaps it with its resource
//! usage, reported in the JSON object or as one line on stderr (or as
//! unavailable, `"rusage": null`, when another process reaped the child
//! first).
//!
//! # The process tree
//!
//! With `--scope` ([`crate::scope`]) PROGRAM starts in a cgroup of its
//! own, which everything it starts joins: the forwarded signals and the
//! time limit go to the whole tree, and once PROGRAM is reaped what it
//! left running is killed, the tree's usage read for the report, and
//! the cgroup removed.
//!
//! # Child attributes
//!
//! The options of [`crate::attrs`] map one to one onto the library's
//! builder: `--setsid`, `--pgid`, `--ctty`, `--noctty`, `--foreground`
//! (session and terminal); `--uid`/`--user`, `--gid`/`--group`, `--groups`
//! (credentials; names are looked up here, with `getpwnam_r`,
//! `getgrnam_r` and `getgrouplist`); `--chroot`, `--umask`, `--cwd-fd`;
//! `--rlimit`, `--nice`, `--cpus`; `--unshare`, `--mount-proc`, `--uid-map`, `--gid-map`,
//! `--map-root-user`, `--cgroup`; `--pdeathsig`, `--no-new-privs`;
//! `--ignore-signal`, `--signal-mask`, `--inherit-signal-mask`,
//! `--keep-ignored-signals`. The child applies them in the library's order
//! (its `in_child` module): limits before credentials, so root may raise
//! hard limits; `--chroot` before the credentials, and the working
//! directory after both. Rules clap's argument relations express
//! (`--ctty` needs `--setsid`, `--uid` excludes `--user`, ...) and the one
//! [`RunArgs::check`] adds (id maps need a new user namespace) are usage
//! errors; the library's own refusals exit with 125.
//!
//! Where the CLI does more than pass a value on:
//!
//! - `--user NAME` sets the uid, and the gid and supplementary groups
//!   unless given, from the user and group databases, as `runuser -u`.
//! - `--chroot` without `--cwd` or `--cwd-fd` also moves the child to the
//!   new root, as `chroot(1)`.
//! - `--rlimit RES=SOFT:` or `RES=:HARD` fills in spawnfd's own other limit.
//! - `--map-root-user` maps root inside to spawnfd's effective ids.
//! - `--keep-ignored-signals` keeps what was ignored when spawnfd *started*:
//!   not the `SIGPIPE`
//!   the Rust runtime ignores before `main` (the original disposition of
//!   which [`crate::sys`] records in an `.init_array` constructor). It
//!   asks the library to ignore those signals again rather than calling
//!   `reset_ignored_signals(false)`, which would keep spawnfd's own.
//!
//! There is no option for `Command::ptrace_traceme`: the tracer is the
//! spawning process, and `spawnfd` only waits, so the child would stay
//! stopped at its first exec. Nor for `Command::cgroup_fd` (`--cgroup`
//! takes the directory's path).
//!
//! For the exit statuses, see [`EXIT_STATUS_HELP`].

#[cfg(test)]
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use clap::Args;
use spawnfd::Signal;

use crate::help;
use crate::json_channel::{self, JsonArgs, Sink};
use crate::program::{ProgramArgs, Setting};
use crate::report::{self, EXIT_STATUS_HELP, Ended, Error};
use crate::scope::{Hold, ScopeArgs};
use crate::signals::{self, Forwarder, Target};
use crate::wait::WaitArgs;

/// Run PROGRAM, wait for it, and exit with its exit status.
///
/// PROGRAM inherits stdin, stdout, stderr, the environment and the working
/// directory, and no other fd unless given with --fd. A PROGRAM without a
/// '/' is searched for in PATH (the child's PATH, when --env or --clear-env
/// change it). Options come before PROGRAM (or before `--`); an unknown one
/// is a usage error (exit status 125), and every word from PROGRAM on is
/// PROGRAM's. spawnfd passes the signals it receives (TERM, INT, HUP, ...)
/// on to PROGRAM and waits for it; when PROGRAM is killed by a signal,
/// spawnfd kills itself with the same signal, so that a shell running it
/// sees what it would see without spawnfd (see Exit status below). PROGRAM
/// starts with every signal at its default disposition and none blocked
/// (see Signals below), and dies with spawnfd if spawnfd is killed (see
/// --pdeathsig). With --timeout, spawnfd stops PROGRAM (or with
/// --kill-group its whole process group) if it runs too long, and exits
/// with 124 (see Time limit and resource usage below).
///
/// The options under the headings from Directories and files on set
/// PROGRAM's directories, session, credentials, limits, namespaces and
/// signals. PROGRAM is created in its namespaces and cgroup, then applies
/// the rest before it executes, in the order of "Set-up steps" below
/// (--help). Should a step fail, PROGRAM is not executed and spawnfd exits
/// with 125, naming the step.
#[derive(Debug, Args)]
#[command(
    after_help = EXIT_STATUS_HELP,
    after_long_help = help::with_steps(EXIT_STATUS_HELP)
)]
pub struct RunArgs {
    #[command(flatten)]
    json: JsonArgs,

    /// When PROGRAM is killed by signal N, exit with 128+N rather than die
    /// of N
    ///
    /// By default spawnfd ends as PROGRAM did: it kills itself with the
    /// same signal (without a core dump), so that a shell running it sees
    /// what it would see without spawnfd (bash stops a script whose
    /// command died of SIGINT, for instance). With this option it exits
    /// with status 128+N, as a shell reports such a command.
    #[arg(long)]
    exit_code_for_signals: bool,

    #[command(flatten)]
    wait: WaitArgs,

    #[command(flatten)]
    scope: ScopeArgs,

    #[command(flatten)]
    program: ProgramArgs,
}

impl RunArgs {
    /// Checks the rules clap's argument relations cannot express; returns
    /// the message of the usage error.
    pub fn check(&self) -> Result<(), String> {
        self.program.check()?;
        self.check_kill_group()?;
        self.check_json_fd()
    }

    /// `--json-fd N` is spawnfd's own: not also an fd of `--fd`,
    /// `--pass-fds` or `--cwd-fd`.
    fn check_json_fd(&self) -> Result<(), String> {
        match self.json.fd() {
            Some(n) if self.program.names_fd(n) => Err(format!(
                "--json-fd {n} must not be given with --fd, --pass-fds or --cwd-fd as well"
            )),
            _ => Ok(()),
        }
    }

    /// `--kill-group` makes PROGRAM lead a group, which `--pgid` with
    /// another group contradicts (`--setsid` and `--pgid 0` agree).
    fn check_kill_group(&self) -> Result<(), String> {
        match self.program.attrs.pgid() {
            Some(pgid) if pgid != 0 && self.wait.kill_group() => Err(format!(
                "--kill-group makes PROGRAM lead a process group of its own, \
                 but --pgid {pgid} puts it in group {pgid} (use --pgid 0 or leave it out)"
            )),
            _ => Ok(()),
        }
    }

    /// PROGRAM and its arguments.
    #[cfg(test)]
    pub fn command_line(&self) -> &[OsString] {
        self.program.command_line()
    }
}

/// Runs the subcommand and returns the status to exit with.
pub fn run(args: RunArgs) -> ExitCode {
    let mut json = None;
    let ended = execute(&args, &mut json);
    let preserve_status = args.wait.preserve_status();
    let reraise = match &ended {
        Ok(ended) if !args.exit_code_for_signals => ended.signal_to_reraise(),
        _ => None,
    };
    let status = report::finish(ended, json.as_mut(), preserve_status);
    if let Some(signal) = reraise {
        signals::die_of(signal);
    }
    status
}

/// Starts PROGRAM and waits for it; returns how it ended. `json` receives
/// the JSON channel, if one was asked for, as soon as it is open.
fn execute(args: &RunArgs, json: &mut Option<Sink>) -> Result<Ended, Error> {
    // First of all, before anything opens an fd of its own; the channel
    // is open before the spawn, so that the report has somewhere to go.
    let target = args.json.target();
    let claimed = json_channel::open_around(target.as_ref(), json, || args.program.claim_fds())?;
    // Before the spawn: a signal that comes while the child starts waits
    // in the signalfd and is passed on once it exists.
    let target = if args.wait.kill_group() {
        Target::Group
    } else {
        args.program.attrs.signal_target()
    };
    let (mut signals, mask_at_start) = Forwarder::new(target).map_err(Error::Signals)?;
    // PROGRAM's scope, with --scope (or --contain): the signals go to its
    // whole tree; or with --contain where no cgroup can be made, to its
    // process group.
    let (scope, group_tree) = match args.scope.create()? {
        Hold::Nothing => (None, false),
        Hold::Scope(scope) => (Some(Arc::new(scope)), false),
        Hold::Group => (None, true),
    };
    if let Some(scope) = &scope {
        signals.send_to_scope(Arc::clone(scope));
    }
    if group_tree {
        signals.send_to_group();
    }
    let setting = Setting {
        mask_at_start,
        default_pdeathsig: Some(Signal::KILL),
    };
    // The command, and with it this process's copies of the --fd fds, is
    // dropped once the child has them: a pipe handed to the child must not
    // be held open here while it runs.
    let mut cmd = args.program.command(claimed, setting)?;
    if args.wait.kill_group() && !args.program.attrs.new_session() {
        // The group --kill-group signals: PROGRAM's own.
        cmd.process_group(0);
    }
    if let Some(scope) = &scope {
        cmd.scope(scope);
    }
    if group_tree {
        cmd.process_group_tree();
    }
    let (started, clock) = (SystemTime::now(), Instant::now());
    let mut child = cmd.spawn().map_err(Error::Spawn)?;
    // (A scope dropped on the way out kills what is left in it and is
    // removed; on an error too.)
    args.wait.wait(
        &mut child,
        &signals,
        started,
        clock,
        scope.as_deref(),
        group_tree,
    )
}

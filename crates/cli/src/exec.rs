//! `spawnfd exec`: set this process up as `spawnfd run` would set up its
//! child, then execute PROGRAM in its place, with no child: what `env`,
//! `setpriv`, `prlimit`, `chroot`, `nice` and `unshare` do, and what a
//! relay that a host forks does to give the real program a clean process.
//!
//! The fd, environment and attribute options are those of `run` (the
//! attribute options are the same [`crate::attrs`] definitions); the
//! options that only make sense with a child to wait for (`--timeout`,
//! `--rusage`, `--json`, ...) are not offered, so giving one is a usage
//! error. The library's `Command::exec` runs the same steps, in the same
//! order, as a spawned child does, and refuses what needs a new process
//! (`--unshare pid`, `user` or `time`, id maps): 125. `--cgroup` moves the
//! process into the cgroup before the other steps.
//!
//! # The status fd
//!
//! With `--status-fd N`, a host that forked spawnfd learns how the exec
//! went without parsing messages: fd N (3 or more, typically the write
//! end of a pipe) is made close-on-exec at once, so the host reads
//! end-of-file when PROGRAM runs, and on failure spawnfd writes one record
//! to it before exiting (see [`crate::status_record`] for the layout).

#![allow(unsafe_code)]

#[cfg(test)]
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::process::ExitCode;

use clap::Args;
use spawnfd::Command;

use crate::args::parse_fd;
use crate::help;
use crate::program::{ProgramArgs, Setting};
use crate::report::Error;
use crate::signals;
use crate::status_record::Record;

/// The exit statuses of `exec`, for the end of `--help`.
pub const EXEC_STATUS_HELP: &str = "\
Exit status (when PROGRAM could not be executed; otherwise PROGRAM's own):
  127      PROGRAM was not found (exec failed with ENOENT)
  126      PROGRAM was found but could not be executed (any other exec error,
           or its #! interpreter is missing)
  125      spawnfd itself failed: a bad --fd or --cwd-fd, a user or group
           that does not exist, a set-up step that failed (chdir, chroot,
           setuid, setrlimit, unshare, ...), options it refused, or a
           usage error

Status record (--status-fd N), written only on failure, 24 bytes, little-endian:
  0   4 bytes  magic \"SPFX\"
  4   u16      version, 1
  6   u16      the exit status above (125, 126, 127)
  8   u32      the step that failed (the library's Step::code(): 14 chdir,
               13 setuid, 25 exec, ...), or 0 for a failure before any step
  12  i32      errno, 0 for none
  16  i64      the fd, signal, id or RLIMIT_* number at fault, or -1
End-of-file without a record: PROGRAM was executed.";

/// Set this process up as `run` sets up its child, then execute PROGRAM in
/// its place
///
/// The same fd, environment and attribute options as `run`, applied to
/// spawnfd's own process in the same order, after which PROGRAM replaces
/// spawnfd: same pid, same parent, no child. PROGRAM inherits stdin,
/// stdout, stderr, and no other fd unless given with --fd. Should a step
/// fail, spawnfd names it and exits with 125 (126 or 127 when PROGRAM
/// itself cannot be executed). Options that need a new process are
/// refused: --unshare pid, user and time, --uid-map, --gid-map,
/// --map-root-user. --cgroup moves spawnfd's process into the cgroup first.
#[derive(Debug, Args)]
#[command(
    after_help = EXEC_STATUS_HELP,
    after_long_help = help::with_steps(EXEC_STATUS_HELP)
)]
pub struct ExecArgs {
    /// On failure, write a binary status record to fd N (see below); nothing on success
    ///
    /// N (3 or more, open in spawnfd, typically the write end of a pipe)
    /// is made close-on-exec at once, so its reader sees end-of-file as
    /// soon as PROGRAM runs. N must not also be given with --fd, --cwd-fd
    /// or (even within a range) --pass-fds.
    #[arg(long, value_name = "N", value_parser = parse_status_fd)]
    status_fd: Option<RawFd>,

    #[command(flatten)]
    program: ProgramArgs,

    #[command(flatten)]
    run_only: RunOnlyArgs,
}

/// `run`'s options about the child it waits for, accepted here only to be
/// refused with a usage error that says why (rather than be taken for
/// PROGRAM).
#[derive(Debug, Args)]
struct RunOnlyArgs {
    #[arg(long, hide = true, value_name = "DURATION")]
    timeout: Option<String>,
    #[arg(
        short = 's',
        long,
        alias = "kill-signal",
        hide = true,
        value_name = "SIG"
    )]
    signal: Option<String>,
    #[arg(short = 'k', long, hide = true, value_name = "DURATION")]
    kill_after: Option<String>,
    #[arg(long, hide = true)]
    kill_group: bool,
    #[arg(long, hide = true)]
    preserve_status: bool,
    #[arg(long, hide = true)]
    rusage: bool,
    #[arg(long, hide = true)]
    json: bool,
    #[arg(long, hide = true, value_name = "N")]
    json_fd: Option<String>,
    #[arg(long, hide = true, value_name = "PATH")]
    json_file: Option<String>,
}

impl RunOnlyArgs {
    /// The first option given, as on the command line.
    fn given(&self) -> Option<&'static str> {
        [
            (self.timeout.is_some(), "--timeout"),
            (self.signal.is_some(), "--signal"),
            (self.kill_after.is_some(), "--kill-after"),
            (self.kill_group, "--kill-group"),
            (self.preserve_status, "--preserve-status"),
            (self.rusage, "--rusage"),
            (self.json, "--json"),
            (self.json_fd.is_some(), "--json-fd"),
            (self.json_file.is_some(), "--json-file"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}

/// `--status-fd N`: 3 or more, since it is made close-on-exec.
fn parse_status_fd(s: &str) -> Result<RawFd, String> {
    let fd = parse_fd(s, "N")?;
    if fd < 3 {
        return Err(format!(
            "N must be 3 or more: fd {fd} is PROGRAM's standard fd, and N is closed on exec"
        ));
    }
    Ok(fd)
}

impl ExecArgs {
    /// Checks the rules clap's argument relations cannot express; returns
    /// the message of the usage error.
    pub fn check(&self) -> Result<(), String> {
        if let Some(option) = self.run_only.given() {
            return Err(format!(
                "{option} is about a child that spawnfd waits for: exec has none (use spawnfd run)"
            ));
        }
        self.program.check()?;
        let Some(n) = self.status_fd else {
            return Ok(());
        };
        if self.program.names_fd(n) {
            return Err(format!(
                "--status-fd {n} must not be given with --fd, --pass-fds or --cwd-fd as well"
            ));
        }
        Ok(())
    }

    /// PROGRAM and its arguments.
    #[cfg(test)]
    pub fn command_line(&self) -> &[OsString] {
        self.program.command_line()
    }
}

/// Sets up and executes PROGRAM; returns only on failure, with the status
/// to exit with.
pub fn exec(args: ExecArgs) -> ExitCode {
    let mut status_fd = None;
    let err = match prepare(&args, &mut status_fd) {
        Ok(mut cmd) => Error::Spawn(cmd.exec()),
        Err(err) => err,
    };
    let status = err.exit_status();
    eprintln!("spawnfd: {err}");
    if let (Some(out), Some(n)) = (status_fd.as_mut(), args.status_fd) {
        if let Err(e) = Record::of(&err, status).write_to(out) {
            eprintln!("spawnfd: cannot write the status record to fd {n}: {e}");
        }
    }
    ExitCode::from(status)
}

/// Takes over the fds and builds the command; `status_fd` receives the
/// status fd as soon as it is claimed, so that later failures are
/// recorded there.
fn prepare(args: &ExecArgs, status_fd: &mut Option<File>) -> Result<Command, Error> {
    // Check N before fds::claim duplicates anything: a duplicate takes the
    // lowest free number, which a closed N could be.
    let status_open = args.status_fd.map(|n| (n, set_cloexec(n)));
    let claimed = args.program.claim_fds();
    if let Some((n, open)) = status_open {
        // Without a status fd there is nowhere to write the record: the
        // message on stderr says why.
        open.map_err(|source| Error::Resolve {
            option: "--status-fd",
            value: n.to_string(),
            source,
        })?;
        // SAFETY: N is 3 or more (parse_status_fd), open (checked above,
        // before anything in this process opened an fd, so it is one that
        // was inherited), and nothing else here owns it: `check` refuses
        // it as an fd of --fd, --pass-fds or --cwd-fd, the only other fds
        // taken over.
        *status_fd = Some(unsafe { File::from_raw_fd(n) });
    }
    let setting = Setting {
        // exec blocks nothing: --inherit-signal-mask keeps the mask as it is.
        mask_at_start: signals::current_mask().map_err(Error::Signals)?,
        // A relay's program lives as long as it lives, as with env(1).
        default_pdeathsig: None,
    };
    args.program.command(claimed?, setting)
}

/// Marks fd `n` close-on-exec; fails if it is not open.
fn set_cloexec(n: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a number only reads or sets its flags; EBADF if it
    // is not open.
    let flags = unsafe { libc::fcntl(n, libc::F_GETFD) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(n, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_status_fd;

    #[test]
    fn status_fd_is_3_or_more() {
        assert_eq!(parse_status_fd("3"), Ok(3));
        assert!(parse_status_fd("2").is_err());
        assert!(parse_status_fd("-1").is_err());
        assert!(parse_status_fd("x").is_err());
    }
}

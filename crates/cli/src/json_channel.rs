//! Where the JSON report goes: stdout (`--json`), an inherited fd
//! (`--json-fd N`) or a file (`--json-file PATH`).
//!
//! On stdout the report follows whatever PROGRAM wrote there, and whatever
//! PROGRAM's own background children still write may come after it: an fd
//! or a file of its own keeps the report apart from PROGRAM's output, and
//! works when stdout is closed or PROGRAM floods it. The channel is made
//! ready before the spawn (fd N checked and made close-on-exec, the file
//! created), so that a channel that cannot be had is an error before any
//! child exists, and the report of a spawn failure has somewhere to go.

#![allow(unsafe_code)]

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use crate::args::parse_fd;
use crate::report::Error;
use crate::sys;

/// The options that ask for a JSON report.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print one JSON object on stdout once PROGRAM has ended
    ///
    /// PROGRAM shares spawnfd's stdout, so the object is written after
    /// everything PROGRAM wrote there (but output of processes PROGRAM
    /// started and left running may still come after it: --json-fd or
    /// --json-file keep the report apart), and ends with a newline. It is
    /// {"pid": N, "exit_code": N} or {"pid": N, "signal": N, "core_dumped":
    /// BOOL}, with "start_time" (when PROGRAM was started, UTC, RFC 3339
    /// with nanoseconds: "2026-12-02T10:00:00.123456789Z") and "elapsed"
    /// (seconds from then until PROGRAM was reaped, on the monotonic clock,
    /// a number with a fraction), plus "timed_out": BOOL with --timeout
    /// ("signal" is then the one PROGRAM actually died of) and "rusage":
    /// {...} with --rusage ("rusage": null if the usage could not be had;
    /// see --rusage); when PROGRAM could not be started, {"error":
    /// {"message": ..., "step": ..., "errno": N, "path": ..., "fd": N,
    /// "signal": N, "id": N, "resource": ...}}, with only the fields that
    /// apply ("kind": "invalid_input" for options spawnfd refused,
    /// "option" for a user or group it could not find, "kind": "usage" for
    /// a bad command line). The exit status is the same as without --json;
    /// no error message is printed on stderr.
    #[arg(long, conflicts_with_all = ["json_fd", "json_file"])]
    json: bool,

    /// Write the JSON report (as --json) to spawnfd's fd N, not stdout
    ///
    /// N must be open in spawnfd (for example `3>report.json` or a pipe in
    /// the shell) and not also given with --fd or --cwd-fd. A usage error
    /// is reported there too if N is open. N of 3 or more is made
    /// close-on-exec at once, so PROGRAM does not get it; 1 or 2 stay
    /// PROGRAM's stdout or stderr (`--json-fd 2` puts the report on
    /// stderr, after PROGRAM's messages). The report is written once
    /// PROGRAM has ended, so that PROGRAM's exit status is reported even
    /// when its stdout is closed or flooded.
    #[arg(long, value_name = "N", value_parser = parse_json_fd, conflicts_with = "json_file")]
    json_fd: Option<RawFd>,

    /// Write the JSON report (as --json) to the file PATH, not stdout
    ///
    /// PATH is created (mode 0666 less the umask) or truncated before
    /// PROGRAM is started, so that a PATH that cannot be written is an
    /// error (exit status 125, on stderr) before any child exists; the
    /// report is written to it once, when PROGRAM has ended (or PROGRAM
    /// could not be started). A usage error creates no file: it is said on
    /// stderr. PATH is relative to spawnfd's working directory, not --cwd.
    #[arg(long, value_name = "PATH")]
    json_file: Option<PathBuf>,
}

/// `--json-fd N`.
fn parse_json_fd(s: &str) -> Result<RawFd, String> {
    parse_fd(s, "N")
}

/// Where a JSON report was asked to go, as on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `--json`.
    Stdout,
    /// `--json-fd N`.
    Fd(RawFd),
    /// `--json-file PATH`.
    File(PathBuf),
}

impl JsonArgs {
    /// Where the report goes, if one was asked for.
    pub fn target(&self) -> Option<Target> {
        if let Some(n) = self.json_fd {
            Some(Target::Fd(n))
        } else if let Some(path) = &self.json_file {
            Some(Target::File(path.clone()))
        } else {
            self.json.then_some(Target::Stdout)
        }
    }

    /// The fd `--json-fd` names, for the check against `--fd`.
    pub fn fd(&self) -> Option<RawFd> {
        self.json_fd
    }
}

/// An open channel for the report.
#[derive(Debug)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// `--json-fd N` of 0, 1 or 2: PROGRAM's too, never closed here.
    Std(ManuallyDrop<File>),
    /// `--json-fd N` of 3 or more (close-on-exec), or `--json-file`.
    Own(File),
}

/// `--json-fd N`: checks that N is open and, for N of 3 or more, makes it
/// close-on-exec and takes it over. Call it before anything in this
/// process opens an fd, so that N is one that was inherited.
pub fn claim_fd(n: RawFd) -> io::Result<Sink> {
    // SAFETY: fcntl on a number only reads or sets its flags; EBADF if it
    // is not open.
    let flags = unsafe { libc::fcntl(n, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if n <= 2 {
        // SAFETY: the standard fds stay open for the life of the process;
        // ManuallyDrop never closes it.
        return Ok(Sink::Std(ManuallyDrop::new(unsafe {
            File::from_raw_fd(n)
        })));
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(n, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: N is 3 or more, open (checked above, before this process
    // opened an fd of its own, so it was inherited), and nothing else here
    // owns it: RunArgs::check refuses it with --fd and --cwd-fd, the only
    // other fds taken over.
    Ok(Sink::Own(unsafe { File::from_raw_fd(n) }))
}

/// `--json-file PATH`: creates or truncates it (close-on-exec, above fd 2).
pub fn create_file(path: &PathBuf) -> io::Result<Sink> {
    let file = File::create(path)?;
    let fd = sys::above_stdio(OwnedFd::from(file))?;
    Ok(Sink::Own(File::from(fd)))
}

/// Opens the channel of `target` for the report of a usage error, which
/// is found before anything is claimed: `None` (say it on stderr instead)
/// if fd N is not open, and for `--json-file`: a command line that could
/// not be parsed creates no file (PATH may be a word taken for it by
/// mistake).
pub fn for_usage_error(target: &Target) -> Option<Sink> {
    match target {
        Target::Stdout => Some(Sink::Stdout),
        Target::Fd(n) => claim_fd(*n).ok(),
        Target::File(_) => None,
    }
}

impl Sink {
    /// Writes `report` and a newline, in one piece where the channel
    /// allows it.
    pub fn write(&mut self, report: &Value) -> io::Result<()> {
        let mut line = serde_json::to_vec(report).map_err(io::Error::from)?;
        line.push(b'\n');
        match self {
            Sink::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout.write_all(&line)?;
                stdout.flush()
            }
            Sink::Std(file) => file.write_all(&line),
            Sink::Own(file) => file.write_all(&line),
        }
    }
}

/// The JSON channel of a `run` command line that could not be parsed:
/// the first `--json`, `--json-fd N` or `--json-file PATH` among the
/// options before PROGRAM or `--` (see [`crate::json_target`]).
pub fn target_of(name: &str, value: Option<&OsString>) -> Option<Target> {
    match name {
        "json" => Some(Target::Stdout),
        "json-fd" => value
            .and_then(|v| v.to_str())
            .and_then(|v| parse_json_fd(v).ok())
            .map(Target::Fd),
        "json-file" => value.map(|v| Target::File(PathBuf::from(v))),
        _ => None,
    }
}

/// Opens the channel for a run, in the order the fds allow: fd N before
/// the `--fd` fds are claimed (`claim`), the file after (a new fd takes
/// the lowest free number, which a closed `--fd` PARENT could be). `sink`
/// receives the channel as soon as it is open, so that an error of
/// `claim` is reported there too.
pub fn open_around<T>(
    target: Option<&Target>,
    sink: &mut Option<Sink>,
    claim: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let channel_error = |option, value: String, source| Error::Resolve {
        option,
        value,
        source,
    };
    let fd = match target {
        Some(Target::Fd(n)) => Some(claim_fd(*n).map_err(|e| (n.to_string(), e))),
        _ => None,
    };
    let claimed = claim();
    match (target, fd) {
        (_, Some(fd)) => {
            *sink = Some(fd.map_err(|(n, e)| channel_error("--json-fd", n, e))?);
        }
        (Some(Target::File(path)), None) => {
            let file = create_file(path)
                .map_err(|e| channel_error("--json-file", path.display().to_string(), e))?;
            *sink = Some(file);
        }
        (Some(Target::Stdout), None) => *sink = Some(Sink::Stdout),
        _ => {}
    }
    claimed
}

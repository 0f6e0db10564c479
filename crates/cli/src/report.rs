//! How a run ends: the exit status of `spawnfd`, the error message on
//! stderr, or the JSON report on stdout.

use std::fmt;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};

use serde_json::{Map, Value, json};
use spawnfd::{SpawnError, Step};

use crate::fds::FdOption;

/// Exit status when PROGRAM was not found (exec failed with `ENOENT`).
pub const NOT_FOUND: u8 = 127;
/// Exit status when PROGRAM was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// Exit status when spawnfd itself failed.
pub const SPAWNFD_FAILED: u8 = 125;

/// The exit status table, for the end of `--help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  N        the child exited with status N
  128+N    the child was killed by signal N (spawnfd exits, it does not re-raise N)
  127      PROGRAM was not found (exec failed with ENOENT)
  126      PROGRAM was found but could not be executed (any other exec error,
           or its #! interpreter is missing)
  125      spawnfd itself failed: a bad --fd or --cwd-fd, a user or group
           that does not exist, a step of PROGRAM's set-up that failed
           (chdir, chroot, setuid, setrlimit, ...), options it refused
           (such as a repeated CHILD fd or --ctty on an fd PROGRAM does not
           have), ...
  2        usage error";

/// Why a run has no child status to report.
#[derive(Debug)]
pub enum Error {
    /// A `--fd` or `--cwd-fd` PARENT could not be claimed (most often: it
    /// is not open).
    ParentFd {
        /// The option at fault.
        option: FdOption,
        /// Why.
        source: io::Error,
    },
    /// The value of an option could not be worked out: a user or group
    /// name that is not found, a failed lookup, ...
    Resolve {
        /// The option, such as `--user`.
        option: &'static str,
        /// Its value, as given.
        value: String,
        /// Why.
        source: io::Error,
    },
    /// The library refused or failed to start the child.
    Spawn(io::Error),
    /// The child was started but waiting for it failed.
    Wait {
        /// The child's pid.
        pid: u32,
        /// Why.
        source: io::Error,
    },
}

impl Error {
    /// The status `spawnfd` exits with (see [`EXIT_STATUS_HELP`]).
    pub fn exit_status(&self) -> u8 {
        let Error::Spawn(err) = self else {
            return SPAWNFD_FAILED;
        };
        match SpawnError::from_io(err) {
            Some(spawn) if spawn.step() == Step::Exec => match spawn.raw_os_error() {
                Some(libc::ENOENT) if !spawn.missing_interpreter() => NOT_FOUND,
                Some(_) => CANNOT_EXECUTE,
                // The child died before exec without saying why.
                None => SPAWNFD_FAILED,
            },
            _ => SPAWNFD_FAILED,
        }
    }

    /// The JSON report: `{"error": {...}}`, plus `"pid"` if the child was
    /// started.
    ///
    /// The error object always has `"message"` (as printed without
    /// `--json`). For the library's spawn errors it adds `"step"` and, when
    /// known, `"errno"`, `"path"`, `"fd"` (a child fd), `"signal"`, `"id"`
    /// (a user, group or process group id, or a niceness) and `"resource"`
    /// (a limit's name, such as `"NOFILE"`); for input the library refused,
    /// `"kind": "invalid_input"`; for an option whose value could not be
    /// worked out, `"option"` (such as `"--user"`) and `"errno"` when there
    /// is one; otherwise `"errno"` when there is one.
    pub fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("message".into(), self.to_string().into());
        let mut report = Map::new();
        match self {
            Error::Spawn(err) => match SpawnError::from_io(err) {
                Some(spawn) => {
                    error.insert("step".into(), spawn.step().name().into());
                    insert_some(&mut error, "errno", spawn.raw_os_error());
                    let path = spawn.path().map(|p| p.to_string_lossy().into_owned());
                    insert_some(&mut error, "path", path);
                    insert_some(&mut error, "fd", spawn.fd());
                    insert_some(&mut error, "signal", spawn.signal());
                    insert_some(&mut error, "id", spawn.id());
                    insert_some(&mut error, "resource", spawn.resource().map(|r| r.name()));
                }
                None if err.kind() == io::ErrorKind::InvalidInput => {
                    error.insert("kind".into(), "invalid_input".into());
                }
                None => insert_some(&mut error, "errno", err.raw_os_error()),
            },
            Error::ParentFd { source, .. } => {
                insert_some(&mut error, "errno", source.raw_os_error());
            }
            Error::Resolve { option, source, .. } => {
                error.insert("option".into(), (*option).into());
                insert_some(&mut error, "errno", source.raw_os_error());
            }
            Error::Wait { pid, source } => {
                report.insert("pid".into(), (*pid).into());
                insert_some(&mut error, "errno", source.raw_os_error());
            }
        }
        report.insert("error".into(), error.into());
        report.into()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ParentFd { option, source } => {
                write!(f, "{option}: fd {}: {source}", option.parent())
            }
            Error::Resolve {
                option,
                value,
                source,
            } => write!(f, "{option} {value:?}: {source}"),
            // The library's message, unchanged.
            Error::Spawn(err) => err.fmt(f),
            Error::Wait { pid, source } => write!(f, "wait for child {pid}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::ParentFd { source, .. }
            | Error::Resolve { source, .. }
            | Error::Spawn(source)
            | Error::Wait { source, .. } => Some(source),
        }
    }
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.into(), value.into());
    }
}

/// The status `spawnfd` exits with for a child that ended with `status`:
/// its exit status, or 128 + the number of the signal that killed it.
pub fn child_exit_status(status: ExitStatus) -> u8 {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        // `wait` reports only ended children, which exited or were killed.
        (None, None) => i32::from(SPAWNFD_FAILED),
    };
    u8::try_from(code).unwrap_or(SPAWNFD_FAILED)
}

/// The JSON report of a child that ended: `{"pid", "exit_code"}` or
/// `{"pid", "signal", "core_dumped"}`.
pub fn child_json(pid: u32, status: ExitStatus) -> Value {
    match status.code() {
        Some(code) => json!({ "pid": pid, "exit_code": code }),
        None => json!({
            "pid": pid,
            "signal": status.signal(),
            "core_dumped": status.core_dumped(),
        }),
    }
}

/// Reports how a run ended, as JSON on stdout or as a message on stderr,
/// and returns the status to exit with.
///
/// If the JSON report cannot be written, says so on stderr and returns
/// [`SPAWNFD_FAILED`]: the caller asked for a report and has none.
pub fn finish(pid_status: Result<(u32, ExitStatus), Error>, json: bool) -> ExitCode {
    let (report, status) = match &pid_status {
        Ok((pid, status)) => (
            json.then(|| child_json(*pid, *status)),
            child_exit_status(*status),
        ),
        Err(err) => {
            if !json {
                eprintln!("spawnfd: {err}");
            }
            (json.then(|| err.to_json()), err.exit_status())
        }
    };
    if let Some(report) = report {
        let mut stdout = io::stdout().lock();
        let written = serde_json::to_writer(&mut stdout, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(stdout))
            .and_then(|()| stdout.flush());
        if let Err(err) = written {
            eprintln!("spawnfd: cannot write the JSON report: {err}");
            return ExitCode::from(SPAWNFD_FAILED);
        }
    }
    ExitCode::from(status)
}

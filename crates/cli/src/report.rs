//! How a run ends: the exit status of `spawnfd`, the error message on
//! stderr, or the JSON report on stdout; and the `--rusage` summary.

use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use spawnfd::{ResourceUsage, Signal, SpawnError, Step};

use crate::fds::FdOption;
use crate::json_channel::Sink;

/// Exit status when PROGRAM was not found (exec failed with `ENOENT`).
pub const NOT_FOUND: u8 = 127;
/// Exit status when PROGRAM was found but could not be executed.
pub const CANNOT_EXECUTE: u8 = 126;
/// Exit status when spawnfd itself failed.
pub const SPAWNFD_FAILED: u8 = 125;
/// Exit status when PROGRAM ran out of time (`--timeout`), as timeout(1).
pub const TIMED_OUT: u8 = 124;
/// Exit status when PROGRAM ran out of time and died of `SIGKILL`, as
/// `timeout -k`: 128 + 9.
pub const KILLED_AFTER_TIMEOUT: u8 = 137;

/// The exit status table, for the end of `--help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status (as env(1), timeout(1) and chroot(1)):
  N        PROGRAM exited with status N
  (signal) PROGRAM was killed by signal N: spawnfd kills itself with N too
           (no core dump), so that its caller sees what it would have seen
           without spawnfd; with --exit-code-for-signals it exits 128+N
  127      PROGRAM was not found (exec failed with ENOENT)
  126      PROGRAM was found but could not be executed (any other exec error,
           or its #! interpreter is missing)
  125      spawnfd itself failed: a usage error (an unknown option, a bad
           value, ...), a bad --fd or --cwd-fd, a user or group that does
           not exist, a step of PROGRAM's set-up that failed (chdir, chroot,
           setuid, setrlimit, ...), options it refused (such as a repeated
           CHILD fd or --ctty on an fd PROGRAM does not have), ..., or
           PROGRAM ran out of time and could not be signalled
  124      PROGRAM ran out of time (--timeout) and was sent the --signal,
           then ended in any way but by SIGKILL
  137      PROGRAM ran out of time and died of SIGKILL (sent after
           --kill-after, or as --signal), as timeout -k does
           (--preserve-status: PROGRAM's own N or 128+N instead of 124 and
           137)

Signals: spawnfd passes the signals it receives (TERM, INT, QUIT, HUP,
USR1, USR2, ALRM, WINCH, CONT, the real-time signals, ...) on to PROGRAM, or
to PROGRAM's process group with --setsid, --pgid 0 or --kill-group, and
waits for it; on
TSTP, TTIN or TTOU it stops itself after passing them on. It does not pass
on CHLD, PIPE (which it keeps ignored) or the fault signals (SEGV, BUS, ILL,
FPE, TRAP, ABRT, SYS). Signals the terminal sends to the foreground group
reach PROGRAM directly when it shares spawnfd's group, and are not sent
twice. If spawnfd is killed with SIGKILL, PROGRAM gets the parent-death
signal (KILL unless --pdeathsig or --no-pdeathsig say otherwise).";

/// Writes the JSON report of a usage error to `sink`, `{"error":
/// {"message": ..., "kind": "usage"}}` (the message is clap's first line,
/// without `error: `), and returns [`SPAWNFD_FAILED`].
pub fn print_usage_error(err: &clap::Error, sink: &mut Sink) -> ExitCode {
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let report = json!({ "error": { "message": message, "kind": "usage" } });
    if let Err(err) = sink.write(&report) {
        eprintln!("spawnfd: cannot write the JSON report: {err}");
    }
    ExitCode::from(SPAWNFD_FAILED)
}

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
    /// The signals spawnfd passes on could not be blocked or read.
    Signals(io::Error),
    /// The child was started but waiting for it failed.
    Wait {
        /// The child's pid.
        pid: u32,
        /// Why.
        source: io::Error,
    },
    /// `--scope` (or one of its limits) could not be set up: no right to
    /// create cgroups there, not a cgroup v2 directory, a controller that
    /// is not enabled. Nothing was started.
    Scope {
        /// The option and its value, such as `--scope build`.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// The child ran out of time, but could not be sent a signal to stop
    /// it (most often `EPERM`: it executed a set-user-id program). It is
    /// left running.
    Stop {
        /// The child's pid.
        pid: u32,
        /// The signal that could not be sent.
        signal: Signal,
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
    /// is one; for a child that could not be stopped, `"signal"` and
    /// `"errno"`, and `"timed_out": true` beside `"pid"`; otherwise
    /// `"errno"` when there is one.
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
            Error::ParentFd { source, .. } | Error::Signals(source) => {
                insert_some(&mut error, "errno", source.raw_os_error());
            }
            Error::Scope { what, source } => {
                let option = what.split(' ').next().unwrap_or(what);
                error.insert("option".into(), option.into());
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
            Error::Stop {
                pid,
                signal,
                source,
            } => {
                report.insert("pid".into(), (*pid).into());
                report.insert("timed_out".into(), true.into());
                error.insert("signal".into(), signal.as_raw().into());
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
            Error::Signals(source) => write!(f, "signals to pass on: {source}"),
            Error::Scope { what, source } => write!(f, "{what}: {source}"),
            Error::Wait { pid, source } => write!(f, "wait for child {pid}: {source}"),
            Error::Stop {
                pid,
                signal,
                source,
            } => write!(
                f,
                "child {pid} ran out of time, but cannot be sent {}: {source}",
                signal_name(*signal)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::ParentFd { source, .. }
            | Error::Resolve { source, .. }
            | Error::Spawn(source)
            | Error::Signals(source)
            | Error::Scope { source, .. }
            | Error::Wait { source, .. }
            | Error::Stop { source, .. } => Some(source),
        }
    }
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.into(), value.into());
    }
}

/// The status `spawnfd` exits with for a child that ended with `status`:
/// its exit status, or 128 + the number of the signal that killed it
/// (when spawnfd does not die of that signal itself).
pub fn child_exit_status(status: ExitStatus) -> u8 {
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        // `wait` reports only ended children, which exited or were killed.
        (None, None) => i32::from(SPAWNFD_FAILED),
    };
    u8::try_from(code).unwrap_or(SPAWNFD_FAILED)
}

/// A signal's name, `SIGTERM`, or `signal N` for those without one.
pub fn signal_name(signal: Signal) -> String {
    match signal.name() {
        Some(name) => name.to_owned(),
        None => format!("signal {}", signal.as_raw()),
    }
}

/// How a child that was started and reaped ended.
#[derive(Clone, Debug)]
pub struct Ended {
    /// Its pid.
    pub pid: u32,
    /// Its status.
    pub status: ExitStatus,
    /// Whether it ran out of time and was sent the `--signal`; `None`
    /// without `--timeout`.
    pub timed_out: Option<bool>,
    /// Its resource usage, with `--rusage`.
    pub usage: Usage,
    /// When it was started (the wall clock just before the spawn).
    pub started: SystemTime,
    /// From just before the spawn until it was reaped, on the monotonic
    /// clock.
    pub elapsed: Duration,
    /// What its scope's tree did, with `--scope`.
    pub scope: Option<crate::scope::Summary>,
}

/// The resource usage of a child that ended, as far as `--rusage` got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// `--rusage` was not given.
    NotAsked,
    /// Asked for, but gone: someone else reaped the child first (the
    /// kernel keeps its status for the pidfd, not its usage).
    Unavailable,
    /// Asked for, and collected when the child was reaped.
    Known(ResourceUsage),
}

/// The stderr line (after `spawnfd: `) of a usage that was asked for but
/// cannot be had.
pub const USAGE_UNAVAILABLE: &str = "rusage: unavailable: the child was reaped by another \
     process (is SIGCHLD ignored?), which took its resource usage; its status is exact";

impl Ended {
    /// The status `spawnfd` exits with: [`TIMED_OUT`] if the child ran out
    /// of time (unless `preserve_status`), else [`child_exit_status`].
    ///
    /// A child that ran out of time and died of `SIGKILL` (sent after
    /// `--kill-after`, or as the `--signal`) gives [`KILLED_AFTER_TIMEOUT`],
    /// as `timeout -k` does.
    pub fn exit_status(&self, preserve_status: bool) -> u8 {
        if self.timed_out == Some(true) && !preserve_status {
            if self.status.signal() == Some(libc::SIGKILL) {
                KILLED_AFTER_TIMEOUT
            } else {
                TIMED_OUT
            }
        } else {
            child_exit_status(self.status)
        }
    }

    /// The signal spawnfd should end by, as the child did: the one that
    /// killed a child that did not run out of time. (One that ran out of
    /// time gives 124, 137, or with `--preserve-status` 128+N, as
    /// timeout(1).)
    pub fn signal_to_reraise(&self) -> Option<Signal> {
        if self.timed_out == Some(true) {
            return None;
        }
        self.status.signal().and_then(Signal::new)
    }

    /// The JSON report: [`child_json`], `"start_time"` (RFC 3339, UTC,
    /// nanoseconds: [`rfc3339_utc`]) and `"elapsed"` (seconds, a float),
    /// plus `"timed_out"` with `--timeout`, `"rusage"` (see
    /// [`usage_json`]) with `--rusage` (`null` when the usage is
    /// [`Usage::Unavailable`]) and `"scope"` with `--scope`
    /// ([`crate::scope::Summary::to_json`]).
    pub fn to_json(&self) -> Value {
        let mut report = child_json(self.pid, self.status);
        let map = report.as_object_mut().expect("child_json makes an object");
        map.insert("start_time".into(), rfc3339_utc(self.started).into());
        map.insert("elapsed".into(), self.elapsed.as_secs_f64().into());
        if let Some(timed_out) = self.timed_out {
            map.insert("timed_out".into(), timed_out.into());
        }
        match &self.usage {
            Usage::NotAsked => {}
            Usage::Unavailable => {
                map.insert("rusage".into(), Value::Null);
            }
            Usage::Known(usage) => {
                map.insert("rusage".into(), usage_json(usage));
            }
        }
        if let Some(scope) = &self.scope {
            map.insert("scope".into(), scope.to_json());
        }
        report
    }
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

/// `time` as an RFC 3339 timestamp in UTC with nanoseconds,
/// `2026-12-02T10:00:00.123456789Z` (a time before 1970 is given as the
/// epoch: the clock would be broken).
pub fn rfc3339_utc(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, second_of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since_epoch.subsec_nanos()
    )
}

/// The proleptic Gregorian (year, month, day) of the day `days` after
/// 1970-01-01 (Howard Hinnant's `civil_from_days`, for days from 1970 on).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01, counted in 400-year eras of 146097 days, so
    // that each leap day is the last day of its year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Microseconds, as JSON reports CPU times.
fn micros(time: Duration) -> u64 {
    u64::try_from(time.as_micros()).unwrap_or(u64::MAX)
}

/// The `"rusage"` object of the JSON report: CPU times in microseconds,
/// the peak resident set size in KiB, and counts. Only the fields Linux
/// maintains: `ru_ixrss`, `ru_idrss`, `ru_isrss`, `ru_nswap`,
/// `ru_msgsnd`, `ru_msgrcv` and `ru_nsignals` are always 0 there
/// (getrusage(2)), and are left out rather than reported as zeros.
pub fn usage_json(usage: &ResourceUsage) -> Value {
    json!({
        "user_time_us": micros(usage.user_time),
        "system_time_us": micros(usage.system_time),
        "max_rss_kib": usage.max_rss_kib,
        "minor_faults": usage.minor_faults,
        "major_faults": usage.major_faults,
        "voluntary_context_switches": usage.voluntary_context_switches,
        "involuntary_context_switches": usage.involuntary_context_switches,
        "block_reads": usage.block_reads,
        "block_writes": usage.block_writes,
    })
}

/// The one-line `--rusage` summary printed on stderr without `--json`.
pub fn usage_summary(usage: &ResourceUsage) -> String {
    format!(
        "rusage: user {:.3}s, system {:.3}s, max RSS {} KiB, \
         page faults {} minor / {} major, \
         context switches {} voluntary / {} involuntary, \
         blocks {} read / {} written",
        usage.user_time.as_secs_f64(),
        usage.system_time.as_secs_f64(),
        usage.max_rss_kib,
        usage.minor_faults,
        usage.major_faults,
        usage.voluntary_context_switches,
        usage.involuntary_context_switches,
        usage.block_reads,
        usage.block_writes,
    )
}

/// Reports how a run ended, as JSON on `json` (the channel of `--json`,
/// `--json-fd` or `--json-file`, if one was asked for and could be had)
/// or on stderr (an error message, or the `--rusage` summary), and returns
/// the status to exit with (`preserve_status`: see
/// [`Ended::exit_status`]). A usage that was asked for but cannot be had
/// is said on stderr with or without JSON: it is a warning, not an error,
/// and the JSON has `"rusage": null`.
///
/// If the JSON report cannot be written, says so on stderr and returns
/// [`SPAWNFD_FAILED`]: the caller asked for a report and has none.
pub fn finish(
    ended: Result<Ended, Error>,
    json: Option<&mut Sink>,
    preserve_status: bool,
) -> ExitCode {
    let wants_json = json.is_some();
    let (report, status) = match &ended {
        Ok(ended) => {
            match (wants_json, &ended.usage) {
                (false, Usage::Known(usage)) => eprintln!("spawnfd: {}", usage_summary(usage)),
                (_, Usage::Unavailable) => eprintln!("spawnfd: {USAGE_UNAVAILABLE}"),
                _ => {}
            }
            (
                wants_json.then(|| ended.to_json()),
                ended.exit_status(preserve_status),
            )
        }
        Err(err) => {
            if !wants_json {
                eprintln!("spawnfd: {err}");
            }
            (wants_json.then(|| err.to_json()), err.exit_status())
        }
    };
    if let (Some(report), Some(sink)) = (report, json) {
        if let Err(err) = sink.write(&report) {
            eprintln!("spawnfd: cannot write the JSON report: {err}");
            return ExitCode::from(SPAWNFD_FAILED);
        }
    }
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn killed(signal: i32) -> ExitStatus {
        ExitStatus::from_raw(signal)
    }

    fn ended(status: ExitStatus, timed_out: Option<bool>) -> Ended {
        Ended {
            pid: 42,
            status,
            timed_out,
            usage: Usage::NotAsked,
            started: UNIX_EPOCH + Duration::new(1_798_794_000, 123_456_789),
            elapsed: Duration::from_millis(1500),
            scope: None,
        }
    }

    #[test]
    fn start_time_is_rfc3339_utc_with_nanoseconds() {
        let at = |secs, nanos| rfc3339_utc(UNIX_EPOCH + Duration::new(secs, nanos));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(at(951_868_799, 0), "2000-02-29T23:59:59.000000000Z");
        assert_eq!(at(1_709_251_199, 0), "2024-02-29T23:59:59.000000000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000000Z");
        assert_eq!(
            at(1_798_794_000, 123_456_789),
            "2027-01-01T09:00:00.123456789Z"
        );
        assert_eq!(
            at(253_402_300_799, 999_999_999),
            "9999-12-31T23:59:59.999999999Z"
        );
    }

    #[test]
    fn timed_out_child_exits_124_unless_status_is_preserved() {
        let term = ended(killed(libc::SIGTERM), Some(true));
        assert_eq!(term.exit_status(false), TIMED_OUT);
        assert_eq!(term.exit_status(true), 128 + 15);
        // However it ended.
        assert_eq!(ended(exited(0), Some(true)).exit_status(false), TIMED_OUT);
        assert_eq!(ended(exited(3), Some(false)).exit_status(false), 3);
        assert_eq!(ended(killed(9), None).exit_status(false), 128 + 9);
    }

    #[test]
    fn json_has_timed_out_and_rusage_only_when_asked() {
        assert_eq!(
            ended(exited(3), None).to_json(),
            json!({
                "pid": 42,
                "exit_code": 3,
                "start_time": "2027-01-01T09:00:00.123456789Z",
                "elapsed": 1.5,
            })
        );
        let mut report = ended(killed(libc::SIGKILL), Some(true));
        report.usage = Usage::Known(ResourceUsage::default());
        let json = report.to_json();
        assert_eq!(json["timed_out"], true);
        assert_eq!(json["signal"], 9);
        assert_eq!(json["rusage"]["user_time_us"], 0);
        assert_eq!(json["rusage"].as_object().unwrap().len(), 9);
    }

    #[test]
    fn json_has_a_null_rusage_when_it_is_unavailable() {
        let mut report = ended(exited(3), None);
        report.usage = Usage::Unavailable;
        let json = report.to_json();
        assert!(json.get("rusage").is_some_and(Value::is_null), "{json}");
        assert_eq!(json["exit_code"], 3);
    }

    #[test]
    fn child_that_cannot_be_stopped_is_a_failure_of_spawnfd() {
        let err = Error::Stop {
            pid: 42,
            signal: Signal::TERM,
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(err.exit_status(), SPAWNFD_FAILED);
        assert!(
            err.to_string()
                .starts_with("child 42 ran out of time, but cannot be sent SIGTERM: "),
            "{err}"
        );
        assert_eq!(
            err.to_json(),
            json!({
                "pid": 42,
                "timed_out": true,
                "error": {
                    "message": err.to_string(),
                    "signal": 15,
                    "errno": libc::EPERM,
                },
            })
        );
    }

    #[test]
    fn rusage_summary_is_one_line() {
        let mut usage = ResourceUsage::default();
        usage.user_time = Duration::from_micros(301_000);
        usage.max_rss_kib = 3456;
        let summary = usage_summary(&usage);
        assert!(
            summary.starts_with("rusage: user 0.301s, system 0.000s, max RSS 3456 KiB, "),
            "{summary}"
        );
        assert!(!summary.contains('\n'));
    }
}

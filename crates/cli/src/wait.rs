//! Waiting for PROGRAM: the time limit (`--timeout`, `--kill-signal`,
//! `--kill-after`, `--preserve-status`) and resource usage (`--rusage`).
//!
//! All waiting is `poll` on the child's pidfd and the `signalfd` of the
//! signals spawnfd passes on ([`Forwarder::wait`]), with the time left to
//! the next deadline: no sleeping loop, no thread, no `SIGCHLD` or
//! `SIGALRM` handler. `poll` interrupted by a signal is called again with
//! what is left ([`crate::sys::wait_either`]); the child is reaped only once its
//! pidfd is readable, so every signal that arrives before it ended is
//! passed on. Once the pidfd is readable the child is reaped
//! at once, with [`Child::wait_with_rusage`] when `--rusage` asks for its
//! usage (which [`Child::wait_timeout`] would throw away by reaping). If
//! another process reaped the child first (spawnfd started with `SIGCHLD`
//! ignored, so that the kernel reaps its children itself), the status
//! still comes from the pidfd (since Linux 6.15) but the usage is gone:
//! it is then reported as unavailable, never as zeros.
//!
//! When the time limit passes, the child is sent the kill signal, then
//! `SIGCONT` (as timeout(1) does, so that a stopped child can act on it),
//! then after the grace period `SIGKILL`. Only the child is signalled,
//! through its pidfd: its own children, if it has any, are not.

use std::time::{Duration, Instant};

use clap::Args;
use spawnfd::{Child, Signal};

use crate::args::{parse_duration, parse_signal};
use crate::report::{Ended, Error, Usage};
use crate::signals::Forwarder;

/// The grace period between the kill signal and `SIGKILL`, without
/// `--kill-after`.
pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(5);

/// The options of how spawnfd waits for PROGRAM.
#[derive(Debug, Args)]
#[command(next_help_heading = "Time limit and resource usage")]
pub struct WaitArgs {
    /// Stop PROGRAM if it is still running DURATION after it started
    ///
    /// spawnfd then sends PROGRAM the --kill-signal (TERM by default),
    /// followed by CONT so that a stopped PROGRAM can act on it, and, if
    /// PROGRAM is still running --kill-after later, KILL; once PROGRAM has
    /// ended it exits with status 124, or 137 (128+9) if PROGRAM died of
    /// KILL (unless --preserve-status), as timeout(1) does. DURATION is a
    /// decimal number with an optional unit: ms, s (the default), m, h or d; for example
    /// `10`, `1.5`, `500ms`, `2s`, `1m`. 0 means no limit. Only PROGRAM is
    /// signalled, not processes it started (in a shell script, `exec` the
    /// last command). Time is measured on the monotonic clock by polling
    /// PROGRAM's pidfd.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// The signal --timeout sends first [default: TERM]
    ///
    /// SIG as for --ignore-signal: a name (INT, SIGHUP, ...) or a number.
    #[arg(long, value_name = "SIG", value_parser = parse_signal, requires = "timeout")]
    kill_signal: Option<Signal>,

    /// After --timeout sent the kill signal, wait DURATION, then send KILL
    /// [default: 5s]
    ///
    /// DURATION as for --timeout; 0 sends no KILL: spawnfd then waits for
    /// PROGRAM however long it takes to end. Irrelevant with --kill-signal
    /// KILL.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        requires = "timeout"
    )]
    kill_after: Option<Duration>,

    /// When PROGRAM ran out of time, exit with its status rather than 124
    ///
    /// That is N or 128+N as when PROGRAM ends on its own: usually 128+15
    /// for TERM, or 128+9 if it had to be killed.
    #[arg(long, requires = "timeout")]
    preserve_status: bool,

    /// Report PROGRAM's resource usage once it has ended
    ///
    /// CPU time, peak memory, page faults, context switches and file system
    /// blocks, of PROGRAM and the descendants it waited for (waitid's
    /// rusage). With --json they are in the report's "rusage" object
    /// ("user_time_us", "system_time_us", "max_rss_kib", "minor_faults",
    /// "major_faults", "voluntary_context_switches",
    /// "involuntary_context_switches", "block_reads", "block_writes");
    /// without, spawnfd prints one line on stderr: `spawnfd: rusage: user
    /// 0.301s, system 0.004s, max RSS 3456 KiB, page faults 120 minor / 0
    /// major, context switches 1 voluntary / 3 involuntary, blocks 0 read /
    /// 8 written`.
    ///
    /// If the usage cannot be had (PROGRAM was reaped by someone else, as
    /// when spawnfd is started with SIGCHLD ignored), spawnfd says so on
    /// stderr (`spawnfd: rusage: unavailable: ...`) and the JSON report has
    /// "rusage": null.
    #[arg(long)]
    rusage: bool,
}

impl WaitArgs {
    /// Whether spawnfd exits with PROGRAM's status even when it ran out of
    /// time.
    pub fn preserve_status(&self) -> bool {
        self.preserve_status
    }

    /// Waits for `child`, stopping it if it runs out of time, and reaps it.
    ///
    /// Call it at once after the spawn: the time limit counts from the
    /// call.
    pub fn wait(&self, child: &mut Child, signals: &Forwarder) -> Result<Ended, Error> {
        let pid = child.id();
        let wait_error = |source| Error::Wait { pid, source };
        let timed_out = match self.timeout {
            None => None,
            Some(limit) if limit.is_zero() => Some(false),
            Some(limit) => {
                let ended = signals.wait(child, deadline(limit)).map_err(wait_error)?;
                if !ended {
                    self.stop(child, signals)?;
                }
                Some(!ended)
            }
        };
        // Until it has ended (the time limit's signals sent, if any).
        signals.wait(child, None).map_err(wait_error)?;
        let (status, usage) = if self.rusage {
            let (status, usage) = child.wait_with_rusage().map_err(wait_error)?;
            let usage = usage.map_or(Usage::Unavailable, Usage::Known);
            (status, usage)
        } else {
            (child.wait().map_err(wait_error)?, Usage::NotAsked)
        };
        Ok(Ended {
            pid,
            status,
            timed_out,
            usage,
        })
    }

    /// Sends the kill signal to `child`, which ran out of time, and `KILL`
    /// if it is still running after the grace period. Returns when the
    /// last signal has been sent or `child` has ended, whichever is first.
    fn stop(&self, child: &mut Child, signals: &Forwarder) -> Result<(), Error> {
        let signal = self.kill_signal.unwrap_or(Signal::TERM);
        send(child, signal)?;
        if signal == Signal::KILL {
            return Ok(());
        }
        if signal != Signal::CONT {
            // Only a child that could be sent `signal` gets here, so this
            // one may be sent too; a failure would change nothing.
            let _ = child.send_signal(Signal::CONT);
        }
        let grace = self.kill_after.unwrap_or(DEFAULT_KILL_AFTER);
        if grace.is_zero() {
            return Ok(());
        }
        let ended = signals
            .wait(child, deadline(grace))
            .map_err(|source| Error::Wait {
                pid: child.id(),
                source,
            })?;
        if !ended {
            send(child, Signal::KILL)?;
        }
        Ok(())
    }
}

/// When `duration` from now is; `None` if that is beyond what the clock
/// can tell, which is as good as never.
fn deadline(duration: Duration) -> Option<Instant> {
    Instant::now().checked_add(duration)
}

/// Sends `signal` to `child`, which has not been reaped: through its pidfd,
/// which names it even if it has exited meanwhile (a zombie accepts and
/// ignores signals).
fn send(child: &Child, signal: Signal) -> Result<(), Error> {
    child.send_signal(signal).map_err(|source| Error::Stop {
        pid: child.id(),
        signal,
        source,
    })
}

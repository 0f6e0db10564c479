//! Waiting for PROGRAM: the time limit (`--timeout`, `--signal`,
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
//! When the time limit passes, the child is sent the `--signal`, then
//! `SIGCONT` (as timeout(1) does, so that a stopped child can act on it),
//! then, with `--kill-after` only (as timeout(1): no `SIGKILL` unless
//! asked), `SIGKILL` after the grace period.
//!
//! With `--scope` every signal goes to each process of PROGRAM's scope
//! ([`Scope::signal`]; `KILL` is [`Scope::kill`]), and with
//! `--kill-after` the tree is killed once PROGRAM has ended after the
//! time-out, as with `--kill-group`; once PROGRAM is reaped, what it left
//! in the scope is killed in any case ([`crate::scope::finish`]).
//!
//! `--contain` where no cgroup can be made holds PROGRAM's tree in its
//! process group: signals as with `--kill-group`, and what is left of the
//! group once PROGRAM is reaped is killed ([`crate::scope::finish_group`]).
//!
//! With `--kill-group` PROGRAM leads a process group of its own and every
//! signal goes to that whole group ([`Child::send_signal_to_group`]), and
//! with `--kill-after` the group ends with PROGRAM: once PROGRAM has ended
//! after the time-out's signal, before it is reaped (its zombie holds the
//! group's id, so `kill(-pid)` on kernels before 6.9 cannot reach another
//! group), the group is sent `SIGKILL` at once, so no process of it that
//! ignored or outlived the signal is left behind. Without `--kill-after`
//! no `SIGKILL` is sent: members that survive the signal live on, as
//! under timeout(1).

use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use spawnfd::{Child, Scope, Signal};

use crate::args::{parse_signal, parse_time_limit};
use crate::report::{Ended, Error, Usage};
use crate::signals::Forwarder;

/// The options of how spawnfd waits for PROGRAM.
#[derive(Debug, Args)]
#[command(next_help_heading = "Time limit and resource usage")]
pub struct WaitArgs {
    /// Stop PROGRAM if it is still running DURATION after it started
    ///
    /// spawnfd then sends PROGRAM the --signal (TERM by default), followed
    /// by CONT so that a stopped PROGRAM can act on it, and KILL only if
    /// --kill-after asks for it; once PROGRAM has ended it exits with
    /// status 124, or 137 (128+9) if PROGRAM died of KILL (unless
    /// --preserve-status), as `timeout DURATION` does. DURATION is a
    /// decimal number with an optional unit: ms, s (the default), m, h or
    /// d; for example `10`, `1.5`, `500ms`, `2s`, `2m`, `1h`. 0, inf and
    /// infinity mean no limit. Only PROGRAM is signalled, not processes it
    /// started (in a shell script, `exec` the last command), unless
    /// --kill-group (its process group) or --scope (every process it
    /// started, whatever group or session: KILL ends the whole tree). Time is measured on the monotonic clock by polling
    /// PROGRAM's pidfd.
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit)]
    timeout: Option<Duration>,

    /// The signal --timeout sends first [default: TERM]
    ///
    /// As `timeout -s SIG`. SIG as for --ignore-signal: a name (INT,
    /// SIGHUP, RTMIN+1, ...) or a number. With KILL no other signal
    /// follows; with CONT no second CONT is sent. --kill-signal is the
    /// same option under its older name.
    #[arg(
        short = 's',
        long = "signal",
        visible_alias = "kill-signal",
        value_name = "SIG",
        value_parser = parse_signal,
        requires = "timeout"
    )]
    signal: Option<Signal>,

    /// After --timeout sent its signal, wait DURATION, then send KILL
    ///
    /// As `timeout -k DURATION`. Without it (or with 0 or inf), no KILL is
    /// ever sent: spawnfd waits for PROGRAM however long it takes to end
    /// after the --signal, and still exits 124. DURATION as for --timeout.
    /// With --kill-group, the group is also sent KILL as soon as PROGRAM
    /// has ended, if that is first, so that nothing of it is left.
    /// Irrelevant with --signal KILL.
    #[arg(
        short = 'k',
        long,
        value_name = "DURATION",
        value_parser = parse_time_limit,
        requires = "timeout"
    )]
    kill_after: Option<Duration>,

    /// Make PROGRAM lead a process group, and signal the whole group
    ///
    /// PROGRAM is started as the leader of a new process group (as --pgid
    /// 0; --setsid makes one too; --pgid with another group is a usage
    /// error). The signals of --timeout (its --signal, CONT, and KILL after
    /// --kill-after) and the signals spawnfd passes on go to every process
    /// of that group, so that PROGRAM's children are stopped with it, as
    /// timeout(1) does with its own group. With --kill-after, the group is
    /// sent KILL as soon as PROGRAM has ended after the time-out (or when
    /// the grace period passes, if that is first), so that no process of
    /// the group outlives spawnfd; without, members that ignore or outlive
    /// the signal are left running, as with timeout(1). Processes that left
    /// the group (setsid, setpgid, a shell's job control) are not reached.
    /// The group is signalled through PROGRAM's pidfd (Linux 6.9), or with
    /// kill(-PID) while PROGRAM is not yet reaped, so that no other group
    /// with a reused id can be reached. If PROGRAM left its group, it is
    /// signalled alone.
    #[arg(long)]
    kill_group: bool,

    /// When PROGRAM ran out of time, exit with its status rather than 124
    ///
    /// As `timeout --preserve-status`. That is N or 128+N as when PROGRAM
    /// ends on its own: usually 128+15 for TERM, or 128+9 if it had to be
    /// killed.
    #[arg(long, requires = "timeout")]
    preserve_status: bool,

    /// Report PROGRAM's resource usage once it has ended
    ///
    /// CPU time, peak memory, page faults, context switches and file system
    /// blocks, of PROGRAM and the descendants it waited for (waitid's
    /// rusage). With a JSON report they are in its "rusage" object
    /// ("user_time_us", "system_time_us", "max_rss_kib", "minor_faults",
    /// "major_faults", "voluntary_context_switches",
    /// "involuntary_context_switches", "block_reads", "block_writes"; the
    /// fields Linux does not maintain, such as ru_ixrss or ru_nswap, are
    /// left out rather than given as 0); without, spawnfd prints one line
    /// on stderr: `spawnfd: rusage: user 0.301s, system 0.004s, max RSS
    /// 3456 KiB, page faults 120 minor / 0 major, context switches 1
    /// voluntary / 3 involuntary, blocks 0 read / 8 written`.
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

    /// Whether PROGRAM leads a process group that is signalled as a whole
    /// (`--kill-group`).
    pub fn kill_group(&self) -> bool {
        self.kill_group
    }

    /// Waits for `child`, stopping it if it runs out of time, and reaps it.
    ///
    /// Call it at once after the spawn: the time limit counts from the
    /// call. `started` and `clock` are the wall and monotonic times taken
    /// just before the spawn, for the report.
    pub fn wait(
        &self,
        child: &mut Child,
        signals: &Forwarder,
        started: SystemTime,
        clock: Instant,
        scope: Option<&Scope>,
        group_tree: bool,
    ) -> Result<Ended, Error> {
        let group = self.kill_group || group_tree;
        let pid = child.id();
        let wait_error = |source| Error::Wait { pid, source };
        let timed_out = match self.timeout {
            None => None,
            Some(limit) if limit.is_zero() => Some(false),
            Some(limit) => {
                let ended = signals.wait(child, deadline(limit)).map_err(wait_error)?;
                if !ended {
                    self.stop(child, signals, scope, group)?;
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
        let elapsed = clock.elapsed();
        // What PROGRAM left in its scope (or its group, with --contain)
        // ends with it.
        let scope = match scope {
            Some(scope) => Some(crate::scope::finish(scope)),
            None if group_tree => Some(crate::scope::finish_group(child)),
            None => None,
        };
        Ok(Ended {
            pid,
            status,
            timed_out,
            usage,
            started,
            elapsed,
            scope,
        })
    }

    /// Sends the `--signal` to `child`, which ran out of time, and with
    /// `--kill-after` `KILL` if it is still running after the grace period
    /// (with `--kill-group` or `group`, to the group also once `child`
    /// has ended).
    /// Returns when the last signal has been sent or `child` has ended,
    /// whichever is first; `child` is not reaped.
    fn stop(
        &self,
        child: &mut Child,
        signals: &Forwarder,
        scope: Option<&Scope>,
        group: bool,
    ) -> Result<(), Error> {
        let signal = self.signal.unwrap_or(Signal::TERM);
        self.send(child, signal, scope, group)?;
        if signal == Signal::KILL {
            return Ok(());
        }
        if signal != Signal::CONT {
            // Only a child that could be sent `signal` gets here, so this
            // one may be sent too; a failure would change nothing.
            let _ = self.send(child, Signal::CONT, scope, group);
        }
        // No KILL unless asked for, as timeout(1).
        let Some(grace) = self.kill_after.filter(|grace| !grace.is_zero()) else {
            return Ok(());
        };
        let ended = signals
            .wait(child, deadline(grace))
            .map_err(|source| Error::Wait {
                pid: child.id(),
                source,
            })?;
        if !ended {
            self.send(child, Signal::KILL, scope, group)?;
        } else if group || scope.is_some() {
            // PROGRAM is a zombie, which keeps the group's id ours: what
            // is left of its group (or scope) ends with it. The group may
            // be empty but for the zombie, which takes no harm.
            let _ = self.send(child, Signal::KILL, scope, group);
        }
        Ok(())
    }

    /// Sends `signal` to `child`, which has not been reaped, or with
    /// `--kill-group` to its group: through its pidfd, which names it even
    /// if it has exited meanwhile (a zombie accepts and ignores signals).
    fn send(
        &self,
        child: &Child,
        signal: Signal,
        scope: Option<&Scope>,
        group: bool,
    ) -> Result<(), Error> {
        let sent = if let Some(scope) = scope {
            // The whole tree: KILL by the kernel at once, any other signal
            // to each process, the tree frozen meanwhile.
            if signal == Signal::KILL {
                scope.kill()
            } else {
                scope.signal(signal).map(drop)
            }
        } else if group {
            match child.send_signal_to_group(signal) {
                // Nobody in the group: PROGRAM left it, taking nobody
                // along (with the zombie of a leader the group is never
                // empty). It is still the one to stop.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => child.send_signal(signal),
                sent => sent,
            }
        } else {
            child.send_signal(signal)
        };
        sent.map_err(|source| Error::Stop {
            pid: child.id(),
            signal,
            source,
        })
    }
}

/// When `duration` from now is; `None` if that is beyond what the clock
/// can tell, which is as good as never (`inf` is [`Duration::MAX`]).
fn deadline(duration: Duration) -> Option<Instant> {
    Instant::now().checked_add(duration)
}

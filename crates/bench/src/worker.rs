//! Worker processes, one per parent-memory size, driven in lockstep.
//!
//! A process holds one amount of memory, so to compare parents of several
//! sizes side by side the bench re-runs itself once per size in the
//! internal `--worker` mode. A worker maps and touches its memory once,
//! says `ready`, and then does the spawns it is asked for, one line per
//! command and one line per reply, until its command pipe closes:
//!
//! ```text
//! worker -> driver   ready 4297560064 1302117011   VmRSS (bytes or -), touch time (ns)
//! driver -> worker   run spawnfd                    one spawn + wait of a contender
//! worker -> driver   took 113250                    how long it took (ns)
//! worker -> driver   error <message>                set-up or spawn failed
//! ```
//!
//! The worker times only the spawn + wait, not the pipe round trip. The
//! driver sends one command and waits for its reply before sending the
//! next, so only one worker spawns at any moment and they do not compete
//! for the CPUs.
//!
//! Workers are started with spawnfd: fds 0-2 are the bench's, the command
//! pipe is fd 3 and the reply pipe fd 4 (which the worker marks
//! `FD_CLOEXEC`, so the contenders' children get fds 0-2 only, the
//! `-attrs` ones 0-7), and the clean signal slate makes a worker the same
//! whatever started the bench.
//! The driver kills and reaps its workers when it drops them, on success
//! and on error alike; a worker whose driver died reads EOF and exits.

use std::fs::File;
use std::io::{self, BufRead, BufReader, PipeReader, PipeWriter, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::contenders::{Contender, Spawner};
use crate::memory::{self, Ballast, format_size};

/// The worker's fd on which the driver's commands arrive.
const COMMAND_FD: RawFd = 3;
/// The worker's fd on which it replies.
const REPLY_FD: RawFd = 4;

/// The driver's command to do one spawn of `contender`, as a line.
pub fn request(contender: Contender) -> String {
    format!("run {}\n", contender.name())
}

/// Parses a command line (without its newline).
pub fn parse_request(line: &str) -> Option<Contender> {
    Contender::from_name(line.strip_prefix("run ")?)
}

/// What a worker says.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// The memory is mapped and touched: the worker's resident set size, if
    /// known, and how long the touching took.
    Ready { rss: Option<u64>, touch: Duration },
    /// One spawn + wait took this long.
    Took(Duration),
    /// Set-up or a spawn failed; the message says why.
    Error(String),
}

impl Reply {
    /// The reply as one line, newline included.
    pub fn encode(&self) -> String {
        match self {
            Reply::Ready { rss, touch } => {
                let rss = rss.map_or_else(|| "-".to_owned(), |b| b.to_string());
                format!("ready {rss} {}\n", touch.as_nanos())
            }
            Reply::Took(d) => format!("took {}\n", d.as_nanos()),
            Reply::Error(message) => format!("error {}\n", message.replace('\n', " ")),
        }
    }

    /// Parses a reply line (without its newline).
    pub fn parse(line: &str) -> Option<Reply> {
        let nanos = |s: &str| s.parse().ok().map(Duration::from_nanos);
        let (kind, rest) = line.split_once(' ')?;
        match kind {
            "ready" => {
                let (rss, touch) = rest.split_once(' ')?;
                let rss = if rss == "-" {
                    None
                } else {
                    Some(rss.parse().ok()?)
                };
                Some(Reply::Ready {
                    rss,
                    touch: nanos(touch)?,
                })
            }
            "took" => Some(Reply::Took(nanos(rest)?)),
            "error" => Some(Reply::Error(rest.to_owned())),
            _ => None,
        }
    }
}

/// The driver's handle on one worker. Dropping it kills and reaps the
/// worker.
pub struct Worker {
    pub size: u64,
    /// Extra environment variables the worker was started with.
    pub env_vars: usize,
    /// `""` for this bench binary, `"old"` for `--compare`'s.
    pub label: &'static str,
    /// The worker's VmRSS once its memory was touched, if known.
    pub rss: Option<u64>,
    /// How long touching the memory took.
    pub touch: Duration,
    child: spawnfd::Child,
    commands: PipeWriter,
    replies: BufReader<PipeReader>,
}

impl Worker {
    /// Starts `bench --worker size --tiny tiny`, with `env_vars` extra
    /// environment variables (see [`padding`]), and waits until its memory
    /// is touched.
    pub fn start(
        bench: &Path,
        tiny: &Path,
        size: u64,
        huge_pages: bool,
        env_vars: usize,
        label: &'static str,
    ) -> io::Result<Worker> {
        let (command_read, command_write) = io::pipe()?;
        let (reply_read, reply_write) = io::pipe()?;
        let mut command = spawnfd::Command::new(bench);
        command
            .arg("--worker")
            .arg(size.to_string())
            .arg("--tiny")
            .arg(tiny)
            .fd(COMMAND_FD, command_read)
            .fd(REPLY_FD, reply_write);
        if huge_pages {
            command.arg("--thp");
        }
        command.envs(padding(env_vars));
        let child = command.spawn()?;
        // Close our copies of the worker's ends, so that a worker that dies
        // is seen as EOF on its reply pipe.
        drop(command);
        let mut worker = Worker {
            size,
            env_vars,
            label,
            rss: None,
            touch: Duration::ZERO,
            child,
            commands: command_write,
            replies: BufReader::new(reply_read),
        };
        match worker.receive()? {
            Reply::Ready { rss, touch } => {
                worker.rss = rss;
                worker.touch = touch;
                Ok(worker)
            }
            other => Err(worker.unexpected(other)),
        }
    }

    /// Has the worker spawn the tiny program once with `contender`;
    /// returns how long the spawn + wait took.
    pub fn run(&mut self, contender: Contender) -> io::Result<Duration> {
        self.commands.write_all(request(contender).as_bytes())?;
        match self.receive()? {
            Reply::Took(elapsed) => Ok(elapsed),
            other => Err(self.unexpected(other)),
        }
    }

    fn receive(&mut self) -> io::Result<Reply> {
        let mut line = String::new();
        if self.replies.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the worker for {} exited", format_size(self.size)),
            ));
        }
        Reply::parse(line.trim_end_matches('\n')).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad reply from a worker: {line:?}"),
            )
        })
    }

    fn unexpected(&self, reply: Reply) -> io::Error {
        let size = format_size(self.size);
        match reply {
            Reply::Error(message) => io::Error::other(format!("worker for {size}: {message}")),
            other => io::Error::other(format!("worker for {size}: unexpected reply {other:?}")),
        }
    }
}

/// `count` extra environment variables of 40 bytes each as `KEY=VALUE`
/// (`SPAWNFD_BENCH_PAD_0000=` and 17 more bytes), as a worker starts with
/// them: a realistic size for a variable, so that the environment is as
/// big as a real one of as many variables.
pub fn padding(count: usize) -> impl Iterator<Item = (String, String)> {
    (0..count).map(|i| {
        (
            format!("SPAWNFD_BENCH_PAD_{i:04}"),
            format!("{:x<17}", i % 10),
        )
    })
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--worker` mode: maps and touches `size` bytes, says `ready`, then
/// does one timed spawn per command until the command pipe closes.
pub fn serve(size: u64, huge_pages: bool, tiny: &Path) -> io::Result<()> {
    let commands = take_fd(COMMAND_FD)?;
    let mut replies = take_fd(REPLY_FD)?;
    let spawner = Spawner::new(tiny)?;

    let started = Instant::now();
    let ballast = usize::try_from(size)
        .map_err(|_| io::Error::other("memory size too large"))
        .and_then(|len| Ballast::new(len, huge_pages));
    let _ballast = match ballast {
        Ok(ballast) => ballast,
        Err(e) => {
            replies.write_all(Reply::Error(e.to_string()).encode().as_bytes())?;
            return Err(e);
        }
    };
    let ready = Reply::Ready {
        rss: memory::resident_bytes(),
        touch: started.elapsed(),
    };
    replies.write_all(ready.encode().as_bytes())?;

    for line in BufReader::new(commands).lines() {
        let line = line?;
        let reply = match parse_request(&line) {
            Some(contender) => {
                let start = Instant::now();
                let result = spawner.run(contender);
                let elapsed = start.elapsed();
                match result {
                    Ok(()) => Reply::Took(elapsed),
                    Err(e) => Reply::Error(e.to_string()),
                }
            }
            None => Reply::Error(format!("unknown command {line:?}")),
        };
        replies.write_all(reply.encode().as_bytes())?;
    }
    Ok(())
}

/// Takes ownership of the pipe end the driver placed at `fd`, marking it
/// `FD_CLOEXEC` so that no contender's child inherits it.
fn take_fd(fd: RawFd) -> io::Result<File> {
    // SAFETY: fcntl on a bare number touches no memory; it fails with EBADF
    // when `fd` is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("--worker needs fd {fd} from the bench: {e}"),
        ));
    }
    // SAFETY: `fd` is open (checked above) and is the pipe end the driver
    // gave this process; nothing else in the process owns or closes it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_40_bytes_a_variable() {
        let vars: Vec<_> = padding(1000).collect();
        assert_eq!(vars.len(), 1000);
        assert!(vars.iter().all(|(k, v)| k.len() + 1 + v.len() == 40));
        let mut keys: Vec<_> = vars.iter().map(|(k, _)| k).collect();
        keys.dedup();
        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn requests() {
        for c in Contender::ALL {
            let line = request(c);
            assert_eq!(parse_request(line.trim_end()), Some(c));
        }
        assert_eq!(parse_request("run vfork"), None);
        assert_eq!(parse_request("spawnfd"), None);
    }

    #[test]
    fn replies() {
        let replies = [
            Reply::Ready {
                rss: Some(4 << 30),
                touch: Duration::from_millis(1302),
            },
            Reply::Ready {
                rss: None,
                touch: Duration::ZERO,
            },
            Reply::Took(Duration::from_nanos(113_250)),
            Reply::Error("spawnfd: no such file".to_owned()),
        ];
        for reply in replies {
            let line = reply.encode();
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
            assert_eq!(Reply::parse(line.trim_end_matches('\n')), Some(reply));
        }
        assert_eq!(
            Reply::Error("two\nlines".to_owned()).encode(),
            "error two lines\n"
        );
        assert_eq!(Reply::parse("took"), None);
        assert_eq!(Reply::parse("took 1.5"), None);
        assert_eq!(Reply::parse("ready 12"), None);
        assert_eq!(Reply::parse("done 1"), None);
    }
}

//! A running or exited child, reached only through its pidfd.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};

use crate::signal::Signal;
use crate::sys::{os, pidfd};

/// A child process, as [`std::process::Child`], held by its pidfd.
///
/// Waiting and signalling go through the pidfd, which names this process
/// and no other: once the child has been reaped, no call here can reach a
/// process that was later given the same pid.
///
/// The pidfd is pollable: it becomes readable when the child exits, so it
/// can be registered with `poll`, `epoll` or an async runtime's reactor and
/// then reaped with [`Child::try_wait`].
///
/// Like std's, dropping a `Child` neither waits for it nor kills it.
#[derive(Debug)]
pub struct Child {
    pidfd: OwnedFd,
    pid: u32,
    status: Option<ExitStatus>,
    /// The parent's end of the child's stdin, if it was `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's stdout, if it was `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's stderr, if it was `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    pub(crate) fn new(pidfd: OwnedFd, pid: u32, pipes: [Option<OwnedFd>; 3]) -> Child {
        let [stdin, stdout, stderr] = pipes;
        Child {
            pidfd,
            pid,
            status: None,
            stdin: stdin.map(ChildStdin::from),
            stdout: stdout.map(ChildStdout::from),
            stderr: stderr.map(ChildStderr::from),
        }
    }

    /// The child's process id. Prefer the pidfd for anything that acts on
    /// the process: the pid may name another process once this one is
    /// reaped.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// The child's pidfd (`CLONE_PIDFD`; `O_CLOEXEC`).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Waits for the child to exit and reaps it (`waitid(P_PIDFD)`),
    /// closing its stdin first so that a child reading it sees EOF.
    /// Returns the same status on every later call.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = pidfd::wait(self.pidfd.as_fd(), true)?
            .ok_or_else(|| io::Error::other("waitid returned no status for the child"))?;
        self.status = Some(status);
        Ok(status)
    }

    /// Reaps the child if it has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        self.status = pidfd::wait(self.pidfd.as_fd(), false)?;
        Ok(self.status)
    }

    /// Sends `SIGKILL` through the pidfd. As with std, a child that has
    /// already exited is not an error: the result is `Ok(())`.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        match pidfd::send_signal(self.pidfd.as_fd(), libc::SIGKILL) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Sends `signal` through the pidfd (`pidfd_send_signal`).
    ///
    /// # Errors
    ///
    /// `ESRCH` once the child has been reaped (by this handle or otherwise):
    /// the signal reached nobody.
    pub fn send_signal(&self, signal: Signal) -> io::Result<()> {
        pidfd::send_signal(self.pidfd.as_fd(), signal.as_raw())
    }

    /// Waits for the child and collects what it writes to the pipes of its
    /// stdout and stderr, reading both at once so that neither can fill up
    /// and block the child. Closes stdin first.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = os::read2(
            self.stdout.take().map(OwnedFd::from),
            self.stderr.take().map(OwnedFd::from),
        )?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl AsFd for Child {
    /// The pidfd.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

impl AsRawFd for Child {
    /// The pidfd.
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}

//! [`Command`] and [`Child`] for tokio, shaped like
//! [`tokio::process`][tokio-process] (with the `tokio` feature).
//!
//! The children are spawned by [`crate::Command`], with all its guarantees
//! and extensions; what this module adds is waiting without blocking a
//! thread, and tokio's pipe types for stdin, stdout and stderr:
//!
//! ```
//! use spawnfd::Stdio;
//! use spawnfd::tokio::Command;
//! use tokio::io::AsyncReadExt;
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
//! rt.block_on(async {
//!     let mut child = Command::new("sh")
//!         .args(["-c", "echo hello; exit 3"])
//!         .stdout(Stdio::piped())
//!         .spawn()?;
//!     let mut out = String::new();
//!     child.stdout.take().unwrap().read_to_string(&mut out).await?;
//!     assert_eq!(out, "hello\n");
//!     assert_eq!(child.wait().await?.code(), Some(3));
//!
//!     let output = Command::new("echo").arg("hi").output().await?;
//!     assert_eq!(output.stdout, b"hi\n");
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! # How waiting works
//!
//! [`Child::wait`] registers the child's pidfd with the runtime's reactor
//! ([`AsyncFd`][async-fd]) for as long as it waits; the
//! pidfd becomes readable when the child exits, and the child is then
//! reaped with a non-blocking `waitid`. There is no `SIGCHLD` handler (tokio's
//! own `process` module installs one), no helper thread and no polling, so
//! it works the same on the current-thread and the multi-thread runtime,
//! side by side with any other code that waits for processes, and for
//! private children too ([`Command::exit_signal(None)`](Command::exit_signal)).
//! The runtime needs its IO driver (`enable_io`, or `enable_all`).
//!
//! # Differences from `tokio::process`
//!
//! - The stdio settings take [`spawnfd::Stdio`](crate::Stdio): a
//!   `std::process::Stdio` cannot be converted (it does not reveal what it
//!   holds), but files, fds and pipe ends can.
//! - [`Command::output`] captures stdout and stderr and gives the child
//!   `/dev/null` as stdin *unless they were set*, as std does (tokio
//!   overrides stdout and stderr).
//! - A `Child` dropped before it was reaped is reaped by this crate's
//!   background reaper (see [`crate::Child`]), not by tokio's orphan queue;
//!   [`Command::kill_on_drop`] kills it first, as tokio's does.
//! - `spawn` reports failures as this crate does: the payload of the error
//!   is a [`SpawnError`](crate::SpawnError) naming the step that failed.
//! - The pidfd is available ([`Child::pidfd`]), and so are signals other
//!   than `SIGKILL` ([`Child::send_signal`]).
//!
//! # Other runtimes
//!
//! The plain [`crate::Child`] needs no integration: its pidfd
//! ([`crate::Child::pidfd`], or `AsFd`) becomes readable when the child
//! exits, and [`crate::Child::try_wait`] then reaps it without blocking.
//! Register the pidfd for readability with any reactor and call `try_wait`
//! when it fires, for instance with async-io (smol):
//!
//! ```ignore
//! let mut child = spawnfd::Command::new("sleep").arg("1").spawn()?;
//! let status = loop {
//!     if let Some(status) = child.try_wait()? {
//!         break status;
//!     }
//!     // `new_nonblocking`, not `new`: see below.
//!     async_io::Async::new_nonblocking(child.pidfd())?.readable().await?;
//! };
//! ```
//!
//! or with mio, by registering `mio::unix::SourceFd(&child.as_raw_fd())`
//! with `Interest::READABLE`. Leave the pidfd in blocking mode (async-io's
//! `Async::new` sets `O_NONBLOCK`): on a non-blocking pidfd, `waitid` fails
//! with `EAGAIN` instead of waiting, so a later blocking
//! [`crate::Child::wait`] could fail with `WouldBlock`.
//!
//! [tokio-process]: https://docs.rs/tokio/1/tokio/process/index.html
//! [async-fd]: https://docs.rs/tokio/1/tokio/io/unix/struct.AsyncFd.html

use std::ffi::OsStr;
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::pin;
use std::process::{ExitStatus, Output};
use std::task::Poll;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::{AsyncRead, AsyncReadExt, Interest};
use ::tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::command::{CommandArgs, CommandEnvs, Stdio};
use crate::signal::{Signal, SignalSet};
use crate::spawn::attrs::{IdMap, Namespaces, Resource};
use crate::spawn::{self, Defaults};

/// A process builder, as [`tokio::process::Command`][tokio-command]: a
/// [`crate::Command`] whose [`spawn`](Command::spawn) returns a [`Child`]
/// that is awaited.
///
/// Every builder method of [`crate::Command`] is here, returning
/// `&mut Self`; [`Command::inner_mut`] reaches the wrapped command.
///
/// [tokio-command]: https://docs.rs/tokio/1/tokio/process/struct.Command.html
#[derive(Debug)]
pub struct Command {
    inner: crate::Command,
}

/// Forwards builder methods of `crate::Command`, each documented by a link
/// to the original.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[doc = concat!(
            "As [`spawnfd::Command::", stringify!($name),
            "`](crate::Command::", stringify!($name), ")."
        )]
        pub fn $name(&mut self, $($arg: $ty),*) -> &mut Command {
            self.inner.$name($($arg),*);
            self
        }
    )*};
}

impl Command {
    /// A builder for running `program`, as [`crate::Command::new`].
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            inner: crate::Command::new(program),
        }
    }

    forward! {
        arg(arg: impl AsRef<OsStr>);
        args(args: impl IntoIterator<Item = impl AsRef<OsStr>>);
        arg0(arg0: impl AsRef<OsStr>);
        env(key: impl AsRef<OsStr>, val: impl AsRef<OsStr>);
        envs(vars: impl IntoIterator<Item = (impl AsRef<OsStr>, impl AsRef<OsStr>)>);
        env_remove(key: impl AsRef<OsStr>);
        env_clear();
        current_dir(dir: impl AsRef<Path>);
        current_dir_fd(dir: impl Into<OwnedFd>);
        stdin(cfg: impl Into<Stdio>);
        stdout(cfg: impl Into<Stdio>);
        stderr(cfg: impl Into<Stdio>);
        fd(child_fd: RawFd, source: impl Into<OwnedFd>);
        reset_ignored_signals(reset: bool);
        inherit_signal_mask();
        signal_mask(mask: SignalSet);
        setsid(on: bool);
        process_group(pgid: i32);
        controlling_terminal(fd: RawFd);
        detach_terminal(on: bool);
        foreground(fd: RawFd);
        uid(uid: u32);
        gid(gid: u32);
        groups(groups: &[u32]);
        chroot(dir: impl AsRef<Path>);
        umask(mask: u32);
        rlimit(resource: Resource, soft: u64, hard: u64);
        nice(nice: i32);
        cpu_affinity(cpus: &[usize]);
        parent_death_signal(signal: Signal);
        no_new_privs(on: bool);
        cgroup(dir: impl AsRef<Path>);
        cgroup_fd(dir: impl Into<OwnedFd>);
        scope(scope: &crate::Scope);
        scope_in(parent: impl AsRef<Path>);
        contain_tree();
        contain_tree_in(parent: impl AsRef<Path>);
        process_group_tree();
        default_signals(signals: SignalSet);
        search_path(dirs: impl AsRef<OsStr>);
        unshare(namespaces: Namespaces);
        uid_map(map: &[IdMap]);
        gid_map(map: &[IdMap]);
        ptrace_traceme(on: bool);
        ignore_signals(signals: SignalSet);
        kill_on_drop(kill: bool);
        reap_on_drop(reap: bool);
        exit_signal(signal: Option<Signal>);
    }

    /// Whether a dropped, unreaped child is killed first
    /// ([`Command::kill_on_drop`]).
    pub fn get_kill_on_drop(&self) -> bool {
        self.inner.on_drop.kill
    }

    /// The program, as given to [`Command::new`].
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments, without `argv[0]`.
    pub fn get_args(&self) -> CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The environment changes, as [`crate::Command::get_envs`].
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// The working directory set with [`Command::current_dir`].
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// The wrapped command (tokio's `as_std`).
    pub fn inner(&self) -> &crate::Command {
        &self.inner
    }

    /// The wrapped command, mutably (tokio's `as_std_mut`).
    pub fn inner_mut(&mut self) -> &mut crate::Command {
        &mut self.inner
    }

    /// Gives back the wrapped command.
    pub fn into_inner(self) -> crate::Command {
        self.inner
    }

    /// Starts the child, standard fds inherited unless set, as
    /// [`crate::Command::spawn`]. Returns at once: await [`Child::wait`]
    /// for the exit.
    ///
    /// # Errors
    ///
    /// Those of [`crate::Command::spawn`].
    ///
    /// # Panics
    ///
    /// As tokio's, if a standard fd is [`Stdio::piped`] and this is called
    /// outside a tokio runtime with IO enabled: the pipe is registered with
    /// the runtime's reactor.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::try_from(self.inner.spawn()?)
    }

    /// Runs the child to completion, standard fds inherited unless set.
    ///
    /// The child is spawned by this call, not when the future is first
    /// polled, and the future does not borrow the command (as tokio's).
    /// Pipes set with [`Stdio::piped`] are closed before waiting.
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send + use<> {
        let child = self.spawn();
        async {
            let mut child = child?;
            // A child blocked on a pipe nobody serves would never exit.
            child.stdin.take();
            child.stdout.take();
            child.stderr.take();
            child.wait().await
        }
    }

    /// Runs the child to completion and collects its output: stdout and
    /// stderr are captured and stdin is `/dev/null`, unless set (as std's
    /// and [`crate::Command::output`]).
    ///
    /// The child is spawned by this call, as with [`Command::status`].
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + Send + use<> {
        let child = spawn::spawn(&self.inner, Defaults::Capture).and_then(Child::try_from);
        async { child?.wait_with_output().await }
    }
}

impl From<crate::Command> for Command {
    fn from(inner: crate::Command) -> Command {
        Command { inner }
    }
}

/// A child process, as [`tokio::process::Child`][tokio-child]: awaited
/// through its pidfd, with tokio's pipe types.
///
/// Dropping it does what dropping a [`crate::Child`] does: an unreaped
/// child is reaped (at once if it has exited, else by the background
/// reaper), and killed first with [`Command::kill_on_drop`].
///
/// [tokio-child]: https://docs.rs/tokio/1/tokio/process/struct.Child.html
#[derive(Debug)]
pub struct Child {
    /// Owns the pidfd and the state of the child, and does the drop-time
    /// kill and reap; its pipes have been moved to the fields below.
    inner: crate::Child,
    /// The parent's end of the child's stdin, if it was [`Stdio::piped`].
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's stdout, if it was [`Stdio::piped`].
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's stderr, if it was [`Stdio::piped`].
    pub stderr: Option<ChildStderr>,
}

impl TryFrom<crate::Child> for Child {
    type Error = io::Error;

    /// Makes a [`crate::Child`] awaitable; its pipes become tokio's.
    ///
    /// # Panics
    ///
    /// If the child holds a pipe and this is called outside a tokio runtime
    /// with IO enabled.
    fn try_from(mut inner: crate::Child) -> io::Result<Child> {
        Ok(Child {
            stdin: inner.stdin.take().map(ChildStdin::from_std).transpose()?,
            stdout: inner.stdout.take().map(ChildStdout::from_std).transpose()?,
            stderr: inner.stderr.take().map(ChildStderr::from_std).transpose()?,
            inner,
        })
    }
}

impl Child {
    /// The child's process id, or `None` once it has been reaped through
    /// this handle (as tokio's): the pid may then name another process.
    pub fn id(&self) -> Option<u32> {
        match self.inner.reaped() {
            None => Some(self.inner.id()),
            Some(_) => None,
        }
    }

    /// The child's pidfd; it stays valid, and names this process, after
    /// the child has been reaped.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.inner.pidfd()
    }

    /// Waits for the child to exit and reaps it, closing its stdin first so
    /// that a child reading it sees EOF. Returns the same status on every
    /// later call.
    ///
    /// Cancel-safe: dropping the future before it completes leaves the
    /// child as it was, to be waited for again.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with IO enabled, unless the child has
    /// already been reaped or exits at once.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.inner.try_wait()? {
                return Ok(status);
            }
            self.exited().await?;
        }
    }

    /// Resolves once the pidfd is readable, which it becomes when the child
    /// exits (and stays). The pidfd is registered with the reactor only
    /// for the time of the call: an idle `Child` costs the reactor nothing,
    /// and a registration that reports readiness too early is replaced by a
    /// fresh one, which sees the pidfd's real state.
    async fn exited(&self) -> io::Result<()> {
        let pidfd = register(self.inner.pidfd())?;
        pidfd.readable().await.map(drop)
    }

    /// Reaps the child if it has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Sends `SIGKILL` through the pidfd, without waiting for the child to
    /// exit: follow with [`Child::wait`] (or [`Child::try_wait`]) to reap
    /// it. A child that has already exited is not an error (as tokio's).
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// Kills the child (`SIGKILL`) and waits for it, as
    /// [`Child::start_kill`] then [`Child::wait`].
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// The child's own scope ([`Command::scope_in`]), as
    /// [`crate::Child::scope`].
    pub fn scope(&self) -> Option<&crate::Scope> {
        self.inner.scope()
    }

    /// How the child's own tree is held, as
    /// [`crate::Child::containment`].
    pub fn containment(&self) -> Option<crate::Containment> {
        self.inner.containment()
    }

    /// Kills the child's whole tree, as [`crate::Child::kill_tree`].
    pub fn kill_tree(&mut self) -> io::Result<()> {
        self.inner.kill_tree()
    }

    /// Waits for the child, then for every process it started to be gone
    /// (with a scope, [`crate::Scope::wait_empty_async`]; with a process
    /// group, a thread of the runtime's blocking pool looking every few
    /// milliseconds), as [`crate::Child::wait_tree`].
    ///
    /// # Errors
    ///
    /// As [`crate::Child::wait_tree`]: `InvalidInput` for a child without
    /// a tree of its own.
    pub async fn wait_tree(&mut self) -> io::Result<ExitStatus> {
        if self.inner.containment().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Child::wait_tree: the child has no tree of its own (spawn it with \
                 Command::scope_in or Command::contain_tree)",
            ));
        }
        let status = self.wait().await?;
        match self.inner.scope() {
            Some(scope) => scope.wait_empty_async().await?,
            None => {
                // The child is reaped: a thread of the blocking pool looks
                // in /proc until no member of its group runs (no timer
                // needed of the runtime).
                let pgid = self.inner.id();
                tokio::task::spawn_blocking(move || {
                    crate::scope::tree::wait_group_gone(
                        || crate::scope::tree::none_running(pgid),
                        None,
                    )
                })
                .await
                .map_err(io::Error::other)??;
            }
        }
        Ok(status)
    }

    /// Sends `signal` through the pidfd, as [`crate::Child::send_signal`]:
    /// `ESRCH` once the child has been reaped.
    pub fn send_signal(&self, signal: Signal) -> io::Result<()> {
        self.inner.send_signal(signal)
    }

    /// Waits for the child and collects what it writes to the pipes of its
    /// stdout and stderr, reading both at once so that neither can fill up
    /// and block the child. Closes stdin first.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut stdout = self.stdout.take();
        let mut stderr = self.stderr.take();
        let (stdout_bytes, stderr_bytes) =
            try_join(read_to_end(&mut stdout), read_to_end(&mut stderr)).await?;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: stdout_bytes,
            stderr: stderr_bytes,
        })
    }
}

impl AsFd for Child {
    /// The pidfd.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd()
    }
}

impl AsRawFd for Child {
    /// The pidfd.
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd().as_raw_fd()
    }
}

/// Registers a pidfd with the current runtime's reactor, for readability.
///
/// # Panics
///
/// Outside a tokio runtime with IO enabled.
#[allow(unsafe_code)]
fn register(pidfd: BorrowedFd<'_>) -> io::Result<AsyncFd<BorrowedFd<'_>>> {
    // SAFETY: `register_with_interest` needs the fd to stay open, as the
    // same file, for as long as the `AsyncFd` lives: the `AsyncFd` holds the
    // `BorrowedFd`, which guarantees exactly that for its lifetime, and a
    // `BorrowedFd` always returns the same number.
    unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }.map_err(Into::into)
}

/// Reads a pipe, if there is one, to its end.
async fn read_to_end(pipe: &mut Option<impl AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

/// Runs two fallible futures at once; the first error wins. (tokio's
/// `try_join!` would need its `macros` feature.)
async fn try_join<A, B>(
    a: impl Future<Output = io::Result<A>>,
    b: impl Future<Output = io::Result<B>>,
) -> io::Result<(A, B)> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    poll_fn(|cx| {
        if a_out.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                a_out = Some(out?);
            }
        }
        if b_out.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                b_out = Some(out?);
            }
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready(Ok((a, b))),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

impl crate::Scope {
    /// Waits, on the current tokio runtime's reactor, until no process is
    /// left in the scope: [`Scope::wait_empty`](crate::Scope::wait_empty)
    /// without a blocked thread (`cgroup.events` registered for
    /// `EPOLLPRI`). Several waits at once are fine.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with IO enabled.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use spawnfd::Scope;
    /// use spawnfd::tokio::Command;
    ///
    /// let scope = Scope::in_own_cgroup()?;
    /// let mut child = Command::new("make").scope(&scope).spawn()?;
    /// child.wait().await?;
    /// scope.wait_empty_async().await?; // the last leftover is gone too
    /// # Ok(())
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn wait_empty_async(&self) -> io::Result<()> {
        // An open file of its own (not a dup: each read of a description
        // re-arms it for all its dups, and could take another waiter's
        // wake-up), opened before the first look.
        let events = self.open_events()?;
        let registered = register_for(events.as_fd(), Interest::PRIORITY)?;
        loop {
            // The read re-arms this file: a change after it wakes us.
            let text = crate::sys::cgroup::pread_all(&events)?;
            if crate::scope::populated_is(&text, 0) {
                return Ok(());
            }
            let mut ready = registered.ready(Interest::PRIORITY).await?;
            ready.clear_ready();
        }
    }
}

/// Registers `fd` with the current runtime's reactor for `interest`.
#[allow(unsafe_code)]
fn register_for(fd: BorrowedFd<'_>, interest: Interest) -> io::Result<AsyncFd<BorrowedFd<'_>>> {
    // SAFETY: as in `register`: the `BorrowedFd` keeps the fd open, as the
    // same file, for as long as the `AsyncFd` lives.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(Into::into)
}

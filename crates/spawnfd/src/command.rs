//! The `Command` builder and `Stdio`, shaped like `std::process`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};

use crate::scope::tree::TreeRequest;
use crate::signal::{Signal, SignalSet};
use crate::spawn::attrs::{Attrs, Cgroup, IdMap, Namespaces, Resource};
use crate::spawn::{self, Defaults};
use crate::wait::child::{Child, OnDrop};

/// A process builder, a drop-in superset of [`std::process::Command`].
///
/// Code written against std compiles unchanged with
/// `use spawnfd::{Command, Stdio};`. The child is created with
/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)` on a stack of its own, so
/// spawning costs the same whatever the size of the parent, and the child is
/// reachable only through its pidfd (see [`Child`]).
///
/// What the child gets, by default:
///
/// - **exactly** fds 0, 1 and 2 plus those given with [`Command::fd`]; every
///   other fd is closed, even fds that other threads open without
///   `O_CLOEXEC` during the spawn;
/// - a clean signal slate: every disposition `SIG_DFL` (also those the
///   parent ignores, such as `SIGPIPE`, which Rust programs ignore) and an
///   empty signal mask;
/// - `/dev/null` in place of a standard fd that it would inherit but that is
///   closed in the parent, or open but close-on-exec: real stdio never is,
///   while an fd that took a free number 0, 1 or 2 (a pidfd, an epoll fd, a
///   directory opened with `O_CLOEXEC`) is, and must not become the child's
///   stdin.
///
/// The environment a child inherits is one snapshot, taken under std's
/// environment lock: a thread calling `std::env::set_var` meanwhile cannot
/// hand the child a half-updated array.
///
/// # Differences from `std::process::Command`
///
/// - Unmapped fds are closed, not just those marked `O_CLOEXEC`; an fd the
///   child should have must be given with [`Command::fd`]. An inherited
///   standard fd that is close-on-exec in the parent becomes `/dev/null`
///   (std would let it vanish at exec).
/// - The child's signal mask is empty and every ignored signal is reset
///   (std resets only `SIGPIPE`); see [`Command::reset_ignored_signals`] and
///   [`Command::inherit_signal_mask`].
/// - A failure before or at `execve` is reported by `spawn` as a
///   [`SpawnError`](crate::SpawnError) naming the step; a child that
///   failed is already reaped.
/// - An environment key that is empty or contains `=` is refused with
///   `InvalidInput` (std passes it on and the child sees a mangled
///   environment).
/// - A script without a `#!` line fails with `ENOEXEC` instead of being
///   run by `/bin/sh` (as with std on glibc's `posix_spawnp`).
/// - `get_envs` and the other getters return this crate's iterator types,
///   which yield the same items as std's.
/// - [`Stdio`] is this crate's type: a `std::process::Stdio` cannot be
///   converted (it does not reveal what it holds), but everything std's
///   converts from (`File`, `OwnedFd`, the `Child*` pipes, `io::stdout()`,
///   `io::stderr()`, pipe ends) converts into this one.
/// - The `CommandExt` extras std has on Unix are inherent methods here
///   ([`Command::arg0`], [`Command::pre_exec`]). A `pre_exec` hook must be
///   `Fn + Sync` rather than `FnMut`: the child runs it in the parent's
///   memory (see [`Command::pre_exec`]).
///
/// # Examples
///
/// ```
/// use spawnfd::{Command, Stdio};
///
/// let output = Command::new("echo").arg("hello").stdout(Stdio::piped()).output()?;
/// assert_eq!(output.stdout, b"hello\n");
/// assert!(output.status.success());
/// # std::io::Result::Ok(())
/// ```
pub struct Command {
    pub(crate) program: OsString,
    /// `args[0]` is `argv[0]` (the program unless [`Command::arg0`]).
    pub(crate) args: Vec<OsString>,
    pub(crate) env: EnvChanges,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Stdio>,
    pub(crate) stdout: Option<Stdio>,
    pub(crate) stderr: Option<Stdio>,
    /// Extra child fds, in the order given.
    pub(crate) fds: Vec<(RawFd, OwnedFd)>,
    pub(crate) signals: SignalPlan,
    pub(crate) attrs: Attrs,
    pub(crate) on_drop: OnDrop,
    /// `None`: a private child, with no exit signal.
    pub(crate) exit_signal: Option<Signal>,
    /// The `pre_exec` hooks, in the order they run.
    pub(crate) hooks: Vec<Hook>,
    /// Create the child with libc's `fork()` (the fork path).
    pub(crate) use_fork: bool,
    /// Leave the inherited fds as they are: no stdio hardening, nothing
    /// marked close-on-exec.
    pub(crate) keep_fds: bool,
    /// Where a program without a `/` is searched for, instead of `PATH`.
    pub(crate) search_path: Option<OsString>,
    /// A tree of each child's own (`scope_in`, `contain_tree`,
    /// `contain_tree_in`, `process_group_tree`).
    pub(crate) tree: Option<crate::scope::tree::TreeRequest>,
    /// Capability sets, seccomp filter, Landlock ruleset.
    pub(crate) sandbox: crate::spawn::sandbox::Sandbox,
}

/// A `pre_exec` hook.
pub(crate) type Hook = Box<dyn Fn() -> io::Result<()> + Send + Sync>;

/// What the caller changed in the environment, as std keeps it.
#[derive(Clone, Debug, Default)]
pub(crate) struct EnvChanges {
    pub(crate) clear: bool,
    pub(crate) vars: BTreeMap<OsString, Option<OsString>>,
}

/// The child's signal dispositions and mask.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignalPlan {
    pub(crate) reset_ignored: bool,
    /// Reset to `SIG_DFL` even when ignored ones are kept.
    pub(crate) default: SignalSet,
    pub(crate) mask: MaskPlan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MaskPlan {
    Empty,
    InheritThread,
    Set(SignalSet),
}

impl Command {
    /// A builder for running `program`, with std's defaults: the parent's
    /// environment and working directory, no arguments, and standard fds
    /// inherited (for `spawn` and `status`) or captured (for `output`).
    ///
    /// A `program` without a `/` is searched for in `PATH` (the child's
    /// `PATH` when the environment was changed), as `execvp` does.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        let program = program.as_ref().to_owned();
        Command {
            args: vec![program.clone()],
            program,
            env: EnvChanges::default(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            fds: Vec::new(),
            signals: SignalPlan {
                reset_ignored: true,
                default: SignalSet::empty(),
                mask: MaskPlan::Empty,
            },
            attrs: Attrs::default(),
            on_drop: OnDrop::default(),
            exit_signal: Some(Signal::CHLD),
            hooks: Vec::new(),
            use_fork: false,
            keep_fds: false,
            search_path: None,
            tree: None,
            sandbox: Default::default(),
        }
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Sets `argv[0]`, which is the program by default.
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg0: S) -> &mut Command {
        self.args[0] = arg0.as_ref().to_owned();
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K, V>(&mut self, key: K, val: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.env
            .vars
            .insert(key.as_ref().to_owned(), Some(val.as_ref().to_owned()));
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes a variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        let key = key.as_ref().to_owned();
        if self.env.clear {
            self.env.vars.remove(&key);
        } else {
            self.env.vars.insert(key, None);
        }
        self
    }

    /// Starts the child with an empty environment (plus what is set after).
    pub fn env_clear(&mut self) -> &mut Command {
        self.env.clear = true;
        self.env.vars.clear();
        self
    }

    /// Sets the child's working directory. A relative program path is then
    /// relative to this directory, as with std on Unix.
    ///
    /// The child changes directory after [`Command::chroot`] and after taking
    /// its credentials, so the path is resolved inside the new root and
    /// must be reachable by the new user.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self.attrs.cwd_fd = None;
        self
    }

    /// Sets the child's working directory to an open directory (`fchdir`),
    /// which cannot be renamed or replaced between now and the spawn. The
    /// child enters it early, before its fds are placed (which may reuse
    /// the number) and before [`Command::chroot`] and the credentials: the
    /// open fd is itself the permission to enter.
    /// Replaces [`Command::current_dir`]; `get_current_dir` then returns
    /// `None`.
    pub fn current_dir_fd(&mut self, dir: impl Into<OwnedFd>) -> &mut Command {
        self.attrs.cwd_fd = Some(dir.into());
        self.cwd = None;
        self
    }

    /// The child's fd 0.
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stdin = Some(cfg.into());
        self
    }

    /// The child's fd 1.
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stdout = Some(cfg.into());
        self
    }

    /// The child's fd 2.
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stderr = Some(cfg.into());
        self
    }

    /// Gives the child `source` as fd number `child_fd`.
    ///
    /// The command owns `source` and places it in every child it spawns; the
    /// parent's copy closes when the command is dropped. The mapping may be
    /// any permutation: sources may be fds that are themselves targets
    /// (swaps, cycles), a source's own number (the child's fd is then
    /// stripped of `FD_CLOEXEC`), or 0 to 2. To give one file at several
    /// numbers, pass clones (`OwnedFd::try_clone`).
    ///
    /// `child_fd` 0, 1 or 2 takes the place of `stdin`, `stdout` or `stderr`
    /// and cannot be combined with them. `spawn` refuses a negative or
    /// repeated `child_fd` with `InvalidInput`.
    ///
    /// ```
    /// use spawnfd::Command;
    /// use std::os::fd::OwnedFd;
    ///
    /// let file: OwnedFd = std::fs::File::open("/dev/null")?.into();
    /// // `sh` fails on `<&7` unless the child has an fd 7.
    /// let status = Command::new("sh").args(["-c", "cat <&7"]).fd(7, file).status()?;
    /// assert!(status.success());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn fd(&mut self, child_fd: RawFd, source: impl Into<OwnedFd>) -> &mut Command {
        self.fds.push((child_fd, source.into()));
        self
    }

    /// Whether signals the parent ignores are reset to `SIG_DFL` in the
    /// child (default `true`). With `false`, they stay ignored, as `execve`
    /// leaves them.
    pub fn reset_ignored_signals(&mut self, reset: bool) -> &mut Command {
        self.signals.reset_ignored = reset;
        self
    }

    /// Sets these signals to `SIG_DFL` in the child even where
    /// [`reset_ignored_signals(false)`](Command::reset_ignored_signals)
    /// keeps the others the parent ignores: `posix_spawn`'s
    /// `POSIX_SPAWN_SETSIGDEF`. (With the default reset, every signal is
    /// `SIG_DFL` already.) `SIGKILL` and `SIGSTOP`, which are never
    /// anything else, are left out.
    ///
    /// ```
    /// use spawnfd::{Command, Signal, SignalSet};
    ///
    /// // Ignored signals stay ignored, as a shell's `nohup` wants,
    /// // except SIGINT.
    /// let status = Command::new("true")
    ///     .reset_ignored_signals(false)
    ///     .default_signals(SignalSet::from_iter([Signal::INT]))
    ///     .status()?;
    /// assert!(status.success());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn default_signals(&mut self, signals: SignalSet) -> &mut Command {
        self.signals.default = signals;
        self
    }

    /// Starts the child in `scope`, a cgroup v2 directory made for it and
    /// everything it starts ([`Scope`](crate::Scope)): atomically with
    /// `CLONE_INTO_CGROUP` (Linux 5.7), else by the child itself as its
    /// first step, before it can start anything. The same as
    /// [`cgroup_fd`](Command::cgroup_fd) with a copy of the scope's
    /// directory; replaces an earlier cgroup.
    ///
    /// # Errors
    ///
    /// The spawn fails with the errno of copying the scope's fd (`EMFILE`)
    /// at [`Step::Clone`](crate::Step::Clone), as for a refused cgroup.
    pub fn scope(&mut self, scope: &crate::Scope) -> &mut Command {
        use std::os::fd::AsFd;
        match scope.as_fd().try_clone_to_owned() {
            Ok(fd) => self.cgroup_fd(fd),
            // No fd to be had now: the spawn names the cgroup path, whose
            // opening fails or succeeds then.
            Err(_) => self.cgroup(scope.path()),
        }
    }

    /// Searches for a program without a `/` in these directories (a
    /// `PATH`-style list separated by `:`) instead of the child's `PATH`:
    /// how `posix_spawnp` searches the caller's `PATH` whatever
    /// environment it gives the child.
    ///
    /// ```
    /// use spawnfd::Command;
    ///
    /// let status = Command::new("true").env("PATH", "/nowhere").search_path("/usr/bin:/bin").status()?;
    /// assert!(status.success());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn search_path<S: AsRef<OsStr>>(&mut self, dirs: S) -> &mut Command {
        self.search_path = Some(dirs.as_ref().to_owned());
        self
    }

    /// Gives the child the signal mask of the thread that spawns it, as
    /// `fork` and std do, instead of an empty one.
    pub fn inherit_signal_mask(&mut self) -> &mut Command {
        self.signals.mask = MaskPlan::InheritThread;
        self
    }

    /// Sets the child's signal mask (`SIGKILL` and `SIGSTOP` cannot be
    /// blocked; the kernel ignores them in the set).
    pub fn signal_mask(&mut self, mask: SignalSet) -> &mut Command {
        self.signals.mask = MaskPlan::Set(mask);
        self
    }

    /// Makes the child the leader of a new session (`setsid`), with no
    /// controlling terminal until [`Command::controlling_terminal`] gives it
    /// one. Cannot be combined with [`Command::process_group`].
    pub fn setsid(&mut self, on: bool) -> &mut Command {
        self.attrs.setsid = on;
        self
    }

    /// Puts the child in process group `pgid` (`setpgid(0, pgid)`); 0 makes
    /// a new group whose id is the child's pid. As std's
    /// `CommandExt::process_group`.
    pub fn process_group(&mut self, pgid: i32) -> &mut Command {
        self.attrs.pgid = Some(pgid);
        self
    }

    /// Makes the terminal at child fd `fd` the child's controlling terminal
    /// (`ioctl(TIOCSCTTY)`, as Go's `Setctty`). Needs
    /// [`Command::setsid`], and `fd` must be one of the child's fds (0 to 2
    /// or given with [`Command::fd`]).
    pub fn controlling_terminal(&mut self, fd: RawFd) -> &mut Command {
        self.attrs.ctty = Some(fd);
        self
    }

    /// Detaches the child from the parent's controlling terminal
    /// (`ioctl(TIOCNOTTY)` on `/dev/tty`, as Go's `Noctty`); nothing happens
    /// if there is none.
    pub fn detach_terminal(&mut self, on: bool) -> &mut Command {
        self.attrs.noctty = on;
        self
    }

    /// Puts the child's process group in the foreground of the terminal at
    /// child fd `fd` (`tcsetpgrp`), without the child being stopped by
    /// `SIGTTOU` while it does so. `fd` must be one of the child's fds.
    pub fn foreground(&mut self, fd: RawFd) -> &mut Command {
        self.attrs.foreground = Some(fd);
        self
    }

    /// Sets the child's user id (`setuid`), after its groups and group id.
    /// As with std, when the parent is root and [`Command::groups`] is not
    /// set, the supplementary groups are dropped (`setgroups(0)`, where
    /// permitted) so the child keeps none of root's.
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.attrs.uid = Some(uid);
        self
    }

    /// Sets the child's group id (`setgid`), after its groups and before its
    /// user id.
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.attrs.gid = Some(gid);
        self
    }

    /// Sets the child's supplementary groups (`setgroups`), first of its
    /// credentials.
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.attrs.groups = Some(groups.to_vec());
        self
    }

    /// Changes the child's root directory (`chroot`) before it takes its
    /// credentials; the working directory, the program path and `PATH` are
    /// then resolved inside it. Does not change directory: combine with
    /// `current_dir("/")` to leave no way out.
    pub fn chroot<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.attrs.chroot = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets the child's file mode creation mask (`umask`).
    pub fn umask(&mut self, mask: u32) -> &mut Command {
        self.attrs.umask = Some(mask);
        self
    }

    /// Sets the child's soft and hard limit of `resource` (`prlimit`), before
    /// it drops privileges, so a root parent may raise hard limits. Use
    /// [`RLIM_INFINITY`](crate::RLIM_INFINITY) for no limit. A later call
    /// for the same resource replaces an earlier one.
    ///
    /// ```
    /// use spawnfd::{Command, Resource};
    /// // Give a child the classic soft fd limit back, whatever this process
    /// // raised its own to.
    /// let mut hard = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    /// unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) };
    /// let status = Command::new("true").rlimit(Resource::NOFILE, 1024, hard.rlim_max).status()?;
    /// assert!(status.success());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn rlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> &mut Command {
        self.attrs
            .rlimits
            .retain(|&(r, _, _)| r != resource.as_raw());
        self.attrs.rlimits.push((resource.as_raw(), soft, hard));
        self
    }

    /// Sets the child's niceness, -20 (most favoured) to 19
    /// (`setpriority(PRIO_PROCESS)`); below the parent's needs privilege.
    pub fn nice(&mut self, nice: i32) -> &mut Command {
        self.attrs.nice = Some(nice);
        self
    }

    /// Restricts the child to these CPUs (`sched_setaffinity`).
    pub fn cpu_affinity(&mut self, cpus: &[usize]) -> &mut Command {
        self.attrs.cpus = Some(cpus.to_vec());
        self
    }

    /// Has the kernel send `signal` to the child when the thread that
    /// spawned it exits (`PR_SET_PDEATHSIG`). Set after the child's
    /// credentials (a credential change clears it); if the parent died in
    /// between, the child sends the signal to itself.
    ///
    /// Note that the kernel watches the spawning *thread*, not the process:
    /// spawn from a thread that lives as long as the child should.
    pub fn parent_death_signal(&mut self, signal: Signal) -> &mut Command {
        self.attrs.pdeathsig = Some(signal);
        self
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` in the child: `execve` will not grant
    /// privileges (set-user-id bits, file capabilities) to it or its
    /// descendants.
    pub fn no_new_privs(&mut self, on: bool) -> &mut Command {
        self.attrs.no_new_privs = on;
        self
    }

    /// Starts the child inside the cgroup v2 directory `dir`.
    ///
    /// With `clone3` and `CLONE_INTO_CGROUP` (Linux 5.7) the kernel creates
    /// it there, so it never runs a single instruction in the parent's
    /// cgroup. Where that flag is missing (older kernels, or a sandbox that
    /// refuses `clone3` and leaves `clone`), the child moves itself there
    /// first thing, before any other step, by writing to the directory's
    /// `cgroup.procs` (opened by the parent, so the same permission
    /// applies): it runs a few instructions of the library in the parent's
    /// cgroup, never the program. A failure is [`Step::Clone`] either way.
    ///
    /// [`Step::Clone`]: crate::Step::Clone
    pub fn cgroup<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.attrs.cgroup = Some(Cgroup::Path(dir.as_ref().to_owned()));
        self.tree = None;
        self
    }

    /// As [`Command::cgroup`], with the cgroup directory already open.
    pub fn cgroup_fd(&mut self, dir: impl Into<OwnedFd>) -> &mut Command {
        self.attrs.cgroup = Some(Cgroup::Fd(dir.into()));
        self.tree = None;
        self
    }

    /// Gives each child a [`Scope`](crate::Scope) of its own, made at the
    /// spawn under the cgroup v2 directory `parent` and owned by the
    /// [`Child`]: the child starts in it, and with it every process it
    /// starts. Then [`Child::kill_tree`] ends the whole tree,
    /// [`Child::wait_tree`] returns once the last of it is gone,
    /// [`Child::scope`] gives the rest (freeze, usage, limits), and
    /// [`kill_on_drop(true)`](Command::kill_on_drop) ends the whole tree
    /// when the `Child` is dropped. The directory is removed when the
    /// `Child` is dropped, or once the tree is empty if it still runs
    /// then. Replaces an earlier cgroup or scope.
    ///
    /// # Errors
    ///
    /// The spawn fails, with nothing created, where the scope cannot be
    /// made ([`Scope::new`](crate::Scope::new)'s errors).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use spawnfd::Command;
    ///
    /// let mut child = Command::new("make")
    ///     .scope_in("/sys/fs/cgroup/build.slice")
    ///     .kill_on_drop(true)
    ///     .spawn()?;
    /// if child.wait_timeout(Duration::from_secs(600))?.is_none() {
    ///     child.kill_tree()?;
    /// }
    /// child.wait_tree()?; // make and everything it started are gone
    /// # std::io::Result::Ok(())
    /// ```
    pub fn scope_in<P: AsRef<Path>>(&mut self, parent: P) -> &mut Command {
        self.set_tree(TreeRequest::Scope(parent.as_ref().to_owned()))
    }

    /// Gives each child a tree of its own, held by the [`Child`]: a
    /// [`Scope`](crate::Scope) under this process's own cgroup (as
    /// [`Scope::in_own_cgroup`](crate::Scope::in_own_cgroup)) where this
    /// process may make one, else a process group the child leads.
    /// [`Child::containment`] says which. Either way
    /// [`Child::kill_tree`], [`Child::wait_tree`],
    /// [`kill_on_drop(true)`](Command::kill_on_drop) and
    /// [`ChildSet::kill_trees`](crate::ChildSet::kill_trees) act on the
    /// whole tree; only a scope can also be frozen, accounted and limited
    /// ([`Child::scope`]). Replaces an earlier cgroup or tree.
    ///
    /// The process group is the weaker of the two, and these are its
    /// limits:
    ///
    /// - A descendant that leaves the group (`setsid`, `setpgid`, as
    ///   daemons do) is neither killed nor waited for.
    /// - It is found by looking: `wait_tree` looks every few milliseconds
    ///   (up to 20) whether the group is empty, where a scope gets an
    ///   event.
    /// - Its signals are exact since Linux 6.9: the kernel finds the group
    ///   from the child's pidfd (`PIDFD_SIGNAL_PROCESS_GROUP`), even once
    ///   the child has been reaped. Before, they are `kill(-pgid)` while
    ///   the child is unreaped (its zombie keeps the id from being
    ///   reused), and once it has been reaped, a signal to each member
    ///   `/proc` lists, through a pidfd opened while it was listed.
    /// - The child leads its group (`setpgid(0, 0)`, unless
    ///   [`setsid`](Command::setsid) makes it lead a session), so it is no
    ///   longer in the terminal's foreground group: a terminal's Ctrl-C
    ///   does not reach it, and reading the terminal stops it
    ///   (`SIGTTIN`), as for any background job.
    ///
    /// The fallback is taken where the scope cannot be made: the cgroup
    /// is not delegated to this process (`EACCES`, `EPERM`), the hierarchy
    /// is read-only or not mounted, or `cgroup.max.descendants` is
    /// reached. A scope that is made but that the kernel then refuses to
    /// start the child in fails the spawn, as with
    /// [`scope_in`](Command::scope_in).
    ///
    /// # Errors
    ///
    /// The spawn fails with `InvalidInput` if the command also asks for
    /// [`process_group(pgid)`](Command::process_group) with a `pgid` other
    /// than 0: the child must lead its own group. Otherwise as
    /// [`scope_in`](Command::scope_in), but where the fallback applies.
    ///
    /// ```
    /// use spawnfd::{Command, Containment};
    ///
    /// let mut child = Command::new("sh")
    ///     .args(["-c", "sleep 30 & sleep 30 & wait"])
    ///     .contain_tree()
    ///     .spawn()?;
    /// child.kill_tree()?; // sh and both sleeps
    /// child.wait_tree()?;
    /// assert!(matches!(
    ///     child.containment(),
    ///     Some(Containment::Scope | Containment::ProcessGroup)
    /// ));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn contain_tree(&mut self) -> &mut Command {
        self.set_tree(TreeRequest::ScopeOrGroup(None))
    }

    /// As [`contain_tree`](Command::contain_tree), with the scope made
    /// under the cgroup v2 directory `parent`, and the process group where
    /// it cannot be made there. A `parent` that is not a cgroup v2
    /// directory is an error (`InvalidInput`), not a reason to fall back.
    pub fn contain_tree_in<P: AsRef<Path>>(&mut self, parent: P) -> &mut Command {
        self.set_tree(TreeRequest::ScopeOrGroup(Some(parent.as_ref().to_owned())))
    }

    /// Holds each child's tree in a process group the child leads, with
    /// no attempt at a scope: [`contain_tree`](Command::contain_tree)'s
    /// fallback, with its limits, for where cgroups are known to be out of
    /// reach (or to see what the fallback does).
    pub fn process_group_tree(&mut self) -> &mut Command {
        self.set_tree(TreeRequest::Group)
    }

    fn set_tree(&mut self, request: TreeRequest) -> &mut Command {
        self.attrs.cgroup = None;
        self.tree = Some(request);
        self
    }

    /// Creates the child in new namespaces (the `CLONE_NEW*` flags of
    /// `clone3`). Adds to earlier calls.
    ///
    /// A new user namespace ([`Namespaces::USER`]) needs its id maps
    /// written from outside before the child goes on, so such a child is
    /// created without `CLONE_VFORK`: the spawning thread writes the maps
    /// and then waits on a futex until the child has exec'd. It still shares
    /// the parent's memory, so the cost stays independent of the parent's
    /// size. Every other attribute keeps the `CLONE_VFORK` path.
    pub fn unshare(&mut self, namespaces: Namespaces) -> &mut Command {
        self.attrs.namespaces |= namespaces;
        self
    }

    /// Gives the child a fresh `/proc`, as `unshare --mount-proc` does:
    /// the child makes its mount tree private (`MS_REC | MS_PRIVATE` on
    /// `/`, so nothing it mounts reaches the parent's namespace) and
    /// mounts a new procfs on `/proc` (`MS_NOSUID | MS_NODEV | MS_NOEXEC`),
    /// over whatever was there.
    ///
    /// Needs a new mount namespace ([`Namespaces::MOUNT`]): without one the
    /// mount would change the parent's `/proc`, so the spawn is refused
    /// with `InvalidInput`. It is meant with a new PID namespace
    /// ([`Namespaces::PID`]): a procfs shows the PID namespace of the
    /// process that mounts it, so the child then sees itself as pid 1 and
    /// only its namespace's processes. Without one it is a fresh mount of
    /// the same view as the parent's.
    ///
    /// With a [`chroot`](Command::chroot), the tree is made private before
    /// the `chroot` (a mount's propagation can only be changed at its root,
    /// which the new root need not be) and procfs is mounted after it, on
    /// the new root's `/proc`, which must exist. Both need `CAP_SYS_ADMIN`
    /// over the mount namespace, so they run before the credentials change.
    /// A failure is [`Step::MountProc`](crate::Step::MountProc).
    ///
    /// [`Command::exec`] does the same in place, in the mount namespace it
    /// entered with `unshare`: a fresh `/proc` of the caller's PID
    /// namespace (a new PID namespace is refused there).
    ///
    /// ```no_run
    /// use spawnfd::{Command, Namespaces};
    ///
    /// // As `unshare --pid --mount-proc ps -e`: ps sees itself as pid 1.
    /// let status = Command::new("ps")
    ///     .arg("-e")
    ///     .unshare(Namespaces::PID | Namespaces::MOUNT)
    ///     .mount_proc(true)
    ///     .status()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn mount_proc(&mut self, on: bool) -> &mut Command {
        self.attrs.mount_proc = on;
        self
    }

    /// The `uid_map` of the child's new user namespace (with
    /// [`Namespaces::USER`]), written by the parent before the child goes
    /// on.
    pub fn uid_map(&mut self, map: &[IdMap]) -> &mut Command {
        self.attrs.uid_map = map.to_vec();
        self
    }

    /// The `gid_map` of the child's new user namespace. Where the parent
    /// lacks `CAP_SETGID` over it, `setgroups` is denied in the namespace
    /// first, as the kernel requires.
    pub fn gid_map(&mut self, map: &[IdMap]) -> &mut Command {
        self.attrs.gid_map = map.to_vec();
        self
    }

    /// Makes the child a tracee of this process before `execve`
    /// (`PTRACE_TRACEME`), for debuggers and tracers: it stops with
    /// `SIGTRAP` after the exec.
    ///
    /// The tracer is the thread that spawns the child. Its ptrace stops
    /// are the tracer's to take, with `waitpid`/`waitid` on the child's
    /// pid (the kernel reports them to every thread of this process,
    /// whatever the flags ask for); the library never takes one:
    /// [`Child::wait`](crate::Child::wait) and the other waits return only
    /// on the child's exit (`try_wait` returns `None` for a stopped
    /// child), and a dropped child is reaped only when it exits.
    pub fn ptrace_traceme(&mut self, on: bool) -> &mut Command {
        self.attrs.traceme = on;
        self
    }

    /// Keeps only `caps` in the child's capability bounding set (and so in
    /// what it or any program it runs can ever gain): every other
    /// capability the kernel knows is dropped (`PR_CAPBSET_DROP`), before
    /// the credentials change, which needs `CAP_SETPCAP`. As
    /// `setpriv --bounding-set` or `capsh --drop`. A failure is
    /// [`Step::Capabilities`](crate::Step::Capabilities).
    ///
    /// ```no_run
    /// use spawnfd::{Capability, CapabilitySet, Command};
    /// // A server that may bind low ports and nothing else privileged.
    /// let keep = CapabilitySet::empty().with(Capability::NET_BIND_SERVICE);
    /// Command::new("server").capability_bounding_set(keep).spawn()?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn capability_bounding_set(&mut self, caps: crate::CapabilitySet) -> &mut Command {
        self.sandbox.bounding = Some(caps);
        self
    }

    /// Sets the child's inheritable capabilities (`capset`, after the
    /// credentials change), which a program keeps across `execve` only if
    /// its file grants them (see capabilities(7)); ambient ones are added
    /// to it. A capability not in the bounding set, or (without
    /// `CAP_SETPCAP`) not permitted, fails with `EPERM` at
    /// [`Step::Capabilities`](crate::Step::Capabilities).
    pub fn inheritable_capabilities(&mut self, caps: crate::CapabilitySet) -> &mut Command {
        self.sandbox.inheritable = Some(caps);
        self
    }

    /// Raises `caps` in the child's ambient set, after the credentials
    /// change: the program gets them as permitted and effective
    /// capabilities even as an unprivileged user, without file
    /// capabilities (`setpriv --ambient-caps`). They are added to the
    /// inheritable set, and the permitted set is kept across a change of
    /// uid (as [`keep_capabilities`](Command::keep_capabilities)). Each
    /// must be permitted to the parent and in the bounding set, else
    /// `EPERM` at [`Step::Capabilities`](crate::Step::Capabilities).
    ///
    /// ```no_run
    /// use spawnfd::{Capability, CapabilitySet, Command};
    /// // As root: run as nobody, still allowed to bind port 80.
    /// let caps = CapabilitySet::empty().with(Capability::NET_BIND_SERVICE);
    /// Command::new("server").uid(65534).gid(65534).ambient_capabilities(caps).spawn()?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn ambient_capabilities(&mut self, caps: crate::CapabilitySet) -> &mut Command {
        self.sandbox.ambient = Some(caps);
        self
    }

    /// Keeps the child's permitted capabilities across its change of uid
    /// (`PR_SET_KEEPCAPS`, before the credentials; the effective set is
    /// cleared by the change all the same), for a hook or the ambient set
    /// to use. `execve` of an unprivileged program still drops what is
    /// neither ambient nor granted by the file.
    pub fn keep_capabilities(&mut self, on: bool) -> &mut Command {
        self.sandbox.keep_caps = on;
        self
    }

    /// Installs the seccomp filter `filter` (a classic BPF program, as
    /// `struct sock_filter`s, 1 to 4096 of them) in the child, the last
    /// step before exec, so that it filters the program and nothing of the
    /// set-up (as `bwrap --seccomp`). The kernel wants
    /// [`no_new_privs(true)`](Command::no_new_privs) or `CAP_SYS_ADMIN`:
    /// without, `EACCES` at [`Step::Seccomp`](crate::Step::Seccomp); a
    /// program it finds invalid is `EINVAL` there. The filter must allow
    /// `execve` (and the program's own start-up).
    ///
    /// ```no_run
    /// use spawnfd::Command;
    /// // Every uname(2) fails with EPERM; everything else is allowed.
    /// let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    /// let filter = [
    ///     libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 0 }, // ld [nr]
    ///     libc::sock_filter { code: 0x15, jt: 0, jf: 1, k: libc::SYS_uname as u32 },
    ///     libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: eperm },
    ///     libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW },
    /// ];
    /// Command::new("uname").no_new_privs(true).seccomp_filter(&filter).status()?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn seccomp_filter(&mut self, filter: &[libc::sock_filter]) -> &mut Command {
        self.sandbox.seccomp = Some(filter.to_vec());
        self
    }

    /// Restricts the child with the Landlock ruleset `ruleset` (an fd from
    /// `landlock_create_ruleset(2)` with its rules added), just before the
    /// seccomp filter and exec (`landlock_restrict_self`). The kernel
    /// wants [`no_new_privs(true)`](Command::no_new_privs) or
    /// `CAP_SYS_ADMIN`: without, `EPERM` at
    /// [`Step::Landlock`](crate::Step::Landlock). The ruleset must allow
    /// executing the program and reading what it loads. The fd is the
    /// command's; the child does not keep it.
    pub fn landlock_ruleset(&mut self, ruleset: impl Into<OwnedFd>) -> &mut Command {
        self.sandbox.landlock = Some(ruleset.into());
        self
    }

    /// Sets these signals to `SIG_IGN` in the child (after the reset of the
    /// parent's ignored signals); they stay ignored across `execve`.
    /// `SIGKILL` and `SIGSTOP` cannot be ignored and are refused.
    pub fn ignore_signals(&mut self, signals: SignalSet) -> &mut Command {
        self.attrs.ignore = signals;
        self
    }

    /// Runs `f` in the child after every other set-up step, just before
    /// `execve`, as std's `CommandExt::pre_exec`. Hooks run in the order
    /// they were added; the first that returns an error ends the spawn
    /// with a [`SpawnError`](crate::SpawnError) at
    /// [`Step::Hook`](crate::Step::Hook), carrying the errno the error
    /// holds (`EINVAL` if it holds none) and the hook's index
    /// ([`SpawnError::hook`](crate::SpawnError::hook)).
    ///
    /// # Where it runs
    ///
    /// Last of the set-up steps (see [`Step::CHILD_ORDER`](crate::Step::CHILD_ORDER)),
    /// as in std: the child's fds are placed, its credentials, working
    /// directory, limits and terminal are set, its signal dispositions are
    /// final and its signal mask is the one it will exec with, and every
    /// fd it was not given is already marked close-on-exec. So what a hook
    /// opens or duplicates *without* `O_CLOEXEC` reaches the program (a
    /// hook can pass an fd of its own making), and what it opens with
    /// `O_CLOEXEC` is closed by `execve`. The fds the child was not given
    /// are still open while the hook runs (close-on-exec), so it can use
    /// them. Signals are unblocked (unless the mask says otherwise) and
    /// every disposition is the default or ignored: a signal sent to the
    /// child while its hook runs kills it as it would kill the program
    /// (the spawn then returns the killed child, as for the other steps
    /// after the mask; see [`Command::spawn`]).
    ///
    /// # Safety
    ///
    /// On the default path the child is created with `CLONE_VM |
    /// CLONE_VFORK`: **it runs in this process's memory**, on the spawning
    /// thread's thread-local storage, while that thread is suspended and
    /// every other thread keeps running. So, as for std's `pre_exec` and
    /// stricter:
    ///
    /// - only async-signal-safe work: raw system calls and the libc
    ///   functions POSIX lists as async-signal-safe; no allocation, no
    ///   locks (another thread may hold them; a lock held by the spawning
    ///   thread is held for ever), no `println!`;
    /// - nothing the hook writes to memory stays private: a changed
    ///   variable is changed in the parent too;
    /// - return errors made without allocating
    ///   (`io::Error::from_raw_os_error`, `io::Error::last_os_error`): the
    ///   child never drops the error it gets back (that would free the
    ///   parent's memory), so an error with a message leaks its box;
    /// - `errno` is the spawning thread's: a libc call in the hook writes
    ///   it. The spawn saves the caller's `errno` and puts it back before
    ///   it returns, so the caller sees no change;
    /// - the hook gets a stack of 256 KiB (the child's own, pooled; the
    ///   guard page below it faults on overflow), rather than the 64 KiB a
    ///   spawn without hooks uses;
    /// - it must not panic. A panic does not unwind out of the child: the
    ///   child catches it, reports it ([`SpawnError::hook_panicked`](crate::SpawnError::hook_panicked)) and
    ///   exits, and the spawning thread's panic count is left as it was;
    ///   but the panic machinery has by then printed its message and
    ///   allocated its payload in the parent's memory, which leaks.
    ///
    /// With [`Command::use_fork(true)`](Command::use_fork) the child is a
    /// copy made by libc's `fork()`, and only the rules of a forked child
    /// of a multi-threaded program hold: allocation works (glibc resets its
    /// allocator in the child), locks that another thread held at the fork
    /// stay held, and nothing the hook changes reaches the parent. It is
    /// the same hook type: `Fn`, not `FnMut`.
    ///
    /// A hook cannot be combined with
    /// [`ptrace_traceme`](Command::ptrace_traceme) on the default path
    /// (the spawning thread must then run beside the child, sharing its
    /// thread-local state): that spawn is refused with `InvalidInput`;
    /// take the fork path.
    ///
    /// [`Command::exec`] runs the hooks too, in the calling thread, before
    /// its `execve`.
    ///
    /// ```
    /// use spawnfd::Command;
    /// use std::os::fd::AsRawFd;
    ///
    /// // Give the program an fd of the hook's making: fd 9, a duplicate of
    /// // its fd 1, without FD_CLOEXEC (dup2 clears it).
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo hello >&9"]);
    /// // SAFETY: dup2 is async-signal-safe, and the error is made without
    /// // allocating.
    /// unsafe {
    ///     cmd.pre_exec(|| {
    ///         if libc::dup2(1, 9) < 0 {
    ///             return Err(std::io::Error::last_os_error());
    ///         }
    ///         Ok(())
    ///     });
    /// }
    /// let output = cmd.output()?;
    /// assert_eq!(output.stdout, b"hello\n");
    /// # std::io::Result::Ok(())
    /// ```
    #[allow(unsafe_code)] // The contract above is the caller's to keep.
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: Fn() -> io::Result<()> + Send + Sync + 'static,
    {
        self.hooks.push(Box::new(f));
        self
    }

    /// Creates the child with the C library's `fork()` instead of
    /// `clone3(CLONE_VM | CLONE_VFORK)` (default `false`): the fork path.
    ///
    /// For a child that must be a real fork as far as the C library is
    /// concerned: `pthread_atfork` handlers run, the C library resets its
    /// own state in the child (its allocator, its stdio lists), and the
    /// child has a copy of this process's memory rather than a share of
    /// it, so [`pre_exec`](Command::pre_exec) hooks may do what a forked
    /// child may do, and tools that cannot follow a `CLONE_VM` child
    /// (address sanitizers) are content. It costs what `fork` costs: the
    /// page tables are copied, so the spawn takes longer the more memory
    /// this process maps.
    ///
    /// Everything else is the same: the same steps in the same order, the
    /// same [`SpawnError`](crate::SpawnError)s, the same fd hygiene and
    /// signal slate (caught signals are reset by the child itself), a
    /// [`Child`] held by its pidfd. The child reports through a
    /// close-on-exec pipe instead of shared memory: end of file after the
    /// exec step means it exec'd. The pidfd is race-free against other
    /// reapers (a `waitpid(-1)` elsewhere, `SIGCHLD` set to `SIG_IGN`):
    /// the child waits, before its first step, until the parent holds its
    /// pidfd (`pidfd_open`, Linux 5.3), and if the parent dies meanwhile
    /// it exits. Where `pidfd_open` is missing the child is watched by pid,
    /// as on the other paths without pidfds (see [`Child`]).
    ///
    /// What the fork path cannot do is refused with `InvalidInput` before
    /// any process exists: new user, PID and time namespaces (the child
    /// enters the others with `unshare`, failing at
    /// [`Step::Clone`](crate::Step::Clone) as the clone would), and an
    /// [`exit_signal`](Command::exit_signal) other than `SIGCHLD`.
    ///
    /// ```
    /// use spawnfd::Command;
    ///
    /// let status = Command::new("sh").args(["-c", "exit 3"]).use_fork(true).status()?;
    /// assert_eq!(status.code(), Some(3));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn use_fork(&mut self, on: bool) -> &mut Command {
        self.use_fork = on;
        self
    }

    /// Leaves the fds the child inherits as they are (default `false`):
    /// no fd is marked close-on-exec, and fds 0, 1 and 2 are not checked
    /// (a closed or close-on-exec standard fd stays so, rather than
    /// becoming `/dev/null`). Fds given with [`Command::fd`],
    /// [`Command::stdin`] and the like are still placed.
    ///
    /// This is `fork`'s hygiene, which is weaker: every fd this process
    /// holds without `O_CLOEXEC`, including those other threads open
    /// during the spawn, reaches the program. It is meant for a child that
    /// runs a function ([`Command::spawn_fn`]), which sees the parent's
    /// fds as a forked child does.
    ///
    /// ```
    /// use spawnfd::Command;
    /// use std::os::fd::AsRawFd;
    ///
    /// let (read, write) = std::io::pipe()?;
    /// // Inherited as it is: without FD_CLOEXEC, at its own number.
    /// let fd = write.as_raw_fd();
    /// unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    /// let script = format!("echo hi >&{fd}");
    /// let status = Command::new("sh").args(["-c", &script]).keep_inherited_fds(true).status()?;
    /// assert!(status.success());
    /// drop(write);
    /// assert_eq!(std::io::read_to_string(read)?, "hi\n");
    /// # std::io::Result::Ok(())
    /// ```
    pub fn keep_inherited_fds(&mut self, on: bool) -> &mut Command {
        self.keep_fds = on;
        self
    }

    /// Whether a [`Child`] dropped before it was reaped is killed
    /// (`SIGKILL` through its pidfd) first, as tokio's `kill_on_drop`.
    /// Default `false`.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.on_drop.kill = kill;
        self
    }

    /// Whether a [`Child`] dropped before it was reaped is reaped for you
    /// (default `true`): at once if it has exited, else by the background
    /// reaper thread when it does. With `false`, as with std, it stays a
    /// zombie until something waits for it or this process exits.
    pub fn reap_on_drop(&mut self, reap: bool) -> &mut Command {
        self.on_drop.reap = reap;
        self
    }

    /// The signal this process receives when the child exits: `SIGCHLD` by
    /// default; `None` for none.
    ///
    /// Linux sets a process's exit signal back to `SIGCHLD` when it calls
    /// `execve` (`de_thread` in `fs/exec.c`), so `None` holds only until the
    /// child execs (for a child that fails before exec, no signal is sent,
    /// and other reapers cannot take it). What keeps every child's exit
    /// status private is the pidfd: when another library's `waitpid(-1)`,
    /// or the kernel under `SIGCHLD = SIG_IGN`, reaps the child first, the
    /// waits here still return its exact status, which the kernel keeps
    /// for pidfds (`PIDFD_INFO_EXIT`, since Linux 6.15; on older kernels
    /// they fail with `ECHILD`).
    ///
    /// ```
    /// use spawnfd::Command;
    /// let mut child = Command::new("sh").args(["-c", "exit 5"]).exit_signal(None).spawn()?;
    /// assert_eq!(child.wait()?.code(), Some(5));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn exit_signal(&mut self, signal: Option<Signal>) -> &mut Command {
        self.exit_signal = signal;
        self
    }

    /// Starts the child and returns a handle to it.
    ///
    /// Standard fds are inherited unless set. The calling thread's `errno`
    /// is the same after the call as before it, whatever happened inside.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` (with a message) for a request that cannot be
    ///   carried out, before any process is created: a NUL byte in the
    ///   program, an argument, an environment key or value or the working
    ///   directory; an environment key that is empty or holds `=`; a negative
    ///   or repeated child fd; what the chosen path cannot do (see
    ///   [`use_fork`](Command::use_fork) and
    ///   [`pre_exec`](Command::pre_exec)).
    /// - For a failure in creating or preparing the child, an error whose
    ///   kind is that of the errno and whose payload is a
    ///   [`SpawnError`](crate::SpawnError) naming the step, the errno and the
    ///   path or fd involved. The failed child has been reaped.
    ///
    /// # A child killed while it is set up
    ///
    /// A signal that somebody sends while the child is being set up (the
    /// terminal's Ctrl-C, a supervisor's signal to the process group)
    /// kills it as it would kill the program: such a child **was spawned**,
    /// and `spawn` returns it, its wait reporting the
    /// signal, as `posix_spawn`, std, Go and CPython do. Job control and
    /// restart logic then see "killed by SIGINT", not a spawn error. The
    /// child's signals are blocked until its mask is set (step 13 of the
    /// child), so before that only `SIGKILL` can do this.
    ///
    /// A child that dies of a fault of its own before exec (`SIGSEGV`,
    /// `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGSYS`, `SIGTRAP`, `SIGABRT`: a
    /// seccomp filter killing one of its system calls, say, or a
    /// [`pre_exec`](Command::pre_exec) hook calling `abort`) failed to
    /// spawn: that is a
    /// [`SpawnError`](crate::SpawnError) naming the step it was at, with
    /// [`died_by_signal`](crate::SpawnError::died_by_signal) set.
    pub fn spawn(&mut self) -> io::Result<Child> {
        spawn::spawn(self, Defaults::Inherit)
    }

    /// Starts the child and hands it over as a bare pid, as `posix_spawn`
    /// does: the library keeps nothing of it (no pidfd, no watcher thread,
    /// no reaper), and the caller must reap it, with `waitpid` or
    /// `waitid` on that pid, or leave a zombie.
    ///
    /// For code built around pids: a `posix_spawn`-shaped API (the C
    /// library's), an event loop that reaps on `SIGCHLD`. Everything else
    /// is as [`spawn`](Command::spawn): the same steps, fds, signals and
    /// errors (a child that failed has been reaped). Prefer `spawn`: once
    /// the pid is reaped the kernel may give it to another process, so a
    /// signal sent by pid after the wait, or a wait racing a `waitpid(-1)`
    /// elsewhere, can reach a stranger; a [`Child`] cannot.
    ///
    /// A child that somebody killed while it was set up was spawned: its
    /// pid is returned, and the caller's wait reports the signal.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), and `InvalidInput` for a piped
    /// stdin, stdout or stderr, whose parent end would have no owner.
    ///
    /// ```
    /// use spawnfd::Command;
    ///
    /// let pid = Command::new("true").spawn_pid()? as libc::pid_t;
    /// let mut status = 0;
    /// // SAFETY: a writable int; the pid is our unreaped child.
    /// assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    /// assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn spawn_pid(&mut self) -> io::Result<u32> {
        spawn::spawn_pid(self)
    }

    /// Starts a child that runs `f` instead of a program, and exits with
    /// the value `f` returns (its low 8 bits, as `_exit`): what forkfd's
    /// `vforkfd(flags, &pid, fn, arg)` does.
    ///
    /// The child goes through every set-up step of the command first
    /// (fds, attributes, signals, [`pre_exec`](Command::pre_exec) hooks),
    /// so a failure there is a [`SpawnError`](crate::SpawnError) with its
    /// step, as for a program; then, where the program would be exec'd,
    /// it calls `f`. The program given to [`Command::new`] is only a name
    /// for error messages; arguments and environment are unused.
    ///
    /// On the default path this has `vfork` semantics: the child runs in
    /// this process's memory and the spawning thread is suspended until
    /// the child exits (or execs, should `f` call `execve`); `spawn_fn`
    /// then returns the [`Child`], whose wait gives the status. With
    /// [`use_fork(true)`](Command::use_fork) the child is a forked copy
    /// and this returns as soon as the child is about to call `f`.
    ///
    /// `f` starts with the fds a program would have: no exec follows, so
    /// just before calling `f` the child closes every fd marked
    /// close-on-exec, as an exec would (the fds it was not given, which
    /// step 14 marked, and the close-on-exec fds its hooks made). A pipe
    /// whose end of file another process waits for is not held open by
    /// `f`. With [`keep_inherited_fds(true)`](Command::keep_inherited_fds)
    /// nothing is closed: `f` gets the fd table as it is, as after `fork`.
    ///
    /// A child that runs a function usually wants what a forked child
    /// gets: [`keep_inherited_fds(true)`](Command::keep_inherited_fds)
    /// (every fd as it is), [`reset_ignored_signals(false)`](Command::reset_ignored_signals)
    /// and [`inherit_signal_mask`](Command::inherit_signal_mask). Caught
    /// signals are reset to their default in any case: on the default path
    /// a handler of the parent must not run in the child, whose memory is
    /// the parent's.
    ///
    /// # Safety
    ///
    /// `f` runs under the rules of a [`pre_exec`](Command::pre_exec) hook
    /// (on the default path: async-signal-safe code only, in the parent's
    /// memory and on the spawning thread's thread-local storage, on a stack
    /// of 256 KiB). A panic in `f` is caught and the child exits with
    /// status 101, as a Rust program whose `main` panicked.
    ///
    /// # Errors
    ///
    /// As [`Command::spawn`].
    ///
    /// ```
    /// use spawnfd::Command;
    ///
    /// let mut cmd = Command::new("worker");
    /// cmd.keep_inherited_fds(true).reset_ignored_signals(false).inherit_signal_mask();
    /// // SAFETY: the function makes one raw system call.
    /// let mut child = unsafe { cmd.spawn_fn(|| libc::getpid() % 2 + 40) }?;
    /// let pid = child.id() as i32;
    /// assert_eq!(child.wait()?.code(), Some(pid % 2 + 40));
    /// # std::io::Result::Ok(())
    /// ```
    #[allow(unsafe_code)] // The contract above is the caller's to keep.
    pub unsafe fn spawn_fn<F>(&mut self, f: F) -> io::Result<Child>
    where
        F: Fn() -> i32 + Sync,
    {
        spawn::spawn_with(self, Defaults::Inherit, Some(&f))
    }

    /// Runs the child to completion and collects its output: stdout and
    /// stderr are captured and stdin is `/dev/null`, unless set.
    pub fn output(&mut self) -> io::Result<Output> {
        spawn::spawn(self, Defaults::Capture)?.wait_with_output()
    }

    /// Runs the child to completion, standard fds inherited unless set.
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        spawn::spawn(self, Defaults::Inherit)?.wait()
    }

    /// Runs every step of a spawn in this process instead of a new child,
    /// then `execve`s the program in place of this process, as
    /// [`std::os::unix::process::CommandExt::exec`]: the pid stays, and so
    /// do the parent and whatever the steps do not change. Returns only on
    /// failure.
    ///
    /// The command is prepared as for [`Command::spawn`], and every input
    /// error is found before anything changes; then the same steps run in
    /// the same order, with every signal blocked (so no signal handler runs
    /// midway), and a failure names the same [`Step`](crate::Step). New
    /// namespaces are entered with `unshare(2)` first
    /// ([`Step::Unshare`](crate::Step::Unshare)); a
    /// [`cgroup`](Command::cgroup) is joined in the first step (by writing
    /// to its `cgroup.procs`), and a new cgroup namespace made after that,
    /// as by a child the kernel could not start in its cgroup. The program's signal mask
    /// is the requested one, its signal dispositions those of a spawned
    /// child (every caught or ignored signal reset, unless
    /// [`reset_ignored_signals(false)`](Command::reset_ignored_signals)).
    ///
    /// Standard fds are inherited unless set. Descriptors that are not
    /// mapped are marked close-on-exec rather than closed (since Linux
    /// 5.11), so a host that hands this process a pipe sees it close
    /// exactly when the exec succeeds.
    ///
    /// # Errors
    ///
    /// - `InvalidInput`, before anything changes: any input that
    ///   [`spawn`](Command::spawn) refuses, and what needs a new process:
    ///   a new PID or user namespace ([`Namespaces::PID`](crate::Namespaces::PID)
    ///   holds only later children; a user namespace needs its id maps
    ///   written from outside), a time namespace, id maps, an
    ///   [`exit_signal`](Command::exit_signal) other than `SIGCHLD`,
    ///   [`kill_on_drop`](Command::kill_on_drop), and
    ///   [`Stdio::piped()`](crate::Stdio::piped), whose other end nobody
    ///   would read.
    /// - A failed step: a [`SpawnError`](crate::SpawnError) naming it, as
    ///   from `spawn`. The process is still running, but **partly
    ///   changed**, as after std's `exec` with a failing `pre_exec` hook:
    ///   everything the steps before the failed one did stays done (its
    ///   namespaces, signal dispositions, which are shared by every thread,
    ///   session and group, fd table, whose numbers the fds given with
    ///   [`fd`](Command::fd) may no longer name, terminal, limits, umask,
    ///   root, credentials, working directory, parent-death signal,
    ///   `no_new_privs`, tracing; and every other fd close-on-exec). Only
    ///   the signal mask is given back. A caller should report the error
    ///   and exit, as a relay does.
    ///
    /// # Threads
    ///
    /// Credentials are set with raw system calls, which change only the
    /// calling thread (`execve` then makes that thread the whole process,
    /// with its credentials); `unshare` likewise. The fd table, working
    /// directory, umask and signal dispositions are shared with the other
    /// threads, which should not open or close fds meanwhile.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use spawnfd::Command;
    ///
    /// // As `env -i LANG=C nice -n 5 ls /`: no child, the same pid.
    /// let err = Command::new("ls").arg("/").env_clear().env("LANG", "C").nice(5).exec();
    /// eprintln!("exec: {err}");
    /// std::process::exit(if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 });
    /// ```
    pub fn exec(&mut self) -> io::Error {
        crate::spawn::exec::exec(self)
    }

    /// The program, as given to [`Command::new`].
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, without `argv[0]`.
    pub fn get_args(&self) -> CommandArgs<'_> {
        CommandArgs {
            inner: self.args[1..].iter(),
        }
    }

    /// The environment changes made with `env`, `envs` and `env_remove`,
    /// sorted by key; a removed variable has the value `None`. Does not say
    /// whether `env_clear` was called.
    pub fn get_envs(&self) -> CommandEnvs<'_> {
        CommandEnvs {
            inner: self.env.vars.iter(),
        }
    }

    /// The working directory set with [`Command::current_dir`].
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "cd {dir:?} && ")?;
        }
        if self.env.clear {
            f.write_str("env -i ")?;
        }
        for (k, v) in &self.env.vars {
            match v {
                Some(v) => write!(f, "{}={v:?} ", k.to_string_lossy())?,
                None => write!(f, "-u {} ", k.to_string_lossy())?,
            }
        }
        write!(f, "{:?}", self.program)?;
        for arg in &self.args[1..] {
            write!(f, " {arg:?}")?;
        }
        Ok(())
    }
}

/// The arguments of a [`Command`], from [`Command::get_args`].
#[derive(Debug)]
pub struct CommandArgs<'a> {
    inner: std::slice::Iter<'a, OsString>,
}

impl<'a> Iterator for CommandArgs<'a> {
    type Item = &'a OsStr;
    fn next(&mut self) -> Option<&'a OsStr> {
        self.inner.next().map(OsString::as_os_str)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for CommandArgs<'_> {}

/// The environment changes of a [`Command`], from [`Command::get_envs`].
#[derive(Debug)]
pub struct CommandEnvs<'a> {
    inner: std::collections::btree_map::Iter<'a, OsString, Option<OsString>>,
}

impl<'a> Iterator for CommandEnvs<'a> {
    type Item = (&'a OsStr, Option<&'a OsStr>);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|(k, v)| (k.as_os_str(), v.as_deref()))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for CommandEnvs<'_> {}

/// What to connect to a child's standard fd, as [`std::process::Stdio`].
#[derive(Debug)]
pub struct Stdio(pub(crate) StdioKind);

#[derive(Debug)]
pub(crate) enum StdioKind {
    Inherit,
    Null,
    Piped,
    /// An fd the command owns.
    Owned(OwnedFd),
    /// One of the parent's own standard fds, borrowed.
    Parent(RawFd),
}

impl Stdio {
    /// A new pipe; the parent's end appears in [`Child`]'s `stdin`, `stdout`
    /// or `stderr` field.
    pub fn piped() -> Stdio {
        Stdio(StdioKind::Piped)
    }

    /// The parent's fd of the same number; `/dev/null` if it is closed.
    pub fn inherit() -> Stdio {
        Stdio(StdioKind::Inherit)
    }

    /// `/dev/null`, opened for reading (stdin) or writing (stdout, stderr).
    pub fn null() -> Stdio {
        Stdio(StdioKind::Null)
    }

    /// Whether this is [`Stdio::piped`].
    pub fn makes_pipe(&self) -> bool {
        matches!(self.0, StdioKind::Piped)
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(StdioKind::Owned(fd))
    }
}

impl From<File> for Stdio {
    fn from(file: File) -> Stdio {
        Stdio::from(OwnedFd::from(file))
    }
}

macro_rules! stdio_from_owned {
    ($($t:ty),*) => {$(
        impl From<$t> for Stdio {
            fn from(value: $t) -> Stdio {
                Stdio::from(OwnedFd::from(value))
            }
        }
    )*};
}
stdio_from_owned!(
    ChildStdin,
    ChildStdout,
    ChildStderr,
    std::io::PipeReader,
    std::io::PipeWriter
);

impl From<io::Stdout> for Stdio {
    /// The parent's own fd 1.
    fn from(out: io::Stdout) -> Stdio {
        Stdio(StdioKind::Parent(out.as_raw_fd()))
    }
}

impl From<io::Stderr> for Stdio {
    /// The parent's own fd 2.
    fn from(err: io::Stderr) -> Stdio {
        Stdio(StdioKind::Parent(err.as_raw_fd()))
    }
}

//! The path of a spawn in the parent: validate the command and lay out
//! everything the child needs, create the child, read its report.
//!
//! Everything that allocates or can fail on user input happens in
//! [`Prepared::new`], before any process exists. The child receives a
//! [`ChildCtx`] of raw pointers into the buffers of [`Prepared`], which
//! outlives it: the spawning thread is suspended (`CLONE_VFORK`) until the
//! child has exec'd or exited.

#![allow(unsafe_code)]

pub(crate) mod attrs;
pub(crate) mod exec;
pub(crate) mod fork;
pub(crate) mod sandbox;

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;

use crate::command::{Command, MaskPlan, StdioKind};
use crate::error::{Detail, SpawnError, Step, invalid};
use crate::in_child::fdmap::Slot;
use crate::in_child::{
    ChildCtx, EXISTS_BUT, HOOK_PANICKED, JoinCgroup, MOUNT_PROC_AT, Report, Source, child_main,
};
use crate::scope::tree::Tree;
use crate::spawn::attrs::{AttrPlan, Namespaces};
use crate::sys::clone::{self, BlockAllSignals, Created, Failure, Method, UserNsSetup};
use crate::sys::watch::{self, Pending};
use crate::sys::{os, pidfd};
use crate::wait::child::{Child, Handle, OnDrop};

/// The standard fds a spawn uses when the command leaves them unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Defaults {
    /// `spawn` and `status`: inherit all three.
    Inherit,
    /// `output`: stdin from `/dev/null`, stdout and stderr piped.
    Capture,
}

/// The search path `execvp` uses when `PATH` is unset.
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// A function a child runs instead of a program (`Command::spawn_fn`).
pub(crate) type Function<'f> = &'f (dyn Fn() -> i32 + Sync);

/// What a spawn hands over: a [`Child`], or for `Command::spawn_pid` the
/// bare pid of a child the library keeps nothing of.
pub(crate) enum Spawned {
    Child(Child),
    Pid(u32),
}

pub(crate) fn spawn(cmd: &Command, defaults: Defaults) -> io::Result<Child> {
    spawn_with(cmd, defaults, None)
}

/// A spawn of a program, or with `function`, of a child that runs it.
pub(crate) fn spawn_with(
    cmd: &Command,
    defaults: Defaults,
    function: Option<Function<'_>>,
) -> io::Result<Child> {
    match start(cmd, defaults, function, false)? {
        Spawned::Child(child) => Ok(child),
        // Only a spawn by pid hands over a pid.
        Spawned::Pid(_) => unreachable!("a spawn of a Child handed over a pid"),
    }
}

/// `Command::spawn_pid`: a program's child, handed over by pid.
pub(crate) fn spawn_pid(cmd: &Command) -> io::Result<u32> {
    match start(cmd, Defaults::Inherit, None, true)? {
        Spawned::Pid(pid) => Ok(pid),
        Spawned::Child(_) => unreachable!("a spawn by pid handed over a Child"),
    }
}

/// Prepares and creates the child, on the path the command and the
/// machine call for.
fn start(
    cmd: &Command,
    defaults: Defaults,
    function: Option<Function<'_>>,
    by_pid: bool,
) -> io::Result<Spawned> {
    // Whatever the C library and the child's hooks write to this thread's
    // errno on the way, the caller finds its own back.
    let _errno = os::KeepErrno::new();
    let mut prep = Prepared::new(cmd, defaults)?;
    // A tree of its own (Command::scope_in, contain_tree): the scope made
    // now, the child started in it, and owned by the Child; or a process
    // group the child leads. A failed spawn drops the scope, and with it
    // the directory.
    let tree = match &cmd.tree {
        None => None,
        Some(_) if by_pid => {
            return Err(invalid(
                prep.program,
                format_args!(
                    "spawn_pid hands over only a pid: a tree of the child's own \
                     (scope_in, contain_tree) would have no owner; use Command::scope with a \
                     Scope of yours"
                ),
            ));
        }
        Some(request) => {
            if request.may_use_group() {
                if let Some(pgid) = cmd.attrs.pgid.filter(|&p| p != 0) {
                    return Err(invalid(
                        prep.program,
                        format_args!(
                            "process_group({pgid}) conflicts with a tree held in a process \
                             group (contain_tree, process_group_tree): the child must lead \
                             its own group"
                        ),
                    ));
                }
            }
            let scope = crate::scope::tree::make(request).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("spawn {:?}: the child's scope: {e}", prep.program),
                )
            })?;
            Some(match scope {
                Some(scope) => {
                    use std::os::fd::AsFd;
                    prep.attrs.use_cgroup(scope.as_fd());
                    Tree::Scope(Box::new(scope))
                }
                None => {
                    prep.attrs.lead_group = true;
                    Tree::Group
                }
            })
        }
    };
    let spawned = start_prepared(cmd, prep, function, by_pid)?;
    Ok(match (spawned, tree) {
        (Spawned::Child(child), Some(tree)) => Spawned::Child(child.with_tree(tree)),
        (spawned, _) => spawned,
    })
}

/// `start` once the command is prepared.
fn start_prepared(
    cmd: &Command,
    mut prep: Prepared<'_>,
    function: Option<Function<'_>>,
    by_pid: bool,
) -> io::Result<Spawned> {
    if by_pid {
        if prep.parent_ends.iter().any(Option::is_some) {
            return Err(invalid(
                prep.program,
                format_args!(
                    "spawn_pid hands over only a pid: a piped stdin, stdout or stderr would \
                     have no owner; give the child an fd of yours instead"
                ),
            ));
        }
        prep.by_pid = true;
    }
    // Where a CLONE_VM child would not share our memory (valgrind,
    // qemu-user), every child is made on the fork path.
    let fork = cmd.use_fork || !clone::vm_shared();
    check_path(cmd, &prep, function.is_some(), fork)?;
    if fork {
        return crate::spawn::fork::spawn_forked(cmd, prep, function);
    }
    spawn_vfork(cmd, prep, function)
}

/// Refuses, before any process exists, what the chosen path cannot do.
fn check_path(cmd: &Command, prep: &Prepared<'_>, function: bool, fork: bool) -> io::Result<()> {
    let refuse = |what: std::fmt::Arguments<'_>| Err(invalid(prep.program, what));
    let runs_user_code = !cmd.hooks.is_empty() || function;
    if !fork {
        if runs_user_code && cmd.attrs.traceme {
            return refuse(format_args!(
                "a traced child (ptrace_traceme) runs beside the spawning thread, which \
                 resumes its stops: pre_exec hooks and functions cannot share that thread's \
                 state there; use use_fork(true)"
            ));
        }
        return Ok(());
    }
    // Why the fork path: asked for, or forced by a clone that does not
    // share memory here.
    let why = if cmd.use_fork {
        "leave use_fork off"
    } else {
        "children are made by fork here, because a CLONE_VM child does not share this \
         process's memory (as under valgrind or qemu-user)"
    };
    let ns = cmd.attrs.namespaces;
    for (flag, name) in [
        (Namespaces::USER, "user"),
        (Namespaces::PID, "PID"),
        (Namespaces::TIME, "time"),
    ] {
        if ns.contains(flag) {
            return refuse(format_args!(
                "the fork path cannot give the child a new {name} namespace (unshare would \
                 not move the child itself into it); {why}"
            ));
        }
    }
    if cmd.exit_signal != Some(crate::Signal::CHLD) {
        return refuse(format_args!(
            "the fork path's child has SIGCHLD as its exit signal (fork() gives no other); \
             {why}"
        ));
    }
    Ok(())
}

/// The signal mask the child ends with: empty, the spawning thread's
/// (from before `blocked`), or the one asked for.
pub(crate) fn child_mask(cmd: &Command, blocked: &BlockAllSignals) -> u64 {
    match cmd.signals.mask {
        MaskPlan::Empty => 0,
        MaskPlan::InheritThread => blocked.old(),
        MaskPlan::Set(set) => set.as_raw(),
    }
}

/// The signals the child resets to `SIG_DFL` where it keeps the ignored
/// ones: those asked for, but `SIGKILL` and `SIGSTOP` (always `SIG_DFL`,
/// and refused by `rt_sigaction`).
pub(crate) fn default_signals(cmd: &Command) -> u64 {
    use crate::Signal;
    cmd.signals
        .default
        .without(Signal::KILL)
        .without(Signal::STOP)
        .as_raw()
}

/// The default path: `clone3(CLONE_VM | CLONE_VFORK)` and its fallbacks.
fn spawn_vfork(
    cmd: &Command,
    mut prep: Prepared<'_>,
    function: Option<Function<'_>>,
) -> io::Result<Spawned> {
    let user_ns = cmd.attrs.namespaces.contains(Namespaces::USER);
    // A child that changes its credentials while it shares our memory makes
    // the kernel reset the dumpable flag of that memory, which is ours too:
    // put it back once the child has exec'd or exited.
    let _dumpable = os::KeepDumpable::new(cmd.attrs.changes_credentials());
    let mut method = clone::expected_method();
    // The refusals of this request so far: (system call, errno).
    let mut refusals: Vec<(&'static str, i32)> = Vec::new();
    // Where the kernel cannot wait on a pidfd, every child is watched by
    // pid (sys::watch); so is one created without a pidfd. Not one
    // handed over by pid: its caller reaps it.
    let by_pid = watch::waitid_pidfd_missing();
    let mut watcher: Option<Pending> = None;
    loop {
        if (by_pid || method == Method::CloneNoPidfd) && watcher.is_none() && !prep.by_pid {
            // The thread comes before the child: none to be had fails the
            // spawn before any process exists.
            let pending = Pending::new()
                .map_err(|e| prep.error(Step::Clone, e.raw_os_error(), Detail::None))?;
            watcher = Some(pending);
        }
        // Where the kernel cannot start the child in its cgroup, the child
        // moves itself there first thing.
        let cgroup_by_clone = clone::cgroup_by_clone(method);
        let join_cgroup = match prep.attrs.cgroup_procs().filter(|_| !cgroup_by_clone) {
            None => None,
            Some(Ok(procs)) => Some(JoinCgroup {
                procs,
                new_namespace: cmd.attrs.namespaces.contains(Namespaces::CGROUP),
            }),
            Some(Err(e)) => return Err(prep.error(Step::Clone, e.raw_os_error(), Detail::None)),
        };
        // A new cgroup namespace is then the child's to make, once in it.
        let mut namespaces = prep.attrs.namespaces;
        if join_cgroup.is_some_and(|join| join.new_namespace) {
            namespaces &= !(libc::CLONE_NEWCGROUP as u64);
        }
        let report = Report::default();
        let go = AtomicU32::new(0);
        let blocked = BlockAllSignals::new()?;
        let mask = child_mask(cmd, &blocked);
        let mut ctx = ChildCtx {
            argv: prep.argv.as_ptr(),
            envp: prep.envp.as_ptr(),
            exec_paths: prep.exec_paths.strings(),
            cwd: prep.cwd.as_deref(),
            slots: &mut prep.slots,
            sources: &prep.sources,
            keep_ignored: !cmd.signals.reset_ignored,
            reset_caught: !method.clears_handlers(),
            mask,
            ignore_signals: cmd.attrs.ignore.as_raw(),
            default_signals: crate::spawn::default_signals(cmd),
            sandbox: crate::spawn::sandbox::plan(cmd),
            attrs: prep.attrs.child_attrs(&cmd.attrs),
            go: user_ns.then_some(&go),
            join_cgroup,
            unshare: 0,
            keep_fds: cmd.keep_fds,
            hooks: &cmd.hooks,
            function,
            report: &report,
        };
        let mut write_maps = |pid| write_id_maps(prep.program, pid, &prep.attrs);
        let request = clone::Request {
            namespaces,
            exit_signal: cmd.exit_signal.map_or(0, |s| s.as_raw() as u64),
            cgroup: prep.attrs.cgroup.filter(|_| cgroup_by_clone),
            user_ns: user_ns.then_some(UserNsSetup {
                go: &go,
                setup: &mut write_maps,
            }),
            traced: cmd.attrs.traceme,
            by_pid,
            // User code gets the larger stack.
            big_stack: !cmd.hooks.is_empty() || function.is_some(),
            probe: false,
        };
        // SAFETY: `child_main` follows the child rules and receives the ctx
        // it expects, which lives until spawn_vfork returns; signals are
        // blocked by `blocked`.
        let created = unsafe {
            clone::spawn_vfork(child_main, (&raw mut ctx).cast(), method, request, &blocked)
        };
        drop(blocked);
        match created {
            Ok(created) => return prep.finish(created, watcher, &report),
            // This method is refused here: plan again for the next one.
            Err(Failure::Refused { next, errno }) => {
                refusals.push((method.syscall(), errno));
                method = next;
            }
            Err(Failure::Error(e)) if e.raw_os_error().is_none() => return Err(e),
            Err(Failure::Error(e)) => {
                // Where a feature is missing here, say which, and what each
                // method answered.
                let errno = e.raw_os_error();
                refusals.extend(errno.map(|errno| (method.syscall(), errno)));
                let detail = crate::capabilities::refused_here(prep.attrs.namespaces, &refusals)
                    .map_or(Detail::None, Detail::Unavailable);
                return Err(prep.error(Step::Clone, errno, detail));
            }
        }
    }
}

/// Writes the id maps of a child's new user namespace (the parent's part of
/// [`UserNsSetup`]). Without `CAP_SETGID` over the namespace, the kernel
/// takes a `gid_map` only once `setgroups` is denied there.
fn write_id_maps(program: &OsStr, pid: u32, attrs: &AttrPlan) -> io::Result<()> {
    let write = |name: &str, text: &[u8]| -> io::Result<()> {
        let path = PathBuf::from(format!("/proc/{pid}/{name}"));
        std::fs::write(&path, text).map_err(|e| {
            SpawnError::new(Step::IdMap, e.raw_os_error(), program, Detail::Path(path)).into()
        })
    };
    if !attrs.uid_map.is_empty() {
        write("uid_map", &attrs.uid_map)?;
    }
    if !attrs.gid_map.is_empty() {
        if let Err(e) = write("gid_map", &attrs.gid_map) {
            if SpawnError::from_io(&e).and_then(SpawnError::raw_os_error) != Some(libc::EPERM) {
                return Err(e);
            }
            write("setgroups", b"deny")?;
            write("gid_map", &attrs.gid_map)?;
        }
    }
    Ok(())
}

/// A command laid out for the child (or, for [`crate::spawn::exec`], for the
/// calling process).
pub(crate) struct Prepared<'a> {
    pub(crate) program: &'a OsStr,
    pub(crate) argv: CStrArray,
    pub(crate) envp: CStrArray,
    pub(crate) exec_paths: CStrArray,
    /// Whether `exec_paths` come from a `PATH` search.
    searched: bool,
    pub(crate) cwd: Option<CString>,
    /// Child fds sorted by target, with their sources.
    pub(crate) slots: Vec<Slot>,
    pub(crate) sources: Vec<Source>,
    /// The parent's ends of pipes for fds 0, 1, 2.
    parent_ends: [Option<OwnedFd>; 3],
    /// The child is handed over by pid (`Command::spawn_pid`): no watcher,
    /// no `Child`.
    pub(crate) by_pid: bool,
    /// The child's ends of those pipes, closed once the child has them.
    child_ends: Vec<OwnedFd>,
    pub(crate) attrs: AttrPlan,
    on_drop: OnDrop,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(cmd: &'a Command, defaults: Defaults) -> io::Result<Prepared<'a>> {
        let program = cmd.program.as_os_str();
        let bad = |what: std::fmt::Arguments<'_>| invalid(program, what);

        if program.as_bytes().contains(&0) {
            return Err(bad(format_args!("the program contains a NUL byte")));
        }
        let mut argv = CStrArray::default();
        for (i, arg) in cmd.args.iter().enumerate() {
            if argv.push(&[arg.as_bytes()]).is_err() {
                return Err(match i {
                    0 => bad(format_args!("arg0 contains a NUL byte")),
                    i => bad(format_args!("argument {i} contains a NUL byte: {arg:?}")),
                });
            }
        }
        argv.terminate();

        if let Some(filter) = &cmd.sandbox.seccomp {
            if filter.is_empty() || filter.len() > 4096 {
                return Err(bad(format_args!(
                    "a seccomp filter has 1 to 4096 instructions (BPF_MAXINSNS), not {}",
                    filter.len()
                )));
            }
        }

        let (envp, mut path) = build_env(cmd, program)?;
        if let Some(dirs) = &cmd.search_path {
            path = Some(dirs.as_bytes().to_vec());
        }

        let mut exec_paths = CStrArray::default();
        let prog = program.as_bytes();
        let searched = !(prog.contains(&b'/') || prog.is_empty());
        if !searched {
            let _ = exec_paths.push(&[prog]);
        } else {
            for dir in path
                .as_deref()
                .unwrap_or(DEFAULT_PATH)
                .split(|&b| b == b':')
            {
                // An empty entry is the current directory.
                let pushed = if dir.is_empty() {
                    exec_paths.push(&[prog])
                } else {
                    exec_paths.push(&[dir, b"/", prog])
                };
                if pushed.is_err() {
                    return Err(bad(format_args!("PATH contains a NUL byte")));
                }
            }
        }
        exec_paths.terminate();

        let cwd = match &cmd.cwd {
            Some(dir) => Some(CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
                bad(format_args!(
                    "the working directory contains a NUL byte: {dir:?}"
                ))
            })?),
            None => None,
        };

        let mut prep = Prepared {
            program,
            argv,
            envp,
            exec_paths,
            searched,
            cwd,
            slots: Vec::with_capacity(3 + cmd.fds.len()),
            sources: Vec::with_capacity(3 + cmd.fds.len()),
            parent_ends: [None, None, None],
            by_pid: false,
            child_ends: Vec::new(),
            attrs: AttrPlan::default(),
            on_drop: cmd.on_drop,
        };
        prep.plan_fds(cmd, defaults)?;
        prep.attrs = cmd.attrs.plan(program, &prep.slots)?;
        Ok(prep)
    }

    /// Validates the fd requests and lays out the slots, creating pipes.
    fn plan_fds(&mut self, cmd: &Command, defaults: Defaults) -> io::Result<()> {
        let program = self.program;
        let mut plan: Vec<(i32, Source)> = Vec::with_capacity(3 + cmd.fds.len());
        for &(target, ref fd) in &cmd.fds {
            if target < 0 {
                return Err(invalid(
                    program,
                    format_args!("child fd {target} is negative"),
                ));
            }
            plan.push((target, Source::Fd(fd.as_raw_fd())));
        }
        plan.sort_by_key(|&(target, _)| target);
        if let Some(w) = plan.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(invalid(
                program,
                format_args!("child fd {} is given more than once", w[0].0),
            ));
        }
        let mapped = plan.len();

        let stdio = [&cmd.stdin, &cmd.stdout, &cmd.stderr];
        for (target, (cfg, name)) in stdio
            .into_iter()
            .zip(["stdin", "stdout", "stderr"])
            .enumerate()
        {
            let target = target as i32;
            // Search only the sorted entries of fd(), not the stdio added below.
            if plan[..mapped]
                .binary_search_by_key(&target, |&(t, _)| t)
                .is_ok()
            {
                if cfg.is_some() {
                    return Err(invalid(
                        program,
                        format_args!("child fd {target} is given both by {name}() and by fd()"),
                    ));
                }
                continue;
            }
            let kind = match cfg {
                Some(stdio) => &stdio.0,
                None if defaults == Defaults::Capture && target == 0 => &StdioKind::Null,
                None if defaults == Defaults::Capture => &StdioKind::Piped,
                None => &StdioKind::Inherit,
            };
            let source = match kind {
                StdioKind::Inherit => Source::Inherit,
                StdioKind::Parent(fd) if *fd == target => Source::Inherit,
                StdioKind::Null if target == 0 => Source::Null(libc::O_RDONLY),
                StdioKind::Null => Source::Null(libc::O_WRONLY),
                StdioKind::Owned(fd) => Source::Fd(fd.as_raw_fd()),
                StdioKind::Parent(fd) => Source::Fd(*fd),
                StdioKind::Piped => {
                    let (read, write) = os::pipe().map_err(|e| {
                        self.error(Step::Pipe, e.raw_os_error(), Detail::Fd(target))
                    })?;
                    let (parent, child) = if target == 0 {
                        (write, read)
                    } else {
                        (read, write)
                    };
                    let source = Source::Fd(child.as_raw_fd());
                    self.parent_ends[target as usize] = Some(parent);
                    self.child_ends.push(child);
                    source
                }
            };
            if cmd.keep_fds && source == Source::Inherit {
                // keep_inherited_fds: the fd stays as it is, unchecked.
                continue;
            }
            plan.push((target, source));
        }
        plan.sort_by_key(|&(target, _)| target);
        for (target, source) in plan {
            self.slots.push(Slot { target, src: -1 });
            self.sources.push(source);
        }
        Ok(())
    }

    /// Turns the child's report into a `Child` or an error; a failed child
    /// is reaped first.
    pub(crate) fn finish(
        self,
        created: Created,
        watcher: Option<Pending>,
        report: &Report,
    ) -> io::Result<Spawned> {
        use std::sync::atomic::Ordering::Acquire;
        let Created { pid, pidfd } = created;
        if self.by_pid {
            return self.finish_by_pid(pid, pidfd, report).map(Spawned::Pid);
        }
        let handle = match (watcher, pidfd) {
            (Some(watcher), pidfd) => {
                let (entry, exit_fd) = watcher.start(pid, pidfd);
                Handle::Watched(entry, exit_fd)
            }
            (None, Some(pidfd)) => Handle::Pidfd(pidfd),
            // No pidfd where one was asked for (a kernel that ignored
            // CLONE_PIDFD): watched after all.
            (None, None) => match Pending::new() {
                Ok(watcher) => {
                    let (entry, exit_fd) = watcher.start(pid, None);
                    Handle::Watched(entry, exit_fd)
                }
                Err(e) => {
                    reap_unwatched(pid);
                    return Err(self.error(Step::Clone, e.raw_os_error(), Detail::None));
                }
            },
        };
        let failed = report.failed.load(Acquire);
        let stage = report.stage.load(Acquire);
        if failed == 0 && stage == Step::Exec.code() {
            let Prepared { parent_ends, .. } = self;
            return Ok(Spawned::Child(Child::new(
                handle,
                pid,
                parent_ends,
                self.on_drop,
            )));
        }
        // The child exited (or died) before exec: reap it.
        // The report is in memory already; if someone else reaped the child
        // (SIGCHLD ignored, a waitpid(-1) elsewhere), only its signal, for
        // a child that died, is lost.
        // How it ended, looked at without reaping a pidfd's child (its
        // watcher has reaped a watched one).
        let status = match &handle {
            Handle::Pidfd(fd) => pidfd::exit_status_of(fd.as_fd()),
            Handle::Watched(entry, _) => entry.wait(None).ok().flatten().map(|(s, _)| s),
        };
        if failed == 0 {
            let sig = status.and_then(|s| s.signal()).unwrap_or(0);
            if let Some(status) = status.filter(|_| sig != 0 && !is_fault(sig)) {
                // Killed by a signal somebody sent (a Ctrl-C, a signal to
                // the process group): the child was spawned, and was killed.
                // Signals are blocked until the mask step, so before it only
                // SIGKILL gets here. Its wait reports the signal: a pidfd's
                // child is still unreaped for it (and for a wait through
                // the pidfd in C), a watched one's status is kept.
                let Prepared {
                    parent_ends,
                    on_drop,
                    ..
                } = self;
                let child = Child::new(handle, pid, parent_ends, on_drop);
                return Ok(Spawned::Child(match child.is_watched() {
                    true => child.with_status(status),
                    false => child,
                }));
            }
        }
        // A failed child: reaped.
        if let Handle::Pidfd(fd) = &handle {
            let _ = pidfd::wait(fd.as_fd(), true, None);
        }
        if failed == 0 {
            let sig = status.and_then(|s| s.signal()).unwrap_or(0);
            handle.discard();
            let step = Step::from_code(stage).unwrap_or(Step::Clone);
            return Err(SpawnError::new(step, None, self.program, Detail::Died(sig)).into());
        }
        handle.discard();
        Err(self.failure(report))
    }

    /// `finish` for a child handed over by pid: its pidfd (if any) is
    /// closed, and nothing watches it. A child that failed is reaped here
    /// (it has exited: the spawn returns once the child exec'd or exited);
    /// one that somebody killed while it was set up was spawned, and is
    /// left for the caller's `waitpid`, which reports the signal.
    fn finish_by_pid(self, pid: u32, pidfd: Option<OwnedFd>, report: &Report) -> io::Result<u32> {
        use crate::sys::pidfd::{Target, waitid_on};
        use std::sync::atomic::Ordering::Acquire;
        drop(pidfd);
        let failed = report.failed.load(Acquire);
        if failed == 0 && report.stage.load(Acquire) == Step::Exec.code() {
            return Ok(pid);
        }
        // Still our unreaped child, so the pid is its own.
        let wait = |flags| loop {
            match waitid_on(Target::Pid(pid), flags | libc::WEXITED | libc::__WALL, None) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                r => break r.ok().flatten(),
            }
        };
        let status = wait(libc::WNOWAIT).map(|event| event.exit_status());
        let sig = status.and_then(|s| s.signal()).unwrap_or(0);
        if failed == 0 && sig != 0 && !is_fault(sig) {
            return Ok(pid);
        }
        let _ = wait(0);
        if failed == 0 {
            let step = Step::from_code(report.stage.load(Acquire)).unwrap_or(Step::Clone);
            return Err(SpawnError::new(step, None, self.program, Detail::Died(sig)).into());
        }
        Err(self.failure(report))
    }

    /// The error for a report whose `failed` step is set.
    pub(crate) fn failure(&self, report: &Report) -> io::Error {
        use std::sync::atomic::Ordering::Acquire;
        let failed = report.failed.load(Acquire);
        let step = Step::from_code(failed).unwrap_or(Step::Exec);
        let errno = report.errno.load(Acquire);
        let detail = report.detail.load(Acquire);
        let detail = match step {
            Step::Exec if detail < 0 && self.searched => Detail::Searched,
            Step::Exec if detail < 0 => self.exec_path(0),
            Step::Exec if detail >= EXISTS_BUT => {
                match self.exec_path((detail - EXISTS_BUT) as usize) {
                    Detail::Path(path) => Detail::Interpreter(path),
                    other => other,
                }
            }
            Step::Exec => self.exec_path(detail as usize),
            Step::Chdir if detail >= 0 => Detail::DirFd(detail as i32),
            Step::Chdir => path_detail(self.cwd.as_ref()),
            Step::Chroot => path_detail(self.attrs.chroot()),
            Step::MountProc => Detail::Path(PathBuf::from(if detail == MOUNT_PROC_AT {
                "/proc"
            } else {
                "/"
            })),
            Step::FdMapping | Step::DevNull | Step::ControllingTerminal | Step::Foreground
                if detail >= 0 =>
            {
                Detail::Fd(detail as i32)
            }
            Step::SignalDisposition | Step::ParentDeathSignal => Detail::Signal(detail as i32),
            Step::Setuid | Step::Setgid | Step::ProcessGroup | Step::Nice => Detail::Id(detail),
            Step::Rlimit => Detail::Resource(detail as i32),
            Step::Capabilities if detail >= 0 => Detail::Capability(detail as u32),
            Step::Hook if detail >= HOOK_PANICKED => {
                let index = (detail - HOOK_PANICKED) as usize;
                return SpawnError::new(step, None, self.program, Detail::HookPanicked(index))
                    .into();
            }
            Step::Hook => Detail::Hook(detail as usize),
            _ => Detail::None,
        };
        SpawnError::new(step, Some(errno), self.program, detail).into()
    }

    /// Exec candidate `i` as an error detail.
    fn exec_path(&self, i: usize) -> Detail {
        match self.exec_paths.get(i) {
            Some(path) => Detail::Path(PathBuf::from(OsStr::from_bytes(path))),
            None => Detail::None,
        }
    }

    pub(crate) fn error(&self, step: Step, errno: Option<i32>, detail: Detail) -> io::Error {
        SpawnError::new(step, errno, self.program, detail).into()
    }
}

/// Kills and reaps a child that has no pidfd and no watcher (no thread
/// could be had for it): it is unreaped, so its pid is still its own.
fn reap_unwatched(pid: u32) {
    use crate::sys::pidfd::{Target, kill_pid, waitid_on};
    let _ = kill_pid(pid, libc::SIGKILL);
    while let Err(e) = waitid_on(Target::Pid(pid), libc::WEXITED | libc::__WALL, None) {
        if e.raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
}

/// Signals that a child gets from its own instructions (a fault, a trap,
/// a refused system call, an `abort` in a hook): a child that dies of one before exec failed to
/// spawn, and the step it was at is to blame. Any other fatal signal was
/// sent to it.
fn is_fault(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGSYS
            | libc::SIGTRAP
            | libc::SIGABRT
    )
}

fn path_detail(path: Option<&CString>) -> Detail {
    match path {
        Some(p) => Detail::Path(PathBuf::from(OsStr::from_bytes(p.as_bytes()))),
        None => Detail::None,
    }
}

/// Builds `envp` and returns the `PATH` the child's `execvp` would use
/// (`None`: unset).
///
/// The inherited part is one snapshot taken by `std::env::vars_os`, which
/// copies the environment under std's environment lock, the lock that
/// `std::env::set_var` and `remove_var` take too: a thread changing the
/// environment meanwhile cannot hand the child a half-updated array, as
/// passing the live `environ` would. (C code calling `setenv` behind std's
/// back is not covered, as with std's own `Command`.)
fn build_env(cmd: &Command, program: &OsStr) -> io::Result<(CStrArray, Option<Vec<u8>>)> {
    let changes = &cmd.env;
    let mut envp = CStrArray::default();
    let mut path = None;
    if !changes.clear {
        let vars: Vec<_> = std::env::vars_os().collect();
        // One allocation of each buffer for the inherited part.
        let bytes = vars.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        envp.reserve(vars.len() + changes.vars.len(), bytes);
        for (key, value) in &vars {
            if changes.vars.contains_key(key) {
                continue;
            }
            if key == "PATH" {
                path = Some(value.as_bytes().to_vec());
            }
            // The parent's environment holds no NUL bytes: no check.
            envp.push_unchecked(&[key.as_bytes(), b"=", value.as_bytes()]);
        }
    }
    for (key, value) in &changes.vars {
        let k = key.as_bytes();
        if k.is_empty() || k.contains(&b'=') || k.contains(&0) {
            return Err(invalid(
                program,
                format_args!("environment key {key:?} is empty or contains '=' or a NUL byte"),
            ));
        }
        let Some(value) = value else { continue };
        if envp.push(&[k, b"=", value.as_bytes()]).is_err() {
            return Err(invalid(
                program,
                format_args!("the value of environment variable {key:?} contains a NUL byte"),
            ));
        }
        if key == "PATH" {
            path = Some(value.as_bytes().to_vec());
        }
    }
    envp.terminate();
    Ok((envp, path))
}

/// C strings packed into one buffer, with a NULL-terminated pointer array:
/// two allocations however many strings.
#[derive(Default)]
pub(crate) struct CStrArray {
    bytes: Vec<u8>,
    /// Offsets into `bytes` until [`CStrArray::terminate`], then pointers.
    ptrs: Vec<*const libc::c_char>,
    starts: Vec<usize>,
}

impl CStrArray {
    /// Makes room for `strings` more strings of `bytes` bytes in all.
    fn reserve(&mut self, strings: usize, bytes: usize) {
        self.bytes.reserve(bytes);
        self.starts.reserve(strings);
    }

    /// Appends the concatenation of `parts`; refuses a NUL byte.
    fn push(&mut self, parts: &[&[u8]]) -> Result<(), ()> {
        if parts.iter().any(|p| p.contains(&0)) {
            return Err(());
        }
        self.push_unchecked(parts);
        Ok(())
    }

    /// Appends the concatenation of `parts`, which hold no NUL byte.
    fn push_unchecked(&mut self, parts: &[&[u8]]) {
        self.starts.push(self.bytes.len());
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        self.bytes.push(0);
    }

    /// Fixes the buffer and builds the pointer array, NULL at the end.
    fn terminate(&mut self) {
        let base = self.bytes.as_ptr();
        // SAFETY: every start is an offset inside `bytes`, which is not
        // modified after this.
        self.ptrs = self
            .starts
            .iter()
            .map(|&s| unsafe { base.add(s).cast() })
            .collect();
        self.ptrs.push(std::ptr::null());
    }

    pub(crate) fn as_ptr(&self) -> *const *const libc::c_char {
        self.ptrs.as_ptr()
    }

    /// The string pointers, without the final NULL.
    pub(crate) fn strings(&self) -> &[*const libc::c_char] {
        &self.ptrs[..self.ptrs.len() - 1]
    }

    /// String `i`, without its NUL.
    fn get(&self, i: usize) -> Option<&[u8]> {
        let start = *self.starts.get(i)?;
        let len = self.bytes[start..].iter().position(|&b| b == 0)?;
        Some(&self.bytes[start..start + len])
    }
}

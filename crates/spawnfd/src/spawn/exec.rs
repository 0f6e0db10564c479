//! Exec in place: the steps of a spawn, run in the calling process instead
//! of a new child, then `execve`, as `env`, `setpriv`, `prlimit` or a relay
//! that a host forks would do.
//!
//! The command is prepared exactly as for a spawn ([`Prepared::new`]: every
//! input error before anything changes), and the calling thread then runs
//! the very same straight line of steps ([`crate::in_child`]) on its own
//! stack, with every signal blocked, so the order of the steps and the
//! [`Step`] of a failure are those of a spawn. What has no meaning without
//! a new process is refused up front ([`check`]).
//!
//! What differs from a child:
//!
//! - New namespaces are entered with `unshare(2)` before the steps, where
//!   a spawn has `clone3` create them.
//! - Caught signals are reset to `SIG_DFL` in the steps (the kernel's
//!   `CLONE_CLEAR_SIGHAND` did it for a child), so that no handler of the
//!   caller runs once the mask step unblocks signals.
//! - The parent-death signal watches the caller's parent.
//! - A cgroup is joined by writing `0` to its `cgroup.procs`, as a child
//!   does where the kernel cannot start it in the cgroup.
//! - On failure nothing is undone but the signal mask: see
//!   [`Command::exec`](crate::Command::exec) for what may have changed.

#![allow(unsafe_code)]

use std::ffi::c_int;
use std::io;

use crate::command::{Command, MaskPlan, StdioKind};
use crate::error::{Detail, Step, invalid};
use crate::in_child::{ChildCtx, JoinCgroup, Report, replay};
use crate::signal::Signal;
use crate::spawn::attrs::Namespaces;
use crate::spawn::{Defaults, Prepared};
use crate::sys::clone::BlockAllSignals;

/// Namespaces that `unshare` can give the calling process itself. A new
/// PID namespace holds only the caller's future children; a new user
/// namespace needs id maps and is refused by the kernel in a
/// multi-threaded process.
const IN_PLACE: [Namespaces; 5] = [
    Namespaces::MOUNT,
    Namespaces::UTS,
    Namespaces::IPC,
    Namespaces::NET,
    Namespaces::CGROUP,
];

/// Runs the steps of a spawn in this process and execs; returns only the
/// error.
pub(crate) fn exec(cmd: &Command) -> io::Error {
    if let Err(e) = check(cmd) {
        return e;
    }
    let mut prep = match Prepared::new(cmd, Defaults::Inherit) {
        Ok(prep) => prep,
        Err(e) => return e,
    };
    let report = Report::default();
    // No handler runs from here to the mask step, which sets the requested
    // mask for the program; on failure, dropping this restores the
    // caller's mask.
    let blocked = match BlockAllSignals::new() {
        Ok(blocked) => blocked,
        Err(e) => return e,
    };
    // A cgroup is joined in the first step (writing 0 to its cgroup.procs);
    // a new cgroup namespace is made after that, so that its root is the
    // joined cgroup, as for a child.
    let join_cgroup = match prep.attrs.cgroup_procs() {
        None => None,
        Some(Ok(procs)) => Some(JoinCgroup {
            procs,
            new_namespace: cmd.attrs.namespaces.contains(Namespaces::CGROUP),
        }),
        Some(Err(e)) => return prep.error(Step::Clone, e.raw_os_error(), Detail::None),
    };
    let mut namespaces = prep.attrs.namespaces;
    if join_cgroup.is_some_and(|join| join.new_namespace) {
        namespaces &= !(libc::CLONE_NEWCGROUP as u64);
    }
    if namespaces != 0 {
        // SAFETY: an integer argument. unshare changes only the calling
        // thread's namespaces, which execve then carries.
        let r = unsafe { libc::syscall(libc::SYS_unshare, namespaces as c_int) };
        if r != 0 {
            let errno = io::Error::last_os_error().raw_os_error();
            return prep.error(Step::Unshare, errno, Detail::None);
        }
    }
    let mask = match cmd.signals.mask {
        MaskPlan::Empty => 0,
        MaskPlan::InheritThread => blocked.old(),
        MaskPlan::Set(set) => set.as_raw(),
    };
    let mut attrs = prep.attrs.child_attrs(&cmd.attrs);
    // The parent-death signal watches this process's parent; its race
    // check compares with the parent seen now.
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    attrs.pdeathsig = attrs.pdeathsig.map(|(sig, _)| (sig, parent));
    let mut ctx = ChildCtx {
        argv: prep.argv.as_ptr(),
        envp: prep.envp.as_ptr(),
        exec_paths: prep.exec_paths.strings(),
        cwd: prep.cwd.as_deref(),
        slots: &mut prep.slots,
        sources: &prep.sources,
        keep_ignored: !cmd.signals.reset_ignored,
        reset_caught: true,
        mask,
        ignore_signals: cmd.attrs.ignore.as_raw(),
        default_signals: crate::spawn::default_signals(cmd),
        sandbox: crate::spawn::sandbox::plan(cmd),
        attrs,
        go: None,
        join_cgroup,
        unshare: 0,
        keep_fds: cmd.keep_fds,
        hooks: &cmd.hooks,
        function: None,
        report: &report,
    };
    // Returns only if a step failed; the same steps as a child runs, under
    // the same rules (no allocation, raw system calls), since the code is
    // the same. Their buffers live in `prep` until after this.
    replay(&mut ctx);
    drop(blocked);
    prep.failure(&report)
}

/// Refuses what needs a new process, before anything changes.
fn check(cmd: &Command) -> io::Result<()> {
    let program = cmd.program.as_os_str();
    let refuse = |what: std::fmt::Arguments<'_>| Err(invalid(program, what));
    let ns = cmd.attrs.namespaces;
    if ns.contains(Namespaces::PID) {
        return refuse(format_args!(
            "exec in place cannot enter a new PID namespace: it would hold only later children"
        ));
    }
    if ns.contains(Namespaces::USER) {
        return refuse(format_args!(
            "exec in place does not create a user namespace: its id maps are written from outside"
        ));
    }
    if ns.contains(Namespaces::TIME) {
        return refuse(format_args!(
            "exec in place does not enter a new time namespace: unshare(CLONE_NEWTIME) moves \
             only later children (kernels since about 5.19 also move the caller at exec, \
             older ones do not)"
        ));
    }
    let known = IN_PLACE.iter().fold(Namespaces::NONE, |all, &n| all | n);
    if ns.clone_flags() & !known.clone_flags() != 0 {
        return refuse(format_args!("exec in place cannot enter namespaces {ns:?}"));
    }
    if !cmd.attrs.uid_map.is_empty() || !cmd.attrs.gid_map.is_empty() {
        return refuse(format_args!(
            "exec in place has no new user namespace to give id maps to"
        ));
    }
    if cmd.exit_signal != Some(Signal::CHLD) {
        return refuse(format_args!(
            "exec in place has no child whose exit signal could be chosen"
        ));
    }
    if cmd.on_drop.kill {
        return refuse(format_args!("exec in place has no child to kill on drop"));
    }
    let stdio = [&cmd.stdin, &cmd.stdout, &cmd.stderr];
    for (stdio, name) in stdio.into_iter().zip(["stdin", "stdout", "stderr"]) {
        if matches!(stdio, Some(s) if matches!(s.0, StdioKind::Piped)) {
            return refuse(format_args!(
                "exec in place cannot pipe {name}: nobody would hold the other end"
            ));
        }
    }
    Ok(())
}

//! `spawnfd_spawn`: a `spawnfd::Command` made from the command's recipe
//! (the caller's fds copied above fd 2, close-on-exec), spawned, and the
//! child handed over as its pid and pidfd.
//!
//! # Safety
//!
//! The `unsafe` takes the caller's command and writes the results where
//! the caller asked.

use std::ffi::c_int;
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use spawnfd_core::{CapabilitySet, Command, Stdio};

use crate::cmd::{Cgroup, Cwd, Mask, Recipe, Source, spawnfd_cmd};
use crate::error::{self, Failure, spawnfd_error};
use crate::ffi::{dup_above_stdio, entry};

/// A copy of the caller's fd for one spawn; what failed if it cannot be
/// had (`EBADF` for an fd that is not open, `EMFILE`).
fn borrow(fd: RawFd, what: &str) -> Result<std::os::fd::OwnedFd, Failure> {
    dup_above_stdio(fd).map_err(|e| {
        let mut failure = Failure::prepare(
            crate::ffi::errno_of(&e),
            format!("{what}: the caller's fd {fd}: {e}"),
        );
        failure.fd = Some(fd);
        failure
    })
}

/// The `Command` for one spawn. The copies of the caller's fds belong to
/// it and close when it is dropped.
fn command(r: &Recipe) -> Result<Command, Failure> {
    let mut c = Command::new(&r.program);
    if let Some(arg0) = &r.arg0 {
        c.arg0(arg0);
    }
    c.args(&r.args);
    if r.env_clear {
        c.env_clear();
    }
    for (key, value) in &r.env {
        match value {
            Some(value) => c.env(key, value),
            None => c.env_remove(key),
        };
    }
    match &r.cwd {
        None => {}
        Some(Cwd::Path(dir)) => {
            c.current_dir(dir);
        }
        Some(Cwd::Fd(fd)) => {
            c.current_dir_fd(borrow(*fd, "working directory")?);
        }
    }
    for (which, source) in r.stdio.iter().enumerate() {
        let stdio = match *source {
            Source::Inherit => Stdio::inherit(),
            Source::Null => Stdio::null(),
            Source::Fd(fd) => Stdio::from(borrow(fd, ["stdin", "stdout", "stderr"][which])?),
        };
        match which {
            0 => c.stdin(stdio),
            1 => c.stdout(stdio),
            _ => c.stderr(stdio),
        };
    }
    for (&child, &parent) in &r.fds {
        c.fd(child, borrow(parent, &format!("child fd {child}"))?);
    }
    c.setsid(r.setsid);
    if let Some(pgid) = r.pgid {
        c.process_group(pgid);
    }
    if let Some(fd) = r.ctty {
        c.controlling_terminal(fd);
    }
    c.detach_terminal(r.noctty);
    if let Some(fd) = r.foreground {
        c.foreground(fd);
    }
    if let Some(uid) = r.uid {
        c.uid(uid);
    }
    if let Some(gid) = r.gid {
        c.gid(gid);
    }
    if let Some(groups) = &r.groups {
        c.groups(groups);
    }
    if let Some(dir) = &r.chroot {
        c.chroot(dir);
    }
    if let Some(mask) = r.umask {
        c.umask(mask);
    }
    for &(resource, soft, hard) in &r.rlimits {
        c.rlimit(resource, soft, hard);
    }
    if let Some(nice) = r.nice {
        c.nice(nice);
    }
    if let Some(cpus) = &r.cpus {
        c.cpu_affinity(cpus);
    }
    if let Some(sig) = r.pdeathsig {
        c.parent_death_signal(sig);
    }
    c.no_new_privs(r.no_new_privs);
    match &r.cgroup {
        None => {}
        Some(Cgroup::Path(dir)) => {
            c.cgroup(dir);
        }
        Some(Cgroup::Fd(fd)) => {
            c.cgroup_fd(borrow(*fd, "cgroup directory")?);
        }
    }
    c.unshare(r.namespaces);
    c.mount_proc(r.mount_proc);
    if !r.uid_map.is_empty() {
        c.uid_map(&r.uid_map);
    }
    if !r.gid_map.is_empty() {
        c.gid_map(&r.gid_map);
    }
    c.ptrace_traceme(r.traceme);
    c.ignore_signals(r.ignore);
    c.reset_ignored_signals(r.reset_ignored);
    match r.mask {
        Mask::Empty => {}
        Mask::Inherit => {
            c.inherit_signal_mask();
        }
        Mask::Set(set) => {
            c.signal_mask(set);
        }
    }
    c.exit_signal(r.exit_signal);
    c.use_fork(r.use_fork);
    c.keep_inherited_fds(r.keep_fds);
    c.default_signals(r.default_signals);
    if let Some(dirs) = &r.search_path {
        c.search_path(dirs);
    }
    if let Some(caps) = r.bounding_caps {
        c.capability_bounding_set(CapabilitySet::from_raw(caps));
    }
    if let Some(caps) = r.inheritable_caps {
        c.inheritable_capabilities(CapabilitySet::from_raw(caps));
    }
    if let Some(caps) = r.ambient_caps {
        c.ambient_capabilities(CapabilitySet::from_raw(caps));
    }
    c.keep_capabilities(r.keep_caps);
    if let Some(filter) = &r.seccomp {
        c.seccomp_filter(filter);
    }
    if let Some(fd) = r.landlock {
        c.landlock_ruleset(borrow(fd, "Landlock ruleset")?);
    }
    for &hook in &r.hooks {
        // SAFETY: the hook keeps the rules of the path it runs on, by
        // spawnfd_cmd_hook's contract (the same as pre_exec's); the
        // closure allocates nothing and makes its error without a box.
        unsafe {
            c.pre_exec(move || {
                // SAFETY: in the child, under spawnfd_cmd_hook's rules.
                match hook.call() {
                    0 => Ok(()),
                    e if e > 0 => Err(std::io::Error::from_raw_os_error(e)),
                    _ => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
                }
            });
        }
    }
    Ok(c)
}

/// Starts the child `cmd` describes.
///
/// On success stores the child's pid in `*pid` and its pidfd in `*pidfd`
/// and returns 0. The pidfd is the caller's: it is close-on-exec and
/// numbered 3 or above, becomes readable when the child exits (for
/// `poll`, `epoll`, any event loop), and is what `spawnfd_wait`,
/// `spawnfd_kill` and the other functions here take. Close it once the
/// child has been waited for, or give it to `spawnfd_detach` to have the
/// library reap the child (a child never waited for stays a zombie).
/// A `NULL` `pidfd` detaches the child at once; `pid` may be `NULL`.
///
/// Where the kernel gives no pidfd (before Linux 5.2) or cannot wait on
/// one (before 5.4, or a sandbox refuses it) the fd is an *exit fd*: it
/// becomes readable when the child exits and works with every function
/// here, but it is no pidfd (`pidfd_send_signal(2)` and `waitid(P_PIDFD)`
/// fail on it, and the library's watcher thread has already reaped the
/// child when it becomes readable; do not read from it).
///
/// What the child gets: the program with its arguments and environment,
/// fds 0, 1 and 2 as set (inherited by default; `/dev/null` in place of
/// one that is closed or close-on-exec here) and the fds given with
/// `spawnfd_cmd_fd`, **and no other fd**, even one that another thread
/// opens without `O_CLOEXEC` meanwhile; every signal disposition
/// `SIG_DFL` (unless `spawnfd_cmd_reset_ignored_signals(cmd, 0)`) and an
/// empty signal mask (unless set), then every attribute set. The child is
/// created with `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)`: the cost
/// does not grow with this process's memory.
///
/// Returns 0 or an errno value, as `posix_spawn`; `errno` is left as it
/// was. On failure `*err` (if `err` is not `NULL`) says which step failed
/// with which errno on what, no process is left behind (a child that
/// failed has been reaped) and no fd is open:
/// - `EINVAL`: `cmd` is `NULL`, or the command cannot be carried out
///   (`SPAWNFD_STEP_PREPARE`, with the reason in `err->message`): a NUL
///   byte nowhere possible in C, but e.g. conflicting attributes
///   (`setsid` with a process group), a controlling terminal fd that is
///   not one of the child's, `mount_proc` without a mount namespace, id
///   maps without a user namespace, a cgroup path that is no cgroup v2
///   directory. Nothing was created.
/// - `EBADF`, `EMFILE`: an fd given to the command could not be copied
///   (`SPAWNFD_STEP_PREPARE`, `err->fd` is the caller's fd). Nothing was
///   created.
/// - Any errno of a step of the spawn (`err->step`): `ENOENT` or `EACCES`
///   at `SPAWNFD_STEP_EXEC` for a missing or unrunnable program,
///   `ENOENT` at `SPAWNFD_STEP_CHDIR`, `EPERM` at `SPAWNFD_STEP_SETUID`,
///   `EAGAIN` or `ENOMEM` at `SPAWNFD_STEP_CLONE`, ...
/// - `ECHILD`: the child died of a signal of its own (a fault, a seccomp
///   kill) before it could exec (`SPAWNFD_ERROR_DIED`, `err->signal`).
/// - `ENOTSUP`: the kernel or a sandbox refuses a feature the command
///   needs (a time namespace without `clone3`), said in `err->message`.
///
/// A child killed by a signal somebody else sent while it was set up
/// (only `SIGKILL` can, signals being blocked until the mask is set) was
/// spawned: the result is 0, and waiting on its pidfd reports the signal.
///
/// Thread-safe: `cmd` is only read, so one command may be spawned from
/// several threads at once (but not changed or freed meanwhile). Changes
/// nothing process-wide: no signal handler, no signal mask, no `SIGPIPE`,
/// no environment. Not a cancellation point: cancellation is disabled
/// while it runs, so a cancelled thread is cancelled at its next
/// cancellation point, with the child (if any) in `*pidfd`. Not
/// async-signal-safe.
///
/// # Safety
///
/// `cmd` is `NULL` or a live command; `pid`, `pidfd` and `err` are `NULL`
/// or point to writable storage of their type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn spawnfd_spawn(
    cmd: *const spawnfd_cmd,
    pid: *mut libc::pid_t,
    pidfd: *mut c_int,
    err: *mut spawnfd_error,
) -> c_int {
    entry(|| {
        // SAFETY: NULL or writable, by the contract.
        unsafe { error::clear(err) };
        // SAFETY: NULL or a live command that nobody changes meanwhile.
        let Some(cmd) = (unsafe { cmd.as_ref() }) else {
            let failure = Failure::prepare(libc::EINVAL, "spawn: the command is NULL".into());
            // SAFETY: as above.
            return unsafe { error::report(err, b"", failure) };
        };
        let program = cmd.r.program.as_bytes();
        let spawned = command(&cmd.r).and_then(|mut c| c.spawn().map_err(|e| Failure::from_io(&e)));
        match spawned {
            Err(failure) => {
                // SAFETY: as above.
                unsafe { error::report(err, program, failure) }
            }
            Ok(child) => {
                if !pid.is_null() {
                    // SAFETY: writable, by the contract.
                    unsafe { *pid = child.id() as libc::pid_t };
                }
                if pidfd.is_null() {
                    // Detached: the reaper takes it (or it is reaped now).
                    drop(child);
                } else {
                    // SAFETY: writable, by the contract.
                    unsafe { *pidfd = child.into_pidfd().into_raw_fd() };
                }
                0
            }
        }
    })
}

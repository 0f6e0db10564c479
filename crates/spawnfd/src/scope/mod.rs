//! [`Scope`]: a fresh cgroup v2 directory that holds a child and every
//! process it starts, so that the whole tree can be killed, frozen,
//! waited for and accounted as one.
//!
//! A process group cannot do this: a descendant can leave the group
//! (`setsid`, `setpgid`), a group id can be reused, and `kill(-pgid)`
//! races with forks. A cgroup holds every descendant whatever it does
//! (only a process with write access to another cgroup's `cgroup.procs`
//! can leave), the kernel kills all of it at once (`cgroup.kill`), and
//! `cgroup.events` says when the last one is gone.
//!
//! The child starts in the scope atomically (`CLONE_INTO_CGROUP`,
//! [`Command::scope`](crate::Command::scope)); on kernels before 5.7 it
//! moves itself there as its first step, before it can start anything.

mod kill;
pub(crate) mod tree;
mod usage;

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sys::cgroup;

pub use kill::KillMethod;
pub use tree::Containment;
pub use usage::{CpuUsage, TreeUsage};

/// How long `Drop` waits for a killed tree to be gone before it leaves the
/// directory to a background thread.
const DROP_WAIT: Duration = Duration::from_secs(5);

/// A cgroup v2 directory made for one child and everything it starts:
/// kill, freeze, wait for and account the whole tree with one handle.
///
/// Create one under a cgroup you may write to (a delegated subtree: a
/// systemd user scope with `Delegate=yes`, a container's own cgroup, any
/// directory of the hierarchy as root), start a child in it with
/// [`Command::scope`](crate::Command::scope), and then:
///
/// - [`kill`](Scope::kill) ends every process in it, grandchildren and
///   daemonised leftovers included, with none able to escape by forking
///   meanwhile;
/// - [`wait_empty`](Scope::wait_empty) returns once the last one is gone
///   (the child's own exit is [`Child::wait`](crate::Child::wait): two
///   events, both available); [`events_fd`](Scope::events_fd) is
///   pollable for event loops;
/// - [`freeze`](Scope::freeze) and [`thaw`](Scope::thaw) stop and resume
///   all of it;
/// - [`usage`](Scope::usage) gives the tree's CPU time (and memory, pids
///   and I/O where those controllers are enabled); `set_memory_max`,
///   `set_pids_max` and `set_cpu_max` bound it.
///
/// Dropping the scope kills what is left in it (unless
/// [`kill_on_drop(false)`](Scope::kill_on_drop)) and removes the
/// directory once it is empty: nothing is left behind, on any path.
///
/// ```no_run
/// use std::time::Duration;
/// use spawnfd::{Command, Scope};
///
/// // Under a cgroup this process may write to.
/// let scope = Scope::new("/sys/fs/cgroup/my.slice")?;
/// let mut child = Command::new("make").arg("-j8").scope(&scope).spawn()?;
/// if child.wait_timeout(Duration::from_secs(600))?.is_none() {
///     scope.kill()?; // make, the compilers, whatever they left running
/// }
/// child.wait()?;
/// scope.wait_empty()?;
/// println!("CPU: {:?}", scope.usage()?.cpu.total);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Scope {
    /// The parent directory, which holds ours.
    parent: OwnedFd,
    /// Our directory's name in it.
    name: CString,
    path: PathBuf,
    dir: OwnedFd,
    /// `cgroup.events`, kept open: `populated` and `frozen`, and `POLLPRI`
    /// on each change.
    events: File,
    kill_on_drop: bool,
    method: KillMethod,
    removed: bool,
    /// `kill_on_process_exit`'s watchdog and the write end of its pipe.
    watchdog: Option<(crate::Child, OwnedFd)>,
}

/// Tells the scopes this process makes apart.
static NEXT: AtomicU64 = AtomicU64::new(0);

impl Scope {
    /// Makes a new scope: a directory named `spawnfd-PID-N` under the
    /// cgroup v2 directory `parent`.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` if `parent` is not a cgroup v2 directory (a path
    ///   of a v1 hierarchy, or none), saying which;
    /// - the errno of `mkdir` otherwise: `EACCES`/`EPERM` where this
    ///   process may not create cgroups there (not delegated to it),
    ///   `EAGAIN` at `cgroup.max.descendants`.
    pub fn new<P: AsRef<Path>>(parent: P) -> io::Result<Scope> {
        let parent = parent.as_ref();
        let parent_fd = open_parent(parent)?;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("spawnfd-{}-{n}", std::process::id());
            match Scope::create(parent, parent_fd.as_fd(), &name) {
                // Left behind by a process that had our pid: next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
                Ok(scope) => return Ok(scope.with_parent(parent_fd)),
            }
        }
    }

    /// Makes a new scope named `name` under the cgroup v2 directory
    /// `parent`.
    ///
    /// # Errors
    ///
    /// As [`Scope::new`]; `InvalidInput` for a name that is empty, `.`,
    /// `..`, or holds a `/` or a NUL byte; `AlreadyExists` if `parent`
    /// has a cgroup of that name.
    pub fn with_name<P: AsRef<Path>, S: AsRef<OsStr>>(parent: P, name: S) -> io::Result<Scope> {
        let parent = parent.as_ref();
        let name = name.as_ref();
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
            return Err(invalid(format!(
                "scope name {name:?}: a cgroup name is one path component"
            )));
        }
        let parent_fd = open_parent(parent)?;
        let name = name
            .to_str()
            .ok_or_else(|| invalid(format!("scope name {name:?} is not UTF-8")))?;
        Scope::create(parent, parent_fd.as_fd(), name).map(|s| s.with_parent(parent_fd))
    }

    /// Makes a new scope under this process's own cgroup (found from
    /// `/proc/self/cgroup` and the cgroup2 mount of `/proc/self/mountinfo`):
    /// the usual place where the caller's cgroup has been delegated to it
    /// (a systemd user service, a container).
    ///
    /// # Errors
    ///
    /// `NotFound` where no cgroup v2 hierarchy is mounted or this process
    /// has no place in it; then as [`Scope::new`].
    pub fn in_own_cgroup() -> io::Result<Scope> {
        Scope::new(own_cgroup()?)
    }

    fn create(parent: &Path, parent_fd: BorrowedFd<'_>, name: &str) -> io::Result<Scope> {
        let c_name = CString::new(name)
            .map_err(|_| invalid(format!("scope name {name:?} contains a NUL byte")))?;
        let path = parent.join(name);
        cgroup::mkdir_at(parent_fd, &c_name).map_err(|e| {
            let kind = e.kind();
            io::Error::new(kind, format!("creating the cgroup {}: {e}", path.display()))
        })?;
        let opened = cgroup::open_dir_at(parent_fd, &c_name).and_then(|dir| {
            let events = cgroup::open_file_at(dir.as_fd(), c"cgroup.events")?;
            Ok((dir, events))
        });
        let (dir, events) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                let _ = cgroup::rmdir_at(parent_fd, &c_name);
                return Err(e);
            }
        };
        let method = KillMethod::detect(dir.as_fd());
        Ok(Scope {
            // Replaced by `with_parent`; a copy meanwhile.
            parent: parent_fd.try_clone_to_owned()?,
            name: c_name,
            path,
            dir,
            events,
            kill_on_drop: true,
            method,
            removed: false,
            watchdog: None,
        })
    }

    fn with_parent(mut self, parent: OwnedFd) -> Scope {
        self.parent = parent;
        self
    }

    /// The scope's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `cgroup.events`, open for reading: `poll` it for `POLLPRI` (epoll:
    /// `EPOLLPRI`), which the kernel raises whenever the tree becomes
    /// empty or populated, frozen or thawed; then [`Scope::is_empty`].
    pub fn events_fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }

    /// The pids of every process in the scope and in the cgroups below it
    /// (which a delegated child may make), in no particular order.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let mut pids = Vec::new();
        collect_pids(self.dir.as_fd(), &mut pids, 0)?;
        Ok(pids)
    }

    /// Whether no process is left in the scope or below it (zombies do
    /// not count: a process leaves its cgroup when it exits).
    pub fn is_empty(&self) -> io::Result<bool> {
        // Read anew, leaving the caller's events_fd armed as it was.
        let events = cgroup::read_at(self.dir.as_fd(), c"cgroup.events")?;
        Ok(events_field(&events, "populated") == Some(0))
    }

    /// Waits until no process is left in the scope.
    pub fn wait_empty(&self) -> io::Result<()> {
        self.wait_empty_timeout_inner(None).map(drop)
    }

    /// Waits at most `timeout` until no process is left in the scope;
    /// whether it is empty.
    pub fn wait_empty_timeout(&self, timeout: Duration) -> io::Result<bool> {
        self.wait_empty_timeout_inner(Some(timeout))
    }

    fn wait_empty_timeout_inner(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.wait_for("populated", 0, timeout)
    }

    /// Stops every process in the scope (`cgroup.freeze`), and returns once
    /// all of them are stopped. Frozen processes cannot be woken by a
    /// signal but a fatal one, and cannot fork.
    pub fn freeze(&self) -> io::Result<()> {
        self.write(c"cgroup.freeze", b"1")?;
        self.wait_frozen(None).map(drop)
    }

    /// Waits at most `timeout` for `frozen 1`; whether it came.
    fn wait_frozen(&self, timeout: Option<Duration>) -> io::Result<bool> {
        self.wait_for("frozen", 1, timeout)
    }

    /// Waits at most `timeout` until `cgroup.events` says `key value`.
    ///
    /// Through an open file of its own: a kernfs file is re-armed for
    /// `POLLPRI` by each read of its open file description, which dups
    /// share, so a waiter reading the same description as another (or as
    /// the caller's `events_fd`) could take the other's wake-up. Opened
    /// before the first look, so that no change after it goes unseen.
    fn wait_for(&self, key: &str, value: u64, timeout: Option<Duration>) -> io::Result<bool> {
        let events = self.open_events()?;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if events_field(&cgroup::pread_all(&events)?, key) == Some(value) {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            cgroup::wait_changed(events.as_fd(), left)?;
        }
    }

    /// `cgroup.events`, opened anew (see `wait_for`).
    pub(crate) fn open_events(&self) -> io::Result<File> {
        cgroup::open_file_at(self.dir.as_fd(), c"cgroup.events")
    }

    /// Resumes the processes [`freeze`](Scope::freeze) stopped.
    pub fn thaw(&self) -> io::Result<()> {
        self.write(c"cgroup.freeze", b"0")
    }

    /// Whether the scope is frozen.
    pub fn is_frozen(&self) -> io::Result<bool> {
        let events = cgroup::read_at(self.dir.as_fd(), c"cgroup.events")?;
        Ok(events_field(&events, "frozen") == Some(1))
    }

    /// Kills every process in the scope, and below it, with `SIGKILL` (a
    /// frozen scope is thawed by the freezer path): by
    /// writing `cgroup.kill` (Linux 5.14), which the kernel carries out at
    /// once for the whole tree, forks in flight included; before that, by
    /// freezing the tree, signalling each member, thawing, and again until
    /// it is empty ([`KillMethod::FreezeAndSignal`]). Either way no process
    /// can escape by forking meanwhile.
    ///
    /// Returns once every process has been sent `SIGKILL`; they are gone
    /// when [`wait_empty`](Scope::wait_empty) returns. Killing an empty
    /// scope is no error.
    pub fn kill(&self) -> io::Result<()> {
        kill::kill(self)
    }

    /// Sends `signal` to every process in the scope and below it, and
    /// returns how many were sent it. The tree is frozen during the sweep
    /// (unless it was already), so no process can fork one that misses the
    /// signal; it is delivered once thawed. For `SIGKILL` prefer
    /// [`kill`](Scope::kill), which the kernel carries out at once.
    ///
    /// ```no_run
    /// use spawnfd::{Command, Scope, Signal};
    /// let scope = Scope::in_own_cgroup()?;
    /// let _child = Command::new("make").scope(&scope).spawn()?;
    /// scope.signal(Signal::TERM)?; // make and every compiler it runs
    /// # std::io::Result::Ok(())
    /// ```
    pub fn signal(&self, signal: crate::Signal) -> io::Result<usize> {
        kill::signal(self, signal.as_raw())
    }

    /// Whether the kernel can freeze this scope (`cgroup.freeze`, 5.2).
    fn can_freeze(&self) -> bool {
        cgroup::open_file_at(self.dir.as_fd(), c"cgroup.freeze").is_ok()
    }

    /// The way [`kill`](Scope::kill) ends the tree here.
    pub fn kill_method(&self) -> KillMethod {
        self.method
    }

    /// Chooses how [`kill`](Scope::kill) ends the tree: for instance the
    /// freezer path where `cgroup.kill` exists, to compare them.
    /// `CgroupKill` where the kernel has no `cgroup.kill` fails at the
    /// kill with the kernel's `ENOENT`.
    pub fn set_kill_method(&mut self, method: KillMethod) -> &mut Scope {
        self.method = method;
        self
    }

    /// Whether dropping the scope kills what is still in it (default
    /// `true`). With `false`, a scope dropped while processes remain is
    /// left to a background thread, which removes the directory once the
    /// last one is gone.
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Scope {
        self.kill_on_drop = kill;
        self
    }

    /// Binds the tree's life to this process's: when the process ends,
    /// however it ends (exit, a crash, `SIGKILL`), the tree is killed and
    /// the directory removed, by a watchdog: a small forked process
    /// (`setsid`, so no terminal signal reaches it) that sleeps on a pipe
    /// whose only write end this scope holds, and acts when it closes. The
    /// watchdog lives as long as the scope; dropping or closing the scope
    /// ends it (after the scope's own clean-up; with
    /// [`kill_on_drop(false)`](Scope::kill_on_drop), once the tree is
    /// empty).
    ///
    /// What each lifetime option promises:
    /// - [`Command::parent_death_signal`](crate::Command::parent_death_signal)
    ///   (`PR_SET_PDEATHSIG`) signals the *child* when the *thread* that
    ///   spawned it exits, which in a thread pool may be long before the
    ///   process; it never reaches the child's own children.
    /// - `kill_on_process_exit` kills the *whole tree* when the *process*
    ///   ends, at the cost of one more process per scope. A `fork` made
    ///   by another thread of this process at the moment the pipe is
    ///   made, without exec, could hold a copy of the write end and delay
    ///   the kill until it exits.
    /// - `CLONE_PIDFD_AUTOKILL` (Linux 7.1) has the kernel kill the
    ///   *child alone* (not what it started) when the last copy of the
    ///   pidfd `clone3` returned is closed: however the process ends, and,
    ///   unlike the parent-death signal, through set-user-ID execs and
    ///   credential changes. It needs `CLONE_AUTOREAP` (the child is never
    ///   a zombie: its status is only in the pidfd, `PIDFD_GET_INFO`) and
    ///   `CAP_SYS_ADMIN` or `CLONE_NNP`. The library probes for it once
    ///   ([`Feature::PidfdAutokill`](crate::Feature::PidfdAutokill) in
    ///   [`capabilities`](crate::capabilities), `spawnfd doctor`) but does
    ///   not offer it as an attribute yet: its wait path (autoreaped, the
    ///   status from the pidfd alone) is to be tested on a 7.1 kernel
    ///   first.
    ///
    /// ```no_run
    /// use spawnfd::{Command, Scope};
    /// let mut scope = Scope::in_own_cgroup()?;
    /// scope.kill_on_process_exit()?;
    /// Command::new("server").scope(&scope).spawn()?;
    /// // Whatever happens to this process, the server and all it starts
    /// // go with it.
    /// # std::io::Result::Ok(())
    /// ```
    ///
    /// # Errors
    ///
    /// Those of making a pipe and spawning the watchdog (on the fork
    /// path: [`Command::use_fork`](crate::Command::use_fork)).
    #[allow(unsafe_code)] // spawn_fn's contract, kept as its comment says.
    pub fn kill_on_process_exit(&mut self) -> io::Result<()> {
        if self.watchdog.is_some() {
            return Ok(());
        }
        let (read, write) = crate::sys::os::pipe()?;
        let name = self.name.clone();
        let mut cmd = crate::Command::new("spawnfd-scope-watchdog");
        cmd.use_fork(true)
            .setsid(true)
            .stdin(crate::Stdio::null())
            .stdout(crate::Stdio::null())
            .stderr(crate::Stdio::null())
            .fd(3, read)
            .fd(4, self.dir.try_clone()?)
            .fd(5, self.parent.try_clone()?);
        // SAFETY: on the fork path the function runs in a forked copy of
        // this process, where `watchdog_main` makes only async-signal-safe
        // calls; `name` is the copy's own.
        let watchdog = unsafe { cmd.spawn_fn(move || cgroup::watchdog_main(&name)) }?;
        self.watchdog = Some((watchdog, write));
        Ok(())
    }

    /// Kills what is left, waits until the scope is empty and removes its
    /// directory, reporting what fails (`Drop` does the same, silently).
    pub fn close(mut self) -> io::Result<()> {
        self.removed = true;
        if !self.is_empty()? {
            self.kill()?;
            self.wait_empty()?;
        }
        self.remove()
    }

    fn remove(&self) -> io::Result<()> {
        cgroup::rmdir_at(self.parent.as_fd(), &self.name)
    }

    fn write(&self, file: &std::ffi::CStr, value: &[u8]) -> io::Result<()> {
        cgroup::write_at(self.dir.as_fd(), file, value).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}/{}: {e}", self.path.display(), file.to_string_lossy()),
            )
        })
    }

    fn read(&self, file: &std::ffi::CStr) -> io::Result<String> {
        cgroup::read_at(self.dir.as_fd(), file)
    }
}

impl AsFd for Scope {
    /// The scope's directory (what `CLONE_INTO_CGROUP` takes).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if self.kill_on_drop {
            let _ = self.kill();
            let _ = self.wait_empty_timeout(DROP_WAIT);
        }
        if self.remove().is_ok() {
            return;
        }
        // Not empty yet: a thread removes it once it is (and keeps the
        // watchdog's pipe open until then, so that it does not kill what
        // kill_on_drop(false) leaves running).
        let Ok(parent) = self.parent.try_clone() else {
            return;
        };
        let Ok(events) = self.open_events() else {
            return;
        };
        let name = self.name.clone();
        let watchdog = self.watchdog.take();
        let _ = std::thread::Builder::new()
            .name("spawnfd-scope".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while events_field(&cgroup::pread_all(&events).unwrap_or_default(), "populated")
                    != Some(0)
                {
                    if cgroup::wait_changed(events.as_fd(), None).is_err() {
                        return;
                    }
                }
                let _ = cgroup::rmdir_at(parent.as_fd(), &name);
                drop(watchdog);
            });
    }
}

/// Opens `parent`, which must be a cgroup v2 directory.
fn open_parent(parent: &Path) -> io::Result<OwnedFd> {
    let c_path = CString::new(parent.as_os_str().as_bytes())
        .map_err(|_| invalid(format!("scope parent {parent:?} contains a NUL byte")))?;
    let fd = crate::sys::os::open_at(libc::AT_FDCWD, &c_path, libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(|e| {
        io::Error::new(e.kind(), format!("scope parent {}: {e}", parent.display()))
    })?;
    if !crate::sys::os::is_cgroup2_dir(fd.as_fd()) {
        return Err(invalid(format!(
            "scope parent {} is not a cgroup v2 directory (cgroup v1 and other file \
             systems cannot hold a scope; the v2 hierarchy is where /proc/self/mountinfo \
             shows a cgroup2 mount)",
            parent.display()
        )));
    }
    Ok(fd)
}

/// This process's cgroup directory in the v2 hierarchy.
fn own_cgroup() -> io::Result<PathBuf> {
    let not_found = |what: &str| io::Error::new(io::ErrorKind::NotFound, what.to_owned());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mount = crate::capabilities::cgroup2_mount(&mountinfo)
        .ok_or_else(|| not_found("no cgroup v2 hierarchy is mounted here"))?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup")?;
    let own = cgroups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| {
            not_found("this process has no cgroup v2 (no 0:: line in /proc/self/cgroup)")
        })?;
    Ok(Path::new(&mount).join(own.trim_start_matches('/')))
}

/// Adds the pids of `dir`'s `cgroup.procs` and of the cgroups below it.
fn collect_pids(dir: BorrowedFd<'_>, pids: &mut Vec<u32>, depth: u32) -> io::Result<()> {
    let procs = cgroup::read_at(dir, c"cgroup.procs")?;
    pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    // The kernel's own limit on depth is far below this; a guard only.
    if depth > 64 {
        return Ok(());
    }
    for name in cgroup::subdirectories(dir)? {
        // A cgroup removed meanwhile is no error.
        if let Ok(sub) = cgroup::open_dir_at(dir, &name) {
            collect_pids(sub.as_fd(), pids, depth + 1)?;
        }
    }
    Ok(())
}

/// Whether a `cgroup.events` text says `populated value`.
#[cfg(feature = "tokio")]
pub(crate) fn populated_is(text: &str, value: u64) -> bool {
    events_field(text, "populated") == Some(value)
}

/// The value of `key` in a `cgroup.events`-style file (`key value` lines).
fn events_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::events_field;

    #[test]
    fn events_fields_are_read() {
        let text = "populated 1\nfrozen 0\n";
        assert_eq!(events_field(text, "populated"), Some(1));
        assert_eq!(events_field(text, "frozen"), Some(0));
        assert_eq!(events_field(text, "nothing"), None);
    }
}

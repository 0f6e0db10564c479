//! The six ways of spawning the tiny program and waiting for it.
//!
//! Every contender inherits the bench's stdin, stdout and stderr (the tiny
//! program writes nothing), passes the bench's environment, and checks that
//! the child exited with status 0. `spawnfd` and std build a fresh `Command`
//! per spawn, as programs do; `posix_spawn` reuses the path and `environ`,
//! as a C program would. The two `-attrs` contenders turn on the child
//! attributes of [`crate::attrs`].

use std::ffi::{CString, c_char};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::attrs::Attrs;

/// One way of spawning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// `spawnfd::Command::status()`: clone3(CLONE_VM | CLONE_VFORK).
    Spawnfd,
    /// `std::process::Command::status()`: glibc's `posix_spawn`.
    Std,
    /// std with a no-op `pre_exec`, which forces std's `fork` path.
    StdFork,
    /// `libc::posix_spawn` + `waitpid`, no attributes or file actions.
    PosixSpawn,
    /// `spawnfd::Command` with setsid, uid/gid, rlimit, umask and 5 fds.
    SpawnfdAttrs,
    /// std with the same: uid/gid by its builder, the rest in `pre_exec`
    /// (so it forks).
    StdAttrs,
}

impl Contender {
    pub const ALL: [Contender; 6] = [
        Contender::Spawnfd,
        Contender::Std,
        Contender::StdFork,
        Contender::PosixSpawn,
        Contender::SpawnfdAttrs,
        Contender::StdAttrs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Spawnfd => "spawnfd",
            Contender::Std => "std",
            Contender::StdFork => "std-fork",
            Contender::PosixSpawn => "posix_spawn",
            Contender::SpawnfdAttrs => "spawnfd-attrs",
            Contender::StdAttrs => "std-attrs",
        }
    }

    /// Whether the contender forks, so that it is timed only a few times
    /// (`--fork-iters`): a fork of a big parent is slow and slows the spawns
    /// after it.
    pub fn forks(self) -> bool {
        matches!(self, Contender::StdFork | Contender::StdAttrs)
    }

    pub fn from_name(name: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.name() == name)
    }
}

unsafe extern "C" {
    /// The process environment, as `posix_spawn` callers pass it.
    static environ: *const *mut c_char;
}

/// Spawns the tiny program with any contender.
pub struct Spawner {
    path: PathBuf,
    c_path: CString,
    /// The attribute contenders' settings and extra fds, opened once.
    attrs: Attrs,
}

impl Spawner {
    pub fn new(path: &Path) -> io::Result<Spawner> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in the path"))?;
        Ok(Spawner {
            path: path.to_owned(),
            c_path,
            attrs: Attrs::new()?,
        })
    }

    /// Spawns the program once with `contender` and waits for it; an error
    /// unless it exited with status 0.
    pub fn run(&self, contender: Contender) -> io::Result<()> {
        let status = match contender {
            Contender::Spawnfd => spawnfd::Command::new(&self.path).status()?,
            Contender::Std => std::process::Command::new(&self.path).status()?,
            Contender::StdFork => {
                let mut cmd = std::process::Command::new(&self.path);
                // SAFETY: the closure does nothing, so it is trivially
                // async-signal-safe; its only effect is that std must fork.
                unsafe { cmd.pre_exec(|| Ok(())) };
                cmd.status()?
            }
            Contender::PosixSpawn => self.posix_spawn()?,
            Contender::SpawnfdAttrs => self.attrs.spawnfd_command(&self.path)?.status()?,
            Contender::StdAttrs => self.attrs.std_command(&self.path).status()?,
        };
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{}: the tiny program failed: {status}",
                contender.name()
            )))
        }
    }

    fn posix_spawn(&self) -> io::Result<ExitStatus> {
        use std::os::unix::process::ExitStatusExt;

        let argv = [self.c_path.as_ptr().cast_mut(), std::ptr::null_mut()];
        let mut pid: libc::pid_t = 0;
        // SAFETY: the path and argv are NUL-terminated and outlive the call;
        // NULL file actions and attributes mean the defaults; `environ` is
        // the process's NULL-terminated environment, which this
        // single-threaded bench does not modify.
        let err = unsafe {
            libc::posix_spawn(
                &mut pid,
                self.c_path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr(),
                environ,
            )
        };
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        let mut status = 0;
        loop {
            // SAFETY: waits for our own child, writing to a local.
            if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
                return Ok(ExitStatus::from_raw(status));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

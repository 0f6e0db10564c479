//! The user-notification supervisor, for the paths whose `clone3` verdict
//! depends on the flags inside `struct clone_args` (which a BPF filter
//! cannot read: it sees only the pointer).
//!
//! The tool forks: the child installs the filter with a listener, passes
//! the listener to the parent over a socket pair, and execs the command;
//! the parent, unfiltered, answers each `clone3` of the command and its
//! descendants (reading the struct with `process_vm_readv`), forwards
//! SIGTERM, SIGINT, SIGHUP and SIGQUIT to the command, and ends with its
//! exit status. Every notification gets an answer: a call it cannot read or
//! does not know is let through (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`), so
//! the kernel answers it as it would have.
//!
//! The verdict is taken on the struct as it was read; a caller rewriting
//! it between the read and the kernel's copy could get past the rules.
//! This is a test harness for a library that does not do that, not a
//! sandbox.
//!
//! Once the command has exited, the supervisor answers what is pending
//! and ends; descendants the command left running then get `ENOSYS` from
//! `clone3` (the kernel's answer once the listener is closed), which every
//! caller treats as a kernel without `clone3`.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::filter;
use crate::paths::{Clone3Rules, Path, Verdict, decide};

/// The variable naming the file where the supervisor writes one line per
/// `clone3` it answered (`clone3 pid=… flags=0x… size=… -> EINVAL`), so a
/// test can see that the library's own call was refused.
pub const LOG_ENV: &str = "SPAWNFD_FORCED_PATH_LOG";

/// The signals passed on to the command.
const FORWARDED: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// How the command ended.
pub enum Ended {
    Exited(i32),
    Signaled(i32),
}

/// Runs `cmd` under `path`'s filter, answering its `clone3` calls by
/// `rules`; returns once the command has ended.
pub fn run(path: &Path, rules: &Clone3Rules, cmd: &mut Command) -> io::Result<Ended> {
    let log = Log::create()?;
    cmd.env(LOG_ENV, &log.path);
    let (ours, theirs) = UnixStream::pair()?;
    let (mask, old_mask) = block(&FORWARDED)?;
    // SAFETY: this program is single-threaded, so the child may run any
    // code; it only installs the filter, sends one fd and execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(ours);
        child(path, &theirs, &old_mask, cmd);
    }
    drop(theirs);
    let listener = recv_fd(&ours);
    let result = match listener {
        // The child could not install the filter: it said why and exits.
        Err(_) => Ok(()),
        Ok(listener) => serve(&listener, rules, pid, &mask, &log),
    };
    let ended = wait(pid);
    drop(log);
    result?;
    ended
}

/// The forked child: filter, hand over the listener, exec. Never returns.
fn child(path: &Path, sock: &UnixStream, mask: &libc::sigset_t, cmd: &mut Command) -> ! {
    let status = match filter::install(path) {
        Ok(Some(listener)) => match send_fd(sock, listener.as_raw_fd()) {
            Ok(()) => {
                drop(listener);
                // CMD gets the mask the tool was started with, without
                // the forwarded signals blocked for the signalfd.
                // SAFETY: a valid, initialised set.
                unsafe { libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
                let e = cmd.exec();
                eprintln!(
                    "spawnfd-paths: cannot run {}: {e}",
                    cmd.get_program().to_string_lossy()
                );
                if e.kind() == io::ErrorKind::NotFound {
                    127
                } else {
                    126
                }
            }
            Err(e) => {
                eprintln!("spawnfd-paths: cannot pass the seccomp listener on: {e}");
                125
            }
        },
        Ok(None) => {
            eprintln!("spawnfd-paths: the {} filter gave no listener", path.name);
            125
        }
        Err(e) => {
            eprintln!(
                "spawnfd-paths: cannot install the {} filter: {e}",
                path.name
            );
            125
        }
    };
    // SAFETY: _exit ends this process without running the parent's atexit
    // handlers or flushing its copied buffers.
    unsafe { libc::_exit(status) }
}

/// Answers notifications until the command (`pid`) has exited.
fn serve(
    listener: &OwnedFd,
    rules: &Clone3Rules,
    pid: libc::pid_t,
    mask: &libc::sigset_t,
    log: &Log,
) -> io::Result<()> {
    let pidfd = pidfd_open(pid)?;
    // SAFETY: a signalfd over a valid, initialised set.
    let sigfd = unsafe { libc::signalfd(-1, mask, libc::SFD_CLOEXEC) };
    if sigfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nobody else owns.
    let sigfd = unsafe { OwnedFd::from_raw_fd(sigfd) };
    let mut fds = [
        pollfd(listener.as_raw_fd()),
        pollfd(pidfd.as_raw_fd()),
        pollfd(sigfd.as_raw_fd()),
    ];
    loop {
        for fd in &mut fds {
            fd.revents = 0;
        }
        // SAFETY: three valid pollfds that outlive the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 3, -1) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[0].revents & libc::POLLIN != 0 {
            answer(listener, rules, log)?;
        } else if fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            // No filtered task is left; the command is about to be reaped.
            fds[0].fd = -1;
        }
        if fds[2].revents & libc::POLLIN != 0 {
            forward(&sigfd, pid);
        }
        if fds[1].revents & libc::POLLIN != 0 {
            // The command has exited: answer what is pending, then stop.
            while readable_now(listener) {
                answer(listener, rules, log)?;
            }
            return Ok(());
        }
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn readable_now(fd: &OwnedFd) -> bool {
    let mut p = pollfd(fd.as_raw_fd());
    // SAFETY: one valid pollfd; no waiting.
    unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
}

/// Receives one notification and answers it.
fn answer(listener: &OwnedFd, rules: &Clone3Rules, log: &Log) -> io::Result<()> {
    // SAFETY: seccomp_notif is plain data; RECV wants it zeroed.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: RECV writes one seccomp_notif into `req`.
    if unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &raw mut req,
        )
    } < 0
    {
        return match io::Error::last_os_error().raw_os_error() {
            // Interrupted, or the caller went away before we got it.
            Some(libc::EINTR | libc::ENOENT) => Ok(()),
            _ => Err(io::Error::last_os_error()),
        };
    }
    let mut line = None;
    let verdict = if req.data.nr == libc::SYS_clone3 as i32 {
        let size = usize::try_from(req.data.args[1]).unwrap_or(usize::MAX);
        let args = read_args(req.pid, req.data.args[0], size);
        // The pid may name another task by now: only trust what was read
        // while the notification is still pending.
        let args = args.filter(|_| id_valid(listener, req.id));
        let verdict = match &args {
            Some(args) => decide(rules, size, args),
            None => Verdict::Continue,
        };
        let flags = args
            .as_deref()
            .and_then(|a| a.get(..8))
            .map(|w| u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])));
        line = Some(format!(
            "clone3 pid={} flags={} size={size} -> {}\n",
            req.pid,
            flags.map_or("unreadable".to_owned(), |f| format!("{f:#x}")),
            match verdict {
                Verdict::Continue => "continue",
                Verdict::Refuse(libc::EPERM) => "EPERM",
                Verdict::Refuse(libc::EINVAL) => "EINVAL",
                Verdict::Refuse(libc::E2BIG) => "E2BIG",
                Verdict::Refuse(_) => "refused",
            }
        ));
        verdict
    } else {
        Verdict::Continue
    };
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    match verdict {
        Verdict::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        Verdict::Refuse(errno) => resp.error = -errno,
    }
    // SAFETY: SEND reads one seccomp_notif_resp.
    if unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &raw mut resp,
        )
    } < 0
    {
        // ENOENT: the caller was interrupted or killed meanwhile; it will
        // retry (and be asked about again) or is gone.
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOENT) {
            return Err(e);
        }
    }
    if let Some(line) = line {
        log.write(&line);
    }
    Ok(())
}

/// The first `min(size, 4096)` bytes at `addr` in task `pid`, if they can
/// all be read.
fn read_args(pid: u32, addr: u64, size: usize) -> Option<Vec<u8>> {
    let len = size.min(4096);
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: usize::try_from(addr).ok()? as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `local` describes our own writable buffer; the remote side
    // is only read, by the kernel, with its permission checks.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    (usize::try_from(n).ok() == Some(len)).then_some(buf)
}

fn id_valid(listener: &OwnedFd, id: u64) -> bool {
    // SAFETY: ID_VALID reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &raw const id,
        ) == 0
    }
}

/// Passes a pending forwarded signal on to the command.
fn forward(sigfd: &OwnedFd, pid: libc::pid_t) {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let len = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: reads at most `len` bytes into `info`.
    let n = unsafe { libc::read(sigfd.as_raw_fd(), (&raw mut info).cast(), len) };
    if usize::try_from(n).ok() == Some(len) {
        // SAFETY: kill with integers; `pid` is our unreaped child, so it
        // cannot name another process.
        unsafe { libc::kill(pid, info.ssi_signo as i32) };
    }
}

/// Blocks `signals` in this (only) thread; returns that set and the mask
/// before.
fn block(signals: &[i32]) -> io::Result<(libc::sigset_t, libc::sigset_t)> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset (`old`
    // by sigprocmask).
    let (mut set, mut old): (libc::sigset_t, libc::sigset_t) =
        unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: `set` and `old` are valid sigset_t for these calls.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((set, old))
}

/// Reaps the command.
fn wait(pid: libc::pid_t) -> io::Result<Ended> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(libc::WEXITSTATUS(status))
    })
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `fd` as `SCM_RIGHTS` with a one-byte message.
fn send_fd(sock: &UnixStream, fd: RawFd) -> io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // u64 for the alignment of cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; the fields set below point to live
    // buffers, and the CMSG macros stay inside `control`, which is large
    // enough for one fd's header and data.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        libc::CMSG_DATA(cmsg).cast::<RawFd>().write_unaligned(fd);
        if libc::sendmsg(sock.as_raw_fd(), &msg, 0) != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives one fd sent by [`send_fd`]; an error if the peer closed its
/// end without sending one.
fn recv_fd(sock: &UnixStream) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 8];
    // SAFETY: as in send_fd; the fd read from the control message is new
    // to this process (the kernel installed it, close-on-exec) and owned
    // by nobody else.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        loop {
            if libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) >= 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "no seccomp listener came from the command's process",
            ));
        }
        let fd = libc::CMSG_DATA(cmsg).cast::<RawFd>().read_unaligned();
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The decision log, removed when the supervisor ends.
struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    fn create() -> io::Result<Log> {
        let path = std::env::temp_dir().join(format!("spawnfd-paths-{}.log", std::process::id()));
        // A file left by an earlier process with our pid is stale.
        let _ = std::fs::remove_file(&path);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        Ok(Log { path, file })
    }

    /// Appends one line; a full disk only loses log lines.
    fn write(&self, line: &str) {
        let _ = (&self.file).write_all(line.as_bytes());
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

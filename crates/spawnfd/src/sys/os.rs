//! The parent's other system calls: pipes, the process's signal
//! dispositions, and reading two pipes at once.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// Sets the soft `RLIMIT_NOFILE` to the hard one; returns it.
pub(crate) fn raise_fd_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 on ourselves, reading into and then writing from
    // `limit`.
    unsafe {
        if libc::prlimit64(0, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::prlimit64(0, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

/// An all-zero `rusage`, to be filled in by `waitid`.
pub(crate) fn zeroed_rusage() -> libc::rusage {
    // SAFETY: rusage is plain integers, for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Whether the real user id is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// Whether the process has supplementary groups (`getgroups`).
pub(crate) fn has_supplementary_groups() -> bool {
    // SAFETY: with size 0, getgroups only counts and writes nothing.
    unsafe { libc::getgroups(0, std::ptr::null_mut()) != 0 }
}

/// Whether `fd` is a directory of a cgroup v2 file system (`fstatfs`).
pub(crate) fn is_cgroup2_dir(fd: BorrowedFd<'_>) -> bool {
    const CGROUP2_SUPER_MAGIC: libc::c_long = 0x6367_7270;
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes into `fs`.
    let r = unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) };
    r == 0 && fs.f_type as libc::c_long == CGROUP2_SUPER_MAGIC
}

/// `pipe2(O_CLOEXEC)`: (read end, write end), numbered 3 or above where
/// they can be (see [`above_stdio`]).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stdio(read), above_stdio(write)))
}

/// Moves a close-on-exec fd of the library off a closed standard fd (0, 1
/// or 2), where it would stand in for the process's stdio: code that later
/// opens a file expecting it to become stdin would get another number.
/// Children never see it there either way: an inherited standard fd that
/// is close-on-exec is not the parent's stdio, and the child gets
/// `/dev/null` in its place (see `in_child`). If the move fails (`EMFILE`),
/// the fd stays where it is.
pub(crate) fn above_stdio(fd: OwnedFd) -> OwnedFd {
    if fd.as_raw_fd() > 2 {
        return fd;
    }
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own returns a new fd or -1.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if moved < 0 {
        return fd;
    }
    // SAFETY: a new fd owned by nobody else; `fd` closes on return.
    unsafe { OwnedFd::from_raw_fd(moved) }
}

/// The signals this process ignores, as a bit set (bit `n - 1` for signal
/// `n`).
///
/// Dispositions are per process; the `SigIgn` line of `/proc/self/status`
/// gives them in one `pread`, where querying each signal with
/// `rt_sigaction` would take 64 calls. (`/proc/PID/stat` is cheaper to
/// generate but masks out signals 32 to 64.) The file stays open between
/// spawns, see [`StatusFile`]. Without `/proc` (a chroot, say), the 64
/// queries it is.
pub(crate) fn ignored_signals() -> io::Result<u64> {
    // Once more with a fresh file if the cached fd reads wrong: someone may
    // have closed it behind our back and reused its number.
    for fresh in [false, true] {
        let Some(fd) = STATUS_FILE.get(fresh) else {
            break;
        };
        if let Some(Some(ignored)) = read_whole(fd, parse_ignored) {
            return Ok(ignored);
        }
    }
    Ok(ignored_from_sigaction())
}

/// The largest status file [`read_whole`] reads.
const MAX_STATUS: usize = 2 << 20;

/// Reads the file behind `fd` from offset 0 to its end and hands the bytes
/// to `parse`: one `pread` into a page on the stack, which holds the status
/// file of most processes; a larger buffer for the rest (a few hundred
/// supplementary groups make the `Groups:` line alone longer than a page).
fn read_whole<R>(fd: libc::c_int, parse: impl Fn(&[u8]) -> R) -> Option<R> {
    let pread = |buf: &mut [u8]| {
        // SAFETY: pread into our buffer; `fd` is at worst a number that no
        // longer names the status file, which the parse detects.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        usize::try_from(n).ok()
    };
    let mut page = [0u8; 4096];
    let n = pread(&mut page)?;
    if n < page.len() {
        return Some(parse(&page[..n]));
    }
    let mut buf = vec![0u8; 4 * page.len()];
    loop {
        let n = pread(&mut buf)?;
        if n < buf.len() {
            return Some(parse(&buf[..n]));
        }
        // A status file is generated whole: a read that fills the buffer
        // may have been cut. Even 65,536 groups (NGROUPS_MAX) need less
        // than a MiB; a file that never ends is not a status file.
        if buf.len() >= MAX_STATUS {
            return None;
        }
        buf.resize(2 * buf.len(), 0);
    }
}

/// An fd of `/proc/self/status` kept open for [`signal_dispositions`]:
/// reading it from offset 0 regenerates it, so keeping it saves the path
/// walk, `openat` and `close` of every spawn.
///
/// The fd is tagged with the pid it was opened in: after a `fork`, it would
/// describe the parent, and the child opens its own.
struct StatusFile {
    /// `pid << 32 | fd`, or 0 before the first open.
    tagged: AtomicU64,
}

static STATUS_FILE: StatusFile = StatusFile {
    tagged: AtomicU64::new(0),
};

impl StatusFile {
    /// The fd to read, opening one if there is none for this process (or
    /// `fresh` asks for a new one). `None` without `/proc`.
    fn get(&self, fresh: bool) -> Option<libc::c_int> {
        let pid = std::process::id();
        let tagged = self.tagged.load(Ordering::Acquire);
        if !fresh && tagged != 0 && (tagged >> 32) as u32 == pid {
            return Some(tagged as u32 as libc::c_int);
        }
        let file = File::open("/proc/self/status").ok()?;
        // Never on a closed standard fd, which a child would then inherit.
        let fd = above_stdio(OwnedFd::from(file));
        let new = (u64::from(pid) << 32) | u64::from(fd.as_raw_fd() as u32);
        match self
            .tagged
            .compare_exchange(tagged, new, Ordering::AcqRel, Ordering::Acquire)
        {
            // Ours now, for the life of the process. The fd it replaces is
            // not closed: it was inherited across a fork or went bad, and
            // its number may belong to someone else by now.
            Ok(_) => Some(fd.into_raw_fd()),
            // Another thread replaced it first: use that one.
            Err(current) => Some(current as u32 as libc::c_int),
        }
    }
}

fn ignored_from_sigaction() -> u64 {
    let mut ignored = 0u64;
    for sig in 1..=64 {
        // The kernel's struct sigaction, handler first.
        let mut old = [0u64; 4];
        // SAFETY: a query (no new action) into `old`, large enough for the
        // kernel's struct. The raw call reaches the signals libc reserves.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<u64>(),
                old.as_mut_ptr(),
                8usize,
            )
        };
        if r == 0 && old[0] as libc::sighandler_t == libc::SIG_IGN {
            ignored |= 1u64 << (sig - 1);
        }
    }
    ignored
}

fn parse_ignored(status: &[u8]) -> Option<u64> {
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"SigIgn:"))?;
    u64::from_str_radix(std::str::from_utf8(line).ok()?.trim(), 16).ok()
}

/// Keeps the process's dumpable flag (`PR_GET_DUMPABLE`) across a spawn
/// whose child changes credentials.
///
/// Until it execs, the child runs on the parent's memory, and the kernel
/// resets the dumpable flag of that memory when credentials change
/// (`commit_creds`): the parent would stop writing core dumps, same-uid
/// `ptrace` would be refused, its `/proc/PID` files would turn root-owned
/// and a later child's `uid_map` could no longer be written. Dropped once
/// the child has exec'd or exited, this puts the flag back. (A flag of 2,
/// `suid_dumpable`'s root-only mode, cannot be set through `prctl`; it
/// stays as the kernel left it.)
pub(crate) struct KeepDumpable(Option<libc::c_int>);

impl KeepDumpable {
    pub(crate) fn new(needed: bool) -> KeepDumpable {
        if !needed {
            return KeepDumpable(None);
        }
        // SAFETY: prctl with an integer option and no pointers.
        let flag = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
        KeepDumpable((flag == 0 || flag == 1).then_some(flag))
    }
}

impl Drop for KeepDumpable {
    fn drop(&mut self) {
        let Some(flag) = self.0 else { return };
        // SAFETY: prctl with integer arguments.
        unsafe {
            if libc::prctl(libc::PR_GET_DUMPABLE) != flag {
                libc::prctl(libc::PR_SET_DUMPABLE, flag as libc::c_ulong);
            }
        }
    }
}

/// Reads two pipes to their ends at once, so that a child blocked writing
/// to one never deadlocks against us reading the other.
pub(crate) fn read2(out: Option<OwnedFd>, err: Option<OwnedFd>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    match (out, err) {
        (None, None) => {}
        (Some(out), None) => drop(File::from(out).read_to_end(&mut out_buf)?),
        (None, Some(err)) => drop(File::from(err).read_to_end(&mut err_buf)?),
        (Some(out), Some(err)) => {
            set_nonblocking(&out)?;
            set_nonblocking(&err)?;
            let mut pipes = [
                (Some(File::from(out)), &mut out_buf),
                (Some(File::from(err)), &mut err_buf),
            ];
            while pipes.iter().any(|(f, _)| f.is_some()) {
                let mut polls: Vec<libc::pollfd> = pipes
                    .iter()
                    .map(|(f, _)| libc::pollfd {
                        fd: f.as_ref().map_or(-1, |f| f.as_raw_fd()),
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect();
                // SAFETY: `polls` is a valid array of pollfds.
                if unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) } < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                for ((file, buf), p) in pipes.iter_mut().zip(&polls) {
                    if p.revents == 0 {
                        continue;
                    }
                    if let Some(f) = file {
                        match f.read_to_end(buf) {
                            Ok(_) => *file = None,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
    }
    Ok((out_buf, err_buf))
}

fn set_nonblocking(fd: &impl AsFd) -> io::Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: fcntl on an fd we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags == -1 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ignored_signals() {
        let status =
            b"Name:\tSigIgn: x\nSigQ:\t0/1\nSigIgn:\t0000000080001000\nSigCgt:\t0000000000004002\n";
        assert_eq!(parse_ignored(status), Some(0x8000_1000));
        assert_eq!(parse_ignored(b"SigCgt:\t0\n"), None);
    }

    #[test]
    fn reads_past_the_first_page() {
        // A file whose SigIgn line lies beyond 4096 bytes, as in the status
        // file of a process with hundreds of supplementary groups.
        let mut text = String::from("Name:\tx\nGroups:\t");
        while text.len() < 20_000 {
            text.push_str("1234567 ");
        }
        text.push_str("\nSigIgn:\t0000000000001000\nSigCgt:\t0\n");
        let file = tempfile_with(text.as_bytes());
        assert_eq!(
            read_whole(file.as_raw_fd(), parse_ignored),
            Some(Some(0x1000))
        );
    }

    fn tempfile_with(bytes: &[u8]) -> File {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("spawnfd-os-{}", std::process::id()));
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn survives_its_fd_being_taken_over() {
        let before = ignored_signals().unwrap();
        let fd = STATUS_FILE.get(false).unwrap();
        // Someone closes "all other fds" and the number goes to a file of
        // theirs: the answer must still come from /proc.
        let zero = File::open("/dev/zero").unwrap();
        // SAFETY: replaces the cached fd's number with /dev/zero; the cache
        // does not own the number any more after this test.
        assert_eq!(unsafe { libc::dup2(zero.as_raw_fd(), fd) }, fd);
        assert_eq!(ignored_signals().unwrap(), before);
        assert_ne!(STATUS_FILE.get(false), Some(fd));
    }

    #[test]
    fn matches_proc_status() {
        let ignored = ignored_signals().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        // A second read through the kept fd gives the same answer.
        assert_eq!(ignored_signals().unwrap(), ignored);
        let line = status.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
        assert_eq!(ignored, u64::from_str_radix(line[7..].trim(), 16).unwrap());
        // The fallback for a missing /proc agrees.
        assert_eq!(ignored_from_sigaction(), ignored);
        // The Rust runtime ignores SIGPIPE.
        assert_ne!(ignored & (1 << (libc::SIGPIPE - 1)), 0);
    }
}

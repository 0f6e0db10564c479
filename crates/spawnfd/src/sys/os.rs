//! The parent's other system calls: pipes, the process's signal
//! dispositions, and reading two pipes at once.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The signals this process ignores and catches, as bit sets (bit `n - 1`
/// for signal `n`).
///
/// Dispositions are per process; `/proc/thread-self/stat` reports them in
/// one read (fields 33 `sigignore` and 34 `sigcatch`) without summing over
/// every thread as `/proc/self/stat` would, where querying each signal with
/// `rt_sigaction` would take 64 calls.
pub(crate) fn signal_dispositions() -> io::Result<(u64, u64)> {
    let mut buf = [0u8; 1024];
    let mut file = File::open("/proc/thread-self/stat")?;
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..])? {
            0 => break,
            n => len += n,
        }
        if len == buf.len() {
            break;
        }
    }
    parse_dispositions(&buf[..len]).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected format of /proc/thread-self/stat",
        )
    })
}

fn parse_dispositions(stat: &[u8]) -> Option<(u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted from the last ')'.
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace().skip(33 - 3);
    let ignored = fields.next()?.parse().ok()?;
    let caught = fields.next()?.parse().ok()?;
    Some((ignored, caught))
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
            let mut pipes = [(Some(File::from(out)), &mut out_buf), (Some(File::from(err)), &mut err_buf)];
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
    fn parses_dispositions_past_odd_names() {
        let stat = b"42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 \
                     100 1000 100 18446744073709551615 1 1 0 0 0 0 0 4096 16386 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_dispositions(stat), Some((4096, 16386)));
    }

    #[test]
    fn matches_proc_status() {
        let (ignored, caught) = signal_dispositions().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
        };
        assert_eq!(ignored, field("SigIgn:"));
        assert_eq!(caught, field("SigCgt:"));
        // The Rust runtime ignores SIGPIPE.
        assert_ne!(ignored & (1 << (libc::SIGPIPE - 1)), 0);
    }
}

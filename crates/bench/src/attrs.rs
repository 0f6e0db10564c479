//! The "everything on" contenders: a child in a new session, with another
//! user and group, its own `RLIMIT_NOFILE` and umask, five extra fds placed
//! at 3 to 7 (two of them swapped) and every other fd closed.
//!
//! - `spawnfd-attrs` asks for all of it with `spawnfd::Command`'s builder
//!   methods; the extra fds are `try_clone`d from the five sources for every
//!   spawn (the command takes ownership of the fds it is given), and closing
//!   every unmapped fd is what spawnfd always does.
//! - `std-attrs` uses std's `CommandExt::uid` and `gid`, and a `pre_exec`
//!   closure for the rest, for which std has no builder: `setsid`,
//!   `setrlimit`, `umask`, `dup2` of the five fds onto 3 to 7 and
//!   `close_range` of everything above. `pre_exec` forces std's `fork`
//!   path, which is the point of the comparison.
//!
//! The five sources are ends of five pipes, opened once per process (per
//! worker), so that each child fd can be identified by its pipe's inode.
//! [`verify`] runs `sh` once with each contender's settings and checks
//! from inside the child that every setting took.

use std::ffi::{OsStr, c_int};
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

/// The `uid` and `gid` the children get when the bench runs as root:
/// `nobody` and `nogroup`.
const NOBODY: u32 = 65534;
/// The file mode creation mask the children get.
const UMASK: u32 = 0o022;
/// The `RLIMIT_NOFILE` the children get, lowered to the hard limit of the
/// bench where that is lower.
const NOFILE: (u64, u64) = (1024, 4096);
/// The child fd of the first extra fd.
const FIRST_FD: RawFd = 3;
/// How many extra fds the child gets, at `FIRST_FD..FIRST_FD + EXTRA`.
const EXTRA: usize = 5;
/// Child fd `FIRST_FD + i` gets source `FD_MAP[i]`: sources 0 and 1 and
/// sources 3 and 4 change places.
const FD_MAP: [usize; EXTRA] = [1, 0, 2, 4, 3];

/// The settings both attribute contenders give their children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub uid: u32,
    pub gid: u32,
    /// Whether the bench runs as root (otherwise `uid` and `gid` are the
    /// bench's own, which `setuid` and `setgid` accept but do not change).
    pub root: bool,
    pub nofile: (u64, u64),
    pub umask: u32,
}

impl Settings {
    /// `nobody`/`nogroup` as root, otherwise this process's own ids; the
    /// NOFILE limits within this process's hard limit.
    pub fn current() -> Settings {
        // SAFETY: these calls only read this process's credentials.
        let (euid, uid, gid) = unsafe { (libc::geteuid(), libc::getuid(), libc::getgid()) };
        let root = euid == 0;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: writes this process's limit to a local.
        let hard = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            limit.rlim_max
        } else {
            NOFILE.1
        };
        let hard = hard.min(NOFILE.1);
        Settings {
            uid: if root { NOBODY } else { uid },
            gid: if root { NOBODY } else { gid },
            root,
            nofile: (NOFILE.0.min(hard), hard),
            umask: UMASK,
        }
    }

    /// One line saying what the attribute contenders set.
    pub fn describe(&self) -> String {
        let mut map = String::new();
        for (i, s) in FD_MAP.iter().enumerate() {
            let _ = write!(map, "{}{}<-#{s}", if i > 0 { " " } else { "" }, target(i));
        }
        let ids = if self.root {
            format!("uid/gid {}/{} (nobody)", self.uid, self.gid)
        } else {
            format!(
                "uid/gid {}/{} (NOT ROOT: the bench's own ids, so setuid/setgid change nothing)",
                self.uid, self.gid
            )
        };
        format!(
            "setsid, {ids}, RLIMIT_NOFILE {}:{}, umask {:04o}, 5 pipe ends #0-#4 at fds {map}, \
             every other fd closed",
            self.nofile.0, self.nofile.1, self.umask
        )
    }
}

fn target(i: usize) -> RawFd {
    FIRST_FD + i as RawFd
}

/// The five source fds and the settings, for building either contender's
/// command.
pub struct Attrs {
    settings: Settings,
    sources: [OwnedFd; EXTRA],
    /// The other ends of the pipes, kept open so that the sources are live
    /// pipes.
    _other_ends: Vec<OwnedFd>,
}

impl Attrs {
    /// Opens five pipes (all `O_CLOEXEC`); source `i` is the read end of
    /// pipe `i` for even `i` and its write end for odd `i`.
    pub fn new() -> io::Result<Attrs> {
        let mut sources = Vec::with_capacity(EXTRA);
        let mut other_ends = Vec::with_capacity(EXTRA);
        for i in 0..EXTRA {
            let (reader, writer) = io::pipe()?;
            let (reader, writer) = (OwnedFd::from(reader), OwnedFd::from(writer));
            let (source, other) = if i % 2 == 0 {
                (reader, writer)
            } else {
                (writer, reader)
            };
            sources.push(source);
            other_ends.push(other);
        }
        Ok(Attrs {
            settings: Settings::current(),
            sources: sources
                .try_into()
                .map_err(|_| io::Error::other("five pipes"))?,
            _other_ends: other_ends,
        })
    }

    /// `spawnfd::Command::new(program)` with every attribute on. The extra
    /// fds are clones of the sources: the command owns them and closes them
    /// when it is dropped.
    pub fn spawnfd_command(&self, program: impl AsRef<OsStr>) -> io::Result<spawnfd::Command> {
        let s = &self.settings;
        let mut cmd = spawnfd::Command::new(program);
        cmd.setsid(true)
            .uid(s.uid)
            .gid(s.gid)
            .rlimit(spawnfd::Resource::NOFILE, s.nofile.0, s.nofile.1)
            .umask(s.umask);
        for (i, &source) in FD_MAP.iter().enumerate() {
            cmd.fd(target(i), self.sources[source].try_clone()?);
        }
        Ok(cmd)
    }

    /// `std::process::Command::new(program)` with the same attributes: uid
    /// and gid with std's builder, the rest in a `pre_exec` closure (which
    /// makes std fork).
    pub fn std_command(&self, program: impl AsRef<OsStr>) -> std::process::Command {
        let s = &self.settings;
        let mut cmd = std::process::Command::new(program);
        cmd.uid(s.uid).gid(s.gid);
        let plan = PreExec {
            sources: std::array::from_fn(|i| self.sources[FD_MAP[i]].as_raw_fd()),
            nofile: s.nofile,
            umask: s.umask,
        };
        // SAFETY: `PreExec::run` makes only async-signal-safe libc calls on
        // values copied into the closure; it allocates nothing, takes no
        // locks and does not panic. The source fds stay open for as long as
        // `self`, which outlives every spawn of the command.
        unsafe { cmd.pre_exec(move || plan.run()) };
        cmd
    }
}

/// What std's child does in `pre_exec`, after std has set its stdio, groups,
/// gid and uid and reset its signal mask and `SIGPIPE`.
#[derive(Clone, Copy)]
struct PreExec {
    /// `sources[i]` goes to child fd `target(i)`.
    sources: [RawFd; EXTRA],
    nofile: (u64, u64),
    umask: u32,
}

impl PreExec {
    /// Runs in the forked child: only raw, async-signal-safe libc calls, no
    /// allocation (`io::Error::last_os_error` does not allocate), no
    /// indexing that could panic.
    fn run(&self) -> io::Result<()> {
        fn check(r: c_int) -> io::Result<c_int> {
            if r == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(r)
            }
        }
        let last = target(EXTRA - 1);
        // SAFETY (all blocks below): plain system calls with integer
        // arguments or pointers to locals.
        check(unsafe { libc::setsid() })?;
        let limit = libc::rlimit {
            rlim_cur: self.nofile.0,
            rlim_max: self.nofile.1,
        };
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) })?;
        unsafe { libc::umask(self.umask as libc::mode_t) };

        // A source that is itself the target of another slot would be
        // overwritten before it is read: move it above the targets first.
        let mut sources = self.sources;
        for i in 0..EXTRA {
            let src = sources.get(i).copied().unwrap_or(-1);
            let endangered = (FIRST_FD..=last).contains(&src)
                && src != target(i)
                && sources.get((src - FIRST_FD) as usize) != Some(&src);
            if endangered {
                let copy = check(unsafe { libc::fcntl(src, libc::F_DUPFD_CLOEXEC, last + 1) })?;
                for s in sources.iter_mut().filter(|s| **s == src) {
                    *s = copy;
                }
            }
        }
        for (i, &src) in sources.iter().enumerate() {
            let fd = target(i);
            if src == fd {
                check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) })?;
            } else {
                // dup2 leaves the new fd without FD_CLOEXEC.
                check(unsafe { libc::dup2(src, fd) })?;
            }
        }
        // Everything above the targets goes at exec. CLOSE_RANGE_CLOEXEC
        // rather than closing now: std's child keeps an O_CLOEXEC fd to
        // report a failed exec to the parent, which closing would break.
        // (It never sits at 3 to 7 here: the sources are opened first.)
        let r = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                (last + 1) as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        check(r as c_int)?;
        Ok(())
    }
}

/// What [`verify`]'s child prints: its session, credentials, umask, NOFILE
/// limits and fds, as seen from inside (`sh` is dash or bash; everything
/// but `ls` is a builtin, and `ls` lists the shell's fds, not its own).
const PROBE: &str = r#"read -r pid comm state ppid pgrp sid rest < /proc/$$/stat
echo "session $$ $pgrp $sid"
while read -r key a b c d rest; do
  case $key in Uid:|Gid:) echo "$key $a $b $c $d";; Groups:) echo "Groups: $a";; esac
done < /proc/$$/status
echo "umask $(umask)"
while read -r w1 w2 w3 soft hard rest; do
  [ "$w1 $w2 $w3" = "Max open files" ] && echo "nofile $soft $hard"
done < /proc/$$/limits
ls -l /proc/$$/fd
"#;

/// Spawns `sh` once with each attribute contender's settings and checks,
/// from what the child reports, that every setting took: session leader,
/// uid and gid (and no supplementary groups as root), umask, NOFILE limits,
/// exactly fds 0 to 7, and fds 3 to 7 the right pipes. Returns one line per
/// contender.
pub fn verify(sh: &Path) -> io::Result<Vec<String>> {
    let attrs = Attrs::new()?;
    let expected: Vec<String> = FD_MAP
        .iter()
        .map(|&s| {
            let link = format!("/proc/self/fd/{}", attrs.sources[s].as_raw_fd());
            std::fs::read_link(link).map(|p| p.display().to_string())
        })
        .collect::<io::Result<_>>()?;
    let mut lines = Vec::new();
    for name in ["spawnfd-attrs", "std-attrs"] {
        let output = if name == "spawnfd-attrs" {
            attrs
                .spawnfd_command(sh)?
                .args(["-c", PROBE])
                .stdin(spawnfd::Stdio::null())
                .output()?
        } else {
            attrs
                .std_command(sh)
                .args(["-c", PROBE])
                .stdin(std::process::Stdio::null())
                .output()?
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let fail = |why: String| {
            io::Error::other(format!(
                "{name}: the settings did not take: {why} ({}; stdout: {stdout:?}; stderr: {:?})",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        };
        if !output.status.success() {
            return Err(fail("the probe failed".to_owned()));
        }
        check_probe(&stdout, &attrs.settings, &expected).map_err(fail)?;
        lines.push(format!(
            "{name}: OK (the child is a session leader with uid/gid {}/{}, umask {:04o}, \
             NOFILE {}:{}, fds 0-7 only, 3-7 the expected pipes)",
            attrs.settings.uid,
            attrs.settings.gid,
            attrs.settings.umask,
            attrs.settings.nofile.0,
            attrs.settings.nofile.1
        ));
    }
    Ok(lines)
}

/// Checks the probe's output against the settings; `expected[i]` is the
/// link (`pipe:[inode]`) child fd `target(i)` must have.
fn check_probe(out: &str, s: &Settings, expected: &[String]) -> Result<(), String> {
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|rest| rest.split_whitespace().collect::<Vec<_>>())
            .ok_or_else(|| format!("no {prefix:?} line"))
    };
    let session = line("session ")?;
    if session.len() != 3 || session[0] != session[1] || session[0] != session[2] {
        return Err(format!(
            "not a session leader: pid, pgrp, sid = {session:?}"
        ));
    }
    for (prefix, id) in [("Uid: ", s.uid), ("Gid: ", s.gid)] {
        let ids = line(prefix)?;
        if ids.len() != 4 || ids.iter().any(|v| *v != id.to_string()) {
            return Err(format!("{prefix}{ids:?}, expected {id} four times"));
        }
    }
    if s.root {
        let groups = line("Groups: ")?;
        if !groups.is_empty() {
            return Err(format!("supplementary groups {groups:?} were kept"));
        }
    }
    let umask = line("umask ")?;
    if umask.first().and_then(|m| u32::from_str_radix(m, 8).ok()) != Some(s.umask) {
        return Err(format!("umask {umask:?}"));
    }
    let nofile = line("nofile ")?;
    if nofile != [s.nofile.0.to_string(), s.nofile.1.to_string()] {
        return Err(format!("NOFILE limits {nofile:?}"));
    }
    // `ls -l` lines: "... 3 -> pipe:[1234]".
    let mut fds: Vec<(RawFd, &str)> = out
        .lines()
        .filter_map(|l| {
            let (left, link) = l.split_once(" -> ")?;
            Some((left.split_whitespace().last()?.parse().ok()?, link))
        })
        .collect();
    fds.sort();
    let numbers: Vec<RawFd> = fds.iter().map(|&(fd, _)| fd).collect();
    if numbers != (0..=target(EXTRA - 1)).collect::<Vec<_>>() {
        return Err(format!("the child's fds are {numbers:?}, not 0 to 7"));
    }
    for (i, want) in expected.iter().enumerate() {
        let got = fds[target(i) as usize].1;
        if got != want {
            return Err(format!("fd {} is {got}, expected {want}", target(i)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_map_is_a_permutation_with_swaps() {
        let mut seen = FD_MAP;
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert!(FD_MAP.iter().enumerate().any(|(i, &s)| i != s));
    }

    #[test]
    fn settings_fit_the_hard_limit() {
        let s = Settings::current();
        assert!(s.nofile.0 <= s.nofile.1 && s.nofile.1 <= NOFILE.1);
        assert!(s.describe().contains("3<-#1 4<-#0 5<-#2 6<-#4 7<-#3"));
    }

    #[test]
    fn probe_output() {
        let s = Settings {
            uid: 65534,
            gid: 65534,
            root: true,
            nofile: (1024, 4096),
            umask: 0o022,
        };
        let expected: Vec<String> = (1..=5).map(|i| format!("pipe:[{i}]")).collect();
        let mut out = "session 9 9 9\nUid: 65534 65534 65534 65534\nGid: 65534 65534 65534 65534\n\
                       Groups: \numask 0022\nnofile 1024 4096\ntotal 0\n"
            .to_owned();
        for fd in 0..=2 {
            out += &format!("lrwx------ 1 nobody nogroup 64 Nov 22 10:00 {fd} -> /dev/null\n");
        }
        for (i, link) in expected.iter().enumerate() {
            out += &format!(
                "l-wx------ 1 nobody nogroup 64 Nov 22 10:00 {} -> {link}\n",
                i + 3
            );
        }
        assert_eq!(check_probe(&out, &s, &expected), Ok(()));
        let swapped = out.replace("3 -> pipe:[1]", "3 -> pipe:[2]");
        assert!(check_probe(&swapped, &s, &expected).is_err());
        let extra = format!("{out}lr-x------ 1 nobody nogroup 64 Nov 22 10:00 9 -> /x\n");
        assert!(check_probe(&extra, &s, &expected).is_err());
        let root = out.replace("Uid: 65534 65534", "Uid: 0 65534");
        assert!(check_probe(&root, &s, &expected).is_err());
        let no_session = out.replace("session 9 9 9", "session 9 8 8");
        assert!(check_probe(&no_session, &s, &expected).is_err());
    }

    /// Both contenders' settings take, checked from inside a real child.
    /// (As root the child is nobody; otherwise it keeps this user's ids.)
    #[test]
    fn settings_take_effect() {
        let lines = verify(Path::new("/bin/sh")).unwrap();
        assert_eq!(lines.len(), 2);
    }
}

//! The sandbox options: capability sets in setpriv(1)'s spelling
//! (`--bounding-set -all,+net_bind_service`, `--inh-caps`,
//! `--ambient-caps`, `--keep-caps`), a seccomp filter in bwrap(1)'s form
//! (`--seccomp FILE`: a compiled classic BPF program, `struct
//! sock_filter`s), and a Landlock ruleset built here from
//! `--landlock-read PATH` and `--landlock-write PATH`: everything under the
//! paths given, nothing else. Each is a step of PROGRAM's set-up
//! (`capabilities`, `landlock_restrict_self`, `seccomp filter`), the last
//! two just before exec; both imply `--no-new-privs`, as bwrap does.

use std::path::PathBuf;

use clap::Args;
use spawnfd::{Capability, CapabilitySet, Command};

use crate::report::Error;
use crate::sys;

/// A list of capability changes: `+CAP`, `-CAP`, `CAP` (added), `+all`,
/// `-all`, applied in order to a starting set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapChanges(Vec<(bool, Option<Capability>)>);

impl CapChanges {
    fn apply(&self, start: CapabilitySet) -> CapabilitySet {
        self.0
            .iter()
            .fold(start, |set, &(add, cap)| match (add, cap) {
                (true, Some(cap)) => set.with(cap),
                (false, Some(cap)) => set.without(cap),
                (true, None) => CapabilitySet::from_raw(u64::MAX),
                (false, None) => CapabilitySet::empty(),
            })
    }
}

/// `(+|-)CAP,...`, as setpriv: a name with or without `cap_`, in any case,
/// or `all`; a bare name is added.
pub fn parse_cap_changes(s: &str) -> Result<CapChanges, String> {
    let mut changes = Vec::new();
    for item in s.split(',') {
        let (add, name) = match item.as_bytes().first() {
            Some(b'+') => (true, &item[1..]),
            Some(b'-') => (false, &item[1..]),
            _ => (true, item),
        };
        let cap = if name.eq_ignore_ascii_case("all") {
            None
        } else {
            Some(Capability::from_name(name).ok_or_else(|| {
                format!(
                    "unknown capability {name:?} in {s:?} (such as net_bind_service, CAP_KILL, all)"
                )
            })?)
        };
        changes.push((add, cap));
    }
    Ok(CapChanges(changes))
}

/// The sandbox options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sandbox")]
pub struct SandboxArgs {
    /// Change PROGRAM's capability bounding set ((+|-)CAP,...)
    ///
    /// As `setpriv --bounding-set`: starting from every capability, each
    /// item adds (+CAP, or CAP) or drops (-CAP) one, +all and -all every
    /// one; for example `-all,+net_bind_service`. A capability outside the
    /// bounding set can never be gained again, by PROGRAM or anything it
    /// runs. CAP is a name with or without CAP_, in any case. Needs
    /// CAP_SETPCAP (root).
    #[arg(long, value_name = "(+|-)CAP,...", allow_hyphen_values = true, value_parser = parse_cap_changes)]
    bounding_set: Option<CapChanges>,

    /// Set PROGRAM's inheritable capabilities ((+|-)CAP,..., from none)
    ///
    /// As `setpriv --inh-caps`, starting from an empty set. They reach a
    /// program only through its file's inheritable capabilities (see
    /// capabilities(7)); --ambient-caps does without.
    #[arg(long, value_name = "(+|-)CAP,...", allow_hyphen_values = true, value_parser = parse_cap_changes)]
    inh_caps: Option<CapChanges>,

    /// Give PROGRAM these ambient capabilities ((+|-)CAP,..., from none)
    ///
    /// As `setpriv --ambient-caps`: PROGRAM has them (permitted and
    /// effective) even as an unprivileged user, for instance `--user
    /// nobody --ambient-caps +net_bind_service` for a server on port 80.
    /// They are added to the inheritable set, and kept across the change
    /// of user. Each must be one spawnfd has, and in the bounding set.
    #[arg(long, value_name = "(+|-)CAP,...", allow_hyphen_values = true, value_parser = parse_cap_changes)]
    ambient_caps: Option<CapChanges>,

    /// Keep the permitted capabilities across the change of user
    ///
    /// PR_SET_KEEPCAPS (as `capsh --keep=1`); the effective set is cleared
    /// by the change all the same, and exec of an unprivileged program
    /// keeps only the ambient ones.
    #[arg(long)]
    keep_caps: bool,

    /// Install the seccomp filter in FILE, last before PROGRAM is executed
    ///
    /// FILE holds a compiled classic BPF program (struct sock_filter, 8
    /// bytes each, 1 to 4096 of them), as `bwrap --seccomp` reads it (use
    /// /dev/fd/N for an open fd). It filters PROGRAM and what it runs, not
    /// spawnfd's set-up, and must allow execve. Implies --no-new-privs.
    #[arg(long, value_name = "FILE")]
    seccomp: Option<PathBuf>,

    /// Let PROGRAM read and execute under PATH (repeatable)
    ///
    /// With --landlock-read or --landlock-write, PROGRAM runs under a
    /// Landlock ruleset (Linux 5.13) that denies every file system access
    /// but reading and executing under the --landlock-read paths and
    /// everything under the --landlock-write ones: give the directories
    /// of the program and its libraries too (/usr, /lib, ...). Applied
    /// just before exec. Implies --no-new-privs.
    #[arg(long, value_name = "PATH")]
    landlock_read: Vec<PathBuf>,

    /// Let PROGRAM read, write, create and remove under PATH (repeatable)
    ///
    /// See --landlock-read.
    #[arg(long, value_name = "PATH")]
    landlock_write: Vec<PathBuf>,
}

impl SandboxArgs {
    pub fn configure(&self, cmd: &mut Command) -> Result<(), Error> {
        if let Some(changes) = &self.bounding_set {
            cmd.capability_bounding_set(changes.apply(CapabilitySet::from_raw(u64::MAX)));
        }
        if let Some(changes) = &self.inh_caps {
            cmd.inheritable_capabilities(changes.apply(CapabilitySet::empty()));
        }
        if let Some(changes) = &self.ambient_caps {
            cmd.ambient_capabilities(changes.apply(CapabilitySet::empty()));
        }
        if self.keep_caps {
            cmd.keep_capabilities(true);
        }
        if let Some(file) = &self.seccomp {
            let filter = read_filter(file).map_err(|source| Error::Resolve {
                option: "--seccomp",
                value: file.display().to_string(),
                source,
            })?;
            cmd.no_new_privs(true).seccomp_filter(&filter);
        }
        if !self.landlock_read.is_empty() || !self.landlock_write.is_empty() {
            let ruleset = sys::landlock_ruleset(&self.landlock_read, &self.landlock_write)
                .map_err(|(path, source)| Error::Resolve {
                    option: if self.landlock_write.contains(&path) {
                        "--landlock-write"
                    } else {
                        "--landlock-read"
                    },
                    value: path.display().to_string(),
                    source,
                })?;
            cmd.no_new_privs(true).landlock_ruleset(ruleset);
        }
        Ok(())
    }
}

/// A compiled BPF program: 8-byte `struct sock_filter`s, native order.
fn read_filter(file: &std::path::Path) -> std::io::Result<Vec<libc::sock_filter>> {
    let bytes = std::fs::read(file)?;
    if bytes.is_empty() || bytes.len() % 8 != 0 || bytes.len() / 8 > 4096 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} bytes: a seccomp filter is 1 to 4096 instructions of 8 bytes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_changes_apply_in_order() {
        let all = CapabilitySet::from_raw(u64::MAX);
        let set = parse_cap_changes("-all,+net_bind_service,CAP_KILL")
            .unwrap()
            .apply(all);
        assert_eq!(set.as_raw(), 1 << 10 | 1 << 5);
        let set = parse_cap_changes("-sys_admin").unwrap().apply(all);
        assert!(!set.contains(Capability::SYS_ADMIN) && set.contains(Capability::CHOWN));
        assert!(parse_cap_changes("+nonsense").is_err());
        assert!(parse_cap_changes("").is_err());
    }
}

//! Taking over the fds named by `--fd CHILD=PARENT`, `--pass-fds LIST` and
//! `--cwd-fd PARENT` so that they can be handed to [`spawnfd::Command::fd`]
//! and [`spawnfd::Command::current_dir_fd`], which want owned fds.
//!
//! A range of `--pass-fds` stands for those of its fds that are open
//! ([`open_in`]); it is looked at before anything is claimed or
//! duplicated, for the same reason as below, and only below spawnfd's
//! hard limit of open files, so that `3-2147483647` is not two billion
//! system calls.
//!
//! A PARENT of 3 or more is an fd this process inherited and that nothing
//! in it owns, so it is claimed as is (`OwnedFd::from_raw_fd`). A PARENT of
//! 0, 1 or 2 is duplicated instead: this process keeps using its standard
//! fds (the JSON report goes to fd 1, messages to fd 2). A PARENT named by
//! several options is claimed once and duplicated for the others.
//!
//! Every PARENT is checked (`fcntl(F_GETFD)`) before any duplicate is made:
//! a duplicate takes the lowest free fd number, which could otherwise be a
//! closed PARENT that is still to be checked, and that check would then
//! wrongly succeed and claim the duplicate a second time.

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

use spawnfd::Resource;

use crate::args::{FdMapping, PassFds};
use crate::report::Error;
use crate::sys;

/// An option that names an fd of this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdOption {
    /// `--fd CHILD=PARENT`.
    Map(FdMapping),
    /// An fd of `--pass-fds`, given under its own number.
    Pass(RawFd),
    /// `--cwd-fd PARENT`.
    CwdFd(RawFd),
}

impl FdOption {
    /// The fd of this process that the option names.
    pub fn parent(self) -> RawFd {
        match self {
            FdOption::Map(mapping) => mapping.parent,
            FdOption::Pass(fd) | FdOption::CwdFd(fd) => fd,
        }
    }
}

impl fmt::Display for FdOption {
    /// The option as given on the command line, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdOption::Map(mapping) => write!(f, "--fd {mapping}"),
            FdOption::Pass(fd) => write!(f, "--pass-fds {fd}"),
            FdOption::CwdFd(fd) => write!(f, "--cwd-fd {fd}"),
        }
    }
}

/// The fds that `options` name, one for each, in the same order.
///
/// Call this before the process opens any fd of its own: a PARENT of 3 or
/// more must be one it inherited.
pub fn claim(options: &[FdOption]) -> Result<Vec<OwnedFd>, Error> {
    for &option in options {
        if !is_open(option.parent()) {
            return Err(Error::ParentFd {
                option,
                source: io::Error::last_os_error(),
            });
        }
    }

    let mut claimed = BTreeMap::new();
    for &option in options {
        let parent = option.parent();
        if claimed.contains_key(&parent) {
            continue;
        }
        let fd = if parent <= 2 {
            // SAFETY: the standard fds stay open for the life of the process
            // (it never closes them) and were just checked to be open.
            let borrowed = unsafe { BorrowedFd::borrow_raw(parent) };
            borrowed
                .try_clone_to_owned()
                .map_err(|source| Error::ParentFd { option, source })?
        } else {
            // SAFETY: the fd is open (checked above), was inherited, and
            // nothing else in this process owns it (see the caller's
            // contract); `claimed` takes it only once.
            unsafe { OwnedFd::from_raw_fd(parent) }
        };
        claimed.insert(parent, fd);
    }

    options
        .iter()
        .enumerate()
        .map(|(i, &option)| {
            let parent = option.parent();
            let used_again = options[i + 1..].iter().any(|o| o.parent() == parent);
            if used_again {
                claimed[&parent]
                    .try_clone()
                    .map_err(|source| Error::ParentFd { option, source })
            } else {
                Ok(claimed
                    .remove(&parent)
                    .expect("each PARENT is claimed once and removed at its last use"))
            }
        })
        .collect()
}

/// The fds that `items` of `--pass-fds` stand for, in increasing order,
/// each once: every single number (whether open or not: [`claim`] reports
/// one that is not), and the open fds of every range that are below the
/// hard limit of open files (`RLIMIT_NOFILE`; no fd can be opened at or
/// above it).
///
/// Call it before [`claim`], and before the process opens any fd of its
/// own: an fd open now is one it inherited.
pub fn open_in(items: &[PassFds]) -> Vec<RawFd> {
    let mut fds = std::collections::BTreeSet::new();
    let mut end = None;
    for &item in items {
        match item {
            PassFds::One(fd) => {
                fds.insert(fd);
            }
            PassFds::Range(first, last) => {
                let end = *end.get_or_insert_with(fd_limit);
                fds.extend((first..=last.min(end - 1)).filter(|&fd| is_open(fd)));
            }
        }
    }
    fds.into_iter().collect()
}

/// One more than the highest fd number this process can open: its hard
/// `RLIMIT_NOFILE`, at most `RawFd::MAX`. If the limit cannot be read,
/// `RawFd::MAX` (so a range is looked at in full).
fn fd_limit() -> RawFd {
    sys::resource_limit(Resource::NOFILE).map_or(RawFd::MAX, |(_, hard)| {
        RawFd::try_from(hard).unwrap_or(RawFd::MAX)
    })
}

/// Whether `fd` is an open fd of this process; if not, `errno` says why.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags; any number is allowed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

//! Taking over the fds named by `--fd CHILD=PARENT` so that they can be
//! handed to [`spawnfd::Command::fd`], which wants owned fds.
//!
//! A PARENT of 3 or more is an fd this process inherited and that nothing
//! in it owns, so it is claimed as is (`OwnedFd::from_raw_fd`). A PARENT of
//! 0, 1 or 2 is duplicated instead: this process keeps using its standard
//! fds (the JSON report goes to fd 1, messages to fd 2). A PARENT named by
//! several `--fd` options is claimed once and duplicated for the others.
//!
//! Every PARENT is checked (`fcntl(F_GETFD)`) before any duplicate is made:
//! a duplicate takes the lowest free fd number, which could otherwise be a
//! closed PARENT that is still to be checked, and that check would then
//! wrongly succeed and claim the duplicate a second time.

#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::args::FdMapping;
use crate::report::Error;

/// The fds to give the child, as `(child fd, source)` in the order of
/// `mappings`.
///
/// Call this before the process opens any fd of its own: a PARENT of 3 or
/// more must be one it inherited.
pub fn claim(mappings: &[FdMapping]) -> Result<Vec<(RawFd, OwnedFd)>, Error> {
    for &mapping in mappings {
        if !is_open(mapping.parent) {
            return Err(Error::ParentFd {
                mapping,
                source: io::Error::last_os_error(),
            });
        }
    }

    let mut claimed = BTreeMap::new();
    for mapping in mappings {
        if claimed.contains_key(&mapping.parent) {
            continue;
        }
        let fd = if mapping.parent <= 2 {
            // SAFETY: the standard fds stay open for the life of the process
            // (it never closes them) and were just checked to be open.
            let borrowed = unsafe { BorrowedFd::borrow_raw(mapping.parent) };
            borrowed
                .try_clone_to_owned()
                .map_err(|source| Error::ParentFd {
                    mapping: *mapping,
                    source,
                })?
        } else {
            // SAFETY: the fd is open (checked above), was inherited, and
            // nothing else in this process owns it (see the caller's
            // contract); `claimed` takes it only once.
            unsafe { OwnedFd::from_raw_fd(mapping.parent) }
        };
        claimed.insert(mapping.parent, fd);
    }

    mappings
        .iter()
        .enumerate()
        .map(|(i, mapping)| {
            let used_again = mappings[i + 1..].iter().any(|m| m.parent == mapping.parent);
            let fd = if used_again {
                claimed[&mapping.parent]
                    .try_clone()
                    .map_err(|source| Error::ParentFd {
                        mapping: *mapping,
                        source,
                    })?
            } else {
                claimed
                    .remove(&mapping.parent)
                    .expect("each PARENT is claimed once and removed at its last use")
            };
            Ok((mapping.child, fd))
        })
        .collect()
}

/// Whether `fd` is an open fd of this process; if not, `errno` says why.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags; any number is allowed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

//! Placing each source fd at its child fd number, then closing every other
//! fd: the algorithm the child runs, kept free of system calls so that it can
//! be property-tested against a simulated fd table.
//!
//! # The algorithm
//!
//! Input: slots `(target, src)` sorted by `target`, targets distinct and
//! non-negative, each `src` an open fd. Any relation between sources and
//! targets is allowed: swaps (`3←4, 4←3`), cycles, `src == target`, one
//! source for several targets, sources among 0..=2.
//!
//! 1. **Move endangered sources out of the way.** A source `s` is endangered
//!    when `s` is itself the target of a slot whose source is not `s`: pass 2
//!    would overwrite it before every slot that reads it has run. Each such
//!    `s` is duplicated once with `F_DUPFD_CLOEXEC` to a number above every
//!    target and source, and all slots reading `s` read the copy instead.
//!    After this pass no slot's source is the target of another
//!    non-identity slot.
//! 2. **Place.** For each slot, `dup3(src, target, 0)`, which leaves the new
//!    fd without `FD_CLOEXEC`; when `src == target` the fd is already there
//!    and only its `FD_CLOEXEC` flag is cleared (`dup3` refuses equal
//!    numbers, and `dup2` would keep the flag).
//! 3. **Close the rest** ([`close_unmapped`], run as the child's last step
//!    before exec, so that it also closes what the steps between opened). `close_range` over each gap between consecutive
//!    targets and from the last target to the top, which also closes the
//!    copies of pass 1. Where `close_range` is missing (before Linux 5.9;
//!    the child's ops also answer `ENOSYS` where `CLOSE_RANGE_CLOEXEC` is,
//!    before 5.11), [`FdOps::close_unlisted`] closes what is left by other
//!    means (the child marks it close-on-exec).
//!
//! Pass 1 costs one system call per endangered source, pass 2 one per slot,
//! pass 3 one per gap. The scan for endangered sources is a binary search
//! per slot plus a rewrite per moved source, O(n log n + moved · n).
//!
//! Everything here runs in the child: no allocation, no panics (no
//! indexing, no unchecked arithmetic).

#![deny(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::sys::raw::Errno;
use core::ffi::c_int;

/// One child fd and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The fd number in the child.
    pub(crate) target: c_int,
    /// The fd (in the child's table, before placing) that goes there.
    pub(crate) src: c_int,
}

/// The fd-table operations the algorithm needs.
pub(crate) trait FdOps {
    /// `fcntl(fd, F_DUPFD_CLOEXEC, min)`.
    fn dup_above(&mut self, fd: c_int, min: c_int) -> Result<c_int, Errno>;
    /// `dup3(src, dst, 0)`; `src != dst`.
    fn dup_onto(&mut self, src: c_int, dst: c_int) -> Result<(), Errno>;
    /// `fcntl(fd, F_SETFD, 0)`.
    fn clear_cloexec(&mut self, fd: c_int) -> Result<(), Errno>;
    /// `close_range(first, last)` (closing, or marking close-on-exec, every
    /// fd in the range); `ENOSYS` where the kernel lacks it.
    fn close_range(&mut self, first: u32, last: u32) -> Result<(), Errno>;
    /// Closes every open fd that is not a target of `slots`, without
    /// `close_range`.
    fn close_unlisted(&mut self, slots: &[Slot]) -> Result<(), Errno>;
}

/// Why placing failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Moving a source or placing it at this child fd failed.
    Map { target: c_int, errno: Errno },
    /// Closing the remaining fds failed.
    Close(Errno),
}

/// Runs passes 1 and 2 over `slots` (sorted by target, targets distinct).
pub(crate) fn place<O: FdOps>(ops: &mut O, slots: &mut [Slot]) -> Result<(), Failure> {
    let above = first_free_above(slots);

    // Pass 1: move endangered sources above every number in play.
    let mut i = 0;
    while let Some(&Slot { target, src }) = slots.get(i) {
        i = i.wrapping_add(1);
        if src == target || !overwritten_by_other(slots, src) {
            continue;
        }
        let copy = ops
            .dup_above(src, above)
            .map_err(|errno| Failure::Map { target, errno })?;
        for slot in slots.iter_mut() {
            if slot.src == src {
                slot.src = copy;
            }
        }
    }

    // Pass 2: place every source at its target.
    for slot in slots.iter() {
        let placed = if slot.src == slot.target {
            ops.clear_cloexec(slot.target)
        } else {
            ops.dup_onto(slot.src, slot.target)
        };
        placed.map_err(|errno| Failure::Map {
            target: slot.target,
            errno,
        })?;
    }
    Ok(())
}

/// Pass 3: closes every fd that is not a target of `slots`.
pub(crate) fn close_unmapped<O: FdOps>(ops: &mut O, slots: &[Slot]) -> Result<(), Failure> {
    // Pass 3: close every gap between targets, and above the last one.
    let mut first: u32 = 0;
    for slot in slots.iter() {
        let target = slot.target as u32;
        if target > first && close_gap(ops, slots, first, target.wrapping_sub(1))? == Closed::All {
            return Ok(());
        }
        first = target.wrapping_add(1);
    }
    close_gap(ops, slots, first, u32::MAX).map(drop)
}

#[derive(PartialEq, Eq)]
enum Closed {
    Gap,
    All,
}

fn close_gap<O: FdOps>(
    ops: &mut O,
    slots: &[Slot],
    first: u32,
    last: u32,
) -> Result<Closed, Failure> {
    match ops.close_range(first, last) {
        Ok(()) => Ok(Closed::Gap),
        // No close_range: close everything unlisted at once, which leaves
        // the remaining gaps empty.
        Err(Errno(libc::ENOSYS)) => ops
            .close_unlisted(slots)
            .map(|()| Closed::All)
            .map_err(Failure::Close),
        Err(errno) => Err(Failure::Close(errno)),
    }
}

/// Is `fd` the target of a slot whose source is some other fd?
fn overwritten_by_other(slots: &[Slot], fd: c_int) -> bool {
    match slots.binary_search_by_key(&fd, |s| s.target) {
        Ok(j) => slots.get(j).is_some_and(|s| s.src != fd),
        Err(_) => false,
    }
}

/// One more than the largest target or source.
fn first_free_above(slots: &[Slot]) -> c_int {
    let top = slots.iter().map(|s| s.target.max(s.src)).max().unwrap_or(2);
    top.saturating_add(1)
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A simulated fd table: fd -> (open file id, FD_CLOEXEC).
    #[derive(Debug, Default)]
    struct Table {
        fds: BTreeMap<c_int, (u32, bool)>,
        syscalls: usize,
        has_close_range: bool,
    }

    impl Table {
        fn file(&self, fd: c_int) -> Result<u32, Errno> {
            self.fds.get(&fd).map(|e| e.0).ok_or(Errno(libc::EBADF))
        }
    }

    impl FdOps for Table {
        fn dup_above(&mut self, fd: c_int, min: c_int) -> Result<c_int, Errno> {
            self.syscalls += 1;
            let file = self.file(fd)?;
            let new = (min..).find(|n| !self.fds.contains_key(n)).unwrap();
            self.fds.insert(new, (file, true));
            Ok(new)
        }
        fn dup_onto(&mut self, src: c_int, dst: c_int) -> Result<(), Errno> {
            self.syscalls += 1;
            assert_ne!(src, dst);
            let file = self.file(src)?;
            self.fds.insert(dst, (file, false));
            Ok(())
        }
        fn clear_cloexec(&mut self, fd: c_int) -> Result<(), Errno> {
            self.syscalls += 1;
            let e = self.fds.get_mut(&fd).ok_or(Errno(libc::EBADF))?;
            e.1 = false;
            Ok(())
        }
        fn close_range(&mut self, first: u32, last: u32) -> Result<(), Errno> {
            self.syscalls += 1;
            if !self.has_close_range {
                return Err(Errno(libc::ENOSYS));
            }
            assert!(first <= last);
            self.fds
                .retain(|&fd, _| !(first as i64..=last as i64).contains(&(fd as i64)));
            Ok(())
        }
        fn close_unlisted(&mut self, slots: &[Slot]) -> Result<(), Errno> {
            self.fds
                .retain(|fd, _| slots.iter().any(|s| s.target == *fd));
            Ok(())
        }
    }

    /// Builds a table with `open` fds (file id = 1000 + fd, cloexec set on
    /// odd fds), runs `place`, and checks the result exactly.
    fn check(open: &[c_int], mapping: &[(c_int, c_int)], has_close_range: bool) {
        let mut table = Table {
            has_close_range,
            ..Table::default()
        };
        for &fd in open {
            table.fds.insert(fd, (1000 + fd as u32, fd % 2 == 1));
        }
        let mut slots: Vec<Slot> = mapping
            .iter()
            .map(|&(target, src)| Slot { target, src })
            .collect();
        slots.sort_by_key(|s| s.target);
        let expected: BTreeMap<c_int, (u32, bool)> = mapping
            .iter()
            .map(|&(target, src)| (target, (1000 + src as u32, false)))
            .collect();
        place(&mut table, &mut slots).unwrap();
        close_unmapped(&mut table, &slots).unwrap();
        assert_eq!(table.fds, expected, "open {open:?} mapping {mapping:?}");
    }

    #[test]
    fn swap_cycle_identity_and_fanout() {
        let open = [0, 1, 2, 3, 4, 5, 9];
        check(&open, &[(0, 0), (1, 1), (2, 2), (3, 4), (4, 3)], true);
        check(&open, &[(3, 4), (4, 5), (5, 3)], true);
        check(&open, &[(5, 5), (6, 5), (0, 5)], true);
        check(&open, &[(0, 2), (1, 0), (2, 1)], true);
        check(&open, &[(1, 9), (9, 1)], false);
        check(&open, &[], true);
    }

    #[test]
    fn only_endangered_sources_are_moved() {
        let mut table = Table {
            has_close_range: true,
            ..Table::default()
        };
        for fd in 0..6 {
            table.fds.insert(fd, (fd as u32, false));
        }
        // 0..2 identity, 3 <- 5 (5 is not a target: no move), one gap above.
        let mut slots = vec![
            Slot { target: 0, src: 0 },
            Slot { target: 1, src: 1 },
            Slot { target: 2, src: 2 },
            Slot { target: 3, src: 5 },
        ];
        place(&mut table, &mut slots).unwrap();
        close_unmapped(&mut table, &slots).unwrap();
        assert_eq!(table.syscalls, 4 + 1);
    }

    #[test]
    fn bad_source_reports_its_target() {
        let mut table = Table {
            has_close_range: true,
            ..Table::default()
        };
        let mut slots = vec![Slot { target: 4, src: 7 }];
        assert_eq!(
            place(&mut table, &mut slots),
            Err(Failure::Map {
                target: 4,
                errno: Errno(libc::EBADF)
            })
        );
    }

    fn mapping_strategy() -> impl Strategy<Value = (Vec<c_int>, Vec<(c_int, c_int)>, bool)> {
        (
            proptest::collection::btree_set(0..24 as c_int, 1..16),
            proptest::collection::btree_set(0..24 as c_int, 0..12),
            any::<bool>(),
        )
            .prop_flat_map(|(open, targets, has_close_range)| {
                let open: Vec<c_int> = open.into_iter().collect();
                let n = targets.len();
                (
                    Just(open.clone()),
                    Just(targets.into_iter().collect::<Vec<_>>()),
                    proptest::collection::vec(proptest::sample::select(open), n),
                    Just(has_close_range),
                )
            })
            .prop_map(|(open, targets, sources, has_close_range)| {
                (
                    open,
                    targets.into_iter().zip(sources).collect(),
                    has_close_range,
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_mapping_is_placed_exactly((open, mapping, has_close_range) in mapping_strategy()) {
            check(&open, &mapping, has_close_range);
        }
    }
}

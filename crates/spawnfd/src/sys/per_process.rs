//! A value per process, found without taking a lock: for state that a
//! process created by `fork` must not share with its parent, and must not
//! reach through a lock that another thread of the parent may have held at
//! the moment of the fork (it would never be released in the child).

#![allow(unsafe_code)]

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A leaked value tagged with the pid of the process that created it.
struct Tagged<T> {
    pid: u32,
    value: T,
}

/// One `&'static T` per process. A process forked from one that had made
/// its value sees that value as stale (another pid): it never touches it,
/// and makes its own on first need; the stale one is leaked.
pub(crate) struct PerProcess<T: 'static> {
    current: AtomicPtr<Tagged<T>>,
}

impl<T: 'static> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess {
            current: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// This process's value, if it has made one.
    pub(crate) fn get(&self) -> Option<&'static T> {
        let current = self.current.load(Ordering::Acquire);
        // SAFETY: a non-null pointer stored here comes from `Box::leak` in
        // `get_or_init` (published with Release, read with Acquire) and is
        // never freed, so it is valid for 'static.
        let tagged: &'static Tagged<T> = unsafe { current.as_ref() }?;
        (tagged.pid == std::process::id()).then_some(&tagged.value)
    }

    /// This process's value, made with `make` if there is none yet. Two
    /// threads may both make one; the loser's is dropped unshared.
    pub(crate) fn get_or_init(&self, make: fn() -> T) -> &'static T {
        let pid = std::process::id();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: as in `get`.
            if let Some(tagged) = unsafe { current.as_ref() } {
                if tagged.pid == pid {
                    return &tagged.value;
                }
            }
            let fresh = Box::into_raw(Box::new(Tagged { pid, value: make() }));
            // On success the stale value (a parent's, or none) is leaked,
            // never freed: a thread of the parent may have been using it at
            // the fork, and its memory is all this process has of it.
            if self
                .current
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // SAFETY: `fresh` comes from `Box::into_raw` above and is now
                // published, never to be freed.
                return unsafe { &(*fresh).value };
            }
            // SAFETY: `fresh` was never published: this thread alone owns
            // it. Another thread of this process won; the next look finds
            // its value.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
}

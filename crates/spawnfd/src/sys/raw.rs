//! Raw system calls that touch no thread-local state, for the child.
//!
//! The child shares the parent's memory, including the `errno` of the thread
//! that spawned it, so it must not go through libc's wrappers. These functions
//! issue the `syscall` instruction directly and return the kernel's answer:
//! a non-negative value, or `Err(errno)`. (A child created without
//! `CLONE_VFORK` runs beside the spawning thread, so writing that thread's
//! `errno` would not even be harmless.) x86_64 and aarch64 only, as
//! [`super::arch`].

#![allow(unsafe_code)]

use core::ffi::c_long;

/// A system call's failure: the positive errno value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Errno(pub(crate) i32);

#[inline(always)]
fn result(ret: c_long) -> Result<c_long, Errno> {
    // The kernel returns -4095..-1 for errors.
    if (-4095..0).contains(&ret) {
        Err(Errno(ret.wrapping_neg() as i32))
    } else {
        Ok(ret)
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::asm;
    use core::ffi::c_long;

    /// # Safety
    /// The arguments must be valid for system call `nr`.
    #[inline(always)]
    pub(crate) unsafe fn syscall6(nr: c_long, a: [usize; 6]) -> c_long {
        let ret: c_long;
        // SAFETY: the caller vouches for the arguments; the kernel clobbers
        // only rcx and r11 besides the return register.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") nr => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use core::arch::asm;
    use core::ffi::c_long;

    /// # Safety
    /// The arguments must be valid for system call `nr`.
    #[inline(always)]
    pub(crate) unsafe fn syscall6(nr: c_long, a: [usize; 6]) -> c_long {
        let ret: c_long;
        // SAFETY: the caller vouches for the arguments; `svc 0` clobbers
        // nothing but x0.
        unsafe {
            asm!(
                "svc 0",
                in("x8") nr,
                inlateout("x0") a[0] => ret,
                in("x1") a[1],
                in("x2") a[2],
                in("x3") a[3],
                in("x4") a[4],
                in("x5") a[5],
                options(nostack),
            );
        }
        ret
    }
}

/// Issues system call `nr` with up to six arguments (unused ones zero).
///
/// # Safety
/// The arguments must be valid for system call `nr`: pointers must point to
/// memory of the size and mutability the call expects.
#[inline(always)]
pub(crate) unsafe fn call(nr: c_long, a: [usize; 6]) -> Result<c_long, Errno> {
    // SAFETY: forwarded contract.
    result(unsafe { imp::syscall6(nr, a) })
}

/// `syscall!(NR, a, b, …)`: [`call`] with the unused arguments zeroed.
macro_rules! syscall {
    ($nr:expr) => { $crate::sys::raw::call($nr, [0, 0, 0, 0, 0, 0]) };
    ($nr:expr, $a:expr) => { $crate::sys::raw::call($nr, [$a as usize, 0, 0, 0, 0, 0]) };
    ($nr:expr, $a:expr, $b:expr) => {
        $crate::sys::raw::call($nr, [$a as usize, $b as usize, 0, 0, 0, 0])
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr) => {
        $crate::sys::raw::call($nr, [$a as usize, $b as usize, $c as usize, 0, 0, 0])
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {
        $crate::sys::raw::call($nr, [$a as usize, $b as usize, $c as usize, $d as usize, 0, 0])
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        $crate::sys::raw::call(
            $nr,
            [$a as usize, $b as usize, $c as usize, $d as usize, $e as usize, 0],
        )
    };
}
pub(crate) use syscall;

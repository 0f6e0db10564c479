//! The instruction sequences that create a child on a stack of its own:
//! `clone3` and `clone`, issued directly so that the child starts in
//! `entry(arg)` with both values in registers.
//!
//! The child's instructions are marked as the outermost frame for
//! unwinders (`.cfi_undefined` of the return address, between
//! `.cfi_remember_state` and `.cfi_restore_state`, so the parent's path
//! keeps its unwind information): otherwise a backtrace taken in the child
//! (a panicking `pre_exec` hook with `RUST_BACKTRACE` set) follows this
//! function's frame description, which is the parent's, and reads above
//! the top of the child's stack, past the end of its mapping: the child
//! faults inside the panic machinery, leaving the spawning thread's
//! thread-local panic state (which the child shares) half-updated.
//!
//! Nothing the child needs is read from the parent's stack: `entry` and
//! `arg` travel in registers that the kernel copies into the child, and
//! the child's first instruction after the system call already runs on the
//! new stack. That matters when the parent is not suspended until exec
//! (the user-namespace and `PTRACE_TRACEME` paths): the spawning thread
//! returns from these functions while the child still runs.
//!
//! Supported: x86_64, built and tested on every CI run, and aarch64, whose
//! half of this file CI compiles to machine code (`.ci/aarch64-check.rs`:
//! its machines have no aarch64 standard library to build the whole crate
//! with, nor an aarch64 CPU to run it on).

#![allow(unsafe_code)]

use core::ffi::{c_int, c_void};

use super::clone::ChildFn;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("spawnfd supports x86_64 and aarch64 Linux only");

/// `clone3(args, size)`: the parent gets the kernel's answer (a pid or
/// `-errno`); the child calls `entry(arg)` on the stack that `args`
/// describes.
///
/// # Safety
/// `args` must point to a valid `struct clone_args` of `size` bytes whose
/// stack nobody else uses, and `entry` must never return.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn clone3(
    args: *const c_void,
    size: usize,
    entry: ChildFn,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: the caller's contract. In the parent this is a plain system
    // call that clobbers rcx and r11. In the child (rax == 0) the kernel has
    // switched to the new stack, which is 16-byte aligned, so `call` enters
    // `entry` with the ABI's alignment; rbp is cleared to end frame-pointer
    // walks there, and the CFI marks the return address undefined, which
    // ends DWARF unwinding there. `entry` never returns (ud2 traps if it
    // ever did).
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            ".cfi_remember_state",
            ".cfi_undefined rip",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            ".cfi_restore_state",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args,
            in("rsi") size,
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// `clone(flags, stack_top, parent_tid, child_tid, 0)`: as [`clone3`] for
/// kernels or sandboxes without it.
///
/// # Safety
/// `stack_top` must be the 16-byte aligned top of a stack nobody else
/// uses; `parent_tid` and `child_tid` must be valid for the flags given
/// (`CLONE_PIDFD` writes the pidfd through `parent_tid`); `entry` must
/// never return.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn clone(
    flags: u64,
    stack_top: *mut c_void,
    parent_tid: *mut c_int,
    child_tid: *mut u32,
    entry: ChildFn,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: as for `clone3`; x86_64 orders clone's arguments as flags,
    // stack, parent_tid, child_tid, tls.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            ".cfi_remember_state",
            ".cfi_undefined rip",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            ".cfi_restore_state",
            "2:",
            inlateout("rax") libc::SYS_clone => ret,
            in("rdi") flags,
            in("rsi") stack_top,
            in("rdx") parent_tid,
            in("r10") child_tid,
            in("r8") 0usize,
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// See the x86_64 version.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
pub(super) unsafe fn clone3(
    args: *const c_void,
    size: usize,
    entry: ChildFn,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: as for x86_64: `svc` changes no register but x0, in the
    // parent as in the child, so `arg` and `entry` reach the child in x10
    // and x11 (x18, x19, x29 and x30 are reserved or special). The child
    // (x0 == 0) runs on the new, 16-byte aligned stack, clears the frame
    // and link registers and calls `entry`, which never returns.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            ".cfi_remember_state",
            ".cfi_undefined x30",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x10",
            "blr x11",
            "brk #1",
            ".cfi_restore_state",
            "2:",
            in("x8") libc::SYS_clone3,
            inlateout("x0") args => ret,
            in("x1") size,
            in("x10") arg,
            in("x11") entry,
        );
    }
    ret
}

/// See the x86_64 version.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
pub(super) unsafe fn clone(
    flags: u64,
    stack_top: *mut c_void,
    parent_tid: *mut c_int,
    child_tid: *mut u32,
    entry: ChildFn,
    arg: *mut c_void,
) -> isize {
    let ret: isize;
    // SAFETY: as for `clone3`; aarch64 orders clone's arguments as flags,
    // stack, parent_tid, tls, child_tid.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            ".cfi_remember_state",
            ".cfi_undefined x30",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x10",
            "blr x11",
            "brk #1",
            ".cfi_restore_state",
            "2:",
            in("x8") libc::SYS_clone,
            inlateout("x0") flags => ret,
            in("x1") stack_top,
            in("x2") parent_tid,
            in("x3") 0usize,
            in("x4") child_tid,
            in("x10") arg,
            in("x11") entry,
        );
    }
    ret
}

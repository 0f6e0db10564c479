//! Creating the child: `clone3` (or `clone`) with `CLONE_VM | CLONE_VFORK |
//! CLONE_PIDFD` on a separate small stack, with every signal blocked around
//! the call.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// The signature of the function the child runs.
pub(crate) type ChildFn = unsafe extern "C" fn(*mut c_void) -> !;

/// The child's stack: usable bytes above one guard page.
const STACK_SIZE: usize = 64 * 1024;

/// A stack for one child, with a `PROT_NONE` guard page below it so that an
/// overflow faults instead of writing into a neighbouring mapping.
pub(crate) struct Stack {
    /// The start of the whole mapping (the guard page).
    base: *mut c_void,
    len: usize,
}

// SAFETY: a Stack is an anonymous mapping owned by whoever holds it; it is
// used by one child at a time.
unsafe impl Send for Stack {}

/// Stacks are reused: a spawn takes one and gives it back when the child has
/// exec'd or exited (the parent is suspended until then), so the steady state
/// costs no `mmap`. The pool holds at most as many stacks as spawns ever ran
/// at once, capped at [`POOL_MAX`].
static POOL: Mutex<Vec<Stack>> = Mutex::new(Vec::new());
const POOL_MAX: usize = 16;

impl Stack {
    pub(crate) fn take() -> io::Result<Stack> {
        if let Some(stack) = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(stack);
        }
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = STACK_SIZE + page;
        // SAFETY: a fresh anonymous private mapping; no existing memory is
        // touched.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the first page lies inside the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address, 16-byte aligned: stacks grow down.
    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping; mmap returns page-aligned
        // memory and `len` is a multiple of the page size.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }

    fn give_back(self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(self);
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and no child uses it any more.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The kernel's `struct clone_args` (first version, 64 bytes; since 5.3).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Which creation call works here: probed by the first spawn, then cached.
/// Only "refused" answers are cached, never transient ones like `EAGAIN`.
static METHOD: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const CLONE3: u8 = 1;
const CLONE: u8 = 2;

/// How the child was created, which decides what the child must clean up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// `clone3` with `CLONE_CLEAR_SIGHAND`: the kernel reset every caught
    /// signal to its default.
    Clone3,
    /// `clone` with `CLONE_PIDFD`: caught signals still point at the
    /// parent's handlers until the child resets them.
    Clone,
}

/// Tells which method the next spawn will use, probing nothing.
pub(crate) fn expected_method() -> Method {
    match METHOD.load(Ordering::Relaxed) {
        CLONE => Method::Clone,
        _ => Method::Clone3,
    }
}

/// A child that the kernel created.
pub(crate) struct Created {
    pub(crate) pid: u32,
    pub(crate) pidfd: OwnedFd,
}

/// Creates a child that shares our memory and runs `entry(arg)` on a stack of
/// its own; returns once the child has exec'd or exited.
///
/// If the method the caller planned for (`planned`) turns out not to be
/// available, returns `Ok(None)` after caching the answer, so the caller can
/// plan again for the other method.
///
/// The caller must hold a [`BlockAllSignals`] across the call (and so has
/// the thread's previous mask at hand for the child).
///
/// # Safety
/// `entry` must follow the rules of the `in_child` module, and `arg` must be
/// what `entry` expects and stay valid until this returns.
pub(crate) unsafe fn spawn_vfork(
    entry: ChildFn,
    arg: *mut c_void,
    planned: Method,
    _blocked: &BlockAllSignals,
) -> io::Result<Option<Created>> {
    let stack = Stack::take()?;
    let result = match planned {
        // SAFETY: forwarded contract; the stack is ours until we give it back.
        Method::Clone3 => unsafe { clone3(entry, arg, &stack) },
        // SAFETY: as above.
        Method::Clone => unsafe { clone_legacy(entry, arg, &stack) },
    };
    // The child has exec'd or exited: its stack is free again.
    stack.give_back();
    match result {
        Ok(created) => {
            METHOD.store(
                match planned {
                    Method::Clone3 => CLONE3,
                    Method::Clone => CLONE,
                },
                Ordering::Relaxed,
            );
            Ok(Some(created))
        }
        // ENOSYS: no clone3 (before 5.3). EPERM: a seccomp filter refusing
        // clone3 (older container profiles). EINVAL: clone3 without
        // CLONE_CLEAR_SIGHAND (5.3, 5.4). Our flags are otherwise fine.
        Err(e)
            if planned == Method::Clone3
                && matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS | libc::EPERM | libc::EINVAL)
                ) =>
        {
            METHOD.store(CLONE, Ordering::Relaxed);
            Ok(None)
        }
        // clone refusing CLONE_PIDFD (before 5.2).
        Err(e) if planned == Method::Clone && e.raw_os_error() == Some(libc::EINVAL) => {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel cannot create a process with a pidfd (CLONE_PIDFD needs Linux 5.2)",
            ))
        }
        Err(e) => Err(e),
    }
}

/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_CLEAR_SIGHAND)`.
///
/// # Safety
/// See [`spawn_vfork`].
unsafe fn clone3(entry: ChildFn, arg: *mut c_void, stack: &Stack) -> io::Result<Created> {
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD) as u64
            | CLONE_CLEAR_SIGHAND,
        pidfd: (&raw mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.base as u64,
        stack_size: stack.len as u64,
        ..CloneArgs::default()
    };
    // The kernel places the child's stack pointer at stack + stack_size,
    // the guard page stays at the bottom.
    // SAFETY: `args` is a valid clone_args; the child runs `entry(arg)` on
    // the fresh stack and never returns into this frame.
    let ret = unsafe { raw_clone3(&args, entry, arg) };
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(Created {
        pid: ret as u32,
        // SAFETY: the kernel stored a new pidfd that nobody else owns.
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
    })
}

/// Since Linux 5.5; not in every libc crate version.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

/// Issues clone3; in the child, calls `entry(arg)` on the new stack.
///
/// # Safety
/// `args.stack`/`stack_size` must describe a stack nobody else uses, and
/// `entry` must never return.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(args: &CloneArgs, entry: ChildFn, arg: *mut c_void) -> isize {
    let ret: isize;
    // SAFETY: the caller's contract. In the parent this is a plain syscall.
    // In the child (rax == 0) the kernel has switched to the new stack, which
    // is 16-byte aligned, so `call` enters `entry` with the ABI's alignment;
    // rbp is cleared to end frame-pointer walks there. `entry` never returns
    // (ud2 traps if it ever did).
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") core::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw_clone3(args: &CloneArgs, entry: ChildFn, arg: *mut c_void) -> isize {
    let ret: isize;
    // SAFETY: as for x86_64: the child (x0 == 0) runs on the new, 16-byte
    // aligned stack and calls `entry`, which never returns.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x19",
            "blr x20",
            "brk #1",
            "2:",
            in("x8") libc::SYS_clone3,
            inlateout("x0") args as *const CloneArgs => ret,
            in("x1") core::mem::size_of::<CloneArgs>(),
            in("x19") arg,
            in("x20") entry,
        );
    }
    ret
}

/// Elsewhere, report clone3 as missing so the `clone` path is used.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn raw_clone3(_: &CloneArgs, _: ChildFn, _: *mut c_void) -> isize {
    -(libc::ENOSYS as isize)
}

/// `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD)` through libc's
/// wrapper, which runs the function on the given stack.
///
/// # Safety
/// See [`spawn_vfork`].
unsafe fn clone_legacy(entry: ChildFn, arg: *mut c_void, stack: &Stack) -> io::Result<Created> {
    struct Call {
        entry: ChildFn,
        arg: *mut c_void,
    }
    extern "C" fn trampoline(call: *mut c_void) -> libc::c_int {
        // SAFETY: `call` points to the Call below, alive while the parent is
        // suspended; `entry` never returns.
        unsafe {
            let call = &*call.cast::<Call>();
            (call.entry)(call.arg)
        }
    }
    let mut call = Call { entry, arg };
    let mut pidfd: libc::c_int = -1;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: the stack is ours; with CLONE_PIDFD the kernel writes the
    // pidfd through the parent_tid argument.
    let pid = unsafe {
        libc::clone(
            trampoline,
            stack.top(),
            flags,
            (&raw mut call).cast(),
            &raw mut pidfd,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Created {
        pid: pid as u32,
        // SAFETY: a new pidfd that nobody else owns.
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
    })
}

/// Blocks every signal in the calling thread (including the ones libc keeps
/// for itself) and restores the old mask on drop, so that no handler runs
/// in the child before it has reset its dispositions.
pub(crate) struct BlockAllSignals {
    old: u64,
}

impl BlockAllSignals {
    pub(crate) fn new() -> io::Result<Self> {
        let all: u64 = !0;
        let mut old: u64 = 0;
        // SAFETY: 8-byte kernel sigsets that outlive the call. The raw call
        // is used because libc's wrappers refuse to block its own signals.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &raw const all,
                &raw mut old,
                8usize,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(BlockAllSignals { old })
    }

    /// The mask the thread had before.
    pub(crate) fn old(&self) -> u64 {
        self.old
    }
}

impl Drop for BlockAllSignals {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &raw const self.old,
                0usize,
                8usize,
            );
        }
    }
}

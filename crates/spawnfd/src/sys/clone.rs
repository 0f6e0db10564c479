//! Creating the child: `clone3` (or `clone`) with `CLONE_VM | CLONE_VFORK |
//! CLONE_PIDFD` on a separate small stack, with every signal blocked around
//! the call.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

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

/// The kernel's `struct clone_args` up to its third version (88 bytes,
/// since 5.7); the first 64 bytes are the first version (5.3).
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
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
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

/// What to create the child with, beyond the fixed flags.
#[derive(Default)]
pub(crate) struct Request<'a> {
    /// `CLONE_NEW*` flags.
    pub(crate) namespaces: u64,
    /// The signal the parent gets when the child exits; 0 for none.
    pub(crate) exit_signal: u64,
    /// A cgroup v2 directory to start the child in (`CLONE_INTO_CGROUP`).
    pub(crate) cgroup: Option<RawFd>,
    /// For a new user namespace: the parent's part between clone and exec.
    pub(crate) user_ns: Option<UserNsSetup<'a>>,
}

/// The hand-shake of a child in a new user namespace: the child waits on
/// `go` until the parent has run `setup(pid)` (which writes the id maps).
pub(crate) struct UserNsSetup<'a> {
    pub(crate) go: &'a AtomicU32,
    pub(crate) setup: &'a mut dyn FnMut(u32) -> io::Result<()>,
}

/// Creates a child that shares our memory and runs `entry(arg)` on a stack of
/// its own; returns once the child has exec'd or exited.
///
/// Normally the kernel suspends us until then (`CLONE_VFORK`). With a user
/// namespace the child must wait for us instead, so it is created without
/// `CLONE_VFORK` but with `CLONE_CHILD_CLEARTID` on a word of ours: the
/// kernel clears that word and wakes its futex when the child execs or
/// exits, the moment `CLONE_VFORK` would have woken us.
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
    request: Request<'_>,
    _blocked: &BlockAllSignals,
) -> io::Result<Option<Created>> {
    if planned == Method::Clone && request.cgroup.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "starting a child in a cgroup needs clone3 (Linux 5.7), which is not available",
        ));
    }
    let stack = Stack::take()?;
    // Nonzero until the kernel clears it (CLONE_CHILD_CLEARTID).
    let running = AtomicU32::new(1);
    let mut flags = libc::CLONE_VM as u64 | libc::CLONE_PIDFD as u64 | request.namespaces;
    flags |= if request.user_ns.is_some() {
        libc::CLONE_CHILD_CLEARTID as u64
    } else {
        libc::CLONE_VFORK as u64
    };
    let call = Call {
        entry,
        arg,
        flags,
        exit_signal: request.exit_signal,
        cgroup: request.cgroup,
        running: &running,
    };
    let result = match planned {
        // SAFETY: forwarded contract; the stack is ours until we give it back.
        Method::Clone3 => unsafe { clone3(&call, &stack) },
        // SAFETY: as above.
        Method::Clone => unsafe { clone_legacy(&call, &stack) },
    };
    let result = match (result, request.user_ns) {
        (Ok(created), Some(user_ns)) => {
            let setup = (user_ns.setup)(created.pid);
            if setup.is_err() {
                // The child must not go on without its maps.
                let _ = super::pidfd::send_signal(created.pidfd.as_fd(), libc::SIGKILL);
            }
            user_ns.go.store(1, Ordering::Release);
            futex_wake(user_ns.go);
            wait_until_cleared(&running);
            match setup {
                Ok(()) => Ok(created),
                Err(e) => {
                    let _ = super::pidfd::wait(created.pidfd.as_fd(), true, None);
                    stack.give_back();
                    return Err(e);
                }
            }
        }
        (result, _) => result,
    };
    // The child has exec'd or exited: its stack is free again.
    stack.give_back();
    let plain = request.namespaces == 0 && request.cgroup.is_none();
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
        // ENOSYS: no clone3 (before 5.3). With only our own flags, also
        // EPERM: a seccomp filter refusing clone3 (older container
        // profiles), and EINVAL: clone3 without CLONE_CLEAR_SIGHAND (5.3,
        // 5.4). With namespaces or a cgroup, those are the kernel's answer
        // to the request and are reported as they are.
        Err(e)
            if planned == Method::Clone3
                && match e.raw_os_error() {
                    Some(libc::ENOSYS) => true,
                    Some(libc::EPERM | libc::EINVAL) => plain,
                    _ => false,
                } =>
        {
            METHOD.store(CLONE, Ordering::Relaxed);
            Ok(None)
        }
        Err(e) if request.cgroup.is_some() && e.raw_os_error() == Some(libc::E2BIG) => {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "starting a child in a cgroup needs CLONE_INTO_CGROUP (Linux 5.7)",
            ))
        }
        // clone refusing CLONE_PIDFD (before 5.2).
        Err(e) if planned == Method::Clone && plain && e.raw_os_error() == Some(libc::EINVAL) => {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel cannot create a process with a pidfd (CLONE_PIDFD needs Linux 5.2)",
            ))
        }
        Err(e) => Err(e),
    }
}

/// One clone call's inputs.
struct Call<'a> {
    entry: ChildFn,
    arg: *mut c_void,
    /// Without the exit signal.
    flags: u64,
    exit_signal: u64,
    cgroup: Option<RawFd>,
    /// For `CLONE_CHILD_CLEARTID`.
    running: &'a AtomicU32,
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: a futex wake on a live, aligned u32.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// Sleeps until the kernel clears `word` (`CLONE_CHILD_CLEARTID`).
fn wait_until_cleared(word: &AtomicU32) {
    loop {
        let value = word.load(Ordering::Acquire);
        if value == 0 {
            return;
        }
        // SAFETY: a futex wait on a live, aligned u32 while it holds
        // `value`; EAGAIN, EINTR and spurious wake-ups loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                value,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }
}

/// `clone3(flags | CLONE_CLEAR_SIGHAND)`, into a cgroup if asked.
///
/// # Safety
/// See [`spawn_vfork`].
unsafe fn clone3(call: &Call<'_>, stack: &Stack) -> io::Result<Created> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: call.flags | CLONE_CLEAR_SIGHAND,
        pidfd: (&raw mut pidfd) as u64,
        child_tid: call.running.as_ptr() as u64,
        exit_signal: call.exit_signal,
        stack: stack.base as u64,
        stack_size: stack.len as u64,
        ..CloneArgs::default()
    };
    // The first version of the struct, known since 5.3, unless a cgroup
    // needs the third (5.7).
    let mut size = CLONE_ARGS_SIZE_VER0;
    if let Some(fd) = call.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
        size = std::mem::size_of::<CloneArgs>();
    }
    // The kernel places the child's stack pointer at stack + stack_size;
    // the guard page stays at the bottom.
    // SAFETY: `args` is a valid clone_args of `size` bytes; the child runs
    // `entry(arg)` on the fresh stack and never returns into this frame.
    let ret = unsafe { raw_clone3(&args, size, call.entry, call.arg) };
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    Ok(Created {
        pid: ret as u32,
        // SAFETY: the kernel stored a new pidfd that nobody else owns.
        pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
    })
}

/// Since Linux 5.7.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// The size of the first version of `struct clone_args`.
const CLONE_ARGS_SIZE_VER0: usize = 64;

/// Since Linux 5.5; not in every libc crate version.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

/// Issues clone3; in the child, calls `entry(arg)` on the new stack.
///
/// # Safety
/// `args.stack`/`stack_size` must describe a stack nobody else uses, and
/// `entry` must never return.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(args: &CloneArgs, size: usize, entry: ChildFn, arg: *mut c_void) -> isize {
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
            in("rsi") size,
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw_clone3(args: &CloneArgs, size: usize, entry: ChildFn, arg: *mut c_void) -> isize {
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
            in("x1") size,
            in("x19") arg,
            in("x20") entry,
        );
    }
    ret
}

/// Elsewhere, report clone3 as missing so the `clone` path is used.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn raw_clone3(_: &CloneArgs, _: usize, _: ChildFn, _: *mut c_void) -> isize {
    -(libc::ENOSYS as isize)
}

/// `clone(flags | exit signal)` through libc's wrapper, which runs the function
/// on the given stack.
///
/// # Safety
/// See [`spawn_vfork`].
unsafe fn clone_legacy(call: &Call<'_>, stack: &Stack) -> io::Result<Created> {
    struct Entry {
        entry: ChildFn,
        arg: *mut c_void,
    }
    extern "C" fn trampoline(entry: *mut c_void) -> libc::c_int {
        // SAFETY: `entry` points to the Entry below, alive while the parent
        // waits; the function never returns.
        unsafe {
            let entry = &*entry.cast::<Entry>();
            (entry.entry)(entry.arg)
        }
    }
    let mut entry = Entry {
        entry: call.entry,
        arg: call.arg,
    };
    let mut pidfd: libc::c_int = -1;
    let flags = call.flags as libc::c_int | call.exit_signal as libc::c_int;
    // SAFETY: the stack is ours; with CLONE_PIDFD the kernel writes the
    // pidfd through the parent_tid argument, and with CLONE_CHILD_CLEARTID
    // it clears `running` through child_tid.
    let pid = unsafe {
        libc::clone(
            trampoline,
            stack.top(),
            flags,
            (&raw mut entry).cast(),
            &raw mut pidfd,
            std::ptr::null_mut::<c_void>(),
            call.running.as_ptr(),
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

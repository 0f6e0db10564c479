//! Creating the child: `clone3` (or `clone`) with `CLONE_VM | CLONE_VFORK |
//! CLONE_PIDFD` on a separate small stack, with every signal blocked around
//! the call, and learning which of those calls this kernel and sandbox
//! allow (down to `clone` without `CLONE_PIDFD`, whose child `sys::watch`
//! watches by pid).

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use super::arch;
use super::pidfd::Target;
use crate::spawn::attrs::CLONE_NEWTIME;

/// The signature of the function the child runs.
pub(crate) type ChildFn = unsafe extern "C" fn(*mut c_void) -> !;

/// The child's stack: usable bytes above one guard page. The library's
/// own steps need a few KiB.
const STACK_SIZE: usize = 64 * 1024;

/// The stack of a child that runs user code (`pre_exec` hooks, the
/// function of `spawn_fn`): code the library does not know, which may call
/// libc functions with large frames and, if it panics, runs the panic
/// machinery (message formatting, the unwinder) before the child catches
/// it. Four times the plain path's; still far below a thread's default
/// (2 MiB for Rust's threads, 8 MiB for glibc's), which the documentation
/// of `Command::pre_exec` says.
const BIG_STACK_SIZE: usize = 256 * 1024;

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
/// exec'd or exited, so the steady state costs no `mmap`. The pool holds at
/// most as many stacks as spawns ever ran at once, capped at [`POOL_MAX`].
/// It is a row of atomic slots rather than a locked list: a process forked
/// while another thread was taking a stack would find a lock held forever.
static POOL: [AtomicPtr<c_void>; POOL_MAX] = [const { AtomicPtr::new(ptr::null_mut()) }; POOL_MAX];
const POOL_MAX: usize = 16;

/// The pool of [`BIG_STACK_SIZE`] stacks, as [`POOL`], smaller: commands
/// with hooks are the exception.
static BIG_POOL: [AtomicPtr<c_void>; BIG_POOL_MAX] =
    [const { AtomicPtr::new(ptr::null_mut()) }; BIG_POOL_MAX];
const BIG_POOL_MAX: usize = 4;

/// The length of a stack mapping of `size` usable bytes: those and the
/// guard page.
fn stack_len(size: usize) -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    size + page
}

/// The pool and the usable size of a stack kind.
fn pool(big: bool) -> (&'static [AtomicPtr<c_void>], usize) {
    if big {
        (&BIG_POOL, BIG_STACK_SIZE)
    } else {
        (&POOL, STACK_SIZE)
    }
}

impl Stack {
    /// A stack of 64 KiB, or with `big` of 256 KiB (for user code).
    pub(crate) fn take(big: bool) -> io::Result<Stack> {
        let (pool, size) = pool(big);
        let len = stack_len(size);
        for slot in pool {
            if slot.load(Ordering::Relaxed).is_null() {
                continue;
            }
            let base = slot.swap(ptr::null_mut(), Ordering::Acquire);
            if !base.is_null() {
                return Ok(Stack { base, len });
            }
        }
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
        if unsafe { libc::mprotect(base, len - size, libc::PROT_NONE) } != 0 {
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

    /// Returns the stack to the pool, or unmaps it if the pool is full.
    fn give_back(self) {
        let stack = std::mem::ManuallyDrop::new(self);
        let (pool, _) = pool(stack.len == stack_len(BIG_STACK_SIZE));
        for slot in pool {
            let free = slot.compare_exchange(
                ptr::null_mut(),
                stack.base,
                Ordering::Release,
                Ordering::Relaxed,
            );
            if free.is_ok() {
                return;
            }
        }
        drop(std::mem::ManuallyDrop::into_inner(stack));
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

/// How the child is created, best first. Which one works is a fact about
/// the kernel and its sandbox, the same for every request: see
/// [`spawn_vfork`] for how it is learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Method {
    /// `clone3` with `CLONE_CLEAR_SIGHAND` (Linux 5.5): the kernel resets
    /// every caught signal to its default in the child.
    Clone3,
    /// `clone3` without it (Linux 5.3 and 5.4 refuse the flag): caught
    /// signals still point at the parent's handlers until the child resets
    /// them.
    Clone3NoClear,
    /// `clone` with `CLONE_PIDFD` (Linux 5.2), where `clone3` is missing or
    /// refused by a seccomp filter; no `CLONE_INTO_CGROUP`.
    Clone,
    /// `clone` without `CLONE_PIDFD`, where `clone` refuses it (before
    /// 5.2): the child is watched by pid instead (`sys::watch`).
    CloneNoPidfd,
}

impl Method {
    /// The system call the method makes.
    pub(crate) fn syscall(self) -> &'static str {
        match self {
            Method::Clone3 | Method::Clone3NoClear => "clone3",
            Method::Clone | Method::CloneNoPidfd => "clone",
        }
    }

    const ALL: [Method; 4] = [
        Method::Clone3,
        Method::Clone3NoClear,
        Method::Clone,
        Method::CloneNoPidfd,
    ];

    /// Whether the kernel resets caught signals (`CLONE_CLEAR_SIGHAND`), so
    /// the child need not.
    pub(crate) fn clears_handlers(self) -> bool {
        self == Method::Clone3
    }

    /// The method to try when this one is refused.
    fn next(self) -> Option<Method> {
        match self {
            Method::Clone3 => Some(Method::Clone3NoClear),
            Method::Clone3NoClear => Some(Method::Clone),
            Method::Clone => Some(Method::CloneNoPidfd),
            Method::CloneNoPidfd => None,
        }
    }

    /// Whether the child comes with a pidfd (`CLONE_PIDFD`).
    pub(crate) fn has_pidfd(self) -> bool {
        self != Method::CloneNoPidfd
    }
}

/// Whether this kernel refused `CLONE_INTO_CGROUP` (`E2BIG`: its `struct
/// clone_args` has no cgroup field, before Linux 5.7): a child asked to
/// start in a cgroup then moves itself there (see [`cgroup_by_clone`]).
/// A fact about the kernel, so never unlearned.
static NO_INTO_CGROUP: AtomicBool = AtomicBool::new(false);

/// Whether `method` starts a child in its cgroup itself
/// (`CLONE_INTO_CGROUP`, Linux 5.7). Where it cannot (`clone`, or a kernel
/// that refused the flag), the caller asks the child to move itself: it
/// writes `0` to the cgroup's `cgroup.procs` first thing, before any
/// other step, with the same errors at the same step ([`Step::Clone`]).
///
/// [`Step::Clone`]: crate::Step::Clone
pub(crate) fn cgroup_by_clone(method: Method) -> bool {
    method < Method::Clone && !NO_INTO_CGROUP.load(Ordering::Relaxed)
}

/// The best method known to work here, as an index into [`Method::ALL`]:
/// starts at the best and only ever moves down, when a better one was
/// refused and a worse one then created the same child.
static METHOD: AtomicU8 = AtomicU8::new(0);

/// The method the next spawn starts with.
pub(crate) fn expected_method() -> Method {
    Method::ALL
        .get(usize::from(METHOD.load(Ordering::Relaxed)))
        .copied()
        .unwrap_or(Method::CloneNoPidfd)
}

/// Whether a child created with `CLONE_VM` shares this process's memory:
/// 0 not known yet, 1 yes, 2 no.
static VM_SHARED: AtomicU8 = AtomicU8::new(0);

/// Whether a child created with `CLONE_VM` really shares our memory.
///
/// Under valgrind (and, by its source, qemu-user) it does not: such a
/// clone is run as a fork, so the child would set itself up and exec in
/// a copy of our memory, its report would never reach us, and the
/// program would run while the spawn failed. Where it does not, children
/// are made on the fork path, whose report travels through a pipe.
///
/// Asked once per process, before its first such spawn, by a child that
/// stores one word in our memory and exits. That child has no exit signal
/// and is reaped at once with `__WALL`, so no `waitpid(-1)` elsewhere can
/// see it. When no child can be made to ask (a transient error), the
/// answer is "shared" and the question is asked again next time.
pub(crate) fn vm_shared() -> bool {
    match VM_SHARED.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    let Some(shared) = probe_vm_shared() else {
        return true;
    };
    VM_SHARED.store(if shared { 1 } else { 2 }, Ordering::Relaxed);
    shared
}

/// The question `vm_shared` asks once, asked now (the capability report
/// asks it anew); `None` when no child could be made to ask.
pub(crate) fn probe_vm_shared() -> Option<bool> {
    let word = AtomicU32::new(0);
    let blocked = BlockAllSignals::new().ok()?;
    let mut method = expected_method();
    let created = loop {
        // SAFETY: `store_one` follows the child rules (one atomic store and
        // a raw exit) and `word` outlives the call, which returns once the
        // child has exited.
        let result = unsafe {
            spawn_vfork(
                store_one,
                (&raw const word).cast_mut().cast(),
                method,
                Request {
                    probe: true,
                    ..Request::default()
                },
                &blocked,
            )
        };
        match result {
            Ok(created) => break created,
            Err(Failure::Refused { next, .. }) => method = next,
            Err(Failure::Error(_)) => return None,
        }
    };
    drop(blocked);
    // Ours, unreaped, and invisible to a waitpid(-1) without __WALL: its
    // pid names it until this reap.
    let flags = libc::WEXITED | libc::__WALL;
    while let Err(e) = super::pidfd::waitid_on(Target::Pid(created.pid), flags, None) {
        if e.raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    Some(word.load(Ordering::Acquire) == 1)
}

/// The probe's child: stores 1 in the word it is given, and exits.
///
/// # Safety
/// `arg` points to an `AtomicU32` that lives until the parent is woken.
unsafe extern "C" fn store_one(arg: *mut c_void) -> ! {
    // SAFETY: by the contract, a live AtomicU32.
    unsafe { &*arg.cast::<AtomicU32>() }.store(1, Ordering::Release);
    loop {
        // SAFETY: exit_group takes an integer and does not return.
        let _ = unsafe { super::raw::syscall!(libc::SYS_exit_group, 0) };
    }
}

/// A child that the kernel created.
pub(crate) struct Created {
    pub(crate) pid: u32,
    /// `None` from [`Method::CloneNoPidfd`] (or a kernel that ignored
    /// `CLONE_PIDFD`): the child is to be watched by pid.
    pub(crate) pidfd: Option<OwnedFd>,
}

/// Why [`spawn_vfork`] created no child.
pub(crate) enum Failure {
    /// This method is refused here (`ENOSYS`, `EPERM` or `EINVAL` from the
    /// kernel or a seccomp filter): plan again for `next`. (When no method
    /// is left, the last refusal is the answer, as a [`Failure::Error`].)
    Refused { next: Method, errno: i32 },
    /// A final error.
    Error(io::Error),
}

/// What to create the child with, beyond the fixed flags.
#[derive(Default)]
pub(crate) struct Request<'a> {
    /// `CLONE_NEW*` flags.
    pub(crate) namespaces: u64,
    /// The signal the parent gets when the child exits; 0 for none.
    pub(crate) exit_signal: u64,
    /// A cgroup v2 directory to start the child in (`CLONE_INTO_CGROUP`);
    /// only where [`cgroup_by_clone`] says the method can.
    pub(crate) cgroup: Option<RawFd>,
    /// For a new user namespace: the parent's part between clone and exec.
    pub(crate) user_ns: Option<UserNsSetup<'a>>,
    /// The child calls `PTRACE_TRACEME`: a signal that reaches it before
    /// exec stops it for its tracer, which is the spawning thread.
    pub(crate) traced: bool,
    /// Whether the child is waited for by pid (no `waitid(P_PIDFD)` here,
    /// see `sys::watch`), also by the guard of an attended child.
    pub(crate) by_pid: bool,
    /// The child runs user code: give it the 256 KiB stack.
    pub(crate) big_stack: bool,
    /// A probe of the library's own ([`vm_shared`]): what it learns about
    /// the methods is not remembered, so that the first real request
    /// still names every method's answer in its errors.
    pub(crate) probe: bool,
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
/// Normally the kernel suspends us until then (`CLONE_VFORK`). Two kinds of
/// child need the spawning thread awake instead: one in a new user
/// namespace waits for us to write its id maps, and a traced one
/// (`PTRACE_TRACEME`) stops for its tracer, the spawning thread, when a
/// signal reaches it before exec. Those are created without `CLONE_VFORK`
/// but with `CLONE_CHILD_CLEARTID` on a word of ours: the kernel clears that
/// word and wakes its futex when the child execs or exits, the moment
/// `CLONE_VFORK` would have woken us. Until then the child reads `arg` and
/// the word, so nothing leaves this function before the word is clear, on
/// any path: an error or a panic in between kills the child and waits (see
/// [`Attended`]).
///
/// # Choosing the method
///
/// `method` is where to start, normally [`expected_method`]. A refusal
/// (`ENOSYS`: no `clone3`; `EPERM`: a seccomp filter; `EINVAL`: an unknown
/// flag such as `CLONE_CLEAR_SIGHAND` before 5.5) comes back as
/// [`Failure::Refused`], and the caller plans again for the next method. The
/// first method that creates the child is remembered for later spawns only
/// if a better one was refused for this same request, so what is remembered
/// says something about the kernel, never about the request (a namespace
/// refused for lack of privilege is refused by every method alike), and the
/// outcome of a spawn never depends on what was spawned before.
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
    method: Method,
    request: Request<'_>,
    _blocked: &BlockAllSignals,
) -> Result<Created, Failure> {
    // (`request.cgroup` was asked for while `cgroup_by_clone(method)`
    // held; another thread may have learnt since that the kernel refuses
    // CLONE_INTO_CGROUP. The kernel then refuses this clone too, and the
    // caller plans again with the child joining its cgroup.)
    if method >= Method::Clone && request.namespaces & CLONE_NEWTIME != 0 {
        return Err(Failure::Error(io::Error::new(
            io::ErrorKind::Unsupported,
            NEWTIME_NEEDS_CLONE3,
        )));
    }
    let stack = Stack::take(request.big_stack).map_err(Failure::Error)?;
    // Nonzero until the kernel clears it (CLONE_CHILD_CLEARTID). Declared
    // before the guard below, so that it outlives the guard's wait.
    let running = AtomicU32::new(1);
    let attended = request.user_ns.is_some() || request.traced;
    let mut flags = libc::CLONE_VM as u64 | request.namespaces;
    if method.has_pidfd() {
        flags |= libc::CLONE_PIDFD as u64;
    }
    flags |= if attended {
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
    let result = match method {
        // SAFETY: forwarded contract; the stack is ours until we give it back.
        Method::Clone3 => unsafe { clone3(&call, &stack, true) },
        // SAFETY: as above.
        Method::Clone3NoClear => unsafe { clone3(&call, &stack, false) },
        // SAFETY: as above.
        Method::Clone | Method::CloneNoPidfd => unsafe { clone_legacy(&call, &stack) },
    };
    let created = match result {
        Ok(created) => created,
        Err(error) => return Err(refusal(method, &request, error)),
    };
    if attended {
        // Until the word is clear the child runs on `stack` and reads `arg`
        // and `running`: the guard kills it and waits if we leave early.
        let target = match &created.pidfd {
            Some(fd) if !request.by_pid => Target::Pidfd(fd.as_fd()),
            // Unreaped until the guard or the caller reaps it.
            _ => Target::Pid(created.pid),
        };
        let mut guard = Attended {
            running: &running,
            target,
            pid: created.pid,
            traced: request.traced,
            done: false,
        };
        if let Some(user_ns) = request.user_ns {
            // The child must not go on without its maps: on an error the
            // guard kills and reaps it.
            (user_ns.setup)(created.pid).map_err(Failure::Error)?;
            user_ns.go.store(1, Ordering::Release);
            futex_wake(user_ns.go);
        }
        guard.wait();
    }
    // The child has exec'd or exited: its stack is free again.
    stack.give_back();
    if request.probe {
        return Ok(created);
    }
    if method > expected_method() {
        // A better method was refused for this request and this one
        // created the child: remember it. (Never moves back up.)
        let index = Method::ALL.iter().position(|&m| m == method).unwrap_or(0);
        METHOD.fetch_max(index as u8, Ordering::Relaxed);
    }
    if method == Method::Clone && created.pidfd.is_none() {
        // A kernel that ignored CLONE_PIDFD: as good as a refusal of it.
        let index = Method::ALL.len() - 1;
        METHOD.fetch_max(index as u8, Ordering::Relaxed);
    }
    Ok(created)
}

/// Sorts a failed creation into a refusal of the method (try the next) or
/// the kernel's answer to the request.
fn refusal(method: Method, request: &Request<'_>, error: io::Error) -> Failure {
    let errno = error.raw_os_error();
    if request.cgroup.is_some() && errno == Some(libc::E2BIG) {
        // Before 5.7 the kernel does not know the larger clone_args: the
        // same method again, with the child moving itself.
        NO_INTO_CGROUP.store(true, Ordering::Relaxed);
        return Failure::Refused {
            next: method,
            errno: libc::E2BIG,
        };
    }
    let refused = matches!(errno, Some(libc::ENOSYS | libc::EPERM | libc::EINVAL));
    if refused && request.namespaces & CLONE_NEWTIME != 0 && method.next() == Some(Method::Clone) {
        // As for a cgroup: clone cannot carry the flag, so clone3's
        // refusal is the answer, whatever was spawned before.
        return Failure::Error(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{NEWTIME_NEEDS_CLONE3}; clone3 refused it here: {error}"),
        ));
    }
    let next = method.next();
    match (errno, next) {
        // clone refusing CLONE_PIDFD (EINVAL; kernels before 5.2 ignore
        // the flag, emulators and filters refuse it) goes on to clone
        // without it, remembered only if that then creates this very
        // child. EPERM from clone is about the request (namespaces,
        // privilege), never the pidfd: it is the answer.
        (Some(libc::EINVAL), Some(next)) if method == Method::Clone => Failure::Refused {
            next,
            errno: libc::EINVAL,
        },
        (_, Some(_)) if method == Method::Clone => Failure::Error(error),
        (Some(errno @ (libc::ENOSYS | libc::EPERM | libc::EINVAL)), Some(next)) => {
            Failure::Refused { next, errno }
        }
        _ => Failure::Error(error),
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

/// A child created without `CLONE_VFORK`, until it has exec'd or exited.
///
/// Its stack, the context it reads and the word the kernel clears all live
/// in frames of the spawning thread. [`Attended::wait`] returns once the
/// word is clear; dropping the guard before that (an error, a panic while
/// writing the id maps) kills the child, waits all the same and reaps it,
/// so no path frees what the child still uses or leaves a zombie.
struct Attended<'a> {
    running: &'a AtomicU32,
    target: Target<'a>,
    pid: u32,
    traced: bool,
    done: bool,
}

impl Attended<'_> {
    /// Sleeps until the kernel clears the word. A traced child that stops
    /// before exec (a signal reached it once its mask was set) is stopped
    /// for us, its tracer: the signal is handed back to it
    /// (`PTRACE_CONT`), so it is delivered as if nobody traced the child.
    /// The stop after exec (`SIGTRAP`) is left for the caller.
    fn wait(&mut self) {
        if self.traced {
            // How long to sleep before looking for a stop: from 50 µs,
            // doubling to 5 ms while nothing happens, back to 50 µs after a
            // stop (a signal must arrive in the few microseconds before
            // exec, and the child makes no progress until it is resumed).
            let mut poll = Duration::from_micros(50);
            while self.running.load(Ordering::Acquire) != 0 {
                let timeout = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: poll.subsec_nanos() as libc::c_long,
                };
                futex_wait(self.running, 1, Some(&timeout));
                if self.running.load(Ordering::Acquire) == 0 {
                    break;
                }
                let running = self.running;
                let exec_seen = || running.load(Ordering::Acquire) == 0;
                poll = if resume_if_stopped(self.target, self.pid, exec_seen) {
                    Duration::from_micros(50)
                } else {
                    (poll * 2).min(Duration::from_millis(5))
                };
            }
        } else {
            wait_until_cleared(self.running);
        }
        self.done = true;
    }
}

impl Drop for Attended<'_> {
    fn drop(&mut self) {
        if !self.done {
            // SIGKILL ends even a stopped child; its exit clears the word.
            // Then reap it: the caller gets an error, not a child.
            // (Unreaped until the wait below: a pid target is exact.)
            let _ = super::pidfd::signal_target(self.target, libc::SIGKILL);
            wait_until_cleared(self.running);
            // Until its exit: a ptrace stop (reported whatever the flags
            // say) is no reap. None should come after SIGKILL and the
            // cleared word, but one taken would leave a zombie.
            loop {
                match super::pidfd::waitid_on(self.target, libc::WEXITED | libc::__WALL, None) {
                    Ok(Some(event)) if !event.is_exit() => {}
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                    _ => break,
                }
            }
        }
    }
}

/// Resumes a traced child stopped before exec, re-injecting the signal of
/// a signal-delivery stop (`PTRACE_GETSIGINFO` succeeds only for those; a
/// group stop is resumed with none). Whether it was resumed.
///
/// `exec_seen` says whether the child has exec'd (or exited) as the
/// caller can tell: the cleared word, the report pipe's end of file. It
/// is asked once a stop is seen, and a stop seen with `exec_seen` true is
/// left alone: it is the stop after exec (`SIGTRAP`, or a signal that
/// came after it), which is the caller's. The answer cannot be stale: a
/// stopped child makes no progress, so one that had not exec'd when it
/// stopped still has not, and exec clears the word and closes the pipe
/// before its own stop.
pub(crate) fn resume_if_stopped(
    target: Target<'_>,
    pid: u32,
    exec_seen: impl Fn() -> bool,
) -> bool {
    // Not consumed (WNOWAIT): once the child runs again the kernel reports
    // the stop no more, and if resuming failed, the next look finds it.
    let flags = libc::WSTOPPED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    let Ok(Some(stop)) = super::pidfd::waitid_on(target, flags, None) else {
        return false;
    };
    if exec_seen() {
        return false;
    }
    let mut sig = stop.status;
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut delivery: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: the child is our tracee, stopped and unreaped (it cannot
    // have been reaped: it has not exited), so `pid` names it; the kernel
    // writes one siginfo_t.
    if unsafe {
        libc::ptrace(
            libc::PTRACE_GETSIGINFO,
            pid as libc::pid_t,
            std::ptr::null_mut::<c_void>(),
            &raw mut delivery,
        )
    } != 0
    {
        sig = 0;
    }
    // SAFETY: as above; `sig` is a signal number or 0.
    unsafe {
        libc::ptrace(
            libc::PTRACE_CONT,
            pid as libc::pid_t,
            std::ptr::null_mut::<c_void>(),
            sig as usize as *mut c_void,
        );
    }
    true
}

/// Raw system calls, not libc's: while an attended child runs (it shares
/// this thread's thread-local storage, and may be running a `pre_exec`
/// hook that reads `errno`), the spawning thread writes no `errno`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: a futex wake on a live, aligned u32.
    let _ =
        unsafe { super::raw::syscall!(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}

/// Sleeps while `word` holds `value`, at most `timeout`; EAGAIN, EINTR,
/// time-outs and spurious wake-ups just return. A raw system call, as
/// [`futex_wake`].
fn futex_wait(word: &AtomicU32, value: u32, timeout: Option<&libc::timespec>) {
    let timeout = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: a futex wait on a live, aligned u32 with a valid (or NULL)
    // relative timeout.
    let _ = unsafe {
        super::raw::syscall!(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            value,
            timeout
        )
    };
}

/// Sleeps until the kernel clears `word` (`CLONE_CHILD_CLEARTID`).
fn wait_until_cleared(word: &AtomicU32) {
    loop {
        let value = word.load(Ordering::Acquire);
        if value == 0 {
            return;
        }
        futex_wait(word, value, None);
    }
}

/// `clone3(flags [| CLONE_CLEAR_SIGHAND])`, into a cgroup if asked.
///
/// # Safety
/// See [`spawn_vfork`].
unsafe fn clone3(call: &Call<'_>, stack: &Stack, clear_sighand: bool) -> io::Result<Created> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: call.flags
            | if clear_sighand {
                CLONE_CLEAR_SIGHAND
            } else {
                0
            },
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
    let ret = unsafe { arch::clone3((&raw const args).cast(), size, call.entry, call.arg) };
    created(ret, pidfd)
}

/// `clone(flags | exit signal)`, with the pidfd written through the
/// parent-tid argument (`CLONE_PIDFD`).
///
/// # Safety
/// See [`spawn_vfork`].
unsafe fn clone_legacy(call: &Call<'_>, stack: &Stack) -> io::Result<Created> {
    let mut pidfd: libc::c_int = -1;
    // SAFETY: the stack is ours and its top 16-byte aligned; the kernel
    // writes the pidfd into `pidfd` during the call and clears `running`
    // (CLONE_CHILD_CLEARTID) when the child execs or exits, which the
    // caller waits for.
    let ret = unsafe {
        arch::clone(
            call.flags | call.exit_signal,
            stack.top(),
            &raw mut pidfd,
            call.running.as_ptr(),
            call.entry,
            call.arg,
        )
    };
    created(ret, pidfd)
}

/// The parent's side of a clone's result.
fn created(ret: isize, pidfd: libc::c_int) -> io::Result<Created> {
    if ret < 0 {
        return Err(io::Error::from_raw_os_error(-ret as i32));
    }
    // Still -1 without CLONE_PIDFD (or from a kernel that ignored it).
    // SAFETY: otherwise the kernel stored a new pidfd that nobody else owns.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok(Created {
        pid: ret as u32,
        // Where the parent's fd 0, 1 or 2 was closed the pidfd took its
        // number: move it up, so that a later child inheriting that fd does
        // not get our pidfd (it would get /dev/null anyway: the pidfd is
        // close-on-exec, see in_child). If the move fails the pidfd stays
        // where it is, which is still correct.
        pidfd: pidfd.map(super::os::above_stdio),
    })
}

/// Why a new time namespace cannot be had from `clone`.
const NEWTIME_NEEDS_CLONE3: &str = "a new time namespace for the child needs clone3 (Linux 5.6): \
     CLONE_NEWTIME's bit is part of the exit-signal field of clone(2)";

/// Since Linux 5.7.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// The size of the first version of `struct clone_args`.
const CLONE_ARGS_SIZE_VER0: usize = 64;

/// Since Linux 5.5; not in every libc crate version.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

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

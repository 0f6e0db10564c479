//! The seccomp filter of a path: a BPF program over `seccomp_data`, and
//! its installation (with a user-notification listener when a supervisor
//! must answer `clone3`).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::paths::{Clone3, CloseRange, Path};

/// `AUDIT_ARCH_*` of the native system-call ABI: calls made through
/// another ABI (x32, ia32) are let through unfiltered.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The low 32 bits of `args[n]`.
const fn arg_low(n: u32) -> u32 {
    if cfg!(target_endian = "little") {
        16 + n * 8
    } else {
        16 + n * 8 + 4
    }
}

/// Since Linux 5.11.
const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
/// `waitid`'s id type for a pidfd (Linux 5.4).
const P_PIDFD: u32 = 3;
/// `pidfd_send_signal`'s flag for the process group (Linux 6.9).
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 1 << 2;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn ret_errno(errno: i32) -> libc::sock_filter {
    op(
        RET_K,
        0,
        0,
        libc::SECCOMP_RET_ERRNO | (errno as u32 & 0xffff),
    )
}

/// Whether the path needs a supervisor to answer `clone3`.
pub fn needs_supervisor(path: &Path) -> bool {
    matches!(path.clone3, Clone3::Supervised(_))
}

/// When a rule applies to a call of its system call.
enum When {
    Always,
    /// The low 32 bits of argument `n` have a bit of the mask.
    ArgHas(u32, u32),
    /// The low 32 bits of argument `n` are the value.
    ArgIs(u32, u32),
}

/// Appends a rule: system call `nr`, when `when` holds, gets `action`.
/// Each rule loads the system-call number itself, so rules that load an
/// argument can come in any order.
fn rule(p: &mut Vec<libc::sock_filter>, nr: libc::c_long, when: When, action: libc::sock_filter) {
    p.push(op(LD_W_ABS, 0, 0, NR));
    match when {
        When::Always => {
            p.push(op(JEQ_K, 0, 1, nr as u32));
        }
        When::ArgHas(n, mask) => {
            p.push(op(JEQ_K, 0, 3, nr as u32));
            p.push(op(LD_W_ABS, 0, 0, arg_low(n)));
            p.push(op(JSET_K, 0, 1, mask));
        }
        When::ArgIs(n, value) => {
            p.push(op(JEQ_K, 0, 3, nr as u32));
            p.push(op(LD_W_ABS, 0, 0, arg_low(n)));
            p.push(op(JEQ_K, 0, 1, value));
        }
    }
    p.push(action);
}

/// The BPF program of `path`.
pub fn program(path: &Path) -> Vec<libc::sock_filter> {
    let allow = op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW);
    let mut p = vec![op(LD_W_ABS, 0, 0, ARCH), op(JEQ_K, 1, 0, AUDIT_ARCH), allow];
    match path.clone3 {
        Clone3::Native => {}
        Clone3::Refused(errno) => rule(&mut p, libc::SYS_clone3, When::Always, ret_errno(errno)),
        Clone3::Supervised(_) => rule(
            &mut p,
            libc::SYS_clone3,
            When::Always,
            op(RET_K, 0, 0, libc::SECCOMP_RET_USER_NOTIF),
        ),
    }
    match path.close_range {
        CloseRange::Native => {}
        CloseRange::Missing => rule(
            &mut p,
            libc::SYS_close_range,
            When::Always,
            ret_errno(libc::ENOSYS),
        ),
        CloseRange::NoCloexec => rule(
            &mut p,
            libc::SYS_close_range,
            When::ArgHas(2, CLOSE_RANGE_CLOEXEC),
            ret_errno(libc::EINVAL),
        ),
    }
    if path.no_pidfd {
        // clone(flags, ...): the flags are the first argument on every
        // architecture.
        rule(
            &mut p,
            libc::SYS_clone,
            When::ArgHas(0, libc::CLONE_PIDFD as u32),
            ret_errno(libc::EINVAL),
        );
        for nr in [
            libc::SYS_pidfd_open,
            libc::SYS_pidfd_send_signal,
            libc::SYS_pidfd_getfd,
        ] {
            rule(&mut p, nr, When::Always, ret_errno(libc::ENOSYS));
        }
    }
    if path.no_group_signal {
        rule(
            &mut p,
            libc::SYS_pidfd_send_signal,
            When::ArgHas(3, PIDFD_SIGNAL_PROCESS_GROUP),
            ret_errno(libc::EINVAL),
        );
    }
    if path.no_waitid_pidfd {
        rule(
            &mut p,
            libc::SYS_waitid,
            When::ArgIs(0, P_PIDFD),
            ret_errno(libc::EINVAL),
        );
    }
    p.push(allow);
    p
}

/// Installs `path`'s filter on the calling thread (inherited by what it
/// creates and across exec); returns the user-notification listener when
/// the path has a supervisor.
///
/// `no_new_privs` is set only if the filter cannot be installed without
/// it (a caller without `CAP_SYS_ADMIN`), so that a privileged command
/// runs with the privileges it would have had.
pub fn install(path: &Path) -> io::Result<Option<OwnedFd>> {
    let mut program = program(path);
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: program.as_mut_ptr(),
    };
    let flags = if needs_supervisor(path) {
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    let seccomp = || {
        // SAFETY: seccomp(SET_MODE_FILTER) reads `prog` and the program
        // it points to, both alive for the call.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &raw const prog,
            )
        }
    };
    let mut r = seccomp();
    if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EACCES) {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        r = seccomp();
    }
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags == 0 {
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER, seccomp returns a new fd (close-on-exec)
    // that nobody else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }))
}

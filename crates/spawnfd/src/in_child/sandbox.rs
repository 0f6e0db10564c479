//! The sandbox steps of the child: the capability sets around the
//! credentials change, then, last before exec, the Landlock ruleset and
//! the seccomp filter. Raw system calls only, under the module's rules.

use super::{Fail, at, stage};
use crate::error::Step;
use crate::in_child::Report;
use crate::spawn::sandbox::ChildSandbox;
use crate::sys::raw::syscall;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit halves per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

/// Before the credentials change: `PR_SET_KEEPCAPS` (so the permitted set
/// survives a change of uid, for the ambient capabilities), then the
/// bounding set trimmed (which needs `CAP_SETPCAP`, still ours here).
pub(super) fn before_credentials(report: &Report, sb: &ChildSandbox<'_>) -> Result<(), Fail> {
    if !sb.keep_caps && sb.bounding_drop == 0 {
        return Ok(());
    }
    stage(report, Step::Capabilities);
    if sb.keep_caps {
        // SAFETY: integer arguments.
        at(Step::Capabilities, -1, unsafe {
            syscall!(
                libc::SYS_prctl,
                libc::PR_SET_KEEPCAPS,
                1usize,
                0usize,
                0usize,
                0usize
            )
        })?;
    }
    let mut drop = sb.bounding_drop;
    while drop != 0 {
        let cap = drop.trailing_zeros();
        drop &= drop.wrapping_sub(1);
        // SAFETY: integer arguments.
        at(Step::Capabilities, i64::from(cap), unsafe {
            syscall!(
                libc::SYS_prctl,
                libc::PR_CAPBSET_DROP,
                cap,
                0usize,
                0usize,
                0usize
            )
        })?;
    }
    Ok(())
}

/// After the credentials change: the inheritable set (the permitted and
/// effective sets as they are), then each ambient capability raised.
pub(super) fn after_credentials(report: &Report, sb: &ChildSandbox<'_>) -> Result<(), Fail> {
    let Some(inheritable) = sb.inheritable else {
        return Ok(());
    };
    stage(report, Step::Capabilities);
    let header = [CAP_VERSION_3, 0];
    // effective, permitted, inheritable; low half then high half.
    let mut data = [0u32; 6];
    // SAFETY: a version-3 header and room for its two data structs.
    at(Step::Capabilities, -1, unsafe {
        syscall!(libc::SYS_capget, header.as_ptr(), data.as_mut_ptr())
    })?;
    let [_, _, low, _, _, high] = &mut data;
    *low = inheritable as u32;
    *high = (inheritable >> 32) as u32;
    // SAFETY: as above; the kernel only reads `data`.
    at(Step::Capabilities, -1, unsafe {
        syscall!(libc::SYS_capset, header.as_ptr(), data.as_ptr())
    })?;
    let mut raise = sb.ambient;
    while raise != 0 {
        let cap = raise.trailing_zeros();
        raise &= raise.wrapping_sub(1);
        // SAFETY: integer arguments.
        at(Step::Capabilities, i64::from(cap), unsafe {
            syscall!(
                libc::SYS_prctl,
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                cap,
                0usize,
                0usize
            )
        })?;
    }
    Ok(())
}

/// Last before exec: the Landlock ruleset, then the seccomp filter (so
/// that the filter need not allow `landlock_restrict_self`).
pub(super) fn restrict(report: &Report, sb: &ChildSandbox<'_>) -> Result<(), Fail> {
    if let Some(ruleset) = sb.landlock {
        stage(report, Step::Landlock);
        // SAFETY: integer arguments; the fd is the command's, open.
        at(Step::Landlock, i64::from(ruleset), unsafe {
            syscall!(libc::SYS_landlock_restrict_self, ruleset, 0usize)
        })?;
    }
    if let Some(filter) = sb.seccomp {
        stage(report, Step::Seccomp);
        let program = libc::sock_fprog {
            // At most BPF_MAXINSNS (4096), checked by the parent.
            len: filter.len() as u16,
            filter: filter.as_ptr().cast_mut(),
        };
        // SECCOMP_SET_MODE_FILTER, no flags.
        // SAFETY: `program` points to the command's filter, which outlives
        // the call; the kernel copies it.
        at(Step::Seccomp, -1, unsafe {
            syscall!(libc::SYS_seccomp, 1usize, 0usize, &raw const program)
        })?;
    }
    Ok(())
}

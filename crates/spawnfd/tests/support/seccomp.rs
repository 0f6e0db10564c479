//! Seccomp filters that refuse chosen system calls, for the tests that
//! force the library's fallbacks or a fault in the child. A filter holds for
//! the thread that installs it and everything that thread creates, and can
//! never be removed: such tests run in a process of their own.

use std::io;

/// One system call to refuse.
#[derive(Clone, Copy, Debug)]
pub struct Refuse {
    nr: i64,
    action: Action,
    /// Refuse only when the first argument has one of these bits.
    arg0_mask: Option<u32>,
    /// Refuse only when the first argument is this value.
    arg0_is: Option<u32>,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Errno(i32),
    /// `SECCOMP_RET_TRAP`: the caller gets a `SIGSYS`.
    Trap,
}

impl Refuse {
    /// System call `nr` fails with `errno`.
    pub const fn errno(nr: i64, errno: i32) -> Refuse {
        Refuse {
            nr,
            action: Action::Errno(errno),
            arg0_mask: None,
            arg0_is: None,
        }
    }

    /// System call `nr` raises `SIGSYS` in the caller.
    pub const fn trap(nr: i64) -> Refuse {
        Refuse {
            nr,
            action: Action::Trap,
            arg0_mask: None,
            arg0_is: None,
        }
    }

    /// Only when the (low half of the) first argument has a bit of `mask`.
    pub const fn when_arg0_has(self, mask: u32) -> Refuse {
        Refuse {
            arg0_mask: Some(mask),
            ..self
        }
    }

    /// Only when the (low half of the) first argument is `value`.
    pub const fn when_arg0_is(self, value: u32) -> Refuse {
        Refuse {
            arg0_is: Some(value),
            ..self
        }
    }
}

/// Installs a filter with `rules` on the calling thread.
pub fn install(rules: &[Refuse]) -> io::Result<()> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    const RET_TRAP: u32 = 0x0003_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // seccomp_data: nr at offset 0, args[0] (low half) at 16.
    let mut program = Vec::new();
    for rule in rules {
        let refuse = op(
            RET_K,
            0,
            0,
            match rule.action {
                Action::Errno(errno) => RET_ERRNO | errno as u32,
                Action::Trap => RET_TRAP,
            },
        );
        program.push(op(LD_W_ABS, 0, 0, 0));
        let arg0_test = match (rule.arg0_mask, rule.arg0_is) {
            (Some(mask), _) => Some((JSET_K, mask)),
            (None, Some(value)) => Some((JEQ_K, value)),
            (None, None) => None,
        };
        match arg0_test {
            None => {
                program.push(op(JEQ_K, 0, 1, rule.nr as u32));
                program.push(refuse);
            }
            Some((test, k)) => {
                program.push(op(JEQ_K, 0, 4, rule.nr as u32));
                program.push(op(LD_W_ABS, 0, 0, 16));
                program.push(op(test, 0, 1, k));
                program.push(refuse);
                program.push(op(RET_K, 0, 0, RET_ALLOW));
            }
        }
    }
    program.push(op(RET_K, 0, 0, RET_ALLOW));
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments, then with a pointer to a filter
    // program that outlives the call.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

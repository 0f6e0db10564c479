//! The forced paths: what each one emulates, and the verdict the emulated
//! kernel (or container profile) gives a `clone3` call.

/// `struct clone_args` sizes: the first version (5.3), with `set_tid`
/// (5.5); the third, with `cgroup`, is 88 bytes (5.7).
const CLONE_ARGS_SIZE_VER0: usize = 64;
const CLONE_ARGS_SIZE_VER1: usize = 80;

/// Since Linux 5.5; `CLONE_INTO_CGROUP` (`0x2_0000_0000`) is since 5.7.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// The flags of the `clone` system call: the low 32 bits, all known to
/// every kernel that has `clone3`.
const CLONE_LEGACY_FLAGS: u64 = 0xffff_ffff;

/// A forced path.
pub struct Path {
    pub name: &'static str,
    /// One line for `--list`.
    pub emulates: &'static str,
    pub clone3: Clone3,
    pub close_range: CloseRange,
    /// No pidfds at all (before Linux 5.2): `clone` with `CLONE_PIDFD`
    /// fails with `EINVAL`; `pidfd_open`, `pidfd_send_signal` and
    /// `pidfd_getfd` with `ENOSYS`.
    ///
    /// A real kernel before 5.2 does not refuse the flag: its bit
    /// (0x1000, the old `CLONE_PID`) is ignored, the child is created and
    /// the pidfd is never written. A filter cannot make a call ignore a
    /// flag, so the emulation refuses it, the answer a library that checks
    /// the written pidfd turns an ignored flag into.
    pub no_pidfd: bool,
    /// `waitid(P_PIDFD, ...)` fails with `EINVAL` (before Linux 5.4, an
    /// unknown id type).
    pub no_waitid_pidfd: bool,
    /// `pidfd_send_signal` with `PIDFD_SIGNAL_PROCESS_GROUP` fails with
    /// `EINVAL` (before Linux 6.9, when its flags had to be 0).
    pub no_group_signal: bool,
}

/// How `clone3` is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clone3 {
    /// As the running kernel answers.
    Native,
    /// Every call fails with this errno (a plain BPF rule).
    Refused(i32),
    /// Each call is shown to the supervisor, which reads its `struct
    /// clone_args` and answers as [`Clone3Rules`] say.
    Supervised(Clone3Rules),
}

/// What the supervisor refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clone3Rules {
    /// `EPERM` for a process spawn that asks for a pidfd (`CLONE_PIDFD`
    /// without `CLONE_THREAD`), as a seccomp profile refusing `clone3`.
    pub refuse_pidfd_spawns: bool,
    /// The emulated kernel's `struct clone_args` size, if older than ours:
    /// the bytes past it must be zero (`E2BIG` otherwise), and the flags
    /// above the legacy 32 must be in `known_flags` (`EINVAL` otherwise).
    pub kernel: Option<OldKernel>,
}

/// What an older kernel's `copy_clone_args_from_user` and
/// `clone3_args_valid` accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OldKernel {
    pub args_size: usize,
    pub known_flags: u64,
}

/// How `close_range` is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseRange {
    Native,
    /// `ENOSYS` for every call (before 5.9).
    Missing,
    /// `EINVAL` when the flags hold `CLOSE_RANGE_CLOEXEC` (5.9, 5.10).
    NoCloexec,
}

/// Linux 5.3 and 5.4: `clone3` with the first `struct clone_args` and no
/// flag above the legacy 32.
const LINUX_5_4: OldKernel = OldKernel {
    args_size: CLONE_ARGS_SIZE_VER0,
    known_flags: CLONE_LEGACY_FLAGS,
};

/// Every forced path, in the order `--list` shows them.
pub static PATHS: &[Path] = &[
    Path {
        name: "clone3-enosys",
        emulates: "clone3 missing (ENOSYS): kernels before 5.3, Docker's default seccomp profile",
        clone3: Clone3::Refused(libc::ENOSYS),
        close_range: CloseRange::Native,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "clone3-eperm",
        emulates: "clone3 refused with EPERM for process spawns with a pidfd: older container profiles",
        clone3: Clone3::Supervised(Clone3Rules {
            refuse_pidfd_spawns: true,
            kernel: None,
        }),
        close_range: CloseRange::Native,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "no-clear-sighand",
        emulates: "Linux 5.3/5.4: clone3 without CLONE_CLEAR_SIGHAND (EINVAL) and with the 64-byte clone_args",
        clone3: Clone3::Supervised(Clone3Rules {
            refuse_pidfd_spawns: false,
            kernel: Some(LINUX_5_4),
        }),
        close_range: CloseRange::Native,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "no-into-cgroup",
        emulates: "Linux 5.5/5.6: clone3 without CLONE_INTO_CGROUP (E2BIG for the 88-byte clone_args, EINVAL for the flag)",
        clone3: Clone3::Supervised(Clone3Rules {
            refuse_pidfd_spawns: false,
            kernel: Some(OldKernel {
                args_size: CLONE_ARGS_SIZE_VER1,
                known_flags: CLONE_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND,
            }),
        }),
        close_range: CloseRange::Native,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "no-close-range",
        emulates: "close_range missing (ENOSYS): kernels before 5.9",
        clone3: Clone3::Native,
        close_range: CloseRange::Missing,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "no-cloexec-range",
        emulates: "Linux 5.9/5.10: close_range without CLOSE_RANGE_CLOEXEC (EINVAL)",
        clone3: Clone3::Native,
        close_range: CloseRange::NoCloexec,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "old-kernel",
        emulates: "Linux 5.4: no-clear-sighand and no-close-range together, and pidfd_send_signal without PIDFD_SIGNAL_PROCESS_GROUP (EINVAL)",
        clone3: Clone3::Supervised(Clone3Rules {
            refuse_pidfd_spawns: false,
            kernel: Some(LINUX_5_4),
        }),
        close_range: CloseRange::Missing,
        no_pidfd: false,
        no_waitid_pidfd: false,
        no_group_signal: true,
    },
    Path {
        name: "no-pidfd",
        emulates: "no pidfds (before 5.2): clone3 ENOSYS, clone with CLONE_PIDFD EINVAL, pidfd_open/pidfd_send_signal/pidfd_getfd ENOSYS",
        clone3: Clone3::Refused(libc::ENOSYS),
        close_range: CloseRange::Native,
        no_pidfd: true,
        no_waitid_pidfd: false,
        no_group_signal: false,
    },
    Path {
        name: "no-waitid-pidfd",
        emulates: "waitid without P_PIDFD (before 5.4): waitid(P_PIDFD, ...) EINVAL",
        clone3: Clone3::Native,
        close_range: CloseRange::Native,
        no_pidfd: false,
        no_waitid_pidfd: true,
        no_group_signal: false,
    },
    Path {
        name: "kernel-4x",
        emulates: "a 4.x kernel: no-pidfd, no-waitid-pidfd and no-close-range together",
        clone3: Clone3::Refused(libc::ENOSYS),
        close_range: CloseRange::Missing,
        no_pidfd: true,
        no_waitid_pidfd: true,
        no_group_signal: false,
    },
];

/// The path named `name`.
pub fn find(name: &str) -> Option<&'static Path> {
    PATHS.iter().find(|p| p.name == name)
}

/// The supervisor's answer to one system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the kernel run the call as it is.
    Continue,
    /// Fail it with this errno.
    Refuse(i32),
}

/// The answer to `clone3(args, size)`, where `args` holds the first
/// `min(size, 4096)` bytes of the caller's `struct clone_args` (little
/// or native endian, as the caller wrote them).
///
/// Calls whose size the running kernel itself refuses (below 64 or above a
/// page) are left to it: every kernel with `clone3` answers them alike.
/// The order of the checks is the kernel's: seccomp before the system
/// call; then `copy_struct_from_user` (`E2BIG` for non-zero bytes the
/// kernel does not know); then `clone3_args_valid` (`EINVAL` for unknown
/// flags).
pub fn decide(rules: &Clone3Rules, size: usize, args: &[u8]) -> Verdict {
    if !(CLONE_ARGS_SIZE_VER0..=4096).contains(&size) || args.len() < CLONE_ARGS_SIZE_VER0 {
        return Verdict::Continue;
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&args[..8]);
    let flags = u64::from_ne_bytes(word);
    let spawn = flags & libc::CLONE_THREAD as u64 == 0;
    if rules.refuse_pidfd_spawns && spawn && flags & libc::CLONE_PIDFD as u64 != 0 {
        return Verdict::Refuse(libc::EPERM);
    }
    if let Some(kernel) = rules.kernel {
        let known = size.min(kernel.args_size).min(args.len());
        if args[known..size.min(args.len())].iter().any(|&b| b != 0) {
            return Verdict::Refuse(libc::E2BIG);
        }
        if flags & !kernel.known_flags != 0 {
            return Verdict::Refuse(libc::EINVAL);
        }
    }
    Verdict::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLONE_ARGS_SIZE_VER2: usize = 88;
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

    /// A `struct clone_args` of `size` bytes with `flags` and, past the
    /// first version, `cgroup` as its last field.
    fn args(flags: u64, size: usize, cgroup: u64) -> Vec<u8> {
        let mut bytes = vec![0u8; size];
        bytes[..8].copy_from_slice(&flags.to_ne_bytes());
        if size >= CLONE_ARGS_SIZE_VER2 {
            bytes[80..88].copy_from_slice(&cgroup.to_ne_bytes());
        }
        bytes
    }

    fn rules(name: &str) -> Clone3Rules {
        match find(name).unwrap().clone3 {
            Clone3::Supervised(rules) => rules,
            other => panic!("{name} is not supervised: {other:?}"),
        }
    }

    const VM_VFORK_PIDFD: u64 = (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD) as u64;
    /// The flags glibc's pthread_create passes.
    const THREAD: u64 = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_SETTLS
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID) as u64;

    #[test]
    fn eperm_refuses_pidfd_spawns_only() {
        let r = rules("clone3-eperm");
        let spawn = VM_VFORK_PIDFD | CLONE_CLEAR_SIGHAND;
        assert_eq!(
            decide(&r, 64, &args(spawn, 64, 0)),
            Verdict::Refuse(libc::EPERM)
        );
        let fork_pidfd = libc::CLONE_PIDFD as u64;
        assert_eq!(
            decide(&r, 88, &args(fork_pidfd, 88, 0)),
            Verdict::Refuse(libc::EPERM)
        );
        // glibc's threads and posix_spawn (CLONE_VM | CLONE_VFORK, no pidfd).
        assert_eq!(decide(&r, 88, &args(THREAD, 88, 0)), Verdict::Continue);
        let posix_spawn = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
        assert_eq!(decide(&r, 88, &args(posix_spawn, 88, 0)), Verdict::Continue);
    }

    #[test]
    fn linux_5_4_refuses_clear_sighand_and_the_larger_struct() {
        let r = rules("no-clear-sighand");
        let spawn = VM_VFORK_PIDFD | CLONE_CLEAR_SIGHAND;
        assert_eq!(
            decide(&r, 64, &args(spawn, 64, 0)),
            Verdict::Refuse(libc::EINVAL)
        );
        assert_eq!(
            decide(&r, 64, &args(VM_VFORK_PIDFD, 64, 0)),
            Verdict::Continue
        );
        // A larger struct with zeros past 64 bytes is fine (glibc's).
        assert_eq!(decide(&r, 88, &args(THREAD, 88, 0)), Verdict::Continue);
        // A cgroup fd past 64 bytes: E2BIG before the flags are looked at.
        let cgroup = spawn | CLONE_INTO_CGROUP;
        assert_eq!(
            decide(&r, 88, &args(cgroup, 88, 7)),
            Verdict::Refuse(libc::E2BIG)
        );
        assert_eq!(r, rules("old-kernel"));
    }

    #[test]
    fn linux_5_6_refuses_into_cgroup() {
        let r = rules("no-into-cgroup");
        let spawn = VM_VFORK_PIDFD | CLONE_CLEAR_SIGHAND;
        assert_eq!(decide(&r, 64, &args(spawn, 64, 0)), Verdict::Continue);
        let cgroup = spawn | CLONE_INTO_CGROUP;
        // The library's call: 88 bytes with the cgroup fd.
        assert_eq!(
            decide(&r, 88, &args(cgroup, 88, 7)),
            Verdict::Refuse(libc::E2BIG)
        );
        // The flag in a struct the kernel knows: an unknown flag.
        assert_eq!(
            decide(&r, 80, &args(cgroup, 80, 0)),
            Verdict::Refuse(libc::EINVAL)
        );
        // cgroup fd 0 needs no bytes the kernel does not know.
        assert_eq!(
            decide(&r, 88, &args(cgroup, 88, 0)),
            Verdict::Refuse(libc::EINVAL)
        );
    }

    #[test]
    fn sizes_the_kernel_refuses_itself_are_left_to_it() {
        let r = rules("no-clear-sighand");
        assert_eq!(decide(&r, 0, &[]), Verdict::Continue);
        assert_eq!(decide(&r, 32, &[0xff; 32]), Verdict::Continue);
        assert_eq!(decide(&r, 8192, &[0xff; 4096]), Verdict::Continue);
    }

    #[test]
    fn every_path_has_a_unique_name_and_a_description() {
        for (i, p) in PATHS.iter().enumerate() {
            assert!(!p.emulates.is_empty());
            assert!(PATHS[..i].iter().all(|q| q.name != p.name), "{}", p.name);
            assert!(std::ptr::eq(find(p.name).unwrap(), p));
        }
        assert!(find("nope").is_none());
    }
}

//! Help text built from the library's own definitions, so that it cannot
//! drift from what the library does: the order of PROGRAM's set-up steps
//! comes from [`Step::CHILD_ORDER`].

use std::fmt::Write;

use spawnfd::Step;

/// What a step does and the options that ask for it; `second` tells apart
/// the two [`Step::Chdir`]s (by fd, then by path) and the two
/// [`Step::MountProc`]s (before and after chroot).
fn purpose(step: Step, second: bool) -> &'static str {
    match step {
        Step::Clone => "--cgroup, joined by PROGRAM where the kernel cannot start it there",
        Step::SignalDisposition => {
            "every signal to its default action, then --ignore-signal \
             (--keep-ignored-signals keeps what was ignored)"
        }
        Step::Setsid => "--setsid",
        Step::ProcessGroup => "--pgid, --kill-group",
        Step::Chdir if second => "--cwd, -C (inside --chroot, as the new user)",
        Step::Chdir => "--cwd-fd (before the fds are placed)",
        Step::DevNull => "/dev/null for a closed or close-on-exec fd 0, 1 or 2",
        Step::FdMapping => "--fd, --pass-fds, --stdin, --stdout, --stderr",
        Step::DetachTerminal => "--noctty",
        Step::ControllingTerminal => "--ctty",
        Step::Foreground => "--foreground",
        Step::Rlimit => "--rlimit (with spawnfd's privileges)",
        Step::Nice => "--nice",
        Step::CpuAffinity => "--cpus",
        Step::MountProc if second => "--mount-proc: a fresh procfs on /proc",
        Step::MountProc => "--mount-proc: the mount tree made private",
        Step::Chroot => "--chroot",
        Step::Setgroups => "--groups, --clear-groups (or the groups of --user)",
        Step::Setgid => "--gid, --group (or the group of --user)",
        Step::Setuid => "--uid, --user",
        Step::ParentDeathSignal => "--pdeathsig (run: KILL unless --no-pdeathsig)",
        Step::NoNewPrivs => "--no-new-privs",
        Step::Capabilities if second => "--inh-caps, --ambient-caps (once the ids are final)",
        Step::Capabilities => "--bounding-set, --keep-caps (while CAP_SETPCAP is ours)",
        Step::Landlock => "--landlock-read, --landlock-write",
        Step::Seccomp => "--seccomp (last before exec)",
        Step::SignalMask => "--signal-mask, --inherit-signal-mask (else empty)",
        Step::CloseFds => "every fd not given to PROGRAM is closed",
        Step::Exec => "PROGRAM, searched for in PATH if it has no '/'",
        _ => "",
    }
}

/// The "Set-up steps" section of `run --help` and `exec --help`: each step
/// of [`Step::CHILD_ORDER`] with its name (as error messages give it) and
/// the options it carries out.
pub fn setup_steps() -> String {
    let mut text = String::from(
        "Set-up steps, in the order they run before PROGRAM is executed (only \
         those with something to do; a failed one is named in the error, and \
         spawnfd exits with 125):\n",
    );
    let mut seen = vec![];
    let mut number = 0;
    for &step in Step::CHILD_ORDER {
        if step == Step::Ptrace || step == Step::Hook {
            // No option asks for them (see `run`'s documentation; hooks
            // are the library's, for code that runs in the child).
            continue;
        }
        let second = seen.contains(&step);
        seen.push(step);
        number += 1;
        let _ = writeln!(
            text,
            "  {number:>2}. {:<26}{}",
            step.name(),
            purpose(step, second)
        );
        if step == Step::CpuAffinity {
            // The mask cannot fail, so it has no step of its own.
            let _ = writeln!(text, "      {:<26}--umask", "(file mode mask)");
        }
    }
    text
}

/// The end of `run --help`: the set-up steps, then `tail`.
pub fn with_steps(tail: &str) -> String {
    format!("{}\n{tail}", setup_steps())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_of_the_child_has_a_purpose() {
        for &step in Step::CHILD_ORDER {
            if step != Step::Ptrace && step != Step::Hook {
                assert!(!purpose(step, false).is_empty(), "{step:?}");
            }
        }
    }

    #[test]
    fn steps_are_listed_in_the_library_order() {
        let text = setup_steps();
        let position = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
        };
        // The terminal before the user id: the order the old help had
        // wrong.
        assert!(position("set controlling terminal") < position("setuid"));
        assert!(position("setrlimit") < position("chroot"));
        assert!(position("--umask") < position("chroot"));
        assert!(position("made private") < position("chroot"));
        assert!(position("chroot") < position("fresh procfs"));
        assert!(position("--cwd-fd") < position("fd mapping"));
        assert!(position("fd mapping") < position("-C (inside"));
        assert!(position("setuid") < position("-C (inside"));
        assert!(text.trim_end().ends_with("has no '/'"), "{text}");
    }
}

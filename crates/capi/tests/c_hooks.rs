//! `tests/c/hooks.c`: child hooks on both paths, the fork flag and
//! `pthread_atfork`, and `spawnfd_cmd_keep_inherited_fds`, from C.

mod common;

#[test]
fn hooks_fork_path_and_inherited_fds() {
    common::run_c("hooks");
}

//! `tests/c/posix.c`: a posix_spawn program switched to libspawnfd by its
//! include (`<spawnfd_spawn.h>`) and link line, every file action and
//! attribute checked from inside the child, errors and `waitpid`.

mod common;

#[test]
fn a_posix_spawn_program_runs_on_libspawnfd() {
    common::run_c("posix");
}

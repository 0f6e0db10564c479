//! `tests/c/spawnfd_compat.c`: Qt's `spawnfd()` from C, built twice: as
//! is (glibc's `pidfd_spawn` or none: without it `ENOSYS` and no child),
//! and with `-DSTANDIN -rdynamic`, exporting stand-ins for
//! `pidfd_spawn`/`pidfd_spawnp` from the executable to check the wiring.
//! Two executables, since the library looks the functions up once per
//! process.

mod common;

#[test]
fn spawnfd_without_pidfd_spawn() {
    let exe = common::compile_with("spawnfd_compat", "spawnfd_compat_plain", &[]);
    common::run_exe("spawnfd_compat", &exe);
}

#[test]
fn spawnfd_through_a_stand_in() {
    let exe = common::compile_with(
        "spawnfd_compat",
        "spawnfd_compat_standin",
        &["-DSTANDIN", "-rdynamic"],
    );
    common::run_exe("spawnfd_compat (stand-in)", &exe);
}

//! `tests/c/scope.c`: `spawnfd_scope` from C, each operation checked from
//! `/proc` and the cgroup's own files.

mod common;

#[test]
fn scopes_from_c() {
    common::run_c("scope");
}

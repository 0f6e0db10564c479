//! `tests/c/spawn.c`: spawning with every attribute group, from C, each
//! checked from inside the child.

mod common;

#[test]
fn spawn_with_every_attribute_group() {
    common::run_c("spawn");
}

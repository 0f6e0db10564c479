//! `tests/c/sandbox.c`: the sandbox attributes, `default_signals` and
//! `search_path` from C, each checked from inside the child.

mod common;

#[test]
fn sandbox_attributes_from_c() {
    common::run_c("sandbox");
}

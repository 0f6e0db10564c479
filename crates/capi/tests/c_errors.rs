//! `tests/c/errors.c`: failed steps, bad input refused before any
//! process, the error's format, errno untouched.

mod common;

#[test]
fn errors_name_the_step_and_bad_input_creates_nothing() {
    common::run_c("errors");
}

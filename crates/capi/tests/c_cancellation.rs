//! `tests/c/cancellation.c`: threads cancelled while they spawn or wait
//! leave no child unreaped and no fd open, and never unwind a Rust frame.

mod common;

#[test]
fn cancelled_threads_leave_nothing_behind() {
    common::run_c("cancellation");
}

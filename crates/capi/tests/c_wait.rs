//! `tests/c/wait.c`: a poll loop over many pidfds, timeouts, rusage,
//! kill, the pid of a pidfd, detached children leaving no zombie.

mod common;

#[test]
fn waiting_signalling_and_detaching_from_c() {
    common::run_c("wait");
}

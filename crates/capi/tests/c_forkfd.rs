//! `tests/c/forkfd.c`: Qt's forkfd API from C, a regression per defect
//! class of the review of Qt's `forkfd.c`, and a QProcess-style poll loop.

mod common;

#[test]
fn forkfd_api_and_its_defect_regressions() {
    common::run_c("forkfd");
}

//! libspawnfd: the `spawnfd` engine as a C library.
//!
//! A thin layer over the `spawnfd` crate: `spawnfd_cmd` is a recipe for a
//! `spawnfd::Command`, made afresh at each `spawnfd_spawn` (so one command
//! can be spawned from several threads at once), and the child is handed
//! to C as its pidfd, which the wait and signal functions adopt for the
//! length of a call (`Child::from_pidfd` on a copy). The header,
//! `include/spawnfd.h`, is generated from this crate by cbindgen (its
//! `cbindgen.toml`); `tests/header.rs` fails when it drifts.
//!
//! Conventions, as `posix_spawn`'s: every function returns 0 or an errno
//! value, results come back through out-parameters, `errno` is never
//! relied on and left as it was, and nothing process-wide is changed. Each
//! entry point runs with pthread cancellation disabled (a forced unwind
//! must never cross a Rust frame); the blocking waits are the library's
//! only cancellation points, and live in C (`cancel.c`, reached through
//! naked trampolines, `trampoline.rs`).
//!
//! Modules: `cmd` (the command and its setters), `spawn`
//! (`spawnfd_spawn`), `error` (`spawnfd_error`, the step codes), `wait`
//! (waiting, signalling, detaching), `scope` (`spawnfd_scope`: a child's
//! whole tree in a cgroup of its own), `forkfd` (Qt's API), `ffi` (what
//! every entry point shares).
//!
//! Qt's forkfd API (`forkfd`, `vforkfd`, `forkfd_wait4`, `forkfd_close`)
//! is `forkfd`, with its own hand-written header, `include/forkfd.h`;
//! it reports errors through `errno`, as Qt's does.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!("libspawnfd supports Linux only");

pub mod cmd;
pub mod error;
mod ffi;
pub mod forkfd;
pub mod posix;
pub mod scope;
pub mod spawn;
pub mod trampoline;
pub mod wait;

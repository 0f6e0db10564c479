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
//! (waiting, signalling, detaching), `ffi` (what every entry point
//! shares).
//!
//! TODO (issue 10, items 3 to 5; another branch adds the Rust side):
//! - `spawnfd_cmd_set_hook(cmd, int (*hook)(void *), void *arg)`: a
//!   function run in the child after every attribute step and before
//!   exec, over `Command::pre_exec`; its failure a step of its own.
//! - a fork flag (`spawnfd_cmd_flags(cmd, SPAWNFD_USE_FORK)`), over
//!   `Command::use_fork`, for hooks that are not vfork-safe and for
//!   address sanitizers.
//! - the forkfd-compatible names (`forkfd`, `vforkfd`, `forkfd_wait4`,
//!   `forkfd_close`), which the export test will then allow.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!("libspawnfd supports Linux only");

pub mod cmd;
pub mod error;
mod ffi;
pub mod forkfd;
pub mod spawn;
pub mod trampoline;
pub mod wait;

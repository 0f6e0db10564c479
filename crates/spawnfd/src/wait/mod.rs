//! The child once it exists: how it is waited on, signalled and reaped.
//!
//! - [`child`]: `Child`, one child through its pidfd (or its exit fd where
//!   children are watched by pid, `sys::watch`);
//! - [`childset`]: `ChildSet`, any number of children over one epoll instance;
//! - [`reaper`]: the thread that reaps dropped children;
//! - [`tokio`]: `Command` and `Child` for tokio (feature `tokio`).

pub(crate) mod child;
pub(crate) mod childset;
pub(crate) mod reaper;
#[cfg(feature = "tokio")]
pub mod tokio;

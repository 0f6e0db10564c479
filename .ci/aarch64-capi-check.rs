//! Builds `crates/capi/src/trampoline.rs`, the C library's naked
//! trampolines (inline assembly per architecture), for aarch64 without a
//! standard library for that target, as `aarch64-check.rs` does for the
//! core crate: a `no_core` crate stands in for `core`, `libc` and the
//! crate's `wait` and `forkfd` modules with the few items the file names, and rustc's
//! LLVM assembles the instructions and their relocations.
//!
//! `RUSTC_BOOTSTRAP=1 rustc --target aarch64-unknown-linux-gnu
//!  --edition 2024 --crate-type rlib --emit=obj -o /dev/null .ci/aarch64-capi-check.rs`

#![feature(no_core, lang_items, rustc_attrs, decl_macro)]
#![no_core]
#![allow(internal_features, dead_code, non_camel_case_types)]

extern crate self as core;
extern crate self as libc;

#[lang = "pointee_sized"]
pub trait PointeeSized {}
#[lang = "meta_sized"]
pub trait MetaSized: PointeeSized {}
#[lang = "sized"]
pub trait Sized: MetaSized {}
#[lang = "copy"]
pub trait Copy {}
impl Copy for i32 {}
impl<T: PointeeSized> Copy for *mut T {}

pub mod arch {
    #[rustc_builtin_macro]
    pub macro naked_asm("assembly template", $(operands,)* $(options($(option),*))?) {
        /* compiler built-in */
    }
}

pub mod ffi {
    pub type c_int = i32;
}

#[repr(C)]
pub struct rusage {
    _private: i32,
}

pub mod wait {
    /// Stands in for the Rust non-blocking reap.
    pub unsafe extern "C" fn nohang(
        _fd: crate::ffi::c_int,
        _wstatus: *mut crate::ffi::c_int,
        _ru: *mut crate::rusage,
    ) -> crate::ffi::c_int {
        0
    }
}

pub mod forkfd {
    #[repr(C)]
    pub struct forkfd_info {
        _private: i32,
    }

    /// Stands in for `forkfd_wait4`'s non-blocking wait.
    pub unsafe extern "C" fn wait4_nohang(
        _fd: crate::ffi::c_int,
        _info: *mut forkfd_info,
        _options: crate::ffi::c_int,
        _ru: *mut crate::rusage,
    ) -> crate::ffi::c_int {
        0
    }
}

#[path = "../crates/capi/src/trampoline.rs"]
pub mod trampoline;

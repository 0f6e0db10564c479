//! Builds `sys/arch.rs`, the one file of inline assembly that differs per
//! architecture, for aarch64 without a standard library for that target:
//! CI machines have only the host's. A `no_core` crate stands in for
//! `core` and `libc` with the few items the file names; rustc's own LLVM
//! checks the registers and instructions (it refused `x19`, which LLVM
//! reserves, before that was fixed).
//!
//! `RUSTC_BOOTSTRAP=1 rustc --target aarch64-unknown-linux-gnu
//!  --edition 2024 --crate-type rlib --emit=obj -o /dev/null .ci/aarch64-check.rs`

#![feature(no_core, lang_items, rustc_attrs, decl_macro)]
#![no_core]
#![allow(internal_features, dead_code, non_camel_case_types, non_upper_case_globals)]

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
#[lang = "legacy_receiver"]
pub trait LegacyReceiver {}
impl<T: PointeeSized> LegacyReceiver for &T {}
impl Copy for usize {}
impl Copy for isize {}
impl Copy for u64 {}
impl Copy for i64 {}
impl<T: PointeeSized> Copy for *const T {}
impl<T: PointeeSized> Copy for *mut T {}

pub mod arch {
    #[rustc_builtin_macro]
    pub macro asm("assembly template", $(operands,)* $(options($(option),*))?) {
        /* compiler built-in */
    }
}

pub mod ffi {
    pub enum c_void {}
    pub type c_int = i32;
}

pub const SYS_clone3: i64 = 435;
pub const SYS_clone: i64 = 220;

pub mod clone {
    pub type ChildFn = unsafe extern "C" fn(*mut crate::ffi::c_void) -> !;
}

// `super::clone::ChildFn` in the file is `crate::clone::ChildFn` here.
#[path = "../crates/spawnfd/src/sys/arch.rs"]
pub mod arch_under_test;

/// Refers to both functions from a public item, so that they are compiled
/// down to machine code and not dropped as unused.
#[unsafe(no_mangle)]
pub fn entry_points() -> (
    unsafe fn(*const ffi::c_void, usize, clone::ChildFn, *mut ffi::c_void) -> isize,
    unsafe fn(u64, *mut ffi::c_void, *mut ffi::c_int, *mut u32, clone::ChildFn, *mut ffi::c_void) -> isize,
) {
    (arch_under_test::clone3, arch_under_test::clone)
}

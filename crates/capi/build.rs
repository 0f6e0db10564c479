//! Compiles the C side of the waits that are cancellation points
//! (`src/cancel.c`) and gives the shared library its soname.

fn main() {
    println!("cargo:rerun-if-changed=src/cancel.c");
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_CAPI");
    cc::Build::new()
        .file("src/cancel.c")
        .std("c11")
        .define("_GNU_SOURCE", None)
        // Unwind tables in these frames: glibc's `pthread_cancel` unwinds
        // through them from `poll`, the one cancellation point.
        .flag("-fexceptions")
        .flag("-fasynchronous-unwind-tables")
        // Nothing of the shim is exported (rustc's export list names only
        // the `#[no_mangle]` Rust items); hidden says so at compile time.
        .flag("-fvisibility=hidden")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("spawnfd_cancel_shim");
    // A plain `cargo build` gives the shared library the same soname as
    // `cargo cbuild` (which passes its own, with the `capi` feature).
    if std::env::var_os("CARGO_FEATURE_CAPI").is_none() {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libspawnfd.so.0");
    }
}

//! Compiles the C side of the waits that are cancellation points
//! (`src/cancel.c`) and gives the shared library its soname.

fn main() {
    println!("cargo:rerun-if-changed=src/cancel.c");
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
    // A plain `cargo build` gives the shared library the soname that
    // `cargo cbuild` gives it (cargo-c passes the same one again; the
    // linker keeps the last).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libspawnfd.so.0");
}

//! What the C-library tests share: the built library installed into a
//! scratch prefix (by `install.sh`, as a user without cargo-c would), and
//! C programs compiled against it with the system compiler.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A fresh directory for this test process under cargo's scratch space.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capi")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `program` is on `PATH`.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// The directory of this package's built library (`target/debug` for
/// `cargo test`), built first: cargo builds a cdylib or staticlib for
/// the integration tests of its package only when it is also an rlib,
/// which this one cannot be (its name is the Rust crate's), so the tests
/// ask for it, once per test process, with the profile they were built
/// with. (Cargo holds no lock while tests run.)
pub fn built_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
            let profile = match dir.file_name().unwrap().to_str().unwrap() {
                "debug" => "dev".to_owned(),
                other => other.to_owned(),
            };
            let out = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "-p",
                    "spawnfd-capi",
                    "--lib",
                    "--profile",
                    &profile,
                ])
                .arg("--target-dir")
                .arg(dir.parent().unwrap())
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("cargo build");
            assert!(
                out.status.success(),
                "cargo build -p spawnfd-capi failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                dir.join("libspawnfd.so").exists(),
                "no libspawnfd.so in {}",
                dir.display()
            );
            dir
        })
        .clone()
}

/// The library installed into a scratch prefix, once per test process.
pub fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = scratch("prefix");
        install(&prefix);
        prefix
    })
}

/// Runs `install.sh --prefix PREFIX` on the library cargo built.
pub fn install(prefix: &Path) {
    let built = built_dir();
    let profile = built.file_name().unwrap().to_str().unwrap().to_owned();
    let target = built.parent().unwrap();
    let out = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
        .arg("--prefix")
        .arg(prefix)
        .arg("--profile")
        .arg(&profile)
        .arg("--target-dir")
        .arg(target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `tests/c/NAME.c` against the installed library (shared,
/// found at run time through its rpath); the executable's path.
pub fn compile(name: &str) -> PathBuf {
    compile_with(name, name, &[])
}

/// As [`compile`], with more compiler arguments (`-rdynamic`, `-DX`),
/// into the executable `exe` (one source, several builds).
pub fn compile_with(name: &str, exe: &str, extra: &[&str]) -> PathBuf {
    let prefix = prefix();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(format!("{name}.c"));
    let exe = scratch("bin").join(exe);
    let lib = prefix.join("lib");
    let out = Command::new("cc")
        .args([
            "-std=c11",
            "-D_GNU_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-O1",
        ])
        .arg("-I")
        .arg(prefix.join("include/spawnfd"))
        .args(extra)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lspawnfd", "-pthread"])
        .output()
        .expect("cc");
    assert!(
        out.status.success(),
        "cc {name}.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Compiles and runs `tests/c/NAME.c`; fails with its output unless it
/// exits 0. Its `ok` and `skipped:` lines are passed on.
pub fn run_c(name: &str) {
    run_exe(name, &compile(name));
}

/// Runs a compiled test program as [`run_c`] does.
pub fn run_exe(name: &str, exe: &Path) {
    let exe = exe.to_path_buf();
    let out = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

//! Installing into a prefix and building a C program against it through
//! `pkg-config --cflags --libs spawnfd`, shared and static: with
//! `install.sh` always, with `cargo cinstall` where cargo-c is installed.

mod common;

use std::path::Path;
use std::process::Command;

/// Builds `examples/consumer.c` with pkg-config's flags for the prefix
/// (`--static` adds the libraries a static link needs) and runs it.
fn build_and_run(prefix: &Path, libdir: &Path, static_link: bool) {
    let pc_path = libdir.join("pkgconfig");
    let mut pkg = Command::new("pkg-config");
    pkg.env("PKG_CONFIG_PATH", &pc_path)
        .env_remove("PKG_CONFIG_LIBDIR")
        .args(["--cflags", "--libs", "spawnfd"]);
    if static_link {
        pkg.arg("--static");
    }
    let flags = pkg.output().expect("pkg-config");
    assert!(
        flags.status.success(),
        "pkg-config found no spawnfd in {}: {}",
        pc_path.display(),
        String::from_utf8_lossy(&flags.stderr)
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    assert!(
        flags.contains(&format!("-I{}", prefix.join("include/spawnfd").display())),
        "{flags}"
    );
    let exe = prefix.join(if static_link {
        "consumer-static"
    } else {
        "consumer"
    });
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/consumer.c"))
        .arg("-o")
        .arg(&exe);
    if static_link {
        // The archive itself, then what it needs (Libs.private).
        let libs: Vec<&str> = flags
            .split_whitespace()
            .filter(|f| *f != "-lspawnfd")
            .collect();
        cc.arg(libdir.join("libspawnfd.a")).args(libs);
    } else {
        cc.args(flags.split_whitespace());
    }
    let built = cc.output().expect("cc");
    assert!(
        built.status.success(),
        "cc consumer.c failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut run = Command::new(&exe);
    if !static_link {
        // Found as the dynamic loader would find an installed library.
        run.env("LD_LIBRARY_PATH", libdir);
    }
    let out = run.output().unwrap();
    assert!(
        out.status.success(),
        "consumer failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("said hello"));
    if !static_link {
        let ldd = Command::new("ldd")
            .arg(&exe)
            .env("LD_LIBRARY_PATH", libdir)
            .output();
        if let Ok(ldd) = ldd {
            let text = String::from_utf8_lossy(&ldd.stdout);
            assert!(text.contains("libspawnfd.so.0 =>"), "{text}");
        }
    }
}

/// The layout `install.sh` makes, as `cargo cinstall` does.
fn check_layout(prefix: &Path, libdir: &Path) {
    for file in [
        "libspawnfd.so.0.1.0",
        "libspawnfd.so.0",
        "libspawnfd.so",
        "libspawnfd.a",
        "pkgconfig/spawnfd.pc",
    ] {
        assert!(libdir.join(file).exists(), "{file} is not installed");
    }
    assert!(prefix.join("include/spawnfd/spawnfd.h").exists());
    assert!(prefix.join("include/spawnfd/forkfd.h").exists());
    assert_eq!(
        std::fs::read_link(libdir.join("libspawnfd.so.0")).unwrap(),
        Path::new("libspawnfd.so.0.1.0")
    );
}

#[test]
fn install_sh_prefix_builds_a_consumer_through_pkg_config() {
    if !common::have("pkg-config") {
        println!("skipped: pkg-config is not installed (Debian: pkgconf)");
        return;
    }
    let prefix = common::scratch("install-sh");
    common::install(&prefix);
    let libdir = prefix.join("lib");
    check_layout(&prefix, &libdir);
    build_and_run(&prefix, &libdir, false);
    build_and_run(&prefix, &libdir, true);
}

#[test]
fn cargo_cinstall_prefix_builds_a_consumer_through_pkg_config() {
    if !common::have("pkg-config") {
        println!("skipped: pkg-config is not installed (Debian: pkgconf)");
        return;
    }
    let cinstall = Command::new("cargo")
        .args(["cinstall", "--version"])
        .output();
    if !cinstall.is_ok_and(|o| o.status.success()) {
        println!("skipped: cargo-c is not installed (cargo install cargo-c)");
        return;
    }
    let prefix = common::scratch("cinstall");
    let target = common::scratch("cinstall-target");
    let out = Command::new("cargo")
        .args([
            "cinstall",
            "-p",
            "spawnfd-capi",
            "--libdir",
            "lib",
            "--prefix",
        ])
        .arg(&prefix)
        .arg("--target-dir")
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo cinstall failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let libdir = prefix.join("lib");
    check_layout(&prefix, &libdir);
    build_and_run(&prefix, &libdir, false);
    build_and_run(&prefix, &libdir, true);
}

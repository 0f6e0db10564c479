//! The committed header, `include/spawnfd.h`, is what cbindgen makes of
//! the sources, and it compiles cleanly as C11 and C++17.

mod common;

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn header_is_what_cbindgen_makes_of_the_sources() {
    let path = crate_dir().join("include/spawnfd.h");
    let fresh = generate();
    if std::env::var_os("SPAWNFD_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/spawnfd.h differs from what cbindgen makes of the sources (first at line {}: \
             committed {:?}, generated {:?}); run `SPAWNFD_BLESS=1 cargo test -p spawnfd-capi --test header` \
             and commit the header",
            first + 1,
            committed.lines().nth(first),
            fresh.lines().nth(first)
        );
    }
}

fn compile(compiler: &str, std: &str, source: &Path, header_dir: &Path) {
    let out = common::scratch("header").join(format!("{compiler}-{std}.o"));
    let status = std::process::Command::new(compiler)
        .args([
            &format!("-std={std}"),
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-c",
            "-o",
        ])
        .arg(&out)
        .arg("-I")
        .arg(header_dir)
        .arg(source)
        .status()
        .unwrap_or_else(|e| panic!("{compiler}: {e}"));
    assert!(
        status.success(),
        "{compiler} -std={std} failed on the header"
    );
}

#[test]
fn header_compiles_as_c11_and_cpp17() {
    let dir = common::scratch("header");
    let c = dir.join("use.c");
    let cpp = dir.join("use.cpp");
    let body = "#include <spawnfd.h>\n\
                int use(void);\n\
                int use(void) { spawnfd_cmd *c = 0; spawnfd_error e; (void)e; \
                return spawnfd_cmd_new(&c, \"true\") + (spawnfd_step_name(SPAWNFD_STEP_EXEC) != 0); }\n";
    std::fs::write(&c, body).unwrap();
    std::fs::write(&cpp, body.replace("int use(void)", "int use()")).unwrap();
    let include = crate_dir().join("include");
    compile("cc", "c11", &c, &include);
    if common::have("c++") {
        compile("c++", "c++17", &cpp, &include);
    } else {
        println!("skipped: no c++ compiler for the C++17 half");
    }
}

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

/// The `pub const` items of `src/forkfd.rs`: (name, value).
fn forkfd_constants() -> Vec<(String, i64)> {
    include_str!("../src/forkfd.rs")
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(':')?;
            let value = rest.split_once('=')?.1.trim().trim_end_matches(';');
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// `include/forkfd.h`, written by hand to Qt's layout, compiles as C11
/// and C++17, and its values and `struct forkfd_info` are the library's:
/// every constant of `src/forkfd.rs` is `#define`d to the same value
/// (and the header defines no other), and the struct is two `int32_t` at
/// offsets 0 and 4 (the Rust side's unit test checks the same of the
/// `#[repr(C)]` struct).
#[test]
fn forkfd_header_compiles_and_matches_the_library() {
    let consts = forkfd_constants();
    assert_eq!(consts.len(), 7, "src/forkfd.rs constants: {consts:?}");
    let header = std::fs::read_to_string(crate_dir().join("include/forkfd.h")).unwrap();
    let defined: Vec<&str> = header
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "FORKFD_H")
        .collect();
    let mut names: Vec<&str> = consts.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let mut sorted = defined.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, names,
        "the header's #defines and src/forkfd.rs's constants"
    );

    let dir = common::scratch("forkfd-header");
    let mut body = String::from(
        "#include <forkfd.h>\n#include <stddef.h>\n\
         #ifdef __cplusplus\n#define SA(c) static_assert(c, #c)\n#else\n#define SA(c) _Static_assert(c, #c)\n#endif\n\
         SA(sizeof(struct forkfd_info) == 8);\n\
         SA(offsetof(struct forkfd_info, code) == 0);\n\
         SA(offsetof(struct forkfd_info, status) == 4);\n",
    );
    for (name, value) in &consts {
        body.push_str(&format!("SA({name} == {value});\n"));
    }
    body.push_str(
        "int use(void);\n\
         int use(void) { struct forkfd_info i; pid_t p; int fd = forkfd(FFD_CLOEXEC, &p); \
         char *argv[] = {0}; \
         return forkfd_wait(fd, &i, 0) + forkfd_close(fd) + vforkfd(0, &p, 0, 0) \
         + spawnfd(FFD_SPAWN_SEARCH_PATH, &p, \"true\", 0, 0, argv, argv); }\n",
    );
    let c = dir.join("use.c");
    let cpp = dir.join("use.cpp");
    std::fs::write(&c, &body).unwrap();
    std::fs::write(&cpp, body.replace("int use(void)", "int use()")).unwrap();
    let include = crate_dir().join("include");
    compile("cc", "c11", &c, &include);
    if common::have("c++") {
        compile("c++", "c++17", &cpp, &include);
    } else {
        println!("skipped: no c++ compiler for the C++17 half");
    }
}

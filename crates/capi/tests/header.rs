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
    compile_with(compiler, std, source, header_dir, &["-pedantic"]);
}

fn compile_with(compiler: &str, std: &str, source: &Path, header_dir: &Path, extra: &[&str]) {
    let out = common::scratch("header").join(format!("{compiler}-{std}.o"));
    let status = std::process::Command::new(compiler)
        .args([&format!("-std={std}"), "-Wall", "-Wextra", "-Werror"])
        .args(extra)
        .args(["-c", "-o"])
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

/// `include/spawnfd_spawn.h` compiles as C11 and C++17, and each name it
/// renames has `<spawn.h>`'s call shape: a pointer to the function
/// initialises a pointer of the type POSIX (or glibc, for the `_np`
/// functions and `pidfd_spawn`) declares it with.
#[test]
fn posix_spawn_header_keeps_the_call_shapes() {
    let dir = common::scratch("posix-header");
    let body = "#include <spawnfd_spawn.h>\n\
        typedef posix_spawn_file_actions_t fa_t;\n\
        typedef posix_spawnattr_t at_t;\n\
        int use(void);\n\
        int use(void) {\n\
        int (*spawn)(pid_t *, const char *, const fa_t *, const at_t *, char *const[], char *const[]) = posix_spawn;\n\
        int (*spawnp)(pid_t *, const char *, const fa_t *, const at_t *, char *const[], char *const[]) = posix_spawnp;\n\
        int (*pspawn)(int *, const char *, const fa_t *, const at_t *, char *const[], char *const[]) = pidfd_spawn;\n\
        int (*pspawnp)(int *, const char *, const fa_t *, const at_t *, char *const[], char *const[]) = pidfd_spawnp;\n\
        int (*fa_init)(fa_t *) = posix_spawn_file_actions_init;\n\
        int (*fa_destroy)(fa_t *) = posix_spawn_file_actions_destroy;\n\
        int (*fa_open)(fa_t *, int, const char *, int, mode_t) = posix_spawn_file_actions_addopen;\n\
        int (*fa_close)(fa_t *, int) = posix_spawn_file_actions_addclose;\n\
        int (*fa_dup2)(fa_t *, int, int) = posix_spawn_file_actions_adddup2;\n\
        int (*fa_chdir)(fa_t *, const char *) = posix_spawn_file_actions_addchdir_np;\n\
        int (*fa_fchdir)(fa_t *, int) = posix_spawn_file_actions_addfchdir_np;\n\
        int (*fa_closefrom)(fa_t *, int) = posix_spawn_file_actions_addclosefrom_np;\n\
        int (*fa_tcsetpgrp)(fa_t *, int) = posix_spawn_file_actions_addtcsetpgrp_np;\n\
        int (*a_init)(at_t *) = posix_spawnattr_init;\n\
        int (*a_destroy)(at_t *) = posix_spawnattr_destroy;\n\
        int (*a_getflags)(const at_t *, short *) = posix_spawnattr_getflags;\n\
        int (*a_setflags)(at_t *, short) = posix_spawnattr_setflags;\n\
        int (*a_getpgroup)(const at_t *, pid_t *) = posix_spawnattr_getpgroup;\n\
        int (*a_setpgroup)(at_t *, pid_t) = posix_spawnattr_setpgroup;\n\
        int (*a_getsigmask)(const at_t *, sigset_t *) = posix_spawnattr_getsigmask;\n\
        int (*a_setsigmask)(at_t *, const sigset_t *) = posix_spawnattr_setsigmask;\n\
        int (*a_getsigdefault)(const at_t *, sigset_t *) = posix_spawnattr_getsigdefault;\n\
        int (*a_setsigdefault)(at_t *, const sigset_t *) = posix_spawnattr_setsigdefault;\n\
        int (*a_getpolicy)(const at_t *, int *) = posix_spawnattr_getschedpolicy;\n\
        int (*a_setpolicy)(at_t *, int) = posix_spawnattr_setschedpolicy;\n\
        int (*a_getparam)(const at_t *, struct sched_param *) = posix_spawnattr_getschedparam;\n\
        int (*a_setparam)(at_t *, const struct sched_param *) = posix_spawnattr_setschedparam;\n\
        int (*a_getcgroup)(const at_t *, int *) = posix_spawnattr_getcgroup_np;\n\
        int (*a_setcgroup)(at_t *, int) = posix_spawnattr_setcgroup_np;\n\
        void *all[] = {(void *)spawn, (void *)spawnp, (void *)pspawn, (void *)pspawnp,\n\
          (void *)fa_init, (void *)fa_destroy, (void *)fa_open, (void *)fa_close, (void *)fa_dup2,\n\
          (void *)fa_chdir, (void *)fa_fchdir, (void *)fa_closefrom, (void *)fa_tcsetpgrp,\n\
          (void *)a_init, (void *)a_destroy, (void *)a_getflags, (void *)a_setflags,\n\
          (void *)a_getpgroup, (void *)a_setpgroup, (void *)a_getsigmask, (void *)a_setsigmask,\n\
          (void *)a_getsigdefault, (void *)a_setsigdefault, (void *)a_getpolicy, (void *)a_setpolicy,\n\
          (void *)a_getparam, (void *)a_setparam, (void *)a_getcgroup, (void *)a_setcgroup};\n\
        return (int)(sizeof all / sizeof all[0]) + POSIX_SPAWN_SETSID + POSIX_SPAWN_SETCGROUP;\n\
        }\n";
    let c = dir.join("use.c");
    let cpp = dir.join("use.cpp");
    std::fs::write(&c, body).unwrap();
    std::fs::write(&cpp, body.replace("int use(void)", "int use()")).unwrap();
    let include = crate_dir().join("include");
    // pedantic C forbids a function pointer cast to void *; the shapes
    // are what is checked.
    compile_with("cc", "gnu11", &c, &include, &["-D_GNU_SOURCE"]);
    if common::have("c++") {
        compile_with("c++", "gnu++17", &cpp, &include, &["-D_GNU_SOURCE"]);
    } else {
        println!("skipped: no c++ compiler for the C++17 half");
    }
}

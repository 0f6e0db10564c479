//! The shared library exports the C API and nothing else: no Rust std
//! symbol, no symbol of the C shim, no `spawnfd::` item. Every function
//! the header declares is exported, and every export is declared.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

/// The prefixes a symbol of the C API has: the native API's, and Qt's
/// forkfd names (`forkfd`, `vforkfd`, `forkfd_wait4`, `forkfd_close`).
const ALLOWED: &[&str] = &["spawnfd_", "forkfd", "vforkfd"];
/// Qt's forkfd names that are no prefix of others.
const ALLOWED_EXACT: &[&str] = &["spawnfd"];

fn exported() -> BTreeSet<String> {
    let lib = common::built_dir().join("libspawnfd.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm (binutils)");
    assert!(out.status.success(), "nm failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_owned)
        .collect()
}

/// Every function a header declares (the name before the `(` of a
/// declaration that starts a line), whatever its prefix; `static inline`
/// functions, which the header defines itself, left out.
fn declared_in(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter(|l| {
            !l.starts_with("typedef") && !l.starts_with("extern \"C\"") && !l.starts_with("static")
        })
        .filter_map(|l| {
            let open = l.find('(')?;
            let name = l[..open].rsplit([' ', '*']).next()?;
            Some(name.to_owned())
        })
        .collect()
}

/// What `include/spawnfd.h` and `include/forkfd.h` declare.
fn declared() -> BTreeSet<String> {
    let mut all = declared_in(include_str!("../include/spawnfd.h"));
    let forkfd = declared_in(include_str!("../include/forkfd.h"));
    assert_eq!(
        forkfd.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "forkfd",
            "forkfd_close",
            "forkfd_wait4",
            "spawnfd",
            "vforkfd"
        ],
        "include/forkfd.h declares Qt's five functions"
    );
    all.extend(forkfd);
    all
}

#[test]
fn only_the_c_api_is_exported() {
    let exported = exported();
    let foreign: Vec<&String> = exported
        .iter()
        .filter(|s| !ALLOWED.iter().any(|p| s.starts_with(p)))
        .filter(|s| !ALLOWED_EXACT.contains(&s.as_str()))
        .collect();
    assert!(
        foreign.is_empty(),
        "libspawnfd.so exports symbols outside the C API: {foreign:?}"
    );
    assert!(exported.contains("spawnfd_spawn"));
}

#[test]
fn exports_are_the_headers_functions() {
    let exported = exported();
    let declared = declared();
    assert!(declared.len() > 40, "the header parser found {declared:?}");
    assert_eq!(
        exported, declared,
        "exported (left) and declared in include/spawnfd.h and forkfd.h (right) differ"
    );
}

#[test]
fn soname_is_libspawnfd_so_0() {
    let lib = common::built_dir().join("libspawnfd.so");
    let out = Command::new("readelf").arg("-d").arg(&lib).output();
    let Ok(out) = out else {
        println!("skipped: no readelf");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Library soname: [libspawnfd.so.0]"), "{text}");
}

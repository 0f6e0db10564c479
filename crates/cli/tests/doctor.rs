//! `spawnfd doctor`: the capability report as text and as JSON, here and
//! under forced mechanism paths (`spawnfd-paths`, built from the
//! workspace; those tests skip, saying so, where it is not built or its
//! filter cannot be installed).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{BIN, stderr, stdout};
use serde_json::Value;

fn doctor(wrapper: &[&str], json: bool) -> Output {
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(BIN);
            cmd
        }
        None => Command::new(BIN),
    };
    cmd.arg("doctor");
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("run spawnfd doctor")
}

fn json_of(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_str(stdout(out).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The feature object with key `key`.
fn feature<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["feature"] == key)
        .unwrap_or_else(|| panic!("no feature {key} in {report}"))
}

/// The forced path this test itself runs under (the matrix of `.ci/paths`),
/// which the plain checks must allow for.
fn forced_path() -> Option<String> {
    std::env::var("SPAWNFD_FORCED_PATH").ok()
}

/// `spawnfd-paths`, next to the spawnfd binary (the workspace builds both
/// into one directory), if it is built.
fn paths_tool() -> Option<PathBuf> {
    let tool = PathBuf::from(BIN).with_file_name("spawnfd-paths");
    tool.is_file().then_some(tool)
}

#[test]
fn text_report_names_the_kernel_each_feature_and_a_summary() {
    let out = doctor(&[], false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut uname = libc_uname_release();
    uname.insert_str(0, "kernel: Linux ");
    assert!(text.starts_with(&uname), "{text}");
    for title in [
        "process creation: ",
        "CLONE_CLEAR_SIGHAND: ",
        "CLONE_INTO_CGROUP: ",
        "waitid(P_PIDFD): ",
        "close_range: ",
        "CLOSE_RANGE_CLOEXEC: ",
        "time namespaces: ",
        "user namespaces: ",
        "cgroup v2: ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(title)
                && (l.contains(": uses ")
                    || l.contains(": unavailable: ")
                    || l.contains(": available because "))),
            "{title} in {text}"
        );
    }
    let last = text.lines().last().unwrap_or("");
    assert!(last.starts_with("summary: "), "{text}");
    // Every probe line names its answer.
    assert!(
        text.lines()
            .filter(|l| l.starts_with("    "))
            .all(|l| l.contains(" -> ")),
        "{text}"
    );
}

/// The release as `uname -r` prints it.
fn libc_uname_release() -> String {
    let out = Command::new("uname").arg("-r").output().expect("uname -r");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn json_report_agrees_with_this_kernel() {
    let report = json_of(&doctor(&[], true));
    assert_eq!(report["kernel"]["release"], libc_uname_release().as_str());
    let features = report["features"].as_array().expect("features");
    assert_eq!(features.len(), 16, "{report}");
    for f in features {
        assert!(f["available"].is_boolean(), "{f}");
        assert!(f["reason"].as_str().is_some_and(|r| !r.is_empty()), "{f}");
        for p in f["probes"].as_array().expect("probes") {
            assert!(p["call"].is_string(), "{p}");
            assert_eq!(p["errno"].is_null(), p["errno_name"].is_null(), "{p}");
        }
    }
    let unavailable: Vec<&str> = report["unavailable"]
        .as_array()
        .expect("unavailable")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for f in features {
        let key = f["feature"].as_str().unwrap_or("");
        assert_eq!(
            unavailable.contains(&key),
            f["available"] == false,
            "{key}: {report}"
        );
    }
    if forced_path().is_some() {
        return;
    }
    // This machine's kernel (6.x) has all of these, unfiltered.
    let creation = feature(&report, "process_creation");
    assert_eq!(creation["mechanism"], "clone3", "{creation}");
    assert_eq!(creation["probes"][0]["errno_name"], "EFAULT", "{creation}");
    for key in [
        "clone_clear_sighand",
        "clone_into_cgroup",
        "clone_pidfd",
        "pidfd_open",
        "waitid_pidfd",
        "pidfd_send_signal",
        "close_range",
        "close_range_cloexec",
        "clone_vm_shared",
    ] {
        assert_eq!(feature(&report, key)["available"], true, "{key}: {report}");
    }
}

/// Under valgrind, which runs a `CLONE_VM` clone as a fork, doctor says
/// that children are made by fork, and why.
#[test]
fn doctor_under_valgrind_says_children_are_forked() {
    if let Some(path) = forced_path() {
        println!("skipped: under the forced path {path} (valgrind is run natively)");
        return;
    }
    let have = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        println!("skipped: valgrind is not installed");
        return;
    }
    // (valgrind's complaints about the probes' deliberately unwritable
    // pidfd addresses go to stderr; only the report is looked at.)
    let report = json_of(&doctor(&["valgrind", "-q"], true));
    let shared = feature(&report, "clone_vm_shared");
    assert_eq!(shared["available"], false, "{shared}");
    assert!(
        shared["mechanism"]
            .as_str()
            .is_some_and(|m| m.starts_with("fork()")),
        "{shared}"
    );
    assert!(
        shared["reason"]
            .as_str()
            .is_some_and(|r| r.contains("valgrind")),
        "{shared}"
    );
}

/// Under each forced path, doctor says what the path emulates.
#[test]
fn doctor_under_forced_paths_reports_what_they_emulate() {
    if forced_path().is_some() {
        println!("skipped: already under a forced path");
        return;
    }
    let Some(tool) = paths_tool() else {
        println!("skipped: spawnfd-paths is not built (cargo build -p spawnfd-testpaths)");
        return;
    };
    let tool = tool.to_string_lossy().into_owned();
    let check = |path: &str, verify: &dyn Fn(&Value, &str)| {
        let json = doctor(&[&tool, path, "--"], true);
        if json.status.code() == Some(125) {
            println!("skipped: the {path} filter cannot be installed here");
            return;
        }
        let text = doctor(&[&tool, path, "--"], false);
        assert_eq!(text.status.code(), Some(0), "{path}: {}", stderr(&text));
        verify(&json_of(&json), stdout(&text));
    };
    check("clone3-enosys", &|report, text| {
        let creation = feature(report, "process_creation");
        assert_eq!(creation["mechanism"], "clone", "{creation}");
        assert_eq!(creation["reason"], "clone3 gave ENOSYS", "{creation}");
        assert!(
            text.contains("process creation: uses clone because clone3 gave ENOSYS"),
            "{text}"
        );
        for key in ["clone_clear_sighand", "clone_into_cgroup", "time_namespace"] {
            assert_eq!(feature(report, key)["available"], false, "{key}: {report}");
        }
        assert_eq!(feature(report, "waitid_pidfd")["available"], true);
    });
    check("clone3-eperm", &|report, text| {
        let creation = feature(report, "process_creation");
        assert_eq!(creation["mechanism"], "clone", "{creation}");
        assert_eq!(creation["reason"], "clone3 gave EPERM", "{creation}");
        assert!(
            text.contains("uses clone because clone3 gave EPERM"),
            "{text}"
        );
    });
    check("no-clear-sighand", &|report, _| {
        let creation = feature(report, "process_creation");
        assert_eq!(
            creation["mechanism"], "clone3 without CLONE_CLEAR_SIGHAND",
            "{creation}"
        );
        let clear = feature(report, "clone_clear_sighand");
        assert_eq!(clear["available"], false, "{clear}");
        assert!(
            clear["reason"].as_str().unwrap_or("").contains("EINVAL"),
            "{clear}"
        );
        assert_eq!(feature(report, "clone_into_cgroup")["available"], false);
    });
    check("no-into-cgroup", &|report, _| {
        assert_eq!(feature(report, "process_creation")["mechanism"], "clone3");
        let cgroup = feature(report, "clone_into_cgroup");
        assert_eq!(cgroup["available"], false, "{cgroup}");
        assert_eq!(cgroup["probes"][0]["errno_name"], "E2BIG", "{cgroup}");
        assert!(
            cgroup["mechanism"]
                .as_str()
                .unwrap_or("")
                .contains("joins the cgroup"),
            "{cgroup}"
        );
    });
    check("no-close-range", &|report, _| {
        let close = feature(report, "close_range");
        assert_eq!(close["available"], false, "{close}");
        assert_eq!(close["probes"][0]["errno_name"], "ENOSYS", "{close}");
        assert!(
            close["mechanism"]
                .as_str()
                .unwrap_or("")
                .contains("/proc/self/fd")
        );
    });
    check("no-cloexec-range", &|report, _| {
        assert_eq!(feature(report, "close_range")["available"], true);
        let cloexec = feature(report, "close_range_cloexec");
        assert_eq!(cloexec["available"], false, "{cloexec}");
        assert_eq!(cloexec["probes"][0]["errno_name"], "EINVAL", "{cloexec}");
    });
    check("no-waitid-pidfd", &|report, _| {
        let waitid = feature(report, "waitid_pidfd");
        assert_eq!(waitid["available"], false, "{waitid}");
        assert_eq!(waitid["probes"][0]["errno_name"], "EINVAL", "{waitid}");
        assert_eq!(feature(report, "pidfd_open")["available"], true);
    });
    let no_pidfd = |report: &Value, _: &str| {
        let clone = feature(report, "clone_pidfd");
        assert_eq!(clone["available"], false, "{clone}");
        assert_eq!(clone["probes"][0]["errno_name"], "EINVAL", "{clone}");
        let open = feature(report, "pidfd_open");
        assert_eq!(open["probes"][0]["errno_name"], "ENOSYS", "{open}");
        let signal = feature(report, "pidfd_send_signal");
        assert_eq!(signal["probes"][0]["errno_name"], "ENOSYS", "{signal}");
        assert!(
            clone["mechanism"]
                .as_str()
                .unwrap_or("")
                .contains("watched by pid"),
            "{clone}"
        );
    };
    check("no-pidfd", &no_pidfd);
    check("kernel-4x", &|report, text| {
        no_pidfd(report, text);
        assert_eq!(feature(report, "waitid_pidfd")["available"], false);
        assert_eq!(feature(report, "close_range")["available"], false);
        // Processes are still created: without a pidfd, watched by pid.
        let creation = feature(report, "process_creation");
        assert_eq!(creation["available"], true, "{creation}");
        assert!(
            creation["mechanism"]
                .as_str()
                .unwrap_or("")
                .contains("watched by pid"),
            "{creation}"
        );
    });
}

#[test]
fn doctor_takes_no_program_and_rejects_unknown_options() {
    let out = Command::new(BIN)
        .args(["doctor", "--frobnicate"])
        .output()
        .expect("run spawnfd");
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let out = Command::new(BIN)
        .args(["doctor", "--help"])
        .output()
        .expect("run spawnfd");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("--json"), "{}", stdout(&out));
}

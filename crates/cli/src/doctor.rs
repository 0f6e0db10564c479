//! `spawnfd doctor`: the library's capability report
//! (`spawnfd::capabilities`), as text or as a JSON object.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Map, Value, json};
use spawnfd::{Capabilities, FeatureReport};

/// Report what this kernel and sandbox allow, and how spawnfd works here
///
/// Probes the running kernel (and any seccomp filter, sysctl or missing
/// privilege in the way) and prints, for each feature spawnfd uses, the
/// mechanism it uses here and why ("uses clone because clone3 gave
/// ENOSYS"), or why the feature is unavailable, with each probe's call and
/// the kernel's answer (errno names); then a summary line. No probe leaves
/// a process or an fd behind. Exits with 0, whatever it finds (125 only if
/// the report cannot be written).
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print one JSON object instead: {"kernel": {"release", "machine"},
    /// "features": [{"feature", "title", "available", "mechanism", "reason",
    /// "probes": [{"call", "errno", "errno_name", "note"}]}], "unavailable": [feature, ...], "summary"}
    #[arg(long)]
    json: bool,
}

/// Runs `spawnfd doctor`.
pub fn doctor(args: DoctorArgs) -> ExitCode {
    let caps = spawnfd::capabilities();
    let text = if args.json {
        to_json(&caps).to_string()
    } else {
        caps.to_string()
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spawnfd: doctor: {e}");
            ExitCode::from(crate::report::SPAWNFD_FAILED)
        }
    }
}

/// The report as a JSON object.
pub fn to_json(caps: &Capabilities) -> Value {
    let features: Vec<Value> = caps.features().iter().map(feature_json).collect();
    json!({
        "kernel": {
            "release": caps.kernel_release(),
            "machine": caps.machine(),
        },
        "features": features,
        "unavailable": caps
            .unavailable()
            .map(|r| r.feature().key())
            .collect::<Vec<_>>(),
        "summary": caps.summary(),
    })
}

fn feature_json(report: &FeatureReport) -> Value {
    let probes: Vec<Value> = report
        .probes()
        .iter()
        .map(|p| {
            let mut probe = Map::new();
            probe.insert("call".into(), p.call().into());
            probe.insert("errno".into(), p.errno().into());
            probe.insert("errno_name".into(), p.errno().map(|_| p.outcome()).into());
            if !p.note().is_empty() {
                probe.insert("note".into(), p.note().into());
            }
            probe.into()
        })
        .collect();
    json!({
        "feature": report.feature().key(),
        "title": report.feature().title(),
        "available": report.is_available(),
        "mechanism": report.mechanism(),
        "reason": report.reason(),
        "probes": probes,
    })
}

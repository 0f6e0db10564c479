//! The command-line parser never panics: random command lines built from
//! `spawnfd run`'s real options (taken from clap's own definition, so new
//! options are covered as they come) with hostile values (empty, huge,
//! negative, non-UTF-8, `--` in odd places) are either a parsed command or
//! a usage error with exit status 125 and a message, as `main` would report
//! it.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use clap::CommandFactory;
use clap::error::ErrorKind;
use proptest::prelude::*;

use super::{Cli, parse, usage_status};

/// The options of `spawnfd run`, as `--name` and `-x`, and whether each
/// takes a value.
fn run_options() -> Vec<(String, bool)> {
    let cli = Cli::command();
    let run = cli.find_subcommand("run").expect("the run subcommand");
    let options: Vec<(String, bool)> = run
        .get_arguments()
        .flat_map(|arg| {
            let takes = arg.get_action().takes_values();
            let long = arg.get_long().map(|long| (format!("--{long}"), takes));
            let short = arg.get_short().map(|short| (format!("-{short}"), takes));
            long.into_iter().chain(short)
        })
        .collect();
    assert!(options.len() > 30, "only {} options found", options.len());
    options
}

/// Values that mean something to some option, and edge cases of numbers.
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "3=5",
    "0=0",
    "-1=2",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "0-65535",
    "65535",
    "65536",
    "3-1",
    "0,,1",
    "022",
    "0o777",
    "1000",
    "NOFILE=1024:4096",
    "NOFILE=2:1",
    "nofile=:",
    "AS=unlimited",
    "TERM",
    "SIGKILL",
    "RTMIN+99",
    "RTMAX-0",
    "64",
    "65",
    "USR1,USR2",
    "user,pid",
    "mnt",
    "0:0:1",
    "0:0:0",
    "4294967294:0:1",
    "4294967295",
    "4294967294",
    "0-10:2",
    "0,2-3,5-9:2",
    "0-65535:0",
    "5:2",
    "AS=512M",
    "STACK=8MiB:16MiB",
    "NOFILE=1K",
    "AS=16777216T",
    "time",
    "daemon",
    "4294967295:0:4294967295",
    "1.5",
    "500ms",
    "1e3",
    "213503982334602d",
    ".",
    "K=V",
    "=V",
    "K",
    "root",
    "nobody",
    "-",
    "--",
    "-h",
    "--fd",
    "--cpus=1",
    "3-9",
    "3,5,8-10",
    "0-2",
    "9-3",
    "-u",
    "-iu",
    "-C",
    "A=1",
    "/",
    "/nonexistent",
    "\u{1F600}",
    "１",
];

/// A value: from [`VALUES`], printable text, a long run of digits, a
/// number with a sign, a long repeated list, or raw bytes.
fn value() -> impl Strategy<Value = OsString> {
    prop_oneof![
        4 => proptest::sample::select(VALUES).prop_map(OsString::from),
        2 => "[ -~]{0,16}".prop_map(OsString::from),
        1 => "[0-9]{15,60}".prop_map(OsString::from),
        1 => "[-+][0-9]{1,25}".prop_map(OsString::from),
        1 => ("[0-9a-z,:=-]{1,8}", 1..2000usize).prop_map(|(s, n)| OsString::from(s.repeat(n))),
        1 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(OsString::from_vec),
    ]
}

/// One or two words of a command line.
fn words(options: Vec<(String, bool)>) -> impl Strategy<Value = Vec<OsString>> {
    let option = proptest::sample::select(options);
    prop_oneof![
        // An option in its own word, with its value in the next if it takes one.
        4 => (option.clone(), value()).prop_map(|((name, takes), value)| {
            let mut words = vec![OsString::from(name)];
            if takes {
                words.push(value);
            }
            words
        }),
        // An option with `=VALUE`, whether it takes a value or not.
        2 => (option.clone(), value()).prop_map(|((name, _), value)| {
            let mut word = OsString::from(name + "=");
            word.push(value);
            vec![word]
        }),
        // An option without the value it needs, or a value by itself.
        1 => option.prop_map(|(name, _)| vec![OsString::from(name)]),
        1 => value().prop_map(|v| vec![v]),
        1 => Just(vec![OsString::from("--")]),
        1 => proptest::sample::select(&["--nope", "-x", "-", "--help", "-h", "--version", "--=", "---", "-Z", "-iZ", "-ui"][..])
            .prop_map(|w| vec![OsString::from(w)]),
    ]
}

/// A whole command line: `spawnfd`, usually `run`, random words, and
/// usually a program with arguments at the end (after `--` or not).
fn command_line() -> impl Strategy<Value = Vec<OsString>> {
    let subcommand = prop_oneof![
        8 => Just(vec!["run"]),
        1 => Just(vec![]),
        1 => Just(vec!["walk"]),
    ];
    let program = prop_oneof![
        2 => Just(vec![]),
        3 => proptest::collection::vec(value(), 1..4),
        3 => proptest::collection::vec(value(), 1..4).prop_map(|mut v| {
            v.insert(0, OsString::from("--"));
            v
        }),
    ];
    (
        subcommand,
        proptest::collection::vec(words(run_options()), 0..10),
        program,
    )
        .prop_map(|(subcommand, words, program)| {
            let mut line = vec![OsString::from("spawnfd")];
            line.extend(subcommand.into_iter().map(OsString::from));
            line.extend(words.into_iter().flatten());
            line.extend(program);
            line
        })
}

/// PROGRAM and its arguments, for the subcommands that have them.
fn program(cli: &super::Cli) -> Option<&[OsString]> {
    match &cli.command {
        super::Commands::Run(args) => Some(args.command_line()),
        super::Commands::Exec(args) => Some(args.command_line()),
        super::Commands::Generate(_) | super::Commands::Doctor(_) => None,
    }
}

/// Checks what `main` would do with `line`, short of running anything.
fn check(line: &[OsString]) -> Result<(), TestCaseError> {
    match parse(line) {
        Ok(cli) => {
            // A parsed command has its program.
            // A parsed command has its program (generate is not among the
            // subcommands drawn).
            let program = program(&cli);
            prop_assert!(
                program.is_some_and(|p| !p.is_empty()),
                "{line:?}: no program"
            );
        }
        Err(err) => {
            let message = err.render().to_string();
            match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    prop_assert_eq!(usage_status(&err), 0, "{:?}: {}", line, message);
                }
                // `spawnfd` alone: the help, as a usage error.
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    prop_assert_eq!(usage_status(&err), 125, "{:?}: {}", line, message);
                    prop_assert!(message.contains("Usage: "), "{:?}: {}", line, message);
                }
                _ => {
                    prop_assert_eq!(usage_status(&err), 125, "{:?}: {}", line, message);
                    prop_assert!(
                        message.starts_with("error: ") && message.len() > "error: ".len(),
                        "{:?}: {:?}",
                        line,
                        message
                    );
                }
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_command_line_parses_or_is_a_usage_error(line in command_line()) {
        check(&line)?;
    }
}

/// The CPUs of `first-last:stride`, one by one.
fn strided(first: usize, last: usize, stride: usize) -> Vec<usize> {
    (first..=last)
        .filter(|cpu| (cpu - first).is_multiple_of(stride))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A list of strided ranges is the union of their CPUs, computed one
    /// by one.
    #[test]
    fn cpu_strides_are_the_cpus_one_by_one(
        ranges in proptest::collection::vec((0usize..300, 0usize..300, 1usize..70), 1..6)
    ) {
        let ranges: Vec<(usize, usize, usize)> = ranges
            .into_iter()
            .map(|(a, b, s)| (a.min(b), a.max(b), s))
            .collect();
        let text = ranges
            .iter()
            .map(|(a, b, s)| format!("{a}-{b}:{s}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut expected: Vec<usize> = ranges
            .iter()
            .flat_map(|&(a, b, s)| strided(a, b, s))
            .collect();
        expected.sort_unstable();
        expected.dedup();
        let list: crate::args::CpuList = text.parse().map_err(TestCaseError::fail)?;
        prop_assert_eq!(list.to_vec(), expected);
        // Printed back, it parses to the same set.
        let again: crate::args::CpuList =
            list.to_string().parse().map_err(TestCaseError::fail)?;
        prop_assert_eq!(again, list);
    }

    /// An id map passes the check exactly when no two of its lines share
    /// an id, inside or outside, as the kernel requires.
    #[test]
    fn id_map_check_refuses_exactly_the_overlaps(
        lines in proptest::collection::vec((0u32..60, 0u32..60, 1u32..12), 0..6)
    ) {
        let map: Vec<spawnfd::IdMap> = lines
            .iter()
            .map(|&(inside, outside, count)| spawnfd::IdMap { inside, outside, count })
            .collect();
        let overlap = |a: u32, n: u32, b: u32, m: u32| a < b + m && b < a + n;
        let shares = map.iter().enumerate().any(|(i, x)| {
            map[i + 1..].iter().any(|y| {
                overlap(x.inside, x.count, y.inside, y.count)
                    || overlap(x.outside, x.count, y.outside, y.count)
            })
        });
        prop_assert_eq!(crate::args::check_id_map(&map).is_err(), shares, "{:?}", map);
    }

    /// A size is the number times its binary unit, or refused as too large.
    #[test]
    fn rlimit_sizes_multiply_or_are_too_large(
        number in any::<u64>(),
        (suffix, power) in proptest::sample::select(
            &[("K", 1u32), ("kib", 1), ("M", 2), ("MiB", 2), ("g", 3), ("GiB", 3), ("T", 4), ("tib", 4)][..]
        ),
    ) {
        let parsed = format!("AS={number}{suffix}").parse::<crate::args::RlimitArg>();
        match number.checked_mul(1024u64.pow(power)).filter(|&b| b != u64::MAX) {
            Some(bytes) => prop_assert_eq!(parsed.map(|r| r.soft), Ok(Some(bytes))),
            None => prop_assert!(parsed.is_err_and(|e| e.contains("too large"))),
        }
    }
}

#[test]
fn hostile_lines_that_once_were_expensive_or_odd() {
    let long_cpus = format!("0{}", ",0-65535".repeat(5000));
    let long_strides = format!("0{}", ",0-65535:2".repeat(4000));
    for line in [
        vec!["spawnfd", "run", "--cpus", &long_cpus, "true"],
        vec!["spawnfd", "run", "--cpus", &long_strides, "true"],
        vec!["spawnfd", "run", "--", "--", "--"],
        vec!["spawnfd", "run", "--fd", "--", "true"],
        vec!["spawnfd", "run", "--timeout=", "true"],
        vec!["spawnfd", "run", "--env", "=", "true"],
        vec![
            "spawnfd",
            "run",
            "--rlimit",
            "NOFILE=18446744073709551616",
            "true",
        ],
    ] {
        let line: Vec<OsString> = line.into_iter().map(OsString::from).collect();
        check(&line).unwrap();
    }
    let bytes = OsString::from_vec(vec![b'-', b'-', b'c', b'p', b'u', b's', b'=', 0xff]);
    check(&[
        OsString::from("spawnfd"),
        OsString::from("run"),
        bytes,
        OsString::from("true"),
    ])
    .unwrap();
}

/// The unknown options of [`unknown_option_is_a_usage_error_in_every_position`]:
/// long, short, and short behind known short flags.
const UNKNOWN: &[&str] = &["--nope", "--nope=1", "-x", "-Z", "-iZ", "-iqZ"];

/// A command line using the fd and environment options, in long and short
/// forms (each once: a repeated -i or -C is a usage error of its own), then
/// PROGRAM (`true`) and an argument.
fn full_line(subcommand: &str) -> Vec<OsString> {
    [
        "spawnfd",
        subcommand,
        "-iu",
        "A",
        "-uB",
        "--unset=C",
        "--env",
        "D=1",
        "-C",
        "/",
        "--fd",
        "7",
        "--fd",
        "8=1",
        "--pass-fds",
        "3-6,9",
        "--argv0=-name",
        "true",
        "arg",
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

#[test]
fn the_full_line_parses() {
    for subcommand in ["run", "exec"] {
        let line = full_line(subcommand);
        let cli = parse(&line).unwrap_or_else(|e| panic!("{subcommand}: {}", e.render()));
        assert_eq!(program(&cli), Some(&["true".into(), "arg".into()][..]));
    }
}

#[test]
fn unknown_option_is_a_usage_error_in_every_position() {
    for subcommand in ["run", "exec"] {
        let line = full_line(subcommand);
        let program_at = line.iter().position(|w| w == "true").unwrap();
        // Before every word from the first option to PROGRAM, including
        // between an option and its value.
        for at in 2..=program_at {
            for unknown in UNKNOWN {
                let mut bad = line.clone();
                bad.insert(at, OsString::from(unknown));
                let err = match parse(&bad) {
                    Ok(_) => panic!("{bad:?} parsed"),
                    Err(err) => err,
                };
                assert_eq!(usage_status(&err), 125, "{bad:?}");
                assert!(err.use_stderr(), "{bad:?}");
            }
        }
        // After PROGRAM the same words are PROGRAM's.
        for unknown in UNKNOWN {
            let mut fine = line.clone();
            fine.insert(program_at + 1, OsString::from(unknown));
            assert!(parse(&fine).is_ok(), "{fine:?}");
        }
    }
}

#[test]
fn json_is_found_behind_short_options_with_values() {
    let wants = |words: &[&str]| {
        let line: Vec<OsString> = ["spawnfd", "run"]
            .iter()
            .chain(words)
            .map(OsString::from)
            .collect();
        super::json_target(&line).is_some()
    };
    assert!(wants(&["-u", "X", "--json", "--bogus", "true"]));
    assert!(wants(&["-uX", "--json", "true"]));
    assert!(wants(&["-iu", "X", "--json", "true"]));
    assert!(wants(&["-i", "-C", "/", "--json", "true"]));
    assert!(wants(&["--pass-fds", "3-9", "--fd", "4", "--json", "true"]));
    // --json as a value, or after PROGRAM, asks for nothing.
    assert!(!wants(&["-u", "--json", "true"]));
    assert!(!wants(&["-C", "--json", "true"]));
    assert!(!wants(&["-iC", "--json", "true"]));
    assert!(!wants(&["--argv0", "--json", "true"]));
    assert!(!wants(&["-u", "X", "true", "--json"]));
}

//! Spawn benchmark: `spawnfd` against std and `posix_spawn`, side by side.
//!
//! The bench times spawn + wait of a tiny static program (a generated
//! 129-byte ELF that calls `exit(0)`) with six contenders:
//!
//! - `spawnfd`: `spawnfd::Command::new(tiny).status()`;
//! - `std`: `std::process::Command::new(tiny).status()` (glibc `posix_spawn`);
//! - `std-fork`: the same with a no-op `pre_exec`, which forces `fork`;
//! - `posix_spawn`: `libc::posix_spawn` + `waitpid`;
//! - `spawnfd-attrs`: spawnfd with every common child attribute on (new
//!   session, uid/gid, `RLIMIT_NOFILE`, umask, five extra fds at 3 to 7 with
//!   two swapped, every other fd closed; see [`attrs`]);
//! - `std-attrs`: std with the same, uid/gid by its builder and the rest in
//!   a `pre_exec` closure, so it forks.
//!
//! It does so with the parent holding each of several amounts of resident
//! memory (`--mem`, default 0 and 4 GiB), prints the median and p90 per
//! contender and size and the ratios between them, and checks them against
//! the project's targets (reporting PASS/MISS, never failing over them).
//!
//! Everything is measured side by side, so that machine drift hits all
//! contenders and all sizes alike. A process holds one amount of memory, so
//! the bench starts one worker process per size (itself, in the internal
//! `--worker` mode; see [`worker`]), each of which maps and touches its
//! memory once. It then drives the workers in lockstep: in every round each
//! contender takes its turn (in an order shuffled anew every round, with a
//! fixed seed), and a turn is one spawn in every worker, always in the same
//! order, so that every spawn follows one in another worker. Only one
//! worker spawns at a time; each times its own spawn + wait and reports it
//! over a pipe. The contenders that fork (`std-fork`, `std-attrs`) are
//! rationed to a few evenly spread rounds, because a fork of a big parent is
//! slow and slows the spawns after it. Before timing, the bench checks once
//! that the attribute contenders' settings take (see [`attrs::verify`]).
//!
//! Two options widen the set of workers, all still interleaved: with
//! `--env-vars 0,65,965` there is one worker per size and count of extra
//! environment variables (40 bytes each, given to the worker when it is
//! started, so every contender's child inherits them: spawnfd snapshots
//! them with `std::env::vars_os` in every spawn, std and `posix_spawn` pass
//! `environ`), and with `--compare OLD` every worker has a twin running
//! another build of the bench (its rows labelled `old`), for an old/new
//! ratio measured side by side. `--contenders` restricts the contenders.
//!
//! With `--syscalls` it instead counts the system calls of one spawn, parent
//! and child together, by re-running itself under `strace -f -c` in the
//! internal `--one` sub-mode.
//!
//! With `--children` it instead measures waiting for many children: 10,000
//! children that exit at random times, reaped by one `spawnfd::ChildSet`,
//! by `tokio::process` and by one std thread per child, each run in a fresh
//! process (the internal `--reap` mode) for its CPU time and peak memory
//! (see [`children`]); and the latency from a child's exit to its parent's
//! wait returning (see [`latency`]).
//!
//! Run it with `cargo run --profile bench-release -p spawnfd-bench -- --help`.

mod attrs;
mod children;
mod contenders;
mod elf;
mod latency;
mod memory;
mod stats;
mod syscalls;
mod worker;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use children::{ReapOptions, Reaper};
use contenders::{Contender, Spawner};
use elf::TinyProgram;
use memory::{format_size, parse_size};
use stats::Summary;
use syscalls::PerSpawn;
use worker::Worker;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

const USAGE: &str = "\
Usage: spawnfd-bench [OPTIONS]

Times spawn + wait of a tiny static program with spawnfd, std (posix_spawn),
std with a no-op pre_exec (fork) and libc::posix_spawn, and with spawnfd and
std with every common child attribute on (setsid, uid/gid, RLIMIT_NOFILE,
umask, 5 extra fds, close the rest; std through pre_exec, so it forks), with
the parent holding each amount of touched memory: one worker process per
size, all driven in lockstep, contenders (in a shuffled order every round)
and sizes interleaved.

Options:
  --mem SIZES        comma-separated parent memory sizes, e.g. 0,512M,4G
                     (binary units; default 0,4G)
  --iters N          timed spawns per contender per size (default 5000)
  --fork-iters N     std-fork and std-attrs are timed only N times per size,
                     spread evenly over the rounds (default 50): a fork at
                     4 GiB takes over 0.1 s, and every fork slows the spawns
                     after it
  --warmup N         untimed spawns per contender per size (default 20)
  --thp              leave transparent huge pages to the system setting
                     (default: the memory is MADV_NOHUGEPAGE, 4 KiB pages)
  --env-vars COUNTS  comma-separated numbers of extra environment variables
                     (40 bytes each, SPAWNFD_BENCH_PAD_0000=...) that the
                     workers start with, inherited by every contender's
                     child: one worker per count and size, all interleaved
                     (default 0)
  --contenders LIST  time only these contenders, comma-separated (default:
                     all six)
  --compare PATH     also run workers of another spawnfd-bench binary (an
                     older build) beside this one's, for every size and
                     count, interleaved; their rows are labelled old
  --syscalls         count system calls per spawn with strace -f -c instead
                     of timing
  --syscall-n N      spawns per contender in --syscalls (default 200)
  -h, --help         print this help

  --children         instead of timing spawns, measure waiting for many
                     children: (1) COUNT children sleeping a random 0 to
                     MAX ms each, reaped by one spawnfd::ChildSet (also
                     drained while spawning), by tokio::process
                     (current-thread and multi-thread runtimes), by one std
                     thread per child and, for reference, by a
                     waitpid(-1) loop, each run in a fresh process: CPU
                     time, peak memory, wall time;
                     (2) the latency from a child's exit to its parent's
                     wait returning, for spawnfd's Child::wait and
                     ChildSet::wait_any, std's wait and tokio's
  --count COUNT      children per run of part 1 (default 10000; lowered to
                     what pid_max, threads-max, vm.max_map_count and the
                     RLIMIT_NOFILE hard limit allow, which is reported)
  --max-sleep-ms MAX longest sleep of a child of part 1 (default 2000)
  --rounds N         runs of each variant of part 1 (default 3)
  --stack-kib K      stack size of the std threads of part 1 (default 64)
  --pause-ms MS      pause before each run of part 1 (default 2000)
  --samples N        samples per waiter and child of part 2 (default 2000;
                     --warmup rounds before them)
  --only PART        only part 1 (reap) or part 2 (latency)

Internal:
  --one CONTENDER --n N --tiny PATH
                     one warm-up spawn, then N spawns of CONTENDER
                     (spawnfd, std, std-fork, posix_spawn, spawnfd-attrs,
                     std-attrs); what --syscalls runs under strace
  --worker BYTES --tiny PATH [--thp]
                     a timing worker: touches BYTES of memory, then does the
                     spawns asked for on fd 3 and replies on fd 4
  --reap VARIANT --count N --max-sleep-ms MAX --seed S --stack-kib K
         --tiny PATH
                     one run of part 1 of --children with VARIANT
                     (childset, childset-drain, tokio-ct, tokio-mt,
                     threads, waitpid-any) and PATH as the sleeper; prints
                     a result line
  --exit-stamp       sleep 2 ms, write CLOCK_MONOTONIC to stdout as a
                     16-byte timespec and _exit(0): part 2's Rust child";

/// The shell that checks the attribute contenders' settings.
const SH: &str = "/bin/sh";

/// What to do, from the command line.
#[derive(Debug)]
enum Mode {
    Time(TimeOptions),
    Syscalls {
        n: u64,
    },
    One {
        contender: Contender,
        n: u64,
        tiny: PathBuf,
    },
    Worker {
        size: u64,
        huge_pages: bool,
        tiny: PathBuf,
    },
    Children(ChildrenOptions),
    Reap {
        reaper: Reaper,
        count: usize,
        max_ms: u32,
        seed: u64,
        stack_kib: usize,
        tiny: PathBuf,
    },
    ExitStamp,
    Help,
}

#[derive(Debug)]
struct ChildrenOptions {
    count: usize,
    max_ms: u32,
    rounds: usize,
    stack_kib: usize,
    pause_ms: u64,
    samples: usize,
    warmup: usize,
    reap: bool,
    latency: bool,
}

#[derive(Debug)]
struct TimeOptions {
    sizes: Vec<u64>,
    iters: usize,
    fork_iters: usize,
    warmup: usize,
    huge_pages: bool,
    /// Extra environment variables per worker (one worker per count).
    env_vars: Vec<usize>,
    contenders: Vec<Contender>,
    /// Another bench binary whose workers run beside this one's.
    compare: Option<PathBuf>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Mode, String> {
    let mut time = TimeOptions {
        sizes: vec![0, 4 << 30],
        iters: 5000,
        fork_iters: 50,
        warmup: 20,
        huge_pages: false,
        env_vars: vec![0],
        contenders: Contender::ALL.to_vec(),
        compare: None,
    };
    let mut syscalls = false;
    let mut syscall_n = 200;
    let mut one = None;
    let mut n = None;
    let mut tiny = None;
    let mut worker = None;
    let mut children = ChildrenOptions {
        count: 10_000,
        max_ms: 2000,
        rounds: 3,
        stack_kib: 64,
        pause_ms: 2000,
        samples: 2000,
        warmup: 20,
        reap: true,
        latency: true,
    };
    let mut children_mode = false;
    let mut reap = None;
    let mut seed = 1;

    fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
        let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
        value
            .parse()
            .map_err(|_| format!("{flag}: not a number: {value:?}"))
    }

    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Mode::Help),
            "--mem" => {
                let list = args.next().ok_or("--mem needs a value")?;
                time.sizes = list
                    .split(',')
                    .map(|s| parse_size(s).ok_or_else(|| format!("--mem: bad size {s:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "--iters" => time.iters = number(&arg, args.next())?,
            "--fork-iters" => time.fork_iters = number(&arg, args.next())?,
            "--warmup" => time.warmup = number(&arg, args.next())?,
            "--thp" => time.huge_pages = true,
            "--env-vars" => {
                let list = args.next().ok_or("--env-vars needs a value")?;
                time.env_vars = list
                    .split(',')
                    .map(|s| {
                        s.parse()
                            .map_err(|_| format!("--env-vars: not a number: {s:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--contenders" => {
                let list = args.next().ok_or("--contenders needs a value")?;
                time.contenders = list
                    .split(',')
                    .map(|s| {
                        Contender::from_name(s).ok_or_else(|| format!("unknown contender {s:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--compare" => {
                time.compare = Some(PathBuf::from(args.next().ok_or("--compare needs a path")?));
            }
            "--syscalls" => syscalls = true,
            "--syscall-n" => syscall_n = number(&arg, args.next())?,
            "--one" => {
                let name = args.next().ok_or("--one needs a contender")?;
                one = Some(
                    Contender::from_name(&name)
                        .ok_or_else(|| format!("unknown contender {name:?}"))?,
                );
            }
            "--n" => n = Some(number(&arg, args.next())?),
            "--worker" => worker = Some(number(&arg, args.next())?),
            "--tiny" => tiny = Some(PathBuf::from(args.next().ok_or("--tiny needs a path")?)),
            "--children" => children_mode = true,
            "--count" => children.count = number(&arg, args.next())?,
            "--max-sleep-ms" => children.max_ms = number(&arg, args.next())?,
            "--rounds" => children.rounds = number(&arg, args.next())?,
            "--stack-kib" => children.stack_kib = number(&arg, args.next())?,
            "--pause-ms" => children.pause_ms = number(&arg, args.next())?,
            "--samples" => children.samples = number(&arg, args.next())?,
            "--only" => match args.next().as_deref() {
                Some("reap") => children.latency = false,
                Some("latency") => children.reap = false,
                _ => return Err("--only needs reap or latency".into()),
            },
            "--seed" => seed = number(&arg, args.next())?,
            "--reap" => {
                let name = args.next().ok_or("--reap needs a variant")?;
                reap = Some(
                    Reaper::from_name(&name).ok_or_else(|| format!("unknown variant {name:?}"))?,
                );
            }
            "--exit-stamp" => return Ok(Mode::ExitStamp),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }

    if let Some(reaper) = reap {
        let tiny = tiny.ok_or("--reap needs --tiny")?;
        return Ok(Mode::Reap {
            reaper,
            count: children.count,
            max_ms: children.max_ms,
            seed,
            stack_kib: children.stack_kib,
            tiny,
        });
    }
    if children_mode {
        children.warmup = time.warmup;
        if children.count == 0 || children.rounds == 0 || children.samples == 0 {
            return Err("--count, --rounds and --samples must not be zero".into());
        }
        return Ok(Mode::Children(children));
    }
    if let Some(size) = worker {
        let tiny = tiny.ok_or("--worker needs --tiny")?;
        return Ok(Mode::Worker {
            size,
            huge_pages: time.huge_pages,
            tiny,
        });
    }
    if let Some(contender) = one {
        let n = n.ok_or("--one needs --n")?;
        let tiny = tiny.ok_or("--one needs --tiny")?;
        return Ok(Mode::One { contender, n, tiny });
    }
    if syscalls {
        if syscall_n == 0 {
            return Err("--syscall-n must be at least 1".into());
        }
        return Ok(Mode::Syscalls { n: syscall_n });
    }
    if time.iters == 0
        || time.fork_iters == 0
        || time.sizes.is_empty()
        || time.env_vars.is_empty()
        || time.contenders.is_empty()
    {
        return Err(
            "--iters, --fork-iters, --mem, --env-vars and --contenders must not be zero or empty"
                .into(),
        );
    }
    Ok(Mode::Time(time))
}

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("spawnfd-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Mode::Time(options) => time_all(&options),
        Mode::Syscalls { n } => count_syscalls(n),
        Mode::One { contender, n, tiny } => run_one(contender, n, tiny),
        Mode::Worker {
            size,
            huge_pages,
            tiny,
        } => worker::serve(size, huge_pages, &tiny).map_err(Into::into),
        Mode::Children(options) => measure_children(&options),
        Mode::Reap {
            reaper,
            count,
            max_ms,
            seed,
            stack_kib,
            tiny,
        } => children::run(reaper, count, max_ms, seed, &tiny, stack_kib),
        Mode::ExitStamp => latency::exit_stamp(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spawnfd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `--one` sub-mode: a warm-up spawn, then `n` spawns, nothing else.
fn run_one(contender: Contender, n: u64, tiny: PathBuf) -> Result<()> {
    let spawner = Spawner::new(TinyProgram::existing(tiny).path())?;
    for _ in 0..=n {
        spawner.run(contender)?;
    }
    Ok(())
}

/// The `--children` mode: part 1 (many children, reaped three ways) and
/// part 2 (exit-to-wake latency).
fn measure_children(options: &ChildrenOptions) -> Result<()> {
    let bench = std::env::current_exe()?;
    if options.reap {
        println!(
            "spawnfd-bench --children, part 1: {} children exiting at random times, reaped by \
             one ChildSet, tokio::process and a std thread per child",
            options.count
        );
        println!("  {}", machine());
        children::drive(
            &bench,
            &ReapOptions {
                n: options.count,
                max_ms: options.max_ms,
                rounds: options.rounds,
                stack_kib: options.stack_kib,
                pause: Duration::from_millis(options.pause_ms),
            },
        )?;
    }
    if options.latency {
        if options.reap {
            println!();
        }
        println!(
            "spawnfd-bench --children, part 2: latency from a child's exit to its parent's \
             wait returning"
        );
        println!("  {}", machine());
        latency::drive(&bench, options.samples, options.warmup)?;
    }
    Ok(())
}

/// The samples of every contender in one worker: one memory size, one
/// environment, one bench binary.
struct SizeResult {
    size: u64,
    /// Variables in the worker's environment (inherited plus extra).
    env_vars: usize,
    /// `""` for this binary, `"old"` for `--compare`'s.
    label: &'static str,
    summaries: Vec<(Contender, Summary)>,
}

impl SizeResult {
    fn median(&self, contender: Contender) -> f64 {
        self.summaries
            .iter()
            .find(|(c, _)| *c == contender)
            .map_or(f64::NAN, |(_, s)| s.median)
    }
}

fn time_all(options: &TimeOptions) -> Result<()> {
    let tiny = TinyProgram::create()?;
    let bench = std::env::current_exe()?;
    println!("spawnfd-bench: spawn + wait of {}", tiny.description());
    println!("  {}", machine());
    println!(
        "  one worker process per memory size, driven in lockstep (one spawn at a time, \
         timed in the worker)"
    );
    println!(
        "  contenders interleaved (order shuffled every round), each taking one spawn per size \
         in turn; stdin/stdout/stderr inherited by all"
    );
    println!(
        "  {} timed spawns per contender per size after {} warm-up spawns; std-fork and \
         std-attrs (they fork) only {}, spread evenly over the rounds",
        options.iters,
        options.warmup,
        options.fork_iters.min(options.iters),
    );
    println!(
        "  parent memory: anonymous mmap, one byte written per page, {}",
        if options.huge_pages {
            "transparent huge pages as the system sets them"
        } else {
            "MADV_NOHUGEPAGE (4 KiB pages)"
        }
    );
    print_attrs()?;

    // Started one after the other, so that each touches its memory alone.
    // Dropping them (also on error) kills and reaps them.
    let mut binaries = vec![("", bench.as_path())];
    if let Some(old) = &options.compare {
        println!(
            "  beside each worker, one of {} (rows labelled \"old\")",
            old.display()
        );
        binaries.push(("old", old.as_path()));
    }
    let inherited = std::env::vars_os().count();
    let mut workers = Vec::new();
    for &extra in &options.env_vars {
        for &size in &options.sizes {
            for &(label, binary) in &binaries {
                workers.push(Worker::start(
                    binary,
                    tiny.path(),
                    size,
                    options.huge_pages,
                    extra,
                    label,
                )?);
            }
        }
    }
    let results = time_interleaved(&mut workers, options, inherited)?;
    for (worker, result) in workers.iter().zip(&results) {
        let rss = worker.rss.map_or_else(|| "?".to_owned(), format_size);
        println!();
        println!(
            "== {}parent memory {}, environment of {} variables (touched in {:.1} s; VmRSS {rss}) ==",
            label_prefix(worker.label),
            format_size(worker.size),
            inherited + worker.env_vars,
            worker.touch.as_secs_f64()
        );
        print_size(result);
    }
    drop(workers);
    let mut groups: Vec<(usize, &'static str)> = Vec::new();
    for r in &results {
        if !groups.contains(&(r.env_vars, r.label)) {
            groups.push((r.env_vars, r.label));
        }
    }
    for (env_vars, label) in groups {
        let group: Vec<&SizeResult> = results
            .iter()
            .filter(|r| (r.env_vars, r.label) == (env_vars, label))
            .collect();
        println!();
        println!(
            "== {}targets, environment of {env_vars} variables (reported, never enforced) ==",
            label_prefix(label)
        );
        print_targets(&group);
    }
    print_env_costs(&results);
    print_comparison(&results);
    Ok(())
}

fn label_prefix(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!("[{label}] ")
    }
}

/// With several environment sizes: each contender's median at every
/// environment over its median at the smallest, and the ratios between
/// the contenders at each.
fn print_env_costs(results: &[SizeResult]) {
    let Some(base) = results.iter().map(|r| r.env_vars).min() else {
        return;
    };
    if results.iter().all(|r| r.env_vars == base) {
        return;
    }
    println!();
    println!("== environment cost: medians over those with {base} variables ==");
    for r in results.iter().filter(|r| r.env_vars != base) {
        let Some(b) = results
            .iter()
            .find(|b| (b.env_vars, b.size, b.label) == (base, r.size, r.label))
        else {
            continue;
        };
        for (c, s) in &r.summaries {
            target_row(
                format!(
                    "{}{}({} vars)/{}({base} vars) at {}",
                    label_prefix(r.label),
                    c.name(),
                    r.env_vars,
                    c.name(),
                    format_size(r.size)
                ),
                s.median / b.median(*c),
                String::new(),
            );
        }
    }
}

/// With `--compare`: each contender's median in this binary's worker over
/// its median in the other binary's, at every size and environment.
fn print_comparison(results: &[SizeResult]) {
    let olds: Vec<&SizeResult> = results.iter().filter(|r| r.label == "old").collect();
    if olds.is_empty() {
        return;
    }
    println!();
    println!("== this binary over the --compare binary (\"old\"): ratios of medians ==");
    for old in olds {
        let Some(new) = results
            .iter()
            .find(|r| r.label.is_empty() && (r.size, r.env_vars) == (old.size, old.env_vars))
        else {
            continue;
        };
        for (c, s) in &new.summaries {
            target_row(
                format!(
                    "{} new/old at {}, {} vars",
                    c.name(),
                    format_size(new.size),
                    new.env_vars
                ),
                s.median / old.median(*c),
                String::new(),
            );
        }
    }
}

/// Times every contender in every worker, interleaved: in each round the
/// contenders take turns in an order shuffled every round, and a
/// contender's turn is one spawn in each worker, in the order of `workers`.
/// Returns the results in that order.
fn time_interleaved(
    workers: &mut [Worker],
    options: &TimeOptions,
    inherited: usize,
) -> Result<Vec<SizeResult>> {
    let budget = |c: Contender| {
        if c.forks() {
            options.fork_iters.min(options.iters)
        } else {
            options.iters
        }
    };
    // A rationed contender gets a short warm-up too.
    let warmup = |c: Contender| {
        if budget(c) < options.iters {
            options.warmup.min(2)
        } else {
            options.warmup
        }
    };
    let chosen = |c: Contender| options.contenders.contains(&c);
    for round in 0..options.warmup {
        for c in Contender::ALL {
            if chosen(c) && round < warmup(c) {
                for worker in workers.iter_mut() {
                    worker.run(c)?;
                }
            }
        }
    }

    // samples[worker][contender]
    let mut samples: Vec<Vec<Vec<Duration>>> = workers
        .iter()
        .map(|_| {
            Contender::ALL
                .iter()
                .map(|&c| Vec::with_capacity(budget(c)))
                .collect()
        })
        .collect();
    let mut turns = [0; Contender::ALL.len()];
    let mut order: [usize; Contender::ALL.len()] = std::array::from_fn(|i| i);
    let mut rng = Shuffle::new();
    for round in 0..options.iters {
        // A new order every round, so that every contender follows every
        // other about equally often. (A fixed order rotated from round to
        // round made spawnfd follow spawnfd-attrs in almost every round,
        // the contenders that fork being skipped in most: the spawnfd spawn
        // in the first worker then came right after a spawnfd-attrs child,
        // whose session and credentials the kernel tears down partly
        // afterwards, in the other worker, and spawnfd came out 5 to 8 %
        // faster in the second worker than in the first.)
        rng.shuffle(&mut order);
        for &i in &order {
            let c = Contender::ALL[i];
            // A rationed contender runs in evenly spaced rounds.
            let due = chosen(c) && turns[i] * options.iters < (round + 1) * budget(c);
            if !due {
                continue;
            }
            turns[i] += 1;
            // The workers always take turns in the same order, so that
            // every spawn follows one in another worker. (Rotating this
            // order made a worker spawn twice in a row at round boundaries,
            // always with the same contender, which favoured it.)
            for (worker, samples) in workers.iter_mut().zip(&mut samples) {
                samples[i].push(worker.run(c)?);
            }
        }
    }

    workers
        .iter()
        .zip(&samples)
        .map(|(worker, samples)| {
            let summaries = Contender::ALL
                .into_iter()
                .zip(samples)
                .filter(|&(c, _)| chosen(c))
                .map(|(c, s)| Ok((c, Summary::of(s).ok_or("no samples")?)))
                .collect::<Result<_>>()?;
            Ok(SizeResult {
                size: worker.size,
                env_vars: inherited + worker.env_vars,
                label: worker.label,
                summaries,
            })
        })
        .collect()
}

/// Reproducible shuffles of the contenders' order: xorshift64* with a fixed
/// seed.
struct Shuffle(u64);

impl Shuffle {
    fn new() -> Shuffle {
        Shuffle(0x9e37_79b9_7f4a_7c15)
    }

    /// Another sequence for each seed (xorshift needs a non-zero state).
    fn seeded(seed: u64) -> Shuffle {
        Shuffle((0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0xbf58_476d_1ce4_e5b9)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn print_size(result: &SizeResult) {
    println!(
        "  {:<13} {:>6} {:>11} {:>11} {:>11}",
        "contender", "n", "median µs", "p90 µs", "min µs"
    );
    for (c, s) in &result.summaries {
        println!(
            "  {:<13} {:>6} {:>11.1} {:>11.1} {:>11.1}",
            c.name(),
            s.n,
            s.median,
            s.p90,
            s.min
        );
    }
    let spawnfd = result.median(Contender::Spawnfd);
    println!("  ratios of medians:");
    for other in [Contender::PosixSpawn, Contender::Std, Contender::StdFork] {
        let ratio = spawnfd / result.median(other);
        let target = if other == Contender::PosixSpawn {
            format!(" {}", verdict(ratio <= 0.98, "target <= 0.98"))
        } else {
            String::new()
        };
        ratio_row(Contender::Spawnfd, other, ratio, target);
    }
    let attrs = result.median(Contender::SpawnfdAttrs);
    let cost = attrs / spawnfd;
    let target = format!(" {}", verdict(cost <= 1.15, "target <= 1.15"));
    ratio_row(Contender::SpawnfdAttrs, Contender::Spawnfd, cost, target);
    for other in [Contender::StdAttrs, Contender::StdFork] {
        let ratio = result.median(other) / attrs;
        ratio_row(other, Contender::SpawnfdAttrs, ratio, String::new());
    }
}

fn ratio_row(a: Contender, b: Contender, ratio: f64, target: String) {
    if ratio.is_nan() {
        return; // a contender not timed (--contenders)
    }
    let label = format!("{} / {}", a.name(), b.name());
    println!("    {label:<29} {ratio:>8.3}{target}");
}

/// Says what the attribute contenders set, and checks once, in a real child
/// (`sh`), that every setting takes with both.
fn print_attrs() -> Result<()> {
    println!(
        "  spawnfd-attrs and std-attrs: {}",
        attrs::Settings::current().describe()
    );
    for line in attrs::verify(std::path::Path::new(SH))? {
        println!("  checked with {SH}: {line}");
    }
    Ok(())
}

/// The kernel release and the number of CPUs this process may use.
fn machine() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".to_owned(), |s| s.trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("Linux {kernel}, CPUs available: {cpus}")
}

fn verdict(pass: bool, target: &str) -> String {
    format!("[{target}: {}]", if pass { "PASS" } else { "MISS" })
}

/// The targets across sizes (of one environment and binary): spawnfd must
/// stay flat, fork must not.
fn print_targets(results: &[&SizeResult]) {
    let (Some(small), Some(big)) = (
        results.iter().min_by_key(|r| r.size),
        results.iter().max_by_key(|r| r.size),
    ) else {
        return;
    };
    for r in results {
        let ratio = r.median(Contender::Spawnfd) / r.median(Contender::PosixSpawn);
        target_row(
            format!("spawnfd/posix_spawn at {}", format_size(r.size)),
            ratio,
            verdict(ratio <= 0.98, "<= 0.98"),
        );
    }
    print_attr_targets(results);
    if big.size == small.size {
        return;
    }
    let (s, b) = (format_size(small.size), format_size(big.size));
    let flat = big.median(Contender::Spawnfd) / small.median(Contender::Spawnfd);
    target_row(
        format!("spawnfd({b})/spawnfd({s})"),
        flat,
        verdict(flat <= 1.05, "<= 1.05"),
    );
    // For comparison: posix_spawn does not copy page tables either.
    let control = big.median(Contender::PosixSpawn) / small.median(Contender::PosixSpawn);
    target_row(
        format!("posix_spawn({b})/posix_spawn({s})"),
        control,
        String::new(),
    );
    let fork = big.median(Contender::StdFork) / big.median(Contender::Spawnfd);
    target_row(
        format!("std-fork({b})/spawnfd({b})"),
        fork,
        verdict(fork >= 100.0, ">= 100"),
    );
    let growth = big.median(Contender::StdFork) / small.median(Contender::StdFork);
    target_row(
        format!("std-fork({b})/std-fork({s})"),
        growth,
        String::new(),
    );
    let attrs_flat = big.median(Contender::SpawnfdAttrs) / small.median(Contender::SpawnfdAttrs);
    target_row(
        format!("spawnfd-attrs({b})/spawnfd-attrs({s})"),
        attrs_flat,
        String::new(),
    );
}

/// The attribute rows, at every size: what turning everything on costs
/// spawnfd, and how std doing the same compares.
fn print_attr_targets(results: &[&SizeResult]) {
    for r in results {
        let size = format_size(r.size);
        let cost = r.median(Contender::SpawnfdAttrs) / r.median(Contender::Spawnfd);
        target_row(
            format!("spawnfd-attrs/spawnfd at {size}"),
            cost,
            verdict(cost <= 1.15, "<= 1.15"),
        );
        let std = r.median(Contender::StdAttrs) / r.median(Contender::SpawnfdAttrs);
        target_row(
            format!("std-attrs/spawnfd-attrs at {size}"),
            std,
            String::new(),
        );
    }
}

fn target_row(label: String, value: f64, verdict: String) {
    if value.is_nan() {
        return; // a contender not timed (--contenders)
    }
    let line = format!("  {label:<44} {value:>9.3}  {verdict}");
    println!("{}", line.trim_end());
}

fn count_syscalls(n: u64) -> Result<()> {
    let tiny = TinyProgram::create()?;
    if let Err(why) = syscalls::check_strace(tiny.path()) {
        println!("spawnfd-bench: {why}; skipping the system call counts");
        return Ok(());
    }
    let bench = std::env::current_exe()?;
    println!(
        "spawnfd-bench: system calls per spawn + wait of {}, parent and child",
        tiny.description()
    );
    println!(
        "  strace -f -c of {n} spawns minus a run of 0 (both after one warm-up spawn), divided by {n};"
    );
    println!("  the tiny program's exit is not counted (strace -c omits calls that never return)");
    print_attrs()?;
    println!();
    println!("  {:<13} {:>11}", "contender", "calls/spawn");
    for c in Contender::ALL {
        let base = syscalls::count(&bench, tiny.path(), c, 0)?;
        let with = syscalls::count(&bench, tiny.path(), c, n)?;
        let per = PerSpawn::from_runs(&with, &base, n);
        let target = if c == Contender::Spawnfd {
            verdict(per.total < 30.0, "target < 30")
        } else {
            String::new()
        };
        let line = format!("  {:<13} {:>11.1}  {target}", c.name(), per.total);
        println!("{}", line.trim_end());
        let top: Vec<String> = per
            .top
            .iter()
            .map(|(name, calls)| format!("{name} {calls:.0}"))
            .collect();
        println!("      {}", top.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn shuffled_orders_mix_neighbours() {
        const N: usize = Contender::ALL.len();
        let mut rng = Shuffle::new();
        let mut order: [usize; N] = std::array::from_fn(|i| i);
        // How often contender b directly follows contender a, across the
        // rounds too.
        let mut follows = [[0u32; N]; N];
        let mut first = [0u32; N];
        let mut last: Option<usize> = None;
        for _ in 0..6000 {
            rng.shuffle(&mut order);
            let mut sorted = order;
            sorted.sort();
            assert_eq!(sorted, std::array::from_fn(|i| i), "a permutation");
            first[order[0]] += 1;
            for &b in &order {
                if let Some(a) = last {
                    follows[a][b] += 1;
                }
                last = Some(b);
            }
        }
        // 6000 rounds of 6: about 6000 * 6 / 36 = 1000 per ordered pair
        // (a contender follows itself only across a round boundary).
        for (a, row) in follows.iter().enumerate() {
            for (b, &n) in row.iter().enumerate() {
                if a != b {
                    assert!((800..1300).contains(&n), "{a} then {b}: {n}");
                }
            }
        }
        assert!(first.iter().all(|&n| (800..1200).contains(&n)), "{first:?}");
    }

    #[test]
    fn arguments() {
        let Ok(Mode::Time(t)) = parse(&["--mem", "0,1G", "--iters", "10"]) else {
            panic!("not a timing run");
        };
        assert_eq!(t.sizes, [0, 1 << 30]);
        assert_eq!(t.iters, 10);
        assert!(matches!(
            parse(&["--syscalls"]),
            Ok(Mode::Syscalls { n: 200 })
        ));
        assert!(matches!(
            parse(&["--one", "posix_spawn", "--n", "3", "--tiny", "/bin/true"]),
            Ok(Mode::One {
                contender: Contender::PosixSpawn,
                n: 3,
                ..
            })
        ));
        assert!(matches!(
            parse(&["--worker", "4096", "--tiny", "/bin/true", "--thp"]),
            Ok(Mode::Worker {
                size: 4096,
                huge_pages: true,
                ..
            })
        ));
        assert!(parse(&["--worker", "4096"]).is_err());
        assert!(parse(&["--iters", "x"]).is_err());
        assert!(matches!(
            parse(&["--one", "spawnfd-attrs", "--n", "1", "--tiny", "/bin/true"]),
            Ok(Mode::One {
                contender: Contender::SpawnfdAttrs,
                ..
            })
        ));
        assert!(matches!(
            parse(&["--one", "std-attrs", "--n", "1", "--tiny", "/bin/true"]),
            Ok(Mode::One {
                contender: Contender::StdAttrs,
                ..
            })
        ));
        assert!(parse(&["--one", "vfork"]).is_err());
        let Ok(Mode::Time(t)) = parse(&[
            "--env-vars",
            "0,65,965",
            "--contenders",
            "spawnfd,posix_spawn",
            "--compare",
            "/tmp/old-bench",
        ]) else {
            panic!("not a timing run");
        };
        assert_eq!(t.env_vars, [0, 65, 965]);
        assert_eq!(t.contenders, [Contender::Spawnfd, Contender::PosixSpawn]);
        assert_eq!(t.compare, Some(PathBuf::from("/tmp/old-bench")));
        let Ok(Mode::Time(t)) = parse(&[]) else {
            panic!("not a timing run");
        };
        assert_eq!((t.env_vars, t.contenders.len()), (vec![0], 6));
        assert!(parse(&["--env-vars", "x"]).is_err());
        assert!(parse(&["--contenders", "spawnfd,vfork"]).is_err());
        assert!(parse(&["--contenders", ""]).is_err());
        let Ok(Mode::Children(c)) = parse(&["--children", "--count", "500", "--only", "reap"])
        else {
            panic!("not --children");
        };
        assert_eq!((c.count, c.max_ms, c.rounds), (500, 2000, 3));
        assert!(c.reap && !c.latency);
        assert!(matches!(
            parse(&[
                "--reap",
                "tokio-mt",
                "--count",
                "7",
                "--seed",
                "3",
                "--tiny",
                "/bin/sleep"
            ]),
            Ok(Mode::Reap {
                reaper: Reaper::TokioMt,
                count: 7,
                seed: 3,
                stack_kib: 64,
                ..
            })
        ));
        assert!(parse(&["--reap", "tokio-mt"]).is_err());
        assert!(parse(&["--children", "--only", "both"]).is_err());
        assert!(matches!(parse(&["--exit-stamp"]), Ok(Mode::ExitStamp)));
    }
}

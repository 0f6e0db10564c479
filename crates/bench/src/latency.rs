//! The `--children` mode, part 2: how long after a child's exit its
//! parent's wait returns.
//!
//! The child is an exit stamper ([`crate::elf::TinyProgram::stamper`]): it
//! sleeps 2 ms (so that the parent is asleep in its wait by then), reads
//! `CLOCK_MONOTONIC`, writes it to its stdout (a pipe) and exits. The
//! parent reads `CLOCK_MONOTONIC` as soon as its wait returns, then the
//! stamp from the pipe: latency = wake − stamp. It includes the rest of the
//! child's life after the stamp (the `write` and the whole exit path:
//! tearing down its memory and files, notifying the parent) and the
//! parent's wake-up; it is measured on one clock, so no offsets enter.
//!
//! Waiters, each spawning with its own library:
//!
//! - `spawnfd-wait`: `spawnfd::Child::wait` (`poll` on the pidfd, then
//!   `waitid(P_PIDFD)`);
//! - `childset`: `ChildSet::insert` then `wait_any` (`epoll_wait` on the
//!   pidfds, then `waitid(P_PIDFD, WNOHANG)`), one set for all samples;
//! - `std-wait`: `std::process::Child::wait` (blocking `waitpid`);
//! - `tokio-ct`, `tokio-mt`: a task spawned on a current-thread or a
//!   multi-thread runtime (one of each, for all samples) that spawns with
//!   `tokio::process::Command` and awaits `child.wait()`, stamping right
//!   after the `.await` (tokio reaps through a pidfd in its reactor).
//!
//! Each waiter is timed with two stampers: the static ELF (nothing to tear
//! down) and the bench binary itself in its `--exit-stamp` mode (a full
//! Rust program, whose exit has more to tear down). All combinations are
//! interleaved, in an order shuffled every round.

use std::io::{self, Read};
use std::process::ExitStatus;

use crate::Result;
use crate::children::{monotonic_ns, stamp_ns};
use crate::elf::TinyProgram;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiter {
    SpawnfdWait,
    ChildSet,
    StdWait,
    TokioCt,
    TokioMt,
}

impl Waiter {
    pub const ALL: [Waiter; 5] = [
        Waiter::SpawnfdWait,
        Waiter::ChildSet,
        Waiter::StdWait,
        Waiter::TokioCt,
        Waiter::TokioMt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Waiter::SpawnfdWait => "spawnfd-wait",
            Waiter::ChildSet => "childset",
            Waiter::StdWait => "std-wait",
            Waiter::TokioCt => "tokio-ct",
            Waiter::TokioMt => "tokio-mt",
        }
    }
}

/// What the samples are taken with, kept for all of them.
struct Waiters {
    set: spawnfd::ChildSet,
    ct: tokio::runtime::Runtime,
    mt: tokio::runtime::Runtime,
}

/// One sample: spawns `stamper` with `waiter`, waits, returns wake − stamp
/// in nanoseconds (negative if the wait returned before the stamp, which
/// would mean the parent was not waiting yet).
fn sample(waiters: &mut Waiters, waiter: Waiter, stamper: &TinyProgram) -> Result<i64> {
    let (mut reader, writer) = io::pipe()?;
    let (status, wake): (ExitStatus, u64) = match waiter {
        Waiter::SpawnfdWait => {
            let mut child = spawnfd::Command::new(stamper.path())
                .args(stamper.prefix())
                .stdout(writer)
                .spawn()?;
            let status = child.wait()?;
            (status, monotonic_ns())
        }
        Waiter::ChildSet => {
            let child = spawnfd::Command::new(stamper.path())
                .args(stamper.prefix())
                .stdout(writer)
                .spawn()?;
            waiters.set.insert(child)?;
            let exited = waiters.set.wait_any()?.ok_or("the set was empty")?;
            let wake = monotonic_ns();
            (exited.status, wake)
        }
        Waiter::StdWait => {
            let mut child = std::process::Command::new(stamper.path())
                .args(stamper.prefix())
                .stdout(writer)
                .spawn()?;
            let status = child.wait()?;
            (status, monotonic_ns())
        }
        Waiter::TokioCt | Waiter::TokioMt => {
            let runtime = if waiter == Waiter::TokioCt {
                &waiters.ct
            } else {
                &waiters.mt
            };
            let path = stamper.path().to_owned();
            let prefix = stamper.prefix().to_vec();
            let task = async move {
                let mut child = tokio::process::Command::new(path)
                    .args(prefix)
                    .stdout(writer)
                    .spawn()?;
                let status = child.wait().await?;
                io::Result::Ok((status, monotonic_ns()))
            };
            runtime.block_on(async { tokio::spawn(task).await })??
        }
    };
    let mut stamp = [0u8; 16];
    reader.read_exact(&mut stamp)?;
    if !status.success() {
        return Err(format!("{}: the stamper failed: {status}", waiter.name()).into());
    }
    Ok(wake as i64 - stamp_ns(stamp) as i64)
}

/// Order statistics of one combination's samples, in microseconds.
struct Latency {
    n: usize,
    median: f64,
    p90: f64,
    p99: f64,
    min: f64,
    max: f64,
    /// Samples where the wait returned before the stamp.
    negative: usize,
}

impl Latency {
    fn of(samples: &[i64]) -> Latency {
        let mut us: Vec<f64> = samples.iter().map(|&ns| ns as f64 / 1e3).collect();
        us.sort_by(f64::total_cmp);
        let q = |q| crate::stats::quantile(&us, q).unwrap_or(f64::NAN);
        Latency {
            n: us.len(),
            median: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            min: q(0.0),
            max: q(1.0),
            negative: samples.iter().filter(|&&ns| ns < 0).count(),
        }
    }
}

/// Takes `samples` samples of every waiter with both stampers, interleaved,
/// after `warmup` untimed rounds; prints the table and the target.
pub fn drive(bench: &std::path::Path, samples: usize, warmup: usize) -> Result<()> {
    let stampers = [
        ("elf", TinyProgram::stamper(bench, false)?),
        ("rust", TinyProgram::stamper(bench, true)?),
    ];
    for (name, stamper) in &stampers {
        println!("  stamper {name}: {}", stamper.description());
    }
    println!(
        "  {samples} samples per waiter and stamper after {warmup} warm-up rounds, all \
         interleaved (order shuffled every round); the child's stdout is a pipe, the rest \
         inherited"
    );
    let mut waiters = Waiters {
        set: spawnfd::ChildSet::new()?,
        ct: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        mt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    let combos: Vec<(Waiter, usize)> = Waiter::ALL
        .into_iter()
        .flat_map(|w| (0..stampers.len()).map(move |s| (w, s)))
        .collect();
    let mut order: Vec<usize> = (0..combos.len()).collect();
    let mut rng = crate::Shuffle::new();
    let mut taken: Vec<Vec<i64>> = vec![Vec::with_capacity(samples); combos.len()];
    for round in 0..warmup + samples {
        rng.shuffle(&mut order);
        for &i in &order {
            let (waiter, s) = combos[i];
            let latency = sample(&mut waiters, waiter, &stampers[s].1)?;
            if round >= warmup {
                taken[i].push(latency);
            }
        }
    }
    println!();
    println!(
        "  {:<13} {:<8} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "waiter", "stamper", "n", "median µs", "p90 µs", "p99 µs", "min µs", "max µs"
    );
    let mut summaries = Vec::new();
    for ((waiter, s), samples) in combos.iter().zip(&taken) {
        let l = Latency::of(samples);
        println!(
            "  {:<13} {:<8} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            waiter.name(),
            stampers[*s].0,
            l.n,
            l.median,
            l.p90,
            l.p99,
            l.min,
            l.max
        );
        if l.negative > 0 {
            println!(
                "    {} samples negative: the wait returned before the stamp",
                l.negative
            );
        }
        summaries.push((*waiter, *s, l));
    }
    println!();
    println!("== targets (reported, never enforced) ==");
    for (waiter, s, l) in &summaries {
        if matches!(waiter, Waiter::SpawnfdWait | Waiter::ChildSet) {
            let label = format!(
                "exit-to-wake median, {} ({} stamper), µs",
                waiter.name(),
                stampers[*s].0
            );
            let line = format!(
                "  {label:<44} {:>9.1}  {}",
                l.median,
                crate::verdict(l.median < 100.0, "< 100")
            );
            println!("{line}");
        }
    }
    Ok(())
}

/// The `--exit-stamp` mode: what the static stamper does, in Rust.
// `time_t` and `c_long` are `i64` only on 64-bit targets.
#[allow(clippy::useless_conversion)]
pub fn exit_stamp() -> ! {
    std::thread::sleep(std::time::Duration::from_nanos(crate::elf::STAMP_DELAY_NS));
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the time to a local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&i64::from(ts.tv_sec).to_ne_bytes());
    bytes[8..].copy_from_slice(&i64::from(ts.tv_nsec).to_ne_bytes());
    // SAFETY: writes 16 bytes of a local to fd 1, then ends the process
    // without running anything else.
    unsafe {
        libc::write(1, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_statistics() {
        let l = Latency::of(&[3000, 1000, 2000, -500]);
        assert_eq!(l.n, 4);
        assert_eq!(l.negative, 1);
        assert!((l.median - 1.5).abs() < 1e-9);
        assert!((l.min + 0.5).abs() < 1e-9);
        assert!((l.max - 3.0).abs() < 1e-9);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_sample_of_every_waiter() {
        let stamper = TinyProgram::stamper(std::path::Path::new("/nonexistent"), false).unwrap();
        let mut waiters = Waiters {
            set: spawnfd::ChildSet::new().unwrap(),
            ct: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            mt: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
        };
        for waiter in Waiter::ALL {
            let ns = sample(&mut waiters, waiter, &stamper).unwrap();
            // Positive, and well under the time a sample takes.
            assert!((0..1_000_000_000).contains(&ns), "{}: {ns}", waiter.name());
        }
        assert!(waiters.set.is_empty());
    }
}

//! Order statistics of timing samples.

use std::time::Duration;

/// The summary of one contender's samples at one memory size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    /// Microseconds.
    pub median: f64,
    pub p90: f64,
    pub min: f64,
}

impl Summary {
    /// Summarizes `samples` (in any order); `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        us.sort_by(f64::total_cmp);
        Some(Summary {
            n: us.len(),
            median: quantile(&us, 0.5)?,
            p90: quantile(&us, 0.9)?,
            min: *us.first()?,
        })
    }
}

/// The `q` quantile of sorted values, interpolating linearly between the
/// two nearest ranks (the usual "type 7" definition); `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        let ten: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(quantile(&ten, 0.9), Some(10.0));
        assert_eq!(quantile(&ten, 0.0), Some(1.0));
        assert_eq!(quantile(&ten, 1.0), Some(11.0));
    }

    #[test]
    fn summary_sorts() {
        let samples = [30, 10, 20].map(Duration::from_micros);
        let s = Summary::of(&samples).unwrap();
        assert_eq!(s.n, 3);
        assert!((s.median - 20.0).abs() < 1e-9);
        assert!((s.min - 10.0).abs() < 1e-9);
        assert!((s.p90 - 28.0).abs() < 1e-9);
        assert_eq!(Summary::of(&[]), None);
    }
}

//! Order statistics over samples: percentiles of latencies, and the median with its
//! min–max over runs that every reported figure carries.

use std::time::Duration;

/// `q` (0..=1) percentile of `samples` by nearest rank; `None` when empty.
#[must_use]
pub(crate) fn percentile(samples: &mut [Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let last = samples.len() - 1;
    let rank = (q * last as f64).round() as usize;
    samples.get(rank.min(last)).copied()
}

/// Median, minimum and maximum of one figure over runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Spread {
    /// Median over runs (the mean of the two middle values for an even count).
    pub(crate) median: f64,
    /// Smallest value over runs.
    pub(crate) min: f64,
    /// Largest value over runs.
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when empty.
    #[must_use]
    pub(crate) fn of(values: &[f64]) -> Option<Spread> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_counts() {
        let odd = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (2.0, 1.0, 3.0));
        let even = Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert!((even.median - 2.5).abs() < 1e-12);
    }

    #[test]
    fn percentile_by_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut v, 0.5), Some(Duration::from_micros(51)));
        assert_eq!(percentile(&mut v, 0.99), Some(Duration::from_micros(99)));
        assert_eq!(percentile(&mut [], 0.5), None);
    }
}

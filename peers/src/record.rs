//! One measured figure, and the per-run ratios derived from figures of the same run.

use crate::stats::Spread;

/// Column of the same-run physical references in tables.
pub(crate) const REFERENCE: &str = "reference";
/// The crate under test.
pub(crate) const CPJ: &str = "checkpoint-journal";

/// Metric of checkpoint-journal's speed over the best peer's (> 1: faster).
pub(crate) const SPEED_VS_BEST_PEER: &str = "speed × best peer";

/// One figure of one run.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// Run number, from 1.
    pub(crate) run: usize,
    /// Log name, or [`REFERENCE`].
    pub(crate) peer: &'static str,
    /// Workload name, e.g. `group_commit_16`.
    pub(crate) workload: String,
    /// What was measured, with its unit, e.g. `acked appends/s`.
    pub(crate) metric: &'static str,
    /// The value, in the metric's unit.
    pub(crate) value: f64,
}

/// Records of every run, in the order they were measured.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// All records.
    pub(crate) all: Vec<Record>,
}

impl Records {
    /// Adds one figure.
    pub(crate) fn push(
        &mut self,
        run: usize,
        peer: &'static str,
        workload: &str,
        metric: &'static str,
        value: f64,
    ) {
        self.all.push(Record {
            run,
            peer,
            workload: workload.to_owned(),
            metric,
            value,
        });
    }

    /// The value of one figure in one run.
    #[must_use]
    pub(crate) fn get(&self, run: usize, peer: &str, workload: &str, metric: &str) -> Option<f64> {
        self.all
            .iter()
            .find(|r| {
                r.run == run && r.peer == peer && r.workload == workload && r.metric == metric
            })
            .map(|r| r.value)
    }

    /// Median and min–max of one figure over runs.
    #[must_use]
    pub(crate) fn spread(&self, peer: &str, workload: &str, metric: &str) -> Option<Spread> {
        let values: Vec<f64> = self
            .all
            .iter()
            .filter(|r| r.peer == peer && r.workload == workload && r.metric == metric)
            .map(|r| r.value)
            .collect();
        Spread::of(&values)
    }

    /// Adds, for every peer that has both figures in `run`, `numerator / denominator`
    /// where the denominator is a reference figure of the same run.
    pub(crate) fn ratio_to_reference(
        &mut self,
        run: usize,
        (workload, metric): (&str, &'static str),
        (ref_workload, ref_metric): (&str, &str),
        ratio_metric: &'static str,
    ) {
        let Some(reference) = self.get(run, REFERENCE, ref_workload, ref_metric) else {
            return;
        };
        let found: Vec<(&'static str, f64)> = self
            .all
            .iter()
            .filter(|r| r.run == run && r.workload == workload && r.metric == metric)
            .map(|r| (r.peer, r.value / reference))
            .collect();
        for (peer, ratio) in found {
            self.push(run, peer, workload, ratio_metric, ratio);
        }
    }

    /// Adds checkpoint-journal's figure over the best peer's in `run` (higher is better
    /// when `higher_is_better`; the ratio is then > 1 when checkpoint-journal wins).
    pub(crate) fn ratio_to_best_peer(
        &mut self,
        run: usize,
        workload: &str,
        metric: &'static str,
        higher_is_better: bool,
    ) {
        let Some(ours) = self.get(run, CPJ, workload, metric) else {
            return;
        };
        let peers = self
            .all
            .iter()
            .filter(|r| r.run == run && r.workload == workload && r.metric == metric)
            .filter(|r| r.peer != CPJ && r.peer != REFERENCE)
            .map(|r| r.value);
        let best = if higher_is_better {
            peers.fold(f64::NAN, f64::max)
        } else {
            peers.fold(f64::NAN, f64::min)
        };
        if best.is_finite() && best > 0.0 {
            let ratio = if higher_is_better {
                ours / best
            } else {
                best / ours
            };
            self.push(run, CPJ, workload, SPEED_VS_BEST_PEER, ratio);
        }
    }
}

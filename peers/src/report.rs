//! Output: the markdown table (median and min–max over runs, one column per log) and
//! the CSV of every figure of every run.

use std::fmt::Write as _;
use std::path::Path;

use crate::record::{Records, REFERENCE};
use crate::stats::Spread;

/// The markdown table: one row per (workload, metric) in measurement order, one column
/// per log plus the references; each cell "median (min–max)".
#[must_use]
pub(crate) fn markdown(records: &Records, peers: &[&'static str]) -> String {
    let mut columns: Vec<&str> = peers.to_vec();
    columns.push(REFERENCE);
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for r in &records.all {
        if !rows.contains(&(r.workload.as_str(), r.metric)) {
            rows.push((r.workload.as_str(), r.metric));
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "| workload | metric | {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---:|".repeat(columns.len()));
    for (workload, metric) in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|peer| {
                records
                    .spread(peer, workload, metric)
                    .map_or_else(|| "—".to_owned(), cell)
            })
            .collect();
        let _ = writeln!(out, "| {workload} | {metric} | {} |", cells.join(" | "));
    }
    out
}

/// "median (min–max)" with three significant digits.
#[must_use]
pub(crate) fn cell(s: Spread) -> String {
    if (s.max - s.min).abs() <= f64::EPSILON * s.median.abs() {
        return figure(s.median);
    }
    format!("{} ({}–{})", figure(s.median), figure(s.min), figure(s.max))
}

/// A value with three significant digits and a k/M/G suffix for large ones.
#[must_use]
pub(crate) fn figure(v: f64) -> String {
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, " G"),
        a if a >= 1e6 => (v / 1e6, " M"),
        a if a >= 1e4 => (v / 1e3, " k"),
        _ => (v, ""),
    };
    let digits = match scaled.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    };
    format!("{scaled:.digits$}{suffix}")
}

/// Every record as `run,peer,workload,metric,value`.
///
/// # Errors
/// I/O errors writing `path`.
pub(crate) fn write_csv(records: &Records, path: &Path) -> std::io::Result<()> {
    let mut out = String::from("run,peer,workload,metric,value\n");
    for r in &records.all {
        let _ = writeln!(
            out,
            "{},{},{},\"{}\",{}",
            r.run, r.peer, r.workload, r.metric, r.value
        );
    }
    std::fs::write(path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_three_digits() {
        assert_eq!(figure(27_714.0), "27.7 k");
        assert_eq!(figure(3.456), "3.46");
        assert_eq!(figure(0.1234), "0.123");
        assert_eq!(figure(123_456_789.0), "123 M");
    }
}

//! How `cpj demo` tells its story: what was appended and how fast, the crash, what
//! recovery found and how long it took, and the per-source check, in plain words (or
//! one `cpj.demo.v1` JSON object).

use crate::demo::{json, Results};
use crate::output::{bytes, duration, per_sec, si, thousands, CliError, Out, Table};
use crate::report;

pub(crate) fn print(out: &mut Out, r: &Results, ok: bool) -> Result<(), CliError> {
    if out.json {
        return out.json_line(&json(r, ok));
    }
    appended(out, r)?;
    out.line("")?;
    out.line(format!(
        "{} the journal was dropped without a flush or a close marker, as a killed \
         process leaves it.",
        out.bold("Crash:")
    ))?;
    out.line("")?;
    recovered(out, r)?;
    out.line("")?;
    checked(out, r, ok)?;
    out.line("")?;
    next_steps(out, r)
}

fn appended(out: &mut Out, r: &Results) -> Result<(), CliError> {
    let o = &r.outcome;
    let entries = o.total(|s| s.entries);
    out.line(format!(
        "{} {} sources appended into {}",
        out.bold("Workload:"),
        o.sources.len(),
        r.dir.display()
    ))?;
    out.line(format!(
        "  {} entries ({} push, {} watermark, {} barrier) in {} batches, {} checkpoints",
        thousands(entries),
        thousands(o.total(|s| s.pushes)),
        thousands(o.total(|s| s.watermarks)),
        thousands(o.total(|s| s.barriers)),
        thousands(o.total(|s| s.batches)),
        thousands(o.checkpoints)
    ))?;
    out.line(format!(
        "  took {}: {}, {} ({} of journal in {} segment files)",
        duration(o.elapsed),
        si(per_sec(entries, o.elapsed), "entries/s"),
        si(per_sec(r.journal_bytes, o.elapsed), "B/s"),
        bytes(r.journal_bytes),
        r.segment_files
    ))
}

fn recovered(out: &mut Out, r: &Results) -> Result<(), CliError> {
    out.line(format!(
        "{} reopening took {}",
        out.bold("Recovery:"),
        duration(r.reopen)
    ))?;
    for line in report::human(&r.report) {
        out.line(line)?;
    }
    let restored = match (r.restore.checkpoint_id, r.restore.checkpoint_lsn) {
        (Some(id), Some(lsn)) => format!(
            "checkpoint {id} (LSN {lsn}), then {} entries after it replayed",
            thousands(r.restore.replayed_entries)
        ),
        _ => "no checkpoint was taken".to_owned(),
    };
    out.line(format!("  restored from     {restored}"))
}

fn checked(out: &mut Out, r: &Results, ok: bool) -> Result<(), CliError> {
    let verdict = if ok {
        out.good("every source's recovered position matches what was appended")
    } else {
        out.bad("MISMATCH: a recovered position differs from what was appended")
    };
    out.line(format!("{} {verdict}", out.bold("Check:")))?;
    let mut t = Table::new(
        &[
            "SOURCE",
            "APPENDED SEQ",
            "RECOVERED SEQ",
            "RESTORED SEQ",
            "WATERMARK",
            "ENTRIES",
            "",
        ],
        &[true, true, true, true, true, true, false],
    );
    let opt = |v: Option<u64>| v.map_or_else(|| "-".into(), |v| v.to_string());
    for c in &r.checks {
        t.row(vec![
            c.source_id.to_string(),
            c.appended_sequence.to_string(),
            opt(c.recovered_sequence),
            opt(c.restored_sequence),
            c.recovered_watermark
                .map_or_else(|| "-".into(), |w| w.to_string()),
            c.recovered_entries.map_or_else(|| "-".into(), thousands),
            if c.ok { "ok" } else { "MISMATCH" }.to_owned(),
        ]);
    }
    t.print(out, 2)?;
    let last = |v: Option<u64>| v.map_or_else(|| "none".into(), |v| v.to_string());
    out.line(format!(
        "  last checkpoint: appended {}, recovered {}",
        last(r.outcome.last_checkpoint_id),
        last(r.last_checkpoint_recovered)
    ))
}

fn next_steps(out: &mut Out, r: &Results) -> Result<(), CliError> {
    if r.kept {
        let dir = r.dir.display();
        out.line(format!(
            "{} the journal is kept in {dir}",
            out.bold("Next:")
        ))?;
        out.line(format!(
            "  cpj inspect {dir}     segments, sources, last checkpoint"
        ))?;
        out.line(format!("  cpj verify {dir}      full checksum scan"))?;
        out.line(format!("  cpj dump {dir} --kind checkpoint"))
    } else {
        out.line(format!(
            "{} the temporary journal was removed; keep one with `cpj demo --dir DIR`, then \
             run `cpj inspect DIR` and `cpj verify DIR`",
            out.bold("Next:")
        ))
    }
}

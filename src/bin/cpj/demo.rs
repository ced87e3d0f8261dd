//! `cpj demo`: a stream engine's workload against a real journal — sources appending
//! batches, aligned checkpoints — then a simulated crash (`close_without_flush`), a
//! reopen, and a check that recovery brought back every source's progress and that the
//! last checkpoint plus the entries after it restore the same positions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::value_parser;
use serde::Serialize;

use checkpoint_journal::format::limits::SEGMENT_SIZE_DEFAULT_BYTES;
use checkpoint_journal::{Frame, Journal, Lsn, Op, Options, RecoveryReport, State};

use crate::demo_workload::{self, Outcome, Plan};
use crate::output::{progress, CliError, CmdResult, Out, Status};
use crate::report::ReportJson;
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj demo                              4 sources, 4,000,000 entries, temporary directory
  cpj demo --sources 8 --entries 10000000
  cpj demo --dir ./demo-journal         keep the journal, then:
  cpj inspect ./demo-journal && cpj verify ./demo-journal

The crash is simulated in-process: the journal is dropped without a flush or a close
marker, exactly as a killed process leaves it (published frames are in the page cache).
Exit status 1 if any recovered position differs from what was appended.";

/// Entries per appended batch.
const BATCH_ENTRIES: usize = 256;
/// Checkpoints taken over the whole run (about).
const CHECKPOINTS_PER_RUN: u64 = 40;

/// Run a stream-engine workload, crash it, recover, and check every source.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// Keep the journal in this new (or empty) directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Sources, each an appending thread.
    #[arg(long, default_value_t = 4, value_parser = value_parser!(u16).range(1..=1024))]
    sources: u16,
    /// Push entries in total, spread over the sources (watermarks and barriers add a few).
    #[arg(long, default_value_t = 4_000_000, value_parser = value_parser!(u64).range(1..=1_000_000_000))]
    entries: u64,
    /// Size of each segment file, header included (a multiple of 4096, 64 KiB to 1 GiB).
    #[arg(long, value_name = "BYTES", default_value_t = SEGMENT_SIZE_DEFAULT_BYTES)]
    segment_size: u64,
}

/// The demo's directory; a temporary one is removed on drop.
struct DemoDir {
    path: PathBuf,
    temporary: bool,
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One source's appended, recovered and restored positions.
#[derive(Debug, Serialize)]
pub(crate) struct SourceCheck {
    pub(crate) source_id: u16,
    pub(crate) appended_sequence: u64,
    pub(crate) recovered_sequence: Option<u64>,
    pub(crate) restored_sequence: Option<u64>,
    pub(crate) appended_watermark: i64,
    pub(crate) recovered_watermark: Option<i64>,
    pub(crate) appended_entries: u64,
    pub(crate) recovered_entries: Option<u64>,
    pub(crate) ok: bool,
}

/// Restoring from the last checkpoint and replaying the entries after it.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Restore {
    pub(crate) checkpoint_id: Option<u64>,
    pub(crate) checkpoint_lsn: Option<u64>,
    pub(crate) replayed_entries: u64,
    #[serde(skip)]
    pub(crate) sequences: BTreeMap<u16, u64>,
}

/// Everything the demo measured, for printing.
#[derive(Debug)]
pub(crate) struct Results {
    pub(crate) dir: PathBuf,
    pub(crate) kept: bool,
    pub(crate) outcome: Outcome,
    pub(crate) journal_bytes: u64,
    pub(crate) segment_files: usize,
    pub(crate) report: RecoveryReport,
    pub(crate) reopen: Duration,
    pub(crate) restore: Restore,
    pub(crate) checks: Vec<SourceCheck>,
    pub(crate) last_checkpoint_recovered: Option<u64>,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    let dir = prepare_dir(args.dir.as_deref())?;
    let pushes_per_source = (args.entries / u64::from(args.sources)).max(1);
    let plan = Plan {
        sources: args.sources,
        pushes_per_source,
        batch_entries: BATCH_ENTRIES,
        checkpoint_every: (pushes_per_source * u64::from(args.sources) / CHECKPOINTS_PER_RUN)
            .max(1000),
    };
    let options = Options::default().segment_size_bytes(args.segment_size);
    let results = crash_and_recover(&dir, &options, plan).map_err(|e| CliError::lib(&e))?;
    let ok = results.checks.iter().all(|c| c.ok)
        && results.last_checkpoint_recovered == results.outcome.last_checkpoint_id;
    crate::demo_print::print(out, &results, ok)?;
    Ok(if ok { Status::Clean } else { Status::Problems })
}

fn prepare_dir(dir: Option<&Path>) -> Result<DemoDir, CliError> {
    let Some(dir) = dir else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("cpj-demo-{}-{nanos}", std::process::id());
        return Ok(DemoDir {
            path: std::env::temp_dir().join(name),
            temporary: true,
        });
    };
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(CliError::CannotRun(format!(
            "{} is not empty; the demo writes a new journal: pass a new or empty directory",
            dir.display()
        )));
    }
    Ok(DemoDir {
        path: dir.to_path_buf(),
        temporary: false,
    })
}

fn crash_and_recover(
    dir: &DemoDir,
    options: &Options,
    plan: Plan,
) -> checkpoint_journal::Result<Results> {
    let journal = Journal::open(&dir.path, options.clone())?;
    let bar = progress(plan.pushes_per_source * u64::from(plan.sources), false);
    bar.set_message("appending");
    let outcome = demo_workload::run(&journal, plan, &bar)?;
    bar.finish_and_clear();
    let journal_bytes = journal.end_lsn().0 - journal.first_lsn().0;
    // The crash: no flush, no close marker; the files stay as a killed process leaves them.
    journal.close_without_flush();
    let segment_files = segments::list(&dir.path).map_or(0, |s| s.len());
    let started = Instant::now();
    let journal = Journal::open(&dir.path, options.clone())?;
    let reopen = started.elapsed();
    let report = journal.recovery_report().clone();
    let state = journal.state()?;
    let restore = restore(&journal, &state)?;
    journal.close()?;
    Ok(Results {
        dir: dir.path.clone(),
        kept: !dir.temporary,
        checks: check(&outcome, &state, &restore),
        last_checkpoint_recovered: state.last_checkpoint.as_ref().map(|(_, r)| r.id),
        outcome,
        journal_bytes,
        segment_files,
        report,
        reopen,
        restore,
    })
}

/// What a stream engine does on restart: positions from the last checkpoint, then the
/// entries after it replayed on top.
fn restore(journal: &Journal, state: &State) -> checkpoint_journal::Result<Restore> {
    let Some((lsn, record)) = &state.last_checkpoint else {
        return Ok(Restore::default());
    };
    let mut restore = Restore {
        checkpoint_id: Some(record.id),
        checkpoint_lsn: Some(lsn.0),
        replayed_entries: 0,
        sequences: record.source_sequences.iter().copied().collect(),
    };
    for frame in journal.read_from(Lsn(lsn.0))? {
        let Frame::Entries { entries, .. } = frame? else {
            continue;
        };
        for e in entries {
            if matches!(e.op(), Ok(Op::Push | Op::Barrier)) {
                restore.sequences.insert(e.source_id, e.sequence);
            }
            restore.replayed_entries += 1;
        }
    }
    Ok(restore)
}

fn check(outcome: &Outcome, state: &State, restore: &Restore) -> Vec<SourceCheck> {
    (0u16..)
        .zip(&outcome.sources)
        .map(|(id, appended)| {
            let recovered = state.sources.get(&id);
            let restored = restore.sequences.get(&id).copied();
            let ok = recovered.is_some_and(|r| {
                r.sequence == appended.sequence
                    && r.watermark == appended.watermark
                    && r.entries == appended.entries
            }) && (restore.checkpoint_id.is_none() || restored == Some(appended.sequence));
            SourceCheck {
                source_id: id,
                appended_sequence: appended.sequence,
                recovered_sequence: recovered.map(|r| r.sequence),
                restored_sequence: restored,
                appended_watermark: appended.watermark,
                recovered_watermark: recovered.map(|r| r.watermark),
                appended_entries: appended.entries,
                recovered_entries: recovered.map(|r| r.entries),
                ok,
            }
        })
        .collect()
}

/// The JSON form (`cpj.demo.v1`, docs/CLI.md).
pub(crate) fn json(r: &Results, ok: bool) -> serde_json::Value {
    use crate::output::{millis, per_sec};
    let o = &r.outcome;
    let entries = o.total(|s| s.entries);
    serde_json::json!({
        "schema": "cpj.demo.v1",
        "dir": r.dir.display().to_string(),
        "kept": r.kept,
        "ok": ok,
        "append": {
            "sources": o.sources.len(),
            "entries": entries,
            "pushes": o.total(|s| s.pushes),
            "watermarks": o.total(|s| s.watermarks),
            "barriers": o.total(|s| s.barriers),
            "batches": o.total(|s| s.batches),
            "checkpoints": o.checkpoints,
            "journal_bytes": r.journal_bytes,
            "segment_files": r.segment_files,
            "seconds": o.elapsed.as_secs_f64(),
            "entries_per_sec": per_sec(entries, o.elapsed),
            "mb_per_sec": per_sec(r.journal_bytes, o.elapsed) / 1e6,
        },
        "crash": "close_without_flush",
        "reopen_ms": millis(r.reopen),
        "recovery": ReportJson::new(&r.report),
        "last_checkpoint": {
            "appended_id": o.last_checkpoint_id,
            "recovered_id": r.last_checkpoint_recovered,
        },
        "restore": r.restore,
        "sources": r.checks,
    })
}

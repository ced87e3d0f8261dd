//! `cpj archive status|gc STORE` and `cpj restore STORE DIR` (feature `object-store`):
//! what an archive holds, garbage collection of the objects its manifest no longer
//! needs, and a restore into a new directory (docs/ARCHIVING.md).
//!
//! STORE is `s3://BUCKET[/PREFIX]` (endpoint and credentials from the `AWS_*`
//! environment variables, as `AmazonS3Builder::from_env` reads them) or
//! `file:///DIR[/…]` / a plain path (the local filesystem, prefix empty).

use std::path::PathBuf;

use checkpoint_journal::archive::object_store::aws::AmazonS3Builder;
use checkpoint_journal::archive::object_store::local::LocalFileSystem;
use checkpoint_journal::archive::object_store::ObjectStore;
use checkpoint_journal::archive::{collect_garbage, read_manifest, restore, s3_store, Manifest};
use serde_json::json;

use crate::output::{bytes, journal_id, thousands, utc, CliError, CmdResult, Out, Status, Table};
use std::sync::Arc;

const EXAMPLES: &str = "\
Examples:
  cpj archive status s3://backups/jobs/a     what the archive's manifest lists
  cpj archive gc s3://backups/jobs/a         delete objects the manifest no longer needs
  cpj restore s3://backups/jobs/a ./j        rebuild a journal in a new directory
  cpj archive status file:///mnt/archive --json

S3 endpoint and credentials come from AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and AWS_ALLOW_HTTP.";

/// Look at or clean up an archive in object storage.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// The manifest: journal, epoch, snapshots and segments (read-only).
    Status {
        /// `s3://BUCKET[/PREFIX]`, `file:///DIR` or a path.
        store: String,
    },
    /// Deletes objects the manifest does not reference and no writer can still publish.
    Gc {
        /// `s3://BUCKET[/PREFIX]`, `file:///DIR` or a path.
        store: String,
    },
}

/// Restore an archive into a new (or empty) directory.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct RestoreArgs {
    /// `s3://BUCKET[/PREFIX]`, `file:///DIR` or a path.
    store: String,
    /// The directory to create the journal in; must be absent or empty.
    dir: PathBuf,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    match &args.action {
        Action::Status { store } => status(store, out),
        Action::Gc { store } => gc(store, out),
    }
}

/// The store and prefix a STORE argument names.
fn open_store(url: &str) -> Result<(Arc<dyn ObjectStore>, String), CliError> {
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(CliError::CannotRun(format!(
                "{url}: no bucket; write s3://BUCKET/PREFIX"
            )));
        }
        let builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let store = s3_store(builder).map_err(|e| CliError::lib(&e))?;
        return Ok((store, prefix.trim_matches('/').to_owned()));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    std::fs::create_dir_all(path)
        .map_err(|e| CliError::io(path, &e, "check the archive's path"))?;
    let fs = LocalFileSystem::new_with_prefix(path)
        .map_err(|e| CliError::CannotRun(format!("{path}: {e}")))?;
    Ok((Arc::new(fs), String::new()))
}

fn status(url: &str, out: &mut Out) -> CmdResult {
    let (store, prefix) = open_store(url)?;
    let Some(m) = read_manifest(store, &prefix).map_err(|e| CliError::lib(&e))? else {
        return Err(CliError::CannotRun(format!(
            "{url} holds no archive manifest; check the bucket and prefix"
        )));
    };
    if out.json {
        out.json_line(&status_json(url, &m))?;
        return Ok(Status::Clean);
    }
    out.line(format!(
        "archive {url}: journal {}",
        journal_id(m.journal_id)
    ))?;
    out.line(format!(
        "  epoch {}, writer {:032x}, update {} at {}",
        m.epoch,
        m.writer_id,
        m.sequence,
        utc(m.updated_at_ms)
    ))?;
    let segment_bytes: u64 = m.segments.iter().map(|s| s.bytes).sum();
    let range = m.segments.first().map_or_else(
        || "none".to_owned(),
        |f| format!("LSN {}..{}", f.base_lsn, m.end_lsn().unwrap_or(f.base_lsn)),
    );
    out.line(format!(
        "  {} segments ({}), {range}",
        thousands(m.segments.len() as u64),
        bytes(segment_bytes)
    ))?;
    let mut table = Table::new(&["snapshot LSN", "bytes", "epoch"], &[true, true, true]);
    for s in m.snapshots.iter().rev() {
        table.row(vec![s.lsn.to_string(), bytes(s.bytes), s.epoch.to_string()]);
    }
    if m.snapshots.is_empty() {
        out.line("  no snapshots: a restore replays from LSN 0")?;
    } else {
        table.print(out, 2)?;
    }
    Ok(Status::Clean)
}

fn status_json(url: &str, m: &Manifest) -> serde_json::Value {
    json!({
        "schema": "cpj.archive_status.v1",
        "store": url,
        "journal_id": format!("{:032x}", m.journal_id),
        "epoch": m.epoch,
        "writer_id": format!("{:032x}", m.writer_id),
        "sequence": m.sequence,
        "updated_at_ms": m.updated_at_ms,
        "end_lsn": m.end_lsn(),
        "snapshots": m.snapshots.iter().map(|s| json!({"lsn": s.lsn, "epoch": s.epoch, "bytes": s.bytes, "crc32c": s.crc32c})).collect::<Vec<_>>(),
        "segments": m.segments.iter().map(|s| json!({"base_lsn": s.base_lsn, "end_lsn": s.end_lsn, "epoch": s.epoch, "bytes": s.bytes, "crc32c": s.crc32c})).collect::<Vec<_>>(),
    })
}

fn gc(url: &str, out: &mut Out) -> CmdResult {
    let (store, prefix) = open_store(url)?;
    let report = collect_garbage(store, &prefix).map_err(|e| CliError::lib(&e))?;
    if out.json {
        out.json_line(&json!({
            "schema": "cpj.archive_gc.v1",
            "store": url,
            "referenced": report.referenced,
            "in_flight": report.in_flight,
            "deleted": report.deleted,
        }))?;
        return Ok(Status::Clean);
    }
    for key in &report.deleted {
        out.line(format!("deleted {key}"))?;
    }
    out.line(format!(
        "{} objects deleted; {} referenced by the manifest and {} possibly in flight kept",
        report.deleted.len(),
        report.referenced,
        report.in_flight
    ))?;
    Ok(Status::Clean)
}

pub(crate) fn run_restore(args: &RestoreArgs, out: &mut Out) -> CmdResult {
    let (store, prefix) = open_store(&args.store)?;
    let report = restore(store, &prefix, &args.dir).map_err(|e| CliError::lib(&e))?;
    let status = if report.skipped.is_empty() {
        Status::Clean
    } else {
        Status::Problems
    };
    if out.json {
        out.json_line(&json!({
            "schema": "cpj.restore.v1",
            "store": args.store,
            "dir": args.dir,
            "journal_id": format!("{:032x}", report.journal_id),
            "snapshot_lsn": report.snapshot_lsn,
            "segments_restored": report.segments_restored,
            "bytes_restored": report.bytes_restored,
            "restored_end_lsn": report.restored_end_lsn,
            "manifest_end_lsn": report.manifest_end_lsn,
            "skipped": report.skipped,
            "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
        }))?;
        return Ok(status);
    }
    out.line(format!(
        "restored journal {} into {}: {} segments{} ({}) up to LSN {} in {:.1?}",
        journal_id(report.journal_id),
        args.dir.display(),
        report.segments_restored,
        report
            .snapshot_lsn
            .map_or_else(String::new, |l| format!(" after the snapshot at LSN {l}")),
        bytes(report.bytes_restored),
        report.restored_end_lsn,
        report.elapsed
    ))?;
    for s in &report.skipped {
        out.line(out.bad(&format!("skipped {}: {}", s.key, s.reason)))?;
    }
    if report.restored_end_lsn < report.manifest_end_lsn {
        out.line(out.bad(&format!(
            "the archive reaches LSN {}; the frames after LSN {} were not restored",
            report.manifest_end_lsn, report.restored_end_lsn
        )))?;
    }
    Ok(status)
}

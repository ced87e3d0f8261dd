//! `cpj verify`: a full checksum scan of every segment (headers, file names, sizes, the
//! LSN sequence, every frame), reporting each problem with its file, offset, LSN and
//! kind. Read-only: plain reads, no lock, no mapping.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use checkpoint_journal::format::segment_header::{HeaderFault, SEGMENT_HEADER_LEN};
use checkpoint_journal::format::FORMAT_VERSION;

use crate::output::{
    bytes, duration, finish, journal_id, millis, per_sec, progress, si, thousands, CliError,
    CmdResult, Out, Status, Table,
};
use crate::segments::{self, HeaderRead, SegmentFile};
use crate::verify_scan::{self, Class, Scan};

const EXAMPLES: &str = "\
Examples:
  cpj verify ./j                 check every header and frame
  cpj verify ./j --json | jq '.problems[] | {file, lsn, kind, class}'

Exit status: 0 every byte is accounted for (valid frames, then never-written zeros);
1 a problem was found (each one is listed with file, offset, LSN, kind, and what
opening would make of it); 2 the scan could not run. Read-only: plain reads, no lock.
After an invalid frame the scan tries every 8-byte position for the next frame that
validates: checksums are bound to the LSN, so a match is a real frame. Beside a live
writer, a frame still being written can show up as a torn tail: verify a journal no
writer has open for a definite answer.";

/// Full checksum scan of every segment (read-only).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
}

#[derive(Debug, Serialize)]
struct VerifyJson<'a> {
    schema: &'static str,
    dir: String,
    clean: bool,
    duration_ms: f64,
    #[serde(flatten)]
    scan: &'a Scan,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    let started = Instant::now();
    let segments = segments::list_nonempty(&args.dir)?;
    let total: u64 = segments.iter().map(|s| s.len).sum();
    let bar = progress(total, true);
    bar.set_message("verifying");
    let scan = verify_scan::scan(&segments, &bar).map_err(|e| {
        CliError::io(
            format!("cannot read the segments of {}", args.dir.display()),
            &e,
            "check permissions, or copy the directory somewhere readable",
        )
    })?;
    finish(&bar, "verified");
    let elapsed = started.elapsed();
    let clean = scan.problems.is_empty();
    if out.json {
        out.json_line(&VerifyJson {
            schema: "cpj.verify.v1",
            dir: args.dir.display().to_string(),
            clean,
            duration_ms: millis(elapsed),
            scan: &scan,
        })?;
    } else {
        print_human(out, args, &segments, &scan, elapsed)?;
    }
    Ok(if clean {
        Status::Clean
    } else {
        Status::Problems
    })
}

fn print_human(
    out: &mut Out,
    args: &Args,
    segments: &[SegmentFile],
    scan: &Scan,
    elapsed: std::time::Duration,
) -> Result<(), CliError> {
    let id = segments
        .iter()
        .find_map(SegmentFile::valid_header)
        .map_or_else(|| "unknown".into(), |h| journal_id(h.journal_id));
    out.line(format!(
        "{} {}: journal {id}, {} segments, {} read in {} ({})",
        out.bold("cpj verify"),
        args.dir.display(),
        scan.segments,
        bytes(scan.bytes_read),
        duration(elapsed),
        si(per_sec(scan.bytes_read, elapsed), "B/s")
    ))?;
    out.line(format!(
        "  frames         {} ({} entries, {} checkpoints, {} padding)",
        thousands(scan.frames),
        thousands(scan.entries),
        thousands(scan.checkpoints),
        thousands(scan.padding_frames)
    ))?;
    out.line(format!(
        "  valid frames   end at LSN {}; durable claim: everything below LSN {}",
        scan.end_lsn, scan.durable_claim
    ))?;
    if scan.problems.is_empty() {
        let ok = out.good("clean");
        return out.line(format!(
            "  result         {ok}: every header and frame validates"
        ));
    }
    let n = scan.problems.len();
    let word = out.bad(&format!("{n} problem{}", if n == 1 { "" } else { "s" }));
    out.line(format!("  result         {word}"))?;
    let mut t = Table::new(
        &[
            "FILE",
            "OFFSET",
            "LSN",
            "KIND",
            "CLASS",
            "NEXT VALID LSN",
            "DETAIL",
        ],
        &[false, true, true, false, false, true, false],
    );
    for p in &scan.problems {
        let file = p.file.file_name().map_or_else(
            || p.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        t.row(vec![
            file,
            p.offset.to_string(),
            p.lsn.to_string(),
            p.kind.clone(),
            class_name(p.class).to_owned(),
            p.next_valid_lsn
                .map_or_else(|| "-".into(), |l| l.to_string()),
            p.detail.clone(),
        ]);
    }
    t.print(out, 2)?;
    out.line(format!(
        "  next: `cpj recover {}` shows what opening would truncate in each mode",
        args.dir.display()
    ))
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Damage => "damage",
        Class::UnsyncedGap => "unsynced_gap",
        Class::TornTail => "torn_tail",
        Class::UnfinishedSegment => "unfinished_segment",
    }
}

/// File-level checks for segment `i`: its header, name, size, journal id, and that it
/// starts where the previous one ends.
pub(crate) fn check_file(scan: &mut Scan, segments: &[SegmentFile], i: usize) {
    let Some(seg) = segments.get(i) else {
        return;
    };
    let last = i + 1 == segments.len();
    match &seg.header {
        HeaderRead::Valid(h) => {
            if h.base_lsn != seg.base_lsn {
                let detail = format!("the header says base LSN {}", h.base_lsn);
                scan.file_problem(seg, "segment_name_mismatch", Class::Damage, detail);
            }
            if h.segment_size_bytes != seg.len {
                let detail = format!(
                    "the header says {} bytes, the file has {}",
                    h.segment_size_bytes, seg.len
                );
                scan.file_problem(seg, "segment_size_mismatch", Class::Damage, detail);
            }
            let first = segments.iter().find_map(SegmentFile::valid_header);
            if let Some(first) = first.filter(|f| f.journal_id != h.journal_id) {
                let detail = format!(
                    "belongs to journal {}, not {}",
                    journal_id(h.journal_id),
                    journal_id(first.journal_id)
                );
                scan.file_problem(seg, "segment_foreign_journal", Class::Damage, detail);
            }
        }
        HeaderRead::Fault(fault) => {
            let unfinished =
                last && (seg.len < SEGMENT_HEADER_LEN as u64 || *fault == HeaderFault::Unwritten);
            let class = if unfinished {
                Class::UnfinishedSegment
            } else {
                Class::Damage
            };
            let (kind, detail) = header_fault(*fault);
            scan.file_problem(seg, kind, class, detail);
        }
        HeaderRead::Unreadable(why) => {
            scan.file_problem(seg, "segment_unreadable", Class::Damage, why.clone());
        }
    }
    let prev_end = i
        .checked_sub(1)
        .and_then(|p| segments.get(p))
        .map(SegmentFile::end_lsn);
    if let Some(expected) = prev_end.filter(|e| *e != seg.base_lsn) {
        let detail = format!("the previous segment ends at LSN {expected}");
        scan.file_problem(seg, "segment_gap", Class::Damage, detail);
    }
}

fn header_fault(fault: HeaderFault) -> (&'static str, String) {
    match fault {
        HeaderFault::Truncated { found } => (
            "segment_header_truncated",
            format!("only {found} header bytes"),
        ),
        HeaderFault::Unwritten => (
            "segment_header_unwritten",
            "the header is all zeros: its creation never completed".into(),
        ),
        HeaderFault::BadMagic => (
            "segment_header_bad_magic",
            "not a segment file, or mangled by a text-mode transfer".into(),
        ),
        HeaderFault::UnsupportedVersion { found } => (
            "segment_header_unsupported_version",
            format!("format version {found}; this build reads version {FORMAT_VERSION}"),
        ),
        HeaderFault::ChecksumMismatch => (
            "segment_header_checksum_mismatch",
            "the header's CRC32C does not match".into(),
        ),
        HeaderFault::BadField { field } => (
            "segment_header_bad_field",
            format!("impossible value in {field}"),
        ),
    }
}

//! The checker: what a reopened journal holds must be a prefix of the history, with no
//! holes, holding every frame the journal had promised durable.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use checkpoint_journal::storage::sim::{CrashPolicy, SimStorage};
use checkpoint_journal::{Entry, Frame, Journal, Options, RecoveryCase, RecoveryReport};

use super::history::{Content, Snapshot};

/// Segments small enough that a workload rolls over several times.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024;
/// Where every simulated journal lives.
pub(crate) const DIR: &str = "/sim/journal";
/// Sequence numbers the double-crash check appends (above any workload's).
const PROBE_BASE: u64 = 1 << 60;

/// The options an image is reopened with: the defaults (recovery mode, durability,
/// preallocation), with small segments so that a reopen never allocates 64 MiB.
pub(crate) fn reopen_options() -> Options {
    Options::default().segment_size_bytes(SEGMENT_BYTES)
}

/// What a reopened journal held.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) frames: Vec<(u64, Content)>,
}

/// Reads every frame of `journal` and checks it against `snap`.
pub(crate) fn check_journal(journal: &Journal, snap: &Snapshot) -> Result<Recovered, String> {
    let frames = read_all(journal)?;
    let mut seen = BTreeSet::new();
    for (lsn, content) in &frames {
        match snap.acked.get(lsn) {
            Some(acked) if **acked == *content => {}
            Some(acked) => {
                return Err(format!(
                    "frame at LSN {lsn} differs from the append acknowledged there: \
                     recovered {content:?}, acknowledged {acked:?}"
                ))
            }
            None if snap
                .pending
                .get(&content.key())
                .is_some_and(|p| **p == *content) => {}
            None => {
                return Err(format!(
                    "frame at LSN {lsn} was never appended: {content:?}"
                ))
            }
        }
        seen.insert(*lsn);
    }
    let last = frames.last().map(|(lsn, _)| *lsn);
    if let Some(last) = last {
        if let Some(hole) = snap
            .acked
            .range(..last)
            .map(|(l, _)| *l)
            .find(|l| !seen.contains(l))
        {
            return Err(format!(
                "hole: acknowledged frame at LSN {hole} is missing, a later one at LSN {last} is not"
            ));
        }
    }
    if let Some(lost) = snap
        .acked
        .range(..snap.promised)
        .map(|(l, _)| *l)
        .find(|l| !seen.contains(l))
    {
        return Err(format!(
            "frame at LSN {lost} was promised durable (frontier {}) and is lost; \
             recovered {} frames, the last at {last:?}",
            snap.promised,
            frames.len()
        ));
    }
    Ok(Recovered { frames })
}

/// Reopens a crash image with the default options and checks it; with `double`, also
/// appends one durable entry, crashes again, and checks that recovery's own truncation
/// was durable (the second image holds the first one's frames plus the new entry).
///
/// # Errors
/// The violation found, in words.
pub(crate) fn check_image(
    image: &SimStorage,
    snap: &Snapshot,
    double: bool,
) -> Result<Checked, String> {
    let journal = open(image, "reopen")?;
    let recovered = check_journal(&journal, snap)?;
    let case = Case::of(journal.recovery_report());
    if double {
        survive_power_loss(image, journal, recovered.frames, snap)?;
    } else {
        journal.close_without_flush();
    }
    Ok(Checked {
        case,
        twice: double,
    })
}

/// Restarts on what a process crash left (same page cache, same dirty pages), checks
/// what it recovers, appends one durable entry, then loses power: everything the
/// restarted journal recovered (its durable frontier starts at its end) and the entry
/// must survive.
///
/// # Errors
/// The violation found, in words.
pub(crate) fn check_restart(restarted: &SimStorage, snap: &Snapshot) -> Result<(), String> {
    // No background segment creation: its directory sync would make the listing durable
    // and hide whether recovery itself did.
    let options = reopen_options().preallocate(false);
    let journal = Journal::open_with_storage(DIR, options, Arc::new(restarted.clone()))
        .map_err(|e| format!("restart failed: {e}"))?;
    let recovered = check_journal(&journal, snap)?;
    survive_power_loss(restarted, journal, recovered.frames, snap)
}

fn open(storage: &SimStorage, what: &str) -> Result<Journal, String> {
    Journal::open_with_storage(DIR, reopen_options(), Arc::new(storage.clone()))
        .map_err(|e| format!("{what} failed: {e}"))
}

/// Appends and flushes a probe entry on `journal` (which recovered `frames` from
/// `storage`), loses power with no dirty page written, and compares.
fn survive_power_loss(
    storage: &SimStorage,
    journal: Journal,
    frames: Vec<(u64, Content)>,
    snap: &Snapshot,
) -> Result<(), String> {
    let probe = Entry::push(0, PROBE_BASE + snap.acked.len() as u64, 0);
    let report = format!("{:?}", journal.recovery_report());
    let appended = guarded(|| {
        journal
            .append(probe)
            .and_then(|lsn| journal.flush().map(|_| lsn))
    });
    journal.close_without_flush();
    let lsn = appended
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| format!("append after recovery failed: {e}; recovery: {report}"))?;
    let journal = open(
        &storage.crash_image(CrashPolicy::NONE),
        "reopen after power loss",
    )?;
    let after = read_all(&journal)?;
    journal.close_without_flush();
    let mut want = frames;
    want.push((lsn.0, Content::Entries(vec![probe])));
    if after != want {
        let lost = want
            .iter()
            .find(|f| !after.contains(f))
            .map(|(lsn, _)| *lsn);
        return Err(format!(
            "power loss after recovery: {} frames, want {}; first lost LSN {lost:?}; \
             the recovery before it: {report}",
            after.len(),
            want.len()
        ));
    }
    Ok(())
}

/// How an image was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    /// What recovery found at the end of the image.
    pub(crate) case: Case,
    /// Also appended to, crashed again and reopened.
    pub(crate) twice: bool,
}

/// The recovery outcomes an image can have, for coverage counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    /// No journal (its first segment was never durably created).
    Empty,
    /// Every segment full of valid frames.
    Full,
    /// A clean end: never-written space after the last frame.
    CleanEnd,
    /// Invalid bytes truncated (a torn tail, or a gap before frames that reached the disk).
    Truncated,
}

impl Case {
    pub(crate) const ALL: [Case; 4] = [Case::Empty, Case::Full, Case::CleanEnd, Case::Truncated];

    fn of(report: &RecoveryReport) -> Case {
        match report.case {
            _ if report.created => Case::Empty,
            None => Case::Full,
            Some(RecoveryCase::CleanEnd) => Case::CleanEnd,
            Some(_) => Case::Truncated,
        }
    }
}

/// Runs `f`, turning a panic (a failed assertion in the library) into an error, so that
/// the journal it borrows is not dropped while unwinding.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("panicked: {text}")
    })
}

fn read_all(journal: &Journal) -> Result<Vec<(u64, Content)>, String> {
    let mut out = Vec::new();
    let reader = journal
        .read_from(journal.first_lsn())
        .map_err(|e| format!("read_from failed: {e}"))?;
    for frame in reader {
        match frame.map_err(|e| format!("reading a recovered frame failed: {e}"))? {
            Frame::Entries { lsn, entries } => out.push((lsn.0, Content::Entries(entries))),
            Frame::Checkpoint { lsn, record } => out.push((lsn.0, Content::Checkpoint(record))),
            other => return Err(format!("unexpected frame {other:?}")),
        }
    }
    Ok(out)
}

/// Whether `dir` is the journal directory (for hooks that see every path).
pub(crate) fn in_journal_dir(path: &Path) -> bool {
    path.starts_with(DIR)
}

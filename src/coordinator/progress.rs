//! Progress validation for CDC-style sources: each source's opaque upstream offset and
//! committed event count. A checkpoint may move counts forward only; the same count
//! must always name the same offset; all sources of a journal belong to one family; an
//! identical resubmission is accepted without writing anything.
//!
//! Validation is pure: it runs before anything is appended, so a refused checkpoint
//! changes nothing on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::limits::{META_NAME_BYTES_MAX, PROGRESS_OFFSET_BYTES_MAX};
use crate::meta::SourceProgress;

/// One source's progress as the caller offers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceOffset {
    /// The registered source's name.
    pub source: String,
    /// Opaque upstream offset (a Postgres log position, a `MySQL` binlog file and
    /// position, …), at most 1024 bytes.
    pub offset: Vec<u8>,
    /// Events committed up to `offset`.
    pub committed_event_count: u64,
}

/// The progress a checkpoint commits: a family and the offsets of some of its sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The sources' family; a journal holds one family (one directory per family).
    pub family: String,
    /// The sources' offsets.
    pub sources: Vec<SourceOffset>,
}

impl Progress {
    /// Progress of `family`, with no source yet.
    #[must_use]
    pub fn new(family: impl Into<String>) -> Progress {
        Progress {
            family: family.into(),
            sources: Vec::new(),
        }
    }

    /// Adds a source's offset and committed event count.
    #[must_use]
    pub fn source(
        mut self,
        name: impl Into<String>,
        offset: impl Into<Vec<u8>>,
        committed_event_count: u64,
    ) -> Progress {
        self.sources.push(SourceOffset {
            source: name.into(),
            offset: offset.into(),
            committed_event_count,
        });
        self
    }
}

/// What the journal has committed, as validation needs it.
pub(crate) struct Committed<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) family: Option<&'a str>,
    pub(crate) ids: &'a BTreeMap<String, u16>,
    pub(crate) progress: &'a BTreeMap<u16, SourceProgress>,
}

/// Checks `offered` against `committed`: `Ok(None)` if it changes nothing (an identical
/// resubmission), `Ok(Some(records))` with the progress to write otherwise.
///
/// # Errors
/// [`Error::MixedFamily`], [`Error::NonMonotonic`], [`Error::ProgressConflict`], and
/// [`Error::InvalidOptions`] for an unknown or repeated source, [`Error::TooLarge`]
/// for an oversized offset.
pub(crate) fn validate(
    offered: &Progress,
    committed: &Committed<'_>,
) -> Result<Option<Vec<SourceProgress>>> {
    check_family(offered, committed)?;
    let mut seen = BTreeSet::new();
    let mut records = Vec::with_capacity(offered.sources.len());
    let mut changed = false;
    for s in &offered.sources {
        let Some(&source_id) = committed.ids.get(&s.source) else {
            return Err(Error::InvalidOptions {
                field: "progress.sources",
                reason: format!(
                    "source {:?} is not registered; call register_source first",
                    s.source
                ),
            });
        };
        if !seen.insert(source_id) {
            return Err(Error::InvalidOptions {
                field: "progress.sources",
                reason: format!("source {:?} appears twice", s.source),
            });
        }
        if s.offset.len() > PROGRESS_OFFSET_BYTES_MAX {
            return Err(Error::TooLarge {
                what: "progress offset",
                bytes: s.offset.len() as u64,
                max: PROGRESS_OFFSET_BYTES_MAX as u64,
            });
        }
        changed |= check_source(s, committed.progress.get(&source_id))?;
        records.push(SourceProgress {
            source_id,
            offset: s.offset.clone(),
            committed_event_count: s.committed_event_count,
        });
    }
    let new_family = committed.family.is_none();
    Ok((changed || new_family).then_some(records))
}

fn check_family(offered: &Progress, committed: &Committed<'_>) -> Result<()> {
    if offered.family.is_empty() || offered.family.len() > META_NAME_BYTES_MAX {
        return Err(Error::InvalidOptions {
            field: "progress.family",
            reason: format!("a family name is 1 to {META_NAME_BYTES_MAX} bytes"),
        });
    }
    match committed.family {
        Some(family) if family != offered.family => Err(Error::MixedFamily {
            path: committed.dir.to_owned(),
            journal: family.to_owned(),
            offered: offered.family.clone(),
        }),
        _ => Ok(()),
    }
}

/// Whether `offered` moves the source forward; an error if it moves it back or
/// conflicts with what is committed.
fn check_source(offered: &SourceOffset, committed: Option<&SourceProgress>) -> Result<bool> {
    let Some(previous) = committed else {
        return Ok(true);
    };
    let (prev, next) = (
        previous.committed_event_count,
        offered.committed_event_count,
    );
    if next < prev {
        return Err(Error::NonMonotonic {
            source: offered.source.clone(),
            previous: prev,
            next,
        });
    }
    if next == prev && previous.offset != offered.offset {
        return Err(Error::ProgressConflict {
            source: offered.source.clone(),
            count: next,
            committed: previous.offset.clone(),
            offered: offered.offset.clone(),
        });
    }
    Ok(next > prev || previous.offset != offered.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed<'a>(
        ids: &'a BTreeMap<String, u16>,
        progress: &'a BTreeMap<u16, SourceProgress>,
    ) -> Committed<'a> {
        Committed {
            dir: Path::new("/j"),
            family: Some("pg"),
            ids,
            progress,
        }
    }

    #[test]
    fn each_case_is_decided_as_documented() {
        let ids = BTreeMap::from([("a".to_owned(), 0u16)]);
        let progress = BTreeMap::from([(
            0u16,
            SourceProgress {
                source_id: 0,
                offset: b"10".to_vec(),
                committed_event_count: 10,
            },
        )]);
        let c = committed(&ids, &progress);
        let offer = |count, offset: &str| Progress::new("pg").source("a", offset, count);
        assert!(validate(&offer(10, "10"), &c).unwrap().is_none());
        assert_eq!(validate(&offer(11, "11"), &c).unwrap().unwrap().len(), 1);
        assert!(matches!(
            validate(&offer(9, "9"), &c),
            Err(Error::NonMonotonic {
                previous: 10,
                next: 9,
                ..
            })
        ));
        assert!(matches!(
            validate(&offer(10, "other"), &c),
            Err(Error::ProgressConflict { count: 10, .. })
        ));
        let mysql = Progress::new("mysql").source("a", "x", 11);
        assert!(matches!(
            validate(&mysql, &c),
            Err(Error::MixedFamily { .. })
        ));
        let unknown = Progress::new("pg").source("b", "x", 1);
        assert!(matches!(
            validate(&unknown, &c),
            Err(Error::InvalidOptions { .. })
        ));
        let twice = offer(11, "11").source("a", "12", 12);
        assert!(matches!(
            validate(&twice, &c),
            Err(Error::InvalidOptions { .. })
        ));
    }
}

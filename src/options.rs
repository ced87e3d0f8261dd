//! `Options`: how a journal is opened, validated before anything touches the disk.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::limits::{
    SEGMENT_SIZE_ALIGN_BYTES, SEGMENT_SIZE_DEFAULT_BYTES, SEGMENT_SIZE_MAX_BYTES,
    SEGMENT_SIZE_MIN_BYTES,
};

/// When an append is acknowledged, and so what survives a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// An append returns once its frame is published in the shared mapping.
    ///
    /// Process crash: every returned append survives, except any that follows (in LSN
    /// order) an append still in flight on another thread at the crash.
    /// Power loss: survives only what an explicit [`crate::Journal::flush`] had
    /// completed before it; later data may be lost, as a prefix.
    #[default]
    Async,
    /// As `Async`, and a background thread flushes everything published at least every
    /// interval.
    ///
    /// Process crash: as `Async`. Power loss: loses at most the appends of the last
    /// interval (plus the flush time), as a prefix.
    Interval(Duration),
    /// An append returns only once msync/fdatasync has made its frame durable;
    /// concurrent appenders share one flush (group commit).
    ///
    /// Process crash and power loss: every returned append survives.
    Sync,
}

/// What opening does with damage found at the end or in the middle of the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Truncates a torn tail (frames that were never made durable) and reports it; damage
    /// below the durable frontier is an error.
    #[default]
    TolerateTornTail,
    /// Any invalid frame, torn tail included, is an error; nothing is truncated.
    Strict,
    /// Truncates at the first invalid frame, durable or not, and reports the LSN range
    /// it dropped. For recovering what can be recovered from a damaged journal.
    Salvage,
}

/// How to open a journal. Builder methods; [`Options::validate`] runs at open.
#[derive(Clone, Debug)]
#[non_exhaustive]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent builder switches, not the states of one machine"
)]
pub struct Options {
    /// Durability of appends.
    pub durability: Durability,
    /// Size of each segment file, header included.
    pub segment_size_bytes: u64,
    /// Recovery policy on open.
    pub recovery_mode: RecoveryMode,
    /// Create the directory and a new journal if none exists.
    pub create_if_missing: bool,
    /// Create and prefault the next segment in the background, so roll-over does not stall.
    pub preallocate: bool,
    /// `Sync` mode: how long a flush leader waits for more appends to share its sync.
    /// Zero (the default): adaptive, the leader waits for as many callers as the last
    /// flush served, at most half the last sync's duration (1 ms at most); a lone writer
    /// never waits. Appends that arrive during a sync share the next one anyway.
    pub group_commit_max_delay: Duration,
    /// `Sync` mode: a waiting leader syncs at once when this many bytes are pending
    /// (zero: no byte bound).
    pub group_commit_max_bytes: u64,
    // Compaction.
    /// Snapshots kept by compaction (at least 1; default 2). The segments the oldest
    /// kept one needs are kept too, so open can fall back to it if a newer one is damaged.
    pub keep_snapshots: usize,
    /// Background compaction: when it runs (`None`: only when [`crate::Journal::compact`]
    /// is called).
    pub compaction: Option<crate::compaction::Compaction>,
    /// Keep up to 4 segments retired by compaction (`{base:016x}.seg.free`) and reuse
    /// them as new segments instead of deleting them and allocating new files: the
    /// file's data is zeroed and synced and its header rewritten (format version 3,
    /// docs/FORMAT.md). Default off: the zeroing writes the whole file again, and no
    /// gain in `Sync` append latency was measured (docs/PERFORMANCE.md "Segment
    /// recycling").
    pub recycle_segments: bool,
    /// Bound on the bytes of segment files (live, spare and free ones): a roll-over
    /// that would exceed it runs a compaction first, in the rolling thread, and fails
    /// with [`Error::SegmentLimit`] if that does not free enough (`None`: unbounded).
    /// At least twice `segment_size_bytes`.
    pub max_segment_bytes: Option<u64>,
    // --- stats (observability and async) ---
    /// With the `metrics` feature: how often a background thread publishes the journal's
    /// counters and gauges (default 1 s; zero: publish nothing). Ignored without it.
    pub metrics_interval: Duration,
    /// How often a background thread replaces `journal.stats` in the journal's directory
    /// with the journal's `Stats`, for `cpj stats` in another process (default 1 s;
    /// zero: no file). Advisory: never synced, removed on close.
    pub stats_file_interval: Duration,
    // Owner lease.
    /// Take the owner lease even when it names a process on another host (which this
    /// host cannot check): only when that host is known to no longer use the journal.
    pub force_takeover: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Async,
            segment_size_bytes: SEGMENT_SIZE_DEFAULT_BYTES,
            recovery_mode: RecoveryMode::TolerateTornTail,
            create_if_missing: true,
            preallocate: true,
            group_commit_max_delay: Duration::ZERO,
            group_commit_max_bytes: 0,
            keep_snapshots: 2,
            compaction: None,
            recycle_segments: false,
            max_segment_bytes: None,
            metrics_interval: Duration::from_secs(1),
            stats_file_interval: Duration::from_secs(1),
            force_takeover: false,
        }
    }
}

impl Options {
    /// Sets the durability mode.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Options {
        self.durability = durability;
        self
    }

    /// Sets the segment size (a multiple of 4096 between 64 KiB and 1 GiB).
    #[must_use]
    pub fn segment_size_bytes(mut self, bytes: u64) -> Options {
        self.segment_size_bytes = bytes;
        self
    }

    /// Sets the recovery mode.
    #[must_use]
    pub fn recovery_mode(mut self, mode: RecoveryMode) -> Options {
        self.recovery_mode = mode;
        self
    }

    /// Whether to create a missing journal.
    #[must_use]
    pub fn create_if_missing(mut self, create: bool) -> Options {
        self.create_if_missing = create;
        self
    }

    /// Whether to prepare the next segment in the background.
    #[must_use]
    pub fn preallocate(mut self, preallocate: bool) -> Options {
        self.preallocate = preallocate;
        self
    }

    /// Sets the group-commit bounds (see the fields).
    #[must_use]
    pub fn group_commit(mut self, max_delay: Duration, max_bytes: u64) -> Options {
        self.group_commit_max_delay = max_delay;
        self.group_commit_max_bytes = max_bytes;
        self
    }

    /// Sets how many snapshots compaction keeps (see the field).
    #[must_use]
    pub fn keep_snapshots(mut self, keep: usize) -> Options {
        self.keep_snapshots = keep;
        self
    }

    /// Turns on background compaction with `policy`.
    #[must_use]
    pub fn compaction(mut self, policy: crate::compaction::Compaction) -> Options {
        self.compaction = Some(policy);
        self
    }

    /// Whether retired segments are recycled (see the field).
    #[must_use]
    pub fn recycle_segments(mut self, recycle: bool) -> Options {
        self.recycle_segments = recycle;
        self
    }

    /// Bounds the bytes of segment files (see the field).
    #[must_use]
    pub fn max_segment_bytes(mut self, bytes: u64) -> Options {
        self.max_segment_bytes = Some(bytes);
        self
    }

    // --- stats (observability and async) ---
    /// Sets how often the `metrics` feature publishes (see the field).
    #[must_use]
    pub fn metrics_interval(mut self, every: Duration) -> Options {
        self.metrics_interval = every;
        self
    }

    /// Sets how often the stats file is replaced (see the field).
    #[must_use]
    pub fn stats_file_interval(mut self, every: Duration) -> Options {
        self.stats_file_interval = every;
        self
    }

    // Owner lease.
    /// Whether to take the owner lease from a process on another host (see the field).
    #[must_use]
    pub fn force_takeover(mut self, force: bool) -> Options {
        self.force_takeover = force;
        self
    }

    /// Checks every field; each invalid value is an error naming the field.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`].
    pub fn validate(&self) -> Result<()> {
        let size = self.segment_size_bytes;
        if !(SEGMENT_SIZE_MIN_BYTES..=SEGMENT_SIZE_MAX_BYTES).contains(&size)
            || !size.is_multiple_of(SEGMENT_SIZE_ALIGN_BYTES)
        {
            return Err(Error::InvalidOptions {
                field: "segment_size_bytes",
                reason: format!(
                    "{size} is not a multiple of {SEGMENT_SIZE_ALIGN_BYTES} between \
                     {SEGMENT_SIZE_MIN_BYTES} and {SEGMENT_SIZE_MAX_BYTES}"
                ),
            });
        }
        if self.group_commit_max_delay > Duration::from_secs(1) {
            return Err(Error::InvalidOptions {
                field: "group_commit_max_delay",
                reason: format!(
                    "{:?} would hold every Sync append that long; at most 1 s is allowed",
                    self.group_commit_max_delay
                ),
            });
        }
        if let Some(policy) = &self.compaction {
            policy.validate()?;
        }
        if let Some(max) = self.max_segment_bytes.filter(|m| *m < 2 * size) {
            return Err(Error::InvalidOptions {
                field: "max_segment_bytes",
                reason: format!(
                    "{max} bytes cannot hold the active segment and the next one \
                     ({size} bytes each); allow at least {}",
                    2 * size
                ),
            });
        }
        let every = self.stats_file_interval;
        if !every.is_zero() && every < Duration::from_millis(1) {
            return Err(Error::InvalidOptions {
                field: "stats_file_interval",
                reason: format!(
                    "{every:?} would rewrite the file continuously; 0 (off) or at least 1 ms"
                ),
            });
        }
        if self.keep_snapshots == 0 {
            return Err(Error::InvalidOptions {
                field: "keep_snapshots",
                reason: "0 would delete the snapshot open starts from; keep at least 1".into(),
            });
        }
        if let Durability::Interval(d) = self.durability {
            if d.is_zero() {
                return Err(Error::InvalidOptions {
                    field: "durability",
                    reason: "Interval(0) would flush continuously; use Durability::Sync".into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_name_their_field() {
        for bytes in [
            0,
            4096,
            SEGMENT_SIZE_MIN_BYTES + 1,
            SEGMENT_SIZE_MAX_BYTES * 2,
        ] {
            let err = Options::default()
                .segment_size_bytes(bytes)
                .validate()
                .unwrap_err();
            assert!(matches!(
                err,
                Error::InvalidOptions {
                    field: "segment_size_bytes",
                    ..
                }
            ));
        }
        let err = Options::default()
            .durability(Durability::Interval(Duration::ZERO))
            .validate();
        assert!(matches!(
            err,
            Err(Error::InvalidOptions {
                field: "durability",
                ..
            })
        ));
        assert!(Options::default().validate().is_ok());
    }
}

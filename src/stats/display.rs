//! `Display` for [`Stats`]: a compact table, one line per section, for logs and
//! `cpj stats`. Byte counts are exact integers followed by a rounded binary size.

use std::fmt;

use super::{Stats, StatsSource};
use crate::lsn::Lsn;

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            StatsSource::Live => "live",
            StatsSource::Files => "from files",
        };
        write!(f, "journal {:032x} ({source}", self.journal_id)?;
        if let Some(ms) = self.uptime_ms {
            write!(f, ", up {}", Millis(ms))?;
        }
        writeln!(f, ") {}", self.dir.display())?;
        self.fmt_appends(f)?;
        self.fmt_lsn(f)?;
        self.fmt_segments(f)?;
        self.fmt_optional(f)?;
        match &self.poisoned {
            None => writeln!(f, "{:<10} no", "poisoned"),
            Some(cause) => writeln!(f, "{:<10} YES: {cause}", "poisoned"),
        }
    }
}

impl Stats {
    fn fmt_appends(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.appends;
        writeln!(
            f,
            "{:<10} entries {}  frames {} (entries {}, checkpoints {}, other {})  {}",
            "appends",
            a.entries,
            a.frames(),
            a.entry_frames,
            a.checkpoints,
            a.other_frames,
            Bytes(a.bytes)
        )?;
        if self.source == StatsSource::Live {
            let l = &self.flushes;
            writeln!(
                f,
                "{:<10} count {}  {}  frames/flush {:.1}  p50 {}  p99 {}  max {}  mean {}",
                "flushes",
                l.count,
                Bytes(l.bytes),
                l.frames_per_flush,
                Micros(l.p50_us),
                Micros(l.p99_us),
                Micros(l.max_us),
                Micros(l.mean_us)
            )?;
        }
        Ok(())
    }

    fn fmt_lsn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.lsn;
        let durable = match self.source {
            StatsSource::Live => "durable",
            StatsSource::Files => "durable claim",
        };
        writeln!(
            f,
            "{:<10} first {}  published {}  {durable} {}  compacted {}",
            "lsn",
            l.first.0,
            l.published.0,
            l.durable.0,
            OptLsn(l.compacted)
        )?;
        write!(f, "{:<10} durable {}", "lag", Bytes(l.durable_lag_bytes))?;
        if let Some(ms) = l.durable_lag_ms {
            write!(f, ", waiting up to {}", Millis(ms))?;
        }
        writeln!(f, "  replay {}", Bytes(l.replay_bytes))
    }

    fn fmt_segments(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.segments;
        writeln!(
            f,
            "{:<10} live {}  sealed {}  retired {}  spare {}  size {}",
            "segments",
            s.live,
            s.sealed,
            s.retired,
            if s.spare { "yes" } else { "no" },
            Bytes(s.segment_size_bytes)
        )?;
        let n = &self.snapshots;
        write!(
            f,
            "{:<10} count {}  last {}  age ",
            "snapshots",
            n.count,
            OptLsn(n.last_lsn)
        )?;
        match n.age_ms {
            Some(ms) => writeln!(f, "{}", Millis(ms)),
            None => writeln!(f, "-"),
        }
    }

    fn fmt_optional(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.compaction {
            write!(
                f,
                "{:<10} runs {}  failures {}  reclaimed {}  last ",
                "compaction",
                c.runs,
                c.failures,
                Bytes(c.bytes_reclaimed)
            )?;
            match c.last_duration_us {
                Some(us) => writeln!(f, "{}", Micros(us))?,
                None => writeln!(f, "-")?,
            }
        }
        if let Some(r) = &self.ring {
            writeln!(
                f,
                "{:<10} pushed {}  drained {}  dropped {}  overwritten {}",
                "ring", r.pushed, r.drained, r.dropped, r.overwritten
            )?;
        }
        if let Some(a) = &self.archive {
            writeln!(
                f,
                "{:<10} queued {}  archived {} ({})  errors {}{}",
                "archive",
                a.queued,
                a.archived,
                Bytes(a.archived_bytes),
                a.errors,
                a.last_error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (last: {e})"))
            )?;
        }
        Ok(())
    }
}

/// A byte count: exact, then rounded to a binary unit when at least 1 KiB.
struct Bytes(u64);

impl fmt::Display for Bytes {
    #[expect(clippy::cast_precision_loss, reason = "rounded for display")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        write!(f, "{} B", self.0)?;
        let mut value = self.0 as f64;
        let mut unit = None;
        for u in UNITS {
            if value < 1024.0 {
                break;
            }
            value /= 1024.0;
            unit = Some(u);
        }
        match unit {
            Some(u) => write!(f, " ({value:.1} {u})"),
            None => Ok(()),
        }
    }
}

/// A duration in microseconds, in the largest unit that keeps it above 1.
struct Micros(u64);

impl fmt::Display for Micros {
    #[expect(clippy::cast_precision_loss, reason = "rounded for display")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0 as f64;
        if self.0 < 1_000 {
            write!(f, "{} µs", self.0)
        } else if self.0 < 1_000_000 {
            write!(f, "{:.1} ms", us / 1e3)
        } else {
            write!(f, "{:.2} s", us / 1e6)
        }
    }
}

/// A duration in milliseconds.
struct Millis(u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Micros(self.0.saturating_mul(1000)).fmt(f)
    }
}

/// An LSN or a dash.
struct OptLsn(Option<Lsn>);

impl fmt::Display for OptLsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(lsn) => write!(f, "{}", lsn.0),
            None => f.write_str("-"),
        }
    }
}

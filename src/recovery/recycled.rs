//! Free segment files (`{base:016x}.seg.free`, kept by compaction for recycling) left by
//! the previous process: never part of the journal, whatever step of recycling a crash
//! interrupted (the rename to the segment name comes after the file's zeroes and header
//! are durable). Removed at open and reported in `temp_files_removed`. And the evidence
//! that the bytes at the first invalid frame of a recycled segment are stale.

use super::{Ctx, RecoveryReport};
use crate::error::{Error, Result};
use crate::format::frame::FRAME_HEADER_LEN;
use crate::region;
use crate::segment::{self, Segment};

/// Whether the bytes at `pos` (the first invalid frame, in `seg`) validate as a frame at
/// the LSN the same file offset had before `seg`'s file was recycled: then they are a
/// frame of its previous life (the checksum binds a frame to its LSN), never a frame
/// written at `pos`.
pub(super) fn stale_at(seg: &Segment, pos: u64) -> bool {
    let Some(previous) = seg.header.recycled_from else {
        return false;
    };
    let room = usize::try_from(seg.end() - pos).unwrap_or(usize::MAX);
    room >= FRAME_HEADER_LEN
        && region::read_header(
            seg.data(),
            seg.word_at(pos),
            previous + (pos - seg.base()),
            room,
        )
        .is_ok()
}

pub(super) fn remove_free_files(ctx: &Ctx<'_>, report: &mut RecoveryReport) -> Result<()> {
    let listing = ctx
        .storage
        .list_dir(ctx.dir)
        .map_err(|e| Error::io(ctx.dir, "list directory", e))?;
    let mut removed = false;
    for item in listing.iter().filter(|i| segment::is_free_name(&i.name)) {
        let path = ctx.dir.join(&item.name);
        if ctx.apply {
            tracing::info!(path = %path.display(), "removing a retired segment kept for recycling");
            ctx.storage
                .remove_file(&path)
                .map_err(|e| Error::io(&path, "remove free segment file", e))?;
            removed = true;
        }
        report.temp_files_removed.push(path);
    }
    if removed {
        ctx.storage
            .sync_dir(ctx.dir)
            .map_err(|e| Error::io(ctx.dir, "fsync directory", e))?;
    }
    Ok(())
}

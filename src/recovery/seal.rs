//! Sealing a segment of an older format version before appends resume: the rest of the
//! segment holding the recovered end is filled with one padding frame (made durable), so
//! the first append rolls to a new segment written at the current format version. A
//! segment therefore only ever holds frames its own version defines, and an older build
//! can still read every segment it wrote (docs/FORMAT.md "Version history").

use crate::error::Result;
use crate::format::frame::FRAME_HEADER_LEN;
use crate::format::FORMAT_VERSION;
use crate::lsn::Lsn;
use crate::region;
use crate::segment::Segment;
use crate::sync::Arc;

/// Seals the older-format segment holding `end`, if any; returns where appends resume
/// (`end` itself when nothing was sealed).
///
/// # Errors
/// The failing msync.
pub(crate) fn seal_older_format(segments: &[Arc<Segment>], end: Lsn) -> Result<Lsn> {
    let Some(seg) = segments.iter().find(|s| s.contains(end.0)) else {
        return Ok(end);
    };
    if seg.header.format_version >= FORMAT_VERSION {
        return Ok(end);
    }
    let room = seg.end() - end.0;
    debug_assert!(room > 0 && room.is_multiple_of(8));
    if room >= FRAME_HEADER_LEN as u64 {
        // Recovery made everything below `end` durable: the padding frame may claim it.
        let len = usize::try_from(room).unwrap_or(usize::MAX);
        region::write_padding(seg.data(), seg.word_at(end.0), end.0, end.0, len);
        seg.sync(end.0, seg.end())?;
    }
    tracing::info!(
        path = %seg.path.display(),
        version = seg.header.format_version,
        end = end.0,
        "sealed a segment of an older format version; appends continue in a new segment"
    );
    Ok(Lsn(seg.end()))
}

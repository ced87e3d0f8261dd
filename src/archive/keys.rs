//! The object keys of an archive under its prefix. Every key but the manifest's is
//! immutable: it names the journal, the first LSN and the epoch of the writer that
//! uploaded it, so two writers never race for one key with different bytes.
//!
//! ```text
//! {prefix}/manifest                                         the current manifest
//! {prefix}/{journal_id:032x}/segments/{base:016x}-{epoch:016x}.seg
//! {prefix}/{journal_id:032x}/snapshots/{lsn:016x}-{epoch:016x}.snap
//! {prefix}/probe/{writer_id:032x}                            written and deleted at start
//! ```

use object_store::path::Path;

/// A key below `prefix` (which may be empty).
fn join(prefix: &str, rest: &str) -> Path {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Path::from(rest)
    } else {
        Path::from(format!("{prefix}/{rest}"))
    }
}

/// The manifest's key.
pub(crate) fn manifest(prefix: &str) -> Path {
    join(prefix, "manifest")
}

/// The probe key of one writer.
pub(crate) fn probe(prefix: &str, writer_id: u128) -> Path {
    join(prefix, &format!("probe/{writer_id:032x}"))
}

/// Where probe keys live.
pub(crate) fn probes_dir(prefix: &str) -> Path {
    join(prefix, "probe")
}

/// Where the segments of `journal_id` live.
pub(crate) fn segments_dir(prefix: &str, journal_id: u128) -> Path {
    join(prefix, &format!("{journal_id:032x}/segments"))
}

/// A segment object's key.
pub(crate) fn segment(prefix: &str, journal_id: u128, base_lsn: u64, epoch: u64) -> Path {
    join(
        prefix,
        &format!("{journal_id:032x}/segments/{base_lsn:016x}-{epoch:016x}.seg"),
    )
}

/// Where the snapshots of `journal_id` live.
pub(crate) fn snapshots_dir(prefix: &str, journal_id: u128) -> Path {
    join(prefix, &format!("{journal_id:032x}/snapshots"))
}

/// A snapshot object's key.
pub(crate) fn snapshot(prefix: &str, journal_id: u128, lsn: u64, epoch: u64) -> Path {
    join(
        prefix,
        &format!("{journal_id:032x}/snapshots/{lsn:016x}-{epoch:016x}.snap"),
    )
}

/// `(lsn, epoch)` of a snapshot key's last part, or `None` for any other name.
pub(crate) fn parse_snapshot(file_name: &str) -> Option<(u64, u64)> {
    parse_pair(file_name.strip_suffix(".snap")?)
}

/// `(base_lsn, epoch)` of a segment key's last part, or `None` for any other name.
pub(crate) fn parse_segment(file_name: &str) -> Option<(u64, u64)> {
    parse_pair(file_name.strip_suffix(".seg")?)
}

fn parse_pair(stem: &str) -> Option<(u64, u64)> {
    let (base, epoch) = stem.split_once('-')?;
    if base.len() != 16 || epoch.len() != 16 {
        return None;
    }
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
    };
    Some((hex(base)?, hex(epoch)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_keys_round_trip_and_reject_lookalikes() {
        let key = segment("a/b/", 7, 0x1000, 3);
        assert_eq!(
            key.as_ref(),
            "a/b/00000000000000000000000000000007/segments/0000000000001000-0000000000000003.seg"
        );
        let name = key.filename().unwrap();
        assert_eq!(parse_segment(name), Some((0x1000, 3)));
        assert_eq!(parse_segment("0000000000001000-000000000000003.seg"), None);
        assert_eq!(parse_segment("000000000000100G-0000000000000003.seg"), None);
        assert_eq!(
            parse_segment("0000000000001000-0000000000000003.snap"),
            None
        );
        assert_eq!(manifest("").as_ref(), "manifest");
        let snap = snapshot("", 7, 0x2008, 1);
        assert_eq!(parse_snapshot(snap.filename().unwrap()), Some((0x2008, 1)));
        assert_eq!(parse_snapshot(name), None);
    }
}

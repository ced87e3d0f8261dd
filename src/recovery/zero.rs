//! Finding non-zero words fast: the look-ahead and the truncation of recovery walk the
//! unwritten rest of a segment one OR per word, one branch per group of words.

use crate::storage::SharedWord;
use crate::sync::Ordering;

/// Words tested together by [`next_non_zero`] (one OR per word, one branch per group).
const ZERO_SCAN_GROUP: usize = 16;

/// Index of the first non-zero word of `data` at or after `from`.
pub(crate) fn next_non_zero(data: &[SharedWord], from: usize) -> Option<usize> {
    let rest = data.get(from..)?;
    let mut groups = rest.chunks_exact(ZERO_SCAN_GROUP);
    let mut base = from;
    for group in groups.by_ref() {
        if group
            .iter()
            .fold(0, |acc, w| acc | w.load(Ordering::Relaxed))
            != 0
        {
            return first_non_zero(group).map(|k| base + k);
        }
        base += ZERO_SCAN_GROUP;
    }
    first_non_zero(groups.remainder()).map(|k| base + k)
}

fn first_non_zero(words: &[SharedWord]) -> Option<usize> {
    words.iter().position(|w| w.load(Ordering::Relaxed) != 0)
}

//! Durable consumer cursors: `journal.cursor("sink-a")` is where a consumer of the
//! journal stands. `commit(position)` is a meta record in the journal itself, so the
//! consumer's output (appended to the same journal) and its cursor become durable in
//! the same flush — exactly-once bookkeeping without a second file.
//!
//! A cursor is bound to the journal's identity: a record that names another journal
//! (a snapshot or segment copied from elsewhere) is refused when the cursor is opened,
//! never resumed from. A fresh cursor is not "at 0": `started` tells LSN 0 apart from
//! never having read. Reading resumes strictly after the committed position.

use crate::error::{Error, Result};
use crate::format::limits::META_NAME_BYTES_MAX;
use crate::journal::Journal;
use crate::lsn::Lsn;
use crate::meta::MetaRecord;
use crate::reader::Reader;

/// A consumer's position in a journal (see the module docs).
#[derive(Debug)]
pub struct Cursor<'j> {
    journal: &'j Journal,
    name: String,
    /// LSN of the last frame the consumer has processed (meaningful once `started`).
    pub position: Lsn,
    /// Whether the consumer ever committed a position.
    pub started: bool,
}

impl Journal {
    /// The cursor named `name`: where its last commit left it, or not started.
    ///
    /// # Errors
    /// [`Error::ForeignCursor`] if its last record names another journal;
    /// [`Error::InvalidOptions`] for an empty or over-long name.
    pub fn cursor(&self, name: &str) -> Result<Cursor<'_>> {
        check_name(name)?;
        let state = self.state()?;
        let (position, started) = match state.coordination.cursors.get(name) {
            None => (Lsn(0), false),
            Some(c) if c.journal_id != self.journal_id() => {
                return Err(Error::ForeignCursor {
                    path: self.dir().to_owned(),
                    name: name.to_owned(),
                    expected: self.journal_id(),
                    found: c.journal_id,
                })
            }
            Some(c) => (c.position, true),
        };
        Ok(Cursor {
            journal: self,
            name: name.to_owned(),
            position,
            started,
        })
    }

    /// The cursor named `name`, not started, whatever its records say: for a consumer
    /// that deliberately starts afresh (for example after [`Error::ForeignCursor`]).
    /// Nothing changes on disk until its first commit.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] for an empty or over-long name.
    pub fn cursor_afresh(&self, name: &str) -> Result<Cursor<'_>> {
        check_name(name)?;
        Ok(Cursor {
            journal: self,
            name: name.to_owned(),
            position: Lsn(0),
            started: false,
        })
    }
}

impl Cursor<'_> {
    /// The cursor's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Commits `position` (the LSN of the last frame the consumer has processed, as a
    /// read returned it); returns the commit record's LSN. Durable with the next flush,
    /// at once in `Sync` mode.
    ///
    /// # Errors
    /// [`Error::InvalidLsn`] for a position that is not a frame start inside the
    /// journal; append errors.
    pub fn commit(&mut self, position: Lsn) -> Result<Lsn> {
        let (first, end) = (self.journal.first_lsn(), self.journal.end_lsn());
        if position >= end || position < first || !position.0.is_multiple_of(8) {
            return Err(Error::InvalidLsn {
                lsn: position,
                first,
                end,
            });
        }
        let lsn = self.journal.append_meta(&MetaRecord::CursorCommitted {
            journal_id: self.journal.journal_id(),
            name: self.name.clone(),
            position: position.0,
        })?;
        self.position = position;
        self.started = true;
        Ok(lsn)
    }

    /// A reader positioned strictly after the committed position (at the oldest frame
    /// if the cursor never committed).
    ///
    /// # Errors
    /// [`Error::InvalidLsn`] or [`Error::Corrupted`] if the committed frame cannot be
    /// read.
    pub fn reader(&self) -> Result<Reader> {
        if !self.started {
            return self.journal.read_from(self.journal.first_lsn());
        }
        let mut reader = self.journal.read_from(self.position)?;
        // The committed frame itself was processed: skip it.
        reader.next().transpose()?;
        Ok(reader)
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > META_NAME_BYTES_MAX {
        return Err(Error::InvalidOptions {
            field: "name",
            reason: format!("a cursor name is 1 to {META_NAME_BYTES_MAX} bytes"),
        });
    }
    Ok(())
}

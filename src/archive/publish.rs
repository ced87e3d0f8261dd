//! Advancing the manifest: create-if-absent, then conditional updates naming the version
//! last read or written, so a stale or zombie writer can never move it.
//!
//! A refused update is never retried blind. The manifest is read again and compared:
//! - it holds exactly what this writer tried to write: the write landed (a lost
//!   response), adopt it;
//! - another epoch or writer: this writer is fenced ([`Error::Fenced`]) and stops;
//! - unchanged since this writer's last version: the refusal was spurious (Ceph RGW 16.2
//!   refuses an `If-Match` `ETag` in quotes, the way HEAD returns it); retry once with
//!   the other spelling and remember the spelling that worked.

use object_store::path::Path;
use object_store::{PutMode, UpdateVersion};

use super::config::ArchiveMode;
use super::keys;
use super::manifest::Manifest;
use super::remote::{Fetched, PutOutcome, Remote};
use crate::error::{Error, Result};

/// Rounds of "read, then write conditionally" when taking the archive over.
const TAKE_OVER_ROUNDS_MAX: u32 = 8;

/// The manifest as this writer last published it.
#[derive(Debug)]
pub(crate) struct Publisher {
    key: Path,
    mode: ArchiveMode,
    store_name: String,
    pub(crate) current: Manifest,
    current_bytes: Vec<u8>,
    e_tag: Option<String>,
    version: Option<String>,
    /// The store wants the `ETag` spelt the other way (quotes added or stripped).
    alternate_spelling: bool,
}

/// The version to name in an update, from what the store returned.
pub(crate) fn update_version(e_tag: Option<&str>, version: Option<&str>) -> UpdateVersion {
    UpdateVersion {
        e_tag: e_tag.map(str::to_owned),
        version: version.map(str::to_owned),
    }
}

/// The same version with the `ETag`'s quotes stripped, or added if it had none.
pub(crate) fn alternate_version(
    e_tag: Option<&str>,
    version: Option<&str>,
) -> Option<UpdateVersion> {
    let tag = e_tag?;
    let other = match tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(bare) => bare.to_owned(),
        None => format!("\"{tag}\""),
    };
    Some(UpdateVersion {
        e_tag: Some(other),
        version: version.map(str::to_owned),
    })
}

impl Publisher {
    /// Takes the archive under `prefix` over for `journal_id`: creates the manifest, or
    /// raises its epoch with this writer's id.
    pub(crate) fn take_over(
        remote: &Remote,
        prefix: &str,
        journal_id: u128,
        writer_id: u128,
        mode: ArchiveMode,
    ) -> Result<Publisher> {
        let key = keys::manifest(prefix);
        for _ in 0..TAKE_OVER_ROUNDS_MAX {
            let found = remote.manifest(prefix)?;
            if let Some((m, _)) = &found {
                if m.journal_id != journal_id {
                    return Err(Error::ForeignJournal {
                        path: key.to_string().into(),
                        expected: journal_id,
                        found: m.journal_id,
                    });
                }
            }
            let mut next = match &found {
                Some((m, _)) => m.clone(),
                None => Manifest::new(journal_id, 0, writer_id),
            };
            next.epoch += 1;
            next.writer_id = writer_id;
            next.sequence += 1;
            next.updated_at_ms = crate::segment::now_ms();
            let mut p = Publisher {
                key: key.clone(),
                mode,
                store_name: remote.store.to_string(),
                current: next.clone(),
                current_bytes: Vec::new(),
                e_tag: None,
                version: None,
                alternate_spelling: false,
            };
            let written = match (&found, mode) {
                (None, ArchiveMode::Fenced) => p.write(remote, &next, &PutMode::Create)?,
                (_, ArchiveMode::SingleWriter) => p.write(remote, &next, &PutMode::Overwrite)?,
                (Some((_, fetched)), ArchiveMode::Fenced) => {
                    p.adopt_version(fetched);
                    p.conditional(remote, &next, Some(fetched))?
                }
            };
            if written {
                return Ok(p);
            }
        }
        Err(Error::Fenced {
            key: key.to_string(),
            epoch: 0,
            found_epoch: 0,
        })
    }

    /// Publishes the manifest `edit` makes of the current one.
    pub(crate) fn publish(
        &mut self,
        remote: &Remote,
        edit: impl FnOnce(&mut Manifest),
    ) -> Result<()> {
        let mut next = self.current.clone();
        edit(&mut next);
        next.sequence += 1;
        next.updated_at_ms = crate::segment::now_ms();
        let written = match self.mode {
            ArchiveMode::SingleWriter => self.write(remote, &next, &PutMode::Overwrite)?,
            ArchiveMode::Fenced => self.conditional(remote, &next, None)?,
        };
        if written {
            Ok(())
        } else {
            Err(self.fenced(self.current.epoch))
        }
    }

    fn fenced(&self, found_epoch: u64) -> Error {
        Error::Fenced {
            key: self.key.to_string(),
            epoch: self.current.epoch,
            found_epoch,
        }
    }

    fn adopt_version(&mut self, fetched: &Fetched) {
        self.e_tag.clone_from(&fetched.e_tag);
        self.version.clone_from(&fetched.version);
        self.current_bytes.clone_from(&fetched.bytes);
    }

    /// One write; `Ok(false)` when a create-only write found the key present.
    fn write(&mut self, remote: &Remote, next: &Manifest, mode: &PutMode) -> Result<bool> {
        let bytes = next.encode();
        match remote.put(&self.key, &bytes, mode)? {
            PutOutcome::Written(r) => {
                self.e_tag = r.e_tag;
                self.version = r.version;
                self.current = next.clone();
                self.current_bytes = bytes;
                Ok(true)
            }
            PutOutcome::AlreadyExists | PutOutcome::PreconditionFailed => Ok(false),
            PutOutcome::NotImplemented => Err(self.ignored("conditional write not implemented")),
        }
    }

    fn ignored(&self, detail: &'static str) -> Error {
        Error::PreconditionsIgnored {
            store: self.store_name.clone(),
            detail,
        }
    }

    fn version_to_name(&self) -> UpdateVersion {
        let (tag, version) = (self.e_tag.as_deref(), self.version.as_deref());
        if self.alternate_spelling {
            if let Some(v) = alternate_version(tag, version) {
                return v;
            }
        }
        update_version(tag, version)
    }

    /// A conditional update; on refusal, read and compare (see the module doc).
    /// `Ok(false)` means someone else's write won and the caller should re-read
    /// (take-over only); a publish that loses is fenced.
    fn conditional(
        &mut self,
        remote: &Remote,
        next: &Manifest,
        reread: Option<&Fetched>,
    ) -> Result<bool> {
        let bytes = next.encode();
        let outcome = remote.put(&self.key, &bytes, &PutMode::Update(self.version_to_name()))?;
        match outcome {
            PutOutcome::Written(r) => {
                self.accept(next, bytes, r.e_tag, r.version);
                return Ok(true);
            }
            PutOutcome::NotImplemented => {
                return Err(self.ignored("conditional update not implemented"))
            }
            PutOutcome::AlreadyExists | PutOutcome::PreconditionFailed => {}
        }
        let Some((found, fetched)) = remote.manifest(&self.key_prefix())? else {
            return Err(Error::RemoteCorrupt {
                key: self.key.to_string(),
                reason: "the manifest disappeared during a conditional update".into(),
            });
        };
        if found == *next {
            self.accept(next, bytes, fetched.e_tag, fetched.version);
            return Ok(true);
        }
        let unchanged = match reread {
            Some(before) => fetched.bytes == before.bytes,
            None => fetched.bytes == self.current_bytes,
        };
        if !unchanged {
            if reread.is_some() {
                return Ok(false);
            }
            return Err(self.fenced(found.epoch));
        }
        self.retry_spelling(remote, next, bytes, &fetched)
    }

    /// The manifest was unchanged, so the refusal was about the `ETag`'s spelling.
    fn retry_spelling(
        &mut self,
        remote: &Remote,
        next: &Manifest,
        bytes: Vec<u8>,
        fetched: &Fetched,
    ) -> Result<bool> {
        let Some(alt) = alternate_version(fetched.e_tag.as_deref(), fetched.version.as_deref())
        else {
            return Err(self.ignored("conditional update refused on an unchanged manifest"));
        };
        match remote.put(&self.key, &bytes, &PutMode::Update(alt))? {
            PutOutcome::Written(r) => {
                tracing::info!(store = %self.store_name, "the store wants the `ETag` spelt the other way; using it from now on");
                self.alternate_spelling = true;
                self.accept(next, bytes, r.e_tag, r.version);
                Ok(true)
            }
            _ => Err(self.ignored("conditional update refused on an unchanged manifest")),
        }
    }

    fn accept(
        &mut self,
        next: &Manifest,
        bytes: Vec<u8>,
        e_tag: Option<String>,
        version: Option<String>,
    ) {
        self.current = next.clone();
        self.current_bytes = bytes;
        self.e_tag = e_tag;
        self.version = version;
    }

    fn key_prefix(&self) -> String {
        let key = self.key.as_ref();
        key.strip_suffix("manifest")
            .unwrap_or(key)
            .trim_end_matches('/')
            .to_owned()
    }
}

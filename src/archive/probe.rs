//! The start-up probe: does this store honour the preconditions fencing relies on?
//!
//! A create-only write of a fresh probe key twice (the second must be refused), then a
//! conditional update naming the version just written (must succeed) and one naming a
//! stale version (must be refused). Garage 2.5 overwrites on both; the local filesystem
//! refuses a conditional update as not implemented. Either way fenced mode is refused.

use object_store::{PutMode, UpdateVersion};

use super::remote::{PutOutcome, Remote};
use crate::error::{Error, Result};

/// What the probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProbeResult {
    /// A second create-only write of one key was refused.
    pub(crate) create_fenced: bool,
    /// A conditional update was applied with the right version and refused with a stale one.
    pub(crate) update_fenced: bool,
}

/// Probes the store with keys under `prefix`; the probe key is deleted afterwards.
pub(crate) fn probe(remote: &Remote, prefix: &str, writer_id: u128) -> Result<ProbeResult> {
    let key = super::keys::probe(prefix, writer_id);
    let first = remote.put(&key, b"probe 1", &PutMode::Create)?;
    let PutOutcome::Written(written) = first else {
        return Err(Error::RemoteCorrupt {
            key: key.to_string(),
            reason: format!("a fresh probe key could not be created ({first:?})"),
        });
    };
    let create_fenced = matches!(
        remote.put(&key, b"probe 2", &PutMode::Create)?,
        PutOutcome::AlreadyExists
    );
    let current = remote.get(&key, 64)?;
    let update_fenced = match current {
        Some(f) if create_fenced => probe_update(remote, &key, &f, &written)?,
        _ => false,
    };
    remote.delete(&key)?;
    Ok(ProbeResult {
        create_fenced,
        update_fenced,
    })
}

/// Whether conditional updates are honoured (a right version applies, a stale one not).
fn probe_update(
    remote: &Remote,
    key: &object_store::path::Path,
    current: &super::remote::Fetched,
    first: &object_store::PutResult,
) -> Result<bool> {
    let version =
        super::publish::update_version(current.e_tag.as_deref(), current.version.as_deref());
    let good = remote.put(key, b"probe 3", &PutMode::Update(version))?;
    let PutOutcome::Written(_) = good else {
        // Before concluding, try the other spelling of the ETag (Ceph RGW 16.2 refuses
        // a quoted one that HEAD itself returned).
        let alt =
            super::publish::alternate_version(current.e_tag.as_deref(), current.version.as_deref());
        return match alt
            .map(|v| remote.put(key, b"probe 3", &PutMode::Update(v)))
            .transpose()?
        {
            Some(PutOutcome::Written(_)) => stale_refused(remote, key, first),
            _ => Ok(false),
        };
    };
    stale_refused(remote, key, first)
}

/// A conditional update naming the first, now stale, version must be refused.
fn stale_refused(
    remote: &Remote,
    key: &object_store::path::Path,
    first: &object_store::PutResult,
) -> Result<bool> {
    let stale = UpdateVersion {
        e_tag: first.e_tag.clone(),
        version: first.version.clone(),
    };
    if stale.e_tag.is_none() && stale.version.is_none() {
        return Ok(false);
    }
    Ok(matches!(
        remote.put(key, b"probe 4", &PutMode::Update(stale))?,
        PutOutcome::PreconditionFailed
    ))
}

//! Archiving to object storage and restoring from it (feature `object-store`): sealed
//! segments are uploaded under immutable keys and published through a fenced manifest;
//! docs/ARCHIVING.md describes the protocol and its guarantees.

mod archiver;
mod config;
mod gc;
mod journal_api;
mod keys;
mod manifest;
mod probe;
mod publish;
mod remote;
mod restore;
mod snapshots;
mod upload;

pub use archiver::Archiver;
pub use config::{ArchiveConfig, ArchiveMode, ArchiveStats};
pub use gc::{collect_garbage, GcReport};
pub use manifest::{Manifest, SegmentRef, SnapshotRef};
pub use remote::{read_manifest, s3_store};
pub use restore::{restore, RestoreReport, SkippedObject};

/// The `object_store` crate this build uses, for building stores of the same version.
pub use object_store;

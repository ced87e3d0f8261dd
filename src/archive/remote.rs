//! Blocking access to an object store from a thread of our own: a current-thread tokio
//! runtime per `Remote`, bounded retries with exponential backoff for transient errors,
//! and reads bounded by size before any byte is allocated.
//!
//! Permanent outcomes (not found, already exists, precondition failed, not implemented,
//! access denied) are returned at once: retrying them blind would hide a second writer
//! or a misconfigured store.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, PutResult,
};

use super::config::ArchiveConfig;
use super::keys;
use super::manifest::{Manifest, MANIFEST_BYTES_MAX};
use crate::error::{Error, Result};
use crate::sync::{Arc, AtomicU64, Ordering};

/// The outcome of a conditional or create-only write.
#[derive(Debug)]
pub(crate) enum PutOutcome {
    /// Written; the new object's version.
    Written(PutResult),
    /// `PutMode::Create` found the key present.
    AlreadyExists,
    /// `PutMode::Update` found another version.
    PreconditionFailed,
    /// The store does not implement this mode.
    NotImplemented,
}

/// An object read whole, with the version a conditional update must name.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) bytes: Vec<u8>,
    pub(crate) e_tag: Option<String>,
    pub(crate) version: Option<String>,
}

/// A store and the runtime that drives it.
pub(crate) struct Remote {
    rt: tokio::runtime::Runtime,
    pub(crate) store: Arc<dyn ObjectStore>,
    attempts_max: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    /// Requests retried after a transient error (read by the archiver's stats).
    pub(crate) retries: AtomicU64,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("store", &format_args!("{}", self.store))
            .finish_non_exhaustive()
    }
}

/// Builds an S3 store (Ceph RGW, `MinIO`, AWS, …) with `ring` as the TLS and signing
/// provider and `object_store`'s own retries cut short (the archiver retries with its
/// own bound, so an outage is reported in seconds, not minutes).
///
/// # Errors
/// [`Error::Remote`] when the builder's configuration is incomplete.
pub fn s3_store(builder: object_store::aws::AmazonS3Builder) -> Result<Arc<dyn ObjectStore>> {
    // A second install fails harmlessly when a provider is already set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = object_store::RetryConfig {
        max_retries: 1,
        retry_timeout: Duration::from_secs(10),
        ..object_store::RetryConfig::default()
    };
    // Set key by key: `with_client_options` would replace what the caller set
    // (`allow_http` among it).
    let timeout = |key| object_store::aws::AmazonS3ConfigKey::Client(key);
    let store = builder
        .with_retry(retry)
        .with_config(timeout(object_store::ClientConfigKey::ConnectTimeout), "2s")
        .with_config(timeout(object_store::ClientConfigKey::Timeout), "60s")
        .build()
        .map_err(|e| remote_error("build S3 client", &Path::from(""), e))?;
    Ok(Arc::new(store))
}

/// Reads and decodes the manifest under `prefix` (`None` if there is none).
///
/// # Errors
/// [`Error::Remote`] or [`Error::RemoteCorrupt`].
pub fn read_manifest(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Option<Manifest>> {
    let prefix = prefix.to_owned();
    on_own_thread(move || {
        let remote = Remote::new(store, &ArchiveConfig::default())?;
        Ok(remote.manifest(&prefix)?.map(|(m, _)| m))
    })
}

/// Runs `f` on a fresh thread, so that its runtime never nests in a caller's runtime.
pub(crate) fn on_own_thread<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(_) => Err(Error::RemoteCorrupt {
            key: String::new(),
            reason: "the archive thread panicked".into(),
        }),
    })
}

impl Remote {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, config: &ArchiveConfig) -> Result<Remote> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("", "start the archive runtime", e))?;
        Ok(Remote {
            rt,
            store,
            attempts_max: config.attempts_max,
            backoff_initial: config.backoff_initial,
            backoff_max: config.backoff_max,
            retries: AtomicU64::new(0),
        })
    }

    /// Runs one request with the retry policy.
    fn retry<T, F, Fut>(&self, mut request: F) -> object_store::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = object_store::Result<T>>,
    {
        let mut delay = self.backoff_initial;
        let mut attempt = 1;
        loop {
            match self.rt.block_on(request()) {
                Err(e) if is_transient(&e) && attempt < self.attempts_max => {
                    tracing::debug!(error = %e, attempt, "transient object-store error; retrying");
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(self.backoff_max);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Reads a whole object of at most `max_bytes`; `None` if it does not exist.
    pub(crate) fn get(&self, key: &Path, max_bytes: u64) -> Result<Option<Fetched>> {
        let result = self.retry(|| async {
            let got = self.store.get_opts(key, GetOptions::default()).await?;
            if got.meta.size > max_bytes {
                return Ok(Err(got.meta.size));
            }
            let (e_tag, version) = (got.meta.e_tag.clone(), got.meta.version.clone());
            let bytes = got.bytes().await?;
            Ok(Ok(Fetched {
                bytes: bytes.to_vec(),
                e_tag,
                version,
            }))
        });
        match result {
            Ok(Ok(f)) if f.bytes.len() as u64 <= max_bytes => Ok(Some(f)),
            Ok(Ok(f)) => Err(too_large(key, f.bytes.len() as u64, max_bytes)),
            Ok(Err(size)) => Err(too_large(key, size, max_bytes)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote_error("get", key, e)),
        }
    }

    /// Writes an object with `mode`.
    pub(crate) fn put(&self, key: &Path, bytes: &[u8], mode: &PutMode) -> Result<PutOutcome> {
        let payload = PutPayload::from(bytes.to_vec());
        let result = self.retry(|| {
            let opts = PutOptions {
                mode: mode.clone(),
                ..PutOptions::default()
            };
            self.store.put_opts(key, payload.clone(), opts)
        });
        match result {
            Ok(r) => Ok(PutOutcome::Written(r)),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyExists),
            Err(object_store::Error::Precondition { .. }) => Ok(PutOutcome::PreconditionFailed),
            Err(object_store::Error::NotImplemented { .. }) => Ok(PutOutcome::NotImplemented),
            Err(e) => Err(remote_error("put", key, e)),
        }
    }

    /// Deletes an object; one already gone is fine.
    pub(crate) fn delete(&self, key: &Path) -> Result<()> {
        match self.retry(|| self.store.delete(key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote_error("delete", key, e)),
        }
    }

    /// Every object below `prefix`.
    pub(crate) fn list(&self, prefix: &Path) -> Result<Vec<ObjectMeta>> {
        self.retry(|| self.store.list(Some(prefix)).try_collect::<Vec<_>>())
            .map_err(|e| remote_error("list", prefix, e))
    }

    /// The decoded manifest and the version to name in a conditional update.
    pub(crate) fn manifest(&self, prefix: &str) -> Result<Option<(Manifest, Fetched)>> {
        let key = keys::manifest(prefix);
        let Some(fetched) = self.get(&key, MANIFEST_BYTES_MAX as u64)? else {
            return Ok(None);
        };
        let manifest = Manifest::decode(&fetched.bytes).map_err(|reason| Error::RemoteCorrupt {
            key: key.to_string(),
            reason: format!("manifest: {reason}"),
        })?;
        Ok(Some((manifest, fetched)))
    }
}

/// Errors worth retrying: the network, timeouts, server errors.
fn is_transient(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
    )
}

pub(crate) fn remote_error(op: &'static str, key: &Path, e: object_store::Error) -> Error {
    Error::Remote {
        op,
        key: key.to_string(),
        source: Box::new(e),
    }
}

fn too_large(key: &Path, bytes: u64, max: u64) -> Error {
    Error::RemoteCorrupt {
        key: key.to_string(),
        reason: format!("{bytes} bytes, more than the {max} expected"),
    }
}

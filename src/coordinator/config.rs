//! `CoordinatorConfig`: how a `CheckpointCoordinator` checkpoints, validated when the
//! coordinator is built — an invalid value is an error naming its field, never a
//! silently disabled checkpoint.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::limits::META_NAME_BYTES_MAX;

/// Most checkpoints a coordinator may keep reachable.
pub const MAX_RETAINED_LIMIT: u32 = 1 << 20;

/// How a [`crate::CheckpointCoordinator`] checkpoints. Builder methods;
/// [`CoordinatorConfig::validate`] runs at construction.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoordinatorConfig {
    /// Time between periodic checkpoints (`maybe_trigger`, the background thread);
    /// `None`: checkpoints only when triggered.
    pub checkpoint_interval: Option<Duration>,
    /// Checkpoints kept reachable by id (older ones may be compacted away); at least 1.
    pub max_retained: u32,
    /// The source family the journal holds progress for (`postgres`, `mysql`, …);
    /// `None`: set by the first progress submitted.
    pub family: Option<String>,
    /// Run a background thread that checkpoints every `checkpoint_interval`.
    pub background: bool,
}

impl Default for CoordinatorConfig {
    fn default() -> CoordinatorConfig {
        CoordinatorConfig {
            checkpoint_interval: None,
            max_retained: crate::state::MAX_RETAINED_DEFAULT,
            family: None,
            background: false,
        }
    }
}

impl CoordinatorConfig {
    /// Sets the periodic checkpoint interval.
    #[must_use]
    pub fn checkpoint_interval(mut self, every: Duration) -> CoordinatorConfig {
        self.checkpoint_interval = Some(every);
        self
    }

    /// Sets how many checkpoints stay reachable.
    #[must_use]
    pub fn max_retained(mut self, max: u32) -> CoordinatorConfig {
        self.max_retained = max;
        self
    }

    /// Sets the journal's source family.
    #[must_use]
    pub fn family(mut self, family: impl Into<String>) -> CoordinatorConfig {
        self.family = Some(family.into());
        self
    }

    /// Whether a background thread checkpoints every `checkpoint_interval`.
    #[must_use]
    pub fn background(mut self, background: bool) -> CoordinatorConfig {
        self.background = background;
        self
    }

    /// Checks every field and every combination; each invalid one is an error naming
    /// its field.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`].
    pub fn validate(&self) -> Result<()> {
        let invalid =
            |field: &'static str, reason: String| Err(Error::InvalidOptions { field, reason });
        if self.max_retained == 0 {
            return invalid(
                "max_retained",
                "0 would keep no checkpoint reachable; at least 1 is needed to restore".into(),
            );
        }
        if self.max_retained > MAX_RETAINED_LIMIT {
            return invalid(
                "max_retained",
                format!(
                    "{} is above the limit of {MAX_RETAINED_LIMIT}",
                    self.max_retained
                ),
            );
        }
        if self.checkpoint_interval.is_some_and(|d| d.is_zero()) {
            return invalid(
                "checkpoint_interval",
                "an interval of zero would checkpoint continuously; use a positive \
                 interval, or None to checkpoint only when triggered"
                    .into(),
            );
        }
        if self.background && self.checkpoint_interval.is_none() {
            return invalid(
                "background",
                "a background thread needs checkpoint_interval to know when to checkpoint".into(),
            );
        }
        if let Some(family) = &self.family {
            if family.is_empty() || family.len() > META_NAME_BYTES_MAX {
                return invalid(
                    "family",
                    format!("a family name is 1 to {META_NAME_BYTES_MAX} bytes"),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(config: &CoordinatorConfig) -> Option<&'static str> {
        match config.validate() {
            Err(Error::InvalidOptions { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn each_invalid_combination_names_its_field() {
        let base = CoordinatorConfig::default();
        assert_eq!(field(&base), None);
        assert_eq!(field(&base.clone().max_retained(0)), Some("max_retained"));
        assert_eq!(
            field(&base.clone().max_retained(MAX_RETAINED_LIMIT + 1)),
            Some("max_retained")
        );
        assert_eq!(
            field(&base.clone().checkpoint_interval(Duration::ZERO)),
            Some("checkpoint_interval")
        );
        assert_eq!(field(&base.clone().background(true)), Some("background"));
        assert_eq!(field(&base.clone().family("")), Some("family"));
        assert_eq!(field(&base.clone().family("x".repeat(257))), Some("family"));
        let good = base
            .checkpoint_interval(Duration::from_millis(10))
            .background(true)
            .family("postgres");
        assert_eq!(field(&good), None);
    }
}

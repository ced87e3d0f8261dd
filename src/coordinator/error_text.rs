//! The messages of the checkpoint-coordination errors: what happened and what to do.

use crate::error::Error;

/// The message of a coordination error, `None` for every other error.
pub(crate) fn error_text(error: &Error) -> Option<String> {
    Some(match error {
        Error::RegistryFull { what, name, max } => format!(
            "cannot register {what} {name:?}: all {max} {what} ids are taken (ids are u16); \
             reuse registered names, or split the job over several journals"
        ),
        Error::NonMonotonic {
            source,
            previous,
            next,
        } => format!(
            "source {source:?} would move its committed event count backwards, from \
             {previous} to {next}; nothing was written: resume the source from the \
             restored checkpoint instead of replaying older progress"
        ),
        Error::ProgressConflict {
            source,
            count,
            committed,
            offered,
        } => format!(
            "source {source:?} already committed {count} events at offset {committed:02x?}, \
             and now offers the same count at offset {offered:02x?}; nothing was written: \
             the upstream offsets disagree, check that the source reads the same stream"
        ),
        Error::MixedFamily {
            path,
            journal,
            offered,
        } => format!(
            "{} holds progress of source family {journal:?}, not {offered:?}; nothing was \
             written: use one journal directory per source family",
            path.display()
        ),
        Error::ForeignCursor {
            path,
            name,
            expected,
            found,
        } => format!(
            "cursor {name:?} in {} was committed for journal {found:032x}, not this journal \
             {expected:032x}; refusing to resume from it: open the journal it belongs to, \
             or start the consumer afresh (Journal::cursor_afresh)",
            path.display()
        ),
        _ => return None,
    })
}

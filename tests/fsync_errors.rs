//! A failed msync poisons the journal on every path that syncs.

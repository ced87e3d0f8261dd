//! Library behaviour the CLI ran into that disagrees with the library's own docs; each
//! test is ignored until the library is fixed (then un-ignore it).

use checkpoint_journal::{Journal, Options};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `Options::create_if_missing` says "Create the directory and a new journal if none
/// exists", so `false` should refuse a directory without a journal. `cpj recover
/// --apply` relies on it not to turn an empty directory into a journal.
#[test]
fn create_if_missing_false_refuses_a_directory_without_a_journal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opened = Journal::open(dir.path(), Options::default().create_if_missing(false));
    assert!(opened.is_err(), "a journal was created");
    Ok(())
}

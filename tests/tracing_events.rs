//! tracing: spans with their fields on open, recovery, roll-over and flush; a `warn!`
//! for a truncated torn tail; an `error!` for poisoning; and nothing at INFO or above
//! from the append path. A capturing subscriber records every span and event of the
//! thread it is installed on.
//!
//! tracing caches each callsite's interest process-wide, decided by the thread that
//! first reaches it: with only the capture registered, a journal thread or a sibling
//! test without a subscriber (`NoSubscriber`: never) could settle a callsite as never
//! enabled, and the capture would miss its spans. An anchor dispatcher that is always
//! registered and answers "sometimes", and the capture answering "sometimes" too, keep
//! every callsite asking the current thread's subscriber each time.

use std::fmt::Debug;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use checkpoint_journal::storage::sim::SimStorage;
use checkpoint_journal::{Entry, Journal, Options};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One span opened or one event emitted.
#[derive(Clone, Debug)]
struct Seen {
    span: bool,
    name: String,
    level: Level,
    fields: Vec<(String, String)>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// Registered for the whole run so that no callsite's interest is cached as never.
struct Anchor;

impl Subscriber for Anchor {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

static ANCHOR: OnceLock<Dispatch> = OnceLock::new();

impl<S: Subscriber> Layer<S> for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        self.push(
            true,
            attrs.metadata().name(),
            *attrs.metadata().level(),
            fields,
        );
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.push(
            false,
            event.metadata().name(),
            *event.metadata().level(),
            fields,
        );
    }
}

impl Capture {
    fn push(&self, span: bool, name: &str, level: Level, fields: Vec<(String, String)>) {
        self.0.lock().expect("capture").push(Seen {
            span,
            name: name.to_owned(),
            level,
            fields,
        });
    }

    /// Runs `f` with this capture as the thread's subscriber; returns what it saw.
    fn run<R>(&self, f: impl FnOnce() -> R) -> (R, Vec<Seen>) {
        ANCHOR.get_or_init(|| Dispatch::new(Anchor));
        self.0.lock().expect("capture").clear();
        let subscriber = tracing_subscriber::registry().with(self.clone());
        let out = tracing::subscriber::with_default(subscriber, || {
            tracing::callsite::rebuild_interest_cache();
            f()
        });
        (out, self.0.lock().expect("capture").clone())
    }
}

fn options() -> Options {
    // No preallocator: every roll-over happens on the appending thread, in view.
    Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false)
}

fn spans<'a>(seen: &'a [Seen], name: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.span && s.name == name).collect()
}

#[test]
fn open_recovery_roll_over_and_flush_have_spans_and_appends_stay_below_info() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = Capture::default();
    let (journal, opened) = capture.run(|| Journal::open(dir.path(), options()).expect("open"));
    let dir_text = dir.path().display().to_string();
    let open = spans(&opened, "open");
    assert_eq!(open.len(), 1, "{opened:?}");
    assert_eq!(open[0].field("dir"), Some(dir_text.as_str()));
    assert!(spans(&opened, "recovery")
        .iter()
        .all(|s| s.field("dir") == Some(dir_text.as_str())));

    let ((), appending) = capture.run(|| {
        for i in 0..5_000 {
            journal.append(Entry::push(1, i, 0)).expect("append");
        }
        journal.flush().expect("flush");
    });
    let loud: Vec<_> = appending
        .iter()
        .filter(|s| s.level <= Level::INFO)
        .collect();
    assert!(loud.is_empty(), "INFO or above from appends: {loud:?}");
    let rolls = spans(&appending, "roll_over");
    assert!(
        rolls.len() >= 2,
        "5,000 frames of 40 bytes fill 64 KiB segments"
    );
    for roll in &rolls {
        assert_eq!(roll.field("dir"), Some(dir_text.as_str()));
        let next: u64 = roll
            .field("next_base")
            .expect("next_base")
            .parse()
            .expect("u64");
        assert_eq!(
            roll.field("segment"),
            Some(format!("{next:016x}.seg").as_str())
        );
    }
    let flushes = spans(&appending, "flush");
    assert_eq!(flushes.len(), 1, "{flushes:?}");
    let to: u64 = flushes[0].field("to").expect("to").parse().expect("u64");
    let bytes: u64 = flushes[0]
        .field("bytes")
        .expect("bytes")
        .parse()
        .expect("u64");
    assert_eq!(to, journal.end_lsn().0);
    assert_eq!(bytes, to, "the first flush covers everything from LSN 0");
    journal.close().expect("close");
}

/// Overwrites the frame at `lsn` (in the first segment) with garbage.
fn tear(dir: &Path, lsn: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(format!("{:016x}.seg", 0)))
        .expect("segment");
    file.seek(SeekFrom::Start(4096 + lsn)).expect("seek");
    file.write_all(&[0xA5; 40]).expect("write");
}

#[test]
fn a_truncated_torn_tail_is_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), options()).expect("open");
    let mut last = 0;
    for i in 0..10 {
        last = journal.append(Entry::push(1, i, 0)).expect("append").0;
    }
    journal.close_without_flush();
    tear(dir.path(), last);
    let capture = Capture::default();
    let (journal, seen) = capture.run(|| Journal::open(dir.path(), options()).expect("reopen"));
    assert_eq!(journal.end_lsn().0, last, "the torn frame is truncated");
    let warnings: Vec<_> = seen
        .iter()
        .filter(|s| !s.span && s.level == Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{seen:?}");
    assert!(warnings[0]
        .field("message")
        .is_some_and(|m| m.contains("truncated")));
    assert_eq!(warnings[0].field("end"), Some(last.to_string().as_str()));
}

#[test]
fn poisoning_is_an_error_event() {
    let sim = SimStorage::new(5);
    let journal = Journal::open_with_storage("/j", options(), Arc::new(sim.clone())).expect("open");
    journal.append(Entry::push(1, 1, 0)).expect("append");
    sim.fail_next_sync();
    let capture = Capture::default();
    let (flushed, seen) = capture.run(|| journal.flush());
    assert!(flushed.is_err());
    let errors: Vec<_> = seen
        .iter()
        .filter(|s| !s.span && s.level == Level::ERROR)
        .collect();
    assert_eq!(errors.len(), 1, "{seen:?}");
    assert!(errors[0]
        .field("message")
        .is_some_and(|m| m.contains("poisoned")));
}

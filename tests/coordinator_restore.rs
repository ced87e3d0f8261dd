//! `CheckpointCoordinator`: what a stream engine relies on across a restart. Restore
//! after reopen returns the last durable checkpoint and each source's rewind point in
//! every durability mode; ids and epochs keep growing; registered names keep their
//! ids; periodic checkpoints happen on time; retention bounds what `checkpoint(id)`
//! still finds; invalid configs are refused at construction.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint_journal::{
    CheckpointCoordinator, CoordinatorConfig, Durability, Error, Journal, Lsn,
};
use support::{options, TestResult};

fn open(dir: &std::path::Path, durability: Durability) -> TestResult<Arc<Journal>> {
    Ok(Arc::new(Journal::open(
        dir,
        options().durability(durability),
    )?))
}

/// Drops the coordinator and closes the journal it shares.
fn close(coordinator: CheckpointCoordinator) -> TestResult {
    let journal = Arc::clone(coordinator.journal());
    drop(coordinator);
    Arc::into_inner(journal)
        .ok_or("journal still shared")?
        .close()?;
    Ok(())
}

#[test]
fn restore_after_reopen_in_every_durability_mode() -> TestResult {
    for durability in [
        Durability::Async,
        Durability::Interval(Duration::from_millis(5)),
        Durability::Sync,
    ] {
        let dir = support::tempdir()?;
        let coordinator = CheckpointCoordinator::open(
            open(dir.path(), durability)?,
            CoordinatorConfig::default(),
        )?;
        let orders = coordinator.register_source("orders")?;
        let payments = coordinator.register_source("payments")?;
        let sink = coordinator.register_sink("kafka")?;
        orders.advance(100, 5);
        payments.advance(7, -3);
        sink.set_position(90);
        coordinator.attach_operator_state(1, b"window".to_vec());
        let first = coordinator.trigger_durable()?;
        orders.advance(200, 6);
        let second = coordinator.trigger_durable()?;
        assert!(second > first, "{durability:?}");
        // An advance after the last checkpoint is not part of any checkpoint.
        orders.advance(300, 7);
        close(coordinator)?;

        let coordinator = CheckpointCoordinator::open(
            open(dir.path(), durability)?,
            CoordinatorConfig::default(),
        )?;
        let restored = coordinator.restore()?.ok_or("nothing restored")?;
        assert_eq!(restored.record.id, second, "{durability:?}");
        assert_eq!(restored.rewind["orders"], 200);
        assert_eq!(restored.rewind["payments"], 7);
        assert_eq!(restored.record.sink_positions, vec![(sink.id(), 90)]);
        assert!(
            restored.record.operator_states.is_empty(),
            "blobs belong to one checkpoint"
        );
        let first_record = coordinator
            .checkpoint(first)?
            .ok_or("first checkpoint lost")?;
        assert_eq!(first_record.operator_states[0].state, b"window");
        // Names keep their ids, handles resume from the checkpoint, ids keep growing.
        let again = coordinator.register_source("orders")?;
        assert_eq!(again.id(), orders.id());
        assert_eq!(again.position(), (200, 6));
        let third = coordinator.trigger()?;
        assert!(third > second);
        let record = coordinator.checkpoint(third)?.ok_or("third")?;
        assert!(
            record.epoch > restored.record.epoch,
            "a new coordinator is a new epoch"
        );
        close(coordinator)?;
    }
    Ok(())
}

#[test]
fn restore_returns_the_latest_durable_checkpoint_not_a_later_one() -> TestResult {
    let dir = support::tempdir()?;
    let coordinator = CheckpointCoordinator::open(
        open(dir.path(), Durability::Async)?,
        CoordinatorConfig::default(),
    )?;
    let source = coordinator.register_source("s")?;
    source.advance(1, 1);
    let durable = coordinator.trigger_durable()?;
    source.advance(2, 2);
    let published = coordinator.trigger()?;
    assert!(published > durable);
    let restored = coordinator.restore()?.ok_or("nothing")?;
    assert_eq!(restored.record.id, durable);
    coordinator.journal().flush()?;
    assert_eq!(
        coordinator.restore()?.ok_or("nothing")?.record.id,
        published
    );
    close(coordinator)
}

#[test]
fn retention_bounds_what_checkpoint_finds() -> TestResult {
    let dir = support::tempdir()?;
    let config = CoordinatorConfig::default().max_retained(3);
    let coordinator = CheckpointCoordinator::open(open(dir.path(), Durability::Async)?, config)?;
    assert_eq!(coordinator.max_retained(), 3);
    let ids: Vec<u64> = (0..5)
        .map(|_| coordinator.trigger())
        .collect::<Result<_, _>>()?;
    assert!(coordinator.checkpoint(ids[1])?.is_none());
    for id in &ids[2..] {
        assert_eq!(coordinator.checkpoint(*id)?.map(|r| r.id), Some(*id));
    }
    let floor = coordinator.journal().state()?.retention_floor();
    assert!(floor.is_some_and(|l| l > Lsn(0)));
    close(coordinator)
}

#[test]
fn periodic_checkpoints_by_maybe_trigger_and_by_the_background_thread() -> TestResult {
    let dir = support::tempdir()?;
    let every = Duration::from_millis(20);
    let config = CoordinatorConfig::default().checkpoint_interval(every);
    let coordinator = CheckpointCoordinator::open(open(dir.path(), Durability::Async)?, config)?;
    let t0 = Instant::now();
    let first = coordinator.maybe_trigger(t0)?;
    assert!(first.is_some(), "the first call triggers");
    assert_eq!(coordinator.maybe_trigger(Instant::now())?, None);
    let later = Instant::now() + every;
    assert!(coordinator.maybe_trigger(later)?.is_some());
    close(coordinator)?;

    let dir = support::tempdir()?;
    let config = CoordinatorConfig::default()
        .checkpoint_interval(Duration::from_millis(5))
        .background(true);
    let coordinator = CheckpointCoordinator::open(open(dir.path(), Durability::Async)?, config)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while coordinator.journal().state()?.checkpoints < 3 {
        assert!(
            Instant::now() < deadline,
            "the background thread did not checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(coordinator.background_error(), None);
    close(coordinator)
}

#[test]
fn an_invalid_config_is_refused_at_construction_naming_the_field() -> TestResult {
    let dir = support::tempdir()?;
    let journal = open(dir.path(), Durability::Async)?;
    let cases = [
        (CoordinatorConfig::default().max_retained(0), "max_retained"),
        (
            CoordinatorConfig::default().checkpoint_interval(Duration::ZERO),
            "checkpoint_interval",
        ),
        (CoordinatorConfig::default().background(true), "background"),
        (CoordinatorConfig::default().family(""), "family"),
    ];
    for (config, expected) in cases {
        match CheckpointCoordinator::open(Arc::clone(&journal), config) {
            Err(Error::InvalidOptions { field, .. }) => assert_eq!(field, expected),
            other => return Err(format!("{expected}: got {:?}", other.map(|_| ())).into()),
        }
    }
    assert_eq!(
        journal.state()?.coordination.max_retained,
        0,
        "nothing written"
    );
    Ok(())
}

#[test]
fn the_65537th_source_is_registry_full() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Arc::new(Journal::open(
        dir.path(),
        options().segment_size_bytes(16 << 20),
    )?);
    let coordinator = CheckpointCoordinator::open(journal, CoordinatorConfig::default())?;
    for i in 0..65_536u32 {
        let handle = coordinator.register_source(&format!("s{i}"))?;
        assert_eq!(u32::from(handle.id()), i);
    }
    match coordinator.register_source("one-too-many") {
        Err(e @ Error::RegistryFull { .. }) => {
            assert!(e.to_string().contains("one-too-many"), "{e}");
        }
        other => {
            return Err(format!("expected RegistryFull, got {:?}", other.map(|h| h.id())).into())
        }
    }
    // An existing name is still found.
    assert_eq!(coordinator.register_source("s65535")?.id(), 65_535);
    close(coordinator)
}

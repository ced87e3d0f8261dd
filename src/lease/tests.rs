//! The decision table row by row on synthetic identities, and the lease through the
//! simulated storage.

use super::*;
use crate::storage::sim::SimStorage;

fn me() -> Identity {
    Identity {
        host: "host-a".into(),
        boot_id: 11,
        pid: 100,
        start_ticks: 5000,
    }
}

fn holder(host: &str, boot_id: u128, pid: u32, start_ticks: u64) -> LeaseRecord {
    LeaseRecord {
        host: host.into(),
        boot_id,
        pid,
        start_ticks,
        acquired_at_ms: 1,
        journal_id: 9,
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "the table rows read better with values"
)]
fn row(existing: Result<Option<LeaseRecord>, LeaseFault>, liveness: Liveness) -> LeaseCase {
    classify(&existing, &me(), |_| liveness)
}

#[test]
fn every_row_of_the_table() {
    let alive = |start_ticks| Liveness::Alive { start_ticks };
    let some = |r| Ok(Some(r));
    assert_eq!(row(Ok(None), Liveness::Dead), LeaseCase::NoLease);
    assert_eq!(
        row(Err(LeaseFault::BadMagic), Liveness::Dead),
        LeaseCase::Unreadable
    );
    assert_eq!(
        row(some(holder("host-b", 11, 100, 5000)), alive(5000)),
        LeaseCase::ForeignHost
    );
    assert_eq!(
        row(some(holder("host-a", 12, 7, 1)), alive(1)),
        LeaseCase::OtherBoot
    );
    assert_eq!(
        row(some(holder("host-a", 11, 100, 5000)), alive(5000)),
        LeaseCase::ThisProcess
    );
    assert_eq!(
        row(some(holder("host-a", 11, 7, 1)), Liveness::Dead),
        LeaseCase::HolderDead
    );
    assert_eq!(
        row(some(holder("host-a", 11, 7, 1)), alive(2)),
        LeaseCase::PidReused
    );
    // This pid, another start time: an earlier process that had this pid.
    assert_eq!(
        row(some(holder("host-a", 11, 100, 1)), alive(5000)),
        LeaseCase::PidReused
    );
    assert_eq!(
        row(some(holder("host-a", 11, 7, 1)), alive(1)),
        LeaseCase::HolderAlive
    );
    assert_eq!(
        row(some(holder("host-a", 11, 7, 1)), Liveness::Unknown),
        LeaseCase::HolderUnknown
    );
    // An unknown boot id on either side falls through to the pid checks.
    assert_eq!(
        row(some(holder("host-a", 0, 7, 1)), alive(1)),
        LeaseCase::HolderAlive
    );
}

#[test]
fn refusals_and_takeovers_follow_the_rows() {
    let path = Path::new("/j/journal.lease");
    let h = Ok(Some(holder("host-b", 1, 7, 3)));
    let err = decide(LeaseCase::ForeignHost, &h, path, false).unwrap_err();
    assert!(matches!(&err, Error::Locked { holder, .. } if holder.starts_with("host-b:7")));
    assert!(err.to_string().contains("force_takeover"), "{err}");
    let forced = decide(LeaseCase::ForeignHost, &h, path, true)
        .unwrap()
        .unwrap();
    assert!(forced.forced);
    assert_eq!(forced.previous_holder, "host-b:7");
    for case in [LeaseCase::HolderAlive, LeaseCase::HolderUnknown] {
        assert!(matches!(
            decide(case, &h, path, true),
            Err(Error::Locked { .. })
        ));
    }
    for case in [
        LeaseCase::OtherBoot,
        LeaseCase::HolderDead,
        LeaseCase::PidReused,
    ] {
        let t = decide(case, &h, path, false).unwrap().unwrap();
        assert_eq!((t.case, t.forced, t.previous_start_ticks), (case, false, 3));
    }
    let bad = Err(LeaseFault::BadMagic);
    let err = decide(LeaseCase::Unreadable, &bad, path, true).unwrap_err();
    assert!(matches!(err, Error::LeaseUnreadable { .. }));
    assert_eq!(
        decide(LeaseCase::NoLease, &Ok(None), path, false).unwrap(),
        None
    );
}

#[test]
fn through_the_simulated_storage() {
    let sim = SimStorage::new(1);
    let storage: Arc<dyn Storage> = Arc::new(sim.clone());
    let dir = Path::new("/j");
    storage.create_dir_all(dir).unwrap();
    let path = dir.join(LEASE_FILE_NAME);
    let (lease, takeover) = acquire(&storage, dir, false).unwrap();
    assert_eq!(takeover, None);
    assert!(storage.read_small_file(&path, 1000).unwrap().is_some());
    drop(lease);
    assert_eq!(
        storage.read_small_file(&path, 1000).unwrap(),
        None,
        "released"
    );
    let foreign = holder("elsewhere", 1, 7, 3).encode();
    storage.replace_small_file(&path, &foreign).unwrap();
    assert!(matches!(
        acquire(&storage, dir, false),
        Err(Error::Locked { .. })
    ));
    assert_eq!(storage.read_small_file(&path, 1000).unwrap(), Some(foreign));
    let (mut lease, takeover) = acquire(&storage, dir, true).unwrap();
    assert!(takeover.unwrap().forced);
    lease.bind(42).unwrap();
    let kept = storage.read_small_file(&path, 1000).unwrap().unwrap();
    assert_eq!(LeaseRecord::decode(&kept).unwrap().journal_id, 42);
    // Replaced by another owner: dropping leaves the other owner's lease alone.
    let other = holder("elsewhere", 1, 8, 3).encode();
    storage.replace_small_file(&path, &other).unwrap();
    drop(lease);
    assert_eq!(storage.read_small_file(&path, 1000).unwrap(), Some(other));
    storage.replace_small_file(&path, b"garbage").unwrap();
    assert!(matches!(
        acquire(&storage, dir, true),
        Err(Error::LeaseUnreadable { .. })
    ));
}

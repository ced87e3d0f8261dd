//! A read-only follower in one process receives, in order, every frame a writer in
//! another process appends — across roll-overs — through the shared mapping, without
//! taking the writer's lock.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checkpoint_journal::{Entry, Frame, Journal, JournalReader, Lsn, Options, Result};

const CHILD_ENV: &str = "CPJ_TAIL_CHILD_DIR";
const ENTRIES: u64 = 20_000;

fn options() -> Options {
    Options::default().segment_size_bytes(64 * 1024)
}

/// The writer, run in a child process: appends `ENTRIES` entries in small batches,
/// pausing now and then so the follower really follows.
#[test]
fn child_writer_entry_point() -> Result<()> {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    let journal = Journal::open(&dir, options())?;
    println!("CPJ-CHILD-READY");
    std::io::stdout()
        .flush()
        .map_err(|e| checkpoint_journal::Error::io(&dir, "stdout", e))?;
    let mut seq = 0;
    while seq < ENTRIES {
        let batch: Vec<Entry> = (seq..seq + 50).map(|s| Entry::push(3, s, 0)).collect();
        journal.append_batch(&batch)?;
        seq += 50;
        if seq % 2_000 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Hold the journal (and its lock) until the parent closes our stdin.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    journal.close()
}

#[test]
fn a_follower_receives_everything_another_process_appends() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let exe = std::env::current_exe()
        .map_err(|e| checkpoint_journal::Error::io("exe", "current_exe", e))?;
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_writer_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| checkpoint_journal::Error::io("child", "spawn", e))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.contains("CPJ-CHILD-READY") {
            break;
        }
    }
    let mut follower = JournalReader::open(dir.path())?;
    assert!(
        Journal::open(dir.path(), options()).is_err(),
        "the child holds the writer's lock"
    );
    let mut next = 0u64;
    let mut last_lsn = None::<Lsn>;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < ENTRIES && Instant::now() < deadline {
        let Some(frame) = follower.next_timeout(Duration::from_millis(100))? else {
            continue;
        };
        if let Frame::Entries { lsn, entries } = frame {
            assert!(
                last_lsn.is_none_or(|l| l < lsn),
                "frames arrive in LSN order"
            );
            last_lsn = Some(lsn);
            for e in entries {
                assert_eq!(e.sequence, next, "no entry skipped or repeated");
                next += 1;
            }
        }
    }
    drop(child.stdin.take());
    let status = child
        .wait()
        .map_err(|e| checkpoint_journal::Error::io("child", "wait", e))?;
    assert!(status.success(), "the writer process succeeded");
    assert_eq!(next, ENTRIES, "the follower received every entry");
    assert!(
        follower.position().0 > 3 * 64 * 1024,
        "it followed across roll-overs"
    );
    Ok(())
}

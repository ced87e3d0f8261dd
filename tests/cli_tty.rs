//! Terminal behaviour: under a pseudo-terminal `cpj verify` draws its progress bar and
//! finishes it; with output piped, no control character reaches either stream; and
//! `NO_COLOR` removes colour codes even on a terminal; `cpj stats --watch` redraws each
//! block on a terminal and prints plain blocks when piped. Needs util-linux `script` for
//! the pseudo-terminal; without it the terminal half is skipped with a note.

mod cli_support;

use std::process::{Command, Stdio};

use checkpoint_journal::{Entry, Journal, Options};
use cli_support::{code, cpj, path_str, TestResult};

/// A journal of about 15 MB in 4 MiB segments: verify takes long enough to draw.
fn large(dir: &std::path::Path) -> checkpoint_journal::Result<()> {
    let journal = Journal::open(dir, Options::default().segment_size_bytes(4 << 20))?;
    let batch: Vec<Entry> = (0..4096)
        .map(|i| Entry::push(1, i, i64::try_from(i).unwrap_or(0)))
        .collect();
    for _ in 0..150 {
        journal.append_batch(&batch)?;
    }
    journal.close()
}

/// Runs `command` under a pseudo-terminal; `None` if `script` is not available.
fn under_pty(command: &str, no_color: bool) -> Option<(i32, String)> {
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "100")
        .stdin(Stdio::null());
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script.output().ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

#[test]
fn verify_draws_and_finishes_its_progress_bar_on_a_terminal() -> TestResult {
    let dir = tempfile::tempdir()?;
    large(dir.path())?;
    let command = format!(
        "{} verify {}",
        env!("CARGO_BIN_EXE_cpj"),
        path_str(dir.path())
    );
    let Some((status, screen)) = under_pty(&command, false) else {
        eprintln!("note: `script` (util-linux) is not installed; terminal check skipped");
        return Ok(());
    };
    assert_eq!(status, 0, "{screen}");
    assert!(screen.contains("verifying"), "the bar was drawn:\n{screen}");
    assert!(
        screen.contains('\r') || screen.contains("\x1b["),
        "redrawn in place"
    );
    assert!(screen.contains("verified"), "the bar finished:\n{screen}");
    assert!(screen.contains("=="), "the bar filled");
    assert!(screen.contains("\x1b[32mclean"), "colour on a terminal");
    let (status, plain) = under_pty(&command, true).ok_or("script vanished")?;
    assert_eq!(status, 0);
    assert!(
        !plain.contains("\x1b[32m") && !plain.contains("\x1b[36m"),
        "NO_COLOR:\n{plain}"
    );
    assert!(plain.contains("verified"));
    Ok(())
}

#[test]
fn piped_output_carries_no_control_characters() -> TestResult {
    let dir = tempfile::tempdir()?;
    large(dir.path())?;
    let d = path_str(dir.path());
    for args in [
        vec!["verify", d],
        vec!["inspect", d],
        vec!["recover", d],
        vec!["checkpoints", d],
        vec!["tail", "-n", "1", d],
        vec!["demo", "--entries", "5000", "--segment-size", "262144"],
    ] {
        let out = cpj(&args);
        assert_eq!(code(&out), 0, "{args:?}");
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let control = bytes.iter().find(|b| **b == 0x1b || **b == b'\r');
            assert_eq!(
                control, None,
                "{args:?} wrote a control character to {name}"
            );
        }
    }
    Ok(())
}

#[test]
fn stats_watch_redraws_on_a_terminal_and_not_when_piped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(dir.path(), Options::default().segment_size_bytes(1 << 20))?;
    journal.append(Entry::push(1, 1, 0))?;
    journal.close()?;
    let d = path_str(dir.path());
    let args = ["stats", d, "--watch", "--count", "3", "--interval", "10ms"];
    let command = format!("{} {}", env!("CARGO_BIN_EXE_cpj"), args.join(" "));
    let Some((status, screen)) = under_pty(&command, true) else {
        eprintln!("note: `script` (util-linux) is not installed; terminal check skipped");
        return Ok(());
    };
    assert_eq!(status, 0, "{screen}");
    assert_eq!(screen.matches("\x1b[H\x1b[2J").count(), 3, "{screen:?}");
    let out = cpj(&args);
    assert_eq!(code(&out), 0);
    assert!(!out.stdout.contains(&0x1b), "piped: no control characters");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("entries 1 ")
            .count(),
        3
    );
    Ok(())
}

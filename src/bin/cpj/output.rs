//! Everything `cpj` prints: the stdout writer (human lines or JSON), colours that
//! honour `NO_COLOR`, aligned tables, number and time formatting, progress bars drawn
//! only on a terminal, and the error type that maps to the exit status.
//!
//! Invariant: a command writes its result to stdout only through [`Out`], so a closed
//! pipe (`cpj dump DIR | head`) ends the command quietly instead of panicking.

use std::fmt::{self, Display, Write as _};
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// How a command ended when it ran to completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Nothing wrong: exit status 0.
    Clean,
    /// The command ran and found a problem (corruption, an open that would fail): exit 1.
    Problems,
}

/// Why a command could not run (exit status 2), or its output went away.
#[derive(Debug)]
pub(crate) enum CliError {
    /// One line that says what went wrong and what to do next.
    CannotRun(String),
    /// Writing to stdout failed; a broken pipe is a reader that stopped reading.
    Output(io::Error),
}

impl Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::CannotRun(msg) => f.write_str(msg),
            CliError::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        CliError::Output(e)
    }
}

impl CliError {
    /// A library error; its message already says what to do next.
    pub(crate) fn lib(e: &checkpoint_journal::Error) -> CliError {
        CliError::CannotRun(e.to_string())
    }

    /// An I/O error on `what`, with the next step.
    pub(crate) fn io(what: impl Display, e: &io::Error, next: &str) -> CliError {
        CliError::CannotRun(format!("{what}: {e}; {next}"))
    }
}

/// The result type of every command.
pub(crate) type CmdResult = Result<Status, CliError>;

/// Stdout, buffered, in human or JSON form.
pub(crate) struct Out {
    w: BufWriter<Stdout>,
    /// `--json` was given.
    pub(crate) json: bool,
    /// Colour codes may be written (a terminal, no `NO_COLOR`, not JSON).
    pub(crate) color: bool,
}

impl Out {
    pub(crate) fn new(json: bool) -> Out {
        let stdout = io::stdout();
        let color = !json && stdout.is_terminal() && colors_allowed();
        Out {
            w: BufWriter::new(stdout),
            json,
            color,
        }
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: impl Display) -> Result<(), CliError> {
        writeln!(self.w, "{text}")?;
        Ok(())
    }

    /// Writes one compact JSON object on one line.
    pub(crate) fn json_line(&mut self, value: &impl Serialize) -> Result<(), CliError> {
        serde_json::to_writer(&mut self.w, value).map_err(io::Error::from)?;
        self.w.write_all(b"\n")?;
        Ok(())
    }

    /// Writes buffered output now (followers print as frames arrive).
    pub(crate) fn flush(&mut self) -> Result<(), CliError> {
        self.w.flush()?;
        Ok(())
    }

    /// `text` in green, if colours are on.
    pub(crate) fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// `text` in red, if colours are on.
    pub(crate) fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// `text` in bold, if colours are on.
    pub(crate) fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `NO_COLOR` (any non-empty value) turns colours off, per no-color.org.
pub(crate) fn colors_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A progress bar on stderr when it is a terminal; hidden otherwise, so piped output
/// carries no control characters.
pub(crate) fn progress(len: u64, unit_bytes: bool) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = if colors_allowed() {
        "{wide_bar:.cyan/blue}"
    } else {
        "{wide_bar}"
    };
    let counts = if unit_bytes {
        "{bytes}/{total_bytes} {bytes_per_sec} {eta}"
    } else {
        "{human_pos}/{human_len} {eta}"
    };
    let template = format!("{{msg}} {bar} {counts}");
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(style)
}

/// Finishes `bar` showing `message`, and ends its line so later output starts clean.
pub(crate) fn finish(bar: &ProgressBar, message: &'static str) {
    if bar.is_hidden() {
        return;
    }
    bar.finish_with_message(message);
    eprintln!();
}

/// A table printed with columns aligned; numbers are right-aligned.
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with these headers; `right[i]` right-aligns column `i`.
    pub(crate) fn new(headers: &[&str], right: &[bool]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
            right: right.to_vec(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table's lines, each indented by `indent` spaces.
    pub(crate) fn render(&self, indent: usize) -> Vec<String> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                let cell = |r: &Vec<String>| r.get(c).map_or(0, |s| s.chars().count());
                self.rows.iter().map(cell).max().unwrap_or(0)
            })
            .collect();
        let pad = " ".repeat(indent);
        self.rows
            .iter()
            .map(|row| {
                let mut line = pad.clone();
                for (c, cell) in row.iter().enumerate() {
                    let width = widths.get(c).copied().unwrap_or(0);
                    let right = self.right.get(c).copied().unwrap_or(false);
                    let gap = if c == 0 { "" } else { "  " };
                    let _ = if right {
                        write!(line, "{gap}{cell:>width$}")
                    } else {
                        write!(line, "{gap}{cell:<width$}")
                    };
                }
                line.trim_end().to_owned()
            })
            .collect()
    }

    pub(crate) fn print(&self, out: &mut Out, indent: usize) -> Result<(), CliError> {
        for line in self.render(indent) {
            out.line(line)?;
        }
        Ok(())
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A byte count in decimal units (`96.1 MB`), matching the MB/s figures.
pub(crate) fn bytes(n: u64) -> String {
    si(as_f64(n), "B")
}

/// A value with an SI prefix and unit: `9.81 M entries/s`, `14.6 GB/s`.
pub(crate) fn si(value: f64, unit: &str) -> String {
    let prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, prefix) in prefixes {
        if value.abs() >= scale {
            let v = value / scale;
            let sep = if unit.starts_with('B') { "" } else { " " };
            return format!("{} {prefix}{sep}{unit}", three_digits(v));
        }
    }
    format!("{} {unit}", three_digits(value))
}

fn three_digits(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Per-second rate of `count` over `elapsed`.
pub(crate) fn per_sec(count: u64, elapsed: Duration) -> f64 {
    as_f64(count) / elapsed.as_secs_f64().max(1e-9)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "figures for people: 53 bits of precision are plenty"
)]
pub(crate) fn as_f64(n: u64) -> f64 {
    n as f64
}

/// A duration for people: `850 µs`, `85.2 ms`, `1.24 s`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{} s", three_digits(secs))
    } else if secs >= 1e-3 {
        format!("{} ms", three_digits(secs * 1e3))
    } else {
        format!("{} µs", three_digits(secs * 1e6))
    }
}

/// Milliseconds as a JSON-friendly float.
pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Unix milliseconds as `2026-03-21 10:22:33.123 UTC`.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A journal id as 32 hex digits.
pub(crate) fn journal_id(id: u128) -> String {
    format!("{id:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_format_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(96_100_000), "96.1 MB");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(si(9_810_000.0, "entries/s"), "9.81 M entries/s");
        assert_eq!(si(14.6e9, "B/s"), "14.6 GB/s");
        assert_eq!(utc(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14 22:13:20.123 UTC");
        assert_eq!(duration(Duration::from_micros(85_200)), "85.2 ms");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["A", "NUM"], &[false, true]);
        t.row(vec!["long name".into(), "7".into()]);
        assert_eq!(t.render(0), vec!["A          NUM", "long name    7"]);
    }
}

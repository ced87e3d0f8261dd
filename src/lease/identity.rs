//! Who this process is, and whether another process is alive, as the lease records
//! them: host name, boot id, pid and process start time (Linux `/proc`).
//!
//! The start time makes a pid unambiguous: a pid reused by a new process has another
//! start time. The boot id makes the start time unambiguous: start times count clock
//! ticks since boot, so they repeat across reboots. Where `/proc` is missing, both are
//! 0 and liveness is [`Liveness::Unknown`], which the decision table treats as alive.

use std::fs;
use std::io;

use crate::format::lease_file::LeaseRecord;

/// This process as a lease names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) host: String,
    pub(crate) boot_id: u128,
    pub(crate) pid: u32,
    pub(crate) start_ticks: u64,
}

/// What `/proc` says about a process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// No such process.
    Dead,
    /// A process with this id, started at `start_ticks` after boot.
    Alive { start_ticks: u64 },
    /// `/proc` could not tell (not Linux, or unreadable).
    Unknown,
}

impl Identity {
    /// This process.
    pub(crate) fn this_process() -> Identity {
        let pid = std::process::id();
        let start_ticks = match probe(pid) {
            Liveness::Alive { start_ticks } => start_ticks,
            Liveness::Dead | Liveness::Unknown => 0,
        };
        Identity {
            host: host_name(),
            boot_id: boot_id(),
            pid,
            start_ticks,
        }
    }

    /// The lease record naming this process.
    pub(crate) fn record(&self, journal_id: u128) -> LeaseRecord {
        LeaseRecord {
            host: self.host.clone(),
            boot_id: self.boot_id,
            pid: self.pid,
            start_ticks: self.start_ticks,
            acquired_at_ms: now_ms(),
            journal_id,
        }
    }
}

/// The host name (`gethostname`), or `unknown-host`.
pub(crate) fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// This boot's id, or 0 where the kernel does not provide one.
fn boot_id() -> u128 {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .and_then(|text| u128::from_str_radix(&text.trim().replace('-', ""), 16).ok())
        .unwrap_or(0)
}

/// Whether process `pid` exists, and when it started.
pub(crate) fn probe(pid: u32) -> Liveness {
    if pid == 0 {
        return Liveness::Dead;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => parse_start_ticks(&stat).map_or(Liveness::Unknown, |start_ticks| {
            Liveness::Alive { start_ticks }
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if fs::metadata("/proc/self/stat").is_ok() {
                Liveness::Dead
            } else {
                Liveness::Unknown
            }
        }
        Err(_) => Liveness::Unknown,
    }
}

/// Field 22 (`starttime`) of a `/proc/PID/stat` line. The command name (field 2) is in
/// parentheses and may itself contain spaces and parentheses, so fields are counted
/// from the last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    // After the name: field 3 (state) is the first, so field 22 is the 20th.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let tail = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20 21";
        assert_eq!(parse_start_ticks(&format!("77 (cat){tail}")), Some(4242));
        assert_eq!(
            parse_start_ticks(&format!("77 (a) b (c){tail}")),
            Some(4242)
        );
        assert_eq!(parse_start_ticks("77 (cat) S 1"), None);
        assert_eq!(parse_start_ticks("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_with_its_own_start_time() {
        let me = Identity::this_process();
        assert_eq!(
            probe(me.pid),
            Liveness::Alive {
                start_ticks: me.start_ticks
            }
        );
        assert_ne!(me.start_ticks, 0);
        assert_eq!(probe(0), Liveness::Dead);
    }
}

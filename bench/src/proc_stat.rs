//! The CPU figures of `/proc/<pid>/stat`, parsed in one place: the server's own CPU and
//! the database's are read the same way, so the two can be added.

use std::time::Duration;

/// The kernel's unit for the times in `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux
/// this runs on; reading `sysconf` would need `unsafe`).
const TICKS_PER_SECOND: u64 = 100;

/// The CPU fields of one `/proc/<pid>/stat` line, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The parent's process id.
    pub ppid: u32,
    /// Time in user mode.
    pub utime: u64,
    /// Time in kernel mode.
    pub stime: u64,
    /// User time of the children the process has waited for (those that exited).
    pub cutime: u64,
    /// Kernel time of those children.
    pub cstime: u64,
}

impl ProcStat {
    /// Parses a `/proc/<pid>/stat` line; `None` if it is not one.
    pub fn parse(line: &str) -> Option<ProcStat> {
        // The command name is in parentheses and may hold spaces and parentheses
        // itself: the fields start after the last `)`, with the state at index 0.
        let (_, after_name) = line.rsplit_once(')')?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let number = |index: usize| fields.get(index)?.parse::<u64>().ok();
        Some(ProcStat {
            ppid: u32::try_from(number(1)?).ok()?,
            utime: number(11)?,
            stime: number(12)?,
            cutime: number(13)?,
            cstime: number(14)?,
        })
    }

    /// Reads the process's line; `None` if it has gone.
    pub fn read(pid: u32) -> Option<ProcStat> {
        ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The process's own CPU time, user and kernel, in ticks.
    pub fn own_ticks(&self) -> u64 {
        self.utime + self.stime
    }

    /// The CPU time of the children it has reaped, in ticks.
    pub fn children_ticks(&self) -> u64 {
        self.cutime + self.cstime
    }
}

/// Ticks as time.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_fields_after_a_command_name_with_spaces_and_parentheses() {
        let line = "2253 (postgres: a (b) c) S 1 2253 2253 0 -1 4194560 3012 912 0 0 \
                    41 73 1200 3400 20 0 1 0 1590 226009088 7412 18446744073709551615";
        let stat = ProcStat::parse(line).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                ppid: 1,
                utime: 41,
                stime: 73,
                cutime: 1200,
                cstime: 3400,
            }
        );
        assert_eq!(stat.own_ticks(), 114);
        assert_eq!(stat.children_ticks(), 4600);
    }

    #[test]
    fn refuses_what_is_not_a_stat_line() {
        assert_eq!(ProcStat::parse(""), None);
        assert_eq!(ProcStat::parse("12 (short) S 1 2 3"), None);
        assert_eq!(
            ProcStat::parse("12 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15"),
            None
        );
    }

    #[test]
    fn ticks_are_hundredths_of_a_second() {
        assert_eq!(ticks_to_duration(250), Duration::from_millis(2500));
    }

    #[test]
    fn this_process_has_a_line() {
        let stat = ProcStat::read(std::process::id()).unwrap();
        assert!(stat.ppid > 0);
    }
}

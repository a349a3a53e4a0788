//! Postgres's CPU during a scenario: what a call costs the database, which the server's
//! own CPU leaves out. The figure users pay is the two together.
//!
//! Postgres runs as processes of its own: a postmaster, background processes (WAL
//! writer, checkpointer, ...) and one backend per session. They are found in `/proc` by
//! name (`comm` is `postgres`, or the executable is called that) and sampled every
//! 100 ms while the scenario runs. A backend's process title names its database, so the
//! backends of other databases on the same Postgres (other programs' sessions) are left
//! out; the background processes serve every database and are counted. A backend that
//! exits during the scenario counts up to its last sample. The postmaster's `cutime` and
//! `cstime` hold the whole CPU of every child it reaped: what they grew beyond the
//! exited backends' sampled time is CPU no sample saw (sessions shorter than 100 ms, the
//! last moments of those that exited). It is counted when no other database's backend
//! was seen during the scenario, and reported apart otherwise, since then it cannot be
//! told whose it was.

use crate::proc_stat::{ProcStat, ticks_to_duration};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the processes are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What a Postgres process does, from its process title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A session or an autovacuum worker of the database it names.
    OfDatabase(String),
    /// The postmaster or a background process: work for every database.
    Shared,
}

impl Role {
    /// The role of a process whose `/proc/<pid>/cmdline` is `cmdline`.
    ///
    /// Postgres writes its process title over its arguments: `postgres: [cluster: ]user
    /// database host(port) activity` for a session, `postgres: [cluster: ]autovacuum
    /// worker database` for an autovacuum worker, and a name for a background process.
    /// The postmaster keeps its command line.
    pub fn of(cmdline: &str) -> Role {
        let title = cmdline.replace('\0', " ");
        let Some(rest) = title.trim().strip_prefix("postgres: ") else {
            return Role::Shared;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let is_client_address = |word: &str| {
            word == "[local]"
                || word
                    .strip_suffix(')')
                    .and_then(|w| w.rsplit_once('('))
                    .is_some_and(|(host, port)| {
                        !host.is_empty()
                            && !port.is_empty()
                            && port.bytes().all(|b| b.is_ascii_digit())
                    })
        };
        if let Some(at) = words
            .iter()
            .enumerate()
            .skip(2)
            .find_map(|(at, word)| is_client_address(word).then_some(at))
        {
            return Role::OfDatabase(words[at - 1].to_owned());
        }
        let autovacuum = words
            .windows(2)
            .position(|pair| pair == ["autovacuum", "worker"]);
        match autovacuum.and_then(|at| words.get(at + 2)) {
            Some(database) => Role::OfDatabase((*database).to_owned()),
            None => Role::Shared,
        }
    }
}

/// One process at one sample.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Its own CPU at the first sample it was in, or 0 if it started after the first.
    first_ticks: u64,
    /// Its own CPU at the latest sample it was in.
    last_ticks: u64,
    /// Its reaped children's CPU at the first and latest sample (for a postmaster).
    first_children_ticks: u64,
    last_children_ticks: u64,
    /// Whether its parent is not a Postgres process: a postmaster.
    postmaster: bool,
    /// Whether it was in the latest sample.
    alive: bool,
    /// Whether it is counted: a shared process or one of the measured database.
    counted: bool,
}

/// The samples so far. Pure bookkeeping, fed by [`Sampler`]; see the module docs.
#[derive(Debug, Default)]
pub struct Tally {
    database: String,
    processes: HashMap<u32, Seen>,
    samples: u64,
    /// Process ids known not to be Postgres, not read again.
    others: HashSet<u32>,
}

/// One Postgres process as one sample read it.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Its process id.
    pub pid: u32,
    /// Its CPU figures.
    pub stat: ProcStat,
    /// Whether its parent is a Postgres process too.
    pub parent_is_postgres: bool,
    /// What it does.
    pub role: Role,
}

/// What the database spent over a scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatabaseCpu {
    /// The measured database's backends and the shared processes, exited ones included
    /// up to their last sample, plus the unseen children's CPU when it is theirs.
    pub counted: Duration,
    /// Other databases' backends, left out.
    pub other_databases: Duration,
    /// Reaped children's CPU no sample saw, when other databases' backends were about
    /// and so it could not be counted.
    pub unattributed: Duration,
    /// Postgres processes seen.
    pub processes: usize,
}

impl Tally {
    /// An empty tally for the database named `database`.
    pub fn new(database: &str) -> Tally {
        Tally {
            database: database.to_owned(),
            ..Tally::default()
        }
    }

    /// Adds one sample: every Postgres process alive at that moment.
    pub fn add(&mut self, readings: &[Reading]) {
        let first = self.samples == 0;
        self.samples += 1;
        for seen in self.processes.values_mut() {
            seen.alive = false;
        }
        for reading in readings {
            let own = reading.stat.own_ticks();
            let children = reading.stat.children_ticks();
            let counted = match &reading.role {
                Role::Shared => true,
                Role::OfDatabase(name) => *name == self.database,
            };
            let seen = self.processes.entry(reading.pid).or_insert(Seen {
                first_ticks: if first { own } else { 0 },
                last_ticks: own,
                first_children_ticks: children,
                last_children_ticks: children,
                postmaster: !reading.parent_is_postgres,
                alive: true,
                counted,
            });
            seen.last_ticks = own;
            seen.last_children_ticks = children;
            seen.alive = true;
        }
    }

    /// What the samples so far add up to.
    pub fn total(&self) -> DatabaseCpu {
        let (mut counted, mut other_databases, mut exited_seen) = (0u64, 0u64, 0u64);
        let mut reaped = 0u64;
        for seen in self.processes.values() {
            let used = seen.last_ticks.saturating_sub(seen.first_ticks);
            if seen.counted {
                counted += used;
            } else {
                other_databases += used;
            }
            if !seen.alive {
                // The postmaster's children figure grew by this one's whole life.
                exited_seen += seen.last_ticks;
            }
            if seen.postmaster && seen.alive {
                reaped += seen
                    .last_children_ticks
                    .saturating_sub(seen.first_children_ticks);
            }
        }
        let unseen = reaped.saturating_sub(exited_seen);
        let mut unattributed = 0;
        if self.processes.values().all(|seen| seen.counted) {
            counted += unseen;
        } else {
            unattributed = unseen;
        }
        DatabaseCpu {
            counted: ticks_to_duration(counted),
            other_databases: ticks_to_duration(other_databases),
            unattributed: ticks_to_duration(unattributed),
            processes: self.processes.len(),
        }
    }

    /// Reads every Postgres process now.
    fn read_now(&mut self) -> Vec<Reading> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if self.others.contains(&pid) {
                continue;
            }
            if !self.processes.contains_key(&pid) && !is_postgres(pid) {
                self.others.insert(pid);
                continue;
            }
            let (Some(stat), Ok(cmdline)) = (
                ProcStat::read(pid),
                std::fs::read_to_string(format!("/proc/{pid}/cmdline")),
            ) else {
                continue;
            };
            found.push((pid, stat, Role::of(&cmdline)));
        }
        let postgres: HashSet<u32> = found.iter().map(|(pid, _, _)| *pid).collect();
        found
            .into_iter()
            .map(|(pid, stat, role)| Reading {
                pid,
                parent_is_postgres: postgres.contains(&stat.ppid),
                stat,
                role,
            })
            .collect()
    }
}

/// Whether `pid` is a Postgres process: named `postgres`, or running a binary of that
/// name (the name a process shows can be changed; its executable cannot).
fn is_postgres(pid: u32) -> bool {
    let named = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end() == "postgres");
    named
        || std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe.file_name().is_some_and(|name| name == "postgres"))
}

/// Samples Postgres on a thread of its own until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Tally>,
}

impl Sampler {
    /// Takes the first sample now, for the database named `database`, and keeps
    /// sampling.
    pub fn start(database: &str) -> Sampler {
        let mut tally = Tally::new(database);
        let first = tally.read_now();
        tally.add(&first);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(SAMPLE_EVERY);
                    let readings = tally.read_now();
                    tally.add(&readings);
                }
                tally
            })
        };
        Sampler { stop, thread }
    }

    /// Takes a last sample and adds them up.
    pub fn finish(self) -> anyhow::Result<DatabaseCpu> {
        self.stop.store(true, Ordering::Relaxed);
        let mut tally = self
            .thread
            .join()
            .map_err(|_| anyhow::anyhow!("the Postgres sampler panicked"))?;
        let last = tally.read_now();
        tally.add(&last);
        Ok(tally.total())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const OURS: &str = "lk_test_ours";

    fn stat(ppid: u32, own: u64, children: u64) -> ProcStat {
        ProcStat {
            ppid,
            utime: own,
            stime: 0,
            cutime: children,
            cstime: 0,
        }
    }

    fn postmaster(children: u64) -> Reading {
        Reading {
            pid: 100,
            stat: stat(1, 50, children),
            parent_is_postgres: false,
            role: Role::Shared,
        }
    }

    fn backend(pid: u32, database: &str, own: u64) -> Reading {
        Reading {
            pid,
            stat: stat(100, own, 0),
            parent_is_postgres: true,
            role: Role::OfDatabase(database.into()),
        }
    }

    fn walwriter(own: u64) -> Reading {
        Reading {
            pid: 101,
            stat: stat(100, own, 0),
            parent_is_postgres: true,
            role: Role::Shared,
        }
    }

    fn ticks(n: u64) -> Duration {
        ticks_to_duration(n)
    }

    #[test]
    fn names_the_database_of_a_session_and_of_an_autovacuum_worker() {
        let of = |database: &str| Role::OfDatabase(database.into());
        assert_eq!(
            Role::of("postgres: 15/main: postgres lk_test_ab 127.0.0.1(49868) idle\0\0"),
            of("lk_test_ab")
        );
        assert_eq!(Role::of("postgres: alice shop [local] SELECT"), of("shop"));
        assert_eq!(
            Role::of("postgres: 15/main: postgres lk_test_ab ::1(5000) COMMIT"),
            of("lk_test_ab")
        );
        assert_eq!(
            Role::of("postgres: 15/main: autovacuum worker lk_test_cd"),
            of("lk_test_cd")
        );
    }

    #[test]
    fn the_postmaster_and_background_processes_are_shared() {
        for cmdline in [
            "/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/postgresql/15/main\0",
            "postgres: 15/main: checkpointer ",
            "postgres: 15/main: walwriter ",
            "postgres: autovacuum launcher",
            "postgres: 15/main: logical replication launcher ",
            "postgres: 15/main: autovacuum worker",
            "",
        ] {
            assert_eq!(Role::of(cmdline), Role::Shared, "{cmdline:?}");
        }
    }

    #[test]
    fn counts_the_measured_database_and_the_shared_processes_only() {
        let mut tally = Tally::new(OURS);
        tally.add(&[
            postmaster(1000),
            walwriter(10),
            backend(200, OURS, 300),
            backend(300, "lk_test_theirs", 70),
        ]);
        tally.add(&[
            postmaster(1000),
            walwriter(14),
            backend(200, OURS, 420),
            backend(300, "lk_test_theirs", 90),
        ]);
        assert_eq!(
            tally.total(),
            DatabaseCpu {
                counted: ticks(4 + 120),
                other_databases: ticks(20),
                unattributed: Duration::ZERO,
                processes: 4,
            }
        );
    }

    #[test]
    fn a_backend_that_started_during_the_scenario_counts_from_nothing() {
        let mut tally = Tally::new(OURS);
        tally.add(&[postmaster(0)]);
        tally.add(&[postmaster(0), backend(200, OURS, 30)]);
        assert_eq!(tally.total().counted, ticks(30));
    }

    #[test]
    fn a_backend_that_exited_counts_its_sampled_time_and_its_unseen_rest() {
        let mut tally = Tally::new(OURS);
        tally.add(&[postmaster(1000), backend(200, OURS, 300)]);
        tally.add(&[postmaster(1000), backend(200, OURS, 340)]);
        // It exited at 345 ticks and was reaped; a session of 8 ticks came and went
        // between two samples.
        tally.add(&[postmaster(1000 + 345 + 8)]);
        let total = tally.total();
        assert_eq!(total.counted, ticks(40 + 5 + 8));
        assert_eq!(total.unattributed, Duration::ZERO);
    }

    #[test]
    fn unseen_children_are_not_counted_while_other_databases_are_about() {
        let mut tally = Tally::new(OURS);
        tally.add(&[
            postmaster(1000),
            backend(200, OURS, 300),
            backend(300, "lk_test_theirs", 10),
        ]);
        tally.add(&[
            postmaster(1000 + 25),
            backend(200, OURS, 330),
            backend(300, "lk_test_theirs", 12),
        ]);
        let total = tally.total();
        assert_eq!(total.counted, ticks(30));
        assert_eq!(total.other_databases, ticks(2));
        assert_eq!(total.unattributed, ticks(25));
    }

    #[test]
    fn a_single_sample_counts_nothing() {
        let mut tally = Tally::new(OURS);
        tally.add(&[postmaster(1000), backend(200, OURS, 300)]);
        assert_eq!(tally.total().counted, Duration::ZERO);
    }
}

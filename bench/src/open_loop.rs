//! The open-loop load generator: calls sent at a fixed rate whatever the answers do, as
//! many independent clients send them, with each latency measured from the moment the
//! schedule meant the call to go.
//!
//! A closed loop (see [`crate::load`]) waits for each answer before it sends again, so
//! at saturating concurrency its latencies are mostly time queued behind the other
//! callers, and a stall sends fewer calls instead of making more of them late: the
//! calls it never sent are the slow ones it never measured ("coordinated omission").
//! Here a pacer thread starts call `n` at `n / rate` seconds; if the pacer, the runtime
//! or the server falls behind, the wait counts against the call, because its latency
//! runs from the intended time, not from the moment it was actually sent.

use crate::load::{Caller, Measured};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// How an open-loop run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Calls started per second.
    pub per_second: f64,
    /// Sent at the rate, not recorded.
    pub warm_up: Duration,
    /// Recorded: calls whose intended time falls in this span after the warm-up.
    pub duration: Duration,
}

/// How long the answers to the last calls are waited for after the schedule ends.
const STRAGGLERS: Duration = Duration::from_secs(10);

/// When each call is meant to start.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    per_second: f64,
}

impl Schedule {
    /// Calls at `per_second` (above 0).
    pub fn new(per_second: f64) -> Schedule {
        Schedule { per_second }
    }

    /// Call `n`'s intended start, after the run's start.
    pub fn intended(&self, n: u64) -> Duration {
        Duration::from_secs_f64(n as f64 / self.per_second)
    }

    /// How many calls are due by `elapsed` after the run's start: those whose intended
    /// start is not after it (call 0 is due at once).
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        // The estimate, then corrected by the rounding of `intended` itself, so that
        // the two always agree.
        let mut due = (elapsed.as_secs_f64() * self.per_second).floor() as u64 + 1;
        while self.intended(due) <= elapsed {
            due += 1;
        }
        while due > 1 && self.intended(due - 1) > elapsed {
            due -= 1;
        }
        due
    }

    /// How many calls the schedule holds in `span`.
    pub fn calls_in(&self, span: Duration) -> u64 {
        (span.as_secs_f64() * self.per_second).ceil() as u64
    }
}

/// One call's times, after the run's start.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When the schedule meant it to start.
    pub intended: Duration,
    /// When it was handed to the client.
    pub sent: Duration,
    /// When its answer arrived.
    pub answered: Duration,
}

/// The recorded calls' figures. Pure bookkeeping: see [`run`].
pub struct Recorder {
    from: Duration,
    to: Duration,
    calls: u64,
    errors: u64,
    first_error: Option<String>,
    from_intended: Histogram<u64>,
    from_sent: Histogram<u64>,
    send_lag: Histogram<u64>,
}

/// 1 ns to 60 s, three significant digits.
fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000_000, 3)?)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Recorder {
    /// Records the calls meant to start from `from` (inclusive) to `to` (exclusive)
    /// after the run's start.
    pub fn new(from: Duration, to: Duration) -> anyhow::Result<Recorder> {
        Ok(Recorder {
            from,
            to,
            calls: 0,
            errors: 0,
            first_error: None,
            from_intended: histogram()?,
            from_sent: histogram()?,
            send_lag: histogram()?,
        })
    }

    /// One call's outcome; calls meant to start outside the recorded span are left out.
    pub fn record(&mut self, timing: Timing, outcome: Result<(), String>) {
        if timing.intended < self.from || timing.intended >= self.to {
            return;
        }
        match outcome {
            Ok(()) => {
                self.calls += 1;
                let latency = timing.answered.saturating_sub(timing.intended);
                self.from_intended.saturating_record(nanos(latency).max(1));
                let service = timing.answered.saturating_sub(timing.sent);
                self.from_sent.saturating_record(nanos(service).max(1));
                let lag = timing.sent.saturating_sub(timing.intended);
                self.send_lag.saturating_record(nanos(lag).max(1));
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    /// A recorded call that never got an answer.
    pub fn unanswered(&mut self, intended: Duration) {
        self.record(
            Timing {
                intended,
                sent: intended,
                answered: intended,
            },
            Err(format!(
                "no answer within {} s of the schedule's end",
                STRAGGLERS.as_secs()
            )),
        );
    }

    /// The figures, over the recorded span.
    pub fn finish(self, rate: f64) -> Measured {
        Measured::open_loop(
            self.calls,
            self.errors,
            self.first_error,
            self.to.saturating_sub(self.from),
            self.from_intended,
            crate::load::OpenLoop {
                rate,
                from_sent: self.from_sent,
                send_lag: self.send_lag,
            },
        )
    }
}

/// Sends `caller`'s calls at `rate` over `channels` (call `n` on channel `n mod len`).
pub async fn run<C: Caller>(
    caller: Arc<C>,
    channels: &[Channel],
    rate: Rate,
) -> anyhow::Result<Measured> {
    anyhow::ensure!(
        rate.per_second > 0.0 && rate.per_second.is_finite(),
        "the rate must be above 0"
    );
    anyhow::ensure!(!channels.is_empty(), "no connection to send on");
    let schedule = Schedule::new(rate.per_second);
    let total = schedule.calls_in(rate.warm_up + rate.duration);
    let mut recorder = Recorder::new(rate.warm_up, rate.warm_up + rate.duration)?;
    let (answers, mut answered) = mpsc::unbounded_channel::<(u64, Timing, Result<(), String>)>();
    let runtime = tokio::runtime::Handle::current();
    let channels = channels.to_vec();
    let start = Instant::now();
    // A thread of its own: tokio's timers tick in milliseconds, several calls apart at
    // these rates, where a thread's sleep wakes within tens of microseconds.
    let pacer = std::thread::spawn(move || {
        let mut n = 0;
        while n < total {
            let intended = schedule.intended(n);
            let now = start.elapsed();
            if now < intended {
                std::thread::sleep(intended - now);
                continue;
            }
            let due = schedule.due_by(now).min(total);
            for call in n..due {
                let (caller, answers) = (caller.clone(), answers.clone());
                let channel = channels[(call % channels.len() as u64) as usize].clone();
                let intended = schedule.intended(call);
                runtime.spawn(async move {
                    let sent = start.elapsed();
                    let outcome = caller
                        .call(channel, call)
                        .await
                        .map_err(|status| status.to_string());
                    let answered = start.elapsed();
                    let timing = Timing {
                        intended,
                        sent,
                        answered,
                    };
                    // The receiver is gone only once the run has given up on stragglers.
                    let _ = answers.send((call, timing, outcome));
                });
            }
            n = due;
        }
    });
    let mut pending: std::collections::HashSet<u64> = (0..total).collect();
    let schedule_end = schedule.intended(total.saturating_sub(1));
    let give_up = tokio::time::Instant::from_std(start + schedule_end + STRAGGLERS);
    while !pending.is_empty() {
        match tokio::time::timeout_at(give_up, answered.recv()).await {
            Ok(Some((call, timing, outcome))) => {
                pending.remove(&call);
                recorder.record(timing, outcome);
            }
            Ok(None) | Err(_) => break,
        }
    }
    pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the open-loop pacer panicked"))?;
    for call in pending {
        recorder.unanswered(schedule.intended(call));
    }
    Ok(recorder.finish(rate.per_second))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn the_schedule_spaces_calls_evenly_from_the_start() {
        let schedule = Schedule::new(5000.0);
        assert_eq!(schedule.intended(0), Duration::ZERO);
        assert_eq!(schedule.intended(1), us(200));
        assert_eq!(schedule.intended(5000), Duration::from_secs(1));
        assert_eq!(schedule.calls_in(Duration::from_secs(8)), 40_000);
    }

    #[test]
    fn calls_are_due_once_their_time_has_come() {
        let schedule = Schedule::new(5000.0);
        assert_eq!(schedule.due_by(Duration::ZERO), 1);
        assert_eq!(schedule.due_by(us(199)), 1);
        assert_eq!(schedule.due_by(us(200)), 2);
        // A pacer that woke 1 ms late finds five more calls due.
        assert_eq!(schedule.due_by(us(1200)), 7);
        for n in [3, 6, 7, 1000, 123_457] {
            let at = schedule.intended(n);
            assert_eq!(schedule.due_by(at), n + 1, "call {n} is due at its time");
            assert_eq!(schedule.due_by(at - Duration::from_nanos(1)), n);
        }
    }

    #[test]
    fn a_late_send_counts_against_the_call() {
        let mut recorder = Recorder::new(ms(0), ms(1000)).unwrap();
        // Meant at 10 ms, sent 3 ms late, answered 1 ms after it was sent.
        recorder.record(
            Timing {
                intended: ms(10),
                sent: ms(13),
                answered: ms(14),
            },
            Ok(()),
        );
        let measured = recorder.finish(1000.0);
        let within = |got: Duration, want: Duration| {
            let gap = got.abs_diff(want);
            assert!(gap <= want / 500, "{got:?} is not {want:?}");
        };
        within(measured.quantile(0.5), ms(4));
        let open = measured.open.as_ref().unwrap();
        within(Measured::at(&open.from_sent, 0.5), ms(1));
        within(Measured::at(&open.send_lag, 0.5), ms(3));
    }

    #[test]
    fn only_calls_meant_for_the_recorded_span_count() {
        let mut recorder = Recorder::new(ms(2000), ms(8000)).unwrap();
        let at = |intended: u64| Timing {
            intended: ms(intended),
            sent: ms(intended),
            answered: ms(intended + 1),
        };
        recorder.record(at(1999), Ok(()));
        recorder.record(at(2000), Ok(()));
        recorder.record(at(7999), Err("unavailable".into()));
        recorder.record(at(8000), Ok(()));
        recorder.unanswered(ms(5000));
        let measured = recorder.finish(10.0);
        assert_eq!(measured.calls, 1);
        assert_eq!(measured.errors, 2);
        assert_eq!(measured.first_error.as_deref(), Some("unavailable"));
        assert_eq!(measured.elapsed, ms(6000));
        assert!((measured.throughput() - 1.0 / 6.0).abs() < 1e-9);
    }
}

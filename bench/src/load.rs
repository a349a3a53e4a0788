//! The load generator: `concurrency` callers spread over a few HTTP/2 connections, each
//! sending one call after another for a fixed time, as internal services do. A warm-up
//! runs first and is not recorded. Every latency goes into an HDR histogram, so p99.9
//! is exact to three significant digits rather than a sample. A run at a fixed rate
//! instead is in [`crate::open_loop`]; [`Pace`] picks one of the two.

use crate::open_loop;
use hdrhistogram::Histogram;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Concurrent callers (each waits for its answer before the next call).
    pub concurrency: usize,
    /// Not recorded.
    pub warm_up: Duration,
    /// Recorded.
    pub duration: Duration,
}

/// How a scenario's load is sent: by callers that each wait for their answer, or at a
/// fixed rate.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// A closed loop: [`run`].
    Closed(Shape),
    /// An open loop: [`open_loop::run`].
    Open(open_loop::Rate),
}

impl Pace {
    /// The unrecorded time before the recorded one.
    pub fn warm_up(&self) -> Duration {
        match self {
            Pace::Closed(shape) => shape.warm_up,
            Pace::Open(rate) => rate.warm_up,
        }
    }

    /// Runs `caller` over `channels` at this pace.
    pub async fn run<C: Caller>(
        &self,
        caller: Arc<C>,
        channels: &[Channel],
    ) -> anyhow::Result<Measured> {
        match *self {
            Pace::Closed(shape) => run(caller, channels, shape).await,
            Pace::Open(rate) => open_loop::run(caller, channels, rate).await,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Calls answered OK in the recorded time.
    pub calls: u64,
    /// Calls that failed in the recorded time.
    pub errors: u64,
    /// The first failure seen, to explain the errors.
    pub first_error: Option<String>,
    /// The recorded time, as it really ran.
    pub elapsed: Duration,
    /// Each call's latency: from its send in a closed loop, from its intended send in
    /// an open one.
    latencies: Histogram<u64>,
    /// An open loop's other figures; `None` for a closed loop.
    pub open: Option<OpenLoop>,
}

/// What an open-loop run measured besides the latencies from the intended send.
#[derive(Debug, Clone)]
pub struct OpenLoop {
    /// The calls per second the schedule sent.
    pub rate: f64,
    /// From the actual send to the answer: the latency a closed loop would report.
    pub from_sent: Histogram<u64>,
    /// From the intended send to the actual one: the load generator's own lateness.
    pub send_lag: Histogram<u64>,
}

impl Measured {
    /// An open loop's figures, over the recorded span `elapsed`.
    pub fn open_loop(
        calls: u64,
        errors: u64,
        first_error: Option<String>,
        elapsed: Duration,
        from_intended: Histogram<u64>,
        open: OpenLoop,
    ) -> Measured {
        Measured {
            calls,
            errors,
            first_error,
            elapsed,
            latencies: from_intended,
            open: Some(open),
        }
    }

    /// Answered calls per second.
    pub fn throughput(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency quantile (0.5, 0.99, 0.999).
    pub fn quantile(&self, q: f64) -> Duration {
        Measured::at(&self.latencies, q)
    }

    /// A quantile of any of the latency histograms.
    pub fn at(histogram: &Histogram<u64>, q: f64) -> Duration {
        Duration::from_nanos(histogram.value_at_quantile(q))
    }
}

/// Makes each call. `call(channel, n)` sends the `n`th call of one caller.
pub trait Caller: Send + Sync + 'static {
    /// One call's future.
    fn call(
        &self,
        channel: Channel,
        n: u64,
    ) -> impl Future<Output = Result<(), tonic::Status>> + Send;
}

/// Runs `caller` in `shape` over `channels` (one per connection).
pub async fn run<C: Caller>(
    caller: Arc<C>,
    channels: &[Channel],
    shape: Shape,
) -> anyhow::Result<Measured> {
    run_until(
        caller,
        channels,
        shape.concurrency,
        shape.warm_up,
        // Made when first polled, at the end of the warm-up: a `sleep` made here
        // would count the warm-up against the recorded time.
        async move { tokio::time::sleep(shape.duration).await },
    )
    .await
}

/// Runs `caller` with `concurrency` callers over `channels`, recording from the end of
/// `warm_up` until `recorded` completes: for a run that lasts as long as something else
/// does (a sweep, say) rather than a fixed time.
pub async fn run_until<C: Caller>(
    caller: Arc<C>,
    channels: &[Channel],
    concurrency: usize,
    warm_up: Duration,
    recorded: impl Future<Output = ()>,
) -> anyhow::Result<Measured> {
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let channel = channels[worker % channels.len()].clone();
        let (caller, recording, stop) = (caller.clone(), recording.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            // 1 ns to 60 s, three significant digits.
            let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
            let (mut calls, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let result = caller.call(channel.clone(), n).await;
                let took = started.elapsed();
                n += 1;
                if result.is_err() {
                    // A call can fail without awaiting anything (the pre-signed requests
                    // ran out, say): without a yield, these loops would hold every
                    // worker thread and the timer that ends the run would never fire.
                    tokio::task::yield_now().await;
                }
                if !recording.load(Ordering::Relaxed) {
                    continue;
                }
                match result {
                    Ok(()) => {
                        calls += 1;
                        latencies.saturating_record(took.as_nanos() as u64);
                    }
                    Err(status) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| status.to_string());
                    }
                }
            }
            anyhow::Ok((calls, errors, first_error, latencies))
        }));
    }
    tokio::time::sleep(warm_up).await;
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    recorded.await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut measured = Measured {
        calls: 0,
        errors: 0,
        first_error: None,
        elapsed,
        latencies: Histogram::new_with_bounds(1, 60_000_000_000, 3)?,
        open: None,
    };
    for task in tasks {
        let (calls, errors, first_error, latencies) = task.await??;
        measured.calls += calls;
        measured.errors += errors;
        if measured.first_error.is_none() {
            measured.first_error = first_error;
        }
        measured.latencies.add(latencies)?;
    }
    Ok(measured)
}

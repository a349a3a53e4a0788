//! Scenario 8, hostile traffic: what wrong credentials cost everyone else.
//!
//! A credential Latchkey does not know yet is checked with argon2, which is slow and
//! large by design, and a stranger may present as many wrong ones as they like, on
//! every path that takes one. The flood sends a fixed number of random credentials
//! (43 characters, the shape of a generated one) from many callers at once, with the
//! paths mixed: the `n`th request of the whole flood goes to path `n mod 6`, so every
//! path is under load for the whole flood, as an attacker would send them. While it
//! runs, [`probes`] ask the health service every 20 ms and let a legitimate resource
//! service validate a bearer token with the right (already remembered) service
//! credential, each on its own connection, and the server's resident memory is
//! sampled every 10 ms. The probes run on the quiet server first, in the same run, to
//! compare with.
//!
//! On Postgres, [`outage`] then takes the database away under load.
//!
//! Every loop is bounded: the flood stops at its count, at its time bound, or when the
//! server's resident memory passes a bound (a server that keeps what each check
//! allocated can otherwise take most of a shared machine), and every request waits at
//! most [`ANSWER_BOUND`]; one still unanswered then counts as "no answer", at that
//! latency.

pub mod outage;
mod paths;
mod probes;
mod report;

pub use report::write;

use crate::server::{Hashes, MemoryProbe, Server};
use hdrhistogram::Histogram;
use paths::{Path, Target};
use probes::{Legit, Probes};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// The longest any request of this scenario waits for its answer: above the server's
/// HTTP request timeout (10 s), so that its 408 is seen rather than cut off.
pub const ANSWER_BOUND: Duration = Duration::from_secs(12);

/// How long the probes run on the quiet server before the flood.
const QUIET: Duration = Duration::from_secs(5);

/// How long after the flood the server's memory is read again.
const SETTLE: Duration = Duration::from_secs(2);

/// How often the server's resident memory is read during the flood.
const MEMORY_EVERY: Duration = Duration::from_millis(10);

/// How the flood is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Wrong credentials to send in all.
    pub credentials: usize,
    /// Concurrent callers (each waits for its answer before the next request).
    pub callers: usize,
    /// The flood stops sending after this long, however many are left.
    pub bound: Duration,
    /// The flood also stops sending once the server's resident memory passes this
    /// (in KiB): the bench shares its machine, and a server that keeps what every
    /// check allocated can take most of it.
    pub memory_bound_kib: u64,
}

/// What the whole scenario measured on one backend.
pub struct Hostile {
    /// The wrong credentials and everything measured beside them.
    pub flood: FloodFigures,
    /// The database taken away under load (Postgres only).
    pub outage: Option<outage::Outage>,
}

/// The flood, the probes on the quiet server and during the flood, and the memory.
pub struct FloodFigures {
    /// The wrong credentials' answers, per path.
    pub flood: Flood,
    /// The probes on the quiet server, just before the flood.
    pub quiet: Probes,
    /// The probes while the flood ran.
    pub during: Probes,
    /// The server's resident memory.
    pub memory: MemoryFigures,
}

/// The server's resident memory around the flood, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct MemoryFigures {
    /// VmRSS once the server was `SERVING`, before the scenario's setup.
    pub serving: u64,
    /// VmRSS just before the flood, after the setup and the quiet probes.
    pub start: u64,
    /// The highest VmRSS sampled from the flood's start until [`SETTLE`] after it.
    pub peak_sampled: u64,
    /// VmHWM at the end: the process's peak, between samples too.
    pub high_water: u64,
    /// VmRSS [`SETTLE`] after the flood.
    pub end: u64,
}

/// The wrong credentials' answers, per path.
pub struct Flood {
    /// Each path with its answers' latencies and kinds.
    pub paths: Vec<(Path, Tally)>,
    /// Whether the flood stopped because the server passed its memory bound.
    pub stopped_by_memory: bool,
    /// The settings the flood ran with.
    pub settings: Settings,
    /// From the first request to the last answer.
    pub took: Duration,
}

impl Flood {
    /// Requests sent (and answered, or given up on) in all.
    pub fn sent(&self) -> u64 {
        self.paths.iter().map(|(_, tally)| tally.count()).sum()
    }
}

/// One answer, as a caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answer {
    /// gRPC OK (for the health service: OK and `SERVING`).
    Ok,
    /// A gRPC status other than OK, by its canonical name.
    Grpc(&'static str),
    /// The health service answered, but not `SERVING`.
    NotServing,
    /// An HTTP status.
    Http(u16),
    /// No HTTP connection, or no whole response on it.
    ConnectionFailed,
    /// Nothing within [`ANSWER_BOUND`].
    Unanswered,
}

impl Answer {
    /// gRPC OK or an HTTP 2xx.
    pub fn succeeded(self) -> bool {
        matches!(self, Answer::Ok | Answer::Http(200..=299))
    }

    /// A gRPC call's answer.
    pub fn of_grpc<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Answer {
        match result {
            Ok(_) => Answer::Ok,
            Err(status) => Answer::Grpc(code_name(status.code())),
        }
    }

    /// An HTTP request's answer, its body read whole so the connection is reused.
    pub async fn of_http(result: reqwest::Result<reqwest::Response>) -> Answer {
        let Ok(response) = result else {
            return Answer::ConnectionFailed;
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(_) => Answer::Http(status),
            Err(_) => Answer::ConnectionFailed,
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ok => write!(f, "OK"),
            Answer::Grpc(code) => write!(f, "{code}"),
            Answer::NotServing => write!(f, "NOT_SERVING"),
            Answer::Http(status) => write!(f, "HTTP {status}"),
            Answer::ConnectionFailed => write!(f, "connection failed"),
            Answer::Unanswered => write!(f, "no answer in {} s", ANSWER_BOUND.as_secs()),
        }
    }
}

/// The canonical name of a gRPC code, as the answers are reported.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Runs `call`, waiting at most [`ANSWER_BOUND`]; returns its answer and how long it
/// took. An `Err` is the bench's own failure to build the request, not an answer.
pub async fn bounded(
    call: impl Future<Output = anyhow::Result<Answer>>,
) -> anyhow::Result<(Answer, Duration)> {
    let started = Instant::now();
    let answer = match tokio::time::timeout(ANSWER_BOUND, call).await {
        Ok(answer) => answer?,
        Err(_) => Answer::Unanswered,
    };
    Ok((answer, started.elapsed()))
}

/// Latencies and answers of one kind of request.
#[derive(Clone)]
pub struct Tally {
    latencies: Histogram<u64>,
    answers: BTreeMap<Answer, u64>,
}

impl Tally {
    /// An empty tally (latencies from 1 ns to 60 s, three significant digits).
    pub fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            latencies: Histogram::new_with_bounds(1, 60_000_000_000, 3)?,
            answers: BTreeMap::new(),
        })
    }

    /// Counts one answer that took `took`.
    pub fn record(&mut self, answer: Answer, took: Duration) {
        self.latencies
            .saturating_record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        *self.answers.entry(answer).or_default() += 1;
    }

    /// Adds another tally's answers to this one.
    pub fn add(&mut self, other: &Tally) -> anyhow::Result<()> {
        self.latencies.add(&other.latencies)?;
        for (answer, count) in &other.answers {
            *self.answers.entry(*answer).or_default() += count;
        }
        Ok(())
    }

    /// Answers counted.
    pub fn count(&self) -> u64 {
        self.answers.values().sum()
    }

    /// Answers that were not a success.
    pub fn failed(&self) -> u64 {
        self.answers
            .iter()
            .filter(|(answer, _)| !answer.succeeded())
            .map(|(_, count)| count)
            .sum()
    }

    /// How many answers were `answer`.
    pub fn of(&self, answer: Answer) -> u64 {
        self.answers.get(&answer).copied().unwrap_or(0)
    }

    /// A latency quantile (0.5, 0.99); zero when nothing was counted.
    pub fn quantile(&self, q: f64) -> Duration {
        Duration::from_nanos(self.latencies.value_at_quantile(q))
    }

    /// The longest latency.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.latencies.max())
    }

    /// The answers and their counts, most frequent first: `UNAUTHENTICATED 1650, ...`.
    pub fn answers(&self) -> String {
        let mut answers: Vec<_> = self.answers.iter().collect();
        answers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let listed: Vec<String> = answers
            .iter()
            .map(|(answer, count)| format!("{answer} {count}"))
            .collect();
        if listed.is_empty() {
            "none".into()
        } else {
            listed.join(", ")
        }
    }
}

/// Sets the flood up on `server` (started with the service credential required),
/// measures the probes on the quiet server, then floods it.
pub async fn flood(
    server: &Server,
    channels: &[Channel],
    hashes: &Hashes,
    settings: Settings,
) -> anyhow::Result<FloodFigures> {
    let target = Arc::new(Target::set_up(server, channels).await?);
    let legit = Arc::new(Legit::new(
        server.connect().await?,
        target.bearer_token(),
        hashes.service_credential(),
    ));
    // The first call pays for the credential's one argon2 check; from then on it is
    // remembered, as it is for any resource service that has called once.
    let (first, _) = bounded(legit.call()).await?;
    anyhow::ensure!(
        first.succeeded(),
        "the legitimate caller was refused on the quiet server: {first}"
    );
    let health = server.connect().await?;
    let ((), quiet) = probes::probing(&health, &legit, tokio::time::sleep(QUIET)).await?;
    let start = server.memory()?.rss_kib;
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let over_memory = Arc::new(AtomicBool::new(false));
    let sampling = tokio::spawn(peak_memory(
        server.memory_probe(),
        settings.memory_bound_kib,
        over_memory.clone(),
        stop_sampling.clone(),
    ));
    let sending = send(target, settings, over_memory);
    let (flood, during) = probes::probing(&health, &legit, sending).await?;
    tokio::time::sleep(SETTLE).await;
    stop_sampling.store(true, Ordering::Relaxed);
    let peak_sampled = sampling.await??;
    let end = server.memory()?;
    Ok(FloodFigures {
        flood: flood?,
        quiet,
        during,
        memory: MemoryFigures {
            serving: server.idle_rss_kib,
            start,
            peak_sampled: peak_sampled.max(end.rss_kib),
            high_water: end.peak_rss_kib,
            end: end.rss_kib,
        },
    })
}

/// The highest resident memory read until `stop` is set; sets `over` once it passes
/// `bound_kib`.
async fn peak_memory(
    probe: MemoryProbe,
    bound_kib: u64,
    over: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let mut every = tokio::time::interval(MEMORY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut peak = 0;
    while !stop.load(Ordering::Relaxed) {
        every.tick().await;
        peak = peak.max(probe.read()?.rss_kib);
        if peak > bound_kib {
            over.store(true, Ordering::Relaxed);
        }
    }
    Ok(peak)
}

/// Sends the flood: `settings.callers` callers take the next request of the whole
/// flood until `settings.credentials` are sent, `settings.bound` has passed, or
/// `over_memory` is set.
async fn send(
    target: Arc<Target>,
    settings: Settings,
    over_memory: Arc<AtomicBool>,
) -> anyhow::Result<Flood> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut callers = Vec::with_capacity(settings.callers);
    for _ in 0..settings.callers.max(1) {
        let (target, next, over_memory) = (target.clone(), next.clone(), over_memory.clone());
        callers.push(tokio::spawn(async move {
            let mut tallies = Path::ALL
                .iter()
                .map(|_| Tally::new())
                .collect::<anyhow::Result<Vec<_>>>()?;
            while started.elapsed() < settings.bound && !over_memory.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= settings.credentials {
                    break;
                }
                let index = n % Path::ALL.len();
                let (answer, took) = bounded(target.send_wrong(Path::ALL[index], n)).await?;
                tallies[index].record(answer, took);
            }
            anyhow::Ok(tallies)
        }));
    }
    let mut paths = Path::ALL
        .iter()
        .map(|path| Ok((*path, Tally::new()?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for caller in callers {
        for ((_, total), tally) in paths.iter_mut().zip(caller.await??) {
            total.add(&tally)?;
        }
    }
    Ok(Flood {
        paths,
        stopped_by_memory: over_memory.load(Ordering::Relaxed),
        settings,
        took: started.elapsed(),
    })
}

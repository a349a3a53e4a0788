//! `latchkey-bench`: the numbers behind BENCHMARKS.md.
//!
//! Each scenario gets a fresh `latchkey serve` (the release binary) on a fresh
//! database, on SQLite and on Postgres, with this load generator on the same machine.
//! Every figure is quoted beside the baseline, a no-op RPC on the same server stack
//! measured in the same run, because these machines are noisy: ratios travel, absolute
//! numbers do not.
//!
//! Besides throughput and latency, each scenario reports the server's own CPU time per
//! call (from `/proc`, so the load generator's share of the machine does not count),
//! on Postgres the database's CPU per call beside it (see [`postgres_cpu`]), its peak
//! resident memory, its resident memory when idle, and its start-up time to `SERVING`.
//!
//! The steady scenarios run as a closed loop by default (callers that each wait for
//! their answer, at the concurrency that saturates the no-op), or at a fixed rate with
//! `--rate` (see [`open_loop`]). In a closed loop, the no-op and bearer scenarios are
//! also driven by h2load when it is installed (see [`h2load`]).

mod h2load;
mod hostile;
mod load;
mod open_loop;
mod postgres_cpu;
mod proc_stat;
mod raw_verify;
mod revocation;
mod scenarios;
mod server;
mod sweep;

use anyhow::Context;
use clap::Parser;
use h2load::FixedRequest;
use latchkey_tests::Backend;
use load::{Caller, Measured, Pace, Shape};
use prost::Message as _;
use server::{Hashes, Server};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tonic::transport::Channel;

/// Runs the benchmark scenarios and writes a Markdown report.
#[derive(Debug, Parser)]
struct Arguments {
    /// The server binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/latchkey")]
    binary: PathBuf,
    /// Backends to run on.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Recorded seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unrecorded warm-up seconds before each.
    #[arg(long, default_value_t = 2)]
    warm_up_seconds: u64,
    /// Connections the callers share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Concurrent callers; by default the lowest of 8, 16, 32, 64 and 128 that gives
    /// the baseline at least 95% of its best throughput (64 with --rate, where only
    /// the reach, sweep and hostile scenarios use it).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Send the steady scenarios (baseline, hmac, hmac-presigned, rsa, bearer, dance)
    /// in an open loop at this many calls per second instead of a closed loop: call n
    /// starts at n/rate seconds whatever the answers do, and each latency runs from
    /// that intended start, so time queued in the load generator counts. The report
    /// adds the latency from the actual send and the generator's own lateness.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Concurrent streams on each of the --connections connections when h2load
    /// replays the baseline's and bearer's request (closed loop only); by default the
    /// concurrency spread over the connections.
    #[arg(long)]
    h2load_streams: Option<usize>,
    /// Scenarios to run besides the baseline: hmac (signed as sent), hmac-presigned,
    /// rsa, bearer, dance, rsa-dance, reach (on Postgres only: two processes on one database),
    /// sweep and hostile (wrong credentials on every path; on Postgres, the database
    /// taken away under load too).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "hmac,hmac-presigned,rsa,bearer,dance,rsa-dance,reach,sweep,hostile"
    )]
    scenarios: Vec<String>,
    /// Revocations timed per token kind in the reach scenario.
    #[arg(long, default_value_t = 200)]
    reach_samples: usize,
    /// Expired access tokens the sweep scenario adds for the sweeper to remove.
    #[arg(long, default_value_t = 1_000_000)]
    sweep_rows: u64,
    /// RSA-SHA1 requests to sign before that scenario (enough for 10 s at about
    /// 7,000 calls/s, with the warm-up).
    #[arg(long, default_value_t = 100_000)]
    rsa_requests: usize,
    /// HMAC-SHA1 requests to sign before the hmac-presigned scenario.
    #[arg(long, default_value_t = 250_000)]
    hmac_requests: usize,
    /// Configure the caller credentials as argon2 hashes, as for credentials a person
    /// chose, instead of the `sha256:` digests `latchkey credential generate` prints:
    /// the hostile scenario then measures the bounded argon2 pool.
    #[arg(long)]
    argon2_credentials: bool,
    /// Wrong credentials the hostile scenario sends.
    #[arg(long, default_value_t = 10_000)]
    hostile_credentials: usize,
    /// Concurrent callers in the hostile scenario, for the flood and the outage.
    #[arg(long, default_value_t = 64)]
    hostile_callers: usize,
    /// The longest the hostile scenario's flood may send, whatever is left.
    #[arg(long, default_value_t = 60)]
    hostile_seconds: u64,
    /// The hostile scenario's flood also stops once the server's RSS passes this.
    #[arg(long, default_value_t = 4096)]
    hostile_max_rss_mib: u64,
    /// Where to write the report (it is printed too).
    #[arg(long, default_value = ".build/bench/report.md")]
    report: PathBuf,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text} is not a rate above 0 calls per second")),
    }
}

/// One scenario's figures.
struct Row {
    scenario: &'static str,
    measured: Measured,
    server_cpu_per_call: Duration,
    /// On Postgres: the database's CPU per call, and what it left out.
    database: Option<DatabaseRow>,
    /// The same request replayed by h2load, when the scenario has one fixed request and
    /// h2load is installed; its error otherwise.
    h2load: Option<Result<H2loadRow, String>>,
    peak_rss_kib: u64,
    idle_rss_kib: u64,
    startup: Duration,
    note: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut arguments = Arguments::parse();
    // Each server runs in its own folder: the path must not depend on this one.
    arguments.binary = std::fs::canonicalize(&arguments.binary).with_context(|| {
        format!(
            "no server binary at {}: build it with `cargo build --release`",
            arguments.binary.display()
        )
    })?;
    let hashes = Hashes::new(arguments.argon2_credentials)?;
    let folder = std::env::temp_dir().join(format!("latchkey-bench-{}", uuid::Uuid::new_v4()));
    let h2load_version = match arguments.rate {
        Some(_) => None,
        None => h2load::version(),
    };
    let mut report = String::new();
    writeln!(report, "Machine: {}.", machine())?;
    match (&h2load_version, arguments.rate) {
        (Some(version), _) => writeln!(report, "h2load: {version}.")?,
        (None, None) => {
            eprintln!("h2load is not installed: its column stays empty");
            writeln!(
                report,
                "h2load: not installed (Debian's `nghttp2-client`; `make bench` installs it), so its column is empty."
            )?;
        }
        (None, Some(_)) => {}
    }
    raw_verify::write(
        &mut report,
        &latchkey_tests::consumer::fixture_private_key(),
    )?;
    writeln!(
        report,
        "Raw OAuth 1.0a parse and HMAC-SHA1 check of one resource request, in the load generator's process: {:.2} µs.",
        micros(scenarios::raw_hmac_parse_and_verify(50_000)?)
    )?;
    for name in &arguments.backends {
        let backend = match name.as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => anyhow::bail!("unknown backend {other}: use sqlite or postgres"),
        };
        let bench = Bench {
            arguments: &arguments,
            hashes: &hashes,
            folder: folder.join(name),
            backend,
            h2load: h2load_version.is_some(),
        };
        let concurrency = match (arguments.concurrency, arguments.rate) {
            (Some(given), _) => given,
            (None, Some(_)) => 64,
            (None, None) => bench.saturating_concurrency().await?,
        };
        let shape = Shape {
            concurrency,
            warm_up: Duration::from_secs(arguments.warm_up_seconds),
            duration: Duration::from_secs(arguments.seconds),
        };
        let pace = match arguments.rate {
            Some(per_second) => {
                eprintln!("{name}: an open loop at {per_second} calls/s");
                Pace::Open(open_loop::Rate {
                    per_second,
                    warm_up: shape.warm_up,
                    duration: shape.duration,
                })
            }
            None => {
                eprintln!("{name}: {concurrency} concurrent callers");
                Pace::Closed(shape)
            }
        };
        let mut rows = Vec::new();
        rows.push(
            bench
                .scenario("baseline (no-op RPC)", pace, |_| async {
                    Ok(scenarios::NoOp)
                })
                .await?,
        );
        let wanted = |name: &str| arguments.scenarios.iter().any(|s| s == name);
        if wanted("hmac") {
            rows.push(
                bench
                    .scenario("ValidateAccess, HMAC-SHA1", pace, |c| async move {
                        scenarios::hmac(&c).await
                    })
                    .await?,
            );
        }
        if wanted("hmac-presigned") {
            let hmac_requests = arguments.hmac_requests;
            rows.push(
                bench
                    .scenario(
                        "ValidateAccess, HMAC-SHA1, pre-signed",
                        pace,
                        move |c| async move { scenarios::hmac_presigned(&c, hmac_requests).await },
                    )
                    .await?,
            );
        }
        let mut rsa_raw_verify = None;
        if wanted("rsa") {
            let rsa_requests = arguments.rsa_requests;
            // This machine's speed drifts within minutes, and it runs slower under
            // load: the verify the ratio is quoted against is timed in CPU time on a
            // thread of the load generator while the scenario runs, and on the quiet
            // machine just before, for comparison.
            let quiet = scenarios::raw_rsa_verify(1_000)?;
            let (row, loaded) = bench
                .scenario_probed(
                    "ValidateAccess, RSA-SHA1",
                    pace,
                    move |c| async move { scenarios::rsa(&c, rsa_requests).await },
                    scenarios::raw_rsa_verify_cpu_until,
                )
                .await?;
            rows.push(row);
            rsa_raw_verify = Some(RawVerify { quiet, loaded });
        }
        if wanted("bearer") {
            rows.push(
                bench
                    .scenario("ValidateAccess, OAuth 2.0 bearer", pace, |c| async move {
                        scenarios::bearer(&c).await
                    })
                    .await?,
            );
        }
        if wanted("dance") {
            rows.push(
                bench
                    .scenario(
                        "whole dance (request token, authorize, exchange)",
                        pace,
                        |c| async move { scenarios::dances(&c).await },
                    )
                    .await?,
            );
        }
        if wanted("rsa-dance") {
            rows.push(
                bench
                    .scenario(
                        "whole dance, RSA-SHA1 (signed as sent)",
                        pace,
                        |c| async move { scenarios::rsa_dances(&c).await },
                    )
                    .await?,
            );
        }
        write_table(&mut report, name, pace, &arguments, &rows, rsa_raw_verify)?;
        if wanted("reach") && backend == Backend::Postgres {
            let reach = bench.revocation_reach().await?;
            write_reach(&mut report, &reach)?;
        }
        if wanted("sweep") {
            let swept = bench.under_sweep(shape).await?;
            write_sweep(&mut report, &swept)?;
        }
        if wanted("hostile") {
            let hostile = bench.hostile().await?;
            hostile::write(&mut report, &hostile)?;
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
    println!("{report}");
    if let Some(parent) = arguments.report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&arguments.report, &report)
        .with_context(|| format!("writing {}", arguments.report.display()))?;
    eprintln!("report written to {}", arguments.report.display());
    Ok(())
}

struct Bench<'a> {
    arguments: &'a Arguments,
    hashes: &'a Hashes,
    folder: PathBuf,
    backend: Backend,
    /// Whether h2load is installed.
    h2load: bool,
}

impl Bench<'_> {
    async fn start(&self, label: &str) -> anyhow::Result<Server> {
        let folder = self
            .folder
            .join(label.replace(|c: char| !c.is_alphanumeric(), "-"));
        Server::start(
            &self.arguments.binary,
            self.backend,
            self.hashes,
            &folder,
            &[],
        )
        .await
    }

    async fn channels(&self, server: &Server) -> anyhow::Result<Vec<Channel>> {
        let mut channels = Vec::new();
        for _ in 0..self.arguments.connections.max(1) {
            channels.push(server.connect().await?);
        }
        Ok(channels)
    }

    /// The lowest concurrency at which the no-op RPC reaches 95% of its best
    /// throughput.
    async fn saturating_concurrency(&self) -> anyhow::Result<usize> {
        let server = self.start("calibration").await?;
        let channels = self.channels(&server).await?;
        let mut results = Vec::new();
        for concurrency in [8, 16, 32, 64, 128] {
            let shape = Shape {
                concurrency,
                warm_up: Duration::from_secs(1),
                duration: Duration::from_secs(3),
            };
            let measured = load::run(Arc::new(scenarios::NoOp), &channels, shape).await?;
            eprintln!(
                "calibration: {concurrency} callers, {:.0} calls/s",
                measured.throughput()
            );
            results.push((concurrency, measured.throughput()));
        }
        server.stop().await?;
        let best = results.iter().map(|(_, t)| *t).fold(0.0, f64::max);
        Ok(results
            .iter()
            .find(|(_, throughput)| *throughput >= 0.95 * best)
            .map_or(64, |(concurrency, _)| *concurrency))
    }

    /// Scenario 6: two processes on one database; see [`revocation`].
    async fn revocation_reach(&self) -> anyhow::Result<revocation::Reach> {
        eprintln!("revocation reach...");
        let first = self.start("reach-first").await?;
        let folder = self.folder.join("reach-second");
        let second = first
            .start_replica(&self.arguments.binary, self.hashes, &folder)
            .await?;
        let reach = revocation::measure(
            &first.connect().await?,
            &second.connect().await?,
            self.arguments.reach_samples,
        )
        .await;
        second.stop().await?;
        first.stop().await?;
        reach
    }

    /// Scenario 7: validations while the sweeper removes a backlog; see [`sweep`].
    async fn under_sweep(&self, shape: Shape) -> anyhow::Result<SweepRow> {
        eprintln!(
            "validations under a sweep of {} rows...",
            self.arguments.sweep_rows
        );
        let folder = self.folder.join("sweep");
        let server = Server::start(
            &self.arguments.binary,
            self.backend,
            self.hashes,
            &folder,
            &sweep::settings(),
        )
        .await?;
        let channels = self.channels(&server).await?;
        let caller = Arc::new(scenarios::hmac(&channels[0]).await?);
        let measured = sweep::measure(
            caller,
            &channels,
            shape,
            self.backend,
            &server.database_url,
            self.arguments.sweep_rows,
        )
        .await;
        let peak_rss_kib = server.memory()?.peak_rss_kib;
        server.stop().await?;
        Ok(SweepRow {
            measured: measured?,
            peak_rss_kib,
        })
    }

    /// Scenario 8: wrong credentials on every path, and on Postgres the database taken
    /// away under load; see [`hostile`].
    async fn hostile(&self) -> anyhow::Result<hostile::Hostile> {
        let arguments = self.arguments;
        let settings = hostile::Settings {
            credentials: arguments.hostile_credentials,
            callers: arguments.hostile_callers,
            bound: Duration::from_secs(arguments.hostile_seconds),
            memory_bound_kib: arguments.hostile_max_rss_mib * 1024,
        };
        eprintln!(
            "hostile traffic: {} wrong credentials from {} callers...",
            settings.credentials, settings.callers
        );
        let requiring = [self.hashes.requiring_service_credential()];
        let server = Server::start(
            &arguments.binary,
            self.backend,
            self.hashes,
            &self.folder.join("hostile"),
            &requiring,
        )
        .await?;
        let flood = match self.channels(&server).await {
            Ok(channels) => hostile::flood(&server, &channels, self.hashes, settings).await,
            Err(error) => Err(error),
        };
        server.stop().await?;
        let flood = flood?;
        if self.backend != Backend::Postgres {
            return Ok(hostile::Hostile {
                flood,
                outage: None,
            });
        }
        eprintln!("the database taken away under load...");
        let server = Server::start(
            &arguments.binary,
            self.backend,
            self.hashes,
            &self.folder.join("hostile-outage"),
            &requiring,
        )
        .await?;
        let outage = match self.channels(&server).await {
            Ok(channels) => {
                hostile::outage::measure(&server, &channels, self.hashes, settings.callers).await
            }
            Err(error) => Err(error),
        };
        server.stop().await?;
        Ok(hostile::Hostile {
            flood,
            outage: Some(outage?),
        })
    }

    /// Starts a server, sets the scenario up, runs it, and stops the server.
    async fn scenario<C, F, Fut>(
        &self,
        scenario: &'static str,
        pace: Pace,
        setup: F,
    ) -> anyhow::Result<Row>
    where
        C: Caller + Describe,
        F: FnOnce(Channel) -> Fut,
        Fut: Future<Output = anyhow::Result<C>>,
    {
        let (row, ()) = self
            .scenario_probed(scenario, pace, setup, |_| Ok(()))
            .await?;
        Ok(row)
    }

    /// [`Self::scenario`], with `probe` running on a thread of its own while the load
    /// runs, until told to stop; its answer comes back beside the row.
    async fn scenario_probed<C, F, Fut, P>(
        &self,
        scenario: &'static str,
        pace: Pace,
        setup: F,
        probe: fn(&AtomicBool) -> anyhow::Result<P>,
    ) -> anyhow::Result<(Row, P)>
    where
        C: Caller + Describe,
        F: FnOnce(Channel) -> Fut,
        Fut: Future<Output = anyhow::Result<C>>,
        P: Send + 'static,
    {
        eprintln!("{scenario}...");
        let server = self.start(scenario).await?;
        let channels = self.channels(&server).await?;
        let caller = Arc::new(setup(channels[0].clone()).await?);
        let database = server
            .postgres_database()
            .map(|(_, name)| postgres_cpu::Sampler::start(name));
        let before = server.cpu_time()?;
        let stop = Arc::new(AtomicBool::new(false));
        let probing = {
            let stop = stop.clone();
            std::thread::spawn(move || probe(&stop))
        };
        let measured = pace.run(caller.clone(), &channels).await;
        stop.store(true, Ordering::Relaxed);
        let cpu = server.cpu_time()?.saturating_sub(before);
        let database = database.map(postgres_cpu::Sampler::finish).transpose()?;
        let probed = probing
            .join()
            .map_err(|_| anyhow::anyhow!("the probe of {scenario} panicked"))??;
        let measured = measured?;
        let memory = server.memory()?;
        let warm_up = pace.warm_up();
        let h2load = match (pace, caller.fixed_request()) {
            (Pace::Closed(shape), Some(request)) if self.h2load => {
                eprintln!("{scenario}: h2load...");
                let replayed = self.h2load(&server, &channels[0], &request, shape).await;
                Some(replayed.map_err(|error| format!("{error:#}")))
            }
            _ => None,
        };
        let row = Row {
            scenario,
            server_cpu_per_call: cpu_per_call(cpu, &measured, warm_up),
            database: database.map(|cpu| DatabaseRow {
                cpu_per_call: cpu_per_call(cpu.counted, &measured, warm_up),
                cpu,
            }),
            h2load,
            peak_rss_kib: memory.peak_rss_kib,
            idle_rss_kib: server.idle_rss_kib,
            startup: server.startup,
            note: caller.describe(),
            measured,
        };
        server.stop().await?;
        Ok((row, probed))
    }

    /// Replays `request` with h2load over as many connections as the bench's own
    /// generator uses, after one check that the server answers it OK.
    async fn h2load(
        &self,
        server: &Server,
        channel: &Channel,
        request: &FixedRequest,
        shape: Shape,
    ) -> anyhow::Result<H2loadRow> {
        h2load::check(channel.clone(), request)
            .await
            .map_err(|status| {
                anyhow::anyhow!("the request h2load would replay failed: {status}")
            })?;
        let connections = self.arguments.connections.max(1);
        let setup = h2load::Setup {
            connections,
            streams: self
                .arguments
                .h2load_streams
                .unwrap_or_else(|| shape.concurrency.div_ceil(connections)),
            warm_up: shape.warm_up,
            duration: shape.duration,
        };
        let before = server.cpu_time()?;
        let figures = h2load::run(server.grpc_port, request, setup, &self.folder).await?;
        let cpu = server.cpu_time()?.saturating_sub(before);
        let calls = figures.calls_per_second * (setup.warm_up + setup.duration).as_secs_f64();
        Ok(H2loadRow {
            figures,
            setup,
            server_cpu_per_call: if calls < 1.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(cpu.as_secs_f64() / calls)
            },
        })
    }
}

/// A scenario's Postgres figures.
struct DatabaseRow {
    cpu: postgres_cpu::DatabaseCpu,
    cpu_per_call: Duration,
}

/// A scenario's request replayed by h2load.
struct H2loadRow {
    figures: h2load::Figures,
    setup: h2load::Setup,
    server_cpu_per_call: Duration,
}

/// The raw RSA-SHA1 verify scenario 3 is compared with.
struct RawVerify {
    /// Wall-clock time on the quiet machine, just before the scenario.
    quiet: Duration,
    /// CPU time on a load-generator thread while the scenario ran.
    loaded: Duration,
}

/// Anything a scenario wants to add to its row.
trait Describe {
    fn describe(&self) -> String {
        String::new()
    }

    /// The one request every call sends, if there is one: what h2load replays.
    fn fixed_request(&self) -> Option<FixedRequest> {
        None
    }
}

impl Describe for scenarios::NoOp {
    fn fixed_request(&self) -> Option<FixedRequest> {
        Some(FixedRequest {
            path: "/grpc.health.v1.Health/Check",
            message: scenarios::NoOp::request().encode_to_vec(),
        })
    }
}
impl Describe for scenarios::Dances {}
impl Describe for scenarios::SignedValidation {}
impl Describe for scenarios::BearerValidation {
    fn fixed_request(&self) -> Option<FixedRequest> {
        Some(FixedRequest {
            path: "/latchkey.v1.TokenAuthority/ValidateAccess",
            message: self.request().encode_to_vec(),
        })
    }
}
impl Describe for scenarios::PresignedValidation {
    fn describe(&self) -> String {
        format!(
            "{} of {} pre-signed requests sent",
            self.used(),
            self.signed()
        )
    }
}

/// CPU time over the whole run (warm-up included) spread over the calls of the whole
/// run, estimated from the recorded part's rate.
fn cpu_per_call(cpu: Duration, measured: &Measured, warm_up: Duration) -> Duration {
    let whole = warm_up + measured.elapsed;
    let calls = measured.throughput() * whole.as_secs_f64();
    if calls < 1.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(cpu.as_secs_f64() / calls)
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn write_table(
    report: &mut String,
    backend: &str,
    pace: Pace,
    arguments: &Arguments,
    rows: &[Row],
    rsa_raw_verify: Option<RawVerify>,
) -> anyhow::Result<()> {
    let baseline = rows.first().map_or(1.0, |row| row.measured.throughput());
    let no_op_server_cpu = rows
        .first()
        .map_or(Duration::ZERO, |row| row.server_cpu_per_call);
    writeln!(report)?;
    let (how, latencies) = match pace {
        Pace::Closed(shape) => (format!("{} concurrent callers", shape.concurrency), ""),
        Pace::Open(rate) => (
            format!("an open loop at {:.0} calls/s", rate.per_second),
            "; latencies from each call's intended send",
        ),
    };
    writeln!(
        report,
        "### {backend}: {how} over {} connections, {} s recorded after {} s warm-up{latencies}",
        arguments.connections, arguments.seconds, arguments.warm_up_seconds
    )?;
    writeln!(report)?;
    let (load_columns, latency_note) = match pace {
        Pace::Closed(_) => ("calls/s | vs baseline", ""),
        Pace::Open(_) => (
            "sent/s | answered/s",
            " | p99 ms from the send | send lag p99 ms",
        ),
    };
    let h2load_column = match pace {
        Pace::Closed(_) => " h2load calls/s |",
        Pace::Open(_) => "",
    };
    let header = format!(
        "| scenario | {load_columns} | p50 ms | p99 ms | p99.9 ms{latency_note} | errors | server CPU µs/call | Postgres CPU µs/call | server + database CPU µs/call | vs no-op server CPU |{h2load_column} peak RSS MiB | idle RSS MiB | start-up ms |"
    );
    let columns = header.matches(" | ").count() + 1;
    writeln!(report, "{header}")?;
    writeln!(report, "|---|{}", "---:|".repeat(columns - 1))?;
    for row in rows {
        let m = &row.measured;
        let mut cells = vec![row.scenario.to_owned()];
        match &m.open {
            None => cells.extend([
                format!("{:.0}", m.throughput()),
                format!("{:.2}", m.throughput() / baseline),
            ]),
            Some(open) => cells.extend([
                format!("{:.0}", open.rate),
                format!("{:.0}", m.throughput()),
            ]),
        }
        cells.extend([0.5, 0.99, 0.999].map(|q| format!("{:.2}", millis(m.quantile(q)))));
        if let Some(open) = &m.open {
            cells.push(format!(
                "{:.2}",
                millis(Measured::at(&open.from_sent, 0.99))
            ));
            cells.push(format!("{:.2}", millis(Measured::at(&open.send_lag, 0.99))));
        }
        let with_database = row.server_cpu_per_call
            + row
                .database
                .as_ref()
                .map_or(Duration::ZERO, |database| database.cpu_per_call);
        cells.extend([
            m.errors.to_string(),
            format!("{:.1}", micros(row.server_cpu_per_call)),
            row.database.as_ref().map_or_else(
                || "– (in-process)".to_owned(),
                |database| format!("{:.1}", micros(database.cpu_per_call)),
            ),
            format!("{:.1}", micros(with_database)),
            format!(
                "{:.2}x",
                with_database.as_secs_f64() / no_op_server_cpu.as_secs_f64().max(1e-9)
            ),
        ]);
        if m.open.is_none() {
            cells.push(match &row.h2load {
                Some(Ok(replayed)) => format!("{:.0}", replayed.figures.calls_per_second),
                Some(Err(_)) => "failed".to_owned(),
                None => "–".to_owned(),
            });
        }
        cells.extend([
            format!("{:.1}", row.peak_rss_kib as f64 / 1024.0),
            format!("{:.1}", row.idle_rss_kib as f64 / 1024.0),
            format!("{:.0}", millis(row.startup)),
        ]);
        writeln!(report, "| {} |", cells.join(" | "))?;
    }
    writeln!(report)?;
    write_database_notes(report, rows, no_op_server_cpu)?;
    write_h2load_notes(report, rows)?;
    for row in rows {
        if let Some(error) = &row.measured.first_error {
            writeln!(report, "- {}: first error: {error}", row.scenario)?;
        }
        if !row.note.is_empty() {
            writeln!(report, "- {}: {}", row.scenario, row.note)?;
        }
        // A validation is one verify; a whole dance, two and much else besides.
        let validation = row.scenario.starts_with("ValidateAccess, RSA");
        if let (true, Some(raw)) = (validation, &rsa_raw_verify) {
            let ratio = |raw: Duration| row.server_cpu_per_call.as_secs_f64() / raw.as_secs_f64();
            writeln!(
                report,
                "- {}: server CPU per call is {:.2}x the raw verify's CPU time on a load-generator thread during the scenario ({:.1} µs); {:.2}x its time on the quiet machine just before ({:.1} µs)",
                row.scenario,
                ratio(raw.loaded),
                micros(raw.loaded),
                ratio(raw.quiet),
                micros(raw.quiet),
            )?;
        }
    }
    Ok(())
}

/// What the Postgres column leaves out, and what the sum costs against the no-op.
fn write_database_notes(
    report: &mut String,
    rows: &[Row],
    no_op_server_cpu: Duration,
) -> anyhow::Result<()> {
    if rows.iter().all(|row| row.database.is_none()) {
        return Ok(());
    }
    writeln!(
        report,
        "- Postgres CPU: every Postgres process's user and system time from `/proc` over the scenario (warm-up included), the backends of other databases left out, spread over the calls; server + database is quoted against the no-op's server CPU ({:.1} µs)",
        micros(no_op_server_cpu)
    )?;
    for row in rows {
        let Some(database) = &row.database else {
            continue;
        };
        let cpu = &database.cpu;
        if !cpu.other_databases.is_zero() || !cpu.unattributed.is_zero() {
            writeln!(
                report,
                "- {}: Postgres CPU of {:.2} s counted over {} processes; left out: {:.2} s of other databases' backends and {:.2} s of exited sessions no sample saw",
                row.scenario,
                cpu.counted.as_secs_f64(),
                cpu.processes,
                cpu.other_databases.as_secs_f64(),
                cpu.unattributed.as_secs_f64(),
            )?;
        }
    }
    Ok(())
}

/// h2load's figures beside the generator's, and the bearer/baseline ratio under it.
fn write_h2load_notes(report: &mut String, rows: &[Row]) -> anyhow::Result<()> {
    fn replayed(row: &Row) -> Option<&H2loadRow> {
        row.h2load.as_ref()?.as_ref().ok()
    }
    for row in rows {
        match &row.h2load {
            Some(Ok(replayed)) => writeln!(
                report,
                "- {}: under h2load ({} connections x {} streams) {:.0} calls/s, {} of {} answered HTTP 200, server CPU {:.1} µs/call",
                row.scenario,
                replayed.setup.connections,
                replayed.setup.streams,
                replayed.figures.calls_per_second,
                replayed.figures.succeeded,
                replayed.figures.done,
                micros(replayed.server_cpu_per_call),
            )?,
            Some(Err(error)) => writeln!(report, "- {}: h2load failed: {error}", row.scenario)?,
            None => {}
        }
    }
    let baseline = rows.first().and_then(replayed);
    let bearer = rows
        .iter()
        .find(|row| row.scenario.contains("bearer"))
        .and_then(replayed);
    if let (Some(baseline), Some(bearer)) = (baseline, bearer) {
        writeln!(
            report,
            "- bearer against the baseline under h2load: {:.2} ({:.0} against {:.0} calls/s)",
            bearer.figures.calls_per_second / baseline.figures.calls_per_second,
            bearer.figures.calls_per_second,
            baseline.figures.calls_per_second,
        )?;
    }
    Ok(())
}

/// Scenario 7's figures.
struct SweepRow {
    measured: sweep::UnderSweep,
    peak_rss_kib: u64,
}

fn write_reach(report: &mut String, reach: &revocation::Reach) -> anyhow::Result<()> {
    use revocation::quantile;
    writeln!(report)?;
    writeln!(
        report,
        "#### Revocation reach: `Revoke` returning on one process to `ValidateAccess` refusing on another, one Postgres"
    )?;
    writeln!(report)?;
    writeln!(
        report,
        "| token | samples | reach p50 ms | reach p99 ms | reach max ms | `Revoke` p50 ms | `Revoke` p99 ms |"
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---:|---:|")?;
    for (kind, samples, revokes) in [
        (
            "OAuth 1.0a access token, revoked by an admin",
            &reach.oauth1,
            &reach.oauth1_revoke,
        ),
        (
            "OAuth 2.0 bearer token, revoked by its client",
            &reach.bearer,
            &reach.bearer_revoke,
        ),
    ] {
        writeln!(
            report,
            "| {kind} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            samples.len(),
            millis(quantile(samples, 0.5)),
            millis(quantile(samples, 0.99)),
            millis(quantile(samples, 1.0)),
            millis(quantile(revokes, 0.5)),
            millis(quantile(revokes, 0.99)),
        )?;
    }
    writeln!(report)?;
    writeln!(
        report,
        "- validations the second process passed after a `Revoke` had returned: {}",
        reach.passed_after_revoke
    )?;
    Ok(())
}

fn write_sweep(report: &mut String, row: &SweepRow) -> anyhow::Result<()> {
    let swept = &row.measured;
    writeln!(report)?;
    writeln!(
        report,
        "#### HMAC-SHA1 `ValidateAccess` while the sweeper removes {} expired access tokens",
        swept.rows
    )?;
    writeln!(report)?;
    writeln!(
        report,
        "| while | calls/s | p50 ms | p99 ms | p99.9 ms | errors |"
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---:|")?;
    for (label, m) in [("quiet", &swept.quiet), ("sweeping", &swept.during)] {
        writeln!(
            report,
            "| {label} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            m.throughput(),
            millis(m.quantile(0.5)),
            millis(m.quantile(0.99)),
            millis(m.quantile(0.999)),
            m.errors,
        )?;
    }
    writeln!(report)?;
    let quiet_p99 = swept.quiet.quantile(0.99).as_secs_f64();
    writeln!(
        report,
        "- p99 while sweeping is {:.2}x the quiet p99",
        swept.during.quantile(0.99).as_secs_f64() / quiet_p99.max(f64::MIN_POSITIVE)
    )?;
    if swept.finished {
        writeln!(
            report,
            "- the sweep took {:.1} s ({:.0} rows/s); adding the rows took {:.1} s before it",
            swept.sweep_took.as_secs_f64(),
            swept.rows as f64 / swept.sweep_took.as_secs_f64(),
            swept.insert_took.as_secs_f64()
        )?;
    } else {
        writeln!(
            report,
            "- the sweep had NOT finished after {:.0} s; the figures cover that time only",
            swept.sweep_took.as_secs_f64()
        )?;
    }
    writeln!(
        report,
        "- server peak RSS {:.1} MiB",
        row.peak_rss_kib as f64 / 1024.0
    )?;
    if let Some(error) = swept
        .quiet
        .first_error
        .as_ref()
        .or(swept.during.first_error.as_ref())
    {
        writeln!(report, "- first error: {error}")?;
    }
    Ok(())
}

/// The CPU model and core count, from `/proc/cpuinfo`.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{cores} cores, {model}")
}

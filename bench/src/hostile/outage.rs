//! The Postgres half of scenario 8: the database taken away under load, then given
//! back.
//!
//! Resource services validate HMAC-SHA1 requests over gRPC (each call stores its nonce,
//! so each needs the database) and resource servers introspect a bearer token over
//! HTTP (read from the store, never from a cache). When the database goes, what
//! matters to them is how soon they hear `UNAVAILABLE` or 503, so that they can fail
//! over or retry, rather than hang until their own deadline; when it comes back, how
//! soon calls pass again. The database is taken away as the end-to-end tests take it:
//! no new connections (`ALTER DATABASE ... ALLOW_CONNECTIONS false`), and every
//! session on it ended.

use super::paths::{form, http_client};
use super::{Answer, Tally, bounded};
use crate::scenarios::{self, with_credential};
use crate::server::{Hashes, Server};
use anyhow::Context;
use latchkey_api::v1::token_authority_client::TokenAuthorityClient;
use latchkey_tests::consumer::TestConsumer;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// The target: a caller the outage catches hears `UNAVAILABLE` or 503 within this.
pub const REFUSAL_TARGET: Duration = Duration::from_millis(1500);

/// How long the callers run on the healthy database first.
const BEFORE: Duration = Duration::from_secs(2);

/// How long the database stays away.
pub const AWAY: Duration = Duration::from_secs(5);

/// How long after the database is back the callers may take to pass again.
pub const RECOVERY_BOUND: Duration = Duration::from_secs(20);

/// How long the callers keep going once every path has passed again, to see
/// failures that come after the first success.
const CONFIRM: Duration = Duration::from_secs(2);

/// One HTTP caller for this many gRPC callers.
const GRPC_PER_HTTP_CALLER: usize = 8;

/// The most calls one caller keeps, a bound on memory far above what the time
/// bounds let it send at any speed seen.
const CALLS_PER_CALLER: usize = 200_000;

/// The longest the scenario waits for Postgres to end the database's sessions.
const DISCONNECT_BOUND: Duration = Duration::from_secs(10);

/// What the outage measured.
pub struct Outage {
    /// Each path's figures.
    pub paths: Vec<OutagePath>,
}

/// One path's figures.
pub struct OutagePath {
    /// How the report names it.
    pub name: &'static str,
    /// Its concurrent callers.
    pub callers: usize,
    /// Calls answered before the database went.
    pub before: Tally,
    /// Calls the outage caught (in flight when it began, or sent while it lasted), by
    /// the time from the later of its start and the outage's to its answer.
    pub during: Tally,
    /// Of those, the times to an `UNAVAILABLE` (gRPC) or 503 (HTTP) answer.
    pub to_refusal: Vec<Duration>,
    /// Of those, the ones answered `UNAVAILABLE`, 503 or a success within
    /// [`REFUSAL_TARGET`].
    pub prompt: u64,
    /// From the outage's start to the last success answered before the database was
    /// back: how long the server kept answering without it.
    pub last_success_away: Option<Duration>,
    /// From the database's return to the first success of a call sent after it.
    pub first_success: Option<Duration>,
    /// From the database's return to the answer of the last failure sent after it.
    pub last_failure: Option<Duration>,
}

impl OutagePath {
    /// The share of the calls the outage caught that were answered promptly (see
    /// [`OutagePath::prompt`]).
    pub fn prompt_share(&self) -> f64 {
        self.prompt as f64 / self.during.count().max(1) as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Validate,
    Introspect,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Validate => "gRPC `ValidateAccess`, HMAC-SHA1, service credential",
            Kind::Introspect => "`POST /oauth2/introspect`, service credential",
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::Validate => 0,
            Kind::Introspect => 1,
        }
    }
}

/// One call's start, answer and end.
struct Call {
    started: Instant,
    ended: Instant,
    answer: Answer,
}

/// What the callers send, set up on the healthy server.
struct Callers {
    channels: Vec<Channel>,
    consumer: TestConsumer,
    token: String,
    token_secret: String,
    http: reqwest::Client,
    introspect_url: String,
    bearer_token: String,
    service_credential: String,
}

impl Callers {
    async fn call(&self, kind: Kind, n: usize) -> anyhow::Result<Answer> {
        match kind {
            Kind::Validate => {
                // Sign at the wall clock: the run may outlast the timestamp window.
                self.consumer.clock.set(chrono::Utc::now());
                let request = self.consumer.resource(&self.token, &self.token_secret);
                let channel = self.channels[n % self.channels.len()].clone();
                let answer = TokenAuthorityClient::new(channel)
                    .validate_access(with_credential(request, &self.service_credential)?)
                    .await;
                Ok(Answer::of_grpc(answer))
            }
            Kind::Introspect => {
                let sent = self
                    .http
                    .post(&self.introspect_url)
                    .header(AUTHORIZATION, format!("Bearer {}", self.service_credential))
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form(&[("token", &self.bearer_token)]))
                    .send()
                    .await;
                Ok(Answer::of_http(sent).await)
            }
        }
    }
}

/// Runs `callers` validating callers (and an eighth as many introspecting) on
/// `server`, started with the service credential required, and takes its database
/// away for [`AWAY`] while they run.
pub async fn measure(
    server: &Server,
    channels: &[Channel],
    hashes: &Hashes,
    callers: usize,
) -> anyhow::Result<Outage> {
    let (admin_url, name) = server
        .postgres_database()
        .context("the outage needs the server's own Postgres database")?;
    let channel = channels.first().context("no connection to call on")?;
    let consumer = scenarios::register_hmac(channel, scenarios::HMAC_CONSUMER).await?;
    let access = scenarios::dance(channel, &consumer).await?;
    let client = scenarios::register_oauth2_client(channel, "bench-outage").await?;
    let bearer_token = scenarios::oauth2_access_token(channel, &client).await?;
    let shared = Arc::new(Callers {
        channels: channels.to_vec(),
        consumer,
        token: access.token,
        token_secret: access.token_secret,
        http: http_client()?,
        introspect_url: format!("http://127.0.0.1:{}/oauth2/introspect", server.http_port),
        bearer_token,
        service_credential: hashes.service_credential().into(),
    });
    for kind in [Kind::Validate, Kind::Introspect] {
        // The credential's one argon2 check, before anything is measured.
        let (answer, _) = bounded(shared.call(kind, 0)).await?;
        anyhow::ensure!(
            answer.succeeded(),
            "{} failed on the healthy server: {answer}",
            kind.name()
        );
    }
    let admin = Database::connect(admin_url)
        .await
        .context("connecting to Postgres as its administrator")?;
    let counts = [
        (Kind::Validate, callers.max(1)),
        (
            Kind::Introspect,
            callers.div_ceil(GRPC_PER_HTTP_CALLER).max(1),
        ),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let back = Arc::new(OnceLock::new());
    let passed_again = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let mut running = Vec::new();
    for (kind, count) in counts {
        for worker in 0..count {
            let (shared, stop, back, passed_again) = (
                shared.clone(),
                stop.clone(),
                back.clone(),
                passed_again.clone(),
            );
            running.push((
                kind,
                tokio::spawn(async move {
                    let mut calls = Vec::new();
                    let mut n = worker;
                    while !stop.load(Ordering::Relaxed) && calls.len() < CALLS_PER_CALLER {
                        let started = Instant::now();
                        let (answer, _) = bounded(shared.call(kind, n)).await?;
                        n += count;
                        let sent_after_back = back.get().is_some_and(|back| started >= *back);
                        if answer.succeeded() && sent_after_back {
                            passed_again[kind.index()].store(true, Ordering::Relaxed);
                        }
                        calls.push(Call {
                            started,
                            ended: Instant::now(),
                            answer,
                        });
                    }
                    anyhow::Ok(calls)
                }),
            ));
        }
    }
    tokio::time::sleep(BEFORE).await;
    let outage = take_away(&admin, name, &back).await;
    if outage.is_ok() {
        let back_at = back.get().copied().unwrap_or_else(Instant::now);
        let deadline = back_at + RECOVERY_BOUND;
        while Instant::now() < deadline && !passed_again.iter().all(|p| p.load(Ordering::Relaxed)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep_until((Instant::now() + CONFIRM).min(deadline).into()).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = admin.close().await;
    let mut calls: [Vec<Call>; 2] = [Vec::new(), Vec::new()];
    for (kind, worker) in running {
        calls[kind.index()].extend(worker.await??);
    }
    let away_at = outage?;
    let back_at = back
        .get()
        .copied()
        .context("the database was never given back")?;
    let mut paths = Vec::new();
    for (kind, count) in counts {
        paths.push(figures(
            kind,
            count,
            &calls[kind.index()],
            away_at,
            back_at,
        )?);
    }
    Ok(Outage { paths })
}

/// Takes the database away for [`AWAY`] and gives it back, whatever happened in
/// between; sets `back` at its return. Returns when the outage began: once no new
/// session could open, as the first of the open ones was ended.
async fn take_away(
    admin: &DatabaseConnection,
    name: &str,
    back: &OnceLock<Instant>,
) -> anyhow::Result<Instant> {
    admin
        .execute_unprepared(&allow_connections(name, false))
        .await?;
    let away_at = Instant::now();
    let away = disconnect_everyone(admin, name).await;
    tokio::time::sleep_until((away_at + AWAY).into()).await;
    let given_back = admin
        .execute_unprepared(&allow_connections(name, true))
        .await;
    let _ = back.set(Instant::now());
    away?;
    given_back?;
    Ok(away_at)
}

fn allow_connections(name: &str, allowed: bool) -> String {
    format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}")
}

/// Ends every session on the database and waits until they are gone: a terminated
/// session lingers a moment, and a ping could still reach it.
async fn disconnect_everyone(admin: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
    let others =
        format!("FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
    let deadline = Instant::now() + DISCONNECT_BOUND;
    loop {
        admin
            .execute_unprepared(&format!("SELECT pg_terminate_backend(pid) {others}"))
            .await?;
        let left = admin
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*) AS remaining {others}"),
            ))
            .await?
            .and_then(|row| row.try_get::<i64>("", "remaining").ok());
        match left {
            Some(0) => return Ok(()),
            left if Instant::now() >= deadline => {
                anyhow::bail!("sessions on {name} outlived pg_terminate_backend: {left:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One path's figures from its calls, the outage having lasted from `away_at` to
/// `back_at`.
fn figures(
    kind: Kind,
    callers: usize,
    calls: &[Call],
    away_at: Instant,
    back_at: Instant,
) -> anyhow::Result<OutagePath> {
    let mut path = OutagePath {
        name: kind.name(),
        callers,
        before: Tally::new()?,
        during: Tally::new()?,
        to_refusal: Vec::new(),
        prompt: 0,
        last_success_away: None,
        first_success: None,
        last_failure: None,
    };
    for call in calls {
        if call.ended <= away_at {
            path.before
                .record(call.answer, call.ended.duration_since(call.started));
        } else if call.started < back_at {
            let since = call.ended.duration_since(call.started.max(away_at));
            path.during.record(call.answer, since);
            let refused = matches!(call.answer, Answer::Grpc("UNAVAILABLE") | Answer::Http(503));
            if refused {
                path.to_refusal.push(since);
            }
            if (refused || call.answer.succeeded()) && since <= REFUSAL_TARGET {
                path.prompt += 1;
            }
            if call.answer.succeeded() && call.ended < back_at {
                let after = call.ended.duration_since(away_at);
                path.last_success_away = Some(
                    path.last_success_away
                        .map_or(after, |known| known.max(after)),
                );
            }
        } else {
            let after = call.ended.duration_since(back_at);
            if call.answer.succeeded() {
                path.first_success =
                    Some(path.first_success.map_or(after, |known| known.min(after)));
            } else {
                path.last_failure = Some(path.last_failure.map_or(after, |known| known.max(after)));
            }
        }
    }
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn call(zero: Instant, started_ms: u64, ended_ms: u64, answer: Answer) -> Call {
        Call {
            started: zero + Duration::from_millis(started_ms),
            ended: zero + Duration::from_millis(ended_ms),
            answer,
        }
    }

    #[test]
    fn calls_are_timed_from_the_outage_and_those_sent_after_the_return_time_the_recovery() {
        let zero = Instant::now();
        let (away_at, back_at) = (
            zero + Duration::from_millis(1_000),
            zero + Duration::from_millis(6_000),
        );
        let unavailable = Answer::Grpc("UNAVAILABLE");
        let calls = [
            call(zero, 0, 10, Answer::Ok),
            // In flight when the database went: timed from then.
            call(zero, 900, 1_200, unavailable),
            call(zero, 950, 1_100, Answer::Ok),
            call(zero, 2_000, 4_000, unavailable),
            call(zero, 5_000, 17_000, Answer::Unanswered),
            // Sent after the return.
            call(zero, 6_100, 6_300, unavailable),
            call(zero, 6_400, 6_500, Answer::Ok),
            call(zero, 6_600, 6_700, Answer::Ok),
        ];
        let path = figures(Kind::Validate, 1, &calls, away_at, back_at).unwrap();
        assert_eq!(path.before.count(), 1);
        assert_eq!(path.during.count(), 4);
        assert_eq!(
            path.to_refusal,
            [Duration::from_millis(200), Duration::from_millis(2_000)]
        );
        assert_eq!(path.prompt, 2, "the refusal within 1.5 s and the success");
        assert_eq!(path.last_success_away, Some(Duration::from_millis(100)));
        assert_eq!(path.during.of(Answer::Unanswered), 1);
        assert_eq!(path.first_success, Some(Duration::from_millis(500)));
        assert_eq!(path.last_failure, Some(Duration::from_millis(300)));
    }
}

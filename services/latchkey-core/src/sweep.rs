//! The sweeper: removes rows that can no longer be used, so that the tables stay the
//! size of the live data. Validation never depends on it (expiry is read from each row
//! on every call); it exists for disk, index and cache sizes. In other token servers,
//! abandoned flows (request tokens nobody approved) are most of the rows and grew
//! tables to hundreds of gigabytes, so those go too.
//!
//! Three jobs, each run on its own schedule by the server:
//! - [`SweepJob::Nonces`]: used nonces once their timestamp is outside the window
//!   (no retention: they are not history);
//! - [`SweepJob::RequestTokens`]: request tokens in any state (pending, approved,
//!   denied, exchanged, dead) once expired for the request-token retention;
//!   OAuth 2.0 authorization codes go with them, on the same retention;
//! - [`SweepJob::AccessTokens`]: access tokens once ended (expired, past the maximum
//!   lifetime, idle, or revoked) for the access-token retention. Until then, a
//!   validation still says *why* a token is refused (`token_expired`,
//!   `token_revoked`) instead of not knowing it. The audit log keeps the history.
//!   OAuth 2.0 tokens and grants go with them, once expired or revoked as long ago.
//!
//! Deletes go in bounded batches, each its own short transaction selecting ids by an
//! indexed column, so that sweeping millions of rows never holds locks that would stall
//! `ValidateAccess` or `ExchangeToken`. Each batch is sized to hold the database for
//! about [`crate::store::BATCH_TIME_BUDGET`], or less where the store asks for less
//! ([`crate::store::SweepStore::sweep_batch_budget`]: on SQLite every nonce write waits for the one write
//! lock). `batch_size` is the most a batch grows to: one that ran over is halved, one
//! well under is doubled. Each is followed by a pause as long as it took. So a backlog
//! of a million rows never takes more than half of the database's time, and never holds
//! SQLite's one write lock for long: measured on SQLite, 1,000-row batches held it about
//! 100 ms each and validations waiting on it saw their p99 grow fourfold; 20 ms batches
//! still made it 3.4–3.5x at 200,000 rows, so the SQLite store asks for 4 ms (1.9–2.2x
//! there, 2.6–2.8x at a million; see BENCHMARKS.md). With many replicas on one
//! database, a job takes a cross-replica lock first ([`crate::store::SweepStore::try_lock_sweep`]); a
//! replica that finds it taken skips that run. Within one process, a run that is still
//! going when the next tick comes makes that tick skip. [`Sweeper::stop`] ends runs
//! between batches.

use crate::bounds::{LONGEST_LIFETIME, PolicyError};
use crate::clock::Clock;
use crate::error::StoreError;
use crate::oauth1::records::EndedAccessTokens;
use crate::policy::Policy;
use crate::store::{Store, SweepJob};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// How the sweeper works.
#[derive(Debug, Clone)]
pub struct SweepSettings {
    /// Rows per delete batch.
    pub batch_size: u64,
    /// How long expired request tokens are kept.
    pub request_token_retention: Duration,
    /// How long ended or revoked access tokens are kept.
    pub access_token_retention: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            request_token_retention: Duration::hours(1),
            access_token_retention: Duration::days(7),
        }
    }
}

/// The largest delete batch: each batch is one transaction, and past this one would
/// hold locks long enough to stall validation.
pub const MAX_BATCH_SIZE: u64 = 100_000;

impl SweepSettings {
    /// Refuses a batch size outside 1..=[`MAX_BATCH_SIZE`] or a retention longer than
    /// [`LONGEST_LIFETIME`].
    pub fn check(&self) -> Result<(), PolicyError> {
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(PolicyError {
                section: "sweeper",
                field: "batch_size",
                is_duration: false,
                rule: format!("must be between 1 and {MAX_BATCH_SIZE}"),
            });
        }
        for (field, retention) in [
            ("request_token_retention", self.request_token_retention),
            ("access_token_retention", self.access_token_retention),
        ] {
            if retention < Duration::zero() || retention > LONGEST_LIFETIME {
                return Err(PolicyError {
                    section: "sweeper",
                    field,
                    is_duration: true,
                    rule: format!(
                        "must be at most a century ({} seconds)",
                        LONGEST_LIFETIME.num_seconds()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepOutcome {
    /// Everything due was removed.
    Completed,
    /// [`Sweeper::stop`] was called; the run ended after its current batch.
    Stopped,
    /// Another replica holds this job's lock; nothing was done.
    HeldElsewhere,
    /// This process is still running the job from an earlier tick; nothing was done.
    AlreadyRunning,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The job.
    pub job: SweepJob,
    /// How it ended.
    pub outcome: SweepOutcome,
    /// Rows deleted.
    pub removed: u64,
    /// Delete statements run.
    pub batches: u64,
    /// How long the run took.
    pub elapsed: std::time::Duration,
}

/// Running totals since start-up, per job, for metrics.
#[derive(Debug, Default)]
pub struct SweepTotals {
    removed: [AtomicU64; 3],
    runs: [AtomicU64; 3],
    failures: [AtomicU64; 3],
}

impl SweepTotals {
    /// Rows the job has deleted.
    pub fn removed(&self, job: SweepJob) -> u64 {
        self.removed[job.index()].load(Ordering::Relaxed)
    }

    /// Runs of the job that did their work (completed or stopped).
    pub fn runs(&self, job: SweepJob) -> u64 {
        self.runs[job.index()].load(Ordering::Relaxed)
    }

    /// Runs of the job that failed.
    pub fn failures(&self, job: SweepJob) -> u64 {
        self.failures[job.index()].load(Ordering::Relaxed)
    }
}

/// Removes what can no longer be used; see the module documentation.
pub struct Sweeper {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    settings: SweepSettings,
    running: [AtomicBool; 3],
    stopping: AtomicBool,
    totals: SweepTotals,
}

impl std::fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweeper")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Clears a job's running flag however the run ends.
struct RunningFlag<'a>(&'a AtomicBool);

impl Drop for RunningFlag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Counts as a run goes, so that a failure half-way still reports what it removed.
struct Tally {
    removed: u64,
    batches: u64,
}

impl Sweeper {
    /// A sweeper over `store` that applies `policy`, the same policy the authority
    /// validates with.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        settings: SweepSettings,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
            settings,
            running: Default::default(),
            stopping: AtomicBool::new(false),
            totals: SweepTotals::default(),
        }
    }

    /// Totals since start-up.
    pub fn totals(&self) -> &SweepTotals {
        &self.totals
    }

    /// Makes running and future runs end after their current batch.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Runs one job to completion (or until stopped). A failure leaves what was
    /// already deleted deleted; the next run carries on.
    pub async fn run(&self, job: SweepJob) -> Result<SweepReport, StoreError> {
        let started = Instant::now();
        let report = |outcome, tally: &Tally| SweepReport {
            job,
            outcome,
            removed: tally.removed,
            batches: tally.batches,
            elapsed: started.elapsed(),
        };
        let mut tally = Tally {
            removed: 0,
            batches: 0,
        };
        if self.stopping() {
            return Ok(report(SweepOutcome::Stopped, &tally));
        }
        let flag = &self.running[job.index()];
        if flag.swap(true, Ordering::AcqRel) {
            return Ok(report(SweepOutcome::AlreadyRunning, &tally));
        }
        let _running = RunningFlag(flag);
        let lease = match self.store.try_lock_sweep(job).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return Ok(report(SweepOutcome::HeldElsewhere, &tally)),
            Err(e) => {
                self.totals.failures[job.index()].fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let swept = self.sweep(job, &mut tally).await;
        if let Err(e) = lease.release().await {
            // The lease closes its connection when it cannot unlock, which ends the lock.
            tracing::warn!(job = job.name(), error = %e, "could not release the sweep lock");
        }
        self.totals.removed[job.index()].fetch_add(tally.removed, Ordering::Relaxed);
        match swept {
            Ok(outcome) => {
                self.totals.runs[job.index()].fetch_add(1, Ordering::Relaxed);
                Ok(report(outcome, &tally))
            }
            Err(e) => {
                self.totals.failures[job.index()].fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    async fn sweep(&self, job: SweepJob, tally: &mut Tally) -> Result<SweepOutcome, StoreError> {
        // One instant for the whole run, to the millisecond the store keeps.
        let now = self.clock.now().trunc_subsecs(3);
        match job {
            SweepJob::Nonces => {
                self.drain(tally, |limit| self.store.delete_expired_nonces(now, limit))
                    .await
            }
            SweepJob::RequestTokens => {
                let by = now - self.settings.request_token_retention;
                let outcome = self
                    .drain(tally, |limit| {
                        self.store.delete_request_tokens_expired_by(by, limit)
                    })
                    .await?;
                if outcome == SweepOutcome::Stopped {
                    return Ok(outcome);
                }
                // OAuth 2.0 codes are the same kind of row: abandoned or finished flows.
                self.drain(tally, |limit| {
                    self.store.delete_authorization_codes_expired_by(by, limit)
                })
                .await
            }
            SweepJob::AccessTokens => {
                let outcome = self.sweep_access_tokens(now, tally).await?;
                if outcome == SweepOutcome::Stopped {
                    return Ok(outcome);
                }
                self.sweep_oauth2_tokens(now, tally).await
            }
        }
    }

    async fn sweep_access_tokens(
        &self,
        now: DateTime<Utc>,
        tally: &mut Tally,
    ) -> Result<SweepOutcome, StoreError> {
        let by = now - self.settings.access_token_retention;
        let mut selections = vec![
            EndedAccessTokens::ExpiredBy(by),
            EndedAccessTokens::RevokedBy(by),
            EndedAccessTokens::IssuedBy(by - self.policy.oauth1.max_access_token_ttl),
        ];
        // Idle timeouts are per consumer; there are few consumers and many tokens.
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_consumers(after.as_deref(), CONSUMER_PAGE)
                .await?;
            for consumer in &page {
                if let Some(idle) = self
                    .policy
                    .oauth1
                    .idle_timeout(consumer.access_token_idle_seconds)
                {
                    selections.push(EndedAccessTokens::UnusedBy {
                        consumer_key: consumer.key.clone(),
                        at: by - idle,
                    });
                }
            }
            match page.last() {
                Some(last) if page.len() as u64 == CONSUMER_PAGE => after = Some(last.key.clone()),
                _ => break,
            }
        }
        for which in &selections {
            let outcome = self
                .drain(tally, |limit| {
                    self.store.delete_ended_access_tokens(which, limit)
                })
                .await?;
            if outcome == SweepOutcome::Stopped {
                return Ok(outcome);
            }
        }
        Ok(SweepOutcome::Completed)
    }

    /// OAuth 2.0 tokens once expired or revoked for the access-token retention, then
    /// grants past their absolute end or revoked as long ago. Validating an access
    /// token never reads its grant, so a token that outlives its grant by up to one
    /// access-token lifetime still answers correctly.
    async fn sweep_oauth2_tokens(
        &self,
        now: DateTime<Utc>,
        tally: &mut Tally,
    ) -> Result<SweepOutcome, StoreError> {
        let by = now - self.settings.access_token_retention;
        let outcome = self
            .drain(tally, |limit| {
                self.store.delete_ended_oauth2_tokens(by, limit)
            })
            .await?;
        if outcome == SweepOutcome::Stopped {
            return Ok(outcome);
        }
        self.drain(tally, |limit| {
            self.store.delete_ended_oauth2_grants(by, limit)
        })
        .await
    }

    /// Runs `batch(limit)` until it deletes fewer rows than `limit`, or until stopped.
    /// Each batch is followed by a pause as long as the batch took, and the next batch
    /// is sized by [`next_batch_size`]: see the module documentation.
    async fn drain<F, Fut>(
        &self,
        tally: &mut Tally,
        mut batch: F,
    ) -> Result<SweepOutcome, StoreError>
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let most = self.settings.batch_size.max(1);
        let budget = self.store.sweep_batch_budget();
        let mut limit = most;
        loop {
            let started = Instant::now();
            let removed = batch(limit).await?;
            let took = started.elapsed();
            tally.removed += removed;
            tally.batches += 1;
            if removed < limit {
                return Ok(SweepOutcome::Completed);
            }
            if self.stopping() {
                return Ok(SweepOutcome::Stopped);
            }
            limit = next_batch_size(limit, most, took, budget);
            tokio::time::sleep(took).await;
        }
    }
}

/// The smallest batch the sweeper shrinks to, per millisecond of budget (unless the
/// configured size is smaller still): 100 rows for 20 ms. A batch's time includes
/// waiting for the database, which under load can take longer than the delete itself:
/// the floor keeps a busy server's backlog going down.
const SMALLEST_BATCH_PER_MS: u64 = 5;

/// The size of the batch after one of `limit` rows that took `took`: halved when it
/// ran over `budget`, doubled (up to `most`, the configured batch size) when it took
/// under half of it, else the same.
pub fn next_batch_size(
    limit: u64,
    most: u64,
    took: std::time::Duration,
    budget: std::time::Duration,
) -> u64 {
    if took > budget {
        let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        let floor = SMALLEST_BATCH_PER_MS.saturating_mul(budget_ms).max(1);
        (limit / 2).max(floor.min(most))
    } else if took < budget / 2 {
        limit.saturating_mul(2).min(most)
    } else {
        limit
    }
}

/// Consumers read per page when looking for idle timeouts.
const CONSUMER_PAGE: u64 = 500;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::BATCH_TIME_BUDGET;
    use std::time::Duration as Elapsed;

    #[test]
    fn a_slow_batch_halves_the_next_and_a_quick_one_doubles_it_within_the_setting_and_floor() {
        let default = BATCH_TIME_BUDGET;
        let short = Elapsed::from_millis(4);
        let ms = Elapsed::from_millis;
        // (limit, most, took, budget, next, why)
        #[rustfmt::skip]
        let cases = [
            (1000, 1000, default * 3, default, 500, "over the budget: halved"),
            (500, 1000, default * 3 / 4, default, 500, "on budget: the same"),
            (500, 1000, default / 4, default, 1000, "well under: doubled"),
            (1000, 1000, default / 4, default, 1000, "never past the setting"),
            (120, 1000, default * 3, default, 100, "never under the floor"),
            (30, 30, default * 3, default, 30, "a setting under the floor holds"),
            (u64::MAX, u64::MAX, Elapsed::ZERO, default, u64::MAX, "no overflow"),
            (1000, 1000, ms(10), short, 500, "10 ms is over a 4 ms budget"),
            (1000, 1000, ms(10), default, 1000, "but not under half of 20 ms"),
            (30, 1000, ms(10), short, 20, "5 rows per millisecond of budget"),
            (1, 1000, ms(10), Elapsed::ZERO, 1, "a zero budget still deletes a row"),
        ];
        for (limit, most, took, budget, next, why) in cases {
            assert_eq!(next_batch_size(limit, most, took, budget), next, "{why}");
        }
    }
}

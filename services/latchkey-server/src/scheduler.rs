//! Runs the core's [`Sweeper`] on the configured cron schedules with
//! tokio-cron-scheduler, from `serve` start-up to shutdown.
//!
//! A tick runs one sweep job to completion and logs what it removed and how long it
//! took. A failed run (the database is down, say) is logged and simply tried again at
//! the next tick: the scheduler never stops the server. Runs do not overlap within a
//! process (a tick that finds the job still running skips), and with several replicas
//! only the one holding the job's database lock sweeps; the others skip quietly.
//!
//! Shutdown stops the ticking, asks running sweeps to end after their current batch,
//! and waits for them, so that the database pool closes with no sweep half-way.

use crate::config::SweeperConfig;
use latchkey_core::store::SweepJob;
use latchkey_core::sweep::{SweepOutcome, Sweeper};
use std::sync::Arc;
use tokio::sync::RwLock;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

/// Whether `schedule` is a cron expression the scheduler accepts.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    Job::new_async(schedule, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{schedule:?} is not a cron expression with a seconds field \
                 (sec min hour day month weekday): {e}"
            )
        })
}

/// The running schedule.
pub struct SweepScheduler {
    scheduler: JobScheduler,
    sweeper: Arc<Sweeper>,
    /// Each running sweep holds a read guard; shutdown takes the write guard, which
    /// waits for them all.
    in_flight: Arc<RwLock<()>>,
}

impl SweepScheduler {
    /// Schedules every job and starts ticking.
    pub async fn start(
        sweeper: Arc<Sweeper>,
        config: &SweeperConfig,
    ) -> Result<SweepScheduler, JobSchedulerError> {
        let scheduler = JobScheduler::new().await?;
        let in_flight = Arc::new(RwLock::new(()));
        let jobs = [
            (SweepJob::Nonces, &config.nonces_schedule),
            (SweepJob::RequestTokens, &config.request_tokens_schedule),
            (SweepJob::AccessTokens, &config.access_tokens_schedule),
        ];
        for (job, schedule) in jobs {
            let sweeper = sweeper.clone();
            let in_flight = in_flight.clone();
            scheduler
                .add(Job::new_async(schedule.as_str(), move |_, _| {
                    let sweeper = sweeper.clone();
                    let in_flight = in_flight.clone();
                    Box::pin(async move {
                        // Fails only once shutdown holds the write guard.
                        let Ok(_running) = in_flight.try_read() else {
                            return;
                        };
                        run_once(&sweeper, job).await;
                    })
                })?)
                .await?;
            tracing::info!(job = job.name(), schedule = %schedule, "sweep scheduled");
        }
        scheduler.start().await?;
        Ok(SweepScheduler {
            scheduler,
            sweeper,
            in_flight,
        })
    }

    /// Stops ticking and waits for running sweeps to end after their current batch.
    pub async fn shutdown(mut self) {
        self.sweeper.stop();
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "the sweep scheduler did not shut down cleanly");
        }
        let _no_sweep_running = self.in_flight.write().await;
        tracing::info!("sweeper stopped");
    }
}

/// Runs one job and logs the result; never fails.
pub async fn run_once(sweeper: &Sweeper, job: SweepJob) {
    match sweeper.run(job).await {
        Ok(report) => match report.outcome {
            SweepOutcome::Completed | SweepOutcome::Stopped => tracing::info!(
                job = job.name(),
                removed = report.removed,
                batches = report.batches,
                elapsed_ms = u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
                stopped = report.outcome == SweepOutcome::Stopped,
                total_removed = sweeper.totals().removed(job),
                "sweep finished"
            ),
            SweepOutcome::HeldElsewhere => tracing::debug!(
                job = job.name(),
                "sweep skipped: another replica is sweeping"
            ),
            SweepOutcome::AlreadyRunning => tracing::debug!(
                job = job.name(),
                "sweep skipped: the previous run is still going"
            ),
        },
        Err(e) => tracing::warn!(
            job = job.name(),
            error = %e,
            failures = sweeper.totals().failures(job),
            "sweep failed; it will be tried again at the next tick"
        ),
    }
}

//! Scenario 8's tables, each figure beside its target from the hostile-traffic issue.

use super::outage::{self, Outage, REFUSAL_TARGET};
use super::probes::{HEALTH_SERVICES, Probes};
use super::{ANSWER_BOUND, Answer, FloodFigures, Hostile, Tally};
use crate::revocation::quantile;
use std::fmt::Write as _;
use std::time::Duration;

/// A wrong credential is answered within this at p99.
const WRONG_CREDENTIAL_P99: Duration = Duration::from_millis(100);
/// The health service answers within this at p99 during the flood.
const HEALTH_P99: Duration = Duration::from_millis(50);
/// The legitimate caller's p99 during the flood is within this many times its quiet
/// p99.
const LEGIT_RATIO: f64 = 2.0;
/// The server's resident memory stays under this during the flood...
const PEAK_RSS_MIB: f64 = 100.0;
/// ...and is back within this of where it started once the flood is over.
const END_RSS_GROWTH_MIB: f64 = 10.0;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Writes the flood's tables and, on Postgres, the outage's.
pub fn write(report: &mut String, hostile: &Hostile) -> anyhow::Result<()> {
    write_flood(report, &hostile.flood)?;
    if let Some(outage) = &hostile.outage {
        write_outage(report, outage)?;
    }
    Ok(())
}

fn write_flood(report: &mut String, figures: &FloodFigures) -> anyhow::Result<()> {
    let flood = &figures.flood;
    let settings = flood.settings;
    writeln!(report)?;
    writeln!(
        report,
        "#### Hostile traffic: {} of {} wrong credentials from {} callers, {} paths mixed",
        flood.sent(),
        settings.credentials,
        settings.callers,
        flood.paths.len()
    )?;
    writeln!(report)?;
    let stopped = if flood.stopped_by_memory {
        format!(
            "; the flood stopped when the server's RSS passed its bound of {:.0} MiB",
            mib(settings.memory_bound_kib)
        )
    } else if flood.sent() < settings.credentials as u64 {
        format!(
            "; the flood stopped at its bound of {} s",
            settings.bound.as_secs()
        )
    } else {
        String::new()
    };
    writeln!(
        report,
        "Each request carries a fresh random 43-character credential, and the whole flood's `n`th request goes to path `n mod {}`. {:.1} s from the first request to the last answer{stopped}. A request waits at most {} s for its answer; latencies count every answer, refusals and \"no answer\" alike.",
        flood.paths.len(),
        flood.took.as_secs_f64(),
        ANSWER_BOUND.as_secs()
    )?;
    writeln!(report)?;
    writeln!(
        report,
        "| path | sent | p50 ms | p99 ms | max ms | answers | target: p99 ≤ {} ms |",
        WRONG_CREDENTIAL_P99.as_millis()
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---|---|")?;
    let mut all = Tally::new()?;
    for (path, tally) in &flood.paths {
        all.add(tally)?;
        write_wrong_row(report, path.name(), tally)?;
    }
    write_wrong_row(report, "all paths", &all)?;
    writeln!(report)?;

    writeln!(
        report,
        "| probe, on its own connection | while | calls | failed | p50 ms | p99 ms | max ms | target |"
    )?;
    writeln!(report, "|---|---|---:|---:|---:|---:|---:|---|")?;
    let health_target = |tally: &Tally| {
        format!(
            "p99 ≤ {} ms: {}",
            HEALTH_P99.as_millis(),
            verdict(tally.quantile(0.99) <= HEALTH_P99 && tally.failed() == 0)
        )
    };
    for (index, service) in HEALTH_SERVICES.iter().enumerate() {
        let probe = format!("`Health/Check` \"{service}\", every 20 ms");
        for (label, probes) in [("quiet", &figures.quiet), ("flood", &figures.during)] {
            let tally = &probes.health[index];
            write_probe_row(report, &probe, label, tally, &health_target(tally))?;
        }
    }
    let probe = "legitimate `ValidateAccess` (bearer, remembered service credential), every 10 ms";
    write_probe_row(
        report,
        probe,
        "quiet",
        &figures.quiet.legit,
        "the reference",
    )?;
    let ratio = figures.during.legit.quantile(0.99).as_secs_f64()
        / figures.quiet.legit.quantile(0.99).as_secs_f64().max(1e-9);
    let legit_target = format!(
        "p99 ≤ {LEGIT_RATIO}x quiet: {ratio:.2}x, {}",
        verdict(ratio <= LEGIT_RATIO && figures.during.legit.failed() == 0)
    );
    write_probe_row(report, probe, "flood", &figures.during.legit, &legit_target)?;
    writeln!(report)?;
    if write_probe_failures(report, "quiet", &figures.quiet)?
        | write_probe_failures(report, "flood", &figures.during)?
    {
        writeln!(report)?;
    }

    let memory = figures.memory;
    let growth = mib(memory.end) - mib(memory.start);
    let peak = mib(memory.peak_sampled.max(memory.high_water));
    writeln!(
        report,
        "| server RSS, MiB | at `SERVING` | before the flood | peak, VmRSS every 10 ms | peak, VmHWM | {} s after | end − start | target |",
        super::SETTLE.as_secs()
    )?;
    writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    writeln!(
        report,
        "| | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:+.1} | peak < {PEAK_RSS_MIB} MiB: {}; end within {END_RSS_GROWTH_MIB} MiB of start: {} |",
        mib(memory.serving),
        mib(memory.start),
        mib(memory.peak_sampled),
        mib(memory.high_water),
        mib(memory.end),
        growth,
        verdict(peak < PEAK_RSS_MIB),
        verdict(growth <= END_RSS_GROWTH_MIB),
    )?;
    Ok(())
}

fn write_wrong_row(report: &mut String, name: &str, tally: &Tally) -> anyhow::Result<()> {
    writeln!(
        report,
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {} | {} |",
        tally.count(),
        millis(tally.quantile(0.5)),
        millis(tally.quantile(0.99)),
        millis(tally.max()),
        tally.answers(),
        verdict(tally.count() > 0 && tally.quantile(0.99) <= WRONG_CREDENTIAL_P99),
    )?;
    Ok(())
}

fn write_probe_row(
    report: &mut String,
    probe: &str,
    label: &str,
    tally: &Tally,
    target: &str,
) -> anyhow::Result<()> {
    writeln!(
        report,
        "| {probe} | {label} | {} | {} | {:.2} | {:.2} | {:.2} | {target} |",
        tally.count(),
        tally.failed(),
        millis(tally.quantile(0.5)),
        millis(tally.quantile(0.99)),
        millis(tally.max()),
    )?;
    Ok(())
}

/// Lists the answers of the probes that failed; says whether there were any.
fn write_probe_failures(report: &mut String, label: &str, probes: &Probes) -> anyhow::Result<bool> {
    let mut any = false;
    for (service, tally) in HEALTH_SERVICES.iter().zip(&probes.health) {
        if tally.failed() > 0 {
            any = true;
            writeln!(
                report,
                "- `Health/Check` \"{service}\", {label}: answers {}",
                tally.answers()
            )?;
        }
    }
    if probes.legit.failed() > 0 {
        any = true;
        writeln!(
            report,
            "- legitimate `ValidateAccess`, {label}: answers {}",
            probes.legit.answers()
        )?;
    }
    Ok(any)
}

fn write_outage(report: &mut String, outage: &Outage) -> anyhow::Result<()> {
    writeln!(report)?;
    writeln!(
        report,
        "#### Postgres taken away for {} s under load, then given back",
        outage::AWAY.as_secs()
    )?;
    writeln!(report)?;
    writeln!(
        report,
        "Times run from the moment no new session could open and the open ones began to be ended (or from a call's start, if later). \"Caught\": calls in flight then or sent before the database was back; \"last success while away\": how long after that moment a call was still answered OK before the database was back. Success after the return is awaited for at most {} s.",
        outage::RECOVERY_BOUND.as_secs()
    )?;
    writeln!(report)?;
    writeln!(
        report,
        "| path | callers | caught | answers | p50 ms | p99 ms | max ms | p99 to UNAVAILABLE/503 ms | DEADLINE_EXCEEDED | INTERNAL | HTTP 408 | no answer | last success while away ms | first success after return ms | last failure after return ms | target: UNAVAILABLE/503 within {:.1} s at p99 |",
        REFUSAL_TARGET.as_secs_f64()
    )?;
    writeln!(
        report,
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    )?;
    let or_none =
        |figure: Option<Duration>| figure.map_or("none".into(), |d| format!("{:.0}", millis(d)));
    for path in &outage.paths {
        let during = &path.during;
        let refusal_p99 = if path.to_refusal.is_empty() {
            "none".into()
        } else {
            format!("{:.1}", millis(quantile(&path.to_refusal, 0.99)))
        };
        let share = path.prompt_share();
        writeln!(
            report,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {refusal_p99} | {} | {} | {} | {} | {} | {} | {} | {:.1}% answered UNAVAILABLE, 503 or a success within it: {} |",
            path.name,
            path.callers,
            during.count(),
            during.answers(),
            millis(during.quantile(0.5)),
            millis(during.quantile(0.99)),
            millis(during.max()),
            during.of(Answer::Grpc("DEADLINE_EXCEEDED")),
            during.of(Answer::Grpc("INTERNAL")),
            during.of(Answer::Http(408)),
            during.of(Answer::Unanswered),
            or_none(path.last_success_away),
            or_none(path.first_success),
            or_none(path.last_failure),
            share * 100.0,
            verdict(during.count() > 0 && share >= 0.99),
        )?;
    }
    writeln!(report)?;
    for path in &outage.paths {
        writeln!(
            report,
            "- {}: {} calls before the outage, {} failed ({})",
            path.name,
            path.before.count(),
            path.before.failed(),
            path.before.answers()
        )?;
    }
    Ok(())
}

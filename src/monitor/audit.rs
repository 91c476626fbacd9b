//! The audit of a dataset over a period (`dq-check audit`, docs/audit.md): every run with its
//! suite, the reconciliation of rows in against what the tables' commits hold, each
//! expectation's pass rate and trend, the quarantine's fate, the suite versions in force and
//! the alerts fired. Built from the run log, the tables' Delta commit history, the quarantine's
//! rows and the alert state; never from data values, so no `pii` value can reach it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::log::{LogRow, read_log};
pub use super::reconcile::{AuditRun, Totals};
use super::reconcile::{read_commits, reconcile};
pub use super::suite_versions::{SuiteVersion, VersionChanges};
use crate::error::{Error, Result};
use crate::gate::tables::open_existing;

/// Which tables make a dataset.
#[derive(Debug, Clone)]
pub struct DatasetTables {
    /// The shared table.
    pub target: String,
    /// Its quarantine.
    pub quarantine: String,
    /// Its run log.
    pub runs: String,
    /// Its alert state (`<target>_dq_alerts` unless a suite says otherwise).
    pub alerts: String,
}

/// The audit: one or more datasets over a period.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// Format version.
    pub dq_audit: u32,
    /// The period's first day (inclusive), if bounded.
    pub from: Option<NaiveDate>,
    /// The period's last day (inclusive), if bounded.
    pub to: Option<NaiveDate>,
    /// When the audit was made.
    pub generated_at: DateTime<Utc>,
    /// One per target.
    pub datasets: Vec<Dataset>,
}

/// One target over the period.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    /// The tables.
    pub target: String,
    /// The quarantine.
    pub quarantine: String,
    /// The run log.
    pub runs: String,
    /// The tables' Delta versions when the audit was made.
    pub versions: Versions,
    /// Their versions at the period's end: the last each table committed by then (what a
    /// reader then saw; `None` before its first commit).
    pub versions_at_end: Versions,
    /// The last version of each table written by a run dated on or before the period's end
    /// (by the runs' `as_of`, so backfilled runs count on their dates).
    pub versions_of_runs: Versions,
    /// Every run and release of the period, by clock.
    pub run_list: Vec<AuditRun>,
    /// The sums over the period.
    pub totals: Totals,
    /// Each expectation over the period.
    pub expectations: Vec<ExpectationAudit>,
    /// What became of the rows the period's runs quarantined.
    pub quarantine_rows: QuarantineFate,
    /// The suite versions that judged the period's runs.
    pub suite_versions: Vec<SuiteVersion>,
    /// Alert transitions within the period.
    pub alerts: Vec<AlertFired>,
    /// The suite's SLOs at the period's end (the end of `to`, else when the audit was made),
    /// when a suite was given.
    pub slos: Vec<super::slo::SloStatus>,
}

/// Delta versions of the three tables.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    /// Target.
    pub target: Option<i64>,
    /// Quarantine.
    pub quarantine: Option<i64>,
    /// Run log.
    pub runs: Option<i64>,
}

/// One expectation over the period.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationAudit {
    /// The suite.
    pub suite: String,
    /// The expectation.
    pub id: String,
    /// Its kind.
    pub expect: String,
    /// Batches that evaluated it.
    pub batches: u64,
    /// Batches where it failed.
    pub failed_batches: u64,
    /// Rows evaluated (row-level kinds).
    pub evaluated: u64,
    /// Rows that failed (row-level kinds).
    pub failed: u64,
    /// Passing rows over evaluated rows (row-level), or passing batches over batches.
    pub pass_rate: Option<f64>,
    /// The pass rate per day of the period (by `as_of`).
    pub trend: Vec<(NaiveDate, f64)>,
    /// Its worst batches: most failing rows (row-level) or failures (aggregates).
    pub worst: Vec<WorstBatch>,
}

/// A batch where an expectation failed most.
#[derive(Debug, Clone, Serialize)]
pub struct WorstBatch {
    /// Its run.
    pub run_id: String,
    /// The batch.
    pub batch: i64,
    /// Failing rows (0 for an aggregate).
    pub failed: u64,
    /// Rows evaluated.
    pub evaluated: u64,
    /// The observed metric, for an aggregate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

/// What became of the rows the period's runs quarantined, as the quarantine holds them now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QuarantineFate {
    /// Rows quarantined by the period's runs.
    pub opened: u64,
    /// Of them, released to the target.
    pub released: u64,
    /// Of them, discarded with a reason.
    pub discarded: u64,
    /// Of them, still open.
    pub open: u64,
    /// The oldest still open was quarantined at.
    pub oldest_open: Option<String>,
    /// Its age when the audit was made, in days.
    pub oldest_open_days: Option<f64>,
}

/// An alert transition.
#[derive(Debug, Clone, Serialize)]
pub struct AlertFired {
    /// The suite.
    pub suite: String,
    /// Its subject.
    pub subject: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The event.
    pub event: String,
    /// The run's clock.
    pub as_of: DateTime<Utc>,
}

fn in_period(t: DateTime<Utc>, from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
    let d = t.date_naive();
    from.is_none_or(|f| d >= f) && to.is_none_or(|e| d <= e)
}

/// Builds the audit of `datasets` over `from..=to` (days by each run's `as_of`); with a
/// `suite`, its SLOs at the period's end for each dataset.
pub async fn audit(
    datasets: &[DatasetTables],
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    suite: Option<&crate::suite::Suite>,
    storage: &HashMap<String, String>,
) -> Result<Audit> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(Error::Usage(format!("--from {f} is after --to {t}")));
    }
    let mut out = Vec::new();
    let end = to
        .and_then(|t| t.succ_opt())
        .and_then(|t| t.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc() - chrono::TimeDelta::microseconds(1))
        .unwrap_or_else(Utc::now);
    for d in datasets {
        let mut ds = dataset(d, from, to, end, storage).await?;
        if let Some(s) = suite.filter(|s| !s.slos.is_empty()) {
            ds.slos = super::status::status(&d.runs, None, None, Some(s), end, storage)
                .await?
                .slos;
        }
        out.push(ds);
    }
    Ok(Audit {
        dq_audit: 1,
        from,
        to,
        generated_at: Utc::now(),
        datasets: out,
    })
}

async fn dataset(
    d: &DatasetTables,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    end: DateTime<Utc>,
    storage: &HashMap<String, String>,
) -> Result<Dataset> {
    let whole = read_log(&d.runs, storage).await?;
    let log: Vec<LogRow> = whole
        .iter()
        .filter(|r| in_period(r.as_of, from, to))
        .cloned()
        .collect();
    let target = read_commits(&d.target, storage).await?;
    let quarantine = read_commits(&d.quarantine, storage).await?;
    let runs = read_commits(&d.runs, storage).await?;
    let (to_target, to_quarantine) = (&target.rows, &quarantine.rows);
    let by_then: std::collections::BTreeSet<&str> = whole
        .iter()
        .filter(|r| r.as_of <= end)
        .map(|r| r.run_id.as_str())
        .collect();
    let at = |f: &dyn Fn(&super::reconcile::TableCommits) -> Option<i64>| Versions {
        target: f(&target),
        quarantine: f(&quarantine),
        runs: f(&runs),
    };
    let versions = at(&|t| t.version);
    let versions_at_end = at(&|t| t.version_at(end));
    let versions_of_runs = at(&|t| t.last_of(by_then.iter().copied()));

    let (run_list, totals) = reconcile(&log, to_target, to_quarantine);

    // Expectations over the runs' batches (releases apart).
    type Key = (String, String);
    let mut by: BTreeMap<Key, Vec<&LogRow>> = BTreeMap::new();
    for r in log.iter().filter(|r| r.kind == "run" && r.batch > 0) {
        if let (Some(id), Some(_)) = (&r.expectation, r.success) {
            by.entry((r.suite.clone(), id.clone())).or_default().push(r);
        }
    }
    let mut expectations = Vec::new();
    for ((suite, id), rows) in by {
        let aggregate = matches!(rows[0].expect.as_deref(), Some("metric" | "freshness"));
        let rate = |rs: &[&LogRow]| -> Option<f64> {
            if aggregate {
                (!rs.is_empty()).then(|| {
                    rs.iter().filter(|r| r.success == Some(true)).count() as f64 / rs.len() as f64
                })
            } else {
                let ev: u64 = rs.iter().map(|r| r.evaluated).sum();
                let f: u64 = rs.iter().map(|r| r.failed).sum();
                (ev > 0).then(|| (ev - f.min(ev)) as f64 / ev as f64)
            }
        };
        let mut days: BTreeMap<NaiveDate, Vec<&LogRow>> = BTreeMap::new();
        for r in &rows {
            days.entry(r.as_of.date_naive()).or_default().push(r);
        }
        let trend = days
            .into_iter()
            .filter_map(|(d, rs)| rate(&rs).map(|p| (d, p)))
            .collect();
        let mut worst: Vec<&LogRow> = rows
            .iter()
            .copied()
            .filter(|r| r.success == Some(false))
            .collect();
        worst.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.as_of.cmp(&b.as_of)));
        expectations.push(ExpectationAudit {
            suite,
            id,
            expect: rows[0].expect.clone().unwrap_or_default(),
            batches: rows.len() as u64,
            failed_batches: rows.iter().filter(|r| r.success == Some(false)).count() as u64,
            evaluated: if aggregate {
                0
            } else {
                rows.iter().map(|r| r.evaluated).sum()
            },
            failed: if aggregate {
                0
            } else {
                rows.iter().map(|r| r.failed).sum()
            },
            pass_rate: rate(&rows),
            trend,
            worst: worst
                .into_iter()
                .take(3)
                .map(|r| WorstBatch {
                    run_id: r.run_id.clone(),
                    batch: r.batch,
                    failed: r.failed,
                    evaluated: r.evaluated,
                    observed: aggregate.then(|| r.observed.clone()).flatten(),
                })
                .collect(),
        });
    }

    let suite_versions = super::suite_versions::suite_versions(&whole, |t| in_period(t, from, to));

    let period_runs: Vec<String> = run_list
        .iter()
        .filter(|r| r.kind == "run")
        .map(|r| r.run_id.clone())
        .collect();
    let quarantine_rows = match open_existing(&d.quarantine, storage).await? {
        Some(_) => {
            crate::quarantine::Quarantine::open(&d.quarantine, storage)
                .await?
                .fates(&period_runs)
                .await?
        }
        None => (0, 0, 0, 0, None),
    };
    let oldest_open_days = quarantine_rows
        .4
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(&t.replace(' ', "T")).ok())
        .map(|t| {
            ((Utc::now() - t.with_timezone(&Utc)).num_seconds() as f64 / 86_400.0 * 10.0).round()
                / 10.0
        });
    let quarantine_rows = QuarantineFate {
        opened: quarantine_rows.0,
        released: quarantine_rows.1,
        discarded: quarantine_rows.2,
        open: quarantine_rows.3,
        oldest_open: quarantine_rows.4,
        oldest_open_days,
    };

    let alerts = super::alert_state::read_transitions(&d.alerts, storage)
        .await?
        .into_iter()
        .filter(|a| in_period(a.since, from, to))
        .map(|a| AlertFired {
            suite: a.suite,
            subject: a.subject,
            status: a.status,
            event: a.event,
            as_of: a.since,
        })
        .collect();

    Ok(Dataset {
        target: d.target.clone(),
        quarantine: d.quarantine.clone(),
        runs: d.runs.clone(),
        versions,
        versions_at_end,
        versions_of_runs,
        run_list,
        totals,
        expectations,
        quarantine_rows,
        suite_versions,
        alerts,
        slos: Vec::new(),
    })
}

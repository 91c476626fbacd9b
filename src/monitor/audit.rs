//! The audit of a dataset over a period (`dq-check audit`, docs/audit.md): every run with its
//! suite, the reconciliation of rows in against what the tables' commits hold, each
//! expectation's pass rate and trend, the quarantine's fate, the suite versions in force and
//! the alerts fired. Built from the run log, the tables' Delta commit history, the quarantine's
//! rows and the alert state; never from data values, so no `pii` value can reach it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use serde::Serialize;

use super::log::{LogRow, read_log};
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

/// One run (or release) with its reconciliation.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRun {
    /// The run id.
    pub run_id: String,
    /// `run` or `release`.
    pub kind: String,
    /// Its clock.
    pub as_of: DateTime<Utc>,
    /// Who ran it (as the run recorded it).
    pub actor: Option<String>,
    /// Wall clock at its start.
    pub started_at: Option<DateTime<Utc>>,
    /// Wall clock of its last run-log row.
    pub finished_at: Option<DateTime<Utc>>,
    /// Suite name, version and fingerprint.
    pub suite: String,
    /// Its version.
    pub suite_version: i64,
    /// Its fingerprint (first 12 characters).
    pub suite_fingerprint: String,
    /// Batches the run log records.
    pub batches: u64,
    /// The worst batch outcome (`none` when no batch was recorded).
    pub outcome: String,
    /// Rows in, by the run log.
    pub rows_in: u64,
    /// Rows to the target, by the run log.
    pub rows_to_target: u64,
    /// Rows to quarantine, by the run log.
    pub rows_to_quarantine: u64,
    /// Rows the target's commits of this run hold.
    pub committed_to_target: u64,
    /// Rows the quarantine's commits of this run hold (for a run).
    pub committed_to_quarantine: u64,
    /// The run log and the commits agree, and rows in = to target + to quarantine.
    pub reconciled: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Sums over the period's runs (releases apart).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Runs.
    pub runs: u64,
    /// Rows in.
    pub rows_in: u64,
    /// Rows committed to the target.
    pub rows_to_target: u64,
    /// Rows committed to quarantine.
    pub rows_to_quarantine: u64,
    /// Rows released to the target from quarantine by releases of the period.
    pub rows_released: u64,
    /// Runs that do not reconcile.
    pub unreconciled_runs: u64,
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

/// A suite version in force.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteVersion {
    /// The suite.
    pub suite: String,
    /// Its version.
    pub version: i64,
    /// Its fingerprint (first 12 characters).
    pub fingerprint: String,
    /// The first run under it in the period.
    pub first_as_of: DateTime<Utc>,
    /// The last.
    pub last_as_of: DateTime<Utc>,
    /// Runs under it.
    pub runs: u64,
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
        let mut ds = dataset(d, from, to, storage).await?;
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

/// Rows each run id committed to a table, from its commit history (`dq.rows` of the commits
/// that carry `dq.run_id`, the run-log marker commits apart).
async fn committed_rows(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<(Option<i64>, HashMap<String, u64>)> {
    let Some(table) = open_existing(uri, storage).await? else {
        return Ok((None, HashMap::new()));
    };
    let infos: Vec<_> = table
        .history(None)
        .try_collect()
        .await
        .map_err(|e| Error::table(uri, "read the commit history", e))?;
    let mut rows: HashMap<String, u64> = HashMap::new();
    for info in infos {
        // A run names itself; a release by its id, as the run log does (`release:<id>`).
        let run = match (
            info.info.get("dq.run_id").and_then(|v| v.as_str()),
            info.info.get("dq.release_id").and_then(|v| v.as_str()),
        ) {
            (Some(r), _) => r.to_string(),
            (None, Some(r)) => format!("release:{r}"),
            (None, None) => continue,
        };
        let Some(n) = info.info.get("dq.rows").and_then(|v| v.as_u64()) else {
            continue;
        };
        // A release rewrites quarantine rows in place: not rows committed by a run.
        if info.operation.as_deref() == Some("UPDATE") {
            continue;
        }
        *rows.entry(run).or_default() += n;
    }
    Ok((table.version().map(|v| v as i64), rows))
}

async fn dataset(
    d: &DatasetTables,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    storage: &HashMap<String, String>,
) -> Result<Dataset> {
    let log: Vec<LogRow> = read_log(&d.runs, storage)
        .await?
        .into_iter()
        .filter(|r| in_period(r.as_of, from, to))
        .collect();
    let (tv, to_target) = committed_rows(&d.target, storage).await?;
    let (qv, to_quarantine) = committed_rows(&d.quarantine, storage).await?;
    let runs_version = match open_existing(&d.runs, storage).await? {
        Some(t) => t.version().map(|v| v as i64),
        None => None,
    };

    // Runs: their start row and their batches (one row per expectation: a batch once).
    let mut runs: BTreeMap<(DateTime<Utc>, String), Vec<&LogRow>> = BTreeMap::new();
    for r in &log {
        runs.entry((r.as_of, r.run_id.clone())).or_default().push(r);
    }
    let rank = |o: &str| match o {
        "failed" => 4,
        "batch_quarantined" => 3,
        "rows_quarantined" => 2,
        "passed" => 1,
        _ => 0,
    };
    let mut run_list = Vec::new();
    let mut totals = Totals::default();
    for ((as_of, run_id), rows) in &runs {
        let first = rows[0];
        let batches: BTreeMap<i64, &LogRow> = rows
            .iter()
            .filter(|r| r.batch > 0)
            .map(|r| (r.batch, *r))
            .collect();
        let sum = |f: &dyn Fn(&LogRow) -> u64| batches.values().map(|r| f(r)).sum::<u64>();
        let (rows_in, passed, quarantined) = (
            sum(&|r| r.rows),
            sum(&|r| r.rows_passed),
            sum(&|r| r.rows_quarantined),
        );
        let outcome = batches
            .values()
            .filter_map(|r| r.outcome.as_deref())
            .max_by_key(|o| rank(o))
            .unwrap_or("none")
            .to_string();
        let ct = to_target.get(run_id).copied().unwrap_or(0);
        let cq = to_quarantine.get(run_id).copied().unwrap_or(0);
        let release = first.kind == "release";
        let (reconciled, note) = if release {
            let ok = ct == passed;
            (
                ok,
                (!ok).then(|| {
                    format!(
                        "the run log says {passed} rows released, the target's commits hold {ct}"
                    )
                }),
            )
        } else if batches.is_empty() {
            (
                false,
                Some(format!(
                    "started and never finished: no batch in the run log; the target's commits \
                     hold {ct} rows of it, the quarantine's {cq}"
                )),
            )
        } else if outcome == "failed" {
            // A `fail` stops the run: its batch goes nowhere, by design.
            let ok = ct
                + cq
                + batches
                    .values()
                    .filter(|r| r.outcome.as_deref() == Some("failed"))
                    .map(|r| r.rows)
                    .sum::<u64>()
                == rows_in;
            (
                ok,
                (!ok).then(|| "rows in differ from rows committed".to_string()),
            )
        } else {
            let ok = ct == passed && cq == quarantined && passed + quarantined == rows_in;
            (
                ok,
                (!ok).then(|| {
                    format!(
                        "rows in {rows_in}; the run log says {passed} to the target and \
                         {quarantined} to quarantine; the commits hold {ct} and {cq}"
                    )
                }),
            )
        };
        if release {
            totals.rows_released += passed;
        } else {
            totals.runs += 1;
            totals.rows_in += rows_in;
            totals.rows_to_target += ct;
            totals.rows_to_quarantine += cq;
        }
        totals.unreconciled_runs += u64::from(!reconciled);
        let actor = rows
            .iter()
            .filter(|r| r.batch == 0 && r.expectation.is_none())
            .filter_map(|r| r.input.as_deref())
            .filter_map(|i| serde_json::from_str::<serde_json::Value>(i).ok())
            .find_map(|v| v.get("actor").and_then(|a| a.as_str()).map(String::from));
        run_list.push(AuditRun {
            run_id: run_id.clone(),
            kind: first.kind.clone(),
            actor,
            as_of: *as_of,
            started_at: rows.iter().filter_map(|r| r.started_at).min(),
            finished_at: rows.iter().filter_map(|r| r.logged_at).max(),
            suite: first.suite.clone(),
            suite_version: first.suite_version,
            suite_fingerprint: first.suite_fingerprint.chars().take(12).collect(),
            batches: batches.len() as u64,
            outcome,
            rows_in,
            rows_to_target: passed,
            rows_to_quarantine: quarantined,
            committed_to_target: ct,
            committed_to_quarantine: cq,
            reconciled,
            note,
        });
    }

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

    // Suite versions in force.
    let mut versions: BTreeMap<(String, i64, String), SuiteVersion> = BTreeMap::new();
    for r in run_list.iter().filter(|r| r.kind == "run") {
        let v = versions
            .entry((
                r.suite.clone(),
                r.suite_version,
                r.suite_fingerprint.clone(),
            ))
            .or_insert_with(|| SuiteVersion {
                suite: r.suite.clone(),
                version: r.suite_version,
                fingerprint: r.suite_fingerprint.clone(),
                first_as_of: r.as_of,
                last_as_of: r.as_of,
                runs: 0,
            });
        v.first_as_of = v.first_as_of.min(r.as_of);
        v.last_as_of = v.last_as_of.max(r.as_of);
        v.runs += 1;
    }
    let mut suite_versions: Vec<SuiteVersion> = versions.into_values().collect();
    suite_versions.sort_by_key(|v| v.first_as_of);

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
        versions: Versions {
            target: tv,
            quarantine: qv,
            runs: runs_version,
        },
        run_list,
        totals,
        expectations,
        quarantine_rows,
        suite_versions,
        alerts,
        slos: Vec::new(),
    })
}

//! The status of a target: its objectives, the last run of each suite, the expectations failing
//! in their newest batch, and the quarantine's open rows (`dq-check status`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::log::{LogRow, read_log};
use super::slo::{BatchRecord, SloState, SloStatus, evaluate};
use crate::error::Result;
use crate::gate::tables::open_existing;
use crate::quarantine::Quarantine;
use crate::suite::Suite;

/// The last run of a suite.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LastRun {
    /// The suite.
    pub suite: String,
    /// Its version in that run.
    pub suite_version: i64,
    /// The run.
    pub run_id: String,
    /// Its clock.
    pub as_of: DateTime<Utc>,
    /// Batches.
    pub batches: u64,
    /// Rows in.
    pub rows: u64,
    /// Rows to the target.
    pub rows_passed: u64,
    /// Rows to quarantine.
    pub rows_quarantined: u64,
    /// The worst batch outcome: `passed`, `rows_quarantined`, `batch_quarantined`, `failed`.
    pub outcome: String,
}

/// An expectation that failed in the newest batch that evaluated it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failing {
    /// The suite.
    pub suite: String,
    /// The expectation.
    pub expectation: String,
    /// Its kind.
    pub expect: String,
    /// Its `on_fail` in that batch (`warn` for a history check not judged yet).
    pub on_fail: String,
    /// That batch's run.
    pub run_id: String,
    /// Its clock.
    pub as_of: DateTime<Utc>,
    /// The metric's value, for an aggregate (as the report showed it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<serde_json::Value>,
    /// Failing rows, for a row-level kind.
    pub failed: u64,
}

/// The quarantine's open rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenQuarantine {
    /// The table.
    pub uri: String,
    /// Rows still open.
    pub open_rows: u64,
    /// When the oldest open row was quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest: Option<String>,
    /// Its age now (quarantine times are wall-clock times, whatever the status's clock), in
    /// seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_age_seconds: Option<i64>,
}

/// A target's status at a clock.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// The clock the objectives are evaluated at.
    pub as_of: DateTime<Utc>,
    /// The run log read.
    pub runs: String,
    /// No objective breached or without data (one at risk is reported, and still healthy),
    /// and no alert firing.
    pub healthy: bool,
    /// The suite's objectives (with `--suite`).
    pub slos: Vec<SloStatus>,
    /// The last run of each suite in the run log.
    pub last_runs: Vec<LastRun>,
    /// Expectations failing in their newest batch.
    pub failing: Vec<Failing>,
    /// The quarantine, when one was given or found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<OpenQuarantine>,
    /// Alerts firing now (their newest transition), from the alert-state table.
    pub alerts_firing: Vec<super::alert_state::AlertState>,
}

/// Reads the run log at `runs` (and the quarantine at `quarantine`, if there is one) and
/// evaluates `suite`'s objectives at `as_of`. Only `suite`'s runs count when one is given.
pub async fn status(
    runs: &str,
    quarantine: Option<&str>,
    alerts: Option<&str>,
    suite: Option<&Suite>,
    as_of: DateTime<Utc>,
    storage: &HashMap<String, String>,
) -> Result<Status> {
    // No run log yet: every objective has no data.
    let rows: Vec<LogRow> = read_log(runs, storage)
        .await?
        .into_iter()
        .filter(|r| {
            r.batch > 0
                && r.kind == "run"
                && suite.is_none_or(|s| r.suite == s.name)
                && r.as_of <= as_of
        })
        .collect();

    // Batches, once each (a batch has a row per expectation).
    let mut batches: BTreeMap<(String, i64), BatchRecord> = BTreeMap::new();
    for r in &rows {
        let b = batches
            .entry((r.run_id.clone(), r.batch))
            .or_insert_with(|| BatchRecord {
                as_of: r.as_of,
                rows: r.rows,
                rows_passed: r.rows_passed,
                outcome: r.outcome.clone().unwrap_or_default(),
                results: Vec::new(),
                newest: Vec::new(),
            });
        if r.expect.as_deref() == Some("freshness")
            && let (Some(id), Some(t)) = (&r.expectation, r.observed.as_deref().and_then(instant))
        {
            b.newest.push((id.clone(), t));
        }
        if let (Some(id), Some(success)) = (&r.expectation, r.success) {
            let aggregate = matches!(r.expect.as_deref(), Some("metric" | "freshness"));
            b.results
                .push((id.clone(), aggregate, success, r.evaluated, r.failed));
        }
    }
    let records: Vec<BatchRecord> = batches.values().cloned().collect();
    let slos: Vec<SloStatus> = suite
        .map(|s| {
            s.slos
                .iter()
                .map(|o| evaluate(o, &records, as_of))
                .collect()
        })
        .unwrap_or_default();

    // The last run of each suite: the run with the newest clock.
    let mut last: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    for r in &rows {
        let e = last
            .entry(r.suite.clone())
            .or_insert((r.as_of, r.run_id.clone()));
        if (r.as_of, &r.run_id) > (e.0, &e.1) {
            *e = (r.as_of, r.run_id.clone());
        }
    }
    let rank = |o: &str| match o {
        "failed" => 3,
        "batch_quarantined" => 2,
        "rows_quarantined" => 1,
        _ => 0,
    };
    let last_runs: Vec<LastRun> = last
        .iter()
        .map(|(suite_name, (when, run_id))| {
            let mine: BTreeMap<i64, &LogRow> = rows
                .iter()
                .filter(|r| &r.suite == suite_name && &r.run_id == run_id)
                .map(|r| (r.batch, r))
                .collect();
            let outcome = mine
                .values()
                .filter_map(|r| r.outcome.as_deref())
                .max_by_key(|o| rank(o))
                .unwrap_or("passed")
                .to_string();
            LastRun {
                suite: suite_name.clone(),
                suite_version: mine.values().next().map_or(0, |r| r.suite_version),
                run_id: run_id.clone(),
                as_of: *when,
                batches: mine.len() as u64,
                rows: mine.values().map(|r| r.rows).sum(),
                rows_passed: mine.values().map(|r| r.rows_passed).sum(),
                rows_quarantined: mine.values().map(|r| r.rows_quarantined).sum(),
                outcome,
            }
        })
        .collect();

    // Each expectation's newest batch: failing there means failing now.
    let mut newest: BTreeMap<(String, String), &LogRow> = BTreeMap::new();
    for r in &rows {
        let Some(id) = &r.expectation else { continue };
        if r.success.is_none() {
            continue;
        }
        let key = (r.suite.clone(), id.clone());
        let keep = newest
            .get(&key)
            .is_none_or(|n| (r.as_of, &r.run_id, r.batch) > (n.as_of, &n.run_id, n.batch));
        if keep {
            newest.insert(key, r);
        }
    }
    let failing: Vec<Failing> = newest
        .into_iter()
        .filter(|(_, r)| r.success == Some(false))
        .map(|((suite, expectation), r)| Failing {
            suite,
            expectation,
            expect: r.expect.clone().unwrap_or_default(),
            on_fail: r.on_fail.clone().unwrap_or_default(),
            run_id: r.run_id.clone(),
            as_of: r.as_of,
            observed: r.observed.as_ref().map(|o| {
                serde_json::from_str(o).unwrap_or_else(|_| serde_json::Value::String(o.clone()))
            }),
            failed: r.failed,
        })
        .collect();

    let quarantine = match quarantine {
        Some(q) if open_existing(q, storage).await?.is_some() => {
            let (open_rows, oldest) = Quarantine::open(q, storage).await?.open_rows().await?;
            let age = oldest
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(&t.replace(' ', "T")).ok())
                .map(|t| (Utc::now() - t.with_timezone(&Utc)).num_seconds());
            Some(OpenQuarantine {
                uri: q.to_string(),
                open_rows,
                oldest,
                oldest_age_seconds: age,
            })
        }
        _ => None,
    };
    let alerts_firing: Vec<super::alert_state::AlertState> = match alerts {
        Some(uri) => super::alert_state::read_alert_states(uri, storage)
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.status == "firing" && suite.is_none_or(|s| a.suite == s.name))
            .collect(),
        None => Vec::new(),
    };
    let healthy = slos
        .iter()
        .all(|s| matches!(s.state, SloState::Ok | SloState::AtRisk))
        && alerts_firing.is_empty();
    Ok(Status {
        as_of,
        runs: runs.to_string(),
        healthy,
        slos,
        last_runs,
        failing,
        quarantine,
        alerts_firing,
    })
}

/// A newest value as the run log shows it: an RFC 3339 timestamp or a date (midnight UTC). A
/// masked value of a `pii` column is neither.
fn instant(observed: &str) -> Option<DateTime<Utc>> {
    let text: String = serde_json::from_str(observed).ok()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

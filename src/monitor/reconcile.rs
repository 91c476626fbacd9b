//! Reconciling a period's runs: what the run log says each run took in and sent where,
//! against the rows the tables' commits hold for it (docs/audit.md#sections).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::log::LogRow;
use crate::error::{Error, Result};
use crate::gate::tables::open_existing;

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

/// What a table's commit log says about the runs that wrote it.
#[derive(Debug, Default)]
pub(crate) struct TableCommits {
    /// Its version now (`None`: no table).
    pub version: Option<i64>,
    /// Rows each run id committed (`dq.rows` of the commits that carry `dq.run_id`; a
    /// release's as `release:<id>`, as the run log names it).
    pub rows: HashMap<String, u64>,
    /// The last version each run id committed.
    pub last_version: HashMap<String, i64>,
    /// Each version with its commit time (ms since the epoch), oldest first.
    pub times: Vec<(i64, i64)>,
}

impl TableCommits {
    /// The last version committed at or before `t`: what a reader at `t` saw.
    pub(crate) fn version_at(&self, t: DateTime<Utc>) -> Option<i64> {
        let ms = t.timestamp_millis();
        self.times
            .iter()
            .filter(|(_, at)| *at <= ms)
            .map(|(v, _)| *v)
            .max()
    }

    /// The last version committed by any of `runs`.
    pub(crate) fn last_of<'a>(&self, runs: impl Iterator<Item = &'a str>) -> Option<i64> {
        runs.filter_map(|r| self.last_version.get(r).copied()).max()
    }
}

/// Reads every commit of the table at `uri` (the commit files one by one, so each is known by
/// its version; versions whose file the log's clean-up removed are skipped).
pub(crate) async fn read_commits(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<TableCommits> {
    let Some(table) = open_existing(uri, storage).await? else {
        return Ok(TableCommits::default());
    };
    let Some(now) = table.version() else {
        return Ok(TableCommits::default());
    };
    let store = table.log_store();
    let entries: Vec<(u64, Option<_>)> = futures::stream::iter(0..=now)
        .map(|v| {
            let store = store.clone();
            async move { store.read_commit_entry(v).await.map(|b| (v, b)) }
        })
        .buffered(16)
        .try_collect()
        .await
        .map_err(|e| Error::table(uri, "read the commit log", e))?;
    let mut out = TableCommits {
        version: Some(now as i64),
        ..Default::default()
    };
    for (v, bytes) in entries {
        let v = v as i64;
        let Some(bytes) = bytes else { continue };
        let info = bytes
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
            .find_map(|a| a.get("commitInfo").cloned());
        let Some(info) = info else { continue };
        if let Some(t) = info
            .get("inCommitTimestamp")
            .or_else(|| info.get("timestamp"))
            .and_then(|t| t.as_i64())
        {
            out.times.push((v, t));
        }
        // A commit of staged runs names each with its rows.
        if let Some(runs) = info.get("dq.runs").and_then(|r| r.as_object()) {
            for (run, n) in runs {
                out.last_version.insert(run.clone(), v);
                *out.rows.entry(run.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
            continue;
        }
        // A run names itself; a release by its id, as the run log does (`release:<id>`).
        let run = match (
            info.get("dq.run_id").and_then(|v| v.as_str()),
            info.get("dq.release_id").and_then(|v| v.as_str()),
        ) {
            (Some(r), _) => r.to_string(),
            (None, Some(r)) => format!("release:{r}"),
            (None, None) => continue,
        };
        let last = out.last_version.entry(run.clone()).or_insert(v);
        *last = (*last).max(v);
        let Some(n) = info.get("dq.rows").and_then(|v| v.as_u64()) else {
            continue;
        };
        // A release rewrites quarantine rows in place: not rows committed by a run.
        if info.get("operation").and_then(|o| o.as_str()) == Some("UPDATE") {
            continue;
        }
        *out.rows.entry(run).or_default() += n;
    }
    Ok(out)
}

/// The runs of `log` (by clock), each reconciled against the rows its commits hold, and the
/// period's totals.
pub(crate) fn reconcile(
    log: &[LogRow],
    to_target: &HashMap<String, u64>,
    to_quarantine: &HashMap<String, u64>,
) -> (Vec<AuditRun>, Totals) {
    // Runs: their start row and their batches (one row per expectation: a batch once).
    let mut runs: BTreeMap<(DateTime<Utc>, String), Vec<&LogRow>> = BTreeMap::new();
    for r in log {
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

    (run_list, totals)
}

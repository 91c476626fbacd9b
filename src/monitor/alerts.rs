//! Alerts after a run (docs/monitoring.md#alerts): what a run shows about each subject (an
//! expectation, the quarantine, an SLO), compared with the alert state kept in a Delta table
//! beside the run log; a change of state is recorded, exactly once across concurrent writers,
//! and then delivered to the suite's sinks.
//!
//! ```text
//!  report + SLOs ─▶ observations (subject, firing?) ─▶ vs state: a transition?
//!      ─▶ commit the transition row with txn("alert:<suite>:<subject>", seq)   (one winner)
//!      ─▶ the winner delivers (retries with backoff) ─▶ commit a delivery row
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::alert_state::{read_states, state_schema};
use super::deliver::deliver;
use super::slo::SloState;
use crate::error::Result;
use crate::gate::encoding::FileOptions;
use crate::gate::sink::TableSink;
use crate::gate::tables::{check_compatible, open_or_create, table_schema};
use crate::report::{AlertOutcome, Report};
use crate::suite::{AlertEvent, Alerts, Suite};
use crate::{Codec, DEFAULT_TARGET_FILE_SIZE};

/// What a run shows about one subject.
#[derive(Debug, Clone)]
struct Observation {
    subject: String,
    event: AlertEvent,
    firing: bool,
    text: String,
    detail: Value,
}

/// Where the alert state lives and what a run reports to.
#[derive(Debug, Clone)]
pub struct AlertTables {
    /// The target (named in alerts).
    pub target: String,
    /// The run log (for the SLOs).
    pub runs: String,
    /// The quarantine (named in remediation hints).
    pub quarantine: String,
    /// Object-store options.
    pub storage: HashMap<String, String>,
}

/// The alert-state table of a target: `alerts.table`, else `<target>_dq_alerts`.
pub fn state_table(alerts: &Alerts, target: &str) -> String {
    alerts
        .table
        .clone()
        .unwrap_or_else(|| format!("{}_dq_alerts", target.trim_end_matches('/')))
}

/// Raises the alerts a finished run calls for. Never fails the run: problems with the state
/// table come back as an error for the caller to print, delivery problems in the outcomes.
pub async fn after_run(
    suite: &Suite,
    report: &Report,
    t: &AlertTables,
) -> Result<Vec<AlertOutcome>> {
    let Some(alerts) = &suite.alerts else {
        return Ok(Vec::new());
    };
    let as_of: DateTime<Utc> = report.as_of.parse().unwrap_or_else(|_| Utc::now());
    let mut seen = observe_report(suite, alerts, report, t);
    if alerts.events.contains(&AlertEvent::Slo) && !suite.slos.is_empty() {
        let st = super::status::status(&t.runs, None, None, Some(suite), as_of, &t.storage).await?;
        for o in st.slos {
            let firing = o.state != SloState::Ok;
            let state = serde_json::to_value(o.state).unwrap_or_default();
            let text = format!(
                "{}: SLO {} ({}) is {} at {}: attained {}, objective {}",
                suite.name,
                o.id,
                o.kind,
                state.as_str().unwrap_or_default().replace('_', " "),
                as_of.to_rfc3339(),
                o.attainment
                    .map_or("-".into(), |a| format!("{:.3}%", a * 100.0)),
                format_args!("{:.3}%", o.objective * 100.0),
            );
            seen.push(Observation {
                subject: format!("slo:{}", o.id),
                event: AlertEvent::Slo,
                firing,
                text,
                detail: serde_json::to_value(&o).unwrap_or_default(),
            });
        }
    }
    if alerts.events.contains(&AlertEvent::SchemaDrift)
        && let Some(o) = drift(suite, report, t, as_of).await?
    {
        seen.push(o);
    }
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let uri = state_table(alerts, &t.target);
    let schema = state_schema();
    let table = open_or_create(&uri, &t.storage, &schema, "dq_alerts", &[]).await?;
    check_compatible(&uri, &schema, &*table_schema(&table, &uri)?)?;
    let states = read_states(&table, &uri, &suite.name).await?;
    let mut out = Vec::new();
    for o in seen {
        let st = states.get(&o.subject).cloned().unwrap_or_default();
        if o.firing == st.firing {
            continue;
        }
        let seq = st.seq + 1;
        let suppressed = if o.firing {
            st.last_delivered_firing
                .is_some_and(|t| as_of - t < TimeDelta::seconds(alerts.suppress))
        } else {
            !st.heard_firing
        };
        let status = if o.firing { "firing" } else { "resolved" };
        let row = Row {
            suite: &suite.name,
            subject: &o.subject,
            event: event_name(o.event, &o.detail),
            status,
            seq,
            kind: "transition",
            run_id: &report.run_id,
            as_of,
            delivered: None,
            suppressed: Some(suppressed),
            deliveries: None,
            text: &o.text,
        };
        let app = format!("alert:{}:{}", suite.name, o.subject);
        let mut sink = TableSink::new(&uri, table.clone(), schema.clone(), &app, files()).await?;
        if sink.has(seq) {
            out.push(outcome(&o, status, false, suppressed, true, Vec::new()));
            continue;
        }
        sink.write(row.batch(&schema)?).await?;
        if sink.commit(seq, HashMap::new()).await?.is_none() {
            // Another process recorded this transition first: it delivers.
            out.push(outcome(&o, status, false, suppressed, true, Vec::new()));
            continue;
        }
        if suppressed {
            out.push(outcome(&o, status, false, true, false, Vec::new()));
            continue;
        }
        let payload = payload(suite, report, t, &o, status, seq, as_of);
        let errors = deliver(&alerts.sinks, alerts.attempts, &payload).await;
        let delivered = errors.is_empty();
        let record = Row {
            kind: "delivery",
            delivered: Some(delivered),
            deliveries: Some(json!(errors).to_string()),
            ..row
        };
        let app = format!("alert-delivery:{}:{}", suite.name, o.subject);
        let mut sink = TableSink::new(&uri, table.clone(), schema.clone(), &app, files()).await?;
        sink.write(record.batch(&schema)?).await?;
        sink.commit(seq, HashMap::new()).await?;
        out.push(outcome(&o, status, delivered, false, false, errors));
    }
    Ok(out)
}

fn files() -> FileOptions {
    FileOptions {
        target_size: DEFAULT_TARGET_FILE_SIZE,
        codec: Codec::Snappy,
        commit_attempts: crate::gate::encoding::DEFAULT_COMMIT_ATTEMPTS,
        commit_backoff_ms: crate::gate::encoding::DEFAULT_COMMIT_BACKOFF_MS,
        staged: false,
    }
}

fn outcome(
    o: &Observation,
    status: &str,
    delivered: bool,
    suppressed: bool,
    duplicate: bool,
    errors: Vec<String>,
) -> AlertOutcome {
    AlertOutcome {
        subject: o.subject.clone(),
        status: status.to_string(),
        delivered,
        suppressed,
        duplicate,
        errors,
    }
}

fn event_name(e: AlertEvent, detail: &Value) -> &'static str {
    match e {
        AlertEvent::ExpectationFailed => "expectation_failed",
        AlertEvent::Anomaly => "anomaly",
        AlertEvent::RowsQuarantined => "rows_quarantined",
        AlertEvent::SchemaDrift => "schema_drift",
        AlertEvent::Slo => match detail["state"].as_str() {
            Some("at_risk") => "slo_at_risk",
            Some("no_data") => "slo_no_data",
            _ => "slo_breached",
        },
    }
}

/// What the report shows about each expectation and the quarantine. An expectation counts
/// when it was evaluated: firing if it failed at an alerting level in any batch (an anomaly if
/// a history check judged it), resolved if it passed in every batch. A history check not
/// judged yet says nothing either way.
fn observe_report(
    suite: &Suite,
    alerts: &Alerts,
    report: &Report,
    t: &AlertTables,
) -> Vec<Observation> {
    let mut out = Vec::new();
    let levels: Vec<&str> = alerts.levels.iter().map(|l| l.as_str()).collect();
    let mut ids: Vec<&str> = Vec::new();
    for b in &report.batches {
        for e in &b.expectations {
            if !ids.contains(&e.id.as_str()) {
                ids.push(&e.id);
            }
        }
    }
    for id in ids {
        let results: Vec<_> = report
            .batches
            .iter()
            .filter_map(|b| b.expectations.iter().find(|e| e.id == id).map(|e| (b, e)))
            .collect();
        let judged =
            |e: &crate::report::ExpectationResult| e.history.as_ref().is_none_or(|h| h.judged);
        let anomaly = results
            .iter()
            .find(|(_, e)| !e.success && e.history.as_ref().is_some_and(|h| h.judged));
        let failed = results
            .iter()
            .find(|(_, e)| !e.success && judged(e) && levels.contains(&e.on_fail.as_str()));
        let all_passed = results.iter().all(|(_, e)| e.success);
        let (event, firing, hit) = match (anomaly, failed) {
            (Some(hit), _) if alerts.events.contains(&AlertEvent::Anomaly) => {
                (AlertEvent::Anomaly, true, Some(hit))
            }
            (_, Some(hit)) if alerts.events.contains(&AlertEvent::ExpectationFailed) => {
                (AlertEvent::ExpectationFailed, true, Some(hit))
            }
            _ if all_passed => (AlertEvent::ExpectationFailed, false, None),
            _ => continue,
        };
        let text = match hit {
            Some((b, e)) => {
                let what = match (&e.observed, e.failed) {
                    (Some(o), _) => format!("observed {o}"),
                    (None, f) => format!("{f} of {} rows failed", e.evaluated),
                };
                format!(
                    "{}: {} `{id}` ({}, on_fail {}) failed in batch {} of run {}: {what}{}. \
                     Quarantined rows: dq-check quarantine ls --quarantine {} --run-id {}",
                    suite.name,
                    if event == AlertEvent::Anomaly {
                        "anomaly:"
                    } else {
                        "expectation"
                    },
                    e.expect,
                    e.on_fail,
                    b.batch,
                    report.run_id,
                    e.message
                        .as_ref()
                        .map_or(String::new(), |m| format!(" ({m})")),
                    t.quarantine,
                    report.run_id
                )
            }
            None => format!(
                "{}: `{id}` passed in every batch of run {}: resolved",
                suite.name, report.run_id
            ),
        };
        let detail = hit.map_or(json!({"expectation": id}), |(b, e)| {
            json!({
                "expectation": id,
                "expect": e.expect,
                "on_fail": e.on_fail,
                "batch": b.batch,
                "input": b.input,
                "evaluated": e.evaluated,
                "failed": e.failed,
                "observed": e.observed,
                "message": e.message,
                "history": e.history,
            })
        });
        out.push(Observation {
            subject: format!("expectation:{id}"),
            event,
            firing,
            text,
            detail,
        });
    }
    if alerts.events.contains(&AlertEvent::RowsQuarantined) {
        let q = report.summary.rows_quarantined;
        out.push(Observation {
            subject: "quarantine".into(),
            event: AlertEvent::RowsQuarantined,
            firing: q > 0,
            text: if q > 0 {
                format!(
                    "{}: run {} quarantined {q} of {} rows. Look: dq-check quarantine ls \
                     --quarantine {} --run-id {}",
                    suite.name, report.run_id, report.summary.rows, t.quarantine, report.run_id
                )
            } else {
                format!(
                    "{}: run {} quarantined no rows: resolved",
                    suite.name, report.run_id
                )
            },
            detail: json!({"rows": report.summary.rows, "rows_quarantined": q}),
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn payload(
    suite: &Suite,
    report: &Report,
    t: &AlertTables,
    o: &Observation,
    status: &str,
    seq: i64,
    as_of: DateTime<Utc>,
) -> Value {
    let mark = if status == "firing" {
        "FIRING"
    } else {
        "RESOLVED"
    };
    json!({
        "dq_alert": 1,
        "status": status,
        "event": event_name(o.event, &o.detail),
        "subject": o.subject,
        "key": format!("{}/{}", suite.name, o.subject),
        "seq": seq,
        "suite": {"name": suite.name, "version": suite.version},
        "owner": suite.owner,
        "target": t.target,
        "run_id": report.run_id,
        "as_of": as_of.to_rfc3339(),
        "text": format!("[{mark}] {}", o.text),
        "detail": o.detail,
    })
}

struct Row<'a> {
    suite: &'a str,
    subject: &'a str,
    event: &'a str,
    status: &'a str,
    seq: i64,
    kind: &'a str,
    run_id: &'a str,
    as_of: DateTime<Utc>,
    delivered: Option<bool>,
    suppressed: Option<bool>,
    deliveries: Option<String>,
    text: &'a str,
}

impl Row<'_> {
    fn batch(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        let s = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v])) };
        let ts = |t: DateTime<Utc>| -> ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from(vec![t.timestamp_micros()]).with_timezone("UTC"),
            )
        };
        let columns: Vec<ArrayRef> = vec![
            s(self.suite),
            s(self.subject),
            s(self.event),
            s(self.status),
            Arc::new(Int64Array::from(vec![self.seq])),
            s(self.kind),
            s(self.run_id),
            ts(self.as_of),
            ts(Utc::now()),
            Arc::new(BooleanArray::from(vec![self.delivered])),
            Arc::new(BooleanArray::from(vec![self.suppressed])),
            Arc::new(StringArray::from(vec![self.deliveries.clone()])),
            s(self.text),
        ];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// Schema drift: the input's columns and types against the newest earlier run's (and each
/// batch against the one before it). `None` when there is nothing to compare.
async fn drift(
    suite: &Suite,
    report: &Report,
    t: &AlertTables,
    as_of: DateTime<Utc>,
) -> Result<Option<Observation>> {
    let mine: Vec<&str> = report
        .batches
        .iter()
        .filter_map(|b| b.input_columns.as_deref())
        .collect();
    let Some(first) = mine.first() else {
        return Ok(None);
    };
    let before = crate::gate::history::last_input_columns(
        &t.runs,
        &t.storage,
        &suite.name,
        &report.run_id,
        as_of,
    )
    .await?;
    let mut previous = before.as_deref();
    let mut change = None;
    for cols in std::iter::once(*first).chain(mine.iter().copied().skip(1)) {
        if let Some(p) = previous
            && p != cols
            && change.is_none()
        {
            change = Some((p.to_string(), cols.to_string()));
        }
        previous = Some(cols);
    }
    if before.is_none() && change.is_none() {
        return Ok(None);
    }
    Ok(Some(match change {
        Some((was, now)) => {
            let diff = column_diff(&was, &now);
            Observation {
                subject: "schema".into(),
                event: AlertEvent::SchemaDrift,
                firing: true,
                text: format!(
                    "{}: the input of run {} differs from the run before: {diff}",
                    suite.name, report.run_id
                ),
                detail: json!({"before": was, "now": now, "change": diff}),
            }
        }
        None => Observation {
            subject: "schema".into(),
            event: AlertEvent::SchemaDrift,
            firing: false,
            text: format!(
                "{}: the input of run {} has the columns of the run before: resolved",
                suite.name, report.run_id
            ),
            detail: json!({"now": first}),
        },
    }))
}

/// `added c (float64); removed b; b: int64 -> string`.
fn column_diff(was: &str, now: &str) -> String {
    let parse = |s: &str| -> Vec<(String, String)> {
        s.split(", ")
            .filter_map(|c| c.rsplit_once(' '))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    };
    let (a, b) = (parse(was), parse(now));
    let mut parts = Vec::new();
    for (n, ty) in &b {
        match a.iter().find(|(m, _)| m == n) {
            None => parts.push(format!("added {n} ({ty})")),
            Some((_, old)) if old != ty => parts.push(format!("{n}: {old} -> {ty}")),
            Some(_) => {}
        }
    }
    for (n, _) in &a {
        if !b.iter().any(|(m, _)| m == n) {
            parts.push(format!("removed {n}"));
        }
    }
    if parts.is_empty() {
        parts.push("the columns are in another order".into());
    }
    parts.join("; ")
}

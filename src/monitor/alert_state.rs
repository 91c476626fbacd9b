//! The alert-state table (`<target>_dq_alerts`): its schema and what it says about each
//! subject (docs/monitoring.md#alerts).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};

/// The state of a subject: its newest transition, and when a firing was last delivered.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub(crate) seq: i64,
    pub(crate) firing: bool,
    pub(crate) last_delivered_firing: Option<DateTime<Utc>>,
    /// Whether the newest delivered notice of the subject was a firing (a recovery is sent
    /// only to those who heard of the trouble).
    pub(crate) heard_firing: bool,
}

/// The table's columns.
pub(crate) fn state_schema() -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        s("suite"),
        s("subject"),
        s("event"),
        s("status"),
        Field::new("seq", DataType::Int64, true),
        s("kind"),
        s("run_id"),
        Field::new("as_of", ts(), true),
        Field::new("logged_at", ts(), true),
        Field::new("delivered", DataType::Boolean, true),
        Field::new("suppressed", DataType::Boolean, true),
        s("deliveries"),
        s("text"),
    ]))
}

/// A subject's alert state, as read from the state table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertState {
    /// The suite.
    pub suite: String,
    /// The subject.
    pub subject: String,
    /// Its newest event.
    pub event: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Since this run's clock.
    pub since: DateTime<Utc>,
    /// That run.
    pub run_id: String,
}

/// Every transition in the alert-state table at `uri`, oldest first (none without a table).
pub(crate) async fn read_transitions(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<Vec<AlertState>> {
    let Some(table) = crate::gate::tables::open_existing(uri, storage).await? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<AlertState> = read_rows(&table, uri, None)
        .await?
        .into_iter()
        .filter(|r| r.kind == "transition")
        .map(|r| AlertState {
            suite: r.suite,
            subject: r.subject,
            event: r.event,
            status: r.status,
            since: r.as_of,
            run_id: r.run_id,
        })
        .collect();
    out.sort_by(|a, b| (a.since, &a.subject).cmp(&(b.since, &b.subject)));
    Ok(out)
}

/// Every subject's newest transition in the alert-state table at `uri` (`None`: no table).
pub async fn read_alert_states(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<Option<Vec<AlertState>>> {
    let Some(table) = crate::gate::tables::open_existing(uri, storage).await? else {
        return Ok(None);
    };
    let rows = read_rows(&table, uri, None).await?;
    let mut newest: HashMap<(String, String), AlertState> = HashMap::new();
    let mut seqs: HashMap<(String, String), i64> = HashMap::new();
    for r in rows.into_iter().filter(|r| r.kind == "transition") {
        let key = (r.suite.clone(), r.subject.clone());
        if seqs.get(&key).is_none_or(|s| r.seq > *s) {
            seqs.insert(key.clone(), r.seq);
            newest.insert(
                key,
                AlertState {
                    suite: r.suite,
                    subject: r.subject,
                    event: r.event,
                    status: r.status,
                    since: r.as_of,
                    run_id: r.run_id,
                },
            );
        }
    }
    let mut out: Vec<AlertState> = newest.into_values().collect();
    out.sort_by(|a, b| (&a.suite, &a.subject).cmp(&(&b.suite, &b.subject)));
    Ok(Some(out))
}

struct StateRow {
    suite: String,
    subject: String,
    event: String,
    status: String,
    seq: i64,
    kind: String,
    run_id: String,
    as_of: DateTime<Utc>,
    delivered: Option<bool>,
}

async fn read_rows(
    table: &deltalake::DeltaTable,
    uri: &str,
    suite: Option<&str>,
) -> Result<Vec<StateRow>> {
    let err = |e: &dyn std::fmt::Display| Error::TableSchema {
        table: uri.to_string(),
        reason: format!("cannot read the alert state: {e}"),
    };
    // Suite names were checked to hold no quote.
    let filter = suite.map_or(String::new(), |s| format!(" WHERE suite = '{s}'"));
    let sql = format!(
        "SELECT suite, subject, event, status, seq, kind, run_id, as_of, delivered FROM alerts{filter}"
    );
    let batches = crate::gate::tables::query(table, uri, "alerts", &sql, "the alert state").await?;
    let mut out = Vec::new();
    for b in batches {
        let text: Vec<ArrayRef> = (0..7)
            .map(|i| arrow::compute::cast(b.column(i), &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| err(&e))?;
        let seq = arrow::compute::cast(b.column(4), &DataType::Int64).map_err(|e| err(&e))?;
        let seq = seq.as_primitive::<Int64Type>();
        let ts = arrow::compute::cast(
            b.column(7),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .map_err(|e| err(&e))?;
        let ts = ts.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let delivered = b.column(8).as_boolean_opt().cloned();
        let s = |c: usize, r: usize| {
            let a = text[c].as_string::<i32>();
            if a.is_valid(r) {
                a.value(r).to_string()
            } else {
                String::new()
            }
        };
        for r in 0..b.num_rows() {
            let Some(as_of) = DateTime::from_timestamp_micros(ts.value(r)) else {
                continue;
            };
            out.push(StateRow {
                suite: s(0, r),
                subject: s(1, r),
                event: s(2, r),
                status: s(3, r),
                seq: if seq.is_valid(r) { seq.value(r) } else { 0 },
                kind: s(5, r),
                run_id: s(6, r),
                as_of,
                delivered: delivered
                    .as_ref()
                    .and_then(|d| d.is_valid(r).then(|| d.value(r))),
            });
        }
    }
    Ok(out)
}

pub(crate) async fn read_states(
    table: &deltalake::DeltaTable,
    uri: &str,
    suite: &str,
) -> Result<HashMap<String, State>> {
    let rows = read_rows(table, uri, Some(suite)).await?;
    let mut states: HashMap<String, State> = HashMap::new();
    // Deliveries in order, to know the newest delivered notice per subject.
    let mut delivered: Vec<&StateRow> = rows
        .iter()
        .filter(|r| r.kind == "delivery" && r.delivered == Some(true))
        .collect();
    delivered.sort_by_key(|r| r.seq);
    for r in rows.iter().filter(|r| r.kind == "transition") {
        let st = states.entry(r.subject.clone()).or_default();
        if r.seq > st.seq {
            st.seq = r.seq;
            st.firing = r.status == "firing";
        }
    }
    for r in delivered {
        let st = states.entry(r.subject.clone()).or_default();
        st.heard_firing = r.status == "firing";
        if r.status == "firing" {
            st.last_delivered_firing =
                Some(st.last_delivered_firing.map_or(r.as_of, |t| t.max(r.as_of)));
        }
    }
    Ok(states)
}

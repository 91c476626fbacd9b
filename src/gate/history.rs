//! Metric history read back from the run log: what `history:` checks judge against, and what
//! `dq-check history` prints.

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::history::{History, HistoryPoint};
use crate::suite::{Kind, Suite};

/// One value a metric expectation observed, as the run log holds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricPoint {
    /// The suite.
    pub suite: String,
    /// Its version.
    pub suite_version: i64,
    /// The run.
    pub run_id: String,
    /// The batch within the run.
    pub batch: i64,
    /// The run's clock.
    pub as_of: DateTime<Utc>,
    /// The expectation.
    pub expectation: String,
    /// What it measures (metric, column, `q`, `where`) as a digest; null in rows written
    /// before the run log recorded it.
    pub measure: Option<String>,
    /// The value, as the report showed it (a masked value of a `pii` column stays masked).
    pub observed: serde_json::Value,
    /// Whether the expectation passed.
    pub success: Option<bool>,
}

impl MetricPoint {
    /// The value as a number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match &self.observed {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// Every value metric expectations recorded in the run log `table`, oldest first; `filter` is
/// extra SQL over the run log's columns (built from checked names only).
async fn metric_points(table: &DeltaTable, uri: &str, filter: &str) -> Result<Vec<MetricPoint>> {
    let err = |e: &dyn std::fmt::Display| Error::TableSchema {
        table: uri.to_string(),
        reason: format!("cannot read its metric history: {e}"),
    };
    let sql = format!(
        "SELECT suite, suite_version, run_id, batch, as_of, expectation, measure, observed, success \
         FROM runs WHERE expect = 'metric' AND observed IS NOT NULL \
         AND (run_kind IS NULL OR run_kind = 'run'){filter} \
         ORDER BY as_of, run_id, batch, expectation"
    );
    let batches = super::tables::query(table, uri, "runs", &sql, "its metric history").await?;
    let mut out = Vec::new();
    for b in batches {
        let cast = |i: usize, dt: &DataType| arrow::compute::cast(b.column(i), dt);
        let utf8 = |i: usize| cast(i, &DataType::Utf8).map_err(|e| err(&e));
        let int = |i: usize| cast(i, &DataType::Int64).map_err(|e| err(&e));
        let (suite, version, run, batch) = (utf8(0)?, int(1)?, utf8(2)?, int(3)?);
        let as_of = cast(
            4,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .map_err(|e| err(&e))?;
        let (expectation, measure, observed) = (utf8(5)?, utf8(6)?, utf8(7)?);
        let success = cast(8, &DataType::Boolean).map_err(|e| err(&e))?;
        let s = |a: &arrow::array::ArrayRef, r: usize| {
            (!a.is_null(r)).then(|| a.as_string::<i32>().value(r).to_string())
        };
        let n = |a: &arrow::array::ArrayRef, r: usize| {
            (!a.is_null(r)).then(|| a.as_primitive::<Int64Type>().value(r))
        };
        let ts = as_of.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let ok = success.as_boolean();
        for r in 0..b.num_rows() {
            let Some(when) = (!ts.is_null(r))
                .then(|| DateTime::from_timestamp_micros(ts.value(r)))
                .flatten()
            else {
                continue;
            };
            let text = s(&observed, r).unwrap_or_default();
            out.push(MetricPoint {
                suite: s(&suite, r).unwrap_or_default(),
                suite_version: n(&version, r).unwrap_or_default(),
                run_id: s(&run, r).unwrap_or_default(),
                batch: n(&batch, r).unwrap_or_default(),
                as_of: when,
                expectation: s(&expectation, r).unwrap_or_default(),
                measure: s(&measure, r),
                observed: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                success: (!ok.is_null(r)).then(|| ok.value(r)),
            });
        }
    }
    Ok(out)
}

/// The history a suite's `history:` checks read from the run log: values of the same suite
/// name, expectation id and measure, from runs whose clock is before `as_of`. A backfill
/// judges against the days before it, and a re-run against what its first attempt saw.
pub(crate) async fn read_history(
    table: &DeltaTable,
    uri: &str,
    suite: &Suite,
    run_id: &str,
    as_of: DateTime<Utc>,
) -> Result<History> {
    let checks: Vec<(&str, String)> = suite
        .expectations
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                Kind::Metric {
                    history: Some(_),
                    ..
                }
            )
        })
        .filter_map(|e| Some((e.id.as_str(), e.measure()?)))
        .collect();
    if checks.is_empty() {
        return Ok(History::default());
    }
    // Suite names, expectation ids and run ids were checked to hold no quote.
    let ids: Vec<String> = checks.iter().map(|(id, _)| format!("'{id}'")).collect();
    let filter = format!(
        " AND suite = '{}' AND run_id <> '{run_id}' AND expectation IN ({})",
        suite.name,
        ids.join(", ")
    );
    let mut series: HashMap<String, Vec<HistoryPoint>> = HashMap::new();
    for p in metric_points(table, uri, &filter).await? {
        let Some((_, measure)) = checks.iter().find(|(id, _)| *id == p.expectation) else {
            continue;
        };
        if p.measure.as_deref() != Some(measure.as_str()) || p.as_of >= as_of {
            continue;
        }
        let Some(value) = p.number().filter(|v| v.is_finite()) else {
            continue;
        };
        series
            .entry(p.expectation.clone())
            .or_default()
            .push(HistoryPoint {
                value,
                as_of: p.as_of,
                run_id: p.run_id,
                batch: p.batch.max(0) as u64,
            });
    }
    Ok(History::new(series))
}

/// Every metric value in the run log at `uri`, oldest first, optionally of one expectation.
pub async fn metric_history(
    uri: &str,
    storage: &HashMap<String, String>,
    expectation: Option<&str>,
) -> Result<Vec<MetricPoint>> {
    let Some(table) = super::tables::open_existing(uri, storage).await? else {
        return Err(Error::Usage(format!("{uri}: no run log is there")));
    };
    let filter = match expectation {
        None => String::new(),
        Some(id) if crate::suite::is_expectation_id(id) => format!(" AND expectation = '{id}'"),
        Some(id) => {
            return Err(Error::Usage(format!(
                "expectation id `{id}` must match [a-z0-9_]+"
            )));
        }
    };
    metric_points(&table, uri, &filter).await
}

/// The input columns of the newest batch of an earlier run of `suite` (clock before `as_of`,
/// another run id), from the run log at `uri`.
pub(crate) async fn last_input_columns(
    uri: &str,
    storage: &HashMap<String, String>,
    suite: &str,
    run_id: &str,
    as_of: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some(table) = super::tables::open_existing(uri, storage).await? else {
        return Ok(None);
    };
    let err = |e: &dyn std::fmt::Display| Error::TableSchema {
        table: uri.to_string(),
        reason: format!("cannot read the input columns of earlier runs: {e}"),
    };
    // Suite names and run ids were checked to hold no quote.
    let sql = format!(
        "SELECT input_columns, as_of FROM runs WHERE suite = '{suite}' AND run_id <> '{run_id}' \
         AND input_columns IS NOT NULL AND (run_kind IS NULL OR run_kind = 'run') ORDER BY as_of DESC, run_id DESC, batch DESC"
    );
    let batches = super::tables::query(
        &table,
        uri,
        "runs",
        &sql,
        "the input columns of earlier runs",
    )
    .await?;
    for b in batches {
        let cols = arrow::compute::cast(b.column(0), &DataType::Utf8).map_err(|e| err(&e))?;
        let ts = arrow::compute::cast(
            b.column(1),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .map_err(|e| err(&e))?;
        let ts = ts.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let cols = cols.as_string::<i32>();
        for r in 0..b.num_rows() {
            let earlier = DateTime::from_timestamp_micros(ts.value(r)).is_some_and(|t| t < as_of);
            if earlier && cols.is_valid(r) {
                return Ok(Some(cols.value(r).to_string()));
            }
        }
    }
    Ok(None)
}

/// The history a suite's `history:` checks would read at `as_of` from the run log at `uri`
/// (for `validate`, which writes no table): as a run at that clock would see it.
pub async fn load_history(
    uri: &str,
    storage: &HashMap<String, String>,
    suite: &Suite,
    as_of: DateTime<Utc>,
) -> Result<History> {
    let Some(table) = super::tables::open_existing(uri, storage).await? else {
        return Err(Error::Usage(format!("{uri}: no run log is there")));
    };
    // No run id of the log is empty: every run counts.
    read_history(&table, uri, suite, "", as_of).await
}

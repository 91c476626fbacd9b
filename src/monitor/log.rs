//! The run log read back whole, row by row, for the status and the audit.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::gate::tables::{open_existing, query};

/// One row of the run log.
#[derive(Debug, Clone)]
pub(crate) struct LogRow {
    pub run_id: String,
    /// 0 for the run-start rows.
    pub batch: i64,
    pub suite: String,
    pub suite_version: i64,
    pub suite_fingerprint: String,
    pub expectation: Option<String>,
    pub expect: Option<String>,
    pub on_fail: Option<String>,
    pub success: Option<bool>,
    pub evaluated: u64,
    pub failed: u64,
    pub observed: Option<String>,
    pub rows: u64,
    pub rows_passed: u64,
    pub rows_quarantined: u64,
    pub outcome: Option<String>,
    pub as_of: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub logged_at: Option<DateTime<Utc>>,
    /// `run` or `release` (a row from before the column: `run`).
    pub kind: String,
    /// The input (a batch's file; for a run-start row, JSON with the inputs and the actor).
    pub input: Option<String>,
    /// The suite's YAML, on a run-start row (runs from before the column: none).
    pub suite_text: Option<String>,
}

const COLUMNS: &str = "run_id, batch, suite, suite_version, suite_fingerprint, expectation, \
                       expect, on_fail, success, evaluated, failed, observed, rows, rows_passed, \
                       rows_quarantined, outcome, as_of, started_at, logged_at, run_kind, input, suite_text";

/// Every row of the run log at `uri`. No run log there is an error: a status or an audit of
/// a table nothing was ever gated into is more likely a wrong path than a quiet dataset.
pub(crate) async fn read_log(uri: &str, storage: &HashMap<String, String>) -> Result<Vec<LogRow>> {
    let Some(table) = open_existing(uri, storage).await? else {
        return Err(Error::Usage(format!(
            "{uri}: no run log is there (has any run gated into this target? --runs names another)"
        )));
    };
    let err = |e: &dyn std::fmt::Display| Error::TableSchema {
        table: uri.to_string(),
        reason: format!("cannot read the run log: {e}"),
    };
    // A run log from before a column was added reads it as null.
    let present = crate::gate::tables::table_schema(&table, uri)?;
    let select: Vec<String> = COLUMNS
        .split(',')
        .map(str::trim)
        .map(|c| match present.field_with_name(c) {
            Ok(_) => c.to_string(),
            Err(_) => format!("CAST(NULL AS VARCHAR) AS {c}"),
        })
        .collect();
    let sql = format!("SELECT {} FROM runs", select.join(", "));
    let batches = query(&table, uri, "runs", &sql, "the run log").await?;
    let mut out = Vec::new();
    let ts_type = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    for b in batches {
        let text: Vec<ArrayRef> = (0..b.num_columns())
            .map(|i| arrow::compute::cast(b.column(i), &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| err(&e))?;
        let int =
            |c: usize| arrow::compute::cast(b.column(c), &DataType::Int64).map_err(|e| err(&e));
        let ints: HashMap<usize, ArrayRef> = [1, 3, 9, 10, 12, 13, 14]
            .into_iter()
            .map(|c| int(c).map(|a| (c, a)))
            .collect::<Result<_>>()?;
        let times: Vec<ArrayRef> = [16, 17, 18]
            .into_iter()
            .map(|c| arrow::compute::cast(b.column(c), &ts_type).map_err(|e| err(&e)))
            .collect::<Result<_>>()?;
        let success = arrow::compute::cast(b.column(8), &DataType::Boolean).map_err(|e| err(&e))?;
        let success = success.as_boolean();
        let s = |c: usize, r: usize| {
            let a = text[c].as_string::<i32>();
            a.is_valid(r).then(|| a.value(r).to_string())
        };
        let n = |c: usize, r: usize| -> i64 {
            let a = ints[&c].as_primitive::<Int64Type>();
            if a.is_valid(r) { a.value(r) } else { 0 }
        };
        let t = |k: usize, r: usize| {
            let a = times[k].as_primitive::<TimestampMicrosecondType>();
            a.is_valid(r)
                .then(|| DateTime::from_timestamp_micros(a.value(r)))
                .flatten()
        };
        for r in 0..b.num_rows() {
            let Some(as_of) = t(0, r) else { continue };
            out.push(LogRow {
                run_id: s(0, r).unwrap_or_default(),
                batch: n(1, r),
                suite: s(2, r).unwrap_or_default(),
                suite_version: n(3, r),
                suite_fingerprint: s(4, r).unwrap_or_default(),
                expectation: s(5, r),
                expect: s(6, r),
                on_fail: s(7, r),
                success: success.is_valid(r).then(|| success.value(r)),
                evaluated: n(9, r).max(0) as u64,
                failed: n(10, r).max(0) as u64,
                observed: s(11, r),
                rows: n(12, r).max(0) as u64,
                rows_passed: n(13, r).max(0) as u64,
                rows_quarantined: n(14, r).max(0) as u64,
                outcome: s(15, r),
                as_of,
                started_at: t(1, r),
                logged_at: t(2, r),
                kind: s(19, r).unwrap_or_else(|| "run".into()),
                input: s(20, r),
                suite_text: s(21, r),
            });
        }
    }
    Ok(out)
}

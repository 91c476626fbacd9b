//! Rows of the run log: one per batch and expectation (the audit trail and metric history),
//! and one per run start (batch 0), which records the run's clock and inputs so a re-run of the
//! same run id decides exactly as the first attempt did.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::report::{BatchReport, SharedColumn};
use crate::suite::Suite;

#[derive(Default)]
struct Rows {
    run_id: Vec<String>,
    batch: Vec<i64>,
    expectation: Vec<Option<String>>,
    expect: Vec<Option<String>>,
    on_fail: Vec<Option<String>>,
    success: Vec<Option<bool>>,
    evaluated: Vec<Option<i64>>,
    failed: Vec<Option<i64>>,
    observed: Vec<Option<String>>,
    input: Vec<Option<String>>,
    rows: Vec<Option<i64>>,
    rows_passed: Vec<Option<i64>>,
    rows_quarantined: Vec<Option<i64>>,
    outcome: Vec<Option<String>>,
    measure: Vec<Option<String>>,
    input_columns: Vec<Option<String>>,
    suite_text: Vec<Option<String>>,
}

/// Builds run-log rows.
pub(crate) struct RunLog<'a> {
    pub schema: SchemaRef,
    pub suite: &'a Suite,
    pub run_id: &'a str,
    pub as_of: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    /// `run` (the gate) or `release` (rows released from quarantine).
    pub kind: &'static str,
}

impl RunLog<'_> {
    /// The run-start row (`input` holds the inputs, their fingerprint and the actor as JSON;
    /// `suite_text` the suite's YAML as it was read, unless it holds `pii` values), then one row
    /// per `pii` column the target receives other than as is: expectation `pii.<column>`,
    /// expect `share`, observed the policy (with the key's id for tokens).
    pub(crate) fn start(
        &self,
        inputs: &serde_json::Value,
        shared: &[SharedColumn],
    ) -> Result<RecordBatch> {
        let mut r = Rows::default();
        r.run_id.push(self.run_id.into());
        r.batch.push(0);
        r.expectation.push(None);
        r.expect.push(None);
        r.on_fail.push(None);
        r.success.push(None);
        r.evaluated.push(None);
        r.failed.push(None);
        r.observed.push(None);
        r.input.push(Some(inputs.to_string()));
        r.rows.push(None);
        r.rows_passed.push(None);
        r.rows_quarantined.push(None);
        r.outcome.push(Some("started".into()));
        r.measure.push(None);
        r.input_columns.push(None);
        // Not a suite whose text holds values of a `pii` column (the run-start `input` names
        // the expectations instead).
        let text = self.suite.text();
        let keep = !text.is_empty() && self.suite.pii_literals().is_empty();
        r.suite_text.push(keep.then(|| text.to_string()));
        for c in shared {
            r.run_id.push(self.run_id.into());
            r.batch.push(0);
            r.expectation.push(Some(format!("pii.{}", c.column)));
            r.expect.push(Some("share".into()));
            r.on_fail.push(None);
            r.success.push(None);
            r.evaluated.push(None);
            r.failed.push(None);
            r.observed.push(Some(match &c.key_id {
                Some(k) => format!("{} (key {k})", c.share),
                None => c.share.clone(),
            }));
            r.input.push(None);
            r.rows.push(None);
            r.rows_passed.push(None);
            r.rows_quarantined.push(None);
            r.outcome.push(Some("started".into()));
            r.measure.push(None);
            r.input_columns.push(None);
            r.suite_text.push(None);
        }
        self.finish(r)
    }

    /// One row per expectation of each batch (a batch with none, e.g. a schema violation, gets
    /// one row with no expectation).
    pub(crate) fn batches(&self, batches: &[&BatchReport]) -> Result<RecordBatch> {
        let mut r = Rows::default();
        // What each metric measures, digested once for all the batches.
        let measures: std::collections::HashMap<&str, String> = self
            .suite
            .expectations
            .iter()
            .filter_map(|e| Some((e.id.as_str(), e.measure()?)))
            .collect();
        for b in batches {
            let outcome = serde_json::to_value(b.outcome)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            let mut push = |e: Option<&crate::report::ExpectationResult>| {
                r.run_id.push(self.run_id.into());
                r.batch.push(b.batch as i64);
                r.expectation.push(e.map(|e| e.id.clone()));
                r.expect.push(e.map(|e| e.expect.clone()));
                r.on_fail.push(e.map(|e| e.on_fail.clone()));
                r.success.push(e.map(|e| e.success));
                r.evaluated.push(e.map(|e| e.evaluated as i64));
                r.failed.push(e.map(|e| e.failed as i64));
                r.observed
                    .push(e.and_then(|e| e.observed.as_ref().map(|o| o.to_string())));
                r.input.push(Some(b.input.clone()));
                r.rows.push(Some(b.rows as i64));
                r.rows_passed.push(Some(b.rows_passed as i64));
                r.rows_quarantined.push(Some(b.rows_quarantined as i64));
                r.outcome.push(outcome.clone());
                r.measure
                    .push(e.and_then(|e| measures.get(e.id.as_str()).cloned()));
                r.input_columns.push(b.input_columns.clone());
                r.suite_text.push(None);
            };
            if b.expectations.is_empty() {
                push(None);
            }
            for e in &b.expectations {
                push(Some(e));
            }
        }
        self.finish(r)
    }

    fn finish(&self, r: Rows) -> Result<RecordBatch> {
        let n = r.run_id.len();
        let ts = |t: DateTime<Utc>| -> ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from(vec![t.timestamp_micros(); n]).with_timezone("UTC"),
            )
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(r.run_id)),
            Arc::new(Int64Array::from(r.batch)),
            Arc::new(StringArray::from(vec![self.suite.name.as_str(); n])),
            Arc::new(Int64Array::from(vec![self.suite.version as i64; n])),
            Arc::new(StringArray::from(vec![self.suite.fingerprint(); n])),
            Arc::new(StringArray::from(r.expectation)),
            Arc::new(StringArray::from(r.expect)),
            Arc::new(StringArray::from(r.on_fail)),
            Arc::new(BooleanArray::from(r.success)),
            Arc::new(Int64Array::from(r.evaluated)),
            Arc::new(Int64Array::from(r.failed)),
            Arc::new(StringArray::from(r.observed)),
            Arc::new(StringArray::from(r.input)),
            Arc::new(Int64Array::from(r.rows)),
            Arc::new(Int64Array::from(r.rows_passed)),
            Arc::new(Int64Array::from(r.rows_quarantined)),
            Arc::new(StringArray::from(r.outcome)),
            ts(self.as_of),
            ts(self.started_at),
            ts(Utc::now()),
            Arc::new(StringArray::from(r.measure)),
            Arc::new(StringArray::from(r.input_columns)),
            Arc::new(StringArray::from(vec![self.kind; n])),
            Arc::new(StringArray::from(r.suite_text)),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

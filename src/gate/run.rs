//! A run in progress: routing each evaluated batch into the tables and committing them in
//! groups, quarantine first, then target, then the run log.

use std::collections::HashMap;

use std::sync::Arc;

use arrow::array::Array;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::route::{self, QuarantineContext};
use super::runlog::RunLog;
use super::sink::TableSink;
use super::{Gate, failpoint, tables};
use crate::error::{Error, Result};
use crate::eval::batch::BatchResult;
use crate::eval::mask::Fate;
use crate::eval::{CompiledSuite, TableRules};
use crate::report::{
    BatchOutcome, BatchReport, Committed, Report, ReportBuilder, TableRef, TablesReport,
};

/// Reads the run-start row of an earlier attempt: its clock and its inputs.
pub(crate) async fn read_start(runs: &TableSink, run_id: &str) -> Result<(DateTime<Utc>, Value)> {
    use datafusion::prelude::SessionContext;
    let err = |e: &dyn std::fmt::Display| Error::Rerun {
        run_id: run_id.to_string(),
        reason: format!(
            "cannot read its first attempt from the run log {}: {e}",
            runs.uri
        ),
    };
    let ctx = SessionContext::new();
    let table = runs.table();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| err(&e))?;
    let provider = table.table_provider().await.map_err(|e| err(&e))?;
    ctx.register_table("runs", provider).map_err(|e| err(&e))?;
    // The run id was checked to hold no quote.
    let sql = format!(
        "SELECT as_of, input FROM runs WHERE run_id = '{run_id}' AND batch = 0 AND expectation IS NULL"
    );
    let rows = ctx
        .sql(&sql)
        .await
        .map_err(|e| err(&e))?
        .collect()
        .await
        .map_err(|e| err(&e))?;
    for b in rows {
        if b.num_rows() == 0 {
            continue;
        }
        // DataFusion may hand back string views and other timestamp layouts: normalize first.
        let ts_col = arrow::compute::cast(
            b.column(0),
            &arrow::datatypes::DataType::Timestamp(
                arrow::datatypes::TimeUnit::Microsecond,
                Some("UTC".into()),
            ),
        )
        .map_err(|e| err(&e))?;
        let input_col = arrow::compute::cast(b.column(1), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| err(&e))?;
        let ts = ts_col
            .as_any()
            .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
            .ok_or_else(|| err(&"as_of is not a timestamp"))?;
        let input = input_col
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or_else(|| err(&"input is not a string"))?;
        let as_of = DateTime::from_timestamp_micros(ts.value(0))
            .ok_or_else(|| err(&"as_of out of range"))?;
        let inputs: Value = serde_json::from_str(input.value(0)).map_err(|e| err(&e))?;
        return Ok((as_of, inputs));
    }
    Err(err(&"no run-start row"))
}

/// Opens (or creates) the target and quarantine tables for data of `data`'s schema and checks
/// that they can take it.
pub(crate) async fn open_data_tables(
    g: &Gate,
    data: &arrow::datatypes::Schema,
) -> Result<DataTables> {
    let suite = g.compiled.suite();
    let target_schema = tables::storage_schema(&g.sharing.target_schema(data), false);
    let target = tables::open_or_create(
        &g.target,
        &g.storage,
        &target_schema,
        &suite.name,
        &g.sharing.config(),
    )
    .await?;
    g.sharing
        .check_table(&g.target, &tables::configuration(&target))?;
    let actual = tables::table_schema(&target, &g.target)?;
    tables::check_compatible(&g.target, &target_schema, &actual)?;
    let q_schema = tables::quarantine_schema(data);
    let (format_key, format) = tables::QUARANTINE_FORMAT;
    let mut pii: Vec<&str> = suite
        .schema
        .iter()
        .flat_map(|c| c.columns.iter().filter(|c| c.is_pii()))
        .map(|c| c.name.as_str())
        .collect();
    pii.sort_unstable();
    let pii = pii.join(",");
    let quarantine = tables::open_or_create(
        &g.quarantine,
        &g.storage,
        &q_schema,
        &format!("{}_quarantine", suite.name),
        &[
            (format_key.to_string(), format.to_string()),
            (tables::PII_CONFIG.to_string(), pii.clone()),
        ],
    )
    .await?;
    let quarantine = tables::upgrade_quarantine(&g.quarantine, quarantine).await?;
    let quarantine = tables::record_pii(&g.quarantine, quarantine, &pii).await?;
    let q_actual = tables::table_schema(&quarantine, &g.quarantine)?;
    tables::check_compatible(&g.quarantine, &q_schema, &q_actual)?;
    let rules = TableRules {
        checks: tables::check_constraints(&target),
        not_null: actual
            .fields()
            .iter()
            .filter(|f| !f.is_nullable())
            .map(|f| f.name().clone())
            .collect(),
    };
    let mut target = TableSink::new(&g.target, target, actual, &g.run_id, g.files).await?;
    target.share_with(&g.sharing);
    Ok(DataTables {
        target,
        quarantine: TableSink::new(&g.quarantine, quarantine, q_actual, &g.run_id, g.files).await?,
        rules,
    })
}

pub(crate) struct DataTables {
    pub(crate) target: TableSink,
    pub(crate) quarantine: TableSink,
    /// The target's own rules, evaluated with the suite's.
    pub(crate) rules: TableRules,
}

pub(super) struct ActiveRun {
    pub(super) gate: Gate,
    /// The suite with the target table's rules, once the table is known.
    pub(super) compiled: Arc<CompiledSuite>,
    pub(super) as_of: DateTime<Utc>,
    pub(super) started_at: DateTime<Utc>,
    pub(super) report: ReportBuilder,
    pub(super) runs: TableSink,
    pub(super) data: Option<DataTables>,
    /// Batches written but not yet committed.
    pub(super) group: Vec<usize>,
    pub(super) stopped: bool,
}

impl ActiveRun {
    /// Routes and writes one evaluated batch. Returns `false` when the run must stop.
    pub(super) async fn process(&mut self, mut result: BatchResult<'_>) -> Result<bool> {
        let seq = result.report.batch as i64;
        if result.fate == Fate::Fail {
            // Committed nowhere; the batches before it are committed, and the run log records
            // the failure.
            self.report.add(result.report);
            self.group.push(self.report.batches_mut().len() - 1);
            self.commit_group().await?;
            self.stopped = true;
            return Ok(false);
        }
        let compiled = self.compiled.clone();
        let mut routed = result.routed()?;
        let mut head = routed.next().transpose()?;
        if self.data.is_none() {
            // No contract and no table yet: the tables take the first batch's columns, and
            // their rules apply from the next batch on (this one satisfies them: a table made
            // from it has no CHECK constraint, and its NOT NULL columns held no null).
            let schema = head
                .as_ref()
                .map(|c| c.batch.schema())
                .ok_or_else(|| Error::Usage("the first batch has no rows and no schema".into()))?;
            let data = open_data_tables(&self.gate, &schema).await?;
            self.compiled = Arc::new(self.gate.compiled.with_table_rules(&data.rules)?);
            self.data = Some(data);
        }
        let data = self.data.as_mut().expect("opened above");
        let suite = compiled.suite();
        let ctx = QuarantineContext {
            run_id: &self.gate.run_id,
            seq,
            suite: &suite.name,
            suite_version: suite.version as i64,
            now: Utc::now(),
        };
        let write_target = !data.target.has(seq);
        let write_quarantine = !data.quarantine.has(seq);
        while let Some(chunk) = match head.take() {
            Some(c) => Some(c),
            None => routed.next().transpose()?,
        } {
            let quarantined = chunk.quarantine.count_set_bits();
            if write_target && quarantined < chunk.batch.num_rows() {
                let keep = !&chunk.quarantine;
                data.target
                    .write_selected(chunk.batch.clone(), keep)
                    .await?;
            }
            if write_quarantine && quarantined > 0 {
                // The quarantine keeps the original values, whatever the target receives.
                let q = route::quarantine_rows(
                    &chunk,
                    &chunk.batch,
                    compiled.rules(),
                    &result.batch_failures,
                    &result.schema_violations,
                    data.quarantine.schema(),
                    &ctx,
                )?;
                data.quarantine.write(q).await?;
            }
        }
        drop(routed);
        // Both sinks settle here: the batch's files are written (or their error is returned)
        // before it is reported and before anything commits.
        let target_bytes = data.target.buffered_bytes().await?;
        let quarantine_bytes = data.quarantine.buffered_bytes().await?;
        if let Some(cb) = self.gate.on_batch.as_mut() {
            cb(&result.report);
        }
        self.report.add(result.report);
        self.group.push(self.report.batches_mut().len() - 1);
        let full = target_bytes.max(quarantine_bytes) as u64 >= self.gate.files.target_size
            || self.group.len() >= self.gate.max_batches_per_commit;
        if full {
            self.commit_group().await?;
        }
        Ok(true)
    }

    /// Keeps what the run's commits would have added beside the run log, for one committer.
    async fn stage(&mut self) -> Result<()> {
        let mut tables = Vec::new();
        if let Some(d) = self.data.as_mut() {
            tables.extend(d.quarantine.take_staged());
            tables.extend(d.target.take_staged());
        }
        tables.extend(self.runs.take_staged());
        if tables.is_empty() {
            return Ok(());
        }
        let manifest = super::stage::Manifest {
            dq_staged: 1,
            run_id: self.gate.run_id.clone(),
            suite: self.gate.compiled.suite().name.clone(),
            staged_at: Utc::now(),
            tables,
        };
        super::stage::write_manifest(self.runs.table(), &self.gate.runs, &manifest).await
    }

    /// Commits the pending batches: quarantine, then target, then the run log.
    async fn commit_group(&mut self) -> Result<()> {
        if self.group.is_empty() {
            return Ok(());
        }
        let idx = std::mem::take(&mut self.group);
        let reports = self.report.batches_mut();
        let seqs: Vec<i64> = idx.iter().map(|i| reports[*i].batch as i64).collect();
        let last = *seqs.iter().max().expect("non-empty");
        let suite = self.gate.compiled.suite();
        let sum =
            |f: &dyn Fn(&BatchReport) -> u64| idx.iter().map(|i| f(&reports[*i])).sum::<u64>();
        let (rows_in, passed, quarantined) = (
            sum(&|b| b.rows),
            sum(&|b| b.rows_passed),
            sum(&|b| b.rows_quarantined),
        );
        let meta = |table_rows: u64| {
            HashMap::from([
                ("dq.suite".to_string(), json!(suite.name)),
                ("dq.suite_version".to_string(), json!(suite.version)),
                (
                    "dq.suite_fingerprint".to_string(),
                    json!(suite.fingerprint()),
                ),
                ("dq.run_id".to_string(), json!(self.gate.run_id)),
                ("dq.batches".to_string(), json!(seqs)),
                ("dq.rows".to_string(), json!(table_rows)),
                ("dq.rows_in".to_string(), json!(rows_in)),
                ("dq.rows_passed".to_string(), json!(passed)),
                ("dq.rows_quarantined".to_string(), json!(quarantined)),
            ])
        };
        let key_id = self.gate.sharing.key_id().map(str::to_string);
        let meta = |rows: u64| {
            let mut m = meta(rows);
            if let Some(k) = &key_id {
                m.insert("dq.token_key_id".to_string(), json!(k));
            }
            m
        };
        failpoint::hit("files_written", &seqs);
        let (mut qv, mut tv) = (None, None);
        if let Some(data) = self.data.as_mut() {
            qv = data.quarantine.commit(last, meta(quarantined)).await?;
            failpoint::hit("quarantine_committed", &seqs);
            tv = data.target.commit(last, meta(passed)).await?;
            failpoint::hit("target_committed", &seqs);
        }
        let reports = self.report.batches_mut();
        let runs_done = self.runs.has(last);
        if !runs_done {
            let log = RunLog {
                schema: self.runs.schema().clone(),
                suite,
                run_id: &self.gate.run_id,
                as_of: self.as_of,
                started_at: self.started_at,
                kind: "run",
            };
            let group: Vec<&BatchReport> = idx.iter().map(|i| &reports[*i]).collect();
            self.runs.write(log.batches(&group)?).await?;
            let mut m = meta(group.len() as u64);
            m.insert("dq.event".into(), json!("batches"));
            self.runs.commit(last, m).await?;
        }
        failpoint::hit("runs_committed", &seqs);
        for i in idx {
            let b = &mut reports[i];
            // A staged batch is committed by the committer, not here.
            if b.outcome == BatchOutcome::Failed || self.gate.files.staged {
                continue;
            }
            b.committed = Some(Committed {
                target_version: if b.rows_passed > 0 {
                    tv.or_else(|| self.data.as_ref().and_then(|d| d.target.version()))
                } else {
                    None
                },
                quarantine_version: if b.rows_quarantined > 0 {
                    qv.or_else(|| self.data.as_ref().and_then(|d| d.quarantine.version()))
                } else {
                    None
                },
                // The run log is committed last: holding the batch, it proves the rest.
                already_committed: runs_done,
            });
        }
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<Report> {
        if !self.stopped {
            self.commit_group().await?;
        }
        if self.gate.files.staged {
            self.stage().await?;
        }
        let version = |s: Option<&TableSink>| s.and_then(TableSink::version);
        let tables = TablesReport {
            target: TableRef {
                uri: self.gate.target.clone(),
                version: version(self.data.as_ref().map(|d| &d.target)),
            },
            shared: self.gate.sharing.describe(),
            quarantine: TableRef {
                uri: self.gate.quarantine.clone(),
                version: version(self.data.as_ref().map(|d| &d.quarantine)),
            },
            runs: TableRef {
                uri: self.gate.runs.clone(),
                version: self.runs.version(),
            },
            staged: self.gate.files.staged,
        };
        self.report.tables(tables);
        Ok(self.report.finish())
    }
}

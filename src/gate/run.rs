//! A run in progress: routing each evaluated batch into the tables and committing them in
//! groups, quarantine first, then target, then the run log.

use std::collections::HashMap;

use arrow::array::Array;
use arrow::buffer::BooleanBuffer;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::route::{self, QuarantineContext, TableRules};
use super::runlog::RunLog;
use super::sink::TableSink;
use super::{Gate, failpoint, tables};
use crate::error::{Error, Result};
use crate::eval::batch::{BatchResult, Fate, RoutedChunk};
use crate::io::Chunks;
use crate::report::{
    BatchOutcome, BatchReport, Committed, ExpectationResult, Report, ReportBuilder, TableRef,
    TablesReport,
};

/// Reads the run-start row of an earlier attempt: its clock and its inputs.
pub(super) async fn read_start(runs: &TableSink, run_id: &str) -> Result<(DateTime<Utc>, Value)> {
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
    let sql = format!("SELECT as_of, input FROM runs WHERE run_id = '{run_id}' AND batch = 0");
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
pub(super) async fn open_data_tables(
    g: &Gate,
    data: &arrow::datatypes::Schema,
) -> Result<DataTables> {
    let suite = g.compiled.suite();
    let target_schema = tables::storage_schema(data, false);
    let target = tables::open_or_create(&g.target, &g.storage, &target_schema, &suite.name).await?;
    let actual = tables::table_schema(&target, &g.target)?;
    tables::check_compatible(&g.target, &target_schema, &actual)?;
    let q_schema = tables::quarantine_schema(data);
    let quarantine = tables::open_or_create(
        &g.quarantine,
        &g.storage,
        &q_schema,
        &format!("{}_quarantine", suite.name),
    )
    .await?;
    let q_actual = tables::table_schema(&quarantine, &g.quarantine)?;
    tables::check_compatible(&g.quarantine, &q_schema, &q_actual)?;
    let covered: Vec<String> = suite
        .schema
        .as_ref()
        .map(|c| {
            c.columns
                .iter()
                .filter(|c| !c.nullable)
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let rules = TableRules::new(&actual, &tables::check_constraints(&target), &covered)?;
    Ok(DataTables {
        target: TableSink::new(&g.target, target, actual, &g.run_id, g.target_file_size).await?,
        quarantine: TableSink::new(
            &g.quarantine,
            quarantine,
            q_actual,
            &g.run_id,
            g.target_file_size,
        )
        .await?,
        rules,
    })
}

pub(super) struct DataTables {
    target: TableSink,
    quarantine: TableSink,
    rules: TableRules,
}

pub(super) struct ActiveRun {
    pub(super) gate: Gate,
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
    /// `reread` gives the batch's chunks again (and whether they are text) for a batch that was
    /// too large to hold.
    pub(super) async fn process(
        &mut self,
        mut result: BatchResult,
        reread: Option<(Chunks, bool)>,
    ) -> Result<bool> {
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
        let compiled = self.gate.compiled.clone();
        let mut routed: Box<dyn Iterator<Item = Result<RoutedChunk>> + Send> =
            match result.replay.take() {
                None => Box::new(std::mem::take(&mut result.chunks).into_iter().map(Ok)),
                Some(replay) => {
                    let (source, text) = reread.ok_or_else(|| {
                        Error::Usage(format!(
                            "batch {seq} is larger than the memory budget and cannot be read again"
                        ))
                    })?;
                    let mut first = result.report.first_row;
                    Box::new(source.map(move |c| {
                        let c = c?;
                        let out = replay.route(&compiled, &c, text, first);
                        first += c.num_rows() as u64;
                        out
                    }))
                }
            };
        let mut head = routed.next().transpose()?;
        if self.data.is_none() {
            let schema = head
                .as_ref()
                .map(|c| c.batch.schema())
                .ok_or_else(|| Error::Usage("the first batch has no rows and no schema".into()))?;
            self.data = Some(open_data_tables(&self.gate, &schema).await?);
        }
        let data = self.data.as_mut().expect("opened above");
        let suite = self.gate.compiled.suite();
        let rules = self.gate.compiled.rules();
        let ctx = QuarantineContext {
            run_id: &self.gate.run_id,
            seq,
            suite: &suite.name,
            suite_version: suite.version as i64,
            now: Utc::now(),
        };
        let nrules = data.rules.rules.len();
        let mut rule_eval = vec![0u64; nrules];
        let mut rule_failed = vec![0u64; nrules];
        let mut rule_samples: Vec<Vec<Value>> = vec![Vec::new(); nrules];
        let mut moved = 0u64;
        let write_target = !data.target.has(seq);
        let write_quarantine = !data.quarantine.has(seq);
        while let Some(chunk) = match head.take() {
            Some(c) => Some(c),
            None => routed.next().transpose()?,
        } {
            let chunk = &chunk;
            let rows = data.rules.to_table_rows(&chunk.batch)?;
            let kept = !&chunk.quarantine;
            let fails = if nrules > 0 {
                data.rules.failures(&rows, &kept)?
            } else {
                Vec::new()
            };
            let mut quarantine = chunk.quarantine.clone();
            for (i, f) in fails.iter().enumerate() {
                rule_eval[i] += kept.count_set_bits() as u64;
                rule_failed[i] += f.count_set_bits() as u64;
                for r in f
                    .set_indices()
                    .take(20usize.saturating_sub(rule_samples[i].len()))
                {
                    rule_samples[i].push(json!({"_row": chunk.first_row + r as u64}));
                }
                quarantine = &quarantine | f;
            }
            moved += (quarantine.count_set_bits() - chunk.quarantine.count_set_bits()) as u64;
            let target_mask: BooleanBuffer = !&quarantine;
            if write_target && target_mask.count_set_bits() > 0 {
                let t = route::target_rows(&rows, &target_mask, data.target.schema())?;
                data.target.write(t).await?;
            }
            if write_quarantine && quarantine.count_set_bits() > 0 {
                let with_fails: Vec<(&route::TableRule, &BooleanBuffer)> =
                    data.rules.rules.iter().zip(fails.iter()).collect();
                let q = route::quarantine_rows(
                    chunk,
                    &rows,
                    &quarantine,
                    rules,
                    &result.batch_failures,
                    &result.schema_violations,
                    &with_fails,
                    data.quarantine.schema(),
                    &ctx,
                )?;
                data.quarantine.write(q).await?;
            }
        }
        // The table's own rules join the batch's report.
        let r = &mut result.report;
        r.rows_passed -= moved;
        r.rows_quarantined += moved;
        if moved > 0 && r.outcome == BatchOutcome::Passed {
            r.outcome = BatchOutcome::RowsQuarantined;
        }
        for (i, t) in data.rules.rules.iter().enumerate() {
            r.expectations.push(ExpectationResult {
                id: t.id.clone(),
                expect: "table_constraint".into(),
                column: t.column.clone(),
                columns: None,
                on_fail: "quarantine_rows".into(),
                success: rule_failed[i] == 0,
                evaluated: rule_eval[i],
                proven: 0,
                failed: rule_failed[i],
                failed_fraction: (rule_eval[i] > 0)
                    .then(|| rule_failed[i] as f64 / rule_eval[i] as f64),
                failed_fraction_total: (r.rows > 0).then(|| rule_failed[i] as f64 / r.rows as f64),
                observed: None,
                message: Some(t.message.clone()),
                samples: Vec::new(),
                sample_keys: std::mem::take(&mut rule_samples[i]),
            });
        }
        drop(routed);
        if let Some(cb) = self.gate.on_batch.as_mut() {
            cb(&result.report);
        }
        self.report.add(result.report);
        self.group.push(self.report.batches_mut().len() - 1);
        let full = data.target.buffered_bytes() as u64 >= self.gate.target_file_size
            || data.quarantine.buffered_bytes() as u64 >= self.gate.target_file_size
            || self.group.len() >= self.gate.max_batches_per_commit;
        if full {
            self.commit_group().await?;
        }
        Ok(true)
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
            if b.outcome == BatchOutcome::Failed {
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
        let version = |s: Option<&TableSink>| s.and_then(TableSink::version);
        let tables = TablesReport {
            target: TableRef {
                uri: self.gate.target.clone(),
                version: version(self.data.as_ref().map(|d| &d.target)),
            },
            quarantine: TableRef {
                uri: self.gate.quarantine.clone(),
                version: version(self.data.as_ref().map(|d| &d.quarantine)),
            },
            runs: TableRef {
                uri: self.gate.runs.clone(),
                version: self.runs.version(),
            },
        };
        self.report.tables(tables);
        Ok(self.report.finish())
    }
}

//! The gate: evaluated batches committed to the target and quarantine Delta tables, exactly
//! once, with every run recorded in the run log (suite format sections 4 to 6).
//!
//! ```text
//!  batch ─▶ BatchRun (evaluate) ─▶ table rules (NOT NULL, CHECK) ─▶ split
//!            passing rows ───────────────────────────────▶ target files   ┐
//!            failing rows + _dq_violations + _dq_raw ────▶ quarantine files├ per commit group:
//!            expectation results ────────────────────────▶ run-log rows   ┘ quarantine, target,
//!                                                                             run log, each with
//!                                                                             txn(run, last batch)
//! ```
//!
//! Consecutive batches share a commit until the files reach the target size, so small batches
//! do not make small files; a batch is never split across commits. A re-run with the same run id
//! skips, table by table, every batch that table already holds, so after a crash at any point
//! every input row ends up exactly once across target and quarantine.

mod failpoint;
mod route;
mod runlog;
mod sink;
mod tables;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::buffer::BooleanBuffer;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::eval::CompiledSuite;
use crate::eval::batch::{BatchResult, BatchRun, Fate, RoutedChunk};
use crate::io::{Batches, Chunks, InputFile, display_path};
use crate::report::{
    BatchOutcome, BatchReport, Committed, ExpectationResult, Report, ReportBuilder, TableRef,
    TablesReport,
};
use route::{QuarantineContext, TableRules};
use runlog::RunLog;
use sink::TableSink;

/// Default target size of the Parquet files written, in bytes (128 MiB).
pub const DEFAULT_TARGET_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// Default bytes of Arrow data one batch may hold in memory (512 MiB).
pub const DEFAULT_BATCH_MEMORY: usize = 512 << 20;

/// Called after each batch is processed (for progress display).
pub type BatchCallback = Box<dyn FnMut(&BatchReport) + Send>;

/// Configures a [`Gate`]. Every setter states its default.
pub struct GateBuilder {
    compiled: Arc<CompiledSuite>,
    target: Option<String>,
    quarantine: Option<String>,
    runs: Option<String>,
    run_id: Option<String>,
    as_of: Option<DateTime<Utc>>,
    batch_rows: Option<usize>,
    target_file_size: u64,
    max_batches_per_commit: usize,
    batch_memory: usize,
    storage_options: HashMap<String, String>,
    on_batch: Option<BatchCallback>,
}

impl GateBuilder {
    /// The shared (target) table. Default: the suite's `tables.target`, else `lake/<suite name>`.
    pub fn with_target(mut self, uri: impl Into<String>) -> Self {
        self.target = Some(uri.into());
        self
    }

    /// The quarantine table. Default: the suite's `tables.quarantine`, else
    /// `lake/<suite name>_quarantine`.
    pub fn with_quarantine(mut self, uri: impl Into<String>) -> Self {
        self.quarantine = Some(uri.into());
        self
    }

    /// The run log table. Default: the suite's `tables.runs`, else `<target>_dq_runs`.
    pub fn with_runs(mut self, uri: impl Into<String>) -> Self {
        self.runs = Some(uri.into());
        self
    }

    /// The run id, `[A-Za-z0-9._:-]+`. Re-running the same id after a crash finishes that run
    /// without duplicating anything. Default: a new UUID.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// The run's clock. Default: now; on a re-run, the clock of the first attempt.
    pub fn with_as_of(mut self, as_of: DateTime<Utc>) -> Self {
        self.as_of = Some(as_of);
        self
    }

    /// Rows per batch for file inputs. Default: one batch per file.
    pub fn with_batch_rows(mut self, rows: Option<usize>) -> Self {
        self.batch_rows = rows;
        self
    }

    /// Target size of written Parquet files, in bytes. Default: [`DEFAULT_TARGET_FILE_SIZE`].
    pub fn with_target_file_size(mut self, bytes: u64) -> Self {
        self.target_file_size = bytes.max(1);
        self
    }

    /// Commit at least every `n` batches, even when the files are still small (for readers
    /// that want rows to appear sooner). Default: no limit; commit when the files reach the
    /// target size, when a `fail` stops the run, and at the end.
    pub fn with_max_batches_per_commit(mut self, n: usize) -> Self {
        self.max_batches_per_commit = n.max(1);
        self
    }

    /// Bytes of Arrow data a batch may hold in memory; a larger batch is evaluated in a
    /// streaming pass and read again from its file to be routed. Default:
    /// [`DEFAULT_BATCH_MEMORY`].
    pub fn with_batch_memory(mut self, bytes: usize) -> Self {
        self.batch_memory = bytes.max(1);
        self
    }

    /// Object-store options (e.g. `AWS_ENDPOINT_URL`). Default: none; the standard
    /// environment variables apply.
    pub fn with_storage_options(mut self, options: HashMap<String, String>) -> Self {
        self.storage_options = options;
        self
    }

    /// A callback after each batch. Default: none.
    pub fn on_batch(mut self, f: BatchCallback) -> Self {
        self.on_batch = Some(f);
        self
    }

    /// Resolves the table locations and the run id.
    pub fn build(self) -> Result<Gate> {
        let suite = self.compiled.suite();
        let target = self
            .target
            .or_else(|| suite.tables.target.clone())
            .unwrap_or_else(|| format!("lake/{}", suite.name));
        let quarantine = self
            .quarantine
            .or_else(|| suite.tables.quarantine.clone())
            .unwrap_or_else(|| format!("lake/{}_quarantine", suite.name));
        let runs = self
            .runs
            .or_else(|| suite.tables.runs.clone())
            .unwrap_or_else(|| format!("{}_dq_runs", target.trim_end_matches('/')));
        if target == quarantine || target == runs || quarantine == runs {
            return Err(Error::Usage(format!(
                "the target ({target}), quarantine ({quarantine}) and run log ({runs}) must be \
                 three different tables"
            )));
        }
        let run_id = self
            .run_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if run_id.is_empty()
            || !run_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(Error::Usage(format!(
                "run id `{run_id}` must be non-empty and use only letters, digits, `.`, `_`, `:` and `-`"
            )));
        }
        Ok(Gate {
            compiled: self.compiled,
            target,
            quarantine,
            runs,
            run_id,
            as_of: self.as_of,
            batch_rows: self.batch_rows,
            target_file_size: self.target_file_size,
            max_batches_per_commit: self.max_batches_per_commit,
            batch_memory: self.batch_memory,
            storage: self.storage_options,
            on_batch: self.on_batch,
        })
    }
}

/// Gates batches into Delta tables. Built with [`Gate::builder`].
///
/// ```no_run
/// # async fn demo() -> dq_gate::Result<()> {
/// use std::sync::Arc;
/// use dq_gate::{CompiledSuite, Suite, gate::Gate};
/// let suite = Suite::from_path("expectations/claims.yaml")?;
/// let gate = Gate::builder(Arc::new(CompiledSuite::new(suite)))
///     .with_target("lake/claims")
///     .with_run_id("claims-2026-11-27")
///     .build()?;
/// let files = dq_gate::io::discover(&["fixtures/claims".into()])?;
/// let report = gate.run_files(&files).await?;
/// println!("{:?}: {} rows passed", report.status, report.summary.rows_passed);
/// # Ok(()) }
/// ```
pub struct Gate {
    compiled: Arc<CompiledSuite>,
    target: String,
    quarantine: String,
    runs: String,
    run_id: String,
    as_of: Option<DateTime<Utc>>,
    batch_rows: Option<usize>,
    target_file_size: u64,
    max_batches_per_commit: usize,
    batch_memory: usize,
    storage: HashMap<String, String>,
    on_batch: Option<BatchCallback>,
}

impl Gate {
    /// Starts configuring a gate for a compiled suite.
    pub fn builder(compiled: Arc<CompiledSuite>) -> GateBuilder {
        GateBuilder {
            compiled,
            target: None,
            quarantine: None,
            runs: None,
            run_id: None,
            as_of: None,
            batch_rows: None,
            target_file_size: DEFAULT_TARGET_FILE_SIZE,
            max_batches_per_commit: usize::MAX,
            batch_memory: DEFAULT_BATCH_MEMORY,
            storage_options: HashMap::new(),
            on_batch: None,
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Gates input files (each file one batch, or `batch_rows` rows per batch).
    pub async fn run_files(self, files: &[InputFile]) -> Result<Report> {
        let inputs: Vec<String> = files.iter().map(|f| display_path(&f.path)).collect();
        let mut sizes = Vec::new();
        for f in files {
            let len = std::fs::metadata(&f.path)
                .map_err(|e| Error::input(&f.path, e))?
                .len();
            sizes.push(json!([display_path(&f.path), len]));
        }
        let compiled = self.compiled.clone();
        let batch_rows = self.batch_rows;
        let budget = self.batch_memory;
        let mut run = self.start(inputs, Value::Array(sizes)).await?;
        let suite = compiled.suite();
        let contract = suite.schema.as_ref();
        let mut batches =
            Batches::new(files, contract, batch_rows).with_parallel_read_limit(budget);
        while let Some((spec, chunks)) = batches.next_batch()? {
            let input = display_path(&spec.input.path);
            let text = spec.input.format.is_text();
            let mut b = BatchRun::new(&compiled, run.as_of, spec.seq, &input, spec.first_row)
                .with_memory_budget(budget);
            for c in chunks {
                b.push(&c?, text)?;
            }
            let rows = b.rows();
            let result = b.finish_with_source(|| crate::io::reread(&spec, rows, contract))?;
            let again = match result.replay {
                Some(_) => Some((crate::io::reread(&spec, rows, contract)?, text)),
                None => None,
            };
            if !run.process(result, again).await? {
                break;
            }
        }
        run.finish().await
    }

    /// Gates a stream of record batches, each one batch. `label` names the source in reports.
    /// Re-running a run id requires the same label.
    pub async fn run_stream<S>(self, label: &str, stream: S) -> Result<Report>
    where
        S: Stream<Item = Result<RecordBatch>> + Unpin,
    {
        let compiled = self.compiled.clone();
        let mut run = self.start(vec![label.to_string()], json!([label])).await?;
        let mut stream = stream;
        let mut seq = 0u64;
        let mut first_row = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            seq += 1;
            let mut b = BatchRun::new(&compiled, run.as_of, seq, label, first_row);
            first_row += batch.num_rows() as u64;
            b.push(&batch, false)?;
            if !run.process(b.finish()?, None).await? {
                break;
            }
        }
        run.finish().await
    }

    /// Opens the run log and either records a new run or picks up an earlier attempt's clock.
    async fn start(self, inputs: Vec<String>, input_list: Value) -> Result<ActiveRun> {
        let suite = self.compiled.suite();
        let started_at = Utc::now();
        // The data tables first: an incompatible target is an error before anything is written.
        let data = match &suite.schema {
            Some(c) => Some(open_data_tables(&self, &c.arrow_schema()).await?),
            None => None,
        };
        let runs_schema = tables::runs_schema();
        let runs_table =
            tables::open_or_create(&self.runs, &self.storage, &runs_schema, "dq_runs").await?;
        tables::check_compatible(
            &self.runs,
            &runs_schema,
            &*tables::table_schema(&runs_table, &self.runs)?,
        )?;
        let mut runs = TableSink::new(
            &self.runs,
            runs_table,
            runs_schema.clone(),
            &self.run_id,
            self.target_file_size,
        )
        .await?;
        let fingerprint = {
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(input_list.to_string().as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let marker = json!({"inputs": input_list, "fingerprint": fingerprint});
        let as_of = match runs.committed() {
            Some(_) => {
                let (as_of, earlier) = read_start(&runs, &self.run_id).await?;
                if earlier.get("fingerprint") != marker.get("fingerprint") {
                    return Err(Error::Rerun {
                        run_id: self.run_id.clone(),
                        reason: format!(
                            "its inputs differ from the first attempt's ({}); a re-run must gate the same inputs",
                            earlier
                                .get("inputs")
                                .map(|v| v.to_string())
                                .unwrap_or_default()
                        ),
                    });
                }
                if let Some(asked) = self.as_of
                    && asked != as_of
                {
                    return Err(Error::Rerun {
                        run_id: self.run_id.clone(),
                        reason: format!(
                            "--as-of {} differs from the first attempt's {}",
                            asked.to_rfc3339(),
                            as_of.to_rfc3339()
                        ),
                    });
                }
                as_of
            }
            None => {
                let as_of = self.as_of.unwrap_or(started_at);
                let log = RunLog {
                    schema: runs_schema.clone(),
                    suite,
                    run_id: &self.run_id,
                    as_of,
                    started_at,
                };
                runs.write(log.start(&marker)?).await?;
                let meta = HashMap::from([
                    ("dq.run_id".to_string(), json!(self.run_id)),
                    ("dq.event".to_string(), json!("run started")),
                ]);
                runs.commit(0, meta).await?;
                as_of
            }
        };
        let report = ReportBuilder::new(suite, &self.run_id, as_of, inputs);
        Ok(ActiveRun {
            gate: self,
            as_of,
            started_at,
            report,
            runs,
            data,
            group: Vec::new(),
            stopped: false,
        })
    }
}

/// Reads the run-start row of an earlier attempt: its clock and its inputs.
async fn read_start(runs: &TableSink, run_id: &str) -> Result<(DateTime<Utc>, Value)> {
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
async fn open_data_tables(g: &Gate, data: &arrow::datatypes::Schema) -> Result<DataTables> {
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

struct DataTables {
    target: TableSink,
    quarantine: TableSink,
    rules: TableRules,
}

struct ActiveRun {
    gate: Gate,
    as_of: DateTime<Utc>,
    started_at: DateTime<Utc>,
    report: ReportBuilder,
    runs: TableSink,
    data: Option<DataTables>,
    /// Batches written but not yet committed.
    group: Vec<usize>,
    stopped: bool,
}

impl ActiveRun {
    /// Routes and writes one evaluated batch. Returns `false` when the run must stop.
    /// `reread` gives the batch's chunks again (and whether they are text) for a batch that was
    /// too large to hold.
    async fn process(
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

    async fn finish(mut self) -> Result<Report> {
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

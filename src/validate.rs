//! The [`Validator`]: a suite evaluated over record batches or input files, reporting and
//! splitting rows in memory, writing nothing.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::eval::CompiledSuite;
use crate::eval::batch::{BatchRun, DEFAULT_BATCH_MEMORY};
use crate::eval::drive::{BatchOptions, FileBatches, ProgressFn};
use crate::eval::mask::{Fate, RoutedChunk};
use crate::io::{InputFile, discover, display_path};
use crate::report::{BatchReport, Report, ReportBuilder};

/// Configures a [`Validator`]. Every setter states its default.
pub struct ValidatorBuilder {
    compiled: Arc<CompiledSuite>,
    as_of: Option<DateTime<Utc>>,
    batch_rows: Option<usize>,
    batch_memory: usize,
    run_id: Option<String>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("suite", &self.compiled.suite().name)
            .field("as_of", &self.as_of)
            .field("batch_rows", &self.batch_rows)
            .finish_non_exhaustive()
    }
}

impl ValidatorBuilder {
    /// Called as files are read ([`Validator::validate_paths`]), after every chunk, with the
    /// rows read so far (and bytes, for inputs that do not state their rows). Default: none.
    pub fn on_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    /// The run's clock for `not_in_future` and `freshness`. Default: the time
    /// [`ValidatorBuilder::build`] is called.
    pub fn with_as_of(mut self, as_of: DateTime<Utc>) -> Self {
        self.as_of = Some(as_of);
        self
    }

    /// Rows per batch for file inputs. Default: one batch per file.
    pub fn with_batch_rows(mut self, rows: Option<usize>) -> Self {
        self.batch_rows = rows;
        self
    }

    /// Bytes of Arrow data a batch read from a file may hold in memory; a larger batch is
    /// evaluated in a streaming pass and read again. Default: [`DEFAULT_BATCH_MEMORY`] (1 GiB).
    pub fn with_batch_memory(mut self, bytes: usize) -> Self {
        self.batch_memory = bytes.max(1);
        self
    }

    /// The run id written in reports. Default: a new UUID.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// The validator.
    pub fn build(self) -> Validator {
        Validator {
            compiled: self.compiled,
            as_of: self.as_of.unwrap_or_else(Utc::now),
            batch_rows: self.batch_rows,
            batch_memory: self.batch_memory,
            run_id: self
                .run_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            seq: AtomicU64::new(0),
            first_row: AtomicU64::new(0),
            progress: Mutex::new(self.progress),
        }
    }
}

/// Evaluates a suite over data in memory or in files, writing nothing. Built with
/// [`Validator::builder`].
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
/// use dq_gate::{CompiledSuite, Validator};
///
/// let suite = CompiledSuite::from_yaml(r#"
/// dq_suite: 1
/// name: demo
/// version: 1
/// expectations:
///   - {id: code_known, expect: in_set, column: code, values: [A, B]}
/// "#, "demo.yaml")?;
/// let validator = Validator::builder(Arc::new(suite)).build();
/// let batch = RecordBatch::try_from_iter(vec![
///     ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
///     ("code", Arc::new(StringArray::from(vec![Some("A"), Some("X"), None])) as ArrayRef),
/// ])?;
/// let checked = validator.validate_batch(&batch)?;
/// let e = &checked.report.expectations[0];
/// assert_eq!((e.evaluated, e.failed), (2, 1)); // the null is not evaluated
/// assert_eq!(checked.passed()?.num_rows(), 2);
/// assert_eq!(checked.quarantined()?.num_rows(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Validator {
    compiled: Arc<CompiledSuite>,
    as_of: DateTime<Utc>,
    batch_rows: Option<usize>,
    batch_memory: usize,
    run_id: String,
    /// Batches validated one by one so far, and their rows: numbering continues across calls.
    seq: AtomicU64,
    first_row: AtomicU64,
    progress: Mutex<Option<ProgressFn>>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("suite", &self.compiled.suite().name)
            .field("as_of", &self.as_of)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// One record batch after validation: its report entry and its rows, split.
#[derive(Debug)]
pub struct Validated {
    /// The batch's verdicts.
    pub report: BatchReport,
    fate: Fate,
    chunks: Vec<RoutedChunk>,
}

impl Validated {
    /// The rows the gate would commit to the target: every routing check TRUE for them (none
    /// when the batch goes to quarantine whole, or a `fail` expectation stopped it). With a
    /// contract, in its columns and types.
    pub fn passed(&self) -> Result<RecordBatch> {
        self.rows(false)
    }

    /// The rows the gate would quarantine (all of them when the batch goes to quarantine
    /// whole; none when a `fail` expectation stopped it).
    pub fn quarantined(&self) -> Result<RecordBatch> {
        self.rows(true)
    }

    /// Whether a `fail` expectation did not succeed (the gate would stop the run here).
    pub fn stopped(&self) -> bool {
        self.fate == Fate::Fail
    }

    fn rows(&self, quarantined: bool) -> Result<RecordBatch> {
        let parts = self
            .chunks
            .iter()
            .map(|c| {
                let mask = if quarantined {
                    c.quarantine.clone()
                } else if self.fate == Fate::Fail {
                    arrow::buffer::BooleanBuffer::new_unset(c.batch.num_rows())
                } else {
                    !&c.quarantine
                };
                filter_record_batch(&c.batch, &BooleanArray::new(mask, None))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let schema = match self.chunks.first() {
            Some(c) => c.batch.schema(),
            None => return Err(Error::Usage("the batch held no chunk".into())),
        };
        Ok(concat_batches(&schema, &parts)?)
    }
}

impl Validator {
    /// Starts configuring a validator for a compiled suite.
    pub fn builder(compiled: Arc<CompiledSuite>) -> ValidatorBuilder {
        ValidatorBuilder {
            compiled,
            as_of: None,
            batch_rows: None,
            batch_memory: DEFAULT_BATCH_MEMORY,
            run_id: None,
            progress: None,
        }
    }

    /// The suite.
    pub fn suite(&self) -> &CompiledSuite {
        &self.compiled
    }

    /// Validates one record batch in memory (one batch of the run: numbering and row
    /// positions continue across calls). An empty batch is judged too: `row_count` is 0 and
    /// metrics over no values fail. A batch of more than 131,072 rows is evaluated as one
    /// slice per core, so a large batch keeps every core busy; the report does not depend on it.
    pub fn validate_batch(&self, batch: &RecordBatch) -> Result<Validated> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let rows = batch.num_rows() as u64;
        let first = self.first_row.fetch_add(rows, Ordering::Relaxed);
        let mut run = BatchRun::new(&self.compiled, self.as_of, seq, "memory", first);
        run.push(batch, false)?;
        let result = run.finish()?;
        Ok(Validated {
            report: result.report,
            fate: result.fate,
            chunks: result.chunks,
        })
    }

    /// Validates input files or directories (Parquet, CSV with a header, NDJSON, Arrow IPC, by
    /// extension; a directory means its files) and reports the run. A `fail` expectation that
    /// does not succeed stops at that batch, as it would stop the gate.
    pub fn validate_paths(&self, paths: &[impl AsRef<Path>]) -> Result<Report> {
        let paths: Vec<_> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self.validate_files(&discover(&paths)?)
    }

    pub(crate) fn validate_files(&self, files: &[InputFile]) -> Result<Report> {
        let compiled = &*self.compiled;
        let mut report = ReportBuilder::new(
            compiled.suite(),
            &self.run_id,
            self.as_of,
            files.iter().map(|f| display_path(&f.path)).collect(),
        );
        let opts = BatchOptions {
            as_of: self.as_of,
            batch_rows: self.batch_rows,
            batch_memory: self.batch_memory,
        };
        let mut batches = FileBatches::for_report(files, compiled, opts);
        let progress = self.progress.lock().ok().and_then(|mut p| p.take());
        if let Some(p) = progress {
            batches = batches.with_progress(p);
        }
        while let Some(result) = batches.next(compiled)? {
            let fate = result.fate;
            report.add(result.report);
            if fate == Fate::Fail {
                break;
            }
        }
        if let (Some(p), Ok(mut slot)) = (batches.into_progress(), self.progress.lock()) {
            *slot = Some(p);
        }
        Ok(report.finish())
    }
}

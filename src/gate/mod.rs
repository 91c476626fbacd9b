//! The gate: evaluated batches committed to the target and quarantine Delta tables, exactly
//! once, with every run recorded in the run log (docs/gate.md).
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

pub mod delta_input;
pub(crate) mod encoding;
pub(crate) mod failpoint;
pub(crate) mod history;
#[cfg(unix)]
pub(crate) mod local_store;
/// Elsewhere, local tables are written through the file system store as it is.
#[cfg(not(unix))]
pub(crate) mod local_store {
    pub(crate) fn install() {}
}
pub(crate) mod route;
pub(crate) mod run;
pub(crate) mod runlog;
pub(crate) mod share;
pub(crate) mod sink;
pub mod stage;
pub(crate) mod tables;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::eval::CompiledSuite;
use crate::eval::batch::BatchRun;
use crate::eval::drive::{BatchOptions, FileBatches, ProgressFn};
use crate::io::{InputFile, display_path};
use crate::pii::TokenKey;
use crate::report::{BatchReport, Report, ReportBuilder};
use encoding::FileOptions;
pub use encoding::{Codec, DEFAULT_CODEC, DEFAULT_COMMIT_ATTEMPTS, DEFAULT_COMMIT_BACKOFF_MS};
use run::{ActiveRun, open_data_tables, read_start};
use runlog::RunLog;
use share::Sharing;
use sink::TableSink;

/// Who does an operation: the name given, else `$DQ_GATE_ACTOR`, else the user.
pub(crate) fn actor(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("DQ_GATE_ACTOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Default target size of the Parquet files written, in bytes (128 MiB).
pub const DEFAULT_TARGET_FILE_SIZE: u64 = 128 * 1024 * 1024;

pub use crate::eval::batch::DEFAULT_BATCH_MEMORY;

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
    files: FileOptions,
    max_batches_per_commit: usize,
    batch_memory: usize,
    storage_options: HashMap<String, String>,
    on_batch: Option<BatchCallback>,
    progress: Option<ProgressFn>,
    token_key: Option<TokenKey>,
    actor: Option<String>,
}

impl GateBuilder {
    /// Who runs the gate, recorded with the run (audits show it). Default: `$DQ_GATE_ACTOR`,
    /// else the user.
    pub fn with_actor(mut self, name: impl Into<String>) -> Self {
        self.actor = Some(name.into());
        self
    }

    /// The secret key for `pii` columns shared as tokens (`share: token`), at least 32 bytes.
    /// Default: `DQ_GATE_TOKEN_KEY`, else the file `DQ_GATE_TOKEN_KEY_FILE` names; a suite
    /// that tokenizes without a key is an error before anything is written.
    pub fn with_token_key(mut self, key: &[u8]) -> Result<Self> {
        self.token_key = Some(TokenKey::new(key).map_err(Error::Usage)?);
        Ok(self)
    }

    /// [`GateBuilder::with_token_key`] from a file (a trailing newline is not part of the key).
    pub fn with_token_key_file(mut self, path: &std::path::Path) -> Result<Self> {
        self.token_key = Some(TokenKey::from_file(path).map_err(Error::Usage)?);
        Ok(self)
    }

    /// Called as input files are read, after every chunk, with the rows read so far (and
    /// bytes, for inputs that do not state their rows). Default: none.
    pub fn on_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

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
        self.files.target_size = bytes.max(1);
        self
    }

    /// The compression of the files written to the target and the quarantine (a zstd level
    /// outside 1 to 22 is an error at [`GateBuilder::build`]). Default: [`DEFAULT_CODEC`].
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.files.codec = codec;
        self
    }

    /// Tries of a commit that conflicts with another writer's (many workers appending to one
    /// table), with backoff of 40 ms doubling to 1.3 s plus jitter between them; after the last,
    /// the run stops with the conflict. Default: [`DEFAULT_COMMIT_ATTEMPTS`].
    pub fn with_commit_attempts(mut self, n: u32) -> Self {
        self.files.commit_attempts = n.max(1);
        self
    }

    /// The backoff between tries of a conflicting commit: waits of twice `base` doubling up
    /// to 64 times it, each plus up to 2.5 × `base` of jitter (zero: try again at once).
    /// Default: [`DEFAULT_COMMIT_BACKOFF_MS`] ms.
    pub fn with_commit_backoff(mut self, base: std::time::Duration) -> Self {
        self.files.commit_backoff_ms = base.as_millis() as u64;
        self
    }

    /// Stage the run instead of committing it: its files are written, and what its commits
    /// would add is kept beside the run log for one committer to commit with other workers'
    /// runs ([`stage::commit_staged`], `dq-check commit-staged`). Default: commit directly.
    pub fn with_staging(mut self, staged: bool) -> Self {
        self.files.staged = staged;
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
        let target = self.target.unwrap_or_else(|| suite.default_target());
        let quarantine = self
            .quarantine
            .unwrap_or_else(|| suite.default_quarantine());
        let runs = self.runs.unwrap_or_else(|| suite.default_runs(&target));
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
        self.files.codec.checked().map_err(Error::Usage)?;
        let sharing = Sharing::new(suite.schema.as_ref(), self.token_key)?;
        Ok(Gate {
            sharing,
            compiled: self.compiled,
            target,
            quarantine,
            runs,
            run_id,
            as_of: self.as_of,
            batch_rows: self.batch_rows,
            files: self.files,
            max_batches_per_commit: self.max_batches_per_commit,
            batch_memory: self.batch_memory,
            storage: self.storage_options,
            on_batch: self.on_batch,
            progress: self.progress,
            actor: actor(self.actor),
        })
    }
}

/// Gates batches into Delta tables. Built with [`Gate::builder`].
///
/// ```no_run
/// # async fn demo() -> dq_gate::Result<()> {
/// use std::sync::Arc;
/// use dq_gate::{CompiledSuite, Gate};
/// let suite = CompiledSuite::from_path("expectations/claims.yaml")?;
/// let gate = Gate::builder(Arc::new(suite))
///     .with_target("lake/claims")
///     .with_run_id("claims-2026-11-27")
///     .build()?;
/// let report = gate.run_paths(&["fixtures/claims"]).await?;
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
    files: FileOptions,
    max_batches_per_commit: usize,
    batch_memory: usize,
    storage: HashMap<String, String>,
    on_batch: Option<BatchCallback>,
    progress: Option<ProgressFn>,
    sharing: Sharing,
    actor: String,
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
            files: FileOptions {
                target_size: DEFAULT_TARGET_FILE_SIZE,
                codec: DEFAULT_CODEC,
                commit_attempts: DEFAULT_COMMIT_ATTEMPTS,
                commit_backoff_ms: DEFAULT_COMMIT_BACKOFF_MS,
                staged: false,
            },
            max_batches_per_commit: usize::MAX,
            batch_memory: DEFAULT_BATCH_MEMORY,
            storage_options: HashMap::new(),
            on_batch: None,
            progress: None,
            token_key: None,
            actor: None,
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The target, quarantine and run-log locations.
    pub(crate) fn locations(&self) -> (&str, &str, &str) {
        (&self.target, &self.quarantine, &self.runs)
    }

    pub(crate) fn storage(&self) -> &HashMap<String, String> {
        &self.storage
    }

    pub(crate) fn sharing(&self) -> &Sharing {
        &self.sharing
    }

    pub(crate) fn files(&self) -> FileOptions {
        self.files
    }

    /// Gates input files or directories (Parquet, CSV with a header, NDJSON, Arrow IPC, by
    /// extension; a directory means its files): each file one batch, or `batch_rows` rows per
    /// batch.
    pub async fn run_paths(self, paths: &[impl AsRef<std::path::Path>]) -> Result<Report> {
        let paths: Vec<_> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self.run_files(&crate::io::discover(&paths)?).await
    }

    /// Gates input files (each file one batch, or `batch_rows` rows per batch).
    pub(crate) async fn run_files(self, files: &[InputFile]) -> Result<Report> {
        let inputs: Vec<String> = files.iter().map(|f| display_path(&f.path)).collect();
        let mut sizes = Vec::new();
        for f in files {
            let len = std::fs::metadata(&f.path)
                .map_err(|e| Error::input(&f.path, e))?
                .len();
            sizes.push(json!([display_path(&f.path), len]));
        }
        let suite = self.compiled.clone();
        let (batch_rows, batch_memory) = (self.batch_rows, self.batch_memory);
        let mut gate = self;
        let progress = gate.progress.take();
        let run = gate.start(inputs, Value::Array(sizes)).await?;
        let opts = BatchOptions {
            as_of: run.as_of,
            batch_rows,
            batch_memory,
        };
        let mut run = run;
        let mut batches = FileBatches::new(files, &suite, opts);
        if let Some(p) = progress {
            batches = batches.with_progress(p);
        }
        loop {
            // The suite with the target's own rules, once the target is known.
            let compiled = run.compiled.clone();
            let Some(result) = batches.next(&compiled)? else {
                break;
            };
            if !run.process(result).await? {
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
        let mut run = self.start(vec![label.to_string()], json!([label])).await?;
        let mut stream = stream;
        let mut seq = 0u64;
        let mut first_row = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            seq += 1;
            let compiled = run.compiled.clone();
            let mut b = BatchRun::new(&compiled, run.as_of, seq, label, first_row);
            first_row += batch.num_rows() as u64;
            b.push(&batch, false)?;
            if !run.process(b.finish()?).await? {
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
        // Without a contract, an existing target gives the columns; else the first batch does.
        let data = match &suite.schema {
            Some(c) => Some(open_data_tables(&self, &c.arrow_schema()).await?),
            None => match tables::open_existing(&self.target, &self.storage).await? {
                Some(t) => {
                    let schema = tables::table_schema(&t, &self.target)?;
                    Some(open_data_tables(&self, &schema).await?)
                }
                None => None,
            },
        };
        let compiled = match &data {
            Some(d) => Arc::new(self.compiled.with_table_rules(&d.rules)?),
            None => self.compiled.clone(),
        };
        let runs_schema = tables::runs_schema();
        let runs_table = tables::open_run_log(&self.runs, &self.storage).await?;
        let mut runs = TableSink::new(
            &self.runs,
            runs_table,
            runs_schema.clone(),
            &self.run_id,
            self.files,
        )
        .await?;
        let fingerprint = {
            use sha2::{Digest, Sha256};
            let d = Sha256::digest(input_list.to_string().as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let mut marker =
            json!({"inputs": input_list, "fingerprint": fingerprint, "actor": self.actor});
        let withheld = suite.pii_literals();
        if !withheld.is_empty() {
            marker["suite_text_withheld"] = json!(withheld);
        }
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
                    kind: "run",
                };
                runs.write(log.start(&marker, &self.sharing.describe())?)
                    .await?;
                let meta = HashMap::from([
                    ("dq.run_id".to_string(), json!(self.run_id)),
                    ("dq.event".to_string(), json!("run started")),
                ]);
                runs.commit(0, meta).await?;
                as_of
            }
        };
        // `history:` checks judge against what earlier runs recorded.
        let history =
            history::read_history(runs.table(), &self.runs, suite, &self.run_id, as_of).await?;
        let compiled = if history.is_empty() {
            compiled
        } else {
            Arc::new((*compiled).clone().with_history(history))
        };
        let report = ReportBuilder::new(suite, &self.run_id, as_of, inputs);
        Ok(ActiveRun {
            compiled,
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

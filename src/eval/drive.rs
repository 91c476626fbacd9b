//! Input files through the evaluator, batch by batch: the one loop that `validate`, the gate,
//! the tests and the benches share.
//!
//! ```text
//!  files ─▶ io::Batches (one per file, or per --batch-rows) ─▶ chunks ─▶ BatchRun ─▶ BatchResult
//!                                                  read again, for a batch too large to hold ─┘
//! ```

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::CompiledSuite;
use super::batch::{BatchResult, BatchRun, DEFAULT_BATCH_MEMORY};
use crate::error::Result;
use crate::io::{Batches, BytesRead, Format, InputFile, Strings, display_path, reread};

/// How far a run has read its inputs, for a progress display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows read so far.
    pub rows: u64,
    /// Rows in all the inputs, when every input states its row count up front (Parquet).
    pub rows_total: Option<u64>,
    /// Bytes read so far from inputs that do not state their rows (text and Arrow IPC).
    pub bytes: u64,
    /// The size of all the inputs, in bytes.
    pub bytes_total: u64,
}

/// Called as a run reads its inputs, after every chunk.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// What the inputs state about their size, up front.
pub(crate) fn input_totals(files: &[InputFile]) -> Progress {
    let bytes_total = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let rows_total = files
        .iter()
        .map(|f| match f.format {
            Format::Parquet => crate::io::parquet_rows(&f.path),
            _ => None,
        })
        .sum::<Option<u64>>();
    Progress {
        rows_total,
        bytes_total,
        ..Progress::default()
    }
}

/// A progress callback with its counters.
struct Tracker {
    report: ProgressFn,
    progress: Progress,
    read: Arc<BytesRead>,
}

/// How batches are formed and held.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// The run's clock.
    pub as_of: DateTime<Utc>,
    /// Rows per batch; `None` makes each file one batch.
    pub batch_rows: Option<usize>,
    /// Bytes of Arrow data a batch may hold; a larger one is streamed and read again.
    pub batch_memory: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            as_of: Utc::now(),
            batch_rows: None,
            batch_memory: DEFAULT_BATCH_MEMORY,
        }
    }
}

/// The batches of input files, each evaluated as it is read.
pub struct FileBatches<'f> {
    batches: Batches<'f>,
    files: &'f [InputFile],
    opts: BatchOptions,
    /// A report without routed rows: see [`FileBatches::for_report`].
    report_only: bool,
    /// Whether what Parquet statistics prove is used (see [`FileBatches::without_facts`]).
    facts: bool,
    tracker: Option<Tracker>,
}

impl<'f> FileBatches<'f> {
    /// Batches to be routed (every column decoded as written).
    pub fn new(files: &'f [InputFile], compiled: &'f CompiledSuite, opts: BatchOptions) -> Self {
        let contract = compiled.suite().schema.as_ref();
        FileBatches {
            batches: Batches::new(files, contract, opts.batch_rows)
                .with_parallel_read_limit(opts.batch_memory),
            files,
            opts,
            report_only: false,
            facts: true,
            tracker: None,
        }
    }

    /// Scans every row instead of taking what Parquet statistics prove (the reference that
    /// tests compare statistics against).
    pub fn without_facts(mut self) -> Self {
        self.facts = false;
        self
    }

    /// Calls `report` after every chunk read, with the rows (and bytes) read so far.
    pub fn with_progress(mut self, report: ProgressFn) -> Self {
        let read = Arc::new(BytesRead::default());
        self.batches = self.batches.with_bytes_read(read.clone());
        self.tracker = Some(Tracker {
            report,
            progress: input_totals(self.files),
            read,
        });
        self
    }

    /// Batches evaluated for a report alone (nothing is written): plain string columns are
    /// read as views of the decoded pages, columns whose checks the file's statistics settle
    /// are not decoded, and columns read only for their nulls have only those decoded.
    pub fn for_report(
        files: &'f [InputFile],
        compiled: &'f CompiledSuite,
        opts: BatchOptions,
    ) -> Self {
        let contract = compiled.suite().schema.as_ref();
        let batches = Batches::new(files, contract, opts.batch_rows)
            .with_parallel_read_limit(opts.batch_memory)
            .with_strings(Strings::Views)
            .with_plan(Box::new(move |schema, facts| {
                compiled.column_plan(schema, facts)
            }));
        FileBatches {
            batches,
            files,
            opts,
            report_only: true,
            facts: true,
            tracker: None,
        }
    }

    /// The progress callback, given back.
    pub fn into_progress(self) -> Option<ProgressFn> {
        self.tracker.map(|t| t.report)
    }

    /// Reads and evaluates the next batch with `compiled` (the suite the batches were made
    /// for, possibly with a target table's rules added).
    pub fn next<'c>(&mut self, compiled: &'c CompiledSuite) -> Result<Option<BatchResult<'c>>> {
        let Some((spec, chunks)) = self.batches.next_batch()? else {
            return Ok(None);
        };
        let input = display_path(&spec.input.path);
        let text = spec.input.format.is_text();
        let mut run = BatchRun::new(compiled, self.opts.as_of, spec.seq, &input, spec.first_row)
            .with_memory_budget(self.opts.batch_memory)
            .with_facts(spec.facts.clone().filter(|_| self.facts));
        if self.report_only {
            run = run.with_plan(spec.columns.clone()).report_only();
        }
        for c in chunks {
            let c = c?;
            run.push(&c, text)?;
            if let Some(t) = self.tracker.as_mut() {
                t.progress.rows += c.num_rows() as u64;
                t.progress.bytes = t.read.get().min(t.progress.bytes_total);
                (t.report)(&t.progress);
            }
        }
        let rows = run.rows();
        let contract = compiled.suite().schema.as_ref();
        run.finish_with_source(Box::new(move || reread(&spec, rows, contract)))
            .map(Some)
    }
}

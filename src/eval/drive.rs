//! Input files through the evaluator, batch by batch: the one loop that `validate`, the gate,
//! the tests and the benches share.
//!
//! ```text
//!  files ─▶ io::Batches (one per file, or per --batch-rows) ─▶ chunks ─▶ BatchRun ─▶ BatchResult
//!                                                  read again, for a batch too large to hold ─┘
//! ```

use chrono::{DateTime, Utc};

use super::CompiledSuite;
use super::batch::{BatchResult, BatchRun, DEFAULT_BATCH_MEMORY};
use crate::error::Result;
use crate::io::{Batches, InputFile, Strings, display_path, reread};

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
    opts: BatchOptions,
    /// A report without routed rows: see [`FileBatches::for_report`].
    report_only: bool,
}

impl<'f> FileBatches<'f> {
    /// Batches to be routed (every column decoded as written).
    pub fn new(files: &'f [InputFile], compiled: &'f CompiledSuite, opts: BatchOptions) -> Self {
        let contract = compiled.suite().schema.as_ref();
        FileBatches {
            batches: Batches::new(files, contract, opts.batch_rows)
                .with_parallel_read_limit(opts.batch_memory),
            opts,
            report_only: false,
        }
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
            opts,
            report_only: true,
        }
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
            .with_facts(spec.facts.clone());
        if self.report_only {
            run = run.with_plan(spec.columns.clone()).report_only();
        }
        for c in chunks {
            run.push(&c?, text)?;
        }
        let rows = run.rows();
        let contract = compiled.suite().schema.as_ref();
        run.finish_with_source(Box::new(move || reread(&spec, rows, contract)))
            .map(Some)
    }
}

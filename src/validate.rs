//! `validate`: evaluate inputs against a suite and report, writing nothing.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::eval::CompiledSuite;
use crate::eval::drive::{BatchOptions, FileBatches};
use crate::eval::mask::Fate;
use crate::io::{InputFile, display_path};
use crate::report::{Report, ReportBuilder};

/// Options shared by `validate` and `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run's clock for `not_in_future` and `freshness`. Default: now.
    pub as_of: DateTime<Utc>,
    /// Rows per batch; `None` (the default) makes each input file one batch.
    pub batch_rows: Option<usize>,
    /// The run id written in the report (and, for `run`, in every table). Default: a new UUID.
    pub run_id: String,
    /// Bytes of Arrow data a batch may hold in memory; a larger batch is evaluated in a
    /// streaming pass and read again. Default: [`crate::eval::batch::DEFAULT_BATCH_MEMORY`].
    pub batch_memory: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            as_of: Utc::now(),
            batch_rows: None,
            run_id: uuid::Uuid::new_v4().to_string(),
            batch_memory: crate::eval::batch::DEFAULT_BATCH_MEMORY,
        }
    }
}

/// Evaluates every batch of `files` and returns the report. A `fail` expectation that does not
/// succeed stops at that batch, as it would stop `run`.
pub fn validate(
    compiled: &CompiledSuite,
    files: &[InputFile],
    opts: &RunOptions,
) -> Result<Report> {
    let suite = compiled.suite();
    let mut report = ReportBuilder::new(
        suite,
        &opts.run_id,
        opts.as_of,
        files.iter().map(|f| display_path(&f.path)).collect(),
    );
    let batch_opts = BatchOptions {
        as_of: opts.as_of,
        batch_rows: opts.batch_rows,
        batch_memory: opts.batch_memory,
    };
    let mut batches = FileBatches::for_report(files, compiled, batch_opts);
    while let Some(result) = batches.next(compiled)? {
        let fate = result.fate;
        report.add(result.report);
        if fate == Fate::Fail {
            break;
        }
    }
    Ok(report.finish())
}

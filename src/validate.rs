//! `validate`: evaluate inputs against a suite and report, writing nothing.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::eval::CompiledSuite;
use crate::eval::batch::{BatchRun, Fate};
use crate::io::facts::FileFacts;
use crate::io::{Batches, InputFile, Strings, display_path};
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
    let contract = suite.schema.as_ref();
    // Nothing is written, so plain string columns can be read as views of the decoded pages,
    // columns whose checks the file's statistics settle need not be decoded, and columns read
    // only for their nulls need only those.
    let plan = |schema: &arrow::datatypes::SchemaRef, facts: Option<&FileFacts>| {
        compiled.column_plan(schema, facts)
    };
    let mut batches = Batches::new(files, contract, opts.batch_rows)
        .with_parallel_read_limit(opts.batch_memory)
        .with_strings(Strings::Views)
        .with_plan(&plan);
    while let Some((spec, chunks)) = batches.next_batch()? {
        let input = display_path(&spec.input.path);
        let mut run = BatchRun::new(compiled, opts.as_of, spec.seq, &input, spec.first_row)
            .with_memory_budget(opts.batch_memory)
            .with_facts(spec.facts.clone())
            .with_plan(spec.columns.clone())
            .report_only();
        for chunk in chunks {
            run.push(&chunk?, spec.input.format.is_text())?;
        }
        let rows = run.rows();
        let result = run.finish_with_source(|| crate::io::reread(&spec, rows, contract))?;
        let fate = result.fate;
        report.add(result.report);
        if fate == Fate::Fail {
            break;
        }
    }
    Ok(report.finish())
}

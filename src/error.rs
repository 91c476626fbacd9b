//! The crate's one public error type.
//!
//! A failed expectation is never an error: it is a report entry. `Err` means something could not
//! be done at all (a suite that does not parse, an input that cannot be read, a commit that did
//! not happen). Every variant names what it was working on; the underlying cause is kept as
//! `#[source]` and never repeated in the message, so `dq-check` can print the chain once.
//!
//! A suite's problems are diagnostics like a compiler's: every one at once, each with its
//! [`Pos`] (line and column) and key path ([`SuiteProblems`]).

use std::fmt;
use std::path::PathBuf;

/// `Result` with [`enum@Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop dq-gate from doing its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The suite file has one or more problems; each carries its line, column and key path.
    #[error("{0}")]
    Suite(SuiteProblems),

    /// An expectation cannot be bound to the columns of the data it is asked to check.
    #[error("expectation `{expectation}`: {reason}")]
    Bind {
        /// The expectation id (or `schema.<column>` for the contract).
        expectation: String,
        /// What is wrong, in words a suite author understands.
        reason: String,
    },

    /// An input file could not be opened or read.
    #[error("cannot read {}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An input file has content that cannot be read as the format its extension names.
    #[error("{}: {detail}", path.display())]
    InputFormat {
        /// The file.
        path: PathBuf,
        /// Where and what, e.g. `line 7: expected 12 fields, found 11`.
        detail: String,
    },

    /// A file could not be written (a report, for example).
    #[error("cannot write {}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// Evaluating an expectation failed inside Arrow or DataFusion (not a data-quality failure).
    #[error("evaluating `{expectation}`")]
    Eval {
        /// The expectation id.
        expectation: String,
        /// The engine's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A Delta table could not be opened, created or committed to.
    #[error("Delta table {table}: {action}")]
    Table {
        /// The table URI.
        table: String,
        /// What was being done (`create`, `commit batch 3`, ...).
        action: String,
        /// The delta-rs error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A table exists with a schema the contract cannot be written into.
    #[error("Delta table {table} does not match the suite's schema: {reason}")]
    TableSchema {
        /// The table URI.
        table: String,
        /// The first difference found.
        reason: String,
    },

    /// A re-run of a run id was asked to do something the first attempt did not.
    #[error("run `{run_id}`: {reason}")]
    Rerun {
        /// The run id.
        run_id: String,
        /// What differs.
        reason: String,
    },

    /// The caller asked for something that cannot be done (an invalid option value).
    #[error("{0}")]
    Usage(String),

    /// An Arrow error outside any one expectation (splitting, casting for the write).
    #[error("arrow")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// `e` and the errors that caused it, outermost first.
pub fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

impl Error {
    /// Evaluating rule `expectation` failed in the engine. For a rule that reads a `pii` column
    /// quoted values in the engine's message are masked (and the cause chain flattened into
    /// that one message).
    pub(crate) fn eval(
        expectation: &str,
        source: Box<dyn std::error::Error + Send + Sync>,
        pii: bool,
    ) -> Self {
        if !pii {
            return Error::Eval {
                expectation: expectation.to_string(),
                source,
            };
        }
        let text = chain(source.as_ref())
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(": ");
        Error::Eval {
            expectation: expectation.to_string(),
            source: crate::pii::scrub_quoted(&text).into(),
        }
    }

    pub(crate) fn input(
        path: impl Into<PathBuf>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Input {
            path: path.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn table(
        table: &str,
        action: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Table {
            table: table.to_string(),
            action: action.to_string(),
            source: Box::new(source),
        }
    }
}

/// A position in the suite file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// One problem: where, under which key, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteProblem {
    /// Line and column in the file.
    pub pos: Pos,
    /// Key path, e.g. `expectations[3].values` (empty for the document itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one suite file, sorted by position.
#[derive(Debug, Clone)]
pub struct SuiteProblems {
    file: String,
    problems: Vec<SuiteProblem>,
}

impl SuiteProblems {
    pub(crate) fn new(file: &str, mut problems: Vec<SuiteProblem>) -> Self {
        problems.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.path.cmp(&b.path)));
        problems.dedup();
        SuiteProblems {
            file: file.to_string(),
            problems,
        }
    }

    /// The file name as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The problems, in file order.
    pub fn problems(&self) -> &[SuiteProblem] {
        &self.problems
    }
}

impl fmt::Display for SuiteProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid suite {} ({n} problem{})",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {}:{}:{}: ", self.file, p.pos.line, p.pos.col)?;
            if !p.path.is_empty() {
                write!(f, "{}: ", p.path)?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SuiteProblems {}

//! One batch (the unit of verdict and commit), evaluated over its chunks.
//!
//! ```text
//!  push: chunks are kept
//!  finish: every chunk in parallel ─▶ conform ─▶ row kernels ─▶ failing-row masks, counts,
//!                                               aggregates ──▶ metric states      samples
//!          partials merged in chunk order ─▶ uniqueness settled over the whole batch
//!          ─▶ verdicts ─▶ fate ─▶ quarantine mask per chunk
//! ```
//!
//! The quarantine mask of a chunk is the OR of the failing-row masks of the rules whose
//! `on_fail` is `quarantine_rows` (the implicit contract rules included). Each failing-row mask
//! is null-free by construction ([`super::nulls`]), so a row is kept only when every routing rule
//! is TRUE for it: a NULL never slips through. Because chunks are evaluated independently and
//! merged in order, the result does not depend on how a batch is chunked.

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::buffer::BooleanBuffer;
use chrono::{DateTime, Utc};

use super::bind::Op;
use super::chunk::{self, Chunk, Partial, par_map, record};
use super::kernels::unique::{CompoundCounter, unique_over};
use super::nulls::outcome;
use super::verdict::verdict;
use super::{CompiledSuite, Rule, RuleSource};
use crate::error::Result;
use crate::report::{BatchOutcome, BatchReport, ExpectationResult};
use crate::suite::{NullPolicy, OnFail};

pub use super::chunk::MAX_SAMPLES;

/// What the gate does with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Passing rows to the target, failing rows to quarantine.
    Split,
    /// Every row to quarantine (schema violation, or a batch-level failure).
    QuarantineAll,
    /// A `fail` expectation did not succeed: nothing is committed and the run stops.
    Fail,
}

/// A chunk after evaluation, ready to be split.
#[derive(Debug)]
pub struct RoutedChunk {
    /// The chunk's rows: the contract's columns (or the input's, without a contract).
    pub batch: RecordBatch,
    /// Per row, JSON of original values that could not be kept in the typed columns.
    pub raw: Option<StringArray>,
    /// Rows going to quarantine (null-free).
    pub quarantine: BooleanBuffer,
    /// Per rule index, the rows that failed it (only rules with failures).
    pub fails: Vec<(usize, BooleanBuffer)>,
    /// Position of the chunk's first row in its input file.
    pub first_row: u64,
}

/// A batch after evaluation.
#[derive(Debug)]
pub struct BatchResult {
    /// The batch's report entry.
    pub report: BatchReport,
    /// What to do with it.
    pub fate: Fate,
    /// Its chunks with their quarantine masks.
    pub chunks: Vec<RoutedChunk>,
    /// Rule indices that failed for the whole batch (aggregates, `quarantine_batch`).
    pub batch_failures: Vec<usize>,
    /// Schema violations of the batch.
    pub schema_violations: Vec<String>,
}

/// Evaluates one batch. Call [`BatchRun::push`] for each chunk, then [`BatchRun::finish`].
pub struct BatchRun<'a> {
    compiled: &'a CompiledSuite,
    as_of: DateTime<Utc>,
    seq: u64,
    input: String,
    first_row: u64,
    pending: Vec<(RecordBatch, bool, u64)>,
    rows: u64,
}

impl<'a> BatchRun<'a> {
    /// Starts batch `seq` (from 1) of `input`, whose first row is `first_row` of the file.
    pub fn new(
        compiled: &'a CompiledSuite,
        as_of: DateTime<Utc>,
        seq: u64,
        input: &str,
        first_row: u64,
    ) -> Self {
        BatchRun {
            compiled,
            as_of,
            seq,
            input: input.to_string(),
            first_row,
            pending: Vec::new(),
            rows: 0,
        }
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a chunk. `text` says its columns are text to parse (CSV, NDJSON).
    pub fn push(&mut self, chunk: &RecordBatch, text: bool) -> Result<()> {
        self.pending
            .push((chunk.clone(), text, self.first_row + self.rows));
        self.rows += chunk.num_rows() as u64;
        Ok(())
    }

    /// Evaluates every chunk, settles uniqueness, decides every verdict and the batch's fate,
    /// and routes each chunk.
    pub fn finish(self) -> Result<BatchResult> {
        let compiled = self.compiled;
        let rules = compiled.rules();
        let as_of = self.as_of;
        let outs = par_map(&self.pending, |(c, text, first)| {
            chunk::evaluate(compiled, as_of, c, *text, *first)
        });
        drop(self.pending);
        let mut chunks: Vec<Chunk> = Vec::with_capacity(outs.len());
        let mut partials: Vec<Partial> = rules.iter().map(|_| Partial::default()).collect();
        let mut violations: Vec<String> = Vec::new();
        for out in outs {
            let out = out?;
            for v in out.violations {
                if !violations.contains(&v) {
                    violations.push(v);
                }
            }
            for (p, q) in partials.iter_mut().zip(out.partials) {
                p.absorb(q);
            }
            chunks.push(out.chunk);
        }
        let violated = !violations.is_empty();
        let bound = chunks.iter().find_map(|c| c.bound.clone());
        if !violated && let Some(bound) = &bound {
            settle_uniqueness(compiled, &mut chunks, &mut partials, bound)?;
        }

        // Verdicts.
        let mut results = Vec::new();
        let mut batch_failures = Vec::new();
        let mut fate = Fate::Split;
        if violated {
            fate = Fate::QuarantineAll;
        } else if let Some(bound) = &bound {
            for (ri, (rule, br)) in rules.iter().zip(&bound.rules).enumerate() {
                if matches!(rule.source, RuleSource::Type(_)) && !partials[ri].active {
                    continue;
                }
                let (success, observed, message) =
                    verdict(&partials[ri], rule, &br.op, &bound.schema, as_of);
                if !success {
                    match rule.on_fail {
                        OnFail::Fail => fate = Fate::Fail,
                        OnFail::QuarantineBatch => {
                            batch_failures.push(ri);
                            if fate != Fate::Fail {
                                fate = Fate::QuarantineAll;
                            }
                        }
                        OnFail::Warn | OnFail::QuarantineRows => {}
                    }
                    if rule.aggregate && rule.on_fail != OnFail::QuarantineBatch {
                        batch_failures.push(ri);
                    }
                }
                let p = std::mem::take(&mut partials[ri]);
                results.push(result(rule, p, self.rows, success, observed, message));
            }
        }

        // Routing.
        let routing: Vec<usize> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.on_fail == OnFail::QuarantineRows)
            .map(|(i, _)| i)
            .collect();
        let mut quarantined = 0u64;
        let routed: Vec<RoutedChunk> = chunks
            .into_iter()
            .map(|c| {
                let len = c.batch.num_rows();
                let quarantine = match fate {
                    Fate::QuarantineAll => BooleanBuffer::new_set(len),
                    Fate::Fail => BooleanBuffer::new_unset(len),
                    Fate::Split => routing
                        .iter()
                        .filter_map(|i| c.fails[*i].as_ref())
                        .fold(BooleanBuffer::new_unset(len), |acc, f| &acc | f),
                };
                quarantined += quarantine.count_set_bits() as u64;
                RoutedChunk {
                    batch: c.batch,
                    raw: c.raw,
                    quarantine,
                    fails: c
                        .fails
                        .into_iter()
                        .enumerate()
                        .filter_map(|(i, f)| f.map(|f| (i, f)))
                        .collect(),
                    first_row: c.first_row,
                }
            })
            .collect();
        let outcome = match fate {
            Fate::Fail => BatchOutcome::Failed,
            Fate::QuarantineAll => BatchOutcome::BatchQuarantined,
            Fate::Split if quarantined > 0 => BatchOutcome::RowsQuarantined,
            Fate::Split => BatchOutcome::Passed,
        };
        let rows_passed = if fate == Fate::Fail {
            0
        } else {
            self.rows - quarantined
        };
        Ok(BatchResult {
            report: BatchReport {
                batch: self.seq,
                input: self.input,
                first_row: self.first_row,
                rows: self.rows,
                rows_passed,
                rows_quarantined: quarantined,
                outcome,
                schema_violations: violations.clone(),
                expectations: results,
                committed: None,
            },
            fate,
            chunks: routed,
            batch_failures,
            schema_violations: violations,
        })
    }
}

/// `unique` and `compound_unique` need every value of the batch: settled here, after all chunks
/// were evaluated, then recorded per chunk like any row-level result.
fn settle_uniqueness(
    compiled: &CompiledSuite,
    chunks: &mut [Chunk],
    partials: &mut [Partial],
    bound: &super::Bound,
) -> Result<()> {
    let rules = compiled.rules();
    for (ri, (rule, br)) in rules.iter().zip(&bound.rules).enumerate() {
        let results = match &br.op {
            Op::Unique {
                col,
                nulls_distinct,
            } => {
                let columns: Vec<(&dyn Array, Option<&BooleanBuffer>)> = chunks
                    .iter()
                    .map(|c| (c.batch.column(*col).as_ref(), c.scopes[ri].as_ref()))
                    .collect();
                unique_over(&columns, *nulls_distinct)
            }
            Op::Compound { cols, types } => {
                let mut counter = CompoundCounter::new(types)?;
                let arrays = |c: &Chunk| -> Vec<ArrayRef> {
                    cols.iter().map(|i| c.batch.column(*i).clone()).collect()
                };
                for c in chunks.iter() {
                    counter.count(&arrays(c), c.scopes[ri].as_ref())?;
                }
                chunks
                    .iter()
                    .map(|c| counter.evaluate(&arrays(c)))
                    .collect::<std::result::Result<Vec<_>, _>>()?
            }
            _ => continue,
        };
        let policy = match &br.op {
            Op::Compound { .. } => NullPolicy::Ignore,
            _ => rule.nulls,
        };
        for (c, r) in chunks.iter_mut().zip(results) {
            let scope = c.scopes[ri].clone();
            let o = outcome(&r, policy, scope.as_ref());
            let mut part = Partial::default();
            record(&mut part, o, c, ri, &br.sample_cols, compiled, rule);
            partials[ri].absorb(part);
        }
    }
    Ok(())
}

fn result(
    rule: &Rule,
    p: Partial,
    rows: u64,
    success: bool,
    observed: Option<serde_json::Value>,
    message: Option<String>,
) -> ExpectationResult {
    let (column, columns) = match rule.columns.len() {
        0 => (None, None),
        1 => (Some(rule.columns[0].clone()), None),
        _ => (None, Some(rule.columns.clone())),
    };
    ExpectationResult {
        id: rule.id.clone(),
        expect: rule.expect.to_string(),
        column,
        columns,
        on_fail: rule.on_fail.as_str().to_string(),
        success,
        evaluated: p.evaluated,
        failed: p.failed,
        failed_fraction: (p.evaluated > 0 && !rule.aggregate)
            .then(|| p.failed as f64 / p.evaluated as f64),
        failed_fraction_total: (rows > 0 && !rule.aggregate).then(|| p.failed as f64 / rows as f64),
        observed,
        message,
        samples: p.samples,
        sample_keys: p.keys,
    }
}

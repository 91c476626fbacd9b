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
//! Because chunks are evaluated independently and merged in order, the result does not depend
//! on how a batch is chunked. Each chunk is then routed ([`super::mask`]).

use std::sync::Arc;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};

use super::CompiledSuite;
use super::chunk::{self, Chunk, ChunkOut, Partial, slim};
pub use super::mask::{Fate, RoutedChunk};
use super::mask::{quarantine_mask, routing_rules};
use super::settle::{settle_chunk, settle_uniqueness};
pub use super::spill::Replay;
use super::spill::{Settled, Spilled, unique_results};
use super::verdict::decide;
use crate::error::Result;
use crate::io::facts::{ChunkFacts, FileFacts};
use crate::par::{cores, par_map};
use crate::report::{BatchOutcome, BatchReport, ExpectationResult};

pub use super::chunk::MAX_SAMPLES;

/// Default bytes of Arrow data one batch may hold in memory (1 GiB); a larger batch is
/// evaluated in a streaming pass and read again ([`super::spill`]).
pub const DEFAULT_BATCH_MEMORY: usize = 1 << 30;

/// A batch after evaluation.
pub struct BatchResult<'a> {
    /// The batch's report entry.
    pub report: BatchReport,
    /// What to do with it.
    pub fate: Fate,
    /// Its chunks with their quarantine masks, when the batch was held in memory (empty for a
    /// batch too large to hold: see [`BatchResult::routed`]).
    pub chunks: Vec<RoutedChunk>,
    /// Rule indices that failed for the whole batch (aggregates, `quarantine_batch`).
    pub batch_failures: Vec<usize>,
    /// Schema violations of the batch.
    pub schema_violations: Vec<String>,
    replay: Option<Replayed<'a>>,
}

/// How to route again a batch that was too large to hold.
struct Replayed<'a> {
    replay: Replay,
    compiled: &'a CompiledSuite,
    source: Source<'a>,
    text: bool,
    first_row: u64,
}

/// Reads a batch's chunks again, in the same order.
pub type Source<'a> = Box<dyn Fn() -> Result<crate::io::Chunks> + Send + 'a>;

/// Routed chunks, in order.
pub type Routed<'a> = Box<dyn Iterator<Item = Result<RoutedChunk>> + Send + 'a>;

impl<'a> BatchResult<'a> {
    /// Every chunk of the batch with its quarantine mask, in order: the held chunks, or, for a
    /// batch too large to hold, its chunks read again from their source and routed as they
    /// come (evaluation is deterministic, so they route as the held batch would have). Taken
    /// once.
    pub fn routed(&mut self) -> Result<Routed<'a>> {
        let Some(r) = self.replay.take() else {
            return Ok(Box::new(
                std::mem::take(&mut self.chunks).into_iter().map(Ok),
            ));
        };
        let Replayed {
            replay,
            compiled,
            source,
            text,
            first_row,
        } = r;
        let mut first = first_row;
        Ok(Box::new(source()?.map(move |c| {
            let c = c?;
            let routed = replay.route(compiled, &c, text, first);
            first += c.num_rows() as u64;
            routed
        })))
    }
}

impl std::fmt::Debug for BatchResult<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchResult")
            .field("report", &self.report)
            .field("fate", &self.fate)
            .field("chunks", &self.chunks.len())
            .field("replay", &self.replay.is_some())
            .finish()
    }
}

/// Evaluates one batch. Call [`BatchRun::push`] for each chunk, then [`BatchRun::finish`].
pub struct BatchRun<'a> {
    compiled: &'a CompiledSuite,
    as_of: DateTime<Utc>,
    seq: u64,
    input: String,
    first_row: u64,
    pending: Vec<(RecordBatch, bool, u64, Option<ChunkFacts>)>,
    pending_bytes: usize,
    budget: usize,
    spilled: Option<Spilled>,
    text: bool,
    rows: u64,
    facts: Option<Arc<FileFacts>>,
    /// Report only: chunks evaluated as they arrive, kept slimmed (see [`BatchRun::report_only`]).
    report_only: bool,
    evaluated: Vec<Result<ChunkOut>>,
    /// Report only: the partials of the evaluated chunks, merged as they arrive (so a batch
    /// holds one metric state per rule, not one per chunk; empty until the first).
    folded: Vec<Partial>,
    /// Columns read as stand-ins (see [`BatchRun::with_plan`]).
    plan: crate::io::ColumnPlan,
    /// The input's columns and types, from its first chunk.
    input_columns: Option<String>,
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
            pending_bytes: 0,
            budget: usize::MAX,
            spilled: None,
            text: false,
            rows: 0,
            facts: None,
            report_only: false,
            evaluated: Vec::new(),
            folded: Vec::new(),
            plan: crate::io::ColumnPlan::default(),
            input_columns: None,
        }
    }

    /// For a report without routed rows (`validate`): chunks are evaluated as they arrive, a few
    /// at a time on every core, and each keeps only the columns settling uniqueness and naming
    /// sampled rows need; the batch's routed chunks then hold those columns alone (the others
    /// are null columns of type `Null`). Memory follows the chunks in flight, not the batch.
    pub fn report_only(mut self) -> Self {
        self.report_only = true;
        self
    }

    /// What the input file's statistics prove about its rows (see [`crate::facts`]): a check
    /// they settle for a chunk is not scanned there, and its report counts the rows as proven.
    pub fn with_facts(mut self, facts: Option<Arc<FileFacts>>) -> Self {
        self.facts = facts;
        self
    }

    /// Columns the batch's chunks hold as stand-ins (see [`CompiledSuite::column_plan`]): not
    /// decoded because only null-count metrics read them (or nothing does), or decoded for
    /// their nulls alone. With unread columns the batch must be a whole file with those facts
    /// ([`BatchRun::with_facts`]); their metrics then take the file's null counts.
    pub fn with_plan(mut self, plan: crate::io::ColumnPlan) -> Self {
        self.plan = plan;
        self
    }

    /// Holds at most this many bytes of Arrow data; a larger batch is evaluated chunk by chunk
    /// and finished with [`BatchRun::finish_with_source`], which reads it again. Default: no
    /// limit.
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a chunk. `text` says its columns are text to parse (CSV, NDJSON). A chunk of more
    /// than twice [`crate::io::DEFAULT_CHUNK_ROWS`] rows is evaluated as one slice per core
    /// (views, not copies), so one large pushed batch keeps every core busy as the chunks of a
    /// file do; results do not depend on the chunking.
    pub fn push(&mut self, chunk: &RecordBatch, text: bool) -> Result<()> {
        if self.input_columns.is_none() {
            self.input_columns = Some(input_columns(&chunk.schema()));
        }
        let rows = chunk.num_rows();
        if rows <= 2 * crate::io::DEFAULT_CHUNK_ROWS {
            return self.push_one(chunk, text, chunk.get_array_memory_size());
        }
        let parts = cores();
        let (each, bytes) = (rows.div_ceil(parts), chunk.get_array_memory_size() / parts);
        for start in (0..rows).step_by(each) {
            self.push_one(&chunk.slice(start, each.min(rows - start)), text, bytes)?;
        }
        Ok(())
    }

    /// Adds one chunk of `bytes` bytes (a slice's share of its batch's buffers).
    fn push_one(&mut self, chunk: &RecordBatch, text: bool, bytes: usize) -> Result<()> {
        let first = self.first_row + self.rows;
        self.rows += chunk.num_rows() as u64;
        self.text = text;
        let facts = self
            .facts
            .as_ref()
            .map(|f| f.rows(first, chunk.num_rows() as u64));
        if self.spilled.is_some() {
            // Evaluated a round at a time on every core, counted in order.
            self.pending.push((chunk.clone(), text, first, facts));
            if self.pending.len() >= 2 * cores() {
                self.absorb_pending()?;
            }
            return Ok(());
        }
        self.pending_bytes += bytes;
        self.pending.push((chunk.clone(), text, first, facts));
        if self.report_only && self.pending.len() >= 2 * cores() {
            let compiled = self.compiled;
            for out in self.evaluate_pending() {
                let out = out.map(|o| self.fold(slim(compiled, o)));
                self.evaluated.push(out);
            }
            return Ok(());
        }
        if self.pending_bytes > self.budget {
            // Too large to hold: evaluate what is held and keep only partial results.
            let mut s = Spilled::new(self.compiled.rules().len(), self.budget);
            if !self.folded.is_empty() {
                s.partials = std::mem::take(&mut self.folded);
            }
            let outs = self.evaluate_pending();
            for out in std::mem::take(&mut self.evaluated).into_iter().chain(outs) {
                s.absorb(self.compiled, out?)?;
            }
            self.spilled = Some(s);
        }
        Ok(())
    }

    /// Merges an evaluated chunk's partials into those of the chunks before it; the chunk
    /// keeps none.
    fn fold(&mut self, mut out: ChunkOut) -> ChunkOut {
        if self.folded.is_empty() {
            self.folded = self
                .compiled
                .rules()
                .iter()
                .map(|_| Partial::default())
                .collect();
        }
        for (p, q) in self
            .folded
            .iter_mut()
            .zip(std::mem::take(&mut out.partials))
        {
            p.absorb(q);
        }
        out
    }

    /// A spilled batch: evaluates the held chunks on every core and counts them in order (a
    /// batch that did not spill keeps its chunks).
    fn absorb_pending(&mut self) -> Result<()> {
        if self.spilled.is_none() {
            return Ok(());
        }
        let outs = self.evaluate_pending();
        if let Some(s) = self.spilled.as_mut() {
            for out in outs {
                s.absorb(self.compiled, out?)?;
            }
        }
        Ok(())
    }

    /// Evaluates the held chunks on every core, in order, and lets them go.
    fn evaluate_pending(&mut self) -> Vec<Result<ChunkOut>> {
        let (compiled, as_of) = (self.compiled, self.as_of);
        let outs = par_map(&self.pending, |(c, text, first, facts)| {
            chunk::evaluate(compiled, as_of, c, *text, *first, facts.as_ref())
        });
        self.pending = Vec::new();
        self.pending_bytes = 0;
        outs
    }

    /// Like [`BatchRun::finish`], reading the batch again from `source` when it was too large
    /// to hold: `source` must give the same chunks in the same order.
    pub fn finish_with_source(mut self, source: Source<'a>) -> Result<BatchResult<'a>> {
        self.absorb_pending()?;
        let Some(mut s) = self.spilled.take() else {
            return self.finish();
        };
        let compiled = self.compiled;
        let violated = !s.violations.is_empty();
        let routing = routing_rules(compiled.rules());
        let mut quarantined = 0u64;
        let mut settled = Settled::default();
        // Uniqueness settled over the held slimmed chunks when they all fit: they still carry
        // every rule's failures and the columns samples name, so the batch is decided without
        // reading it again. Else read again, each chunk settled by the counters.
        let held = match (s.held.take(), s.bound.clone()) {
            (Some(mut held), Some(bound)) if !violated => {
                let results = settle_uniqueness(compiled, &mut held, &mut s.partials, &bound)?;
                for c in &held {
                    quarantined +=
                        quarantine_mask(&c.fails, &routing, Fate::Split, c.batch.num_rows())
                            .count_set_bits() as u64;
                }
                drop(held);
                settled = Settled::of_rules(results);
                true
            }
            _ => false,
        };
        if !violated && !held {
            // Read again a round of chunks at a time, each evaluated and settled by the
            // counters on every core, then recorded in order.
            let (as_of, text, counters) = (self.as_of, self.text, &s.counters);
            let mut chunks = source()?;
            let mut first = self.first_row;
            loop {
                let mut round = Vec::with_capacity(2 * cores());
                for c in chunks.by_ref().take(2 * cores()) {
                    let c = c?;
                    round.push((first, c));
                    first += round.last().map_or(0, |(_, c)| c.num_rows() as u64);
                }
                if round.is_empty() {
                    break;
                }
                let outs = par_map(&round, |(first, c)| -> Result<_> {
                    let out = chunk::evaluate(compiled, as_of, c, text, *first, None)?.chunk;
                    let results = unique_results(compiled, counters, &out)?;
                    Ok((out, results))
                });
                for out in outs {
                    let (mut out, results) = out?;
                    for (ri, p) in settle_chunk(compiled, &results, &mut out) {
                        s.partials[ri].absorb(p);
                    }
                    settled.push(&results);
                    quarantined +=
                        quarantine_mask(&out.fails, &routing, Fate::Split, out.batch.num_rows())
                            .count_set_bits() as u64;
                }
            }
        }
        if let Some(bound) = s.bound.as_deref() {
            self.settle_unread(bound, &mut s.partials)?;
        }
        let (results, batch_failures, fate) = decide(
            compiled,
            s.bound.as_deref(),
            &mut s.partials,
            violated,
            self.rows,
            self.as_of,
        );
        let quarantined = match fate {
            Fate::QuarantineAll => self.rows,
            Fate::Fail => 0,
            Fate::Split => quarantined,
        };
        let mut report = report(&self, fate, quarantined, s.violations.clone(), results);
        report.over_budget = true;
        Ok(BatchResult {
            report,
            fate,
            chunks: Vec::new(),
            batch_failures,
            schema_violations: s.violations,
            replay: Some(Replayed {
                replay: Replay::new(settled.whole(self.first_row)?, fate, self.as_of),
                compiled,
                source,
                text: self.text,
                first_row: self.first_row,
            }),
        })
    }

    /// Evaluates every chunk, settles uniqueness, decides every verdict and the batch's fate,
    /// and routes each chunk. A batch that went over its memory budget needs
    /// [`BatchRun::finish_with_source`].
    pub fn finish(mut self) -> Result<BatchResult<'a>> {
        if self.spilled.is_some() {
            return Err(crate::error::Error::Usage(format!(
                "batch {} of {} is larger than the memory budget and has no source to read it again",
                self.seq, self.input
            )));
        }
        let compiled = self.compiled;
        let rules = compiled.rules();
        let as_of = self.as_of;
        if self.pending.is_empty() && self.evaluated.is_empty() {
            // Every expectation is judged even over no rows; the columns come from the
            // contract, or the batch has nothing to bind to.
            let Some(contract) = compiled.suite().schema.as_ref() else {
                return Err(crate::error::Error::Usage(format!(
                    "batch {} of {} has no chunk and the suite no contract: push at least an \
                     empty record batch so its columns are known",
                    self.seq, self.input
                )));
            };
            let empty = RecordBatch::new_empty(contract.arrow_schema());
            self.pending.push((empty, false, self.first_row, None));
        }
        let mut outs = std::mem::take(&mut self.evaluated);
        outs.extend(self.evaluate_pending());
        let mut chunks: Vec<Chunk> = Vec::with_capacity(outs.len());
        let mut partials: Vec<Partial> = match std::mem::take(&mut self.folded) {
            f if f.is_empty() => rules.iter().map(|_| Partial::default()).collect(),
            f => f,
        };
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
            self.settle_unread(bound, &mut partials)?;
        }

        let (results, batch_failures, fate) = decide(
            compiled,
            bound.as_deref(),
            &mut partials,
            violated,
            self.rows,
            as_of,
        );

        // Routing.
        let routing = routing_rules(rules);
        let mut quarantined = 0u64;
        let routed: Vec<RoutedChunk> = chunks
            .into_iter()
            .map(|c| {
                let r = RoutedChunk::route(c, &routing, fate);
                quarantined += r.quarantine.count_set_bits() as u64;
                r
            })
            .collect();
        Ok(BatchResult {
            report: report(&self, fate, quarantined, violations.clone(), results),
            fate,
            chunks: routed,
            batch_failures,
            schema_violations: violations,
            replay: None,
        })
    }
}

impl BatchRun<'_> {
    /// Gives the null-count metrics over unread columns the file's counts, and checks that no
    /// rule read the values of a column decoded for its nulls alone.
    fn settle_unread(&self, bound: &super::Bound, partials: &mut [Partial]) -> Result<()> {
        super::unread::settle(
            self.compiled,
            bound,
            partials,
            &self.plan,
            self.facts.as_deref(),
            self.first_row,
            self.rows,
        )
        .ok_or_else(|| {
            crate::error::Error::Usage(format!(
                "batch {} of {}: columns {:?} were not read and {:?} only for their nulls, and \
                 the file's statistics do not settle every check of them",
                self.seq, self.input, self.plan.unread, self.plan.nulls_only
            ))
        })
    }
}

fn report(
    run: &BatchRun<'_>,
    fate: Fate,
    quarantined: u64,
    violations: Vec<String>,
    results: Vec<ExpectationResult>,
) -> BatchReport {
    let outcome = match fate {
        Fate::Fail => BatchOutcome::Failed,
        Fate::QuarantineAll => BatchOutcome::BatchQuarantined,
        Fate::Split if quarantined > 0 => BatchOutcome::RowsQuarantined,
        Fate::Split => BatchOutcome::Passed,
    };
    BatchReport {
        batch: run.seq,
        input: run.input.clone(),
        first_row: run.first_row,
        rows: run.rows,
        rows_passed: if fate == Fate::Fail {
            0
        } else {
            run.rows - quarantined
        },
        rows_quarantined: quarantined,
        outcome,
        schema_violations: violations,
        expectations: results,
        over_budget: false,
        committed: None,
        input_columns: run.input_columns.clone(),
    }
}

/// `name type, name type, ...`: the columns as the input presents them, with string layouts
/// and dictionary encodings (which vary from file to file of the same data) as their values.
fn input_columns(schema: &arrow::datatypes::Schema) -> String {
    use arrow::datatypes::DataType;
    schema
        .fields()
        .iter()
        .map(|f| {
            let dt = match f.data_type() {
                DataType::Dictionary(_, v) => v.as_ref(),
                d => d,
            };
            let ty = if crate::types::is_string_like(dt) {
                "string".to_string()
            } else {
                crate::types::type_name(dt)
            };
            format!("{} {ty}", f.name())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

//! Batches larger than the memory budget: evaluated without holding them, then read again from
//! their source.
//!
//! ```text
//!  pass 1 (push)   chunks evaluated a round at a time on every core, their partial results
//!                  merged; each chunk slimmed to its rules' failures and the columns
//!                  uniqueness and samples read, and held while those fit the budget; past it,
//!                  the held and later chunks counted into uniqueness counters and dropped
//!  pass 2 (finish) held: uniqueness settled over the slimmed chunks as over a held batch.
//!                  Counted: the batch read again, each chunk settled by the counters. Either
//!                  way rows to quarantine counted, uniqueness kept as one result bit per row
//!                  and rule; then verdicts and the fate
//!  pass 3 (route)  for the gate, read once more: each chunk re-evaluated and routed, its
//!                  uniqueness results taken from pass 2's
//! ```
//!
//! Memory is a round of chunks plus the slimmed chunks (about the budget at most) or the
//! uniqueness counters (proportional to the distinct values of the batch), instead of the whole
//! batch. Evaluation is deterministic, so every pass sees the same results.

use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use chrono::{DateTime, Utc};

use super::CompiledSuite;
use super::bind::{Bound, Op};
use super::chunk::{self, Chunk, ChunkOut, Partial, columns};
use super::kernels::unique::{CompoundCounter, UniqueCounter};
use super::mask::{Fate, RoutedChunk, routing_rules};
use super::settle::settle_chunk;
use crate::error::Result;
use crate::suite::NullPolicy;

/// Frequencies of one uniqueness rule's values over a whole batch.
#[derive(Debug)]
pub(crate) enum Counter {
    Unique(UniqueCounter, bool),
    Compound(CompoundCounter),
}

impl Counter {
    /// A new counter for a uniqueness rule; `None` for any other.
    pub(crate) fn of(op: &Op) -> Result<Option<Counter>> {
        Ok(match op {
            Op::Unique { nulls_distinct, .. } => {
                Some(Counter::Unique(UniqueCounter::default(), *nulls_distinct))
            }
            Op::Compound { types, .. } => Some(Counter::Compound(CompoundCounter::new(types)?)),
            _ => None,
        })
    }

    /// Counts the in-scope values of a chunk.
    pub(crate) fn count(
        &mut self,
        op: &Op,
        batch: &RecordBatch,
        scope: Option<&BooleanBuffer>,
    ) -> Result<()> {
        match (self, op) {
            (Counter::Unique(u, _), Op::Unique { col, .. }) => {
                u.count(batch.column(*col).as_ref(), scope)
            }
            (Counter::Compound(c), Op::Compound { cols, .. }) => {
                c.count(&columns(batch, cols), scope)?
            }
            _ => {}
        }
        Ok(())
    }

    /// Each row of a chunk by its value's final count, and the null policy that applies.
    pub(crate) fn evaluate(
        &self,
        op: &Op,
        batch: &RecordBatch,
        nulls: NullPolicy,
    ) -> Result<Option<(BooleanArray, NullPolicy)>> {
        Ok(match (self, op) {
            (Counter::Unique(u, nulls_distinct), Op::Unique { col, .. }) => Some((
                u.evaluate(batch.column(*col).as_ref(), *nulls_distinct),
                nulls,
            )),
            // A tuple with a null passes; the rule's policy does not apply.
            (Counter::Compound(c), Op::Compound { cols, .. }) => {
                Some((c.evaluate(&columns(batch, cols))?, NullPolicy::Ignore))
            }
            _ => None,
        })
    }
}

/// What pass 1 keeps.
#[derive(Debug)]
pub(crate) struct Spilled {
    pub partials: Vec<Partial>,
    pub counters: Vec<Option<Counter>>,
    pub violations: Vec<String>,
    pub bound: Option<Arc<Bound>>,
    /// The chunks slimmed to the columns uniqueness and samples read, while they fit the
    /// budget: uniqueness is then settled over them as over a held batch, and the counters are
    /// not used. Past the budget they are counted, and dropped.
    pub held: Option<Vec<Chunk>>,
    held_bytes: usize,
    budget: usize,
}

impl Spilled {
    /// Pass 1 of a batch with `rules` rules, holding its slimmed chunks up to `budget` bytes.
    pub(crate) fn new(rules: usize, budget: usize) -> Self {
        Spilled {
            partials: (0..rules).map(|_| Partial::default()).collect(),
            counters: (0..rules).map(|_| None).collect(),
            violations: Vec::new(),
            bound: None,
            held: Some(Vec::new()),
            held_bytes: 0,
            budget,
        }
    }

    /// Pass 1 for one evaluated chunk (chunks in order).
    pub(crate) fn absorb(&mut self, compiled: &CompiledSuite, out: ChunkOut) -> Result<()> {
        let mut out = chunk::slim(compiled, out);
        for v in std::mem::take(&mut out.violations) {
            if !self.violations.contains(&v) {
                self.violations.push(v);
            }
        }
        for (p, q) in self
            .partials
            .iter_mut()
            .zip(std::mem::take(&mut out.partials))
        {
            p.absorb(q);
        }
        let Some(bound) = out.chunk.bound.clone() else {
            return Ok(());
        };
        self.bound.get_or_insert(bound.clone());
        let settles = |op: &Op| matches!(op, Op::Unique { .. } | Op::Compound { .. });
        if !bound.rules.iter().any(|br| settles(&br.op)) {
            self.held = None;
        }
        if let Some(held) = self.held.as_mut() {
            self.held_bytes += out.chunk.batch.get_array_memory_size();
            held.push(out.chunk);
            if self.held_bytes <= self.budget {
                return Ok(());
            }
            // Too many even slimmed: counted from here on.
            for chunk in self.held.take().unwrap_or_default() {
                self.count(&bound, &chunk)?;
            }
            return Ok(());
        }
        self.count(&bound, &out.chunk)
    }

    /// Counts a chunk's values for every uniqueness rule, each rule's counter on a core of its
    /// own.
    fn count(&mut self, bound: &Bound, chunk: &Chunk) -> Result<()> {
        for (ri, br) in bound.rules.iter().enumerate() {
            if self.counters[ri].is_none() {
                self.counters[ri] = Counter::of(&br.op)?;
            }
        }
        let counting: Vec<std::sync::Mutex<(usize, &mut Counter)>> = self
            .counters
            .iter_mut()
            .enumerate()
            .filter_map(|(ri, c)| c.as_mut().map(|c| std::sync::Mutex::new((ri, c))))
            .collect();
        for counted in crate::par::par_map(&counting, |c| {
            let mut c = c.lock().expect("one task per counter");
            let (ri, counter) = &mut *c;
            counter.count(
                &bound.rules[*ri].op,
                &chunk.batch,
                chunk.scopes[*ri].as_ref(),
            )
        }) {
            counted?;
        }
        Ok(())
    }
}

/// Each uniqueness rule's results for a chunk by the finished counters, with the null policy
/// that applies to them.
pub(crate) fn unique_results(
    compiled: &CompiledSuite,
    counters: &[Option<Counter>],
    chunk: &Chunk,
) -> Result<Vec<(usize, BooleanArray, NullPolicy)>> {
    let Some(bound) = chunk.bound.clone() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (ri, (rule, br)) in compiled.rules().iter().zip(&bound.rules).enumerate() {
        let Some(counter) = &counters[ri] else {
            continue;
        };
        if let Some((result, policy)) = counter.evaluate(&br.op, &chunk.batch, rule.nulls)? {
            out.push((ri, result, policy));
        }
    }
    Ok(out)
}

/// Each uniqueness rule's results over a whole spilled batch, gathered chunk by chunk in pass 2
/// so that pass 3 routes by them instead of asking the counters again.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    /// Per rule: the results of the chunks so far, in order, and their null policy.
    pieces: Vec<(usize, Vec<BooleanArray>, NullPolicy)>,
}

impl Settled {
    /// Results already gathered per rule: each rule's results per chunk, in order.
    pub(crate) fn of_rules(pieces: Vec<(usize, Vec<BooleanArray>, NullPolicy)>) -> Self {
        Settled { pieces }
    }

    /// Adds the next chunk's results.
    pub(crate) fn push(&mut self, results: &[(usize, BooleanArray, NullPolicy)]) {
        for (ri, result, policy) in results {
            match self.pieces.iter_mut().find(|(r, _, _)| r == ri) {
                Some((_, pieces, _)) => pieces.push(result.clone()),
                None => self.pieces.push((*ri, vec![result.clone()], *policy)),
            }
        }
    }

    /// The results over the whole batch, whose first row is `first_row`.
    pub(crate) fn whole(self, first_row: u64) -> Result<Whole> {
        let results = self
            .pieces
            .into_iter()
            .map(|(ri, pieces, policy)| {
                let refs: Vec<&dyn arrow::array::Array> = pieces
                    .iter()
                    .map(|a| a as &dyn arrow::array::Array)
                    .collect();
                let whole = arrow::compute::concat(&refs)?;
                Ok((ri, whole.as_boolean().clone(), policy))
            })
            .collect::<Result<_>>()?;
        Ok(Whole { results, first_row })
    }
}

/// Each uniqueness rule's results over a whole batch, one array per rule.
#[derive(Debug)]
pub(crate) struct Whole {
    results: Vec<(usize, BooleanArray, NullPolicy)>,
    /// The batch's first row.
    first_row: u64,
}

impl Whole {
    /// The results of the `n` rows from `first_row` (of the file, as chunks count them).
    pub(crate) fn chunk(
        &self,
        first_row: u64,
        n: usize,
    ) -> Result<Vec<(usize, BooleanArray, NullPolicy)>> {
        let at = (first_row - self.first_row) as usize;
        let mut out = Vec::with_capacity(self.results.len());
        for (ri, whole, policy) in &self.results {
            if at + n > whole.len() {
                return Err(crate::error::Error::Usage(format!(
                    "the batch read again holds more rows ({}) than when it was evaluated ({})",
                    at + n,
                    whole.len()
                )));
            }
            out.push((*ri, whole.slice(at, n), *policy));
        }
        Ok(out)
    }
}

/// Routes the chunks of a batch that was too large to hold, as they are read again (pass 3).
#[derive(Debug)]
pub struct Replay {
    /// Each uniqueness rule's results over the batch, from pass 2.
    settled: Whole,
    fate: Fate,
    as_of: DateTime<Utc>,
}

impl Replay {
    pub(crate) fn new(settled: Whole, fate: Fate, as_of: DateTime<Utc>) -> Self {
        Replay {
            settled,
            fate,
            as_of,
        }
    }

    /// Evaluates one re-read chunk again and gives its quarantine mask, as if the batch had been
    /// held whole. Chunks must come in the batch's order.
    pub fn route(
        &self,
        compiled: &CompiledSuite,
        input: &RecordBatch,
        text: bool,
        first_row: u64,
    ) -> Result<RoutedChunk> {
        let mut chunk = chunk::evaluate(compiled, self.as_of, input, text, first_row, None)?.chunk;
        let results = self.settled.chunk(first_row, input.num_rows())?;
        settle_chunk(compiled, &results, &mut chunk);
        let routing = routing_rules(compiled.rules());
        Ok(RoutedChunk::route(chunk, &routing, self.fate))
    }
}

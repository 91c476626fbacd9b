//! `unique` and `compound_unique` over a batch whose chunks are held (whole, or slimmed to the
//! columns uniqueness and samples read): they need every value of the batch, so they are
//! settled after all chunks were evaluated, then recorded per chunk like any row-level result
//! ([`settle_chunk`], also how a spilled batch records the results its counters give).

use arrow::array::{Array, BooleanArray};
use arrow::buffer::BooleanBuffer;

use super::CompiledSuite;
use super::bind::{Bound, Op};
use super::chunk::{Chunk, Partial, columns, record};
use super::kernels::batch_compound::compound_over;
use super::kernels::batch_unique::unique_over;
use super::nulls::outcome;
use crate::error::Result;
use crate::suite::NullPolicy;

/// Settles `unique` and `compound_unique` over a held batch's chunks: their failures marked in
/// each chunk and recorded in `partials`. Gives each rule's results per chunk.
pub(super) fn settle_uniqueness(
    compiled: &CompiledSuite,
    chunks: &mut [Chunk],
    partials: &mut [Partial],
    bound: &Bound,
) -> Result<Vec<(usize, Vec<BooleanArray>, NullPolicy)>> {
    let all = uniqueness_results(compiled, chunks, bound)?;
    for (i, c) in chunks.iter_mut().enumerate() {
        let results: Vec<_> = all
            .iter()
            .map(|(ri, results, policy)| (*ri, results[i].clone(), *policy))
            .collect();
        for (ri, p) in settle_chunk(compiled, &results, c) {
            partials[ri].absorb(p);
        }
    }
    Ok(all)
}

/// Marks a chunk's rows by its uniqueness results; returns each uniqueness rule's partial.
pub(crate) fn settle_chunk(
    compiled: &CompiledSuite,
    results: &[(usize, BooleanArray, NullPolicy)],
    chunk: &mut Chunk,
) -> Vec<(usize, Partial)> {
    let Some(bound) = chunk.bound.clone() else {
        return Vec::new();
    };
    let rules = compiled.rules();
    let mut out = Vec::new();
    for (ri, result, policy) in results {
        let (rule, br) = (&rules[*ri], &bound.rules[*ri]);
        let scope = chunk.scopes[*ri].clone();
        let o = outcome(result, *policy, scope.as_ref());
        let mut p = Partial::default();
        record(&mut p, o, chunk, *ri, &br.sample_cols, compiled, rule);
        out.push((*ri, p));
    }
    out
}

/// Each uniqueness rule's results over a held batch's chunks, one array per chunk, with the
/// null policy that applies to them.
fn uniqueness_results(
    compiled: &CompiledSuite,
    chunks: &[Chunk],
    bound: &Bound,
) -> Result<Vec<(usize, Vec<BooleanArray>, NullPolicy)>> {
    let mut out = Vec::new();
    for (ri, (rule, br)) in compiled.rules().iter().zip(&bound.rules).enumerate() {
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
                let columns: Vec<_> = chunks
                    .iter()
                    .map(|c| (columns(&c.batch, cols), c.scopes[ri].as_ref()))
                    .collect();
                compound_over(types, &columns)?
            }
            _ => continue,
        };
        let policy = match &br.op {
            Op::Compound { .. } => NullPolicy::Ignore,
            _ => rule.nulls,
        };
        out.push((ri, results, policy));
    }
    Ok(out)
}

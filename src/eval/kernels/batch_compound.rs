//! `compound_unique` over a whole batch held in memory, every chunk at once.
//!
//! Each in-scope tuple without a null becomes a `(hash, row)` pair, the hash combined from the
//! columns' values a column at a time (on every core, in pieces), and the pairs are grouped by
//! hash: only the tuples in a group of equal hashes (the repeats, and rarely a collision) are
//! converted to the Arrow row format, and those whose row bytes are equal too are the repeats
//! (the sorted strategy of [`super::batch_unique`], for tuples). No allocation per value,
//! unlike a hash map of every distinct tuple, and no row bytes for the tuples that occur once.

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::compute::interleave;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};
use datafusion::common::hash_utils::create_hashes;

use super::batch_unique::{PACKED_ROW_BITS, mark_repeats, row_bits, shared_keys, shared_words};
use super::unique::any_null;
use crate::par::fill_parts;

/// Rows converted and hashed as one task.
/// (Small under test, so that tests cut chunks into pieces.)
const PIECE_ROWS: usize = if cfg!(test) { 64 } else { 1 << 16 };

/// Settles `compound_unique` over every chunk of a batch: per chunk, `true` where the tuple
/// occurs once among the batch's in-scope tuples without a null, or has a null column.
pub(crate) fn compound_over(
    types: &[DataType],
    chunks: &[(Vec<ArrayRef>, Option<&BooleanBuffer>)],
) -> Result<Vec<BooleanArray>, ArrowError> {
    compound_packing(types, chunks, PACKED_ROW_BITS)
}

/// [`compound_over`], packing hash and row into one word when the rows take at most
/// `packed_row_bits` bits.
fn compound_packing(
    types: &[DataType],
    chunks: &[(Vec<ArrayRef>, Option<&BooleanBuffer>)],
    packed_row_bits: u32,
) -> Result<Vec<BooleanArray>, ArrowError> {
    let converter = RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?;
    // The batch's rows in pieces of at most PIECE_ROWS, so one large chunk still uses every
    // core: (chunk, first row in it, rows).
    let mut pieces = Vec::new();
    for (c, (cols, _)) in chunks.iter().enumerate() {
        let len = cols.first().map_or(0, |c| c.len());
        let mut from = 0;
        while from < len {
            let n = PIECE_ROWS.min(len - from);
            pieces.push((c, from, n));
            from += n;
        }
    }
    let mut starts = Vec::with_capacity(pieces.len() + 1);
    starts.push(0u64);
    for (_, _, n) in &pieces {
        starts.push(starts.last().copied().unwrap_or(0) + *n as u64);
    }
    // 1. Every counted tuple hashed, piece by piece on every core, and its hash and row packed
    //    into one word when the rows leave room (else kept as a pair); 2. grouped on every core
    //    (`repeats`), the tuples sharing a hash are the candidates.
    // Seeded per call, so no input can be built to collide on purpose.
    let seed = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0);
    let state = datafusion::common::hash_utils::RandomState::with_seed(seed);
    let total = *starts.last().unwrap_or(&0);
    let low = row_bits(total.saturating_sub(1));
    let hash = |put: &mut dyn FnMut(u64, u64), p: usize| -> Result<(), ArrowError> {
        let (c, from, n) = pieces[p];
        let (cols, scope) = &chunks[c];
        let cols: Vec<ArrayRef> = cols.iter().map(|a| a.slice(from, n)).collect();
        let mut hashes = vec![0u64; n];
        create_hashes(&cols, &state, &mut hashes)
            .map_err(|e| ArrowError::ComputeError(e.to_string()))?;
        let nulls = any_null(&cols);
        let base = starts[p];
        for (i, h) in hashes.into_iter().enumerate() {
            if scope.is_none_or(|s| s.value(from + i))
                && nulls.as_ref().is_none_or(|n| n.is_valid(i))
            {
                put(h, base + i as u64);
            }
        }
        Ok(())
    };
    // One vector of items per piece.
    let sizes: Vec<usize> = pieces.iter().map(|(_, _, n)| *n).collect();
    let shared: Vec<(u64, u64)> = if low <= packed_row_bits {
        let mask = (1u64 << low) - 1;
        let words = fill_parts(&sizes, |p, put: &mut dyn FnMut(u64)| {
            hash(&mut |h, row| put((h & !mask) | row), p)
        })?;
        shared_words(words, low)
            .into_iter()
            .map(|k| (k & !mask, k & mask))
            .collect()
    } else {
        let pairs = fill_parts(&sizes, |p, put: &mut dyn FnMut((u64, u64))| {
            hash(&mut |h, row| put((h, row)), p)
        })?;
        shared_keys(pairs)
    };
    // 3. The candidates converted to row bytes and confirmed by them.
    let mut at: Vec<(u64, usize)> = shared.iter().enumerate().map(|(i, k)| (k.1, i)).collect();
    at.sort_unstable();
    let where_is = |row: u64| {
        let p = starts.partition_point(|s| *s <= row) - 1;
        let (c, from, _) = pieces[p];
        (c, from + (row - starts[p]) as usize)
    };
    let take: Vec<(usize, usize)> = shared.iter().map(|k| where_is(k.1)).collect();
    let gathered = (0..types.len())
        .map(|j| {
            let column: Vec<&dyn Array> = chunks.iter().map(|(cols, _)| cols[j].as_ref()).collect();
            match column.first() {
                Some(first) if take.is_empty() => Ok(first.slice(0, 0)),
                _ => interleave(&column, &take),
            }
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    let rows = converter.convert_columns(&gathered)?;
    let mut pass = vec![u64::MAX; (total as usize).div_ceil(64)];
    let bytes = |row: u64| {
        let i = at[at.partition_point(|(r, _)| *r < row)].1;
        rows.row(i).data()
    };
    mark_repeats(vec![shared], Some(&bytes), |row| {
        pass[(row >> 6) as usize] &= !(1u64 << (row & 63))
    });
    // 4. Each chunk's share; a tuple with a null passes (the rule's null policy does not apply).
    let pass = Buffer::from_vec(pass);
    let mut at = 0;
    Ok(chunks
        .iter()
        .map(|(cols, _)| {
            let len = cols.first().map_or(0, |c| c.len());
            let values = BooleanBuffer::new(pass.clone(), at, len);
            at += len;
            let values = match any_null(cols) {
                Some(n) => &values | &!n.inner(),
                None => values,
            };
            BooleanArray::new(values, None)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray, TimestampMicrosecondArray};

    use super::*;
    use crate::eval::kernels::unique::CompoundCounter;

    /// Tuples across chunks, with nulls and a scope: the same verdicts as the streaming counter.
    #[test]
    fn agrees_with_the_streaming_counter() {
        let mut lcg = crate::testing::Lcg(5);
        let mut next = || lcg.next() >> 33;
        let chunk = |n: usize, next: &mut dyn FnMut() -> u64| -> Vec<ArrayRef> {
            let s: StringArray = (0..n)
                .map(|_| {
                    let v = next() % 40;
                    (v != 0).then(|| format!("id-{v}"))
                })
                .collect();
            let t: TimestampMicrosecondArray = (0..n)
                .map(|_| Some((next() % 3) as i64 * 1_000_000))
                .collect();
            let k = Int64Array::from_iter_values((0..n).map(|_| (next() % 2) as i64));
            vec![Arc::new(s), Arc::new(t.with_timezone("UTC")), Arc::new(k)]
        };
        let chunks = [
            chunk(300, &mut next),
            chunk(200, &mut next),
            chunk(1, &mut next),
        ];
        let types: Vec<DataType> = chunks[0].iter().map(|c| c.data_type().clone()).collect();
        let scope = BooleanBuffer::from_iter((0..200).map(|i| i % 7 != 0));
        let scopes = [None, Some(&scope), None];
        let mut counter = CompoundCounter::new(&types).unwrap();
        for (c, s) in chunks.iter().zip(scopes) {
            counter.count(c, s).unwrap();
        }
        let input: Vec<_> = chunks.iter().cloned().zip(scopes).collect();
        // Hash and row packed in one word, and kept as pairs (rows too many to pack).
        for packed_row_bits in [PACKED_ROW_BITS, 0] {
            let got = compound_packing(&types, &input, packed_row_bits).unwrap();
            let mut failed = 0;
            for ((c, s), g) in chunks.iter().zip(scopes).zip(&got) {
                let want = counter.evaluate(c).unwrap();
                for i in 0..c[0].len() {
                    if s.is_none_or(|s| s.value(i)) {
                        assert_eq!(g.value(i), want.value(i), "row {i}");
                        failed += (!g.value(i)) as usize;
                    }
                }
            }
            assert!(failed > 100, "the data must repeat: {failed}");
        }
    }
}

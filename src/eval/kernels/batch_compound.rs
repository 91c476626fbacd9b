//! `compound_unique` over a whole batch held in memory, every chunk at once.
//!
//! Each chunk's tuple columns are converted to the Arrow row format (one buffer per chunk, on
//! every core), each in-scope tuple without a null becomes a `(hash of its row bytes, row)`
//! pair, and the pairs are sorted: runs of equal hashes whose bytes are equal too are the
//! repeats (the sorted strategy of [`super::batch_unique`], for tuples). No allocation per
//! value, unlike a hash map of every distinct tuple.

use std::hash::BuildHasher;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};

use super::batch_unique::mark_repeats;
use super::unique::any_null;
use crate::par::par_map;

/// Rows converted and hashed as one task.
/// (Small under test, so that tests cut chunks into pieces.)
const PIECE_ROWS: usize = if cfg!(test) { 64 } else { 1 << 16 };

/// Settles `compound_unique` over every chunk of a batch: per chunk, `true` where the tuple
/// occurs once among the batch's in-scope tuples without a null, or has a null column.
pub(crate) fn compound_over(
    types: &[DataType],
    chunks: &[(Vec<ArrayRef>, Option<&BooleanBuffer>)],
) -> Result<Vec<BooleanArray>, arrow::error::ArrowError> {
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
    // 1. Row bytes and (hash, row) pairs of every counted tuple, piece by piece on every core.
    let hasher = hashbrown::DefaultHashBuilder::default();
    let idx: Vec<usize> = (0..pieces.len()).collect();
    let parts = par_map(
        &idx,
        |&p| -> Result<(Rows, Vec<(u64, u64)>), arrow::error::ArrowError> {
            let (c, from, n) = pieces[p];
            let (cols, scope) = &chunks[c];
            let cols: Vec<ArrayRef> = cols.iter().map(|a| a.slice(from, n)).collect();
            let rows = converter.convert_columns(&cols)?;
            let nulls = any_null(&cols);
            let counted = |i: usize| {
                scope.is_none_or(|s| s.value(from + i))
                    && nulls.as_ref().is_none_or(|n| n.is_valid(i))
            };
            let base = starts[p];
            let keys = (0..n)
                .filter(|&i| counted(i))
                .map(|i| (hasher.hash_one(rows.row(i).data()), base + i as u64))
                .collect();
            Ok((rows, keys))
        },
    );
    let mut rows = Vec::with_capacity(parts.len());
    let mut keys: Vec<(u64, u64)> = Vec::new();
    for p in parts {
        let (r, k) = p?;
        rows.push(r);
        keys.extend(k);
    }
    // 2. Sorted by hash, confirmed by bytes.
    let total = *starts.last().unwrap_or(&0) as usize;
    let mut pass = vec![u64::MAX; total.div_ceil(64)];
    let bytes = |row: u64| {
        let c = starts.partition_point(|s| *s <= row) - 1;
        rows[c].row((row - starts[c]) as usize).data()
    };
    mark_repeats(&mut keys, Some(&bytes), |row| {
        pass[(row >> 6) as usize] &= !(1u64 << (row & 63))
    });
    drop(keys);
    // 3. Each chunk's share; a tuple with a null passes (the rule's null policy does not apply).
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
        let mut seed = 5u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
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
        let got = compound_over(&types, &input).unwrap();
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

//! `unique` over a whole batch held in memory, every chunk at once.
//!
//! Three strategies, the first that applies wins:
//!
//! ```text
//!  dense    integer-like values spanning a range a few times their count (ids, surrogate keys,
//!           dates): two bits per slot of the range, `seen` and `repeated`, marked on every core
//!  sorted   any other keyed column: each in-scope value becomes a 64-bit key (the value itself
//!           for integers and floats, a hash for strings and binary), and the groups of
//!           (key, row) pairs with equal keys are the repeats (found in cache-sized buckets on
//!           every core, see `repeats`); equal hashes are confirmed by comparing bytes, so a
//!           collision never fails a row
//!  counted  what is left (wide decimals): the streaming frequency counter
//! ```
//!
//! Buckets replace a hash map of every distinct value: no allocation per value, and each
//! bucket's table fits the cache instead of one cache miss per row.

use std::hash::BuildHasher;

use arrow::array::{Array, BooleanArray};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::datatypes::DataType;

use super::repeats::in_groups;
use crate::metrics::distinct::{DENSE_MAX_SLOTS, DENSE_SPREAD, UniqueCounter};
use crate::par::{fill_parts, par_map};
use crate::values::access::{ByteAt, for_each_bytes, pack_bits};
use crate::values::domain::{Domain, domain_of};
use crate::values::numeric::for_each_int;
use crate::values::numeric::{for_each_int_key, wanted};

/// Settles `unique` over every chunk of a batch at once: `true` where the row's value occurs
/// once among the batch's in-scope values.
pub(crate) fn unique_over(
    columns: &[(&dyn Array, Option<&BooleanBuffer>)],
    nulls_distinct: bool,
) -> Vec<BooleanArray> {
    if let Some(out) = dense(columns, nulls_distinct) {
        return out;
    }
    if let Some(out) = sorted(columns, nulls_distinct) {
        return out;
    }
    let mut c = UniqueCounter::default();
    for (a, s) in columns {
        c.count(*a, *s);
    }
    columns
        .iter()
        .map(|(a, _)| c.evaluate(*a, nulls_distinct))
        .collect()
}

/// In-scope nulls of every chunk.
fn null_count(columns: &[(&dyn Array, Option<&BooleanBuffer>)]) -> u32 {
    columns
        .iter()
        .map(|(a, s)| {
            let nulls = a.logical_nulls().map_or(0, |n| match s {
                Some(s) => (&!n.inner() & *s).count_set_bits(),
                None => n.null_count(),
            });
            nulls as u32
        })
        .sum()
}

/// A chunk's result from its values' verdicts (`true`: the value occurs once) and the null
/// rule: with `nulls_distinct` a null row gets a null result; otherwise nulls are one value,
/// passing when there is only one of them.
fn settle(values: BooleanBuffer, a: &dyn Array, nulls_distinct: bool, nulls: u32) -> BooleanArray {
    if nulls_distinct {
        return BooleanArray::new(values, a.logical_nulls());
    }
    let values = match a.logical_nulls() {
        Some(n) if nulls > 1 => &values & n.inner(),
        Some(n) => &values | &!n.inner(),
        None => values,
    };
    BooleanArray::new(values, None)
}

fn dense(
    columns: &[(&dyn Array, Option<&BooleanBuffer>)],
    nulls_distinct: bool,
) -> Option<Vec<BooleanArray>> {
    use crate::par::par_map;
    use crate::values::numeric::map_int_like;
    // Wide decimals may not fit 64 bits; narrow ones (`Decimal32`, `Decimal64`) do.
    if columns.is_empty()
        || columns.iter().any(|(a, _)| {
            domain_of(a.data_type()) != Some(Domain::Int)
                || matches!(a.data_type(), arrow::datatypes::DataType::Decimal128(_, _))
        })
    {
        return None;
    }
    let wants: Vec<BooleanBuffer> = columns.iter().map(|(a, s)| wanted(*a, *s)).collect();
    if let Some(slices) = whole_i64(columns, &wants) {
        return dense_i64(&slices, columns, nulls_distinct);
    }
    let idx: Vec<usize> = (0..columns.len()).collect();
    // 1. The range, chunk by chunk on every core.
    let ranges = par_map(&idx, |&i| {
        let (mut lo, mut hi) = (i128::MAX, i128::MIN);
        for_each_int(columns[i].0, &wants[i], |_, v| {
            lo = lo.min(v);
            hi = hi.max(v);
        });
        (lo, hi, wants[i].count_set_bits() as u128)
    });
    let (lo, hi, n) = ranges
        .iter()
        .fold((i128::MAX, i128::MIN, 0u128), |(a, b, c), (x, y, z)| {
            (a.min(*x), b.max(*y), c + z)
        });
    if n == 0 {
        return None;
    }
    let span = dense_span(lo, hi, n)?;
    // 2. Each value's slot marked seen, and repeated when seen before, on every core.
    let repeated = repeated_slots(columns.len(), span, |i, slots| {
        for_each_int(columns[i].0, &wants[i], |_, v| {
            slots.mark((v - lo) as usize)
        });
    });
    let nulls = null_count(columns);
    // 3. Each chunk's rows marked by their value's count, on every core.
    Some(par_map(columns, |(a, _)| {
        let r = map_int_like(*a, |v| {
            let k = v - lo;
            k < 0 || k >= span as i128 || (repeated[(k >> 6) as usize] >> (k & 63)) & 1 == 0
        })
        .expect("integer-like");
        settle(r.values().clone(), *a, nulls_distinct, nulls)
    }))
}

/// The slots from `lo` to `hi` when they are few enough for the dense strategy over `n` values.
fn dense_span(lo: i128, hi: i128, n: u128) -> Option<u128> {
    let span = (hi - lo) as u128 + 1;
    (span <= DENSE_SPREAD * n + 1024 && span <= DENSE_MAX_SLOTS).then_some(span)
}

/// Two bits per slot, `seen` and `repeated` (a quarter of a byte counter, so the random accesses
/// stay in cache), side by side so that one cache line holds both.
struct Slots(Vec<[u64; 2]>);

impl Slots {
    #[inline(always)]
    fn mark(&mut self, k: usize) {
        let (w, bit) = (&mut self.0[k >> 6], 1u64 << (k & 63));
        w[1] |= w[0] & bit;
        w[0] |= bit;
    }
}

/// The `repeated` bits of `span` slots after `mark(i, slots)` has marked the values of each of
/// `chunks` chunks: each core marks its share of the chunks, then the shares are combined a
/// word at a time.
fn repeated_slots(chunks: usize, span: u128, mark: impl Fn(usize, &mut Slots) + Sync) -> Vec<u64> {
    let threads = crate::par::cores().min(chunks).max(1);
    let shares: Vec<Vec<usize>> = (0..threads)
        .map(|t| (0..chunks).filter(|i| i % threads == t).collect())
        .collect();
    let words = (span as usize).div_ceil(64);
    let parts = par_map(&shares, |share| {
        let mut slots = Slots(vec![[0u64; 2]; words]);
        for &i in share {
            mark(i, &mut slots);
        }
        slots.0
    });
    let mut parts = parts.into_iter();
    let mut bits = parts.next().unwrap_or_else(|| vec![[0u64; 2]; words]);
    for other in parts {
        for (w, o) in bits.iter_mut().zip(&other) {
            w[1] |= o[1] | (w[0] & o[0]);
            w[0] |= o[0];
        }
    }
    bits.iter().map(|w| w[1]).collect()
}

/// The values of every chunk when each is a 64-bit integer column whose every row is in scope
/// and not null (ids, as they mostly are): the dense strategy then runs on plain slices.
fn whole_i64<'a>(
    columns: &[(&'a dyn Array, Option<&BooleanBuffer>)],
    wants: &[BooleanBuffer],
) -> Option<Vec<&'a [i64]>> {
    columns
        .iter()
        .zip(wants)
        .map(|((a, _), w)| {
            let a = a.as_any().downcast_ref::<arrow::array::Int64Array>()?;
            (w.count_set_bits() == a.len()).then(|| &a.values()[..])
        })
        .collect()
}

/// The dense strategy over plain slices of ids (see [`whole_i64`]): the same three steps as
/// [`dense`], without per-value conversions.
fn dense_i64(
    slices: &[&[i64]],
    columns: &[(&dyn Array, Option<&BooleanBuffer>)],
    nulls_distinct: bool,
) -> Option<Vec<BooleanArray>> {
    let ranges = par_map(slices, |s| {
        s.iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    });
    let (lo, hi) = ranges.iter().fold((i64::MAX, i64::MIN), |(a, b), (x, y)| {
        (a.min(*x), b.max(*y))
    });
    let n: usize = slices.iter().map(|s| s.len()).sum();
    if n == 0 {
        return None;
    }
    let span = dense_span(i128::from(lo), i128::from(hi), n as u128)?;
    // Offsets from `lo` fit in 64 bits (the span is at most `DENSE_MAX_SLOTS`).
    let slot = |v: i64| v.wrapping_sub(lo) as u64 as usize;
    let repeated = repeated_slots(slices.len(), span, |i, slots| {
        for &v in slices[i] {
            slots.mark(slot(v));
        }
    });
    let idx: Vec<usize> = (0..slices.len()).collect();
    Some(par_map(&idx, |&i| {
        let s = slices[i];
        let once = pack_bits(s, |v| {
            let k = slot(v);
            (repeated[k >> 6] >> (k & 63)) & 1 == 0
        });
        settle(once, columns[i].0, nulls_distinct, 0)
    }))
}

fn sorted<'a>(
    columns: &[(&'a dyn Array, Option<&BooleanBuffer>)],
    nulls_distinct: bool,
) -> Option<Vec<BooleanArray>> {
    let domain = columns
        .first()
        .and_then(|(a, _)| domain_of(a.data_type()))?;
    let exact = match domain {
        Domain::Bytes => false,
        // Unscaled wide decimals may not fit 64 bits: left to the counter.
        _ if columns
            .iter()
            .any(|(a, _)| matches!(a.data_type(), DataType::Decimal128(_, _))) =>
        {
            return None;
        }
        _ => true,
    };
    let mut starts = Vec::with_capacity(columns.len() + 1);
    starts.push(0u64);
    for (a, _) in columns {
        starts.push(starts.last().copied().unwrap_or(0) + a.len() as u64);
    }
    let total = *starts.last().unwrap_or(&0) as usize;
    let sources: Vec<ByteAt<'a>> = if exact {
        Vec::new()
    } else {
        columns.iter().map(|(a, _)| ByteAt::new(*a)).collect()
    };
    let hasher = hashbrown::DefaultHashBuilder::default();
    // 1. A key for every in-scope value, chunk by chunk on every core: `put(key, row in chunk)`.
    let wants: Vec<BooleanBuffer> = columns.iter().map(|(a, s)| wanted(*a, *s)).collect();
    let key_of = |c: usize, put: &mut dyn FnMut(u64, usize)| -> bool {
        let (a, _) = columns[c];
        let rows = &wants[c];
        if exact {
            for_each_int_key(a, rows, |i, k| put(k as u64, i))
        } else if let Some((codes, values)) = sources[c].dictionary() {
            // One hash per dictionary value, not per row.
            let mut hashes = vec![0u64; values.len()];
            for_each_bytes(values, |i, v| hashes[i] = hasher.hash_one(v));
            rows.set_indices().for_each(|i| put(hashes[codes[i]], i));
            true
        } else {
            for_each_bytes(a, |i, v| {
                if rows.value(i) {
                    put(hasher.hash_one(v), i);
                }
            })
        }
    };
    // 2. Groups of equal keys are the repeats: hashes packed with their rows into words as they
    //    are taken when the rows leave room (see `pack`), else (key, row) pairs.
    let mut pass = vec![u64::MAX; total.div_ceil(64)];
    let fail = |row: u64| pass[(row >> 6) as usize] &= !(1u64 << (row & 63));
    let bytes = |row: u64| {
        let c = starts.partition_point(|s| *s <= row) - 1;
        sources[c].get((row - starts[c]) as usize)
    };
    let low = row_bits((total as u64).saturating_sub(1));
    if !exact && low <= PACKED_ROW_BITS {
        let mask = (1u64 << low) - 1;
        let words = keyed(&wants, &starts, key_of, |k, row| (k & !mask) | row)?;
        mark_packed(words, low, &bytes, fail);
    } else {
        let keys = keyed(&wants, &starts, key_of, |k, row| (k, row))?;
        let confirm: Option<&(dyn Fn(u64) -> &'a [u8] + Sync)> =
            if exact { None } else { Some(&bytes) };
        mark_repeats(keys, confirm, fail);
    }
    // 3. Each chunk's share of the verdicts.
    let pass = Buffer::from_vec(pass);
    let nulls = null_count(columns);
    Some(
        columns
            .iter()
            .zip(&starts)
            .map(|((a, _), s)| {
                let values = BooleanBuffer::new(pass.clone(), *s as usize, a.len());
                settle(values, *a, nulls_distinct, nulls)
            })
            .collect(),
    )
}

/// Calls `fail(row)` for every row of the `(key, row)` pairs whose value occurs more than once.
/// With `confirm`, keys are hashes: rows sharing a key repeat only when their bytes are equal
/// too, and the pairs are taken as single words when the rows leave room ([`pack`]). The
/// groups of equal keys are found on every core ([`in_groups`]).
pub(super) fn mark_repeats<'b>(
    keys: Vec<Vec<(u64, u64)>>,
    confirm: Option<&(dyn Fn(u64) -> &'b [u8] + Sync)>,
    fail: impl FnMut(u64),
) {
    let keys = match confirm {
        Some(confirm) => match pack(keys) {
            Ok(packed) => return mark_packed(packed.keys, packed.low, confirm, fail),
            Err(keys) => keys,
        },
        None => keys,
    };
    in_groups(
        keys,
        |k| k.0,
        |group, out| match confirm {
            Some(bytes) => confirmed(group.iter().map(|k| k.1), bytes, out),
            None => group.iter().for_each(|k| out(k.1)),
        },
    )
    .into_iter()
    .for_each(fail);
}

/// [`mark_repeats`] over hashes packed with their rows (see [`pack`]): `low` bits of row.
fn mark_packed<'b>(
    words: Vec<Vec<u64>>,
    low: u32,
    confirm: &(dyn Fn(u64) -> &'b [u8] + Sync),
    fail: impl FnMut(u64),
) {
    let mask = (1u64 << low) - 1;
    in_groups(
        words,
        |w| w >> low,
        |group, out| confirmed(group.iter().map(|w| w & mask), confirm, out),
    )
    .into_iter()
    .for_each(fail);
}

/// Of rows whose hashes are equal, those whose bytes another of them holds too.
fn confirmed<'b>(
    rows: impl Iterator<Item = u64>,
    bytes: &(dyn Fn(u64) -> &'b [u8] + Sync),
    out: &mut dyn FnMut(u64),
) {
    let mut run: Vec<(&[u8], u64)> = rows.map(|row| (bytes(row), row)).collect();
    run.sort_unstable();
    for same in run.chunk_by(|a, b| a.0 == b.0) {
        if same.len() > 1 {
            same.iter().for_each(|(_, row)| out(*row));
        }
    }
}

/// The `item(key, row)` of every in-scope value, one vector per chunk, where `key_of(c, put)`
/// calls `put(key, i)` for the in-scope rows `i` of chunk `c` (`false`: it cannot take that
/// chunk's keys), every chunk at once on every core. `None` when a chunk's keys could not all be
/// taken (the batch is then left to the counter).
fn keyed<T: Copy + Send>(
    wants: &[BooleanBuffer],
    starts: &[u64],
    key_of: impl Fn(usize, &mut dyn FnMut(u64, usize)) -> bool + Sync,
    item: impl Fn(u64, u64) -> T + Sync,
) -> Option<Vec<Vec<T>>> {
    let counts: Vec<usize> = wants.iter().map(|w| w.count_set_bits()).collect();
    let parts = fill_parts(&counts, |c, put| {
        let ok = key_of(c, &mut |k, i| put(item(k, starts[c] + i as u64)));
        if ok { Ok(()) } else { Err(()) }
    })
    .ok()?;
    parts
        .iter()
        .zip(&counts)
        .all(|(p, n)| p.len() == *n)
        .then_some(parts)
}

/// The pairs whose key another pair holds too: the candidates for repeats when telling values
/// apart costs more than comparing keys (tuples, `compound_unique`).
pub(super) fn shared_keys(keys: Vec<Vec<(u64, u64)>>) -> Vec<(u64, u64)> {
    in_groups(
        keys,
        |k| k.0,
        |group, out| group.iter().for_each(|k| out(*k)),
    )
}

/// [`shared_keys`] over words packed as [`Packed`] holds them: a hash's high bits above `low`
/// bits of row.
pub(super) fn shared_words(words: Vec<Vec<u64>>, low: u32) -> Vec<u64> {
    in_groups(
        words,
        |w| w >> low,
        |group, out| group.iter().for_each(|w| out(*w)),
    )
}

/// Hash keys packed with their rows into single words: the hash's high bits above the row.
struct Packed {
    keys: Vec<Vec<u64>>,
    /// Bits holding the row.
    low: u32,
}

/// Most bits of row a packed word holds: at least 32 bits of hash are left above them.
pub(super) const PACKED_ROW_BITS: u32 = 32;

/// The bits that hold every row up to `last`.
pub(super) fn row_bits(last: u64) -> u32 {
    (u64::BITS - last.leading_zeros()).max(1)
}

/// `(hash, row)` pairs as words of the hash's high bits and the row, when the rows leave at
/// least 32 bits of hash (sorting words moves half the bytes of sorting pairs), part by part;
/// the pairs back when they do not. Rows whose truncated hashes agree are told apart by their
/// bytes, as rows with equal hashes are.
fn pack(keys: Vec<Vec<(u64, u64)>>) -> Result<Packed, Vec<Vec<(u64, u64)>>> {
    let Some(last) = keys.iter().flatten().map(|k| k.1).max() else {
        return Err(keys);
    };
    let low = row_bits(last);
    if low > PACKED_ROW_BITS {
        return Err(keys);
    }
    let mask = (1u64 << low) - 1;
    Ok(Packed {
        keys: keys
            .into_iter()
            .map(|part| part.iter().map(|(h, r)| (h & !mask) | r).collect())
            .collect(),
        low,
    })
}

#[cfg(test)]
#[path = "batch_unique_tests.rs"]
mod tests;

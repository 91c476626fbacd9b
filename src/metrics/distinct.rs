//! Value frequencies over a batch: the mergeable state behind `unique` and the distinct-count
//! metrics.
//!
//! [`UniqueCounter::count`] sees every chunk and builds a frequency map of the in-scope values:
//! integer-like keys here ([`IntCounts`]), strings and binary values as sorted runs
//! ([`super::byte_counts`]); [`UniqueCounter::evaluate`] then marks each row by its value's final
//! count. Memory is proportional to the number of distinct values in a batch (`--batch-rows`
//! bounds it).

use arrow::array::{Array, BooleanArray};
use arrow::buffer::BooleanBuffer;

use super::byte_counts::ByteCounts;
use super::runs::{merge_by, push_merging};
use crate::values::domain::{Domain, domain_of};
use crate::values::numeric::{for_each_int_key, wanted};

#[derive(Debug, Default)]
pub(crate) struct UniqueCounter {
    ints: IntCounts,
    bytes: ByteCounts,
    nulls: u32,
}

/// Counts of integer keys: a flat array indexed by `key - lo` while the keys stay dense (it grows
/// as new keys widen the range), sorted runs once they spread out. Dense ids of a stream thus
/// cost a byte each; spread-out keys (floats, hashes of nothing in particular) are sorted in
/// runs instead of probing a hash map once per value, one cache miss each.
#[derive(Debug)]
enum IntCounts {
    Dense {
        lo: i128,
        counts: Vec<u8>,
        added: u64,
    },
    Sparse(Runs),
}

/// `(key, count)` runs, each sorted by key with one entry per key, plus keys not yet sorted.
/// Runs merge like the digits of a binary counter, so at most about log2(keys / chunk) remain.
#[derive(Debug, Default)]
struct Runs {
    runs: Vec<Vec<(i128, u32)>>,
    pending: Vec<(i128, u32)>,
    /// Keys added once each, not yet sorted (half the bytes of a pair to sort).
    ones: Vec<i128>,
}

/// Sorts keys and counts the copies of each. Keys within 2⁶⁴ of each other (any integer,
/// timestamp or float column) are sorted as 8-byte offsets from the smallest, in buckets.
fn count_sorted(mut v: Vec<i128>) -> Vec<(i128, u32)> {
    let (Some(&lo), Some(&hi)) = (v.iter().min(), v.iter().max()) else {
        return Vec::new();
    };
    let span = hi.checked_sub(lo).and_then(|s| u64::try_from(s).ok());
    let mut out: Vec<(i128, u32)> = Vec::with_capacity(v.len());
    let mut push = |k: i128| match out.last_mut() {
        Some(last) if last.0 == k => last.1 = last.1.saturating_add(1),
        _ => out.push((k, 1)),
    };
    match span {
        Some(span) if v.len() >= BUCKETED_MIN => {
            let offsets: Vec<u64> = v.iter().map(|k| (k - lo) as u64).collect();
            drop(v);
            sort_in_buckets(offsets, span)
                .into_iter()
                .for_each(|o| push(lo + o as i128));
        }
        _ => {
            v.sort_unstable();
            v.into_iter().for_each(push);
        }
    }
    out
}

/// Key lists of at least this many keys are sorted in buckets (fewer in unit tests).
const BUCKETED_MIN: usize = if cfg!(test) { 1 << 6 } else { 1 << 12 };

/// Offsets up to `span`, sorted: scattered by their top bits into buckets of about a thousand
/// (one pass, no comparisons), each bucket then sorted while it sits in the cache. Offsets
/// bunched in a few buckets (floats' bit patterns, skewed keys) sort as well, only slower.
fn sort_in_buckets(v: Vec<u64>, span: u64) -> Vec<u64> {
    let n = v.len();
    let bits = (n >> 10).max(1).ilog2().clamp(1, 16);
    let shift = (u64::BITS - span.leading_zeros()).saturating_sub(bits);
    let mut starts = vec![0usize; (span >> shift) as usize + 2];
    for o in &v {
        starts[(o >> shift) as usize + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut out = vec![0u64; n];
    let mut at = starts.clone();
    for o in &v {
        let b = (o >> shift) as usize;
        out[at[b]] = *o;
        at[b] += 1;
    }
    for w in starts.windows(2) {
        out[w[0]..w[1]].sort_unstable();
    }
    out
}

/// Sorts `v` by key and adds up the counts of equal keys.
fn collapse(mut v: Vec<(i128, u32)>) -> Vec<(i128, u32)> {
    v.sort_unstable_by_key(|e| e.0);
    let mut out: Vec<(i128, u32)> = Vec::with_capacity(v.len());
    for (k, c) in v {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 = last.1.saturating_add(c),
            _ => out.push((k, c)),
        }
    }
    out
}

/// Two sorted runs as one.
fn merge_runs(a: &[(i128, u32)], b: &[(i128, u32)]) -> Vec<(i128, u32)> {
    merge_by(
        a,
        b,
        |x, y| x.0.cmp(&y.0),
        |x, y| (x.0, x.1.saturating_add(y.1)),
    )
}

/// Keys gathered before they are sorted into a run (16 MiB of them at most).
const PENDING_MAX: usize = 1 << 20;

impl Runs {
    fn add(&mut self, k: i128, n: u32) {
        if n == 1 {
            self.ones.push(k);
        } else {
            self.pending.push((k, n));
        }
        if self.pending.len() + self.ones.len() >= PENDING_MAX {
            self.seal();
        }
    }

    /// Sorts the pending keys into a run and merges runs of similar size.
    fn seal(&mut self) {
        if !self.ones.is_empty() {
            let run = count_sorted(std::mem::take(&mut self.ones));
            self.push_run(run);
        }
        if !self.pending.is_empty() {
            let run = collapse(std::mem::take(&mut self.pending));
            self.push_run(run);
        }
    }

    fn push_run(&mut self, run: Vec<(i128, u32)>) {
        push_merging(&mut self.runs, run, merge_runs);
    }

    fn get(&self, k: i128) -> u32 {
        let sorted: u32 = self
            .runs
            .iter()
            .filter_map(|r| r.binary_search_by_key(&k, |e| e.0).ok().map(|i| r[i].1))
            .sum();
        let pending: u32 = self.pending.iter().filter(|e| e.0 == k).map(|e| e.1).sum();
        sorted + pending + self.ones.iter().filter(|e| **e == k).count() as u32
    }

    /// Every key once with its total count, in key order.
    fn for_each(&self, mut f: impl FnMut(i128, u32)) {
        let mut all = match self.runs.as_slice() {
            [] => Vec::new(),
            [one] if self.pending.is_empty() && self.ones.is_empty() => {
                one.iter().for_each(|(k, c)| f(*k, *c));
                return;
            }
            [first, rest @ ..] => rest
                .iter()
                .fold(first.clone(), |acc, r| merge_runs(&acc, r)),
        };
        if !self.pending.is_empty() {
            all = merge_runs(&all, &collapse(self.pending.clone()));
        }
        if !self.ones.is_empty() {
            all = merge_runs(&all, &count_sorted(self.ones.clone()));
        }
        all.iter().for_each(|(k, c)| f(*k, *c));
    }
}

impl Default for IntCounts {
    fn default() -> Self {
        IntCounts::Dense {
            lo: 0,
            counts: Vec::new(),
            added: 0,
        }
    }
}

impl IntCounts {
    fn add(&mut self, k: i128, n: u32) {
        if let IntCounts::Dense { lo, counts, added } = self {
            if counts.is_empty() {
                *lo = k;
            }
            let hi = *lo + counts.len() as i128;
            if k < *lo || k >= hi {
                let (new_lo, new_hi) = (k.min(*lo), (k + 1).max(hi));
                let span = new_hi.abs_diff(new_lo);
                // A stream's first keys already span the whole range when ids arrive shuffled, so
                // any range up to DENSE_FLOOR slots stays dense; beyond it, only a dense one.
                if (span > DENSE_FLOOR && span > DENSE_SPREAD * (*added as u128 + 1))
                    || span > DENSE_MAX_SLOTS
                {
                    let run: Vec<(i128, u32)> = counts
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0)
                        .map(|(i, c)| (*lo + i as i128, *c as u32))
                        .collect();
                    let mut runs = Runs::default();
                    runs.push_run(run);
                    *self = IntCounts::Sparse(runs);
                    return self.add(k, n);
                }
                // Grow with headroom on the side that grew, so a widening stream reallocates rarely.
                let extra = (span as usize / 2).clamp(64, 1 << 24);
                let start = if k < *lo {
                    new_lo - extra as i128
                } else {
                    new_lo
                };
                let mut grown = vec![0u8; span as usize + extra];
                let at = (*lo - start) as usize;
                grown[at..at + counts.len()].copy_from_slice(counts);
                *lo = start;
                *counts = grown;
            }
            let c = &mut counts[(k - *lo) as usize];
            *c = c.saturating_add(n.min(255) as u8);
            *added += n as u64;
            return;
        }
        if let IntCounts::Sparse(runs) = self {
            runs.add(k, n);
        }
    }

    /// Nothing counted yet.
    fn is_empty(&self) -> bool {
        matches!(self, IntCounts::Dense { counts, added, .. } if counts.is_empty() && *added == 0)
    }

    /// A chunk's keys counted: densely when their range is at most [`CHUNK_DENSE_SPREAD`] times
    /// their number (zeroing and adding up a byte per slot costs less than sorting the keys
    /// then), else as one sorted run.
    fn of_chunk(keys: Vec<i128>) -> IntCounts {
        let Some((min, max)) = keys.iter().fold(None, |r: Option<(i128, i128)>, k| {
            Some(r.map_or((*k, *k), |(a, b)| (a.min(*k), b.max(*k))))
        }) else {
            return IntCounts::default();
        };
        let span = max.abs_diff(min).saturating_add(1);
        if span <= CHUNK_DENSE_SPREAD * (keys.len() as u128 + 1) && span <= DENSE_MAX_SLOTS {
            let mut counts = vec![0u8; span as usize];
            for k in &keys {
                let c = &mut counts[(k - min) as usize];
                *c = c.saturating_add(1);
            }
            return IntCounts::Dense {
                lo: min,
                counts,
                added: keys.len() as u64,
            };
        }
        let mut runs = Runs::default();
        runs.push_run(count_sorted(keys));
        IntCounts::Sparse(runs)
    }

    /// The smallest and largest key counted.
    fn range(&self) -> Option<(i128, i128)> {
        let mut r: Option<(i128, i128)> = None;
        let mut see = |lo: i128, hi: i128| {
            r = Some(r.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        };
        match self {
            IntCounts::Dense { lo, counts, .. } => {
                let first = counts.iter().position(|c| *c > 0);
                let last = counts.iter().rposition(|c| *c > 0);
                if let (Some(f), Some(l)) = (first, last) {
                    see(lo + f as i128, lo + l as i128);
                }
            }
            IntCounts::Sparse(runs) => {
                for run in &runs.runs {
                    if let (Some(f), Some(l)) = (run.first(), run.last()) {
                        see(f.0, l.0);
                    }
                }
                runs.pending.iter().for_each(|(k, _)| see(*k, *k));
                runs.ones.iter().for_each(|k| see(*k, *k));
            }
        }
        r
    }

    /// Adds each key once. An empty counter first takes the keys' whole range, when it would
    /// count them densely, so it is allocated once and not grown key by key.
    fn add_all(&mut self, keys: &[i128]) {
        if let IntCounts::Dense { lo, counts, added } = self
            && counts.is_empty()
            && let (Some(min), Some(max)) = (keys.iter().min(), keys.iter().max())
        {
            let span = max.abs_diff(*min).saturating_add(1);
            let n = *added as u128 + keys.len() as u128;
            if (span <= DENSE_FLOOR || span <= DENSE_SPREAD * (n + 1)) && span <= DENSE_MAX_SLOTS {
                *lo = *min;
                *counts = vec![0u8; span as usize];
                for k in keys {
                    let c = &mut counts[(k - *min) as usize];
                    *c = c.saturating_add(1);
                }
                *added = n as u64;
                return;
            }
        }
        keys.iter().for_each(|k| self.add(*k, 1));
    }

    fn get(&self, k: i128) -> u32 {
        match self {
            IntCounts::Dense { lo, counts, .. } => {
                let i = k - *lo;
                if i < 0 || i >= counts.len() as i128 {
                    0
                } else {
                    counts[i as usize] as u32
                }
            }
            IntCounts::Sparse(runs) => runs.get(k),
        }
    }

    fn for_each(&self, mut f: impl FnMut(i128, u32)) {
        match self {
            IntCounts::Dense { lo, counts, .. } => counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .for_each(|(i, c)| f(*lo + i as i128, *c as u32)),
            IntCounts::Sparse(runs) => runs.for_each(f),
        }
    }

    /// Sorts what was added since the last call into runs (so lookups never scan).
    fn seal(&mut self) {
        if let IntCounts::Sparse(runs) = self {
            runs.seal();
        }
    }

    /// Adds another counter's counts.
    fn merge(&mut self, other: &IntCounts) {
        if self.merge_dense(other) {
            return;
        }
        match (&mut *self, other) {
            (IntCounts::Sparse(mine), IntCounts::Sparse(theirs)) => {
                theirs.runs.iter().for_each(|r| mine.push_run(r.clone()));
                theirs.pending.iter().for_each(|(k, c)| mine.add(*k, *c));
                theirs.ones.iter().for_each(|k| mine.add(*k, 1));
            }
            _ => other.for_each(|k, c| self.add(k, c)),
        }
        self.seal();
    }

    /// [`merge`](Self::merge), taking the other counter: its runs move instead of being copied.
    /// Sorted runs whose keys, with the other's, span at most [`DENSE_FLOOR`] slots become a
    /// dense counter first, as a stream's counter would be (chunks count their own keys as
    /// runs, see [`UniqueCounter::count_chunk`]; the batch's counter takes their range once).
    fn absorb(&mut self, other: IntCounts) {
        if self.is_empty() {
            *self = other;
            return;
        }
        if let IntCounts::Sparse(_) = self
            && let Some((lo, hi)) = self.range()
            && let (lo, hi) = other
                .range()
                .map_or((lo, hi), |(a, b)| (lo.min(a), hi.max(b)))
            && let span = hi.abs_diff(lo).saturating_add(1)
            && span <= DENSE_FLOOR
            && span <= DENSE_MAX_SLOTS
        {
            let sparse = std::mem::replace(
                self,
                IntCounts::Dense {
                    lo,
                    counts: vec![0; span as usize],
                    added: 0,
                },
            );
            sparse.for_each(|k, c| self.add(k, c));
        }
        match (&mut *self, other) {
            (IntCounts::Sparse(mine), IntCounts::Sparse(theirs)) => {
                theirs.runs.into_iter().for_each(|r| mine.push_run(r));
                theirs.pending.iter().for_each(|(k, c)| mine.add(*k, *c));
                theirs.ones.iter().for_each(|k| mine.add(*k, 1));
                self.seal();
            }
            (_, other) => self.merge(&other),
        }
    }

    /// Adds a dense counter to a dense one slot by slot, when their union stays dense (a
    /// chunk's range of keys is usually the batch's, so the counters of a batch's chunks
    /// merge as byte-wise additions instead of one [`IntCounts::add`] per slot). `false`:
    /// left to the general merge.
    fn merge_dense(&mut self, other: &IntCounts) -> bool {
        let (
            IntCounts::Dense {
                lo: olo,
                counts: theirs,
                added: oadded,
            },
            IntCounts::Dense { lo, counts, added },
        ) = (other, &mut *self)
        else {
            return false;
        };
        if theirs.is_empty() {
            return true;
        }
        if counts.is_empty() {
            (*lo, *counts, *added) = (*olo, theirs.clone(), *oadded);
            return true;
        }
        let (new_lo, new_hi) = (
            (*lo).min(*olo),
            (*lo + counts.len() as i128).max(*olo + theirs.len() as i128),
        );
        let span = new_hi.abs_diff(new_lo);
        let total = *added + *oadded;
        if (span > DENSE_FLOOR && span > DENSE_SPREAD * (total as u128 + 1))
            || span > DENSE_MAX_SLOTS
        {
            return false;
        }
        let (grows_down, grows_up) = (new_lo < *lo, new_hi > *lo + counts.len() as i128);
        if grows_down || grows_up {
            // Headroom on the side that grew, as `add` leaves, so a batch whose chunks widen
            // the range one after another (ids, timestamps in order) reallocates rarely.
            let extra = (span as usize / 2).clamp(64, 1 << 24) as i128;
            let start = if grows_down {
                new_lo.checked_sub(extra)
            } else {
                Some(new_lo)
            };
            let end = if grows_up {
                new_hi.checked_add(extra)
            } else {
                Some(new_hi)
            };
            let (start, end) = match (start, end) {
                (Some(s), Some(e)) if e.abs_diff(s) <= DENSE_MAX_SLOTS => (s, e),
                _ => (new_lo, new_hi),
            };
            let mut grown = vec![0u8; (end - start) as usize];
            let at = (*lo - start) as usize;
            grown[at..at + counts.len()].copy_from_slice(counts);
            (*lo, *counts) = (start, grown);
        }
        let at = (*olo - *lo) as usize;
        counts[at..at + theirs.len()]
            .iter_mut()
            .zip(theirs)
            .for_each(|(c, t)| *c = c.saturating_add(*t));
        *added = total;
        true
    }

    fn distinct(&self) -> u64 {
        let mut n = 0;
        self.for_each(|_, _| n += 1);
        n
    }

    fn singletons(&self) -> u64 {
        let mut n = 0;
        self.for_each(|_, c| n += (c == 1) as u64);
        n
    }
}

impl UniqueCounter {
    /// Counts the in-scope values of one chunk of a single column.
    pub(crate) fn count(&mut self, array: &dyn Array, scope: Option<&BooleanBuffer>) {
        self.count_keys(array, scope, false)
    }

    /// [`count`](Self::count) into a chunk's own counter, one that is then merged into a
    /// batch's ([`absorb`](Self::absorb)): integer keys spread wider than a dense counter of
    /// their number allows are kept as one sorted run, not as a counter of their whole range
    /// (a 64 K-row chunk of amounts up to 10⁷ cents would fill and add up 10 MB); the batch's
    /// counter takes the range once ([`IntCounts::absorb`]).
    pub(crate) fn count_chunk(&mut self, array: &dyn Array, scope: Option<&BooleanBuffer>) {
        self.count_keys(array, scope, true)
    }

    fn count_keys(&mut self, array: &dyn Array, scope: Option<&BooleanBuffer>, chunk: bool) {
        if let Some(n) = array.logical_nulls() {
            let missing = !n.inner();
            self.nulls += match scope {
                Some(s) => (&missing & s).count_set_bits(),
                None => missing.count_set_bits(),
            } as u32;
        }
        if domain_of(array.data_type()) == Some(Domain::Bytes) {
            self.bytes.count(array, scope);
        } else {
            let mut keys: Vec<i128> = Vec::with_capacity(array.len());
            for_each_int_key(array, &wanted(array, scope), |_, k| keys.push(k));
            if chunk && self.ints.is_empty() {
                self.ints = IntCounts::of_chunk(keys);
            } else {
                self.ints.add_all(&keys);
            }
            self.ints.seal();
        }
    }

    /// Adds another counter's counts (merge of two states over disjoint rows).
    pub(crate) fn merge(&mut self, other: &UniqueCounter) {
        self.ints.merge(&other.ints);
        self.bytes.absorb(other.bytes.clone());
        self.nulls += other.nulls;
    }

    /// [`merge`](Self::merge), taking the other counter: its runs and its strings' bytes move
    /// instead of being copied.
    pub(crate) fn absorb(&mut self, other: UniqueCounter) {
        self.ints.absorb(other.ints);
        self.bytes.absorb(other.bytes);
        self.nulls += other.nulls;
    }

    /// Distinct non-null values counted.
    pub(crate) fn distinct(&self) -> u64 {
        self.ints.distinct() + self.bytes.len() as u64
    }

    /// Non-null values counted exactly once.
    pub(crate) fn singletons(&self) -> u64 {
        self.ints.singletons() + self.bytes.singletons()
    }

    /// After every chunk was counted: `true` where the row's value occurs once in the batch.
    pub(crate) fn evaluate(&self, array: &dyn Array, nulls_distinct: bool) -> BooleanArray {
        let len = array.len();
        let nulls = array.logical_nulls();
        let mut pass = vec![true; len];
        if domain_of(array.data_type()) == Some(Domain::Bytes) {
            let counts = self.bytes.counts_of(array);
            pass.iter_mut().zip(counts).for_each(|(p, c)| *p = c <= 1);
        } else {
            let ints = &self.ints;
            for_each_int_key(array, &wanted(array, None), |i, k| {
                pass[i] = ints.get(k) <= 1;
            });
        }
        if nulls_distinct {
            BooleanArray::new(BooleanBuffer::from(pass), nulls)
        } else {
            if let Some(n) = &nulls {
                for (i, p) in pass.iter_mut().enumerate() {
                    if n.is_null(i) {
                        *p = self.nulls <= 1;
                    }
                }
            }
            BooleanArray::new(BooleanBuffer::from(pass), None)
        }
    }
}

/// Dense ranges at most this many times the value count use the flat counter: a byte per slot,
/// so at a quarter full it still holds a value in less memory than a hash-map entry.
pub(crate) const DENSE_SPREAD: u128 = 4;

/// A chunk's own counter is dense over ranges up to this many times its keys' number.
const CHUNK_DENSE_SPREAD: u128 = 32;

/// Ranges up to this many slots (64 MiB of counters) are counted densely whatever their fill.
pub(crate) const DENSE_FLOOR: u128 = 1 << 26;

/// And never more than this many slots (256 MiB of counters).
pub(crate) const DENSE_MAX_SLOTS: u128 = 1 << 28;

#[cfg(test)]
#[path = "distinct_tests.rs"]
mod tests;

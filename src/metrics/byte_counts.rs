//! Counts of byte strings (string and binary values) as sorted runs, not a hash table.
//!
//! A chunk's values are hashed, sorted by `(hash, bytes)` (scattered into buckets by the hash's
//! top bits, each bucket sorted in the cache) and collapsed into one run holding each distinct
//! value once with its count; runs merge like the digits of a binary counter ([`super::runs`]),
//! as the integer runs of [`super::distinct`] do. Sorting reads memory in order where a table
//! of a million values misses the cache on every insert. Equal hashes are told apart by their
//! bytes, so a collision never merges two values.

use std::cmp::Ordering;
use std::sync::OnceLock;

use arrow::array::{Array, AsArray};
use arrow::buffer::BooleanBuffer;

use super::runs::{merge_by, push_merging};
use crate::values::access::{for_each_bytes, values_len};

/// One distinct value: its hash, where its bytes stand (see [`place`]), and its count.
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u64,
    start: u64,
    len: u32,
    count: u32,
}

/// Bits of an entry's `start` that give the offset in its arena; the bits above give the arena.
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

/// An entry's `start`: the offset `offset` in arena `arena`.
fn place(arena: usize, offset: usize) -> u64 {
    ((arena as u64) << OFFSET_BITS) | offset as u64
}

/// The bytes of `e` in `arena` (the one its `start` names).
fn in_arena<'a>(arena: &'a [u8], e: &Entry) -> &'a [u8] {
    let at = (e.start & OFFSET_MASK) as usize;
    &arena[at..at + e.len as usize]
}

/// Runs of distinct values, each sorted by `(hash, bytes)`, over arenas of their bytes: one per
/// counter that [`ByteCounts::absorb`] took whole (its bytes move instead of being copied),
/// until [`ByteCounts::compact`] rewrites them as one.
#[derive(Debug, Default, Clone)]
pub(super) struct ByteCounts {
    arenas: Vec<Vec<u8>>,
    runs: Vec<Vec<Entry>>,
    /// Entries of chunks not sorted yet, in no order, a value possibly in several: chunks and
    /// the counters of other chunks are gathered here and sorted together once they reach
    /// [`PENDING_MAX`] or something asks for the values, so the chunks of a batch cost one sort
    /// rather than one each and a merge per level.
    pending: Vec<Vec<Entry>>,
    /// Entries in `pending`.
    pending_len: usize,
    /// Bytes the entries point at (a value in two runs counts twice until they merge).
    live: usize,
    /// The runs merged into one, once something asks for every value (reset by any change).
    merged: OnceLock<Vec<Entry>>,
}

/// Arenas held before they are rewritten as one (fewer in unit tests): a chunk's counter
/// brings one, so a batch of many chunks holds many, each rewritten only when merges have
/// left most of the arenas' bytes unused (see [`ByteCounts::compact`]).
const ARENAS_MAX: usize = if cfg!(test) { 2 } else { 1 << 16 };

/// Distinct values of a chunk collapsed as they are read, before the rest go to the sort.
const LOCAL_MAX: usize = 1 << 12;

/// A chunk of at least this many distinct entries is sorted into a run at once, not gathered.
const SORTED_ALONE: usize = if cfg!(test) { 1 << 11 } else { 1 << 18 };

/// Runs of at least this many entries are sorted on every core (fewer in unit tests).
const PARALLEL_MIN: usize = if cfg!(test) { 1 << 12 } else { 1 << 16 };

/// Entries gathered unsorted before they are sorted into a run (24 MiB of them; fewer in
/// unit tests, so their chunks sort and merge runs too).
const PENDING_MAX: usize = if cfg!(test) { 1 << 13 } else { 1 << 20 };

/// Bytes the entries of `run` point at.
fn run_bytes(run: &[Entry]) -> usize {
    run.iter().map(|e| e.len as usize).sum()
}

/// The hash of every counter in the process (runs of two counters merge by it), seeded once.
fn hasher() -> &'static ahash::RandomState {
    static HASHER: OnceLock<ahash::RandomState> = OnceLock::new();
    HASHER.get_or_init(ahash::RandomState::new)
}

/// Entries sorted by hash: scattered by the hash's top bits into buckets of about a thousand
/// (one pass over the entries, no comparisons), each bucket then sorted while it sits in the
/// cache. The hash spreads values evenly over the buckets; copies of one value share a bucket
/// (a column of few values collapses before it gets here, see [`ByteCounts::count`]). A
/// comparison sort of the whole chunk cost a third of a count.
fn sort_by_hash(mut run: Vec<Entry>) -> (Vec<Entry>, Vec<usize>) {
    let n = run.len();
    if n < BUCKETED_MIN {
        run.sort_unstable_by_key(|e| e.hash);
        return (run, vec![0, n]);
    }
    let bits = (n >> 10).max(1).ilog2().clamp(1, 16);
    let shift = u64::BITS - bits;
    let mut starts = vec![0usize; (1 << bits) + 1];
    for e in &run {
        starts[(e.hash >> shift) as usize + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut out: Vec<Entry> = Vec::with_capacity(n);
    let mut at = starts.clone();
    let spare = out.spare_capacity_mut();
    for e in &run {
        let b = (e.hash >> shift) as usize;
        spare[at[b]].write(*e);
        at[b] += 1;
    }
    // SAFETY: the buckets' slots tile 0..n (`starts` sums the counts of every entry), and each
    // entry was written into its bucket's next slot, so all n slots are initialized.
    unsafe { out.set_len(n) };
    for w in starts.windows(2) {
        out[w[0]..w[1]].sort_unstable_by_key(|e| e.hash);
    }
    (out, starts)
}

/// Chunks of at least this many entries are sorted in buckets (fewer in unit tests).
const BUCKETED_MIN: usize = if cfg!(test) { 1 << 6 } else { 1 << 12 };

impl ByteCounts {
    fn bytes(&self, e: &Entry) -> &[u8] {
        in_arena(&self.arenas[(e.start >> OFFSET_BITS) as usize], e)
    }

    fn order(&self, a: &Entry, b: &Entry) -> Ordering {
        a.hash
            .cmp(&b.hash)
            .then_with(|| self.bytes(a).cmp(self.bytes(b)))
    }

    /// Counts the in-scope non-null values of one chunk (a dictionary's values once each, with
    /// the number of rows that use them).
    pub(super) fn count(&mut self, array: &dyn Array, scope: Option<&BooleanBuffer>) {
        let h = hasher();
        let in_scope = |i: usize| scope.is_none_or(|s| s.value(i));
        // Values are copied into the arena in row order, as they are read (copying them in hash
        // order would read the chunk at random). The first LOCAL_MAX distinct values are also
        // kept in a small table, so a column of few values (codes, currencies) collapses as it
        // is read; the copies of any other value are collapsed by the sort afterwards.
        let (rows, bytes) = (array.len(), values_len(array));
        let mut run: Vec<Entry> = Vec::new();
        let mut local: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
        let (mut probing, mut hits) = (true, 0usize);
        // Bytes go into the last arena (a new one once the last is near the offsets' limit).
        if self
            .arenas
            .last()
            .is_none_or(|a| a.len() + bytes > OFFSET_MASK as usize / 2)
        {
            self.arenas.push(Vec::new());
        }
        let last = self.arenas.len() - 1;
        let mut push = |arena: &mut Vec<u8>, v: &[u8], count: u32| {
            let hash = h.hash_one(v);
            let same = |i: &u32| {
                let e = &run[*i as usize];
                e.hash == hash && in_arena(arena, e) == v
            };
            if probing {
                if let Some(i) = local.find(hash, same) {
                    let e = &mut run[*i as usize];
                    e.count = e.count.saturating_add(count);
                    hits += 1;
                    return;
                }
                // Once the table is full, it pays only while values repeat: a column of
                // distinct values (ids) would probe it in vain for every row.
                if local.len() == LOCAL_MAX && hits < run.len() / 4 {
                    probing = false;
                    // Mostly distinct, then: room for every row at once (grown by doubling,
                    // the entries and the bytes would be copied about once more each).
                    run.reserve(rows.saturating_sub(run.len()));
                    arena.reserve(bytes);
                }
            }
            if local.len() < LOCAL_MAX {
                let at = run.len() as u32;
                let run = &run;
                local.insert_unique(hash, at, |i| run[*i as usize].hash);
            }
            let start = place(last, arena.len());
            arena.extend_from_slice(v);
            run.push(Entry {
                hash,
                start,
                len: v.len() as u32,
                count,
            });
        };
        let arena = &mut self.arenas[last];
        if let Some(d) = array.as_any_dictionary_opt() {
            let keys = d.normalized_keys();
            let valid = array.logical_nulls();
            let mut uses = vec![0u32; d.values().len()];
            for (i, k) in keys.iter().enumerate() {
                if in_scope(i) && valid.as_ref().is_none_or(|n| n.is_valid(i)) {
                    uses[*k] += 1;
                }
            }
            for_each_bytes(d.values().as_ref(), |k, v| {
                if uses[k] > 0 {
                    push(arena, v, uses[k]);
                }
            });
        } else {
            for_each_bytes(array, |i, v| {
                if in_scope(i) {
                    push(arena, v, 1);
                }
            });
        }
        if run.len() >= SORTED_ALONE {
            // A large chunk is sorted on the core that read it; its run then merges with
            // the others' on every core.
            let run = self.collapse(run);
            self.push_run(run);
            self.compact();
        } else {
            self.add_pending(run);
        }
    }

    /// Adds unsorted entries (whose bytes are in the arena), sorting them into a run once
    /// enough are gathered.
    fn add_pending(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        self.merged = OnceLock::new();
        self.live += run_bytes(&entries);
        self.pending_len += entries.len();
        self.pending.push(entries);
        if self.pending_len >= PENDING_MAX {
            self.seal();
        }
        self.compact();
    }

    /// Sorts the pending entries into a run.
    fn seal(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.live -= pending.iter().map(|p| run_bytes(p)).sum::<usize>();
        let run = self.collapse_on_cores(&pending);
        drop(pending);
        self.push_run(run);
    }

    /// [`ByteCounts::collapse`] of gathered entries on every core: they are cut by the top bits
    /// of the hash into one part per core, each part sorted and collapsed on its own, and the
    /// parts joined in order (every hash of a part is below the next part's).
    fn collapse_on_cores(&self, gathered: &[Vec<Entry>]) -> Vec<Entry> {
        let parts = crate::par::cores().next_power_of_two();
        let len: usize = gathered.iter().map(Vec::len).sum();
        if parts == 1 || len < PARALLEL_MIN {
            return self.collapse(gathered.concat());
        }
        let shift = u64::BITS - parts.trailing_zeros();
        let idx: Vec<u64> = (0..parts as u64).collect();
        let sorted = crate::par::par_map(&idx, |&p| {
            let part: Vec<Entry> = gathered
                .iter()
                .flatten()
                .filter(|e| e.hash >> shift == p)
                .copied()
                .collect();
            self.collapse(part)
        });
        sorted.concat()
    }

    /// A chunk's entries sorted by hash, entries sharing a hash ordered by their bytes, and
    /// copies of one value collapsed into one entry (in place, a bucket at a time while it is
    /// in the cache).
    fn collapse(&self, run: Vec<Entry>) -> Vec<Entry> {
        // Sorted by hash alone; bytes are compared only within a run of equal hashes (the
        // copies of one value, or rarely a collision).
        let (mut run, buckets) = sort_by_hash(run);
        let mut kept = 0;
        for w in buckets.windows(2) {
            let mut i = w[0];
            while i < w[1] {
                let hash = run[i].hash;
                let mut j = i + 1;
                while j < w[1] && run[j].hash == hash {
                    j += 1;
                }
                if j - i > 1 {
                    run[i..j].sort_unstable_by(|a, b| self.bytes(a).cmp(self.bytes(b)));
                }
                // Entries before `kept` are done; `kept <= k`, so nothing unread is overwritten.
                for k in i..j {
                    let e = run[k];
                    if k > i && self.bytes(&run[kept - 1]) == self.bytes(&e) {
                        run[kept - 1].count = run[kept - 1].count.saturating_add(e.count);
                    } else {
                        run[kept] = e;
                        kept += 1;
                    }
                }
                i = j;
            }
        }
        run.truncate(kept);
        run
    }

    /// Adds another counter's counts: its arenas taken over, its runs merged in.
    pub(super) fn absorb(&mut self, mut other: ByteCounts) {
        if self.arenas.is_empty() {
            *self = other;
            return;
        }
        let shift = (self.arenas.len() as u64) << OFFSET_BITS;
        self.arenas.append(&mut other.arenas);
        for run in other.runs.iter_mut().chain(other.pending.iter_mut()) {
            run.iter_mut().for_each(|e| e.start += shift);
        }
        for run in other.runs {
            self.push_run(run);
        }
        for entries in other.pending {
            self.add_pending(entries);
        }
        self.compact();
    }

    fn push_run(&mut self, run: Vec<Entry>) {
        self.merged = OnceLock::new();
        let mut live = self.live + run_bytes(&run);
        let mut runs = std::mem::take(&mut self.runs);
        push_merging(&mut runs, run, |a, b| {
            let merged = self.merge_runs(a, b);
            live -= run_bytes(a) + run_bytes(b) - run_bytes(&merged);
            merged
        });
        (self.runs, self.live) = (runs, live);
    }

    /// Two sorted runs as one, the counts of a value in both added up.
    fn merge_runs(&self, a: &[Entry], b: &[Entry]) -> Vec<Entry> {
        let add = |x: &Entry, y: &Entry| Entry {
            count: x.count.saturating_add(y.count),
            ..*x
        };
        merge_by(a, b, |x, y| self.order(x, y), add)
    }

    /// Every distinct value once with its total count, in `(hash, bytes)` order.
    fn all(&self) -> &[Entry] {
        match (self.runs.as_slice(), self.pending.is_empty()) {
            ([], true) => &[],
            ([one], true) => one,
            (runs, _) => self.merged.get_or_init(|| {
                let sorted =
                    (!self.pending.is_empty()).then(|| self.collapse_on_cores(&self.pending));
                runs.iter()
                    .chain(sorted.as_ref())
                    .fold(Vec::new(), |acc, r| self.merge_runs(&acc, r))
            }),
        }
    }

    /// Rewrites the arenas as one with only the bytes the runs still point at, once merges
    /// have left them more than twice that size (a value counted in several chunks stands in
    /// them once each), or once they are many.
    fn compact(&mut self) {
        let live = self.live;
        let held: usize = self.arenas.iter().map(Vec::len).sum();
        if held <= 2 * live + (1 << 20) && self.arenas.len() <= ARENAS_MAX {
            return;
        }
        let mut arena = Vec::with_capacity(live);
        for run in self.runs.iter_mut().chain(self.pending.iter_mut()) {
            for e in run.iter_mut() {
                let start = place(0, arena.len());
                arena.extend_from_slice(in_arena(
                    &self.arenas[(e.start >> OFFSET_BITS) as usize],
                    e,
                ));
                e.start = start;
            }
        }
        self.arenas = vec![arena];
        self.merged = OnceLock::new();
    }

    /// Distinct values counted.
    pub(super) fn len(&self) -> usize {
        self.all().len()
    }

    /// Values counted exactly once.
    pub(super) fn singletons(&self) -> u64 {
        self.all().iter().filter(|e| e.count == 1).count() as u64
    }

    /// Each row's value's count (0 for a null): the chunk's values sorted and walked against the
    /// counts in order, not looked up one by one.
    pub(super) fn counts_of(&self, array: &dyn Array) -> Vec<u32> {
        let h = hasher();
        let mut rows: Vec<(u64, &[u8], u32)> = Vec::with_capacity(array.len());
        for_each_bytes(array, |i, v| rows.push((h.hash_one(v), v, i as u32)));
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let all = self.all();
        let mut out = vec![0u32; array.len()];
        let mut j = 0;
        for (hash, v, i) in rows {
            while j < all.len() && (all[j].hash, self.bytes(&all[j])) < (hash, v) {
                j += 1;
            }
            if j < all.len() && all[j].hash == hash && self.bytes(&all[j]) == v {
                out[i as usize] = all[j].count;
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "byte_counts_tests.rs"]
mod tests;

//! Counts of byte strings (string and binary values) as sorted runs, not a hash table.
//!
//! A chunk's values are hashed, sorted by `(hash, bytes)` and collapsed into one run holding
//! each distinct value once with its count; runs merge like the digits of a binary counter
//! ([`super::runs`]), as the integer runs of [`super::distinct`] do. Sorting reads memory in order where a table of a
//! million values misses the cache on every insert. Equal hashes are told apart by their bytes,
//! so a collision never merges two values.

use std::cmp::Ordering;
use std::sync::OnceLock;

use arrow::array::{Array, AsArray};
use arrow::buffer::BooleanBuffer;

use super::runs::{merge_by, push_merging};
use crate::values::access::{for_each_bytes, values_len};

/// One distinct value: its hash, where its bytes stand in the arena, and its count.
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u64,
    start: usize,
    len: u32,
    count: u32,
}

/// Runs of distinct values, each sorted by `(hash, bytes)`, over one arena of their bytes.
#[derive(Debug, Default)]
pub(super) struct ByteCounts {
    arena: Vec<u8>,
    runs: Vec<Vec<Entry>>,
    /// Entries of chunks not sorted yet, in no order, a value possibly in several: chunks and
    /// the counters of other chunks are gathered here and sorted together once they reach
    /// [`PENDING_MAX`] or something asks for the values, so the chunks of a batch cost one sort
    /// rather than one each and a merge per level.
    pending: Vec<Entry>,
    /// Bytes the entries point at (a value in two runs counts twice until they merge).
    live: usize,
    /// The runs merged into one, once something asks for every value (reset by any change).
    merged: OnceLock<Vec<Entry>>,
}

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

/// Entries sorted by hash. The sort moves 8-byte keys, not entries: each key is the hash with
/// its low bits replaced by the entry's index, and the entries are then gathered in the keys'
/// order. Entries whose hashes differ only in those low bits (a few in a chunk) are put in
/// order afterwards. Sorting a chunk's 24-byte entries directly cost a third of a count.
fn sort_by_hash(run: Vec<Entry>) -> Vec<Entry> {
    let n = run.len();
    if n < 64 {
        let mut run = run;
        run.sort_unstable_by_key(|e| e.hash);
        return run;
    }
    let low = (usize::BITS - (n - 1).leading_zeros()).min(63);
    let mask = (1u64 << low) - 1;
    let mut keys: Vec<u64> = run
        .iter()
        .enumerate()
        .map(|(i, e)| (e.hash & !mask) | i as u64)
        .collect();
    keys.sort_unstable();
    let mut out: Vec<Entry> = keys.iter().map(|k| run[(k & mask) as usize]).collect();
    for group in out.chunk_by_mut(|a, b| a.hash & !mask == b.hash & !mask) {
        if group.len() > 1 {
            group.sort_unstable_by_key(|e| e.hash);
        }
    }
    out
}

impl ByteCounts {
    fn bytes(&self, e: &Entry) -> &[u8] {
        &self.arena[e.start..e.start + e.len as usize]
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
        let mut push = |arena: &mut Vec<u8>, v: &[u8], count: u32| {
            let hash = h.hash_one(v);
            let same = |i: &u32| {
                let e = &run[*i as usize];
                e.hash == hash && &arena[e.start..e.start + e.len as usize] == v
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
            let start = arena.len();
            arena.extend_from_slice(v);
            run.push(Entry {
                hash,
                start,
                len: v.len() as u32,
                count,
            });
        };
        let arena = &mut self.arena;
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
        self.live += entries.iter().map(|e| e.len as usize).sum::<usize>();
        if self.pending.is_empty() {
            self.pending = entries;
        } else {
            self.pending.extend_from_slice(&entries);
        }
        if self.pending.len() >= PENDING_MAX {
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
        self.live -= run_bytes(&pending);
        let run = self.collapse_on_cores(pending);
        self.push_run(run);
    }

    /// [`ByteCounts::collapse`] on every core: a large run is cut by the top bits of the hash
    /// into one part per core, each part sorted and collapsed on its own, and the parts joined
    /// in order (every hash of a part is below the next part's).
    fn collapse_on_cores(&self, run: Vec<Entry>) -> Vec<Entry> {
        let parts = crate::par::cores().next_power_of_two();
        if parts == 1 || run.len() < PARALLEL_MIN {
            return self.collapse(run);
        }
        let shift = u64::BITS - parts.trailing_zeros();
        let idx: Vec<u64> = (0..parts as u64).collect();
        let sorted = crate::par::par_map(&idx, |&p| {
            let part: Vec<Entry> = run
                .iter()
                .filter(|e| e.hash >> shift == p)
                .copied()
                .collect();
            self.collapse(part)
        });
        sorted.concat()
    }

    /// A chunk's entries sorted by hash, entries sharing a hash ordered by their bytes, and
    /// copies of one value collapsed into one entry.
    fn collapse(&self, run: Vec<Entry>) -> Vec<Entry> {
        // Sorted by hash alone; bytes are compared only within a run of equal hashes (the
        // copies of one value, or rarely a collision).
        let mut run = sort_by_hash(run);
        let mut out: Vec<Entry> = Vec::with_capacity(run.len());
        for group in run.chunk_by_mut(|a, b| a.hash == b.hash) {
            if group.len() > 1 {
                group.sort_unstable_by(|a, b| self.bytes(a).cmp(self.bytes(b)));
            }
            for e in group.iter() {
                match out.last_mut() {
                    Some(last) if last.hash == e.hash && self.bytes(last) == self.bytes(e) => {
                        last.count = last.count.saturating_add(e.count)
                    }
                    _ => out.push(*e),
                }
            }
        }
        out
    }

    /// Adds another counter's counts: its bytes appended to this arena, its runs merged in.
    pub(super) fn merge(&mut self, other: &ByteCounts) {
        let offset = self.arena.len();
        self.arena.extend_from_slice(&other.arena);
        let moved = |e: &Entry| Entry {
            start: e.start + offset,
            ..*e
        };
        for run in &other.runs {
            self.push_run(run.iter().map(moved).collect());
        }
        self.add_pending(other.pending.iter().map(moved).collect());
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
                let sorted = (!self.pending.is_empty())
                    .then(|| self.collapse_on_cores(self.pending.clone()));
                runs.iter()
                    .chain(sorted.as_ref())
                    .fold(Vec::new(), |acc, r| self.merge_runs(&acc, r))
            }),
        }
    }

    /// Rewrites the arena with only the bytes the runs still point at, once merges have left
    /// it more than twice that size (a value counted in several chunks stands in it once each).
    fn compact(&mut self) {
        let live = self.live;
        if self.arena.len() <= 2 * live + (1 << 20) {
            return;
        }
        let mut arena = Vec::with_capacity(live);
        for run in self.runs.iter_mut().chain([&mut self.pending]) {
            for e in run.iter_mut() {
                let start = arena.len();
                arena.extend_from_slice(&self.arena[e.start..e.start + e.len as usize]);
                e.start = start;
            }
        }
        self.arena = arena;
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
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, StringArray};
    use arrow::datatypes::Int32Type;
    use std::collections::HashMap;

    /// Counts, distinct values and singletons agree with a map across chunks, scopes,
    /// dictionaries and merged counters, with the arena compacted on the way.
    #[test]
    fn runs_count_like_a_map() {
        let mut seed = 5u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let mut want: HashMap<String, u32> = HashMap::new();
        let (mut a, mut b) = (ByteCounts::default(), ByteCounts::default());
        let mut chunks = Vec::new();
        for c in 0..40 {
            // Chunks of many distinct values sort alone; small ones gather unsorted.
            let n = if c % 4 == 1 { 1000 } else { 5000 };
            let values: Vec<Option<String>> = (0..n)
                .map(|_| {
                    let v = next();
                    (v % 17 != 0).then(|| format!("v{}", v % 30_000))
                })
                .collect();
            let scope = BooleanBuffer::from_iter((0..n).map(|i| i % 5 != 0));
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v
                    && scope.value(i)
                {
                    *want.entry(v.clone()).or_default() += 1;
                }
            }
            let array = StringArray::from(values);
            let counter = if c % 2 == 0 { &mut a } else { &mut b };
            if c % 3 == 0 {
                let dict: DictionaryArray<Int32Type> = array.iter().collect();
                counter.count(&dict, Some(&scope));
            } else {
                counter.count(&array, Some(&scope));
            }
            chunks.push(array);
        }
        a.merge(&b);
        assert!(a.runs.len() <= 16, "{}", a.runs.len());
        assert_eq!(a.len(), want.len());
        assert_eq!(
            a.singletons(),
            want.values().filter(|c| **c == 1).count() as u64
        );
        let counts = a.counts_of(&chunks[0]);
        for (i, v) in chunks[0].iter().enumerate() {
            let expected = v.map_or(0, |v| want.get(v).copied().unwrap_or(0));
            assert_eq!(counts[i], expected, "row {i}");
        }
        let live: usize = a
            .runs
            .iter()
            .flatten()
            .chain(&a.pending)
            .map(|e| e.len as usize)
            .sum();
        assert_eq!(a.live, live);
        assert!(a.arena.len() <= 2 * live + (1 << 20));
    }

    /// A chunk's entries whose sort keys tie are ordered by hash and bytes before copies of a
    /// value collapse (checked to fail without that order).
    #[test]
    fn ties_in_the_sort_are_ordered_before_they_collapse() {
        // Hashes equal in their high bits (the sort's keys tie) and one hash shared by two
        // values, each interleaved with the others, copies of a value far apart.
        let mut c = ByteCounts::default();
        let vals: [(&[u8], u64); 9] = [
            (b"a", 0x100),
            (b"b", 0x101),
            (b"x", 0x200),
            (b"a", 0x100),
            (b"y", 0x200),
            (b"b", 0x101),
            (b"x", 0x200),
            (b"z", 0x50),
            (b"a", 0x100),
        ];
        let entries: Vec<Entry> = vals
            .iter()
            .map(|(v, hash)| {
                let start = c.arena.len();
                c.arena.extend_from_slice(v);
                Entry {
                    hash: *hash,
                    start,
                    len: v.len() as u32,
                    count: 1,
                }
            })
            .collect();
        let run = c.collapse(entries);
        let seen: Vec<(&[u8], u64, u32)> =
            run.iter().map(|e| (c.bytes(e), e.hash, e.count)).collect();
        assert_eq!(
            seen,
            vec![
                (&b"z"[..], 0x50, 1),
                (b"a", 0x100, 3),
                (b"b", 0x101, 2),
                (b"x", 0x200, 2),
                (b"y", 0x200, 1)
            ]
        );
    }

    /// Two values under one hash stay two values: runs order them by bytes.
    #[test]
    fn equal_hashes_with_different_bytes_stay_apart() {
        let mut c = ByteCounts::default();
        let run = |c: &mut ByteCounts, vals: &[(&[u8], u32)]| {
            let mut entries: Vec<Entry> = vals
                .iter()
                .map(|(v, n)| {
                    let start = c.arena.len();
                    c.arena.extend_from_slice(v);
                    Entry {
                        hash: 7,
                        start,
                        len: v.len() as u32,
                        count: *n,
                    }
                })
                .collect();
            entries.sort_by(|x, y| c.order(x, y));
            c.push_run(entries);
        };
        run(&mut c, &[(b"b", 1), (b"a", 2)]);
        run(&mut c, &[(b"a", 1), (b"c", 1)]);
        let all = c.all();
        let seen: Vec<(&[u8], u32)> = all.iter().map(|e| (c.bytes(e), e.count)).collect();
        assert_eq!(seen, vec![(&b"a"[..], 3), (b"b", 1), (b"c", 1)]);
    }
}

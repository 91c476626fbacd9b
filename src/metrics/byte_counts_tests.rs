//! Tests of the byte-string counts (byte_counts.rs).

use super::*;
use arrow::array::{DictionaryArray, StringArray};
use arrow::datatypes::Int32Type;
use std::collections::HashMap;

impl ByteCounts {
    /// Puts `v` in the last arena; gives its entry.
    fn put(&mut self, v: &[u8], hash: u64, count: u32) -> Entry {
        if self.arenas.is_empty() {
            self.arenas.push(Vec::new());
        }
        let last = self.arenas.len() - 1;
        let start = place(last, self.arenas[last].len());
        self.arenas[last].extend_from_slice(v);
        Entry {
            hash,
            start,
            len: v.len() as u32,
            count,
        }
    }
}

/// Counts, distinct values and singletons agree with a map across chunks, scopes,
/// dictionaries and merged counters, with the arenas compacted on the way.
#[test]
fn runs_count_like_a_map() {
    let mut lcg = crate::testing::Lcg(5);
    let mut next = || lcg.next() >> 33;
    let mut want: HashMap<String, u32> = HashMap::new();
    let mut counters = vec![ByteCounts::default(); 4];
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
        let counter = &mut counters[c % 4];
        if c % 3 == 0 {
            let dict: DictionaryArray<Int32Type> = array.iter().collect();
            counter.count(&dict, Some(&scope));
        } else {
            counter.count(&array, Some(&scope));
        }
        chunks.push(array);
    }
    // Taken in whole, one at a time: their arenas move, and are rewritten as one once
    // there are more than ARENAS_MAX.
    let mut a = ByteCounts::default();
    for (i, other) in counters.into_iter().enumerate() {
        a.absorb(other);
        assert!(a.arenas.len() <= (i + 1).min(ARENAS_MAX), "{i}");
    }
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
        .chain(a.pending.iter().flatten())
        .map(|e| e.len as usize)
        .sum();
    assert_eq!(a.live, live);
    let held: usize = a.arenas.iter().map(Vec::len).sum();
    assert!(held <= 2 * live + (1 << 20));
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
    let entries: Vec<Entry> = vals.iter().map(|(v, hash)| c.put(v, *hash, 1)).collect();
    let run = c.collapse(entries);
    let seen: Vec<(&[u8], u64, u32)> = run.iter().map(|e| (c.bytes(e), e.hash, e.count)).collect();
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

/// Sorted in buckets, a chunk collapses as a map of `(hash, bytes)` would count it: hashes
/// spread over the top bits and bunched in one bucket, some shared by several values.
#[test]
fn buckets_collapse_like_a_map() {
    let mut c = ByteCounts::default();
    let mut want: std::collections::BTreeMap<(u64, Vec<u8>), u32> = Default::default();
    let mut seed = 11u64;
    let mut entries = Vec::new();
    for i in 0..5000u64 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let v = (seed >> 40) % 700;
        // 700 values under 300 hashes: top bits from the value, a few values per hash.
        let hash = ((v % 300).wrapping_mul(0x9E37_79B9_7F4A_7C15) & !0xFF) | (v % 3);
        let bytes = format!("value-{v}").into_bytes();
        let count = 1 + (i % 3) as u32;
        *want.entry((hash, bytes.clone())).or_default() += count;
        entries.push(c.put(&bytes, hash, count));
    }
    let run = c.collapse(entries);
    let seen: Vec<((u64, Vec<u8>), u32)> = run
        .iter()
        .map(|e| ((e.hash, c.bytes(e).to_vec()), e.count))
        .collect();
    assert_eq!(seen, want.into_iter().collect::<Vec<_>>());
}

/// Two values under one hash stay two values: runs order them by bytes.
#[test]
fn equal_hashes_with_different_bytes_stay_apart() {
    let mut c = ByteCounts::default();
    let run = |c: &mut ByteCounts, vals: &[(&[u8], u32)]| {
        let mut entries: Vec<Entry> = vals.iter().map(|(v, n)| c.put(v, 7, *n)).collect();
        entries.sort_by(|x, y| c.order(x, y));
        c.push_run(entries);
    };
    run(&mut c, &[(b"b", 1), (b"a", 2)]);
    run(&mut c, &[(b"a", 1), (b"c", 1)]);
    let all = c.all();
    let seen: Vec<(&[u8], u32)> = all.iter().map(|e| (c.bytes(e), e.count)).collect();
    assert_eq!(seen, vec![(&b"a"[..], 3), (b"b", 1), (b"c", 1)]);
}

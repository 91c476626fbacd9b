//! Groups of items that share a key, found on every core: the step under `unique` and
//! `compound_unique` over a held batch, where each item is a 64-bit key (a value, or a hash of
//! one) with its row.
//!
//! ```text
//!  count     each core takes a part (a chunk's keys) and counts it by the top bits of the
//!            keys' mix
//!  scatter   and moves it into buckets of about BUCKET_ITEMS items, in order, and drops it
//!  look      each bucket's items go through a small table (it fits the cache) that marks the
//!            items whose key another holds; only those are sorted, and their groups handed on
//! ```
//!
//! Keys are mostly distinct in a column meant to be unique, so a bucket is mostly done after one
//! table pass: no sort of the whole batch, and no pass that runs on one core.

use std::sync::Mutex;

use crate::par::{cores, par_map};

/// Items a bucket holds on average: small enough that its table stays in the cache.
const BUCKET_ITEMS: usize = 2048;

/// Items below which one core does it all (starting threads would cost more).
const PARALLEL_ITEMS: usize = if cfg!(test) { 256 } else { 1 << 16 };

/// Spreads a key's bits over all 64 (Fibonacci hashing): buckets and table slots read its top
/// bits, and a key may be a small integer.
fn mix(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs `find(group, out)` on every group of two or more items of `parts` whose `key` is equal,
/// every core at once, and gives what it put out (in no particular order). The items of a group
/// come in the order of the parts and of the items in them. Parts, one per chunk for the
/// callers, are scattered one by one and each dropped once scattered, so the copy the buckets
/// are does not double the keys held (when there are at least as many parts as cores).
pub(super) fn in_groups<T: Copy + Send + Sync, O: Send>(
    parts: Vec<Vec<T>>,
    key: impl Fn(&T) -> u64 + Sync,
    find: impl Fn(&[T], &mut dyn FnMut(O)) + Sync,
) -> Vec<O> {
    let n: usize = parts.iter().map(Vec::len).sum();
    if n < 2 {
        return Vec::new();
    }
    let bits = (n / BUCKET_ITEMS)
        .next_power_of_two()
        .trailing_zeros()
        .min(16);
    let buckets = 1usize << bits;
    let bucket = |t: &T| {
        if bits == 0 {
            0
        } else {
            (mix(key(t)) >> (64 - bits)) as usize
        }
    };
    // 1. Counts per part (or range of one) and bucket; 2. each scattered into its own buckets.
    let scatter = |range: &[T]| -> (Vec<T>, Vec<usize>) {
        let mut starts = vec![0usize; buckets + 1];
        for t in range.iter() {
            starts[bucket(t) + 1] += 1;
        }
        for b in 0..buckets {
            starts[b + 1] += starts[b];
        }
        let mut next = starts.clone();
        let mut out = range.to_vec();
        for t in range.iter() {
            let b = bucket(t);
            out[next[b]] = *t;
            next[b] += 1;
        }
        (out, starts)
    };
    let parallel = n >= PARALLEL_ITEMS;
    let scattered: Vec<(Vec<T>, Vec<usize>)> = if !parallel {
        parts.iter().map(|p| scatter(p)).collect()
    } else if parts.len() >= cores() {
        let parts: Vec<Mutex<Vec<T>>> = parts.into_iter().map(Mutex::new).collect();
        par_map(&parts, |p| {
            let part = std::mem::take(&mut *p.lock().expect("one task per part"));
            scatter(&part)
        })
    } else {
        // Fewer parts than cores: each cut into ranges, so every core scatters.
        let per = n.div_ceil(cores());
        let ranges: Vec<&[T]> = parts.iter().flat_map(|p| p.chunks(per)).collect();
        par_map(&ranges, |r| scatter(r))
    };
    // 3. Buckets looked at in runs, every core at once.
    let tasks = if parallel { cores() * 4 } else { 1 };
    let runs: Vec<(usize, usize)> = (0..tasks)
        .map(|t| (buckets * t / tasks, buckets * (t + 1) / tasks))
        .filter(|(a, b)| a < b)
        .collect();
    let found = par_map(&runs, |&(first, end)| {
        let mut out = Vec::new();
        let mut held: Vec<T> = Vec::new();
        let mut table: Vec<u32> = Vec::new();
        let mut shared: Vec<bool> = Vec::new();
        for b in first..end {
            held.clear();
            for (items, starts) in &scattered {
                held.extend_from_slice(&items[starts[b]..starts[b + 1]]);
            }
            if held.len() < 2 || !mark_shared(&held, &key, bits, &mut table, &mut shared) {
                continue;
            }
            let mut group: Vec<T> = held
                .iter()
                .zip(&shared)
                .filter(|(_, s)| **s)
                .map(|(t, _)| *t)
                .collect();
            // Stable: a group's items stay in input order.
            group.sort_by_key(|t| key(t));
            for g in group.chunk_by(|a, b| key(a) == key(b)) {
                find(g, &mut |o| out.push(o));
            }
        }
        out
    });
    found.into_iter().flatten().collect()
}

/// Marks in `shared` the items of `held` whose key another of them holds too, through an
/// open-addressing table of the first index of each key (slots chosen by the key's mix below the
/// `bucket_bits` the bucket was chosen by); whether any.
fn mark_shared<T>(
    held: &[T],
    key: &impl Fn(&T) -> u64,
    bucket_bits: u32,
    table: &mut Vec<u32>,
    shared: &mut Vec<bool>,
) -> bool {
    let slots = (held.len() * 2).next_power_of_two();
    let slot_bits = slots.trailing_zeros();
    table.clear();
    table.resize(slots, 0);
    shared.clear();
    shared.resize(held.len(), false);
    let mask = slots - 1;
    let mut any = false;
    for (i, t) in held.iter().enumerate() {
        let k = key(t);
        let mut s = ((mix(k) << bucket_bits) >> (64 - slot_bits)) as usize;
        loop {
            match table[s] {
                0 => {
                    table[s] = i as u32 + 1;
                    break;
                }
                j if key(&held[j as usize - 1]) == k => {
                    shared[j as usize - 1] = true;
                    shared[i] = true;
                    any = true;
                    break;
                }
                _ => s = (s + 1) & mask,
            }
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every group of equal keys, and nothing else, is handed on whole, in input order, for
    /// inputs below and above the parallel threshold, with few and many repeats, keys that
    /// differ only in their low bits, and groups that span the ranges of both cores.
    #[test]
    fn groups_are_the_keys_seen_twice() {
        let mut rng = crate::internal::generate::Rng(7);
        let mut next = || rng.next() >> 20;
        for n in [0usize, 1, 2, 3, 100, 255, 256, 5000, 70_000] {
            for distinct in [1u64, 3, 1000, u64::MAX] {
                let items: Vec<(u64, u64)> = (0..n as u64)
                    .map(|row| {
                        let k = match distinct {
                            u64::MAX => next(),
                            d => next() % d,
                        };
                        (k, row)
                    })
                    .collect();
                let mut want: std::collections::BTreeMap<u64, Vec<(u64, u64)>> = Default::default();
                for t in &items {
                    want.entry(t.0).or_default().push(*t);
                }
                let mut want: Vec<Vec<(u64, u64)>> =
                    want.into_values().filter(|g| g.len() > 1).collect();
                want.sort();
                // Cut into parts of uneven lengths (one empty), as chunks are; and whole, fewer
                // parts than cores.
                let cuts = [0, n / 5, n / 5, n / 2, n];
                let cut: Vec<Vec<(u64, u64)>> = cuts
                    .windows(2)
                    .map(|w| items[w[0]..w[1]].to_vec())
                    .collect();
                for parts in [cut, vec![items.clone()]] {
                    let mut got = in_groups(
                        parts,
                        |t| t.0,
                        |g, out| {
                            assert!(g.windows(2).all(|w| w[0].0 == w[1].0 && w[0].1 < w[1].1));
                            out(g.to_vec())
                        },
                    );
                    got.sort();
                    assert_eq!(got, want, "n {n} distinct {distinct}");
                }
            }
        }
    }
}

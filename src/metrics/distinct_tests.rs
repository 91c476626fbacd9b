//! Tests of the frequency counters (distinct.rs).

use super::*;

/// Keys sort and count as a map counts them: spread within 2⁶⁴ (sorted in buckets), bunched
/// in one value, and wider than 2⁶⁴ (sorted as they are), in lists long and short.
#[test]
fn keys_sort_and_count_like_a_map() {
    let mut lcg = crate::testing::Lcg(3);
    let mut next = || lcg.next() >> 20;
    let spread = |x: u64| (x % 3000) as i128 * 1_000_003 - 1_500_000_000;
    let bunched = |x: u64| if x % 10 < 9 { 5 } else { (x % 50_000) as i128 };
    let wide = |x: u64| (x % 500) as i128 * (i128::MAX / 1000) - i128::MAX / 4;
    let cases: [(&str, &dyn Fn(u64) -> i128); 3] = [
        ("spread", &spread),
        ("bunched", &bunched),
        ("wider than 2^64", &wide),
    ];
    for (name, key) in cases {
        for n in [10, 100, 5000] {
            let keys: Vec<i128> = (0..n).map(|_| key(next())).collect();
            let mut want: std::collections::BTreeMap<i128, u32> = Default::default();
            keys.iter().for_each(|k| *want.entry(*k).or_default() += 1);
            let got = count_sorted(keys);
            assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{name}, {n}");
        }
    }
}

/// Spread-out keys in runs: counts, distinct and singletons agree with a hash map, across
/// more keys than one pending run holds and across merged counters.
#[test]
fn sorted_runs_count_like_a_map() {
    let mut lcg = crate::testing::Lcg(9);
    let mut key = || ((lcg.next() >> 35) % 150_000) as i128 * (1 << 40) - (1 << 50);
    let keys: Vec<i128> = (0..200_000).map(|_| key()).collect();
    let mut want: std::collections::HashMap<i128, u32> = Default::default();
    keys.iter().for_each(|k| *want.entry(*k).or_insert(0) += 1);
    let halves = || {
        let (mut a, mut b) = (IntCounts::default(), IntCounts::default());
        for (i, k) in keys.iter().enumerate() {
            if i % 3 == 0 {
                a.add(*k, 1)
            } else {
                b.add(*k, 1)
            }
        }
        a.seal();
        b.seal();
        (a, b)
    };
    let (mut merged, b) = halves();
    merged.merge(&b);
    let (mut absorbed, b) = halves();
    absorbed.absorb(b);
    for a in [merged, absorbed] {
        assert!(
            matches!(&a, IntCounts::Sparse(r) if r.runs.len() <= 8 && r.pending.is_empty() && r.ones.is_empty())
        );
        assert_eq!(a.distinct(), want.len() as u64);
        assert_eq!(
            a.singletons(),
            want.values().filter(|c| **c == 1).count() as u64
        );
        for (k, c) in want.iter().take(5000) {
            assert_eq!(a.get(*k), *c);
        }
        assert_eq!(a.get(7), 0);
    }
}

#[test]
fn int_counts_grow_both_ways_and_turn_sparse() {
    let mut keys: Vec<i128> = (0..3000).map(|i| (i * 7919) % 2000 - 1000).collect();
    keys.extend([5, 5, -999, 999]);
    let mut dense = IntCounts::default();
    let mut want: std::collections::HashMap<i128, u32> = Default::default();
    for k in &keys {
        dense.add(*k, 1);
        *want.entry(*k).or_insert(0) += 1;
    }
    assert!(matches!(dense, IntCounts::Dense { .. }));
    for k in -1100..1100 {
        assert_eq!(
            dense.get(k),
            want.get(&k).copied().unwrap_or(0).min(255),
            "{k}"
        );
    }
    assert_eq!(dense.distinct(), want.len() as u64);
    dense.add(1 << 60, 1);
    assert!(matches!(dense, IntCounts::Sparse(_)));
    dense.seal();
    assert_eq!(dense.get(5), want[&5]);
    assert_eq!(dense.get(1 << 60), 1);
}

/// Dense counters over overlapping ranges (each of a chunk) merge slot by slot into one
/// dense counter that agrees with a map; a union too spread out turns sparse and still agrees.
#[test]
fn dense_counters_merge_slot_by_slot() {
    let mut want: std::collections::HashMap<i128, u32> = Default::default();
    let mut merged = IntCounts::default();
    for chunk in 0..6i128 {
        let mut c = IntCounts::default();
        for i in 0..4000i128 {
            let k = (i * 7919 + chunk * 1237) % (3000 + chunk * 500) - 200 * chunk;
            c.add(k, 1);
            *want.entry(k).or_insert(0) += 1;
        }
        assert!(matches!(c, IntCounts::Dense { .. }));
        merged.merge(&c);
        assert!(matches!(merged, IntCounts::Dense { .. }));
    }
    let check = |m: &IntCounts, want: &std::collections::HashMap<i128, u32>| {
        assert_eq!(m.distinct(), want.len() as u64);
        assert_eq!(
            m.singletons(),
            want.values().filter(|c| **c == 1).count() as u64
        );
        for (k, c) in want {
            assert_eq!(m.get(*k), (*c).min(255), "{k}");
        }
    };
    check(&merged, &want);
    let mut far = IntCounts::default();
    far.add(1 << 40, 1);
    *want.entry(1 << 40).or_insert(0) += 1;
    merged.merge(&far);
    assert!(matches!(merged, IntCounts::Sparse(_)));
    check(&merged, &want);
}

/// Chunks counted on their own and absorbed into a batch's counter count as one counter over
/// every chunk: shuffled ids (each chunk sparse over the range, the batch dense over it), keys
/// spread too far for a dense counter, and a chunk that fills its range.
#[test]
fn chunk_counters_absorbed_count_like_one() {
    use arrow::array::Int64Array;
    let mut lcg = crate::testing::Lcg(17);
    let mut next = || lcg.next() >> 24;
    let shuffled: Vec<i64> = (0..40_000).map(|_| (next() % 1_000_000) as i64).collect();
    let spread: Vec<i64> = (0..40_000)
        .map(|_| (next() % 1_000_000) as i64 * 1_000_003)
        .collect();
    let filled: Vec<i64> = (0..40_000).map(|i| 500_000 + i % 30_000).collect();
    for (name, keys, dense) in [
        ("shuffled", &shuffled, true),
        ("spread", &spread, false),
        (
            "filled then shuffled",
            &[filled.clone(), shuffled.clone()].concat(),
            true,
        ),
    ] {
        let mut one = UniqueCounter::default();
        let mut batch = UniqueCounter::default();
        for chunk in keys.chunks(4096) {
            let a = Int64Array::from(chunk.to_vec());
            one.count(&a, None);
            let mut c = UniqueCounter::default();
            c.count_chunk(&a, None);
            if name == "shuffled" {
                // A chunk's own counter holds its keys, not their range.
                assert!(matches!(c.ints, IntCounts::Sparse(_)));
            }
            batch.absorb(c);
        }
        assert_eq!(batch.distinct(), one.distinct(), "{name}");
        assert_eq!(batch.singletons(), one.singletons(), "{name}");
        let want: std::collections::HashSet<i64> = keys.iter().copied().collect();
        assert_eq!(batch.distinct(), want.len() as u64, "{name}");
        assert_eq!(
            matches!(batch.ints, IntCounts::Dense { .. }),
            dense,
            "{name}"
        );
    }
}

/// Decimals at both ends of 38 digits (a range wider than i128 holds) count without overflow,
/// chunk by chunk or as one counter.
#[test]
fn widest_decimals_count_without_overflow() {
    use arrow::array::Decimal128Array;
    let edge = 10i128.pow(38) - 1;
    let values = vec![Some(edge), Some(-edge), Some(0), Some(0), None, Some(edge)];
    let a = Decimal128Array::from(values)
        .with_precision_and_scale(38, 0)
        .unwrap();
    let mut one = UniqueCounter::default();
    one.count(&a, None);
    one.count(&a, None);
    let mut batch = UniqueCounter::default();
    for _ in 0..2 {
        let mut c = UniqueCounter::default();
        c.count_chunk(&a, None);
        batch.absorb(c);
    }
    assert_eq!((one.distinct(), one.singletons()), (3, 0));
    assert_eq!((batch.distinct(), batch.singletons()), (3, 0));
}

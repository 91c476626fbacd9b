//! Tests of `unique` over a whole batch (batch_unique.rs).

use super::*;
use arrow::array::{DictionaryArray, Float64Array, Int64Array, StringArray, StringViewArray};
use arrow::datatypes::Int32Type;

fn over(chunks: &[(&dyn Array, Option<&BooleanBuffer>)], nd: bool) -> Vec<Vec<Option<bool>>> {
    unique_over(chunks, nd)
        .iter()
        .map(|r| r.iter().collect())
        .collect()
}

#[test]
fn equal_hashes_repeat_only_with_equal_bytes() {
    let values: Vec<&[u8]> = vec![b"a", b"b", b"a", b"c", b"b", b"d"];
    // Every key collides; only the bytes tell the values apart.
    let keys: Vec<(u64, u64)> = (0..values.len() as u64).map(|r| (7, r)).collect();
    let bytes = |r: u64| values[r as usize];
    let mut failed = Vec::new();
    mark_repeats(vec![keys.clone()], Some(&bytes), |r| failed.push(r));
    failed.sort();
    assert_eq!(failed, vec![0, 1, 2, 4]);
    // Hashes that differ only in the bits the rows take when packed: still told apart.
    let keys: Vec<(u64, u64)> = (0..values.len() as u64)
        .map(|r| ((0xABCD << 40) | (r + 1), r))
        .collect();
    assert!(pack(vec![keys.clone()]).is_ok_and(|p| {
        p.keys
            .iter()
            .flatten()
            .all(|k| k >> p.low == 0xABCD << (40 - p.low))
    }));
    let mut failed = Vec::new();
    mark_repeats(vec![keys.clone()], Some(&bytes), |r| failed.push(r));
    failed.sort();
    assert_eq!(failed, vec![0, 1, 2, 4]);
    let keys: Vec<(u64, u64)> = vec![(3, 0), (9, 1), (3, 2)];
    let mut failed = Vec::new();
    mark_repeats(vec![keys.clone()], None, |r| failed.push(r));
    failed.sort();
    assert_eq!(failed, vec![0, 2]);
}

/// Enough pairs to be split into parts sorted at once: the same rows fail as a count of
/// each value says, with keys that collide (confirmed by bytes) and exact keys.
#[test]
fn pairs_split_across_cores_fail_the_same_rows() {
    let mut seed = 3u64;
    let values: Vec<Vec<u8>> = (0..5000)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            format!("v{}", (seed >> 33) % 3000).into_bytes()
        })
        .collect();
    let mut counts: std::collections::HashMap<&[u8], usize> = Default::default();
    for v in &values {
        *counts.entry(v.as_slice()).or_default() += 1;
    }
    let want: Vec<u64> = (0..values.len() as u64)
        .filter(|r| counts[values[*r as usize].as_slice()] > 1)
        .collect();
    // Keys: a weak hash (many collisions), and the value's number itself (exact).
    let weak = |v: &[u8]| v.iter().map(|b| *b as u64).sum::<u64>();
    let exact = |v: &[u8]| {
        std::str::from_utf8(&v[1..])
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let bytes = |r: u64| values[r as usize].as_slice();
    let pairs = |key: &dyn Fn(&[u8]) -> u64| -> Vec<(u64, u64)> {
        values
            .iter()
            .enumerate()
            .map(|(r, v)| (key(v), r as u64))
            .collect()
    };
    let mut failed = Vec::new();
    mark_repeats(vec![pairs(&weak)], Some(&bytes), |r| failed.push(r));
    failed.sort();
    assert_eq!(failed, want);
    let mut failed = Vec::new();
    mark_repeats(vec![pairs(&exact)], None, |r| failed.push(r));
    failed.sort();
    assert_eq!(failed, want);
}

#[test]
fn strings_across_chunks_layouts_and_scopes() {
    let a = StringArray::from(vec![Some("x"), Some("y"), None, Some("z")]);
    let b: DictionaryArray<Int32Type> = vec![Some("y"), Some("w"), None, Some("z")]
        .into_iter()
        .collect();
    let c = StringViewArray::from(vec![Some("long value beyond twelve bytes"), Some("x")]);
    let c = c.slice(0, 1);
    let scope = BooleanBuffer::from(vec![true, true, true, false]);
    let got = over(&[(&a, None), (&b, Some(&scope)), (&c, None)], true);
    assert_eq!(
        got,
        vec![
            vec![Some(true), Some(false), None, Some(true)],
            // `z` is out of scope in the second chunk, so the first chunk's `z` is unique
            // (the out-of-scope row's own result is dropped by the scope later).
            vec![Some(false), Some(true), None, Some(true)],
            vec![Some(true)],
        ]
    );
    // Nulls as one value: three of them fail.
    let got = over(&[(&a, None), (&b, None)], false);
    assert_eq!(got[0][2], Some(false));
    assert_eq!(got[0][3], Some(false));
}

/// Dense ids across sliced chunks, negative values, a scope spelled out and a null: the
/// verdicts of a naive count.
#[test]
fn dense_ids_as_slices_and_in_general() {
    let mut seed = 11u64;
    let ids: Vec<i64> = (0..3000)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            -1500 + (seed >> 40) as i64 % 2500
        })
        .collect();
    let naive = |v: i64| ids.iter().filter(|x| **x == v).count() == 1;
    let all = Int64Array::from(ids.clone());
    let (a, b, c) = (
        all.slice(0, 1000),
        all.slice(1000, 1500),
        all.slice(2500, 500),
    );
    let everything = BooleanBuffer::new_set(1000);
    let got = over(&[(&a, None), (&b, None), (&c, None)], true);
    let got_general = over(&[(&a, Some(&everything)), (&b, None), (&c, None)], true);
    let want: Vec<Option<bool>> = ids.iter().map(|v| Some(naive(*v))).collect();
    assert_eq!(got.concat(), want);
    // The same with the first chunk's scope spelled out (every row).
    assert_eq!(got_general.concat(), want);
    // A chunk with a null: the other values keep their verdicts.
    let mut with_null: Vec<Option<i64>> = ids[..1000].iter().map(|v| Some(*v)).collect();
    with_null[3] = None;
    let n = Int64Array::from(with_null);
    let got = over(&[(&n, None), (&b, None), (&c, None)], true);
    let still: Vec<Option<i64>> = ids
        .iter()
        .enumerate()
        .map(|(i, v)| (i != 3).then_some(*v))
        .collect();
    for (i, g) in got.concat().iter().enumerate() {
        let want = still[i].map(|v| still.iter().filter(|x| **x == Some(v)).count() == 1);
        assert_eq!(*g, want, "row {i}");
    }
}

#[test]
fn sparse_integers_and_floats_are_sorted() {
    let a = Int64Array::from(vec![Some(i64::MIN), Some(5), None, Some(i64::MAX)]);
    let b = Int64Array::from(vec![Some(i64::MAX), Some(-5)]);
    assert_eq!(
        over(&[(&a, None), (&b, None)], false),
        vec![
            vec![Some(true), Some(true), Some(true), Some(false)],
            vec![Some(false), Some(true)],
        ]
    );
    let f = Float64Array::from(vec![0.0, -0.0, f64::NAN, 1e300, -1e300]);
    assert_eq!(
        over(&[(&f, None)], true),
        vec![vec![
            Some(false),
            Some(false),
            Some(true),
            Some(true),
            Some(true)
        ]]
    );
}

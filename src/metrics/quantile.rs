//! Exact quantiles over values gathered in runs (one per chunk), by radix selection.
//!
//! A quantile needs the values at two ranks of the sorted order. Instead of joining the runs
//! and selecting in the joined copy, each value is mapped to a 64-bit key that sorts as the
//! numbers do (NaN last, as [`float_cmp`](crate::values::domain::float_cmp) orders them); one
//! pass counts the keys by their top [`BUCKET_BITS`] bits, a second gathers only the bucket
//! holding the lower rank (and the smallest key above it, for the next rank) and selects in it.
//! Two streaming passes over the runs, each core over its share of them, and no copy of them.

use crate::par::{cores, par_map};

/// Bits of the key that name its bucket in the counting pass.
const BUCKET_BITS: u32 = 16;

/// A key that orders as the number does: `-0.0` as `0.0`, every NaN last and equal.
fn key(x: f64) -> u64 {
    if x.is_nan() {
        return u64::MAX;
    }
    // Adding zero turns -0.0 into 0.0 and leaves every other number as it is.
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The number a [`key`] was made from.
fn number(key: u64) -> f64 {
    if key == u64::MAX {
        return f64::NAN;
    }
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// Values below which one core does it all.
const PARALLEL_VALUES: usize = if cfg!(test) { 256 } else { 1 << 16 };

/// The values at ranks `lo` and `lo + 1` (the latter `None` past the last) of the runs in
/// sorted order; `lo` must be below the number of values. Both passes run on every core, each
/// over its share of the runs.
fn ranks(runs: &[Vec<f64>], lo: usize, n: usize) -> (f64, Option<f64>) {
    let shift = u64::BITS - BUCKET_BITS;
    let shares: Vec<&[Vec<f64>]> = if n >= PARALLEL_VALUES {
        runs.chunks(runs.len().div_ceil(cores())).collect()
    } else {
        vec![runs]
    };
    let mut counts = vec![0usize; 1 << BUCKET_BITS];
    for part in par_map(&shares, |share| {
        let mut counts = vec![0usize; 1 << BUCKET_BITS];
        for x in share.iter().flatten() {
            counts[(key(*x) >> shift) as usize] += 1;
        }
        counts
    }) {
        counts.iter_mut().zip(part).for_each(|(c, p)| *c += p);
    }
    let (mut bucket, mut before) = (0, 0);
    while before + counts[bucket] <= lo {
        before += counts[bucket];
        bucket += 1;
    }
    // The bucket's keys, and the smallest key of a later bucket.
    let gathered = par_map(&shares, |share| {
        let mut within: Vec<u64> = Vec::new();
        let mut above: Option<u64> = None;
        for k in share.iter().flatten().map(|x| key(*x)) {
            match (k >> shift).cmp(&(bucket as u64)) {
                std::cmp::Ordering::Equal => within.push(k),
                std::cmp::Ordering::Greater => above = Some(above.map_or(k, |a| a.min(k))),
                std::cmp::Ordering::Less => {}
            }
        }
        (within, above)
    });
    let above = gathered.iter().filter_map(|(_, a)| *a).min();
    let mut within: Vec<u64> = Vec::with_capacity(counts[bucket]);
    for (w, _) in gathered {
        within.extend(w);
    }
    let (_, at_lo, rest) = within.select_nth_unstable(lo - before);
    let at_lo = *at_lo;
    let next = rest.iter().min().copied().or(above);
    (number(at_lo), next.map(number))
}

/// Exact quantile with linear interpolation between the two nearest ranks (the default of
/// numpy and of Spark's `percentile`): position `q * (n - 1)` in sorted order, NaN last.
/// `None` over no values.
pub(super) fn quantile(runs: &[Vec<f64>], q: f64) -> Option<f64> {
    let n: usize = runs.iter().map(Vec::len).sum();
    if n == 0 {
        return None;
    }
    let pos = q * (n - 1) as f64;
    let lo = (pos.floor() as usize).min(n - 1);
    let frac = pos - lo as f64;
    let (at_lo, at_hi) = ranks(runs, lo, n);
    Some(match at_hi {
        Some(at_hi) if frac > 0.0 => at_lo + (at_hi - at_lo) * frac,
        _ => at_lo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::domain::float_cmp;

    /// Selection over runs gives the ranks a full sort of the joined values gives, for every q,
    /// with repeats, NaN, infinities, signed zeros, and values that share a bucket or not.
    #[test]
    fn quantile_by_selection_matches_a_sort() {
        let mut rng = crate::internal::generate::Rng(3);
        let mut next = || rng.next() >> 33;
        for n in [1usize, 2, 3, 10, 257, 1000, 5000] {
            for spread in [0, 1, 2] {
                let vals: Vec<f64> = (0..n)
                    .map(|i| match (i % 97, spread) {
                        (5, _) => f64::NAN,
                        (11, _) => f64::INFINITY,
                        (13, _) => f64::NEG_INFINITY,
                        (17, _) => -0.0,
                        (_, 0) => (next() % 50) as f64 - 20.5,
                        // Values a hair apart: all in one bucket of the counting pass.
                        (_, 1) => 1000.0 + (next() % 50) as f64 * 1e-9,
                        _ => f64::from_bits(next() << 31) * if i % 2 == 0 { 1.0 } else { -1.0 },
                    })
                    .collect();
                let mut sorted = vals.clone();
                sorted.sort_unstable_by(|a, b| float_cmp(*a, *b));
                // Cut into runs of uneven lengths, one of them empty.
                let cuts = [0, n / 3, n / 3, n / 2 + 1, n];
                let runs: Vec<Vec<f64>> = cuts
                    .windows(2)
                    .map(|w| vals[w[0].min(n)..w[1].min(n)].to_vec())
                    .collect();
                for q in [0.0, 0.01, 0.3, 0.5, 0.75, 0.99, 1.0] {
                    let pos = q * (n - 1) as f64;
                    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                    let want = if lo == hi {
                        sorted[lo]
                    } else {
                        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
                    };
                    let got = quantile(&runs, q).expect("values");
                    assert!(
                        got == want || (got.is_nan() && want.is_nan()),
                        "n {n} spread {spread} q {q}: {got} != {want}"
                    );
                }
            }
        }
        assert_eq!(quantile(&[Vec::new()], 0.5), None);
    }

    #[test]
    fn keys_order_as_numbers_and_map_back() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -1e-300,
            0.0,
            1e-300,
            2.5,
            f64::MAX,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(number(key(x)), x);
        }
        assert_eq!(key(-0.0), key(0.0));
        assert!(key(f64::INFINITY) < key(f64::NAN));
        assert!(number(key(-f64::NAN)).is_nan());
    }
}

//! Sorted runs of `(value, count)` entries, the shape both frequency counters keep
//! ([`super::distinct`] for integer keys, [`super::byte_counts`] for byte strings): two runs
//! merge into one, and a stack of runs merges like the digits of a binary counter, so at most
//! about log2(values / run) remain.

use std::cmp::Ordering;

/// Two runs sorted by `order` as one; entries equal under `order` become `add(a, b)`. Large
/// runs are cut at entries of `a` into one part per core (`b` cut where those entries would
/// stand in it), the parts merged on their own cores and joined in order.
pub(super) fn merge_by<T: Copy + Send + Sync>(
    a: &[T],
    b: &[T],
    order: impl Fn(&T, &T) -> Ordering + Sync,
    add: impl Fn(&T, &T) -> T + Sync,
) -> Vec<T> {
    let parts = crate::par::cores();
    if parts < 2 || a.len() + b.len() < PARALLEL_MIN || a.len() < parts {
        return merge_one(a, b, &order, &add);
    }
    let cuts: Vec<(usize, usize)> = (0..=parts)
        .map(|p| match p {
            0 => (0, 0),
            p if p == parts => (a.len(), b.len()),
            p => {
                let i = a.len() * p / parts;
                (i, b.partition_point(|x| order(x, &a[i]) == Ordering::Less))
            }
        })
        .collect();
    let pieces: Vec<((usize, usize), (usize, usize))> =
        cuts.windows(2).map(|w| (w[0], w[1])).collect();
    crate::par::par_map(&pieces, |&((i0, j0), (i1, j1))| {
        merge_one(&a[i0..i1], &b[j0..j1], &order, &add)
    })
    .concat()
}

/// Runs whose merge together holds at least this many entries are merged on every core.
const PARALLEL_MIN: usize = if cfg!(test) { 1 << 10 } else { 1 << 17 };

/// [`merge_by`] on one core.
fn merge_one<T: Copy>(
    a: &[T],
    b: &[T],
    order: &impl Fn(&T, &T) -> Ordering,
    add: &impl Fn(&T, &T) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match order(&a[i], &b[j]) {
            Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            Ordering::Equal => {
                out.push(add(&a[i], &b[j]));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Pushes `run` onto `runs`, then merges the top two with `merge` while the newer holds more
/// than half as many entries as the one below it.
pub(super) fn push_merging<T>(
    runs: &mut Vec<Vec<T>>,
    run: Vec<T>,
    mut merge: impl FnMut(&[T], &[T]) -> Vec<T>,
) {
    runs.push(run);
    while let [.., a, b] = runs.as_slice()
        && b.len() * 2 > a.len()
    {
        let b = runs.pop().unwrap_or_default();
        let a = runs.pop().unwrap_or_default();
        runs.push(merge(&a, &b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merged on every core or on one, two runs give the same run, with the counts of keys in
    /// both added, whatever the runs' lengths and overlap.
    #[test]
    fn merges_on_every_core_like_on_one() {
        let run = |n: u64, step: u64, off: u64| -> Vec<(u64, u32)> {
            (0..n)
                .map(|i| (i * step + off, 1 + (i % 3) as u32))
                .collect()
        };
        let order = |x: &(u64, u32), y: &(u64, u32)| x.0.cmp(&y.0);
        let add = |x: &(u64, u32), y: &(u64, u32)| (x.0, x.1 + y.1);
        for (a, b) in [
            (run(5000, 3, 0), run(4000, 2, 1)),
            (run(3000, 1, 0), run(3000, 1, 0)),
            (run(10, 7, 0), run(9000, 1, 5)),
            (run(9000, 1, 50_000), run(2000, 1, 0)),
        ] {
            let want = merge_one(&a, &b, &order, &add);
            assert!(want.windows(2).all(|w| w[0].0 < w[1].0));
            assert_eq!(merge_by(&a, &b, order, add), want);
            assert_eq!(merge_by(&b, &a, order, add), want);
        }
    }
}

//! Sorted runs of `(value, count)` entries, the shape both frequency counters keep
//! ([`super::distinct`] for integer keys, [`super::byte_counts`] for byte strings): two runs
//! merge into one, and a stack of runs merges like the digits of a binary counter, so at most
//! about log2(values / run) remain.

use std::cmp::Ordering;
use std::mem::MaybeUninit;
use std::sync::Mutex;

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
    let room = |&((i0, j0), (i1, j1)): &((usize, usize), (usize, usize))| (i1 - i0) + (j1 - j0);
    // Each part merges into its own stretch of one output, then the stretches close up (a part
    // is shorter than its stretch by the entries it added up).
    let mut out: Vec<T> = Vec::with_capacity(a.len() + b.len());
    let written = {
        let mut rest = out.spare_capacity_mut();
        let mut parts = Vec::with_capacity(pieces.len());
        for piece in &pieces {
            let (stretch, tail) = rest.split_at_mut(room(piece));
            parts.push((*piece, Mutex::new(stretch)));
            rest = tail;
        }
        crate::par::par_map(&parts, |(((i0, j0), (i1, j1)), stretch)| {
            let mut stretch = stretch.lock().expect("one part per stretch");
            merge_into(&a[*i0..*i1], &b[*j0..*j1], &order, &add, &mut stretch)
        })
    };
    let spare = out.spare_capacity_mut();
    let (mut len, mut start) = (0, 0);
    for (piece, n) in pieces.iter().zip(written) {
        spare.copy_within(start..start + n, len);
        (len, start) = (len + n, start + room(piece));
    }
    // SAFETY: each part initialized the first `n` slots of its stretch, and those were moved
    // in order to the front, so the first `len` slots are initialized.
    unsafe { out.set_len(len) };
    out
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
    let n = merge_into(a, b, order, add, out.spare_capacity_mut());
    // SAFETY: `merge_into` initialized the first `n` slots.
    unsafe { out.set_len(n) };
    out
}

/// Merges `a` and `b` into the front of `out` (room for both); gives the entries written.
fn merge_into<T: Copy>(
    a: &[T],
    b: &[T],
    order: &impl Fn(&T, &T) -> Ordering,
    add: &impl Fn(&T, &T) -> T,
    out: &mut [MaybeUninit<T>],
) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let e = match order(&a[i], &b[j]) {
            Ordering::Less => {
                i += 1;
                a[i - 1]
            }
            Ordering::Greater => {
                j += 1;
                b[j - 1]
            }
            Ordering::Equal => {
                (i, j) = (i + 1, j + 1);
                add(&a[i - 1], &b[j - 1])
            }
        };
        out[n].write(e);
        n += 1;
    }
    for e in a[i..].iter().chain(&b[j..]) {
        out[n].write(*e);
        n += 1;
    }
    n
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

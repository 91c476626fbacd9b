//! Sorted runs of `(value, count)` entries, the shape both frequency counters keep
//! ([`super::distinct`] for integer keys, [`super::byte_counts`] for byte strings): two runs
//! merge into one, and a stack of runs merges like the digits of a binary counter, so at most
//! about log2(values / run) remain.

use std::cmp::Ordering;

/// Two runs sorted by `order` as one; entries equal under `order` become `add(a, b)`.
pub(super) fn merge_by<T: Copy>(
    a: &[T],
    b: &[T],
    order: impl Fn(&T, &T) -> Ordering,
    add: impl Fn(&T, &T) -> T,
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

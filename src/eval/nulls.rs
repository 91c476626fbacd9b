//! The one place the null policy and `where` scope are applied.
//!
//! A row-level kernel returns a `BooleanArray`: `true` pass, `false` fail, null where the value
//! was null (or a SQL expression was NULL). This module turns it into a null-free mask of
//! failing rows and the number of rows evaluated, 64 rows at a time:
//!
//! | policy | null slot | evaluated |
//! |---|---|---|
//! | `ignore` | neither passes nor fails | non-null rows in scope |
//! | `pass` | passes | all rows in scope |
//! | `fail` | fails | all rows in scope |
//!
//! Rows outside the `where` scope (where it is FALSE or NULL) are never evaluated and never fail.

use arrow::array::{Array, BooleanArray};
use arrow::buffer::BooleanBuffer;

use crate::suite::NullPolicy;

/// Failing rows (null-free) and how many rows were evaluated.
#[derive(Debug, Clone)]
pub(crate) struct RowOutcome {
    pub fail: BooleanBuffer,
    pub evaluated: u64,
}

/// The rows where a `where` result is TRUE (NULL counts as not TRUE).
pub(crate) fn true_mask(result: &BooleanArray) -> BooleanBuffer {
    match result.nulls() {
        Some(n) => result.values() & n.inner(),
        None => result.values().clone(),
    }
}

pub(crate) fn outcome(
    result: &BooleanArray,
    policy: NullPolicy,
    scope: Option<&BooleanBuffer>,
) -> RowOutcome {
    let len = result.len();
    let failed_values = !result.values();
    let (fail, evaluated) = match result.nulls() {
        None => (failed_values, None),
        Some(n) => {
            let valid = n.inner();
            match policy {
                NullPolicy::Ignore => (&failed_values & valid, Some(valid.clone())),
                NullPolicy::Pass => (&failed_values & valid, None),
                NullPolicy::Fail => (&failed_values | &!valid, None),
            }
        }
    };
    match scope {
        None => RowOutcome {
            evaluated: evaluated.map_or(len, |e| e.count_set_bits()) as u64,
            fail,
        },
        Some(s) => RowOutcome {
            evaluated: evaluated.map_or(s.count_set_bits(), |e| (&e & s).count_set_bits()) as u64,
            fail: &fail & s,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(b: &BooleanBuffer) -> Vec<bool> {
        b.iter().collect()
    }

    #[test]
    fn policies() {
        let r = BooleanArray::from(vec![Some(true), Some(false), None]);
        let o = outcome(&r, NullPolicy::Ignore, None);
        assert_eq!((bits(&o.fail), o.evaluated), (vec![false, true, false], 2));
        let o = outcome(&r, NullPolicy::Pass, None);
        assert_eq!((bits(&o.fail), o.evaluated), (vec![false, true, false], 3));
        let o = outcome(&r, NullPolicy::Fail, None);
        assert_eq!((bits(&o.fail), o.evaluated), (vec![false, true, true], 3));
    }

    #[test]
    fn scope_excludes_rows() {
        let r = BooleanArray::from(vec![Some(false), Some(false), None, None]);
        let scope = true_mask(&BooleanArray::from(vec![
            Some(true),
            None,
            Some(true),
            Some(false),
        ]));
        assert_eq!(bits(&scope), vec![true, false, true, false]);
        let o = outcome(&r, NullPolicy::Fail, Some(&scope));
        assert_eq!(
            (bits(&o.fail), o.evaluated),
            (vec![true, false, true, false], 2)
        );
        let o = outcome(&r, NullPolicy::Ignore, Some(&scope));
        assert_eq!(
            (bits(&o.fail), o.evaluated),
            (vec![true, false, false, false], 1)
        );
    }

    #[test]
    fn sliced_results_and_word_edges() {
        for n in [63usize, 64, 65, 129] {
            let vals: Vec<Option<bool>> = (0..n + 3)
                .map(|i| if i % 5 == 0 { None } else { Some(i % 3 != 0) })
                .collect();
            let full = BooleanArray::from(vals.clone());
            let sliced = full.slice(3, n);
            let o = outcome(&sliced, NullPolicy::Fail, None);
            let want: Vec<bool> = vals[3..].iter().map(|v| *v != Some(true)).collect();
            assert_eq!(bits(&o.fail), want, "n={n}");
            assert_eq!(o.evaluated, n as u64);
        }
    }
}

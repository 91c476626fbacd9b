//! Kernel families, one file each. Every kernel takes an Arrow array and returns a
//! `BooleanArray` (`true` pass, null where the value was null); the null policy is applied in
//! [`super::nulls`], never here.
//!
//! A row-level kind is a [`RowKernel`]: bound once per schema, then evaluated per chunk through
//! one dynamic call (the loops inside stay monomorphized per Arrow type). Adding a row kind
//! means its kernel here, its arm in [`super::bind`], and its model in [`crate::suite::kinds`];
//! the evaluator, the verdicts and the column plan need no change.

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;
use chrono::{DateTime, Utc};

use crate::io::facts::{ChunkFacts, ColumnFacts};

/// A row-level check bound to a schema.
pub(crate) trait RowKernel: std::fmt::Debug + Send + Sync {
    /// The columns (by index in the bound schema) it reads.
    fn columns(&self) -> Vec<usize>;

    /// Per row of `batch` (of the bound schema): `true` passes, `false` fails, null where the
    /// value was null (for the null policy to decide). `as_of` is the run's clock.
    fn evaluate(
        &self,
        batch: &RecordBatch,
        as_of: DateTime<Utc>,
    ) -> Result<BooleanArray, KernelError>;

    /// Whether the chunk's file statistics prove that every non-null value passes, so the
    /// kernel need not run (only the null policy is left). Default: never.
    fn proven(&self, _facts: &ChunkFacts, _batch: &RecordBatch) -> bool {
        false
    }
}

/// A row-level check of one column's values: the common shape of most kinds.
pub(crate) trait ColumnCheck: std::fmt::Debug + Send + Sync {
    /// Per value: `true` passes, `false` fails, null where the value was null. `None` when the
    /// check cannot read a column of this type.
    fn check(&self, array: &dyn Array, as_of: DateTime<Utc>) -> Option<BooleanArray>;

    /// Whether the column's statistics prove that every non-null value passes. Default: never.
    fn proven_by(&self, _facts: &ColumnFacts) -> bool {
        false
    }
}

/// A [`ColumnCheck`] bound to a column, `negated` for the `not_` kinds.
#[derive(Debug)]
pub(crate) struct OnColumn<C> {
    pub col: usize,
    pub check: C,
    pub negated: bool,
}

impl<C: ColumnCheck> OnColumn<C> {
    pub(crate) fn kernel(col: usize, check: C) -> Box<dyn RowKernel>
    where
        C: 'static,
    {
        Box::new(OnColumn {
            col,
            check,
            negated: false,
        })
    }

    pub(crate) fn negated(col: usize, check: C, negated: bool) -> Box<dyn RowKernel>
    where
        C: 'static,
    {
        Box::new(OnColumn {
            col,
            check,
            negated,
        })
    }
}

impl<C: ColumnCheck> RowKernel for OnColumn<C> {
    fn columns(&self) -> Vec<usize> {
        vec![self.col]
    }

    fn evaluate(
        &self,
        batch: &RecordBatch,
        as_of: DateTime<Utc>,
    ) -> Result<BooleanArray, KernelError> {
        let array = batch.column(self.col).as_ref();
        let r = self
            .check
            .check(array, as_of)
            .ok_or_else(|| KernelError::Unsupported(array.data_type().clone()))?;
        Ok(negate(r, self.negated))
    }

    /// The statistics of the column as read (same type): a cast column has none.
    fn proven(&self, facts: &ChunkFacts, batch: &RecordBatch) -> bool {
        let field = batch.schema_ref().field(self.col);
        facts
            .column(field.name(), field.data_type())
            .is_some_and(|f| self.check.proven_by(f))
    }
}

/// Why a kernel could not run.
#[derive(Debug)]
pub(crate) enum KernelError {
    /// It cannot read a column of this type.
    Unsupported(DataType),
    /// The engine behind it failed (DataFusion, for SQL).
    Engine(Box<dyn std::error::Error + Send + Sync>),
}

/// The result with pass and fail swapped (nulls kept): `not_in_set`, `not_matches_regex`.
pub(crate) fn negate(r: BooleanArray, negated: bool) -> BooleanArray {
    if negated {
        BooleanArray::new(!r.values(), r.nulls().cloned())
    } else {
        r
    }
}

pub(crate) mod batch_compound;
pub(crate) mod batch_unique;
pub(crate) mod expr;
pub(crate) mod fixed_format;
pub(crate) mod future;
pub(crate) mod range;
mod repeats;
pub(crate) mod seq;
pub(crate) mod set;
pub(crate) mod strings;
pub(crate) mod unique;
pub(crate) mod words;

/// Every row-level kernel on the edge cases arrow's own kernel tests use: empty, all-null,
/// lengths around the 64-bit word (63, 64, 65, 129), sliced inputs (a non-zero offset), and
/// every string layout, each against a per-row reference.
#[cfg(test)]
mod edge_cases {
    use std::sync::Arc;

    use arrow::array::{
        Array, ArrayRef, BooleanArray, DictionaryArray, Int64Array, LargeStringArray, StringArray,
        StringViewArray,
    };
    use arrow::datatypes::{DataType, Int16Type};

    use super::range::{Interval, RangeFilter};
    use super::set::SetFilter;
    use super::strings::{FormatCheck, SuiteRegex, length_between, regex_matches};
    use crate::suite::{Literal, RegexMode};

    fn strings(n: usize, all_null: bool) -> Vec<Option<String>> {
        (0..n)
            .map(|i| {
                (!all_null && i % 7 != 3)
                    .then(|| ["ab", "abc", "", "zz", "2024-01-05", "ä"][i % 6].to_string())
            })
            .collect()
    }

    fn layouts(v: &[Option<String>]) -> Vec<ArrayRef> {
        let refs: Vec<Option<&str>> = v.iter().map(|s| s.as_deref()).collect();
        vec![
            Arc::new(StringArray::from(refs.clone())),
            Arc::new(LargeStringArray::from(refs.clone())),
            Arc::new(StringViewArray::from(refs.clone())),
            Arc::new(refs.iter().copied().collect::<DictionaryArray<Int16Type>>()),
        ]
    }

    fn check(name: &str, got: &BooleanArray, want: &[Option<bool>]) {
        assert_eq!(got.len(), want.len(), "{name}");
        let got: Vec<Option<bool>> = got.iter().collect();
        assert_eq!(got, want, "{name}");
    }

    #[test]
    fn string_kernels() {
        let set = SetFilter::build(
            &[Literal::Str("ab".into()), Literal::Str("zz".into())],
            &DataType::Utf8,
            false,
        )
        .unwrap();
        let re = SuiteRegex::new("[a-c]+", RegexMode::Full).unwrap();
        let fmt = FormatCheck::new("%Y-%m-%d").unwrap();
        let range = RangeFilter::build(
            Interval::bind(
                Some(&Literal::Str("abc".into())),
                None,
                false,
                false,
                &DataType::Utf8,
            )
            .unwrap(),
            &DataType::Utf8,
        )
        .unwrap();
        for n in [0usize, 1, 63, 64, 65, 129] {
            for all_null in [false, true] {
                let full = strings(n + 3, all_null);
                for offset in [0usize, 3] {
                    let vals = &full[offset..offset + n];
                    for (li, layout) in layouts(&full).into_iter().enumerate() {
                        let a = layout.slice(offset, n);
                        let name = |k: &str| {
                            format!("{k} n={n} null={all_null} offset={offset} layout={li}")
                        };
                        let want = |f: &dyn Fn(&str) -> bool| -> Vec<Option<bool>> {
                            vals.iter().map(|v| v.as_deref().map(f)).collect()
                        };
                        check(
                            &name("in_set"),
                            &set.contains(a.as_ref()).unwrap(),
                            &want(&|s| s == "ab" || s == "zz"),
                        );
                        check(
                            &name("regex"),
                            &regex_matches(&re, a.as_ref()).unwrap(),
                            &want(&|s| {
                                !s.is_empty() && s.chars().all(|c| ('a'..='c').contains(&c))
                            }),
                        );
                        check(
                            &name("length"),
                            &length_between(a.as_ref(), 1, 2).unwrap(),
                            &want(&|s| (1..=2).contains(&s.chars().count())),
                        );
                        check(
                            &name("format"),
                            &fmt.evaluate(a.as_ref()).unwrap(),
                            &want(&|s| s == "2024-01-05"),
                        );
                        check(
                            &name("between"),
                            &range.evaluate(a.as_ref()).unwrap(),
                            &want(&|s| s >= "abc"),
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn integer_kernels() {
        let set =
            SetFilter::build(&[Literal::Int(3, "3".into())], &DataType::Int64, false).unwrap();
        let range = RangeFilter::build(
            Interval::bind(
                Some(&Literal::Int(2, "2".into())),
                Some(&Literal::Int(4, "4".into())),
                false,
                true,
                &DataType::Int64,
            )
            .unwrap(),
            &DataType::Int64,
        )
        .unwrap();
        for n in [0usize, 1, 63, 64, 65, 129] {
            for all_null in [false, true] {
                let full: Vec<Option<i64>> = (0..n + 5)
                    .map(|i| (!all_null && i % 5 != 1).then_some(i as i64 % 6))
                    .collect();
                let a: ArrayRef = Arc::new(Int64Array::from(full.clone()));
                let a = a.slice(5, n);
                let vals = &full[5..];
                check(
                    &format!("set {n}"),
                    &set.contains(a.as_ref()).unwrap(),
                    &vals.iter().map(|v| v.map(|v| v == 3)).collect::<Vec<_>>(),
                );
                check(
                    &format!("range {n}"),
                    &range.evaluate(a.as_ref()).unwrap(),
                    &vals
                        .iter()
                        .map(|v| v.map(|v| (2..4).contains(&v)))
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
}

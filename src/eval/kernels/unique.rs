//! `unique` and `compound_unique`: every copy of a repeated value fails.
//!
//! Uniqueness is a property of the whole batch, which may arrive in several chunks, so it takes
//! two steps: a counter sees every chunk and builds a frequency map of the in-scope values
//! ([`crate::metrics::distinct`] for one column, [`CompoundCounter`] for a tuple), then each row
//! is marked by its value's final count.
//!
//! Nulls: with `nulls_distinct: true` (the default) a null is not a value and gets a null result,
//! for the null policy to decide. With `nulls_distinct: false` nulls are one value: a row with a
//! null passes when it is the only null. `compound_unique`: a row with any null column passes.

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::row::{RowConverter, SortField};
use hashbrown::HashMap;

pub(crate) use crate::metrics::distinct::UniqueCounter;

/// Rows where any of the columns is null (a tuple with a null is not counted).
pub(crate) fn any_null(columns: &[ArrayRef]) -> Option<NullBuffer> {
    columns.iter().fold(None, |acc, c| {
        NullBuffer::union(acc.as_ref(), c.logical_nulls().as_ref())
    })
}

/// The counter for `compound_unique`, over the Arrow row format of the tuple.
#[derive(Debug)]
pub(crate) struct CompoundCounter {
    converter: RowConverter,
    counts: HashMap<Box<[u8]>, u32>,
}

impl CompoundCounter {
    pub(crate) fn new(
        types: &[arrow::datatypes::DataType],
    ) -> Result<Self, arrow::error::ArrowError> {
        Ok(CompoundCounter {
            converter: RowConverter::new(
                types.iter().map(|t| SortField::new(t.clone())).collect(),
            )?,
            counts: HashMap::new(),
        })
    }

    pub(crate) fn count(
        &mut self,
        columns: &[ArrayRef],
        scope: Option<&BooleanBuffer>,
    ) -> Result<(), arrow::error::ArrowError> {
        let rows = self.converter.convert_columns(columns)?;
        let nulls = any_null(columns);
        for (i, row) in rows.iter().enumerate() {
            if scope.is_none_or(|s| s.value(i)) && nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                *self.counts.entry_ref(row.as_ref()).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    pub(crate) fn evaluate(
        &self,
        columns: &[ArrayRef],
    ) -> Result<BooleanArray, arrow::error::ArrowError> {
        let rows = self.converter.convert_columns(columns)?;
        let nulls = any_null(columns);
        let pass: Vec<bool> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                nulls.as_ref().is_some_and(|n| n.is_null(i))
                    || self.counts.get(row.as_ref()).is_none_or(|c| *c <= 1)
            })
            .collect();
        Ok(BooleanArray::from(pass))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Int32Type};
    use std::sync::Arc;

    fn unique_of(chunks: &[&dyn Array], nulls_distinct: bool) -> Vec<Vec<Option<bool>>> {
        let mut c = UniqueCounter::default();
        for a in chunks {
            c.count(*a, None);
        }
        chunks
            .iter()
            .map(|a| c.evaluate(*a, nulls_distinct).iter().collect())
            .collect()
    }

    #[test]
    fn every_copy_fails_across_chunks() {
        let a = Int64Array::from(vec![Some(1), Some(2), None]);
        let b = Int64Array::from(vec![Some(3), Some(1), None]);
        assert_eq!(
            unique_of(&[&a, &b], true),
            vec![
                vec![Some(false), Some(true), None],
                vec![Some(true), Some(false), None]
            ]
        );
        assert_eq!(
            unique_of(&[&a, &b], false),
            vec![
                vec![Some(false), Some(true), Some(false)],
                vec![Some(true), Some(false), Some(false)]
            ]
        );
    }

    #[test]
    fn strings_dictionaries_and_floats() {
        let s = StringArray::from(vec![Some("a"), Some("b"), Some("a"), None]);
        assert_eq!(
            unique_of(&[&s], true)[0],
            vec![Some(false), Some(true), Some(false), None]
        );
        let d: DictionaryArray<Int32Type> = vec![Some("a"), Some("b"), Some("a"), None]
            .into_iter()
            .collect();
        assert_eq!(
            unique_of(&[&d], true)[0],
            vec![Some(false), Some(true), Some(false), None]
        );
        let sliced = s.slice(1, 3);
        assert_eq!(
            unique_of(&[&sliced], true)[0],
            vec![Some(true), Some(true), None]
        );
        let f = Float64Array::from(vec![0.0, -0.0, f64::NAN, f64::NAN, 1.0]);
        assert_eq!(
            unique_of(&[&f], true)[0],
            vec![
                Some(false),
                Some(false),
                Some(false),
                Some(false),
                Some(true)
            ]
        );
    }

    #[test]
    fn compound_rows_with_a_null_pass() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            Some(1),
            Some(1),
            None,
            None,
        ]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![
            Some("x"),
            Some("x"),
            Some("y"),
            Some("x"),
            Some("x"),
        ]));
        let mut c = CompoundCounter::new(&[DataType::Int64, DataType::Utf8]).unwrap();
        c.count(&[a.clone(), b.clone()], None).unwrap();
        let got: Vec<_> = c.evaluate(&[a, b]).unwrap().iter().collect();
        assert_eq!(
            got,
            vec![Some(false), Some(false), Some(true), Some(true), Some(true)]
        );
    }
}

//! What a Parquet file's row-group statistics prove about its rows, so that a check they settle
//! is not scanned.
//!
//! ```text
//! footer ─▶ per row group and column: null count, exact min/max ─▶ FileFacts
//! a chunk's rows [first, first + len) ─▶ the groups it overlaps, merged ─▶ ChunkFacts
//! ```
//!
//! A fact is true of every subset of the rows it was taken from (no nulls; every value within
//! [min, max]), so a chunk that is a slice of a group, or spans several, gets sound facts by
//! merging. Only statistics that are exact and whose values are the Arrow values read are used:
//! signed integers, dates, timestamps stored in their own unit, floats. Floats' min/max leave
//! NaN out, so they prove only a lone lower bound (NaN passes it: see the range kernel).
//!
//! A file's null counts, summed over its row groups, settle null-count metrics of a batch that
//! is the whole file; a column no other check reads is then not decoded at all
//! (`CompiledSuite::column_plan`).

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

/// The value range a row group's statistics give a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bounds {
    /// Integer-like values (integers, days, timestamp ticks), inclusive.
    Int(i128, i128),
    /// Floats other than NaN, inclusive.
    Float(f64, f64),
}

/// What statistics prove about one column over some rows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ColumnFacts {
    /// No value is null.
    pub no_nulls: bool,
    /// Every (non-NaN) value lies within these bounds.
    pub bounds: Option<Bounds>,
}

impl ColumnFacts {
    /// Facts true of the rows of both `self` and `other`.
    fn union(self, other: ColumnFacts) -> ColumnFacts {
        let bounds = match (self.bounds, other.bounds) {
            (Some(Bounds::Int(a, b)), Some(Bounds::Int(c, d))) => {
                Some(Bounds::Int(a.min(c), b.max(d)))
            }
            (Some(Bounds::Float(a, b)), Some(Bounds::Float(c, d))) => {
                Some(Bounds::Float(a.min(c), b.max(d)))
            }
            _ => None,
        };
        ColumnFacts {
            no_nulls: self.no_nulls && other.no_nulls,
            bounds,
        }
    }
}

/// Facts about the columns of some rows: by column name and the Arrow type they hold for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkFacts {
    columns: Vec<(String, DataType, ColumnFacts)>,
}

impl ChunkFacts {
    /// The facts of column `name` when it holds values of type `dt` (a column cast on its way
    /// to the contract has different values, and no facts).
    pub fn column(&self, name: &str, dt: &DataType) -> Option<&ColumnFacts> {
        self.columns
            .iter()
            .find(|(n, t, _)| n == name && t == dt)
            .map(|(_, _, f)| f)
    }
}

/// The statistics of every row group of a file, by column.
#[derive(Debug, Clone)]
pub struct FileFacts {
    /// Rows of each row group, in file order.
    group_rows: Vec<u64>,
    /// Per column with usable statistics: name, Arrow type read, facts per row group.
    columns: Vec<(String, DataType, Vec<ColumnFacts>)>,
    /// Per column whose every row group states its null count: name, nulls in the file.
    null_counts: Vec<(String, u64)>,
}

impl FileFacts {
    /// Reads the facts from a file's footer; `schema` is the Arrow schema the file is read as.
    /// `None` when no column has usable statistics.
    pub fn from_metadata(meta: &ParquetMetaData, schema: &SchemaRef) -> Option<Arc<FileFacts>> {
        let leaves = meta.file_metadata().schema_descr();
        let groups = meta.row_groups();
        let mut columns = Vec::new();
        let mut null_counts = Vec::new();
        for field in schema.fields() {
            let dt = field.data_type();
            let Some(leaf) = super::parquet_read::top_level_leaf(leaves, field.name()) else {
                continue;
            };
            let nulls: Option<u64> = groups
                .iter()
                .map(|g| g.column(leaf).statistics().and_then(|s| s.null_count_opt()))
                .sum();
            if let Some(n) = nulls {
                null_counts.push((field.name().clone(), n));
            }
            let per_group: Option<Vec<ColumnFacts>> = groups
                .iter()
                .map(|g| g.column(leaf).statistics().map(|s| facts_of(s, dt)))
                .collect();
            if let Some(per_group) = per_group
                && per_group.iter().any(|f| *f != ColumnFacts::default())
            {
                columns.push((field.name().clone(), dt.clone(), per_group));
            }
        }
        (!columns.is_empty() || !null_counts.is_empty()).then(|| {
            Arc::new(FileFacts {
                group_rows: groups.iter().map(|g| g.num_rows().max(0) as u64).collect(),
                columns,
                null_counts,
            })
        })
    }

    /// The rows of the file.
    pub fn rows_in_file(&self) -> u64 {
        self.group_rows.iter().sum()
    }

    /// The nulls of column `name` in the whole file, when every row group states its count
    /// (a statistic Parquet keeps exact, whatever the column's type).
    pub fn nulls_in_file(&self, name: &str) -> Option<u64> {
        self.null_counts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
    }

    /// Facts true of rows `[first, first + len)` of the file.
    pub fn rows(&self, first: u64, len: u64) -> ChunkFacts {
        let end = first + len;
        let mut start = 0u64;
        let mut overlapping = Vec::new();
        for (g, n) in self.group_rows.iter().enumerate() {
            if start < end && first < start + n {
                overlapping.push(g);
            }
            start += n;
        }
        if len == 0 || overlapping.is_empty() || end > start {
            return ChunkFacts::default();
        }
        let columns = self
            .columns
            .iter()
            .map(|(name, dt, per_group)| {
                let f = overlapping[1..]
                    .iter()
                    .fold(per_group[overlapping[0]], |acc, g| acc.union(per_group[*g]));
                (name.clone(), dt.clone(), f)
            })
            .collect();
        ChunkFacts { columns }
    }
}

/// What one row group's statistics of a column say, for a column read as `dt`.
fn facts_of(s: &Statistics, dt: &DataType) -> ColumnFacts {
    let exact = s.min_is_exact() && s.max_is_exact() && !s.is_min_max_deprecated();
    let bounds = match (s, dt) {
        // Narrow decimals (`validate` reads them so) are their unscaled integers, as the
        // bounds they are checked against.
        (
            Statistics::Int32(v),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Date32
            | DataType::Decimal32(_, _),
        ) if exact => v
            .min_opt()
            .zip(v.max_opt())
            .map(|(a, b)| Bounds::Int(*a as i128, *b as i128)),
        (
            Statistics::Int64(v),
            DataType::Int64
            | DataType::Decimal64(_, _)
            | DataType::Timestamp(
                TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond,
                _,
            ),
        ) if exact => v
            .min_opt()
            .zip(v.max_opt())
            .map(|(a, b)| Bounds::Int(*a as i128, *b as i128)),
        (Statistics::Float(v), DataType::Float32) if exact => v
            .min_opt()
            .zip(v.max_opt())
            .map(|(a, b)| Bounds::Float(*a as f64, *b as f64)),
        (Statistics::Double(v), DataType::Float64) if exact => v
            .min_opt()
            .zip(v.max_opt())
            .map(|(a, b)| Bounds::Float(*a, *b)),
        _ => None,
    };
    ColumnFacts {
        no_nulls: s.null_count_opt() == Some(0),
        bounds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(group_rows: Vec<u64>, per_group: Vec<ColumnFacts>) -> FileFacts {
        FileFacts {
            group_rows,
            columns: vec![("x".into(), DataType::Int64, per_group)],
            null_counts: Vec::new(),
        }
    }

    #[test]
    fn a_chunk_gets_the_union_of_the_groups_it_overlaps() {
        let clean = |a, b| ColumnFacts {
            no_nulls: true,
            bounds: Some(Bounds::Int(a, b)),
        };
        let f = facts(
            vec![10, 10, 10],
            vec![
                clean(0, 5),
                ColumnFacts {
                    no_nulls: false,
                    bounds: Some(Bounds::Int(3, 9)),
                },
                clean(-4, 2),
            ],
        );
        let x = |c: ChunkFacts| *c.column("x", &DataType::Int64).unwrap();
        // Inside the first group, at its edges.
        assert_eq!(x(f.rows(0, 10)), clean(0, 5));
        assert_eq!(x(f.rows(3, 2)), clean(0, 5));
        // Spanning groups 0 and 1 (row 10 is group 1's first).
        assert_eq!(
            x(f.rows(9, 2)),
            ColumnFacts {
                no_nulls: false,
                bounds: Some(Bounds::Int(0, 9))
            }
        );
        assert_eq!(x(f.rows(20, 10)), clean(-4, 2));
        assert_eq!(
            x(f.rows(0, 30)),
            ColumnFacts {
                no_nulls: false,
                bounds: Some(Bounds::Int(-4, 9))
            }
        );
        // Past the end, or empty: nothing is known.
        assert_eq!(f.rows(25, 10), ChunkFacts::default());
        assert_eq!(f.rows(5, 0), ChunkFacts::default());
        // Another type: no facts.
        assert!(f.rows(0, 10).column("x", &DataType::Int32).is_none());
    }
}

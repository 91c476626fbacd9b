//! The schema contract, applied to one chunk before any expectation (docs/suite-format.md).
//!
//! A chunk either conforms, and comes out as the contract's columns in contract order with the
//! safe casts applied, or it violates the contract, and comes out as a best-effort typed copy
//! (every column nullable) plus, per row, the original values that could not be kept, as JSON
//! text for `_dq_raw`. Nothing is dropped either way.
//!
//! Safe casts: integer widening, `decimal` from integers (a value that does not fit is a bad
//! cell), `date32` from ISO date strings, timestamps from RFC 3339 strings. Text inputs (CSV,
//! NDJSON) arrive as strings and are parsed into every contract type. A cell that does not
//! parse becomes null in the typed column, is marked as a bad cell (the implicit expectation
//! `schema.<column>.type`), and keeps its original text. String columns keep their Arrow layout
//! (dictionary, view, large) so kernels can use it.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, PrimitiveBuilder, RecordBatch, StringArray, new_null_array,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{
    DataType, Field, Int8Type, Int16Type, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::Result;
use crate::suite::{Contract, SchemaMode};
use crate::types::{ColumnType, is_string_like, type_name};
use crate::values::parse::{days_since_epoch, parse_date, parse_decimal, parse_timestamp, to_unit};

/// Cells of one column that did not convert.
#[derive(Debug, Clone)]
pub(crate) struct BadCells {
    /// Contract column index.
    pub column: usize,
    /// Rows whose cell did not convert (the typed value is null).
    pub rows: BooleanBuffer,
    /// Cells converted from text (the `evaluated` count of `schema.<column>.type`).
    pub parsed: u64,
}

/// The result of applying the contract to a chunk.
#[derive(Debug)]
pub(crate) struct Conformed {
    /// Contract columns in contract order.
    pub batch: RecordBatch,
    /// Per column with conversions: the cells that did not convert.
    pub bad_cells: Vec<BadCells>,
    /// Contract violations; empty when the chunk conforms.
    pub violations: Vec<String>,
    /// Per row, a JSON object of original values that could not be kept; `None` when none.
    pub raw: Option<StringArray>,
}

/// Applies a contract; built once per suite.
#[derive(Debug, Clone)]
pub(crate) struct Conformer {
    contract: Contract,
}

fn display(array: &dyn Array, i: usize) -> String {
    ArrayFormatter::try_new(array, &FormatOptions::default())
        .map(|f| f.value(i).to_string())
        .unwrap_or_default()
}

impl Conformer {
    pub(crate) fn new(contract: Contract) -> Self {
        Conformer { contract }
    }

    /// The contract columns, nullable, with the given column types.
    fn schema_for(&self, columns: &[ArrayRef]) -> SchemaRef {
        Arc::new(Schema::new(
            self.contract
                .columns
                .iter()
                .zip(columns)
                .map(|(c, a)| Field::new(&c.name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// Applies the contract to `batch`. `text` says the input is CSV or NDJSON (every value is
    /// text and parses into the contract type).
    pub(crate) fn conform(&self, batch: &RecordBatch, text: bool) -> Result<Conformed> {
        let rows = batch.num_rows();
        let schema = batch.schema();
        let mut violations = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.contract.columns.len());
        let mut bad_cells = Vec::new();
        // Columns whose every value must be kept raw (wrong type) and extra columns.
        let mut raw_columns: Vec<(String, ArrayRef)> = Vec::new();

        for (ci, spec) in self.contract.columns.iter().enumerate() {
            let Ok(idx) = schema.index_of(&spec.name) else {
                violations.push(format!("missing column `{}` ({})", spec.name, spec.ty));
                columns.push(new_null_array(&spec.ty.to_arrow(), rows));
                continue;
            };
            let input = batch.column(idx);
            match convert(input, &spec.ty, text)? {
                Conversion::Kept(a) => columns.push(a),
                Conversion::Converted { array, bad, parsed } => {
                    if parsed > 0 || bad.count_set_bits() > 0 {
                        bad_cells.push(BadCells {
                            column: ci,
                            rows: bad,
                            parsed,
                        });
                    }
                    columns.push(array);
                }
                Conversion::Incompatible => {
                    violations.push(format!(
                        "column `{}` is {}, the contract says {}",
                        spec.name,
                        type_name(input.data_type()),
                        spec.ty
                    ));
                    raw_columns.push((spec.name.clone(), input.clone()));
                    columns.push(new_null_array(&spec.ty.to_arrow(), rows));
                }
            }
        }
        for (i, f) in schema.fields().iter().enumerate() {
            if self.contract.column(f.name()).is_none() && self.contract.mode == SchemaMode::Strict
            {
                violations.push(format!(
                    "unexpected column `{}` ({}) in strict mode",
                    f.name(),
                    type_name(f.data_type())
                ));
                raw_columns.push((f.name().clone(), batch.column(i).clone()));
            }
        }

        // Nullability is the job of `schema.<column>.not_null`, never of Arrow: a conformed
        // chunk is always nullable, so a null in a non-nullable column is a row violation.
        let out = RecordBatch::try_new(self.schema_for(&columns), columns)?;

        let raw = self.raw_values(batch, &bad_cells, &raw_columns, rows);
        Ok(Conformed {
            batch: out,
            bad_cells,
            violations,
            raw,
        })
    }

    fn raw_values(
        &self,
        batch: &RecordBatch,
        bad_cells: &[BadCells],
        raw_columns: &[(String, ArrayRef)],
        rows: usize,
    ) -> Option<StringArray> {
        let any_bad = bad_cells.iter().any(|b| b.rows.count_set_bits() > 0);
        if !any_bad && raw_columns.is_empty() {
            return None;
        }
        let mut objects: Vec<Option<serde_json::Map<String, serde_json::Value>>> = vec![None; rows];
        let schema = batch.schema();
        for b in bad_cells {
            let name = &self.contract.columns[b.column].name;
            let input = batch.column(schema.index_of(name).expect("converted columns exist"));
            for i in b.rows.set_indices() {
                objects[i].get_or_insert_with(Default::default).insert(
                    name.clone(),
                    serde_json::Value::String(display(input.as_ref(), i)),
                );
            }
        }
        for (name, array) in raw_columns {
            let fmt = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).ok();
            for (i, obj) in objects.iter_mut().enumerate() {
                let v = if array.is_null(i) {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::String(
                        fmt.as_ref()
                            .map(|f| f.value(i).to_string())
                            .unwrap_or_default(),
                    )
                };
                obj.get_or_insert_with(Default::default)
                    .insert(name.clone(), v);
            }
        }
        Some(
            objects
                .into_iter()
                .map(|o| o.map(|m| serde_json::Value::Object(m).to_string()))
                .collect(),
        )
    }
}

enum Conversion {
    /// The column already has the contract type (any string layout for `string`).
    Kept(ArrayRef),
    /// Converted; `bad` marks cells that did not convert.
    Converted {
        array: ArrayRef,
        bad: BooleanBuffer,
        parsed: u64,
    },
    /// No safe cast exists: a schema violation.
    Incompatible,
}

fn int_rank(dt: &DataType) -> Option<(bool, u8)> {
    Some(match dt {
        DataType::Int8 => (true, 8),
        DataType::Int16 => (true, 16),
        DataType::Int32 => (true, 32),
        DataType::Int64 => (true, 64),
        DataType::UInt8 => (false, 8),
        DataType::UInt16 => (false, 16),
        DataType::UInt32 => (false, 32),
        DataType::UInt64 => (false, 64),
        _ => return None,
    })
}

fn convert(input: &ArrayRef, ty: &ColumnType, text: bool) -> Result<Conversion> {
    let from = input.data_type();
    if ty.matches(from) {
        return Ok(Conversion::Kept(input.clone()));
    }
    let target = ty.to_arrow();
    // Integer widening: lossless by construction.
    if let (Some((fs, fw)), Some((ts, tw))) = (int_rank(from), int_rank(&target)) {
        let widens = (fs == ts && tw > fw) || (!fs && ts && tw > fw);
        if widens {
            return Ok(Conversion::Kept(arrow::compute::cast(input, &target)?));
        }
        return Ok(Conversion::Incompatible);
    }
    // Decimal from integer: checked, a value that does not fit is a bad cell.
    if int_rank(from).is_some() && matches!(target, DataType::Decimal128(_, _)) {
        let opts = arrow::compute::CastOptions {
            safe: true,
            ..Default::default()
        };
        let array = arrow::compute::cast_with_options(input, &target, &opts)?;
        let bad = introduced_nulls(input.as_ref(), array.as_ref());
        return Ok(Conversion::Converted {
            array,
            bad,
            parsed: 0,
        });
    }
    if is_string_like(from) {
        let parses = text || matches!(ty, ColumnType::Date32 | ColumnType::Timestamp(_, _));
        if parses {
            let (array, bad, parsed) = parse_text(input.as_ref(), ty)?;
            return Ok(Conversion::Converted { array, bad, parsed });
        }
    }
    Ok(Conversion::Incompatible)
}

fn introduced_nulls(before: &dyn Array, after: &dyn Array) -> BooleanBuffer {
    let was_valid = before.logical_nulls().map_or_else(
        || BooleanBuffer::new_set(before.len()),
        |n| n.inner().clone(),
    );
    let now_null = after
        .logical_nulls()
        .map_or_else(|| BooleanBuffer::new_unset(after.len()), |n| !n.inner());
    &was_valid & &now_null
}

/// Parses a string column into `ty`. Returns the typed array, the bad cells, and how many cells
/// were parsed (non-null inputs).
fn parse_text(input: &dyn Array, ty: &ColumnType) -> Result<(ArrayRef, BooleanBuffer, u64)> {
    let len = input.len();
    // Text inputs come as plain Utf8; other layouts are rare here and are cast first.
    let owned = arrow::compute::cast(&input.slice(0, len), &DataType::Utf8)?;
    let source = owned.as_string::<i32>();
    let cells: Vec<Option<&[u8]>> = (0..len)
        .map(|i| source.is_valid(i).then(|| source.value(i).as_bytes()))
        .collect();
    let parsed = cells.iter().filter(|c| c.is_some()).count() as u64;
    let mut bad = vec![false; len];
    macro_rules! build {
        ($builder:expr, $parse:expr) => {{
            let mut b = $builder;
            for (i, c) in cells.iter().enumerate() {
                match c {
                    None => b.append_null(),
                    Some(v) => match std::str::from_utf8(v).ok().and_then($parse) {
                        Some(x) => b.append_value(x),
                        None => {
                            bad[i] = true;
                            b.append_null();
                        }
                    },
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    fn int<T: std::str::FromStr>(s: &str) -> Option<T> {
        if s.starts_with('+') {
            return None;
        }
        s.parse().ok()
    }
    let array = match ty {
        ColumnType::Bool => build!(BooleanBuilder::with_capacity(len), |s: &str| match s {
            "true" | "TRUE" | "True" => Some(true),
            "false" | "FALSE" | "False" => Some(false),
            _ => None,
        }),
        ColumnType::Int(8) => build!(PrimitiveBuilder::<Int8Type>::with_capacity(len), int::<i8>),
        ColumnType::Int(16) => build!(
            PrimitiveBuilder::<Int16Type>::with_capacity(len),
            int::<i16>
        ),
        ColumnType::Int(32) => build!(
            PrimitiveBuilder::<Int32Type>::with_capacity(len),
            int::<i32>
        ),
        ColumnType::Int(_) => build!(
            PrimitiveBuilder::<Int64Type>::with_capacity(len),
            int::<i64>
        ),
        ColumnType::UInt(8) => build!(PrimitiveBuilder::<UInt8Type>::with_capacity(len), int::<u8>),
        ColumnType::UInt(16) => build!(
            PrimitiveBuilder::<UInt16Type>::with_capacity(len),
            int::<u16>
        ),
        ColumnType::UInt(32) => build!(
            PrimitiveBuilder::<UInt32Type>::with_capacity(len),
            int::<u32>
        ),
        ColumnType::UInt(_) => build!(
            PrimitiveBuilder::<UInt64Type>::with_capacity(len),
            int::<u64>
        ),
        ColumnType::Float32 => build!(Float32Builder::with_capacity(len), |s: &str| s
            .parse::<f32>()
            .ok()),
        ColumnType::Float64 => build!(Float64Builder::with_capacity(len), |s: &str| s
            .parse::<f64>()
            .ok()),
        ColumnType::Decimal(p, s) => {
            let (p, s) = (*p, *s);
            let limit = 10i128.pow(p as u32);
            let arr = build!(Decimal128Builder::with_capacity(len), |t: &str| {
                parse_decimal(t, s).filter(|v| v.abs() < limit)
            });
            Arc::new(
                arr.as_primitive::<arrow::datatypes::Decimal128Type>()
                    .clone()
                    .with_precision_and_scale(p, s)?,
            )
        }
        ColumnType::String => Arc::new(StringArray::from(
            cells
                .iter()
                .map(|c| c.map(|v| String::from_utf8_lossy(v).into_owned()))
                .collect::<Vec<_>>(),
        )),
        ColumnType::Binary => {
            let mut b = BinaryBuilder::with_capacity(len, 0);
            for c in &cells {
                b.append_option(*c);
            }
            Arc::new(b.finish())
        }
        ColumnType::Date32 => build!(Date32Builder::with_capacity(len), |s: &str| parse_date(s)
            .map(days_since_epoch)),
        ColumnType::Timestamp(unit, tz) => {
            let tz = tz.clone();
            let require_offset = tz.is_some();
            let conv = |s: &str| parse_timestamp(s, require_offset).and_then(|t| to_unit(t, *unit));
            let a: ArrayRef = match unit {
                TimeUnit::Second => build!(
                    PrimitiveBuilder::<TimestampSecondType>::with_capacity(len),
                    conv
                ),
                TimeUnit::Millisecond => {
                    build!(
                        PrimitiveBuilder::<TimestampMillisecondType>::with_capacity(len),
                        conv
                    )
                }
                TimeUnit::Microsecond => {
                    build!(
                        PrimitiveBuilder::<TimestampMicrosecondType>::with_capacity(len),
                        conv
                    )
                }
                TimeUnit::Nanosecond => {
                    build!(
                        PrimitiveBuilder::<TimestampNanosecondType>::with_capacity(len),
                        conv
                    )
                }
            };
            arrow::compute::cast(&a, &ty.to_arrow())?
        }
    };
    Ok((array, BooleanBuffer::from(bad), parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::ColumnSpec;
    use arrow::array::{Int32Array, Int64Array};

    fn contract(cols: &[(&str, &str, bool)], mode: SchemaMode) -> Contract {
        Contract {
            mode,
            columns: cols
                .iter()
                .map(|(n, t, nullable)| ColumnSpec {
                    name: n.to_string(),
                    ty: ColumnType::parse(t).unwrap(),
                    nullable: *nullable,
                    tags: vec![],
                    description: None,
                    share: Default::default(),
                    deprecated: None,
                })
                .collect(),
        }
    }

    #[test]
    fn widening_and_text_parsing() {
        let c = Conformer::new(contract(
            &[
                ("id", "int64", false),
                ("d", "date32", true),
                ("amt", "decimal(8,2)", true),
            ],
            SchemaMode::Strict,
        ));
        let b = RecordBatch::try_from_iter(vec![
            (
                "amt",
                Arc::new(StringArray::from(vec![Some("1.5"), Some("x"), None])) as ArrayRef,
            ),
            ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "d",
                Arc::new(StringArray::from(vec![
                    Some("2024-01-01"),
                    Some("2024-13-01"),
                    None,
                ])) as ArrayRef,
            ),
        ])
        .unwrap();
        let out = c.conform(&b, true).unwrap();
        assert!(out.violations.is_empty(), "{:?}", out.violations);
        assert_eq!(out.batch.schema().field(0).name(), "id");
        assert_eq!(out.batch.column(0).data_type(), &DataType::Int64);
        assert_eq!(out.bad_cells.len(), 2);
        let raw = out.raw.unwrap();
        assert!(raw.is_null(0));
        assert_eq!(raw.value(1), r#"{"d":"2024-13-01","amt":"x"}"#);
        assert!(raw.is_null(2));
    }

    #[test]
    fn violations_keep_everything() {
        let c = Conformer::new(contract(
            &[("id", "int32", true), ("x", "string", true)],
            SchemaMode::Strict,
        ));
        let b = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            (
                "extra",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let out = c.conform(&b, false).unwrap();
        assert_eq!(out.violations.len(), 3, "{:?}", out.violations);
        assert!(out.violations[0].contains("`id` is int64"));
        assert!(out.violations[1].contains("missing column `x`"));
        assert!(out.violations[2].contains("unexpected column `extra`"));
        assert_eq!(out.raw.unwrap().value(1), r#"{"id":"2","extra":"b"}"#);
        assert_eq!(out.batch.num_rows(), 2);
    }
}

//! SQL expressions (`sql`, `where`) and `compare`, compiled once per schema through DataFusion's
//! expression machinery and evaluated per batch without building a query plan.
//!
//! Identifiers keep their case (`ClaimID` is the column `ClaimID`, not `claimid`). Three-valued
//! logic is kept: a NULL result comes back as a null slot, and the null policy (default `fail`
//! for `sql`, as Delta CHECK constraints treat NULL) or the `where` rule (only TRUE is in scope)
//! decides.
//!
//! An expression that reads one column, when that column arrives as an Arrow dictionary with
//! fewer entries than half the rows, is evaluated once per entry (and once for NULL) and the
//! results are taken by key, as the column kinds evaluate each distinct value once; unless it
//! calls a volatile function such as `random()`, which must see every row.
//!
//! Decimals read in their narrow layouts (`Decimal32`, `Decimal64`) are bound and evaluated as
//! `Decimal128`: DataFusion's coercions of narrow decimals are not those of the wide ones (a
//! `Decimal64(12,2)` compared with the integer `0` was compared as an integer, so `0.99 > 0`
//! was false). The columns an expression reads are widened per batch, and only those.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Int32Array, RecordBatch, UInt32Array,
    new_null_array,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::datatypes::{Field, Int32Type, Schema};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::eval::literal::bind_literal;
use crate::suite::{CmpOp, Literal};
use crate::types::type_name;
use crate::values::domain::Typed;

/// A compiled boolean expression over a batch's columns.
#[derive(Debug, Clone)]
pub(crate) struct BoolExpr {
    phys: Arc<dyn PhysicalExpr>,
    /// The columns it reads, for samples.
    pub columns: Vec<String>,
    /// The one column it reads when that is all it reads and it calls no volatile function:
    /// a dictionary there is evaluated per entry.
    per_entry: Option<usize>,
    /// The narrow decimal columns it reads, each with the `Decimal128` it was bound as.
    widen: Vec<(usize, DataType)>,
}

/// `schema` with its narrow decimals (`Decimal32`, `Decimal64`) as `Decimal128` of the same
/// precision and scale, and which columns those are.
fn widened(schema: &SchemaRef) -> (SchemaRef, Vec<(usize, DataType)>) {
    let mut widen = Vec::new();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match *f.data_type() {
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => {
                let wide = DataType::Decimal128(p, s);
                widen.push((i, wide.clone()));
                f.as_ref().clone().with_data_type(wide)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    if widen.is_empty() {
        return (schema.clone(), widen);
    }
    let wide = Schema::new_with_metadata(fields, schema.metadata().clone());
    (Arc::new(wide), widen)
}

fn context() -> SessionContext {
    let mut config = SessionConfig::new();
    config.options_mut().sql_parser.enable_ident_normalization = false;
    SessionContext::new_with_config(config)
}

impl BoolExpr {
    /// Parses and type-checks SQL against `schema`.
    pub(crate) fn sql(sql: &str, schema: &SchemaRef) -> Result<Self, String> {
        // Suites were checked when they loaded; table constraints come from the table.
        crate::suite::limits::check_sql(sql)?;
        let ctx = context();
        let (schema, widen) = widened(schema);
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| e.to_string())?;
        let expr = ctx
            .parse_sql_expr(sql, &df_schema)
            .map_err(|e| format!("SQL `{sql}` cannot be bound: {}", root_message(&e)))?;
        Self::from_expr(&ctx, expr, &df_schema, sql, widen)
    }

    fn from_expr(
        ctx: &SessionContext,
        expr: Expr,
        df_schema: &DFSchema,
        what: &str,
        mut widen: Vec<(usize, DataType)>,
    ) -> Result<Self, String> {
        let columns = expr
            .column_refs()
            .into_iter()
            .map(|c| c.name.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let volatile = expr.is_volatile();
        let phys = ctx
            .create_physical_expr(expr, df_schema)
            .map_err(|e| format!("`{what}` cannot be bound: {}", root_message(&e)))?;
        let dt = phys
            .data_type(df_schema.as_arrow())
            .map_err(|e| format!("`{what}`: {}", root_message(&e)))?;
        if dt != DataType::Boolean {
            return Err(format!(
                "`{what}` is {}, not a boolean; write a condition such as `amount >= 0`",
                type_name(&dt)
            ));
        }
        let read = datafusion::physical_expr::utils::collect_columns(&phys);
        let per_entry = match (read.iter().next(), read.len(), volatile) {
            (Some(c), 1, false) => Some(c.index()),
            _ => None,
        };
        widen.retain(|(i, _)| read.iter().any(|c| c.index() == *i));
        Ok(BoolExpr {
            phys,
            columns,
            per_entry,
            widen,
        })
    }

    /// The indices of the columns the compiled expression reads.
    pub(crate) fn column_indices(&self) -> Vec<usize> {
        let mut cols: Vec<usize> = datafusion::physical_expr::utils::collect_columns(&self.phys)
            .iter()
            .map(|c| c.index())
            .collect();
        cols.sort_unstable();
        cols
    }

    /// `left op right`, where right is a column or a literal typed for the left column.
    pub(crate) fn compare(
        left: &str,
        op: CmpOp,
        right: Result<&str, &Literal>,
        schema: &SchemaRef,
    ) -> Result<Self, String> {
        let ctx = context();
        // Values of one type compare without coercion, so a narrow decimal compared with a
        // column or a literal of its own type stays narrow; anything else is bound wide.
        let ltype = schema.field_with_name(left).map(|f| f.data_type().clone());
        let same_type = match (&ltype, right) {
            (Ok(l), Ok(col)) => schema
                .field_with_name(col)
                .is_ok_and(|r| r.data_type() == l),
            (Ok(l), Err(lit)) => narrow_scalar(lit, l).is_some(),
            _ => false,
        };
        let (schema, widen) = if same_type {
            (schema.clone(), Vec::new())
        } else {
            widened(schema)
        };
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| e.to_string())?;
        let lfield = schema
            .field_with_name(left)
            .map_err(|_| format!("unknown column `{left}`"))?;
        let rexpr = match right {
            Ok(col) => {
                let rf = schema
                    .field_with_name(col)
                    .map_err(|_| format!("unknown column `{col}`"))?;
                check_comparable(lfield.data_type(), rf.data_type())?;
                Expr::Column(Column::new_unqualified(col))
            }
            Err(lit) => {
                let scalar = match narrow_scalar(lit, lfield.data_type()) {
                    Some(s) => s,
                    None => scalar_for(lit, lfield.data_type())?,
                };
                Expr::Literal(scalar, None)
            }
        };
        let op = match op {
            CmpOp::Lt => Operator::Lt,
            CmpOp::LtEq => Operator::LtEq,
            CmpOp::Eq => Operator::Eq,
            CmpOp::NotEq => Operator::NotEq,
            CmpOp::GtEq => Operator::GtEq,
            CmpOp::Gt => Operator::Gt,
        };
        let expr = Expr::BinaryExpr(BinaryExpr::new(
            Box::new(Expr::Column(Column::new_unqualified(left))),
            op,
            Box::new(rexpr),
        ));
        Self::from_expr(&ctx, expr, &df_schema, "compare", widen)
    }

    /// Evaluates over a batch whose schema equals the one it was bound to (its narrow decimals
    /// are widened here).
    pub(crate) fn evaluate(&self, batch: &RecordBatch) -> datafusion::error::Result<BooleanArray> {
        if !self.widen.is_empty() {
            return self.evaluate_bound(&self.wide(batch)?);
        }
        self.evaluate_bound(batch)
    }

    /// `batch` with the narrow decimals this expression reads widened as it was bound.
    fn wide(&self, batch: &RecordBatch) -> datafusion::error::Result<RecordBatch> {
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut columns = batch.columns().to_vec();
        for (i, wide) in &self.widen {
            if columns[*i].data_type() != wide {
                columns[*i] = arrow::compute::cast(&columns[*i], wide)?;
                fields[*i] = fields[*i].clone().with_data_type(wide.clone());
            }
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }

    fn evaluate_bound(&self, batch: &RecordBatch) -> datafusion::error::Result<BooleanArray> {
        if let Some(col) = self.per_entry
            && let Some(dict) = batch.column(col).as_dictionary_opt::<Int32Type>()
            && dict.values().len() < batch.num_rows() / 2
        {
            return self.per_entry(batch, col, dict);
        }
        let v = self.phys.evaluate(batch)?.into_array(batch.num_rows())?;
        Ok(v.as_boolean().clone())
    }

    /// Evaluates once per entry of the dictionary column `col` (the only column read) and once
    /// for NULL, over a batch of as many rows, then takes each row's result by its key.
    fn per_entry(
        &self,
        batch: &RecordBatch,
        col: usize,
        dict: &DictionaryArray<Int32Type>,
    ) -> datafusion::error::Result<BooleanArray> {
        let entries = dict.values().len();
        // Entry i is row i; row `entries` is NULL.
        let keys = Int32Array::from_iter((0..=entries).map(|i| (i < entries).then_some(i as i32)));
        let column: ArrayRef = Arc::new(DictionaryArray::try_new(keys, dict.values().clone())?);
        // The other columns, which it does not read, as columns of type `Null` (no memory),
        // so that the column keeps its index.
        let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == col {
                    (f.as_ref().clone().with_nullable(true), column.clone())
                } else {
                    let null = new_null_array(&DataType::Null, entries + 1);
                    (Field::new(f.name(), DataType::Null, true), null)
                }
            })
            .unzip();
        let entries_batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        let per_entry = self
            .phys
            .evaluate(&entries_batch)?
            .into_array(entries + 1)?;
        let taken = if dict.keys().null_count() == 0 {
            arrow::compute::take(per_entry.as_ref(), dict.keys(), None)?
        } else {
            let at = UInt32Array::from_iter_values(
                dict.keys()
                    .iter()
                    .map(|k| k.map_or(entries as u32, |k| k as u32)),
            );
            arrow::compute::take(per_entry.as_ref(), &at, None)?
        };
        Ok(taken.as_boolean().clone())
    }
}

/// `sql` and `compare` (and a table's CHECK constraint): the expression over the row.
impl super::RowKernel for BoolExpr {
    fn columns(&self) -> Vec<usize> {
        self.column_indices()
    }

    fn evaluate(
        &self,
        batch: &RecordBatch,
        _as_of: chrono::DateTime<chrono::Utc>,
    ) -> Result<BooleanArray, super::KernelError> {
        BoolExpr::evaluate(self, batch).map_err(|e| super::KernelError::Engine(Box::new(e)))
    }
}

fn root_message(e: &datafusion::error::DataFusionError) -> String {
    let s = e.find_root().to_string();
    // DataFusion prefixes messages with the phase ("Schema error: ..."); keep the sentence.
    let m = s.split_once(": ").map_or(s.clone(), |(_, m)| m.to_string());
    m.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn numeric(dt: &DataType) -> bool {
    dt.is_numeric()
}

fn check_comparable(l: &DataType, r: &DataType) -> Result<(), String> {
    use crate::values::domain::{Domain, domain_of};
    let ok = match (domain_of(l), domain_of(r)) {
        _ if numeric(l) && numeric(r) => true,
        (Some(Domain::Bytes), Some(Domain::Bytes)) => true,
        (Some(Domain::Bool), Some(Domain::Bool)) => true,
        _ => {
            let temporal = |d: &DataType| matches!(d, DataType::Date32 | DataType::Timestamp(_, _));
            (temporal(l) && temporal(r)) || l == r
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cannot compare {} with {}",
            type_name(l),
            type_name(r)
        ))
    }
}

/// A literal as a scalar of the narrow decimal type `dt` (`Decimal32`, `Decimal64`), when `dt`
/// is one and the literal's unscaled value fits it.
fn narrow_scalar(lit: &Literal, dt: &DataType) -> Option<ScalarValue> {
    let Ok(Typed::Int(v)) = bind_literal(lit, dt) else {
        return None;
    };
    match *dt {
        DataType::Decimal32(p, s) => {
            Some(ScalarValue::Decimal32(Some(i32::try_from(v).ok()?), p, s))
        }
        DataType::Decimal64(p, s) => {
            Some(ScalarValue::Decimal64(Some(i64::try_from(v).ok()?), p, s))
        }
        _ => None,
    }
}

/// A DataFusion scalar of the column's type for a suite literal.
fn scalar_for(lit: &Literal, dt: &DataType) -> Result<ScalarValue, String> {
    let value_type = match dt {
        DataType::Dictionary(_, v) => v.as_ref(),
        other => other,
    };
    let typed = bind_literal(lit, value_type)?;
    Ok(match (typed, value_type) {
        (Typed::Int(v), DataType::Decimal128(p, s)) => ScalarValue::Decimal128(Some(v), *p, *s),
        (Typed::Int(v), DataType::Date32) => ScalarValue::Date32(Some(v as i32)),
        (Typed::Int(v), DataType::Timestamp(unit, tz)) => {
            let v = Some(v as i64);
            let tz = tz.clone();
            match unit {
                TimeUnit::Second => ScalarValue::TimestampSecond(v, tz),
                TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(v, tz),
                TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(v, tz),
                TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(v, tz),
            }
        }
        (Typed::Int(v), DataType::UInt64) => ScalarValue::UInt64(u64::try_from(v).ok()),
        (Typed::Int(v), _) => match i64::try_from(v) {
            Ok(v) => ScalarValue::Int64(Some(v)),
            Err(_) => return Err(format!("`{lit}` is out of range")),
        },
        (Typed::Float(f), _) => ScalarValue::Float64(Some(f)),
        (Typed::Bytes(b), DataType::Binary | DataType::LargeBinary | DataType::BinaryView) => {
            ScalarValue::Binary(Some(b))
        }
        (Typed::Bytes(b), _) => ScalarValue::Utf8(Some(String::from_utf8_lossy(&b).into_owned())),
        (Typed::Bool(b), _) => ScalarValue::Boolean(Some(b)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "Amount",
                Arc::new(Float64Array::from(vec![Some(1.0), Some(-1.0), None])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int32Array::from(vec![Some(1), Some(5), Some(2)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn sql_keeps_case_and_three_valued_logic() {
        let b = batch();
        let e = BoolExpr::sql("\"Amount\" >= 0", &b.schema()).unwrap();
        let got: Vec<_> = e.evaluate(&b).unwrap().iter().collect();
        assert_eq!(got, vec![Some(true), Some(false), None]);
        assert_eq!(e.columns, vec!["Amount".to_string()]);
        let e = BoolExpr::sql("Amount >= 0 AND n < 3", &b.schema()).unwrap();
        let got: Vec<_> = e.evaluate(&b).unwrap().iter().collect();
        assert_eq!(got, vec![Some(true), Some(false), None]);
    }

    /// A dictionary column (nulls among keys and entries) gives the same results per entry as
    /// its rows cast to plain strings, whatever other columns hold; a volatile expression and
    /// one over two columns are evaluated per row.
    #[test]
    fn a_dictionary_column_is_evaluated_per_entry() {
        let values = StringArray::from(vec![Some("ECOM"), Some("pos"), None, Some("ecom")]);
        let keys = Int32Array::from_iter((0..40).map(|i| (i % 7 != 3).then_some(i % 4)));
        let dict: ArrayRef = Arc::new(DictionaryArray::new(keys, Arc::new(values)));
        let plain = arrow::compute::cast(&dict, &DataType::Utf8).unwrap();
        let n: ArrayRef = Arc::new(Int32Array::from_iter_values(0..40));
        let with = |c: &ArrayRef| {
            RecordBatch::try_from_iter(vec![("n", n.clone()), ("c", c.clone())]).unwrap()
        };
        let (d, p) = (with(&dict), with(&plain));
        for sql in [
            "lower(c) = 'ecom'",
            "c IS NULL",
            "c LIKE '%o%' OR c IS NULL",
            "n % 2 = 0 AND c = 'pos'",
            "random() < 2.0 AND c = 'pos'",
        ] {
            let on_dict = BoolExpr::sql(sql, &d.schema()).unwrap();
            let on_plain = BoolExpr::sql(sql, &p.schema()).unwrap();
            let want: Vec<_> = on_plain.evaluate(&p).unwrap().iter().collect();
            let got: Vec<_> = on_dict.evaluate(&d).unwrap().iter().collect();
            assert_eq!(got, want, "{sql}");
            let one_column = !sql.starts_with('n') && !sql.starts_with("random");
            assert_eq!(on_dict.per_entry.is_some(), one_column, "{sql}");
        }
        let e = BoolExpr::sql("c IS NULL", &d.schema()).unwrap();
        let got = e.evaluate(&d).unwrap();
        assert_eq!(
            got.true_count(),
            (0..40).filter(|i| i % 7 == 3 || i % 4 == 2).count()
        );
    }

    #[test]
    fn bad_sql_is_explained() {
        let b = batch();
        let e = BoolExpr::sql("nope > 1", &b.schema()).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = BoolExpr::sql("n + 1", &b.schema()).unwrap_err();
        assert!(e.contains("not a boolean"), "{e}");
    }

    #[test]
    fn compare_columns_and_literals() {
        let b = batch();
        let e = BoolExpr::compare("n", CmpOp::Gt, Ok("Amount"), &b.schema()).unwrap();
        let got: Vec<_> = e.evaluate(&b).unwrap().iter().collect();
        assert_eq!(got, vec![Some(false), Some(true), None]);
        let lit = Literal::Int(2, "2".into());
        let e = BoolExpr::compare("n", CmpOp::LtEq, Err(&lit), &b.schema()).unwrap();
        let got: Vec<_> = e.evaluate(&b).unwrap().iter().collect();
        assert_eq!(got, vec![Some(true), Some(false), Some(true)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        assert!(BoolExpr::compare("a", CmpOp::Eq, Ok("s"), &schema).is_err());
    }
}

//! Cell values as JSON for samples, and masking of `pii` values.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

use crate::values::domain::{Typed, decimal_scale};
use crate::values::numeric::{float_value, int_value};
use crate::values::parse::from_unit;

/// The value at row `i` as JSON: numbers as numbers, dates and timestamps as ISO text, strings
/// as strings, null as null.
pub(crate) fn cell(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    let dt = array.data_type();
    match dt {
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        dt if dt.is_integer() => int_value(array, i)
            .and_then(|v| {
                i64::try_from(v)
                    .ok()
                    .map(Value::from)
                    .or_else(|| u64::try_from(v).ok().map(Value::from))
            })
            .unwrap_or(Value::Null),
        DataType::Float32 | DataType::Float64 => {
            float_json(float_value(array, i).unwrap_or(f64::NAN))
        }
        // Plain strings as they lie (what their formatter writes), without making one per cell.
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::String(array.as_string_view().value(i).to_string()),
        _ => Value::String(formatted(array, i)),
    }
}

/// Calls `f` with each row's text as its [`cell`] shows it (a string as it is, a number in its
/// JSON spelling, other values formatted), `None` for a null: one formatter for the column
/// instead of one per cell.
pub(crate) fn for_each_cell_text(array: &dyn Array, mut f: impl FnMut(Option<&str>)) {
    // Booleans and numbers are JSON values in a cell; everything else is formatted text.
    use std::fmt::Write;
    let dt = array.data_type();
    let integer = dt.is_integer();
    let json = matches!(
        dt,
        DataType::Boolean | DataType::Float32 | DataType::Float64
    );
    let formatter = if integer || json {
        None
    } else {
        ArrayFormatter::try_new(array, &FormatOptions::default()).ok()
    };
    let mut text = String::new();
    for i in 0..array.len() {
        if array.is_null(i) {
            f(None);
            continue;
        }
        text.clear();
        if integer {
            // An integer's JSON spelling is its digits, written without a value per cell.
            if let Some(v) = int_value(array, i) {
                let _ = write!(text, "{v}");
            }
        } else if json {
            // NaN and infinities are JSON strings: their text, unquoted.
            text = match cell(array, i) {
                Value::String(s) => s,
                other => other.to_string(),
            };
        } else if let Some(fmt) = &formatter {
            let _ = write!(text, "{}", fmt.value(i));
        }
        // (A type Arrow cannot format gives "", as `formatted` does.)
        f(Some(&text));
    }
}

fn formatted(array: &dyn Array, i: usize) -> String {
    ArrayFormatter::try_new(array, &FormatOptions::default())
        .map(|f| f.value(i).to_string())
        .unwrap_or_default()
}

/// A float as JSON; NaN and infinities (which JSON lacks) as strings.
pub(crate) fn float_json(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

/// A typed value (a metric's min or max) rendered for the column type it came from.
pub(crate) fn typed_json(v: &Typed, dt: Option<&DataType>) -> Value {
    match (v, dt) {
        (Typed::Int(d), Some(DataType::Date32)) => {
            let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .expect("epoch")
                .checked_add_signed(chrono::TimeDelta::days(*d as i64));
            date.map_or(Value::Null, |d| Value::String(d.to_string()))
        }
        (Typed::Int(t), Some(DataType::Timestamp(unit, _))) => {
            from_unit(*t as i64, *unit).map_or(Value::Null, |t| Value::String(rfc3339(t)))
        }
        (Typed::Int(d), Some(dt)) if let Some(scale) = decimal_scale(dt) => {
            float_json(*d as f64 / 10f64.powi(i32::from(scale)))
        }
        (Typed::Int(i), _) => {
            i64::try_from(*i).map_or_else(|_| Value::String(i.to_string()), Value::from)
        }
        (Typed::Float(f), _) => float_json(*f),
        (Typed::Bytes(b), _) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Typed::Bool(b), _) => Value::Bool(*b),
    }
}

pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Masks a value of a `pii` column: its shape, with letters as `A`/`a`, digits as `9` and other
/// characters kept (`M123-45` becomes `A999-99`). Nulls stay null.
pub(crate) fn mask(v: &Value) -> Value {
    crate::pii::mask_json(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Float64Array, Int64Array, StringArray};

    #[test]
    fn cells_and_masks() {
        assert_eq!(cell(&Int64Array::from(vec![7]), 0), Value::from(7));
        assert_eq!(
            cell(&Float64Array::from(vec![f64::NAN]), 0),
            Value::from("NaN")
        );
        assert_eq!(
            cell(&Date32Array::from(vec![1]), 0),
            Value::from("1970-01-02")
        );
        assert_eq!(cell(&StringArray::from(vec![None::<&str>]), 0), Value::Null);
        // Plain strings of every layout give what their formatter writes.
        let texts = vec![
            Some("M123-45 jö"),
            Some(""),
            None,
            Some("a longer text than twelve"),
        ];
        let layouts: Vec<arrow::array::ArrayRef> = vec![
            std::sync::Arc::new(StringArray::from(texts.clone())),
            std::sync::Arc::new(arrow::array::LargeStringArray::from(texts.clone())),
            std::sync::Arc::new(arrow::array::StringViewArray::from(texts)),
        ];
        for a in &layouts {
            for i in 0..a.len() {
                let want = if a.is_null(i) {
                    Value::Null
                } else {
                    Value::String(formatted(a.as_ref(), i))
                };
                assert_eq!(cell(a.as_ref(), i), want, "{} row {i}", a.data_type());
            }
        }
        assert_eq!(
            mask(&Value::from("M123-45 jö")),
            Value::from("masked:A999-99 aa")
        );
        assert_eq!(mask(&Value::from(1234)), Value::from("masked:9999"));
        assert_eq!(mask(&Value::Null), Value::Null);
    }
}

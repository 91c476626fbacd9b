//! Typing suite literals against a column's Arrow type, once, at bind time.
//!
//! Every column compares in one of four domains: integer-like (all integer widths, decimals at
//! their scale, dates as days, timestamps in their unit) as `i128`; floats as `f64`; strings and
//! binary as bytes (byte order); booleans. A literal is converted into the column's domain here, so
//! kernels compare natives and never parse.

use arrow::array::{Array, AsArray, BooleanArray, PrimitiveArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::access::map_primitive;
use crate::suite::Literal;
use crate::types::{is_string_like, type_name};

/// How a column's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Domain {
    /// Integers, decimals (unscaled), dates (days), timestamps (in the column's unit).
    Int,
    /// `float32`, `float64`; NaN is a value above every number.
    Float,
    /// Strings and binary, byte order.
    Bytes,
    /// Booleans.
    Bool,
}

/// A value typed into a column's domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// Integers, decimals (unscaled), dates (days since 1970-01-01), timestamps (in the unit).
    Int(i128),
    /// Floats.
    Float(f64),
    /// Strings and binary.
    Bytes(Vec<u8>),
    /// Booleans.
    Bool(bool),
}

pub(crate) fn domain_of(dt: &DataType) -> Option<Domain> {
    Some(match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Decimal128(_, _)
        | DataType::Date32
        | DataType::Timestamp(_, _) => Domain::Int,
        DataType::Float32 | DataType::Float64 => Domain::Float,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Domain::Bytes,
        dt if is_string_like(dt) => Domain::Bytes,
        DataType::Boolean => Domain::Bool,
        _ => return None,
    })
}

/// Types `lit` for a column of type `dt`; the error says what was expected.
pub(crate) fn bind_literal(lit: &Literal, dt: &DataType) -> Result<Typed, String> {
    let tn = type_name(dt);
    let wrong = |what: &str| format!("`{lit}` is not {what} (the column is {tn})");
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => match lit {
            Literal::Int(i, _) => Ok(Typed::Int(*i)),
            Literal::Float(f, _) if f.fract() == 0.0 && f.abs() < 1e36 => {
                Ok(Typed::Int(*f as i128))
            }
            _ => Err(wrong("an integer")),
        },
        DataType::Decimal128(_, scale) => match lit {
            Literal::Int(_, text) | Literal::Float(_, text) => parse_decimal(text, *scale)
                .map(Typed::Int)
                .ok_or_else(|| wrong(&format!("a number with at most {scale} decimals"))),
            _ => Err(wrong("a number")),
        },
        DataType::Float32 | DataType::Float64 => match lit {
            Literal::Int(i, _) => Ok(Typed::Float(*i as f64)),
            Literal::Float(f, _) => Ok(Typed::Float(*f)),
            _ => Err(wrong("a number")),
        },
        DataType::Date32 => match lit {
            Literal::Str(s) => parse_date(s)
                .map(|d| Typed::Int(days_since_epoch(d) as i128))
                .ok_or_else(|| wrong("an ISO date (YYYY-MM-DD)")),
            _ => Err(wrong("an ISO date (YYYY-MM-DD)")),
        },
        DataType::Timestamp(unit, tz) => match lit {
            Literal::Str(s) => parse_timestamp(s, tz.is_some())
                .and_then(|t| to_unit(t, *unit))
                .map(|v| Typed::Int(v as i128))
                .ok_or_else(|| {
                    wrong(if tz.is_some() {
                        "an RFC 3339 timestamp with an offset (2024-05-01T12:00:00Z)"
                    } else {
                        "a timestamp (2024-05-01T12:00:00, or RFC 3339)"
                    })
                }),
            _ => Err(wrong("a timestamp string")),
        },
        DataType::Boolean => match lit {
            Literal::Bool(b) => Ok(Typed::Bool(*b)),
            _ => Err(wrong("true or false")),
        },
        dt if domain_of(dt) == Some(Domain::Bytes) => match lit {
            Literal::Str(s) => Ok(Typed::Bytes(s.as_bytes().to_vec())),
            // A plain `01` in YAML is still the text the author wrote.
            Literal::Int(_, t) | Literal::Float(_, t) => Ok(Typed::Bytes(t.as_bytes().to_vec())),
            Literal::Bool(b) => Ok(Typed::Bytes(b.to_string().into_bytes())),
        },
        _ => Err(format!(
            "columns of type {tn} cannot be compared with literals"
        )),
    }
}

/// Parses a decimal text exactly at `scale`: `12.5` at scale 2 is 1250. `None` when the text has
/// more fractional digits than the scale, or is not a plain decimal number.
pub(crate) fn parse_decimal(text: &str, scale: i8) -> Option<i128> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > scale.max(0) as usize {
        return None;
    }
    let mut v: i128 = 0;
    for b in int.bytes() {
        v = v.checked_mul(10)?.checked_add((b - b'0') as i128)?;
    }
    for i in 0..scale.max(0) as usize {
        let d = frac.as_bytes().get(i).map_or(0, |b| b - b'0');
        v = v.checked_mul(10)?.checked_add(d as i128)?;
    }
    if v >= 10i128.pow(38) {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// A strict ISO date: exactly `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

pub(crate) fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as i32
}

/// Parses a timestamp. RFC 3339 with an offset is always accepted (as the instant it names);
/// without `require_offset`, a naive `YYYY-MM-DD[T ]HH:MM:SS[.f]` or a bare date (midnight) is
/// accepted too and read as UTC wall time.
pub(crate) fn parse_timestamp(s: &str, require_offset: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if require_offset {
        return None;
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    parse_date(s).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

pub(crate) fn to_unit(t: DateTime<Utc>, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => Some(t.timestamp()),
        TimeUnit::Millisecond => Some(t.timestamp_millis()),
        TimeUnit::Microsecond => Some(t.timestamp_micros()),
        TimeUnit::Nanosecond => t.timestamp_nanos_opt(),
    }
}

pub(crate) fn from_unit(v: i64, unit: TimeUnit) -> Option<DateTime<Utc>> {
    match unit {
        TimeUnit::Second => DateTime::from_timestamp(v, 0),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(v),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(v),
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(v)),
    }
}

/// Expands `$body` once per integer-like type, with `$t` naming its Arrow type (the native
/// value converts to `i128` with `as`); `$other` for any other type.
macro_rules! int_like {
    ($dt:expr, $t:ident => $body:expr, _ => $other:expr) => {
        match $dt {
            DataType::Int8 => int_like!(@ $t = Int8Type, $body),
            DataType::Int16 => int_like!(@ $t = Int16Type, $body),
            DataType::Int32 => int_like!(@ $t = Int32Type, $body),
            DataType::Int64 => int_like!(@ $t = Int64Type, $body),
            DataType::UInt8 => int_like!(@ $t = UInt8Type, $body),
            DataType::UInt16 => int_like!(@ $t = UInt16Type, $body),
            DataType::UInt32 => int_like!(@ $t = UInt32Type, $body),
            DataType::UInt64 => int_like!(@ $t = UInt64Type, $body),
            DataType::Decimal128(_, _) => int_like!(@ $t = Decimal128Type, $body),
            DataType::Date32 => int_like!(@ $t = Date32Type, $body),
            DataType::Timestamp(TimeUnit::Second, _) => {
                int_like!(@ $t = TimestampSecondType, $body)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                int_like!(@ $t = TimestampMillisecondType, $body)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                int_like!(@ $t = TimestampMicrosecondType, $body)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                int_like!(@ $t = TimestampNanosecondType, $body)
            }
            _ => $other,
        }
    };
    (@ $t:ident = $ty:ty, $body:expr) => {{
        type $t = $ty;
        #[allow(clippy::unnecessary_cast)]
        let r = $body;
        r
    }};
}

/// Runs `pred` over every value of an integer-like array as `i128`. `None` for other types.
pub(crate) fn map_int_like(array: &dyn Array, pred: impl Fn(i128) -> bool) -> Option<BooleanArray> {
    Some(int_like!(array.data_type(), T => {
        let a: &PrimitiveArray<T> = array.as_primitive();
        map_primitive(a, |v| pred(v as i128))
    }, _ => return None))
}

/// `lo <= v <= hi` over an integer-like array, compared in its native type (no widening: loops
/// the compiler turns into vector compares). `None` for other types.
pub(crate) fn map_int_range(array: &dyn Array, lo: i128, hi: i128) -> Option<BooleanArray> {
    Some(int_like!(array.data_type(), T => native_range::<T>(array, lo, hi), _ => return None))
}

/// `lo <= v <= hi` over a primitive array, with the bounds brought into its native type: a
/// bound beyond the type's range on its own side is no bound, on the far side no value passes.
fn native_range<T>(array: &dyn Array, lo: i128, hi: i128) -> BooleanArray
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i128> + PartialOrd,
{
    let a = array.as_primitive::<T>();
    let all = |pass: bool| {
        let values = if pass {
            arrow::buffer::BooleanBuffer::new_set(a.len())
        } else {
            arrow::buffer::BooleanBuffer::new_unset(a.len())
        };
        BooleanArray::new(values, a.nulls().cloned())
    };
    let lo = match T::Native::try_from(lo) {
        Ok(v) => Some(v),
        Err(_) if lo < 0 => None,
        Err(_) => return all(false),
    };
    let hi = match T::Native::try_from(hi) {
        Ok(v) => Some(v),
        Err(_) if hi > 0 => None,
        Err(_) => return all(false),
    };
    match (lo, hi) {
        (Some(lo), Some(hi)) => map_primitive(a, |v| lo <= v && v <= hi),
        (Some(lo), None) => map_primitive(a, |v| lo <= v),
        (None, Some(hi)) => map_primitive(a, |v| v <= hi),
        (None, None) => all(true),
    }
}

/// Calls `f(i, conv(value))` for every row `i` set in `rows` of a primitive array.
fn selected<T: ArrowPrimitiveType, R>(
    a: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    f: &mut impl FnMut(usize, R),
    conv: impl Fn(T::Native) -> R,
) {
    let v = a.as_primitive::<T>().values();
    if rows.count_set_bits() == v.len() {
        // Every row: a plain loop the compiler can unroll, no bit scanning.
        for (i, x) in v.iter().enumerate() {
            f(i, conv(*x));
        }
    } else {
        for i in rows.set_indices() {
            f(i, conv(v[i]));
        }
    }
}

/// A float's identity for equality: NaNs are one value and `-0.0` is `0.0`.
pub(crate) fn float_key(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

/// Calls `f(i, value)` for every row `i` set in `rows`, with the integer-like value as `i128`.
/// Dispatches on the type once. Returns `false` for other types.
pub(crate) fn for_each_int(
    array: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    mut f: impl FnMut(usize, i128),
) -> bool {
    int_like!(array.data_type(), T => {
        selected::<T, _>(array, rows, &mut f, |v| v as i128)
    }, _ => return false);
    true
}

/// Calls `f(i, value)` for every row `i` set in `rows` of a float column, as `f64`. Dispatches
/// on the type once. Returns `false` for other types.
pub(crate) fn for_each_float(
    array: &dyn Array,
    rows: &arrow::buffer::BooleanBuffer,
    mut f: impl FnMut(usize, f64),
) -> bool {
    match array.data_type() {
        DataType::Float32 => selected::<Float32Type, _>(array, rows, &mut f, |v| v as f64),
        DataType::Float64 => selected::<Float64Type, _>(array, rows, &mut f, |v| v),
        _ => return false,
    }
    true
}

/// The value at `i` of an integer-like array as `i128` (validity not checked).
pub(crate) fn int_value(array: &dyn Array, i: usize) -> Option<i128> {
    Some(int_like!(array.data_type(), T => {
        array.as_primitive::<T>().value(i) as i128
    }, _ => return None))
}

/// Runs `pred` over every value of a float array as `f64`. `None` for other types.
pub(crate) fn map_float(array: &dyn Array, pred: impl Fn(f64) -> bool) -> Option<BooleanArray> {
    Some(match array.data_type() {
        DataType::Float32 => map_primitive(array.as_primitive::<Float32Type>(), |v| pred(v as f64)),
        DataType::Float64 => map_primitive(array.as_primitive::<Float64Type>(), pred),
        _ => return None,
    })
}

/// The value at `i` of a float array as `f64` (validity not checked).
pub(crate) fn float_value(array: &dyn Array, i: usize) -> Option<f64> {
    match array.data_type() {
        DataType::Float32 => Some(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(i)),
        _ => None,
    }
}

/// Order for floats: NaN above every number (Arrow and Spark order), `-0.0 == 0.0`.
pub(crate) fn float_cmp(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).expect("not NaN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i128) -> Literal {
        Literal::Int(i, i.to_string())
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("12.5", 2), Some(1250));
        assert_eq!(parse_decimal("-0.01", 2), Some(-1));
        assert_eq!(parse_decimal("7", 2), Some(700));
        assert_eq!(parse_decimal("1.230", 2), Some(123));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("1e3", 2), None);
        assert_eq!(parse_decimal(".", 2), None);
    }

    #[test]
    fn literals_bind_to_their_column_type() {
        assert_eq!(bind_literal(&int(5), &DataType::Int8), Ok(Typed::Int(5)));
        assert_eq!(
            bind_literal(&int(5), &DataType::Float64),
            Ok(Typed::Float(5.0))
        );
        assert_eq!(
            bind_literal(&int(5), &DataType::Decimal128(10, 2)),
            Ok(Typed::Int(500))
        );
        assert_eq!(
            bind_literal(&Literal::Str("1970-01-02".into()), &DataType::Date32),
            Ok(Typed::Int(1))
        );
        assert!(bind_literal(&Literal::Str("1970-1-2".into()), &DataType::Date32).is_err());
        assert_eq!(
            bind_literal(
                &Literal::Str("1970-01-01T00:00:01Z".into()),
                &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            ),
            Ok(Typed::Int(1000))
        );
        assert!(
            bind_literal(
                &Literal::Str("1970-01-01T00:00:01".into()),
                &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            )
            .is_err()
        );
        assert_eq!(
            bind_literal(&Literal::Int(1, "01".into()), &DataType::Utf8),
            Ok(Typed::Bytes(b"01".to_vec()))
        );
        let e = bind_literal(&Literal::Str("x".into()), &DataType::Int64).unwrap_err();
        assert!(e.contains("not an integer"), "{e}");
    }

    #[test]
    fn nan_orders_above_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(float_cmp(f64::NAN, f64::INFINITY), Greater);
        assert_eq!(float_cmp(-0.0, 0.0), Equal);
        assert_eq!(float_cmp(1.0, f64::NAN), Less);
    }
}

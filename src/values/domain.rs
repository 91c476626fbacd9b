//! The four domains values compare in, and the order within each.
//!
//! Every column compares in one of four domains: integer-like (all integer widths, decimals at
//! their scale, dates as days, timestamps in their unit) as `i128`; floats as `f64`; strings and
//! binary as bytes (byte order); booleans.

use std::cmp::Ordering;

use arrow::datatypes::DataType;

use crate::types::is_string_like;

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

/// The scale of a decimal type of any width (`Decimal32`, `Decimal64`, `Decimal128`): its
/// values are unscaled integers, the number is the integer over `10^scale`.
pub(crate) fn decimal_scale(dt: &DataType) -> Option<i8> {
    match dt {
        DataType::Decimal32(_, s) | DataType::Decimal64(_, s) | DataType::Decimal128(_, s) => {
            Some(*s)
        }
        _ => None,
    }
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
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
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

/// Order for floats: NaN above every number (Arrow and Spark order), `-0.0 == 0.0`.
pub(crate) fn float_cmp(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).expect("not NaN"),
    }
}

/// Compares two typed values of one domain (integers and floats compare as numbers).
pub(crate) fn typed_cmp(a: &Typed, b: &Typed) -> Option<Ordering> {
    Some(match (a, b) {
        (Typed::Int(a), Typed::Int(b)) => a.cmp(b),
        (Typed::Float(a), Typed::Float(b)) => float_cmp(*a, *b),
        (Typed::Int(a), Typed::Float(b)) => float_cmp(*a as f64, *b),
        (Typed::Float(a), Typed::Int(b)) => float_cmp(*a, *b as f64),
        (Typed::Bytes(a), Typed::Bytes(b)) => a.cmp(b),
        (Typed::Bool(a), Typed::Bool(b)) => a.cmp(b),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_orders_above_numbers() {
        use std::cmp::Ordering::*;
        assert_eq!(float_cmp(f64::NAN, f64::INFINITY), Greater);
        assert_eq!(float_cmp(-0.0, 0.0), Equal);
        assert_eq!(float_cmp(1.0, f64::NAN), Less);
    }
}

//! Column types as a suite writes them (`int64`, `decimal(12,2)`, `timestamp(us, UTC)`), and
//! their mapping to Arrow.
//!
//! `string` stands for every Arrow string layout: `Utf8`, `LargeUtf8`, `Utf8View` and
//! dictionary-encoded strings all match it. The Delta tables dq-gate creates store it as `Utf8`.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};

/// A column type of the suite format (docs/suite-format.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `bool`
    Bool,
    /// `int8`, `int16`, `int32`, `int64`
    Int(u8),
    /// `uint8`, `uint16`, `uint32`, `uint64`
    UInt(u8),
    /// `float32`
    Float32,
    /// `float64`
    Float64,
    /// `decimal(p,s)`
    Decimal(u8, i8),
    /// `string` (any Arrow string layout)
    String,
    /// `binary`
    Binary,
    /// `date32` or `date`
    Date32,
    /// `timestamp(unit)` or `timestamp(unit, tz)`
    Timestamp(TimeUnit, Option<String>),
}

impl ColumnType {
    /// Parses the suite spelling. Returns a message that lists what is accepted when it fails.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let simple = match t.as_str() {
            "bool" | "boolean" => Some(ColumnType::Bool),
            "int8" => Some(ColumnType::Int(8)),
            "int16" => Some(ColumnType::Int(16)),
            "int32" => Some(ColumnType::Int(32)),
            "int64" => Some(ColumnType::Int(64)),
            "uint8" => Some(ColumnType::UInt(8)),
            "uint16" => Some(ColumnType::UInt(16)),
            "uint32" => Some(ColumnType::UInt(32)),
            "uint64" => Some(ColumnType::UInt(64)),
            "float32" => Some(ColumnType::Float32),
            "float64" => Some(ColumnType::Float64),
            "string" => Some(ColumnType::String),
            "binary" => Some(ColumnType::Binary),
            "date32" | "date" => Some(ColumnType::Date32),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        let bad = || {
            format!(
                "unknown type `{text}`; expected one of bool, int8..int64, uint8..uint64, \
                 float32, float64, decimal(p,s), string, binary, date32, timestamp(unit) or \
                 timestamp(unit, tz) with unit s, ms, us or ns"
            )
        };
        if let Some(args) = t.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
            let (p, s) = args.split_once(',').ok_or_else(bad)?;
            let p: u8 = p.parse().map_err(|_| bad())?;
            let s: i8 = s.parse().map_err(|_| bad())?;
            if p == 0 || p > 38 || s < 0 || s as u8 > p {
                return Err(format!(
                    "`{text}`: decimal precision must be 1..=38 and scale 0..=precision"
                ));
            }
            return Ok(ColumnType::Decimal(p, s));
        }
        if let Some(args) = t
            .strip_prefix("timestamp(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let (unit, tz) = match args.split_once(',') {
                Some((u, tz)) => (u, Some(tz.to_string())),
                None => (args, None),
            };
            let unit = match unit {
                "s" => TimeUnit::Second,
                "ms" => TimeUnit::Millisecond,
                "us" => TimeUnit::Microsecond,
                "ns" => TimeUnit::Nanosecond,
                _ => return Err(bad()),
            };
            if let Some(tz) = &tz {
                if tz.is_empty() {
                    return Err(bad());
                }
                if tz.parse::<arrow::array::timezone::Tz>().is_err() {
                    return Err(format!("`{text}`: unknown time zone `{tz}`"));
                }
            }
            return Ok(ColumnType::Timestamp(unit, tz));
        }
        Err(bad())
    }

    /// The Arrow type dq-gate stores this column as.
    pub fn to_arrow(&self) -> DataType {
        match self {
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int(8) => DataType::Int8,
            ColumnType::Int(16) => DataType::Int16,
            ColumnType::Int(32) => DataType::Int32,
            ColumnType::Int(_) => DataType::Int64,
            ColumnType::UInt(8) => DataType::UInt8,
            ColumnType::UInt(16) => DataType::UInt16,
            ColumnType::UInt(32) => DataType::UInt32,
            ColumnType::UInt(_) => DataType::UInt64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal(p, s) => DataType::Decimal128(*p, *s),
            ColumnType::String => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
            ColumnType::Date32 => DataType::Date32,
            ColumnType::Timestamp(u, tz) => DataType::Timestamp(*u, tz.as_deref().map(Arc::from)),
        }
    }

    /// Whether an Arrow type is this type exactly, string layouts counted as one.
    pub fn matches(&self, dt: &DataType) -> bool {
        match self {
            ColumnType::String => is_string_like(dt),
            ColumnType::Binary => matches!(
                dt,
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView
            ),
            // Decimals read in their narrow layouts (`Decimal32`, `Decimal64`) hold the same values.
            ColumnType::Decimal(p, s) => matches!(
                *dt,
                DataType::Decimal32(dp, ds) | DataType::Decimal64(dp, ds) | DataType::Decimal128(dp, ds)
                    if (dp, ds) == (*p, *s)
            ),
            other => &other.to_arrow() == dt,
        }
    }
}

/// `Utf8`, `LargeUtf8`, `Utf8View`, or a dictionary of one of them.
pub fn is_string_like(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string_like(v),
        _ => false,
    }
}

/// The suite spelling of an Arrow type, for messages (`int64`, `string`, `timestamp(us, UTC)`).
pub fn type_name(dt: &DataType) -> String {
    match dt {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            format!("decimal({p},{s})")
        }
        DataType::Utf8 => "string".into(),
        DataType::LargeUtf8 => "string (large_string)".into(),
        DataType::Utf8View => "string (string_view)".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary".into(),
        DataType::Date32 => "date32".into(),
        DataType::Timestamp(u, tz) => {
            let unit = unit_name(*u);
            match tz {
                Some(tz) => format!("timestamp({unit}, {tz})"),
                None => format!("timestamp({unit})"),
            }
        }
        DataType::Dictionary(_, v) if is_string_like(v) => "string (dictionary)".into(),
        other => format!("{other}"),
    }
}

pub(crate) fn unit_name(u: TimeUnit) -> &'static str {
    match u {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String => f.write_str("string"),
            ColumnType::Binary => f.write_str("binary"),
            other => f.write_str(&type_name(&other.to_arrow())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        assert_eq!(ColumnType::parse("int64").unwrap(), ColumnType::Int(64));
        assert_eq!(ColumnType::parse("date").unwrap(), ColumnType::Date32);
        assert_eq!(
            ColumnType::parse("decimal(12, 2)").unwrap(),
            ColumnType::Decimal(12, 2)
        );
        assert_eq!(
            ColumnType::parse("timestamp(us, UTC)").unwrap().to_arrow(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            ColumnType::parse("timestamp(ns)").unwrap().to_arrow(),
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert!(ColumnType::parse("int128").is_err());
        assert!(ColumnType::parse("decimal(3,4)").is_err());
        assert!(ColumnType::parse("timestamp(us, Mars/Base)").is_err());
    }

    #[test]
    fn string_matches_every_layout() {
        let s = ColumnType::String;
        assert!(s.matches(&DataType::Utf8));
        assert!(s.matches(&DataType::LargeUtf8));
        assert!(s.matches(&DataType::Utf8View));
        assert!(s.matches(&DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(DataType::Utf8)
        )));
        assert!(!s.matches(&DataType::Binary));
        assert_eq!(ColumnType::Int(32).to_string(), "int32");
    }
}

//! Typing suite literals against a column's Arrow type, once, at bind time.
//!
//! A literal is converted into the column's domain ([`crate::values::domain`]) here, so kernels
//! compare natives and never parse.

use arrow::datatypes::DataType;

use crate::suite::Literal;
use crate::types::type_name;
use crate::values::domain::{Domain, Typed, domain_of};
use crate::values::parse::{days_since_epoch, parse_date, parse_decimal, parse_timestamp, to_unit};

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
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal128(_, scale) => match lit {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i128) -> Literal {
        Literal::Int(i, i.to_string())
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
                &DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some("UTC".into()))
            ),
            Ok(Typed::Int(1000))
        );
        assert!(
            bind_literal(
                &Literal::Str("1970-01-01T00:00:01".into()),
                &DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, Some("UTC".into()))
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
}

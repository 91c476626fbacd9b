//! `between`: typed bounds, inclusive unless `strict_min` / `strict_max`.
//!
//! Bounds are typed into the column's domain at bind time (numbers, ISO dates, RFC 3339
//! timestamps, strings in byte order). For integer-like columns strictness is folded into the
//! bound (`> 5` is `>= 6`), so the loop is two comparisons. Floats order NaN above every number:
//! NaN passes a lone `min` and fails any `max`. A null value gives a null result.

use std::cmp::Ordering;

use arrow::array::{Array, BooleanArray};
use arrow::datatypes::DataType;

use crate::eval::literal::bind_literal;
use crate::io::facts::Bounds;
use crate::suite::Literal;
use crate::types::type_name;
use crate::values::access::map_bytes;
use crate::values::domain::typed_cmp;
use crate::values::domain::{Domain, Typed, domain_of};
use crate::values::numeric::{map_float, map_int_range};

#[derive(Debug, Clone)]
pub(crate) enum RangeFilter {
    /// Inclusive bounds after folding strictness.
    Int { lo: i128, hi: i128 },
    Float {
        lo: Option<(f64, bool)>,
        hi: Option<(f64, bool)>,
    },
    Bytes {
        lo: Option<(Vec<u8>, bool)>,
        hi: Option<(Vec<u8>, bool)>,
    },
}

/// A typed interval, for `between` and for metric bounds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Interval {
    pub lo: Option<(Typed, bool)>,
    pub hi: Option<(Typed, bool)>,
}

impl Interval {
    pub(crate) fn bind(
        min: Option<&Literal>,
        max: Option<&Literal>,
        strict_min: bool,
        strict_max: bool,
        dt: &DataType,
    ) -> Result<Self, String> {
        let lo = min
            .map(|m| bind_literal(m, dt).map(|t| (t, strict_min)))
            .transpose()?;
        let hi = max
            .map(|m| bind_literal(m, dt).map(|t| (t, strict_max)))
            .transpose()?;
        if let (Some((a, _)), Some((b, _))) = (&lo, &hi)
            && typed_cmp(a, b) == Some(Ordering::Greater)
        {
            return Err(format!(
                "min {} is greater than max {}",
                min.expect("lo"),
                max.expect("hi")
            ));
        }
        Ok(Interval { lo, hi })
    }

    /// Whether `v` lies inside (one value, for metrics).
    pub(crate) fn contains(&self, v: &Typed) -> bool {
        let lo_ok = self
            .lo
            .as_ref()
            .is_none_or(|(lo, strict)| match typed_cmp(v, lo) {
                Some(Ordering::Greater) => true,
                Some(Ordering::Equal) => !strict,
                _ => false,
            });
        let hi_ok = self
            .hi
            .as_ref()
            .is_none_or(|(hi, strict)| match typed_cmp(v, hi) {
                Some(Ordering::Less) => true,
                Some(Ordering::Equal) => !strict,
                _ => false,
            });
        lo_ok && hi_ok
    }
}

impl RangeFilter {
    /// Whether every value within `b` passes. Float bounds leave NaN out, and NaN fails any
    /// `max`: they prove a lone `min` only.
    pub(crate) fn proves(&self, b: Bounds) -> bool {
        match (self, b) {
            (RangeFilter::Int { lo, hi }, Bounds::Int(min, max)) => *lo <= min && max <= *hi,
            (RangeFilter::Float { lo, hi: None }, Bounds::Float(min, _)) => {
                lo.is_none_or(|(lo, strict)| if strict { min > lo } else { min >= lo })
            }
            _ => false,
        }
    }

    pub(crate) fn build(iv: Interval, dt: &DataType) -> Result<Self, String> {
        let domain = domain_of(dt)
            .filter(|d| *d != Domain::Bool)
            .ok_or_else(|| format!("`between` cannot check columns of type {}", type_name(dt)))?;
        Ok(match domain {
            Domain::Int => {
                let fold = |b: Option<(Typed, bool)>, default: i128, step: i128| match b {
                    Some((Typed::Int(v), strict)) => {
                        v.saturating_add(if strict { step } else { 0 })
                    }
                    _ => default,
                };
                RangeFilter::Int {
                    lo: fold(iv.lo, i128::MIN, 1),
                    hi: fold(iv.hi, i128::MAX, -1),
                }
            }
            Domain::Float => {
                let f = |b: Option<(Typed, bool)>| {
                    b.map(|(t, s)| match t {
                        Typed::Float(v) => (v, s),
                        Typed::Int(v) => (v as f64, s),
                        _ => unreachable!(),
                    })
                };
                RangeFilter::Float {
                    lo: f(iv.lo),
                    hi: f(iv.hi),
                }
            }
            Domain::Bytes => {
                let f = |b: Option<(Typed, bool)>| {
                    b.map(|(t, s)| match t {
                        Typed::Bytes(v) => (v, s),
                        _ => unreachable!(),
                    })
                };
                RangeFilter::Bytes {
                    lo: f(iv.lo),
                    hi: f(iv.hi),
                }
            }
            Domain::Bool => unreachable!(),
        })
    }

    pub(crate) fn evaluate(&self, array: &dyn Array) -> Option<BooleanArray> {
        match self {
            RangeFilter::Int { lo, hi } => {
                // Compared natively (no widening): loops the compiler turns into vector compares.
                map_int_range(array, *lo, *hi)
            }
            RangeFilter::Float {
                lo: Some((lo, false)),
                hi: None,
            } => {
                // `min` alone: NaN, above every number, passes.
                let lo = *lo;
                map_float(array, move |v| v >= lo || v.is_nan())
            }
            RangeFilter::Float {
                lo: Some((lo, false)),
                hi: Some((hi, false)),
            } if !hi.is_nan() => {
                // NaN passes the `min` and fails the `max`.
                let (lo, hi) = (*lo, *hi);
                map_float(array, move |v| (v >= lo || v.is_nan()) && v <= hi)
            }
            RangeFilter::Float { lo, hi } => {
                // Folded once: NaN sorts above every number.
                let lo = *lo;
                let hi = *hi;
                map_float(array, move |v| {
                    let lo_ok = match lo {
                        None => true,
                        Some((b, strict)) => v.is_nan() || if strict { v > b } else { v >= b },
                    };
                    let hi_ok = match hi {
                        None => true,
                        Some((b, strict)) => {
                            if b.is_nan() {
                                !strict || !v.is_nan()
                            } else {
                                !v.is_nan() && if strict { v < b } else { v <= b }
                            }
                        }
                    };
                    lo_ok && hi_ok
                })
            }
            RangeFilter::Bytes { lo, hi } => map_bytes(array, |v| {
                let lo_ok = lo
                    .as_ref()
                    .is_none_or(|(b, strict)| if *strict { v > &b[..] } else { v >= &b[..] });
                let hi_ok = hi
                    .as_ref()
                    .is_none_or(|(b, strict)| if *strict { v < &b[..] } else { v <= &b[..] });
                lo_ok && hi_ok
            }),
        }
    }
}

/// `between`: proven by exact min/max within the bounds.
impl super::ColumnCheck for RangeFilter {
    fn check(
        &self,
        array: &dyn Array,
        _as_of: chrono::DateTime<chrono::Utc>,
    ) -> Option<BooleanArray> {
        self.evaluate(array)
    }

    fn proven_by(&self, facts: &crate::io::facts::ColumnFacts) -> bool {
        facts.bounds.is_some_and(|b| self.proves(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Float64Array, Int64Array, StringArray, UInt8Array};

    fn int(i: i128) -> Literal {
        Literal::Int(i, i.to_string())
    }

    fn filter(
        min: Option<Literal>,
        max: Option<Literal>,
        sm: bool,
        sx: bool,
        dt: &DataType,
    ) -> RangeFilter {
        let iv = Interval::bind(min.as_ref(), max.as_ref(), sm, sx, dt).unwrap();
        RangeFilter::build(iv, dt).unwrap()
    }

    fn eval(f: &RangeFilter, a: &dyn Array) -> Vec<Option<bool>> {
        f.evaluate(a).unwrap().iter().collect()
    }

    #[test]
    fn inclusive_and_strict_integers() {
        let a = Int64Array::from(vec![Some(0), Some(1), None, Some(5), Some(6)]);
        let f = filter(Some(int(1)), Some(int(5)), false, false, &DataType::Int64);
        assert_eq!(
            eval(&f, &a),
            vec![Some(false), Some(true), None, Some(true), Some(false)]
        );
        let f = filter(Some(int(1)), Some(int(5)), true, true, &DataType::Int64);
        assert_eq!(
            eval(&f, &a),
            vec![Some(false), Some(false), None, Some(false), Some(false)]
        );
        let f = filter(
            Some(int(-5)),
            Some(int(300)),
            false,
            false,
            &DataType::UInt8,
        );
        assert_eq!(
            eval(&f, &UInt8Array::from(vec![0, 255])),
            vec![Some(true), Some(true)]
        );
    }

    #[test]
    fn floats_put_nan_above_everything() {
        let a = Float64Array::from(vec![f64::NAN, -0.0, 100.0, f64::INFINITY]);
        let f = filter(Some(int(0)), None, false, false, &DataType::Float64);
        assert_eq!(
            eval(&f, &a),
            vec![Some(true), Some(true), Some(true), Some(true)]
        );
        let f = filter(
            Some(int(0)),
            Some(int(100)),
            false,
            false,
            &DataType::Float64,
        );
        assert_eq!(
            eval(&f, &a),
            vec![Some(false), Some(true), Some(true), Some(false)]
        );
        let f = filter(Some(int(0)), None, true, false, &DataType::Float64);
        assert_eq!(
            eval(&f, &a),
            vec![Some(true), Some(false), Some(true), Some(true)]
        );
    }

    #[test]
    fn dates_and_strings() {
        let f = filter(
            Some(Literal::Str("1970-01-02".into())),
            Some(Literal::Str("1970-01-03".into())),
            false,
            false,
            &DataType::Date32,
        );
        assert_eq!(
            eval(&f, &Date32Array::from(vec![0, 1, 2, 3])),
            vec![Some(false), Some(true), Some(true), Some(false)]
        );
        let f = filter(
            Some(Literal::Str("B".into())),
            None,
            false,
            false,
            &DataType::Utf8,
        );
        let s = StringArray::from(vec!["A", "B", "b", "Ba"]);
        assert_eq!(
            eval(&f, &s),
            vec![Some(false), Some(true), Some(true), Some(true)]
        );
        assert!(
            Interval::bind(Some(&int(5)), Some(&int(1)), false, false, &DataType::Int8).is_err()
        );
        assert!(
            RangeFilter::build(
                Interval::bind(
                    Some(&Literal::Bool(true)),
                    None,
                    false,
                    false,
                    &DataType::Boolean
                )
                .unwrap(),
                &DataType::Boolean
            )
            .is_err()
        );
    }
}

//! How an expectation's parameters moved: bounds, sets, regexes, allowances; and changes with
//! no order.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Push, Verdict, record};
use crate::suite::{Kind, Literal};

/// Orders two bounds when they can be ordered (numbers; strings such as ISO dates).
fn order(a: &Literal, b: &Literal) -> Option<Ordering> {
    let num = |l: &Literal| match l {
        Literal::Int(i, _) => Some(*i as f64),
        Literal::Float(f, _) => Some(*f),
        _ => None,
    };
    match (num(a), num(b), a, b) {
        (Some(x), Some(y), _, _) => x.partial_cmp(&y),
        (_, _, Literal::Str(x), Literal::Str(y)) if x.len() == y.len() => Some(x.cmp(y)),
        _ => None,
    }
}

/// Tighter (+1), looser (−1), the same (0), or no order (None) for a lower bound moving from
/// `a` to `b` (`lower`), or an upper bound.
fn bound_move(a: &Option<Literal>, b: &Option<Literal>, lower: bool) -> Option<i8> {
    match (a, b) {
        (None, None) => Some(0),
        (None, Some(_)) => Some(1),
        (Some(_), None) => Some(-1),
        (Some(x), Some(y)) => {
            let o = order(x, y)?;
            Some(match (o, lower) {
                (Ordering::Equal, _) => 0,
                (Ordering::Less, true) | (Ordering::Greater, false) => 1,
                _ => -1,
            })
        }
    }
}

pub(super) fn kind(o: &Kind, n: &Kind, id: &str, path: &str, push: &mut Push<'_>) {
    use Kind::*;
    let both = |a: Option<i8>, b: Option<i8>| match (a, b) {
        (Some(x), Some(y)) if x >= 0 && y >= 0 => Some(x.max(y)),
        (Some(x), Some(y)) if x <= 0 && y <= 0 => Some(x.min(y)),
        _ => None,
    };
    // Parameters without an order (columns, metric, SQL, format): any change is both ways.
    const ORDERED: [&str; 11] = [
        "min",
        "max",
        "strict_min",
        "strict_max",
        "values",
        "case_insensitive",
        "regex",
        "mode",
        "tolerance",
        "max_age",
        "history",
    ];
    let strip = |k: &Kind| {
        let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            for key in ORDERED {
                m.remove(key);
            }
        }
        v
    };
    if strip(o) != strip(n) {
        record(push, path, format!("`{id}` parameters"), None, "parameters");
    }
    if let (Metric { history: a, .. }, Metric { history: b, .. }) = (o, n)
        && a != b
    {
        push(
            path.to_string(),
            format!("`{id}` history check changed: values judged against history may now fail"),
            Verdict::Tightening,
            "history",
        );
    }
    match (o, n) {
        (
            Between {
                min: a,
                max: b,
                strict_min: sa,
                strict_max: sb,
                ..
            },
            Between {
                min: c,
                max: d,
                strict_min: sc,
                strict_max: sd,
                ..
            },
        )
        | (
            Metric {
                min: a,
                max: b,
                strict_min: sa,
                strict_max: sb,
                ..
            },
            Metric {
                min: c,
                max: d,
                strict_min: sc,
                strict_max: sd,
                ..
            },
        ) => {
            let lo = bound_move(a, c, true).map(|m| {
                if m == 0 {
                    (*sc as i8 - *sa as i8).signum()
                } else {
                    m
                }
            });
            let hi = bound_move(b, d, false).map(|m| {
                if m == 0 {
                    (*sd as i8 - *sb as i8).signum()
                } else {
                    m
                }
            });
            record(push, path, format!("`{id}` bounds"), both(lo, hi), "bounds");
        }
        (LengthBetween { min: a, max: b, .. }, LengthBetween { min: c, max: d, .. }) => {
            let lit = |v: &Option<u64>| v.map(|x| Literal::Int(x as i128, x.to_string()));
            let dir = both(
                bound_move(&lit(a), &lit(c), true),
                bound_move(&lit(b), &lit(d), false),
            );
            record(push, path, format!("`{id}` length bounds"), dir, "bounds");
        }
        (
            InSet {
                values: a,
                negated: na,
                case_insensitive: ca,
                ..
            },
            InSet {
                values: b,
                case_insensitive: cb,
                ..
            },
        ) => {
            let has = |set: &[Literal], v: &Literal| set.iter().any(|x| x == v);
            let grown = b.iter().any(|v| !has(a, v));
            let shrunk = a.iter().any(|v| !has(b, v));
            // Fewer allowed values tighten `in_set`; more excluded values tighten `not_in_set`.
            let dir = match (grown, shrunk) {
                (false, false) => 0,
                (true, false) => {
                    if *na {
                        1
                    } else {
                        -1
                    }
                }
                (false, true) => {
                    if *na {
                        -1
                    } else {
                        1
                    }
                }
                (true, true) => 2,
            };
            let dir = if dir == 2 { None } else { Some(dir) };
            record(push, path, format!("`{id}` set of values"), dir, "set");
            if ca != cb {
                let d = if *na {
                    (*cb as i8) - (*ca as i8)
                } else {
                    (*ca as i8) - (*cb as i8)
                };
                record(
                    push,
                    path,
                    format!("`{id}` case sensitivity"),
                    Some(d.signum()),
                    "set",
                );
            }
        }
        (
            MatchesRegex {
                regex: a, mode: ma, ..
            },
            MatchesRegex {
                regex: b, mode: mb, ..
            },
        ) => {
            if a != b || ma != mb {
                record(push, path, format!("`{id}` regex"), None, "regex");
            }
        }
        (NotInFuture { tolerance: a, .. }, NotInFuture { tolerance: b, .. })
        | (Freshness { max_age: a, .. }, Freshness { max_age: b, .. }) => {
            record(
                push,
                path,
                format!("`{id}` allowance ({a} s to {b} s)"),
                Some((a - b).signum() as i8),
                "bounds",
            );
        }
        _ => {}
    }
}

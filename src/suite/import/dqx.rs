//! DQX check files.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Out, lit, q};

/// A Java date pattern (`yyyy-MM-dd HH:mm:ss`) as a chrono format, when every letter maps.
fn java_format(p: &str) -> Option<String> {
    let map = [
        ("yyyy", "%Y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
    ];
    let mut out = String::new();
    let mut rest = p;
    'outer: while !rest.is_empty() {
        for (java, chrono) in map {
            if let Some(r) = rest.strip_prefix(java) {
                out.push_str(chrono);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next()?;
        if c.is_ascii_alphabetic() {
            return None;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

pub(super) fn dqx(v: &Value, out: &mut Out) -> Result<(), String> {
    let list = v
        .as_array()
        .ok_or("not a DQX check file: expected a list of checks")?;
    for item in list {
        let check = &item["check"];
        let f = check["function"]
            .as_str()
            .ok_or("a check has no `check.function`")?;
        let a = &check["arguments"];
        let on_fail = match item["criticality"].as_str().unwrap_or("error") {
            "warn" => ", on_fail: warn",
            _ => "",
        };
        let columns: Vec<String> = match check["for_each_column"].as_array() {
            Some(cols) => cols
                .iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect(),
            None => vec![a["column"].as_str().unwrap_or_default().to_string()],
        };
        let mut filter = String::new();
        let mut w0 = Vec::new();
        if let Some(fl) = item["filter"].as_str() {
            let _ = write!(filter, ", where: {}", q(fl));
            w0.push("`filter` is Spark SQL; dq-gate reads `where` as DataFusion SQL".to_string());
        }
        for col in columns {
            let mut w = w0.clone();
            let subject = if col.is_empty() {
                a["columns"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("_")
                    })
                    .unwrap_or_default()
            } else {
                col.clone()
            };
            let base = item["name"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("{subject}_{f}"));
            let label = base.clone();
            let id = out.id(&base);
            let c = q(&col);
            // DQX list entries: a quoted string is a literal; a bare string a column expression.
            let entries = |key: &str| -> Result<Vec<String>, String> {
                a[key]
                    .as_array()
                    .ok_or_else(|| format!("no `{key}` list"))?
                    .iter()
                    .map(|e| match e {
                        Value::String(s)
                            if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') =>
                        {
                            Ok(q(&s[1..s.len() - 1]))
                        }
                        Value::String(s) if s.parse::<f64>().is_ok() => Ok(s.clone()),
                        Value::String(s) => Err(format!(
                            "`{s}` is a column expression in DQX, not a literal"
                        )),
                        other => {
                            lit(other).ok_or_else(|| "a list entry is not a value".to_string())
                        }
                    })
                    .collect()
            };
            let limit = |key: &str| -> Option<String> {
                match &a[key] {
                    Value::String(s) if s.parse::<f64>().is_ok() => Some(s.clone()),
                    Value::String(s) if s.starts_with('\'') => Some(q(s.trim_matches('\''))),
                    Value::String(_) => None,
                    other => lit(other),
                }
            };
            let body = match f {
                "is_not_null" => Ok(format!("id: {id}, expect: not_null, column: {c}")),
                "is_in_list" | "is_not_null_and_is_in_list" | "is_not_in_list" => {
                    let key = if f == "is_not_in_list" {
                        "forbidden"
                    } else {
                        "allowed"
                    };
                    entries(key).map(|vals| {
                        let kind = if f == "is_not_in_list" {
                            "not_in_set"
                        } else {
                            "in_set"
                        };
                        let ci = if a["case_sensitive"].as_bool() == Some(false) {
                            ", case_insensitive: true"
                        } else {
                            ""
                        };
                        let nulls = if f == "is_not_null_and_is_in_list" {
                            ", nulls: fail"
                        } else {
                            ""
                        };
                        format!(
                            "id: {id}, expect: {kind}, column: {c}, values: [{}]{ci}{nulls}",
                            vals.join(", ")
                        )
                    })
                }
                "is_in_range" | "is_not_less_than" | "is_not_greater_than" => {
                    let (lo, hi) = match f {
                        "is_in_range" => (limit("min_limit"), limit("max_limit")),
                        "is_not_less_than" => (limit("limit"), None),
                        _ => (None, limit("limit")),
                    };
                    if lo.is_none() && hi.is_none() {
                        Err("its limits are column expressions".to_string())
                    } else {
                        let mut s = format!("id: {id}, expect: between, column: {c}");
                        if let Some(x) = lo {
                            let _ = write!(s, ", min: {x}");
                        }
                        if let Some(x) = hi {
                            let _ = write!(s, ", max: {x}");
                        }
                        Ok(s)
                    }
                }
                "regex_match" => {
                    w.push("DQX uses Spark `rlike` (a search, Java regex): imported with `mode: search`; check the dialect".into());
                    let kind = if a["negate"].as_bool() == Some(true) {
                        "not_matches_regex"
                    } else {
                        "matches_regex"
                    };
                    Ok(format!(
                        "id: {id}, expect: {kind}, column: {c}, regex: {}, mode: search",
                        q(a["regex"].as_str().unwrap_or_default())
                    ))
                }
                "is_unique" => {
                    let cols: Vec<String> = a["columns"]
                        .as_array()
                        .map(|x| x.iter().filter_map(|c| c.as_str().map(q)).collect())
                        .unwrap_or_default();
                    match cols.as_slice() {
                        [one] => {
                            let nd = if a["nulls_distinct"].as_bool() == Some(false) {
                                ", nulls_distinct: false"
                            } else {
                                ""
                            };
                            Ok(format!("id: {id}, expect: unique, column: {one}{nd}"))
                        }
                        [] => Err("no `columns`".to_string()),
                        many => {
                            w.push("dq-gate passes every row with a null in the tuple".into());
                            Ok(format!(
                                "id: {id}, expect: compound_unique, columns: [{}]",
                                many.join(", ")
                            ))
                        }
                    }
                }
                "sql_expression" => {
                    let expr = a["expression"].as_str().unwrap_or_default();
                    let expr = if a["negate"].as_bool() == Some(true) {
                        format!("NOT ({expr})")
                    } else {
                        expr.to_string()
                    };
                    w.push("DQX fails a row only when the expression is FALSE (NULL passes): imported with `nulls: pass`; the SQL is Spark's".into());
                    Ok(format!(
                        "id: {id}, expect: sql, expr: {}, nulls: pass",
                        q(&expr)
                    ))
                }
                "is_not_in_future" => {
                    let offset = a["offset"].as_i64().unwrap_or(0);
                    Ok(format!(
                        "id: {id}, expect: not_in_future, column: {c}, tolerance: {offset}s"
                    ))
                }
                "is_valid_date" | "is_valid_timestamp" => {
                    let pattern = a[if f == "is_valid_date" {
                        "date_format"
                    } else {
                        "timestamp_format"
                    }]
                    .as_str()
                    .unwrap_or(if f == "is_valid_date" {
                        "yyyy-MM-dd"
                    } else {
                        "yyyy-MM-dd HH:mm:ss"
                    });
                    match java_format(pattern) {
                        Some(fmt) => {
                            w.push(format!("the Java pattern `{pattern}` is imported as the chrono format `{fmt}`"));
                            Ok(format!(
                                "id: {id}, expect: matches_format, column: {c}, format: {}",
                                q(&fmt)
                            ))
                        }
                        None => Err(format!(
                            "the Java pattern `{pattern}` has letters with no chrono equivalent here"
                        )),
                    }
                }
                other => Err(format!("`{other}` has no dq-gate equivalent")),
            };
            match body {
                Ok(b) => out.rule(&w, format!("{b}{on_fail}{filter}")),
                Err(why) => out.skip(&label, &why),
            }
        }
    }
    Ok(())
}

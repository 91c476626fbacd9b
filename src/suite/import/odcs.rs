//! ODCS v3 contracts: the first schema object's properties and quality rules.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Out, lit, q};

pub(super) fn odcs(v: &Value, out: &mut Out) -> Result<(), String> {
    let objects = v["schema"]
        .as_array()
        .ok_or("not an ODCS v3 contract: no `schema` list")?;
    let Some(obj) = objects.first() else {
        return Ok(());
    };
    if objects.len() > 1 {
        out.skip(
            "schema",
            &format!(
                "{} more objects: a suite gates one table; import each into its own suite",
                objects.len() - 1
            ),
        );
    }
    for p in obj["properties"].as_array().into_iter().flatten() {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        let opts = &p["logicalTypeOptions"];
        let (ty, note) = match p["logicalType"].as_str().unwrap_or("string") {
            "string" => ("string", None),
            "integer" => ("int64", None),
            "number" => (
                "float64",
                Some("`number` is imported as float64; use a decimal type for money"),
            ),
            "boolean" => ("bool", None),
            "date" => ("date32", None),
            "timestamp" => {
                if opts["timezone"].as_bool() == Some(false) {
                    ("timestamp(us)", None)
                } else {
                    ("timestamp(us, UTC)", None)
                }
            }
            other => {
                out.skip(
                    &format!("property `{name}`"),
                    &format!("logical type `{other}` has no column type"),
                );
                continue;
            }
        };
        let required =
            p["required"].as_bool() == Some(true) || p["primaryKey"].as_bool() == Some(true);
        let sensitive = p["classification"].as_str().is_some_and(|c| {
            matches!(
                c.to_ascii_lowercase().as_str(),
                "restricted" | "confidential" | "pii" | "sensitive"
            )
        });
        let mut col = String::new();
        if let Some(n) = note {
            let _ = writeln!(col, "    # warning: {n}");
        }
        if sensitive {
            let _ = writeln!(
                col,
                "    # warning: classification `{}` imported as the `pii` tag",
                p["classification"].as_str().unwrap_or_default()
            );
        }
        let _ = write!(
            col,
            "    - {{name: {}, type: {}{}{}}}",
            q(name),
            q(ty),
            if required { ", nullable: false" } else { "" },
            if sensitive { ", tags: [pii]" } else { "" }
        );
        out.columns.push(col);
        if p["unique"].as_bool() == Some(true) || p["primaryKey"].as_bool() == Some(true) {
            let id = out.id(&format!("{name}_unique"));
            out.rule(
                &[],
                format!("id: {id}, expect: unique, column: {}", q(name)),
            );
        }
        if opts["minLength"].is_number() || opts["maxLength"].is_number() {
            let id = out.id(&format!("{name}_length"));
            let mut s = format!("id: {id}, expect: length_between, column: {}", q(name));
            if let Some(m) = opts["minLength"].as_i64() {
                let _ = write!(s, ", min: {m}");
            }
            if let Some(m) = opts["maxLength"].as_i64() {
                let _ = write!(s, ", max: {m}");
            }
            out.rule(&[], s);
        }
        if let Some(pat) = opts["pattern"].as_str() {
            let id = out.id(&format!("{name}_pattern"));
            out.rule(
                &["ODCS patterns are ECMA-262 and unanchored (a search): imported with `mode: search`".into()],
                format!("id: {id}, expect: matches_regex, column: {}, regex: {}, mode: search", q(name), q(pat)),
            );
        }
        let bound = |key: &str, excl: &str| -> Option<(String, bool)> {
            match (lit(&opts[excl]), lit(&opts[key])) {
                (Some(x), _) => Some((x, true)),
                (None, Some(x)) => Some((x, false)),
                _ => None,
            }
        };
        let lo = bound("minimum", "exclusiveMinimum");
        let hi = bound("maximum", "exclusiveMaximum");
        if lo.is_some() || hi.is_some() {
            let id = out.id(&format!("{name}_range"));
            let mut s = format!("id: {id}, expect: between, column: {}", q(name));
            if let Some((x, strict)) = &lo {
                let _ = write!(
                    s,
                    ", min: {x}{}",
                    if *strict { ", strict_min: true" } else { "" }
                );
            }
            if let Some((x, strict)) = &hi {
                let _ = write!(
                    s,
                    ", max: {x}{}",
                    if *strict { ", strict_max: true" } else { "" }
                );
            }
            out.rule(&[], s);
        }
        for item in p["quality"].as_array().into_iter().flatten() {
            odcs_quality(item, Some(name), out);
        }
    }
    for item in obj["quality"].as_array().into_iter().flatten() {
        odcs_quality(item, None, out);
    }
    Ok(())
}

/// One ODCS operator as bounds on a count: (min, max), inclusive.
fn odcs_bounds(item: &Value) -> Option<(Option<f64>, Option<f64>, Vec<String>)> {
    let n = |k: &str| item[k].as_f64();
    if let Some(x) = n("mustBe") {
        return Some((Some(x), Some(x), Vec::new()));
    }
    if let Some(x) = n("mustBeLessThan") {
        return Some((
            None,
            Some(x - 1.0),
            vec!["`mustBeLessThan` on a count imported as at most one less".into()],
        ));
    }
    if let Some(x) = n("mustBeLessOrEqualTo") {
        return Some((None, Some(x), Vec::new()));
    }
    if let Some(x) = n("mustBeGreaterThan") {
        return Some((
            Some(x + 1.0),
            None,
            vec!["`mustBeGreaterThan` on a count imported as at least one more".into()],
        ));
    }
    if let Some(x) = n("mustBeGreaterOrEqualTo") {
        return Some((Some(x), None, Vec::new()));
    }
    if let Some(a) = item["mustBeBetween"].as_array()
        && let (Some(lo), Some(hi)) = (
            a.first().and_then(Value::as_f64),
            a.get(1).and_then(Value::as_f64),
        )
    {
        return Some((
            Some(lo),
            Some(hi),
            vec!["`mustBeBetween` imported inclusive (the ODCS text calls it exclusive; datacontract-cli evaluates it inclusive)".into()],
        ));
    }
    None
}

fn odcs_quality(item: &Value, column: Option<&str>, out: &mut Out) {
    let label = item["name"]
        .as_str()
        .or(item["id"].as_str())
        .map(String::from)
        .unwrap_or_else(|| {
            format!(
                "{}_{}",
                column.unwrap_or("table"),
                item["metric"]
                    .as_str()
                    .or(item["type"].as_str())
                    .unwrap_or("rule")
            )
        });
    let kind = item["type"].as_str().unwrap_or("library");
    if kind != "library" {
        out.skip(
            &label,
            &format!("an ODCS `{kind}` rule runs in its own engine"),
        );
        return;
    }
    let Some(metric) = item["metric"].as_str() else {
        out.skip(&label, "no `metric`");
        return;
    };
    let percent = matches!(item["unit"].as_str(), Some("percent" | "percentage" | "%"));
    let Some((lo, hi, mut w)) = odcs_bounds(item) else {
        out.skip(&label, "no operator dq-gate can read");
        return;
    };
    let num = |x: f64| {
        if x.fract() == 0.0 && x.abs() < 1e15 {
            format!("{}", x as i64)
        } else {
            format!("{x}")
        }
    };
    let bounds = |lo: Option<f64>, hi: Option<f64>, scale: f64| {
        let mut s = String::new();
        if let Some(x) = lo {
            let _ = write!(s, ", min: {}", num((x * scale).max(0.0)));
        }
        if let Some(x) = hi {
            let _ = write!(s, ", max: {}", num(x * scale));
        }
        s
    };
    let id = out.id(&label);
    match (metric, column) {
        ("rowCount", _) => out.rule(
            &w,
            format!(
                "id: {id}, expect: metric, metric: row_count{}",
                bounds(lo, hi, 1.0)
            ),
        ),
        ("nullValues", Some(c)) if !percent && lo.unwrap_or(0.0) == 0.0 && hi == Some(0.0) => {
            out.rule(&w, format!("id: {id}, expect: not_null, column: {}", q(c)))
        }
        ("nullValues", Some(c)) => {
            let (metric, scale) = if percent {
                ("null_fraction", 0.01)
            } else {
                ("null_count", 1.0)
            };
            out.rule(
                &w,
                format!(
                    "id: {id}, expect: metric, metric: {metric}, column: {}{}",
                    q(c),
                    bounds(lo, hi, scale)
                ),
            )
        }
        ("invalidValues", Some(c)) if hi == Some(0.0) => {
            let args = &item["arguments"];
            if let Some(vals) = args["validValues"].as_array() {
                let vals: Vec<String> = vals.iter().filter_map(lit).collect();
                out.rule(
                    &w,
                    format!(
                        "id: {id}, expect: in_set, column: {}, values: [{}]",
                        q(c),
                        vals.join(", ")
                    ),
                );
            } else if let Some(p) = args["pattern"].as_str() {
                w.push(
                    "the pattern is searched for, as datacontract-cli does: `mode: search`".into(),
                );
                out.rule(
                    &w,
                    format!(
                        "id: {id}, expect: matches_regex, column: {}, regex: {}, mode: search",
                        q(c),
                        q(p)
                    ),
                );
            } else {
                out.skip(&label, "`invalidValues` without `validValues` or `pattern`");
            }
        }
        ("duplicateValues", col) if hi == Some(0.0) => {
            let cols: Vec<String> = match col {
                Some(c) => vec![c.to_string()],
                None => item["arguments"]["properties"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            w.push("no duplicates: dq-gate quarantines every copy (datacontract-cli counts duplicate groups)".into());
            match cols.as_slice() {
                [] => out.skip(&label, "`duplicateValues` names no column"),
                [c] => out.rule(&w, format!("id: {id}, expect: unique, column: {}", q(c))),
                many => out.rule(
                    &w,
                    format!(
                        "id: {id}, expect: compound_unique, columns: [{}]",
                        many.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        (m, _) => out.skip(
            &label,
            &format!("metric `{m}` with these operators has no dq-gate equivalent"),
        ),
    }
}

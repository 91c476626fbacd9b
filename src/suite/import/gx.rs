//! Great Expectations 1.x expectation suites.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Out, lit, q};

pub(super) fn gx(v: &Value, out: &mut Out) -> Result<(), String> {
    let list = v["expectations"]
        .as_array()
        .ok_or("not a Great Expectations 1.x suite: no `expectations` list")?;
    for e in list {
        let ty = e["type"]
            .as_str()
            .or(e["expectation_type"].as_str())
            .ok_or("an expectation has no `type`")?;
        let k = &e["kwargs"];
        let col = k["column"].as_str().unwrap_or_default();
        let mut w: Vec<String> = Vec::new();
        if k.as_object()
            .is_some_and(|m| m.values().any(|x| x.get("$PARAMETER").is_some()))
        {
            out.skip(ty, "a `$PARAMETER` value is resolved at run time in GX");
            continue;
        }
        let mut extra = String::new();
        if let Some(m) = k["mostly"].as_f64()
            && m < 1.0
        {
            let _ = write!(extra, ", mostly: {m}");
        }
        if let Some(cond) = k["row_condition"].as_str() {
            match gx_condition(cond, k["condition_parser"].as_str()) {
                Ok((sql, note)) => {
                    let _ = write!(extra, ", where: {}", q(&sql));
                    w.extend(note);
                }
                Err(why) => {
                    out.skip(ty, &why);
                    continue;
                }
            }
        }
        let what = ty
            .trim_start_matches("expect_")
            .trim_start_matches("column_values_to_")
            .trim_start_matches("column_");
        let id = out.id(&format!("{col}_{what}"));
        let range = |k: &Value| {
            let mut s = String::new();
            if let Some(x) = lit(&k["min_value"]) {
                let _ = write!(s, ", min: {x}");
            }
            if let Some(x) = lit(&k["max_value"]) {
                let _ = write!(s, ", max: {x}");
            }
            if k["strict_min"].as_bool() == Some(true) {
                s.push_str(", strict_min: true");
            }
            if k["strict_max"].as_bool() == Some(true) {
                s.push_str(", strict_max: true");
            }
            s
        };
        let body = match ty {
            "expect_column_values_to_not_be_null" => {
                format!("id: {id}, expect: not_null, column: {}{extra}", q(col))
            }
            "expect_column_values_to_be_in_set" | "expect_column_values_to_not_be_in_set" => {
                let vals: Vec<String> = k["value_set"]
                    .as_array()
                    .map(|a| a.iter().filter_map(lit).collect())
                    .unwrap_or_default();
                let kind = if ty.contains("not_be") {
                    "not_in_set"
                } else {
                    "in_set"
                };
                format!(
                    "id: {id}, expect: {kind}, column: {}, values: [{}]{extra}",
                    q(col),
                    vals.join(", ")
                )
            }
            "expect_column_values_to_be_between" => {
                format!(
                    "id: {id}, expect: between, column: {}{}{extra}",
                    q(col),
                    range(k)
                )
            }
            "expect_column_values_to_match_regex" | "expect_column_values_to_not_match_regex" => {
                w.push("GX searches for the pattern anywhere in the value (Python `re`): imported with `mode: search`; check the dialect".into());
                let kind = if ty.contains("not_match") {
                    "not_matches_regex"
                } else {
                    "matches_regex"
                };
                format!(
                    "id: {id}, expect: {kind}, column: {}, regex: {}, mode: search{extra}",
                    q(col),
                    q(k["regex"].as_str().unwrap_or_default())
                )
            }
            "expect_column_value_lengths_to_be_between" => {
                let mut min = k["min_value"].as_i64();
                let mut max = k["max_value"].as_i64();
                if k["strict_min"].as_bool() == Some(true) {
                    min = min.map(|m| m + 1);
                    w.push("a strict minimum length is imported as the next length".into());
                }
                if k["strict_max"].as_bool() == Some(true) {
                    max = max.map(|m| m - 1);
                    w.push("a strict maximum length is imported as the length before".into());
                }
                let mut s = format!("id: {id}, expect: length_between, column: {}", q(col));
                if let Some(m) = min {
                    let _ = write!(s, ", min: {m}");
                }
                if let Some(m) = max {
                    let _ = write!(s, ", max: {m}");
                }
                s + &extra
            }
            "expect_column_values_to_be_unique" => {
                w.push("dq-gate fails every copy of a repeated value, as GX counts them; a null passes only when it is the only one".into());
                format!("id: {id}, expect: unique, column: {}{extra}", q(col))
            }
            "expect_compound_columns_to_be_unique" => {
                let cols: Vec<String> = k["column_list"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c.as_str().map(q)).collect())
                    .unwrap_or_default();
                let ignore = k["ignore_row_if"]
                    .as_str()
                    .unwrap_or("all_values_are_missing");
                if ignore != "any_value_is_missing" {
                    w.push(format!("GX `ignore_row_if: {ignore}` judges rows with some nulls; dq-gate passes every row with a null (GX's `any_value_is_missing`)"));
                }
                let id = out.id(&format!("{}_unique", cols.join("_").replace('\'', "")));
                format!(
                    "id: {id}, expect: compound_unique, columns: [{}]{extra}",
                    cols.join(", ")
                )
            }
            "expect_column_pair_values_a_to_be_greater_than_b" => {
                let (a, b) = (
                    k["column_A"].as_str().unwrap_or_default(),
                    k["column_B"].as_str().unwrap_or_default(),
                );
                let op = if k["or_equal"].as_bool() == Some(true) {
                    ">="
                } else {
                    ">"
                };
                let ignore = k["ignore_row_if"]
                    .as_str()
                    .unwrap_or("both_values_are_missing");
                if ignore != "either_value_is_missing" {
                    w.push(format!("GX `ignore_row_if: {ignore}` judges rows where one value is null; dq-gate lets them pass (GX's `either_value_is_missing`)"));
                }
                let id = out.id(&format!("{a}_gt_{b}"));
                format!(
                    "id: {id}, expect: compare, left: {}, op: '{op}', right: {}{extra}",
                    q(a),
                    q(b)
                )
            }
            "expect_table_row_count_to_be_between" => {
                let id = out.id("row_count");
                format!(
                    "id: {id}, expect: metric, metric: row_count{}{extra}",
                    range(k)
                )
            }
            "expect_column_mean_to_be_between" => {
                format!(
                    "id: {id}, expect: metric, metric: mean, column: {}{}{extra}",
                    q(col),
                    range(k)
                )
            }
            "expect_column_values_to_match_strftime_format" => {
                w.push("GX parses with Python's `strptime`; dq-gate with chrono's strftime, strictly (the value must format back to itself)".into());
                format!(
                    "id: {id}, expect: matches_format, column: {}, format: {}{extra}",
                    q(col),
                    q(k["strftime_format"].as_str().unwrap_or_default())
                )
            }
            other => {
                out.skip(other, "no equivalent dq-gate kind");
                continue;
            }
        };
        out.rule(&w, body);
    }
    Ok(())
}

/// A GX row condition as SQL: Spark SQL as is (with a warning), the GX grammar translated.
fn gx_condition(cond: &str, parser: Option<&str>) -> Result<(String, Vec<String>), String> {
    match parser {
        Some("spark") => Ok((
            cond.to_string(),
            vec!["`row_condition` is Spark SQL; dq-gate reads `where` as DataFusion SQL".into()],
        )),
        Some("great_expectations") | None => {
            // col("x") <op> <value>, or col("x").notnull()
            let re = regex::Regex::new(
                r#"^\s*col\(\s*["']([^"']+)["']\s*\)\s*(?:(\.notnull\(\))|(==|!=|>=|<=|>|<)\s*(.+?))\s*$"#,
            )
            .expect("valid");
            let c = re
                .captures(cond)
                .ok_or_else(|| format!("the row condition `{cond}` is not one GX condition"))?;
            let col = &c[1];
            if c.get(2).is_some() {
                return Ok((format!("{col} IS NOT NULL"), Vec::new()));
            }
            let op = if &c[3] == "==" {
                "="
            } else if &c[3] == "!=" {
                "<>"
            } else {
                &c[3]
            };
            let value = c[4].trim();
            let value = if let Some(d) = value
                .strip_prefix("date(")
                .and_then(|v| v.strip_suffix(')'))
            {
                format!("DATE '{}'", d.trim_matches(|ch| ch == '"' || ch == '\''))
            } else if value.starts_with('"') {
                format!("'{}'", value.trim_matches('"'))
            } else {
                value.to_string()
            };
            Ok((format!("{col} {op} {value}"), Vec::new()))
        }
        Some(p) => Err(format!("a `{p}` row condition has no SQL form")),
    }
}

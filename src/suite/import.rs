//! Suites from other tools' formats (`dq-check import`, docs/suites-as-code.md#import): Great
//! Expectations 1.x suite JSON, ODCS v3 contracts, DQX check files. A rule is imported exactly
//! where the meanings agree; where they differ (nulls, regex anchoring, bound inclusivity,
//! duplicate counting, filter dialect) it is imported with a `# warning:` line saying how, and
//! a rule with no equivalent is kept as a `# not imported:` line, never guessed.

use std::fmt::Write as _;

use serde_json::Value;

/// The source formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Great Expectations 1.x expectation suite (JSON).
    Gx,
    /// Open Data Contract Standard v3 (YAML or JSON).
    Odcs,
    /// Databricks DQX checks (YAML or JSON list).
    Dqx,
}

/// A suite being written: its contract, its rules, and what the reviewer must read.
#[derive(Default)]
struct Out {
    columns: Vec<String>,
    rules: Vec<String>,
    ids: Vec<String>,
}

impl Out {
    fn id(&mut self, base: &str) -> String {
        let mut id: String = base
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        id = id.trim_matches('_').to_string();
        if id.is_empty() {
            id = "rule".into();
        }
        let mut n = 1;
        let mut candidate = id.clone();
        while self.ids.contains(&candidate) {
            n += 1;
            candidate = format!("{id}_{n}");
        }
        self.ids.push(candidate.clone());
        candidate
    }

    fn rule(&mut self, warnings: &[String], body: String) {
        let mut s = String::new();
        for w in warnings {
            let _ = writeln!(s, "  # warning: {w}");
        }
        let _ = write!(s, "  - {{{body}}}");
        self.rules.push(s);
    }

    fn skip(&mut self, what: &str, why: &str) {
        self.rules.push(format!("  # not imported: {what}: {why}"));
    }
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A JSON scalar as a suite literal (strings quoted).
fn lit(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(q(s)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads YAML (or JSON, a subset of it) into JSON values.
fn parse(text: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    Ok(docs.first().map(yaml_to_json).unwrap_or(Value::Null))
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map_or(Value::String(s.clone()), Value::from),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .filter_map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        _ => return None,
                    };
                    Some((key, yaml_to_json(v)))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Converts `text` in `source`'s format into suite YAML named `name`.
pub fn import(source: Source, text: &str, name: &str) -> Result<String, String> {
    let v = parse(text)?;
    let mut out = Out::default();
    let name = match source {
        Source::Gx => {
            gx(&v, &mut out)?;
            v["name"].as_str().unwrap_or(name).to_string()
        }
        Source::Odcs => {
            odcs(&v, &mut out)?;
            v["name"]
                .as_str()
                .or(v["id"].as_str())
                .unwrap_or(name)
                .to_string()
        }
        Source::Dqx => {
            dqx(&v, &mut out)?;
            name.to_string()
        }
    };
    let name: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut y = format!(
        "# Imported by dq-check import from {}. Read every `warning` and `not imported` line.\n\
         dq_suite: 1\nname: {name}\nversion: 1\n",
        match source {
            Source::Gx => "a Great Expectations suite",
            Source::Odcs => "an ODCS contract",
            Source::Dqx => "DQX checks",
        }
    );
    if !out.columns.is_empty() {
        y.push_str("schema:\n  mode: additive\n  columns:\n");
        for c in &out.columns {
            let _ = writeln!(y, "{c}");
        }
    }
    y.push_str("expectations:");
    if out.rules.iter().all(|r| r.trim_start().starts_with('#')) {
        y.push_str(" []");
    }
    y.push('\n');
    for r in &out.rules {
        let _ = writeln!(y, "{r}");
    }
    Ok(y)
}

fn gx(v: &Value, out: &mut Out) -> Result<(), String> {
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

fn odcs(v: &Value, out: &mut Out) -> Result<(), String> {
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

fn dqx(v: &Value, out: &mut Out) -> Result<(), String> {
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

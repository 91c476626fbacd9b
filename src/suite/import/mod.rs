//! Suites from other tools' formats (`dq-check import`, docs/suites-as-code.md#import): Great
//! Expectations 1.x suite JSON, ODCS v3 contracts, DQX check files. A rule is imported exactly
//! where the meanings agree; where they differ (nulls, regex anchoring, bound inclusivity,
//! duplicate counting, filter dialect) it is imported with a `# warning:` line saying how, and
//! a rule with no equivalent is kept as a `# not imported:` line, never guessed. One file per
//! source format: [`gx`], [`odcs`], [`dqx`].

mod dqx;
mod gx;
mod odcs;

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
pub(super) struct Out {
    pub(super) columns: Vec<String>,
    rules: Vec<String>,
    ids: Vec<String>,
}

impl Out {
    pub(super) fn id(&mut self, base: &str) -> String {
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

    pub(super) fn rule(&mut self, warnings: &[String], body: String) {
        let mut s = String::new();
        for w in warnings {
            let _ = writeln!(s, "  # warning: {w}");
        }
        let _ = write!(s, "  - {{{body}}}");
        self.rules.push(s);
    }

    pub(super) fn skip(&mut self, what: &str, why: &str) {
        self.rules.push(format!("  # not imported: {what}: {why}"));
    }
}

pub(super) fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A JSON scalar as a suite literal (strings quoted).
pub(super) fn lit(v: &Value) -> Option<String> {
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
            gx::gx(&v, &mut out)?;
            v["name"].as_str().unwrap_or(name).to_string()
        }
        Source::Odcs => {
            odcs::odcs(&v, &mut out)?;
            v["name"]
                .as_str()
                .or(v["id"].as_str())
                .unwrap_or(name)
                .to_string()
        }
        Source::Dqx => {
            dqx::dqx(&v, &mut out)?;
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

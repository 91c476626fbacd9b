//! Two suites compared as typed models (`dq-check diff`, docs/suites-as-code.md): every change
//! classified for the table's consumers (a guarantee lost) and its producers (data that passed
//! will now be quarantined), with the rule that gave the verdict. How an expectation's
//! parameters moved is in [`params`].

mod params;

use serde::Serialize;

use super::{ColumnSpec, Expectation, OnFail, SchemaMode, Suite};

/// How a change lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Wording only: descriptions, owners, tables, objectives, alerts.
    Informational,
    /// Nothing passes that failed, nothing fails that passed, no guarantee is lost.
    Compatible,
    /// Producers: data that passed may now be quarantined or refused.
    Tightening,
    /// Consumers: a guarantee they relied on is gone or changed.
    Breaking,
}

impl Verdict {
    /// Its name, as the JSON form spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Informational => "informational",
            Verdict::Compatible => "compatible",
            Verdict::Tightening => "tightening",
            Verdict::Breaking => "breaking",
        }
    }
}

/// One change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// Where: `schema.<column>`, `expectations.<id>`, or a top-level key.
    pub path: String,
    /// What changed, in words.
    pub what: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// The rule that gave it (docs/suites-as-code.md lists them).
    pub rule: &'static str,
}

/// Every change from `old` to `new`, in suite order; `today` decides whether a deprecated
/// column's removal comes after its window.
pub fn diff(old: &Suite, new: &Suite, today: chrono::NaiveDate) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |path: String, what: String, verdict: Verdict, rule: &'static str| {
        out.push(Change {
            path,
            what,
            verdict,
            rule,
        })
    };
    if old.name != new.name {
        push(
            "name".into(),
            format!("the suite is renamed from `{}` to `{}`", old.name, new.name),
            Verdict::Breaking,
            "suite_renamed",
        );
    }
    for (key, a, b) in [
        ("description", &old.description, &new.description),
        ("owner", &old.owner, &new.owner),
    ] {
        if a != b {
            push(
                key.into(),
                format!("{key} changed"),
                Verdict::Informational,
                "wording",
            );
        }
    }
    let json = |v: &dyn erased::Ser| v.json();
    for (key, a, b) in [
        ("tables", json(&old.tables), json(&new.tables)),
        ("slos", json(&old.slos), json(&new.slos)),
        ("alerts", json(&old.alerts), json(&new.alerts)),
    ] {
        if a != b {
            push(
                key.into(),
                format!("`{key}` changed"),
                Verdict::Informational,
                "operations",
            );
        }
    }
    schema(old, new, today, &mut push);
    expectations(old, new, &mut push);
    out
}

/// Serializing any model part to JSON, for "did it change" comparisons.
mod erased {
    pub trait Ser {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    }
}

pub(super) type Push<'a> = dyn FnMut(String, String, Verdict, &'static str) + 'a;

fn schema(old: &Suite, new: &Suite, today: chrono::NaiveDate, push: &mut Push<'_>) {
    let none: Vec<ColumnSpec> = Vec::new();
    let (oc, nc) = (
        old.schema.as_ref().map_or(&none, |c| &c.columns),
        new.schema.as_ref().map_or(&none, |c| &c.columns),
    );
    match (&old.schema, &new.schema) {
        (None, Some(_)) => push(
            "schema".into(),
            "a schema contract is added".into(),
            Verdict::Tightening,
            "contract_added",
        ),
        (Some(_), None) => push(
            "schema".into(),
            "the schema contract is removed: no column, type or nullability is guaranteed".into(),
            Verdict::Breaking,
            "contract_removed",
        ),
        (Some(a), Some(b)) if a.mode != b.mode => {
            if b.mode == SchemaMode::Strict {
                push(
                    "schema.mode".into(),
                    "the contract becomes strict: inputs with extra columns are refused".into(),
                    Verdict::Tightening,
                    "mode_strict",
                );
            } else {
                push(
                    "schema.mode".into(),
                    "the contract becomes additive: extra input columns are allowed (and not \
                     shared)"
                        .into(),
                    Verdict::Compatible,
                    "mode_additive",
                );
            }
        }
        _ => {}
    }
    for o in oc {
        let path = format!("schema.{}", o.name);
        let Some(n) = nc.iter().find(|c| c.name == o.name) else {
            match &o.deprecated {
                Some(d) if today > d.after => push(
                    path,
                    format!(
                        "column `{}` is removed, as announced (deprecated after {})",
                        o.name, d.after
                    ),
                    Verdict::Compatible,
                    "column_removed_announced",
                ),
                Some(d) => push(
                    path,
                    format!(
                        "column `{}` is removed before its deprecation window ends ({})",
                        o.name, d.after
                    ),
                    Verdict::Breaking,
                    "column_removed_early",
                ),
                None => push(
                    path,
                    format!("column `{}` is removed", o.name),
                    Verdict::Breaking,
                    "column_removed",
                ),
            }
            continue;
        };
        match (&o.deprecated, &n.deprecated) {
            (a, Some(b)) if a.as_ref() != Some(b) => {
                let shortened = a.as_ref().is_some_and(|a| b.after < a.after);
                push(
                    path.clone(),
                    format!(
                        "column `{}` is deprecated: it may be removed after {}{}",
                        o.name,
                        b.after,
                        b.note.as_ref().map_or(String::new(), |n| format!(" ({n})"))
                    ),
                    if shortened {
                        Verdict::Breaking
                    } else {
                        Verdict::Informational
                    },
                    if shortened {
                        "deprecation_shortened"
                    } else {
                        "deprecation"
                    },
                );
            }
            (Some(_), None) => push(
                path.clone(),
                format!("column `{}` is no longer deprecated", o.name),
                Verdict::Informational,
                "deprecation",
            ),
            _ => {}
        }
        if o.ty != n.ty {
            push(
                path.clone(),
                format!("column `{}` changes type from {} to {}", o.name, o.ty, n.ty),
                Verdict::Breaking,
                "column_type_changed",
            );
        }
        match (o.nullable, n.nullable) {
            (true, false) => push(
                path.clone(),
                format!("column `{}` becomes required (nullable: false)", o.name),
                Verdict::Tightening,
                "column_required",
            ),
            (false, true) => push(
                path.clone(),
                format!("column `{}` may now be null", o.name),
                Verdict::Breaking,
                "column_nullable",
            ),
            _ => {}
        }
        match (o.is_pii(), n.is_pii()) {
            (true, false) => push(
                path.clone(),
                format!("column `{}` is no longer tagged pii", o.name),
                Verdict::Breaking,
                "pii_removed",
            ),
            (false, true) => push(
                path.clone(),
                format!("column `{}` is tagged pii", o.name),
                Verdict::Compatible,
                "pii_added",
            ),
            _ => {}
        }
        if o.share != n.share {
            // What partners receive of the column changes: a token, a mask, or nothing.
            push(
                path.clone(),
                format!(
                    "column `{}` is shared as {} instead of {}",
                    o.name,
                    n.share.as_str(),
                    o.share.as_str()
                ),
                Verdict::Breaking,
                "share_changed",
            );
        }
        let other_tags = |c: &ColumnSpec| -> Vec<String> {
            c.tags.iter().filter(|t| *t != "pii").cloned().collect()
        };
        if o.description != n.description || other_tags(o) != other_tags(n) {
            push(
                path.clone(),
                format!("column `{}`: description or tags changed", o.name),
                Verdict::Informational,
                "wording",
            );
        }
    }
    for n in nc.iter().filter(|n| !oc.iter().any(|o| o.name == n.name)) {
        let path = format!("schema.{}", n.name);
        let strict = new
            .schema
            .as_ref()
            .is_some_and(|c| c.mode == SchemaMode::Strict);
        if !n.nullable || strict {
            push(
                path,
                format!(
                    "column `{}` ({}) is added{}: inputs without it are refused",
                    n.name,
                    n.ty,
                    if n.nullable { "" } else { " as required" }
                ),
                Verdict::Tightening,
                "column_added_required",
            );
        } else {
            push(
                path,
                format!("column `{}` ({}) is added", n.name, n.ty),
                Verdict::Compatible,
                "column_added",
            );
        }
    }
}

fn on_fail_rank(o: OnFail) -> u8 {
    match o {
        OnFail::Warn => 0,
        OnFail::QuarantineRows => 1,
        OnFail::QuarantineBatch => 2,
        OnFail::Fail => 3,
    }
}

fn expectations(old: &Suite, new: &Suite, push: &mut Push<'_>) {
    for o in &old.expectations {
        let path = format!("expectations.{}", o.id);
        let Some(n) = new.expectations.iter().find(|e| e.id == o.id) else {
            push(
                path,
                format!("expectation `{}` ({}) is removed", o.id, o.kind.name()),
                Verdict::Breaking,
                "expectation_removed",
            );
            continue;
        };
        compare(o, n, &path, push);
    }
    for n in new
        .expectations
        .iter()
        .filter(|n| !old.expectations.iter().any(|o| o.id == n.id))
    {
        push(
            format!("expectations.{}", n.id),
            format!(
                "expectation `{}` ({}, on_fail {}) is added",
                n.id,
                n.kind.name(),
                n.on_fail.as_str()
            ),
            if n.on_fail == OnFail::Warn {
                Verdict::Compatible
            } else {
                Verdict::Tightening
            },
            "expectation_added",
        );
    }
}

/// The direction of a change: +1 tighter, −1 looser, 0 none, None unknown.
pub(super) fn record(
    push: &mut Push<'_>,
    path: &str,
    what: String,
    dir: Option<i8>,
    rule: &'static str,
) {
    let verdict = match dir {
        Some(0) => return,
        Some(d) if d > 0 => Verdict::Tightening,
        // Looser drops a guarantee; a change with no order may do both.
        _ => Verdict::Breaking,
    };
    let how = match dir {
        Some(d) if d > 0 => "tightened",
        Some(_) => "relaxed",
        None => "changed (no order: it may tighten and relax)",
    };
    push(path.to_string(), format!("{what} {how}"), verdict, rule);
}

fn compare(o: &Expectation, n: &Expectation, path: &str, push: &mut Push<'_>) {
    let id = &o.id;
    if o.kind.name() != n.kind.name() {
        push(
            path.to_string(),
            format!(
                "expectation `{id}` changes kind from {} to {}",
                o.kind.name(),
                n.kind.name()
            ),
            Verdict::Breaking,
            "expectation_kind_changed",
        );
        return;
    }
    let d = on_fail_rank(n.on_fail) as i8 - on_fail_rank(o.on_fail) as i8;
    record(
        push,
        path,
        format!(
            "`{id}` on_fail ({} to {})",
            o.on_fail.as_str(),
            n.on_fail.as_str()
        ),
        Some(d.signum()),
        "on_fail",
    );
    let m = n.mostly.partial_cmp(&o.mostly).map(|c| c as i8);
    record(
        push,
        path,
        format!("`{id}` mostly ({} to {})", o.mostly, n.mostly),
        m,
        "mostly",
    );
    if o.nulls != n.nulls {
        use super::NullPolicy::*;
        let rank = |p| match p {
            Pass => 0,
            Ignore => 1,
            Fail => 2,
        };
        let dir = (rank(n.nulls) as i8 - rank(o.nulls) as i8).signum();
        record(push, path, format!("`{id}` nulls"), Some(dir), "nulls");
    }
    if o.filter != n.filter {
        record(push, path, format!("`{id}` where"), None, "where");
    }
    if o.description != n.description {
        push(
            path.to_string(),
            format!("`{id}` description changed"),
            Verdict::Informational,
            "wording",
        );
    }
    params::kind(&o.kind, &n.kind, id, path, push);
}

/// The worst verdict of `changes` (informational when none).
pub fn worst(changes: &[Change]) -> Verdict {
    changes
        .iter()
        .map(|c| c.verdict)
        .max()
        .unwrap_or(Verdict::Informational)
}

//! The row-level rules a SQL boolean can express, written for other engines (`dq-check
//! export`, docs/suites-as-code.md#export): Delta CHECK constraints, Lakeflow (DLT)
//! expectations, plain SQL. Every rule that cannot be expressed is listed with the reason.
//!
//! Each expression states its null handling, so it means the same whether the engine treats a
//! NULL result as a violation (a Delta CHECK) or as a pass (a DLT EXPECT): a rule whose nulls
//! pass (the default) is `(col IS NULL OR ...)`, one whose nulls fail is `(col IS NOT NULL AND
//! ...)`.

use serde::Serialize;

use super::{
    CmpOp, Expectation, Kind, Literal, NullPolicy, OnFail, Operand, RegexMode, Share, Suite,
};
use crate::types::ColumnType;

/// One rule as SQL.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exported {
    /// The expectation id (the constraint's name).
    pub id: String,
    /// A SQL boolean that is TRUE exactly for the rows the rule passes, never NULL.
    pub sql: String,
    /// What a failure does in the suite.
    pub on_fail: OnFail,
    /// Where the meaning may differ in another engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
}

/// A rule that has no SQL row form.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Skipped {
    /// The expectation id.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// `'text'` with quotes doubled.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An identifier, back-quoted when it is not a plain lower-case name.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

/// A literal typed for the column it is compared with.
fn literal(l: &Literal, ty: Option<&ColumnType>) -> String {
    let text = match l {
        Literal::Bool(b) => return b.to_string().to_uppercase(),
        Literal::Int(_, t) | Literal::Float(_, t) => return t.clone(),
        Literal::Str(s) => s,
    };
    match ty.map(ToString::to_string).as_deref() {
        Some("date32" | "date") => format!("DATE {}", quote(text)),
        Some(t) if t.starts_with("timestamp") => format!("TIMESTAMP {}", quote(text)),
        _ => quote(text),
    }
}

/// The suite's rules as SQL, and those that have none.
pub fn export(suite: &Suite) -> (Vec<Exported>, Vec<Skipped>) {
    let ty = |c: &str| -> Option<ColumnType> {
        suite
            .schema
            .as_ref()
            .and_then(|s| s.column(c))
            .map(|c| c.ty.clone())
    };
    let mut done = Vec::new();
    let mut skipped = Vec::new();
    if let Some(c) = &suite.schema {
        for col in c
            .columns
            .iter()
            .filter(|c| !c.nullable && c.share != Share::Drop)
        {
            done.push(Exported {
                id: format!("{}_not_null", col.name),
                sql: format!("{} IS NOT NULL", ident(&col.name)),
                on_fail: OnFail::QuarantineRows,
                caveat: None,
            });
        }
    }
    // A `pii` column shared other than as is holds tokens, shapes or nothing in the target: a
    // rule on its values does not hold there.
    let transformed = |c: &str| {
        suite
            .schema
            .as_ref()
            .and_then(|s| s.column(c))
            .filter(|c| c.share != Share::AsIs)
            .map(|c| c.share.as_str())
    };
    for e in &suite.expectations {
        if let Some((c, share)) = e
            .kind
            .columns()
            .into_iter()
            .find_map(|c| transformed(c).map(|s| (c, s)))
        {
            skipped.push(Skipped {
                id: e.id.clone(),
                reason: format!(
                    "`{c}` is shared as {share}: the target holds no values this rule can check"
                ),
            });
            continue;
        }
        match rule(e, &ty) {
            Ok((sql, caveat)) => {
                let sql = match &e.filter {
                    // Rows where `where` is not TRUE are not evaluated: they pass.
                    Some(w) => format!("(NOT COALESCE(({w}), FALSE) OR ({sql}))"),
                    None => sql,
                };
                done.push(Exported {
                    id: e.id.clone(),
                    sql,
                    on_fail: e.on_fail,
                    caveat,
                })
            }
            Err(reason) => skipped.push(Skipped {
                id: e.id.clone(),
                reason,
            }),
        }
    }
    (done, skipped)
}

type Rule = Result<(String, Option<String>), String>;

fn rule(e: &Expectation, ty: &dyn Fn(&str) -> Option<ColumnType>) -> Rule {
    // A condition on one column, with the rule's null policy made explicit.
    let on = |col: &str, cond: String| -> String {
        let c = ident(col);
        match e.nulls {
            NullPolicy::Fail => format!("({c} IS NOT NULL AND {cond})"),
            NullPolicy::Ignore | NullPolicy::Pass => format!("({c} IS NULL OR {cond})"),
        }
    };
    Ok(match &e.kind {
        Kind::NotNull { column } => (format!("{} IS NOT NULL", ident(column)), None),
        Kind::InSet {
            column,
            values,
            case_insensitive,
            negated,
        } => {
            let t = ty(column);
            let list: Vec<String> = values
                .iter()
                .map(|v| match (case_insensitive, v) {
                    (true, Literal::Str(s)) => quote(&s.to_uppercase()),
                    _ => literal(v, t.as_ref()),
                })
                .collect();
            let lhs = if *case_insensitive {
                format!("UPPER({})", ident(column))
            } else {
                ident(column)
            };
            let not = if *negated { "NOT " } else { "" };
            (
                on(column, format!("{lhs} {not}IN ({})", list.join(", "))),
                None,
            )
        }
        Kind::Between {
            column,
            min,
            max,
            strict_min,
            strict_max,
        } => {
            let t = ty(column);
            let c = ident(column);
            let mut parts = Vec::new();
            if let Some(m) = min {
                let op = if *strict_min { ">" } else { ">=" };
                parts.push(format!("{c} {op} {}", literal(m, t.as_ref())));
            }
            if let Some(m) = max {
                let op = if *strict_max { "<" } else { "<=" };
                parts.push(format!("{c} {op} {}", literal(m, t.as_ref())));
            }
            (on(column, parts.join(" AND ")), None)
        }
        Kind::MatchesRegex {
            column,
            regex,
            mode,
            negated,
        } => {
            let pattern = match mode {
                // `$` before a final newline too in some dialects: `\z` is not portable either.
                RegexMode::Full => format!("^(?:{regex})$"),
                RegexMode::Search => regex.clone(),
            };
            let not = if *negated { "NOT " } else { "" };
            (
                on(
                    column,
                    format!("{not}regexp_like({}, {})", ident(column), quote(&pattern)),
                ),
                Some(
                    "regular expression dialects differ (Rust's here; Java's in Spark, Rust's in \
                     DataFusion): check classes and escapes"
                        .into(),
                ),
            )
        }
        Kind::LengthBetween { column, min, max } => {
            let c = format!("character_length({})", ident(column));
            let mut parts = Vec::new();
            if let Some(m) = min {
                parts.push(format!("{c} >= {m}"));
            }
            if let Some(m) = max {
                parts.push(format!("{c} <= {m}"));
            }
            (on(column, parts.join(" AND ")), None)
        }
        Kind::Compare { left, op, right } => {
            let lt = ty(left);
            let (rhs, cols) = match right {
                Operand::Column(r) => (ident(r), vec![left.as_str(), r.as_str()]),
                Operand::Value(v) => (literal(v, lt.as_ref()), vec![left.as_str()]),
            };
            let sym = match op {
                CmpOp::NotEq => "<>",
                op => op.as_str(),
            };
            let cond = format!("{} {sym} {rhs}", ident(left));
            let nulls: Vec<String> = cols
                .iter()
                .map(|c| format!("{} IS NULL", ident(c)))
                .collect();
            let sql = match e.nulls {
                NullPolicy::Fail => format!(
                    "({} AND {cond})",
                    nulls
                        .iter()
                        .map(|n| n.replace("IS NULL", "IS NOT NULL"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                ),
                _ => format!("({} OR {cond})", nulls.join(" OR ")),
            };
            (sql, None)
        }
        Kind::Sql { expr } => {
            // A NULL result fails unless the rule says nulls pass.
            let on_null = if e.nulls == NullPolicy::Fail {
                "FALSE"
            } else {
                "TRUE"
            };
            (
                format!("COALESCE(({expr}), {on_null})"),
                Some("written in DataFusion's SQL; functions may be named differently".into()),
            )
        }
        Kind::MatchesFormat { .. } => {
            return Err("a chrono format has no portable SQL form".into());
        }
        Kind::Unique { .. } | Kind::CompoundUnique { .. } => {
            return Err("uniqueness is over the batch, not one row".into());
        }
        Kind::NotInFuture { .. } => {
            return Err("it reads the run's clock; a constraint would read the writer's".into());
        }
        Kind::Metric { .. } | Kind::Freshness { .. } => {
            return Err("an aggregate: one verdict per batch, not per row".into());
        }
    })
}

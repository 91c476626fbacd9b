//! YAML node tree → [`Suite`], collecting every problem with its position and key path.
//!
//! The walk never stops at the first problem: a missing key, a wrong type or an unknown key is
//! recorded and the walk goes on with what it has, so the author sees the whole list at once.

use std::collections::HashSet;

use super::expectations::expectations;
use super::limits::{MAX_EXPECTATIONS, MAX_SUITE_BYTES};
use super::reader::{Ctx, MapReader, as_choice, as_string, as_string_list, describe, is_name};
use super::yaml::{self, Node, Scalar, Value};
use super::{ColumnSpec, Contract, SchemaMode, Share, Suite, Tables};
use crate::error::{Pos, SuiteProblem};
use crate::types::ColumnType;

/// The one suite format version this crate reads.
pub const FORMAT_VERSION: i128 = 1;

/// A suite read as far as it could be: the model (when its skeleton parsed), every problem
/// found, and per expectation whether it may be bound to the contract (it and the contract
/// parsed cleanly, so binding can only add problems of its own).
pub(crate) struct Partial {
    pub suite: Option<Suite>,
    pub problems: Vec<SuiteProblem>,
    pub bindable: Vec<bool>,
}

pub(super) fn parse(text: &str, source: &str) -> Partial {
    let mut ctx = Ctx::default();
    let suite = match load(text) {
        Ok(root) => suite(&mut ctx, &root, source),
        Err(problem) => {
            ctx.problems.push(problem);
            None
        }
    };
    if suite.is_none() && ctx.problems.is_empty() {
        ctx.err(
            Pos { line: 1, col: 1 },
            "",
            "the suite could not be read".into(),
        );
    }
    Partial {
        suite,
        problems: ctx.problems,
        bindable: ctx.bindable,
    }
}

/// The file's YAML as a node tree, within the size bound.
fn load(text: &str) -> Result<Node, SuiteProblem> {
    if text.len() > MAX_SUITE_BYTES {
        return Err(SuiteProblem {
            pos: Pos { line: 1, col: 1 },
            path: String::new(),
            message: format!(
                "the file is {} bytes; a suite may be at most {MAX_SUITE_BYTES}",
                text.len()
            ),
        });
    }
    yaml::load(text).map_err(|e| SuiteProblem {
        pos: e.pos,
        path: String::new(),
        message: format!("not valid YAML: {}", e.message),
    })
}

fn suite(ctx: &mut Ctx, root: &Node, source: &str) -> Option<Suite> {
    let mut m = MapReader::new(ctx, root, "")?;
    if let Some(v) = m.required(ctx, "dq_suite") {
        match v.scalar() {
            Some(Scalar::Int(FORMAT_VERSION)) => {}
            _ => ctx.err(
                v.pos,
                "dq_suite",
                format!(
                    "unsupported suite format {}; this dq-check reads `dq_suite: 1`",
                    describe(v)
                ),
            ),
        }
    }
    let name = m.string(ctx, "name", true);
    if let Some(n) = &name
        && !is_name(n, b".-")
    {
        let pos = m.get("name").map(|n| n.pos).unwrap_or_default();
        ctx.err(
            pos,
            "name",
            format!("suite name `{n}` must match [a-z0-9_.-]+"),
        );
    }
    let version = m.required(ctx, "version").and_then(|v| match v.scalar() {
        Some(Scalar::Int(i)) if i >= 1 && i <= i64::MAX as i128 => Some(i as u64),
        _ => {
            ctx.err(
                v.pos,
                "version",
                format!("expected an integer >= 1, found {}", describe(v)),
            );
            None
        }
    });
    let description = m.string(ctx, "description", false);
    let owner = m.string(ctx, "owner", false);
    let tables = m.get("tables").map(|n| tables(ctx, n)).unwrap_or_default();
    let before = ctx.problems.len();
    let schema = m.get("schema").and_then(|n| contract(ctx, n));
    // Column checks against a contract with problems would only add noise.
    let contract_clean = ctx.problems.len() == before;
    let expectations = match m.required(ctx, "expectations") {
        Some(n) => expectations(ctx, n, schema.as_ref().filter(|_| contract_clean)),
        None => Vec::new(),
    };
    let slos = m
        .get("slos")
        .map(|n| super::slos::slos(ctx, n, &expectations, schema.as_ref()))
        .unwrap_or_default();
    let alerts = m.get("alerts").and_then(|n| super::alerts::alerts(ctx, n));
    m.finish(
        ctx,
        "(a suite has dq_suite, name, version, description, owner, tables, schema, expectations, \
         slos, alerts)",
    );
    Some(Suite {
        name: name?,
        version: version?,
        description,
        owner,
        tables,
        schema,
        expectations,
        slos,
        alerts,
        fingerprint: String::new(),
        source: source.to_string(),
        text: String::new(),
    })
}

fn tables(ctx: &mut Ctx, node: &Node) -> Tables {
    let Some(mut m) = MapReader::new(ctx, node, "tables") else {
        return Tables::default();
    };
    let t = Tables {
        target: m.string(ctx, "target", false),
        quarantine: m.string(ctx, "quarantine", false),
        runs: m.string(ctx, "runs", false),
    };
    m.finish(ctx, "(tables has target, quarantine, runs)");
    t
}

fn contract(ctx: &mut Ctx, node: &Node) -> Option<Contract> {
    let mut m = MapReader::new(ctx, node, "schema")?;
    let mode = m
        .get("mode")
        .and_then(|v| {
            let modes = [
                ("strict", SchemaMode::Strict),
                ("additive", SchemaMode::Additive),
            ];
            as_choice(ctx, v, "schema.mode", &modes)
        })
        .unwrap_or(SchemaMode::Strict);
    let mut columns = Vec::new();
    if let Some(list) = m.required(ctx, "columns") {
        match &list.value {
            Value::Seq(items) if items.len() > MAX_EXPECTATIONS => ctx.err(
                list.pos,
                "schema.columns",
                format!(
                    "the contract has {} columns; the limit is {MAX_EXPECTATIONS}",
                    items.len()
                ),
            ),
            Value::Seq(items) => {
                let mut seen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let path = format!("schema.columns[{i}]");
                    if let Some(c) = column(ctx, item, &path) {
                        if !seen.insert(c.name.clone()) {
                            ctx.err(
                                item.pos,
                                &format!("{path}.name"),
                                format!("column `{}` is declared twice", c.name),
                            );
                        }
                        columns.push(c);
                    }
                }
                if items.is_empty() {
                    ctx.err(
                        list.pos,
                        "schema.columns",
                        "a contract needs columns".into(),
                    );
                }
            }
            _ => ctx.err(
                list.pos,
                "schema.columns",
                format!("expected a list of columns, found {}", list.kind_name()),
            ),
        }
    }
    m.finish(ctx, "(schema has mode, columns)");
    Some(Contract { mode, columns })
}

/// `deprecated: {after: 2027-01-31, note: ...}`: the column may be removed after that day.
fn deprecation(ctx: &mut Ctx, node: &Node, path: &str) -> Option<super::Deprecation> {
    let mut m = MapReader::new(ctx, node, path)?;
    let after = m.required(ctx, "after").and_then(|n| {
        let text = as_string(ctx, n, &m.path("after"))?;
        chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| {
                ctx.err(
                    n.pos,
                    &m.path("after"),
                    format!("`{text}` is not a date (YYYY-MM-DD)"),
                )
            })
            .ok()
    });
    let note = m.string(ctx, "note", false);
    m.finish(ctx, "(deprecated has after, note)");
    Some(super::Deprecation {
        after: after?,
        note,
    })
}

fn column(ctx: &mut Ctx, node: &Node, path: &str) -> Option<ColumnSpec> {
    let mut m = MapReader::new(ctx, node, path)?;
    let name = m.string(ctx, "name", true);
    let ty = m.required(ctx, "type").and_then(|t| {
        let text = as_string(ctx, t, &m.path("type"))?;
        ColumnType::parse(&text)
            .map_err(|e| ctx.err(t.pos, &m.path("type"), e))
            .ok()
    });
    let nullable = m.bool(ctx, "nullable", true);
    let tags = match m.get("tags") {
        Some(t) => {
            let tags = as_string_list(ctx, t, &m.path("tags")).unwrap_or_default();
            for tag in &tags {
                if !is_name(tag, b"-") {
                    ctx.err(
                        t.pos,
                        &m.path("tags"),
                        format!("tag `{tag}` must match [a-z0-9_-]+"),
                    );
                }
            }
            tags
        }
        None => Vec::new(),
    };
    let description = m.string(ctx, "description", false);
    let share = match m.get("share") {
        None => Share::AsIs,
        Some(v) => {
            let choices = [
                ("as_is", Share::AsIs),
                ("token", Share::Token),
                ("mask", Share::Mask),
                ("drop", Share::Drop),
            ];
            let share = as_choice(ctx, v, &m.path("share"), &choices).unwrap_or_default();
            if share != Share::AsIs && !tags.iter().any(|t| t == "pii") {
                ctx.err(
                    v.pos,
                    &m.path("share"),
                    "`share` applies to columns tagged `pii`".into(),
                );
            }
            if share == Share::Drop && tags.iter().any(|t| t == "key") {
                ctx.err(
                    v.pos,
                    &m.path("share"),
                    "a `key` column identifies rows and cannot be dropped from the target; \
                     share it as a token"
                        .into(),
                );
            }
            share
        }
    };
    let deprecated = m
        .get("deprecated")
        .and_then(|d| deprecation(ctx, d, &m.path("deprecated")));
    m.finish(
        ctx,
        "(a column has name, type, nullable, tags, share, description, deprecated)",
    );
    Some(ColumnSpec {
        name: name?,
        ty: ty?,
        nullable,
        tags,
        description,
        share,
        deprecated,
    })
}

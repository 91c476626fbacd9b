//! Expectations: the common keys and every kind's parameters. Binding them to the contract's
//! columns and types is the next step ([`crate::eval::CompiledSuite`]).

use std::collections::HashSet;

use super::kinds::{check_sql_syntax, column_key, kind, kind_keys};
use super::limits::MAX_EXPECTATIONS;
use super::reader::{Ctx, MapReader, as_choice, describe, is_name};
use super::yaml::{Node, Pos, Scalar, Value};
use super::{Contract, Expectation, Kind, NullPolicy, OnFail};

pub(super) fn expectations(
    ctx: &mut Ctx,
    node: &Node,
    contract: Option<&Contract>,
) -> Vec<Expectation> {
    let Value::Seq(items) = &node.value else {
        ctx.err(
            node.pos,
            "expectations",
            format!(
                "expected a list of expectations, found {}",
                node.kind_name()
            ),
        );
        return Vec::new();
    };
    if items.len() > MAX_EXPECTATIONS {
        ctx.err(
            node.pos,
            "expectations",
            format!(
                "the suite has {} expectations; the limit is {MAX_EXPECTATIONS}",
                items.len()
            ),
        );
        return Vec::new();
    }
    let mut out: Vec<Expectation> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("expectations[{i}]");
        // Duplicate ids are reported even when the rest of an expectation has problems.
        if let Value::Map(entries) = &item.value
            && let Some((_, idn)) = entries.iter().find(|(k, _)| k.text() == Some("id"))
            && let Some(id) = idn.text()
            && !ids.insert(id.to_string())
        {
            ctx.err(
                idn.pos,
                &format!("{path}.id"),
                format!("duplicate expectation id `{id}`"),
            );
        }
        let before = ctx.problems.len();
        let Some(e) = expectation(ctx, item, &path, contract) else {
            continue;
        };
        ctx.bindable
            .push(contract.is_some() && ctx.problems.len() == before);
        out.push(e);
    }
    out
}

const COMMON_KEYS: &str = "id, expect, on_fail, mostly, nulls, where, description";

fn expectation(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    contract: Option<&Contract>,
) -> Option<Expectation> {
    let mut m = MapReader::new(ctx, node, path)?;
    let mut positions: Vec<(String, Pos)> = vec![(String::new(), node.pos)];
    for (k, v) in m.entries {
        if let Some(k) = k.text() {
            positions.push((k.to_string(), v.pos));
        }
    }
    let id = m.string(ctx, "id", true);
    if let Some(id) = &id
        && !is_name(id, b"")
    {
        ctx.err(
            m.get("id").map(|n| n.pos).unwrap_or(node.pos),
            &m.path("id"),
            format!("expectation id `{id}` must match [a-z0-9_]+"),
        );
    }
    let expect = m.string(ctx, "expect", true);
    let kind = expect.as_deref().and_then(|e| kind(ctx, &mut m, e));
    let (kind_keys, kind_name) = match &kind {
        Some(k) => (kind_keys(k), k.name()),
        None => ("", expect.as_deref().unwrap_or("?")),
    };

    let aggregate = kind.as_ref().is_some_and(Kind::is_aggregate);
    let on_fail = match m.get("on_fail") {
        None => {
            if aggregate {
                OnFail::QuarantineBatch
            } else {
                OnFail::QuarantineRows
            }
        }
        Some(v) => {
            let actions = [
                ("warn", OnFail::Warn),
                ("quarantine_rows", OnFail::QuarantineRows),
                ("quarantine_batch", OnFail::QuarantineBatch),
                ("fail", OnFail::Fail),
            ];
            let of = as_choice(ctx, v, &m.path("on_fail"), &actions);
            if of == Some(OnFail::QuarantineRows) && aggregate {
                ctx.err(
                    v.pos,
                    &m.path("on_fail"),
                    format!(
                        "`{kind_name}` gives one verdict per batch and has no failing rows; \
                         use quarantine_batch, warn or fail"
                    ),
                );
            }
            of.unwrap_or(OnFail::QuarantineRows)
        }
    };
    let mostly = match m.get("mostly") {
        None => 1.0,
        Some(v) => {
            if aggregate {
                ctx.err(
                    v.pos,
                    &m.path("mostly"),
                    format!(
                        "`mostly` applies to row-level kinds only; `{kind_name}` is an aggregate \
                         (put the threshold in its min/max)"
                    ),
                );
            }
            match v.scalar() {
                Some(Scalar::Int(i)) if (0..=1).contains(&i) => i as f64,
                Some(Scalar::Float(f)) if (0.0..=1.0).contains(&f) => f,
                _ => {
                    ctx.err(
                        v.pos,
                        &m.path("mostly"),
                        format!("expected a number from 0 to 1, found {}", describe(v)),
                    );
                    1.0
                }
            }
        }
    };
    let nulls = match m.get("nulls") {
        None => kind
            .as_ref()
            .map_or(NullPolicy::Ignore, Kind::default_nulls),
        Some(v) => {
            let applies = !matches!(
                kind,
                Some(Kind::NotNull { .. } | Kind::CompoundUnique { .. })
            ) && !aggregate;
            if !applies {
                ctx.err(
                    v.pos,
                    &m.path("nulls"),
                    format!("`nulls` does not apply to `{kind_name}`"),
                );
            }
            let policies = [
                ("ignore", NullPolicy::Ignore),
                ("pass", NullPolicy::Pass),
                ("fail", NullPolicy::Fail),
            ];
            as_choice(ctx, v, &m.path("nulls"), &policies).unwrap_or(NullPolicy::Ignore)
        }
    };
    let filter = m.string(ctx, "where", false);
    if let Some(f) = &filter {
        check_sql_syntax(
            ctx,
            m.get("where").map_or(node.pos, |n| n.pos),
            &m.path("where"),
            f,
        );
    }
    let description = m.string(ctx, "description", false);

    if let (Some(k), Some(c)) = (&kind, contract) {
        for col in k.columns() {
            if c.column(col).is_none() {
                let key = column_key(k, col);
                let pos = positions
                    .iter()
                    .find(|(kk, _)| kk == key)
                    .map_or(node.pos, |(_, p)| *p);
                ctx.err(
                    pos,
                    &m.path(key),
                    format!(
                        "unknown column `{col}`; the schema has {}",
                        c.columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }
    // The run log keeps what a history check observed: never a value of a `pii` column.
    if let (
        Some(Kind::Metric {
            metric,
            column: Some(col),
            history: Some(_),
            ..
        }),
        Some(c),
    ) = (&kind, contract)
        && metric.in_column_units()
        && c.column(col).is_some_and(|c| c.is_pii())
    {
        let pos = positions
            .iter()
            .find(|(k, _)| k == "history")
            .map_or(node.pos, |(_, p)| *p);
        ctx.err(
            pos,
            &m.path("history"),
            format!(
                "`{col}` is `pii`: its history would keep its values in the run log; judge \
                 a count or fraction of it instead",
            ),
        );
    }
    m.finish(
        ctx,
        &format!("for `{kind_name}` (it takes {COMMON_KEYS}{kind_keys})"),
    );
    Some(Expectation {
        id: id?,
        kind: kind?,
        on_fail,
        mostly,
        nulls,
        filter,
        description,
        positions,
    })
}

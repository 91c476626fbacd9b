//! Reading a kind and its parameters from the YAML of one expectation.

use chrono::format::{Item, StrftimeItems};

use super::super::limits::MAX_SET_VALUES;
use super::super::reader::{
    Ctx, MapReader, as_choice, as_literal, as_string, as_string_list, as_uint, describe,
    parse_duration,
};
use super::super::yaml::{Pos, Scalar, Value};
use super::super::{CmpOp, Operand, RegexMode};
use super::{Kind, MetricKind};

pub(in crate::suite) fn column_key<'k>(kind: &'k Kind, col: &str) -> &'k str {
    match kind {
        Kind::Compare { left, .. } if left == col => "left",
        Kind::Compare { .. } => "right",
        Kind::CompoundUnique { .. } => "columns",
        _ => "column",
    }
}

pub(in crate::suite) fn kind_keys(kind: &Kind) -> &'static str {
    match kind {
        Kind::NotNull { .. } => ", column",
        Kind::InSet { .. } => ", column, values, case_insensitive",
        Kind::Between { .. } => ", column, min, max, strict_min, strict_max",
        Kind::MatchesRegex { .. } => ", column, regex, mode",
        Kind::LengthBetween { .. } => ", column, min, max",
        Kind::MatchesFormat { .. } => ", column, format",
        Kind::Unique { .. } => ", column, nulls_distinct",
        Kind::CompoundUnique { .. } => ", columns",
        Kind::Compare { .. } => ", left, op, right or value",
        Kind::Sql { .. } => ", expr",
        Kind::NotInFuture { .. } => ", column, tolerance",
        Kind::Metric { .. } => ", metric, column, q, min, max, strict_min, strict_max, history",
        Kind::Freshness { .. } => ", column, max_age",
    }
}

const KINDS: &str = "not_null, in_set, not_in_set, between, matches_regex, not_matches_regex, \
                     length_between, matches_format, unique, compound_unique, compare, sql, \
                     not_in_future, metric, freshness";

pub(in crate::suite) fn kind(ctx: &mut Ctx, m: &mut MapReader<'_>, expect: &str) -> Option<Kind> {
    let col = |ctx: &mut Ctx, m: &mut MapReader<'_>| m.string(ctx, "column", true);
    Some(match expect {
        "not_null" => Kind::NotNull {
            column: col(ctx, m)?,
        },
        "in_set" | "not_in_set" => {
            let column = col(ctx, m);
            let values = m.required(ctx, "values").and_then(|v| {
                let path = m.path("values");
                let Value::Seq(items) = &v.value else {
                    ctx.err(
                        v.pos,
                        &path,
                        format!("expected a list of values, found {}", v.kind_name()),
                    );
                    return None;
                };
                if items.is_empty() {
                    ctx.err(v.pos, &path, "the set is empty".into());
                }
                if items.len() > MAX_SET_VALUES {
                    ctx.err(
                        v.pos,
                        &path,
                        format!(
                            "the set has {} values; the limit is {MAX_SET_VALUES}",
                            items.len()
                        ),
                    );
                    return None;
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| as_literal(ctx, n, &format!("{path}[{i}]")))
                    .collect::<Option<Vec<_>>>()
            });
            let case_insensitive = m.bool(ctx, "case_insensitive", false);
            Kind::InSet {
                column: column?,
                values: values?,
                case_insensitive,
                negated: expect == "not_in_set",
            }
        }
        "between" => {
            let column = col(ctx, m);
            let min = m
                .get("min")
                .and_then(|n| as_literal(ctx, n, &m.path("min")));
            let max = m
                .get("max")
                .and_then(|n| as_literal(ctx, n, &m.path("max")));
            if !m.has("min") && !m.has("max") {
                ctx.err(
                    m.node.pos,
                    &m.path("min"),
                    "`between` needs `min`, `max` or both".into(),
                );
            }
            Kind::Between {
                column: column?,
                min,
                max,
                strict_min: m.bool(ctx, "strict_min", false),
                strict_max: m.bool(ctx, "strict_max", false),
            }
        }
        "matches_regex" | "not_matches_regex" => {
            let column = col(ctx, m);
            let modes = [("full", RegexMode::Full), ("search", RegexMode::Search)];
            let mode = m
                .get("mode")
                .and_then(|v| as_choice(ctx, v, &m.path("mode"), &modes))
                .unwrap_or(RegexMode::Full);
            let regex = m.string(ctx, "regex", true);
            if let Some(r) = &regex
                && let Err(e) = super::super::regex::compile_regex(r, mode)
            {
                let pos = m.get("regex").map_or(m.node.pos, |n| n.pos);
                ctx.err(pos, &m.path("regex"), e);
            }
            Kind::MatchesRegex {
                column: column?,
                regex: regex?,
                mode,
                negated: expect == "not_matches_regex",
            }
        }
        "length_between" => {
            let column = col(ctx, m);
            let min = m.get("min").and_then(|n| as_uint(ctx, n, &m.path("min")));
            let max = m.get("max").and_then(|n| as_uint(ctx, n, &m.path("max")));
            if !m.has("min") && !m.has("max") {
                ctx.err(
                    m.node.pos,
                    &m.path("min"),
                    "`length_between` needs `min`, `max` or both".into(),
                );
            }
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                ctx.err(
                    m.node.pos,
                    &m.path("min"),
                    format!("min {a} is greater than max {b}"),
                );
            }
            Kind::LengthBetween {
                column: column?,
                min,
                max,
            }
        }
        "matches_format" => {
            let column = col(ctx, m);
            let format = m.string(ctx, "format", true);
            if let Some(f) = &format
                && StrftimeItems::new(f).any(|i| matches!(i, Item::Error))
            {
                let pos = m.get("format").map_or(m.node.pos, |n| n.pos);
                ctx.err(
                    pos,
                    &m.path("format"),
                    format!("`{f}` is not a valid chrono strftime format"),
                );
            }
            Kind::MatchesFormat {
                column: column?,
                format: format?,
            }
        }
        "unique" => Kind::Unique {
            column: col(ctx, m)?,
            nulls_distinct: m.bool(ctx, "nulls_distinct", true),
        },
        "compound_unique" => {
            let node = m.required(ctx, "columns")?;
            let columns = as_string_list(ctx, node, &m.path("columns"))?;
            if columns.len() < 2 {
                ctx.err(
                    node.pos,
                    &m.path("columns"),
                    "`compound_unique` needs at least two columns (use `unique` for one)".into(),
                );
            }
            Kind::CompoundUnique { columns }
        }
        "compare" => {
            let left = m.string(ctx, "left", true);
            let ops = [
                ("<", CmpOp::Lt),
                ("<=", CmpOp::LtEq),
                ("=", CmpOp::Eq),
                ("==", CmpOp::Eq),
                ("!=", CmpOp::NotEq),
                ("<>", CmpOp::NotEq),
                (">=", CmpOp::GtEq),
                (">", CmpOp::Gt),
            ];
            let op = m
                .required(ctx, "op")
                .and_then(|v| as_choice(ctx, v, &m.path("op"), &ops));
            let right = match (m.has("right"), m.has("value")) {
                (true, false) => m.string(ctx, "right", true).map(Operand::Column),
                (false, true) => m
                    .get("value")
                    .and_then(|n| as_literal(ctx, n, &m.path("value")))
                    .map(Operand::Value),
                (both, _) => {
                    ctx.err(
                        m.node.pos,
                        &m.path("right"),
                        if both {
                            "give either `right` (a column) or `value` (a literal), not both"
                        } else {
                            "`compare` needs `right` (a column) or `value` (a literal)"
                        }
                        .into(),
                    );
                    m.get("right");
                    m.get("value");
                    None
                }
            };
            Kind::Compare {
                left: left?,
                op: op?,
                right: right?,
            }
        }
        "sql" => {
            let expr = m.string(ctx, "expr", true)?;
            let pos = m.get("expr").map_or(m.node.pos, |n| n.pos);
            check_sql_syntax(ctx, pos, &m.path("expr"), &expr);
            Kind::Sql { expr }
        }
        "not_in_future" => {
            let column = col(ctx, m);
            let tolerance = duration_key(ctx, m, "tolerance", false).unwrap_or(0);
            Kind::NotInFuture {
                column: column?,
                tolerance,
            }
        }
        "freshness" => {
            let column = col(ctx, m);
            let max_age = duration_key(ctx, m, "max_age", true);
            Kind::Freshness {
                column: column?,
                max_age: max_age?,
            }
        }
        "metric" => metric(ctx, m)?,
        other => {
            let pos = m.get("expect").map_or(m.node.pos, |n| n.pos);
            ctx.err(
                pos,
                &m.path("expect"),
                format!("unknown kind `{other}`; the kinds are {KINDS}"),
            );
            // Only the kind is reported: its keys cannot be judged without it.
            m.used.iter_mut().for_each(|u| *u = true);
            return None;
        }
    })
}

fn duration_key(ctx: &mut Ctx, m: &mut MapReader<'_>, key: &str, required: bool) -> Option<i64> {
    let node = if required {
        m.required(ctx, key)?
    } else {
        m.get(key)?
    };
    let text = as_string(ctx, node, &m.path(key))?;
    parse_duration(&text)
        .map_err(|e| ctx.err(node.pos, &m.path(key), e))
        .ok()
}

fn metric(ctx: &mut Ctx, m: &mut MapReader<'_>) -> Option<Kind> {
    let mnode = m.required(ctx, "metric")?;
    let name = as_string(ctx, mnode, &m.path("metric"))?;
    let Some((_, metric)) = MetricKind::ALL.iter().find(|(s, _)| *s == name) else {
        ctx.err(
            mnode.pos,
            &m.path("metric"),
            format!(
                "unknown metric `{name}`; the metrics are {}",
                MetricKind::ALL
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return None;
    };
    let metric = *metric;
    let column = if metric == MetricKind::RowCount {
        if let Some(c) = m.get("column") {
            ctx.err(
                c.pos,
                &m.path("column"),
                "`row_count` counts rows and takes no column".into(),
            );
        }
        None
    } else {
        Some(m.string(ctx, "column", true)?)
    };
    let q = if metric == MetricKind::Quantile {
        let n = m.required(ctx, "q")?;
        match n.scalar() {
            Some(Scalar::Float(f)) if (0.0..=1.0).contains(&f) => Some(f),
            Some(Scalar::Int(i)) if (0..=1).contains(&i) => Some(i as f64),
            _ => {
                ctx.err(
                    n.pos,
                    &m.path("q"),
                    format!("expected a number from 0 to 1, found {}", describe(n)),
                );
                return None;
            }
        }
    } else {
        if let Some(n) = m.get("q") {
            ctx.err(
                n.pos,
                &m.path("q"),
                "`q` applies to the `quantile` metric only".into(),
            );
        }
        None
    };
    let min = m
        .get("min")
        .and_then(|n| as_literal(ctx, n, &m.path("min")));
    let max = m
        .get("max")
        .and_then(|n| as_literal(ctx, n, &m.path("max")));
    let history = m
        .get("history")
        .and_then(|n| super::history::history(ctx, n, &m.path("history")));
    if !m.has("min") && !m.has("max") && !m.has("history") {
        ctx.err(
            m.node.pos,
            &m.path("min"),
            "`metric` needs `min`, `max`, `history` or a combination".into(),
        );
    }
    Some(Kind::Metric {
        metric,
        column,
        q,
        min,
        max,
        strict_min: m.bool(ctx, "strict_min", false),
        strict_max: m.bool(ctx, "strict_max", false),
        history,
    })
}

/// Checks that SQL (`sql`, `where`) is within bounds and parses as one expression.
pub(in crate::suite) fn check_sql_syntax(ctx: &mut Ctx, pos: Pos, path: &str, sql: &str) {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    if let Err(e) = super::super::limits::check_sql(sql) {
        ctx.err(pos, path, e);
        return;
    }
    use datafusion::sql::sqlparser::parser::Parser;
    let dialect = GenericDialect {};
    let parsed = Parser::new(&dialect).try_with_sql(sql).and_then(|mut p| {
        let e = p.parse_expr()?;
        // Anything left over (`a > 1 b`) is a syntax error too.
        p.expect_token(&datafusion::sql::sqlparser::tokenizer::Token::EOF)?;
        Ok(e)
    });
    if let Err(e) = parsed {
        let e = e.to_string();
        let message = if e.contains("recursion limit") {
            "the SQL expression nests too deeply (NOT, CASE, or function calls inside one \
             another)"
                .to_string()
        } else {
            format!("SQL does not parse: {e}")
        };
        ctx.err(pos, path, message);
    }
}

//! YAML node tree → [`Suite`], collecting every problem with its position and key path.
//!
//! The walk never stops at the first problem: a missing key, a wrong type or an unknown key is
//! recorded and the walk goes on with what it has, so the author sees the whole list at once.

use std::collections::HashSet;

use chrono::format::{Item, StrftimeItems};

use super::problems::{SuiteProblem, SuiteProblems};
use super::yaml::{self, Node, Pos, Scalar, Value};
use super::{
    CmpOp, ColumnSpec, Contract, Expectation, Kind, Literal, MetricKind, NullPolicy, OnFail,
    Operand, RegexMode, SchemaMode, Suite, Tables,
};
use crate::types::ColumnType;

/// The one suite format version this crate reads.
pub const FORMAT_VERSION: i128 = 1;

pub(super) fn parse(text: &str, source: &str) -> Result<Suite, SuiteProblems> {
    let root = yaml::load(text).map_err(|e| {
        SuiteProblems::new(
            source,
            vec![SuiteProblem {
                pos: e.pos,
                path: String::new(),
                message: format!("not valid YAML: {}", e.message),
            }],
        )
    })?;
    let mut ctx = Ctx::default();
    let suite = suite(&mut ctx, &root, source);
    match suite {
        Some(s) if ctx.problems.is_empty() => Ok(s),
        _ => {
            if ctx.problems.is_empty() {
                ctx.err(root.pos, "", "the suite could not be read".into());
            }
            Err(SuiteProblems::new(source, ctx.problems))
        }
    }
}

#[derive(Default)]
struct Ctx {
    problems: Vec<SuiteProblem>,
}

impl Ctx {
    fn err(&mut self, pos: Pos, path: &str, message: String) {
        self.problems.push(SuiteProblem {
            pos,
            path: path.to_string(),
            message,
        });
    }
}

/// A mapping being read: remembers which keys were consumed, so the rest can be reported.
struct MapReader<'a> {
    node: &'a Node,
    path: String,
    entries: &'a [(Node, Node)],
    used: Vec<bool>,
}

impl<'a> MapReader<'a> {
    fn new(ctx: &mut Ctx, node: &'a Node, path: &str) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                node,
                path: path.to_string(),
                entries,
                used: vec![false; entries.len()],
            }),
            _ => {
                ctx.err(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    fn get(&mut self, key: &str) -> Option<&'a Node> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| k.text() == Some(key))?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.text() == Some(key))
    }

    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn required(&mut self, ctx: &mut Ctx, key: &str) -> Option<&'a Node> {
        let n = self.get(key);
        if n.is_none() {
            let what = if self.path.is_empty() {
                "the suite".to_string()
            } else {
                format!("`{}`", self.path)
            };
            ctx.err(
                self.node.pos,
                &self.path(key),
                format!("missing required key `{key}` in {what}"),
            );
        }
        n
    }

    fn string(&mut self, ctx: &mut Ctx, key: &str, required: bool) -> Option<String> {
        let node = if required {
            self.required(ctx, key)?
        } else {
            self.get(key)?
        };
        as_string(ctx, node, &self.path(key))
    }

    fn bool(&mut self, ctx: &mut Ctx, key: &str, default: bool) -> bool {
        let Some(node) = self.get(key) else {
            return default;
        };
        match node.scalar() {
            Some(Scalar::Bool(b)) => b,
            _ => {
                ctx.err(
                    node.pos,
                    &self.path(key),
                    format!("expected true or false, found {}", node.kind_name()),
                );
                default
            }
        }
    }

    fn finish(self, ctx: &mut Ctx, allowed_for: &str) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                let key = k.text().unwrap_or_default();
                ctx.err(
                    k.pos,
                    &self.path(key),
                    format!("unknown key `{key}` {allowed_for}"),
                );
            }
        }
    }
}

fn as_string(ctx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    match (&node.value, node.scalar()) {
        (Value::Scalar { text, .. }, Some(s)) if s != Scalar::Null => Some(text.clone()),
        _ => {
            ctx.err(
                node.pos,
                path,
                format!("expected a string, found {}", node.kind_name()),
            );
            None
        }
    }
}

fn as_literal(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Literal> {
    match node.scalar() {
        Some(Scalar::Bool(b)) => Some(Literal::Bool(b)),
        Some(Scalar::Int(i)) => Some(Literal::Int(i, node.text().unwrap_or("").to_string())),
        Some(Scalar::Float(f)) => Some(Literal::Float(f, node.text().unwrap_or("").to_string())),
        Some(Scalar::Str(s)) => Some(Literal::Str(s.to_string())),
        Some(Scalar::Null) => {
            ctx.err(
                node.pos,
                path,
                "expected a value, found null; nulls are governed by `nulls:`".into(),
            );
            None
        }
        None => {
            ctx.err(
                node.pos,
                path,
                format!("expected a single value, found {}", node.kind_name()),
            );
            None
        }
    }
}

fn as_uint(ctx: &mut Ctx, node: &Node, path: &str) -> Option<u64> {
    match node.scalar() {
        Some(Scalar::Int(i)) if i >= 0 && i <= u64::MAX as i128 => Some(i as u64),
        _ => {
            ctx.err(
                node.pos,
                path,
                format!("expected a non-negative integer, found {}", describe(node)),
            );
            None
        }
    }
}

fn describe(node: &Node) -> String {
    match node.text() {
        Some(t) => format!("{} `{t}`", node.kind_name()),
        None => node.kind_name().to_string(),
    }
}

fn as_string_list(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    let Value::Seq(items) = &node.value else {
        ctx.err(
            node.pos,
            path,
            format!("expected a list of strings, found {}", node.kind_name()),
        );
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(as_string(ctx, item, &format!("{path}[{i}]"))?);
    }
    Some(out)
}

/// Parses a duration: an integer and a unit (`s`, `m`, `h`, `d`, `w`), concatenated
/// (`90m`, `26h`, `1d12h`). Returns seconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{text}` is not a duration; write a number and a unit, e.g. `90m`, `26h`, `3d` \
             (units: s, m, h, d, w)"
        )
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

fn is_name(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || extra.contains(&b)
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
    m.finish(
        ctx,
        "(a suite has dq_suite, name, version, description, owner, tables, schema, expectations)",
    );
    Some(Suite {
        name: name?,
        version: version?,
        description,
        owner,
        tables,
        schema,
        expectations,
        fingerprint: String::new(),
        source: source.to_string(),
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
    let mode = match m.get("mode") {
        None => SchemaMode::Strict,
        Some(v) => match v.scalar() {
            Some(Scalar::Str("strict")) => SchemaMode::Strict,
            Some(Scalar::Str("additive")) => SchemaMode::Additive,
            _ => {
                ctx.err(
                    v.pos,
                    "schema.mode",
                    format!("expected `strict` or `additive`, found {}", describe(v)),
                );
                SchemaMode::Strict
            }
        },
    };
    let mut columns = Vec::new();
    if let Some(list) = m.required(ctx, "columns") {
        match &list.value {
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
    m.finish(
        ctx,
        "(a column has name, type, nullable, tags, description)",
    );
    Some(ColumnSpec {
        name: name?,
        ty: ty?,
        nullable,
        tags,
        description,
    })
}

fn expectations(ctx: &mut Ctx, node: &Node, contract: Option<&Contract>) -> Vec<Expectation> {
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
    let mut out: Vec<Expectation> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let schema = contract.map(Contract::arrow_schema);
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
        // Bind to the contract only what parsed cleanly, so one mistake is reported once.
        if let Some(schema) = &schema
            && ctx.problems.len() == before
            && let Err((key, message)) = crate::eval::bind_expectation(&e, schema)
        {
            let path = if key.is_empty() {
                path
            } else {
                format!("{path}.{key}")
            };
            ctx.err(e.pos_of(key), &path, message);
        }
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
            let of = match v.scalar() {
                Some(Scalar::Str("warn")) => Some(OnFail::Warn),
                Some(Scalar::Str("quarantine_rows")) => Some(OnFail::QuarantineRows),
                Some(Scalar::Str("quarantine_batch")) => Some(OnFail::QuarantineBatch),
                Some(Scalar::Str("fail")) => Some(OnFail::Fail),
                _ => {
                    ctx.err(
                        v.pos,
                        &m.path("on_fail"),
                        format!(
                            "expected warn, quarantine_rows, quarantine_batch or fail, found {}",
                            describe(v)
                        ),
                    );
                    None
                }
            };
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
            match v.scalar() {
                Some(Scalar::Str("ignore")) => NullPolicy::Ignore,
                Some(Scalar::Str("pass")) => NullPolicy::Pass,
                Some(Scalar::Str("fail")) => NullPolicy::Fail,
                _ => {
                    ctx.err(
                        v.pos,
                        &m.path("nulls"),
                        format!("expected ignore, pass or fail, found {}", describe(v)),
                    );
                    NullPolicy::Ignore
                }
            }
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

fn column_key<'k>(kind: &'k Kind, col: &str) -> &'k str {
    match kind {
        Kind::Compare { left, .. } if left == col => "left",
        Kind::Compare { .. } => "right",
        Kind::CompoundUnique { .. } => "columns",
        _ => "column",
    }
}

fn kind_keys(kind: &Kind) -> &'static str {
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
        Kind::Metric { .. } => ", metric, column, q, min, max, strict_min, strict_max",
        Kind::Freshness { .. } => ", column, max_age",
    }
}

const KINDS: &str = "not_null, in_set, not_in_set, between, matches_regex, not_matches_regex, \
                     length_between, matches_format, unique, compound_unique, compare, sql, \
                     not_in_future, metric, freshness";

fn kind(ctx: &mut Ctx, m: &mut MapReader<'_>, expect: &str) -> Option<Kind> {
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
            let mode = match m.get("mode") {
                None => RegexMode::Full,
                Some(v) => match v.scalar() {
                    Some(Scalar::Str("full")) => RegexMode::Full,
                    Some(Scalar::Str("search")) => RegexMode::Search,
                    _ => {
                        ctx.err(
                            v.pos,
                            &m.path("mode"),
                            format!("expected `full` or `search`, found {}", describe(v)),
                        );
                        RegexMode::Full
                    }
                },
            };
            let regex = m.string(ctx, "regex", true);
            if let Some(r) = &regex
                && let Err(e) = crate::eval::compile_regex(r, mode)
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
            let op = m.required(ctx, "op").and_then(|v| {
                let op = match v.text() {
                    Some("<") => Some(CmpOp::Lt),
                    Some("<=") => Some(CmpOp::LtEq),
                    Some("=") | Some("==") => Some(CmpOp::Eq),
                    Some("!=") | Some("<>") => Some(CmpOp::NotEq),
                    Some(">=") => Some(CmpOp::GtEq),
                    Some(">") => Some(CmpOp::Gt),
                    _ => None,
                };
                if op.is_none() {
                    ctx.err(
                        v.pos,
                        &m.path("op"),
                        format!("expected one of <, <=, =, !=, >=, >; found {}", describe(v)),
                    );
                }
                op
            });
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
    if !m.has("min") && !m.has("max") {
        ctx.err(
            m.node.pos,
            &m.path("min"),
            "`metric` needs `min`, `max` or both".into(),
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
    })
}

fn check_sql_syntax(ctx: &mut Ctx, pos: Pos, path: &str, sql: &str) {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let dialect = GenericDialect {};
    let parsed = Parser::new(&dialect).try_with_sql(sql).and_then(|mut p| {
        let e = p.parse_expr()?;
        // Anything left over (`a > 1 b`) is a syntax error too.
        p.expect_token(&datafusion::sql::sqlparser::tokenizer::Token::EOF)?;
        Ok(e)
    });
    if let Err(e) = parsed {
        ctx.err(pos, path, format!("SQL does not parse: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("26h"), Ok(93_600));
        assert_eq!(parse_duration("3d"), Ok(259_200));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert!(parse_duration("3").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
    }
}

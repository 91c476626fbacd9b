//! Service-level objectives of a suite (`slos:`, docs/monitoring.md): what share of good events
//! the target must keep over a rolling window. Evaluated from the run log, never from data.

use serde::Serialize;

use super::reader::{Ctx, MapReader, as_choice, describe, is_name, parse_duration};
use super::yaml::{Node, Scalar, Value};
use super::{Expectation, Kind};

/// What an objective counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SloKind {
    /// The share of the window during which the target's newest delivery (a batch that
    /// committed rows to it) was at most `max_age` old; with `expectation` (a `freshness`
    /// expectation), during which the newest value of its column delivered so far was.
    Freshness {
        /// Seconds.
        max_age: i64,
        /// A `freshness` expectation of the suite whose column dates the data.
        #[serde(skip_serializing_if = "Option::is_none")]
        expectation: Option<String>,
    },
    /// Rows that reached the target over rows that came in.
    Completeness,
    /// A column's non-null values over the rows checked, counted by the `not_null` rule on it
    /// (an expectation, or the contract's `schema.<column>.not_null`).
    ColumnCompleteness {
        /// The column.
        column: String,
        /// The rule whose counts it reads.
        rule: String,
    },
    /// Batches that passed whole over batches (`of: batches`), or, with `expectation`, that
    /// expectation's passing rows over its evaluated rows (its passing batches for an
    /// aggregate).
    Validity {
        /// An expectation id of the suite.
        #[serde(skip_serializing_if = "Option::is_none")]
        expectation: Option<String>,
    },
}

impl SloKind {
    /// The suite spelling.
    pub fn name(&self) -> &'static str {
        match self {
            SloKind::Freshness { .. } => "freshness",
            SloKind::Completeness | SloKind::ColumnCompleteness { .. } => "completeness",
            SloKind::Validity { .. } => "validity",
        }
    }
}

/// One objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    /// Its id, `[a-z0-9_]+`.
    pub id: String,
    /// What it counts.
    #[serde(flatten)]
    pub kind: SloKind,
    /// The share of good events to keep, in (0, 1).
    pub objective: f64,
    /// The rolling window, in seconds (default 28 days).
    pub window: i64,
}

/// Default window: four weeks.
pub const DEFAULT_SLO_WINDOW: i64 = 28 * 86_400;

const SLO_KEYS: &str = "id, kind, objective, window, max_age, expectation, column";

pub(super) fn slos(
    ctx: &mut Ctx,
    node: &Node,
    expectations: &[Expectation],
    contract: Option<&super::Contract>,
) -> Vec<Slo> {
    let Value::Seq(items) = &node.value else {
        ctx.err(
            node.pos,
            "slos",
            format!("expected a list of objectives, found {}", node.kind_name()),
        );
        return Vec::new();
    };
    let mut out: Vec<Slo> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("slos[{i}]");
        let Some(mut m) = MapReader::new(ctx, item, &path) else {
            continue;
        };
        let id = m.string(ctx, "id", true);
        if let Some(id) = &id {
            if !is_name(id, b"") {
                ctx.err(
                    item.pos,
                    &m.path("id"),
                    format!("SLO id `{id}` must match [a-z0-9_]+"),
                );
            } else if out.iter().any(|s| &s.id == id) {
                ctx.err(item.pos, &m.path("id"), format!("duplicate SLO id `{id}`"));
            }
        }
        let kind = m.required(ctx, "kind").and_then(|n| {
            as_choice(
                ctx,
                n,
                &m.path("kind"),
                &[("freshness", 0u8), ("completeness", 1), ("validity", 2)],
            )
        });
        let kind = match kind {
            Some(0) => m.required(ctx, "max_age").and_then(|n| {
                let text = n.text().unwrap_or_default().to_string();
                let expectation = m.string(ctx, "expectation", false);
                if let Some(e) = &expectation
                    && !expectations
                        .iter()
                        .any(|x| &x.id == e && matches!(x.kind, Kind::Freshness { .. }))
                {
                    ctx.err(
                        item.pos,
                        &m.path("expectation"),
                        format!("no `freshness` expectation `{e}` in the suite"),
                    );
                }
                match parse_duration(&text) {
                    Ok(s) if s > 0 => Some(SloKind::Freshness {
                        max_age: s,
                        expectation,
                    }),
                    Ok(_) => {
                        ctx.err(
                            n.pos,
                            &m.path("max_age"),
                            "`max_age` is longer than 0".into(),
                        );
                        None
                    }
                    Err(e) => {
                        ctx.err(n.pos, &m.path("max_age"), e);
                        None
                    }
                }
            }),
            Some(1) => match m.string(ctx, "column", false) {
                None => Some(SloKind::Completeness),
                Some(column) => {
                    // The rows a `not_null` rule on the column checked are what it counts.
                    let by_expectation = expectations
                        .iter()
                        .find(|e| matches!(&e.kind, Kind::NotNull { column: c } if *c == column));
                    let required = contract
                        .and_then(|c| c.column(&column))
                        .is_some_and(|c| !c.nullable);
                    match (by_expectation, required) {
                        (Some(e), _) => Some(SloKind::ColumnCompleteness {
                            rule: e.id.clone(),
                            column,
                        }),
                        (None, true) => Some(SloKind::ColumnCompleteness {
                            rule: format!("schema.{column}.not_null"),
                            column,
                        }),
                        (None, false) => {
                            ctx.err(
                                item.pos,
                                &m.path("column"),
                                format!(
                                    "the completeness of `{column}` is counted by a `not_null` \
                                     rule on it: add `{{expect: not_null, column: {column}}}` \
                                     (on_fail: warn keeps every row) or `nullable: false`"
                                ),
                            );
                            None
                        }
                    }
                }
            },
            Some(2) => {
                let e = m.string(ctx, "expectation", false);
                if let Some(e) = &e
                    && !expectations.iter().any(|x| &x.id == e)
                {
                    ctx.err(
                        m.get("expectation").map_or(item.pos, |n| n.pos),
                        &m.path("expectation"),
                        format!("no expectation `{e}` in the suite"),
                    );
                }
                Some(SloKind::Validity { expectation: e })
            }
            _ => None,
        };
        let objective = m.required(ctx, "objective").and_then(|n| match n.scalar() {
            Some(Scalar::Float(f)) if f > 0.0 && f < 1.0 => Some(f),
            _ => {
                ctx.err(
                    n.pos,
                    &m.path("objective"),
                    format!(
                        "expected a share above 0 and below 1 (0.99 for 99%), found {}",
                        describe(n)
                    ),
                );
                None
            }
        });
        let window = match m.get("window") {
            None => Some(DEFAULT_SLO_WINDOW),
            Some(n) => {
                let text = n.text().unwrap_or_default().to_string();
                match parse_duration(&text) {
                    Ok(s) if s > 0 => Some(s),
                    Ok(_) => {
                        ctx.err(n.pos, &m.path("window"), "a window is longer than 0".into());
                        None
                    }
                    Err(e) => {
                        ctx.err(n.pos, &m.path("window"), e);
                        None
                    }
                }
            }
        };
        let kind_name = kind.as_ref().map_or("?", SloKind::name);
        m.finish(
            ctx,
            &format!("for an SLO (it takes {SLO_KEYS}; kind {kind_name})"),
        );
        if let (Some(id), Some(kind), Some(objective), Some(window)) = (id, kind, objective, window)
        {
            out.push(Slo {
                id,
                kind,
                objective,
                window,
            });
        }
    }
    out
}

//! Where a suite's alerts go and when they fire (`alerts:`, docs/monitoring.md#alerts).

use serde::Serialize;

use super::OnFail;
use super::reader::{
    Ctx, MapReader, as_choice, as_string, as_string_list, as_uint, parse_duration,
};
use super::yaml::{Node, Value};

/// What an alert can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// An expectation failed (at one of the alerting `on_fail` levels).
    ExpectationFailed,
    /// A `history:` check judged a value out of its band.
    Anomaly,
    /// A run sent rows to quarantine.
    RowsQuarantined,
    /// An SLO is breached, at risk or without data.
    Slo,
    /// The input's columns or types differ from the last run's.
    SchemaDrift,
}

impl AlertEvent {
    /// Every event with its suite spelling.
    pub const ALL: [(&'static str, AlertEvent); 5] = [
        ("expectation_failed", AlertEvent::ExpectationFailed),
        ("anomaly", AlertEvent::Anomaly),
        ("rows_quarantined", AlertEvent::RowsQuarantined),
        ("slo", AlertEvent::Slo),
        ("schema_drift", AlertEvent::SchemaDrift),
    ];
}

/// Where an alert is delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Sink {
    /// An HTTP POST of the JSON payload.
    Webhook {
        /// The URL, when written in the suite.
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// The environment variable holding the URL (a URL with a secret in it stays out of
        /// the suite).
        #[serde(skip_serializing_if = "Option::is_none")]
        url_env: Option<String>,
    },
    /// A program run with the JSON payload on its standard input (mail, a pager's CLI).
    Command {
        /// The program and its arguments (no shell).
        run: Vec<String>,
    },
    /// One JSON line appended per alert.
    File {
        /// The file.
        path: String,
    },
}

/// The `alerts:` key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alerts {
    /// Where alerts go.
    pub sinks: Vec<Sink>,
    /// The events that alert (default: all).
    pub events: Vec<AlertEvent>,
    /// The `on_fail` levels whose failures alert (default: all but `warn`).
    pub levels: Vec<OnFail>,
    /// After a firing alert is delivered, further firings of the same key within this many
    /// seconds are recorded but not delivered (default 1 hour).
    pub suppress: i64,
    /// Delivery attempts per sink (default 3), with backoff between them.
    pub attempts: u32,
    /// The alert-state table (default `<target>_dq_alerts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

const ALERT_KEYS: &str = "sinks, events, levels, suppress, attempts, table";

pub(super) fn alerts(ctx: &mut Ctx, node: &Node) -> Option<Alerts> {
    let mut m = MapReader::new(ctx, node, "alerts")?;
    let sinks = match m.required(ctx, "sinks") {
        Some(n) => sinks(ctx, n),
        None => Vec::new(),
    };
    let events = match m.get("events") {
        None => AlertEvent::ALL.iter().map(|(_, e)| *e).collect(),
        Some(n) => list_of(ctx, n, "alerts.events", &AlertEvent::ALL),
    };
    let levels = match m.get("levels") {
        None => vec![
            OnFail::QuarantineRows,
            OnFail::QuarantineBatch,
            OnFail::Fail,
        ],
        Some(n) => list_of(
            ctx,
            n,
            "alerts.levels",
            &[
                ("warn", OnFail::Warn),
                ("quarantine_rows", OnFail::QuarantineRows),
                ("quarantine_batch", OnFail::QuarantineBatch),
                ("fail", OnFail::Fail),
            ],
        ),
    };
    let suppress = match m.get("suppress") {
        None => 3600,
        Some(n) => {
            let text = as_string(ctx, n, "alerts.suppress").unwrap_or_default();
            parse_duration(&text)
                .map_err(|e| ctx.err(n.pos, "alerts.suppress", e))
                .unwrap_or(3600)
        }
    };
    let attempts = match m.get("attempts") {
        None => 3,
        Some(n) => match as_uint(ctx, n, "alerts.attempts") {
            Some(a @ 1..=10) => a as u32,
            Some(_) => {
                ctx.err(
                    n.pos,
                    "alerts.attempts",
                    "`attempts` is from 1 to 10".into(),
                );
                3
            }
            None => 3,
        },
    };
    let table = m.string(ctx, "table", false);
    m.finish(ctx, &format!("in `alerts` (it takes {ALERT_KEYS})"));
    Some(Alerts {
        sinks,
        events,
        levels,
        suppress,
        attempts,
        table,
    })
}

fn list_of<T: Copy + PartialEq>(
    ctx: &mut Ctx,
    n: &Node,
    path: &str,
    options: &[(&str, T)],
) -> Vec<T> {
    let Value::Seq(items) = &n.value else {
        ctx.err(
            n.pos,
            path,
            format!("expected a list, found {}", n.kind_name()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(v) = as_choice(ctx, item, &format!("{path}[{i}]"), options)
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

fn sinks(ctx: &mut Ctx, n: &Node) -> Vec<Sink> {
    let Value::Seq(items) = &n.value else {
        ctx.err(
            n.pos,
            "alerts.sinks",
            format!("expected a list of sinks, found {}", n.kind_name()),
        );
        return Vec::new();
    };
    if items.is_empty() {
        ctx.err(n.pos, "alerts.sinks", "name at least one sink".into());
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("alerts.sinks[{i}]");
        let Some(mut m) = MapReader::new(ctx, item, &path) else {
            continue;
        };
        let Some(kind) = m.required(ctx, "type").and_then(|t| {
            as_choice(
                ctx,
                t,
                &format!("{path}.type"),
                &[("webhook", 0u8), ("command", 1), ("file", 2)],
            )
        }) else {
            continue;
        };
        let sink = match kind {
            0 => {
                let url = m.string(ctx, "url", false);
                let url_env = m.string(ctx, "url_env", false);
                if url.is_some() == url_env.is_some() {
                    ctx.err(
                        item.pos,
                        &format!("{path}.url"),
                        "a webhook takes `url` or `url_env` (the variable holding it), one of them"
                            .into(),
                    );
                }
                if let Some(u) = &url
                    && !(u.starts_with("http://") || u.starts_with("https://"))
                {
                    ctx.err(
                        item.pos,
                        &format!("{path}.url"),
                        format!("`{u}` is not an http:// or https:// URL"),
                    );
                }
                Some(Sink::Webhook { url, url_env })
            }
            1 => m.required(ctx, "run").and_then(|r| {
                let run = as_string_list(ctx, r, &format!("{path}.run"))?;
                if run.is_empty() {
                    ctx.err(
                        r.pos,
                        &format!("{path}.run"),
                        "name the program to run".into(),
                    );
                    return None;
                }
                Some(Sink::Command { run })
            }),
            _ => m
                .required(ctx, "path")
                .and_then(|p| as_string(ctx, p, &format!("{path}.path")))
                .map(|path| Sink::File { path }),
        };
        m.finish(
            ctx,
            "for a sink (webhook: url or url_env; command: run; file: path)",
        );
        out.extend(sink);
    }
    out
}

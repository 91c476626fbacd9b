//! The report as text for people: a header, then per batch a table of expectations with counts
//! and verdicts, and a few samples of what failed.

use std::fmt::Write;

use super::{BatchOutcome, Report, Status};

/// Renders a report as a readable summary.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let status = match r.status {
        Status::Passed => "PASSED",
        Status::Warned => "WARNED",
        Status::Quarantined => "QUARANTINED",
        Status::Failed => "FAILED",
    };
    let _ = writeln!(
        out,
        "suite {} v{} ({}), run {}, as of {}",
        r.suite.name,
        r.suite.version,
        &r.suite.fingerprint[..12.min(r.suite.fingerprint.len())],
        r.run_id,
        r.as_of
    );
    let s = &r.summary;
    let _ = writeln!(
        out,
        "{status}: {} rows in {} batch{}: {} passed, {} quarantined ({} batch{} whole)",
        s.rows,
        s.batches,
        if s.batches == 1 { "" } else { "es" },
        s.rows_passed,
        s.rows_quarantined,
        s.batches_quarantined,
        if s.batches_quarantined == 1 { "" } else { "es" },
    );
    for b in &r.batches {
        let outcome = match b.outcome {
            BatchOutcome::Passed => "passed",
            BatchOutcome::RowsQuarantined => "rows quarantined",
            BatchOutcome::BatchQuarantined => "batch quarantined",
            BatchOutcome::Failed => "FAILED, committed nowhere",
        };
        let _ = writeln!(
            out,
            "\nbatch {} {} (rows {}..{}): {} rows, {} passed, {} quarantined, {outcome}",
            b.batch,
            b.input,
            b.first_row,
            b.first_row + b.rows,
            b.rows,
            b.rows_passed,
            b.rows_quarantined
        );
        if let Some(c) = &b.committed {
            let v = |x: Option<i64>| x.map_or("-".to_string(), |v| format!("v{v}"));
            let _ = writeln!(
                out,
                "  committed: target {}, quarantine {}{}",
                v(c.target_version),
                v(c.quarantine_version),
                if c.already_committed {
                    " (by an earlier attempt)"
                } else {
                    ""
                }
            );
        }
        if b.over_budget {
            let _ = writeln!(
                out,
                "  over the batch memory budget: evaluated as a stream of chunks, not held \
                 (--batch-memory-mb)"
            );
        }
        for v in &b.schema_violations {
            let _ = writeln!(out, "  schema violation: {v}");
        }
        let idw = b
            .expectations
            .iter()
            .map(|e| e.id.len())
            .max()
            .unwrap_or(2)
            .max(11);
        let _ = writeln!(
            out,
            "  {:<idw$}  {:<17}  {:<16}  {:>10}  {:>8}  {:>8}  verdict",
            "expectation", "kind", "on_fail", "evaluated", "failed", "failed%"
        );
        for e in &b.expectations {
            let verdict = if e.success {
                if e.failed > 0 { "ok (mostly)" } else { "ok" }
            } else {
                "FAIL"
            };
            let pct = e
                .failed_fraction
                .map_or("-".to_string(), |f| format!("{:.2}%", f * 100.0));
            let _ = writeln!(
                out,
                "  {:<idw$}  {:<17}  {:<16}  {:>10}  {:>8}  {:>8}  {verdict}",
                e.id, e.expect, e.on_fail, e.evaluated, e.failed, pct
            );
            if e.proven > 0 {
                let _ = writeln!(
                    out,
                    "  {:<idw$}    {} rows proven by Parquet statistics, not scanned",
                    "", e.proven
                );
            }
            if let Some(o) = &e.observed {
                let _ = writeln!(out, "  {:<idw$}    observed {o}", "");
            }
            // A check not judged yet says so in its message.
            if let Some(h) = e.history.as_ref().filter(|h| h.judged) {
                let _ = writeln!(out, "  {:<idw$}    {}", "", history_line(h));
            }
            if let Some(m) = &e.message {
                let _ = writeln!(out, "  {:<idw$}    {m}", "");
            }
            if !e.samples.is_empty() {
                let shown: Vec<String> = e.samples.iter().take(5).map(|s| s.to_string()).collect();
                let more = if e.samples.len() > 5 {
                    format!(" (+{} more in the JSON report)", e.samples.len() - 5)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "  {:<idw$}    e.g. {}{more}", "", shown.join(", "));
            }
        }
    }
    if let Some(t) = &r.tables {
        let v = |x: Option<i64>| x.map_or("-".to_string(), |v| format!("v{v}"));
        let _ = writeln!(out, "\ntables:");
        let _ = writeln!(
            out,
            "  target      {} {}",
            t.target.uri,
            v(t.target.version)
        );
        let _ = writeln!(
            out,
            "  quarantine  {} {}",
            t.quarantine.uri,
            v(t.quarantine.version)
        );
        let _ = writeln!(out, "  run log     {} {}", t.runs.uri, v(t.runs.version));
        if t.staged {
            let _ = writeln!(
                out,
                "  staged: nothing committed yet; `dq-check commit-staged --runs {}` commits it",
                t.runs.uri
            );
        }
        for c in &t.shared {
            let key = c
                .key_id
                .as_ref()
                .map_or(String::new(), |k| format!(" (key {k})"));
            let _ = writeln!(out, "  shared      {}: {}{key}", c.column, c.share);
        }
    }
    if !r.alerts.is_empty() {
        let _ = writeln!(out, "\nalerts:");
        for a in &r.alerts {
            let fate = if a.duplicate {
                "recorded by another process".to_string()
            } else if a.suppressed {
                "recorded, not sent (suppressed)".to_string()
            } else if a.delivered {
                "sent".to_string()
            } else {
                format!("NOT SENT: {}", a.errors.join("; "))
            };
            let _ = writeln!(out, "  {:<9} {}: {fate}", a.status, a.subject);
        }
    }
    out
}

/// `history: normal over 14 points (2026-11-01 .. 2026-11-14), band [90, 110]`.
fn history_line(h: &super::HistoryResult) -> String {
    use crate::values::show::band;
    let span = match (h.from, h.to) {
        (Some(a), Some(b)) => format!(
            " ({} .. {})",
            a.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            b.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        _ => String::new(),
    };
    format!(
        "history: {} over {} points{span}, band {}",
        h.strategy,
        h.points,
        band(h.lo, h.hi)
    )
}

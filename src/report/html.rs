//! The report as one self-contained HTML page (`--format html`): status, statistics, each
//! expectation with its observed value and failing samples, the schema check, the tables.
//! No scripts, no network; prints to PDF as it shows. Samples are the report's own, so values
//! of `pii` columns appear masked here as everywhere.

use std::fmt::Write as _;

use super::{BatchOutcome, ExpectationResult, Report, Status};
use crate::values::show::band;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's style: a colour-blind-safe pair (blue for pass, orange for failure) with every
/// state also written in words, and print rules.
const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;\
margin:2rem auto;max-width:72rem;padding:0 1rem}h1{font-size:1.5rem;margin:0 0 .25rem}\
h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}\
.meta{color:#57606a}.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;\
font-weight:600;border:2px solid}.pass{color:#0b4f8a;border-color:#0b4f8a;background:#e7f1fb}\
.warn{color:#7a4a00;border-color:#b86e00;background:#fff4e0}.fail{color:#8a3300;\
border-color:#d55e00;background:#fdebe1}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e5e8eb;vertical-align:top}\
th{background:#f6f8fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:.5rem;\
padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.4rem}code{font:12px \
ui-monospace,monospace;background:#f6f8fa;padding:.05rem .25rem;border-radius:.2rem}\
.small{font-size:12px;color:#57606a}@media print{body{margin:0;max-width:none}\
h2{break-after:avoid}tr{break-inside:avoid}}";

/// Renders the report as a page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let (class, word) = match r.status {
        Status::Passed => ("pass", "PASSED"),
        Status::Warned => ("warn", "WARNED"),
        Status::Quarantined => ("fail", "QUARANTINED"),
        Status::Failed => ("fail", "FAILED"),
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} v{}: {word} (run {})</title><style>{STYLE}</style></head><body>",
        escape(&r.suite.name),
        r.suite.version,
        escape(&r.run_id)
    );
    let _ = write!(
        h,
        "<header><h1>{} <span class=\"meta\">v{}</span> <span class=\"badge {class}\" \
         id=\"status\">{word}</span></h1><p class=\"meta\">run <code>{}</code> · as of {} · \
         started {} · finished {} · suite fingerprint <code>{}</code></p></header>",
        escape(&r.suite.name),
        r.suite.version,
        escape(&r.run_id),
        escape(&r.as_of),
        escape(&r.started_at),
        escape(&r.finished_at),
        escape(&r.suite.fingerprint[..r.suite.fingerprint.len().min(12)])
    );
    let s = &r.summary;
    let _ = write!(
        h,
        "<section class=\"cards\" id=\"summary\">{}{}{}{}{}</section>",
        card("rows in", s.rows),
        card("passed", s.rows_passed),
        card("quarantined", s.rows_quarantined),
        card("batches", s.batches),
        card("batches quarantined whole", s.batches_quarantined)
    );
    let _ = write!(h, "{}", pass_bar(s.rows_passed, s.rows));

    h.push_str("<h2>Schema contract</h2>");
    if r.schema.success {
        h.push_str("<p><span class=\"badge pass\">ok</span> every batch met the contract</p>");
    } else {
        h.push_str("<ul>");
        for v in &r.schema.violations {
            let text = serde_json::to_value(v).unwrap_or_default();
            let _ = write!(
                h,
                "<li><span class=\"badge fail\">violation</span> {}</li>",
                escape(&text.to_string())
            );
        }
        h.push_str("</ul>");
    }

    for b in &r.batches {
        let (bc, bw) = match b.outcome {
            BatchOutcome::Passed => ("pass", "passed"),
            BatchOutcome::RowsQuarantined => ("fail", "rows quarantined"),
            BatchOutcome::BatchQuarantined => ("fail", "batch quarantined"),
            BatchOutcome::Failed => ("fail", "failed"),
        };
        let _ = write!(
            h,
            "<h2>Batch {} <span class=\"badge {bc}\">{bw}</span></h2><p class=\"meta\">{} \
             (rows {}..{}): {} rows, {} passed, {} quarantined</p>",
            b.batch,
            escape(&b.input),
            b.first_row,
            b.first_row + b.rows,
            b.rows,
            b.rows_passed,
            b.rows_quarantined
        );
        if b.over_budget {
            h.push_str(
                "<p class=\"meta\">Over the batch memory budget: evaluated as a stream of \
                 chunks, not held (<code>--batch-memory-mb</code>).</p>",
            );
        }
        for v in &b.schema_violations {
            let _ = write!(
                h,
                "<p><span class=\"badge fail\">schema</span> {}</p>",
                escape(v)
            );
        }
        h.push_str(
            "<table class=\"expectations\"><thead><tr><th>expectation</th><th>kind</th>\
             <th>on_fail</th><th class=\"n\">evaluated</th><th class=\"n\">failed</th>\
             <th>pass rate</th><th>verdict</th><th>observed, samples, notes</th></tr></thead><tbody>",
        );
        for e in &b.expectations {
            h.push_str(&row(e));
        }
        h.push_str("</tbody></table>");
    }

    if let Some(t) = &r.tables {
        let v = |x: Option<i64>| x.map_or("-".to_string(), |v| format!("v{v}"));
        let _ = write!(
            h,
            "<h2>Tables</h2><table><tbody><tr><th>target</th><td><code>{}</code> {}</td></tr>\
             <tr><th>quarantine</th><td><code>{}</code> {}</td></tr><tr><th>run log</th>\
             <td><code>{}</code> {}</td></tr>",
            escape(&t.target.uri),
            v(t.target.version),
            escape(&t.quarantine.uri),
            v(t.quarantine.version),
            escape(&t.runs.uri),
            v(t.runs.version)
        );
        for c in &t.shared {
            let _ = write!(
                h,
                "<tr><th>shared <code>{}</code></th><td>{}</td></tr>",
                escape(&c.column),
                escape(&c.share)
            );
        }
        h.push_str("</tbody></table>");
    }
    if !r.alerts.is_empty() {
        h.push_str("<h2>Alerts</h2><ul>");
        for a in &r.alerts {
            let fate = if a.duplicate {
                "recorded by another process"
            } else if a.suppressed {
                "recorded, not sent (suppressed)"
            } else if a.delivered {
                "sent"
            } else {
                "not sent"
            };
            let _ = write!(
                h,
                "<li><b>{}</b> {}: {fate}</li>",
                escape(&a.status),
                escape(&a.subject)
            );
        }
        h.push_str("</ul>");
    }
    let _ = writeln!(
        h,
        "<p class=\"small\">Inputs: {}. dq-check report, format {}. Values of protected (pii) \
         columns are shown by their shape only.</p></body></html>",
        r.inputs
            .iter()
            .map(|i| format!("<code>{}</code>", escape(i)))
            .collect::<Vec<_>>()
            .join(", "),
        r.dq_report
    );
    h
}

fn card(label: &str, n: u64) -> String {
    format!("<div class=\"card\"><b>{n}</b>{}</div>", escape(label))
}

/// A bar of the share passed, drawn as inline SVG, with the figure in words beside it.
fn pass_bar(passed: u64, total: u64) -> String {
    let share = if total == 0 {
        1.0
    } else {
        passed as f64 / total as f64
    };
    let w = (share * 200.0).round();
    format!(
        "<p class=\"bar\"><svg width=\"200\" height=\"10\" role=\"img\" aria-label=\"{pct} passed\">\
         <rect width=\"200\" height=\"10\" fill=\"#d55e00\"/><rect width=\"{w}\" height=\"10\" \
         fill=\"#0072b2\"/></svg> <span class=\"small\">{pct} of rows passed</span></p>",
        pct = format_args!("{:.2}%", share * 100.0)
    )
}

fn row(e: &ExpectationResult) -> String {
    let (class, verdict) = if e.success {
        ("pass", if e.failed > 0 { "ok (mostly)" } else { "ok" })
    } else if e.on_fail == "warn" {
        ("warn", "FAIL (warning)")
    } else {
        ("fail", "FAIL")
    };
    let rate = e
        .failed_fraction
        .map(|f| {
            let share = 1.0 - f;
            format!(
                "<svg width=\"60\" height=\"8\" role=\"img\" aria-label=\"{p:.2}% passed\">\
                 <rect width=\"60\" height=\"8\" fill=\"#d55e00\"/><rect width=\"{w}\" \
                 height=\"8\" fill=\"#0072b2\"/></svg> {p:.2}%",
                w = (share * 60.0).round(),
                p = share * 100.0
            )
        })
        .unwrap_or_else(|| "-".into());
    let mut notes = String::new();
    if let Some(o) = &e.observed {
        let _ = write!(notes, "observed <code>{}</code>", escape(&o.to_string()));
    }
    if let Some(hst) = e.history.as_ref().filter(|h| h.judged) {
        let _ = write!(
            notes,
            "<br>history: {} over {} points, band <code>{}</code>",
            escape(&hst.strategy),
            hst.points,
            escape(&band(hst.lo, hst.hi))
        );
    }
    if let Some(m) = &e.message {
        let _ = write!(notes, "<br>{}", escape(m));
    }
    if e.proven > 0 {
        let _ = write!(notes, "<br>{} rows proven by Parquet statistics", e.proven);
    }
    if !e.samples.is_empty() {
        let shown: Vec<String> = e
            .samples
            .iter()
            .take(10)
            .map(|s| format!("<code>{}</code>", escape(&s.to_string())))
            .collect();
        let _ = write!(notes, "<br>e.g. {}", shown.join(" "));
    }
    let column = e
        .column
        .clone()
        .or_else(|| e.columns.as_ref().map(|c| c.join(", ")))
        .map_or(String::new(), |c| {
            format!(" <span class=\"small\">{}</span>", escape(&c))
        });
    format!(
        "<tr class=\"{class}\"><td><code>{}</code>{column}</td><td>{}</td><td>{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{rate}</td><td><span class=\"badge \
         {class}\">{verdict}</span></td><td>{}</td></tr>",
        escape(&e.id),
        escape(&e.expect),
        escape(&e.on_fail),
        e.evaluated,
        e.failed,
        notes.trim_start_matches("<br>")
    )
}

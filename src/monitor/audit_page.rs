//! The audit in its three forms: JSON (the record, hashed), Markdown and one self-contained
//! HTML page that prints to PDF (docs/audit.md).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::audit::{Audit, Dataset, ExpectationAudit, VersionChanges};
use crate::report::html::escape;
use crate::suite::diff::Verdict;

/// The JSON form: compact, fields in the order the model declares them. Its SHA-256 is what
/// the other forms cite.
pub fn json(a: &Audit) -> String {
    serde_json::to_string(a).expect("an audit always serializes")
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn period(a: &Audit) -> String {
    match (a.from, a.to) {
        (Some(f), Some(t)) => format!("{f} to {t}"),
        (Some(f), None) => format!("from {f}"),
        (None, Some(t)) => format!("until {t}"),
        (None, None) => "all runs recorded".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2}%", v * 100.0))
}

/// Each table's name, URI and versions: now, at the period's end, last written by its runs.
type TableRow<'a> = (&'static str, &'a str, Option<i64>, Option<i64>, Option<i64>);

fn tables(d: &Dataset) -> [TableRow<'_>; 3] {
    let (n, e, r) = (&d.versions, &d.versions_at_end, &d.versions_of_runs);
    [
        ("target", &d.target, n.target, e.target, r.target),
        (
            "quarantine",
            &d.quarantine,
            n.quarantine,
            e.quarantine,
            r.quarantine,
        ),
        ("run log", &d.runs, n.runs, e.runs, r.runs),
    ]
}

fn verdict(c: &VersionChanges) -> &'static str {
    c.verdict.map_or("changes not shown", Verdict::as_str)
}

/// The Markdown form; `json_name` and `sha` name the JSON form and its digest.
pub fn markdown(a: &Audit, json_name: &str, sha: &str) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Data-quality audit: {}\n", period(a));
    let _ = writeln!(
        m,
        "Generated {} by dq-check. The record is `{json_name}`, SHA-256 `{sha}`; recompute it \
         with `sha256sum {json_name}`.\n",
        a.generated_at.to_rfc3339()
    );
    for d in &a.datasets {
        dataset_md(&mut m, d);
    }
    m
}

fn dataset_md(m: &mut String, d: &Dataset) {
    let v = |x: Option<i64>| x.map_or("-".to_string(), |v| format!("v{v}"));
    let _ = writeln!(
        m,
        "## {}\n\n| table | URI | now | at the period's end | last written by its runs |\n|---|---|---|---|---|",
        d.target
    );
    for (name, uri, now, end, runs) in tables(d) {
        let _ = writeln!(
            m,
            "| {name} | `{uri}` | {} | {} | {} |",
            v(now),
            v(end),
            v(runs)
        );
    }
    m.push('\n');
    let t = &d.totals;
    let _ = writeln!(
        m,
        "### Reconciliation\n\n{} runs: {} rows in = {} to the target + {} to quarantine{}. {} \
         rows released from quarantine. **{} run(s) do not reconcile.**\n",
        t.runs,
        t.rows_in,
        t.rows_to_target,
        t.rows_to_quarantine,
        if t.rows_in == t.rows_to_target + t.rows_to_quarantine {
            ""
        } else {
            " (they differ)"
        },
        t.rows_released,
        t.unreconciled_runs
    );
    let _ = writeln!(
        m,
        "### Runs\n\n| run | kind | actor | as of | suite | outcome | rows in | to target | to quarantine | reconciled |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &d.run_list {
        let _ = writeln!(
            m,
            "| `{}` | {} | {} | {} | {} v{} `{}` | {} | {} | {} | {} | {} |",
            r.run_id,
            r.kind,
            r.actor.as_deref().unwrap_or("-"),
            r.as_of.to_rfc3339(),
            r.suite,
            r.suite_version,
            r.suite_fingerprint,
            r.outcome,
            r.rows_in,
            r.committed_to_target,
            r.committed_to_quarantine,
            if r.reconciled {
                "yes".to_string()
            } else {
                format!("**NO**: {}", r.note.clone().unwrap_or_default())
            }
        );
    }
    let _ = writeln!(
        m,
        "\n### Expectations\n\n| suite | expectation | kind | batches | failed batches | rows failed | pass rate |\n|---|---|---|---|---|---|---|"
    );
    for e in &d.expectations {
        let _ = writeln!(
            m,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            e.suite,
            e.id,
            e.expect,
            e.batches,
            e.failed_batches,
            e.failed,
            pct(e.pass_rate)
        );
    }
    let q = &d.quarantine_rows;
    let _ = writeln!(
        m,
        "\n### Quarantine\n\nOf {} rows the period's runs quarantined: {} released, {} discarded, {} \
         still open{}.\n",
        q.opened,
        q.released,
        q.discarded,
        q.open,
        q.oldest_open_days
            .map_or(String::new(), |d| format!(" (the oldest {d} days)"))
    );
    let _ = writeln!(
        m,
        "### Suite versions\n\n| suite | version | fingerprint | first run | last run | runs |\n|---|---|---|---|---|---|"
    );
    for s in &d.suite_versions {
        let _ = writeln!(
            m,
            "| {} | {} | `{}` | {} | {} | {} |",
            s.suite,
            s.version,
            s.fingerprint,
            s.first_as_of.to_rfc3339(),
            s.last_as_of.to_rfc3339(),
            s.runs
        );
    }
    for s in &d.suite_versions {
        let Some(c) = &s.changes else { continue };
        let _ = writeln!(
            m,
            "\n#### {} version {} → {}: {}\n",
            s.suite,
            c.from_version,
            s.version,
            verdict(c)
        );
        match &c.note {
            Some(n) => {
                let _ = writeln!(m, "{n}.");
            }
            None if c.changes.is_empty() => {
                let _ = writeln!(m, "No change of meaning (wording or layout only).");
            }
            None => {
                for ch in &c.changes {
                    let _ = writeln!(
                        m,
                        "- **{}** `{}`: {} (`{}`)",
                        ch.verdict.as_str(),
                        ch.path,
                        ch.what,
                        ch.rule
                    );
                }
            }
        }
    }
    if !d.slos.is_empty() {
        let _ = writeln!(
            m,
            "\n### SLOs at the period's end\n\n| slo | kind | objective | attained | budget left | state |\n|---|---|---|---|---|---|"
        );
        for o in &d.slos {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                o.id,
                o.kind,
                pct(Some(o.objective)),
                pct(o.attainment),
                pct(o.budget_left),
                serde_json::to_value(o.state)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(m, "\n### Alerts\n");
    if d.alerts.is_empty() {
        let _ = writeln!(m, "None.\n");
    }
    for al in &d.alerts {
        let _ = writeln!(
            m,
            "- {} {} `{}` ({}) at {}",
            al.status,
            al.suite,
            al.subject,
            al.event,
            al.as_of.to_rfc3339()
        );
    }
    m.push('\n');
}

const STYLE: &str = "body{font:13px/1.45 system-ui,sans-serif;color:#1b1f24;margin:2rem auto;\
max-width:72rem;padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.25rem;margin-top:2.5rem;\
border-bottom:2px solid #1b1f24}h3{font-size:1.05rem;margin:1.5rem 0 .4rem}table{border-collapse:\
collapse;width:100%}th,td{text-align:left;padding:.25rem .45rem;border-bottom:1px solid #e5e8eb;\
vertical-align:top}th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}\
code{font:12px ui-monospace,monospace}.bad{color:#8a3300;font-weight:700}.ok{color:#0b4f8a}\
.seal{border:1px solid #d0d7de;padding:.5rem .8rem;border-radius:.4rem;background:#f6f8fa;\
word-break:break-all}@media print{body{margin:0;max-width:none}h2{break-before:page}\
tr{break-inside:avoid}}";

/// The HTML form; `json_name` and `sha` name the JSON form and its digest.
pub fn html(a: &Audit, json_name: &str, sha: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Data-quality \
         audit: {p}</title><style>{STYLE}</style></head><body><h1>Data-quality audit: {p}</h1>\
         <p>Generated {} by dq-check.</p><p class=\"seal\" id=\"seal\">The record of this audit \
         is <code>{}</code>, SHA-256 <code id=\"sha256\">{sha}</code>. Recompute it with \
         <code>sha256sum {}</code>: any change to the record changes it.</p>",
        escape(&a.generated_at.to_rfc3339()),
        escape(json_name),
        escape(json_name),
        p = escape(&period(a)),
    );
    for d in &a.datasets {
        dataset_html(&mut h, d);
    }
    h.push_str("</body></html>\n");
    h
}

/// A pass rate per day as a small line chart (0 at the bottom, 100% at the top), with a
/// mark per day so one day alone still shows.
fn sparkline(e: &ExpectationAudit) -> String {
    let (w, ht) = (160.0, 28.0);
    let n = e.trend.len();
    if n == 0 {
        return "-".into();
    }
    let x = |i: usize| {
        if n == 1 {
            w / 2.0
        } else {
            2.0 + i as f64 * (w - 4.0) / (n - 1) as f64
        }
    };
    let y = |p: f64| 2.0 + (1.0 - p) * (ht - 4.0);
    let points: Vec<String> = e
        .trend
        .iter()
        .enumerate()
        .map(|(i, (_, p))| format!("{:.1},{:.1}", x(i), y(*p)))
        .collect();
    let dots: String = e
        .trend
        .iter()
        .enumerate()
        .map(|(i, (d, p))| {
            let fill = if *p < 1.0 { "#d55e00" } else { "#0072b2" };
            format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{fill}\"><title>{d}: {:.2}%</title></circle>",
                x(i),
                y(*p),
                p * 100.0
            )
        })
        .collect();
    format!(
        "<svg class=\"trend\" width=\"{w}\" height=\"{ht}\" role=\"img\" aria-label=\"pass rate \
         per day\"><polyline fill=\"none\" stroke=\"#0072b2\" stroke-width=\"1.5\" points=\"{}\"/>\
         {dots}</svg>",
        points.join(" ")
    )
}

fn dataset_html(h: &mut String, d: &Dataset) {
    let v = |x: Option<i64>| x.map_or("-".to_string(), |v| format!("v{v}"));
    let _ = write!(
        h,
        "<h2>{}</h2><table id=\"versions\"><thead><tr><th>table</th><th>URI</th>\
         <th class=\"n\">now</th><th class=\"n\">at the period's end</th>\
         <th class=\"n\">last written by its runs</th></tr></thead><tbody>",
        escape(&d.target)
    );
    for (name, uri, now, end, runs) in tables(d) {
        let _ = write!(
            h,
            "<tr><td>{name}</td><td><code>{}</code></td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(uri),
            v(now),
            v(end),
            v(runs)
        );
    }
    h.push_str("</tbody></table>");
    let t = &d.totals;
    let balanced = t.rows_in == t.rows_to_target + t.rows_to_quarantine;
    let _ = write!(
        h,
        "<h3>Reconciliation</h3><p id=\"reconciliation\">{} runs: <b>{}</b> rows in = <b>{}</b> \
         to the target + <b>{}</b> to quarantine <span class=\"{}\">{}</span>. {} rows released \
         from quarantine. <span class=\"{}\">{} run(s) do not reconcile.</span></p>",
        t.runs,
        t.rows_in,
        t.rows_to_target,
        t.rows_to_quarantine,
        if balanced { "ok" } else { "bad" },
        if balanced {
            "(balanced)"
        } else {
            "(they differ)"
        },
        t.rows_released,
        if t.unreconciled_runs == 0 {
            "ok"
        } else {
            "bad"
        },
        t.unreconciled_runs
    );
    h.push_str(
        "<h3>Runs</h3><table id=\"runs\"><thead><tr><th>run</th><th>kind</th><th>actor</th>\
         <th>as of</th><th>started / finished</th><th>suite</th><th>outcome</th><th class=\"n\">rows in</th>\
         <th class=\"n\">to target</th><th class=\"n\">to quarantine</th><th>reconciled</th></tr>\
         </thead><tbody>",
    );
    for r in &d.run_list {
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        };
        let rec = if r.reconciled {
            "<span class=\"ok\">yes</span>".to_string()
        } else {
            format!(
                "<span class=\"bad unreconciled\">NO</span> {}",
                escape(&r.note.clone().unwrap_or_default())
            )
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td>\
             <td>{} v{} <code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{rec}</td></tr>",
            escape(&r.run_id),
            escape(&r.kind),
            escape(r.actor.as_deref().unwrap_or("-")),
            r.as_of.format("%Y-%m-%d %H:%M"),
            when(r.started_at),
            when(r.finished_at),
            escape(&r.suite),
            r.suite_version,
            escape(&r.suite_fingerprint),
            escape(&r.outcome),
            r.rows_in,
            r.committed_to_target,
            r.committed_to_quarantine
        );
    }
    h.push_str("</tbody></table>");
    h.push_str(
        "<h3>Expectations</h3><table id=\"expectations\"><thead><tr><th>expectation</th>\
         <th>kind</th><th class=\"n\">batches</th><th class=\"n\">failed batches</th>\
         <th class=\"n\">rows failed</th><th class=\"n\">pass rate</th><th>per day</th>\
         <th>worst batches</th></tr></thead><tbody>",
    );
    for e in &d.expectations {
        let worst: Vec<String> = e
            .worst
            .iter()
            .map(|w| match &w.observed {
                Some(o) => format!("{} #{}: observed {}", w.run_id, w.batch, o),
                None => format!("{} #{}: {} of {}", w.run_id, w.batch, w.failed, w.evaluated),
            })
            .map(|s| escape(&s))
            .collect();
        let _ = write!(
            h,
            "<tr><td><code>{}</code> <small>{}</small></td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td>\
             <td><small>{}</small></td></tr>",
            escape(&e.id),
            escape(&e.suite),
            escape(&e.expect),
            e.batches,
            e.failed_batches,
            e.failed,
            pct(e.pass_rate),
            sparkline(e),
            worst.join("<br>")
        );
    }
    h.push_str("</tbody></table>");
    let q = &d.quarantine_rows;
    let _ = write!(
        h,
        "<h3>Quarantine</h3><p id=\"quarantine\">Of <b>{}</b> rows the period's runs quarantined: \
         <b>{}</b> released, <b>{}</b> discarded, <b>{}</b> still open{}.</p>",
        q.opened,
        q.released,
        q.discarded,
        q.open,
        q.oldest_open_days
            .map_or(String::new(), |d| format!(" (the oldest {d} days)"))
    );
    h.push_str(
        "<h3>Suite versions in force</h3><table><thead><tr><th>suite</th><th>version</th>\
         <th>fingerprint</th><th>first run</th><th>last run</th><th class=\"n\">runs</th></tr>\
         </thead><tbody>",
    );
    for s in &d.suite_versions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>\
             <td class=\"n\">{}</td></tr>",
            escape(&s.suite),
            s.version,
            escape(&s.fingerprint),
            s.first_as_of.format("%Y-%m-%d %H:%M"),
            s.last_as_of.format("%Y-%m-%d %H:%M"),
            s.runs
        );
    }
    h.push_str("</tbody></table>");
    for s in &d.suite_versions {
        let Some(c) = &s.changes else { continue };
        let _ = write!(
            h,
            "<h4>{} version {} &rarr; {}: {}</h4>",
            escape(&s.suite),
            c.from_version,
            s.version,
            verdict(c)
        );
        match &c.note {
            Some(n) => {
                let _ = write!(h, "<p>{}.</p>", escape(n));
            }
            None if c.changes.is_empty() => {
                h.push_str("<p>No change of meaning (wording or layout only).</p>")
            }
            None => {
                h.push_str("<ul class=\"changes\">");
                for ch in &c.changes {
                    let _ = write!(
                        h,
                        "<li><b>{}</b> <code>{}</code>: {} (<code>{}</code>)</li>",
                        ch.verdict.as_str(),
                        escape(&ch.path),
                        escape(&ch.what),
                        ch.rule
                    );
                }
                h.push_str("</ul>");
            }
        }
    }
    if !d.slos.is_empty() {
        h.push_str(
            "<h3>SLOs at the period's end</h3><table id=\"slos\"><thead><tr><th>slo</th>\
             <th>kind</th><th class=\"n\">objective</th><th class=\"n\">attained</th>\
             <th class=\"n\">budget left</th><th>state</th></tr></thead><tbody>",
        );
        for o in &d.slos {
            let state = serde_json::to_value(o.state).unwrap_or_default();
            let state = state.as_str().unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>",
                escape(&o.id),
                escape(&o.kind),
                pct(Some(o.objective)),
                pct(o.attainment),
                pct(o.budget_left),
                if state == "ok" { "ok" } else { "bad" },
                escape(&state.replace('_', " "))
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("<h3>Alerts</h3>");
    if d.alerts.is_empty() {
        h.push_str("<p>None fired.</p>");
    } else {
        h.push_str("<ul>");
        for a in &d.alerts {
            let _ = write!(
                h,
                "<li>{} <code>{}</code> {} ({}) at {}</li>",
                escape(&a.status),
                escape(&a.suite),
                escape(&a.subject),
                escape(&a.event),
                a.as_of.format("%Y-%m-%d %H:%M")
            );
        }
        h.push_str("</ul>");
    }
}

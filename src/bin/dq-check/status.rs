//! `dq-check status`: wiring only.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::SecondsFormat;
use dq_gate::monitor::slo::SloState;
use dq_gate::monitor::status::{Status, status};
use dq_gate::{CompiledSuite, Error};

use crate::args::{OutputFormat, StatusArgs, parse_as_of};

pub fn run(a: &StatusArgs) -> Result<u8, Error> {
    let compiled = a.suite.as_ref().map(CompiledSuite::from_path).transpose()?;
    let suite = compiled.as_ref().map(CompiledSuite::suite);
    let target = match (&a.target, suite) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(s)) => Some(s.default_target()),
        (None, None) => None,
    };
    let runs = match (&a.runs, suite, &target) {
        (Some(r), _, _) => r.clone(),
        (None, Some(s), Some(t)) => s.default_runs(t),
        (None, None, Some(t)) => dq_gate::suite::runs_of(t),
        (None, _, None) => {
            return Err(Error::Usage(
                "say which target: --target URI, --runs URI, or --suite FILE for its tables".into(),
            ));
        }
    };
    let quarantine = match (&a.quarantine, suite, &target) {
        (Some(q), _, _) => Some(q.clone()),
        (None, Some(s), _) => Some(s.default_quarantine()),
        (None, None, Some(t)) => Some(format!("{}_quarantine", t.trim_end_matches('/'))),
        (None, None, None) => None,
    };
    let as_of = match &a.as_of {
        Some(t) => parse_as_of(t)?,
        None => chrono::Utc::now(),
    };
    let runtime = crate::runtime()?;
    let alerts = match (suite.and_then(|s| s.alerts.as_ref()), &target) {
        (Some(al), Some(t)) => Some(dq_gate::monitor::alerts::state_table(al, t)),
        (None, Some(t)) => Some(format!("{}_dq_alerts", t.trim_end_matches('/'))),
        _ => None,
    };
    let st = runtime.block_on(status(
        &runs,
        quarantine.as_deref(),
        alerts.as_deref(),
        suite,
        as_of,
        &HashMap::new(),
    ))?;
    let out = match a.format {
        OutputFormat::Json => serde_json::to_string_pretty(&st).expect("serializes") + "\n",
        OutputFormat::Text => text(&st),
    };
    print!("{out}");
    Ok(if st.healthy { 0 } else { 1 })
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.3}%", v * 100.0))
}

/// A duration as a person reads it: `45m`, `5.5h`, `3d`.
fn days(secs: i64) -> String {
    if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 2 * 86_400 || secs % 86_400 != 0 && secs < 7 * 86_400 {
        format!("{:.1}h", secs as f64 / 3600.0)
    } else {
        format!("{:.0}d", secs as f64 / 86_400.0)
    }
}

fn text(st: &Status) -> String {
    let mut s = format!(
        "{} at {} ({})\n",
        if st.healthy { "HEALTHY" } else { "UNHEALTHY" },
        st.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
        st.runs
    );
    if !st.slos.is_empty() {
        let _ = writeln!(
            s,
            "\nobjectives:\n  {:<20} {:<13} {:>9} {:>6} {:>12} {:>12} {:>9}  state",
            "slo", "kind", "objective", "window", "attained", "budget left", "burn"
        );
        for o in &st.slos {
            let state = match o.state {
                SloState::Ok => "ok",
                SloState::AtRisk => "AT RISK",
                SloState::Breached => "BREACHED",
                SloState::NoData => "NO DATA",
            };
            let _ = writeln!(
                s,
                "  {:<20} {:<13} {:>9} {:>6} {:>12} {:>12} {:>9}  {state}",
                o.id,
                o.kind,
                pct(Some(o.objective)),
                days(o.window_seconds),
                pct(o.attainment),
                pct(o.budget_left),
                o.burn_rate.map_or("-".into(), |b| format!("{b:.2}x")),
            );
        }
    }
    let _ = writeln!(s, "\nlast runs:");
    if st.last_runs.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    for r in &st.last_runs {
        let _ = writeln!(
            s,
            "  {} v{}: run {} as of {}: {} rows, {} to the target, {} quarantined ({})",
            r.suite,
            r.suite_version,
            r.run_id,
            r.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
            r.rows,
            r.rows_passed,
            r.rows_quarantined,
            r.outcome
        );
    }
    if !st.failing.is_empty() {
        let _ = writeln!(s, "\nfailing in their newest batch:");
        for f in &st.failing {
            let what = match &f.observed {
                Some(o) => format!("observed {o}"),
                None => format!("failed rows: {}", f.failed),
            };
            let _ = writeln!(
                s,
                "  {}.{} ({}, {}): {what}, run {}",
                f.suite, f.expectation, f.expect, f.on_fail, f.run_id
            );
        }
    }
    if !st.alerts_firing.is_empty() {
        let _ = writeln!(s, "\nalerts firing:");
        for a in &st.alerts_firing {
            let _ = writeln!(
                s,
                "  {}/{} ({}) since {}, run {}",
                a.suite,
                a.subject,
                a.event,
                a.since.to_rfc3339_opts(SecondsFormat::Secs, true),
                a.run_id
            );
        }
    }
    if let Some(q) = &st.quarantine {
        let age = q.oldest_age_seconds.map_or(String::new(), |a| {
            format!(", oldest {} old", days(a.max(0)))
        });
        let _ = writeln!(s, "\nquarantine {}: {} open rows{age}", q.uri, q.open_rows);
    }
    s
}

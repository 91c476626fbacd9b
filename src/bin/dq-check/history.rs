//! `dq-check history`: wiring only.

use std::collections::HashMap;
use std::fmt::Write as _;

use dq_gate::monitor::{MetricPoint, metric_history};
use dq_gate::{CompiledSuite, Error};

use crate::args::{HistoryArgs, OutputFormat};

pub fn run(a: &HistoryArgs) -> Result<u8, Error> {
    let suite = a.suite.as_ref().map(CompiledSuite::from_path).transpose()?;
    let suite = suite.as_ref().map(CompiledSuite::suite);
    let runs = crate::run_log(a.runs.as_ref(), a.target.as_ref(), suite)?;
    let runtime = crate::runtime()?;
    let mut points = runtime.block_on(metric_history(
        &runs,
        &HashMap::new(),
        a.expectation.as_deref(),
    ))?;
    // With a suite: its values only, and whether each is of today's measure.
    let current: HashMap<&str, Option<String>> = suite
        .map(|s| {
            s.expectations
                .iter()
                .map(|e| (e.id.as_str(), e.measure()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(s) = suite {
        points.retain(|p| p.suite == s.name && current.contains_key(p.expectation.as_str()));
    }
    let same = |p: &MetricPoint| {
        suite.map(|_| {
            current.get(p.expectation.as_str()).cloned().flatten() == p.measure
                && p.measure.is_some()
        })
    };
    let out = match a.format {
        OutputFormat::Json => {
            let rows: Vec<serde_json::Value> = points
                .iter()
                .map(|p| {
                    let mut v = serde_json::to_value(p).expect("serializes");
                    if let Some(s) = same(p) {
                        v["current_measure"] = serde_json::Value::Bool(s);
                    }
                    v
                })
                .collect();
            serde_json::to_string_pretty(&rows).expect("serializes") + "\n"
        }
        OutputFormat::Text => {
            let mut s = format!(
                "{:<25} {:<28} {:>5}  {:<24} {:>16}  {:<6} {}\n",
                "as_of", "run", "batch", "expectation", "observed", "ok", "suite"
            );
            for p in &points {
                let ok = match p.success {
                    Some(true) => "ok",
                    Some(false) => "FAIL",
                    None => "-",
                };
                let stale = match same(p) {
                    Some(false) => "  (an earlier measure: not read by its history check)",
                    _ => "",
                };
                let _ = writeln!(
                    s,
                    "{:<25} {:<28} {:>5}  {:<24} {:>16}  {:<6} {} v{}{stale}",
                    p.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    p.run_id,
                    p.batch,
                    p.expectation,
                    p.observed.to_string(),
                    ok,
                    p.suite,
                    p.suite_version
                );
            }
            if points.is_empty() {
                s.push_str("(no metric values recorded)\n");
            }
            s
        }
    };
    print!("{out}");
    Ok(0)
}

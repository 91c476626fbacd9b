//! Golden reports: a fixture and a suite give exactly the expected JSON report (counts, samples,
//! masking, status). Set `DQ_BLESS=1` to rewrite the golden files after a reviewed change.

use std::path::Path;

use dq_gate::{CompiledSuite, Suite};
use serde_json::Value;

use super::util::root;

fn normalized(mut v: Value) -> Value {
    for k in ["run_id", "started_at", "finished_at"] {
        v[k] = Value::String(format!("<{k}>"));
    }
    v
}

fn golden(suite: &str, inputs: &[&str], batch_rows: Option<usize>, golden: &str) {
    let suite = Suite::from_path(root().join(suite)).unwrap();
    let compiled = CompiledSuite::new(suite).unwrap();
    let paths: Vec<_> = inputs.iter().map(|i| Path::new(i).to_path_buf()).collect();
    // Paths relative to the crate root, so reports name inputs the same on every machine.
    std::env::set_current_dir(root()).unwrap();
    let report = super::util::validate(&compiled, &paths, |b| {
        b.with_batch_rows(batch_rows).with_run_id("golden")
    });
    let got = normalized(serde_json::to_value(&report).unwrap());
    let path = root().join(golden);
    if std::env::var_os("DQ_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if got != want {
        panic!(
            "report differs from {golden}\n--- got ---\n{}",
            serde_json::to_string_pretty(&got).unwrap()
        );
    }
}

#[test]
fn claims_csv_report() {
    golden(
        "expectations/claims.yaml",
        &["fixtures/claims"],
        None,
        "fixtures/golden/claims_report.json",
    );
}

#[test]
fn payments_ndjson_report() {
    golden(
        "expectations/card_payments.yaml",
        &["fixtures/payments/payments.ndjson"],
        Some(20),
        "fixtures/golden/payments_report.json",
    );
}

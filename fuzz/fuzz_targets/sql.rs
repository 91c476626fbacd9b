//! Any text as a `sql` expectation and as a `where`: a suite error or a verdict, never a panic
//! or a stack overflow.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fn block(sql: &str) -> String {
    sql.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let yaml = format!(
        "dq_suite: 1\nname: f\nversion: 1\nexpectations:\n  - id: s\n    expect: sql\n    expr: |-\n{}\n  - id: w\n    expect: not_null\n    column: a\n    where: |-\n{}\n",
        block(sql),
        block(sql)
    );
    let Ok(suite) = dq_gate::CompiledSuite::from_yaml(&yaml, "fuzz.yaml") else {
        return;
    };
    let validator = dq_gate::Validator::builder(Arc::new(suite)).build();
    let _ = validator.validate_batch(&common::batch());
});

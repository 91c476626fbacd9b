//! A Delta table as an input: the gate's own target validated back at two versions and since a
//! version, with the rows counted.

use std::path::Path;

use serde_json::Value;

use super::util::{dq, root};

const SUITE: &str = "dq_suite: 1
name: t
version: 1
schema:
  columns:
    - {name: id, type: int64}
    - {name: amount, type: float64}
expectations:
  - {id: amount_positive, expect: between, column: amount, min: 0}
";

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)))
}

fn validate(suite: &str, table: &Path, flags: &[&str]) -> Value {
    let mut args = vec!["validate", "--suite", suite, "--format", "json"];
    args.extend_from_slice(flags);
    args.push(table.to_str().unwrap());
    json(&dq(&args, &root()))
}

#[test]
fn the_target_is_validated_at_a_version_and_since_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let suite = d.join("t.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let suite = suite.to_str().unwrap();
    let target = d.join("lake/t");
    // Three runs: 5 rows with one negative amount, then 4 and 3 clean rows.
    let mut versions = Vec::new();
    for (run, rows, bad) in [(1, 5, 1), (2, 4, 0), (3, 3, 0)] {
        let mut csv = String::from("id,amount\n");
        for i in 0..rows {
            let amount = if i < bad { -1.0 } else { 2.5 };
            csv.push_str(&format!("{},{amount}\n", run * 100 + i));
        }
        let input = d.join(format!("r{run}.csv"));
        std::fs::write(&input, csv).unwrap();
        let r = json(&dq(
            &[
                "run",
                "--suite",
                suite,
                "--target",
                target.to_str().unwrap(),
                "--quarantine",
                d.join("lake/t_q").to_str().unwrap(),
                "--format",
                "json",
                input.to_str().unwrap(),
            ],
            &root(),
        ));
        versions.push(r["tables"]["target"]["version"].as_i64().unwrap());
    }
    // Newest: every row that reached the target (4 + 4 + 3), all passing.
    let r = validate(suite, &target, &[]);
    assert_eq!(r["summary"]["rows"], 11);
    assert_eq!(r["summary"]["rows_quarantined"], 0);
    // As of the first run's commit: its 4 rows.
    let v1 = versions[0].to_string();
    let r = validate(suite, &target, &["--version", &v1]);
    assert_eq!(r["summary"]["rows"], 4);
    // Since the first run's commit: the other two runs' 7 rows.
    let r = validate(suite, &target, &["--since-version", &v1]);
    assert_eq!(r["summary"]["rows"], 7);
    // Since the newest version: nothing to read, said plainly.
    let newest = versions[2].to_string();
    let o = dq(
        &[
            "validate",
            "--suite",
            suite,
            "--since-version",
            &newest,
            target.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no data files added after version"));
    // A version flag without a Delta input is a usage error.
    let o = dq(
        &[
            "validate",
            "--suite",
            suite,
            "--version",
            "1",
            d.join("r1.csv").to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("apply to Delta table inputs"));
    // The library refuses to read a table's directory as plain files.
    let e = dq_gate::Validator::builder(std::sync::Arc::new(
        dq_gate::CompiledSuite::from_yaml(SUITE, "t.yaml").unwrap(),
    ))
    .build()
    .validate_paths(&[target.clone()])
    .unwrap_err()
    .to_string();
    assert!(e.contains("this is a Delta table"), "{e}");
}

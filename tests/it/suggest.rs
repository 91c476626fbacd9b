//! `dq-check suggest`: a starting suite from data. On the claims fixtures and the benchmark
//! table it lints and passes the data it came from; on the same data with defects injected it
//! catches them; the same input gives the same suite; personal data stays out of it.

use serde_json::Value;

use super::util::{dq, root};

fn suggest(dir: &std::path::Path, data: &str, name: &str) -> (std::path::PathBuf, String) {
    let out = dir.join(format!("{name}.yaml"));
    let o = dq(
        &[
            "suggest",
            data,
            "--name",
            name,
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    (out, text)
}

fn validate(suite: &std::path::Path, data: &str) -> Value {
    let o = dq(
        &[
            "validate",
            "--suite",
            suite.to_str().unwrap(),
            "--format",
            "json",
            data,
        ],
        &root(),
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn a_suggested_suite_passes_its_data_and_catches_defects() {
    let dir = tempfile::tempdir().unwrap();
    let (suite, text) = suggest(dir.path(), "fixtures/claims", "claims_suggested");
    let o = dq(&["lint", suite.to_str().unwrap()], &root());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The data it came from passes.
    let r = validate(&suite, "fixtures/claims");
    assert_eq!(r["summary"]["rows"], 80);
    assert_eq!(r["summary"]["rows_quarantined"], 0, "{r}");
    // Stable: the same input, the same suite.
    let (_, again) = suggest(dir.path(), "fixtures/claims", "claims_suggested");
    assert_eq!(text, again);
    // The email column is tagged pii and none of its values is in the suite.
    assert!(
        text.contains("{name: 'email', type: 'string', tags: [pii]}"),
        "{text}"
    );
    assert!(!text.contains("@example.com"));
    // The same file with defects: a state code of another shape, an unknown status, an amount
    // far out of range.
    let src = std::fs::read_to_string(root().join("fixtures/claims/claims_2025_11_a.csv")).unwrap();
    let mut lines: Vec<String> = src.lines().map(String::from).collect();
    let defect = |line: &str, col: usize, value: &str| {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        cells[col] = value.to_string();
        cells.join(",")
    };
    lines[2] = defect(&lines[2], 9, "N9");
    lines[3] = defect(&lines[3], 11, "LOST");
    lines[4] = defect(&lines[4], 7, "99999.5");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let r = validate(&suite, bad.to_str().unwrap());
    let failed: Vec<&str> = r["batches"][0]["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["success"] == false)
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for id in ["state_format", "status_valid", "paid_amount_range"] {
        assert!(failed.contains(&id), "{id} not caught: {failed:?}");
    }
    assert_eq!(r["summary"]["rows_quarantined"], 3);
}

#[test]
fn the_benchmark_table_profiles_into_a_suite_it_passes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("claims.parquet");
    let o = dq(
        &[
            "generate",
            "--rows",
            "20000",
            "--out",
            data.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(0));
    let data = data.to_str().unwrap();
    let (suite, text) = suggest(dir.path(), data, "bench");
    assert_eq!(
        dq(&["lint", suite.to_str().unwrap()], &root())
            .status
            .code(),
        Some(0)
    );
    let r = validate(&suite, data);
    assert_eq!(r["summary"]["rows"], 20000);
    assert_eq!(r["summary"]["rows_quarantined"], 0, "{text}");
    // The benchmark repeats some claim ids on purpose: no `unique` is suggested for them,
    // and no mean of an identifier.
    assert!(
        !text.contains("expect: unique, column: 'claim_id'"),
        "{text}"
    );
    assert!(!text.contains("claim_id_mean"), "{text}");
    assert!(text.contains("claim_id_range"), "{text}");
}

/// A key-like column of distinct values gets `unique`; an identifier gets no mean band.
#[test]
fn distinct_identifiers_are_suggested_unique() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("order_id,amount\n");
    for i in 0..30 {
        csv.push_str(&format!("{},{}\n", i + 1, i as f64 * 1.5));
    }
    let data = dir.path().join("orders.csv");
    std::fs::write(&data, csv).unwrap();
    let (_, text) = suggest(dir.path(), data.to_str().unwrap(), "orders");
    assert!(
        text.contains("{id: order_id_unique, expect: unique, column: 'order_id'}"),
        "{text}"
    );
    assert!(
        text.contains("amount_mean") && !text.contains("order_id_mean"),
        "{text}"
    );
    assert!(
        text.contains("{name: 'order_id', type: 'int64', nullable: false}"),
        "{text}"
    );
}

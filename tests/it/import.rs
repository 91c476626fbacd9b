//! `dq-check import gx|odcs|dqx`: suites written from the three formats' published shapes,
//! converted, linted, and evaluated on rows whose verdicts under the original tools' semantics
//! are known; every semantic difference carries its warning, every rule with no equivalent a
//! line.

use serde_json::Value;

use super::util::{dq, root};

/// Imports `file`, then validates the fixture orders with the result: the suite text, the
/// rows quarantined and the ids of the expectations that failed.
fn import_and_check(from: &str, file: &str) -> (String, u64, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("suite.yaml");
    let o = dq(
        &["import", from, file, "--out", out.to_str().unwrap()],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        dq(&["lint", out.to_str().unwrap()], &root()).status.code(),
        Some(0)
    );
    let o = dq(
        &[
            "validate",
            "--suite",
            out.to_str().unwrap(),
            "--format",
            "json",
            "fixtures/import/orders.csv",
        ],
        &root(),
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed = r["batches"][0]["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["success"] == false)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    (
        text,
        r["summary"]["rows_quarantined"].as_u64().unwrap(),
        failed,
    )
}

// The orders: 1 is clean; 2 has a code `ZZ99x` (a regex search finds `ZZ99`; five characters);
// 3 a negative amount and a ship date before its order date; 4 an unknown status and the same
// id as 5; 5 no ship date.

#[test]
fn great_expectations_suite() {
    let (text, quarantined, failed) = import_and_check("gx", "fixtures/import/orders.gx.json");
    // GX would fail rows 2 (length < 5 strictly), 3, 4 and 5 (both copies of id 4).
    assert_eq!(quarantined, 4);
    for id in [
        "status_be_in_set",
        "amount_be_between",
        "code_value_lengths_to_be_between",
        "order_id_be_unique",
        "shipped_gt_ordered",
    ] {
        assert!(
            failed.iter().any(|f| f == id),
            "{id} did not fail: {failed:?}"
        );
    }
    // The search-anchored regex passes `ZZ99x`, as GX's does.
    assert!(!failed.iter().any(|f| f.contains("match_regex")));
    assert!(text.contains("mode: search"));
    assert!(text.contains("# warning: a strict maximum length is imported as the length before"));
    assert!(text.contains("`ignore_row_if: both_values_are_missing`"));
    assert!(text.contains("# not imported: expect_column_values_to_be_in_set: a `$PARAMETER`"));
    assert!(text.contains("# not imported: expect_column_kl_divergence_to_be_less_than"));
    assert!(text.contains("where: 'status = ''PAID'''"), "{text}");
}

#[test]
fn odcs_contract() {
    let (text, quarantined, failed) = import_and_check("odcs", "fixtures/import/orders.odcs.yaml");
    assert_eq!(quarantined, 4);
    for id in [
        "order_id_unique",
        "status_invalidvalues",
        "amount_range",
        "code_length",
    ] {
        assert!(
            failed.iter().any(|f| f == id),
            "{id} did not fail: {failed:?}"
        );
    }
    // 1 null email in 5 rows is 20%: at most 20% passes.
    assert!(!failed.iter().any(|f| f.contains("email")));
    assert!(text.contains("{name: 'order_id', type: 'int64', nullable: false}"));
    assert!(text.contains("classification `restricted` imported as the `pii` tag"));
    assert!(text.contains("`mustBeBetween` imported inclusive"));
    assert!(
        text.contains("# not imported: table_sql: an ODCS `sql` rule runs in its own engine"),
        "{text}"
    );
}

#[test]
fn dqx_checks() {
    let (text, quarantined, failed) = import_and_check("dqx", "fixtures/import/orders.dqx.yaml");
    // The regex check only warns; the SQL check lets a NULL (no ship date) pass: rows 3, 4, 5.
    assert_eq!(quarantined, 3);
    for id in [
        "status_valid",
        "amount_is_in_range",
        "order_id_is_unique",
        "shipped_after_order",
    ] {
        assert!(
            failed.iter().any(|f| f == id),
            "{id} did not fail: {failed:?}"
        );
    }
    assert!(text.contains("nulls: pass"));
    assert!(text.contains("on_fail: warn"));
    assert!(
        text.contains("# not imported: code_is_in_list: `other_column` is a column expression")
    );
    assert!(text.contains("# not imported: shipped_is_data_fresh"));
}

#[test]
fn a_file_that_is_not_the_format_is_an_error() {
    let o = dq(
        &["import", "gx", "fixtures/import/orders.dqx.yaml"],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a Great Expectations 1.x suite"));
}

//! `dq-check export`: the generated CHECK constraints added to a real Delta table with
//! delta-rs, a violating append rejected and a clean one accepted; rules with no SQL row form
//! listed, not dropped.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::Value;

use super::util::{dq, root};

const SUITE: &str = "dq_suite: 1
name: orders
version: 1
schema:
  columns:
    - {name: id, type: int64, nullable: false}
    - {name: code, type: string}
    - {name: amount, type: float64}
    - {name: note, type: string}
expectations:
  - {id: amount_positive, expect: between, column: amount, min: 0, strict_min: true}
  - {id: code_known, expect: in_set, column: code, values: [AB, CD], case_insensitive: true}
  - {id: code_shape, expect: matches_regex, column: code, regex: '[a-zA-Z]{2}'}
  - {id: note_short, expect: length_between, column: note, max: 5, nulls: fail}
  - {id: id_small, expect: compare, left: id, op: '<', value: 1000}
  - {id: small_order, expect: sql, expr: 'amount < 500 OR id > 10'}
  - {id: id_unique, expect: unique, column: id}
  - {id: enough, expect: metric, metric: row_count, min: 1}
  - {id: fyi, expect: between, column: amount, max: 100, on_fail: warn}
";

/// A row of the exported table: id, code, amount, note.
type Row = (i64, Option<&'static str>, Option<f64>, Option<&'static str>);

fn batch(rows: &[Row]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("code", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("note", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn exported_constraints_guard_a_real_delta_table() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("orders.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let o = dq(
        &[
            "export",
            "delta-constraints",
            suite.to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules = v["rules"].as_array().unwrap();
    let skipped: Vec<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, vec!["id_unique", "enough", "fyi"]);
    assert_eq!(rules.len(), 7, "{rules:?}");

    // A table with the contract's columns, the constraints added by delta-rs.
    let url = deltalake::ensure_table_uri(dir.path().join("orders").to_str().unwrap()).unwrap();
    let table = deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .create()
        .with_column("id", deltalake::kernel::DataType::LONG, false, None)
        .with_column("code", deltalake::kernel::DataType::STRING, true, None)
        .with_column("amount", deltalake::kernel::DataType::DOUBLE, true, None)
        .with_column("note", deltalake::kernel::DataType::STRING, true, None)
        .await
        .unwrap();
    let mut table = table;
    for r in rules {
        table = table
            .add_constraint()
            .with_constraint(r["id"].as_str().unwrap(), r["sql"].as_str().unwrap())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", r["sql"]));
    }
    // Rows the suite passes are accepted (nulls where its null policy lets them through).
    let table = table
        .write(vec![batch(&[
            (1, Some("ab"), Some(10.0), Some("hi")),
            (21, None, None, Some("")),
            (20, Some("CD"), Some(800.0), Some("ok")),
        ])])
        .await
        .unwrap();
    // Each of these breaks exactly one exported rule; each append is rejected.
    let bad: [Row; 6] = [
        (3, Some("AB"), Some(0.0), Some("x")), // amount_positive (strict)
        (4, Some("EF"), Some(1.0), Some("x")), // code_known
        (5, Some("AB"), Some(1.0), None),      // note_short: nulls fail
        (6, Some("AB"), Some(1.0), Some("toolong")), // note_short
        (1000, Some("AB"), Some(1.0), Some("x")), // id_small
        (7, Some("AB"), Some(600.0), Some("x")), // small_order
    ];
    // The same rows through dq-gate itself: the good ones pass, each bad one is quarantined
    // (the constraints mean what the suite means).
    let compiled = Arc::new(dq_gate::CompiledSuite::from_yaml(SUITE, "orders.yaml").unwrap());
    let validator = dq_gate::Validator::builder(compiled).build();
    let good = validator
        .validate_batch(&batch(&[
            (1, Some("ab"), Some(10.0), Some("hi")),
            (21, None, None, Some("")),
            (20, Some("CD"), Some(800.0), Some("ok")),
        ]))
        .unwrap();
    assert_eq!(good.quarantined().unwrap().num_rows(), 0);
    for row in bad {
        let v = validator.validate_batch(&batch(&[row])).unwrap();
        assert_eq!(
            v.quarantined().unwrap().num_rows(),
            1,
            "{row:?} passes dq-gate"
        );
    }
    let mut table = table;
    for row in bad {
        let r = table.clone().write(vec![batch(&[row])]).await;
        assert!(r.is_err(), "{row:?} was accepted");
        table.update_state().await.unwrap();
    }
    let rows = super::util::read(&dir.path().join("orders"), "").await;
    assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
}

/// A rule on a `pii` column shared as a token checks values the target does not hold: it is
/// listed, not exported. The text forms name every skipped rule.
#[test]
fn rules_on_transformed_columns_are_listed_not_exported() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("expectations/claims.yaml")).unwrap();
    let tokenized = text.replacen("tags: [pii]", "tags: [pii]\n      share: token", 1);
    assert_ne!(text, tokenized);
    let path = dir.path().join("claims.yaml");
    std::fs::write(&path, tokenized).unwrap();
    let o = dq(
        &[
            "export",
            "dlt-sql",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        &root(),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let skipped = v["skipped"].as_array().unwrap();
    let member = skipped
        .iter()
        .find(|s| s["id"] == "member_id_format")
        .unwrap();
    assert!(
        member["reason"]
            .as_str()
            .unwrap()
            .contains("shared as token")
    );
    let o = dq(&["export", "sql", "expectations/claims.yaml"], &root());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("-- not exported: claim_id_unique: uniqueness is over the batch"));
    assert!(text.contains("SELECT * FROM claims WHERE NOT ("));
    let o = dq(&["export", "dlt-sql", "expectations/claims.yaml"], &root());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("CONSTRAINT paid_not_above_billed EXPECT (") && !text.contains("paid_not_above_billed EXPECT (COALESCE((paid_amount <= billed_amount), FALSE)) ON VIOLATION"), "{text}");
}

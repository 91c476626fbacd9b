//! What a gate must never do: pass what it did not check, crash on a suite a reviewer let
//! through, or show a protected value where it does not belong.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use serde_json::Value;

use super::util::{dq, printed, write_parquet};

const EMPTY_SUITE: &str = "dq_suite: 1
name: feed
version: 1
schema:
  columns:
    - {name: id, type: int64, nullable: false, tags: [key]}
    - {name: amount, type: float64}
expectations:
  - {id: some_rows, expect: metric, metric: row_count, min: 1}
  - {id: amount_mean, expect: metric, metric: mean, column: amount, min: 0, max: 100}
  - {id: amount_positive, expect: between, column: amount, min: 0}
";

fn empty_batch() -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef,
        ),
        (
            "amount",
            Arc::new(Float64Array::from(Vec::<f64>::new())) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn report_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", printed(o)))
}

/// Each expectation's (id, success, observed) in the first batch.
fn verdicts(r: &Value) -> Vec<(String, bool, Value)> {
    r["batches"][0]["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["success"].as_bool().unwrap(),
                e.get("observed").cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[test]
fn an_empty_input_is_judged_and_fails_its_row_count_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), EMPTY_SUITE).unwrap();
    write_parquet(&dir.path().join("empty.parquet"), &empty_batch(), 1024);
    std::fs::write(dir.path().join("header.csv"), "id,amount\n").unwrap();
    std::fs::write(dir.path().join("nothing.ndjson"), "").unwrap();
    for input in ["empty.parquet", "header.csv", "nothing.ndjson"] {
        for batch_rows in [None, Some("10")] {
            let mut args = vec!["validate", "--format", "json", "--suite", "s.yaml", input];
            if let Some(n) = batch_rows {
                args.extend(["--batch-rows", n]);
            }
            let o = dq(&args, dir.path());
            assert_eq!(o.status.code(), Some(1), "{input}: {}", printed(&o));
            let r = report_of(&o);
            assert_eq!(r["status"], "quarantined", "{input}");
            assert_eq!(r["summary"]["batches"], 1, "{input}");
            assert_eq!(r["summary"]["rows"], 0, "{input}");
            let v = verdicts(&r);
            let find = |id: &str| v.iter().find(|(i, ..)| i == id).cloned();
            assert_eq!(
                find("some_rows"),
                Some(("some_rows".into(), false, Value::from(0))),
                "{input}: {v:?}"
            );
            assert_eq!(
                find("amount_mean"),
                Some(("amount_mean".into(), false, Value::Null)),
                "{input}: {v:?}"
            );
            // A row-level check over no rows has nothing to fail.
            assert_eq!(find("amount_positive").map(|x| x.1), Some(true), "{input}");
            assert_eq!(
                find("schema.id.not_null").map(|x| x.1),
                Some(true),
                "{input}"
            );
        }
    }
}

#[tokio::test]
async fn an_empty_input_is_recorded_by_run_and_commits_no_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.yaml"), EMPTY_SUITE).unwrap();
    write_parquet(&dir.path().join("empty.parquet"), &empty_batch(), 1024);
    let o = dq(
        &[
            "run",
            "--format",
            "json",
            "--suite",
            "s.yaml",
            "empty.parquet",
            "--run-id",
            "r1",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
    let r = report_of(&o);
    assert_eq!(r["batches"][0]["outcome"], "batch_quarantined");
    let t = super::gate::read(&dir.path().join("lake/feed"), "").await;
    let q = super::gate::read(&dir.path().join("lake/feed_quarantine"), "").await;
    let n = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    assert_eq!((n(&t), n(&q)), (0, 0));
    let log = super::gate::read(
        &dir.path().join("lake/feed_dq_runs"),
        "WHERE batch = 1 ORDER BY expectation",
    )
    .await;
    let ids = super::gate::strings(&log, "expectation");
    assert!(
        ids.contains(&Some("some_rows".into())) && ids.contains(&Some("amount_mean".into())),
        "{ids:?}"
    );
}

#[test]
fn an_empty_stream_batch_in_memory_is_judged_from_the_contract() {
    let suite = dq_gate::Suite::from_yaml(EMPTY_SUITE, "s.yaml").unwrap();
    let compiled = dq_gate::CompiledSuite::new(suite);
    let r = super::util::eval_chunks(&compiled, &[]);
    let some_rows = r
        .report
        .expectations
        .iter()
        .find(|e| e.id == "some_rows")
        .unwrap();
    assert!(!some_rows.success);
    assert_eq!(some_rows.observed, Some(Value::from(0)));
    // Nothing passes unchecked: a batch-level failure over no rows.
    assert_eq!(r.report.rows, 0);
}

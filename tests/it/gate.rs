//! The gate on real Delta tables in temp dirs, read back with delta-rs and DataFusion.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use dq_gate::Gate;
use dq_gate::report::{BatchOutcome, Status};
use dq_gate::{CompiledSuite, Suite};

use super::util::{as_of, fixture_ids, ints, read, root, sorted, strings, version};

fn rows(b: &[RecordBatch]) -> usize {
    b.iter().map(RecordBatch::num_rows).sum()
}

pub(super) fn gate(suite: Suite, dir: &Path) -> dq_gate::GateBuilder {
    Gate::builder(Arc::new(CompiledSuite::new(suite).unwrap()))
        .with_target(dir.join("t").to_str().unwrap())
        .with_quarantine(dir.join("q").to_str().unwrap())
        .with_as_of(as_of())
}

pub(super) fn claims_files() -> Vec<std::path::PathBuf> {
    vec![root().join("fixtures/claims")]
}

#[tokio::test]
async fn every_row_lands_once_and_violations_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_path(root().join("expectations/claims.yaml")).unwrap();
    let report = gate(suite, dir.path())
        .with_batch_rows(Some(15))
        .with_run_id("r1")
        .build()
        .unwrap()
        .run_paths(&claims_files())
        .await
        .unwrap();
    assert_eq!(report.status, Status::Quarantined);
    let t = read(&dir.path().join("t"), "").await;
    let q = read(&dir.path().join("q"), "").await;
    assert_eq!(rows(&t) as u64, report.summary.rows_passed);
    assert_eq!(rows(&q) as u64, report.summary.rows_quarantined);
    assert_eq!(rows(&t) + rows(&q), 80);
    // Target + quarantine == input, as a multiset of claim ids (duplicates and the null too).
    let mut all = ints(&t, "claim_id");
    all.extend(ints(&q, "claim_id"));
    assert_eq!(sorted(all), sorted(fixture_ids()));
    // The target only holds rows that pass: no duplicate ids, no bad codes.
    let tids: Vec<_> = ints(&t, "claim_id").into_iter().flatten().collect();
    let mut uniq = tids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), tids.len());
    assert!(
        !strings(&t, "plan_code")
            .iter()
            .any(|p| p.as_deref() == Some("hmo01"))
    );

    // The bad-plan row carries its violation; the unparseable date keeps its text.
    let q = read(&dir.path().join("q"), "WHERE claim_id = 9100003").await;
    let v = q[0]
        .column_by_name("_dq_violations")
        .unwrap()
        .as_list::<i32>()
        .value(0);
    let v = v.as_struct();
    let ids: Vec<String> = strings(&[RecordBatch::from(v.clone())], "expectation")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(ids, vec!["plan_code_valid".to_string()]);
    let q = read(&dir.path().join("q"), "WHERE claim_id = 9100021").await;
    assert_eq!(
        strings(&q, "_dq_raw"),
        vec![Some(r#"{"service_date":"2025-13-45"}"#.to_string())]
    );
    assert_eq!(strings(&q, "_dq_run_id"), vec![Some("r1".into())]);
    assert_eq!(ints(&q, "_dq_batch"), vec![Some(2)]);

    // The run log has the run start and one row per batch and expectation.
    let runs = read(&dir.path().join("t_dq_runs"), "ORDER BY batch").await;
    let batches = ints(&runs, "batch");
    assert_eq!(batches.first(), Some(&Some(0)));
    assert_eq!(
        batches.iter().filter(|b| **b == Some(3)).count(),
        report.batches[2].expectations.len()
    );
    assert_eq!(report.tables.as_ref().unwrap().target.version, Some(1));
}

#[tokio::test]
async fn a_failed_aggregate_quarantines_the_batch_and_fail_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_yaml(
        r#"dq_suite: 1
name: t
version: 1
schema:
  mode: additive
  columns:
    - {name: claim_id, type: int64}
    - {name: billed_amount, type: float64}
expectations:
  - {id: big_enough, expect: metric, metric: row_count, min: 20}
  - {id: no_huge, expect: between, column: billed_amount, max: 100000, on_fail: fail}
"#,
        "t.yaml",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Batch 1: 15 rows (too few: whole batch to quarantine); 2: 25 rows (passes);
    // 3: a huge amount (fail: stops, committed nowhere); 4: never read.
    let csv = |n: usize, start: i64, huge: bool| {
        let mut s = String::from("claim_id,billed_amount\n");
        for i in 0..n {
            let amt = if huge && i == 3 { 1e9 } else { 10.0 };
            s.push_str(&format!("{},{amt}\n", start + i as i64));
        }
        s
    };
    for (name, body) in [
        ("1.csv", csv(15, 0, false)),
        ("2.csv", csv(25, 100, false)),
        ("3.csv", csv(25, 200, true)),
        ("4.csv", csv(25, 300, false)),
    ] {
        std::fs::write(tmp.path().join(name), body).unwrap();
    }
    let files = vec![tmp.path().to_path_buf()];
    let report = gate(suite, dir.path())
        .build()
        .unwrap()
        .run_paths(&files)
        .await
        .unwrap();
    assert_eq!(report.status, Status::Failed);
    let outcomes: Vec<BatchOutcome> = report.batches.iter().map(|b| b.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            BatchOutcome::BatchQuarantined,
            BatchOutcome::Passed,
            BatchOutcome::Failed
        ]
    );
    let t = read(&dir.path().join("t"), "").await;
    let q = read(&dir.path().join("q"), "").await;
    assert_eq!(
        sorted(ints(&t, "claim_id")),
        (100..125).map(Some).collect::<Vec<_>>()
    );
    assert_eq!(
        sorted(ints(&q, "claim_id")),
        (0..15).map(Some).collect::<Vec<_>>()
    );
    let v = strings(
        &[RecordBatch::from(
            q[0].column_by_name("_dq_violations")
                .unwrap()
                .as_list::<i32>()
                .value(0)
                .as_struct()
                .clone(),
        )],
        "expectation",
    );
    assert_eq!(v, vec![Some("big_enough".to_string())]);
    // The failed batch is in the run log.
    let runs = read(&dir.path().join("t_dq_runs"), "WHERE batch = 3").await;
    assert_eq!(strings(&runs, "outcome")[0].as_deref(), Some("failed"));
}

#[tokio::test]
async fn a_batch_that_breaks_the_contract_is_kept_whole_and_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_yaml(
        "dq_suite: 1\nname: t\nversion: 1\nschema:\n  columns:\n    - {name: id, type: int64}\n    - {name: code, type: string}\nexpectations:\n  - {id: c, expect: not_null, column: code}\n",
        "t.yaml",
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A Parquet file whose `id` is a string column: no safe cast exists.
    let bad = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(arrow::array::StringArray::from(vec!["7", "x"])) as Arc<dyn Array>,
        ),
        (
            "code",
            Arc::new(arrow::array::StringArray::from(vec![Some("A"), None])) as Arc<dyn Array>,
        ),
    ])
    .unwrap();
    let path = tmp.path().join("bad.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        bad.schema(),
        None,
    )
    .unwrap();
    w.write(&bad).unwrap();
    w.close().unwrap();
    let files = vec![path];
    let report = gate(suite, dir.path())
        .build()
        .unwrap()
        .run_paths(&files)
        .await
        .unwrap();
    assert_eq!(report.batches[0].outcome, BatchOutcome::BatchQuarantined);
    assert!(!report.schema.success);
    let q = read(&dir.path().join("q"), "ORDER BY _dq_raw").await;
    assert_eq!(rows(&q), 2);
    assert_eq!(
        strings(&q, "_dq_raw"),
        vec![Some(r#"{"id":"7"}"#.into()), Some(r#"{"id":"x"}"#.into())]
    );
    assert_eq!(strings(&q, "code"), vec![Some("A".into()), None]);
    assert!(rows(&read(&dir.path().join("t"), "").await) == 0);
}

#[tokio::test]
async fn table_constraints_are_checked_with_deltas_null_rule() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_yaml(
        "dq_suite: 1\nname: t\nversion: 1\nschema:\n  columns:\n    - {name: id, type: int64}\n    - {name: qty, type: int64}\nexpectations: []\n",
        "t.yaml",
    )
    .unwrap();
    // Create the target first with a CHECK constraint and a NOT NULL `id`.
    let url = deltalake::ensure_table_uri(dir.path().join("t").to_str().unwrap()).unwrap();
    let table = deltalake::DeltaTable::try_from_url(url).await.unwrap();
    let table = table
        .create()
        .with_column("id", deltalake::kernel::DataType::LONG, false, None)
        .with_column("qty", deltalake::kernel::DataType::LONG, true, None)
        .await
        .unwrap();
    table
        .add_constraint()
        .with_constraint("qty_small", "qty < 100")
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("a.csv"),
        "id,qty\n1,5\n2,500\n3,\n,7\n4,99\n",
    )
    .unwrap();
    let files = vec![tmp.path().join("a.csv")];
    let report = gate(suite, dir.path())
        .build()
        .unwrap()
        .run_paths(&files)
        .await
        .unwrap();
    let t = read(&dir.path().join("t"), "ORDER BY id").await;
    assert_eq!(ints(&t, "id"), vec![Some(1), Some(4)]);
    let q = read(&dir.path().join("q"), "ORDER BY id").await;
    assert_eq!(ints(&q, "id"), vec![Some(2), Some(3), None]);
    let e: HashMap<_, _> = report.batches[0]
        .expectations
        .iter()
        .map(|e| (e.id.as_str(), e.failed))
        .collect();
    // qty NULL violates `qty < 100` under Delta's rule; the null id violates NOT NULL.
    assert_eq!(e["delta.constraints.qty_small"], 2);
    assert_eq!(e["delta.not_null.id"], 1);
    assert_eq!(report.summary.rows_quarantined, 3);
}

#[tokio::test]
async fn an_incompatible_target_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let url = deltalake::ensure_table_uri(dir.path().join("t").to_str().unwrap()).unwrap();
    deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .create()
        .with_column("claim_id", deltalake::kernel::DataType::STRING, true, None)
        .await
        .unwrap();
    let suite = Suite::from_path(root().join("expectations/claims.yaml")).unwrap();
    let err = gate(suite, dir.path())
        .build()
        .unwrap()
        .run_paths(&claims_files())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("does not match the suite's schema: column `claim_id` is string in the table, int64 here"), "{msg}");
    assert_eq!(version(&dir.path().join("t")).await, Some(0));
    assert_eq!(version(&dir.path().join("q")).await, None);
    assert_eq!(version(&dir.path().join("t_dq_runs")).await, None);
}

#[tokio::test]
async fn small_batches_share_files_and_commits_carry_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_path(root().join("expectations/claims.yaml")).unwrap();
    gate(suite, dir.path())
        .with_batch_rows(Some(5))
        .with_run_id("small")
        .build()
        .unwrap()
        .run_paths(&claims_files())
        .await
        .unwrap();
    // 16 batches of 5 rows, one commit and one file per table.
    let files = std::fs::read_dir(dir.path().join("t"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "parquet")
        })
        .count();
    assert_eq!(files, 1);
    let url = deltalake::ensure_table_uri(dir.path().join("t").to_str().unwrap()).unwrap();
    let t = deltalake::open_table(url).await.unwrap();
    use futures::StreamExt;
    let history: Vec<_> = t.history(Some(1)).collect().await;
    let info = history[0].as_ref().unwrap();
    assert_eq!(info.info["dq.run_id"], "small");
    assert_eq!(info.info["dq.suite"], "claims");
    assert_eq!(info.info["dq.batches"].as_array().unwrap().len(), 16);
    assert_eq!(info.info["dq.rows_in"], 80);
    assert_eq!(
        t.snapshot()
            .unwrap()
            .transaction_version(t.log_store().as_ref(), "dq-gate:small")
            .await
            .unwrap(),
        Some(16)
    );
}

#[tokio::test]
async fn a_stream_of_batches_is_gated_too() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_yaml(
        "dq_suite: 1\nname: s\nversion: 1\nexpectations:\n  - {id: pos, expect: between, column: x, min: 0}\n",
        "s.yaml",
    )
    .unwrap();
    let b = |v: Vec<i64>| {
        Ok(RecordBatch::try_from_iter(vec![(
            "x",
            Arc::new(arrow::array::Int64Array::from(v)) as Arc<dyn Array>,
        )])
        .unwrap())
    };
    let stream = futures::stream::iter(vec![b(vec![1, -1, 2]), b(vec![-5, 6])]);
    let report = gate(suite, dir.path())
        .build()
        .unwrap()
        .run_stream("kafka:topic-a", stream)
        .await
        .unwrap();
    assert_eq!(report.summary.batches, 2);
    assert_eq!(
        sorted(ints(&read(&dir.path().join("t"), "").await, "x")),
        vec![Some(1), Some(2), Some(6)]
    );
    assert_eq!(
        sorted(ints(&read(&dir.path().join("q"), "").await, "x")),
        vec![Some(-5), Some(-1)]
    );
}

#[test]
fn a_zstd_level_out_of_range_is_refused_when_the_gate_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let suite = Suite::from_path(root().join("expectations/claims.yaml")).unwrap();
    let err = gate(suite, dir.path())
        .with_codec(dq_gate::Codec::Zstd(23))
        .build()
        .err()
        .expect("an error");
    assert!(err.to_string().contains("zstd:23"), "{err}");
    assert!(!dir.path().join("t").exists());
}

/// The gate's appends are marked blind appends in their commit info (they read no data), so
/// readers such as Spark know concurrent appends cannot conflict with them.
#[test]
fn appends_are_marked_blind() {
    let dir = tempfile::tempdir().unwrap();
    let o = super::util::dq(
        &[
            "run",
            "--suite",
            "expectations/claims.yaml",
            "--target",
            dir.path().join("claims").to_str().unwrap(),
            "--quarantine",
            dir.path().join("claims_q").to_str().unwrap(),
            "--commit-attempts",
            "3",
            "--commit-backoff-ms",
            "5",
            "--quiet",
            "fixtures/claims",
        ],
        &super::util::root(),
    );
    assert!(
        o.status.code().unwrap() < 2,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for table in ["claims", "claims_q", "claims_dq_runs"] {
        let log = dir.path().join(table).join("_delta_log");
        let mut appends = 0;
        for e in std::fs::read_dir(&log).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let info = &v["commitInfo"];
                if info["operation"] == "WRITE" {
                    assert_eq!(info["isBlindAppend"], true, "{table}: {info}");
                    // It names the version it read, the one before it with no other writer.
                    let version: i64 = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
                    assert_eq!(info["dq.read_version"], version - 1, "{table}: {info}");
                    assert_eq!(info["dq.attempt"], 1, "{table}: {info}");
                    appends += 1;
                }
            }
        }
        assert!(appends >= 1, "{table} has no append");
    }
    // A backoff beyond ten seconds is refused before anything is written.
    let o = super::util::dq(
        &[
            "run",
            "--suite",
            "expectations/claims.yaml",
            "--commit-backoff-ms",
            "20000",
            "--target",
            dir.path().join("other").to_str().unwrap(),
            "fixtures/claims",
        ],
        &super::util::root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("other").exists());
}

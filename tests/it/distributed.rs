//! Validation on a standalone Ballista cluster of two executors in this process: the report
//! equals the single-machine report on the same files, field by field, and both executors
//! judged files.

use std::path::PathBuf;
use std::sync::Arc;

use dq_gate::distributed::Cluster;
use dq_gate::{CompiledSuite, Validator};
use serde_json::Value;

use super::util::{as_of, dq, root};

/// The report without its wall clocks.
fn comparable(r: &dq_gate::Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap();
    for k in ["started_at", "finished_at"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_cluster_gives_the_single_machine_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("claims");
    let o = dq(
        &[
            "generate",
            "--rows",
            "60000",
            "--files",
            "6",
            "--out",
            data.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let compiled = CompiledSuite::from_path(root().join("benches/claims_bench.yaml")).unwrap();
    let cluster = Cluster::standalone(2, 1).await.unwrap();
    let inputs: Vec<PathBuf> = vec![data.clone()];
    for batch_rows in [None, Some(4_000)] {
        let d = cluster
            .validate(&compiled, &inputs, as_of(), batch_rows, "dist")
            .await
            .unwrap();
        let local = Validator::builder(Arc::new(compiled.clone()))
            .with_as_of(as_of())
            .with_batch_rows(batch_rows)
            .with_run_id("dist")
            .build()
            .validate_paths(&inputs)
            .unwrap();
        assert_eq!(comparable(&d.report), comparable(&local), "{batch_rows:?}");
        assert!(
            d.report.summary.rows_quarantined > 0,
            "the suite finds something"
        );
        assert_eq!(d.executors.values().sum::<usize>(), 6);
        assert_eq!(
            d.executors.len(),
            2,
            "both executors judged files: {:?}",
            d.executors
        );
    }

    // A file that cannot be read fails the job with its error, not a report.
    std::fs::write(data.join("claims-00099.parquet"), b"not parquet").unwrap();
    let err = cluster
        .validate(&compiled, &inputs, as_of(), None, "dist")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("claims-00099.parquet"), "{err}");
}

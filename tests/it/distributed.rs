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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Killed {
    Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"))
            .args(args)
            .current_dir(root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A report without what differs between two runs of the same job.
fn stripped(json: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(json).unwrap();
    for k in ["started_at", "finished_at", "run_id", "as_of"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

/// A scheduler and two executors as processes on loopback; one executor is killed while the
/// job runs. The outcome is the single-machine report or a clear error, never another report.
#[test]
fn a_lost_executor_gives_the_right_report_or_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("claims");
    let o = dq(
        &[
            "generate",
            "--rows",
            "1600000",
            "--files",
            "32",
            "--out",
            data.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(0));
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let _scheduler = spawn(&["scheduler", "--bind", &bind, "--executor-timeout-s", "4"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(&bind).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let executor = |name: &str| {
        let (p, g) = (free_port().to_string(), free_port().to_string());
        spawn(&[
            "executor",
            "--scheduler",
            &bind,
            "--port",
            &p,
            "--grpc-port",
            &g,
            "--name",
            name,
        ])
    };
    let mut doomed = executor("e1");
    let _survivor = executor("e2");
    std::thread::sleep(std::time::Duration::from_secs(3));

    let local = dq(
        &[
            "validate",
            "--suite",
            "benches/claims_bench.yaml",
            "--as-of",
            "2026-01-15",
            "--format",
            "json",
            data.to_str().unwrap(),
        ],
        &root(),
    );
    let url = format!("df://127.0.0.1:{port}");
    // Whole, the cluster gives the single-machine report.
    let whole = dq(
        &[
            "validate",
            "--cluster",
            &url,
            "--suite",
            "benches/claims_bench.yaml",
            "--as-of",
            "2026-01-15",
            "--format",
            "json",
            data.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(
        whole.status.code(),
        local.status.code(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    assert_eq!(stripped(&whole.stdout), stripped(&local.stdout));
    let judged = String::from_utf8_lossy(&whole.stderr).into_owned();
    assert!(
        judged.contains("e1") && judged.contains("e2"),
        "both executors judged files: {judged}"
    );

    // One executor lost mid-job.
    let job = std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"))
        .args([
            "validate",
            "--cluster",
            &url,
            "--suite",
            "benches/claims_bench.yaml",
            "--as-of",
            "2026-01-15",
            "--format",
            "json",
            data.to_str().unwrap(),
        ])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    doomed.0.kill().unwrap();
    let out = job.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    eprintln!(
        "after the kill: exit {:?}; {}",
        out.status.code(),
        err.trim()
    );
    match out.status.code() {
        Some(0) | Some(1) => {
            assert_eq!(stripped(&out.stdout), stripped(&local.stdout));
            assert_eq!(out.status.code(), local.status.code());
        }
        Some(2) => assert!(err.contains("Ballista cluster"), "{err}"),
        other => panic!("exit {other:?}: {err}"),
    }
}

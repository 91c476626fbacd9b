//! The gate against a real S3-compatible server on loopback (moto's server mode, from PyPI),
//! started by the test itself. moto supports conditional PUT (`If-None-Match: *`), which
//! delta-rs uses for safe concurrent commits on S3.
//!
//! The server is found as `$DQ_MOTO_SERVER`, then `moto_server` on PATH, then
//! `target/moto-venv/bin/moto_server`; when none exists it is installed there with
//! `python3 -m venv` and `pip install 'moto[server]'` (what `.ci/run` does up front).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use dq_gate::Gate;
use dq_gate::{CompiledSuite, Suite};

use super::util::{as_of, root, wait_all};
use super::util::{fixture_ids, ints, sorted};

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DQ_MOTO_SERVER") {
        return p.into();
    }
    if Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return "moto_server".into();
    }
    let venv = root().join("target/moto-venv");
    let bin = venv.join("bin/moto_server");
    if !bin.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "moto[server]==5.*"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not install moto's server (python3 -m venv + pip install 'moto[server]'); the S3 tests need it"
        );
    }
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn start_moto() -> Moto {
    let port = free_port();
    let child = Command::new(moto_binary())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").is_none() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // moto does not check signatures: a plain PUT makes the bucket.
    let resp = http(
        port,
        "PUT /dqbucket HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert!(
        resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200"),
        "{resp}"
    );
    moto
}

fn options(port: u16) -> HashMap<String, String> {
    HashMap::from([
        (
            "AWS_ENDPOINT_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ALLOW_HTTP".into(), "true".into()),
    ])
}

async fn read_s3(uri: &str, opts: &HashMap<String, String>) -> Vec<arrow::array::RecordBatch> {
    let url = url::Url::parse(uri).unwrap();
    let t = deltalake::open_table_with_storage_options(url, opts.clone())
        .await
        .unwrap();
    let ctx = SessionContext::new();
    t.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("t", t.table_provider().await.unwrap())
        .unwrap();
    ctx.sql("SELECT * FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn gating_into_s3_is_exactly_once_and_safe_for_concurrent_writers() {
    let moto = start_moto();
    let opts = options(moto.port);
    let suite = Suite::from_path(root().join("expectations/claims.yaml")).unwrap();
    let files = vec![root().join("fixtures/claims")];
    let gate = || {
        Gate::builder(Arc::new(CompiledSuite::new(suite.clone()).unwrap()))
            .with_target("s3://dqbucket/lake/claims")
            .with_quarantine("s3://dqbucket/lake/claims_quarantine")
            .with_storage_options(opts.clone())
            .with_as_of(as_of())
            .with_batch_rows(Some(20))
            .with_max_batches_per_commit(1)
            .with_run_id("s3-run")
            .build()
            .unwrap()
    };
    let report = gate().run_paths(&files).await.unwrap();
    assert_eq!(report.summary.rows, 80);
    let mut all = ints(
        &read_s3("s3://dqbucket/lake/claims", &opts).await,
        "claim_id",
    );
    all.extend(ints(
        &read_s3("s3://dqbucket/lake/claims_quarantine", &opts).await,
        "claim_id",
    ));
    assert_eq!(sorted(all), sorted(fixture_ids()));
    // Re-running the finished run commits nothing.
    let again = gate().run_paths(&files).await.unwrap();
    assert_eq!(
        again.tables.as_ref().unwrap().target.version,
        report.tables.as_ref().unwrap().target.version
    );
    assert!(
        again
            .batches
            .iter()
            .all(|b| b.committed.as_ref().unwrap().already_committed)
    );

    // Two processes at once, configured the way a user would: the standard AWS variables.
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = ["claims_2025_11_a.csv", "claims_2025_11_b.csv"]
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_dq-check"));
            c.current_dir(dir.path())
                .args(["run", "--quiet", "--suite"])
                .arg(root().join("expectations/claims.yaml"))
                .args([
                    "--target",
                    "s3://dqbucket/shared/claims",
                    "--quarantine",
                    "s3://dqbucket/shared/claims_q",
                ])
                .args([
                    "--batch-rows",
                    "10",
                    "--max-batches-per-commit",
                    "1",
                    "--run-id",
                    &format!("p{i}"),
                ])
                .arg(root().join("fixtures/claims").join(f))
                .stderr(Stdio::piped());
            for (k, v) in &opts {
                c.env(k, v);
            }
            c.spawn().unwrap()
        })
        .collect();
    wait_all(children, 1);
    let mut all = ints(
        &read_s3("s3://dqbucket/shared/claims", &opts).await,
        "claim_id",
    );
    all.extend(ints(
        &read_s3("s3://dqbucket/shared/claims_q", &opts).await,
        "claim_id",
    ));
    assert_eq!(sorted(all), sorted(fixture_ids()));
}

/// Eight `dq-check run` processes at once, each gating its own file in 10-row batches (a commit
/// per batch) into one target, quarantine and run log on the S3 server: every input row lands
/// exactly once, every run and batch is logged, every commit is a blind append, and the audit
/// reconciles all eight runs.
#[tokio::test(flavor = "multi_thread")]
async fn eight_concurrent_processes_keep_every_row_exactly_once() {
    let moto = start_moto();
    let opts = options(moto.port);
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("w.yaml");
    std::fs::write(
        &suite,
        "dq_suite: 1
name: w
version: 1
schema:
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: amount, type: float64}
expectations:
  - {id: amount_positive, expect: between, column: amount, min: 0}
",
    )
    .unwrap();
    let (workers, rows) = (8, 40);
    let mut expected = Vec::new();
    let children: Vec<_> = (0..workers)
        .map(|w| {
            let mut csv = String::from("id,amount\n");
            for i in 0..rows {
                let id = w * 1000 + i;
                // Every seventh row fails and goes to quarantine.
                let amount = if i % 7 == 3 { -1.0 } else { 2.5 };
                csv.push_str(&format!("{id},{amount}\n"));
                expected.push(Some(id as i64));
            }
            let input = dir.path().join(format!("w{w}.csv"));
            std::fs::write(&input, csv).unwrap();
            let mut c = Command::new(env!("CARGO_BIN_EXE_dq-check"));
            c.current_dir(dir.path())
                .args(["run", "--quiet", "--suite"])
                .arg(&suite)
                .args([
                    "--target",
                    "s3://dqbucket/eight/t",
                    "--quarantine",
                    "s3://dqbucket/eight/q",
                    "--runs",
                    "s3://dqbucket/eight/runs",
                    "--batch-rows",
                    "10",
                    "--max-batches-per-commit",
                    "1",
                    "--run-id",
                    &format!("w{w}"),
                ])
                .arg(&input)
                .stderr(Stdio::piped());
            for (k, v) in &opts {
                c.env(k, v);
            }
            c.spawn().unwrap()
        })
        .collect();
    wait_all(children, 1);

    let target = read_s3("s3://dqbucket/eight/t", &opts).await;
    let quarantine = read_s3("s3://dqbucket/eight/q", &opts).await;
    let passed = ints(&target, "id");
    assert_eq!(passed.len(), workers * (rows - 6));
    let mut all = passed;
    all.extend(ints(&quarantine, "id"));
    assert_eq!(sorted(all), sorted(expected));
    let log = read_s3("s3://dqbucket/eight/runs", &opts).await;
    let mut batches: Vec<(String, i64)> = super::util::strings(&log, "run_id")
        .into_iter()
        .zip(ints(&log, "batch"))
        .map(|(r, b)| (r.unwrap(), b.unwrap()))
        .filter(|(_, b)| *b > 0)
        .collect();
    batches.sort();
    batches.dedup();
    assert_eq!(batches.len(), workers * rows / 10);

    // Every commit of the target is a blind append that records the version it read.
    let url = url::Url::parse("s3://dqbucket/eight/t").unwrap();
    let t = deltalake::open_table_with_storage_options(url, opts.clone())
        .await
        .unwrap();
    let history: Vec<_> = futures::TryStreamExt::try_collect(t.history(None))
        .await
        .unwrap();
    let appends: Vec<_> = history
        .iter()
        .filter(|c| c.info.contains_key("dq.run_id"))
        .collect();
    assert_eq!(appends.len(), workers * rows / 10);
    // One creation, however many workers raced to create the table.
    let creations: Vec<_> = history
        .iter()
        .filter(|c| c.operation.as_deref() != Some("WRITE"))
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(creations.len(), 1, "{creations:?}");
    for c in appends {
        assert_eq!(c.is_blind_append, Some(true));
        assert!(c.info.get("dq.read_version").is_some_and(|v| v.is_u64()));
    }

    // The audit over S3 reconciles the eight runs.
    let out = dir.path().join("audit.json");
    let mut audit = Command::new(env!("CARGO_BIN_EXE_dq-check"));
    audit.args([
        "audit",
        "--target",
        "s3://dqbucket/eight/t",
        "--quarantine",
        "s3://dqbucket/eight/q",
        "--runs",
        "s3://dqbucket/eight/runs",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    for (k, v) in &opts {
        audit.env(k, v);
    }
    let o = audit.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let t = &a["datasets"][0]["totals"];
    assert_eq!(t["runs"], workers);
    assert_eq!(t["rows_in"], workers * rows);
    assert_eq!(t["unreconciled_runs"], 0);
}

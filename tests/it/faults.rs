//! Crashes at every commit step, then a re-run with the same run id; several processes writing
//! into the same tables at once. Every input row must end up exactly once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::util::{fixture_ids, ints, read, sorted, version};
use super::util::{root, wait_all};

fn run(
    dir: &Path,
    run_id: &str,
    failpoint: Option<&str>,
    inputs: &[PathBuf],
    extra: &[&str],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dq-check"));
    c.current_dir(dir)
        .args(["run", "--quiet", "--suite"])
        .arg(root().join("expectations/claims.yaml"))
        .args([
            "--target",
            "t",
            "--quarantine",
            "q",
            "--run-id",
            run_id,
            "--as-of",
            "2026-01-15",
        ])
        .args(extra)
        .args(inputs);
    match failpoint {
        Some(f) => c.env("DQ_GATE_FAILPOINT", f),
        None => c.env_remove("DQ_GATE_FAILPOINT"),
    };
    c.output().unwrap()
}

async fn landed(dir: &Path) -> Vec<Option<i64>> {
    let mut all = ints(&read(&dir.join("t"), "").await, "claim_id");
    all.extend(ints(&read(&dir.join("q"), "").await, "claim_id"));
    sorted(all)
}

#[tokio::test]
async fn a_crash_at_any_commit_step_then_a_rerun_lands_every_row_once() {
    let inputs = vec![root().join("fixtures/claims")];
    let per_batch = ["--batch-rows", "15", "--max-batches-per-commit", "1"];
    for point in [
        "files_written",
        "quarantine_committed",
        "target_committed",
        "runs_committed",
    ] {
        for batch in [1, 4] {
            let dir = tempfile::tempdir().unwrap();
            let fp = format!("{point}:{batch}");
            let crashed = run(dir.path(), "crashy", Some(&fp), &inputs, &per_batch);
            assert!(
                crashed.status.code().is_none() || crashed.status.code() == Some(134),
                "{fp}: expected an abort, got {:?}\n{}",
                crashed.status,
                String::from_utf8_lossy(&crashed.stderr)
            );
            let again = run(dir.path(), "crashy", None, &inputs, &per_batch);
            assert_eq!(
                again.status.code(),
                Some(1),
                "{fp}: {}",
                String::from_utf8_lossy(&again.stderr)
            );
            assert_eq!(landed(dir.path()).await, sorted(fixture_ids()), "{fp}");
            // A re-run of a finished run changes no table version.
            let before = [
                version(&dir.path().join("t")).await,
                version(&dir.path().join("q")).await,
                version(&dir.path().join("t_dq_runs")).await,
            ];
            let third = run(dir.path(), "crashy", None, &inputs, &per_batch);
            assert_eq!(third.status.code(), Some(1));
            let after = [
                version(&dir.path().join("t")).await,
                version(&dir.path().join("q")).await,
                version(&dir.path().join("t_dq_runs")).await,
            ];
            assert_eq!(before, after, "{fp}");
        }
    }
}

#[tokio::test]
async fn a_rerun_must_gate_the_same_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let all = vec![root().join("fixtures/claims")];
    let one = vec![root().join("fixtures/claims/claims_2025_11_a.csv")];
    assert_eq!(run(dir.path(), "r", None, &all, &[]).status.code(), Some(1));
    let o = run(dir.path(), "r", None, &one, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a re-run must gate the same inputs"));
}

/// Three partitions of 60 claims as CSV files in `data`, every fifth row bad; their ids.
fn partitions(data: &Path) -> (Vec<PathBuf>, Vec<Option<i64>>) {
    let header = "claim_id,member_id,plan_code,provider_npi,service_date,paid_date,billed_amount,paid_amount,diagnosis_code,state,email,status\n";
    let mut expected = Vec::new();
    let mut files = Vec::new();
    for p in 0..3 {
        let mut s = String::from(header);
        for i in 0..60 {
            let id = p * 1000 + i;
            // Every fifth row has a bad plan code and goes to quarantine.
            let plan = if i % 5 == 0 { "BAD" } else { "HMO01" };
            s.push_str(&format!(
                "{id},M000000001,{plan},1234567890,2025-01-01,2025-01-02,100.0,50.0,E11.9,CA,,PAID\n"
            ));
            expected.push(Some(id));
        }
        let f = data.join(format!("p{p}.csv"));
        std::fs::write(&f, s).unwrap();
        files.push(f);
    }
    (files, expected)
}

/// One `dq-check run` process per file, all at once, into the same tables in `dir`.
fn writers(dir: &Path, files: &[PathBuf], pause: Option<&str>) -> Vec<std::process::Child> {
    files
        .iter()
        .enumerate()
        .map(|(p, f)| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_dq-check"));
            c.current_dir(dir)
                .args(["run", "--quiet", "--suite"])
                .arg(root().join("expectations/claims.yaml"))
                .args([
                    "--target",
                    "t",
                    "--quarantine",
                    "q",
                    "--batch-rows",
                    "10",
                    "--max-batches-per-commit",
                    "1",
                ])
                .args(["--run-id", &format!("writer-{p}")])
                .arg(f)
                .stderr(std::process::Stdio::piped());
            match pause {
                Some(p) => c.env("DQ_GATE_PAUSE", p),
                None => c.env_remove("DQ_GATE_PAUSE"),
            };
            c.spawn().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn concurrent_writers_into_the_same_tables_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (files, expected) = partitions(data.path());
    wait_all(writers(dir.path(), &files, None), 1);
    assert_eq!(landed(dir.path()).await, sorted(expected));
    let q = ints(&read(&dir.path().join("q"), "").await, "claim_id");
    assert_eq!(q.len(), 36);
    let runs = read(&dir.path().join("t_dq_runs"), "WHERE batch = 0").await;
    assert_eq!(runs.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
}

/// Every writer finds the tables missing, then waits, so that all of them create each table
/// at once: one creation per table lands, and the writers that lost use it. (Committed again
/// as the next version, a losing creation was a second metadata commit that conflicted with
/// the appends of the others.)
#[tokio::test]
async fn writers_that_all_find_no_table_create_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (files, expected) = partitions(data.path());
    wait_all(writers(dir.path(), &files, Some("table_missing:1500")), 1);
    assert_eq!(landed(dir.path()).await, sorted(expected));
    for table in ["t", "q", "t_dq_runs"] {
        let url = deltalake::ensure_table_uri(dir.path().join(table).to_str().unwrap()).unwrap();
        let t = deltalake::open_table(url).await.unwrap();
        let history: Vec<_> = futures::TryStreamExt::try_collect(t.history(None))
            .await
            .unwrap();
        let not_appends: Vec<_> = history
            .iter()
            .filter(|c| c.operation.as_deref() != Some("WRITE"))
            .map(|c| (c.operation.clone(), c.read_version))
            .collect();
        assert_eq!(not_appends.len(), 1, "{table}: {not_appends:?}");
        assert_eq!(not_appends[0].0.as_deref(), Some("CREATE TABLE"), "{table}");
    }
    let runs = read(&dir.path().join("t_dq_runs"), "WHERE batch = 0").await;
    assert_eq!(runs.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
}

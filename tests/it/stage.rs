//! Staged commits: four workers stage their runs, one committer commits them in one commit per
//! table; every row lands exactly once, and a committer or a worker run again adds nothing.

use std::path::Path;

use serde_json::Value;

use super::util::{dq, ints, read, root, sorted};

const SUITE: &str = "dq_suite: 1
name: w
version: 1
schema:
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: amount, type: float64}
expectations:
  - {id: amount_positive, expect: between, column: amount, min: 0}
";

fn worker(d: &Path, w: usize) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"));
    c.current_dir(root()).args([
        "run",
        "--quiet",
        "--stage",
        "--suite",
        d.join("w.yaml").to_str().unwrap(),
        "--target",
        d.join("lake/t").to_str().unwrap(),
        "--quarantine",
        d.join("lake/q").to_str().unwrap(),
        "--batch-rows",
        "10",
        "--max-batches-per-commit",
        "1",
        "--run-id",
        &format!("w{w}"),
        "--report",
        d.join(format!("w{w}.json")).to_str().unwrap(),
        d.join(format!("w{w}.csv")).to_str().unwrap(),
    ]);
    c
}

fn commit(d: &Path) -> Value {
    let o = dq(
        &[
            "commit-staged",
            "--target",
            d.join("lake/t").to_str().unwrap(),
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
    serde_json::from_slice(&o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn staged_runs_are_committed_once_by_one_committer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("w.yaml"), SUITE).unwrap();
    let (workers, rows) = (4, 40);
    let mut expected = Vec::new();
    for w in 0..workers {
        let mut csv = String::from("id,amount\n");
        for i in 0..rows {
            let id = (w * 1000 + i) as i64;
            csv.push_str(&format!("{id},{}\n", if i % 7 == 3 { -1.0 } else { 2.5 }));
            expected.push(Some(id));
        }
        std::fs::write(d.join(format!("w{w}.csv")), csv).unwrap();
    }
    let children: Vec<_> = (0..workers)
        .map(|w| {
            worker(d, w)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    super::util::wait_all(children, 1);

    // Staged: files written, nothing committed but the tables' creation.
    assert!(
        read(&d.join("lake/t"), "")
            .await
            .iter()
            .all(|b| b.num_rows() == 0)
    );
    let staged = std::fs::read_dir(d.join("lake/t_dq_runs/_dq_staged"))
        .unwrap()
        .count();
    assert_eq!(staged, workers);
    let before = super::util::version(&d.join("lake/t")).await.unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("w2.json")).unwrap()).unwrap();
    assert_eq!(report["tables"]["staged"], true);
    assert!(
        report["batches"][0]
            .get("committed")
            .is_none_or(Value::is_null)
    );

    // Keep a manifest, as a committer killed before removing them would leave it.
    let kept = d.join("lake/t_dq_runs/_dq_staged/w0.json");
    let copy = std::fs::read(&kept).unwrap();

    let c = commit(d);
    assert_eq!(c["runs"].as_array().unwrap().len(), workers);
    let commits = c["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 3, "quarantine, target, run log: {c}");
    for t in commits {
        assert_eq!(t["runs"].as_array().unwrap().len(), workers, "{t}");
    }
    // One commit added every worker's rows to the target.
    assert_eq!(
        super::util::version(&d.join("lake/t")).await.unwrap(),
        before + 1
    );
    let mut all = ints(&read(&d.join("lake/t"), "").await, "id");
    assert_eq!(all.len(), workers * (rows - 6));
    all.extend(ints(&read(&d.join("lake/q"), "").await, "id"));
    assert_eq!(sorted(all.clone()), sorted(expected.clone()));
    let log = read(&d.join("lake/t_dq_runs"), "WHERE batch > 0").await;
    let mut batches: Vec<(Option<String>, Option<i64>)> = super::util::strings(&log, "run_id")
        .into_iter()
        .zip(ints(&log, "batch"))
        .collect();
    batches.sort();
    batches.dedup();
    assert_eq!(
        batches.len(),
        workers * rows / 10,
        "every batch of every run logged"
    );

    // Nothing is left to commit; a manifest found again adds nothing.
    let again = commit(d);
    assert!(again["runs"].as_array().unwrap().is_empty());
    std::fs::write(&kept, copy).unwrap();
    let replay = commit(d);
    assert_eq!(replay["runs"].as_array().unwrap().len(), 1);
    assert!(
        replay["commits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["version"].is_null()),
        "{replay}"
    );

    // A worker run again after its run was committed stages nothing.
    let o = worker(d, 1).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(commit(d)["runs"].as_array().unwrap().is_empty());
    let mut now = ints(&read(&d.join("lake/t"), "").await, "id");
    now.extend(ints(&read(&d.join("lake/q"), "").await, "id"));
    assert_eq!(sorted(now), sorted(expected));

    // The audit attributes the staged commit's rows to each run and reconciles them.
    let out = d.join("audit.json");
    let o = dq(
        &[
            "audit",
            "--target",
            d.join("lake/t").to_str().unwrap(),
            "--quarantine",
            d.join("lake/q").to_str().unwrap(),
            "--format",
            "json",
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
    let a: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let t = &a["datasets"][0]["totals"];
    assert_eq!(t["runs"], workers);
    assert_eq!(t["rows_to_target"], workers * (rows - 6));
    assert_eq!(t["unreconciled_runs"], 0);
}

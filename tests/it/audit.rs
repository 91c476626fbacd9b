//! `dq-check audit` over ten simulated days with a release, a discard and a run killed and
//! never re-run: its figures against a hand count, the mark on the broken run, the SHA-256
//! recomputed from the JSON record, and the page opened in headless chromium without any
//! protected value in it.

use std::path::Path;

use serde_json::Value;

use super::util::{dq, root};

fn suite(version: u32, min: i64) -> String {
    format!(
        "dq_suite: 1
name: pay
version: {version}
schema:
  columns:
    - {{name: id, type: int64, tags: [key]}}
    - {{name: email, type: string, tags: [pii]}}
    - {{name: amount, type: float64}}
expectations:
  - {{id: amount_nonneg, expect: between, column: amount, min: {min}}}
  - {{id: rows_present, expect: metric, metric: row_count, min: 1}}
"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Day `day`: 10 rows, `bad` of them with a negative amount, each with a member email.
fn day(dir: &Path, suite: &str, day: u32, bad: usize, crash: Option<&str>) -> i32 {
    let mut csv = String::from("id,email,amount\n");
    for i in 0..10 {
        let amount = if i < bad { -5.0 } else { 10.0 };
        csv.push_str(&format!(
            "{},member{day}x{i}@corp.example,{amount}\n",
            day * 100 + i as u32
        ));
    }
    let input = write(dir, &format!("d{day}.csv"), &csv);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"));
    cmd.args([
        "run",
        "--suite",
        suite,
        "--target",
        dir.join("lake/pay").to_str().unwrap(),
        "--quarantine",
        dir.join("lake/pay_quarantine").to_str().unwrap(),
        "--run-id",
        &format!("d{day}"),
        "--as-of",
        &format!("2026-11-{day:02}T06:00:00Z"),
        "--quiet",
        "--actor",
        "scheduler",
        &input,
    ])
    .current_dir(root());
    if let Some(point) = crash {
        cmd.env("DQ_GATE_FAILPOINT", point);
    }
    cmd.output().unwrap().status.code().unwrap_or(-1)
}

fn audit(dir: &Path, out: &str, extra: &[&str]) -> (i32, String) {
    let target = dir.join("lake/pay").to_str().unwrap().to_string();
    let quarantine = dir
        .join("lake/pay_quarantine")
        .to_str()
        .unwrap()
        .to_string();
    let out = dir.join(out).to_str().unwrap().to_string();
    let mut args = vec![
        "audit",
        "--target",
        &target,
        "--quarantine",
        &quarantine,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    let o = dq(&args, &root());
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_month_of_runs_audited_and_reconciled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = write(d, "v1.yaml", &suite(1, 0));
    for n in 1..=10 {
        let bad = if n == 3 || n == 7 { 2 } else { 0 };
        // Day 5 is killed once its rows are in the target, before the run log, and never re-run.
        let crash = (n == 5).then_some("target_committed:1");
        let code = day(d, &v1, n, bad, crash);
        assert!(crash.is_some() || code < 2, "day {n}: {code}");
    }
    // Day 3's two rows released under version 2 (amounts down to -10 allowed); day 7's
    // discarded.
    let v2 = write(d, "v2.yaml", &suite(2, -10));
    let o = dq(
        &[
            "quarantine",
            "release",
            "--suite",
            &v2,
            "--target",
            d.join("lake/pay").to_str().unwrap(),
            "--quarantine",
            d.join("lake/pay_quarantine").to_str().unwrap(),
            "--run-id",
            "d3",
            "--release-id",
            "fix-3",
            "--as-of",
            "2026-11-12T09:00:00Z",
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = dq(
        &[
            "quarantine",
            "discard",
            "--quarantine",
            d.join("lake/pay_quarantine").to_str().unwrap(),
            "--run-id",
            "d7",
            "--reason",
            "test rows from a partner's sandbox",
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The whole month, as JSON.
    let (code, printed) = audit(
        d,
        "audit.json",
        &[
            "--format",
            "json",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
        ],
    );
    assert_eq!(code, 1, "a run does not reconcile: {printed}");
    let record = std::fs::read(d.join("audit.json")).unwrap();
    let a: Value = serde_json::from_slice(&record).unwrap();
    let ds = &a["datasets"][0];
    let t = &ds["totals"];
    // Ten runs; nine logged their 10 rows; day 5's 10 rows reached the target unlogged.
    assert_eq!(t["runs"], 10);
    assert_eq!(t["rows_in"], 90);
    assert_eq!(t["rows_to_target"], 86 + 10);
    assert_eq!(t["rows_to_quarantine"], 4);
    assert_eq!(t["rows_released"], 2);
    assert_eq!(t["unreconciled_runs"], 1);
    let runs = ds["run_list"].as_array().unwrap();
    let broken: Vec<&Value> = runs.iter().filter(|r| r["reconciled"] == false).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0]["run_id"], "d5");
    assert!(
        broken[0]["note"]
            .as_str()
            .unwrap()
            .contains("never finished")
    );
    assert_eq!(broken[0]["committed_to_target"], 10);
    assert!(
        runs.iter()
            .filter(|r| r["kind"] == "run")
            .all(|r| r["actor"] == "scheduler")
    );
    let release = runs.iter().find(|r| r["kind"] == "release").unwrap();
    assert_eq!(release["run_id"], "release:fix-3");
    assert_eq!(release["committed_to_target"], 2);
    assert_eq!(release["reconciled"], true);
    // Expectations over the nine logged batches.
    let e = ds["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "amount_nonneg")
        .unwrap();
    assert_eq!(
        (e["batches"].as_u64(), e["failed_batches"].as_u64()),
        (Some(9), Some(2))
    );
    assert_eq!(
        (e["evaluated"].as_u64(), e["failed"].as_u64()),
        (Some(90), Some(4))
    );
    assert!((e["pass_rate"].as_f64().unwrap() - 86.0 / 90.0).abs() < 1e-12);
    assert_eq!(e["trend"].as_array().unwrap().len(), 9);
    assert_eq!(e["worst"][0]["failed"], 2);
    // The quarantine's fate: 4 opened, 2 released, 2 discarded, none open.
    let q = &ds["quarantine_rows"];
    assert_eq!(
        (
            q["opened"].as_u64(),
            q["released"].as_u64(),
            q["discarded"].as_u64(),
            q["open"].as_u64()
        ),
        (Some(4), Some(2), Some(2), Some(0))
    );
    // One suite version judged the runs (version 2 only the release).
    assert_eq!(ds["suite_versions"].as_array().unwrap().len(), 1);
    assert_eq!(ds["suite_versions"][0]["runs"], 10);

    // A shorter period: days 2 to 4.
    audit(
        d,
        "short.json",
        &[
            "--format",
            "json",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-04",
        ],
    );
    let s: Value = serde_json::from_slice(&std::fs::read(d.join("short.json")).unwrap()).unwrap();
    assert_eq!(s["datasets"][0]["totals"]["runs"], 3);
    assert_eq!(s["datasets"][0]["totals"]["rows_in"], 30);
    assert_eq!(s["datasets"][0]["totals"]["unreconciled_runs"], 0);

    // The page cites its JSON record by SHA-256, which recomputes.
    let (code, printed) = audit(
        d,
        "audit.html",
        &["--from", "2026-11-01", "--to", "2026-11-30"],
    );
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(d.join("audit.html")).unwrap();
    let record = std::fs::read(d.join("audit.json")).unwrap();
    let sha = dq_gate::monitor::audit_page::sha256(&record);
    assert!(html.contains(&format!("<code id=\"sha256\">{sha}</code>")));
    assert!(printed.contains(&sha));
    // Tampering with the record changes it.
    let mut tampered = record.clone();
    let i = tampered.iter().position(|b| *b == b'9').unwrap();
    tampered[i] = b'8';
    assert_ne!(dq_gate::monitor::audit_page::sha256(&tampered), sha);
    let (_, _) = audit(d, "audit.md", &["--format", "md"]);
    let md = std::fs::read_to_string(d.join("audit.md")).unwrap();
    assert!(md.contains("**NO**: started and never finished"), "{md}");

    // No member email in any form.
    for text in [&html, &md, &String::from_utf8_lossy(&record).into_owned()] {
        assert!(!text.contains("@corp.example"), "a pii value leaked");
    }

    // With the suite, its SLOs at the period's end: completeness over the logged runs.
    let with_slo = write(
        d,
        "slo.yaml",
        &(suite(1, 0)
            + "slos:\n  - {id: complete, kind: completeness, objective: 0.99, window: 60d}\n"),
    );
    audit(
        d,
        "slo.json",
        &[
            "--suite",
            &with_slo,
            "--format",
            "json",
            "--to",
            "2026-11-30",
        ],
    );
    let s: Value = serde_json::from_slice(&std::fs::read(d.join("slo.json")).unwrap()).unwrap();
    let o = &s["datasets"][0]["slos"][0];
    assert_eq!(
        (o["good"].as_f64(), o["valid"].as_f64()),
        (Some(86.0), Some(90.0))
    );
    assert_eq!(o["state"], "breached");

    // Headless chromium renders the page with its charts and the mark on the broken run.
    let page = d.join("audit.html");
    let dom = super::util::browse(&page, &d.join("profile"), &["--dump-dom"]);
    assert!(dom.contains("id=\"reconciliation\""), "{dom}");
    assert_eq!(dom.matches("class=\"bad unreconciled\"").count(), 1);
    assert!(
        dom.matches("class=\"trend\"").count() >= 2,
        "a trend chart per expectation"
    );
}

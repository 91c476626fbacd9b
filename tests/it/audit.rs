//! `dq-check audit` over a simulated month with a new suite version, a release, a discard and
//! a run killed and never re-run: its figures against a hand count, the mark on the broken run,
//! what changed between the suite versions, the tables' versions at the period's end read back
//! by time travel, the SHA-256 recomputed from the JSON record, and the page opened in headless
//! chromium without any protected value in it.

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
    // Version 2 (amounts down to -10 allowed) judges from day 16 on: day 20's two negative
    // amounts pass.
    let v2 = write(d, "v2.yaml", &suite(2, -10));
    for n in 1..=30 {
        let bad = if [3, 7, 20].contains(&n) { 2 } else { 0 };
        // Day 5 is killed once its rows are in the target, before the run log, and never re-run.
        let crash = (n == 5).then_some("target_committed:1");
        let code = day(d, if n < 16 { &v1 } else { &v2 }, n, bad, crash);
        assert!(crash.is_some() || code < 2, "day {n}: {code}");
    }
    // Day 3's two rows released under version 2; day 7's discarded.
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
    // Thirty runs; 29 logged their 10 rows; day 5's 10 rows reached the target unlogged.
    assert_eq!(t["runs"], 30);
    assert_eq!(t["rows_in"], 290);
    assert_eq!(t["rows_to_target"], 286 + 10);
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
    // Expectations over the 29 logged batches: two failed under version 1, none under 2.
    let e = ds["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "amount_nonneg")
        .unwrap();
    assert_eq!(
        (e["batches"].as_u64(), e["failed_batches"].as_u64()),
        (Some(29), Some(2))
    );
    assert_eq!(
        (e["evaluated"].as_u64(), e["failed"].as_u64()),
        (Some(290), Some(4))
    );
    assert!((e["pass_rate"].as_f64().unwrap() - 286.0 / 290.0).abs() < 1e-12);
    assert_eq!(e["trend"].as_array().unwrap().len(), 29);
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
    // Two suite versions judged the runs, and what changed between them is the suite diff:
    // a lower bound loosened is a guarantee lost to the table's readers.
    let sv = ds["suite_versions"].as_array().unwrap();
    assert_eq!(sv.len(), 2);
    assert_eq!(
        (sv[0]["version"].as_i64(), sv[0]["runs"].as_u64()),
        (Some(1), Some(15))
    );
    assert_eq!(
        (sv[1]["version"].as_i64(), sv[1]["runs"].as_u64()),
        (Some(2), Some(15))
    );
    assert!(sv[0].get("changes").is_none(), "no version came before 1");
    let c = &sv[1]["changes"];
    assert_eq!(c["from_version"], 1);
    assert_eq!(c["verdict"], "breaking", "{c}");
    let changes = c["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{c}");
    assert_eq!(changes[0]["path"], "expectations.amount_nonneg");
    // A period within version 2 still says what changed from the version before it.
    let (_, _) = audit(
        d,
        "late.json",
        &[
            "--format",
            "json",
            "--from",
            "2026-11-20",
            "--to",
            "2026-11-30",
        ],
    );
    let late: Value = serde_json::from_slice(&std::fs::read(d.join("late.json")).unwrap()).unwrap();
    let sv = late["datasets"][0]["suite_versions"].as_array().unwrap();
    assert_eq!((sv.len(), sv[0]["runs"].as_u64()), (1, Some(11)));
    assert_eq!(sv[0]["changes"]["verdict"], "breaking");

    // The tables' versions at the period's end. By the runs' clock: time travel to the
    // target's version holds exactly the rows of days 1 to 10 (86 passed, day 5's 10 unlogged).
    let (_, _) = audit(
        d,
        "early.json",
        &[
            "--format",
            "json",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-10",
        ],
    );
    let early: Value =
        serde_json::from_slice(&std::fs::read(d.join("early.json")).unwrap()).unwrap();
    let of_runs = &early["datasets"][0]["versions_of_runs"];
    let now = &early["datasets"][0]["versions"];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let count = |table: &str, v: &Value| {
        rt.block_on(super::util::count_at(&d.join(table), v.as_i64().unwrap()))
    };
    assert_eq!(count("lake/pay", &of_runs["target"]), 96);
    assert_eq!(count("lake/pay_quarantine", &of_runs["quarantine"]), 4);
    assert_eq!(count("lake/pay", &now["target"]), 296 + 2);
    assert!(of_runs["target"].as_i64() < now["target"].as_i64());
    // By the commits' wall clock: nothing was committed by the end of November (the month was
    // gated today), and everything by the end of today.
    for table in ["target", "quarantine", "runs"] {
        assert!(early["datasets"][0]["versions_at_end"][table].is_null());
    }
    let today = chrono::Utc::now().date_naive().to_string();
    let (_, _) = audit(d, "today.json", &["--format", "json", "--to", &today]);
    let today: Value =
        serde_json::from_slice(&std::fs::read(d.join("today.json")).unwrap()).unwrap();
    assert_eq!(
        today["datasets"][0]["versions_at_end"],
        today["datasets"][0]["versions"]
    );

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
    assert!(
        md.contains("#### pay version 1 → 2: breaking")
            && md.contains("`expectations.amount_nonneg`"),
        "{md}"
    );

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
        (Some(286.0), Some(290.0))
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
    assert!(
        dom.contains("<ul class=\"changes\">"),
        "what changed between versions"
    );
    assert!(dom.contains("id=\"versions\""));
}

/// A run log from before the `measure`, `input_columns`, `run_kind` and `suite_text` columns:
/// the audit reads it as it is, names the version whose text it lacks, and the next run brings
/// it up to today's columns.
#[test]
fn an_older_run_log_is_read_and_then_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = write(d, "v1.yaml", &suite(1, 0));
    assert_eq!(day(d, &v1, 1, 0, None), 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let old = d.join("lake/old_runs");
    rt.block_on(async {
        let rows = super::util::read(&d.join("lake/pay_dq_runs"), "").await;
        let keep = |b: &arrow::array::RecordBatch| {
            let schema = b.schema();
            let idx: Vec<usize> = (0..schema.fields().len())
                .filter(|i| {
                    !["measure", "input_columns", "run_kind", "suite_text"]
                        .contains(&schema.field(*i).name().as_str())
                })
                .collect();
            b.project(&idx).unwrap()
        };
        let url = deltalake::ensure_table_uri(old.to_str().unwrap()).unwrap();
        deltalake::DeltaTable::try_from_url(url)
            .await
            .unwrap()
            .write(rows.iter().map(keep))
            .await
            .unwrap();
    });
    let runs = old.to_str().unwrap();
    let (code, printed) = audit(d, "a.json", &["--runs", runs, "--format", "json"]);
    assert_eq!(code, 0, "{printed}");
    let a: Value = serde_json::from_slice(&std::fs::read(d.join("a.json")).unwrap()).unwrap();
    assert_eq!(a["datasets"][0]["totals"]["rows_in"], 10);
    assert_eq!(a["datasets"][0]["run_list"][0]["kind"], "run");

    // Day 2 under version 2 into the old run log: it gains the columns, and the audit says
    // version 1's text was never recorded.
    let v2 = write(d, "v2.yaml", &suite(2, -10));
    let o = dq(
        &[
            "run",
            "--suite",
            &v2,
            "--target",
            d.join("lake/pay").to_str().unwrap(),
            "--quarantine",
            d.join("lake/pay_quarantine").to_str().unwrap(),
            "--runs",
            runs,
            "--run-id",
            "d2",
            "--as-of",
            "2026-11-02T06:00:00Z",
            "--quiet",
            &write(d, "d2.csv", "id,email,amount\n7,a@corp.example,1.5\n"),
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let columns: Vec<String> = rt.block_on(async {
        super::util::read(&old, "LIMIT 1").await[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    });
    for c in ["measure", "input_columns", "run_kind", "suite_text"] {
        assert!(columns.iter().any(|n| n == c), "{c} missing: {columns:?}");
    }
    audit(d, "b.json", &["--runs", runs, "--format", "json"]);
    let b: Value = serde_json::from_slice(&std::fs::read(d.join("b.json")).unwrap()).unwrap();
    let sv = b["datasets"][0]["suite_versions"].as_array().unwrap();
    assert_eq!(sv.len(), 2);
    let c = &sv[1]["changes"];
    assert!(c.get("verdict").is_none(), "{c}");
    assert!(
        c["note"]
            .as_str()
            .unwrap()
            .contains("holds no text of version 1"),
        "{c}"
    );
    assert_eq!(b["datasets"][0]["totals"]["rows_in"], 11);
}

/// A suite that compares a `pii` column with literal values (a blocklist) keeps its text out
/// of the run log; the audit names the expectations instead of showing the change.
#[test]
fn a_suite_holding_pii_values_is_not_kept_in_the_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let blocked = |version: u32| {
        suite(version, 0)
            + "  - {id: not_blocked, expect: not_in_set, column: email, values: [blocked@corp.example]}\n"
    };
    let v1 = write(d, "v1.yaml", &blocked(1));
    let v2 = write(d, "v2.yaml", &blocked(2).replace("min: 0", "min: -1"));
    assert_eq!(day(d, &v1, 1, 0, None), 0);
    assert_eq!(day(d, &v2, 2, 0, None), 0);
    let suite = dq_gate::Suite::from_path(&v1).unwrap();
    assert_eq!(suite.pii_literals(), vec!["not_blocked"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = rt.block_on(super::util::read(&d.join("lake/pay_dq_runs"), ""));
    for b in &log {
        let text = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(b))
            .unwrap()
            .to_string();
        assert!(!text.contains("blocked@corp.example"), "{text}");
    }
    let (code, printed) = audit(d, "a.json", &["--format", "json"]);
    assert_eq!(code, 0, "{printed}");
    let record = std::fs::read_to_string(d.join("a.json")).unwrap();
    assert!(!record.contains("@corp.example"));
    let a: Value = serde_json::from_str(&record).unwrap();
    let c = &a["datasets"][0]["suite_versions"][1]["changes"];
    assert!(c["note"].as_str().unwrap().contains("not_blocked"), "{c}");
    assert!(c.get("verdict").is_none());

    // The bundled suite keeps its text: its pii columns are checked by shape, not by value.
    let claims =
        dq_gate::Suite::from_path(super::util::root().join("expectations/claims.yaml")).unwrap();
    assert!(claims.pii_literals().is_empty());
}

//! Objectives (SLOs) and `dq-check status` over simulated days that cross a suite version:
//! every figure against a hand count, and the exit codes a scheduler pages on.

use std::path::Path;

use serde_json::Value;

use super::util::{dq, root};

fn suite(version: u32, slos: &str) -> String {
    format!(
        "dq_suite: 1
name: pay
version: {version}
schema:
  columns:
    - {{name: id, type: int64}}
    - {{name: amount, type: float64}}
expectations:
  - {{id: amount_positive, expect: between, column: amount, min: 0}}
slos:
{slos}"
    )
}

const SLOS: &str = "  - {id: complete, kind: completeness, objective: 0.9, window: 7d}
  - {id: batches_clean, kind: validity, objective: 0.5, window: 7d}
  - {id: fresh, kind: freshness, max_age: 36h, objective: 0.8, window: 7d}
  - {id: amounts_valid, kind: validity, expectation: amount_positive, objective: 0.99, window: 7d}
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(dir: &Path, suite: &str, day: u32, negatives: usize) {
    let mut csv = String::from("id,amount\n");
    for i in 0..10 {
        let amount = if i < negatives { -5.0 } else { 12.5 };
        csv.push_str(&format!("{},{amount}\n", day * 100 + i as u32));
    }
    let input = write(dir, &format!("d{day}.csv"), &csv);
    let o = dq(
        &[
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
            &input,
        ],
        &root(),
    );
    assert!(
        o.status.code().unwrap() < 2,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn status(dir: &Path, suite: &str, as_of: &str) -> (i32, Value, String) {
    let args = |format: &str| {
        dq(
            &[
                "status",
                "--suite",
                suite,
                "--target",
                dir.join("lake/pay").to_str().unwrap(),
                "--quarantine",
                dir.join("lake/pay_quarantine").to_str().unwrap(),
                "--as-of",
                as_of,
                "--format",
                format,
            ],
            &root(),
        )
    };
    let o = args("json");
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
    let t = args("text");
    assert_eq!(t.status.code(), o.status.code());
    (
        o.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&t.stdout).into_owned(),
    )
}

fn slo<'a>(st: &'a Value, id: &str) -> &'a Value {
    st["slos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

#[test]
fn objectives_across_suite_versions_match_a_hand_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v1 = write(d, "v1.yaml", &suite(1, SLOS));
    let v2 = write(d, "v2.yaml", &suite(2, SLOS));
    // Days 1-3 under version 1, days 4 and 6 under version 2; no run on day 5. Day 2 has two
    // negative amounts, day 4 one.
    run(d, &v1, 1, 0);
    run(d, &v1, 2, 2);
    run(d, &v1, 3, 0);
    run(d, &v2, 4, 1);
    run(d, &v2, 6, 0);

    let (code, st, text) = status(d, &v2, "2026-11-07T06:00:00Z");
    // The window (Oct 31 06:00, Nov 7 06:00] holds all five runs, both versions.
    let c = slo(&st, "complete");
    assert_eq!(
        (c["good"].as_f64(), c["valid"].as_f64()),
        (Some(47.0), Some(50.0))
    );
    assert_eq!(c["state"], "ok");
    // The recent seventh of the window (its last day) holds no batch: no burn rate.
    assert_eq!(c["burn_rate"], Value::Null);
    let b = slo(&st, "batches_clean");
    assert_eq!(
        (b["good"].as_f64(), b["valid"].as_f64()),
        (Some(3.0), Some(5.0))
    );
    assert_eq!(b["state"], "ok");
    let a = slo(&st, "amounts_valid");
    assert_eq!(
        (a["good"].as_f64(), a["valid"].as_f64()),
        (Some(47.0), Some(50.0))
    );
    assert_eq!(a["state"], "breached");
    // Budget 1%, 6% bad: five budgets overspent.
    assert!((a["budget_left"].as_f64().unwrap() - (1.0 - 0.06 / 0.01)).abs() < 1e-9);
    // Fresh (newest delivery at most 36 h old): 24 h after each of days 1-3, 36 h after day
    // 4 (no run on day 5), 24 h after day 6 until the clock: 132 h of 168.
    let f = slo(&st, "fresh");
    assert_eq!(f["good"].as_f64(), Some(132.0 * 3600.0));
    assert_eq!(f["valid"].as_f64(), Some(168.0 * 3600.0));
    assert_eq!(f["state"], "breached");
    assert_eq!(code, 1, "breached objectives exit 1");
    assert_eq!(st["healthy"], false);
    // The last run, and the quarantine's open rows (the three negative amounts).
    assert_eq!(st["last_runs"][0]["run_id"], "d6");
    assert_eq!(st["last_runs"][0]["suite_version"], 2);
    assert_eq!(st["quarantine"]["open_rows"], 3);
    assert_eq!(st["failing"].as_array().unwrap().len(), 0);
    assert!(text.starts_with("UNHEALTHY"), "{text}");
    assert!(
        text.contains("BREACHED") && text.contains("amounts_valid"),
        "{text}"
    );

    // The objectives that hold, alone: healthy, exit 0.
    let ok = write(
        d,
        "ok.yaml",
        &suite(
            2,
            "  - {id: complete, kind: completeness, objective: 0.9, window: 7d}\n",
        ),
    );
    let (code, st, _) = status(d, &ok, "2026-11-07T06:00:00Z");
    assert_eq!((code, &st["healthy"]), (0, &Value::Bool(true)));
    // Long after the last run the window is empty: no data is not health.
    let (code, st, _) = status(d, &ok, "2026-12-31T00:00:00Z");
    assert_eq!(slo(&st, "complete")["state"], "no_data");
    assert_eq!(code, 1);
    // A day-4 clock sees days 1-4 only, and day 4's negative amount is failing now.
    let (_, st, _) = status(d, &v2, "2026-11-04T12:00:00Z");
    assert_eq!(slo(&st, "complete")["valid"].as_f64(), Some(40.0));
    assert_eq!(st["failing"][0]["expectation"], "amount_positive");
    assert_eq!(st["failing"][0]["failed"], 1);
}

#[test]
fn status_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = dq(&["status"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("say which target"));
    let bad = write(
        dir.path(),
        "bad.yaml",
        &suite(
            1,
            "  - {id: x, kind: validity, expectation: nope, objective: 99}\n",
        ),
    );
    let o = dq(&["status", "--suite", &bad], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("slos[0].expectation") && e.contains("no expectation `nope`"),
        "{e}"
    );
    assert!(e.contains("slos[0].objective"), "{e}");
}

/// A target nothing was gated into has no run log: `status` and `audit` say so and exit 2.
#[test]
fn a_missing_run_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("nowhere");
    let target = target.to_str().unwrap();
    let o = dq(&["status", "--target", target], &root());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no run log is there"));
    let out = dir.path().join("a.html");
    let o = dq(
        &["audit", "--target", target, "--out", out.to_str().unwrap()],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

/// A column's completeness is counted by the `not_null` rule on it; without one the suite says
/// what to add.
#[test]
fn column_completeness_needs_a_not_null_rule() {
    let base = "dq_suite: 1\nname: p\nversion: 1\nschema:\n  columns:\n    - {name: id, type: int64, nullable: false}\n    - {name: email, type: string}\nexpectations:\n  - {id: email_present, expect: not_null, column: email, on_fail: warn}\nslos:\n";
    for (slo, rule) in [
        (
            "  - {id: c, kind: completeness, column: email, objective: 0.9}\n",
            "email_present",
        ),
        (
            "  - {id: c, kind: completeness, column: id, objective: 0.9}\n",
            "schema.id.not_null",
        ),
    ] {
        let s = dq_gate::Suite::from_yaml(&format!("{base}{slo}"), "p.yaml").unwrap();
        assert_eq!(
            s.slos[0].kind,
            dq_gate::suite::SloKind::ColumnCompleteness {
                column: slo
                    .split("column: ")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap()
                    .into(),
                rule: rule.into()
            }
        );
    }
    let e = dq_gate::Suite::from_yaml(
        &format!(
            "{}  - {{id: c, kind: completeness, column: amount, objective: 0.9}}\n",
            base.replace(
                "    - {name: email, type: string}\n",
                "    - {name: email, type: string}\n    - {name: amount, type: float64}\n"
            )
        ),
        "p.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("slos[0].column") && e.contains("counted by a `not_null` rule"),
        "{e}"
    );
}

//! `history:` checks over simulated days of `dq-check run --as-of`: the anomaly is flagged on
//! the right day and not before, the batch is routed by its `on_fail`, the report shows the
//! band and the history it read, and `dq-check history` prints what the checks read.

use std::path::Path;

use serde_json::Value;

use super::util::{dq, read, root};

const SUITE: &str = "dq_suite: 1
name: feed
version: 1
schema:
  columns:
    - {name: id, type: int64, nullable: false}
    - {name: amount, type: float64}
expectations:
  - id: rows_steady
    expect: metric
    metric: row_count
    history: {strategy: relative_change, min_ratio: 0.7, min_history: 3}
  - id: amount_mean
    expect: metric
    metric: mean
    column: amount
    on_fail: warn
    history: {strategy: normal, lower_sigmas: 4, upper_sigmas: 4, window: 10, min_history: 4}
";

/// A day's feed: `rows` rows whose amounts average `mean` (a small deterministic spread).
fn day_file(dir: &Path, day: u32, rows: usize, mean: f64) -> String {
    let mut csv = String::from("id,amount\n");
    for i in 0..rows {
        let spread = [-1.0, 1.0, -0.5, 0.5][i % 4];
        csv.push_str(&format!("{},{}\n", day as usize * 1000 + i, mean + spread));
    }
    let path = dir.join(format!("day{day}.csv"));
    std::fs::write(&path, csv).unwrap();
    path.to_str().unwrap().to_string()
}

fn run_day(dir: &Path, suite: &str, day: u32, input: &str, run_id: &str) -> (i32, Value) {
    let target = dir.join("lake/feed");
    let as_of = format!("2026-11-{day:02}T06:00:00Z");
    let o = dq(
        &[
            "run",
            "--suite",
            suite,
            "--target",
            target.to_str().unwrap(),
            "--quarantine",
            dir.join("lake/feed_quarantine").to_str().unwrap(),
            "--run-id",
            run_id,
            "--as-of",
            &as_of,
            "--format",
            "json",
            input,
        ],
        &root(),
    );
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap(), report)
}

fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["batches"][0]["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_halved_feed_and_a_drifting_mean_are_flagged_on_their_day() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("feed.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let suite = suite.to_str().unwrap();
    // Days 1-5 steady (100 rows, mean near 50), day 6 half the rows, day 7 the mean drifts.
    let days: [(u32, usize, f64); 7] = [
        (1, 100, 50.0),
        (2, 104, 50.1),
        (3, 98, 49.9),
        (4, 101, 50.0),
        (5, 99, 50.05),
        (6, 50, 50.0),
        (7, 102, 58.0),
    ];
    let mut reports = Vec::new();
    for (day, rows, mean) in days {
        let input = day_file(dir.path(), day, rows, mean);
        reports.push(run_day(
            dir.path(),
            suite,
            day,
            &input,
            &format!("day-{day}"),
        ));
    }

    // Days 1-3: too little history for rows_steady (3 points needed): a warning, never a
    // silent pass, and nothing quarantined.
    for (i, (code, r)) in reports[..3].iter().enumerate() {
        let e = result(r, "rows_steady");
        assert_eq!(e["success"], false, "day {}: {e}", i + 1);
        assert_eq!(e["on_fail"], "warn");
        assert_eq!(e["history"]["judged"], false);
        assert_eq!(e["history"]["points"], i as u64);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains(&format!("not judged: {i} of the 3 earlier points"))
        );
        assert_eq!(r["summary"]["rows_quarantined"], 0);
        assert_eq!(*code, 0, "a warning exits 0");
    }
    // Days 4-5 are judged and pass: the band is 0.7 × the day before.
    for (i, (code, r)) in reports[3..5].iter().enumerate() {
        let e = result(r, "rows_steady");
        assert_eq!(e["success"], true, "{e}");
        assert_eq!(e["history"]["judged"], true);
        let before = days[i + 2].1 as f64;
        assert!((e["history"]["lo"].as_f64().unwrap() - 0.7 * before).abs() < 1e-9);
        assert_eq!(*code, 0);
    }
    // Day 6: half the rows, ratio 50/99 < 0.7: the batch is quarantined by the default
    // on_fail of an aggregate.
    let (code, r) = &reports[5];
    let e = result(r, "rows_steady");
    assert_eq!(e["success"], false);
    assert_eq!(e["on_fail"], "quarantine_batch");
    assert_eq!(e["observed"], 50);
    assert_eq!(e["history"]["points"], 5);
    assert_eq!(
        e["history"]["values"],
        serde_json::json!([100.0, 104.0, 98.0, 101.0, 99.0])
    );
    assert!((e["history"]["lo"].as_f64().unwrap() - 69.3).abs() < 1e-9);
    assert!(e["message"].as_str().unwrap().contains("ratio to 99"));
    assert_eq!(r["summary"]["rows_quarantined"], 50);
    assert_eq!(*code, 1);
    // The mean did not move: amount_mean passed every judged day until day 7.
    for (code, r) in &reports[4..6] {
        let _ = code;
        assert_eq!(result(r, "amount_mean")["success"], true);
    }
    // Day 7: rows are back (no upper ratio), the mean drifted to 58: a warning with the band.
    let (code, r) = &reports[6];
    assert_eq!(result(r, "rows_steady")["success"], true);
    let e = result(r, "amount_mean");
    assert_eq!(e["success"], false);
    assert_eq!(e["on_fail"], "warn");
    let hi = e["history"]["hi"].as_f64().unwrap();
    assert!(hi > 50.0 && hi < 58.0, "{e}");
    assert_eq!(r["summary"]["rows_quarantined"], 0);
    assert_eq!(*code, 0);

    // What reached the tables: every row of days 1-5 and 7 in the target, day 6 in quarantine.
    let target = dir.path().join("lake/feed");
    let n = |b: &[arrow::array::RecordBatch]| b.iter().map(|b| b.num_rows()).sum::<usize>();
    let committed = n(&read(&target, "").await);
    assert_eq!(committed, 100 + 104 + 98 + 101 + 99 + 102);
    let quarantined = n(&read(&dir.path().join("lake/feed_quarantine"), "").await);
    assert_eq!(quarantined, 50);

    // Re-running day 6 with its run id judges against the same history (this run's own
    // points are not history) and writes nothing twice.
    let input = dir.path().join("day6.csv");
    let (code, again) = run_day(dir.path(), suite, 6, input.to_str().unwrap(), "day-6");
    assert_eq!(code, 1);
    assert_eq!(result(&again, "rows_steady")["history"]["points"], 5);
    assert_eq!(
        n(&read(&dir.path().join("lake/feed_quarantine"), "").await),
        50
    );

    // `validate --runs` judges against the same history without writing anything: day 6's
    // file on day 8 reads all seven days, the newest (day 7) the base of the ratio.
    let o = dq(
        &[
            "validate",
            "--suite",
            suite,
            "--runs",
            dir.path().join("lake/feed_dq_runs").to_str().unwrap(),
            "--as-of",
            "2026-11-08T06:00:00Z",
            "--format",
            "json",
            input.to_str().unwrap(),
        ],
        &root(),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = result(&v, "rows_steady");
    assert_eq!(e["history"]["points"], 7);
    assert_eq!(e["success"], false);
    assert!((e["history"]["lo"].as_f64().unwrap() - 0.7 * 102.0).abs() < 1e-9);
    assert_eq!(o.status.code(), Some(1));

    // A release of day 6's rows (judged again, against the same history: still out of its
    // band) writes to the run log as a release, which no history reads.
    let o = dq(
        &[
            "quarantine",
            "release",
            "--suite",
            suite,
            "--target",
            target.to_str().unwrap(),
            "--quarantine",
            dir.path().join("lake/feed_quarantine").to_str().unwrap(),
            "--release-id",
            "r1",
            "--as-of",
            "2026-11-08T07:00:00Z",
        ],
        &root(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("0 released to the target, 50 still quarantined")
    );
    let kinds = super::util::strings(
        &read(
            &dir.path().join("lake/feed_dq_runs"),
            "WHERE run_id = 'release:r1' AND batch > 0",
        )
        .await,
        "run_kind",
    );
    assert!(!kinds.is_empty() && kinds.iter().all(|k| k.as_deref() == Some("release")));

    // `dq-check history` prints the values the checks read, oldest first.
    let o = dq(
        &[
            "history",
            "--target",
            target.to_str().unwrap(),
            "--expectation",
            "rows_steady",
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
    let points: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let values: Vec<i64> = points
        .iter()
        .map(|p| p["observed"].as_i64().unwrap())
        .collect();
    assert_eq!(values, vec![100, 104, 98, 101, 99, 50, 102]);
    assert_eq!(points[5]["success"], false);
    let o = dq(&["history", "--target", target.to_str().unwrap()], &root());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("day-6") && text.contains("amount_mean"),
        "{text}"
    );
}

/// A new suite version keeps the history while what an expectation measures is unchanged;
/// changing its column, metric, `q` or `where` starts a new one.
#[tokio::test(flavor = "multi_thread")]
async fn history_survives_a_new_version_but_not_a_new_measure() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.yaml");
    std::fs::write(&v1, SUITE).unwrap();
    for day in 1..=4 {
        let input = day_file(dir.path(), day, 100, 50.0);
        run_day(
            dir.path(),
            v1.to_str().unwrap(),
            day,
            &input,
            &format!("d{day}"),
        );
    }
    // Version 2: rows_steady's bound moves (same measure); amount_mean gains a `where`.
    let v2 = SUITE
        .replace("version: 1", "version: 2")
        .replace("min_ratio: 0.7", "min_ratio: 0.8")
        .replace(
            "    column: amount\n",
            "    column: amount\n    where: \"amount > 0\"\n",
        );
    let v2_path = dir.path().join("v2.yaml");
    std::fs::write(&v2_path, &v2).unwrap();
    let input = day_file(dir.path(), 5, 100, 50.0);
    let (_, r) = run_day(dir.path(), v2_path.to_str().unwrap(), 5, &input, "d5");
    let rows = result(&r, "rows_steady");
    assert_eq!(rows["history"]["points"], 4);
    assert_eq!(rows["success"], true);
    let mean = result(&r, "amount_mean");
    assert_eq!(mean["history"]["points"], 0, "{mean}");
    assert_eq!(mean["history"]["judged"], false);

    // `history --suite` marks the values of an earlier measure.
    let o = dq(
        &[
            "history",
            "--suite",
            v2_path.to_str().unwrap(),
            "--target",
            dir.path().join("lake/feed").to_str().unwrap(),
            "--expectation",
            "amount_mean",
        ],
        &root(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.matches("an earlier measure").count(), 4, "{text}");
}

/// What the suite refuses, with the key and the reason.
#[test]
fn history_keys_are_checked() {
    let bad = [
        (
            "history: {strategy: trend}",
            "expected one of absolute_change, relative_change, normal, online_normal",
        ),
        (
            "history: {strategy: relative_change}",
            "needs `min_ratio`, `max_ratio` or both",
        ),
        (
            "history: {strategy: absolute_change, max_change: 5, order: 2, min_history: 1}",
            "needs at least 2 earlier point(s)",
        ),
        (
            "history: {strategy: normal, window: 2, min_history: 3}",
            "a window of 2 points never holds `min_history` 3",
        ),
        (
            "history: {strategy: normal, window: 2x}",
            "is not a duration",
        ),
        (
            "history: {strategy: normal, sigmas: 2}",
            "unknown key `sigmas`",
        ),
        (
            "history: {strategy: normal, lower_sigmas: -1}",
            "`lower_sigmas` is at least 0",
        ),
    ];
    for (history, expected) in bad {
        let text = format!(
            "dq_suite: 1\nname: t\nversion: 1\nexpectations:\n  - {{id: m, expect: metric, metric: row_count, {history}}}\n"
        );
        let e = dq_gate::Suite::from_yaml(&text, "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{history}: {e}");
        assert!(e.contains("expectations[0].history"), "{e}");
    }
    // A value of a `pii` column would be kept in the run log: refused.
    let text = "dq_suite: 1\nname: t\nversion: 1\nschema:\n  columns:\n    - {name: salary, type: float64, tags: [pii]}\nexpectations:\n  - {id: m, expect: metric, metric: mean, column: salary, history: {strategy: normal}}\n";
    let e = dq_gate::Suite::from_yaml(text, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`salary` is `pii`"), "{e}");
    // Its null fraction is fine.
    let ok = text.replace("metric: mean", "metric: null_fraction");
    dq_gate::Suite::from_yaml(&ok, "t.yaml").unwrap();
    // The min of a date column is not a number to judge.
    let text = "dq_suite: 1\nname: t\nversion: 1\nschema:\n  columns:\n    - {name: d, type: date}\nexpectations:\n  - {id: m, expect: metric, metric: max, column: d, history: {strategy: normal}}\n";
    let e = dq_gate::CompiledSuite::from_yaml(text, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`history` judges numbers"), "{e}");
}

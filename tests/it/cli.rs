//! The `dq-check` binary as a scheduler runs it: exit codes, messages, files.

use std::process::Output;

use super::util::{dq, root};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exit_0_when_everything_passes() {
    let o = dq(
        &[
            "validate",
            "--suite",
            "expectations/claims.yaml",
            "fixtures/claims_clean.csv",
            "--as-of",
            "2026-01-15",
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("suite claims v3"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("PASSED: 25 rows in 1 batch"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn exit_1_on_quarantine_with_a_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let o = dq(
        &[
            "validate",
            "--suite",
            "expectations/claims.yaml",
            "fixtures/claims",
            "--format",
            "json",
            "--report",
            report.to_str().unwrap(),
            "--as-of",
            "2026-01-15T00:00:00Z",
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(printed, written);
    assert_eq!(printed["status"], "quarantined");
    assert_eq!(printed["as_of"], "2026-01-15T00:00:00Z");
    assert_eq!(printed["summary"]["rows"], 80);
}

#[test]
fn quiet_prints_nothing_and_keeps_the_exit_code() {
    let o = dq(
        &[
            "validate",
            "--quiet",
            "--suite",
            "expectations/claims.yaml",
            "fixtures/claims",
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
}

#[test]
fn a_broken_suite_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("bad.yaml");
    std::fs::write(
        &suite,
        "dq_suite: 1\nname: t\nversion: 1\nexpectations:\n  - id: a\n    expect: in_set\n    column: c\n    values: x\n  - id: b\n    expect: nope\n",
    )
    .unwrap();
    for cmd in [
        vec!["lint", suite.to_str().unwrap()],
        vec!["validate", "--suite", suite.to_str().unwrap(), "x.csv"],
    ] {
        let o = dq(&cmd, dir.path());
        assert_eq!(o.status.code(), Some(2), "{cmd:?}");
        let e = stderr(&o);
        assert!(
            e.contains("bad.yaml:8:13: expectations[0].values: expected a list of values"),
            "{e}"
        );
        assert!(
            e.contains("bad.yaml:10:13: expectations[1].expect: unknown kind `nope`"),
            "{e}"
        );
        assert!(
            !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
            "{e}"
        );
    }
}

#[test]
fn unreadable_and_truncated_inputs_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let suite = root().join("expectations/claims.yaml");
    let s = suite.to_str().unwrap();

    let o = dq(&["validate", "--suite", s, "missing.parquet"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read missing.parquet"),
        "{}",
        stderr(&o)
    );

    let truncated = dir.path().join("t.parquet");
    std::fs::write(&truncated, b"PAR1\x00\x00garbage").unwrap();
    let o = dq(&["validate", "--suite", s, "t.parquet"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("t.parquet: not a readable Parquet file"),
        "{}",
        stderr(&o)
    );

    let ragged = dir.path().join("r.csv");
    std::fs::write(&ragged, "claim_id,member_id\n1,M1\n2\n").unwrap();
    let o = dq(&["validate", "--suite", s, "r.csv"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("r.csv:"), "{}", stderr(&o));
    assert!(stderr(&o).to_lowercase().contains("line"), "{}", stderr(&o));

    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let o = dq(&["validate", "--suite", s, "notes.txt"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("notes.txt: unknown extension"),
        "{}",
        stderr(&o)
    );

    let o = dq(
        &["validate", "--suite", s, "--as-of", "yesterday", "x.csv"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--as-of `yesterday`"), "{}", stderr(&o));
}

#[test]
fn csv_cells_that_do_not_parse_are_row_violations() {
    let o = dq(
        &[
            "validate",
            "--format",
            "json",
            "--suite",
            "expectations/claims.yaml",
            "fixtures/claims/claims_2025_11_a.csv",
            "--as-of",
            "2026-01-15",
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let exps = r["batches"][0]["expectations"].as_array().unwrap();
    let date = exps
        .iter()
        .find(|e| e["id"] == "schema.service_date.type")
        .unwrap();
    assert_eq!(date["failed"], 1);
    assert_eq!(date["samples"][0], "2025-13-45");
    let amount = exps
        .iter()
        .find(|e| e["id"] == "schema.billed_amount.type")
        .unwrap();
    assert_eq!(amount["samples"][0], "12,50");
    assert_eq!(amount["sample_keys"][0]["claim_id"], 9100023);
}

#[test]
fn batch_rows_splits_files_into_batches() {
    let o = dq(
        &[
            "validate",
            "--format",
            "json",
            "--batch-rows",
            "15",
            "--suite",
            "expectations/claims.yaml",
            "fixtures/claims",
        ],
        &root(),
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let batches = r["batches"].as_array().unwrap();
    let sizes: Vec<(u64, u64)> = batches
        .iter()
        .map(|b| {
            (
                b["first_row"].as_u64().unwrap(),
                b["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sizes,
        vec![(0, 15), (15, 15), (30, 10), (0, 15), (15, 15), (30, 10)]
    );
    assert_eq!(r["summary"]["rows"], 80);
}

/// The first command of README.md, exactly as written, run in a fresh directory holding the
/// bundled example: it gates the claims into ./lake and a second run with the same run id
/// changes nothing.
#[tokio::test]
async fn the_readme_main_command_gates_the_example_into_lake() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run -- "))
        .expect("README opens with a `cargo run -- ...` command");
    let command = line.split('#').next().unwrap().trim();
    let args: Vec<&str> = command
        .trim_start_matches("cargo run -- ")
        .split_whitespace()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["expectations", "fixtures/claims"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for f in std::fs::read_dir(root().join(sub)).unwrap() {
            let f = f.unwrap().path();
            if f.is_file() {
                std::fs::copy(&f, dir.path().join(sub).join(f.file_name().unwrap())).unwrap();
            }
        }
    }
    let o = dq(&args, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("QUARANTINED: 80 rows in 2 batches"), "{out}");
    assert!(out.contains("target      lake/claims v1"), "{out}");
    let t = super::util::read(&dir.path().join("lake/claims"), "").await;
    let q = super::util::read(&dir.path().join("lake/claims_quarantine"), "").await;
    let n = |b: &[arrow::array::RecordBatch]| b.iter().map(|b| b.num_rows()).sum::<usize>();
    assert_eq!(n(&t) + n(&q), 80);
    assert!(n(&q) > 0 && n(&t) > 0);
    assert!(dir.path().join("lake/claims_dq_runs/_delta_log").exists());
}

/// A generated Parquet file: the report says which rows its statistics proved, in text and JSON.
#[test]
fn validate_says_what_statistics_proved() {
    let dir = tempfile::tempdir().unwrap();
    let o = dq(
        &["generate", "--rows", "3000", "--out", "c.parquet"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let suite = root().join("benches/claims_bench.yaml");
    let suite = suite.to_str().unwrap();
    let o = dq(
        &[
            "validate",
            "--suite",
            suite,
            "c.parquet",
            "--report",
            "r.json",
        ],
        dir.path(),
    );
    // The generated table has defects: rows are quarantined.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3000 rows proven by Parquet statistics, not scanned"),
        "{}",
        stdout(&o)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let proven: Vec<(&str, u64)> = r["batches"][0]["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["id"].as_str()?, e.get("proven")?.as_u64()?)))
        .collect();
    // claim_id has no nulls; the bounded columns hold out-of-range values in every row group;
    // email's null fraction comes from the null counts (email is then not decoded at all).
    assert_eq!(
        proven,
        vec![("claim_id_present", 3000), ("email_null_fraction", 3000)]
    );
}

/// On a terminal, `validate` and `run` show rows read with throughput and time left (Parquet
/// states its rows), or bytes (text inputs); on a pipe or with `--quiet`, nothing.
#[test]
fn progress_shows_on_a_terminal_only() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("the test needs `script` (util-linux) to give the command a terminal");
    }
    let dir = tempfile::tempdir().unwrap();
    let o = dq(
        &["generate", "--rows", "300000", "--out", "c.parquet"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let suite = root().join("benches/claims_bench.yaml");
    let exe = env!("CARGO_BIN_EXE_dq-check");
    let on_terminal = |args: &str| {
        // `script` runs the command on a pseudo-terminal and copies what it drew.
        let o = std::process::Command::new("script")
            .args(["-qec", &format!("{exe} {args} >/dev/null"), "/dev/null"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let s = suite.to_str().unwrap();
    let drawn = on_terminal(&format!("validate --suite {s} c.parquet"));
    assert!(
        drawn.contains("300000 rows") || drawn.contains("300,000 rows"),
        "{drawn:?}"
    );
    assert!(drawn.contains("left"), "{drawn:?}");
    let csv = root().join("fixtures/claims_clean.csv");
    let claims = root().join("expectations/claims.yaml");
    let drawn = on_terminal(&format!(
        "run --suite {} {} --target t --quarantine q",
        claims.display(),
        csv.display()
    ));
    assert!(drawn.contains("KiB") || drawn.contains(" B/"), "{drawn:?}");
    let quiet = on_terminal(&format!("validate --quiet --suite {s} c.parquet"));
    assert!(!quiet.contains("rows"), "{quiet:?}");
    // On a pipe (as here): nothing on stderr.
    let o = dq(&["validate", "--suite", s, "c.parquet"], dir.path());
    assert_eq!(stderr(&o), "");
}

//! The quarantine's way out: release under a corrected suite, discard with a reason, exactly
//! once, on real Delta tables read back and counted.

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::RecordBatch;

use super::util::{dq, ints, printed, read, strings, version, write_parquet};

const ROWS: i64 = 40;
const STATES: [&str; 4] = ["CA", "NY", "TX", "WA"];

/// Row `i`: every seventh NPI is 9 digits (bad under both suites); states cycle.
fn row(i: i64) -> (i64, String, &'static str, String) {
    let npi = if i % 7 == 3 {
        format!("{:09}", 100_000_000 + i)
    } else {
        format!("{:010}", 1_000_000_000 + i)
    };
    let member = format!("M{:09}", 500_000_000 + i);
    (i + 1, npi, STATES[(i % 4) as usize], member)
}

fn suite(version: u32, states: &[&str], extra: &str) -> String {
    format!(
        "dq_suite: 1
name: npis
version: {version}
schema:
  columns:
    - {{name: id, type: int64, nullable: false, tags: [key]}}
    - {{name: npi, type: string}}
    - {{name: state, type: string}}
    - {{name: member, type: string, tags: [pii]}}
expectations:
  - {{id: npi_format, expect: matches_regex, column: npi, regex: '[0-9]{{10}}'}}
  - {{id: state_known, expect: in_set, column: state, values: [{}]}}
{extra}",
        states.join(", ")
    )
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,npi,state,member\n");
    for i in 0..ROWS {
        let (id, npi, state, member) = row(i);
        csv.push_str(&format!("{id},{npi},{state},{member}\n"));
    }
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    std::fs::write(dir.path().join("v1.yaml"), suite(1, &["CA", "NY"], "")).unwrap();
    std::fs::write(dir.path().join("v2.yaml"), suite(2, &STATES, "")).unwrap();
    dir
}

const TABLES: [&str; 6] = [
    "--target",
    "lake/t",
    "--quarantine",
    "lake/q",
    "--runs",
    "lake/runs",
];

fn run_v1(dir: &Path) {
    let mut args = vec![
        "run", "--suite", "v1.yaml", "in.csv", "--run-id", "r1", "--quiet",
    ];
    args.extend(TABLES);
    let o = dq(&args, dir);
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
}

fn release(dir: &Path, id: &str, more: &[&str]) -> std::process::Output {
    let mut args = vec![
        "quarantine",
        "release",
        "--suite",
        "v2.yaml",
        "--release-id",
        id,
    ];
    args.extend(TABLES);
    args.extend(more);
    dq(&args, dir)
}

fn n(b: &[RecordBatch]) -> usize {
    b.iter().map(RecordBatch::num_rows).sum()
}

fn sorted_ids(b: &[RecordBatch]) -> Vec<i64> {
    let mut v: Vec<i64> = ints(b, "id").into_iter().flatten().collect();
    v.sort();
    v
}

/// Ids by status in the quarantine.
async fn by_status(dir: &Path, status: &str) -> Vec<i64> {
    sorted_ids(
        &read(
            &dir.join("lake/q"),
            &format!("WHERE _dq_status = '{status}'"),
        )
        .await,
    )
}

async fn versions(dir: &Path) -> Vec<Option<u64>> {
    let mut v = Vec::new();
    for t in ["lake/t", "lake/q", "lake/runs"] {
        v.push(version(&dir.join(t)).await);
    }
    v
}

#[tokio::test]
async fn a_release_moves_exactly_the_rows_the_corrected_suite_passes() {
    let dir = setup();
    let d = dir.path();
    run_v1(d);
    let before = sorted_ids(&read(&d.join("lake/t"), "").await);

    // What v2 passes, from the input text: a ten-digit NPI, any of the four states.
    let (mut gains, mut stays) = (BTreeSet::new(), BTreeSet::new());
    for i in 0..ROWS {
        let (id, npi, state, _) = row(i);
        let ok = npi.len() == 10;
        if ok && !["CA", "NY"].contains(&state) {
            gains.insert(id);
        } else if !ok {
            stays.insert(id);
        }
    }

    // A dry run writes nothing.
    let v0 = versions(d).await;
    let o = release(d, "dry", &["--dry-run"]);
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
    assert!(printed(&o).contains(&format!(
        "{} open rows selected: {} released to the target, {} still quarantined",
        gains.len() + stays.len(),
        gains.len(),
        stays.len()
    )));
    assert_eq!(versions(d).await, v0);

    let o = release(d, "rel1", &["--actor", "alice"]);
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
    let t = read(&d.join("lake/t"), "").await;
    let mut want: Vec<i64> = before
        .iter()
        .copied()
        .chain(gains.iter().copied())
        .collect();
    want.sort();
    assert_eq!(
        sorted_ids(&t),
        want,
        "the target gained exactly the rows v2 passes"
    );
    assert_eq!(
        by_status(d, "released").await,
        gains.iter().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        by_status(d, "open").await,
        stays.iter().copied().collect::<Vec<_>>()
    );
    // Still-failing rows keep their old violations and gain the new ones, marked.
    let open = read(&d.join("lake/q"), "WHERE _dq_status = 'open'").await;
    let show = dq(
        &[
            "quarantine",
            "show",
            "--quarantine",
            "lake/q",
            "--format",
            "json",
            "--limit",
            "1",
        ],
        d,
    );
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let v = shown["rows"][0]["_dq_violations"].as_array().unwrap();
    assert!(
        v.iter().any(|x| x["message"]
            .as_str()
            .unwrap()
            .starts_with("release rel1: npis v2")),
        "{v:?}"
    );
    assert_eq!(shown["rows"][0]["_dq_status_by"], "alice");
    assert_eq!(n(&open), stays.len());

    // A re-run of the finished release changes no table.
    let v1 = versions(d).await;
    let o = release(d, "rel1", &[]);
    assert!(
        printed(&o).contains("already done by an earlier attempt"),
        "{}",
        printed(&o)
    );
    assert_eq!(versions(d).await, v1);

    // Discard needs a reason, and is a mark.
    let o = dq(&["quarantine", "discard", "--quarantine", "lake/q"], d);
    assert_eq!(o.status.code(), Some(2), "{}", printed(&o));
    let o = dq(
        &[
            "quarantine",
            "discard",
            "--quarantine",
            "lake/q",
            "--reason",
            "NPI unrecoverable",
            "--actor",
            "bob",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    assert_eq!(
        by_status(d, "discarded").await,
        stays.iter().copied().collect::<Vec<_>>()
    );
    assert!(by_status(d, "open").await.is_empty());
    // Every input row exactly once: the target, or the quarantine open or discarded.
    let mut all = sorted_ids(&read(&d.join("lake/t"), "").await);
    all.extend(by_status(d, "discarded").await);
    all.extend(by_status(d, "open").await);
    all.sort();
    assert_eq!(all, (1..=ROWS).collect::<Vec<_>>());
    // The run log has the release, with its actor, suite version and verdicts.
    let log = read(
        &d.join("lake/runs"),
        "WHERE run_id = 'release:rel1' ORDER BY batch",
    )
    .await;
    assert!(
        strings(&log, "input")[0]
            .as_deref()
            .unwrap()
            .contains("\"actor\":\"alice\"")
    );
    assert!(strings(&log, "expectation").contains(&Some("state_known".into())));
    // The target's commit says where its rows came from.
    let target_log = std::fs::read_dir(d.join("lake/t/_delta_log"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(target_log.contains("\"dq.release_id\":\"rel1\""));
    assert!(target_log.contains("\"dq.source_quarantine_version\""));
    // Nothing protected in what was printed or logged.
    let log = read(&d.join("lake/runs"), "").await;
    let log = arrow::util::pretty::pretty_format_batches(&log)
        .unwrap()
        .to_string();
    for i in 0..ROWS {
        let member = row(i).3;
        assert!(!printed(&show).contains(&member) && !log.contains(&member));
    }
}

#[tokio::test]
async fn a_release_cut_short_at_any_step_finishes_once_on_a_rerun() {
    for point in [
        "release_started",
        "release_quarantine_committed",
        "release_target_committed",
    ] {
        let dir = setup();
        let d = dir.path();
        run_v1(d);
        let before = n(&read(&d.join("lake/t"), "").await);
        let mut args = vec![
            "quarantine",
            "release",
            "--suite",
            "v2.yaml",
            "--release-id",
            "r",
        ];
        args.extend(TABLES);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"))
            .args(&args)
            .current_dir(d)
            .env("DQ_GATE_FAILPOINT", format!("{point}:1"))
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(0), "{point}: the failpoint aborts");
        let o = release(d, "r", &[]);
        assert_eq!(o.status.code(), Some(1), "{point}: {}", printed(&o));
        let t = read(&d.join("lake/t"), "").await;
        let released = by_status(d, "released").await;
        let ids = sorted_ids(&t);
        let mut dedup = ids.clone();
        dedup.dedup();
        assert_eq!(ids, dedup, "{point}: no row twice in the target");
        assert_eq!(n(&t), before + released.len(), "{point}");
        assert!(released.iter().all(|id| ids.contains(id)), "{point}");
        let mut all = ids.clone();
        all.extend(by_status(d, "open").await);
        all.sort();
        assert_eq!(all, (1..=ROWS).collect::<Vec<_>>(), "{point}");
    }
}

#[tokio::test]
async fn a_batch_that_broke_the_contract_is_released_typed_from_its_raw_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // `amount` arrives as text: the contract's decimal refuses the whole batch.
    let batch = RecordBatch::try_from_iter(vec![
        (
            "id",
            std::sync::Arc::new(arrow::array::Int64Array::from(vec![1, 2, 3])) as _,
        ),
        (
            "amount",
            std::sync::Arc::new(arrow::array::StringArray::from(vec![
                "12.50", "7.25", "0.10",
            ])) as _,
        ),
    ])
    .unwrap();
    write_parquet(&d.join("in.parquet"), &batch, 1024);
    let contract = "schema:
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: amount, type: 'decimal(10,2)'}
expectations:
  - {id: positive, expect: between, column: amount, min: 0}
";
    std::fs::write(
        d.join("v1.yaml"),
        format!("dq_suite: 1\nname: pay\nversion: 1\n{contract}"),
    )
    .unwrap();
    std::fs::write(
        d.join("v2.yaml"),
        format!("dq_suite: 1\nname: pay\nversion: 2\n{contract}"),
    )
    .unwrap();
    let mut args = vec!["run", "--suite", "v1.yaml", "in.parquet", "--quiet"];
    args.extend(TABLES);
    let o = dq(&args, d);
    assert_eq!(o.status.code(), Some(1), "{}", printed(&o));
    assert_eq!(n(&read(&d.join("lake/t"), "").await), 0);
    let q = read(&d.join("lake/q"), "").await;
    assert_eq!(n(&q), 3);
    assert!(
        strings(&q, "_dq_raw")[0]
            .as_deref()
            .unwrap()
            .contains("12.50")
    );

    let o = release(d, "typed", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", printed(&o));
    let t = read(&d.join("lake/t"), "ORDER BY id").await;
    assert_eq!(ints(&t, "id"), vec![Some(1), Some(2), Some(3)]);
    let amount = t[0].column_by_name("amount").unwrap();
    assert_eq!(
        amount.data_type(),
        &arrow::datatypes::DataType::Decimal128(10, 2)
    );
    assert_eq!(
        strings(&t, "amount"),
        vec![
            Some("12.50".into()),
            Some("7.25".into()),
            Some("0.10".into())
        ]
    );
}

#[tokio::test]
async fn a_release_and_a_run_into_the_same_tables_at_once_both_succeed() {
    let dir = setup();
    let d = dir.path();
    run_v1(d);
    let mut csv = String::from("id,npi,state,member\n");
    for i in 100..140 {
        csv.push_str(&format!("{i},{:010},TX,M{:09}\n", 1_000_000_000 + i, i));
    }
    std::fs::write(d.join("more.csv"), csv).unwrap();
    let spawn = |args: Vec<&str>| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"))
            .args(args)
            .current_dir(d)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut run_args = vec![
        "run", "--suite", "v1.yaml", "more.csv", "--run-id", "r2", "--quiet",
    ];
    run_args.extend(TABLES);
    let mut rel_args = vec![
        "quarantine",
        "release",
        "--suite",
        "v2.yaml",
        "--release-id",
        "c",
        "--run-id",
        "r1",
    ];
    rel_args.extend(TABLES);
    let a = spawn(run_args);
    let b = spawn(rel_args);
    for (c, want) in [(a, 1), (b, 1)] {
        let o = c.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(want),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Every row of both inputs once: target, or quarantine (open or released).
    let mut all = sorted_ids(&read(&d.join("lake/t"), "").await);
    all.extend(by_status(d, "open").await);
    let mut want: Vec<i64> = (1..=ROWS).chain(100..140).collect();
    want.sort();
    all.sort();
    assert_eq!(all, want);
}

#[tokio::test]
async fn a_quarantine_from_before_statuses_is_upgraded_in_place() {
    let dir = setup();
    let d = dir.path();
    // A quarantine table as earlier versions wrote it: no identity or status columns.
    let url = deltalake::ensure_table_uri(d.join("lake/q").to_str().unwrap()).unwrap();
    let old = deltalake::DeltaTable::try_from_url(url).await.unwrap();
    use deltalake::kernel::{ArrayType, DataType as D, StructField, StructType};
    let violation = StructType::try_new(
        ["expectation", "column", "on_fail", "message"]
            .map(|n| StructField::new(n, D::STRING, true)),
    )
    .unwrap();
    let cols = vec![
        StructField::new("id", D::LONG, true),
        StructField::new("npi", D::STRING, true),
        StructField::new("state", D::STRING, true),
        StructField::new("member", D::STRING, true),
        StructField::new("_dq_run_id", D::STRING, true),
        StructField::new("_dq_batch", D::LONG, true),
        StructField::new("_dq_suite", D::STRING, true),
        StructField::new("_dq_suite_version", D::LONG, true),
        StructField::new(
            "_dq_violations",
            D::Array(Box::new(ArrayType::new(
                D::Struct(Box::new(violation)),
                true,
            ))),
            true,
        ),
        StructField::new("_dq_raw", D::STRING, true),
        StructField::new("_dq_quarantined_at", D::TIMESTAMP, true),
    ];
    let old = old.create().with_columns(cols).await.unwrap();
    // One row quarantined by an earlier version.
    let arrow_schema: arrow::datatypes::Schema =
        deltalake::kernel::engine::arrow_conversion::TryIntoArrow::try_into_arrow(
            old.snapshot().unwrap().schema().as_ref(),
        )
        .unwrap();
    let columns = arrow_schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "id" => std::sync::Arc::new(arrow::array::Int64Array::from(vec![999])) as _,
            _ => arrow::array::new_null_array(f.data_type(), 1),
        })
        .collect();
    let batch = RecordBatch::try_new(std::sync::Arc::new(arrow_schema), columns).unwrap();
    old.write(vec![batch]).await.unwrap();
    run_v1(d);
    // Every row, old layout or new, now reads as open by the plain predicate.
    let q = read(&d.join("lake/q"), "").await;
    assert_eq!(by_status(d, "open").await.len(), n(&q));
    assert!(by_status(d, "open").await.contains(&999));
}

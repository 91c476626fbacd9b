//! A Delta table as an input: the gate's own target validated back at two versions and since a
//! version, with the rows counted.

use std::path::Path;

use serde_json::Value;

use super::util::{dq, root};

const SUITE: &str = "dq_suite: 1
name: t
version: 1
schema:
  columns:
    - {name: id, type: int64}
    - {name: amount, type: float64}
expectations:
  - {id: amount_positive, expect: between, column: amount, min: 0}
";

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)))
}

fn validate(suite: &str, table: &Path, flags: &[&str]) -> Value {
    let mut args = vec!["validate", "--suite", suite, "--format", "json"];
    args.extend_from_slice(flags);
    args.push(table.to_str().unwrap());
    json(&dq(&args, &root()))
}

#[test]
fn the_target_is_validated_at_a_version_and_since_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let suite = d.join("t.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let suite = suite.to_str().unwrap();
    let target = d.join("lake/t");
    // Three runs: 5 rows with one negative amount, then 4 and 3 clean rows.
    let mut versions = Vec::new();
    for (run, rows, bad) in [(1, 5, 1), (2, 4, 0), (3, 3, 0)] {
        let mut csv = String::from("id,amount\n");
        for i in 0..rows {
            let amount = if i < bad { -1.0 } else { 2.5 };
            csv.push_str(&format!("{},{amount}\n", run * 100 + i));
        }
        let input = d.join(format!("r{run}.csv"));
        std::fs::write(&input, csv).unwrap();
        let r = json(&dq(
            &[
                "run",
                "--suite",
                suite,
                "--target",
                target.to_str().unwrap(),
                "--quarantine",
                d.join("lake/t_q").to_str().unwrap(),
                "--format",
                "json",
                input.to_str().unwrap(),
            ],
            &root(),
        ));
        versions.push(r["tables"]["target"]["version"].as_i64().unwrap());
    }
    // Newest: every row that reached the target (4 + 4 + 3), all passing.
    let r = validate(suite, &target, &[]);
    assert_eq!(r["summary"]["rows"], 11);
    assert_eq!(r["summary"]["rows_quarantined"], 0);
    // As of the first run's commit: its 4 rows.
    let v1 = versions[0].to_string();
    let r = validate(suite, &target, &["--version", &v1]);
    assert_eq!(r["summary"]["rows"], 4);
    // Since the first run's commit: the other two runs' 7 rows.
    let r = validate(suite, &target, &["--since-version", &v1]);
    assert_eq!(r["summary"]["rows"], 7);
    // Since the newest version: nothing to read, said plainly.
    let newest = versions[2].to_string();
    let o = dq(
        &[
            "validate",
            "--suite",
            suite,
            "--since-version",
            &newest,
            target.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no data files added after version"));
    // A version flag without a Delta input is a usage error.
    let o = dq(
        &[
            "validate",
            "--suite",
            suite,
            "--version",
            "1",
            d.join("r1.csv").to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("apply to Delta table inputs"));
    // The library refuses to read a table's directory as plain files.
    let e = dq_gate::Validator::builder(std::sync::Arc::new(
        dq_gate::CompiledSuite::from_yaml(SUITE, "t.yaml").unwrap(),
    ))
    .build()
    .validate_paths(std::slice::from_ref(&target))
    .unwrap_err()
    .to_string();
    assert!(e.contains("this is a Delta table"), "{e}");
}

/// A Delta table written by hand from the protocol's actions: one Parquet file of ids and
/// amounts, under `protocol`, `configuration`, partition columns and an `add` extra.
fn hand_table(dir: &Path, protocol: &str, configuration: &str, partitioned: bool, add_extra: &str) {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    std::fs::create_dir_all(dir.join("_delta_log")).unwrap();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("amount", DataType::Float64, true),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(Float64Array::from(vec![1.0, -2.0, 3.0])),
        ],
    )
    .unwrap();
    let file = dir.join("part-0.parquet");
    super::util::write_parquet(&file, &batch, 1024);
    let size = std::fs::metadata(&file).unwrap().len();
    let (field_meta, partition_columns, partition_values) = if partitioned {
        ("{}", r#"["day"]"#, r#"{"day":"2026-11-01"}"#)
    } else {
        ("{}", "[]", "{}")
    };
    let mut fields = vec![
        format!(r#"{{"name":"id","type":"long","nullable":true,"metadata":{field_meta}}}"#),
        format!(r#"{{"name":"amount","type":"double","nullable":true,"metadata":{field_meta}}}"#),
    ];
    if partitioned {
        fields.push(r#"{"name":"day","type":"string","nullable":true,"metadata":{}}"#.into());
    }
    if configuration.contains("columnMapping") {
        fields = vec![
            r#"{"name":"id","type":"long","nullable":true,"metadata":{"delta.columnMapping.id":1,"delta.columnMapping.physicalName":"id"}}"#.into(),
            r#"{"name":"amount","type":"double","nullable":true,"metadata":{"delta.columnMapping.id":2,"delta.columnMapping.physicalName":"amount"}}"#.into(),
        ];
    }
    let schema = format!(r#"{{"type":"struct","fields":[{}]}}"#, fields.join(","));
    let meta = serde_json::json!({"metaData": {
        "id": "3f1c1f9e-6b7a-4b7e-9a55-0c6f0d1e2a11",
        "format": {"provider": "parquet", "options": {}},
        "schemaString": schema,
        "partitionColumns": serde_json::from_str::<Value>(partition_columns).unwrap(),
        "configuration": serde_json::from_str::<Value>(configuration).unwrap(),
        "createdTime": 1_780_000_000_000_i64
    }});
    let add = format!(
        r#"{{"add":{{"path":"part-0.parquet","partitionValues":{partition_values},"size":{size},"modificationTime":1780000000000,"dataChange":true{add_extra}}}}}"#
    );
    let log = format!(
        "{{\"commitInfo\":{{\"timestamp\":1780000000000,\"operation\":\"WRITE\"}}}}\n{protocol}\n{meta}\n{add}\n"
    );
    std::fs::write(dir.join("_delta_log/00000000000000000000.json"), log).unwrap();
}

#[test]
fn tables_whose_files_are_not_their_rows_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let suite = d.join("t.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let suite = suite.to_str().unwrap();
    let plain = r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#;
    let cases = [
        ("plain", plain, "{}", false, "", None),
        (
            "partitioned",
            plain,
            "{}",
            true,
            "",
            Some("partitioned by day"),
        ),
        (
            "mapped",
            r#"{"protocol":{"minReaderVersion":2,"minWriterVersion":5}}"#,
            r#"{"delta.columnMapping.mode":"name","delta.columnMapping.maxColumnId":"2"}"#,
            false,
            "",
            Some("column mapping (`name`)"),
        ),
        (
            "deleted",
            r#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"],"writerFeatures":["deletionVectors"]}}"#,
            r#"{"delta.enableDeletionVectors":"true"}"#,
            false,
            r#","deletionVector":{"storageType":"u","pathOrInlineDv":"ab^-aqEH.-t@S}K{vb[*k^","offset":1,"sizeInBytes":36,"cardinality":1}"#,
            Some("deletion vectors"),
        ),
    ];
    for (name, protocol, config, partitioned, extra, refused) in cases {
        let table = d.join(name);
        hand_table(&table, protocol, config, partitioned, extra);
        for flags in [&[][..], &["--version", "0"][..]] {
            let mut args = vec!["validate", "--suite", suite, "--format", "json"];
            args.extend_from_slice(flags);
            args.push(table.to_str().unwrap());
            let o = dq(&args, &root());
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            match refused {
                // The control: the same table without the feature is read, 3 rows, 1 failing.
                None => {
                    let r = json(&o);
                    assert_eq!(r["summary"]["rows"], 3, "{name}: {r}");
                    assert_eq!(r["summary"]["rows_quarantined"], 1, "{name}: {r}");
                }
                Some(why) => {
                    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
                    assert!(err.contains(why), "{name}: {err}");
                    assert!(err.contains(table.to_str().unwrap()), "{name}: {err}");
                    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"));
                }
            }
        }
    }
}

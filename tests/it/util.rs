//! Shared helpers.

use std::path::PathBuf;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use dq_gate::internal::{BatchResult, BatchRun};
use dq_gate::{CompiledSuite, Suite};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn as_of() -> DateTime<Utc> {
    "2026-01-15T12:00:00Z".parse().unwrap()
}

/// A suite from the expectations part only (`dq_suite`, name and version are added).
pub fn suite(body: &str) -> Suite {
    let text = format!("dq_suite: 1\nname: t\nversion: 1\n{body}");
    Suite::from_yaml(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

/// Writes `batch` as a Parquet file of row groups of `group_rows` rows (with statistics).
pub fn write_parquet(path: &std::path::Path, batch: &RecordBatch, group_rows: usize) {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    write_parquet_with(path, batch, props);
}

/// Writes `batch` as a Parquet file with the given writer properties.
pub fn write_parquet_with(
    path: &std::path::Path,
    batch: &RecordBatch,
    props: parquet::file::properties::WriterProperties,
) {
    let file = std::fs::File::create(path).unwrap();
    // A row group's rows at a time: the writer recurses once per row group a batch spans, which
    // for one-row groups of thousands of rows overflows a test thread's stack.
    let group = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    for start in (0..batch.num_rows()).step_by(group) {
        w.write(&batch.slice(start, group.min(batch.num_rows() - start)))
            .unwrap();
    }
    w.close().unwrap();
}

/// Evaluates chunks as one batch.
pub fn eval_chunks<'c>(compiled: &'c CompiledSuite, chunks: &[RecordBatch]) -> BatchResult<'c> {
    let mut run = BatchRun::new(compiled, as_of(), 1, "memory", 0);
    for c in chunks {
        run.push(c, false).unwrap();
    }
    run.finish().unwrap()
}

/// The quarantine mask of a result, concatenated over chunks.
pub fn quarantined(r: &BatchResult) -> Vec<bool> {
    r.chunks.iter().flat_map(|c| c.quarantine.iter()).collect()
}

/// Waits for every process and checks that each exited with `code` (its stderr shown if not).
pub fn wait_all(children: Vec<std::process::Child>, code: i32) {
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Runs the `dq-check` binary in `dir`.
pub fn dq(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dq-check"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// What a finished process printed: stdout then stderr.
pub fn printed(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Validates files as `dq-check validate` does, at the tests' clock.
pub fn validate(
    compiled: &CompiledSuite,
    paths: &[std::path::PathBuf],
    configure: impl FnOnce(dq_gate::ValidatorBuilder) -> dq_gate::ValidatorBuilder,
) -> dq_gate::Report {
    let b = dq_gate::Validator::builder(std::sync::Arc::new(compiled.clone())).with_as_of(as_of());
    configure(b).build().validate_paths(paths).unwrap()
}

/// All rows of a Delta table, via DataFusion.
pub async fn read(table: &std::path::Path, sql_tail: &str) -> Vec<RecordBatch> {
    let url = deltalake::ensure_table_uri(table.to_str().unwrap()).unwrap();
    let t = deltalake::open_table(url).await.unwrap();
    let ctx = SessionContext::new();
    t.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("t", t.table_provider().await.unwrap())
        .unwrap();
    ctx.sql(&format!("SELECT * FROM t {sql_tail}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
}

/// The row count of a Delta table at `version` (time travel), via DataFusion.
pub async fn count_at(table: &std::path::Path, version: i64) -> i64 {
    let url = deltalake::ensure_table_uri(table.to_str().unwrap()).unwrap();
    let t = deltalake::open_table_with_version(url, version as u64)
        .await
        .unwrap();
    let ctx = SessionContext::new();
    t.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("t", t.table_provider().await.unwrap())
        .unwrap();
    let b = ctx
        .sql("SELECT COUNT(*) AS n FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    ints(&b, "n")[0].unwrap()
}

pub async fn version(table: &std::path::Path) -> Option<u64> {
    let url = deltalake::ensure_table_uri(table.to_str().unwrap()).ok()?;
    deltalake::open_table(url).await.ok()?.version()
}

/// The values of an Int64 column across batches.
pub fn ints(batches: &[RecordBatch], col: &str) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for b in batches {
        let c = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Int64).unwrap();
        let c = c.as_primitive::<Int64Type>();
        out.extend((0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i))));
    }
    out
}

pub fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let c = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Utf8).unwrap();
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i).to_string())));
    }
    out
}

pub fn sorted(mut v: Vec<Option<i64>>) -> Vec<Option<i64>> {
    v.sort();
    v
}

/// claim_id of every row of the claims fixtures, in order, as read from the CSV text.
pub fn fixture_ids() -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for f in ["claims_2025_11_a.csv", "claims_2025_11_b.csv"] {
        let text = std::fs::read_to_string(root().join("fixtures/claims").join(f)).unwrap();
        for line in text.lines().skip(1) {
            out.push(line.split(',').next().unwrap().parse().ok());
        }
    }
    out
}

/// The browser: `$DQ_CHROMIUM`, else `chromium` on the PATH (`.ci/run` installs it).
pub fn chromium() -> std::path::PathBuf {
    std::env::var_os("DQ_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("chromium"))
}

/// Runs headless chromium on `page` with `args`; what it printed.
pub fn browse(page: &std::path::Path, profile: &std::path::Path, args: &[&str]) -> String {
    let o = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (install Debian's chromium, or set DQ_CHROMIUM)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

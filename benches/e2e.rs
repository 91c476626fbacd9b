//! End-to-end figures on the canonical benchmark (benches/claims_bench.yaml over the generated
//! health-claims table), each the median of several runs:
//!
//! 1. `memory`: the suite over the table already in memory, split masks included, once with
//!    the columns as a plain Parquet read gives them (every string column plain `string`) and
//!    once as dq-gate's reader holds them (`memory-as-read`: dictionary pages kept);
//! 2. `validate`: the same, reading the Parquet file first (what `dq-check validate` does);
//! 3. `gate`: `dq-check run`'s path into target + quarantine Delta tables, next to a plain
//!    delta-rs append of the same rows (read the Parquet file, write it to one table).
//!
//! `cargo bench --profile bench-local --bench e2e -- [ROWS] [RUNS]` (default 5000000 rows, 3 runs).
//! The table is generated once into target/bench-data/.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use dq_gate::internal::BatchRun;
use dq_gate::{CompiledSuite, Suite};

// The allocator `dq-check` runs with (its purge delay for `validate` is set where a figure
// needs it: `dq_gate::internal::process`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    (median(times), last.unwrap())
}

/// The suite over batches held in memory, as one batch; the rows passing every check.
fn suite_over(
    compiled: &CompiledSuite,
    batches: &[RecordBatch],
    as_of: chrono::DateTime<chrono::Utc>,
) -> u64 {
    let mut r = BatchRun::new(compiled, as_of, 1, "memory", 0);
    for b in batches {
        r.push(b, false).unwrap();
    }
    r.finish().unwrap().report.rows_passed
}

fn read_all(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(65_536)
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

async fn plain_append(path: &Path, dir: &Path) -> u64 {
    let schema = dq_gate::internal::generate::schema();
    let kernel: deltalake::kernel::StructType =
        deltalake::kernel::engine::arrow_conversion::TryIntoKernel::try_into_kernel(
            schema.as_ref(),
        )
        .unwrap();
    let url = deltalake::ensure_table_uri(dir.to_str().unwrap()).unwrap();
    let mut table = deltalake::DeltaTable::try_from_url(url)
        .await
        .unwrap()
        .create()
        .with_columns(kernel.fields().cloned())
        .await
        .unwrap();
    let mut w = RecordBatchWriter::for_table(&table)
        .unwrap()
        .with_target_file_size(128 << 20);
    let f = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(65_536)
        .build()
        .unwrap();
    let mut rows = 0;
    for b in reader {
        let b = b.unwrap();
        rows += b.num_rows() as u64;
        w.write(b).await.unwrap();
    }
    w.flush_and_commit(&mut table).await.unwrap();
    rows
}

/// Peak resident memory of `dq-check run`'s path on a large table, streamed in batches:
/// `DQ_BENCH_ONLY=rss cargo bench --profile bench-local --bench e2e -- ROWS BATCH_ROWS`
/// (default 50,000,000 rows in 10 files, batches of 1,000,000 rows).
fn peak_rss(args: &[String]) {
    let rows: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000_000);
    let batch_rows: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(format!("target/bench-data/claims-{rows}-files"));
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let t = Instant::now();
        dq_gate::internal::generate::write_parquet_files(&dir, 42, rows, 10).unwrap();
        eprintln!(
            "generated {} in {:.1}s",
            dir.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let rss = || {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    let suite = Suite::from_path(root.join("benches/claims_bench.yaml")).unwrap();
    let compiled = Arc::new(CompiledSuite::new(suite).unwrap());
    let out = tempfile::tempdir_in(root.join("target/bench-data")).unwrap();
    let before = rss();
    let t = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let gate = dq_gate::Gate::builder(compiled)
        .with_target(out.path().join("t").to_str().unwrap())
        .with_quarantine(out.path().join("q").to_str().unwrap())
        .with_batch_rows(Some(batch_rows))
        .build()
        .unwrap();
    let report = rt
        .block_on(gate.run_paths(std::slice::from_ref(&dir)))
        .unwrap();
    println!(
        "gate {rows} rows in batches of {batch_rows}: {:.1}s, {} passed, {} quarantined; peak RSS {} MiB (before the run: {} MiB)",
        t.elapsed().as_secs_f64(),
        report.summary.rows_passed,
        report.summary.rows_quarantined,
        rss() / 1024,
        before / 1024
    );
}

/// The cost of decoding each column of the canonical file alone, on one core (Parquet read only,
/// as Arrow types are written): where the read's time goes.
/// `DQ_BENCH_ONLY=columns cargo bench --profile bench-local --bench e2e -- ROWS`
fn column_costs(args: &[String]) {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let rows: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = root.join(format!("target/bench-data/claims-{rows}.parquet"));
    let open =
        || ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap();
    let schema = open().schema().clone();
    let views = Arc::new(arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                arrow::datatypes::DataType::Utf8 => f
                    .as_ref()
                    .clone()
                    .with_data_type(arrow::datatypes::DataType::Utf8View),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    for (c, field) in schema.fields().iter().enumerate() {
        let read = |as_views: bool| {
            time(3, || {
                let f = std::fs::File::open(&file).unwrap();
                let mut o = parquet::arrow::arrow_reader::ArrowReaderOptions::new();
                if as_views {
                    o = o.with_schema(views.clone());
                }
                let b = ParquetRecordBatchReaderBuilder::try_new_with_options(f, o).unwrap();
                let mask = ProjectionMask::roots(b.parquet_schema(), [c]);
                b.with_projection(mask)
                    .with_batch_size(65_536)
                    .build()
                    .unwrap()
                    .map(|b| b.unwrap().get_array_memory_size())
                    .sum::<usize>()
            })
        };
        let (t, bytes) = read(false);
        let (tv, _) = read(true);
        println!(
            "{:<16} {:>8.3} s  {:>6.0} MB  as views {:>8.3} s",
            field.name(),
            t,
            bytes as f64 / 1e6,
            tv
        );
    }
}

fn main() {
    // As `dq-check` starts: no huge pages for the process (its memory and peak as dq-check's).
    dq_gate::internal::process::no_huge_pages();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if std::env::var("DQ_BENCH_ONLY").as_deref() == Ok("rss") {
        return peak_rss(&args);
    }
    if std::env::var("DQ_BENCH_ONLY").as_deref() == Ok("columns") {
        return column_costs(&args);
    }
    let rows: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("target/bench-data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join(format!("claims-{rows}.parquet"));
    if !file.exists() {
        let t = Instant::now();
        dq_gate::internal::generate::write_parquet(&file, 42, rows).unwrap();
        eprintln!(
            "generated {} in {:.2}s",
            file.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let suite = Suite::from_path(root.join("benches/claims_bench.yaml")).unwrap();
    let compiled = Arc::new(CompiledSuite::new(suite.clone()).unwrap());
    let as_of = chrono::Utc::now();
    // DQ_BENCH_ONLY=memory|validate|gate runs one figure (for profiling).
    let only = std::env::var("DQ_BENCH_ONLY").ok();
    if only.as_deref() != Some("validate-process") {
        println!(
            "rows: {rows}; runs per figure: {runs}; threads: {}",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
    let want = |k: &str| only.as_deref().is_none_or(|o| o == k);

    // 1. In memory.
    let in_process = only.as_deref() != Some("validate-process");
    let t = Instant::now();
    let batches = if in_process {
        read_all(&file)
    } else {
        Vec::new()
    };
    eprintln!(
        "plain sequential Parquet read: {:.3}s",
        t.elapsed().as_secs_f64()
    );
    // The same rows as dq-gate's reader holds them: columns whose Parquet pages are all
    // dictionary-encoded stay Arrow dictionaries.
    let files = dq_gate::internal::discover(std::slice::from_ref(&file)).unwrap();
    let as_read: Vec<RecordBatch> = if !in_process {
        Vec::new()
    } else {
        let mut b = dq_gate::internal::Batches::new(&files, suite.schema.as_ref(), None);
        let (_, chunks) = b.next_batch().unwrap().unwrap();
        chunks.collect::<Result<_, _>>().unwrap()
    };
    if want("memory") {
        for (name, batches) in [("memory", &batches), ("memory-as-read", &as_read)] {
            let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
            let (t_mem, passed) = time(runs, || suite_over(&compiled, batches, as_of));
            println!(
                "{name:<15}{t_mem:>8.3} s  {:>6.1} M rows/s  ({:.0} MB of Arrow; {passed} rows pass all checks)",
                rows as f64 / t_mem / 1e6,
                bytes as f64 / 1e6
            );
        }
    }
    if std::env::var_os("DQ_BENCH_EACH").is_some() {
        // The cost of each expectation alone over the same rows.
        for e in &suite.expectations {
            let mut one = suite.clone();
            one.expectations = vec![e.clone()];
            let c = CompiledSuite::new(one).unwrap();
            let each = |batches: &[RecordBatch]| time(runs, || suite_over(&c, batches, as_of)).0;
            println!(
                "  {:<24} {:>8.3} s  as read {:>8.3} s",
                e.id,
                each(&batches),
                each(&as_read)
            );
        }
    }
    drop(batches);
    drop(as_read);

    // 2. validate, read included.
    if only.as_deref() == Some("validate-process") {
        // One fresh process's validate (see below): load the suite, read, evaluate, report.
        dq_gate::internal::process::keep_freed_memory();
        let suite = Suite::from_path(root.join("benches/claims_bench.yaml")).unwrap();
        let validator = dq_gate::Validator::builder(Arc::new(CompiledSuite::new(suite).unwrap()))
            .with_as_of(as_of)
            .build();
        let report = validator
            .validate_paths(std::slice::from_ref(&file))
            .unwrap();
        println!("{:?} {}", report.status, report.summary.rows_quarantined);
        return;
    }
    if want("validate") {
        // The reader alone: what is left for the checks (string columns as validate reads them,
        // and as the gate reads them).
        for (name, strings) in [
            ("read", dq_gate::internal::Strings::Views),
            ("read-plain", dq_gate::internal::Strings::AsWritten),
        ] {
            let (t_read, n) = time(runs, || {
                let mut b = dq_gate::internal::Batches::new(&files, suite.schema.as_ref(), None)
                    .with_strings(strings);
                let (_, chunks) = b.next_batch().unwrap().unwrap();
                chunks.map(|c| c.unwrap().num_rows()).sum::<usize>()
            });
            println!(
                "{name:<10}{t_read:>8.3} s  {:>6.1} M rows/s  (dq-gate's Parquet reader alone, {strings:?} strings, {n} rows, no checks)",
                rows as f64 / t_read / 1e6
            );
        }
        // Like `dq-check validate` and the peers' figures: a fresh process each run, its
        // whole life timed (memory from the system, suite loaded, file read, suite evaluated).
        let (t_val, out) = time(runs, || {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([rows.to_string(), "1".into()])
                .env("DQ_BENCH_ONLY", "validate-process")
                .output()
                .unwrap()
        });
        let out = String::from_utf8_lossy(&out.stdout);
        println!(
            "validate  {t_val:>8.3} s  {:>6.1} M rows/s  (a fresh process per run; status, quarantined: {})",
            rows as f64 / t_val / 1e6,
            out.lines().last().unwrap_or("?")
        );
    }
    if !want("gate") {
        return;
    }

    // 3. gate vs plain append.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (t_plain, _) = time(runs, || {
        let dir = tempfile::tempdir_in(&data).unwrap();
        rt.block_on(plain_append(&file, &dir.path().join("plain")))
    });
    let (t_gate, report) = time(runs, || {
        let dir = tempfile::tempdir_in(&data).unwrap();
        let gate = dq_gate::Gate::builder(compiled.clone())
            .with_target(dir.path().join("t").to_str().unwrap())
            .with_quarantine(dir.path().join("q").to_str().unwrap())
            .with_as_of(as_of)
            .build()
            .unwrap();
        rt.block_on(gate.run_paths(std::slice::from_ref(&file)))
            .unwrap()
    });
    println!(
        "plain     {t_plain:>8.3} s  {:>6.1} M rows/s  (delta-rs RecordBatchWriter append, read included)",
        rows as f64 / t_plain / 1e6
    );
    println!(
        "gate      {t_gate:>8.3} s  {:>6.1} M rows/s  ({:.2}x the plain append; {} to target, {} to quarantine)",
        rows as f64 / t_gate / 1e6,
        t_gate / t_plain,
        report.summary.rows_passed,
        report.summary.rows_quarantined
    );
}

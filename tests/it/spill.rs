//! Batches larger than the memory budget: evaluated in a streaming pass, read again and routed,
//! they report and commit exactly what the batch held whole does.

use std::sync::Arc;

use arrow::array::RecordBatch;
use dq_gate::{CompiledSuite, Suite};

use super::gate::{claims_files, gate};
use super::util::{ints, read, root};

/// The gate's run of `inputs` into `dir`, run id `r`, with a memory budget and batch rows.
async fn run(
    suite: &Suite,
    dir: &std::path::Path,
    memory: usize,
    batch_rows: Option<usize>,
    inputs: &[std::path::PathBuf],
) -> dq_gate::Report {
    gate(suite.clone(), dir)
        .with_run_id("r")
        .with_batch_memory(memory)
        .with_batch_rows(batch_rows)
        .build()
        .unwrap()
        .run_paths(inputs)
        .await
        .unwrap()
}

/// Every count, sample and verdict of a report, all but where each batch was committed; and
/// its summary.
fn strip(r: &dq_gate::Report) -> (serde_json::Value, serde_json::Value) {
    let mut v = serde_json::to_value(&r.batches).unwrap();
    for b in v.as_array_mut().unwrap() {
        b["committed"] = serde_json::Value::Null;
        b.as_object_mut().unwrap().remove("over_budget");
    }
    (v, serde_json::to_value(&r.summary).unwrap())
}

/// Both tables written into `a` and into `b` hold the same values of `column`, ordered by
/// `order`.
async fn same_tables(a: &std::path::Path, b: &std::path::Path, order: &str, column: &str) {
    for t in ["t", "q"] {
        let x = ints(&read(&a.join(t), order).await, column);
        let y = ints(&read(&b.join(t), order).await, column);
        assert_eq!(x, y, "{t}");
    }
}

/// A batch larger than the memory budget is evaluated in a streaming pass and read again to be
/// routed: the report and the tables are exactly those of the batch held whole.
#[tokio::test]
async fn a_batch_over_the_memory_budget_gives_the_same_result() {
    let suite = Suite::from_path(root().join("expectations/claims.yaml")).unwrap();
    let (held, streamed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let files = claims_files();
    let a = run(&suite, held.path(), usize::MAX, None, &files).await;
    let b = run(&suite, streamed.path(), 1, None, &files).await;
    // The reports say which batches went over the budget, and agree on everything else.
    assert!(a.batches.iter().all(|b| !b.over_budget));
    assert!(b.batches.iter().all(|b| b.over_budget));
    assert!(!serde_json::to_string(&a).unwrap().contains("over_budget"));
    let said = "over the batch memory budget";
    assert!(dq_gate::internal::render(&b).contains(said));
    assert!(!dq_gate::internal::render(&a).contains(said));
    let page = |r| dq_gate::report::html::render(r).to_lowercase();
    assert!(page(&b).contains(said));
    assert!(!page(&a).contains(said));
    assert_eq!(strip(&a), strip(&b));
    same_tables(
        held.path(),
        streamed.path(),
        "ORDER BY claim_id",
        "claim_id",
    )
    .await;
    // Batches cut from the middle of a file, routed by the results of their own rows: as
    // those batches held whole.
    let (held_cut, cut) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut reports = Vec::new();
    for (dir, memory) in [(&held_cut, usize::MAX), (&cut, 1)] {
        let r = run(&suite, dir.path(), memory, Some(15), &files).await;
        assert_eq!(r.summary.batches, 6);
        reports.push(strip(&r));
    }
    assert_eq!(reports[0], reports[1]);
    same_tables(held_cut.path(), cut.path(), "ORDER BY claim_id", "claim_id").await;
    // validate takes the same path.
    let compiled = CompiledSuite::new(suite).unwrap();
    let v = super::util::validate(&compiled, &claims_files(), |b| b.with_batch_memory(1));
    assert_eq!(serde_json::to_value(&v.summary).unwrap(), strip(&a).1);
    // Also for batches cut from the middle of a file (read again from their first row).
    let streamed = super::util::validate(&compiled, &claims_files(), |b| {
        b.with_batch_memory(1).with_batch_rows(Some(15))
    });
    let held = super::util::validate(&compiled, &claims_files(), |b| {
        b.with_batch_rows(Some(15)).with_batch_memory(usize::MAX)
    });
    assert_eq!(strip(&held), strip(&streamed));
    assert_eq!(held.summary.batches, 6);
}

/// A spilled batch of several chunks whose repeats sit in its later chunks (and in the middle
/// of a file cut into batches): each chunk routed by the uniqueness results of its own rows,
/// settled over the slimmed chunks held or by counters, so the tables are those of the batch
/// held whole.
#[tokio::test]
async fn repeats_in_later_chunks_of_a_spilled_batch_are_routed_as_held() {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    let suite = Suite::from_yaml(
        r#"dq_suite: 1
name: t
version: 1
expectations:
  - {id: id_unique, expect: unique, column: id}
  - {id: pair_unique, expect: compound_unique, columns: [k, ref]}
"#,
        "t.yaml",
    )
    .unwrap();
    // 200,000 rows: four chunks of a file. Ids repeat in pairs from row 140,000 on, each
    // `ref` repeats for its `k` from row 190,000 on.
    let n = 200_000i64;
    let id = |i: i64| i * 7919 % 1_000_003;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|i| {
        if i >= 140_000 && i % 1000 == 1 {
            id(i - 1)
        } else {
            id(i)
        }
    })));
    let ks: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 5)));
    let refs: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| {
        if i >= 190_000 && i % 500 == 0 {
            format!("ref-{}", i - 10)
        } else {
            format!("ref-{i}")
        }
    })));
    // A wide column no uniqueness rule reads: the batch is several times its slimmed chunks.
    let notes: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("{i:0>120}")),
    ));
    let batch =
        RecordBatch::try_from_iter(vec![("id", ids), ("k", ks), ("ref", refs), ("note", notes)])
            .unwrap();
    let input = tempfile::tempdir().unwrap();
    super::util::write_parquet(&input.path().join("rows.parquet"), &batch, 100_000);
    let inputs = [input.path().join("rows.parquet")];
    // Held whole; spilled with its slimmed chunks held (about 6 MB of 31 MB); spilled and
    // counted.
    for (batch_rows, memory) in [
        (None, 1),
        (Some(120_000), 1),
        (None, 12 << 20),
        (Some(120_000), 8 << 20),
    ] {
        let (held, spilled) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut quarantined, mut reports) = (Vec::new(), Vec::new());
        for (dir, memory) in [(&held, usize::MAX), (&spilled, memory)] {
            let r = run(&suite, dir.path(), memory, batch_rows, &inputs).await;
            let spilled = dir.path() == spilled.path();
            assert!(r.batches.iter().all(|b| b.over_budget == spilled));
            quarantined.push(r.summary.rows_quarantined);
            reports.push(strip(&r).0);
        }
        assert_eq!(reports[0], reports[1], "{batch_rows:?} {memory}");
        assert!(quarantined[0] > 100, "{batch_rows:?}: {quarantined:?}");
        assert_eq!(quarantined[0], quarantined[1], "{batch_rows:?} {memory}");
        same_tables(held.path(), spilled.path(), "ORDER BY id, ref", "id").await;
    }
}

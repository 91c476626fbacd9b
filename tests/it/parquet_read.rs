//! Reading Parquet inputs: several row groups decoded in parallel come back whole and in order.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema};
use dq_gate::io::{Batches, discover};

use super::util::write_parquet;

#[test]
fn several_row_groups_read_back_whole_and_in_order() {
    let n = 1_000;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..n).map(|i| (i % 7 != 3).then_some(i * 31 % 1009)),
    ));
    let codes: ArrayRef =
        Arc::new(StringArray::from_iter((0..n).map(|i| {
            (i % 11 != 0).then(|| ["A", "BB", "CCC"][i as usize % 3])
        })));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("value-{i}")),
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("code", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(schema, vec![ids, codes, text]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.parquet");
    // Uneven row groups: 300, 300, 300, 100.
    write_parquet(&path, &batch, 300);

    let files = discover(&[path]).unwrap();
    let mut batches = Batches::new(&files, None, None);
    let (_, chunks) = batches.next_batch().unwrap().unwrap();
    let chunks: Vec<RecordBatch> = chunks.collect::<Result<_, _>>().unwrap();
    assert!(batches.next_batch().unwrap().is_none());
    assert!(chunks.len() >= 4, "one chunk per row group at least");
    // The short-string column is all dictionary pages: read as a dictionary.
    assert!(matches!(
        chunks[0].schema().field(1).data_type(),
        DataType::Dictionary(_, _)
    ));
    let whole = concat_batches(&chunks[0].schema(), &chunks).unwrap();
    assert_eq!(whole.num_rows(), n as usize);
    assert_eq!(whole.column(0).as_ref(), batch.column(0).as_ref());
    for c in [1, 2] {
        let plain = arrow::compute::cast(whole.column(c), &DataType::Utf8).unwrap();
        assert_eq!(plain.as_ref(), batch.column(c).as_ref());
    }
    assert_eq!(whole.column(0).null_count(), batch.column(0).null_count());
}

/// `validate`'s mode (chunks evaluated as they arrive, then slimmed) reports exactly what
/// holding the whole batch reports: uniqueness across chunks, samples and their keys included.
#[test]
fn report_only_reports_what_holding_the_batch_reports() {
    use dq_gate::CompiledSuite;
    use dq_gate::eval::batch::BatchRun;

    let n = 2_000i64;
    let ids: ArrayRef =
        Arc::new(Int64Array::from_iter((0..n).map(|i| {
            (i % 97 != 5).then_some(if i % 301 == 0 { 7 } else { i })
        })));
    let codes: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| Some(["A", "B", "C", "XX"][(i % 13 % 4) as usize])),
    ));
    let refs: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("r{}", i % 1_500)),
    ));
    let batch =
        RecordBatch::try_from_iter(vec![("id", ids), ("code", codes), ("ref", refs)]).unwrap();
    let compiled = CompiledSuite::new(super::util::suite(
        "schema:
  mode: strict
  columns:
    - {name: id, type: int64, tags: [key]}
    - {name: code, type: string}
    - {name: ref, type: string}
expectations:
  - {id: id_present, expect: not_null, column: id}
  - {id: id_unique, expect: unique, column: id}
  - {id: ref_unique, expect: unique, column: ref, on_fail: warn}
  - {id: pair_unique, expect: compound_unique, columns: [code, ref]}
  - {id: code_known, expect: in_set, column: code, values: [A, B, C]}
",
    ));
    let run = |report_only: bool| {
        let mut r = BatchRun::new(&compiled, super::util::as_of(), 1, "t", 0);
        if report_only {
            r = r.report_only();
        }
        // 40 chunks of 50 rows: several rounds of chunks evaluated as they arrive.
        for start in (0..n as usize).step_by(50) {
            r.push(&batch.slice(start, 50), false).unwrap();
        }
        let out = r.finish().unwrap();
        let quarantined: usize = out
            .chunks
            .iter()
            .map(|c| c.quarantine.count_set_bits())
            .sum();
        (serde_json::to_value(&out.report).unwrap(), quarantined)
    };
    let (held, held_q) = run(false);
    let (streamed, streamed_q) = run(true);
    assert_eq!(streamed, held);
    assert_eq!(streamed_q, held_q);
    assert!(held_q > 0);
    let failed: Vec<u64> = held["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["failed"].as_u64().unwrap())
        .collect();
    assert!(
        failed.iter().all(|f| *f > 0),
        "every rule finds something: {failed:?}"
    );
}

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

//! A small batch every target evaluates suites over.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};

pub fn batch() -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("a", Arc::new(Int64Array::from(vec![Some(1), None, Some(-7), Some(1)])) as ArrayRef),
        (
            "b",
            Arc::new(StringArray::from(vec![Some("x"), Some(""), None, Some("M123-45")])) as ArrayRef,
        ),
        (
            "c",
            Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None, Some(-0.0)])) as ArrayRef,
        ),
        ("d", Arc::new(Date32Array::from(vec![Some(0), Some(19000), None, Some(-1)])) as ArrayRef),
    ])
    .expect("a valid batch")
}

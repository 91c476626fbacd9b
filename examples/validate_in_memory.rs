//! Validate a record batch in memory, read the report, and take the rows apart.
//!
//! ```sh
//! cargo run --example validate_in_memory
//! ```

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use dq_gate::{CompiledSuite, Validator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let suite = CompiledSuite::from_yaml(
        r#"
dq_suite: 1
name: payments
version: 1
schema:
  columns:
    - {name: payment_id, type: int64, nullable: false, tags: [key]}
    - {name: card, type: string, tags: [pii]}
    - {name: amount, type: float64}
expectations:
  - {id: amount_positive, expect: between, column: amount, min: 0}
  - {id: card_shape, expect: matches_regex, column: card, regex: '[0-9]{16}'}
  - {id: some_rows, expect: metric, metric: row_count, min: 1}
"#,
        "payments.yaml",
    )?;
    let validator = Validator::builder(Arc::new(suite)).build();

    let batch = RecordBatch::try_from_iter(vec![
        (
            "payment_id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
        ),
        (
            "card",
            Arc::new(StringArray::from(vec![
                Some("4111111111111111"),
                Some("4111-1111"),
                None,
                Some("5500000000000004"),
            ])) as ArrayRef,
        ),
        (
            "amount",
            Arc::new(Float64Array::from(vec![12.5, 3.0, -1.0, 80.0])) as ArrayRef,
        ),
    ])?;

    let checked = validator.validate_batch(&batch)?;
    for e in &checked.report.expectations {
        println!(
            "{:<28} {:<6} evaluated {} failed {}  samples {:?}",
            e.id,
            if e.success { "ok" } else { "FAILED" },
            e.evaluated,
            e.failed,
            // `card` is tagged pii: its samples show only the value's shape.
            e.samples
        );
    }
    let passed = checked.passed()?;
    let quarantined = checked.quarantined()?;
    println!(
        "{} rows pass, {} go to quarantine",
        passed.num_rows(),
        quarantined.num_rows()
    );
    assert_eq!(passed.num_rows() + quarantined.num_rows(), batch.num_rows());
    Ok(())
}

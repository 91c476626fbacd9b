//! Gate a stream of record batches from an ingestion loop into local Delta tables: passing rows
//! to the target, failing rows to quarantine, every batch in the run log, exactly once.
//!
//! ```sh
//! cargo run --example gate_stream            # tables under target/example-lake
//! cargo run --example gate_stream -- DIR     # tables under DIR
//! ```
//!
//! Running it again gates the same batches under the same run id: nothing is written twice.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use dq_gate::{CompiledSuite, Gate};

/// What an ingestion loop would hand over: here, three batches with a few bad rows.
fn ingest() -> impl Iterator<Item = dq_gate::Result<RecordBatch>> {
    (0..3).map(|i: i64| {
        let ids: Vec<i64> = (i * 4..i * 4 + 4).collect();
        let status = vec![Some("PAID"), Some("VOID"), None, Some("??")];
        Ok(RecordBatch::try_from_iter(vec![
            ("order_id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("status", Arc::new(StringArray::from(status)) as ArrayRef),
        ])?)
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lake = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/example-lake".into());
    let suite = CompiledSuite::from_yaml(
        r#"
dq_suite: 1
name: orders
version: 1
schema:
  columns:
    - {name: order_id, type: int64, nullable: false, tags: [key]}
    - {name: status, type: string}
expectations:
  - {id: status_known, expect: in_set, column: status, values: [PAID, VOID]}
"#,
        "orders.yaml",
    )?;
    let gate = Gate::builder(Arc::new(suite))
        .with_target(format!("{lake}/orders"))
        .with_quarantine(format!("{lake}/orders_quarantine"))
        .with_run_id("orders-example")
        .build()?;
    let report = gate
        .run_stream("ingest", futures::stream::iter(ingest()))
        .await?;
    println!(
        "{:?}: {} rows in {} batches, {} to the target, {} to quarantine",
        report.status,
        report.summary.rows,
        report.summary.batches,
        report.summary.rows_passed,
        report.summary.rows_quarantined
    );
    if let Some(t) = &report.tables {
        println!(
            "target {} v{:?}, quarantine {} v{:?}, run log {} v{:?}",
            t.target.uri,
            t.target.version,
            t.quarantine.uri,
            t.quarantine.version,
            t.runs.uri,
            t.runs.version
        );
    }
    Ok(())
}

//! The three tables: their schemas, opening or creating them, and checking that an existing
//! table can take what the gate writes.
//!
//! Column types are stored as Delta can hold them: unsigned integers widen to the next signed
//! type (`uint64` to `decimal(20,0)`), timestamps are microseconds (`timestamp` with a time zone,
//! `timestamp_ntz` without), every string layout is `string`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::kernel::{StructField, StructType};
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};

use crate::error::{Error, Result};
use crate::types::{is_string_like, type_name};

/// The Arrow type a column is stored as in Delta.
pub(crate) fn storage_type(dt: &DataType) -> DataType {
    match dt {
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Timestamp(_, Some(_)) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        DataType::Timestamp(_, None) => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        d if is_string_like(d) => DataType::Utf8,
        d => d.clone(),
    }
}

/// A schema with every column in its storage type; `nullable` forces every column nullable.
pub(crate) fn storage_schema(schema: &Schema, all_nullable: bool) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                Field::new(
                    f.name(),
                    storage_type(f.data_type()),
                    all_nullable || f.is_nullable(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// The struct of one `_dq_violations` entry.
pub(crate) fn violation_fields() -> Fields {
    Fields::from(vec![
        Field::new("expectation", DataType::Utf8, true),
        Field::new("column", DataType::Utf8, true),
        Field::new("on_fail", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, true),
    ])
}

/// The quarantine table: the data columns, all nullable, then the `_dq_*` columns.
pub(crate) fn quarantine_schema(data: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = storage_schema(data, true)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    fields.extend([
        Field::new("_dq_run_id", DataType::Utf8, true),
        Field::new("_dq_batch", DataType::Int64, true),
        Field::new("_dq_suite", DataType::Utf8, true),
        Field::new("_dq_suite_version", DataType::Int64, true),
        Field::new(
            "_dq_violations",
            DataType::List(Arc::new(Field::new(
                "element",
                DataType::Struct(violation_fields()),
                true,
            ))),
            true,
        ),
        Field::new("_dq_raw", DataType::Utf8, true),
        Field::new("_dq_quarantined_at", ts, true),
    ]);
    fields.extend(status_fields());
    Arc::new(Schema::new(fields))
}

/// The quarantine's identity and status columns: `_dq_row` (with `_dq_run_id` and `_dq_batch`,
/// a row's stable identity: its position in its input) and `_dq_status` (`open`, `released`,
/// `discarded`) with who changed it, when, and why.
pub(crate) fn status_fields() -> Vec<Field> {
    vec![
        Field::new("_dq_row", DataType::Int64, true),
        Field::new("_dq_status", DataType::Utf8, true),
        Field::new(
            "_dq_status_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("_dq_status_by", DataType::Utf8, true),
        Field::new("_dq_status_note", DataType::Utf8, true),
    ]
}

/// The run log: one row per batch and expectation, plus one row per run start (batch 0).
pub(crate) fn runs_schema() -> SchemaRef {
    let ts = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        s("run_id"),
        i("batch"),
        s("suite"),
        i("suite_version"),
        s("suite_fingerprint"),
        s("expectation"),
        s("expect"),
        s("on_fail"),
        Field::new("success", DataType::Boolean, true),
        i("evaluated"),
        i("failed"),
        s("observed"),
        s("input"),
        i("rows"),
        i("rows_passed"),
        i("rows_quarantined"),
        s("outcome"),
        Field::new("as_of", ts(), true),
        Field::new("started_at", ts(), true),
        Field::new("logged_at", ts(), true),
        s("measure"),
        s("input_columns"),
        s("run_kind"),
        s("suite_text"),
    ]))
}

/// Columns the run log gained after its first release: a run log written before is given
/// them (nullable, so its rows read as null) when it is next opened.
const RUNS_ADDED: [&str; 4] = ["measure", "input_columns", "run_kind", "suite_text"];

/// Opens (or creates) the run log, brings an older one up to today's columns and checks
/// that it can take what the gate writes.
pub(crate) async fn open_run_log(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<DeltaTable> {
    let schema = runs_schema();
    let mut table = open_or_create(uri, storage, &schema, "dq_runs", &[]).await?;
    let actual = table_schema(&table, uri)?;
    let missing: Vec<StructField> = RUNS_ADDED
        .iter()
        .filter(|c| actual.field_with_name(c).is_err())
        .map(|c| StructField::new(c.to_string(), deltalake::kernel::DataType::STRING, true))
        .collect();
    if !missing.is_empty() {
        let added = table.clone().add_columns().with_fields(missing).await;
        table = match added {
            Ok(t) => t,
            // Another writer may have added them first: read the table again and check.
            Err(_) => open_existing(uri, storage)
                .await?
                .ok_or_else(|| Error::TableSchema {
                    table: uri.to_string(),
                    reason: "it vanished while its columns were added".into(),
                })?,
        };
    }
    check_compatible(uri, &schema, &*table_schema(&table, uri)?)?;
    Ok(table)
}

/// Opens the table at `uri`, or `None` when no table is there yet.
pub(crate) async fn open_existing(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<Option<DeltaTable>> {
    if !cfg!(feature = "s3") && (uri.starts_with("s3://") || uri.starts_with("s3a://")) {
        return Err(Error::Usage(format!(
            "{uri}: this dq-check was built without S3 support; build it with `--features s3`"
        )));
    }
    super::local_store::install();
    let url = deltalake::ensure_table_uri(uri)
        .map_err(|e| Error::table(uri, "resolve the location", e))?;
    match DeltaTableBuilder::from_url(url)
        .map(|b| b.with_storage_options(storage.clone()))
        .map_err(|e| Error::table(uri, "open", e))?
        .load()
        .await
    {
        Ok(t) => Ok(Some(t)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(Error::table(uri, "open", e)),
    }
}

/// Opens the table at `uri`, creating it with `schema` when there is none.
pub(crate) async fn open_or_create(
    uri: &str,
    storage: &HashMap<String, String>,
    schema: &Schema,
    name: &str,
    config: &[(String, String)],
) -> Result<DeltaTable> {
    if let Some(t) = open_existing(uri, storage).await? {
        return Ok(t);
    }
    super::failpoint::pause("table_missing");
    let url = deltalake::ensure_table_uri(uri)
        .map_err(|e| Error::table(uri, "resolve the location", e))?;
    let builder = || {
        DeltaTableBuilder::from_url(url.clone()).map(|b| b.with_storage_options(storage.clone()))
    };
    let kernel: StructType = schema
        .try_into_kernel()
        .map_err(|e| Error::table(uri, "map the schema to Delta types", e))?;
    let table = builder()
        .map_err(|e| Error::table(uri, "open", e))?
        .build()
        .map_err(|e| Error::table(uri, "open", e))?;
    let created = table
        .create()
        .with_table_name(name)
        .with_columns(kernel.fields().cloned().collect::<Vec<StructField>>())
        .with_configuration(config.iter().map(|(k, v)| (k.clone(), Some(v.clone()))))
        .with_raise_if_key_not_exists(false)
        .with_save_mode(SaveMode::ErrorIfExists)
        // A creation that lost the race to another writer's must fail, not be committed
        // again as the next version: a second metadata commit would conflict with every
        // append made meanwhile.
        .with_commit_properties(
            deltalake::kernel::transaction::CommitProperties::default().with_max_retries(0),
        )
        .await;
    match created {
        Ok(t) => Ok(t),
        // Another writer created it first: use theirs (its schema is checked by the caller).
        Err(_) => builder()
            .map_err(|e| Error::table(uri, "open", e))?
            .load()
            .await
            .map_err(|e| Error::table(uri, "create", e)),
    }
}

/// The configuration entry of a quarantine table that names its `pii` columns (comma-separated),
/// so that its readers mask them without the suite.
pub(crate) const PII_CONFIG: &str = "dq.pii";

/// The configuration entry marking a quarantine table with the status columns
/// ([`status_fields`]), every row's `_dq_status` set.
pub(crate) const QUARANTINE_FORMAT: (&str, &str) = ("dq.quarantine.format", "2");

/// Brings a quarantine table written before the status columns up to date, in place: the
/// columns are added, every existing row is marked `open`, and the table is marked done
/// ([`QUARANTINE_FORMAT`]). Each step is safe to repeat, so an upgrade cut short finishes on
/// the next run.
pub(crate) async fn upgrade_quarantine(uri: &str, table: DeltaTable) -> Result<DeltaTable> {
    let (key, value) = QUARANTINE_FORMAT;
    if configuration(&table).get(key).map(String::as_str) == Some(value) {
        return Ok(table);
    }
    let present = table_schema(&table, uri)?;
    let missing: Vec<Field> = status_fields()
        .into_iter()
        .filter(|f| present.field_with_name(f.name()).is_err())
        .collect();
    let mut table = table;
    if !missing.is_empty() {
        let kernel: StructType = (&Schema::new(missing))
            .try_into_kernel()
            .map_err(|e| Error::table(uri, "map the status columns to Delta types", e))?;
        table = table
            .add_columns()
            .with_fields(kernel.fields().cloned().collect::<Vec<StructField>>())
            .await
            .map_err(|e| Error::table(uri, "add the status columns", e))?;
    }
    let (table, _) = table
        .update()
        .with_predicate("_dq_status IS NULL")
        .with_update("_dq_status", "'open'")
        .await
        .map_err(|e| Error::table(uri, "mark existing rows open", e))?;
    table
        .set_tbl_properties()
        .with_properties(HashMap::from([(key.to_string(), value.to_string())]))
        .with_raise_if_not_exists(false)
        .await
        .map_err(|e| Error::table(uri, "mark the table upgraded", e))
}

/// Records the suite's `pii` columns in the quarantine's configuration, adding to what earlier
/// suites recorded (a column once protected stays protected).
pub(crate) async fn record_pii(uri: &str, table: DeltaTable, pii: &str) -> Result<DeltaTable> {
    let known = configuration(&table).get(PII_CONFIG).cloned();
    let mut all: Vec<&str> = known
        .as_deref()
        .unwrap_or("")
        .split(',')
        .chain(pii.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    all.sort();
    all.dedup();
    let all = all.join(",");
    if known.as_deref() == Some(all.as_str()) {
        return Ok(table);
    }
    table
        .set_tbl_properties()
        .with_properties(HashMap::from([(PII_CONFIG.to_string(), all)]))
        .with_raise_if_not_exists(false)
        .await
        .map_err(|e| Error::table(uri, "record the pii columns", e))
}

/// A table's configuration (`delta.*` properties and dq-gate's own `dq.*` entries).
pub(crate) fn configuration(table: &DeltaTable) -> HashMap<String, String> {
    table
        .snapshot()
        .map(|s| s.metadata().configuration().clone())
        .unwrap_or_default()
}

/// The Arrow schema of a table as stored.
pub(crate) fn table_schema(table: &DeltaTable, uri: &str) -> Result<SchemaRef> {
    let snapshot = table
        .snapshot()
        .map_err(|e| Error::table(uri, "read the schema", e))?;
    let schema: Schema = snapshot
        .schema()
        .as_ref()
        .try_into_arrow()
        .map_err(|e| Error::table(uri, "read the schema", e))?;
    Ok(Arc::new(schema))
}

/// Checks that rows of `expected` can be written into `actual`: every expected column exists
/// with the same storage type, and every other column of the table accepts nulls.
pub(crate) fn check_compatible(uri: &str, expected: &Schema, actual: &Schema) -> Result<()> {
    let bad = |reason: String| Error::TableSchema {
        table: uri.to_string(),
        reason,
    };
    for f in expected.fields() {
        let Ok(t) = actual.field_with_name(f.name()) else {
            return Err(bad(format!(
                "it has no column `{}` ({})",
                f.name(),
                type_name(f.data_type())
            )));
        };
        if storage_type(t.data_type()) != storage_type(f.data_type()) {
            return Err(bad(format!(
                "column `{}` is {} in the table, {} here",
                f.name(),
                type_name(t.data_type()),
                type_name(f.data_type())
            )));
        }
    }
    for t in actual.fields() {
        if expected.field_with_name(t.name()).is_err() && !t.is_nullable() {
            return Err(bad(format!(
                "the table's NOT NULL column `{}` is not in the suite's schema",
                t.name()
            )));
        }
    }
    Ok(())
}

/// The table's CHECK constraints (`delta.constraints.<name>` = expression).
pub(crate) fn check_constraints(table: &DeltaTable) -> Vec<(String, String)> {
    let Ok(snapshot) = table.snapshot() else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = snapshot
        .metadata()
        .configuration()
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("delta.constraints.")
                .map(|name| (name.to_string(), v.clone()))
        })
        .collect();
    out.sort();
    out
}

/// Runs `sql` over `table`, registered as `name`; an error says what could not be read
/// (`what`) from which table.
pub(crate) async fn query(
    table: &DeltaTable,
    uri: &str,
    name: &str,
    sql: &str,
    what: &str,
) -> Result<Vec<arrow::array::RecordBatch>> {
    use datafusion::prelude::SessionContext;
    let err = |e: &dyn std::fmt::Display| Error::TableSchema {
        table: uri.to_string(),
        reason: format!("cannot read {what}: {e}"),
    };
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| err(&e))?;
    let provider = table.table_provider().await.map_err(|e| err(&e))?;
    ctx.register_table(name, provider).map_err(|e| err(&e))?;
    ctx.sql(sql)
        .await
        .map_err(|e| err(&e))?
        .collect()
        .await
        .map_err(|e| err(&e))
}

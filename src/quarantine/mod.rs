//! The quarantine's way out: look inside, release rows under a new suite version, or discard
//! them with a reason; each a mark on the rows (`_dq_status`), never a silent delete, and exactly
//! once per operation id (docs/quarantine.md).

mod discard;
mod inspect;
mod read;
mod rebuild;
mod release;

use std::collections::HashMap;

use deltalake::{DeltaTable, DeltaTableBuilder};

use crate::error::{Error, Result};

pub use discard::{Discard, DiscardBuilder, DiscardReport};
pub use inspect::{Group, Quarantine, Shown};
pub use read::Selection;
pub use release::{Release, ReleaseBuilder, ReleaseReport};

/// Who does an operation: the name given, else `$DQ_GATE_ACTOR`, else the user.
pub(crate) struct Actor;

impl Actor {
    pub(crate) fn resolve(given: Option<String>) -> String {
        crate::gate::actor(given)
    }
}

/// The quarantine table at `uri` as of `version`.
pub(crate) async fn open_quarantine_at(
    uri: &str,
    storage: &HashMap<String, String>,
    version: i64,
) -> Result<DeltaTable> {
    crate::gate::local_store::install();
    let url = deltalake::ensure_table_uri(uri)
        .map_err(|e| Error::table(uri, "resolve the location", e))?;
    DeltaTableBuilder::from_url(url)
        .map_err(|e| Error::table(uri, "open", e))?
        .with_storage_options(storage.clone())
        .with_version(version.max(0) as u64)
        .load()
        .await
        .map_err(|e| Error::table(uri, format!("open version {version}"), e))
}

/// The quarantine table at `uri`, which must exist.
pub(crate) async fn open_quarantine(
    uri: &str,
    storage: &HashMap<String, String>,
) -> Result<DeltaTable> {
    crate::gate::tables::open_existing(uri, storage)
        .await?
        .ok_or_else(|| Error::Usage(format!("{uri} is not a Delta table: no quarantine there")))
}

//! A Delta table as an input: the Parquet files of one of its versions, or the files added
//! since a version, so an owner can validate the shared table itself (docs/gate.md).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use deltalake::DeltaTableBuilder;

use crate::error::{Error, Result};

/// Which rows of a Delta table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaVersion {
    /// The newest version.
    Latest,
    /// The table as of version N.
    At(i64),
    /// The files the newest version holds that version N did not (rows added after N).
    Since(i64),
}

/// Whether `path` is a Delta table (a directory with a `_delta_log`).
pub fn is_delta_table(path: &std::path::Path) -> bool {
    path.join("_delta_log").is_dir()
}

/// The data files of the local Delta table at `path` for `version`, in the log's order. A
/// partitioned table, one with column mapping or with deletion vectors is refused: their rows
/// are not what its Parquet files alone hold.
pub async fn delta_files(path: &std::path::Path, version: DeltaVersion) -> Result<Vec<PathBuf>> {
    let shown = path.display().to_string();
    let refuse = |detail: String| Error::InputFormat {
        path: path.to_path_buf(),
        detail,
    };
    let files_of = |t: &deltalake::DeltaTable| -> Result<Vec<(String, PathBuf)>> {
        let snap = t
            .snapshot()
            .map_err(|e| Error::table(&path.display().to_string(), "read", e))?;
        let meta = snap.metadata();
        if !meta.partition_columns().is_empty() {
            return Err(refuse(format!(
                "a Delta table partitioned by {} is not read as an input yet: its partition \
                 values are not in its files",
                meta.partition_columns().join(", ")
            )));
        }
        if let Some(mode) = meta.configuration().get("delta.columnMapping.mode")
            && mode != "none"
        {
            return Err(refuse(format!(
                "a Delta table with column mapping (`{mode}`) is not read as an input: its files \
                 name columns by id"
            )));
        }
        let mut out = Vec::new();
        for f in snap.log_data() {
            if f.deletion_vector_descriptor().is_some() {
                return Err(refuse(
                    "a Delta table with deletion vectors is not read as an input: its files \
                     still hold deleted rows"
                        .into(),
                ));
            }
            let uri = t.log_store().to_uri(&f.object_store_path());
            // A local store gives a path; others a URL.
            let file = match url::Url::parse(&uri) {
                Ok(u) if u.scheme() == "file" => u.to_file_path().ok(),
                Ok(_) => None,
                Err(_) => Some(PathBuf::from(&uri)).filter(|p| p.is_absolute()),
            }
            .ok_or_else(|| {
                refuse(format!(
                    "`{uri}` is not a local file: only local tables are read"
                ))
            })?;
            out.push((f.object_store_path().to_string(), file));
        }
        Ok(out)
    };
    let files = match version {
        DeltaVersion::Latest => files_of(&load(&shown, None).await?)?,
        DeltaVersion::At(v) => files_of(&load(&shown, Some(v)).await?)?,
        DeltaVersion::Since(v) => {
            let before: HashSet<String> = files_of(&load(&shown, Some(v)).await?)?
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            files_of(&load(&shown, None).await?)?
                .into_iter()
                .filter(|(p, _)| !before.contains(p))
                .collect()
        }
    };
    Ok(files.into_iter().map(|(_, f)| f).collect())
}

async fn load(shown: &str, v: Option<i64>) -> Result<deltalake::DeltaTable> {
    let url = deltalake::ensure_table_uri(shown)
        .map_err(|e| Error::table(shown, "resolve the location", e))?;
    let mut b = DeltaTableBuilder::from_url(url)
        .map_err(|e| Error::table(shown, "open", e))?
        .with_storage_options(HashMap::new());
    if let Some(v) = v {
        b = b.with_version(v as u64);
    }
    let what = v.map_or("read the latest version".into(), |v| {
        format!("read version {v}")
    });
    b.load().await.map_err(|e| Error::table(shown, what, e))
}

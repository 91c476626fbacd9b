//! Data files of local tables written past the page cache.
//!
//! A table on a local path is written through `object_store`'s file system store, which streams
//! a data file as parts of a few megabytes into a staging file (`<file>#<n>`) and renames it
//! when complete. Written the usual way, every part is copied into the page cache, which takes
//! fresh memory for each: on a virtual machine whose freed memory goes back to its host that is
//! the costliest write there is (a buffered write of 145 MB cost 0.8 s of system time on the
//! machine of `docs/performance.md`, a direct one 0.02 s), and on any machine the files of a run
//! push other data out of the cache to hold bytes the run will not read again.
//!
//! So every part of a streamed upload is written with `O_DIRECT` where it can be: the run of
//! whole 4 KiB blocks at a block-aligned offset goes straight to the device from a reused
//! aligned buffer, and what is left (the last part's tail, or a part at an unaligned offset)
//! through the page cache as before. A file system that refuses direct writes (at the open or
//! at the first write) gets every byte the usual way. Everything else (reads, listings, the log's small files, single
//! puts) is the file system store's own. Durability is unchanged: neither path syncs, as the
//! file system store does not.
//!
//! [`install`] puts this store in deltalake's registry for `file://` tables, wrapping the store
//! the registry held, once per process.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};

use bytes::Bytes;
use deltalake::DeltaResult;
use deltalake::logstore::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
    local::LocalFileSystem, path::Path,
};
use deltalake::logstore::{ObjectStoreFactory, ObjectStoreRef, StorageConfig};
use futures::FutureExt;
use futures::stream::BoxStream;
use url::Url;

/// The block size direct writes are aligned to: the largest logical block size of common
/// devices, so it suits 512-byte devices too.
const BLOCK: usize = 4096;

/// Bytes written direct per call, from one aligned buffer (a multiple of `BLOCK`): large enough
/// that each write keeps the device busy, small enough that the buffers cost little memory.
const WINDOW: usize = 1 << 20;

/// Aligned buffers kept for reuse across parts and files: one per file being written at once
/// (a file's parts are written one at a time), as many as a sink has lanes on this machine's
/// two cores; more are made when needed and dropped after.
const POOLED: usize = 2;

/// Puts the store in deltalake's registry for `file://` tables, around the store it held.
/// Tables opened before keep the store they were opened with.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(scheme) = Url::parse("file://") else {
            return;
        };
        let registry = deltalake::logstore::object_store_factories();
        if let Some(inner) = registry.get(&scheme).map(|f| f.value().clone()) {
            registry.insert(scheme, Arc::new(Factory { inner }));
        }
    });
}

struct Factory {
    inner: Arc<dyn ObjectStoreFactory>,
}

impl ObjectStoreFactory for Factory {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let (inner, path) = self.inner.parse_url_opts(url, config)?;
        // Registered for `file://` alone, whose file system store is rooted at `/`: locations
        // are paths.
        let files = LocalFileSystem::new();
        let store: ObjectStoreRef = Arc::new(DirectFiles { inner, files });
        Ok((store, path))
    }
}

/// The file system store, with streamed uploads written direct (see the module's notes).
#[derive(Debug)]
struct DirectFiles {
    inner: ObjectStoreRef,
    /// Maps locations to file system paths as the inner store does.
    files: LocalFileSystem,
}

impl std::fmt::Display for DirectFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DirectFiles({})", self.inner)
    }
}

fn store_error(e: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "DirectFiles",
        source: Box::new(e),
    }
}

#[async_trait::async_trait]
impl ObjectStore for DirectFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        if !opts.attributes.is_empty() {
            return self.inner.put_multipart_opts(location, opts).await;
        }
        let dest = self.files.path_to_filesystem(location)?;
        let upload = tokio::task::spawn_blocking(move || DirectUpload::start(dest))
            .await
            .map_err(store_error)??;
        Ok(Box::new(upload))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

/// The staging file's two handles: `direct` opened with `O_DIRECT` (none where the file system
/// refuses it, or after it refused a write), `plain` through the page cache.
#[derive(Debug)]
struct Handles {
    direct: Option<File>,
    plain: File,
    /// Bytes written direct (what the tests check).
    direct_bytes: u64,
}

#[derive(Debug)]
struct Upload {
    dest: PathBuf,
    handles: Mutex<Handles>,
}

/// One streamed file: parts written at their offsets into `<dest>#<n>`, renamed to `dest` when
/// complete, removed when aborted or dropped before.
#[derive(Debug)]
struct DirectUpload {
    upload: Arc<Upload>,
    staging: Option<PathBuf>,
    offset: u64,
}

fn file_error(path: &std::path::Path, source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "DirectFiles",
        source: format!("{}: {source}", path.display()).into(),
    }
}

impl DirectUpload {
    fn start(dest: PathBuf) -> object_store::Result<DirectUpload> {
        let (plain, staging) = staging_file(&dest)?;
        let direct = open_direct(&staging);
        Ok(DirectUpload {
            upload: Arc::new(Upload {
                dest,
                handles: Mutex::new(Handles {
                    direct,
                    plain,
                    direct_bytes: 0,
                }),
            }),
            staging: Some(staging),
            offset: 0,
        })
    }
}

/// A new staging file next to `dest` (`<dest>#<n>`, the first `n` free), its directory made.
fn staging_file(dest: &std::path::Path) -> object_store::Result<(File, PathBuf)> {
    let mut n = 1u32;
    loop {
        let mut name = dest.as_os_str().to_owned();
        name.push(format!("#{n}"));
        let path = PathBuf::from(name);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let parent = path.parent().unwrap_or(std::path::Path::new("/"));
                std::fs::create_dir_all(parent).map_err(|e| file_error(parent, e))?;
            }
            Err(e) => return Err(file_error(&path, e)),
        }
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &std::path::Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &std::path::Path) -> Option<File> {
    None
}

/// Aligned buffers for direct writes, reused so that each part does not take fresh memory.
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer holding at least `len` bytes from a `BLOCK`-aligned start (see [`aligned`]).
fn take_buffer(len: usize) -> Vec<u8> {
    let mut buf = POOL
        .lock()
        .ok()
        .and_then(|mut p| p.pop())
        .unwrap_or_default();
    if buf.len() < len + BLOCK {
        buf.resize(len + BLOCK, 0);
    }
    buf
}

fn give_back(buf: Vec<u8>) {
    if let Ok(mut p) = POOL.lock()
        && p.len() < POOLED
    {
        p.push(buf);
    }
}

/// The `len` bytes of `buf` from its first `BLOCK`-aligned address.
fn aligned(buf: &mut [u8], len: usize) -> &mut [u8] {
    let start = buf.as_ptr().align_offset(BLOCK);
    &mut buf[start..start + len]
}

/// The bytes of `payload` from position `from` on, as its slices hold them, each with its
/// position in the payload.
fn slices_from(payload: &PutPayload, from: usize) -> impl Iterator<Item = (usize, &[u8])> {
    payload
        .iter()
        .scan(0usize, |at, chunk| {
            let start = *at;
            *at += chunk.len();
            Some((start, &chunk[..]))
        })
        .filter(move |(start, chunk)| start + chunk.len() > from)
        .map(move |(start, chunk)| {
            let skip = from.saturating_sub(start);
            (start + skip, &chunk[skip..])
        })
}

/// Copies bytes `from..from + out.len()` of `payload` into `out`.
fn copy_range(payload: &PutPayload, from: usize, out: &mut [u8]) {
    for (at, bytes) in slices_from(payload, from) {
        let Some(dst) = out.get_mut(at - from..) else {
            break;
        };
        let n = bytes.len().min(dst.len());
        dst[..n].copy_from_slice(&bytes[..n]);
    }
}

/// Writes bytes `from..` of `payload` at `offset + from` through the page cache.
fn write_plain(file: &File, payload: &PutPayload, from: usize, offset: u64) -> std::io::Result<()> {
    for (at, bytes) in slices_from(payload, from) {
        file.write_all_at(bytes, offset + at as u64)?;
    }
    Ok(())
}

/// Writes the first `blocks` bytes of `payload` (whole blocks) at `offset` (aligned) through
/// `direct`, a window of `buf` at a time.
fn direct_blocks(
    direct: &File,
    buf: &mut [u8],
    payload: &PutPayload,
    blocks: usize,
    offset: u64,
) -> std::io::Result<()> {
    let mut from = 0;
    while from < blocks {
        let n = WINDOW.min(blocks - from);
        let out = aligned(buf, n);
        copy_range(payload, from, out);
        direct.write_all_at(out, offset + from as u64)?;
        from += n;
    }
    Ok(())
}

impl Upload {
    /// Writes `payload` at `offset`: its whole blocks direct when the offset is aligned and the
    /// file takes direct writes, the rest through the page cache.
    fn write(&self, payload: &PutPayload, offset: u64) -> std::io::Result<()> {
        let mut handles = self
            .handles
            .lock()
            .map_err(|_| std::io::Error::other("an earlier write of this file panicked"))?;
        let len = payload.content_length();
        let blocks = if offset.is_multiple_of(BLOCK as u64) {
            len / BLOCK * BLOCK
        } else {
            0
        };
        let mut done = 0;
        if blocks > 0
            && let Some(direct) = handles.direct.as_ref()
        {
            let mut buf = take_buffer(WINDOW.min(blocks));
            let written = direct_blocks(direct, &mut buf, payload, blocks, offset);
            give_back(buf);
            match written {
                Ok(()) => {
                    done = blocks;
                    handles.direct_bytes += blocks as u64;
                }
                // The file system took the open but not the write: the page cache from here on
                // (what was written of this part is written again below).
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => handles.direct = None,
                Err(e) => return Err(e),
            }
        }
        write_plain(&handles.plain, payload, done, offset)
    }
}

#[async_trait::async_trait]
impl MultipartUpload for DirectUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let offset = self.offset;
        self.offset += data.content_length() as u64;
        let upload = Arc::clone(&self.upload);
        tokio::task::spawn_blocking(move || {
            upload
                .write(&data, offset)
                .map_err(|e| file_error(&upload.dest, e))
        })
        .map(|r| r.map_err(store_error)?)
        .boxed()
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let staging = self
            .staging
            .take()
            .ok_or_else(|| object_store::Error::Generic {
                store: "DirectFiles",
                source: "the upload was aborted".into(),
            })?;
        let upload = Arc::clone(&self.upload);
        tokio::task::spawn_blocking(move || {
            // Holding the handles: no part is being written.
            let handles = upload
                .handles
                .lock()
                .map_err(|_| file_error(&upload.dest, std::io::Error::other("a write panicked")))?;
            std::fs::rename(&staging, &upload.dest).map_err(|e| file_error(&staging, e))?;
            let meta = handles
                .plain
                .metadata()
                .map_err(|e| file_error(&upload.dest, e))?;
            Ok(PutResult {
                e_tag: Some(e_tag(&meta)),
                version: None,
            })
        })
        .await
        .map_err(store_error)?
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let Some(staging) = self.staging.take() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || {
            std::fs::remove_file(&staging).map_err(|e| file_error(&staging, e))
        })
        .await
        .map_err(store_error)?
    }
}

impl Drop for DirectUpload {
    fn drop(&mut self) {
        if let Some(staging) = self.staging.take() {
            // An upload dropped unfinished leaves no staging file (errors ignored, as the file
            // system store does).
            let _ = std::fs::remove_file(staging);
        }
    }
}

/// The file system store's entity tag: inode, modification time (µs) and size, in hex.
fn e_tag(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("{:x}-{mtime:x}-{:x}", meta.ino(), meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(parts: &[&[u8]]) -> PutPayload {
        PutPayload::from_iter(parts.iter().map(|p| Bytes::copy_from_slice(p)))
    }

    /// Uploads `parts` (each a payload of several slices) into `dir` and returns the file's
    /// bytes and how many were written direct; `direct: false` takes the upload's direct handle
    /// away first, as a file system that refuses direct writes would.
    async fn upload(dir: &std::path::Path, parts: &[Vec<u8>], direct: bool) -> (Vec<u8>, u64) {
        let dest = dir.join("sub").join("f.parquet");
        let mut up = tokio::task::spawn_blocking({
            let dest = dest.clone();
            move || DirectUpload::start(dest)
        })
        .await
        .unwrap()
        .unwrap();
        if !direct {
            up.upload.handles.lock().unwrap().direct = None;
        }
        let mut pending = Vec::new();
        for p in parts {
            // Each part as three slices of uneven length.
            let (a, rest) = p.split_at(p.len() / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            pending.push(up.put_part(payload(&[a, b, c])));
        }
        for p in pending {
            p.await.unwrap();
        }
        let upload = Arc::clone(&up.upload);
        up.complete().await.unwrap();
        let direct = upload.handles.lock().unwrap().direct_bytes;
        let staged: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(staged, vec![std::ffi::OsString::from("f.parquet")]);
        (std::fs::read(&dest).unwrap(), direct)
    }

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = crate::internal::generate::Rng(seed);
        (0..n).map(|_| rng.next() as u8).collect()
    }

    /// Parts of every shape: whole blocks past one window, a part ending mid-block (the parts after it are at
    /// unaligned offsets), a short tail.
    fn parts() -> Vec<Vec<u8>> {
        [
            WINDOW + 3 * BLOCK,
            5 * BLOCK + 17,
            2 * BLOCK,
            100,
            BLOCK * 2 - 1,
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| bytes(*n, i as u64 + 1))
        .collect()
    }

    /// Every byte lands at its place whatever the parts' sizes, and where the file system takes
    /// direct writes the aligned parts' whole blocks went direct.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parts_land_in_order_direct_where_possible() {
        let dir = tempfile::tempdir().unwrap();
        let parts = parts();
        let (got, direct) = upload(dir.path(), &parts, true).await;
        assert_eq!(got, parts.concat());
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"").unwrap();
        if open_direct(&probe).is_some() {
            // The first part whole, the second's five whole blocks; the rest start unaligned.
            assert_eq!(direct, (WINDOW + 8 * BLOCK) as u64);
        }
    }

    /// A file that takes no direct writes (a file system that refuses them) gets every byte
    /// the usual way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_direct_writes_every_byte_lands() {
        let dir = tempfile::tempdir().unwrap();
        let parts = parts();
        let (got, direct) = upload(dir.path(), &parts, false).await;
        assert_eq!(got, parts.concat());
        assert_eq!(direct, 0);
    }

    /// A local table the gate opens (and creates) writes through this store.
    #[tokio::test]
    async fn local_tables_are_opened_on_this_store() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap().to_string();
        let schema = arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "x",
            arrow::datatypes::DataType::Int64,
            true,
        )]);
        let table = crate::gate::tables::open_or_create(
            &uri,
            &std::collections::HashMap::new(),
            &schema,
            "t",
            &[],
        )
        .await
        .unwrap();
        let store = table.log_store().root_object_store(None).to_string();
        assert!(store.starts_with("DirectFiles("), "{store}");
    }

    #[test]
    fn copy_range_takes_bytes_across_slices() {
        let p = payload(&[b"abc", b"", b"defg", b"h"]);
        let mut out = [0u8; 5];
        copy_range(&p, 2, &mut out);
        assert_eq!(&out, b"cdefg");
    }
}

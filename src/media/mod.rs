//! The media library: files editors upload, their metadata, and the resized images websites
//! ask for.
//!
//! An upload is streamed to a temporary file under the data directory while its SHA-256 and
//! size are computed (over the limit, it stops there and nothing is kept); then its first
//! bytes decide what it is (`sniff`), images are measured and get a placeholder and lose
//! their metadata (`imaging`), and the bytes go to the object store under their hash, so
//! identical bytes are stored once and a second upload of them answers with the item that
//! already holds them. Metadata lives in SurrealDB (`storage`); bytes in `object_store`: the
//! local filesystem by default, any S3-compatible store by URL.
//!
//! Transforms (`?w=&h=&fit=&format=&q=`) run on the blocking pool, at most
//! `media.transform_concurrency` at once; each result is stored beside the original and
//! served from there afterwards. The number of stored variants per image is capped, so
//! nobody can fill the disk by asking for endless sizes.
//!
//! This module knows nothing of HTTP; it does not decide who may see an item (the API asks
//! `access` and [`Media::delivered`]).

pub mod imaging;
pub mod sniff;

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::access::MediaPermit;
use crate::accounts::audit::Event;
use crate::config::{Config, MediaConfig};
use crate::error::{Error, Result, code};
use crate::storage::{MediaFilter, Store};
use imaging::Transform;
use sniff::Kind;

pub type Record = Map<String, Value>;

/// The media service. Cheap to clone.
#[derive(Clone)]
pub struct Media {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    objects: Arc<dyn ObjectStore>,
    config: MediaConfig,
    /// Where uploads are spooled while they arrive.
    spool: PathBuf,
    /// The site's locales (every type's, default first), for alt text and captions.
    locales: Vec<String>,
    /// Where media URLs point (`https://cms.example.com`).
    base_url: String,
    /// Image work at once (each takes a core while it runs).
    transforms: Semaphore,
    /// MiB of image work at once: see [`Media::image_work`].
    image_memory: Semaphore,
    /// One computation per variant at a time: a burst of requests for a new size makes it once.
    making: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A turn at image work: memory from the budget and a core, held until dropped.
struct ImageTurn<'a> {
    _memory: tokio::sync::SemaphorePermit<'a>,
    _core: tokio::sync::SemaphorePermit<'a>,
}

/// Runs CPU-bound work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal(e.to_string()))?
}

/// An upload received in full: spooled to disk, measured and hashed, not yet checked.
pub struct Received {
    spool: SpoolFile,
    pub size: u64,
    pub sha256: String,
    head: Vec<u8>,
}

/// A spooled file, removed when dropped.
struct SpoolFile(PathBuf);

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A stored file's bytes, whole or a range of them.
pub struct Opened {
    pub stream: futures::stream::BoxStream<'static, std::result::Result<Bytes, std::io::Error>>,
    /// The range served, end exclusive, and the whole size.
    pub range: std::ops::Range<u64>,
    pub total: u64,
}

/// What an upload came with besides its bytes.
#[derive(Debug, Default, Clone)]
pub struct UploadMeta {
    pub filename: String,
    pub folder: Option<String>,
    pub alt: Option<Value>,
    pub caption: Option<Value>,
}

/// The outcome of storing an upload.
pub struct Stored {
    pub record: Record,
    /// False when identical bytes were already in the library: `record` is that item.
    pub created: bool,
}

/// Changes to an item's metadata (`None`: unchanged).
#[derive(Debug, Default, Clone)]
pub struct MediaPatch {
    pub filename: Option<String>,
    pub alt: Option<Value>,
    pub caption: Option<Value>,
    /// `Some(None)` clears the focal point.
    pub focal: Option<Option<(f64, f64)>>,
    /// `Some(None)` moves the item to the root.
    pub folder: Option<Option<String>>,
    pub version: Option<u64>,
}

impl Media {
    /// Opens the configured object store and the spool directory.
    pub fn open(config: &Config, store: Store, locales: Vec<String>) -> Result<Media> {
        let objects = object_store_for(config)?;
        let spool = config.data_dir.join("tmp").join("uploads");
        // Whatever a crash left half-received is of no use.
        let _ = std::fs::remove_dir_all(&spool);
        std::fs::create_dir_all(&spool)?;
        Ok(Media {
            inner: Arc::new(Inner {
                store,
                objects,
                config: config.media.clone(),
                spool,
                locales,
                base_url: config.public_base(),
                transforms: Semaphore::new(config.media.transform_concurrency),
                image_memory: Semaphore::new(
                    usize::try_from(config.media.image_memory_mib.max(1)).unwrap_or(usize::MAX),
                ),
                making: std::sync::Mutex::default(),
            }),
        })
    }

    pub fn config(&self) -> &MediaConfig {
        &self.inner.config
    }

    /// The largest file accepted, in bytes.
    pub fn max_file_bytes(&self) -> u64 {
        self.inner.config.max_file_mib * 1024 * 1024
    }

    /// Streams `body` to a spool file, hashing it; stops with `FileTooLarge` once it passes
    /// `limit` bytes (the partial file is removed).
    pub async fn receive(&self, body: impl AsyncRead + Unpin, limit: u64) -> Result<Received> {
        let path = self.inner.spool.join(ulid::Ulid::new().to_string());
        let spool = SpoolFile(path.clone());
        let mut file = tokio::fs::File::create(&path).await?;
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(sniff::SNIFF_LEN);
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let mut body = body;
        loop {
            let n = body.read(&mut buf).await.map_err(|_| {
                Error::bad_request(
                    code::UPLOAD_INTERRUPTED,
                    "the upload ended before it was complete",
                )
            })?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > limit {
                return Err(Error::FileTooLarge { limit });
            }
            let chunk = &buf[..n];
            hasher.update(chunk);
            if head.len() < sniff::SNIFF_LEN {
                let take = (sniff::SNIFF_LEN - head.len()).min(n);
                head.extend_from_slice(&chunk[..take]);
            }
            file.write_all(chunk).await?;
        }
        file.flush().await?;
        Ok(Received {
            spool,
            size,
            sha256: hex(&hasher.finalize()),
            head,
        })
    }

    /// What a received file is, if it may be stored: not empty, its bytes of a kind its name
    /// agrees with, not markup a browser would run, and of an accepted type (globally, and
    /// for the media field it is meant for). Cheap: it reads only the first bytes.
    pub fn check(
        &self,
        received: &Received,
        filename: &str,
        accept: Option<&[String]>,
    ) -> Result<Kind> {
        if received.size == 0 {
            return Err(Error::bad_request(code::EMPTY_FILE, "the file is empty"));
        }
        let (_, ext) = sniff::split_extension(filename);
        let kind = sniff::detect(&received.head, ext).map_err(refusal)?;
        if kind == sniff::SVG {
            return Err(Error::UnsupportedMedia {
                code: code::SVG_NOT_ACCEPTED,
                message: "SVG files can carry scripts and are not accepted; upload a PNG or WebP"
                    .into(),
            });
        }
        let allowed = &self.inner.config.allowed_types;
        if !sniff::mime_matches(kind.mime, allowed)
            || accept.is_some_and(|a| !a.is_empty() && !sniff::mime_matches(kind.mime, a))
        {
            return Err(Error::UnsupportedMedia {
                code: code::TYPE_NOT_ALLOWED,
                message: format!("{} files are not accepted here", kind.mime),
            });
        }
        Ok(kind)
    }

    /// Checks a received file, and stores it unless identical bytes are already stored.
    pub async fn store_upload(
        &self,
        permit: &MediaPermit,
        received: Received,
        meta: UploadMeta,
        accept: Option<&[String]>,
    ) -> Result<Stored> {
        let kind = self.check(&received, &meta.filename, accept)?;
        if let Some(folder) = &meta.folder {
            self.folder_exists(folder).await?;
        }
        let alt = self.localized_text("alt", meta.alt)?;
        let caption = self.localized_text("caption", meta.caption)?;
        if let Some(existing) = self.inner.store.media_by_sha(&received.sha256).await? {
            return Ok(Stored {
                record: existing,
                created: false,
            });
        }
        let filename = sniff::clean_filename(&meta.filename, &kind);
        // Images: measured, given a placeholder, and stripped of metadata before storing.
        let mut probe = None;
        let mut upload_path = received.spool.0.clone();
        let _cleaned_guard;
        if kind.is_raster() {
            let src = received.spool.0.clone();
            let cleaned = src.with_extension("clean");
            // Removed when the upload is done, whether it was made, used or not.
            _cleaned_guard = SpoolFile(cleaned.clone());
            let max_pixels = self.inner.config.max_image_pixels;
            // The header first (a small file claiming huge dimensions stops here), then the
            // pixels, within the image memory budget.
            let header = {
                let src = src.clone();
                blocking(move || {
                    imaging::read_header(&|| std::fs::File::open(&src), &kind, max_pixels)
                })
                .await?
            };
            let _turn = self
                .image_work(header.decode_cost(Some(imaging::PLACEHOLDER_NEEDS)))
                .await?;
            let (p, stripped) = blocking(move || {
                let open = || std::fs::File::open(&src);
                let p = imaging::probe(&open, &header, &kind, max_pixels)?;
                if !imaging::has_metadata_to_strip(&kind) {
                    return Ok((p, None));
                }
                let mut out = std::io::BufWriter::new(std::fs::File::create(&cleaned)?);
                imaging::strip_metadata(&mut open()?, &mut out, &kind)?;
                std::io::Write::flush(&mut out)?;
                Ok((p, Some(cleaned)))
            })
            .await?;
            if let Some(cleaned) = stripped {
                upload_path = cleaned;
            }
            probe = Some(p);
        }
        let key = original_key(&received.sha256);
        self.put_file(&key, &upload_path).await?;
        let stored_size = tokio::fs::metadata(&upload_path).await?.len();
        let id = ulid::Ulid::new().to_string();
        let now = crate::time::now();
        let mut record = Map::new();
        record.insert("filename".into(), json!(filename));
        record.insert("mime".into(), json!(kind.mime));
        record.insert("size".into(), json!(stored_size));
        record.insert("sha256".into(), json!(received.sha256));
        if let Some(p) = &probe {
            record.insert("width".into(), json!(p.width));
            record.insert("height".into(), json!(p.height));
            if let Some(ph) = &p.placeholder {
                record.insert("placeholder".into(), json!(ph));
            }
        }
        record.insert("alt".into(), alt.unwrap_or(Value::Null));
        record.insert("caption".into(), caption.unwrap_or(Value::Null));
        record.insert("focal".into(), Value::Null);
        if let Some(folder) = meta.folder {
            record.insert("folder".into(), json!(folder));
        }
        record.insert("version".into(), json!(1));
        record.insert("created_by".into(), json!(permit.actor()));
        record.insert("created_at".into(), json!(now));
        record.insert("updated_at".into(), json!(now));
        record.insert("search_text".into(), json!(search_text(&record)));
        let record = strip_nulls(record);
        let audit = Event::new(permit.actor(), "media.upload", format!("media/{id}"))
            .from_address(permit.address())
            .after(Some(Value::Object(record.clone())))
            .data();
        let change = media_change("media.created", permit.actor(), None, Some(&record), audit);
        match self.inner.store.create_media(&id, record, &change).await {
            Ok(record) => Ok(Stored {
                record,
                created: true,
            }),
            // The same bytes arrived in another request at the same moment: that one won.
            Err(Error::Conflict {
                code: code::ALREADY_EXISTS,
                ..
            }) => {
                let existing = self
                    .inner
                    .store
                    .media_by_sha(&received.sha256)
                    .await?
                    .ok_or_else(|| Error::internal("media with this hash vanished"))?;
                Ok(Stored {
                    record: existing,
                    created: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn put_file(&self, key: &ObjectPath, path: &Path) -> Result<()> {
        let mut file = tokio::fs::File::open(path).await?;
        let mut writer =
            object_store::buffered::BufWriter::new(self.inner.objects.clone(), key.clone());
        if let Err(e) = tokio::io::copy(&mut file, &mut writer).await {
            let _ = writer.abort().await;
            return Err(e.into());
        }
        writer.shutdown().await?;
        Ok(())
    }

    async fn folder_exists(&self, folder: &str) -> Result<()> {
        match self.inner.store.get_folder(folder).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found(
                code::FOLDER_NOT_FOUND,
                format!("no media folder has id {folder}"),
            )),
        }
    }

    /// Alt text or a caption: a string, or (on a site with locales) an object of locale →
    /// string. At most 1,000 characters each.
    fn localized_text(&self, what: &str, value: Option<Value>) -> Result<Option<Value>> {
        let check = |s: &str| {
            if s.chars().count() > 1000 {
                Err(Error::bad_request(
                    code::INVALID_METADATA,
                    format!("{what} is longer than 1000 characters"),
                ))
            } else {
                Ok(())
            }
        };
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                check(&s)?;
                Ok(Some(match self.inner.locales.first() {
                    Some(default) => json!({ default.clone(): s }),
                    None => Value::String(s),
                }))
            }
            Some(Value::Object(map)) if !self.inner.locales.is_empty() => {
                for (locale, v) in &map {
                    if !self.inner.locales.contains(locale) {
                        return Err(Error::bad_request(
                            code::INVALID_METADATA,
                            format!(
                                "{what} has locale `{locale}`; the site's locales are {}",
                                self.inner.locales.join(", ")
                            ),
                        ));
                    }
                    match v {
                        Value::String(s) => check(s)?,
                        _ => {
                            return Err(Error::bad_request(
                                code::INVALID_METADATA,
                                format!("{what}.{locale} must be a string"),
                            ));
                        }
                    }
                }
                Ok(Some(Value::Object(map)))
            }
            Some(_) => Err(Error::bad_request(
                code::INVALID_METADATA,
                if self.inner.locales.is_empty() {
                    format!("{what} must be a string")
                } else {
                    format!("{what} must be a string or an object of locale → string")
                },
            )),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Record> {
        let id = media_id(id)?;
        self.inner.store.get_media(&id).await?.ok_or_else(not_found)
    }

    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Record>> {
        self.inner.store.get_media_many(ids).await
    }

    pub async fn list(&self, filter: &MediaFilter) -> Result<(Vec<Record>, u64)> {
        self.inner.store.list_media(filter).await
    }

    /// Changes an item's metadata; with `version`, only if it is still at that version.
    pub async fn update(
        &self,
        permit: &MediaPermit,
        id: &str,
        patch: MediaPatch,
    ) -> Result<Record> {
        let current = self.get(id).await?;
        if !permit.covers(current.get("created_by").and_then(Value::as_str)) {
            return Err(not_found());
        }
        let version = current.get("version").and_then(Value::as_u64).unwrap_or(1);
        if patch.version.is_some_and(|v| v != version) {
            return Err(Error::VersionConflict { current: version });
        }
        let mut next = current.clone();
        next.remove("id");
        if let Some(name) = patch.filename {
            let mime = current
                .get("mime")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = sniff::kind_of_mime(mime);
            next.insert(
                "filename".into(),
                json!(sniff::clean_filename(&name, &kind)),
            );
        }
        if let Some(alt) = patch.alt {
            next.insert(
                "alt".into(),
                self.localized_text("alt", Some(alt))?
                    .unwrap_or(Value::Null),
            );
        }
        if let Some(caption) = patch.caption {
            next.insert(
                "caption".into(),
                self.localized_text("caption", Some(caption))?
                    .unwrap_or(Value::Null),
            );
        }
        let mut focal_changed = false;
        if let Some(focal) = patch.focal {
            let value = match focal {
                Some((x, y)) => {
                    if !(0.0..=1.0).contains(&x) || !(0.0..=1.0).contains(&y) {
                        return Err(Error::bad_request(
                            code::INVALID_METADATA,
                            "focal.x and focal.y are fractions of the width and height, 0 to 1",
                        ));
                    }
                    json!({ "x": x, "y": y })
                }
                None => Value::Null,
            };
            focal_changed = next.get("focal").unwrap_or(&Value::Null) != &value;
            next.insert("focal".into(), value);
        }
        if let Some(folder) = patch.folder {
            match folder {
                Some(f) => {
                    self.folder_exists(&f).await?;
                    next.insert("folder".into(), json!(f));
                }
                None => {
                    next.remove("folder");
                }
            }
        }
        next.insert("version".into(), json!(version + 1));
        next.insert("updated_at".into(), json!(crate::time::now()));
        next.insert("search_text".into(), json!(search_text(&next)));
        let next = strip_nulls(next);
        let mut before = current.clone();
        before.remove("id");
        let audit = Event::new(permit.actor(), "media.update", format!("media/{id}"))
            .from_address(permit.address())
            .before(Some(Value::Object(before.clone())))
            .after(Some(Value::Object(next.clone())))
            .data();
        let change = media_change(
            "media.updated",
            permit.actor(),
            Some(&before),
            Some(&next),
            audit,
        );
        let id = media_id(id)?;
        let updated = match self
            .inner
            .store
            .update_media(&id, version, next, &change)
            .await
        {
            Err(Error::Conflict {
                code: code::VERSION_CONFLICT,
                ..
            }) => {
                let now = self.get(&id).await?;
                return Err(Error::VersionConflict {
                    current: now.get("version").and_then(Value::as_u64).unwrap_or(0),
                });
            }
            // Deleted since it was read.
            Err(Error::Conflict {
                code: code::NOT_FOUND,
                ..
            }) => return Err(not_found()),
            other => other?,
        };
        if focal_changed {
            // Crops made around the old focal point are stale.
            if let Some(sha) = current.get("sha256").and_then(Value::as_str) {
                self.delete_prefix(&variant_prefix(sha)).await?;
            }
        }
        Ok(updated)
    }

    /// Who uses an item: one row per entry, with the audiences (`admin`: the working copy,
    /// `delivery`: the published entry) it appears in.
    pub async fn usage(&self, id: &str) -> Result<Vec<Value>> {
        let id = media_id(id)?;
        self.get(&id).await?;
        let rows = self.inner.store.media_uses(&id).await?;
        let mut by_entry: indexmap::IndexMap<(String, String), Vec<String>> =
            indexmap::IndexMap::new();
        for r in rows {
            let ty = r
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let entry = r
                .get("entry")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let audience = r
                .get("audience")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            by_entry.entry((ty, entry)).or_default().push(audience);
        }
        let mut out: Vec<Value> = by_entry
            .into_iter()
            .map(|((ty, entry), mut audiences)| {
                audiences.sort();
                json!({
                    "type": ty,
                    "id": entry,
                    "published": audiences.iter().any(|a| a == "delivery"),
                })
            })
            .collect();
        out.sort_by_key(|v| v.to_string());
        Ok(out)
    }

    /// Deletes an item and its bytes. Items in use are refused with their users unless the
    /// caller has cleared those references first (see `Content::detach_media`).
    pub async fn delete(&self, permit: &MediaPermit, id: &str) -> Result<()> {
        let id = media_id(id)?;
        let current = self.get(&id).await?;
        if !permit.covers(current.get("created_by").and_then(Value::as_str)) {
            return Err(not_found());
        }
        let uses = self.usage(&id).await?;
        if !uses.is_empty() {
            return Err(Error::MediaInUse { uses });
        }
        let mut before = current.clone();
        before.remove("id");
        let audit = Event::new(permit.actor(), "media.delete", format!("media/{id}"))
            .from_address(permit.address())
            .before(Some(Value::Object(before.clone())))
            .data();
        let change = media_change("media.deleted", permit.actor(), Some(&before), None, audit);
        self.inner.store.delete_media(&id, &change).await?;
        if let Some(sha) = current.get("sha256").and_then(Value::as_str) {
            self.delete_object(&original_key(sha)).await?;
            self.delete_prefix(&variant_prefix(sha)).await?;
        }
        Ok(())
    }

    async fn delete_object(&self, key: &ObjectPath) -> Result<()> {
        match self.inner.objects.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_prefix(&self, prefix: &ObjectPath) -> Result<()> {
        let keys: Vec<ObjectPath> = self
            .inner
            .objects
            .list(Some(prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for key in keys {
            self.delete_object(&key).await?;
        }
        Ok(())
    }

    /// Whether a published entry of one of `types` uses the item.
    pub async fn delivered(&self, id: &str, types: &[String]) -> Result<bool> {
        self.inner.store.media_delivered(id, types).await
    }

    /// The stored bytes of an item, or the part `range` (start, end inclusive) of them.
    pub async fn read(&self, record: &Record, range: Option<(u64, u64)>) -> Result<Opened> {
        let sha = record
            .get("sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let total = record.get("size").and_then(Value::as_u64).unwrap_or(0);
        let mut opts = GetOptions::default();
        if let Some((a, b)) = range {
            opts.range = Some(GetRange::Bounded(a..b + 1));
        }
        let res = self
            .inner
            .objects
            .get_opts(&original_key(sha), opts)
            .await?;
        let range = res.range.clone();
        let total = res.meta.size.max(total);
        Ok(Opened {
            stream: Box::pin(res.into_stream().map_err(std::io::Error::from)),
            range,
            total,
        })
    }

    /// The bytes of a transformed image: stored ones when this variant was made before,
    /// otherwise made now (at most `transform_concurrency` at once), stored, and returned.
    pub async fn variant(&self, record: &Record, t: &Transform) -> Result<Bytes> {
        let sha = record
            .get("sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = variant_prefix(sha).join(t.key());
        if let Some(bytes) = self.read_object(&key).await? {
            return Ok(bytes);
        }
        let lock = {
            let mut making = self.inner.making.lock().unwrap_or_else(|e| e.into_inner());
            making.entry(key.to_string()).or_default().clone()
        };
        let _making = lock.lock().await;
        let result = self.make_variant(record, t, &key).await;
        self.inner
            .making
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key.as_ref());
        result
    }

    async fn make_variant(
        &self,
        record: &Record,
        t: &Transform,
        key: &ObjectPath,
    ) -> Result<Bytes> {
        // Made by the request we waited for?
        if let Some(bytes) = self.read_object(key).await? {
            return Ok(bytes);
        }
        let sha = record
            .get("sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let made = self
            .inner
            .objects
            .list(Some(&variant_prefix(sha)))
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await?;
        if made >= self.inner.config.max_variants {
            return Err(Error::bad_request(
                code::TOO_MANY_VARIANTS,
                format!(
                    "this image already has {made} stored variants, the most allowed; use one \
                     of the sizes already in use"
                ),
            ));
        }
        let mime = record
            .get("mime")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = sniff::kind_of_mime(mime);
        let original = self
            .read_object(&original_key(sha))
            .await?
            .ok_or_else(|| Error::internal(format!("the bytes of media {sha} are missing")))?;
        let max_pixels = self.inner.config.max_image_pixels;
        let t = *t;
        let (header, needed) = {
            let original = original.clone();
            blocking(move || {
                let header =
                    imaging::read_header(&|| Ok(Cursor::new(&original[..])), &kind, max_pixels)?;
                let (w, h) = header.displayed();
                Ok((header, imaging::needed(&t, w, h)))
            })
            .await?
        };
        let _turn = self.image_work(header.decode_cost(Some(needed))).await?;
        let out = blocking(move || {
            let open = || Ok(Cursor::new(&original[..]));
            let img = imaging::decode_at_least(&open, &header, &kind, max_pixels, Some(needed))?;
            imaging::apply(&img, &t, header.displayed())
        })
        .await?;
        let bytes = Bytes::from(out);
        self.inner
            .objects
            .put(key, PutPayload::from(bytes.clone()))
            .await?;
        Ok(bytes)
    }

    /// Waits for a turn at image work (decoding, resizing) that will hold about `bytes`: at
    /// most `media.transform_concurrency` jobs at once, and no more than
    /// `media.image_memory_mib` between them. A job larger than the whole budget waits until
    /// it has it all, so it runs alone.
    async fn image_work(&self, bytes: u64) -> Result<ImageTurn<'_>> {
        let budget = self.inner.config.image_memory_mib.max(1);
        let mib = bytes.div_ceil(1 << 20).clamp(1, budget);
        let memory = self
            .inner
            .image_memory
            .acquire_many(u32::try_from(mib).unwrap_or(u32::MAX))
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        let core = self
            .inner
            .transforms
            .acquire()
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(ImageTurn {
            _memory: memory,
            _core: core,
        })
    }

    async fn read_object(&self, key: &ObjectPath) -> Result<Option<Bytes>> {
        match self.inner.objects.get(key).await {
            Ok(res) => Ok(Some(res.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    // ---- folders ----------------------------------------------------------------------

    pub async fn list_folders(&self) -> Result<Vec<Record>> {
        self.inner.store.list_folders().await
    }

    /// Creates a folder (`id = None`) or renames/moves one.
    pub async fn put_folder(
        &self,
        permit: &MediaPermit,
        id: Option<&str>,
        name: &str,
        parent: Option<String>,
    ) -> Result<Record> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.contains(['/', '\\']) {
            return Err(Error::bad_request(
                code::INVALID_FOLDER,
                "a folder name is 1 to 100 characters, without slashes",
            ));
        }
        let (id, created_at, action, before) = match id {
            Some(id) => {
                let id = media_id(id)?;
                let mut current = self.inner.store.get_folder(&id).await?.ok_or_else(|| {
                    Error::not_found(
                        code::FOLDER_NOT_FOUND,
                        format!("no media folder has id {id}"),
                    )
                })?;
                current.remove("id");
                let at = current.get("created_at").cloned().unwrap_or(Value::Null);
                (id, at, "media.folder.update", Some(current))
            }
            None => (
                ulid::Ulid::new().to_string(),
                json!(crate::time::now()),
                "media.folder.create",
                None,
            ),
        };
        let folders = self.list_folders().await?;
        let taken = folders.iter().any(|f| {
            f.get("id").and_then(Value::as_str) != Some(id.as_str())
                && f.get("parent").and_then(Value::as_str) == parent.as_deref()
                && f.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase() == name.to_lowercase())
        });
        if taken {
            return Err(Error::Conflict {
                code: code::FOLDER_EXISTS,
                message: format!("a folder named `{name}` is already there"),
            });
        }
        if let Some(parent) = &parent {
            // A folder may not sit inside itself or its own descendants.
            let parent_of = |f: &str| {
                folders
                    .iter()
                    .find(|r| r.get("id").and_then(Value::as_str) == Some(f))
                    .map(|r| r.get("parent").and_then(Value::as_str).map(str::to_owned))
            };
            let mut at = Some(parent.clone());
            let mut steps = 0;
            while let Some(f) = at {
                if f == id {
                    return Err(Error::bad_request(
                        code::INVALID_FOLDER,
                        "a folder cannot be moved into itself or one of its subfolders",
                    ));
                }
                match parent_of(&f) {
                    Some(next) => at = next,
                    None if steps == 0 => {
                        return Err(Error::not_found(
                            code::FOLDER_NOT_FOUND,
                            format!("no media folder has id {f}"),
                        ));
                    }
                    None => at = None,
                }
                steps += 1;
                if steps > 1000 {
                    break;
                }
            }
        }
        let mut record = Map::new();
        record.insert("name".into(), json!(name));
        if let Some(parent) = parent {
            record.insert("parent".into(), json!(parent));
        }
        record.insert("created_at".into(), created_at);
        let audit = Event::new(permit.actor(), action, format!("media-folder/{id}"))
            .from_address(permit.address())
            .after(Some(Value::Object(record.clone())))
            .data();
        let kind = if before.is_some() {
            "folder.updated"
        } else {
            "folder.created"
        };
        let change = media_change(kind, permit.actor(), before.as_ref(), Some(&record), audit);
        self.inner
            .store
            .put_folder(&id, record, &change)
            .await
            .map_err(|e| match e {
                Error::Conflict {
                    code: code::ALREADY_EXISTS,
                    ..
                } => Error::Conflict {
                    code: code::FOLDER_EXISTS,
                    message: format!("a folder named `{name}` is already there"),
                },
                other => other,
            })
    }

    pub async fn delete_folder(&self, permit: &MediaPermit, id: &str) -> Result<()> {
        let id = media_id(id)?;
        self.inner.store.get_folder(&id).await?.ok_or_else(|| {
            Error::not_found(
                code::FOLDER_NOT_FOUND,
                format!("no media folder has id {id}"),
            )
        })?;
        let audit = Event::new(
            permit.actor(),
            "media.folder.delete",
            format!("media-folder/{id}"),
        )
        .from_address(permit.address())
        .data();
        let change = media_change("folder.deleted", permit.actor(), None, None, audit);
        self.inner
            .store
            .delete_folder(&id, &change)
            .await
            .map_err(|e| match e {
                Error::Conflict {
                    code: code::FOLDER_NOT_EMPTY,
                    ..
                } => Error::Conflict {
                    code: code::FOLDER_NOT_EMPTY,
                    message: "the folder still holds media or folders: move or delete them first"
                        .into(),
                },
                other => other,
            })
    }

    // ---- shapes -----------------------------------------------------------------------

    /// The URL of an item's original bytes.
    pub fn url(&self, record: &Record) -> String {
        media_url(&self.inner.base_url, record)
    }

    /// An item as the delivery API shows it (populated media fields): alt text and caption
    /// in `locale` (falling back to the default locale).
    pub fn delivery_object(&self, record: &Record, locale: Option<&str>) -> Value {
        let default = self.inner.locales.first().map(String::as_str);
        let text = |key: &str| resolve_text(record.get(key), locale, default);
        let mut out = Map::new();
        out.insert(
            "id".into(),
            record.get("id").cloned().unwrap_or(Value::Null),
        );
        out.insert("url".into(), json!(self.url(record)));
        for key in ["filename", "mime", "size", "width", "height"] {
            if let Some(v) = record.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
        out.insert("alt".into(), text("alt"));
        out.insert("caption".into(), text("caption"));
        out.insert(
            "focal".into(),
            record.get("focal").cloned().unwrap_or(Value::Null),
        );
        if let Some(v) = record.get("placeholder") {
            out.insert("placeholder".into(), v.clone());
        }
        Value::Object(out)
    }

    /// An item as the admin API shows it: everything but internal search text.
    pub fn admin_object(&self, record: &Record) -> Value {
        let mut out = record.clone();
        out.remove("search_text");
        out.insert("url".into(), json!(self.url(record)));
        for key in ["alt", "caption", "focal", "folder"] {
            out.entry(key).or_insert(Value::Null);
        }
        Value::Object(out)
    }
}

fn resolve_text(value: Option<&Value>, locale: Option<&str>, default: Option<&str>) -> Value {
    match value {
        Some(Value::Object(map)) => locale
            .and_then(|l| map.get(l))
            .or_else(|| default.and_then(|d| map.get(d)))
            .or_else(|| map.values().next())
            .cloned()
            .unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// `/media/{id}/{filename}` under `base`, the name percent-encoded.
pub fn media_url(base: &str, record: &Record) -> String {
    let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
    let name = record
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or("file");
    format!("{base}/media/{id}/{}", encode_segment(name))
}

fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn search_text(record: &Record) -> String {
    let mut words = Vec::new();
    let mut add = |v: Option<&Value>| match v {
        Some(Value::String(s)) => words.push(s.to_lowercase()),
        Some(Value::Object(map)) => words.extend(
            map.values()
                .filter_map(Value::as_str)
                .map(str::to_lowercase),
        ),
        _ => {}
    };
    add(record.get("filename"));
    add(record.get("alt"));
    add(record.get("caption"));
    words.join("\n")
}

fn strip_nulls(mut record: Record) -> Record {
    record.retain(|_, v| !v.is_null());
    record
}

fn original_key(sha: &str) -> ObjectPath {
    ObjectPath::from(format!("originals/{}/{sha}", &sha[..2.min(sha.len())]))
}

fn variant_prefix(sha: &str) -> ObjectPath {
    ObjectPath::from(format!("variants/{sha}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn not_found() -> Error {
    Error::not_found(code::MEDIA_NOT_FOUND, "no media item has this id")
}

/// A media id in its canonical form (a ULID), or `media_not_found`.
pub fn media_id(raw: &str) -> Result<String> {
    ulid::Ulid::from_string(raw)
        .map(|u| u.to_string())
        .map_err(|_| not_found())
}

fn refusal(r: sniff::Refusal) -> Error {
    match r {
        sniff::Refusal::Active => Error::UnsupportedMedia {
            code: code::ACTIVE_CONTENT,
            message: "the file is HTML or other markup a browser would run; it is not accepted"
                .into(),
        },
        sniff::Refusal::Unknown => Error::UnsupportedMedia {
            code: code::UNSUPPORTED_TYPE,
            message: "the file's contents are not of a kind this server accepts".into(),
        },
        sniff::Refusal::ExtensionMismatch { detected } => Error::UnsupportedMedia {
            code: code::EXTENSION_MISMATCH,
            message: format!(
                "the file's name says one kind of file but its contents are {detected}"
            ),
        },
    }
}

/// The object store `media.store` names: a directory under the data directory by default.
fn object_store_for(config: &Config) -> Result<Arc<dyn ObjectStore>> {
    let m = &config.media;
    let local = |dir: PathBuf| -> Result<Arc<dyn ObjectStore>> {
        std::fs::create_dir_all(&dir)?;
        Ok(Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir)?,
        ))
    };
    match m.store.as_deref() {
        None => local(config.data_dir.join("media")),
        Some(url) if url.starts_with("file://") => {
            local(PathBuf::from(url.trim_start_matches("file://")))
        }
        Some(url) => {
            let rest = url.trim_start_matches("s3://");
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!(
                    "configuration: media.store `{url}` names no bucket"
                )));
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(m.s3_region.clone().unwrap_or_else(|| "us-east-1".into()));
            if let Some(endpoint) = &m.s3_endpoint {
                b = b
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &m.s3_access_key_id {
                b = b.with_access_key_id(key);
            }
            if let Some(secret) = &m.s3_secret_access_key {
                b = b.with_secret_access_key(secret);
            }
            let s3 = b
                .build()
                .map_err(|e| Error::Config(format!("configuration: media.store: {e}")))?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() {
                Ok(Arc::new(s3))
            } else {
                Ok(Arc::new(object_store::prefix::PrefixStore::new(
                    s3,
                    ObjectPath::from(prefix),
                )))
            }
        }
    }
}

/// What a change to a media item logs: `kind`, who, and the metadata that changed (the
/// bookkeeping of versions, times and the search text left out).
fn media_change(
    kind: &'static str,
    actor: &str,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
    audit: String,
) -> crate::storage::events::ChangeRecord {
    const BOOKKEEPING: &[&str] = &[
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "search_text",
    ];
    let keys: std::collections::BTreeSet<&String> = before
        .into_iter()
        .chain(after)
        .flat_map(|r| r.keys())
        .filter(|k| k.as_str() != "id" && !BOOKKEEPING.contains(&k.as_str()))
        .collect();
    let changed = keys
        .into_iter()
        .filter(|k| before.and_then(|r| r.get(*k)) != after.and_then(|r| r.get(*k)))
        .cloned()
        .collect();
    crate::storage::events::ChangeRecord {
        kind,
        actor: actor.to_owned(),
        changed,
        audit,
    }
}

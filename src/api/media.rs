//! The media library over HTTP: `/admin/api/v1/media` (upload, list, metadata, folders,
//! usage, delete) and `/media/{id}/{filename}` (the bytes, whole or in ranges, and resized
//! images). Both are declared with poem-openapi, so the documents describe them from the
//! types below.
//!
//! Uploads are `multipart/form-data` (any number of `file` parts, plus optional `folder`,
//! `alt` and `caption` parts, which apply to every file) or a raw body with `?filename=`.
//! Each file is streamed to disk and refused as soon as it passes `media.max_file_mib`; the
//! request as a whole stops at `media.max_request_mib`.
//!
//! Serving: an item used by a published entry of a type the caller may read through the
//! delivery API is public (cached for a year: an item's bytes never change); any other item
//! only reaches callers who may read the media library, and answers 404 to everyone else.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::TryStreamExt;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data as State;
use poem::{Body, Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaMediaType, MetaRequest, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{MaybeUndefined, ParseFromJSON, ToJSON, Type};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::io::StreamReader;

use super::auth::caller;
use super::oai::{
    AdminToken, Created, Data, DeliveryToken, ErrorBody, Failure, JsonBody, Tag, statuses,
};
use super::{AppState, if_none_match, only_parameters, query_pairs};
use crate::access::{Action, MediaPermit, Principal};
use crate::error::{Error, Result, code};
use crate::media::imaging::{Fit, Format, Transform};
use crate::media::{MediaPatch, UploadMeta, sniff};
use crate::storage::MediaFilter;

statuses! {
    ListFails = [400, 401, 403];
    UploadFails = [400, 401, 403, 404, 413, 415, 422];
    ReadFails = [400, 401, 403, 404];
    ChangeFails = [400, 401, 403, 404, 409, 422];
    RemoveFails = [400, 401, 403, 404, 409];
    FolderFails = [400, 401, 403, 404, 409, 422];
    BytesFails = [400, 404];
}

/// What a caller wants to do with the library, for [`Library`].
pub trait LibraryAction: Send + Sync + 'static {
    const ACTION: Action;
}

macro_rules! library_actions {
    ($($name:ident => $action:ident),*) => {$(
        pub enum $name {}
        impl LibraryAction for $name {
            const ACTION: Action = Action::$action;
        }
    )*};
}
library_actions!(Read => Read, Upload => Create, Change => Update, Remove => Delete);

/// The caller's permit for the library, checked as an operation's first extractor: an
/// anonymous caller or one whose role may not gets 401 or 403 before anything they sent is
/// read.
pub struct Library<A>(MediaPermit, PhantomData<A>);

impl<'a, A: LibraryAction> FromRequest<'a> for Library<A> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = req
            .data::<Arc<AppState>>()
            .ok_or_else(|| Error::internal("the application state is missing"))?;
        let c = caller(req);
        let permit = state.policy.media(&c.principal, A::ACTION)?;
        Ok(Library(permit.at(c.address_text()), PhantomData))
    }
}

/// A media library item.
#[derive(Object, Deserialize)]
struct MediaItem {
    id: String,
    /// Where the bytes are served: `/media/{id}/{filename}`.
    url: String,
    filename: String,
    /// Detected from the bytes, never from the name.
    mime: String,
    size: u64,
    /// Of the uploaded bytes; identical uploads are stored once.
    sha256: String,
    /// Images only.
    #[oai(skip_serializing_if_is_none)]
    width: Option<u32>,
    /// Images only.
    #[oai(skip_serializing_if_is_none)]
    height: Option<u32>,
    /// A tiny image as a `data:` URI, to show while the real one loads (images only).
    #[oai(skip_serializing_if_is_none)]
    placeholder: Option<String>,
    /// The alternative text for readers who cannot see the image.
    #[oai(nullable)]
    alt: Option<Text>,
    #[oai(nullable)]
    caption: Option<Text>,
    /// The point crops keep in view.
    #[oai(nullable)]
    focal: Option<Focal>,
    /// The folder's id (none: the root).
    #[oai(nullable)]
    folder: Option<String>,
    version: u64,
    /// Who uploaded it (`user:…`, `token:…`).
    created_by: String,
    created_at: String,
    updated_at: String,
    /// On upload: the bytes were already in the library, and this is that item.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    duplicate: Option<bool>,
}

impl MediaItem {
    /// The item as the admin API answers it (`duplicate` is set by uploads only).
    fn of(state: &AppState, record: &crate::media::Record) -> Result<MediaItem> {
        stored(state.media.admin_object(record), "media item")
    }
}

/// A text of an item: one string, or one per locale (locale → string) on a site with
/// locales. Up to 1,000 characters.
#[derive(Deserialize, serde::Serialize)]
#[serde(untagged)]
enum Text {
    Plain(String),
    Localised(BTreeMap<String, String>),
}

// Described as `oneOf` a string and an object of strings (poem-openapi's `Union` would also
// say `type: object`, which a plain string breaks).
impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "MediaText".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |_| {
            let text = || MetaSchema {
                max_length: Some(1000),
                ..MetaSchema::new("string")
            };
            MetaSchema {
                description: Some(
                    "One string, or one per locale (locale → string) on a site with locales; \
                     up to 1,000 characters",
                ),
                one_of: vec![
                    MetaSchemaRef::Inline(Box::new(text())),
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(
                            text(),
                        )))),
                        ..MetaSchema::new("object")
                    })),
                ],
                ..MetaSchema::ANY
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> poem_openapi::types::ParseResult<Self> {
        serde_json::from_value(value.unwrap_or_default())
            .map_err(poem_openapi::types::ParseError::custom)
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        serde_json::to_value(self).ok()
    }
}

impl Text {
    fn into_value(self) -> Value {
        match self {
            Text::Plain(s) => Value::String(s),
            Text::Localised(map) => json!(map),
        }
    }
}

/// Fractions of the width and height (0 to 1) that crops keep in view.
#[derive(Object, Deserialize, Clone, Copy)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct Focal {
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    x: f64,
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    y: f64,
}

/// A page of the library.
#[derive(Object)]
struct MediaPage {
    data: Vec<MediaItem>,
    meta: PageMeta,
}

#[derive(Object)]
#[oai(rename = "MediaPageMeta")]
struct PageMeta {
    /// Items matching the filters.
    total: u64,
    page: u32,
    limit: u32,
}

/// An entry that uses an item.
#[derive(Object, Deserialize)]
pub(super) struct MediaUse {
    /// The entry's content type.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    type_id: String,
    /// The entry's id.
    id: String,
    /// Whether its published version uses the item (otherwise only its working copy does).
    published: bool,
}

/// A folder of the library.
#[derive(Object, Deserialize)]
#[oai(rename = "MediaFolder")]
struct Folder {
    id: String,
    /// Unique within its parent.
    name: String,
    /// The parent folder's id (none: the root).
    #[oai(nullable)]
    #[serde(default)]
    parent: Option<String>,
    created_at: String,
}

impl Folder {
    fn of(record: crate::media::Record) -> Result<Folder> {
        stored(Value::Object(record), "media folder")
    }
}

/// What deleting an item did.
#[derive(Object)]
struct DeletedMedia {
    id: String,
    deleted: bool,
    /// How many entries `force=true` removed the item from.
    entries_changed: u64,
}

/// A deleted folder.
#[derive(Object)]
struct DeletedFolder {
    id: String,
    deleted: bool,
}

/// The body of `PATCH /media/{id}`: what to change (`null` clears, a key left out keeps).
#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct UpdateMedia {
    /// A new name; the extension stays the one the bytes call for.
    #[oai(validator(min_length = 1, max_length = 255))]
    filename: Option<String>,
    alt: MaybeUndefined<Text>,
    caption: MaybeUndefined<Text>,
    focal: MaybeUndefined<Focal>,
    /// A folder id, or `null` for the root.
    folder: MaybeUndefined<String>,
    /// The version you read; a stale one gets 409 (or send If-Match).
    #[oai(validator(minimum(value = "1"), maximum(value = "999999999999999")))]
    version: Option<u64>,
}

/// The body that creates, renames or moves a folder.
#[derive(Object, Deserialize)]
#[oai(rename = "MediaFolderBody", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct FolderBody {
    /// Up to 100 characters, not only spaces, without `/` or `\`.
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^/\\]*[^/\\\s][^/\\]*$"
    ))]
    name: String,
    /// The parent folder's id (none: the root).
    #[oai(nullable)]
    #[serde(default)]
    parent: Option<String>,
}

/// Stored, or already there.
#[derive(ApiResponse)]
enum Uploaded {
    /// Stored (each item says whether it was already there).
    #[oai(status = 201)]
    Created(Json<Data<Vec<MediaItem>>>),
    /// Every file was already in the library.
    #[oai(status = 200)]
    AlreadyThere(Json<Data<Vec<MediaItem>>>),
}

/// The upload's body, left unread for the operation to stream: `multipart/form-data`, or
/// the file's bytes as they are.
struct UploadBody(Body);

impl<'a> ApiExtractor<'a> for UploadBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(_registry: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
        let text = || MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")));
        let binary =
            || MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        let form = MetaSchema {
            properties: vec![
                (
                    "file",
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        items: Some(Box::new(binary())),
                        min_items: Some(1),
                        max_items: Some(100),
                        description: Some("One part per file (up to 100)"),
                        ..MetaSchema::new("array")
                    })),
                ),
                ("folder", text()),
                ("alt", text()),
                ("caption", text()),
            ],
            required: vec!["file"],
            ..MetaSchema::new("object")
        };
        Some(MetaRequest {
            description: None,
            content: vec![
                MetaMediaType {
                    content_type: "multipart/form-data",
                    schema: MetaSchemaRef::Inline(Box::new(form)),
                },
                MetaMediaType {
                    content_type: "application/octet-stream",
                    schema: binary(),
                },
            ],
            required: true,
        })
    }

    async fn from_request(
        _req: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(UploadBody(body.take()?))
    }
}

pub struct MediaApi;

#[OpenApi(tag = "Tag::Media")]
impl MediaApi {
    /// The library, newest first.
    #[oai(path = "/media", method = "get", operation_id = "list_media")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn list_media(
        &self,
        _auth: AdminToken,
        _library: Library<Read>,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// Words in the file name, alt text or caption.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// A folder id, or `root`.
        #[oai(validator(pattern = "^(|root|[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25})$"))]
        folder: Query<Option<String>>,
        /// `image`, `video`, ... or a full MIME type.
        #[oai(name = "type", validator(min_length = 1, max_length = 100))]
        mime: Query<Option<String>>,
        /// From 1.
        #[oai(validator(minimum(value = "1"), maximum(value = "100000")))]
        page: Query<Option<u32>>,
        /// Items a page, 1–100 (default 25).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<MediaPage>, Failure<ListFails>> {
        only_parameters(
            req,
            &["q", "folder", "type", "page", "limit"],
            "the library",
        )?;
        let folder = match folder.0.as_deref() {
            None => None,
            Some("" | "root") => Some(None),
            Some(id) => Some(Some(crate::media::media_id(id).map_err(|_| {
                Error::InvalidQuery {
                    code: code::INVALID_PARAMETER,
                    param: "folder".into(),
                    message: format!("`{id}` is not a folder id (or `root`)"),
                }
            })?)),
        };
        let limit = limit.0.unwrap_or(25);
        let page = page.0.unwrap_or(1);
        let filter = MediaFilter {
            folder,
            mime: mime
                .0
                .map(|m| if m.contains('/') { m } else { format!("{m}/") }),
            text: q
                .0
                .map(|q| q.trim().to_lowercase())
                .filter(|q| !q.is_empty()),
            limit,
            offset: (page - 1) * limit,
            ..MediaFilter::default()
        };
        let (rows, total) = state.media.list(&filter).await?;
        Ok(Json(MediaPage {
            data: items(&state, &rows)?,
            meta: PageMeta { total, page, limit },
        }))
    }

    /// Upload files: `multipart/form-data` with `file` parts (and `folder`, `alt`,
    /// `caption`), or the raw bytes with `?filename=`. The kind is read from the bytes; a
    /// name that says otherwise, HTML and SVG are refused (415: `extension_mismatch`,
    /// `active_content`, `svg_not_accepted`, `type_not_allowed`, `unsupported_type`,
    /// `invalid_image`, `image_too_large`). Identical bytes already in the library answer
    /// with that item (`duplicate`). A folder that does not exist is 404
    /// `folder_not_found`; a file or the request over its limit is 413; a raw upload
    /// without `filename` is 422.
    #[oai(path = "/media", method = "post", operation_id = "upload_media")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn upload_media(
        &self,
        _auth: AdminToken,
        library: Library<Upload>,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// Raw uploads: the file's name.
        filename: Query<Option<String>>,
        /// The folder to put the files in.
        folder: Query<Option<String>>,
        /// Raw uploads: the alt text.
        alt: Query<Option<String>>,
        /// Raw uploads: the caption.
        caption: Query<Option<String>>,
        /// `type.field`: refuse files that media field does not accept.
        field: Query<Option<String>>,
        body: UploadBody,
    ) -> Result<Uploaded, Failure<UploadFails>> {
        let ask = UploadAsk {
            filename: filename.0.filter(|v| !v.is_empty()),
            folder: folder.0.filter(|v| !v.is_empty()),
            alt: alt.0.filter(|v| !v.is_empty()),
            caption: caption.0.filter(|v| !v.is_empty()),
            field: field.0,
        };
        let results = upload(req, body.0, &state, &library.0, ask).await?;
        let created = results.iter().any(|r| r.created);
        let data = results
            .iter()
            .map(|r| {
                let mut item = MediaItem::of(&state, &r.record)?;
                item.duplicate = Some(!r.created);
                Ok(item)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(if created {
            Uploaded::Created(Json(Data { data }))
        } else {
            Uploaded::AlreadyThere(Data::ok(data))
        })
    }

    /// One item.
    #[oai(path = "/media/:id", method = "get", operation_id = "get_media")]
    async fn get_media(
        &self,
        _auth: AdminToken,
        _library: Library<Read>,
        state: State<&Arc<AppState>>,
        /// The item's id.
        id: Path<String>,
    ) -> Result<Json<Data<MediaItem>>, Failure<ReadFails>> {
        let record = state.media.get(&id).await?;
        Ok(Data::ok(MediaItem::of(&state, &record)?))
    }

    /// Change the file name, alt text, caption, focal point or folder (`null` clears); with
    /// `version` (or If-Match), only if unchanged since.
    #[oai(path = "/media/:id", method = "patch", operation_id = "update_media")]
    async fn update_media(
        &self,
        _auth: AdminToken,
        library: Library<Change>,
        state: State<&Arc<AppState>>,
        /// The item's id.
        id: Path<String>,
        /// The version you read, e.g. "3" (a weak `W/"3"` too).
        #[oai(name = "If-Match", validator(pattern = r#"^(W/)?"?[0-9]{1,15}"?$"#))]
        if_match: Header<Option<String>>,
        body: JsonBody<UpdateMedia, { 64 * 1024 }>,
    ) -> Result<Json<Data<MediaItem>>, Failure<ChangeFails>> {
        let body = body.0;
        let folder = match body.folder {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(f) => Some(Some(crate::media::media_id(&f).map_err(|_| {
                Error::not_found(code::FOLDER_NOT_FOUND, "no media folder has this id")
            })?)),
        };
        let text = |t: MaybeUndefined<Text>| match t {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(Value::Null),
            MaybeUndefined::Value(t) => Some(t.into_value()),
        };
        let patch = MediaPatch {
            filename: body.filename,
            alt: text(body.alt),
            caption: text(body.caption),
            focal: match body.focal {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(f) => Some(Some((f.x, f.y))),
            },
            folder,
            version: super::version_to_match(if_match.0.as_deref(), body.version)?,
        };
        let record = state.media.update(&library.0, &id, patch).await?;
        Ok(Data::ok(MediaItem::of(&state, &record)?))
    }

    /// Delete an item and its bytes. One that entries use is refused (409 `media_in_use`
    /// with `usage`) unless `force=true`, which first removes it from those entries.
    #[oai(path = "/media/:id", method = "delete", operation_id = "delete_media")]
    async fn delete_media(
        &self,
        _auth: AdminToken,
        library: Library<Remove>,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// The item's id.
        id: Path<String>,
        /// Remove the item from the entries that use it first (you must be allowed to
        /// change them, and to publish those whose published version uses it).
        force: Query<Option<bool>>,
    ) -> Result<Json<Data<DeletedMedia>>, Failure<RemoveFails>> {
        let permit = library.0;
        let id = crate::media::media_id(&id)?;
        let record = state.media.get(&id).await?;
        if !permit.covers(record.get("created_by").and_then(Value::as_str)) {
            return Err(
                Error::not_found(code::MEDIA_NOT_FOUND, "no media item has this id").into(),
            );
        }
        let mut detached = 0;
        if force.0.unwrap_or(false) {
            // Clearing references edits entries: the caller must be allowed to update every
            // one.
            let c = caller(req);
            for u in state.media.usage(&id).await? {
                let Some(ct) = u
                    .get("type")
                    .and_then(Value::as_str)
                    .and_then(|t| state.content.content_type(t).ok())
                else {
                    continue;
                };
                state.policy.permit(&c.principal, &ct, Action::Update)?;
                if ct.drafts && u.get("published") == Some(&json!(true)) {
                    state.policy.permit(&c.principal, &ct, Action::Publish)?;
                }
            }
            detached = state
                .content
                .detach_media(permit.actor(), permit.address(), &id)
                .await?;
        }
        state.media.delete(&permit, &id).await?;
        Ok(Data::ok(DeletedMedia {
            id,
            deleted: true,
            entries_changed: detached as u64,
        }))
    }

    /// The entries that use an item, and whether their published version does.
    #[oai(
        path = "/media/:id/usage",
        method = "get",
        operation_id = "media_usage"
    )]
    async fn media_usage(
        &self,
        _auth: AdminToken,
        _library: Library<Read>,
        state: State<&Arc<AppState>>,
        /// The item's id.
        id: Path<String>,
    ) -> Result<Json<Data<Vec<MediaUse>>>, Failure<ReadFails>> {
        let uses = state.media.usage(&id).await?;
        Ok(Data::ok(stored(Value::Array(uses), "media use")?))
    }

    /// Every folder.
    #[oai(
        path = "/media/folders",
        method = "get",
        operation_id = "list_media_folders"
    )]
    async fn list_media_folders(
        &self,
        _auth: AdminToken,
        _library: Library<Read>,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<Vec<Folder>>>, Failure<ListFails>> {
        let folders = state.media.list_folders().await?;
        Ok(Data::ok(
            folders.into_iter().map(Folder::of).collect::<Result<_>>()?,
        ))
    }

    /// Create a folder (names are unique within their parent).
    #[oai(
        path = "/media/folders",
        method = "post",
        operation_id = "create_media_folder"
    )]
    async fn create_media_folder(
        &self,
        _auth: AdminToken,
        library: Library<Upload>,
        state: State<&Arc<AppState>>,
        body: JsonBody<FolderBody>,
    ) -> Result<Created<Folder>, Failure<FolderFails>> {
        let body = body.0;
        let folder = state
            .media
            .put_folder(&library.0, None, &body.name, body.parent)
            .await?;
        Ok(Created::with(Folder::of(folder)?))
    }

    /// Rename or move a folder.
    #[oai(
        path = "/media/folders/:id",
        method = "patch",
        operation_id = "update_media_folder"
    )]
    async fn update_media_folder(
        &self,
        _auth: AdminToken,
        library: Library<Change>,
        state: State<&Arc<AppState>>,
        /// The folder's id.
        id: Path<String>,
        body: JsonBody<FolderBody>,
    ) -> Result<Json<Data<Folder>>, Failure<FolderFails>> {
        let body = body.0;
        let folder = state
            .media
            .put_folder(&library.0, Some(&id), &body.name, body.parent)
            .await?;
        Ok(Data::ok(Folder::of(folder)?))
    }

    /// Delete an empty folder (409 `folder_not_empty` otherwise).
    #[oai(
        path = "/media/folders/:id",
        method = "delete",
        operation_id = "delete_media_folder"
    )]
    async fn delete_media_folder(
        &self,
        _auth: AdminToken,
        library: Library<Remove>,
        state: State<&Arc<AppState>>,
        /// The folder's id.
        id: Path<String>,
    ) -> Result<Json<Data<DeletedFolder>>, Failure<RemoveFails>> {
        state.media.delete_folder(&library.0, &id).await?;
        Ok(Data::ok(DeletedFolder {
            id: id.0,
            deleted: true,
        }))
    }
}

/// What the library stores, read into what the API answers. A stored record that does not
/// fit is the server's fault (500), never a malformed answer.
fn stored<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| Error::internal(format!("a stored {what} is malformed: {e}")))
}

fn items(state: &AppState, rows: &[crate::media::Record]) -> Result<Vec<MediaItem>> {
    rows.iter().map(|r| MediaItem::of(state, r)).collect()
}

// ---- uploads --------------------------------------------------------------------------

/// What an upload's query string asks.
struct UploadAsk {
    filename: Option<String>,
    folder: Option<String>,
    alt: Option<String>,
    caption: Option<String>,
    field: Option<String>,
}

/// Receives every file of an upload, checks them all, then stores them.
async fn upload(
    req: &Request,
    body: Body,
    state: &AppState,
    permit: &MediaPermit,
    ask: UploadAsk,
) -> Result<Vec<crate::media::Stored>> {
    let media = &state.media;
    let per_file = media.max_file_bytes();
    let per_request = media.config().max_request_mib * 1024 * 1024;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > per_request) {
        return Err(Error::PayloadTooLarge {
            limit: per_request as usize,
        });
    }
    let accept = match &ask.field {
        Some(path) => Some(field_accept(state, path)?),
        None => None,
    };
    let is_multipart = req
        .content_type()
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let mut results = Vec::new();
    let framing_error = Arc::new(std::sync::OnceLock::new());
    if is_multipart {
        let mut multipart = multipart_form(req, body, per_request, &framing_error)?;
        let mut meta = UploadMeta {
            folder: ask.folder,
            ..UploadMeta::default()
        };
        let mut files = Vec::new();
        let mut received_total = 0u64;
        let form_error = |e: multer::Error| match e {
            multer::Error::StreamSizeExceeded { .. } => Error::PayloadTooLarge {
                limit: per_request as usize,
            },
            multer::Error::FieldSizeExceeded { .. } => {
                bad_upload("the form fields folder, alt and caption are at most 8 KiB")
            }
            multer::Error::UnknownField { field_name } => bad_upload(format!(
                "unknown form field {:?}: send `file` parts and optionally `folder`, `alt`, \
                 `caption`",
                field_name
                    .unwrap_or_default()
                    .chars()
                    .take(64)
                    .collect::<String>()
            )),
            _ => bad_upload(
                framing_error
                    .get()
                    .copied()
                    .unwrap_or("the body is not valid multipart/form-data"),
            ),
        };
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => return Err(form_error(e)),
            };
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "file" | "files" | "files[]" => {
                    if files.len() >= 100 {
                        return Err(bad_upload("at most 100 files per request"));
                    }
                    let filename = field.file_name().unwrap_or_default().to_owned();
                    let limit = per_file.min(per_request.saturating_sub(received_total));
                    let reader = StreamReader::new(field.map_err(std::io::Error::other));
                    let received = match media.receive(reader, limit).await {
                        Err(Error::FileTooLarge { .. }) if limit < per_file => {
                            return Err(Error::PayloadTooLarge {
                                limit: per_request as usize,
                            });
                        }
                        Err(Error::Io(_)) => {
                            // The form broke off: say why multer stopped.
                            return Err(match multipart.next_field().await {
                                Err(e) => form_error(e),
                                Ok(_) => bad_upload("the body is not valid multipart/form-data"),
                            });
                        }
                        other => other?,
                    };
                    received_total += received.size;
                    files.push((filename, received));
                }
                _ => {
                    // folder, alt or caption: multer stops each at 8 KiB as it reads.
                    let text = field.text().await.map_err(form_error)?;
                    let text = Some(text).filter(|t| !t.is_empty());
                    match name.as_str() {
                        "folder" => meta.folder = text,
                        "alt" => meta.alt = text.map(Value::String),
                        _ => meta.caption = text.map(Value::String),
                    }
                }
            }
        }
        if files.is_empty() {
            return Err(bad_upload("the form has no `file` part"));
        }
        // Every file is checked before any is stored: a refused one stores nothing.
        for (filename, received) in &files {
            media
                .check(received, filename, accept.as_deref())
                .map_err(|e| naming(e, filename))?;
        }
        for (filename, received) in files {
            let meta = UploadMeta {
                filename,
                ..meta.clone()
            };
            results.push(
                media
                    .store_upload(permit, received, meta, accept.as_deref())
                    .await?,
            );
        }
    } else {
        let Some(filename) = ask.filename else {
            return Err(Error::Validation(vec![crate::schema::FieldError {
                path: "filename".into(),
                code: crate::schema::field_code::REQUIRED,
                message: "a raw upload needs ?filename= (or send multipart/form-data)".into(),
            }]));
        };
        let reader = StreamReader::new(
            body.into_bytes_stream()
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        let received = media.receive(reader, per_file).await?;
        let meta = UploadMeta {
            filename,
            folder: ask.folder,
            alt: ask.alt.map(Value::String),
            caption: ask.caption.map(Value::String),
        };
        results.push(
            media
                .store_upload(permit, received, meta, accept.as_deref())
                .await?,
        );
    }
    Ok(results)
}

/// Form fields besides the files, and the most each may hold.
const TEXT_PARTS: [&str; 3] = ["folder", "alt", "caption"];
const MAX_TEXT_PART: u64 = 8 * 1024;

/// The upload's form, read by multer within the request limit, each text part within 8 KiB,
/// and behind the framing guard of `multipart`.
fn multipart_form(
    req: &Request,
    body: Body,
    per_request: u64,
    framing_error: &Arc<std::sync::OnceLock<&'static str>>,
) -> Result<multer::Multipart<'static>> {
    let boundary = req
        .content_type()
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| bad_upload("multipart/form-data needs a boundary"))?;
    let mut size = multer::SizeLimit::new()
        .whole_stream(per_request)
        .per_field(per_request);
    for name in TEXT_PARTS {
        size = size.for_field(name, MAX_TEXT_PART);
    }
    let mut allowed = vec!["file", "files", "files[]"];
    allowed.extend(TEXT_PARTS);
    let constraints = multer::Constraints::new()
        .allowed_fields(allowed)
        .size_limit(size);
    let stream =
        super::multipart::guarded(body.into_bytes_stream(), &boundary, framing_error.clone());
    Ok(multer::Multipart::with_constraints(
        stream,
        boundary,
        constraints,
    ))
}

/// The error of one file of several, with its name in the message.
fn naming(e: Error, filename: &str) -> Error {
    match e {
        Error::UnsupportedMedia { code, message } => Error::UnsupportedMedia {
            code,
            message: format!("{filename}: {message}"),
        },
        Error::BadRequest { code, message } => Error::BadRequest {
            code,
            message: format!("{filename}: {message}"),
        },
        other => other,
    }
}

fn bad_upload(message: impl Into<String>) -> Error {
    Error::bad_request(code::INVALID_UPLOAD, message)
}

/// The `accept` list of `type.field` (a media field), for uploads made for that field.
fn field_accept(state: &AppState, path: &str) -> Result<Vec<String>> {
    let invalid = || Error::InvalidQuery {
        code: code::INVALID_PARAMETER,
        param: "field".into(),
        message: format!("`{path}` is not a media field (type.field)"),
    };
    let (type_id, field) = path.split_once('.').ok_or_else(invalid)?;
    let ct = state.content.content_type(type_id).map_err(|_| invalid())?;
    match ct.field(field).map(|f| &f.ty) {
        Some(crate::schema::FieldType::Media { accept, .. }) => Ok(accept.clone()),
        _ => Err(invalid()),
    }
}

// ---- serving --------------------------------------------------------------------------

const YEAR: &str = "max-age=31536000, immutable";

/// The query parameters of `/media/{id}/{filename}` (a transform is given as them).
const TRANSFORM_PARAMETERS: [&str; 6] = ["w", "h", "fit", "format", "q", "v"];

/// How a resized image fills its box.
#[derive(poem_openapi::Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
enum ImageFit {
    /// Exactly w×h, cropped around the focal point (the default).
    Cover,
    /// Exactly w×h, letterboxed.
    Contain,
    /// Within w×h, never enlarged.
    Inside,
}

/// The format to answer an image in.
#[derive(poem_openapi::Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
enum ImageFormat {
    Avif,
    Webp,
    Jpeg,
    Jpg,
    Png,
    /// AVIF, else WebP, as far as the Accept header allows.
    Auto,
}

/// The transform asked for by the query.
struct TransformAsk {
    w: Option<u32>,
    h: Option<u32>,
    fit: Option<ImageFit>,
    format: Option<ImageFormat>,
    q: Option<u8>,
}

/// A media item's bytes (or the transformed image), whole or a range, or "not modified".
pub struct MediaBytes(Response);

impl ApiResponse for MediaBytes {
    fn meta() -> MetaResponses {
        let answer =
            |status: u16, description: &'static str, content: Vec<MetaMediaType>| MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content,
                headers: Vec::new(),
            };
        let binary = || MetaMediaType {
            content_type: "*/*",
            schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format(
                "string", "binary",
            ))),
        };
        MetaResponses {
            responses: vec![
                answer(
                    200,
                    "The bytes (or the transformed image), with a strong ETag; cached for a year \
                     when public",
                    vec![binary()],
                ),
                answer(
                    206,
                    "The requested byte range (`Range: bytes=a-b`)",
                    vec![binary()],
                ),
                answer(
                    304,
                    "Not modified (If-None-Match matched the ETag)",
                    Vec::new(),
                ),
                answer(
                    416,
                    "The range starts past the end of the file",
                    vec![MetaMediaType {
                        content_type: "application/json",
                        schema: ErrorBody::schema_ref(),
                    }],
                ),
            ],
        }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}

impl IntoResponse for MediaBytes {
    fn into_response(self) -> Response {
        self.0
    }
}

/// Query parameters the operation could not read are answered as transform errors.
fn transform_errors(ep: impl Endpoint + 'static) -> impl Endpoint {
    use poem::EndpointExt;
    ep.around(|ep, req| async move {
        ep.call(req).await.map_err(|e| {
            match e.downcast_ref::<poem_openapi::error::ParseParamError>() {
                Some(p) if TRANSFORM_PARAMETERS.contains(&p.name) => Error::InvalidQuery {
                    code: code::INVALID_TRANSFORM,
                    param: p.name.to_owned(),
                    message: transform_rule(p.name).to_owned(),
                }
                .into(),
                _ => e,
            }
        })
    })
}

/// What a transform parameter takes.
fn transform_rule(param: &str) -> &'static str {
    match param {
        "w" | "h" => "w and h are numbers of pixels from 1 (up to media.max_transform_dimension)",
        "fit" => "fit is cover, contain or inside",
        "format" => "format is avif, webp, jpeg, png or auto (chosen from Accept)",
        "q" => "q is a quality from 1 to 100",
        _ => "unknown parameter: w, h, fit, format, q",
    }
}

pub struct MediaBytesApi;

#[OpenApi(tag = "Tag::Media")]
impl MediaBytesApi {
    /// A media item's bytes. Public once a published entry of a public type uses it;
    /// otherwise for signed-in users who may read the library (404 to others). Images take
    /// `w`, `h`, `fit`, `format`, `q`; a `.avif`, `.webp`, `.jpg` or `.png` file name asks
    /// for that format.
    #[oai(
        path = "/media/:id/:filename",
        method = "get",
        operation_id = "media_bytes",
        transform = "transform_errors"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn media_bytes(
        &self,
        _auth: DeliveryToken,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// The item's id.
        id: Path<String>,
        /// The item's file name; another extension converts an image.
        filename: Path<String>,
        /// Width in pixels (up to `media.max_transform_dimension`).
        #[oai(validator(minimum(value = "1")))]
        w: Query<Option<u32>>,
        /// Height in pixels (up to `media.max_transform_dimension`).
        #[oai(validator(minimum(value = "1")))]
        h: Query<Option<u32>>,
        /// `cover` (default): exactly w×h, cropped around the focal point; `contain`:
        /// exactly w×h, letterboxed; `inside`: within w×h, never enlarged.
        fit: Query<Option<ImageFit>>,
        /// `auto` picks AVIF, else WebP, as far as the Accept header allows.
        format: Query<Option<ImageFormat>>,
        /// Quality of lossy formats (default 80).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        q: Query<Option<u8>>,
        /// Ignored: add the item's `version` so caches notice a new focal point.
        #[oai(name = "v")]
        _v: Query<Option<String>>,
    ) -> Result<MediaBytes, Failure<BytesFails>> {
        let ask = TransformAsk {
            w: w.0,
            h: h.0,
            fit: fit.0,
            format: format.0,
            q: q.0,
        };
        Ok(MediaBytes(serve(req, &state, &id, &filename, ask).await?))
    }
}

/// The bytes of item `id` under `filename`, as [`MediaBytesApi::media_bytes`] answers.
async fn serve(
    req: &Request,
    state: &AppState,
    id: &str,
    filename: &str,
    ask: TransformAsk,
) -> Result<Response> {
    let not_found = || Error::not_found(code::MEDIA_NOT_FOUND, "no media item has this id");
    let record = state.media.get(id).await.map_err(|_| not_found())?;
    let id = record
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // Who may see it: the public when a published entry of a public type uses it; callers
    // who may read the library always; delivery tokens when a type they read uses it.
    let who = caller(req).principal;
    let public_types: Vec<String> = state
        .content
        .schema()
        .types()
        .filter(|ct| state.policy.may_deliver(&Principal::Public, ct))
        .map(|ct| ct.id.clone())
        .collect();
    let cache = if state.media.delivered(&id, &public_types).await? {
        format!("public, {YEAR}")
    } else {
        let readable: Vec<String> = state
            .content
            .schema()
            .types()
            .filter(|ct| state.policy.may_deliver(&who, ct))
            .map(|ct| ct.id.clone())
            .collect();
        let library = state.policy.media(&who, Action::Read).is_ok();
        if !library && !state.media.delivered(&id, &readable).await? {
            return Err(not_found());
        }
        format!("private, {YEAR}")
    };

    let stored_name = record
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mime = record
        .get("mime")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (stored_stem, stored_ext) = sniff::split_extension(stored_name);
    let (stem, ext) = sniff::split_extension(filename);
    if stem != stored_stem {
        return Err(not_found());
    }
    if let Some((k, _)) = query_pairs(req)?
        .into_iter()
        .find(|(k, _)| !TRANSFORM_PARAMETERS.contains(&k.as_str()))
    {
        return Err(Error::InvalidQuery {
            code: code::INVALID_TRANSFORM,
            message: format!("unknown parameter `{k}`: w, h, fit, format, q"),
            param: k,
        });
    }
    let transform = transform_of(state, &record, mime, ext, stored_ext, ask, req)?;

    if let Some(t) = transform {
        let etag = format!(
            "\"{}-{}\"",
            &record
                .get("sha256")
                .and_then(Value::as_str)
                .unwrap_or_default()[..16],
            crate::api::etag_of(t.key().as_bytes()).trim_matches('"')
        );
        if if_none_match(req, &etag) {
            return Ok(not_modified(&etag, &cache));
        }
        let bytes = state.media.variant(&record, &t).await?;
        let out_name = format!("{stem}.{}", t.format.extension());
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .content_type(t.format.mime())
            .header(header::ETAG, etag)
            .header(header::CACHE_CONTROL, cache)
            .header(
                header::CONTENT_DISPOSITION,
                disposition("inline", &out_name),
            )
            .header(header::VARY, "accept")
            .body(bytes));
    }

    let sha = record
        .get("sha256")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let etag = format!("\"{}\"", &sha[..32.min(sha.len())]);
    if if_none_match(req, &etag) {
        return Ok(not_modified(&etag, &cache));
    }
    let total = record.get("size").and_then(Value::as_u64).unwrap_or(0);
    let range = match req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        Some(r) if if_range_ok(req, &etag) => match parse_range(r, total) {
            RangeAsk::Whole => None,
            RangeAsk::Part(a, b) => Some((a, b)),
            RangeAsk::Unsatisfiable => {
                return Ok(Response::builder()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{total}"))
                    .content_type("application/json")
                    .body(
                        json!({
                            "code": code::RANGE_NOT_SATISFIABLE.name,
                            "message": format!("the file has {total} bytes"),
                        })
                        .to_string(),
                    ));
            }
        },
        _ => None,
    };
    let opened = state.media.read(&record, range).await?;
    let inline = mime.starts_with("image/")
        || mime.starts_with("video/")
        || mime.starts_with("audio/")
        || mime == "application/pdf";
    let mut resp = Response::builder()
        .content_type(mime)
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, &cache)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::CONTENT_DISPOSITION,
            disposition(if inline { "inline" } else { "attachment" }, stored_name),
        )
        .header(
            header::CONTENT_LENGTH,
            (opened.range.end - opened.range.start).to_string(),
        );
    if range.is_some() {
        resp = resp.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                opened.range.start,
                opened.range.end.saturating_sub(1),
                opened.total
            ),
        );
    }
    let mut resp = resp.body(Body::from_bytes_stream(opened.stream));
    if !mime.starts_with("image/") {
        // Anything but an image is never run as a page of this origin.
        resp.headers_mut().insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
    }
    Ok(resp)
}

fn not_modified(etag: &str, cache: &str) -> Response {
    Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, cache)
        .finish()
}

/// `If-Range`: a range applies only while the ETag still matches (ours never change, but a
/// client may send another's).
fn if_range_ok(req: &Request, etag: &str) -> bool {
    req.headers()
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag)
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); several ranges or anything malformed get the whole
/// file, as RFC 9110 allows.
fn parse_range(header: &str, total: u64) -> RangeAsk {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => (a, b.min(total.saturating_sub(1))),
        (Ok(a), Err(_)) if b.is_empty() => (a, total.saturating_sub(1)),
        (Err(_), Ok(n)) if a.is_empty() => {
            if n == 0 {
                return RangeAsk::Unsatisfiable;
            }
            (total.saturating_sub(n), total.saturating_sub(1))
        }
        _ => return RangeAsk::Whole,
    };
    if total == 0 || range.0 >= total {
        RangeAsk::Unsatisfiable
    } else {
        RangeAsk::Part(range.0, range.1)
    }
}

/// `inline; filename="photo.jpg"; filename*=UTF-8''photo.jpg`.
fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The transform a request asks for: `None` for the original bytes.
fn transform_of(
    state: &AppState,
    record: &Map<String, Value>,
    mime: &str,
    ext: &str,
    stored_ext: &str,
    ask: TransformAsk,
    req: &Request,
) -> Result<Option<Transform>> {
    let image = sniff::kind_of_mime(mime).is_raster();
    let ext_format = if ext.eq_ignore_ascii_case(stored_ext) {
        None
    } else {
        match Format::from_extension(ext) {
            Some(f) if image => Some(f),
            _ => {
                return Err(Error::not_found(
                    code::MEDIA_NOT_FOUND,
                    "no media item has this id",
                ));
            }
        }
    };
    let max = state.media.config().max_transform_dimension;
    let dimension = |d: Option<u32>, param: &str| match d {
        Some(d) if !(1..=max).contains(&d) => Err(Error::InvalidQuery {
            code: code::INVALID_TRANSFORM,
            param: param.to_owned(),
            message: format!("{param} is a number of pixels from 1 to {max}"),
        }),
        d => Ok(d),
    };
    let format = ask.format.map(|f| match f {
        ImageFormat::Auto => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if accept.contains("image/avif") {
                Format::Avif
            } else if accept.contains("image/webp") {
                Format::Webp
            } else {
                Format::of(mime)
            }
        }
        ImageFormat::Avif => Format::Avif,
        ImageFormat::Webp => Format::Webp,
        ImageFormat::Jpeg | ImageFormat::Jpg => Format::Jpeg,
        ImageFormat::Png => Format::Png,
    });
    let t = Transform {
        width: dimension(ask.w, "w")?,
        height: dimension(ask.h, "h")?,
        fit: match ask.fit {
            None | Some(ImageFit::Cover) => Fit::Cover,
            Some(ImageFit::Contain) => Fit::Contain,
            Some(ImageFit::Inside) => Fit::Inside,
        },
        format: format.or(ext_format).unwrap_or(Format::of(mime)),
        // (`q` is 1–100: the operation's validator refused anything else)
        quality: ask.q.unwrap_or(80),
        focal: record
            .get("focal")
            .and_then(|f| Some((f.get("x")?.as_f64()?, f.get("y")?.as_f64()?)))
            .unwrap_or((0.5, 0.5)),
    };
    let asked = ext_format.is_some()
        || ask.w.is_some()
        || ask.h.is_some()
        || ask.fit.is_some()
        || ask.format.is_some()
        || ask.q.is_some();
    if !asked {
        return Ok(None);
    }
    if !image {
        return Err(Error::InvalidQuery {
            code: code::INVALID_TRANSFORM,
            param: "w".into(),
            message: "only JPEG, PNG, GIF and WebP images can be transformed".into(),
        });
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAsk::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAsk::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsk::Part(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeAsk::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAsk::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAsk::Whole);
        assert_eq!(parse_range("bytes=9-3", 100), RangeAsk::Whole);
    }

    #[test]
    fn dispositions_are_safe() {
        assert_eq!(
            disposition("inline", "a b.jpg"),
            "inline; filename=\"a b.jpg\"; filename*=UTF-8''a%20b.jpg"
        );
        let d = disposition("attachment", "été\".pdf");
        assert!(d.starts_with("attachment; filename=\"_t_.pdf\""), "{d}");
    }
}

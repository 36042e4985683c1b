//! The media library over HTTP: `/admin/api/v1/media` (upload, list, metadata, folders,
//! usage, delete) and `/media/{id}/{filename}` (the bytes, whole or in ranges, and resized
//! images).
//!
//! Uploads are `multipart/form-data` (any number of `file` parts, plus optional `folder`,
//! `alt` and `caption` parts, which apply to every file) or a raw body with `?filename=`.
//! Each file is streamed to disk and refused as soon as it passes `media.max_file_mib`; the
//! request as a whole stops at `media.max_request_mib`.
//!
//! Serving: an item used by a published entry of a type the caller may read through the
//! delivery API is public (cached for a year: an item's bytes never change); any other item
//! only reaches callers who may read the media library, and answers 404 to everyone else.

use std::sync::Arc;

use super::methods::{get, patch};
use futures::TryStreamExt;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, Route, handler};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::io::StreamReader;

use super::auth::caller;
use super::{AppState, if_none_match, json_response, query_pairs, read_json};
use crate::access::{Action, MediaPermit, Principal};
use crate::error::{Error, Result, code};
use crate::media::imaging::{Fit, Format, Transform};
use crate::media::{MediaPatch, UploadMeta, sniff};
use crate::storage::MediaFilter;

pub fn admin_routes() -> Route {
    Route::new()
        .at("/", get(list_media).post(upload))
        .at("/folders", get(list_folders).post(create_folder))
        .at("/folders/:id", patch(update_folder).delete(delete_folder))
        .at(
            "/:id",
            get(get_media).patch(update_media).delete(delete_media),
        )
        .at("/:id/usage", get(usage))
}

pub fn public_routes() -> Route {
    Route::new().at("/:id/:filename", get(serve))
}

fn permit(req: &Request, state: &AppState, action: Action) -> Result<MediaPermit> {
    let c = caller(req);
    Ok(state
        .policy
        .media(&c.principal, action)?
        .at(c.address_text()))
}

fn item_body(state: &AppState, record: &Map<String, Value>) -> Value {
    state.media.admin_object(record)
}

// ---- uploads --------------------------------------------------------------------------

#[handler]
async fn upload(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let permit = permit(req, &state, Action::Create)?;
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
    let pairs = query_pairs(req)?;
    let param = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let accept = match param("field") {
        Some(path) => Some(field_accept(&state, &path)?),
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
            folder: param("folder"),
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
                    .store_upload(&permit, received, meta, accept.as_deref())
                    .await?,
            );
        }
    } else {
        let Some(filename) = param("filename") else {
            return Err(bad_upload(
                "a raw upload needs ?filename= (or send multipart/form-data)",
            ));
        };
        let reader = StreamReader::new(
            body.into_bytes_stream()
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        let received = media.receive(reader, per_file).await?;
        let meta = UploadMeta {
            filename,
            folder: param("folder"),
            alt: param("alt").map(Value::String),
            caption: param("caption").map(Value::String),
        };
        results.push(
            media
                .store_upload(&permit, received, meta, accept.as_deref())
                .await?,
        );
    }
    let created = results.iter().any(|r| r.created);
    let data: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut item = item_body(&state, &r.record);
            if let Value::Object(o) = &mut item {
                o.insert("duplicate".into(), json!(!r.created));
            }
            item
        })
        .collect();
    Ok(json_response(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        json!({ "data": data }),
    ))
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

// ---- library --------------------------------------------------------------------------

#[handler]
async fn list_media(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    permit(req, &state, Action::Read)?;
    let pairs = query_pairs(req)?;
    let mut filter = MediaFilter {
        limit: 25,
        ..MediaFilter::default()
    };
    let mut page = 1u32;
    let bad = |param: &str, message: String| Error::InvalidQuery {
        code: code::INVALID_PARAMETER,
        param: param.to_owned(),
        message,
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "folder" => {
                filter.folder = Some(match value.as_str() {
                    "" | "root" => None,
                    id => Some(crate::media::media_id(id).map_err(|_| {
                        bad("folder", format!("`{id}` is not a folder id (or `root`)"))
                    })?),
                })
            }
            "type" => {
                if value.is_empty() || value.len() > 100 {
                    return Err(bad("type", "type is a MIME type or its first part".into()));
                }
                filter.mime = Some(if value.contains('/') {
                    value.clone()
                } else {
                    format!("{value}/")
                });
            }
            "q" => {
                let q = value.trim().to_lowercase();
                if q.chars().count() > 200 {
                    return Err(bad("q", "q is at most 200 characters".into()));
                }
                filter.text = Some(q).filter(|q| !q.is_empty());
            }
            "page" => {
                page = value
                    .parse()
                    .ok()
                    .filter(|p| (1..=100_000).contains(p))
                    .ok_or_else(|| bad("page", "page is a number from 1".into()))?;
            }
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| bad("limit", "limit is a number from 1 to 100".into()))?;
            }
            other => {
                return Err(bad(
                    other,
                    format!("unknown parameter `{other}`: folder, type, q, page, limit"),
                ));
            }
        }
    }
    filter.offset = (page - 1) * filter.limit;
    let (rows, total) = state.media.list(&filter).await?;
    let data: Vec<Value> = rows.iter().map(|r| item_body(&state, r)).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": data, "meta": { "total": total, "page": page, "limit": filter.limit } }),
    ))
}

#[handler]
async fn get_media(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    permit(req, &state, Action::Read)?;
    let record = state.media.get(&id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": item_body(&state, &record) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    filename: Option<String>,
    #[serde(default, deserialize_with = "present")]
    alt: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    caption: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    focal: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    folder: Option<Value>,
    version: Option<u64>,
}

/// A key that is present, even with `null`, is `Some` (null clears).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[handler]
async fn update_media(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = permit(req, &state, Action::Update)?;
    let body: PatchBody = read_json(body, 64 * 1024).await?;
    let invalid = |m: &str| Error::bad_request(code::INVALID_METADATA, m.to_owned());
    let focal = match body.focal {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Object(o)) => {
            let x = o.get("x").and_then(Value::as_f64);
            let y = o.get("y").and_then(Value::as_f64);
            match (x, y, o.len()) {
                (Some(x), Some(y), 2) => Some(Some((x, y))),
                _ => return Err(invalid("focal is {\"x\": 0..1, \"y\": 0..1} or null")),
            }
        }
        Some(_) => return Err(invalid("focal is {\"x\": 0..1, \"y\": 0..1} or null")),
    };
    let folder = match body.folder {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(f)) => Some(Some(crate::media::media_id(&f).map_err(|_| {
            Error::not_found(code::FOLDER_NOT_FOUND, "no media folder has this id")
        })?)),
        Some(_) => return Err(invalid("folder is a folder id or null")),
    };
    let version = super::expected_version(req, body.version)?;
    let patch = MediaPatch {
        filename: body.filename,
        alt: body.alt,
        caption: body.caption,
        focal,
        folder,
        version,
    };
    let record = state.media.update(&permit, &id, patch).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": item_body(&state, &record) }),
    ))
}

#[handler]
async fn delete_media(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = permit(req, &state, Action::Delete)?;
    let force = query_pairs(req)?
        .iter()
        .any(|(k, v)| k == "force" && (v == "true" || v == "1"));
    let id = crate::media::media_id(&id)?;
    let record = state.media.get(&id).await?;
    if !permit.covers(record.get("created_by").and_then(Value::as_str)) {
        return Err(Error::not_found(
            code::MEDIA_NOT_FOUND,
            "no media item has this id",
        ));
    }
    let mut detached = 0;
    if force {
        // Clearing references edits entries: the caller must be allowed to update every one.
        let uses = state.media.usage(&id).await?;
        let c = caller(req);
        for u in &uses {
            if let Some(ct) = u
                .get("type")
                .and_then(Value::as_str)
                .and_then(|t| state.content.content_type(t).ok())
            {
                state.policy.permit(&c.principal, &ct, Action::Update)?;
                if ct.drafts && u.get("published") == Some(&json!(true)) {
                    state.policy.permit(&c.principal, &ct, Action::Publish)?;
                }
            }
        }
        detached = state
            .content
            .detach_media(permit.actor(), permit.address(), &id)
            .await?;
    }
    state.media.delete(&permit, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "id": id, "deleted": true, "entries_changed": detached } }),
    ))
}

#[handler]
async fn usage(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    permit(req, &state, Action::Read)?;
    let uses = state.media.usage(&id).await?;
    Ok(json_response(StatusCode::OK, json!({ "data": uses })))
}

// ---- folders --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderBody {
    name: String,
    #[serde(default)]
    parent: Option<String>,
}

#[handler]
async fn list_folders(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    permit(req, &state, Action::Read)?;
    let folders = state.media.list_folders().await?;
    Ok(json_response(StatusCode::OK, json!({ "data": folders })))
}

#[handler]
async fn create_folder(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let permit = permit(req, &state, Action::Create)?;
    let body: FolderBody = read_json(body, 16 * 1024).await?;
    let folder = state
        .media
        .put_folder(&permit, None, &body.name, body.parent)
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "data": folder }),
    ))
}

#[handler]
async fn update_folder(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = permit(req, &state, Action::Update)?;
    let body: FolderBody = read_json(body, 16 * 1024).await?;
    let folder = state
        .media
        .put_folder(&permit, Some(&id), &body.name, body.parent)
        .await?;
    Ok(json_response(StatusCode::OK, json!({ "data": folder })))
}

#[handler]
async fn delete_folder(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = permit(req, &state, Action::Delete)?;
    state.media.delete_folder(&permit, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "id": id, "deleted": true } }),
    ))
}

// ---- serving --------------------------------------------------------------------------

const YEAR: &str = "max-age=31536000, immutable";

#[handler]
async fn serve(
    req: &Request,
    Path((id, filename)): Path<(String, String)>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let not_found = || Error::not_found(code::MEDIA_NOT_FOUND, "no media item has this id");
    let record = state.media.get(&id).await.map_err(|_| not_found())?;
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
    let (stem, ext) = sniff::split_extension(&filename);
    if stem != stored_stem {
        return Err(not_found());
    }
    let pairs = query_pairs(req)?;
    let transform = transform_of(&state, &record, mime, ext, stored_ext, &pairs, req)?;

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
    pairs: &[(String, String)],
    req: &Request,
) -> Result<Option<Transform>> {
    let bad = |param: &str, message: String| Error::InvalidQuery {
        code: code::INVALID_TRANSFORM,
        param: param.to_owned(),
        message,
    };
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
    let mut t = Transform {
        width: None,
        height: None,
        fit: Fit::Cover,
        format: ext_format.unwrap_or(Format::of(mime)),
        quality: 80,
        focal: record
            .get("focal")
            .and_then(|f| Some((f.get("x")?.as_f64()?, f.get("y")?.as_f64()?)))
            .unwrap_or((0.5, 0.5)),
    };
    let mut asked = ext_format.is_some();
    let max = state.media.config().max_transform_dimension;
    let mut seen = std::collections::HashSet::new();
    for (key, value) in pairs {
        if !seen.insert(key.as_str()) {
            return Err(bad(key, format!("`{key}` is given more than once")));
        }
        let dim = |param: &str| {
            value
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=max).contains(d))
                .ok_or_else(|| {
                    bad(
                        param,
                        format!("{param} is a number of pixels from 1 to {max}"),
                    )
                })
        };
        match key.as_str() {
            "w" => t.width = Some(dim("w")?),
            "h" => t.height = Some(dim("h")?),
            "fit" => {
                t.fit = Fit::parse(value)
                    .ok_or_else(|| bad("fit", "fit is cover, contain or inside".into()))?
            }
            "q" => {
                t.quality = value
                    .parse::<u8>()
                    .ok()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or_else(|| bad("q", "q is a quality from 1 to 100".into()))?
            }
            "format" => {
                t.format = match value.as_str() {
                    "auto" => {
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
                    v => Format::from_extension(v).ok_or_else(|| {
                        bad(
                            "format",
                            "format is avif, webp, jpeg, png or auto (chosen from Accept)".into(),
                        )
                    })?,
                }
            }
            // A version the client adds to a URL so a changed focal point busts its caches.
            "v" => continue,
            other => {
                return Err(bad(
                    other,
                    format!("unknown parameter `{other}`: w, h, fit, format, q"),
                ));
            }
        }
        asked = true;
    }
    if !asked {
        return Ok(None);
    }
    if !image {
        return Err(bad(
            "w",
            "only JPEG, PNG, GIF and WebP images can be transformed".into(),
        ));
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

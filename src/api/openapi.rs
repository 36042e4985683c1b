//! The OpenAPI 3 documents. The fixed endpoints come from poem-openapi; the content paths and
//! a schema for every content type are generated from the schema at start-up and merged in.
//! Both documents and their Swagger UI pages are built once and served from memory.

use std::sync::Arc;

use super::methods::get;
use poem::web::{Data, Html, Path};
use poem::{Response, Route, handler};
use serde_json::{Map, Value, json};

use super::AppState;
use super::oai::{error_schema, status_meaning};
use crate::error::{Error, Result, code};
use crate::schema::{Audience, ContentType, Kind, Schema, json_schema};

pub struct Docs {
    pub delivery: String,
    pub admin: String,
    delivery_html: String,
    admin_html: String,
}

impl Docs {
    pub fn build(schema: &Schema) -> Docs {
        let delivery = serde_json::to_string_pretty(&delivery_document(schema)).unwrap_or_default();
        let admin = serde_json::to_string_pretty(&admin_document(schema)).unwrap_or_default();
        let svc = super::system::service();
        let template = svc.swagger_ui_html();
        let fixed = svc.spec();
        Docs {
            delivery_html: template.replacen(&fixed, &delivery, 1),
            admin_html: template.replacen(&fixed, &admin, 1),
            delivery,
            admin,
        }
    }
}

pub fn routes() -> Route {
    Route::new()
        .at("/delivery.json", get(delivery_json))
        .at("/admin.json", get(admin_json))
}

#[handler]
fn delivery_json(state: Data<&Arc<AppState>>) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(state.docs.delivery.clone())
}

/// The admin document names private fields and every route: for signed-in staff only.
fn staff_only(req: &poem::Request) -> Result<()> {
    match super::auth::caller(req).principal {
        crate::access::Principal::Public => Err(Error::Unauthenticated),
        p if p.role().is_some() => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

#[handler]
fn admin_json(req: &poem::Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    staff_only(req)?;
    Ok(Response::builder()
        .content_type("application/json")
        .body(state.docs.admin.clone()))
}

#[handler]
pub fn docs_index() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Folio API docs</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto\">\
         <h1>Folio API</h1><ul>\
         <li><a href=\"/docs/delivery\">Delivery API</a> (<a href=\"/openapi/delivery.json\">delivery.json</a>): published content for websites</li>\
         <li><a href=\"/docs/admin\">Admin API</a> (<a href=\"/openapi/admin.json\">admin.json</a>): entries, drafts, publishing</li>\
         </ul></body></html>",
    )
}

#[handler]
pub fn docs_page(
    req: &poem::Request,
    Path(which): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Html<String>> {
    match which.as_str() {
        "delivery" => Ok(Html(state.docs.delivery_html.clone())),
        "admin" => {
            staff_only(req)?;
            Ok(Html(state.docs.admin_html.clone()))
        }
        _ => Err(Error::bad_request(
            code::UNKNOWN_DOCUMENT,
            "documents: delivery, admin",
        )),
    }
}

/// The fixed part (poem-openapi) as JSON, to merge into.
fn fixed_document(spec: &str, title: &str, description: &str) -> Value {
    let mut doc: Value = serde_json::from_str(spec).unwrap_or(json!({}));
    doc["info"]["title"] = json!(title);
    doc["info"]["description"] = json!(description);
    if doc.get("components").is_none() {
        doc["components"] = json!({});
    }
    if doc["components"].get("schemas").is_none() {
        doc["components"]["schemas"] = json!({});
    }
    doc
}

fn error_responses(codes: &[&str]) -> Map<String, Value> {
    codes
        .iter()
        .map(|code| {
            let desc = code.parse().map_or("Error", status_meaning);
            let answer = json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
            ((*code).to_owned(), answer)
        })
        .collect()
}

fn schema_name(ct: &ContentType, suffix: &str) -> String {
    let mut name: String = ct
        .id
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str(suffix);
    name
}

/// What every entry of the admin API is, whatever its type (each type's `…AdminEntry` is this
/// with its own `fields`), and a page of them: the admin UI's types for any entry.
fn admin_entry_schemas(doc: &mut Value) {
    doc["components"]["schemas"]["AdminEntry"] = json!({
        "type": "object",
        "required": ["id", "type", "version", "status", "created_at", "updated_at", "fields"],
        "properties": {
            "id": { "type": "string", "description": "Entry id (ULID)" },
            "type": { "type": "string", "description": "The content type's id" },
            "version": { "type": "integer", "description": "Send it back (body `version` or `If-Match`) to guard against overwriting someone else's change." },
            "status": { "type": "string", "enum": ["draft", "published", "changed"] },
            "created_at": { "type": "string", "format": "date-time" },
            "updated_at": { "type": "string", "format": "date-time" },
            "published_at": { "type": "string", "format": "date-time", "nullable": true },
            "created_by": { "type": "string", "nullable": true },
            "updated_by": { "type": "string", "nullable": true },
            "fields": { "type": "object", "additionalProperties": {}, "description": "The type's fields (its `…FieldsInput` schema)" }
        }
    });
    doc["components"]["schemas"]["EntryPage"] = json!({
        "type": "object",
        "required": ["data", "meta"],
        "properties": {
            "data": { "type": "array", "items": { "$ref": "#/components/schemas/AdminEntry" } },
            "meta": list_meta_schema()
        }
    });
}

fn entry_schema(ct: &ContentType, fields_ref: &str, admin: bool) -> Value {
    if admin {
        // The common part, and what this type's entries add: their type's id and fields.
        return json!({ "allOf": [
            { "$ref": "#/components/schemas/AdminEntry" },
            { "type": "object", "properties": {
                "type": { "type": "string", "enum": [ct.id] },
                "fields": { "$ref": fields_ref }
            } }
        ] });
    }
    let mut props = json!({
        "id": { "type": "string", "description": "Entry id (ULID)" },
        "created_at": { "type": "string", "format": "date-time" },
        "updated_at": { "type": "string", "format": "date-time" },
        "published_at": { "type": "string", "format": "date-time", "nullable": true },
        "fields": { "$ref": fields_ref }
    });
    if ct.is_localized() {
        props["locale"] = json!({ "type": "string", "enum": ct.locales });
    }
    json!({ "type": "object", "properties": props })
}

/// `fields`: a comma-separated list of the type's public top-level fields (the entry's id and
/// times always come).
fn fields_parameter(ct: &ContentType) -> Value {
    let names = ct.public_field_names();
    let one = format!("({})", names.join("|"));
    json!({ "name": "fields", "in": "query",
            "schema": { "type": "string", "pattern": format!("^{one}(,{one})*$") },
            "description": format!("Sparse fields, comma-separated: {}", names.join(", ")) })
}

/// `locale`: one of the type's locales (none for a type without any).
fn locale_parameter(ct: &ContentType) -> Value {
    if ct.locales.is_empty() {
        return Value::Null;
    }
    json!({ "name": "locale", "in": "query", "schema": { "type": "string", "enum": ct.locales },
            "description": "Answer in this locale (the default's text where there is no translation)" })
}

/// The query parameters of a type's list. Admin lists answer whole entries as JSON: they
/// take no `fields`, `populate`, `render` or `format`.
fn list_parameters(ct: &ContentType, admin: bool) -> Value {
    let filterable = ct.public_field_names();
    let mut params = json!([
        { "name": "filter", "in": "query", "style": "deepObject", "explode": true, "schema": { "type": "object" },
          "description": format!("`filter[field][op]=value`; ops: eq ne lt lte gt gte in nin contains starts_with exists; nested on relations: `filter[author.name][eq]=...`. Fields: {}", filterable.join(", ")) },
        { "name": "sort", "in": "query", "schema": { "type": "string" }, "description": "Comma-separated keys, `-` for descending: `-published_at,title`" },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
        { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1 }, "description": "Offset pagination (1-based)" },
        { "name": "cursor", "in": "query", "schema": { "type": "string" }, "description": "Keyset pagination: empty for the first page, then `meta.next_cursor`" },
        fields_parameter(ct),
        { "name": "populate", "in": "query", "schema": { "type": "string" }, "description": "Relations to expand: `author,tags` or `*`" },
        locale_parameter(ct),
        { "name": "render", "in": "query", "schema": { "type": "string", "enum": ["html"] }, "description": "Markdown fields as sanitised HTML" },
        { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["json", "csv", "ndjson"] } }
    ]);
    if let Some(list) = params.as_array_mut() {
        list.retain(|p| !p.is_null());
    }
    if admin && let Some(list) = params.as_array_mut() {
        list.retain(|p| {
            !["fields", "populate", "render", "format"].contains(&p["name"].as_str().unwrap_or(""))
        });
    }
    params
}

fn list_meta_schema() -> Value {
    json!({ "type": "object", "required": ["total", "limit"], "properties": {
        "total": { "type": "integer" },
        "total_is_lower_bound": { "type": "boolean" },
        "limit": { "type": "integer" },
        "page": { "type": "integer" },
        "next_cursor": { "type": "string", "nullable": true }
    }})
}

fn delivery_document(schema: &Schema) -> Value {
    let mut doc = fixed_document(
        &super::system::service().spec(),
        "Folio delivery API",
        "Published content for websites. Types whose `[access] read` lists `public` need no token; others need a bearer token.",
    );
    doc["components"]["schemas"]["Error"] = error_schema();
    doc["components"]["securitySchemes"] =
        json!({ "bearer": { "type": "http", "scheme": "bearer" } });
    // Only what the public may read: a type behind the token is not disclosed here.
    for ct in schema.types().filter(|ct| ct.access.public_read()) {
        let fields_name = schema_name(ct, "Fields");
        let entry_name = schema_name(ct, "");
        doc["components"]["schemas"][&fields_name] = json_schema(ct, Audience::Delivery);
        doc["components"]["schemas"][&entry_name] =
            entry_schema(ct, &format!("#/components/schemas/{fields_name}"), false);
        let entry_ref = json!({ "$ref": format!("#/components/schemas/{entry_name}") });
        let one = json!({ "type": "object", "properties": { "data": entry_ref } });
        let security = if ct.access.public_read() {
            json!([{}, { "bearer": [] }])
        } else {
            json!([{ "bearer": [] }])
        };
        let mut ok = Map::new();
        let mut content = json!({ "application/json": { "schema": if ct.kind == Kind::Single { one.clone() } else { json!({ "type": "object", "properties": { "data": { "type": "array", "items": entry_ref }, "meta": list_meta_schema() } }) } } });
        if ct.kind == Kind::Collection {
            // `format=csv` and `format=ndjson`: one page as rows, or as one JSON entry a line.
            content["text/csv"] = json!({ "schema": { "type": "string" } });
            content["application/x-ndjson"] = json!({ "schema": { "type": "string" } });
        }
        ok.insert(
            "200".into(),
            json!({ "description": "OK", "content": content }),
        );
        ok.insert(
            "304".into(),
            json!({ "description": "Not modified (If-None-Match matched the ETag)" }),
        );
        ok.extend(error_responses(&["400", "404"]));
        let path = format!("/api/v1/content/{}", ct.id);
        doc["paths"][&path] = json!({ "get": {
            "tags": [ct.name], "operationId": format!("list_{}", ct.id.replace('-', "_")),
            "summary": if ct.kind == Kind::Single { format!("The {} entry", ct.name) } else { format!("List published {}", ct.name) },
            "parameters": if ct.kind == Kind::Single { json!([]) } else { list_parameters(ct, false) },
            "security": security, "responses": ok }});
        if ct.kind == Kind::Collection {
            let mut r = Map::new();
            r.insert("200".into(), json!({ "description": "OK", "content": { "application/json": { "schema": one } } }));
            r.insert("304".into(), json!({ "description": "Not modified" }));
            r.extend(error_responses(&["400", "404"]));
            doc["paths"][format!("{path}/{{key}}")] = json!({ "get": {
                "tags": [ct.name], "operationId": format!("get_{}", ct.id.replace('-', "_")),
                "summary": format!("One published {} by id or {}", ct.name, ct.lookup_uid_field().map_or("id", |f| f.name.as_str())),
                "parameters": [
                    { "name": "key", "in": "path", "required": true, "schema": { "type": "string" } },
                    fields_parameter(ct),
                    { "name": "populate", "in": "query", "schema": { "type": "string" } },
                    { "name": "render", "in": "query", "schema": { "type": "string", "enum": ["html"] } }
                ],
                "security": security, "responses": r }});
            let locale = locale_parameter(ct);
            if let Some(params) =
                doc["paths"][format!("{path}/{{key}}")]["get"]["parameters"].as_array_mut()
                && !locale.is_null()
            {
                params.push(locale);
            }
        }
    }
    search_paths(&mut doc, schema, false);
    media_paths(&mut doc, false);
    doc
}

/// `/api/v1/search` (delivery: the public searchable types' entries) or
/// `/admin/api/v1/search` with the index's status and rebuild (admin).
fn search_paths(doc: &mut Value, schema: &Schema, admin: bool) {
    let entry_refs: Vec<Value> = schema
        .types()
        .filter(|ct| ct.search && (admin || ct.access.public_read()))
        .map(|ct| {
            let name = if admin {
                schema_name(ct, "AdminEntry")
            } else {
                schema_name(ct, "")
            };
            json!({ "$ref": format!("#/components/schemas/{name}") })
        })
        .collect();
    if entry_refs.is_empty() {
        return;
    }
    let searchable: Vec<&str> = schema
        .types()
        .filter(|ct| ct.search)
        .map(|ct| ct.id.as_str())
        .collect();
    doc["components"]["schemas"]["SearchResults"] = json!({
        "type": "object",
        "properties": {
            "data": { "type": "array", "items": { "type": "object", "properties": {
                "type": { "type": "string", "description": "The entry's content type" },
                "id": { "type": "string" },
                "score": { "type": "number", "description": "Relevance (0 when sorted by a date)" },
                "highlights": { "type": "object", "additionalProperties": { "type": "string" },
                    "description": "Per matched field (dotted path), a snippet of plain text, HTML-escaped, with `<mark>` around the matched words" },
                "entry": { "oneOf": entry_refs }
            } } },
            "meta": { "type": "object", "properties": {
                "total": { "type": "integer", "description": "Matching entries" },
                "page": { "type": "integer" },
                "limit": { "type": "integer" },
                "facets": { "type": "object", "description": "Per tag, enum or relation field: the most frequent values among the matches",
                    "additionalProperties": { "type": "array", "items": { "type": "object", "properties": {
                        "value": { "type": "string" }, "count": { "type": "integer" } } } } }
            } }
        }
    });
    let parameters = json!([
        { "name": "q", "in": "query", "schema": { "type": "string", "maxLength": crate::search::MAX_QUERY_CHARS },
          "description": "Words (all required; stemmed; a typo forgiven from 5 letters, two from 9; the last word also matches as a prefix), `\"exact phrases\"`, `-excluded` words or phrases. Empty: every entry matching the filters." },
        { "name": "type", "in": "query", "schema": { "type": "string" },
          "description": format!("Comma-separated content types; default every searchable type you may read ({})", searchable.join(", ")) },
        { "name": "locale", "in": "query", "schema": { "type": "string" }, "description": "Search and answer in this locale (entries without text of their own in it fall back to the default locale)" },
        { "name": "filter", "in": "query", "style": "deepObject", "explode": true, "schema": { "type": "object" },
          "description": "`filter[tags][eq]=Rust`, `filter[tags][in]=Rust,Go` on tag, enum and relation fields (relations by the related entry's title); `filter[published_at][gte]=2024-01-01` (also gt, lte, lt) on dates" },
        { "name": "sort", "in": "query", "schema": { "type": "string" }, "description": "`relevance` (default) or a date field, `-` for newest first: `-published_at`" },
        { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 50 }, "description": "Default 10; `page * limit` may not pass 1000" },
        { "name": "exact", "in": "query", "schema": { "type": "boolean" }, "description": "Whole words only: no stemming, typos or prefixes" },
        { "name": "facets", "in": "query", "schema": { "type": "string" }, "description": "Fields to count values of (comma-separated); default all; empty for none" }
    ]);
    let mut ok = Map::new();
    ok.insert("200".into(), json!({ "description": "Matching entries, best first", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SearchResults" } } } }));
    ok.insert(
        "304".into(),
        json!({ "description": "Not modified (If-None-Match matched the ETag)" }),
    );
    ok.extend(error_responses(if admin {
        &["400", "401", "404"]
    } else {
        &["400", "404"]
    }));
    ok.insert("503".into(), json!({ "description": "A type's index is being built for the first time (`search_unavailable`)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }));
    if admin {
        doc["paths"]["/admin/api/v1/search"] = json!({ "get": {
            "tags": ["Search"], "operationId": "admin_search",
            "summary": "Search working copies (drafts included) of the types you may read; an author finds only their own entries, and fields your role may not read are neither searched nor shown",
            "parameters": parameters, "responses": ok } });
        // The rebuild takes the searchable types by name.
        doc["components"]["schemas"]["ReindexBody"]["properties"]["types"]["items"]["enum"] =
            json!(searchable);
    } else {
        doc["paths"]["/api/v1/search"] = json!({ "get": {
            "tags": ["Search"], "operationId": "search",
            "summary": "Full-text search over published entries of the types you may read: ranked, typo-tolerant, highlighted, with facet counts",
            "parameters": parameters, "security": [{}, { "bearer": [] }], "responses": ok } });
    }
}

/// The media library (admin) and the media bytes with their transforms (delivery).
fn media_paths(doc: &mut Value, admin: bool) {
    let json_ok = |description: &str, schema: Value| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let responses = |ok: &str, body: Value, errors: &[&str]| {
        let mut m = Map::new();
        m.insert(ok.into(), body);
        m.extend(error_responses(errors));
        Value::Object(m)
    };
    let id_param = json!({ "name": "id", "in": "path", "required": true, "schema": string() });
    if !admin {
        let mut ok = Map::new();
        ok.insert("200".into(), json!({ "description": "The bytes (or the transformed image), with a strong ETag; cached for a year when public", "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } } }));
        ok.insert(
            "206".into(),
            json!({ "description": "The requested byte range (`Range: bytes=a-b`)" }),
        );
        ok.insert(
            "304".into(),
            json!({ "description": "Not modified (If-None-Match matched the ETag)" }),
        );
        ok.insert(
            "416".into(),
            json!({ "description": "The range starts past the end of the file" }),
        );
        ok.extend(error_responses(&["400", "404"]));
        doc["paths"]["/media/{id}/{filename}"] = json!({ "get": {
            "tags": ["Media"], "operationId": "media_bytes",
            "summary": "A media item's bytes. Public once a published entry of a public type uses it; otherwise for signed-in users who may read the library (404 to others). Images take `w`, `h`, `fit`, `format`, `q`; a `.avif`, `.webp`, `.jpg` or `.png` file name asks for that format",
            "parameters": [
                id_param,
                { "name": "filename", "in": "path", "required": true, "schema": string(), "description": "The item's file name; another extension converts an image" },
                { "name": "w", "in": "query", "schema": { "type": "integer", "minimum": 1 }, "description": "Width in pixels (capped by `media.max_transform_dimension`)" },
                { "name": "h", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
                { "name": "fit", "in": "query", "schema": { "type": "string", "enum": ["cover", "contain", "inside"] }, "description": "`cover` (default): exactly w×h, cropped around the focal point; `contain`: exactly w×h, letterboxed; `inside`: within w×h, never enlarged" },
                { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["avif", "webp", "jpeg", "png", "auto"] }, "description": "`auto` picks AVIF, else WebP, as far as the Accept header allows" },
                { "name": "q", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 }, "description": "Quality of lossy formats (default 80)" },
                { "name": "v", "in": "query", "schema": string(), "description": "Ignored: add the item's `version` so caches notice a new focal point" }
            ],
            "security": [{}, { "bearer": [] }],
            "responses": ok } });
        return;
    }
    doc["components"]["schemas"]["MediaItem"] = json!({
        "type": "object",
        "properties": {
            "id": string(),
            "url": { "type": "string", "description": "Where the bytes are served: `/media/{id}/{filename}`" },
            "filename": string(),
            "mime": { "type": "string", "description": "Detected from the bytes, never from the name" },
            "size": { "type": "integer" },
            "sha256": { "type": "string", "description": "Of the uploaded bytes; identical uploads are stored once" },
            "width": { "type": "integer" }, "height": { "type": "integer" },
            "placeholder": { "type": "string", "description": "A tiny image as a `data:` URI, to show while the real one loads" },
            "alt": { "description": "A string, or locale → string on a site with locales" },
            "caption": { "description": "As `alt`" },
            "focal": { "type": "object", "nullable": true, "properties": { "x": { "type": "number" }, "y": { "type": "number" } }, "description": "Fractions (0–1) of the width and height that crops keep in view" },
            "folder": { "type": "string", "nullable": true },
            "version": { "type": "integer" },
            "created_by": string(), "created_at": string(), "updated_at": string(),
            "duplicate": { "type": "boolean", "description": "On upload: the bytes were already in the library, and this is that item" }
        }
    });
    let item = json!({ "type": "object", "properties": { "data": { "$ref": "#/components/schemas/MediaItem" } } });
    let items = json!({ "type": "object", "properties": {
        "data": { "type": "array", "items": { "$ref": "#/components/schemas/MediaItem" } },
        "meta": { "type": "object", "properties": { "total": { "type": "integer" }, "page": { "type": "integer" }, "limit": { "type": "integer" } } } } });
    let folder = json!({ "type": "object", "required": ["id", "name", "created_at"], "properties": { "id": string(), "name": string(), "parent": { "type": "string", "nullable": true }, "created_at": string() } });
    let folder_body = json!({ "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "required": ["name"],
        "properties": { "name": string(), "parent": { "type": "string", "nullable": true } } } } } });
    doc["paths"]["/admin/api/v1/media"] = json!({
        "get": {
            "tags": ["Media"], "operationId": "list_media", "summary": "The library, newest first",
            "parameters": [
                { "name": "q", "in": "query", "schema": string(), "description": "Words in the file name, alt text or caption" },
                { "name": "folder", "in": "query", "schema": string(), "description": "A folder id, or `root`" },
                { "name": "type", "in": "query", "schema": string(), "description": "`image`, `video`, ... or a full MIME type" },
                { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 1 } },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 } }
            ],
            "responses": responses("200", json_ok("A page of items", items.clone()), &["400", "401", "403"]) },
        "post": {
            "tags": ["Media"], "operationId": "upload_media",
            "summary": "Upload files: `multipart/form-data` with `file` parts (and `folder`, `alt`, `caption`), or the raw bytes with `?filename=`. The kind is read from the bytes; a name that says otherwise, HTML and SVG are refused. Identical bytes already in the library answer with that item (`duplicate`)",
            "parameters": [
                { "name": "filename", "in": "query", "schema": string(), "description": "Raw uploads: the file's name" },
                { "name": "folder", "in": "query", "schema": string() },
                { "name": "alt", "in": "query", "schema": string() },
                { "name": "caption", "in": "query", "schema": string() },
                { "name": "field", "in": "query", "schema": string(), "description": "`type.field`: refuse files that media field does not accept" }
            ],
            "requestBody": { "required": true, "content": {
                "multipart/form-data": { "schema": { "type": "object", "properties": {
                    "file": { "type": "array", "items": { "type": "string", "format": "binary" } },
                    "folder": string(), "alt": string(), "caption": string() } } },
                "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": {
                "201": json_ok("Stored (each item says whether it was already there)", items.clone()),
                "200": json_ok("Every file was already in the library", items),
                "400": error_responses(&["400"])["400"].clone(),
                "401": error_responses(&["401"])["401"].clone(),
                "403": error_responses(&["403"])["403"].clone(),
                "404": { "description": "The folder named does not exist (`folder_not_found`)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "413": { "description": "A file or the request is over its size limit (`file_too_large`, `payload_too_large`)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "415": { "description": "Not accepted: `extension_mismatch`, `active_content`, `svg_not_accepted`, `type_not_allowed`, `unsupported_type`, `invalid_image`, `image_too_large`", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            } }
    });
    doc["paths"]["/admin/api/v1/media/{id}"] = json!({
        "get": { "tags": ["Media"], "operationId": "get_media", "summary": "One item",
            "parameters": [id_param.clone()],
            "responses": responses("200", json_ok("The item", item.clone()), &["401", "403", "404"]) },
        "patch": { "tags": ["Media"], "operationId": "update_media",
            "summary": "Change the file name, alt text, caption, focal point or folder (`null` clears); with `version` (or If-Match), only if unchanged since",
            "parameters": [id_param.clone()],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "properties": {
                "filename": string(), "alt": {}, "caption": {},
                "focal": { "type": "object", "nullable": true, "properties": { "x": { "type": "number" }, "y": { "type": "number" } } },
                "folder": { "type": "string", "nullable": true }, "version": { "type": "integer" } } } } } },
            "responses": responses("200", json_ok("The item", item.clone()), &["400", "401", "403", "404", "409"]) },
        "delete": { "tags": ["Media"], "operationId": "delete_media",
            "summary": "Delete an item and its bytes. One that entries use is refused (409 `media_in_use` with `usage`) unless `force=true`, which first removes it from those entries",
            "parameters": [id_param.clone(), { "name": "force", "in": "query", "schema": { "type": "boolean" } }],
            "responses": responses("200", json_ok("Deleted", json!({ "type": "object" })), &["401", "403", "404", "409"]) }
    });
    doc["paths"]["/admin/api/v1/media/{id}/usage"] = json!({ "get": {
        "tags": ["Media"], "operationId": "media_usage", "summary": "The entries that use an item, and whether their published version does",
        "parameters": [id_param.clone()],
        "responses": responses("200", json_ok("Entries", json!({ "type": "object", "properties": { "data": { "type": "array", "items": { "type": "object", "required": ["type", "id", "published"], "properties": {
            "type": string(), "id": string(), "published": { "type": "boolean" } } } } } })), &["401", "403", "404"]) } });
    doc["paths"]["/admin/api/v1/media/folders"] = json!({
        "get": { "tags": ["Media"], "operationId": "list_media_folders", "summary": "Every folder",
            "responses": responses("200", json_ok("Folders", json!({ "type": "object", "properties": { "data": { "type": "array", "items": folder.clone() } } })), &["401", "403"]) },
        "post": { "tags": ["Media"], "operationId": "create_media_folder", "summary": "Create a folder (names are unique within their parent)",
            "requestBody": folder_body.clone(),
            "responses": responses("201", json_ok("The folder", json!({ "type": "object", "properties": { "data": folder.clone() } })), &["400", "401", "403", "404", "409"]) }
    });
    doc["paths"]["/admin/api/v1/media/folders/{id}"] = json!({
        "patch": { "tags": ["Media"], "operationId": "update_media_folder", "summary": "Rename or move a folder",
            "parameters": [id_param.clone()], "requestBody": folder_body,
            "responses": responses("200", json_ok("The folder", json!({ "type": "object", "properties": { "data": folder } })), &["400", "401", "403", "404", "409"]) },
        "delete": { "tags": ["Media"], "operationId": "delete_media_folder", "summary": "Delete an empty folder (409 `folder_not_empty` otherwise)",
            "parameters": [id_param],
            "responses": responses("200", json_ok("Deleted", json!({ "type": "object" })), &["401", "403", "404", "409"]) }
    });
}

fn admin_document(schema: &Schema) -> Value {
    let mut doc = fixed_document(
        &super::admin::service().spec(),
        "Folio admin API",
        "Entries of every type, drafts included, publishing, content types, and accounts: sign-in, users, API tokens, the audit log. Sign in at `/admin/api/v1/auth/login`; send the session token (or an API token) as a bearer token, or use the session cookie with the `X-CSRF-Token` header for writes.",
    );
    // The system endpoints belong to the delivery document.
    // The types endpoints come from poem-openapi with their paths relative to the prefix.
    let fixed_paths = doc["paths"].as_object().cloned().unwrap_or_default();
    doc["paths"] = Value::Object(
        fixed_paths
            .into_iter()
            .map(|(p, v)| {
                let full = if p.starts_with(super::types::PREFIX) {
                    p
                } else {
                    format!("{}{p}", super::types::PREFIX)
                };
                (full, v)
            })
            .collect(),
    );
    // A session or API token as a bearer token, or the session cookie with the CSRF header.
    doc["components"]["securitySchemes"]["session_cookie"] = json!({
        "type": "apiKey", "in": "cookie", "name": "folio_session",
        "description": "The HttpOnly cookie the sign-in sets; writes also need `X-CSRF-Token`."
    });
    doc["components"]["securitySchemes"]["csrf"] = json!({
        "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
        "description": "The `csrf_token` of the sign-in answer, for writes authenticated by the cookie."
    });
    doc["security"] = json!([{ "bearer": [] }, { "session_cookie": [], "csrf": [] }]);
    // What poem-openapi leaves to say about these operations, in one pass:
    // - it writes the session-cookie fallback (`AdminToken`) as "no credentials" (`{}`): name
    //   the cookie instead, with the CSRF header for a write; operations without credentials
    //   (signing in, first setup, the links from mails) say so, rather than inheriting the
    //   document's default;
    // - it leaves the description of a plain JSON answer empty;
    // - their JSON bodies (`oai::JsonBody`) refuse keys the schema does not name.
    let mut bodies = Vec::new();
    let ops = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.iter_mut());
    for (method, op) in ops {
        let cookie = if method == "get" {
            json!({ "session_cookie": [] })
        } else {
            json!({ "session_cookie": [], "csrf": [] })
        };
        match op.get_mut("security").and_then(Value::as_array_mut) {
            Some(security) => {
                for s in security.iter_mut() {
                    if s.as_object().is_some_and(|o| o.is_empty()) {
                        *s = cookie.clone();
                    }
                }
            }
            None => op["security"] = json!([]),
        }
        for response in op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|r| r.values_mut())
        {
            if response["description"] == "" {
                response["description"] = json!("OK");
            }
        }
        if let Some(name) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
        {
            bodies.push(name.to_owned());
        }
    }
    for name in bodies {
        doc["components"]["schemas"][&name]["additionalProperties"] = json!(false);
    }
    search_paths(&mut doc, schema, true);
    media_paths(&mut doc, true);
    admin_entry_schemas(&mut doc);
    for ct in schema.types() {
        let fields_name = schema_name(ct, "FieldsInput");
        let entry_name = schema_name(ct, "AdminEntry");
        doc["components"]["schemas"][&fields_name] = json_schema(ct, Audience::Admin);
        doc["components"]["schemas"][&entry_name] =
            entry_schema(ct, &format!("#/components/schemas/{fields_name}"), true);
        let entry_ref = json!({ "$ref": format!("#/components/schemas/{entry_name}") });
        let one = json!({ "type": "object", "properties": { "data": entry_ref } });
        let write_body = json!({ "required": true, "content": { "application/json": { "schema": {
            "type": "object", "required": ["fields"], "additionalProperties": false,
            "properties": {
                "fields": { "$ref": format!("#/components/schemas/{fields_name}") },
                "version": { "type": "integer", "description": "The version you read; a stale one gets 409" },
                "publish": { "type": "boolean", "description": "Publish right after saving" }
            } } } } });
        let resp = |codes: &[&str], ok: &str| {
            let mut m = Map::new();
            m.insert(ok.into(), json!({ "description": "OK", "content": { "application/json": { "schema": one } } }));
            m.extend(error_responses(codes));
            Value::Object(m)
        };
        let tag = json!([ct.name]);
        let t = ct.id.replace('-', "_");
        let base = format!("/admin/api/v1/content/{}", ct.id);
        let id_param =
            json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
        let if_match = json!({ "name": "If-Match", "in": "header", "schema": { "type": "string", "pattern": "^(W/)?\"?[0-9]{1,15}\"?$" }, "description": "The version you read, e.g. \"3\" (a weak `W/\"3\"` too)" });
        let mut list_ok = Map::new();
        list_ok.insert("200".into(), json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object", "properties": { "data": { "type": "array", "items": entry_ref }, "meta": list_meta_schema() } } } } }));
        list_ok.extend(error_responses(&["400", "401", "404"]));
        doc["paths"][&base] = json!({
            "get": { "tags": tag, "operationId": format!("admin_list_{t}"), "summary": format!("List {} (drafts included)", ct.name), "parameters": list_parameters(ct, true), "responses": list_ok },
            "post": { "tags": tag, "operationId": format!("admin_create_{t}"), "summary": format!("Create a {}", ct.name), "requestBody": write_body, "responses": resp(&["400", "401", "404", "409", "413", "422"], "201") }
        });
        let mut del = Map::new();
        del.insert("204".into(), json!({ "description": "Deleted" }));
        del.extend(error_responses(&["401", "404", "409"]));
        doc["paths"][format!("{base}/{{id}}")] = json!({
            "get": { "tags": tag, "operationId": format!("admin_get_{t}"), "summary": format!("One {} (working copy)", ct.name), "parameters": [id_param], "responses": resp(&["401", "404"], "200") },
            "put": { "tags": tag, "operationId": format!("admin_replace_{t}"), "summary": "Replace every field", "parameters": [id_param, if_match], "requestBody": write_body, "responses": resp(&["400", "401", "404", "409", "413", "422"], "200") },
            "patch": { "tags": tag, "operationId": format!("admin_patch_{t}"), "summary": "Change the fields given", "parameters": [id_param, if_match], "requestBody": write_body, "responses": resp(&["400", "401", "404", "409", "413", "422"], "200") },
            "delete": { "tags": tag, "operationId": format!("admin_delete_{t}"), "summary": "Delete the entry and its published snapshot", "parameters": [id_param, if_match], "responses": del }
        });
        if ct.drafts {
            for action in ["publish", "unpublish"] {
                doc["paths"][format!("{base}/{{id}}/{action}")] = json!({ "post": {
                    "tags": tag, "operationId": format!("admin_{action}_{t}"),
                    "summary": if action == "publish" { "Publish the working copy" } else { "Withdraw the published snapshot" },
                    "parameters": [id_param, if_match], "responses": resp(&["400", "401", "404", "409", "422"], "200") } });
            }
        }
    }
    document_body_errors(&mut doc);
    doc
}

/// Adds what `guard` answers before any handler: 400 to every operation (a query parameter
/// given twice, a malformed `If-Match`), and for any body 408, 413 and 415 (a body without
/// the content type the operation takes), and 403 for the sign-in routes, which refuse other
/// sites' pages.
fn document_body_errors(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for (code, response) in error_responses(&["400"]) {
                    responses.entry(code).or_insert(response);
                }
            }
            if op.get("requestBody").is_none() {
                continue;
            }
            let mut codes = vec!["408", "413", "415"];
            if method == "post" && super::guard::ANONYMOUS_BODY_ROUTES.contains(&path.as_str()) {
                codes.push("403");
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (code, response) in error_responses(&codes) {
                responses.entry(code).or_insert(response);
            }
        }
    }
}

fn string() -> Value {
    json!({ "type": "string" })
}

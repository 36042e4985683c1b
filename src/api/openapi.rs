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
    pub fn build(schema: &Schema, config: &crate::Config) -> Docs {
        let delivery =
            serde_json::to_string_pretty(&delivery_document(schema, config)).unwrap_or_default();
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

fn delivery_document(schema: &Schema, config: &crate::Config) -> Value {
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
    // An image is resized up to the configured size.
    if let Some(params) = doc["paths"]["/media/{id}/{filename}"]["get"]["parameters"].as_array_mut()
    {
        for p in params
            .iter_mut()
            .filter(|p| p["name"] == "w" || p["name"] == "h")
        {
            p["schema"]["maximum"] = json!(config.media.max_transform_dimension);
        }
    }
    // The tags of the operations poem-openapi lists are all the admin document's too: keep
    // the ones this document uses.
    let used: std::collections::HashSet<String> = doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .flat_map(|op| op["tags"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    if let Some(tags) = doc["tags"].as_array_mut() {
        tags.retain(|t| t["name"].as_str().is_some_and(|n| used.contains(n)));
    }
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
    // (and so do the objects inside them: `deny_unknown_fields` on every body type)
    while let Some(name) = bodies.pop() {
        let body = &mut doc["components"]["schemas"][&name];
        if body["additionalProperties"] == json!(false) {
            continue;
        }
        body["additionalProperties"] = json!(false);
        let nested = body["properties"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
            .filter_map(|p| {
                p["$ref"]
                    .as_str()
                    .or_else(|| p["allOf"][0]["$ref"].as_str())
                    .and_then(|r| r.rsplit('/').next())
                    .map(str::to_owned)
            })
            .collect::<Vec<_>>();
        bodies.extend(
            nested
                .into_iter()
                .filter(|n| doc["components"]["schemas"][n]["properties"].is_object()),
        );
    }
    // An upload's form has no parts besides those it names (poem-openapi cannot say so).
    doc["paths"]["/admin/api/v1/media"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["schema"]["additionalProperties"] = json!(false);
    // An upload made for a media field names it: `type.field`.
    let media_fields: Vec<String> = schema
        .types()
        .flat_map(|ct| {
            ct.fields
                .iter()
                .filter(|f| matches!(f.ty, crate::schema::FieldType::Media { .. }))
                .map(move |f| format!("{}.{}", ct.id, f.name))
        })
        .collect();
    if let Some(params) = doc["paths"]["/admin/api/v1/media"]["post"]["parameters"].as_array_mut() {
        for p in params
            .iter_mut()
            .filter(|p| p["name"] == "field" && !media_fields.is_empty())
        {
            p["schema"]["enum"] = json!(media_fields);
        }
    }
    search_paths(&mut doc, schema, true);
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

//! `/api/v1`: published content for websites. Only published snapshots, never private
//! fields; a type is readable without a token only when its `[access] read` lists `public`.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Request, Response, Route, get, handler};
use serde_json::{Value, json};

use super::{AppState, is_admin, json_with_etag, query_pairs};
use crate::content::query::{
    Audience, Filter, FilterTarget, Format, parse_entry_query, parse_list_query,
};
use crate::content::{Entry, Page};
use crate::error::{Error, Result};
use crate::schema::{ContentType, FieldType, Kind};

pub fn routes() -> Route {
    Route::new()
        .at("/content/:type", get(list))
        .at("/content/:type/:key", get(one))
}

/// Resolves the type and checks the caller may read it. A type the caller may not read is
/// reported as missing, so its existence is not disclosed.
fn readable(state: &AppState, req: &Request, type_id: &str) -> Result<Arc<ContentType>> {
    let ct = state.content.content_type(type_id)?;
    if ct.access.public_read() || is_admin(req, state) {
        Ok(ct)
    } else {
        Err(Error::TypeNotFound(type_id.to_owned()))
    }
}

/// Every type a request reaches through `populate` or a nested filter must be readable too;
/// otherwise the relation is reported as unknown, as a private field would be.
fn check_related(
    state: &AppState,
    req: &Request,
    ct: &ContentType,
    populate: &[Vec<String>],
    filters: &[Filter],
) -> Result<()> {
    if is_admin(req, state) {
        return Ok(());
    }
    let refuse = |param: &str, path: &str| Error::InvalidQuery {
        code: "unknown_field",
        param: param.to_owned(),
        message: format!("type \"{}\" has no field \"{path}\"", ct.id),
    };
    let schema = state.content.schema();
    for path in populate {
        let mut owner = state.content.content_type(&ct.id)?;
        for seg in path {
            let Some(FieldType::Relation { target, .. }) = owner.field(seg).map(|f| &f.ty) else {
                break;
            };
            let Some(next) = schema.get(target) else {
                break;
            };
            if !next.access.public_read() {
                return Err(refuse("populate", &path.join(".")));
            }
            owner = next.clone();
        }
    }
    for f in filters {
        let mut target = &f.target;
        while let FilterTarget::Related {
            field,
            target_type,
            inner,
            ..
        } = target
        {
            if !schema
                .get(target_type)
                .is_some_and(|t| t.access.public_read())
            {
                return Err(refuse("filter", field));
            }
            target = inner;
        }
    }
    Ok(())
}

fn cache_control(ct: &ContentType) -> String {
    match (&ct.delivery.cache_control, ct.access.public_read()) {
        (Some(cc), true) => cc.clone(),
        (_, true) => "public, max-age=0, must-revalidate".into(),
        (_, false) => "private, no-cache".into(),
    }
}

#[handler]
async fn list(
    req: &Request,
    Path(type_id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = readable(&state, req, &type_id)?;
    let pairs = query_pairs(req)?;
    if ct.kind == Kind::Single {
        let q = parse_entry_query(
            &state.content.schema().clone(),
            &ct,
            &pairs,
            Audience::Delivery,
            &state.limits,
        )
        .map_err(query_error)?;
        check_related(&state, req, &ct, &q.populate, &[])?;
        let entry = state.content.get_published(&ct, None, &q).await?;
        return Ok(json_with_etag(
            req,
            &json!({ "data": entry }),
            &cache_control(&ct),
        ));
    }
    let schema = state.content.schema().clone();
    let q = parse_list_query(&schema, &ct, &pairs, Audience::Delivery, &state.limits)
        .map_err(query_error)?;
    check_related(&state, req, &ct, &q.populate, &q.filters)?;
    let page = state.content.list_published(&ct, &q).await?;
    match q.format {
        Format::Json => Ok(json_with_etag(req, &page_body(page), &cache_control(&ct))),
        Format::Ndjson => Ok(Response::builder()
            .content_type("application/x-ndjson")
            .header("cache-control", cache_control(&ct))
            .body(
                page.data
                    .iter()
                    .map(|e| format!("{}\n", Value::Object(e.clone())))
                    .collect::<String>(),
            )),
        Format::Csv => Ok(Response::builder()
            .content_type("text/csv; charset=utf-8")
            .header("cache-control", cache_control(&ct))
            .body(to_csv(&ct, &page.data))),
        Format::Rss | Format::Atom => Err(Error::bad_request(
            "format_unavailable",
            "rss and atom feeds are not available yet; use json, ndjson or csv",
        )),
    }
}

#[handler]
async fn one(
    req: &Request,
    Path((type_id, key)): Path<(String, String)>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = readable(&state, req, &type_id)?;
    let pairs = query_pairs(req)?;
    let schema = state.content.schema().clone();
    let q = parse_entry_query(&schema, &ct, &pairs, Audience::Delivery, &state.limits)
        .map_err(query_error)?;
    check_related(&state, req, &ct, &q.populate, &[])?;
    let entry = state.content.get_published(&ct, Some(&key), &q).await?;
    Ok(json_with_etag(
        req,
        &json!({ "data": entry }),
        &cache_control(&ct),
    ))
}

pub(crate) fn query_error(e: crate::content::query::QueryError) -> Error {
    Error::InvalidQuery {
        code: e.code,
        param: e.param,
        message: e.message,
    }
}

pub(crate) fn page_body(page: Page) -> Value {
    let mut meta = serde_json::Map::new();
    meta.insert("total".into(), json!(page.total));
    if page.total_capped {
        meta.insert("total_is_lower_bound".into(), json!(true));
    }
    meta.insert("limit".into(), json!(page.limit));
    match page.page {
        Some(p) => {
            meta.insert("page".into(), json!(p));
        }
        None => {
            meta.insert("next_cursor".into(), json!(page.next_cursor));
        }
    }
    json!({ "data": page.data, "meta": meta })
}

/// One row per entry: id, timestamps, then each field (objects and lists as JSON).
fn to_csv(ct: &ContentType, entries: &[Entry]) -> String {
    fn cell(v: &Value) -> String {
        let s = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // Cells starting with a formula character are prefixed so spreadsheets do not run them.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
    let fields: Vec<&str> = ct
        .fields
        .iter()
        .filter(|f| !f.private)
        .map(|f| f.name.as_str())
        .collect();
    let mut out = String::from("id,created_at,updated_at,published_at");
    for f in &fields {
        out.push(',');
        out.push_str(f);
    }
    out.push('\n');
    for e in entries {
        let mut row = vec![
            cell(e.get("id").unwrap_or(&Value::Null)),
            cell(e.get("created_at").unwrap_or(&Value::Null)),
            cell(e.get("updated_at").unwrap_or(&Value::Null)),
            cell(e.get("published_at").unwrap_or(&Value::Null)),
        ];
        let empty = serde_json::Map::new();
        let values = e.get("fields").and_then(Value::as_object).unwrap_or(&empty);
        for f in &fields {
            row.push(values.get(*f).map(cell).unwrap_or_default());
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

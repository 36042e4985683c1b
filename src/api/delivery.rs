//! `/api/v1`: published content for websites. Only published snapshots, never private
//! fields; a type is readable without a token only when its `[access] read` lists `public`.

use std::sync::Arc;

use super::methods::get;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, Route, handler};
use serde_json::{Value, json};

use super::auth::caller;
use super::{AppState, etag_of, if_none_match, query_pairs};
use crate::access::{Principal, TokenScope};
use crate::cache::Cached;
use crate::content::query::{Audience, Format, parse_entry_query, parse_list_query};
use crate::content::{Entry, Page};
use crate::error::{Error, Result, code};
use crate::schema::{ContentType, Kind};
use crate::storage;

pub fn routes() -> Route {
    Route::new()
        .at("/content/:type", get(list))
        .at("/content/:type/:key", get(one))
}

/// Resolves the type and checks the caller may read it. A type the caller may not read is
/// reported as missing, so its existence is not disclosed.
fn readable(state: &AppState, req: &Request, type_id: &str) -> Result<Arc<ContentType>> {
    let ct = state.content.content_type(type_id)?;
    if state.policy.may_deliver(&caller(req).principal, &ct) {
        Ok(ct)
    } else {
        Err(Error::TypeNotFound(type_id.to_owned()))
    }
}

fn cache_control(ct: &ContentType) -> String {
    match (&ct.delivery.cache_control, ct.access.public_read()) {
        (Some(cc), true) => cc.clone(),
        (_, true) => "public, max-age=0, must-revalidate".into(),
        (_, false) => "private, no-cache".into(),
    }
}

/// What a cached delivery response shows: a list (or a single type's one entry), made from
/// its type's table, or one entry of a collection, which depends on that entry only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shows {
    Table,
    OneEntry,
}

/// The tables a delivery response of `ct` may be made from: its own (for one entry of it,
/// only when its relations lead back to it), those of every type its relations reach
/// (populated entries, facet titles), and the media table.
fn read_tables(state: &AppState, ct: &ContentType, shows: Shows) -> Vec<String> {
    let schema = state.content.schema();
    let mut types: Vec<&ContentType> = match shows {
        Shows::Table => vec![ct],
        Shows::OneEntry => Vec::new(),
    };
    let mut next = vec![ct];
    while let Some(from) = next.pop() {
        for target in from.relation_targets() {
            if let Some(t) = schema.get(target)
                && !types.iter().any(|seen| seen.id == t.id)
            {
                types.push(t);
                next.push(t);
            }
        }
    }
    let mut tables: Vec<String> = types.iter().map(|t| storage::delivery_table(t)).collect();
    tables.push(storage::MEDIA_TABLE.to_owned());
    tables
}

/// Serves a delivery GET from the response cache, or computes it with `make` and keeps it.
/// The key is the path and query as sent, and what the caller may read (credentials open
/// types the public may not read); it is served while the tables it may be made from
/// ([`read_tables`]) have not changed, and for one entry (`make` names it in
/// [`Cached::entry`]) while that entry has not been written.
async fn cached<F, Fut>(
    req: &Request,
    state: &AppState,
    ct: &ContentType,
    shows: Shows,
    make: F,
) -> Result<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Cached>>,
{
    let key = format!(
        "{}{}",
        audience_key(&caller(req).principal),
        req.uri().path_and_query().map_or("", |p| p.as_str())
    );
    let store = state.content.store();
    let table = storage::delivery_table(ct);
    // Anything written after this may or may not be in what `make` reads.
    let started = store.change_count();
    let generation = store.generations(&read_tables(state, ct, shows));
    let current = |hit: &Cached| match &hit.entry {
        Some((id, mark)) => store.entry_mark(&table, id) == *mark,
        None => shows == Shows::Table,
    };
    if let Some(hit) = state.cache.get(&key, &generation).filter(current) {
        return Ok(respond(req, hit));
    }
    // One request computes a cold key; the others wait for it and take its result.
    let flight = state.cache.flight(&key);
    let made = {
        let _turn = flight.lock().await;
        match state.cache.get(&key, &generation).filter(current) {
            Some(hit) => Ok(hit),
            None => match make().await {
                Ok(mut made) => {
                    // One entry: kept under the entry's mark, unless a write to it may have
                    // raced the read (its mark moved after `started`).
                    let keep = match made.entry.as_mut() {
                        Some((id, mark)) => {
                            *mark = store.entry_mark(&table, id);
                            *mark <= started
                        }
                        None => shows == Shows::Table,
                    };
                    if keep {
                        state
                            .cache
                            .put(key.clone(), generation.clone(), made.clone());
                    }
                    Ok(made)
                }
                Err(e) => Err(e),
            },
        }
    };
    state.cache.land(&key, flight);
    Ok(respond(req, made?))
}

/// Which callers may share a cached response: what a body may contain (populated related
/// types) depends on what the caller may read, which depends on this.
fn audience_key(who: &Principal) -> String {
    match who {
        Principal::Public => "p:".into(),
        Principal::Token {
            scope: TokenScope::Delivery,
            ..
        } => "t:".into(),
        _ => format!("r:{}:", who.role().unwrap_or_default()),
    }
}

fn respond(req: &Request, c: Cached) -> Response {
    let not_modified = if_none_match(req, &c.etag);
    let builder = Response::builder()
        .header(header::ETAG, c.etag)
        .header(header::CACHE_CONTROL, c.cache_control);
    if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).finish()
    } else {
        builder.content_type(c.content_type).body(c.body)
    }
}

fn finished(body: Vec<u8>, content_type: &'static str, ct: &ContentType, req: &Request) -> Cached {
    Cached {
        etag: etag_of(&body),
        entry: None,
        body: body.into(),
        content_type,
        // What credentials open must never sit in a shared cache.
        cache_control: if !matches!(caller(req).principal, Principal::Public) {
            "private, no-store".into()
        } else {
            cache_control(ct)
        },
    }
}

fn json_body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[handler]
async fn list(
    req: &Request,
    Path(type_id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let state: &AppState = &state;
    let ct = readable(state, req, &type_id)?;
    cached(req, state, &ct, Shows::Table, || async {
        let pairs = query_pairs(req)?;
        let schema = state.content.schema().clone();
        // Types the caller may not read, and private fields, do not exist for its query.
        let sight = state
            .policy
            .sight(&caller(req).principal, Audience::Delivery, &schema);
        if ct.kind == Kind::Single {
            let q = parse_entry_query(&schema, &ct, &pairs, &sight, &state.limits)
                .map_err(query_error)?;
            let entry = state.content.get_published(&ct, None, &q, &sight).await?;
            return Ok(finished(
                json_body(&json!({ "data": entry })),
                "application/json",
                &ct,
                req,
            ));
        }
        let q =
            parse_list_query(&schema, &ct, &pairs, &sight, &state.limits).map_err(query_error)?;
        let page = state.content.list_published(&ct, &q, &sight).await?;
        match q.format {
            Format::Json => Ok(finished(
                json_body(&page_body(page)),
                "application/json",
                &ct,
                req,
            )),
            Format::Ndjson => {
                let body: String = page
                    .data
                    .iter()
                    .map(|e| format!("{}\n", Value::Object(e.clone())))
                    .collect();
                Ok(finished(
                    body.into_bytes(),
                    "application/x-ndjson",
                    &ct,
                    req,
                ))
            }
            Format::Csv => Ok(finished(
                to_csv(&ct, &page.data).into_bytes(),
                "text/csv; charset=utf-8",
                &ct,
                req,
            )),
            Format::Rss | Format::Atom => Err(Error::bad_request(
                code::FORMAT_UNAVAILABLE,
                "rss and atom feeds are not available yet; use json, ndjson or csv",
            )),
        }
    })
    .await
}

#[handler]
async fn one(
    req: &Request,
    Path((type_id, key)): Path<(String, String)>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let state: &AppState = &state;
    let ct = readable(state, req, &type_id)?;
    cached(req, state, &ct, Shows::OneEntry, || async {
        let pairs = query_pairs(req)?;
        let schema = state.content.schema().clone();
        let sight = state
            .policy
            .sight(&caller(req).principal, Audience::Delivery, &schema);
        let q =
            parse_entry_query(&schema, &ct, &pairs, &sight, &state.limits).map_err(query_error)?;
        let entry = state
            .content
            .get_published(&ct, Some(&key), &q, &sight)
            .await?;
        let id = entry.get("id").and_then(Value::as_str).map(str::to_owned);
        let mut made = finished(
            json_body(&json!({ "data": entry })),
            "application/json",
            &ct,
            req,
        );
        made.entry = id.map(|id| (id, 0));
        Ok(made)
    })
    .await
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
    let fields = ct.public_field_names();
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

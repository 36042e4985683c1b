//! The search endpoints: `GET /api/v1/search` over published entries of the types the caller
//! may read, `GET /admin/api/v1/search` over working copies (drafts too) within the caller's
//! permits, and the index's status and rebuild for administrators.
//!
//! Query parameters: `q` (the search text, see `search::query`), `type` (comma-separated;
//! default every searchable type the caller may read), `locale`, `filter[field][eq|in]=` on
//! tag, enum and relation fields (by the related entry's title), `filter[date][gte|gt|lte|lt]=`
//! on dates, `sort` (`relevance`, or a date field with `-` for newest first), `page`, `limit`,
//! `exact=true` (whole words only: no stemming, typos or prefixes), `facets=a,b` (fields to
//! count; `facets=` for none), `fields=a,b` (the fields of each hit's entry).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::methods::get;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::web::Data as State;
use poem::{Request, Response, Route, handler};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::caller;
use super::oai::{
    Accepted, Admin, AdminToken, Data as Answer, Failure, OptionalJsonBody, Tag, statuses,
};
use super::{AppState, etag_of, if_none_match, query_pairs};
use crate::access::{Action, Principal};
use crate::content::query::{EntryQuery, Sight};
use crate::error::{Code, Error, Result, code};
use crate::schema::ContentType;
use crate::search::{Audience, Hit, Request as SearchRequest, Results, Sort};

/// `limit` when none is given, and the largest accepted.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 50;

pub fn delivery_routes() -> Route {
    Route::new().at("/", get(delivery_search))
}

/// Adds the admin search (the index's status and rebuilds are in [`SearchAdminApi`]).
pub fn add_admin_routes(route: Route) -> Route {
    route.at("/search", get(admin_search))
}

/// The parameters common to both audiences, before they meet the types.
struct Params {
    q: String,
    types: Option<Vec<String>>,
    locale: Option<String>,
    facet_filters: Vec<(String, Vec<String>)>,
    date_filters: Vec<(String, Bound<String>, Bound<String>)>,
    sort: Sort,
    limit: usize,
    page: usize,
    exact: bool,
    facets: Option<Vec<String>>,
    fields: Option<Vec<String>>,
}

impl Params {
    fn request(
        &self,
        types: &[Arc<ContentType>],
        audience: Audience,
        owners: HashMap<String, String>,
        hidden: HashMap<String, Vec<String>>,
    ) -> SearchRequest {
        SearchRequest {
            q: self.q.clone(),
            types: types.to_vec(),
            audience,
            locale: self.locale.clone(),
            owners,
            hidden,
            facet_filters: self.facet_filters.clone(),
            date_filters: self.date_filters.clone(),
            sort: self.sort.clone(),
            limit: self.limit,
            offset: (self.page - 1) * self.limit,
            exact: self.exact,
            facets: self.facets.clone(),
        }
    }
}

fn invalid(code: Code, param: &str, message: impl Into<String>) -> Error {
    Error::InvalidQuery {
        code,
        param: param.to_owned(),
        message: message.into(),
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_params(pairs: &[(String, String)]) -> Result<Params> {
    let mut p = Params {
        q: String::new(),
        types: None,
        locale: None,
        facet_filters: Vec::new(),
        date_filters: Vec::new(),
        sort: Sort::Relevance,
        limit: DEFAULT_LIMIT,
        page: 1,
        exact: false,
        facets: None,
        fields: None,
    };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in pairs {
        if !key.starts_with("filter[") && !seen.insert(key.as_str()) {
            return Err(invalid(
                code::DUPLICATE_PARAMETER,
                key,
                format!("`{key}` is given more than once"),
            ));
        }
        match key.as_str() {
            "q" => p.q = value.clone(),
            "type" => p.types = Some(list(value)),
            "locale" => p.locale = Some(value.clone()).filter(|l| !l.is_empty()),
            "sort" => {
                p.sort = match value.as_str() {
                    "" | "relevance" => Sort::Relevance,
                    v => Sort::Date {
                        field: v.trim_start_matches('-').to_owned(),
                        desc: v.starts_with('-'),
                    },
                }
            }
            "limit" => {
                p.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            code::INVALID_LIMIT,
                            "limit",
                            format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "page" => {
                p.page = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    invalid(
                        code::INVALID_PAGE,
                        "page",
                        "`page` must be a whole number from 1",
                    )
                })?;
            }
            "exact" => {
                p.exact = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => {
                        return Err(invalid(
                            code::INVALID_PARAMETER,
                            "exact",
                            "`exact` is true or false",
                        ));
                    }
                }
            }
            "facets" => p.facets = Some(list(value)),
            "fields" => p.fields = Some(list(value)),
            k if k.starts_with("filter[") => parse_filter(&mut p, k, value)?,
            k => {
                return Err(invalid(
                    code::UNKNOWN_PARAMETER,
                    k,
                    format!(
                        "search does not take `{k}` (it takes q, type, locale, filter[...], \
                         sort, page, limit, exact, facets, fields)"
                    ),
                ));
            }
        }
    }
    if p.page.saturating_mul(p.limit) > crate::search::MAX_WINDOW {
        return Err(invalid(
            code::INVALID_PAGE,
            "page",
            format!(
                "search results can be paged through the first {}",
                crate::search::MAX_WINDOW
            ),
        ));
    }
    Ok(p)
}

/// `filter[field][op]=value`, or `filter[field]=value` for `eq`.
fn parse_filter(p: &mut Params, key: &str, value: &str) -> Result<()> {
    let inner = &key["filter[".len()..];
    let (field, rest) = inner.split_once(']').ok_or_else(|| {
        invalid(
            code::INVALID_FILTER,
            key,
            format!("`{key}` is not filter[field][op]"),
        )
    })?;
    let op = match rest {
        "" => "eq",
        r if r.starts_with('[') && r.ends_with(']') => &r[1..r.len() - 1],
        _ => {
            return Err(invalid(
                code::INVALID_FILTER,
                key,
                format!("`{key}` is not filter[field][op]"),
            ));
        }
    };
    if field.is_empty() || field.len() > 64 {
        return Err(invalid(code::INVALID_FILTER, key, "a filter names a field"));
    }
    if p.facet_filters.len() + p.date_filters.len() >= 20 {
        return Err(invalid(
            code::TOO_MANY_FILTERS,
            key,
            "a search takes at most 20 filters",
        ));
    }
    let v = value.to_owned();
    match op {
        "eq" => p.facet_filters.push((field.to_owned(), vec![v])),
        "in" => p.facet_filters.push((field.to_owned(), list(value))),
        "gte" => p
            .date_filters
            .push((field.to_owned(), Bound::Included(v), Bound::Unbounded)),
        "gt" => p
            .date_filters
            .push((field.to_owned(), Bound::Excluded(v), Bound::Unbounded)),
        "lte" => p
            .date_filters
            .push((field.to_owned(), Bound::Unbounded, Bound::Included(v))),
        "lt" => p
            .date_filters
            .push((field.to_owned(), Bound::Unbounded, Bound::Excluded(v))),
        _ => {
            return Err(invalid(
                code::INVALID_OPERATOR,
                key,
                format!(
                    "search filters take eq and in (tags, enums, relations) or gte, gt, lte, lt (dates), not `{op}`"
                ),
            ));
        }
    }
    Ok(())
}

/// Per type searched, the fields the caller may not see: private ones on delivery, those its
/// role hides in the admin, and relations into types it may not read (whose facet values are
/// the related entries' titles). They are neither searched, highlighted, counted nor
/// filtered or sorted on.
fn unseen(
    state: &AppState,
    types: &[Arc<ContentType>],
    sight: &dyn Sight,
) -> HashMap<String, Vec<String>> {
    let schema = state.content.schema();
    types
        .iter()
        .map(|ct| {
            let names = ct
                .fields
                .iter()
                .filter(|f| !sight.sees(ct, f) || !sight.follows(schema, f))
                .map(|f| f.name.clone())
                .collect();
            (ct.id.clone(), names)
        })
        .collect()
}

/// Checks filters, sort, facets and locale against the types searched: a field is there to
/// filter on when one of the types has it and the caller may see it there.
fn check_against(
    state: &AppState,
    types: &[Arc<ContentType>],
    p: &Params,
    unseen: &HashMap<String, Vec<String>>,
) -> Result<()> {
    let mut facet_fields = Vec::new();
    let mut date_fields = Vec::new();
    for ct in types {
        let hidden = unseen.get(&ct.id).map_or(&[][..], Vec::as_slice);
        let (f, d) = state.search.filterable(&ct.id);
        facet_fields.extend(f.into_iter().filter(|n| !hidden.contains(n)));
        date_fields.extend(d.into_iter().filter(|n| !hidden.contains(n)));
    }
    for (field, _) in &p.facet_filters {
        if !facet_fields.contains(field) {
            return Err(invalid(
                code::UNKNOWN_FIELD,
                &format!("filter[{field}]"),
                format!("`{field}` is not a tag, enum or relation field of the types searched"),
            ));
        }
    }
    for (field, _, _) in &p.date_filters {
        if !date_fields.contains(field) {
            return Err(invalid(
                code::UNKNOWN_FIELD,
                &format!("filter[{field}]"),
                format!("`{field}` is not a date field of the types searched"),
            ));
        }
    }
    if let Sort::Date { field, .. } = &p.sort
        && !date_fields.contains(field)
    {
        return Err(invalid(
            code::UNKNOWN_FIELD,
            "sort",
            format!("search sorts by relevance or by a date field, and `{field}` is not one"),
        ));
    }
    if let Some(facets) = &p.facets
        && let Some(f) = facets.iter().find(|f| !facet_fields.contains(f))
    {
        return Err(invalid(
            code::UNKNOWN_FIELD,
            "facets",
            format!("`{f}` is not a tag, enum or relation field of the types searched"),
        ));
    }
    if let Some(locale) = &p.locale
        && !types.iter().any(|t| t.locales.contains(locale))
    {
        return Err(invalid(
            code::UNKNOWN_LOCALE,
            "locale",
            format!("none of the types searched has the locale `{locale}`"),
        ));
    }
    Ok(())
}

/// The searchable types named by `type` (or all), each passing `allowed`; a named type that
/// does not pass is reported missing.
fn types_for(
    state: &AppState,
    named: Option<&[String]>,
    allowed: impl Fn(&ContentType) -> bool,
) -> Result<Vec<Arc<ContentType>>> {
    match named {
        Some(names) if !names.is_empty() => names
            .iter()
            .map(|n| {
                let ct = state.content.content_type(n)?;
                if !allowed(&ct) {
                    return Err(Error::TypeNotFound(n.clone()));
                }
                if !state.search.is_searchable(n) {
                    return Err(invalid(
                        code::TYPE_NOT_SEARCHABLE,
                        "type",
                        format!("content type `{n}` is not searchable"),
                    ));
                }
                Ok(ct)
            })
            .collect(),
        _ => Ok(state
            .content
            .schema()
            .types()
            .filter(|t| state.search.is_searchable(&t.id) && allowed(t))
            .cloned()
            .collect()),
    }
}

fn body_of(
    results: Results,
    entries: HashMap<(String, String), Map<String, Value>>,
    p: &Params,
) -> Value {
    let data: Vec<Value> = results
        .hits
        .into_iter()
        .filter_map(
            |Hit {
                 type_id,
                 id,
                 score,
                 highlights,
             }| {
                let entry = entries.get(&(type_id.clone(), id.clone()))?;
                Some(json!({
                    "type": type_id,
                    "id": id,
                    "score": score,
                    "highlights": highlights,
                    "entry": entry,
                }))
            },
        )
        .collect();
    let facets: Map<String, Value> = results
        .facets
        .into_iter()
        .map(|(f, values)| {
            let values: Vec<Value> = values
                .into_iter()
                .map(|(value, count)| json!({ "value": value, "count": count }))
                .collect();
            (f, Value::Array(values))
        })
        .collect();
    json!({
        "data": data,
        "meta": {
            "total": results.total,
            "page": p.page,
            "limit": p.limit,
            "facets": facets,
        }
    })
}

fn respond(
    req: &Request,
    body: &Value,
    cache_control: &str,
    took: std::time::Duration,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let etag = etag_of(&bytes);
    let timing = format!("search;dur={:.1}", took.as_secs_f64() * 1000.0);
    let not_modified = if_none_match(req, &etag);
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, cache_control)
        .header("server-timing", timing);
    if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).finish()
    } else {
        builder.content_type("application/json").body(bytes)
    }
}

#[handler]
async fn delivery_search(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let started = std::time::Instant::now();
    let state: &AppState = &state;
    let p = parse_params(&query_pairs(req)?)?;
    let who = caller(req).principal;
    let sight = state
        .policy
        .sight(&who, Audience::Delivery, state.content.schema());
    let types = types_for(state, p.types.as_deref(), |ct| sight.reads(ct))?;
    let hidden = unseen(state, &types, &sight);
    check_against(state, &types, &p, &hidden)?;
    if let Some(fields) = &p.fields {
        for f in fields {
            if !types
                .iter()
                .any(|t| t.field(f).is_some_and(|x| sight.sees(t, x)))
            {
                return Err(invalid(
                    code::UNKNOWN_FIELD,
                    "fields",
                    format!("no type searched has a field `{f}`"),
                ));
            }
        }
    }
    let results = state
        .search
        .search(p.request(&types, Audience::Delivery, HashMap::new(), hidden))
        .await?;
    // The entries as the delivery API shows them, read in one query per type.
    let mut entries = HashMap::new();
    for ct in &types {
        let ids = results.ids_of(&ct.id);
        if ids.is_empty() {
            continue;
        }
        let q = EntryQuery {
            fields: p.fields.clone(),
            populate: Vec::new(),
            locale: p.locale.clone().filter(|l| ct.locales.contains(l)),
            render_html: false,
        };
        for e in state
            .content
            .get_published_many(ct, &ids, &q, &sight)
            .await?
        {
            let id = e
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            entries.insert((ct.id.clone(), id), e);
        }
    }
    let cache_control = if matches!(who, Principal::Public) {
        "public, no-cache"
    } else {
        "private, no-store"
    };
    Ok(respond(
        req,
        &body_of(results, entries, &p),
        cache_control,
        started.elapsed(),
    ))
}

#[handler]
async fn admin_search(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let started = std::time::Instant::now();
    let state: &AppState = &state;
    let who = caller(req).principal;
    if matches!(who, Principal::Public) {
        return Err(Error::Unauthenticated);
    }
    let p = parse_params(&query_pairs(req)?)?;
    if p.fields.is_some() {
        return Err(invalid(
            code::UNKNOWN_PARAMETER,
            "fields",
            "admin search returns whole entries",
        ));
    }
    let sight = state
        .policy
        .sight(&who, Audience::Admin, state.content.schema());
    let types = types_for(state, p.types.as_deref(), |ct| sight.reads(ct))?;
    let hidden = unseen(state, &types, &sight);
    check_against(state, &types, &p, &hidden)?;
    let mut permits = HashMap::new();
    let mut owners = HashMap::new();
    for ct in &types {
        let permit = state.policy.permit(&who, ct, Action::Read)?;
        if let Some(owner) = permit.owner() {
            owners.insert(ct.id.clone(), owner.to_owned());
        }
        permits.insert(ct.id.clone(), permit);
    }
    let results = state
        .search
        .search(p.request(&types, Audience::Admin, owners, hidden))
        .await?;
    let mut entries = HashMap::new();
    for ct in &types {
        let ids = results.ids_of(&ct.id);
        if ids.is_empty() {
            continue;
        }
        for e in state
            .content
            .get_entries(&permits[&ct.id], ct, &ids)
            .await?
        {
            let id = e
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            entries.insert((ct.id.clone(), id), e);
        }
    }
    Ok(respond(
        req,
        &body_of(results, entries, &p),
        "private, no-store",
        started.elapsed(),
    ))
}

statuses! {
    StatusFails = [401, 403];
    ReindexFails = [400, 401, 403];
}

/// A rebuild under way.
#[derive(Object)]
struct RebuildStatus {
    /// Entries indexed so far.
    done: u64,
    /// Entries to index.
    total: u64,
}

/// The search index's state.
#[derive(Object)]
#[oai(rename = "SearchStatus")]
struct SearchStatus {
    /// Changes recorded before start-up are applied.
    caught_up: bool,
    /// Changes recorded but not yet searchable.
    pending: u64,
    /// Age of the oldest of them, in milliseconds.
    lag_ms: u64,
    /// Types being rebuilt, with entries done and total.
    rebuilding: BTreeMap<String, RebuildStatus>,
    /// Types waiting for a rebuild to start.
    queued: Vec<String>,
    /// Index commits since start-up.
    commits: u64,
    /// The last indexing failure, if any.
    #[oai(skip_serializing_if_is_none)]
    last_error: Option<String>,
}

impl From<crate::search::Status> for SearchStatus {
    fn from(s: crate::search::Status) -> Self {
        SearchStatus {
            caught_up: s.caught_up,
            pending: s.pending,
            lag_ms: s.lag_ms,
            rebuilding: s
                .rebuilding
                .into_iter()
                .map(|(t, r)| {
                    let r = RebuildStatus {
                        done: r.done,
                        total: r.total,
                    };
                    (t, r)
                })
                .collect(),
            queued: s.queued,
            commits: s.commits,
            last_error: s.last_error,
        }
    }
}

/// Which types to rebuild.
#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct ReindexBody {
    /// Searchable content types; none or empty: every one.
    #[oai(default)]
    #[serde(default)]
    types: Vec<String>,
}

#[derive(Object)]
struct Queued {
    /// The types whose rebuild is queued.
    queued: Vec<String>,
}

pub struct SearchAdminApi;

#[OpenApi(tag = "Tag::Search")]
impl SearchAdminApi {
    /// The search index: backlog, lag and rebuilds under way (administrators).
    #[oai(
        path = "/search/status",
        method = "get",
        operation_id = "search_status"
    )]
    async fn status(
        &self,
        _auth: AdminToken,
        _admin: Admin,
        state: State<&Arc<AppState>>,
    ) -> std::result::Result<Json<Answer<SearchStatus>>, Failure<StatusFails>> {
        Ok(Answer::ok(state.search.status().await?.into()))
    }

    /// Rebuild the index of some types (all by default) from the database; searches keep
    /// using the current index until the new one replaces it (administrators).
    #[oai(
        path = "/search/reindex",
        method = "post",
        operation_id = "search_reindex"
    )]
    async fn reindex(
        &self,
        _auth: AdminToken,
        _admin: Admin,
        state: State<&Arc<AppState>>,
        body: OptionalJsonBody<ReindexBody>,
    ) -> std::result::Result<Accepted<Queued>, Failure<ReindexFails>> {
        let types = body.0.map(|b| b.types).unwrap_or_default();
        let queued = state.search.request_rebuild(&types)?;
        Ok(Accepted::Accepted(Answer::ok(Queued { queued })))
    }
}

//! HTTP: the only place that imports poem. It parses and authorises requests, calls the
//! content service, and shapes responses (JSON bodies, ETags, caching headers, errors).
//!
//! - `delivery`: `/api/v1` — published content for websites;
//! - `admin`: `/admin/api/v1` — everything editors and the admin UI need;
//! - `openapi`: the two OpenAPI documents (fixed endpoints from poem-openapi, per-type paths
//!   and schemas merged in at start-up) and `/docs`;
//! - `system`: `/healthz`, `/readyz`.
//!
//! Every response passes through [`around`], which gives it a request id, security headers and
//! an access-log line, and turns every error — ours, poem's, or a panic — into the JSON error
//! body with a stable code.

mod accounts;
mod admin;
pub mod auth;
mod delivery;
mod events;
pub mod guard;
mod media;
mod methods;
mod multipart;
mod oai;
mod openapi;
mod search;
pub mod server;
mod sign_in;
mod system;
mod types;
mod ui;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use poem::http::{HeaderValue, StatusCode, header};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::config::Config;
use crate::content::Content;
use crate::content::query::QueryLimits;
use crate::error::{Error, code};

pub const REQUEST_ID: &str = "x-request-id";

/// What every handler can reach.
pub struct AppState {
    pub content: Content,
    pub accounts: crate::accounts::Accounts,
    pub search: crate::search::Search,
    pub media: crate::media::Media,
    pub policy: crate::access::Policy,
    pub config: Config,
    pub limits: QueryLimits,
    pub ready: AtomicBool,
    pub docs: openapi::Docs,
    pub cache: crate::cache::ResponseCache,
    pub body_limits: guard::BodyLimits,
}

impl AppState {
    pub fn new(
        content: Content,
        accounts: crate::accounts::Accounts,
        search: crate::search::Search,
        media: crate::media::Media,
        config: Config,
    ) -> Arc<AppState> {
        let limits = QueryLimits {
            default_limit: config.limits.default_limit,
            max_limit: config.limits.max_limit,
            max_filters: config.limits.max_filters,
            max_populate_depth: config.limits.max_populate_depth,
            ..QueryLimits::default()
        };
        let docs = openapi::Docs::build(content.schema(), &config);
        let policy = accounts.policy().clone();
        let body_limits = guard::BodyLimits::from_config(&config);
        Arc::new(AppState {
            content,
            accounts,
            search,
            media,
            policy,
            config,
            limits,
            ready: AtomicBool::new(false),
            docs,
            cache: crate::cache::ResponseCache::default(),
            body_limits,
        })
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }
}

/// An OpenAPI document as `/openapi/admin.json` (or `delivery.json`) serves it.
pub fn openapi_json(schema: &crate::schema::Schema, config: &Config, admin: bool) -> String {
    let docs = openapi::Docs::build(schema, config);
    if admin { docs.admin } else { docs.delivery }
}

/// The whole HTTP application.
pub fn app(state: Arc<AppState>) -> impl Endpoint {
    let outer = state.clone();
    Route::new()
        .nest(
            "/api/v1",
            delivery::routes().nest("/search", search::delivery_routes()),
        )
        .nest("/admin/api/v1", search::add_admin_routes(admin::routes()))
        .nest("/", system::routes())
        .nest("/openapi", openapi::routes())
        .at("/admin", ui::ui)
        .at("/admin/*path", ui::ui)
        .at("/docs", openapi::docs_index)
        .at("/docs/:which", openapi::docs_page)
        .data(state)
        .with(CatchPanic::new())
        .around(move |next, req| around(next, req, outer.clone()))
}

/// Request id, security headers, access log, and JSON errors for everything.
async fn around<E: Endpoint>(
    next: E,
    mut req: Request,
    state: Arc<AppState>,
) -> poem::Result<Response> {
    let started = Instant::now();
    let request_id = ulid::Ulid::new().to_string();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Everything logged while handling the request carries its id.
    let span = tracing::info_span!("request", request_id = %request_id);
    let allowed_origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| state.config.cors_origins.iter().any(|a| a == o))
        .map(str::to_owned);
    // A preflight from an allowed origin is answered here; from any other origin it gets no
    // CORS headers, and the browser keeps the page from calling.
    let preflight = req.method() == poem::http::Method::OPTIONS
        && req.headers().contains_key("access-control-request-method");
    let mut rate = None;
    let mut resp = if preflight {
        let mut resp = Response::builder().status(StatusCode::NO_CONTENT).finish();
        if allowed_origin.is_some() {
            let h = resp.headers_mut();
            h.insert(
                "access-control-allow-methods",
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
            );
            h.insert(
                "access-control-allow-headers",
                HeaderValue::from_static(
                    "authorization, content-type, if-match, if-none-match, x-csrf-token",
                ),
            );
            h.insert("access-control-max-age", HeaderValue::from_static("600"));
        }
        resp
    } else {
        let handled = async {
            let anonymous = match auth::resolve(&req, &state).await {
                Ok(caller) => {
                    rate = caller.rate;
                    let anonymous = matches!(caller.principal, crate::access::Principal::Public);
                    req.extensions_mut().insert(caller);
                    anonymous
                }
                Err(e) => return json_error(&e),
            };
            if let Err(e) = guard::check_query(&req) {
                return json_error(&e);
            }
            // The body is held to its limits (and JSON checked) before any handler runs.
            let admitted =
                match guard::admit(&mut req, &state.body_limits, &state.config, anonymous).await {
                    Ok(admitted) => admitted,
                    Err(e) => return cut_short(&e),
                };
            let resp = match next.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => error_response(e),
            };
            // A streamed body that hit its limit or stalled is reported as such, whatever the
            // handler made of the stream ending in an error.
            match admitted {
                guard::Admitted::Streaming { watch, limit } => match watch.cut_short(limit) {
                    Some(e) => cut_short(&e),
                    None => resp,
                },
                guard::Admitted::Ready => resp,
            }
        }
        .instrument(span);
        // Queries are counted per request (background work is not).
        crate::storage::counting_queries(handled).await
    };
    if resp.status() == StatusCode::INTERNAL_SERVER_ERROR
        && resp
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| v != "application/json")
    {
        // A panic caught by CatchPanic: give it the usual body.
        resp = json_error(&Error::internal("panic"));
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Some(rate) = rate {
        for (name, value) in rate.headers() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
    }
    let ui_page =
        (path == "/admin" || path.starts_with("/admin/")) && !path.starts_with("/admin/api/");
    if ui_page {
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static(ui::UI_CSP),
        );
    } else if !path.starts_with("/docs") && !headers.contains_key("content-security-policy") {
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        // JSON and media need no scripts, styles or frames of their own.
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; sandbox"),
        );
    }
    if let Some(origin) = allowed_origin {
        cors_headers(headers, &origin);
    }
    let status = resp.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(request_id, %method, path, status, latency_ms, "request");
    Ok(resp)
}

/// CORS headers for a configured origin: it may read responses and send credentials.
fn cors_headers(headers: &mut poem::http::HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert("access-control-allow-origin", v);
        headers.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
        headers.insert(
            "access-control-expose-headers",
            HeaderValue::from_static(
                "etag, x-request-id, ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after",
            ),
        );
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[derive(Clone)]
pub struct RequestId(pub String);

impl poem::error::ResponseError for Error {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(Error::status(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        json_error(self)
    }
}

/// Turns any poem error into our JSON body, logging server-side failures in full.
fn error_response(e: poem::Error) -> Response {
    if let Some(ours) = e.downcast_ref::<Error>() {
        if ours.status() >= 500 {
            tracing::error!(error = %ours, "request failed");
        }
        return json_error(ours);
    }
    // A query or path parameter a poem-openapi operation could not read (or whose declared
    // bounds it broke), as our own parameter checks name it.
    if let Some(p) = e.downcast_ref::<poem_openapi::error::ParseParamError>() {
        if p.name.eq_ignore_ascii_case("if-match") {
            return json_error(&if_match_error());
        }
        return json_error(&Error::InvalidQuery {
            code: code::INVALID_PARAMETER,
            param: p.name.to_owned(),
            message: format!("`{}` is not valid: {}", p.name, p.reason),
        });
    }
    let status = e.status();
    let text = e.to_string();
    // poem-openapi operations answer their declared errors with our JSON body already.
    if e.is_from_response() {
        let resp = e.into_response();
        if resp
            .content_type()
            .is_some_and(|ct| ct.starts_with("application/json"))
        {
            return resp;
        }
        return json_error(&Error::internal(format!("{status}: {text}")));
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (code::ROUTE_NOT_FOUND, "no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            code::METHOD_NOT_ALLOWED,
            "this route does not take that method".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (code::PAYLOAD_TOO_LARGE, "the body is too large".to_owned())
        }
        StatusCode::UNAUTHORIZED => (
            code::UNAUTHENTICATED,
            "authentication is required".to_owned(),
        ),
        s if s.is_client_error() => (code::BAD_REQUEST, text),
        _ => {
            tracing::error!(error = %text, "request failed");
            return json_error(&Error::internal(text));
        }
    };
    let body = serde_json::json!({ "code": code.name, "message": message });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// The answer to a body refused at the door: the rest of it is not read, so the connection
/// is closed after the answer rather than kept for another request.
fn cut_short(e: &Error) -> Response {
    let mut resp = json_error(e);
    if matches!(e, Error::PayloadTooLarge { .. } | Error::BodyTimeout) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

fn json_error(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&e.body()).unwrap_or_default();
    let mut response = Response::builder()
        .status(status)
        .content_type("application/json");
    if let Some(seconds) = e.retry_after() {
        response = response.header("retry-after", seconds.to_string());
    }
    response.body(body)
}

/// A strong ETag: a digest of the exact body bytes.
pub(crate) fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether the request's `If-None-Match` names `etag`. The comparison is weak: a proxy may
/// have marked our ETag weak.
pub(crate) fn if_none_match(req: &Request, etag: &str) -> bool {
    req.headers()
        .get(poem::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
}

/// The version the client last read, from `If-Match` (`"3"`, `W/"3"` or `3`) or the body's
/// `version`; they must agree when both are given. Entries and media take it the same way.
pub(crate) fn expected_version(req: &Request, body: Option<u64>) -> Result<Option<u64>, Error> {
    let header = req
        .headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or(""));
    version_to_match(header, body)
}

/// [`expected_version`] of an `If-Match` value already read.
pub(crate) fn version_to_match(
    header: Option<&str>,
    body: Option<u64>,
) -> Result<Option<u64>, Error> {
    let header = match header {
        None => None,
        Some(v) => {
            let s = v.trim().trim_start_matches("W/").trim_matches('"');
            Some(s.parse::<u64>().map_err(|_| if_match_error())?)
        }
    };
    match (header, body) {
        (Some(h), Some(b)) if h != b => Err(Error::bad_request(
            code::VERSION_MISMATCH,
            "If-Match and the body's version disagree",
        )),
        (h, b) => Ok(h.or(b)),
    }
}

/// An `If-Match` that is not a version.
fn if_match_error() -> Error {
    Error::bad_request(
        code::INVALID_IF_MATCH,
        "If-Match must carry the version you read, such as \"3\"",
    )
}

/// A query parameter `param` whose value is not `what` it must be.
pub(crate) fn invalid_parameter(param: &str, what: &str) -> Error {
    Error::InvalidQuery {
        code: code::INVALID_PARAMETER,
        param: param.to_owned(),
        message: format!("`{param}` must be {what}"),
    }
}

/// A query parameter `param` that `listing` does not take.
pub(crate) fn unknown_parameter(param: &str, listing: &str) -> Error {
    Error::InvalidQuery {
        code: code::UNKNOWN_PARAMETER,
        param: param.to_owned(),
        message: format!("{listing} does not take `{param}`"),
    }
}

/// Refuses a query parameter not in `known` (a poem-openapi operation reads its declared
/// parameters and lets others through).
pub(crate) fn only_parameters(req: &Request, known: &[&str], listing: &str) -> Result<(), Error> {
    match query_pairs(req)?
        .into_iter()
        .find(|(k, _)| !known.contains(&k.as_str()))
    {
        Some((k, _)) => Err(unknown_parameter(&k, listing)),
        None => Ok(()),
    }
}

/// Decoded query-string pairs, in order.
pub(crate) fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, Error> {
    let raw = req.uri().query().unwrap_or("");
    if raw.len() > 16 * 1024 {
        return Err(Error::bad_request(
            code::QUERY_TOO_LONG,
            "the query string is longer than 16 KiB",
        ));
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .map_err(|_| Error::bad_request(code::INVALID_QUERY, "the query string is not valid"))
}

/// Reads a JSON object body no larger than the configured limit.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    body: poem::Body,
    limit: usize,
) -> Result<T, Error> {
    let bytes = body.into_bytes_limit(limit).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => Error::PayloadTooLarge { limit },
        _ => Error::bad_request(code::INVALID_BODY, "the request body could not be read"),
    })?;
    if bytes.is_empty() {
        return Err(Error::bad_request(
            code::EMPTY_BODY,
            "the request needs a JSON body",
        ));
    }
    // `guard::admit` has already refused what is not JSON or names a key twice.
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::bad_request(code::INVALID_JSON, format!("the body is not JSON: {e}"))
    })?;
    // Derived structs also deserialize from arrays, by position: `[{...}, null, true]` would
    // be read as fields, version and publish. Bodies are objects, so anything else is refused.
    if !value.is_object() {
        return Err(Error::bad_request(
            code::INVALID_BODY,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| Error::bad_request(code::INVALID_BODY, format!("the body is not valid: {e}")))
}

/// Compares secrets without leaking where they differ through timing.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_and_stable() {
        let a = etag_of(b"{\"a\":1}");
        assert_eq!(a, etag_of(b"{\"a\":1}"));
        assert_ne!(a, etag_of(b"{\"a\":2}"));
        assert!(a.starts_with('"') && !a.starts_with("W/"));
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}

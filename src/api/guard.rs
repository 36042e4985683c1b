//! What a request is held to before any handler sees it: its query names each parameter once
//! (but `filter[...]`, which repeats by design), and its body — who may send one, how large
//! it may be, how slowly it may arrive, and, for JSON, that it is JSON.
//!
//! [`check_query`] and [`admit`] run in the middleware after the caller is resolved and before
//! the route:
//!
//! - an anonymous caller may send a body only to the sign-in routes ([`ANONYMOUS_BODY_ROUTES`],
//!   16 KiB); anywhere else in the admin API the answer is 401 before a byte is read, so no
//!   route can be made to buffer a stranger's upload;
//! - a declared `Content-Length` over the route's limit is a 413 before reading; a body
//!   without one is counted as it arrives and stops at the limit;
//! - every pause between two pieces of a body is bounded (`limits.body_timeout_seconds`);
//! - admin API bodies other than media uploads must be `application/json` (415 otherwise:
//!   a form another site posts is `text/plain` or `application/x-www-form-urlencoded`), are
//!   read here in full (they are small) and must be one JSON value with no key given twice
//!   in any object, so handlers and poem-openapi parse only what was checked;
//! - the sign-in routes, which set the session cookie, refuse requests another site's page
//!   made (`Sec-Fetch-Site: cross-site`, or an `Origin` that is neither this server nor a
//!   configured CORS origin).
//!
//! Media uploads are streamed, not read here: [`BodyWatch`] tells the middleware afterwards
//! whether the stream hit the limit or the timeout, so the answer is 413 or 408 whatever the
//! upload code made of the cut-off stream.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use poem::http::{Method, header};
use poem::{Body, Request};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{Error, code};

/// Routes that take a body from a caller without credentials: signing in and what leads to
/// it. Everything else in the admin API wants credentials before its body is read.
pub const ANONYMOUS_BODY_ROUTES: &[&str] = &[
    "/admin/api/v1/auth/login",
    "/admin/api/v1/auth/login/two-factor",
    "/admin/api/v1/auth/setup",
    "/admin/api/v1/auth/password-reset",
    "/admin/api/v1/auth/password-reset/complete",
    "/admin/api/v1/auth/verify-email",
];

/// The largest body of an anonymous route: an email, a password, a token.
pub const ANONYMOUS_BODY_LIMIT: usize = 16 * 1024;

/// The one route that streams its body instead of taking JSON.
const UPLOAD_ROUTE: &str = "/admin/api/v1/media";

/// Refuses a query string that names a parameter twice (400 `duplicate_parameter`): `limit`,
/// `fields` or `page` given twice is ambiguous, and handlers that read the first and handlers
/// that read the last would disagree. Filters repeat by design (`filter[x][in][]=a&...=b`).
pub fn check_query(req: &Request) -> Result<(), Error> {
    let Some(raw) = req.uri().query().filter(|q| !q.is_empty()) else {
        return Ok(());
    };
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw) else {
        return Ok(()); // The handler says what is wrong with it.
    };
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    for (key, _) in &pairs {
        if key.starts_with("filter") {
            continue;
        }
        if !seen.insert(key.as_str()) {
            let shown: String = key.chars().take(64).collect();
            return Err(Error::InvalidQuery {
                code: code::DUPLICATE_PARAMETER,
                param: shown.clone(),
                message: format!("{shown} is given more than once"),
            });
        }
    }
    Ok(())
}

/// How a body read ended, for the middleware to report whatever the handler made of it.
#[derive(Clone, Default)]
pub struct BodyWatch(Arc<AtomicU8>);

const TOO_LARGE: u8 = 1;
const TIMED_OUT: u8 = 2;

impl BodyWatch {
    /// The error that cut the body short, if one did.
    pub fn cut_short(&self, limit: usize) -> Option<Error> {
        match self.0.load(Ordering::Acquire) {
            TOO_LARGE => Some(Error::PayloadTooLarge { limit }),
            TIMED_OUT => Some(Error::BodyTimeout),
            _ => None,
        }
    }

    fn set(&self, state: u8) {
        self.0.store(state, Ordering::Release);
    }
}

/// The limits [`admit`] applies, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_body_bytes: usize,
    pub max_upload_bytes: usize,
    pub body_timeout: Duration,
}

impl BodyLimits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_body_bytes: config.limits.max_body_bytes,
            max_upload_bytes: usize::try_from(config.media.max_request_mib.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
            body_timeout: Duration::from_secs(config.limits.body_timeout_seconds),
        }
    }
}

/// What became of a request's body at the door.
pub enum Admitted {
    /// No body, or a JSON body read, checked and put back.
    Ready,
    /// A streamed body (an upload): watch it for the limit.
    Streaming { watch: BodyWatch, limit: usize },
}

/// Applies the rules in the module header to `req`, replacing its body with a counted (and,
/// for JSON, already read) one.
pub async fn admit(
    req: &mut Request,
    limits: &BodyLimits,
    config: &Config,
    anonymous: bool,
) -> Result<Admitted, Error> {
    let path = req.uri().path();
    let admin_api = path.starts_with("/admin/api/");
    let anonymous_route = ANONYMOUS_BODY_ROUTES.contains(&path);
    // (with any method: only POST reads it, and the route answers others 405)
    let upload = path == UPLOAD_ROUTE;
    if anonymous_route && *req.method() == Method::POST && !same_site(req, config) {
        return Err(Error::CrossSite);
    }
    let body = req.take_body();
    if body.is_empty() {
        req.set_body(body);
        return Ok(Admitted::Ready);
    }
    if admin_api && anonymous && !anonymous_route {
        return Err(Error::Unauthenticated);
    }
    let limit = if anonymous_route {
        ANONYMOUS_BODY_LIMIT
    } else if upload {
        limits.max_upload_bytes
    } else {
        limits.max_body_bytes
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge { limit });
    }
    let watch = BodyWatch::default();
    let stream = limited(body, limit, limits.body_timeout, watch.clone());
    // Only these methods' admin operations read a body (any other is answered before one
    // is read: GET and HEAD never look at it, TRACE and the rest are 405).
    let takes_body = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if upload || !admin_api || !takes_body {
        // Uploads stream on to the media code; other routes never read a body, and one that
        // is sent anyway is counted and timed like any other.
        req.set_body(Body::from_bytes_stream(stream));
        return Ok(Admitted::Streaming { watch, limit });
    }
    let bytes = collect(stream)
        .await
        .map_err(|_| watch.cut_short(limit).unwrap_or_else(unreadable))?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        if !is_json(req) {
            return Err(Error::UnsupportedMedia {
                code: code::UNSUPPORTED_MEDIA_TYPE,
                message: "the body must be JSON, sent with Content-Type: application/json".into(),
            });
        }
        check_json(&bytes)?;
    }
    req.set_body(Body::from_bytes(bytes));
    Ok(Admitted::Ready)
}

fn unreadable() -> Error {
    Error::bad_request(code::INVALID_BODY, "the request body could not be read")
}

fn is_json(req: &Request) -> bool {
    req.content_type().is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// Whether the request comes from a page of this server (or of a configured CORS origin), or
/// from something that is not a browser page at all (no `Origin`, no `Sec-Fetch-Site`).
fn same_site(req: &Request, config: &Config) -> bool {
    let headers = req.headers();
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if config.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let public = config.public_base();
    origin_host.is_some() && (origin_host == host || origin == public.trim_end_matches('/'))
}

/// `body` as a stream that ends in an error past `limit` bytes or after `timeout` without a
/// piece arriving, noting which on `watch`.
fn limited(
    body: Body,
    limit: usize,
    timeout: Duration,
    watch: BodyWatch,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    struct Reading<S> {
        inner: S,
        received: usize,
        done: bool,
    }
    let start = Reading {
        inner: Box::pin(body.into_bytes_stream()),
        received: 0,
        done: false,
    };
    futures::stream::unfold(start, move |mut r| {
        let watch = watch.clone();
        async move {
            if r.done {
                return None;
            }
            let cut = |r: &mut Reading<_>, state: u8, kind: std::io::ErrorKind| {
                r.done = true;
                watch.set(state);
                Err(std::io::Error::new(kind, BodyCut(state)))
            };
            let item = match tokio::time::timeout(timeout, r.inner.next()).await {
                Err(_) => cut(&mut r, TIMED_OUT, std::io::ErrorKind::TimedOut),
                Ok(None) => return None,
                Ok(Some(Err(e))) => {
                    r.done = true;
                    Err(e)
                }
                Ok(Some(Ok(chunk))) => {
                    r.received = r.received.saturating_add(chunk.len());
                    if r.received > limit {
                        cut(&mut r, TOO_LARGE, std::io::ErrorKind::InvalidData)
                    } else {
                        Ok(chunk)
                    }
                }
            };
            Some((item, r))
        }
    })
}

/// Why a counted body stopped.
#[derive(Debug)]
struct BodyCut(u8);

impl fmt::Display for BodyCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            TOO_LARGE => "the request body is over the limit",
            _ => "the request body stopped arriving",
        })
    }
}

impl std::error::Error for BodyCut {}

async fn collect(stream: impl Stream<Item = std::io::Result<Bytes>>) -> std::io::Result<Bytes> {
    let mut stream = std::pin::pin!(stream);
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}

/// Checks `bytes` is one JSON value in which no object names a key twice: `serde_json` would
/// keep the last of two, so a proxy or a log that reads the first would see another request
/// than the server acts on.
fn check_json(bytes: &[u8]) -> Result<(), Error> {
    parse_strict(bytes).map(drop)
}

/// Parses JSON, refusing duplicate keys (400 `duplicate_key`) as well as bad syntax (400
/// `invalid_json`).
fn parse_strict(bytes: &[u8]) -> Result<Value, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| {
        let text = e.to_string();
        if text.starts_with(DUPLICATE) {
            Error::bad_request(
                code::DUPLICATE_KEY,
                format!("the body is not valid: {text}"),
            )
        } else {
            Error::bad_request(code::INVALID_JSON, format!("the body is not JSON: {text}"))
        }
    })
}

const DUPLICATE: &str = "duplicate key";

/// Builds a [`Value`] like `serde_json` does, failing on a key given twice in one object.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let shown: String = key.chars().take(64).collect();
                return Err(serde::de::Error::custom(format!(
                    "{DUPLICATE} {shown:?} in an object"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for body in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"fields": {"title": "x", "title": "y"}}"#,
            r#"[{"ok": 1}, {"k": [], "k": {}}]"#,
            r#"{"a": {"b": {"c": 1, "c": 1}}}"#,
        ] {
            let e = parse_strict(body.as_bytes()).unwrap_err();
            assert_eq!(e.code().name, "duplicate_key", "{body}");
        }
    }

    #[test]
    fn ordinary_json_parses_as_serde_json_would() {
        let body = r#"{"fields": {"title": {"en": "Hi"}, "n": -3, "f": 1.5, "list": [true, null, "x"]}, "version": 18446744073709551615}"#;
        let strict = parse_strict(body.as_bytes()).unwrap();
        let plain: Value = serde_json::from_str(body).unwrap();
        assert_eq!(strict, plain);
        // The same key in sibling objects is fine.
        assert!(parse_strict(br#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }

    #[test]
    fn bad_json_and_trailing_text_are_invalid_json() {
        for body in ["{", "{\"a\": }", "{} {}", "{\"a\": 1} x", "'a'"] {
            let e = parse_strict(body.as_bytes()).unwrap_err();
            assert_eq!(e.code().name, "invalid_json", "{body}");
        }
    }
}

//! What the poem-openapi operations of the admin API share, so that the document describes
//! what the handlers take and answer because it is made from the same types:
//!
//! - the credentials an operation takes ([`AdminToken`]) and who may call it ([`Staff`],
//!   [`Admin`], [`SignedInCaller`]), checked before anything else is read;
//! - [`Failure`]: the error statuses an operation can answer, each with the one error body
//!   ([`ErrorBody`], named `Error` in the documents), given as a list ([`statuses!`]);
//! - [`JsonBody`]: a JSON request body read as every route reads one (size limit, an object,
//!   strict types, unknown keys refused, our error codes), described by its type's schema;
//! - [`WithCookies`]: an answer that also sets cookies, and [`NoContent`].

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock};

use poem::{FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaRequest, MetaResponse, MetaResponses, Registry,
};
use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, SecurityScheme,
};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::access::{AdminPermit, Principal};
use crate::error::{Error, code};

/// A session token (`fs_…`, from signing in) or an API token with admin scope (`ft_…`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "bearer")]
#[expect(
    dead_code,
    reason = "declares the scheme; the middleware reads the token"
)]
pub struct BearerToken(Bearer);

/// The bearer token, or else the session cookie the admin UI sends (the middleware has
/// resolved either into the caller already).
#[derive(SecurityScheme)]
#[expect(
    dead_code,
    reason = "declares the schemes; the middleware reads the credentials"
)]
pub enum AdminToken {
    Bearer(BearerToken),
    #[oai(fallback)]
    Cookie,
}

/// A delivery token as a bearer token, or nothing: what the public may read needs none.
#[derive(SecurityScheme)]
#[expect(
    dead_code,
    reason = "declares the schemes; the middleware reads the token"
)]
pub enum DeliveryToken {
    Bearer(BearerToken),
    #[oai(fallback)]
    Anonymous,
}

/// Who may call an operation, checked as the operation's first extractor: before its
/// parameters and body are read, so an anonymous caller or one of another role gets 401 or
/// 403, never a validation error about what they sent.
fn state(req: &Request) -> Result<&Arc<AppState>, Error> {
    req.data::<Arc<AppState>>()
        .ok_or_else(|| Error::internal("the application state is missing"))
}

/// A caller acting with a role (not anonymous, not a delivery token, not a user who must set
/// up two-factor sign-in first).
pub struct Staff;

impl<'a> FromRequest<'a> for Staff {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let principal = super::auth::caller(req).principal;
        if let Principal::User {
            enrolment_only: true,
            ..
        } = principal
        {
            return Err(Error::TwoFactorRequired.into());
        }
        match principal.role() {
            Some(_) => Ok(Staff),
            None if matches!(principal, Principal::Public) => Err(Error::Unauthenticated.into()),
            None => Err(Error::Forbidden.into()),
        }
    }
}

/// An administrator's permit.
pub struct Admin(pub AdminPermit);

impl<'a> FromRequest<'a> for Admin {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Admin(super::auth::administer(req, state(req)?)?))
    }
}

/// A user signed in with a session (not an API token), and the session.
pub struct SignedInCaller {
    pub user: String,
    pub session: String,
}

impl<'a> FromRequest<'a> for SignedInCaller {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match super::auth::caller(req).principal {
            Principal::User { id, session, .. } => Ok(SignedInCaller { user: id, session }),
            Principal::Public => Err(Error::Unauthenticated.into()),
            Principal::Token { .. } => Err(Error::Forbidden.into()),
        }
    }
}

/// The error body every endpoint answers with.
#[derive(Object)]
#[oai(rename = "Error")]
pub struct ErrorBody {
    /// Stable, snake_case cause: `entry_not_found`, `validation_failed`, `invalid_filter`, ...
    /// (the README lists them all).
    code: String,
    message: String,
    /// Validation errors by field path (`fields.tags[2]`).
    fields: Option<BTreeMap<String, FieldErrorBody>>,
    /// The query parameter at fault.
    param: Option<String>,
    /// The entry's version now, on a 409.
    current_version: Option<u64>,
    /// The entries using a media item, on `media_in_use`.
    usage: Option<Vec<super::media::MediaUse>>,
}

/// Why one field failed validation.
#[derive(Object)]
#[oai(rename = "FieldError")]
pub struct FieldErrorBody {
    code: String,
    message: String,
}

/// The JSON Schema of [`ErrorBody`], for the parts of the documents written by hand.
pub fn error_schema() -> serde_json::Value {
    let mut registry = Registry::new();
    ErrorBody::register(&mut registry);
    let mut schemas = serde_json::to_value(&registry.schemas).unwrap_or_default();
    schemas["Error"]["properties"]["fields"]["additionalProperties"] = schemas["FieldError"].take();
    schemas["Error"]["properties"]["usage"]["items"] = schemas["MediaUse"].take();
    schemas["Error"].take()
}

/// What an error status means, as the documents describe it.
pub fn status_meaning(status: u16) -> &'static str {
    match status {
        400 => "Invalid request (query or body)",
        401 => "Missing or wrong credentials",
        403 => {
            "Not allowed for this role (or two-factor setup required, the CSRF header missing, \
             or a sign-in from another site's page)"
        }
        404 => "No such thing (the code says which)",
        408 => "The request body stopped arriving (`limits.body_timeout_seconds`)",
        409 => "Conflict: a stale version, or a state that does not allow it (the code says which)",
        413 => {
            "Body too large: `limits.max_body_bytes` (16 KiB for sign-in routes, \
             `media.max_request_mib` for uploads)"
        }
        415 => "The body is not of a content type the operation takes (JSON for most)",
        422 => "Validation failed; `fields` names each failing field",
        429 => "Too many attempts or requests: see Retry-After",
        _ => "Error",
    }
}

/// The error statuses one operation may answer (with [`Failure`]); declared with
/// [`statuses!`].
pub trait Statuses: Send + Sync + 'static {
    const LIST: &'static [u16];
}

/// Declares status lists for [`Failure`]: `statuses! { pub SignIn = [400, 401, 429]; }`.
macro_rules! statuses {
    ($($(#[$meta:meta])* $vis:vis $name:ident = [$($status:literal),* $(,)?];)*) => {$(
        $(#[$meta])*
        $vis enum $name {}
        impl $crate::api::oai::Statuses for $name {
            const LIST: &'static [u16] = &[$($status),*];
        }
    )*};
}
pub(crate) use statuses;

/// An operation's error: any [`Error`], answered as every route answers it, and documented
/// as the statuses `S` lists.
pub struct Failure<S>(Error, PhantomData<S>);

impl<S> From<Error> for Failure<S> {
    fn from(e: Error) -> Self {
        Failure(e, PhantomData)
    }
}

impl<S> From<Failure<S>> for poem::Error {
    fn from(f: Failure<S>) -> poem::Error {
        f.0.into()
    }
}

impl<S: Statuses> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: S::LIST
                .iter()
                .map(|&status| MetaResponse {
                    description: status_meaning(status),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json",
                        schema: ErrorBody::schema_ref(),
                    }],
                    headers: Vec::new(),
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}

/// A JSON object body of at most `LIMIT` bytes, read into `T` as every route reads one
/// ([`super::read_json`]: `empty_body`, `invalid_json`, `invalid_body` with the reason),
/// and described in the document by `T`'s schema. `T` derives both `Object` (the schema and
/// its checks) and `Deserialize` (strict types: a number is not a string), and a body must
/// pass both; keep their field attributes in step (`#[oai(default)]` beside
/// `#[serde(default)]`, `deny_unknown_fields` on both).
pub struct JsonBody<T, const LIMIT: usize = { 16 * 1024 }>(pub T);

impl<T: ParseFromJSON + DeserializeOwned + 'static, const LIMIT: usize> ParsePayload
    for JsonBody<T, LIMIT>
{
    const IS_REQUIRED: bool = true;

    async fn from_request(_req: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let value: serde_json::Value = super::read_json(body.take()?, LIMIT).await?;
        Ok(JsonBody(checked(value)?))
    }
}

/// A body read as `T`: no key its schema does not name (the documents say
/// `additionalProperties: false` for every such body), serde-strict types, then the schema's
/// own checks (lengths, ranges) as poem-openapi reads it.
fn checked<T: ParseFromJSON + DeserializeOwned + 'static>(
    value: serde_json::Value,
) -> Result<T, Error> {
    let known = properties::<T>();
    if let Some(key) = value
        .as_object()
        .and_then(|o| o.keys().find(|k| !known.contains(k)))
    {
        return Err(Error::bad_request(
            code::INVALID_BODY,
            format!(
                "the body is not valid: unknown field `{key}`, expected one of {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // serde reads the types strictly (poem-openapi would take `5` for a string).
    T::deserialize(&value).map_err(|e| {
        Error::bad_request(code::INVALID_BODY, format!("the body is not valid: {e}"))
    })?;
    let message = match T::parse_from_json(Some(value.clone())) {
        Ok(parsed) => return Ok(parsed),
        Err(e) => e.into_message(),
    };
    Err(schema_check_failed(&message, &value))
}

/// The answer to a body whose types are right but which breaks one of its schema's checks
/// (a length, a range): 422 naming the field, as the server's own checks of a field answer.
/// poem-openapi says which field as "failed to parse \"T\": field `name` verification
/// failed. minLength(1)", naming the field within the object that holds it: a field of a
/// nested object (`focal.x`) is found in `body`.
fn schema_check_failed(message: &str, body: &serde_json::Value) -> Error {
    let field = message
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once("` verification failed"))
        .map(|(field, _)| field);
    match field {
        Some(field) => {
            let nested = body.as_object().and_then(|o| {
                o.iter()
                    .find(|(_, v)| v.get(field).is_some())
                    .map(|(k, _)| format!("{k}.{field}"))
            });
            let path = match body.get(field) {
                Some(_) => field.to_owned(),
                None => nested.unwrap_or_else(|| field.to_owned()),
            };
            let rule = message.rsplit(". ").next().unwrap_or(message);
            let rule = rule.split(" (occurred while").next().unwrap_or(rule);
            Error::Validation(vec![crate::schema::FieldError {
                message: format!("`{path}` is not valid: {rule}"),
                path,
                code: crate::schema::field_code::INVALID,
            }])
        }
        None => Error::bad_request(
            code::INVALID_BODY,
            format!("the body is not valid: {message}"),
        ),
    }
}

/// A [`JsonBody`] that may be left out: an empty (or blank) body is `None`.
pub struct OptionalJsonBody<T, const LIMIT: usize = { 16 * 1024 }>(pub Option<T>);

impl<T: ParseFromJSON + DeserializeOwned + 'static, const LIMIT: usize> ParsePayload
    for OptionalJsonBody<T, LIMIT>
{
    const IS_REQUIRED: bool = false;

    async fn from_request(_req: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body
            .take()?
            .into_bytes_limit(LIMIT)
            .await
            .map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => {
                    Error::PayloadTooLarge { limit: LIMIT }
                }
                _ => Error::bad_request(code::INVALID_BODY, "the request body could not be read"),
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        let value: serde_json::Value =
            super::read_json(poem::Body::from_bytes(bytes), LIMIT).await?;
        Ok(OptionalJsonBody(Some(checked(value)?)))
    }
}

// Both bodies are described by `T`'s schema, and extracted as poem-openapi's own payloads
// are, without their content-type check: `guard` has refused a body that is not JSON (415),
// and an empty body is answered `empty_body` (or is `None` for an optional one).
macro_rules! body_extractor {
    ($ty:ident) => {
        impl<T: Type, const LIMIT: usize> Payload for $ty<T, LIMIT> {
            const CONTENT_TYPE: &'static str = "application/json";

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                T::schema_ref()
            }

            fn register(registry: &mut Registry) {
                T::register(registry);
            }
        }

        impl<'a, T: ParseFromJSON + DeserializeOwned + 'static, const LIMIT: usize> ApiExtractor<'a>
            for $ty<T, LIMIT>
        {
            const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
            type ParamType = ();
            type ParamRawType = ();

            fn register(registry: &mut Registry) {
                <Self as Payload>::register(registry);
            }

            fn request_meta() -> Option<MetaRequest> {
                Some(MetaRequest {
                    description: None,
                    content: vec![MetaMediaType {
                        content_type: <Self as Payload>::CONTENT_TYPE,
                        schema: <Self as Payload>::schema_ref(),
                    }],
                    required: <Self as ParsePayload>::IS_REQUIRED,
                })
            }

            async fn from_request(
                req: &'a Request,
                body: &mut RequestBody,
                _param_opts: ExtractParamOptions<Self::ParamType>,
            ) -> poem::Result<Self> {
                <Self as ParsePayload>::from_request(req, body).await
            }
        }
    };
}
body_extractor!(JsonBody);
body_extractor!(OptionalJsonBody);

/// The property names of the object type `T`'s schema (worked out once a type).
fn properties<T: Type + 'static>() -> Arc<Vec<String>> {
    static KNOWN: OnceLock<Mutex<HashMap<TypeId, Arc<Vec<String>>>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Mutex::default);
    let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
    known
        .entry(TypeId::of::<T>())
        .or_insert_with(|| {
            let mut registry = Registry::new();
            T::register(&mut registry);
            let names = registry
                .schemas
                .get(&*T::name())
                .map(|s| s.properties.iter().map(|(k, _)| (*k).to_owned()).collect())
                .unwrap_or_default();
            Arc::new(names)
        })
        .clone()
}

/// An answer that also sets cookies (the sign-in's session and CSRF cookies).
pub struct WithCookies<T> {
    pub answer: T,
    pub cookies: Vec<String>,
}

impl<T> WithCookies<T> {
    /// The same cookies with another answer made from this one.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> WithCookies<U> {
        WithCookies {
            answer: f(self.answer),
            cookies: self.cookies,
        }
    }
}

impl<T: ApiResponse> ApiResponse for WithCookies<T> {
    fn meta() -> MetaResponses {
        let mut meta = T::meta();
        for response in &mut meta.responses {
            response.headers.push(MetaHeader {
                name: "set-cookie".into(),
                description: Some(
                    "The session cookie (HttpOnly) and the CSRF cookie the admin UI reads".into(),
                ),
                required: false,
                deprecated: false,
                schema: String::schema_ref(),
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: IntoResponse> IntoResponse for WithCookies<T> {
    fn into_response(self) -> Response {
        let mut resp = self.answer.into_response();
        for c in self.cookies {
            if let Ok(v) = poem::http::HeaderValue::from_str(&c) {
                resp.headers_mut().append(poem::http::header::SET_COOKIE, v);
            }
        }
        resp
    }
}

/// Done, nothing to say (204).
#[derive(ApiResponse)]
pub enum NoContent {
    /// Done (no body).
    #[oai(status = 204)]
    Done,
}

/// `{"data": …}`: how every answer wraps what it carries.
#[derive(Object)]
pub struct Data<T: ParseFromJSON + ToJSON> {
    pub data: T,
}

impl<T: ParseFromJSON + ToJSON> Data<T> {
    /// The answer `{"data": data}` (200).
    pub fn ok(data: T) -> Json<Data<T>> {
        Json(Data { data })
    }
}

impl<T: ParseFromJSON + ToJSON> Data<Vec<T>> {
    /// The answer `{"data": [...]}` (200) of `items`, each made into what the API answers.
    pub fn all(items: impl IntoIterator<Item = impl Into<T>>) -> Json<Data<Vec<T>>> {
        Json(Data {
            data: items.into_iter().map(Into::into).collect(),
        })
    }
}

/// Made (201), with what was made.
#[derive(ApiResponse)]
pub enum Created<T: ParseFromJSON + ToJSON> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Data<T>>),
}

impl<T: ParseFromJSON + ToJSON> Created<T> {
    pub fn with(data: T) -> Self {
        Created::Created(Json(Data { data }))
    }
}

/// Taken on (202): what follows happens later.
#[derive(ApiResponse)]
pub enum Accepted<T: ParseFromJSON + ToJSON> {
    /// Accepted.
    #[oai(status = 202)]
    Accepted(Json<Data<T>>),
}

/// The groups of the admin document's operations.
#[derive(poem_openapi::Tags)]
pub enum Tag {
    /// Content types and their schemas.
    #[oai(rename = "Content types")]
    ContentTypes,
    /// Helpers for editing forms.
    Editor,
    /// Full-text search and its index.
    Search,
    /// Signing in and out, your sessions, password and two-factor sign-in, first setup.
    #[oai(rename = "Sign-in")]
    SignIn,
    /// User accounts (admins).
    Users,
    /// API tokens for websites and scripts (admins).
    #[oai(rename = "API tokens")]
    ApiTokens,
    /// Built-in and custom roles (admins).
    Roles,
    /// The tamper-evident record of every change (admins).
    #[oai(rename = "Audit log")]
    AuditLog,
    /// The log of changes that other systems follow (admins).
    #[oai(rename = "Change events")]
    ChangeEvents,
    /// The media library: uploads, folders, and the bytes with their image transforms.
    Media,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_schema_check_names_its_field() {
        let e = schema_check_failed(
            "failed to parse \"CreateToken\": field `name` verification failed. minLength(1)",
            &serde_json::json!({ "name": "" }),
        );
        let body = e.body();
        assert_eq!(e.status(), 422);
        let fields = body.fields.unwrap();
        assert_eq!(fields["name"].code, "invalid");
        assert!(fields["name"].message.contains("minLength(1)"));
        // Anything else is the body's fault as a whole.
        let e = schema_check_failed(
            "failed to parse \"CreateToken\": expected object",
            &serde_json::json!([]),
        );
        assert_eq!(e.code().name, "invalid_body");
        // A field of a nested object is named with its path, without the parser's trail.
        let e = schema_check_failed(
            "failed to parse \"UpdateMedia\": field `x` verification failed. maximum(1, \
             exclusive: false) (occurred while parsing \"optional_Focal\")",
            &serde_json::json!({ "focal": { "x": 2, "y": 0.5 } }),
        );
        let fields = e.body().fields.unwrap();
        assert_eq!(
            fields["focal.x"].message,
            "`focal.x` is not valid: maximum(1, exclusive: false)"
        );
    }
}

//! `/admin/api/v1`: content types (with their JSON Schemas, for forms) and entries of every
//! type, drafts included, with publish and unpublish. Every operation asks the policy for a
//! permit for the caller, the type and the action.

use std::sync::Arc;

use super::methods::{get, post};
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, EndpointExt, IntoResponse, Request, Response, Route, handler};
use poem_openapi::OpenApiService;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::caller;
use super::delivery::{page_body, query_error};
use super::{AppState, json_response, query_pairs, read_json};
use crate::access::{Action, Permit, Principal};
use crate::content::Write;
use crate::content::query::{Audience, parse_list_query};
use crate::error::{Error, Result, code};
use crate::schema::ContentType;
use crate::schema::ValidateMode;

/// The admin API's operations declared with poem-openapi, in the order the document lists
/// them.
type Operations = (
    super::types::TypesApi,
    super::sign_in::SignInApi,
    super::accounts::UsersApi,
    super::accounts::TokensApi,
    super::accounts::AuditApi,
    super::accounts::RolesApi,
    super::events::EventsApi,
    super::search::SearchAdminApi,
    super::media::MediaApi,
);

/// Those operations as one service (its document is the fixed part of the admin document).
pub fn service() -> OpenApiService<Operations, ()> {
    use super::{accounts, events, media, search, sign_in, types};
    let operations: Operations = (
        types::TypesApi,
        sign_in::SignInApi,
        accounts::UsersApi,
        accounts::TokensApi,
        accounts::AuditApi,
        accounts::RolesApi,
        events::EventsApi,
        search::SearchAdminApi,
        media::MediaApi,
    );
    OpenApiService::new(operations, "Folio admin API", env!("CARGO_PKG_VERSION"))
        .url_prefix(types::PREFIX)
}

pub fn routes() -> Route {
    let service = service();
    let spec = service.spec();
    Route::new()
        .nest(
            "/",
            // Their answers (sessions, secrets, accounts) are never stored by a cache, as
            // `json_response` says for the hand-made routes.
            super::methods::documented(service, &spec, super::types::PREFIX).with(
                poem::middleware::SetHeader::new()
                    .overriding(poem::http::header::CACHE_CONTROL, "no-store"),
            ),
        )
        .at("/content/:type", get(list_entries).post(create_entry))
        .at(
            "/content/:type/:id",
            get(get_entry)
                .put(replace_entry)
                .patch(patch_entry)
                .delete(delete_entry),
        )
        .at("/content/:type/:id/publish", post(publish_entry))
        .at("/content/:type/:id/unpublish", post(unpublish_entry))
}

/// The content type named in the path, for a signed-in caller (anonymous callers learn
/// nothing about which types exist).
fn content_type(req: &Request, state: &AppState, type_id: &str) -> Result<Arc<ContentType>> {
    if matches!(caller(req).principal, Principal::Public) {
        return Err(Error::Unauthenticated);
    }
    state.content.content_type(type_id)
}

/// The caller's permit for `action` on `ct`.
fn permit(req: &Request, state: &AppState, ct: &ContentType, action: Action) -> Result<Permit> {
    let c = caller(req);
    Ok(state
        .policy
        .permit(&c.principal, ct, action)?
        .at(c.address_text()))
}

/// The publish permit a save needs: when asked to publish, or always for a type without
/// drafts (every save of it is published).
fn publish_permit(
    req: &Request,
    state: &AppState,
    ct: &ContentType,
    publish: bool,
) -> Result<Option<Permit>> {
    if publish || !ct.drafts {
        permit(req, state, ct, Action::Publish).map(Some)
    } else {
        Ok(None)
    }
}

#[handler]
async fn list_entries(
    req: &Request,
    Path(type_id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = content_type(req, &state, &type_id)?;
    let permit = permit(req, &state, &ct, Action::Read)?;
    let pairs = query_pairs(req)?;
    let schema = state.content.schema().clone();
    // Fields the role hides, and types it may not read, do not exist for its filters and
    // sorts: otherwise `filter[email][starts_with]=a`, `ab`, ... would read a hidden value.
    let sight = state
        .policy
        .sight(&caller(req).principal, Audience::Admin, &schema);
    let q = parse_list_query(&schema, &ct, &pairs, &sight, &state.limits).map_err(query_error)?;
    let unsupported = [
        ("fields", q.fields.is_some()),
        ("populate", !q.populate.is_empty()),
        ("render", q.render_html),
        ("format", q.format != crate::content::query::Format::Json),
    ];
    if let Some((param, _)) = unsupported.iter().find(|(_, used)| *used) {
        return Err(Error::InvalidQuery {
            code: code::UNKNOWN_PARAMETER,
            param: (*param).into(),
            message: format!("admin lists do not take `{param}`; entries come whole, as JSON"),
        });
    }
    if q.search.is_some() {
        return Err(Error::bad_request(
            code::USE_SEARCH,
            "lists do not take `q`: search with GET /admin/api/v1/search?q=...&type=TYPE",
        ));
    }
    let page = state.content.list_entries(&permit, &ct, &q).await?;
    Ok(json_response(StatusCode::OK, page_body(page)))
}

/// `{"fields": {...}, "version": 3, "publish": true}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    fields: Map<String, Value>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    publish: bool,
}

/// `{"version": 3}` or nothing.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    #[serde(default)]
    version: Option<u64>,
}

fn entry_response(status: StatusCode, entry: Map<String, Value>) -> Response {
    let version = entry.get("version").and_then(Value::as_u64).unwrap_or(0);
    let mut resp = json_response(status, json!({ "data": entry }));
    if let Ok(v) = format!("\"{version}\"").parse() {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

#[handler]
async fn create_entry(
    req: &Request,
    Path(type_id): Path<String>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = content_type(req, &state, &type_id)?;
    let create = permit(req, &state, &ct, Action::Create)?;
    let body: WriteBody = read_json(body, state.config.limits.max_body_bytes).await?;
    let publish = publish_permit(req, &state, &ct, body.publish)?;
    let write = Write {
        fields: body.fields,
        expected_version: None,
    };
    let entry = state
        .content
        .create_entry(&create, &ct, write, publish.as_ref())
        .await?;
    Ok(entry_response(StatusCode::CREATED, entry))
}

#[handler]
async fn get_entry(
    req: &Request,
    Path((type_id, id)): Path<(String, String)>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = content_type(req, &state, &type_id)?;
    let permit = permit(req, &state, &ct, Action::Read)?;
    let entry = state.content.get_entry(&permit, &ct, &id).await?;
    Ok(entry_response(StatusCode::OK, entry))
}

async fn write(
    req: &Request,
    type_id: String,
    id: String,
    body: Body,
    state: &AppState,
    mode: ValidateMode,
) -> Result<Response> {
    let ct = content_type(req, state, &type_id)?;
    let update = permit(req, state, &ct, Action::Update)?;
    let body: WriteBody = read_json(body, state.config.limits.max_body_bytes).await?;
    let publish = publish_permit(req, state, &ct, body.publish)?;
    let expected = super::expected_version(req, body.version)?;
    let write = Write {
        fields: body.fields,
        expected_version: expected,
    };
    let entry = state
        .content
        .update_entry(&update, &ct, &id, write, mode, publish.as_ref())
        .await?;
    Ok(entry_response(StatusCode::OK, entry))
}

#[handler]
async fn replace_entry(
    req: &Request,
    Path((type_id, id)): Path<(String, String)>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    write(req, type_id, id, body, &state, ValidateMode::Full).await
}

#[handler]
async fn patch_entry(
    req: &Request,
    Path((type_id, id)): Path<(String, String)>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    write(req, type_id, id, body, &state, ValidateMode::Partial).await
}

async fn action_body(req: &Request, body: Body, state: &AppState) -> Result<Option<u64>> {
    // The body is optional: read it whatever the framing (a chunked body has no length), and
    // take an empty one as "no version".
    let bytes = body
        .into_bytes_limit(state.config.limits.max_body_bytes)
        .await
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => Error::PayloadTooLarge {
                limit: state.config.limits.max_body_bytes,
            },
            _ => Error::bad_request(code::INVALID_BODY, "the request body could not be read"),
        })?;
    let parsed: ActionBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        read_json(Body::from(bytes), state.config.limits.max_body_bytes).await?
    };
    super::expected_version(req, parsed.version)
}

#[handler]
async fn delete_entry(
    req: &Request,
    Path((type_id, id)): Path<(String, String)>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = content_type(req, &state, &type_id)?;
    let permit = permit(req, &state, &ct, Action::Delete)?;
    let expected = action_body(req, body, &state).await?;
    state
        .content
        .delete_entry(&permit, &ct, &id, expected)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
async fn publish_entry(
    req: &Request,
    Path((type_id, id)): Path<(String, String)>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = content_type(req, &state, &type_id)?;
    let permit = permit(req, &state, &ct, Action::Publish)?;
    let expected = action_body(req, body, &state).await?;
    let entry = state
        .content
        .publish_entry(&permit, &ct, &id, expected)
        .await?;
    Ok(entry_response(StatusCode::OK, entry))
}

#[handler]
async fn unpublish_entry(
    req: &Request,
    Path((type_id, id)): Path<(String, String)>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let ct = content_type(req, &state, &type_id)?;
    let permit = permit(req, &state, &ct, Action::Publish)?;
    let expected = action_body(req, body, &state).await?;
    let entry = state
        .content
        .unpublish_entry(&permit, &ct, &id, expected)
        .await?;
    Ok(entry_response(StatusCode::OK, entry))
}

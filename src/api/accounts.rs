//! `/admin/api/v1/users`, `/tokens` and `/audit`: account administration, admins only.

use std::sync::Arc;

use super::methods::{delete, get, put};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, Route, handler};
use serde::Deserialize;
use serde_json::json;

use super::auth::{administer, caller};
use super::{
    AppState, invalid_parameter, json_response, page_limit, query_pairs, read_json,
    unknown_parameter,
};
use crate::access::{BUILTIN_ROLES, CustomRole, TokenScope};
use crate::accounts::audit::{self, ListFilter};
use crate::accounts::{NewToken, UserChanges};
use crate::error::{Error, Result, code};
use crate::schema::field_code;

/// Adds the routes to the admin API's router.
pub fn add_routes(route: Route) -> Route {
    route
        .at("/users", get(list_users).post(create_user))
        .at("/users/:id", get(get_user).patch(update_user))
        .at("/tokens", get(list_tokens).post(create_token))
        .at("/tokens/:id", delete(revoke_token))
        .at("/audit", get(list_audit))
        .at("/roles", get(list_roles))
        .at("/roles/:name", put(put_role).delete(delete_role))
}

#[handler]
async fn list_users(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let permit = administer(req, &state)?;
    let users = state.accounts.list_users(&permit).await?;
    Ok(json_response(StatusCode::OK, json!({ "data": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    email: String,
    #[serde(default)]
    name: String,
    role: String,
    /// Left out for a user who sets it through a link.
    #[serde(default)]
    password: Option<String>,
}

#[handler]
async fn create_user(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let permit = administer(req, &state)?;
    let body: CreateUser = read_json(body, 16 * 1024).await?;
    let user = state
        .accounts
        .create_user(
            permit.actor(),
            caller(req).address_text().as_deref(),
            &body.email,
            &body.name,
            &body.role,
            body.password,
        )
        .await?;
    Ok(json_response(StatusCode::CREATED, json!({ "data": user })))
}

#[handler]
async fn get_user(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    administer(req, &state)?;
    let user = state
        .accounts
        .get_user(&id)
        .await?
        .ok_or_else(|| Error::not_found(code::USER_NOT_FOUND, "no such user"))?;
    Ok(json_response(StatusCode::OK, json!({ "data": user })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[handler]
async fn update_user(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = administer(req, &state)?;
    let body: UpdateUser = read_json(body, 16 * 1024).await?;
    let user = state
        .accounts
        .update_user(
            &permit,
            caller(req).address_text().as_deref(),
            &id,
            UserChanges {
                name: body.name,
                role: body.role,
                status: body.status,
            },
        )
        .await?;
    Ok(json_response(StatusCode::OK, json!({ "data": user })))
}

#[handler]
async fn list_tokens(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let permit = administer(req, &state)?;
    let tokens = state.accounts.list_tokens(&permit).await?;
    Ok(json_response(StatusCode::OK, json!({ "data": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    /// `delivery` (published content only) or `admin` (the admin API as `role`).
    scope: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    /// Requests per minute.
    #[serde(default)]
    rate_limit: Option<u32>,
}

#[handler]
async fn create_token(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let permit = administer(req, &state)?;
    let body: CreateToken = read_json(body, 16 * 1024).await?;
    let scope = match (body.scope.as_str(), body.role) {
        ("delivery", None) => TokenScope::Delivery,
        ("admin", Some(role)) => TokenScope::Admin(role),
        ("delivery", Some(_)) => {
            return Err(Error::bad_request(
                code::INVALID_BODY,
                "a delivery token has no role: it reads published content",
            ));
        }
        ("admin", None) => {
            return Err(Error::bad_request(
                code::INVALID_BODY,
                "an admin token needs the `role` it acts as",
            ));
        }
        _ => {
            return Err(Error::bad_request(
                code::INVALID_BODY,
                "`scope` is \"delivery\" or \"admin\"",
            ));
        }
    };
    let (info, secret) = state
        .accounts
        .create_token(
            &permit,
            caller(req).address_text().as_deref(),
            NewToken {
                name: body.name,
                scope,
                expires_at: body.expires_at,
                rate_limit: body.rate_limit.unwrap_or(0),
            },
        )
        .await?;
    let mut data = serde_json::to_value(info).map_err(|e| Error::internal(e.to_string()))?;
    // Shown this once; only its digest is stored.
    data["token"] = json!(secret);
    Ok(json_response(StatusCode::CREATED, json!({ "data": data })))
}

#[handler]
async fn revoke_token(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = administer(req, &state)?;
    if !state
        .accounts
        .revoke_token(&permit, caller(req).address_text().as_deref(), &id)
        .await?
    {
        return Err(Error::not_found(code::TOKEN_NOT_FOUND, "no such token"));
    }
    Ok(StatusCode::NO_CONTENT.into())
}

/// `?actor=user:…&action=entry&target=article/…&before=SEQ&limit=N`, newest first.
#[handler]
async fn list_audit(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    administer(req, &state)?;
    let mut filter = ListFilter::default();
    let mut limit = 50u32;
    for (k, v) in query_pairs(req)? {
        match k.as_str() {
            "actor" => filter.actor = Some(v),
            "action" => filter.action = Some(v),
            "target" => filter.target = Some(v),
            "before" => {
                filter.before = Some(
                    v.parse()
                        .map_err(|_| invalid_parameter(&k, "a sequence number"))?,
                )
            }
            "limit" => limit = page_limit(&k, &v, 500)?,
            _ => return Err(unknown_parameter(&k, "the audit log")),
        }
    }
    let records = audit::list(state.accounts.store(), &filter, limit).await?;
    Ok(json_response(StatusCode::OK, json!({ "data": records })))
}

#[handler]
async fn list_roles(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    administer(req, &state)?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "built_in": BUILTIN_ROLES, "custom": state.accounts.custom_roles() } }),
    ))
}

/// The body of `PUT /roles/{name}`: a custom role without its name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    #[serde(default)]
    description: String,
    #[serde(default)]
    permissions: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    own_entries_only: bool,
    #[serde(default)]
    hidden_fields: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    read_only_fields: std::collections::BTreeMap<String, Vec<String>>,
}

#[handler]
async fn put_role(
    req: &Request,
    Path(name): Path<String>,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = administer(req, &state)?;
    let body: RoleBody = read_json(body, 64 * 1024).await?;
    let schema = state.content.schema();
    let mut errors = Vec::new();
    let mut bad = |path: String, message: String| {
        errors.push(crate::schema::FieldError {
            path,
            code: field_code::INVALID,
            message,
        });
    };
    for (type_id, actions) in &body.permissions {
        let media = type_id == crate::access::MEDIA_PERMISSION_KEY;
        if type_id != "*" && !media && schema.get(type_id).is_none() {
            bad(
                format!("permissions.{type_id}"),
                format!("no content type `{type_id}` (`media` names the media library)"),
            );
        }
        for a in actions {
            if !["read", "create", "update", "delete", "publish"].contains(&a.as_str()) {
                bad(
                    format!("permissions.{type_id}"),
                    format!("`{a}` is not an action: read, create, update, delete, publish"),
                );
            }
        }
    }
    for (what, map) in [
        ("hidden_fields", &body.hidden_fields),
        ("read_only_fields", &body.read_only_fields),
    ] {
        for (type_id, fields) in map {
            match schema.get(type_id) {
                None => bad(
                    format!("{what}.{type_id}"),
                    format!("no content type `{type_id}`"),
                ),
                Some(ct) => {
                    for f in fields.iter().filter(|f| ct.field(f).is_none()) {
                        bad(
                            format!("{what}.{type_id}"),
                            format!("`{type_id}` has no field `{f}`"),
                        );
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let role = CustomRole {
        name,
        description: body.description,
        permissions: body.permissions,
        own_entries_only: body.own_entries_only,
        hidden_fields: body.hidden_fields,
        read_only_fields: body.read_only_fields,
    };
    state
        .accounts
        .put_role(&permit, caller(req).address_text().as_deref(), role.clone())
        .await?;
    Ok(json_response(StatusCode::OK, json!({ "data": role })))
}

#[handler]
async fn delete_role(
    req: &Request,
    Path(name): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let permit = administer(req, &state)?;
    if !state
        .accounts
        .delete_role(&permit, caller(req).address_text().as_deref(), &name)
        .await?
    {
        return Err(Error::not_found(
            code::ROLE_NOT_FOUND,
            "no such custom role",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into())
}

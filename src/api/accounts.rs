//! `/admin/api/v1/users`, `/tokens`, `/roles` and `/audit`: account administration, admins
//! only. Declared with poem-openapi: the admin document describes these operations (and the
//! user, token, role and audit record shapes the sign-in routes share) from the types below.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::Request;
use poem::web::Data as State;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde::Deserialize;

use super::AppState;
use super::auth::caller;
use super::oai::{Admin, AdminToken, Created, Data, Failure, JsonBody, NoContent, Tag, statuses};
use super::only_parameters;
use crate::access::{BUILTIN_ROLES, TokenScope};
use crate::accounts::audit::{self, ListFilter};
use crate::accounts::{NewToken, UserChanges};
use crate::error::{Error, code};
use crate::schema::field_code;

statuses! {
    ListFails = [401, 403];
    ReadFails = [401, 403, 404];
    MakeFails = [400, 401, 403, 409, 422];
    ChangeFails = [400, 401, 403, 404, 409, 422];
    RemoveFails = [401, 403, 404, 409];
    QueryFails = [400, 401, 403];
}

/// A user account.
#[derive(Object)]
#[oai(remote = "crate::accounts::User")]
pub struct User {
    id: String,
    email: String,
    name: String,
    /// `admin`, `editor`, `author`, `viewer`, or a custom role.
    role: String,
    /// `active` or `disabled`.
    status: String,
    email_verified: bool,
    /// Whether the user signs in with a second factor.
    two_factor: bool,
    created_at: String,
    updated_at: String,
}

/// An API token as listed (never its secret).
#[derive(Object)]
#[oai(rename = "ApiToken", remote = "crate::accounts::TokenInfo")]
pub struct TokenInfo {
    id: String,
    name: String,
    /// `delivery` (published content only) or `admin` (the admin API as `role`).
    scope: String,
    /// The role an admin token acts as.
    #[oai(nullable)]
    role: Option<String>,
    /// Requests per minute (0: the server's default).
    rate_limit: u32,
    /// The actor who made it (`user:…`).
    created_by: String,
    created_at: String,
    #[oai(nullable)]
    expires_at: Option<String>,
    #[oai(nullable)]
    last_used_at: Option<String>,
    revoked: bool,
}

/// A new API token, with its secret (shown this once; only its digest is stored).
#[derive(Object)]
#[oai(rename = "NewApiToken")]
struct NewApiToken {
    #[oai(flatten)]
    info: TokenInfo,
    /// The secret, shown this once.
    token: String,
}

/// A role defined by an admin.
#[derive(Object)]
#[oai(remote = "crate::access::CustomRole")]
pub struct CustomRole {
    name: String,
    description: String,
    /// Content type id (or `*` for every type, `media` for the media library) → actions:
    /// `read`, `create`, `update`, `delete`, `publish`.
    permissions: BTreeMap<String, Vec<String>>,
    /// Limited to the entries its users created, as `author` is.
    own_entries_only: bool,
    /// Content type id → fields the role neither sees nor writes.
    hidden_fields: BTreeMap<String, Vec<String>>,
    /// Content type id → fields the role sees but may not change.
    read_only_fields: BTreeMap<String, Vec<String>>,
}

/// The roles there are.
#[derive(Object)]
struct RoleList {
    /// `admin`, `editor`, `author`, `viewer`.
    built_in: Vec<String>,
    custom: Vec<CustomRole>,
}

/// A record of the audit log.
#[derive(Object)]
#[oai(rename = "AuditRecord", remote = "crate::accounts::audit::Listed")]
struct AuditRecord {
    /// Its place in the chain.
    seq: u64,
    at: String,
    /// Who: `user:…`, `token:…`, `system`, `cli`.
    actor: String,
    #[oai(nullable)]
    address: Option<String>,
    /// `entry.create`, `user.update`, `token.revoke`, ...
    action: String,
    /// `article/01H…`, `user/01H…`, ...
    target: String,
    /// SHA-256 of the state before.
    #[oai(nullable)]
    before: Option<String>,
    /// SHA-256 of the state after.
    #[oai(nullable)]
    after: Option<String>,
    /// The chain's hash up to and including this record.
    hash: String,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    email: String,
    #[oai(default)]
    #[serde(default)]
    name: String,
    /// `admin`, `editor`, `author`, `viewer`, or a custom role.
    role: String,
    /// Left out for a user who sets it through the invitation mailed to them.
    #[oai(nullable)]
    password: Option<String>,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    #[oai(nullable)]
    name: Option<String>,
    /// `admin`, `editor`, `author`, `viewer`, or a custom role.
    #[oai(nullable)]
    role: Option<String>,
    /// `disabled` ends their sessions (the last admin stays active).
    #[oai(nullable)]
    status: Option<UserStatus>,
}

/// Whether a user may sign in.
#[derive(poem_openapi::Enum, Deserialize, Clone, Copy)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
}

/// What an API token may reach.
#[derive(poem_openapi::Enum, Deserialize, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum Scope {
    /// Published content only.
    Delivery,
    /// The admin API, as `role`.
    Admin,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    /// Up to 100 characters.
    #[oai(validator(min_length = 1, max_length = 100))]
    name: String,
    scope: Scope,
    /// The role an `admin` token acts as (required for `admin`, none for `delivery`: 422
    /// otherwise).
    #[oai(nullable)]
    role: Option<String>,
    /// When it stops working: an RFC 3339 date and time in the future (422 otherwise).
    #[oai(nullable)]
    expires_at: Option<String>,
    /// Requests per minute, up to a million (0 or none: the default, 600).
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "1000000")))]
    rate_limit: Option<u32>,
}

/// The body of `PUT /roles/{name}`: a custom role without its name.
#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    #[oai(default)]
    #[serde(default)]
    description: String,
    /// Content type id (or `*`, or `media`) → actions: `read`, `create`, `update`,
    /// `delete`, `publish`.
    #[oai(default)]
    #[serde(default)]
    permissions: BTreeMap<String, Vec<String>>,
    #[oai(default)]
    #[serde(default)]
    own_entries_only: bool,
    #[oai(default)]
    #[serde(default)]
    hidden_fields: BTreeMap<String, Vec<String>>,
    #[oai(default)]
    #[serde(default)]
    read_only_fields: BTreeMap<String, Vec<String>>,
}

pub struct UsersApi;

#[OpenApi(tag = "Tag::Users")]
impl UsersApi {
    /// Every user (admins).
    #[oai(path = "/users", method = "get", operation_id = "list_users")]
    async fn list_users(
        &self,
        _auth: AdminToken,
        admin: Admin,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<Vec<User>>>, Failure<ListFails>> {
        let permit = admin.0;
        let users = state.accounts.list_users(&permit).await?;
        Ok(Data::all(users))
    }

    /// Create a user (admins); without a password they are mailed an invitation.
    #[oai(path = "/users", method = "post", operation_id = "create_user")]
    async fn create_user(
        &self,
        _auth: AdminToken,
        admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<CreateUser>,
    ) -> Result<Created<User>, Failure<MakeFails>> {
        let permit = admin.0;
        let body = body.0;
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
        Ok(Created::with(user.into()))
    }

    /// One user (admins).
    #[oai(path = "/users/:id", method = "get", operation_id = "get_user")]
    async fn get_user(
        &self,
        _auth: AdminToken,
        _admin: Admin,
        state: State<&Arc<AppState>>,
        /// The user's id.
        id: Path<String>,
    ) -> Result<Json<Data<User>>, Failure<ReadFails>> {
        let user = state
            .accounts
            .get_user(&id)
            .await?
            .ok_or_else(|| Error::not_found(code::USER_NOT_FOUND, "no such user"))?;
        Ok(Data::ok(user.into()))
    }

    /// Change a user's name, role or status (`disabled` ends their sessions; the last admin
    /// stays).
    #[oai(path = "/users/:id", method = "patch", operation_id = "update_user")]
    async fn update_user(
        &self,
        _auth: AdminToken,
        admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// The user's id.
        id: Path<String>,
        body: JsonBody<UpdateUser>,
    ) -> Result<Json<Data<User>>, Failure<ChangeFails>> {
        let permit = admin.0;
        let body = body.0;
        let user = state
            .accounts
            .update_user(
                &permit,
                caller(req).address_text().as_deref(),
                &id,
                UserChanges {
                    name: body.name,
                    role: body.role,
                    status: body.status.map(|s| s.as_str().to_owned()),
                },
            )
            .await?;
        Ok(Data::ok(user.into()))
    }
}

pub struct TokensApi;

#[OpenApi(tag = "Tag::ApiTokens")]
impl TokensApi {
    /// Every API token, without secrets (admins).
    #[oai(path = "/tokens", method = "get", operation_id = "list_tokens")]
    async fn list_tokens(
        &self,
        _auth: AdminToken,
        admin: Admin,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<Vec<TokenInfo>>>, Failure<ListFails>> {
        let permit = admin.0;
        let tokens = state.accounts.list_tokens(&permit).await?;
        Ok(Data::all(tokens))
    }

    /// Create an API token; its secret is in this answer only (admins).
    #[oai(path = "/tokens", method = "post", operation_id = "create_token")]
    async fn create_token(
        &self,
        _auth: AdminToken,
        admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<CreateToken>,
    ) -> Result<Created<NewApiToken>, Failure<MakeFails>> {
        let permit = admin.0;
        let body = body.0;
        let scope = match (body.scope, body.role) {
            (Scope::Delivery, None) => TokenScope::Delivery,
            (Scope::Admin, Some(role)) => TokenScope::Admin(role),
            (Scope::Delivery, Some(_)) => {
                return Err(role_error(
                    field_code::INVALID,
                    "a delivery token has no role: it reads published content",
                ));
            }
            (Scope::Admin, None) => {
                return Err(role_error(
                    field_code::REQUIRED,
                    "an admin token needs the `role` it acts as",
                ));
            }
        };
        let (info, token) = state
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
        Ok(Created::with(NewApiToken {
            info: info.into(),
            token,
        }))
    }

    /// Revoke an API token (admins).
    #[oai(path = "/tokens/:id", method = "delete", operation_id = "revoke_token")]
    async fn revoke_token(
        &self,
        _auth: AdminToken,
        admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// The token's id.
        id: Path<String>,
    ) -> Result<NoContent, Failure<ReadFails>> {
        let permit = admin.0;
        if !state
            .accounts
            .revoke_token(&permit, caller(req).address_text().as_deref(), &id)
            .await?
        {
            return Err(Error::not_found(code::TOKEN_NOT_FOUND, "no such token").into());
        }
        Ok(NoContent::Done)
    }
}

pub struct AuditApi;

#[OpenApi(tag = "Tag::AuditLog")]
impl AuditApi {
    /// Audit records, newest first (admins).
    #[oai(path = "/audit", method = "get", operation_id = "audit")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn list_audit(
        &self,
        _auth: AdminToken,
        _admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// Only this actor's records (`user:…`, `token:…`, `system`).
        actor: Query<Option<String>>,
        /// Only this action (`entry.update`), or this family of actions (`entry`).
        action: Query<Option<String>>,
        /// Only records about this (`article/01H…`).
        target: Query<Option<String>>,
        /// Only records older than this sequence number (the `seq` of the last one read).
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000000000")))]
        before: Query<Option<u64>>,
        /// How many records (1–500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<Data<Vec<AuditRecord>>>, Failure<QueryFails>> {
        only_parameters(
            req,
            &["actor", "action", "target", "before", "limit"],
            "the audit log",
        )?;
        let filter = ListFilter {
            actor: actor.0,
            action: action.0,
            target: target.0,
            before: before.0,
        };
        let records = audit::list(state.accounts.store(), &filter, limit.0.unwrap_or(50)).await?;
        Ok(Data::all(records))
    }
}

pub struct RolesApi;

#[OpenApi(tag = "Tag::Roles")]
impl RolesApi {
    /// The built-in and custom roles (admins).
    #[oai(path = "/roles", method = "get", operation_id = "list_roles")]
    async fn list_roles(
        &self,
        _auth: AdminToken,
        _admin: Admin,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<RoleList>>, Failure<ListFails>> {
        Ok(Data::ok(RoleList {
            built_in: BUILTIN_ROLES.iter().map(|r| (*r).to_owned()).collect(),
            custom: state
                .accounts
                .custom_roles()
                .into_iter()
                .map(Into::into)
                .collect(),
        }))
    }

    /// Create or replace a custom role: actions per content type (or `*`), own entries only,
    /// hidden and read-only fields per type (admins).
    #[oai(path = "/roles/:name", method = "put", operation_id = "put_role")]
    async fn put_role(
        &self,
        _auth: AdminToken,
        admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// The role's name: lower-case letters, digits, `-` and `_` (up to 50).
        name: Path<String>,
        body: JsonBody<RoleBody, { 64 * 1024 }>,
    ) -> Result<Json<Data<CustomRole>>, Failure<MakeFails>> {
        let permit = admin.0;
        let body = body.0;
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
            return Err(Error::Validation(errors).into());
        }
        let role = crate::access::CustomRole {
            name: name.0,
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
        Ok(Data::ok(role.into()))
    }

    /// Delete a custom role no user or API token has (admins).
    #[oai(path = "/roles/:name", method = "delete", operation_id = "delete_role")]
    async fn delete_role(
        &self,
        _auth: AdminToken,
        admin: Admin,
        req: &Request,
        state: State<&Arc<AppState>>,
        /// The role's name: lower-case letters, digits, `-` and `_` (up to 50).
        name: Path<String>,
    ) -> Result<NoContent, Failure<RemoveFails>> {
        let permit = admin.0;
        if !state
            .accounts
            .delete_role(&permit, caller(req).address_text().as_deref(), &name)
            .await?
        {
            return Err(Error::not_found(code::ROLE_NOT_FOUND, "no such custom role").into());
        }
        Ok(NoContent::Done)
    }
}

/// A token's `role` that does not go with its scope.
fn role_error<S>(code: &'static str, message: &str) -> Failure<S> {
    Error::Validation(vec![crate::schema::FieldError {
        path: "role".into(),
        code,
        message: message.into(),
    }])
    .into()
}

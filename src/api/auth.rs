//! Who is calling: credentials resolved once per request (in [`super::around`]) into a
//! [`Caller`] kept in the request's extensions, and the sign-in routes under
//! `/admin/api/v1/auth`.
//!
//! Credentials come as `Authorization: Bearer <secret>` (a session token `fs_…` or an API
//! token `ft_…`) or as the `folio_session` cookie the login sets. A request that sends the
//! cookie and changes something must also send `X-CSRF-Token` with the value the login gave
//! (and the `folio_csrf` cookie holds): another site can make a browser send the cookie, not
//! read the value.

use std::net::IpAddr;
use std::sync::Arc;

use super::methods::{delete, get, post};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, Route, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, json_response, read_json};
use crate::access::{Action, AdminPermit, Principal};
use crate::accounts::throttle::RateDecision;
use crate::accounts::{LoginOutcome, NewSession, csrf_for};
use crate::error::{Error, Result, code};

pub const SESSION_COOKIE: &str = "folio_session";
pub const CSRF_COOKIE: &str = "folio_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The resolved caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub address: Option<IpAddr>,
    /// For API tokens: the rate-limit decision, sent back as `RateLimit-*` headers.
    pub rate: Option<RateDecision>,
}

impl Caller {
    pub fn address_text(&self) -> Option<String> {
        self.address.map(|a| a.to_string())
    }
}

/// The caller the middleware resolved (anonymous if it did not run, as in unit tests).
pub fn caller(req: &Request) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller {
        principal: Principal::Public,
        address: None,
        rate: None,
    })
}

/// Resolves the request's credentials. Credentials that are present but wrong (unknown,
/// expired, revoked) are an error rather than anonymous access, so a client learns its token
/// stopped working.
pub async fn resolve(req: &Request, state: &AppState) -> Result<Caller> {
    let address = req
        .remote_addr()
        .as_socket_addr()
        .map(std::net::SocketAddr::ip);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.trim().to_owned())
                .ok_or(Error::Unauthenticated)
        })
        .transpose()?;
    if let Some(secret) = bearer {
        if secret.starts_with("ft_") {
            let (principal, rate) = state
                .accounts
                .token_principal(&secret)
                .await?
                .ok_or(Error::Unauthenticated)?;
            if !rate.allowed {
                return Err(Error::RateLimited {
                    retry_after: rate.reset.as_secs().max(1),
                });
            }
            return Ok(Caller {
                principal,
                address,
                rate: Some(rate),
            });
        }
        let principal = state
            .accounts
            .session_principal(&secret)
            .await?
            .ok_or(Error::Unauthenticated)?;
        return Ok(Caller {
            principal,
            address,
            rate: None,
        });
    }
    if let Some(token) = cookie(req, SESSION_COOKIE) {
        let principal = state.accounts.session_principal(&token).await?;
        // A stale cookie on a read is just a signed-out visitor; on a write it is refused.
        let Some(principal) = principal else {
            return if is_write(req.method()) {
                Err(Error::Unauthenticated)
            } else {
                Ok(anonymous(address))
            };
        };
        if is_write(req.method()) {
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !super::constant_time_eq(sent.as_bytes(), csrf_for(&token).as_bytes()) {
                return Err(Error::CsrfFailed);
            }
        }
        return Ok(Caller {
            principal,
            address,
            rate: None,
        });
    }
    Ok(anonymous(address))
}

/// The client's `User-Agent`, kept with the session so its owner can tell sessions apart.
fn user_agent(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

fn anonymous(address: Option<IpAddr>) -> Caller {
    Caller {
        principal: Principal::Public,
        address,
        rate: None,
    }
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie's value from the `Cookie` header.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

pub fn routes() -> Route {
    Route::new()
        .at("/login", post(login))
        .at("/login/two-factor", post(login_second_factor))
        .at("/two-factor/setup", post(two_factor_setup))
        .at("/two-factor/enable", post(two_factor_enable))
        .at("/two-factor/disable", post(two_factor_disable))
        .at("/logout", post(logout))
        .at("/me", get(me))
        .at("/password", post(change_password))
        .at("/sessions", get(sessions))
        .at("/sessions/:id", delete(end_session))
        .at("/setup", post(setup))
        .at("/password-reset", post(request_reset))
        .at("/password-reset/complete", post(complete_reset))
        .at("/verify-email", post(verify_email))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    /// `"bearer"` puts the session token in the answer for non-browser clients; by default
    /// it only goes into the HttpOnly cookie.
    #[serde(default)]
    token: Option<String>,
}

#[handler]
async fn login(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let body: LoginBody = read_json(body, 16 * 1024).await?;
    let bearer = match body.token.as_deref() {
        None | Some("cookie") => false,
        Some("bearer") => true,
        Some(_) => {
            return Err(Error::bad_request(
                code::INVALID_BODY,
                "`token` is \"cookie\" (the default) or \"bearer\"",
            ));
        }
    };
    let c = caller(req);
    let user_agent = user_agent(req);
    match state
        .accounts
        .login(&body.email, &body.password, c.address, user_agent)
        .await?
    {
        LoginOutcome::Session(session) => Ok(session_response(&state, *session, bearer)),
        LoginOutcome::SecondFactor { challenge } => Ok(json_response(
            StatusCode::OK,
            json!({ "data": { "two_factor_required": true, "challenge": challenge } }),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecondFactorBody {
    challenge: String,
    /// The authenticator app's code, or one of the recovery codes.
    code: String,
    #[serde(default)]
    token: Option<String>,
}

#[handler]
async fn login_second_factor(
    req: &Request,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let body: SecondFactorBody = read_json(body, 16 * 1024).await?;
    let c = caller(req);
    let user_agent = user_agent(req);
    let session = state
        .accounts
        .login_second_factor(&body.challenge, &body.code, c.address, user_agent)
        .await?;
    Ok(session_response(
        &state,
        session,
        body.token.as_deref() == Some("bearer"),
    ))
}

#[handler]
async fn two_factor_setup(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let (user, _) = signed_in(req)?;
    let (secret, uri) = state.accounts.begin_two_factor(&user, "Folio").await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "secret": secret, "otpauth_uri": uri } }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

#[handler]
async fn two_factor_enable(
    req: &Request,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let (user, _) = signed_in(req)?;
    let body: CodeBody = read_json(body, 16 * 1024).await?;
    let codes = state
        .accounts
        .enable_two_factor(&user, &body.code, caller(req).address_text().as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "enabled": true, "recovery_codes": codes } }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableBody {
    password: String,
}

#[handler]
async fn two_factor_disable(
    req: &Request,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let (user, _) = signed_in(req)?;
    let body: DisableBody = read_json(body, 16 * 1024).await?;
    state
        .accounts
        .disable_two_factor(&user, &body.password, caller(req).address_text().as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "enabled": false } }),
    ))
}

/// The answer to a sign-in: the user and the CSRF token, the session cookie, and the token
/// itself when asked for.
fn session_response(state: &AppState, s: NewSession, bearer: bool) -> Response {
    let mut session = json!({ "id": s.id, "csrf_token": s.csrf, "expires_at": s.expires_at });
    if bearer {
        session["token"] = json!(s.token);
    }
    let mut resp = json_response(
        StatusCode::OK,
        json!({ "data": { "user": s.user, "session": session } }),
    );
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let max_age = crate::accounts::SessionPolicy::from_config(&state.config)
        .absolute
        .as_secs();
    let cookies = [
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            s.token
        ),
        format!(
            "{CSRF_COOKIE}={}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}",
            s.csrf
        ),
    ];
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The signed-in user of the request, or 401.
fn signed_in(req: &Request) -> Result<(String, String)> {
    match caller(req).principal {
        Principal::User { id, session, .. } => Ok((id, session)),
        Principal::Public => Err(Error::Unauthenticated),
        Principal::Token { .. } => Err(Error::Forbidden),
    }
}

#[handler]
async fn logout(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let (user, session) = signed_in(req)?;
    state
        .accounts
        .end_session(&format!("user:{user}"), &user, &session)
        .await?;
    let mut resp = json_response(StatusCode::OK, json!({ "data": { "signed_out": true } }));
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) =
            HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0; SameSite=Strict"))
        {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

#[handler]
async fn me(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let (user, _) = signed_in(req)?;
    let user = state
        .accounts
        .get_user(&user)
        .await?
        .ok_or(Error::Unauthenticated)?;
    // What the admin UI offers beyond content types (whose permissions `/types` gives); the
    // server checks every request anyway.
    let who = &caller(req).principal;
    let media: Vec<&str> = [Action::Read, Action::Create, Action::Update, Action::Delete]
        .into_iter()
        .filter(|a| state.policy.media(who, *a).is_ok())
        .map(Action::as_str)
        .collect();
    let own_media_only = state
        .policy
        .media(who, Action::Update)
        .is_ok_and(|p| p.owner().is_some());
    let mut data = serde_json::to_value(&user).unwrap_or_default();
    if let Value::Object(o) = &mut data {
        o.insert(
            "permissions".into(),
            json!({
                "media": media,
                "own_media_only": own_media_only,
                "administer": state.policy.administer(who).is_ok(),
            }),
        );
    }
    Ok(json_response(StatusCode::OK, json!({ "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

#[handler]
async fn change_password(
    req: &Request,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let (user, session) = signed_in(req)?;
    let body: PasswordBody = read_json(body, 16 * 1024).await?;
    state
        .accounts
        .change_password(
            &user,
            &session,
            &body.current_password,
            &body.new_password,
            caller(req).address_text().as_deref(),
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "password_changed": true, "other_sessions_ended": true } }),
    ))
}

#[handler]
async fn sessions(req: &Request, state: Data<&Arc<AppState>>) -> Result<Response> {
    let (user, session) = signed_in(req)?;
    let list = state.accounts.sessions_of(&user, Some(&session)).await?;
    Ok(json_response(StatusCode::OK, json!({ "data": list })))
}

#[handler]
async fn end_session(
    req: &Request,
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let (user, _) = signed_in(req)?;
    if !state
        .accounts
        .end_session(&format!("user:{user}"), &user, &id)
        .await?
    {
        return Err(Error::not_found(code::SESSION_NOT_FOUND, "no such session"));
    }
    Ok(StatusCode::NO_CONTENT.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    token: String,
    email: String,
    #[serde(default)]
    name: String,
    password: String,
}

/// Creates the first admin with the one-time setup link's token.
#[handler]
async fn setup(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let body: SetupBody = read_json(body, 16 * 1024).await?;
    let c = caller(req);
    let user_agent = user_agent(req);
    let session = state
        .accounts
        .complete_setup(
            &body.token,
            &body.email,
            &body.name,
            &body.password,
            c.address,
            user_agent,
        )
        .await?;
    let mut resp = session_response(&state, session, false);
    resp.set_status(StatusCode::CREATED);
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    email: String,
}

/// Sends a reset link if the address belongs to an active user; answers the same either way.
#[handler]
async fn request_reset(req: &Request, body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let body: ResetRequest = read_json(body, 16 * 1024).await?;
    let c = caller(req);
    // Unknown addresses are throttled like sign-ins, so the endpoint is no mail cannon.
    state
        .accounts
        .request_password_reset(&body.email, c.address, c.address_text().as_deref())
        .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        json!({ "data": { "message": "if an account has this address, a link is on its way" } }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetComplete {
    token: String,
    password: String,
}

#[handler]
async fn complete_reset(
    req: &Request,
    body: Body,
    state: Data<&Arc<AppState>>,
) -> Result<Response> {
    let body: ResetComplete = read_json(body, 16 * 1024).await?;
    state
        .accounts
        .complete_password_reset(
            &body.token,
            &body.password,
            caller(req).address_text().as_deref(),
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "password_changed": true } }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
}

#[handler]
async fn verify_email(body: Body, state: Data<&Arc<AppState>>) -> Result<Response> {
    let body: VerifyBody = read_json(body, 16 * 1024).await?;
    state.accounts.verify_email(&body.token).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": { "email_verified": true } }),
    ))
}

/// The administration permit of the request's caller.
pub fn administer(req: &Request, state: &AppState) -> Result<AdminPermit> {
    state.policy.administer(&caller(req).principal)
}

//! `/admin/api/v1/auth`: signing in (with a second factor when the user has one) and out,
//! who is signed in, your sessions and password, two-factor setup, the first administrator,
//! password resets and address confirmation. Declared with poem-openapi: the admin document
//! describes these operations from the types below.

use std::sync::Arc;

use poem::Request;
use poem::web::Data as State;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Union};
use serde::Deserialize;

use super::AppState;
use super::accounts::User;
use super::auth::{CSRF_COOKIE, SESSION_COOKIE, caller, user_agent};
use super::oai::{
    Accepted, AdminToken, Data, Failure, JsonBody, NoContent, SignedInCaller, Tag, WithCookies,
    statuses,
};
use crate::access::Action;
use crate::accounts::{LoginOutcome, NewSession};
use crate::error::{Error, code};

statuses! {
    SignInFails = [400, 401, 429];
    SignedInFails = [401, 403];
    SessionFails = [401, 403, 404];
    TwoFactorSetupFails = [401, 403, 409];
    TwoFactorEnableFails = [400, 401, 403, 409, 422];
    PasswordFails = [400, 401, 403, 422];
    SetupFails = [400, 401, 422];
    ResetFails = [400, 401, 429];
    LinkFails = [400, 401, 422];
}

/// How a client wants the session: `cookie` (the default, for browsers) sets only the
/// HttpOnly cookie; `bearer` also puts the token in the answer.
#[derive(poem_openapi::Enum, Deserialize, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum TokenDelivery {
    Cookie,
    Bearer,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    /// `bearer` puts the session token in the answer for non-browser clients; by default it
    /// only goes into the HttpOnly cookie.
    #[oai(nullable)]
    token: Option<TokenDelivery>,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct SecondFactorBody {
    /// The `challenge` the sign-in answered.
    challenge: String,
    /// The authenticator app's code, or one of the recovery codes.
    code: String,
    #[oai(nullable)]
    token: Option<TokenDelivery>,
}

/// A new session.
#[derive(Object)]
struct SessionStarted {
    id: String,
    /// Send it as `X-CSRF-Token` with writes authenticated by the session cookie.
    csrf_token: String,
    expires_at: String,
    /// The session token, when asked for with `"token": "bearer"`.
    #[oai(skip_serializing_if_is_none)]
    token: Option<String>,
}

/// Signed in: who, and the session.
#[derive(Object)]
struct SignedIn {
    user: User,
    session: SessionStarted,
}

/// The password was right and the user has two-factor sign-in: send the challenge with a code.
#[derive(Object)]
struct SecondFactorNeeded {
    /// Always `true`.
    two_factor_required: bool,
    /// Send it with a code to `/auth/login/two-factor` within five minutes.
    challenge: String,
}

/// What a sign-in with a password leads to.
#[derive(Union)]
#[oai(one_of)]
enum LoginResult {
    SignedIn(Box<SignedIn>),
    SecondFactorNeeded(SecondFactorNeeded),
}

/// The first administrator, signed in.
#[derive(ApiResponse)]
enum SetUp {
    /// The administrator is made and signed in.
    #[oai(status = 201)]
    Created(Json<Data<SignedIn>>),
}

/// The secret to enter in the authenticator app.
#[derive(Object)]
struct TwoFactorSecret {
    secret: String,
    /// The same secret as an `otpauth://` URI (for a QR code).
    otpauth_uri: String,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    /// A current code from the authenticator app.
    code: String,
}

#[derive(Object)]
struct TwoFactorOn {
    /// Always `true`.
    enabled: bool,
    /// Ten one-time codes for when the app is lost; shown this once.
    recovery_codes: Vec<String>,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct PasswordConfirmation {
    password: String,
}

#[derive(Object)]
struct TwoFactorOff {
    /// Always `false`.
    enabled: bool,
}

#[derive(Object)]
struct SignedOut {
    /// Always `true`.
    signed_out: bool,
}

/// What the admin UI may offer beyond content types (whose permissions `/types` gives).
#[derive(Object)]
struct MePermissions {
    /// The media library actions the user has: `read`, `create`, `update`, `delete`.
    media: Vec<String>,
    /// Only the media items the user uploaded.
    own_media_only: bool,
    /// Whether the user administers users, roles, tokens and the audit log.
    administer: bool,
}

/// The signed-in user, with what they may do.
#[derive(Object)]
struct Me {
    #[oai(flatten)]
    user: User,
    permissions: MePermissions,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[derive(Object)]
struct PasswordChanged {
    /// Always `true`.
    password_changed: bool,
    /// Always `true`: every other session of yours has ended.
    other_sessions_ended: bool,
}

/// A sign-in session of yours.
#[derive(Object)]
#[oai(rename = "Session", remote = "crate::accounts::SessionInfo")]
pub struct SessionInfo {
    id: String,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    /// The client address it signed in from.
    #[oai(nullable)]
    address: Option<String>,
    #[oai(nullable)]
    user_agent: Option<String>,
    /// The session this request is made with.
    current: bool,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    /// The token of the one-time setup link the server logged.
    token: String,
    email: String,
    #[oai(default)]
    #[serde(default)]
    name: String,
    password: String,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    email: String,
}

#[derive(Object)]
struct ResetRequested {
    /// The same whether or not an account has the address.
    message: String,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct ResetComplete {
    /// The token of the reset or invitation link.
    token: String,
    password: String,
}

#[derive(Object)]
struct PasswordSet {
    /// Always `true`.
    password_changed: bool,
}

#[derive(Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
struct LinkToken {
    /// The token of the confirmation link.
    token: String,
}

#[derive(Object)]
struct EmailVerified {
    /// Always `true`.
    email_verified: bool,
}

/// A cookie for `name`, as the sign-in sets it (`value` empty and no age: as sign-out clears it).
fn cookie(state: &AppState, name: &str, value: &str, http_only: bool) -> String {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let max_age = if value.is_empty() {
        0
    } else {
        crate::accounts::SessionPolicy::from_config(&state.config)
            .absolute
            .as_secs()
    };
    let http_only = if http_only { "; HttpOnly" } else { "" };
    format!("{name}={value}; Path=/{http_only}; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// A new session as the sign-in answers it: the user and the CSRF token, the session and CSRF
/// cookies, and the token itself when asked for.
fn started(state: &AppState, s: NewSession, bearer: bool) -> WithCookies<SignedIn> {
    WithCookies {
        cookies: vec![
            cookie(state, SESSION_COOKIE, &s.token, true),
            cookie(state, CSRF_COOKIE, &s.csrf, false),
        ],
        answer: SignedIn {
            user: s.user.into(),
            session: SessionStarted {
                id: s.id,
                csrf_token: s.csrf,
                expires_at: s.expires_at,
                token: bearer.then_some(s.token),
            },
        },
    }
}

pub struct SignInApi;

#[OpenApi(prefix_path = "/auth", tag = "Tag::SignIn")]
impl SignInApi {
    /// Sign in with email and password: sets the session cookie (and answers the session
    /// token with `"token": "bearer"`), or answers a two-factor `challenge`.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<LoginBody>,
    ) -> Result<WithCookies<Json<Data<LoginResult>>>, Failure<SignInFails>> {
        let body = body.0;
        let c = caller(req);
        match state
            .accounts
            .login(&body.email, &body.password, c.address, user_agent(req))
            .await?
        {
            LoginOutcome::Session(session) => {
                let bearer = body.token == Some(TokenDelivery::Bearer);
                Ok(started(&state, *session, bearer)
                    .map(|s| Data::ok(LoginResult::SignedIn(Box::new(s)))))
            }
            LoginOutcome::SecondFactor { challenge } => Ok(WithCookies {
                answer: Data::ok(LoginResult::SecondFactorNeeded(SecondFactorNeeded {
                    two_factor_required: true,
                    challenge,
                })),
                cookies: Vec::new(),
            }),
        }
    }

    /// Second step of a two-factor sign-in: the challenge and a code (or a recovery code).
    #[oai(
        path = "/login/two-factor",
        method = "post",
        operation_id = "login_two_factor"
    )]
    async fn login_second_factor(
        &self,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<SecondFactorBody>,
    ) -> Result<WithCookies<Json<Data<SignedIn>>>, Failure<SignInFails>> {
        let body = body.0;
        let c = caller(req);
        let session = state
            .accounts
            .login_second_factor(&body.challenge, &body.code, c.address, user_agent(req))
            .await?;
        let bearer = body.token == Some(TokenDelivery::Bearer);
        Ok(started(&state, session, bearer).map(Data::ok))
    }

    /// End this session.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        state: State<&Arc<AppState>>,
    ) -> Result<WithCookies<Json<Data<SignedOut>>>, Failure<SignedInFails>> {
        let SignedInCaller { user, session } = who;
        state
            .accounts
            .end_session(&format!("user:{user}"), &user, &session)
            .await?;
        Ok(WithCookies {
            answer: Data::ok(SignedOut { signed_out: true }),
            cookies: vec![
                cookie(&state, SESSION_COOKIE, "", true),
                cookie(&state, CSRF_COOKIE, "", false),
            ],
        })
    }

    /// The signed-in user, with `permissions`: the media library actions they have (`media`,
    /// `own_media_only`) and whether they `administer` users, roles, tokens and the audit log.
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        req: &Request,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<Me>>, Failure<SignedInFails>> {
        let SignedInCaller { user, .. } = who;
        let user = state
            .accounts
            .get_user(&user)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let who = &caller(req).principal;
        let media = [Action::Read, Action::Create, Action::Update, Action::Delete]
            .into_iter()
            .filter(|a| state.policy.media(who, *a).is_ok())
            .map(|a| a.as_str().to_owned())
            .collect();
        let own_media_only = state
            .policy
            .media(who, Action::Update)
            .is_ok_and(|p| p.owner().is_some());
        Ok(Data::ok(Me {
            user: user.into(),
            permissions: MePermissions {
                media,
                own_media_only,
                administer: state.policy.administer(who).is_ok(),
            },
        }))
    }

    /// Change your password; your other sessions end.
    #[oai(path = "/password", method = "post", operation_id = "change_password")]
    async fn change_password(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<PasswordChange>,
    ) -> Result<Json<Data<PasswordChanged>>, Failure<PasswordFails>> {
        let SignedInCaller { user, session } = who;
        state
            .accounts
            .change_password(
                &user,
                &session,
                &body.0.current_password,
                &body.0.new_password,
                caller(req).address_text().as_deref(),
            )
            .await?;
        Ok(Data::ok(PasswordChanged {
            password_changed: true,
            other_sessions_ended: true,
        }))
    }

    /// Your sessions.
    #[oai(path = "/sessions", method = "get", operation_id = "sessions")]
    async fn sessions(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<Vec<SessionInfo>>>, Failure<SignedInFails>> {
        let SignedInCaller { user, session } = who;
        let list = state.accounts.sessions_of(&user, Some(&session)).await?;
        Ok(Data::all(list))
    }

    /// End one of your sessions.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "end_session"
    )]
    async fn end_session(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        state: State<&Arc<AppState>>,
        /// The session's id.
        id: Path<String>,
    ) -> Result<NoContent, Failure<SessionFails>> {
        let SignedInCaller { user, .. } = who;
        if !state
            .accounts
            .end_session(&format!("user:{user}"), &user, &id)
            .await?
        {
            return Err(Error::not_found(code::SESSION_NOT_FOUND, "no such session").into());
        }
        Ok(NoContent::Done)
    }

    /// Start two-factor setup: a secret and an otpauth:// URI for the authenticator app.
    #[oai(
        path = "/two-factor/setup",
        method = "post",
        operation_id = "two_factor_setup"
    )]
    async fn two_factor_setup(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        state: State<&Arc<AppState>>,
    ) -> Result<Json<Data<TwoFactorSecret>>, Failure<TwoFactorSetupFails>> {
        let SignedInCaller { user, .. } = who;
        let (secret, otpauth_uri) = state.accounts.begin_two_factor(&user, "Folio").await?;
        Ok(Data::ok(TwoFactorSecret {
            secret,
            otpauth_uri,
        }))
    }

    /// Turn two-factor sign-in on with a current code; answers ten one-time recovery codes.
    #[oai(
        path = "/two-factor/enable",
        method = "post",
        operation_id = "two_factor_enable"
    )]
    async fn two_factor_enable(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<CodeBody>,
    ) -> Result<Json<Data<TwoFactorOn>>, Failure<TwoFactorEnableFails>> {
        let SignedInCaller { user, .. } = who;
        let recovery_codes = state
            .accounts
            .enable_two_factor(&user, &body.0.code, caller(req).address_text().as_deref())
            .await?;
        Ok(Data::ok(TwoFactorOn {
            enabled: true,
            recovery_codes,
        }))
    }

    /// Turn two-factor sign-in off (needs the password).
    #[oai(
        path = "/two-factor/disable",
        method = "post",
        operation_id = "two_factor_disable"
    )]
    async fn two_factor_disable(
        &self,
        _auth: AdminToken,
        who: SignedInCaller,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<PasswordConfirmation>,
    ) -> Result<Json<Data<TwoFactorOff>>, Failure<PasswordFails>> {
        let SignedInCaller { user, .. } = who;
        state
            .accounts
            .disable_two_factor(
                &user,
                &body.0.password,
                caller(req).address_text().as_deref(),
            )
            .await?;
        Ok(Data::ok(TwoFactorOff { enabled: false }))
    }

    /// Create the first admin with the one-time setup link's token.
    #[oai(path = "/setup", method = "post", operation_id = "setup")]
    async fn setup(
        &self,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<SetupBody>,
    ) -> Result<WithCookies<SetUp>, Failure<SetupFails>> {
        let body = body.0;
        let c = caller(req);
        let session = state
            .accounts
            .complete_setup(
                &body.token,
                &body.email,
                &body.name,
                &body.password,
                c.address,
                user_agent(req),
            )
            .await?;
        Ok(started(&state, session, false).map(|s| SetUp::Created(Data::ok(s))))
    }

    /// Mail a password-reset link to the address if an account has it (the answer is the
    /// same either way).
    #[oai(
        path = "/password-reset",
        method = "post",
        operation_id = "request_password_reset"
    )]
    async fn request_reset(
        &self,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<ResetRequest>,
    ) -> Result<Accepted<ResetRequested>, Failure<ResetFails>> {
        let c = caller(req);
        // Unknown addresses are throttled like sign-ins, so the endpoint is no mail cannon.
        state
            .accounts
            .request_password_reset(&body.0.email, c.address, c.address_text().as_deref())
            .await?;
        Ok(Accepted::Accepted(Data::ok(ResetRequested {
            message: "if an account has this address, a link is on its way".into(),
        })))
    }

    /// Set a new password with a reset or invitation link's token (single use); every
    /// session of the user ends.
    #[oai(
        path = "/password-reset/complete",
        method = "post",
        operation_id = "complete_password_reset"
    )]
    async fn complete_reset(
        &self,
        req: &Request,
        state: State<&Arc<AppState>>,
        body: JsonBody<ResetComplete>,
    ) -> Result<Json<Data<PasswordSet>>, Failure<LinkFails>> {
        state
            .accounts
            .complete_password_reset(
                &body.0.token,
                &body.0.password,
                caller(req).address_text().as_deref(),
            )
            .await?;
        Ok(Data::ok(PasswordSet {
            password_changed: true,
        }))
    }

    /// Confirm an address with the link's token (single use).
    #[oai(path = "/verify-email", method = "post", operation_id = "verify_email")]
    async fn verify_email(
        &self,
        state: State<&Arc<AppState>>,
        body: JsonBody<LinkToken>,
    ) -> Result<Json<Data<EmailVerified>>, Failure<LinkFails>> {
        state.accounts.verify_email(&body.0.token).await?;
        Ok(Data::ok(EmailVerified {
            email_verified: true,
        }))
    }
}

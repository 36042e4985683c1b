//! Accounts: users, sign-in sessions, API tokens, the first-admin setup link, and the audit
//! log every change goes into.
//!
//! Secrets handed out (session tokens, API tokens, one-time links) are 32 random bytes,
//! shown once and stored only as their SHA-256; they carry a prefix saying what they are
//! (`fs_` session, `ft_` API token, `fl_` link) so a leaked one is easy to recognise.
//! Passwords are argon2id hashes (see [`password`]).

pub mod audit;
mod links;
pub mod password;
mod roles;
mod sessions;
mod setup;
pub mod throttle;
mod tokens;
pub mod totp;
mod two_factor;
mod users;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::{BUILTIN_ROLES, Policy, TokenScope};
use crate::error::{Error, Result};
use crate::mail::Mailer;
use crate::schema::{FieldError, field_code};
use crate::storage::Store;
use crate::storage::accounts::{AccountChange, TokenRow, UserRow};
use crate::storage::events::ChangeRecord;
use audit::Event;
use throttle::{LoginThrottle, RateLimiter, ThrottlePolicy};

/// How sessions expire.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
    /// Roles whose users must use two-factor login.
    pub two_factor_roles: Vec<String>,
}

impl SessionPolicy {
    /// How `config` says sessions expire, and which roles need two-factor login.
    pub fn from_config(config: &crate::Config) -> SessionPolicy {
        SessionPolicy {
            idle: Duration::from_secs(config.sessions.idle_minutes.max(1) * 60),
            absolute: Duration::from_secs(config.sessions.absolute_days.max(1) * 86_400),
            two_factor_roles: config.two_factor_roles.clone(),
        }
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(12 * 3600),
            absolute: Duration::from_secs(30 * 24 * 3600),
            two_factor_roles: Vec::new(),
        }
    }
}

/// A user as the API shows it (never the password hash or second-factor secrets).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub status: String,
    pub email_verified: bool,
    pub two_factor: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl User {
    fn from_row(r: &UserRow) -> User {
        User {
            id: r.id.clone(),
            email: r.email.clone(),
            name: r.name.clone(),
            role: r.role.clone(),
            status: r.status.clone(),
            email_verified: r.email_verified,
            two_factor: r.totp.as_ref().is_some_and(|t| t.enabled),
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
        }
    }
}

/// A session just created: the secret goes to the client once.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub token: String,
    /// The CSRF token that cookie-authenticated writes must echo in `X-CSRF-Token`.
    pub csrf: String,
    pub user: User,
    pub expires_at: String,
}

/// What a correct password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Session(Box<NewSession>),
    /// The user has two-factor login: the challenge secret goes with the code to
    /// [`Accounts::login_second_factor`] within five minutes.
    SecondFactor {
        challenge: String,
    },
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub role: Option<String>,
    pub rate_limit: u32,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

impl TokenInfo {
    fn from_row(r: &TokenRow) -> TokenInfo {
        TokenInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            scope: r.scope.clone(),
            role: r.role.clone(),
            rate_limit: r.rate_limit.try_into().unwrap_or(u32::MAX),
            created_by: r.created_by.clone(),
            created_at: r.created_at.clone(),
            expires_at: r.expires_at.clone(),
            last_used_at: r.last_used_at.clone(),
            revoked: r.revoked_at.is_some(),
        }
    }
}

/// What a new token may do.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub scope: TokenScope,
    pub expires_at: Option<String>,
    /// Requests per minute; 0 takes the default.
    pub rate_limit: u32,
}

/// Requests per minute an API token gets unless it says otherwise.
pub const DEFAULT_TOKEN_RATE: u32 = 600;

/// The accounts service. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    mailer: Mailer,
    /// The permissions, with the custom roles kept in step with the database.
    policy: Policy,
    /// Where users reach the server, for links in messages.
    public_base: String,
    sessions: SessionPolicy,
    throttle: Arc<LoginThrottle>,
    rates: Arc<RateLimiter>,
    /// Work that runs after its request was answered.
    background: Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
}

/// How often a session's or token's last-used time is written (it is read on every request).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

impl Accounts {
    pub fn new(
        store: Store,
        sessions: SessionPolicy,
        mailer: Mailer,
        public_base: String,
    ) -> Accounts {
        Accounts {
            store,
            mailer,
            policy: Policy::default(),
            public_base,
            sessions,
            throttle: Arc::new(LoginThrottle::new(ThrottlePolicy::default())),
            rates: Arc::new(RateLimiter::new(Duration::from_secs(60))),
            background: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// Changes to a user; `None` keeps the value.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<String>,
    pub status: Option<String>,
}

/// The CSRF token of a session: derived from its secret, so it needs no storage, and only
/// someone holding the session (or its login answer) can know it.
pub fn csrf_for(session_token: &str) -> String {
    digest(&format!("csrf:{session_token}"))
}

/// A fresh secret with its kind prefix.
fn secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 in hex: how secrets are stored and looked up.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn field_error(path: &str, code: &'static str, message: &str) -> Error {
    Error::Validation(vec![FieldError {
        path: path.to_owned(),
        code,
        message: message.to_owned(),
    }])
}

/// A plausible email address, lower-cased.
pub fn normalize_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control())
                && e.matches('@').count() == 1
        });
    if ok {
        Ok(e)
    } else {
        Err(field_error(
            "email",
            field_code::INVALID,
            "this is not an email address",
        ))
    }
}

fn check_role(policy: &Policy, role: &str) -> Result<()> {
    if policy.role_exists(role) {
        Ok(())
    } else {
        Err(field_error(
            "role",
            field_code::UNKNOWN_ROLE,
            &format!(
                "no such role: the built-in roles are {}, and admins can define others",
                BUILTIN_ROLES.join(", ")
            ),
        ))
    }
}

/// The change `event` (the audit record) makes to the account record it targets, as the
/// change-event log records it: `kind`, with the names of what `changed`, carrying the audit
/// record.
fn account_change(event: &Event, kind: &'static str, changed: &[&str]) -> AccountChange {
    let subject = event
        .target
        .split_once('/')
        .map_or(event.target.as_str(), |(_, id)| id);
    AccountChange {
        change: ChangeRecord {
            kind,
            actor: event.actor.clone(),
            changed: changed.iter().map(|c| (*c).to_owned()).collect(),
            audit: event.data(),
        },
        subject: subject.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// An accounts service on a fresh in-memory database, with one editor signed in.
    async fn signed_in(sessions: SessionPolicy) -> (Accounts, String) {
        let (store, config, _dir) = Store::for_tests().await;
        let schema = crate::schema::Schema::default();
        let plan = store.plan_schema(&schema).await.unwrap();
        store.apply_schema(plan, false).await.unwrap();
        let mailer = Mailer::new(&config, store.clone()).unwrap();
        let accounts = Accounts::new(store, sessions, mailer, "http://x".into());
        accounts
            .create_user(
                "test",
                None,
                "ed@example.com",
                "Ed",
                "editor",
                Some("a fine long password".into()),
            )
            .await
            .unwrap();
        let LoginOutcome::Session(s) = accounts
            .login("ed@example.com", "a fine long password", None, None)
            .await
            .unwrap()
        else {
            panic!("no second factor here")
        };
        (accounts, s.token)
    }

    #[tokio::test]
    async fn reset_links_expire_after_an_hour() {
        let (accounts, _) = signed_in(SessionPolicy::default()).await;
        accounts
            .request_password_reset("ed@example.com", None, None)
            .await
            .unwrap();
        accounts.finish_background().await;
        let mail = accounts
            .store
            .mail_texts("Reset your password")
            .await
            .unwrap();
        let text = &mail[0];
        let start = text.find("token=").unwrap() + "token=".len();
        let token: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let late = Utc::now() + chrono::Duration::minutes(61);
        let err = accounts
            .complete_password_reset_at(&token, "a new fine password", None, late)
            .await
            .unwrap_err();
        assert_eq!(err.code().name, "invalid_link");
        // Within the hour it works (and only once).
        accounts
            .complete_password_reset(&token, "a new fine password", None)
            .await
            .unwrap();
        let again = accounts
            .complete_password_reset(&token, "another fine password", None)
            .await
            .unwrap_err();
        assert_eq!(again.code().name, "invalid_link");
    }

    #[tokio::test]
    async fn sessions_end_when_idle_and_at_their_absolute_limit() {
        let policy = SessionPolicy {
            idle: Duration::from_secs(3600),
            absolute: Duration::from_secs(5 * 3600),
            two_factor_roles: Vec::new(),
        };
        let (accounts, token) = signed_in(policy.clone()).await;
        let now = Utc::now();
        let at = |mins: i64| now + chrono::Duration::minutes(mins);
        assert!(
            accounts
                .session_principal_at(&token, at(0))
                .await
                .unwrap()
                .is_some()
        );
        // Used every 50 minutes, it lives on past the idle limit...
        for m in [50, 100, 150, 200, 250] {
            assert!(
                accounts
                    .session_principal_at(&token, at(m))
                    .await
                    .unwrap()
                    .is_some(),
                "alive at {m} min"
            );
        }
        // ...but not past the absolute one.
        assert!(
            accounts
                .session_principal_at(&token, at(301))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            accounts
                .session_principal_at(&token, at(0))
                .await
                .unwrap()
                .is_none(),
            "gone for good"
        );

        // Unused for longer than the idle limit: over.
        let (accounts, token) = signed_in(policy).await;
        assert!(
            accounts
                .session_principal_at(&token, at(61))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            accounts
                .session_principal_at(&token, at(0))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn secrets_are_prefixed_random_and_stored_as_digests() {
        let a = secret("ft_");
        let b = secret("ft_");
        assert!(a.starts_with("ft_") && a.len() > 40);
        assert_ne!(a, b);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
        assert_ne!(csrf_for(&a), csrf_for(&b));
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            normalize_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}

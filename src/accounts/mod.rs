//! Accounts: users, sign-in sessions, API tokens, the first-admin setup link, and the audit
//! log every change goes into.
//!
//! Secrets handed out (session tokens, API tokens, one-time links) are 32 random bytes,
//! shown once and stored only as their SHA-256; they carry a prefix saying what they are
//! (`fs_` session, `ft_` API token, `fl_` link) so a leaked one is easy to recognise.
//! Passwords are argon2id hashes (see [`password`]).

pub mod audit;
pub mod password;
pub mod throttle;
pub mod totp;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::access::{AdminPermit, BUILTIN_ROLES, CustomRole, Policy, Principal, TokenScope};
use crate::error::{Error, Result, code};
use crate::mail::{Mail, Mailer};
use crate::schema::{FieldError, field_code};
use crate::storage::Store;
use crate::storage::accounts::Record;
use crate::storage::events::{ChangeRecord, EVENTS_STATEMENT, event_binds, event_rows};
use crate::time::{now, stamp};
use audit::Event;
use throttle::{LoginThrottle, RateDecision, RateLimiter, ThrottlePolicy, Verdict};

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
    fn from_record(r: &Record) -> User {
        let s = |k: &str| {
            r.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        User {
            id: s("id"),
            email: s("email"),
            name: s("name"),
            role: s("role"),
            status: s("status"),
            email_verified: r.get("email_verified").and_then(Value::as_bool) == Some(true),
            two_factor: r
                .get("totp")
                .and_then(|t| t.get("enabled"))
                .and_then(Value::as_bool)
                == Some(true),
            created_at: s("created_at"),
            updated_at: s("updated_at"),
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
    fn from_record(r: &Record) -> TokenInfo {
        let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
        TokenInfo {
            id: s("id").unwrap_or_default(),
            name: s("name").unwrap_or_default(),
            scope: s("scope").unwrap_or_default(),
            role: s("role"),
            rate_limit: r
                .get("rate_limit")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .try_into()
                .unwrap_or(u32::MAX),
            created_by: s("created_by").unwrap_or_default(),
            created_at: s("created_at").unwrap_or_default(),
            expires_at: s("expires_at"),
            last_used_at: s("last_used_at"),
            revoked: s("revoked_at").is_some(),
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

/// Deletes every reset and invitation link of user `$id`: once a password is set, by one of
/// them or by its owner, the others must not set it again.
const VOID_PASSWORD_LINKS: &str =
    "DELETE folio_link WHERE user = $id AND purpose IN ['reset', 'invite'];";

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

    // ---- custom roles ------------------------------------------------------------------

    /// Reads the custom roles into the policy (at start-up).
    pub async fn load_roles(&self) -> Result<()> {
        let rows = self
            .store
            .system_read("SELECT * FROM folio_role", vec![])
            .await?;
        let roles = rows
            .iter()
            .filter_map(|r| r.get("definition").and_then(Value::as_str))
            .filter_map(|d| serde_json::from_str::<CustomRole>(d).ok())
            .collect();
        self.policy.set_custom_roles(roles);
        Ok(())
    }

    pub fn custom_roles(&self) -> Vec<CustomRole> {
        let mut roles: Vec<CustomRole> = self
            .policy
            .custom_role_names()
            .iter()
            .filter_map(|n| self.policy.custom_role(n))
            .collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        roles
    }

    /// Creates or replaces a custom role (checked by the caller against the content types).
    pub async fn put_role(
        &self,
        permit: &AdminPermit,
        address: Option<&str>,
        role: CustomRole,
    ) -> Result<()> {
        let name_ok = role.name.len() <= 50
            && role.name.starts_with(|c: char| c.is_ascii_lowercase())
            && role
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok || crate::access::reserved_role(&role.name) {
            return Err(field_error(
                "name",
                field_code::INVALID,
                "a role name is lower-case letters, digits, - and _, and not a built-in role or `public`",
            ));
        }
        let definition =
            serde_json::to_string(&role).map_err(|e| Error::internal(e.to_string()))?;
        let event = Event::new(permit.actor(), "role.put", format!("role/{}", role.name))
            .from_address(address)
            .after(Some(json!(definition)));
        self.store
            .system_write(
                &format!(
                    "UPSERT type::record('folio_role', $name) CONTENT {{ definition: $definition, updated_at: $now }};\n{}",
                    change_script()
                ),
                vec![
                    ("name".into(), json!(role.name)),
                    ("definition".into(), json!(definition)),
                    ("now".into(), json!(now())),
                    event_binds(change_rows(self.store.node(), &event, "role.updated", &["definition"])),
                ],
            )
            .await?;
        self.load_roles().await?;
        // What callers with the role may read changed: no cached response is current.
        self.store.policy_changed();
        Ok(())
    }

    /// Deletes a custom role no user or live token has.
    pub async fn delete_role(
        &self,
        permit: &AdminPermit,
        address: Option<&str>,
        name: &str,
    ) -> Result<bool> {
        if self.policy.custom_role(name).is_none() {
            return Ok(false);
        }
        let event =
            Event::new(permit.actor(), "role.delete", format!("role/{name}")).from_address(address);
        self.store
            .system_write(
                &format!(
                    "IF (SELECT count() FROM folio_user WHERE role = $name GROUP ALL)[0].count > 0
                        OR (SELECT count() FROM folio_token WHERE role = $name AND revoked_at = NONE GROUP ALL)[0].count > 0
                     {{ THROW 'folio:role_in_use' }};
                     DELETE type::record('folio_role', $name);
                     {}",
                    change_script()
                ),
                vec![
                    ("name".into(), json!(name)),
                    event_binds(change_rows(self.store.node(), &event, "role.deleted", &[])),
                ],
            )
            .await
            .map_err(|e| match e {
                Error::Conflict { code: code::ROLE_IN_USE, .. } => Error::Conflict {
                    code: code::ROLE_IN_USE,
                    message: "users or API tokens still have this role: give them another first".into(),
                },
                other => other,
            })?;
        self.load_roles().await?;
        self.store.policy_changed();
        Ok(true)
    }

    // ---- users -------------------------------------------------------------------------

    pub async fn user_count(&self) -> Result<u64> {
        self.store.system_count("folio_user").await
    }

    /// Creates a user. `password` may be left out for an invited user who sets it later.
    pub async fn create_user(
        &self,
        actor: &str,
        address: Option<&str>,
        email: &str,
        name: &str,
        role: &str,
        password: Option<String>,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        check_role(&self.policy, role)?;
        let name = name.trim();
        if name.chars().count() > 200 {
            return Err(field_error(
                "name",
                field_code::TOO_LONG,
                "a name has at most 200 characters",
            ));
        }
        let hash = match password {
            Some(p) => {
                password::check_new(&p, &email)?;
                Some(password::hash(p).await?)
            }
            None => None,
        };
        let id = ulid::Ulid::new().to_string();
        let now = now();
        let record = json!({
            "email": email,
            "name": if name.is_empty() { email.clone() } else { name.to_owned() },
            "role": role,
            "password_hash": hash,
            "status": "active",
            "email_verified": false,
            "created_at": now,
            "updated_at": now,
            "password_changed_at": hash.as_ref().map(|_| now.clone()),
        });
        let record = strip_nulls(record);
        let event = Event::new(actor, "user.create", format!("user/{id}"))
            .from_address(address)
            .after(Some(json!({ "email": email, "role": role })));
        // A user with a password is asked to confirm the address; one without is invited to
        // choose a password (which confirms it too).
        let invited = hash.is_none();
        let (link_stmt, mut binds) = self.link_mail(
            &id,
            &email,
            if invited {
                Purpose::Invite
            } else {
                Purpose::Verify
            },
        );
        binds.extend([
            ("id".into(), json!(id)),
            ("record".into(), record),
            event_binds(change_rows(
                self.store.node(),
                &event,
                "user.created",
                &["email", "name", "role"],
            )),
        ]);
        let out = self
            .store
            .system_write(
                &format!(
                    "CREATE type::record('folio_user', $id) CONTENT $record;\n{link_stmt}\n{}",
                    change_script()
                ),
                binds,
            )
            .await
            .map_err(|e| match e {
                Error::Conflict {
                    code: code::ALREADY_EXISTS,
                    ..
                } => field_error(
                    "email",
                    field_code::NOT_UNIQUE,
                    "another user has this email address",
                ),
                other => other,
            })?;
        let row = out
            .get(1)
            .and_then(|rows| rows.first())
            .cloned()
            .ok_or_else(|| Error::internal("user create returned nothing"))?;
        let mut row = row;
        row.insert("id".into(), json!(id));
        self.mailer.poke();
        Ok(User::from_record(&row))
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<User>> {
        Ok(self
            .store
            .system_get("folio_user", id)
            .await?
            .map(|r| User::from_record(&r)))
    }

    pub async fn list_users(&self, _: &AdminPermit) -> Result<Vec<User>> {
        Ok(self
            .store
            .system_read(
                "SELECT * FROM folio_user ORDER BY email LIMIT 10000",
                vec![],
            )
            .await?
            .iter()
            .map(User::from_record)
            .collect())
    }

    /// Changes a user's name, role or status (`active`, `disabled`). The last active admin
    /// cannot be demoted or disabled. Disabling ends the user's sessions.
    pub async fn update_user(
        &self,
        permit: &AdminPermit,
        address: Option<&str>,
        id: &str,
        changes: UserChanges,
    ) -> Result<User> {
        let Some(current) = self.store.system_get("folio_user", id).await? else {
            return Err(Error::not_found(code::USER_NOT_FOUND, "no such user"));
        };
        let before = User::from_record(&current);
        if let Some(role) = &changes.role {
            check_role(&self.policy, role)?;
        }
        if let Some(status) = &changes.status
            && status != "active"
            && status != "disabled"
        {
            return Err(field_error(
                "status",
                field_code::INVALID,
                "status is `active` or `disabled`",
            ));
        }
        let name = changes
            .name
            .as_deref()
            .map(str::trim)
            .unwrap_or(&before.name);
        let role = changes.role.as_deref().unwrap_or(&before.role);
        let status = changes.status.as_deref().unwrap_or(&before.status);
        let demotes_admin = before.role == "admin"
            && before.status == "active"
            && (role != "admin" || status != "active");
        let event = Event::new(permit.actor(), "user.update", format!("user/{id}"))
            .from_address(address)
            .before(Some(
                json!({ "role": before.role, "status": before.status, "name": before.name }),
            ))
            .after(Some(
                json!({ "role": role, "status": status, "name": name }),
            ));
        let user_changes: Vec<&str> = [
            ("name", before.name != name),
            ("role", before.role != role),
            ("status", before.status != status),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        let guard = if demotes_admin {
            "IF (SELECT count() FROM folio_user WHERE role = 'admin' AND status = 'active' GROUP ALL)[0].count <= 1 { THROW 'folio:last_admin' };"
        } else {
            ""
        };
        let end_sessions = if status != "active" {
            "DELETE folio_session WHERE user = $id;"
        } else {
            ""
        };
        self.store
            .system_write(
                &format!(
                    "{guard}
                     UPDATE type::record('folio_user', $id) SET name = $name, role = $role, status = $status, updated_at = $now;
                     {end_sessions}
                     {}",
                    change_script()
                ),
                vec![
                    ("id".into(), json!(id)),
                    ("name".into(), json!(name)),
                    ("role".into(), json!(role)),
                    ("status".into(), json!(status)),
                    ("now".into(), json!(now())),
                    event_binds(change_rows(self.store.node(), &event, "user.updated", &user_changes)),
                ],
            )
            .await
            .map_err(|e| match e {
                Error::Conflict {
                    code: code::LAST_ADMIN, ..
                } => Error::Conflict {
                    code: code::LAST_ADMIN,
                    message: "this is the last active admin: make another user admin first".into(),
                },
                other => other,
            })?;
        self.get_user(id)
            .await?
            .ok_or_else(|| Error::internal("user vanished"))
    }

    // ---- sign-in -------------------------------------------------------------------------

    /// Checks an email and password and opens a session. Wrong passwords, unknown accounts
    /// and disabled accounts all answer the same, after the same work; repeated failures are
    /// slowed down and then locked out per account and per address.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome> {
        let key = email.trim().to_lowercase();
        let ip = address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Verdict::Wait(wait) = self.throttle.check(&key, ip, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs().max(1),
            });
        }
        let record = match normalize_email(email) {
            Ok(e) => self.user_by_email(&e).await?,
            Err(_) => None,
        };
        let stored = record
            .as_ref()
            .and_then(|r| r.get("password_hash"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let checked = password::verify(password.to_owned(), stored).await?;
        let active = record
            .as_ref()
            .is_some_and(|r| r.get("status").and_then(Value::as_str) == Some("active"));
        let (Some(record), true) = (record, active && checked != password::Checked::Wrong) else {
            self.throttle.failed(&key, ip, Instant::now());
            return Err(Error::InvalidCredentials);
        };
        self.throttle.succeeded(&key, Instant::now());
        let user = User::from_record(&record);
        if checked == password::Checked::RightButOutdated {
            // Parameters changed since this hash was made: store one made with today's.
            let fresh = password::hash(password.to_owned()).await?;
            self.store
                .system_write(
                    "UPDATE type::record('folio_user', $id) SET password_hash = $hash;",
                    vec![("id".into(), json!(user.id)), ("hash".into(), json!(fresh))],
                )
                .await?;
        }
        if user.two_factor {
            let challenge = secret("fc_");
            let expires = Utc::now() + chrono::Duration::minutes(5);
            self.store
                .system_write(
                    "CREATE type::record('folio_link', $id) CONTENT { purpose: 'two_factor', user: $user, expires_at: $expires };",
                    vec![
                        ("id".into(), json!(digest(&challenge))),
                        ("user".into(), json!(user.id)),
                        ("expires".into(), json!(stamp(expires))),
                    ],
                )
                .await?;
            return Ok(LoginOutcome::SecondFactor { challenge });
        }
        Ok(LoginOutcome::Session(Box::new(
            self.open_session(user, address, user_agent).await?,
        )))
    }

    /// The second step of a two-factor login: a code from the authenticator app (each code
    /// works once) or one of the recovery codes (each works once).
    pub async fn login_second_factor(
        &self,
        challenge: &str,
        code: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let invalid = || Error::InvalidCredentials;
        if !challenge.starts_with("fc_") || challenge.len() > 100 {
            return Err(invalid());
        }
        let link_id = digest(challenge);
        let link = self
            .store
            .system_get("folio_link", &link_id)
            .await?
            .filter(|l| l.get("purpose").and_then(Value::as_str) == Some("two_factor"))
            .filter(|l| {
                l.get("expires_at")
                    .and_then(Value::as_str)
                    .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                    .is_some_and(|e| e.with_timezone(&Utc) > Utc::now())
            })
            .ok_or_else(invalid)?;
        let user_id = link
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // Guessing codes is throttled like guessing passwords, under the user's key.
        let key = format!("2fa:{user_id}");
        let ip = address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Verdict::Wait(wait) = self.throttle.check(&key, ip, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs().max(1),
            });
        }
        let record = self
            .store
            .system_get("folio_user", &user_id)
            .await?
            .ok_or_else(invalid)?;
        let totp = record.get("totp").cloned().unwrap_or(Value::Null);
        let secret = totp
            .get("secret")
            .and_then(Value::as_str)
            .and_then(totp::TotpSecret::from_base32)
            .ok_or_else(invalid)?;
        let last_step = totp.get("last_step").and_then(Value::as_u64);
        let now_secs = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let recovery: Vec<String> = totp
            .get("recovery")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let update = if let Some(step) = secret.verify(code, now_secs, last_step) {
            // The step is recorded only if no other login used it meanwhile.
            (
                "UPDATE type::record('folio_user', $id) SET totp.last_step = $step WHERE totp.last_step = NONE OR totp.last_step < $step RETURN AFTER;",
                vec![("step".to_owned(), json!(step))],
            )
        } else {
            let hashed = totp::hash_recovery_code(code);
            if !recovery.contains(&hashed) {
                self.throttle.failed(&key, ip, Instant::now());
                return Err(invalid());
            }
            (
                "UPDATE type::record('folio_user', $id) SET totp.recovery -= $code WHERE totp.recovery CONTAINS $code RETURN AFTER;",
                vec![("code".to_owned(), json!(hashed))],
            )
        };
        let mut binds = update.1;
        binds.push(("id".into(), json!(user_id)));
        binds.push(("link".into(), json!(link_id)));
        let out = self
            .store
            .system_write(
                &format!("DELETE type::record('folio_link', $link);\n{}", update.0),
                binds,
            )
            .await?;
        if out.get(2).is_none_or(Vec::is_empty) {
            // Someone used this code (or recovery code) a moment ago.
            self.throttle.failed(&key, ip, Instant::now());
            return Err(invalid());
        }
        self.throttle.succeeded(&key, Instant::now());
        let user = User::from_record(&record);
        self.open_session(user, address, user_agent).await
    }

    /// Starts two-factor enrolment: a new secret for the authenticator app, not yet in force.
    pub async fn begin_two_factor(&self, user_id: &str, issuer: &str) -> Result<(String, String)> {
        let user = self
            .get_user(user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if user.two_factor {
            return Err(Error::Conflict {
                code: code::TWO_FACTOR_ENABLED,
                message: "two-factor login is already on; turn it off first to start again".into(),
            });
        }
        let secret = totp::TotpSecret::generate();
        self.store
            .system_write(
                "UPDATE type::record('folio_user', $id) SET totp = { secret: $secret, enabled: false, recovery: [] };",
                vec![
                    ("id".into(), json!(user_id)),
                    ("secret".into(), json!(secret.to_base32())),
                ],
            )
            .await?;
        Ok((secret.to_base32(), secret.otpauth_uri(issuer, &user.email)))
    }

    /// Turns two-factor login on once the user shows a code from the new secret; returns
    /// the recovery codes, shown this once.
    pub async fn enable_two_factor(
        &self,
        user_id: &str,
        code: &str,
        address: Option<&str>,
    ) -> Result<Vec<String>> {
        let record = self
            .store
            .system_get("folio_user", user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let totp = record.get("totp").cloned().unwrap_or(Value::Null);
        if totp.get("enabled").and_then(Value::as_bool) == Some(true) {
            return Err(Error::Conflict {
                code: code::TWO_FACTOR_ENABLED,
                message: "two-factor login is already on".into(),
            });
        }
        let secret = totp
            .get("secret")
            .and_then(Value::as_str)
            .and_then(totp::TotpSecret::from_base32)
            .ok_or_else(|| {
                Error::bad_request(code::TWO_FACTOR_NOT_STARTED, "start the setup first")
            })?;
        let now_secs = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let step = secret.verify(code, now_secs, None).ok_or_else(|| {
            field_error(
                "code",
                field_code::WRONG_CODE,
                "this code is not the current one",
            )
        })?;
        let codes = totp::generate_recovery_codes();
        let hashed: Vec<String> = codes.iter().map(|c| totp::hash_recovery_code(c)).collect();
        let event = Event::new(
            &format!("user:{user_id}"),
            "user.two_factor_on",
            format!("user/{user_id}"),
        )
        .from_address(address);
        self.store
            .system_write(
                &format!(
                    "UPDATE type::record('folio_user', $id) SET totp.enabled = true, totp.last_step = $step, totp.recovery = $recovery, updated_at = $now;\n{}",
                    change_script()
                ),
                vec![
                    ("id".into(), json!(user_id)),
                    ("step".into(), json!(step)),
                    ("recovery".into(), json!(hashed)),
                    ("now".into(), json!(now())),
                    event_binds(change_rows(self.store.node(), &event, "user.updated", &["two_factor"])),
                ],
            )
            .await?;
        Ok(codes)
    }

    /// Turns two-factor login off, after checking the password.
    pub async fn disable_two_factor(
        &self,
        user_id: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<()> {
        self.confirm_password(user_id, password, "password").await?;
        let event = Event::new(
            &format!("user:{user_id}"),
            "user.two_factor_off",
            format!("user/{user_id}"),
        )
        .from_address(address);
        self.store
            .system_write(
                &format!(
                    "UPDATE type::record('folio_user', $id) SET totp = NONE, updated_at = $now;\n{}",
                    change_script()
                ),
                vec![
                    ("id".into(), json!(user_id)),
                    ("now".into(), json!(now())),
                    event_binds(change_rows(self.store.node(), &event, "user.updated", &["two_factor"])),
                ],
            )
            .await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<Record>> {
        Ok(self
            .store
            .system_read(
                "SELECT * FROM folio_user WHERE email = $email LIMIT 1",
                vec![("email".into(), json!(email))],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn open_session(
        &self,
        user: User,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let token = secret("fs_");
        let id = digest(&token);
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(self.sessions.absolute).unwrap_or_default();
        let user_agent: Option<String> = user_agent.map(|u| u.chars().take(300).collect());
        let event = Event::new(
            &format!("user:{}", user.id),
            "session.create",
            format!("user/{}", user.id),
        )
        .from_address(address.map(|a| a.to_string()).as_deref());
        self.store
            .system_write(
                &format!(
                    "CREATE type::record('folio_session', $id) CONTENT $record;\n{}",
                    change_script()
                ),
                vec![
                    event_binds(change_rows(
                        self.store.node(),
                        &event,
                        "session.created",
                        &[],
                    )),
                    ("id".into(), json!(id)),
                    (
                        "record".into(),
                        strip_nulls(json!({
                            "user": user.id,
                            "created_at": stamp(now),
                            "last_seen_at": stamp(now),
                            "expires_at": stamp(expires),
                            "address": address.map(|a| a.to_string()),
                            "user_agent": user_agent,
                        })),
                    ),
                ],
            )
            .await?;
        Ok(NewSession {
            csrf: csrf_for(&token),
            id,
            token,
            user,
            expires_at: stamp(expires),
        })
    }

    /// The principal a session token stands for, if the session is alive and its user active.
    pub async fn session_principal(&self, token: &str) -> Result<Option<Principal>> {
        self.session_principal_at(token, Utc::now()).await
    }

    /// [`Accounts::session_principal`] as of `now`.
    async fn session_principal_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>> {
        if !token.starts_with("fs_") || token.len() > 100 {
            return Ok(None);
        }
        let id = digest(token);
        let Some(session) = self.store.system_get("folio_session", &id).await? else {
            return Ok(None);
        };
        let at = |k: &str| {
            session
                .get(k)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc))
        };
        let idle = chrono::Duration::from_std(self.sessions.idle).unwrap_or_default();
        let alive = at("expires_at").is_some_and(|e| e > now)
            && at("last_seen_at").is_some_and(|l| l + idle > now);
        if !alive {
            self.store
                .system_write(
                    "DELETE type::record('folio_session', $id);",
                    vec![("id".into(), json!(id))],
                )
                .await?;
            return Ok(None);
        }
        let user_id = session
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(user) = self.get_user(user_id).await? else {
            return Ok(None);
        };
        if user.status != "active" {
            return Ok(None);
        }
        if at("last_seen_at").is_some_and(|l| now - l > TOUCH_EVERY) {
            self.store
                .system_write(
                    "UPDATE type::record('folio_session', $id) SET last_seen_at = $now;",
                    vec![("id".into(), json!(id)), ("now".into(), json!(stamp(now)))],
                )
                .await?;
        }
        // Decided on every request, so setting up the second factor (or a change of role)
        // takes effect at once.
        let enrolment_only =
            !user.two_factor && self.sessions.two_factor_roles.contains(&user.role);
        Ok(Some(Principal::User {
            id: user.id,
            email: user.email,
            role: user.role,
            session: id,
            enrolment_only,
        }))
    }

    /// Ends one session of `user_id` (their own, or any for an admin caller).
    pub async fn end_session(&self, actor: &str, user_id: &str, session_id: &str) -> Result<bool> {
        let event = Event::new(actor, "session.delete", format!("user/{user_id}"));
        let out = self
            .store
            .system_write(
                &format!(
                    "LET $gone = (DELETE folio_session WHERE id = type::record('folio_session', $sid) AND user = $user RETURN BEFORE);
                     IF array::len($gone) = 0 {{ THROW 'folio:not_found' }};
                     {}",
                    change_script()
                ),
                vec![
                    event_binds(change_rows(self.store.node(), &event, "session.deleted", &[])),
                    ("sid".into(), json!(session_id)),
                    ("user".into(), json!(user_id)),
                ],
            )
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(Error::Conflict {
                code: code::NOT_FOUND,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn sessions_of(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>> {
        let rows = self
            .store
            .system_read(
                "SELECT * FROM folio_session WHERE user = $user ORDER BY last_seen_at DESC LIMIT 1000",
                vec![("user".into(), json!(user_id))],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
                let id = s("id").unwrap_or_default();
                SessionInfo {
                    current: current == Some(id.as_str()),
                    id,
                    created_at: s("created_at").unwrap_or_default(),
                    last_seen_at: s("last_seen_at").unwrap_or_default(),
                    expires_at: s("expires_at").unwrap_or_default(),
                    address: s("address"),
                    user_agent: s("user_agent"),
                }
            })
            .collect())
    }

    /// Changes a user's own password after checking the current one; every other session of
    /// theirs ends.
    pub async fn change_password(
        &self,
        user_id: &str,
        keep_session: &str,
        current: &str,
        new: &str,
        address: Option<&str>,
    ) -> Result<()> {
        let record = self
            .confirm_password(user_id, current, "current_password")
            .await?;
        let hash = new_password_hash(&record, new).await?;
        let event = Event::new(
            &format!("user:{user_id}"),
            "user.password",
            format!("user/{user_id}"),
        )
        .from_address(address);
        self.store
            .system_write(
                &format!(
                    "UPDATE type::record('folio_user', $id) SET password_hash = $hash, password_changed_at = $now, updated_at = $now;
                     DELETE folio_session WHERE user = $id AND id != type::record('folio_session', $keep);
                     {VOID_PASSWORD_LINKS}
                     {}",
                    change_script()
                ),
                vec![
                    ("id".into(), json!(user_id)),
                    ("hash".into(), json!(hash)),
                    ("now".into(), json!(now())),
                    ("keep".into(), json!(keep_session)),
                    event_binds(change_rows(self.store.node(), &event, "user.updated", &["password"])),
                ],
            )
            .await?;
        Ok(())
    }

    /// The signed-in user's record, after checking `password` against it; a wrong one is a
    /// validation error on `field`.
    async fn confirm_password(&self, user_id: &str, password: &str, field: &str) -> Result<Record> {
        let record = self
            .store
            .system_get("folio_user", user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        let stored = record
            .get("password_hash")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if password::verify(password.to_owned(), stored).await? == password::Checked::Wrong {
            return Err(field_error(
                field,
                field_code::WRONG_PASSWORD,
                "the password is not right",
            ));
        }
        Ok(record)
    }

    // ---- links by mail ----------------------------------------------------------------

    /// Statements creating a one-time link for `user` and the message carrying it, for the
    /// caller's transaction, with their bindings.
    fn link_mail(
        &self,
        user: &str,
        email: &str,
        purpose: Purpose,
    ) -> (String, Vec<(String, Value)>) {
        let secret = secret("fl_");
        let expires = Utc::now() + purpose.lifetime();
        let url = format!(
            "{}/admin/{}?token={secret}",
            self.public_base,
            purpose.page()
        );
        let mail = Mail {
            to: email.to_owned(),
            subject: purpose.subject().to_owned(),
            text: format!(
                "{}\n\n{url}\n\nThe link works once, until {}. If you did not expect this \
                 message, ignore it.\n",
                purpose.intro(),
                expires.format("%Y-%m-%d %H:%M UTC")
            ),
        };
        let (mail_stmt, mut binds) = crate::storage::mail::enqueue_script(&mail);
        binds.extend([
            ("link_id".into(), json!(digest(&secret))),
            ("link_user".into(), json!(user)),
            ("link_purpose".into(), json!(purpose.as_str())),
            ("link_expires".into(), json!(stamp(expires))),
        ]);
        (
            format!(
                "CREATE type::record('folio_link', $link_id) CONTENT {{ purpose: $link_purpose, user: $link_user, expires_at: $link_expires }} RETURN NONE;\n{mail_stmt}"
            ),
            binds,
        )
    }

    /// Sends a password-reset link to `email` if an active user has it. Returns as soon as the
    /// request is counted against the throttle: looking the address up and writing the link
    /// happen after the answer, so an address that has an account takes the caller exactly as
    /// long as one that has none (the lookup and the write made the difference measurable).
    pub async fn request_password_reset(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        address: Option<&str>,
    ) -> Result<()> {
        // Requests count against the account and the address like failed sign-ins: a few
        // are free, then they slow down, whether the account exists or not.
        let key = format!("reset:{}", email.trim().to_lowercase());
        let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Verdict::Wait(wait) = self.throttle.check(&key, ip, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs().max(1),
            });
        }
        self.throttle.failed(&key, ip, Instant::now());
        let this = self.clone();
        let email = email.to_owned();
        let address = address.map(str::to_owned);
        self.in_background(async move {
            if let Err(e) = this.send_reset_link(&email, address.as_deref()).await {
                tracing::warn!(error = %e, "a password-reset link could not be prepared");
            }
        });
        Ok(())
    }

    /// The part of [`Accounts::request_password_reset`] that runs after the answer.
    async fn send_reset_link(&self, email: &str, address: Option<&str>) -> Result<()> {
        let Ok(email) = normalize_email(email) else {
            return Ok(());
        };
        let Some(record) = self.user_by_email(&email).await? else {
            return Ok(());
        };
        let user = User::from_record(&record);
        if user.status != "active" {
            return Ok(());
        }
        let (stmt, mut binds) = self.link_mail(&user.id, &user.email, Purpose::Reset);
        let event = Event::new(
            "public",
            "user.password_reset_requested",
            format!("user/{}", user.id),
        )
        .from_address(address);
        binds.push(event_binds(change_rows(
            self.store.node(),
            &event,
            "user.password_reset_requested",
            &[],
        )));
        self.store
            .system_write(&format!("{stmt}\n{EVENTS_STATEMENT}"), binds)
            .await?;
        self.mailer.poke();
        Ok(())
    }

    /// Waits for work started after an answer (reset links being written), so a server that
    /// stops does not close the database under it.
    pub async fn finish_background(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks());
        while tasks.join_next().await.is_some() {}
    }

    fn in_background(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks();
        // Forget what has finished, so the set holds only what is running.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(work);
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, tokio::task::JoinSet<()>> {
        self.background.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a new password with a reset (or invitation) link, which is used up; every session
    /// of the user ends, and the address counts as confirmed.
    pub async fn complete_password_reset(
        &self,
        token: &str,
        new_password: &str,
        address: Option<&str>,
    ) -> Result<()> {
        self.complete_password_reset_at(token, new_password, address, Utc::now())
            .await
    }

    /// [`Accounts::complete_password_reset`] as of `now`.
    async fn complete_password_reset_at(
        &self,
        token: &str,
        new_password: &str,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (link_id, user_id) = self
            .live_link(token, &[Purpose::Reset, Purpose::Invite], now)
            .await?;
        let record = self
            .store
            .system_get("folio_user", &user_id)
            .await?
            .ok_or_else(invalid_link)?;
        let hash = new_password_hash(&record, new_password).await?;
        let event = Event::new(
            &format!("user:{user_id}"),
            "user.password_reset",
            format!("user/{user_id}"),
        )
        .from_address(address);
        self.store
            .system_write(
                &format!(
                    "LET $gone = (DELETE type::record('folio_link', $link) RETURN BEFORE);
                     IF array::len($gone) = 0 {{ THROW 'folio:not_found' }};
                     UPDATE type::record('folio_user', $id) SET password_hash = $hash, password_changed_at = $now, email_verified = true, updated_at = $now;
                     DELETE folio_session WHERE user = $id;
                     {VOID_PASSWORD_LINKS}
                     {}",
                    change_script()
                ),
                vec![
                    ("link".into(), json!(link_id)),
                    ("id".into(), json!(user_id)),
                    ("hash".into(), json!(hash)),
                    ("now".into(), json!(stamp(now))),
                    event_binds(change_rows(self.store.node(), &event, "user.updated", &["password"])),
                ],
            )
            .await
            .map_err(|e| match e {
                Error::Conflict { code: code::NOT_FOUND, .. } => invalid_link(),
                other => other,
            })?;
        Ok(())
    }

    /// Confirms a user's address with the link sent to it.
    pub async fn verify_email(&self, token: &str) -> Result<()> {
        let (link_id, user_id) = self
            .live_link(token, &[Purpose::Verify], Utc::now())
            .await?;
        self.store
            .system_write(
                "LET $gone = (DELETE type::record('folio_link', $link) RETURN BEFORE);
                 IF array::len($gone) = 0 { THROW 'folio:not_found' };
                 UPDATE type::record('folio_user', $id) SET email_verified = true, updated_at = $now;",
                vec![
                    ("link".into(), json!(link_id)),
                    ("id".into(), json!(user_id)),
                    ("now".into(), json!(now())),
                ],
            )
            .await
            .map_err(|e| match e {
                Error::Conflict { code: code::NOT_FOUND, .. } => invalid_link(),
                other => other,
            })?;
        Ok(())
    }

    /// The link record's key and user for a live link of one of `purposes`.
    async fn live_link(
        &self,
        token: &str,
        purposes: &[Purpose],
        now: DateTime<Utc>,
    ) -> Result<(String, String)> {
        if !token.starts_with("fl_") || token.len() > 100 {
            return Err(invalid_link());
        }
        let id = digest(token);
        let link = self
            .store
            .system_get("folio_link", &id)
            .await?
            .ok_or_else(invalid_link)?;
        let purpose_ok = link
            .get("purpose")
            .and_then(Value::as_str)
            .is_some_and(|p| purposes.iter().any(|want| want.as_str() == p));
        let alive = link
            .get("expires_at")
            .and_then(Value::as_str)
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e.with_timezone(&Utc) > now);
        let user = link.get("user").and_then(Value::as_str).map(str::to_owned);
        match (purpose_ok && alive, user) {
            (true, Some(user)) => Ok((id, user)),
            _ => Err(invalid_link()),
        }
    }

    // ---- API tokens ----------------------------------------------------------------------

    /// Creates an API token; the secret is in the answer and nowhere else.
    pub async fn create_token(
        &self,
        permit: &AdminPermit,
        address: Option<&str>,
        new: NewToken,
    ) -> Result<(TokenInfo, String)> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(field_error(
                "name",
                field_code::INVALID,
                "a token needs a name of at most 100 characters",
            ));
        }
        if let TokenScope::Admin(role) = &new.scope {
            check_role(&self.policy, role)?;
        }
        if let Some(e) = &new.expires_at {
            let at = DateTime::parse_from_rfc3339(e).map_err(|_| {
                field_error(
                    "expires_at",
                    field_code::INVALID,
                    "expires_at is an RFC 3339 date and time",
                )
            })?;
            if at.with_timezone(&Utc) <= Utc::now() {
                return Err(field_error(
                    "expires_at",
                    field_code::IN_THE_PAST,
                    "expires_at is in the past",
                ));
            }
        }
        let secret = secret("ft_");
        let id = ulid::Ulid::new().to_string();
        let rate = if new.rate_limit == 0 {
            DEFAULT_TOKEN_RATE
        } else {
            new.rate_limit
        };
        let role = match &new.scope {
            TokenScope::Admin(r) => Some(r.clone()),
            TokenScope::Delivery => None,
        };
        let record = strip_nulls(json!({
            "name": name,
            "hash": digest(&secret),
            "scope": new.scope.as_str(),
            "role": role,
            "rate_limit": rate,
            "created_by": permit.actor(),
            "created_at": now(),
            "expires_at": new.expires_at.as_ref().map(|e| crate::time::normalise(e).unwrap_or_else(|| e.clone())),
        }));
        let event = Event::new(permit.actor(), "token.create", format!("token/{id}"))
            .from_address(address)
            .after(Some(
                json!({ "name": name, "scope": new.scope.as_str(), "role": role }),
            ));
        let out = self
            .store
            .system_write(
                &format!(
                    "CREATE type::record('folio_token', $id) CONTENT $record;\n{}",
                    change_script()
                ),
                vec![
                    ("id".into(), json!(id)),
                    ("record".into(), record),
                    event_binds(change_rows(self.store.node(), &event, "token.created", &[])),
                ],
            )
            .await?;
        let mut row = out
            .get(1)
            .and_then(|r| r.first())
            .cloned()
            .ok_or_else(|| Error::internal("token create returned nothing"))?;
        row.insert("id".into(), json!(id));
        Ok((TokenInfo::from_record(&row), secret))
    }

    pub async fn list_tokens(&self, _: &AdminPermit) -> Result<Vec<TokenInfo>> {
        Ok(self
            .store
            .system_read(
                "SELECT * FROM folio_token ORDER BY created_at DESC LIMIT 10000",
                vec![],
            )
            .await?
            .iter()
            .map(TokenInfo::from_record)
            .collect())
    }

    pub async fn revoke_token(
        &self,
        permit: &AdminPermit,
        address: Option<&str>,
        id: &str,
    ) -> Result<bool> {
        let event =
            Event::new(permit.actor(), "token.revoke", format!("token/{id}")).from_address(address);
        let out = self
            .store
            .system_write(
                &format!(
                    "LET $t = (SELECT id FROM ONLY type::record('folio_token', $id));
                     IF $t = NONE {{ THROW 'folio:not_found' }};
                     UPDATE type::record('folio_token', $id) SET revoked_at = $now WHERE revoked_at = NONE;
                     {}",
                    change_script()
                ),
                vec![
                    ("id".into(), json!(id)),
                    ("now".into(), json!(now())),
                    event_binds(change_rows(self.store.node(), &event, "token.revoked", &[])),
                ],
            )
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(Error::Conflict {
                code: code::NOT_FOUND,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The principal an API token stands for, with its rate-limit decision, if the token is
    /// known, unrevoked and unexpired.
    pub async fn token_principal(&self, secret: &str) -> Result<Option<(Principal, RateDecision)>> {
        if !secret.starts_with("ft_") || secret.len() > 100 {
            return Ok(None);
        }
        let rows = self
            .store
            .system_read(
                "SELECT * FROM folio_token WHERE hash = $hash LIMIT 1",
                vec![("hash".into(), json!(digest(secret)))],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let info = TokenInfo::from_record(&row);
        let now = Utc::now();
        let expired = info
            .expires_at
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e.with_timezone(&Utc) <= now);
        if info.revoked || expired {
            return Ok(None);
        }
        let scope = match (info.scope.as_str(), info.role.clone()) {
            ("admin", Some(role)) => TokenScope::Admin(role),
            _ => TokenScope::Delivery,
        };
        let decision = self
            .rates
            .hit(&info.id, info.rate_limit.max(1), Instant::now());
        let stale = info
            .last_used_at
            .as_deref()
            .and_then(|l| DateTime::parse_from_rfc3339(l).ok())
            .is_none_or(|l| now - l.with_timezone(&Utc) > TOUCH_EVERY);
        if stale {
            self.store
                .system_write(
                    "UPDATE type::record('folio_token', $id) SET last_used_at = $now;",
                    vec![
                        ("id".into(), json!(info.id)),
                        ("now".into(), json!(stamp(now))),
                    ],
                )
                .await?;
        }
        Ok(Some((
            Principal::Token {
                id: info.id,
                name: info.name,
                scope,
            },
            decision,
        )))
    }

    // ---- first admin -------------------------------------------------------------------

    /// With no users yet, a one-time link secret (valid for a day) for creating the first
    /// admin; `None` once there are users.
    pub async fn setup_secret(&self) -> Result<Option<String>> {
        if self.user_count().await? > 0 {
            return Ok(None);
        }
        let secret = secret("fl_");
        let expires = Utc::now() + chrono::Duration::hours(24);
        self.store
            .system_write(
                "DELETE folio_link WHERE purpose = 'setup';
                 CREATE type::record('folio_link', $id) CONTENT { purpose: 'setup', expires_at: $expires };",
                vec![
                    ("id".into(), json!(digest(&secret))),
                    ("expires".into(), json!(stamp(expires))),
                ],
            )
            .await?;
        Ok(Some(secret))
    }

    /// Creates the first admin with a setup link's secret, which is used up, and signs them in.
    pub async fn complete_setup(
        &self,
        secret: &str,
        email: &str,
        name: &str,
        password: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let invalid =
            || Error::bad_request(code::INVALID_LINK, "this setup link is not valid any more");
        if !secret.starts_with("fl_") || secret.len() > 100 {
            return Err(invalid());
        }
        let id = digest(secret);
        let link = self
            .store
            .system_get("folio_link", &id)
            .await?
            .ok_or_else(invalid)?;
        let alive = link.get("purpose").and_then(Value::as_str) == Some("setup")
            && link
                .get("expires_at")
                .and_then(Value::as_str)
                .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                .is_some_and(|e| e.with_timezone(&Utc) > Utc::now());
        if !alive || self.user_count().await? > 0 {
            return Err(invalid());
        }
        // Used up before the user exists: a second use of the same link fails even if this
        // one does not get further.
        self.store
            .system_write(
                "LET $gone = (DELETE type::record('folio_link', $id) RETURN BEFORE);
                 IF array::len($gone) = 0 { THROW 'folio:not_found' };",
                vec![("id".into(), json!(id))],
            )
            .await
            .map_err(|_| invalid())?;
        let address_text = address.map(|a| a.to_string());
        let user = self
            .create_user(
                "setup",
                address_text.as_deref(),
                email,
                name,
                "admin",
                Some(password.to_owned()),
            )
            .await?;
        self.open_session(user, address, user_agent).await
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

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.retain(|_, v| !v.is_null());
            Value::Object(m)
        }
        other => other,
    }
}

/// What a link sent by mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Verify,
    Reset,
    Invite,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::Invite => "invite",
        }
    }

    fn lifetime(self) -> chrono::Duration {
        match self {
            Purpose::Reset => chrono::Duration::hours(1),
            Purpose::Verify | Purpose::Invite => chrono::Duration::days(7),
        }
    }

    /// The admin UI page the link opens.
    fn page(self) -> &'static str {
        match self {
            Purpose::Verify => "verify-email",
            Purpose::Reset | Purpose::Invite => "reset-password",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Purpose::Verify => "Confirm your email address",
            Purpose::Reset => "Reset your password",
            Purpose::Invite => "You are invited to Folio",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Purpose::Verify => "Open this link to confirm your email address:",
            Purpose::Reset => {
                "Someone asked to reset the password of this account. To choose a new one, open:"
            }
            Purpose::Invite => "An account was made for you. Choose your password here:",
        }
    }
}

fn invalid_link() -> Error {
    Error::bad_request(code::INVALID_LINK, "this link is not valid any more")
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

/// The hash of a user's new password, once it passes the rules (it may not contain their
/// email address).
async fn new_password_hash(user: &Record, new: &str) -> Result<String> {
    let email = user
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default();
    password::check_new(new, email)?;
    password::hash(new.to_owned()).await
}

/// The statement that logs a change to an account record (a user, role, token or session)
/// as an event carrying its audit record; it takes `$event_rows` ([`change_rows`]).
fn change_script() -> String {
    EVENTS_STATEMENT.to_owned()
}

/// The event of `kind` for the record `event` (the audit record) names as its target, with
/// the names of what `changed`; it carries the audit record.
fn change_rows(node: &str, event: &Event, kind: &'static str, changed: &[&str]) -> Value {
    let subject = event
        .target
        .split_once('/')
        .map_or(event.target.as_str(), |(_, id)| id);
    let change = ChangeRecord {
        kind,
        actor: event.actor.clone(),
        changed: changed.iter().map(|c| (*c).to_owned()).collect(),
        audit: event.data(),
    };
    event_rows(node, None, &change, vec![(subject.to_owned(), None, None)])
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .system_read(
                "SELECT text FROM folio_mail WHERE subject = 'Reset your password'",
                vec![],
            )
            .await
            .unwrap();
        let text = mail[0]["text"].as_str().unwrap();
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

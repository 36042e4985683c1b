//! The system tables behind accounts: users, sessions, API tokens, one-time links and the
//! audit log. Their layout is fixed (not derived from content types) and applied with the
//! content-type schema, so a start-up with nothing new still sends one read.
//!
//! Secrets never reach these tables in clear: sessions, tokens and one-time links are stored
//! under the SHA-256 of the secret, passwords as argon2 hashes (see `accounts`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::events::ChangeRecord;
use super::mail::Mail;
use super::{Store, record_key, take_json, take_rows};
use crate::error::{Code, Error, Result, code};

pub type Record = Map<String, Value>;

/// The statements that define the system tables, keyed like the content tables' statements.
pub(crate) fn system_statements() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut table = |name: &str, fields: &[(&str, &str)], indexes: &[(&str, &str)]| {
        out.push((
            format!("{name}/table"),
            format!("DEFINE TABLE {name} SCHEMAFULL"),
        ));
        for (f, kind) in fields {
            out.push((
                format!("{name}/meta/{f}"),
                format!("DEFINE FIELD {f} ON {name} TYPE {kind}"),
            ));
        }
        for (ix, def) in indexes {
            out.push((
                format!("{name}/index/{ix}"),
                format!("DEFINE INDEX idx_{ix} ON {name} {def}"),
            ));
        }
    };
    table(
        "folio_user",
        &[
            ("email", "string"),
            ("name", "string"),
            ("role", "string"),
            ("password_hash", "option<string>"),
            ("status", "string"),
            ("email_verified", "bool"),
            ("created_at", "string"),
            ("updated_at", "string"),
            ("password_changed_at", "option<string>"),
            ("totp", "option<object>"),
            ("totp.secret", "string"),
            ("totp.enabled", "bool"),
            ("totp.last_step", "option<int>"),
            ("totp.recovery", "array<string>"),
        ],
        &[("email", "FIELDS email UNIQUE")],
    );
    table(
        "folio_session",
        &[
            ("user", "string"),
            ("created_at", "string"),
            ("last_seen_at", "string"),
            ("expires_at", "string"),
            ("address", "option<string>"),
            ("user_agent", "option<string>"),
        ],
        &[("user", "FIELDS user")],
    );
    table(
        "folio_token",
        &[
            ("name", "string"),
            ("hash", "string"),
            ("scope", "string"),
            ("role", "option<string>"),
            ("rate_limit", "int"),
            ("created_by", "string"),
            ("created_at", "string"),
            ("expires_at", "option<string>"),
            ("last_used_at", "option<string>"),
            ("revoked_at", "option<string>"),
        ],
        &[("hash", "FIELDS hash UNIQUE")],
    );
    table(
        "folio_link",
        &[
            ("purpose", "string"),
            ("user", "option<string>"),
            ("expires_at", "string"),
        ],
        &[],
    );
    table(
        "folio_role",
        &[("definition", "string"), ("updated_at", "string")],
        &[],
    );
    table(
        "folio_mail",
        &[
            ("to", "string"),
            ("subject", "string"),
            ("text", "string"),
            ("status", "string"),
            ("attempts", "int"),
            ("created_at", "string"),
            ("next_attempt_at", "string"),
            ("sent_at", "option<string>"),
            ("lease_until", "option<string>"),
            ("last_error", "option<string>"),
        ],
        &[("due", "FIELDS status, next_attempt_at")],
    );
    for (name, fields, indexes) in super::audit::audit_tables() {
        table(name, &fields, &indexes);
    }
    for (name, fields) in super::events::event_tables() {
        table(name, &fields, &[]);
    }
    for (name, fields, indexes) in super::media::media_tables() {
        table(name, &fields, &indexes);
    }
    out
}

impl Store {
    /// Runs `script` as one transaction with `binds`, retrying lost conflicts; returns statement results as JSON
    /// rows, statement 0 being `BEGIN`.
    pub(super) async fn system_write(
        &self,
        script: &str,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<Vec<Record>>> {
        self.script_write(script, binds, false).await
    }

    /// [`Store::system_write`] for the bookkeeping of background work (mail claims, consumer
    /// positions, pruning): left out of the query counter and, as it records no audited
    /// change, without waking the audit chainer.
    pub(super) async fn background_write(
        &self,
        script: &str,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<Vec<Record>>> {
        self.script_write(script, binds, true).await
    }

    async fn script_write(
        &self,
        script: &str,
        binds: Vec<(String, Value)>,
        background: bool,
    ) -> Result<Vec<Vec<Record>>> {
        let full = format!("BEGIN;\n{script}\nCOMMIT;");
        let build = |db, background| {
            let mut q = if background {
                Store::uncounted(db, full.clone())
            } else {
                Store::statement(db, full.clone())
            };
            for b in &binds {
                q = q.bind(b.clone());
            }
            q
        };
        let (mut res, errors) = if background {
            self.run_attempts(|db| build(db, true)).await?
        } else {
            self.run_write(|db| build(db, false)).await?
        };
        if let Some(e) = super::cause(errors) {
            let text = e.to_string();
            if let Some(code) = thrown_code(&text) {
                return Err(Error::Conflict {
                    code,
                    message: code.name.replace('_', " "),
                });
            }
            if text.contains("already contains") {
                return Err(Error::Conflict {
                    code: code::ALREADY_EXISTS,
                    message: "a record with this value already exists".into(),
                });
            }
            return Err(Error::Database(e));
        }
        let mut out = Vec::new();
        for i in 0..res.num_statements() {
            out.push(take_rows(&mut res, i).unwrap_or_default());
        }
        Ok(out)
    }

    /// [`Store::system_write`] for a script whose answers nobody reads.
    pub(super) async fn exec(&self, script: &str, binds: Vec<(String, Value)>) -> Result<()> {
        self.system_write(script, binds).await?;
        Ok(())
    }

    /// How many rows a table left by an older layout holds (none when it is gone).
    pub(super) async fn leftover_rows(&self, table: &str) -> u64 {
        self.system_count(table).await.unwrap_or(0)
    }

    /// Reads with `sql` and `binds`; the rows of its first statement.
    pub(super) async fn system_read(
        &self,
        sql: &str,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<Record>> {
        let mut q = self.statement(sql.to_owned());
        for b in binds {
            q = q.bind(b);
        }
        let mut res = q.await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?.into_iter().map(normalize).collect())
    }

    /// One record of a system table by key.
    pub(super) async fn system_get(&self, table: &str, key: &str) -> Result<Option<Record>> {
        Ok(self
            .system_read(
                "SELECT * FROM type::record($tb, $key)",
                vec![("tb".into(), json!(table)), ("key".into(), json!(key))],
            )
            .await?
            .into_iter()
            .next())
    }

    /// How many records `table` holds (system tables are small).
    pub(super) async fn system_count(&self, table: &str) -> Result<u64> {
        let mut res = self
            .statement("SELECT count() FROM type::table($tb) GROUP ALL")
            .bind(("tb", table.to_owned()))
            .await?;
        Ok(super::migrate::count_of(take_json(&mut res, 0)?))
    }
}

/// `THROW 'folio:<code>'` in a system script becomes a conflict with that code.
fn thrown_code(text: &str) -> Option<Code> {
    const CODES: &[Code] = &[
        code::NOT_FOUND,
        code::LAST_ADMIN,
        code::ROLE_IN_USE,
        code::VERSION_CONFLICT,
        code::FOLDER_NOT_EMPTY,
    ];
    let rest = &text[text.find("folio:")? + "folio:".len()..];
    CODES.iter().copied().find(|c| rest.starts_with(c.name))
}

/// Record ids come back as `table:key`; callers see the key.
pub(super) fn normalize(mut row: Record) -> Record {
    if let Some(Value::String(id)) = row.get("id") {
        let key = record_key(id);
        row.insert("id".into(), Value::String(key));
    }
    row
}

// ---- typed account records and their queries ------------------------------------------

const USER_TABLE: &str = "folio_user";
const SESSION_TABLE: &str = "folio_session";
const TOKEN_TABLE: &str = "folio_token";
const LINK_TABLE: &str = "folio_link";
const ROLE_TABLE: &str = "folio_role";

/// A user as stored (with the password hash and second-factor secrets: never sent out as is).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserRow {
    #[serde(default, skip_serializing)]
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    pub status: String,
    #[serde(default)]
    pub email_verified: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpRow>,
}

/// A user's authenticator-app secret, whether it is in force, the last time step used and
/// the SHA-256 digests of the unused recovery codes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TotpRow {
    pub secret: String,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<u64>,
    #[serde(default)]
    pub recovery: Vec<String>,
}

/// A sign-in session, keyed by the SHA-256 of its secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionRow {
    #[serde(default, skip_serializing)]
    pub id: String,
    pub user: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// An API token; `hash` is the SHA-256 of its secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenRow {
    #[serde(default, skip_serializing)]
    pub id: String,
    pub name: String,
    pub hash: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub rate_limit: u64,
    pub created_by: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A one-time link (setup, two-factor challenge, confirmation, reset, invitation), keyed by
/// the SHA-256 of its secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LinkRow {
    #[serde(default, skip_serializing)]
    pub id: String,
    pub purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub expires_at: String,
}

/// A change to an account record as the change-event log records it: the change (with its
/// audit record) and the id or name of what changed.
#[derive(Debug, Clone)]
pub struct AccountChange {
    pub change: ChangeRecord,
    pub subject: String,
}

/// How a second factor is used up: a time step of the authenticator app (later than any
/// used before), or a recovery code's digest.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    Step(u64),
    Recovery(String),
}

/// What a user update sets, and what it must hold to.
#[derive(Debug, Clone)]
pub struct UserUpdate<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub status: &'a str,
    /// Refuse (`last_admin`) if no other active admin would remain.
    pub keep_an_admin: bool,
    /// End the user's sessions (disabled).
    pub end_sessions: bool,
}

/// Deletes every reset and invitation link of user `$id`: once a password is set, by one of
/// them or by its owner, the others must not set it again.
const VOID_PASSWORD_LINKS: &str =
    "DELETE folio_link WHERE user = $id AND purpose IN ['reset', 'invite'];";

fn typed<T: serde::de::DeserializeOwned>(row: Record) -> Result<T> {
    serde_json::from_value(Value::Object(row))
        .map_err(|e| Error::internal(format!("a stored account record does not read: {e}")))
}

fn content(row: &impl Serialize) -> Result<Value> {
    serde_json::to_value(row).map_err(|e| Error::internal(e.to_string()))
}

/// Statements (and bindings) that create `link` and put `mail` in the outbox, for the
/// caller's transaction.
fn link_mail_script(link: &LinkRow, mail: &Mail) -> Result<(String, Vec<(String, Value)>)> {
    let (mail_stmt, mut binds) = super::mail::enqueue_script(mail);
    binds.extend([
        ("link_id".into(), json!(link.id)),
        ("link".into(), content(link)?),
    ]);
    Ok((
        format!(
            "CREATE type::record('{LINK_TABLE}', $link_id) CONTENT $link RETURN NONE;\n{mail_stmt}"
        ),
        binds,
    ))
}

impl Store {
    /// Runs `script` with `binds` and logs `change` in the same transaction.
    async fn account_write(
        &self,
        script: &str,
        mut binds: Vec<(String, Value)>,
        change: &AccountChange,
    ) -> Result<()> {
        let (events, event_binds) = super::events::events_script(
            self.node(),
            None,
            &change.change,
            vec![(change.subject.clone(), None, None)],
        );
        binds.extend(event_binds);
        self.system_write(&format!("{script}\n{events}"), binds)
            .await?;
        Ok(())
    }

    async fn typed_get<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<T>> {
        self.system_get(table, key).await?.map(typed).transpose()
    }

    // ---- roles

    /// The stored definitions (JSON) of the custom roles.
    pub async fn role_definitions(&self) -> Result<Vec<String>> {
        Ok(self
            .system_read(&format!("SELECT definition FROM {ROLE_TABLE}"), vec![])
            .await?
            .iter()
            .filter_map(|r| r.get("definition").and_then(Value::as_str))
            .map(str::to_owned)
            .collect())
    }

    pub async fn put_role(
        &self,
        name: &str,
        definition: &str,
        change: &AccountChange,
    ) -> Result<()> {
        self.account_write(
            &format!(
                "UPSERT type::record('{ROLE_TABLE}', $name) CONTENT {{ definition: $definition, updated_at: $now }};"
            ),
            vec![
                ("name".into(), json!(name)),
                ("definition".into(), json!(definition)),
                ("now".into(), json!(crate::time::now())),
            ],
            change,
        )
        .await
    }

    /// Deletes a custom role; `role_in_use` while a user or a live token has it.
    pub async fn delete_role(&self, name: &str, change: &AccountChange) -> Result<()> {
        self.account_write(
            &format!(
                "IF (SELECT count() FROM {USER_TABLE} WHERE role = $name GROUP ALL)[0].count > 0
                    OR (SELECT count() FROM {TOKEN_TABLE} WHERE role = $name AND revoked_at = NONE GROUP ALL)[0].count > 0
                 {{ THROW 'folio:role_in_use' }};
                 DELETE type::record('{ROLE_TABLE}', $name);"
            ),
            vec![("name".into(), json!(name))],
            change,
        )
        .await
    }

    // ---- users

    pub async fn user_count(&self) -> Result<u64> {
        self.system_count(USER_TABLE).await
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        self.typed_get(USER_TABLE, id).await
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        self.system_read(
            &format!("SELECT * FROM {USER_TABLE} WHERE email = $email LIMIT 1"),
            vec![("email".into(), json!(email))],
        )
        .await?
        .into_iter()
        .next()
        .map(typed)
        .transpose()
    }

    /// Every user, by email (at most 10,000).
    pub async fn users(&self) -> Result<Vec<UserRow>> {
        self.system_read(
            &format!("SELECT * FROM {USER_TABLE} ORDER BY email LIMIT 10000"),
            vec![],
        )
        .await?
        .into_iter()
        .map(typed)
        .collect()
    }

    /// Creates `user` (its `id` the key) with a link mailed to them; `already_exists` when
    /// another user has the email address.
    pub async fn create_user(
        &self,
        user: &UserRow,
        link: &LinkRow,
        mail: &Mail,
        change: &AccountChange,
    ) -> Result<()> {
        let (link_stmt, mut binds) = link_mail_script(link, mail)?;
        binds.extend([
            ("id".into(), json!(user.id)),
            ("record".into(), content(user)?),
        ]);
        self.account_write(
            &format!(
                "CREATE type::record('{USER_TABLE}', $id) CONTENT $record RETURN NONE;\n{link_stmt}"
            ),
            binds,
            change,
        )
        .await
    }

    /// Sets a user's name, role and status; `last_admin` if the update would leave no
    /// active admin and must not.
    pub async fn update_user(
        &self,
        id: &str,
        update: &UserUpdate<'_>,
        change: &AccountChange,
    ) -> Result<()> {
        let guard = if update.keep_an_admin {
            format!(
                "IF (SELECT count() FROM {USER_TABLE} WHERE role = 'admin' AND status = 'active' GROUP ALL)[0].count <= 1 {{ THROW 'folio:last_admin' }};"
            )
        } else {
            String::new()
        };
        let end_sessions = if update.end_sessions {
            format!("DELETE {SESSION_TABLE} WHERE user = $id;")
        } else {
            String::new()
        };
        self.account_write(
            &format!(
                "{guard}
                 UPDATE type::record('{USER_TABLE}', $id) SET name = $name, role = $role, status = $status, updated_at = $now;
                 {end_sessions}"
            ),
            vec![
                ("id".into(), json!(id)),
                ("name".into(), json!(update.name)),
                ("role".into(), json!(update.role)),
                ("status".into(), json!(update.status)),
                ("now".into(), json!(crate::time::now())),
            ],
            change,
        )
        .await
    }

    /// Replaces a password hash by one of the same password made with today's parameters.
    pub async fn rehash_password(&self, id: &str, hash: &str) -> Result<()> {
        self.exec(
            &format!("UPDATE type::record('{USER_TABLE}', $id) SET password_hash = $hash;"),
            vec![("id".into(), json!(id)), ("hash".into(), json!(hash))],
        )
        .await
    }

    /// Sets a user's own new password: every session but `keep` ends, and the reset and
    /// invitation links are void.
    pub async fn change_password(
        &self,
        id: &str,
        hash: &str,
        keep: &str,
        change: &AccountChange,
    ) -> Result<()> {
        self.account_write(
            &format!(
                "UPDATE type::record('{USER_TABLE}', $id) SET password_hash = $hash, password_changed_at = $now, updated_at = $now;
                 DELETE {SESSION_TABLE} WHERE user = $id AND id != type::record('{SESSION_TABLE}', $keep);
                 {VOID_PASSWORD_LINKS}"
            ),
            vec![
                ("id".into(), json!(id)),
                ("hash".into(), json!(hash)),
                ("now".into(), json!(crate::time::now())),
                ("keep".into(), json!(keep)),
            ],
            change,
        )
        .await
    }

    /// Sets a password with the reset or invitation link `link`, which is used up; every
    /// session ends and the address counts as confirmed. `not_found` when the link was used
    /// meanwhile.
    pub async fn reset_password(
        &self,
        link: &str,
        id: &str,
        hash: &str,
        now: &str,
        change: &AccountChange,
    ) -> Result<()> {
        self.account_write(
            &format!(
                "LET $gone = (DELETE type::record('{LINK_TABLE}', $link) RETURN BEFORE);
                 IF array::len($gone) = 0 {{ THROW 'folio:not_found' }};
                 UPDATE type::record('{USER_TABLE}', $id) SET password_hash = $hash, password_changed_at = $now, email_verified = true, updated_at = $now;
                 DELETE {SESSION_TABLE} WHERE user = $id;
                 {VOID_PASSWORD_LINKS}"
            ),
            vec![
                ("link".into(), json!(link)),
                ("id".into(), json!(id)),
                ("hash".into(), json!(hash)),
                ("now".into(), json!(now)),
            ],
            change,
        )
        .await
    }

    /// Confirms a user's address with the link `link`, which is used up (`not_found` when it
    /// was used meanwhile).
    pub async fn verify_email(&self, link: &str, id: &str) -> Result<()> {
        self.exec(
            &format!(
                "LET $gone = (DELETE type::record('{LINK_TABLE}', $link) RETURN BEFORE);
                 IF array::len($gone) = 0 {{ THROW 'folio:not_found' }};
                 UPDATE type::record('{USER_TABLE}', $id) SET email_verified = true, updated_at = $now;"
            ),
            vec![
                ("link".into(), json!(link)),
                ("id".into(), json!(id)),
                ("now".into(), json!(crate::time::now())),
            ],
        )
        .await
    }

    // ---- two-factor

    /// Starts enrolment: a new secret, not yet in force.
    pub async fn begin_totp(&self, id: &str, secret: &str) -> Result<()> {
        self.exec(
            &format!(
                "UPDATE type::record('{USER_TABLE}', $id) SET totp = {{ secret: $secret, enabled: false, recovery: [] }};"
            ),
            vec![("id".into(), json!(id)), ("secret".into(), json!(secret))],
        )
        .await
    }

    /// Puts the second factor in force, with the time step just used and the recovery
    /// codes' digests.
    pub async fn enable_totp(
        &self,
        id: &str,
        step: u64,
        recovery: &[String],
        change: &AccountChange,
    ) -> Result<()> {
        self.account_write(
            &format!(
                "UPDATE type::record('{USER_TABLE}', $id) SET totp.enabled = true, totp.last_step = $step, totp.recovery = $recovery, updated_at = $now;"
            ),
            vec![
                ("id".into(), json!(id)),
                ("step".into(), json!(step)),
                ("recovery".into(), json!(recovery)),
                ("now".into(), json!(crate::time::now())),
            ],
            change,
        )
        .await
    }

    pub async fn disable_totp(&self, id: &str, change: &AccountChange) -> Result<()> {
        self.account_write(
            &format!(
                "UPDATE type::record('{USER_TABLE}', $id) SET totp = NONE, updated_at = $now;"
            ),
            vec![
                ("id".into(), json!(id)),
                ("now".into(), json!(crate::time::now())),
            ],
            change,
        )
        .await
    }

    /// Uses up the two-factor challenge `link` and `factor` of user `id` together; false if
    /// another sign-in used the factor a moment ago.
    pub async fn use_second_factor(
        &self,
        link: &str,
        id: &str,
        factor: &SecondFactor,
    ) -> Result<bool> {
        let (update, bind) = match factor {
            // The step is recorded only if no other sign-in used it meanwhile.
            SecondFactor::Step(step) => (
                "SET totp.last_step = $factor WHERE totp.last_step = NONE OR totp.last_step < $factor",
                json!(step),
            ),
            SecondFactor::Recovery(code) => (
                "SET totp.recovery -= $factor WHERE totp.recovery CONTAINS $factor",
                json!(code),
            ),
        };
        let out = self
            .system_write(
                &format!(
                    "DELETE type::record('{LINK_TABLE}', $link);
                     UPDATE type::record('{USER_TABLE}', $id) {update} RETURN AFTER;"
                ),
                vec![
                    ("link".into(), json!(link)),
                    ("id".into(), json!(id)),
                    ("factor".into(), bind),
                ],
            )
            .await?;
        Ok(out.get(2).is_some_and(|rows| !rows.is_empty()))
    }

    // ---- sessions

    pub async fn create_session(&self, session: &SessionRow, change: &AccountChange) -> Result<()> {
        self.account_write(
            &format!("CREATE type::record('{SESSION_TABLE}', $id) CONTENT $record RETURN NONE;"),
            vec![
                ("id".into(), json!(session.id)),
                ("record".into(), content(session)?),
            ],
            change,
        )
        .await
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>> {
        self.typed_get(SESSION_TABLE, id).await
    }

    /// Removes a session that ended (idle or past its limit).
    pub async fn drop_session(&self, id: &str) -> Result<()> {
        self.exec(
            &format!("DELETE type::record('{SESSION_TABLE}', $id);"),
            vec![("id".into(), json!(id))],
        )
        .await
    }

    pub async fn touch_session(&self, id: &str, now: &str) -> Result<()> {
        self.exec(
            &format!("UPDATE type::record('{SESSION_TABLE}', $id) SET last_seen_at = $now;"),
            vec![("id".into(), json!(id)), ("now".into(), json!(now))],
        )
        .await
    }

    /// Ends session `id` of user `user`; `not_found` if they have no such session.
    pub async fn end_session(&self, id: &str, user: &str, change: &AccountChange) -> Result<()> {
        self.account_write(
            &format!(
                "LET $gone = (DELETE {SESSION_TABLE} WHERE id = type::record('{SESSION_TABLE}', $sid) AND user = $user RETURN BEFORE);
                 IF array::len($gone) = 0 {{ THROW 'folio:not_found' }};"
            ),
            vec![("sid".into(), json!(id)), ("user".into(), json!(user))],
            change,
        )
        .await
    }

    /// A user's sessions, most recently used first (at most 1,000).
    pub async fn sessions_of(&self, user: &str) -> Result<Vec<SessionRow>> {
        self.system_read(
            &format!(
                "SELECT * FROM {SESSION_TABLE} WHERE user = $user ORDER BY last_seen_at DESC LIMIT 1000"
            ),
            vec![("user".into(), json!(user))],
        )
        .await?
        .into_iter()
        .map(typed)
        .collect()
    }

    // ---- one-time links

    pub async fn link(&self, id: &str) -> Result<Option<LinkRow>> {
        self.typed_get(LINK_TABLE, id).await
    }

    pub async fn create_link(&self, link: &LinkRow) -> Result<()> {
        self.exec(
            &format!("CREATE type::record('{LINK_TABLE}', $id) CONTENT $record;"),
            vec![
                ("id".into(), json!(link.id)),
                ("record".into(), content(link)?),
            ],
        )
        .await
    }

    /// Creates `link` and mails it, logging `change`.
    pub async fn mail_link(
        &self,
        link: &LinkRow,
        mail: &Mail,
        change: &AccountChange,
    ) -> Result<()> {
        let (script, binds) = link_mail_script(link, mail)?;
        self.account_write(&script, binds, change).await
    }

    /// Makes `link` the only setup link.
    pub async fn replace_setup_link(&self, link: &LinkRow) -> Result<()> {
        self.exec(
            &format!(
                "DELETE {LINK_TABLE} WHERE purpose = 'setup';
                 CREATE type::record('{LINK_TABLE}', $id) CONTENT $record;"
            ),
            vec![
                ("id".into(), json!(link.id)),
                ("record".into(), content(link)?),
            ],
        )
        .await
    }

    /// Uses up link `id`; `not_found` if it is gone (used by someone else a moment ago).
    pub async fn use_link(&self, id: &str) -> Result<()> {
        self.exec(
            &format!(
                "LET $gone = (DELETE type::record('{LINK_TABLE}', $id) RETURN BEFORE);
                 IF array::len($gone) = 0 {{ THROW 'folio:not_found' }};"
            ),
            vec![("id".into(), json!(id))],
        )
        .await
    }

    // ---- API tokens

    pub async fn create_token(&self, token: &TokenRow, change: &AccountChange) -> Result<()> {
        self.account_write(
            &format!("CREATE type::record('{TOKEN_TABLE}', $id) CONTENT $record RETURN NONE;"),
            vec![
                ("id".into(), json!(token.id)),
                ("record".into(), content(token)?),
            ],
            change,
        )
        .await
    }

    /// Every API token, newest first (at most 10,000).
    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        self.system_read(
            &format!("SELECT * FROM {TOKEN_TABLE} ORDER BY created_at DESC LIMIT 10000"),
            vec![],
        )
        .await?
        .into_iter()
        .map(typed)
        .collect()
    }

    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>> {
        self.system_read(
            &format!("SELECT * FROM {TOKEN_TABLE} WHERE hash = $hash LIMIT 1"),
            vec![("hash".into(), json!(hash))],
        )
        .await?
        .into_iter()
        .next()
        .map(typed)
        .transpose()
    }

    /// Revokes token `id` (again is a no-op); `not_found` when there is none.
    pub async fn revoke_token(&self, id: &str, change: &AccountChange) -> Result<()> {
        self.account_write(
            &format!(
                "LET $t = (SELECT id FROM ONLY type::record('{TOKEN_TABLE}', $id));
                 IF $t = NONE {{ THROW 'folio:not_found' }};
                 UPDATE type::record('{TOKEN_TABLE}', $id) SET revoked_at = $now WHERE revoked_at = NONE;"
            ),
            vec![
                ("id".into(), json!(id)),
                ("now".into(), json!(crate::time::now())),
            ],
            change,
        )
        .await
    }

    pub async fn touch_token(&self, id: &str, now: &str) -> Result<()> {
        self.exec(
            &format!("UPDATE type::record('{TOKEN_TABLE}', $id) SET last_used_at = $now;"),
            vec![("id".into(), json!(id)), ("now".into(), json!(now))],
        )
        .await
    }
}

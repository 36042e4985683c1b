//! The system tables behind accounts: users, sessions, API tokens, one-time links and the
//! audit log. Their layout is fixed (not derived from content types) and applied with the
//! content-type schema, so a start-up with nothing new still sends one read.
//!
//! Secrets never reach these tables in clear: sessions, tokens and one-time links are stored
//! under the SHA-256 of the secret, passwords as argon2 hashes (see `accounts`).

use serde_json::{Map, Value, json};

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
    pub(crate) async fn system_write(
        &self,
        script: &str,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<Vec<Record>>> {
        let full = format!("BEGIN;\n{script}\nCOMMIT;");
        let (mut res, errors) = self
            .run_write(|db| {
                let mut q = db.statement(full.clone());
                for b in &binds {
                    q = q.bind(b.clone());
                }
                q
            })
            .await?;
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

    /// Reads with `sql` and `binds`; the rows of its first statement.
    pub(crate) async fn system_read(
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
    pub(crate) async fn system_get(&self, table: &str, key: &str) -> Result<Option<Record>> {
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
    pub(crate) async fn system_count(&self, table: &str) -> Result<u64> {
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

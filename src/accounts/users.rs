//! Users: creating (with a confirmation or invitation link), listing, changing name, role and
//! status, and a user's own password.

use serde_json::json;

use super::audit::Event;
use super::links::Purpose;
use super::{Accounts, User, UserChanges, account_change, check_role, field_error, password};
use crate::access::AdminPermit;
use crate::error::{Error, Result, code};
use crate::schema::field_code;
use crate::storage::accounts::{UserRow, UserUpdate};
use crate::time::now;

impl Accounts {
    pub async fn user_count(&self) -> Result<u64> {
        self.store.user_count().await
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
        let email = super::normalize_email(email)?;
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
        let now = now();
        let row = UserRow {
            id: ulid::Ulid::new().to_string(),
            name: if name.is_empty() {
                email.clone()
            } else {
                name.to_owned()
            },
            email: email.clone(),
            role: role.to_owned(),
            password_changed_at: hash.as_ref().map(|_| now.clone()),
            password_hash: hash,
            status: "active".into(),
            email_verified: false,
            created_at: now.clone(),
            updated_at: now,
            totp: None,
        };
        let event = Event::new(actor, "user.create", format!("user/{}", row.id))
            .from_address(address)
            .after(Some(json!({ "email": email, "role": role })));
        // A user with a password is asked to confirm the address; one without is invited to
        // choose a password (which confirms it too).
        let purpose = if row.password_hash.is_none() {
            Purpose::Invite
        } else {
            Purpose::Verify
        };
        let (link, mail) = self.link_mail(&row.id, &email, purpose);
        self.store
            .create_user(
                &row,
                &link,
                &mail,
                &account_change(&event, "user.created", &["email", "name", "role"]),
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
        self.mailer.poke();
        Ok(User::from_row(&row))
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<User>> {
        Ok(self.store.user(id).await?.as_ref().map(User::from_row))
    }

    pub async fn list_users(&self, _: &AdminPermit) -> Result<Vec<User>> {
        Ok(self
            .store
            .users()
            .await?
            .iter()
            .map(User::from_row)
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
        let Some(current) = self.store.user(id).await? else {
            return Err(Error::not_found(code::USER_NOT_FOUND, "no such user"));
        };
        let before = User::from_row(&current);
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
        let event = Event::new(permit.actor(), "user.update", format!("user/{id}"))
            .from_address(address)
            .before(Some(
                json!({ "role": before.role, "status": before.status, "name": before.name }),
            ))
            .after(Some(
                json!({ "role": role, "status": status, "name": name }),
            ));
        let changed: Vec<&str> = [
            ("name", before.name != name),
            ("role", before.role != role),
            ("status", before.status != status),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        let update = UserUpdate {
            name,
            role,
            status,
            keep_an_admin: before.role == "admin"
                && before.status == "active"
                && (role != "admin" || status != "active"),
            end_sessions: status != "active",
        };
        self.store
            .update_user(
                id,
                &update,
                &account_change(&event, "user.updated", &changed),
            )
            .await
            .map_err(|e| match e {
                Error::Conflict {
                    code: code::LAST_ADMIN,
                    ..
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
        let user = self
            .confirm_password(user_id, current, "current_password")
            .await?;
        let hash = new_password_hash(&user, new).await?;
        let event = Event::new(
            &format!("user:{user_id}"),
            "user.password",
            format!("user/{user_id}"),
        )
        .from_address(address);
        self.store
            .change_password(
                user_id,
                &hash,
                keep_session,
                &account_change(&event, "user.updated", &["password"]),
            )
            .await
    }

    /// The signed-in user's record, after checking `password` against it; a wrong one is a
    /// validation error on `field`.
    pub(super) async fn confirm_password(
        &self,
        user_id: &str,
        password: &str,
        field: &str,
    ) -> Result<UserRow> {
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if password::verify(password.to_owned(), user.password_hash.clone()).await?
            == password::Checked::Wrong
        {
            return Err(field_error(
                field,
                field_code::WRONG_PASSWORD,
                "the password is not right",
            ));
        }
        Ok(user)
    }
}

/// The hash of a user's new password, once it passes the rules (it may not contain their
/// email address).
pub(super) async fn new_password_hash(user: &UserRow, new: &str) -> Result<String> {
    password::check_new(new, &user.email)?;
    password::hash(new.to_owned()).await
}

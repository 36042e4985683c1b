//! Two-factor sign-in: enrolment with an authenticator app, recovery codes, turning it off.

use chrono::Utc;

use super::audit::Event;
use super::{Accounts, account_change, field_error, totp};
use crate::error::{Error, Result, code};
use crate::schema::field_code;

impl Accounts {
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
        self.store.begin_totp(user_id, &secret.to_base32()).await?;
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
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if user.totp.as_ref().is_some_and(|t| t.enabled) {
            return Err(Error::Conflict {
                code: code::TWO_FACTOR_ENABLED,
                message: "two-factor login is already on".into(),
            });
        }
        let secret = user
            .totp
            .as_ref()
            .and_then(|t| totp::TotpSecret::from_base32(&t.secret))
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
            .enable_totp(
                user_id,
                step,
                &hashed,
                &account_change(&event, "user.updated", &["two_factor"]),
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
            .disable_totp(
                user_id,
                &account_change(&event, "user.updated", &["two_factor"]),
            )
            .await
    }
}

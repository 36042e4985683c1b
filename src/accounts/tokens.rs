//! API tokens: created with their secret shown once, listed, revoked, and resolved on each
//! request with its rate limit.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::Event;
use super::throttle::RateDecision;
use super::{
    Accounts, DEFAULT_TOKEN_RATE, NewToken, TOUCH_EVERY, TokenInfo, account_change, check_role,
    digest, field_error, secret,
};
use crate::access::{AdminPermit, Principal, TokenScope};
use crate::error::{Error, Result, code};
use crate::schema::field_code;
use crate::storage::accounts::TokenRow;
use crate::time::{now, parse, stamp};

impl Accounts {
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
        let role = match &new.scope {
            TokenScope::Admin(r) => Some(r.clone()),
            TokenScope::Delivery => None,
        };
        let row = TokenRow {
            id: ulid::Ulid::new().to_string(),
            name: name.to_owned(),
            hash: digest(&secret),
            scope: new.scope.as_str().to_owned(),
            role: role.clone(),
            rate_limit: u64::from(if new.rate_limit == 0 {
                DEFAULT_TOKEN_RATE
            } else {
                new.rate_limit
            }),
            created_by: permit.actor().to_owned(),
            created_at: now(),
            expires_at: new
                .expires_at
                .as_ref()
                .map(|e| crate::time::normalise(e).unwrap_or_else(|| e.clone())),
            last_used_at: None,
            revoked_at: None,
        };
        let event = Event::new(permit.actor(), "token.create", format!("token/{}", row.id))
            .from_address(address)
            .after(Some(
                json!({ "name": name, "scope": new.scope.as_str(), "role": role }),
            ));
        self.store
            .create_token(&row, &account_change(&event, "token.created", &[]))
            .await?;
        Ok((TokenInfo::from_row(&row), secret))
    }

    pub async fn list_tokens(&self, _: &AdminPermit) -> Result<Vec<TokenInfo>> {
        Ok(self
            .store
            .tokens()
            .await?
            .iter()
            .map(TokenInfo::from_row)
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
        match self
            .store
            .revoke_token(id, &account_change(&event, "token.revoked", &[]))
            .await
        {
            Ok(()) => Ok(true),
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
        let Some(row) = self.store.token_by_hash(&digest(secret)).await? else {
            return Ok(None);
        };
        let info = TokenInfo::from_row(&row);
        let now = Utc::now();
        let expired = info
            .expires_at
            .as_deref()
            .and_then(parse)
            .is_some_and(|e| e <= now);
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
            .and_then(parse)
            .is_none_or(|l| now - l > TOUCH_EVERY);
        if stale {
            self.store.touch_token(&info.id, &stamp(now)).await?;
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
}

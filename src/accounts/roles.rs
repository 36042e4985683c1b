//! Custom roles: defined by admins, kept in the policy, stored as JSON definitions.

use serde_json::json;

use super::audit::Event;
use super::{Accounts, account_change, field_error};
use crate::access::{AdminPermit, CustomRole};
use crate::error::{Error, Result, code};
use crate::schema::field_code;

impl Accounts {
    /// Reads the custom roles into the policy (at start-up).
    pub async fn load_roles(&self) -> Result<()> {
        let roles = self
            .store
            .role_definitions()
            .await?
            .iter()
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
            .put_role(
                &role.name,
                &definition,
                &account_change(&event, "role.updated", &["definition"]),
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
            .delete_role(name, &account_change(&event, "role.deleted", &[]))
            .await
            .map_err(|e| match e {
                Error::Conflict {
                    code: code::ROLE_IN_USE,
                    ..
                } => Error::Conflict {
                    code: code::ROLE_IN_USE,
                    message: "users or API tokens still have this role: give them another first"
                        .into(),
                },
                other => other,
            })?;
        self.load_roles().await?;
        self.store.policy_changed();
        Ok(true)
    }
}

//! The plugin host: the registry of compiled-in plugins, the start-up check that every hook a
//! content type names exists (and that the fields a plugin writes are declared), and running
//! hooks on the save path.
//!
//! Plugins are pure: effects they return are carried out here. The host knows nothing of
//! storage or HTTP.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_plugin_api::{Effect, EntryContext, Plugin};
use serde_json::{Map, Value};

use crate::schema::{ContentType, FieldError, Schema};

/// The plugins compiled into this binary.
#[derive(Clone)]
pub struct PluginHost {
    plugins: BTreeMap<&'static str, Arc<dyn Plugin>>,
}

impl Default for PluginHost {
    fn default() -> Self {
        Self::with(vec![Arc::new(folio_plugin_reading_time::ReadingTime)])
    }
}

/// A content type's hooks do not fit the plugins available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    pub type_id: String,
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

pub enum HookOutcome {
    Fields(Map<String, Value>),
    Rejected(Vec<FieldError>),
}

impl PluginHost {
    pub fn with(plugins: Vec<Arc<dyn Plugin>>) -> Self {
        Self {
            plugins: plugins.into_iter().map(|p| (p.id(), p)).collect(),
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.plugins.keys().copied()
    }

    /// Every hook names a known plugin, and every field a named plugin writes is declared
    /// with a type it can fill.
    pub fn check(&self, schema: &Schema) -> Result<(), Vec<HookError>> {
        let mut errors = Vec::new();
        for ct in schema.types() {
            let err = |message: String| HookError {
                type_id: ct.id.clone(),
                file: ct.source.display().to_string(),
                message,
            };
            for id in ct.hooks.all() {
                let Some(plugin) = self.plugins.get(id.as_str()) else {
                    let known: Vec<&str> = self.ids().collect();
                    errors.push(err(format!(
                        "[hooks] names plugin `{id}`, which does not exist (available: {})",
                        known.join(", ")
                    )));
                    continue;
                };
                for req in plugin.writes_fields() {
                    match ct.field(&req.name) {
                        Some(f) if req.types.iter().any(|t| t == f.ty.name()) => {}
                        Some(f) => errors.push(err(format!(
                            "plugin `{id}` writes field `{}` as {}, but it is declared as {}",
                            req.name,
                            req.types.join(" or "),
                            f.ty.name()
                        ))),
                        None => errors.push(err(format!(
                            "plugin `{id}` writes field `{}`: add it ([[fields]] name = \"{}\", type = \"{}\")",
                            req.name, req.name, req.types[0]
                        ))),
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn context(
        ct: &ContentType,
        entry_id: Option<&str>,
        fields: Map<String, Value>,
    ) -> EntryContext {
        EntryContext {
            type_id: ct.id.clone(),
            entry_id: entry_id.map(str::to_owned),
            field_types: ct
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.ty.name().to_owned()))
                .collect(),
            fields,
        }
    }

    /// Runs the type's `before_save` hooks in order.
    pub fn before_save(
        &self,
        ct: &ContentType,
        entry_id: Option<&str>,
        mut fields: Map<String, Value>,
    ) -> HookOutcome {
        for id in &ct.hooks.before_save {
            let Some(plugin) = self.plugins.get(id.as_str()) else {
                continue;
            };
            match plugin.before_save(Self::context(ct, entry_id, fields)) {
                Ok(next) => fields = next,
                Err(rejection) => {
                    return HookOutcome::Rejected(vec![FieldError {
                        path: match rejection.field {
                            Some(f) => format!("fields.{f}"),
                            None => "fields".into(),
                        },
                        code: crate::schema::field_code::REJECTED_BY_PLUGIN,
                        message: format!("{id}: {}", rejection.message),
                    }]);
                }
            }
        }
        HookOutcome::Fields(fields)
    }

    /// Runs `after_save` (or `after_publish`) hooks and carries out their effects.
    pub fn after(
        &self,
        ct: &ContentType,
        entry_id: &str,
        fields: &Map<String, Value>,
        publish: bool,
    ) {
        let hooks = if publish {
            &ct.hooks.after_publish
        } else {
            &ct.hooks.after_save
        };
        if hooks.is_empty() {
            return;
        }
        let ctx = Self::context(ct, Some(entry_id), fields.clone());
        for id in hooks {
            let Some(plugin) = self.plugins.get(id.as_str()) else {
                continue;
            };
            let effects = if publish {
                plugin.after_publish(&ctx)
            } else {
                plugin.after_save(&ctx)
            };
            for effect in effects {
                run_effect(id, effect);
            }
        }
    }
}

/// Carries out one effect. Webhooks and mail need the outbox that arrives with accounts; until
/// then they are logged as not delivered, so nothing is dropped silently.
fn run_effect(plugin: &str, effect: Effect) {
    match effect {
        Effect::Log { message } => tracing::info!(plugin, "{message}"),
        Effect::Webhook { url, .. } => {
            tracing::warn!(plugin, %url, "webhook effect not delivered: no outbox yet");
        }
        Effect::Mail { to, subject, .. } => {
            tracing::warn!(plugin, %to, %subject, "mail effect not delivered: no outbox yet");
        }
    }
}

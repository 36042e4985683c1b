//! The contract between Folio and its plugins.
//!
//! A plugin is a value implementing [`Plugin`]: its hooks take data and return data. Plugins
//! never touch storage, the network or files: anything with a side effect (a webhook, a mail)
//! comes back as an [`Effect`] that the host runs. This crate depends only on serde so that a
//! plugin builds in seconds and can be tested without the server.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a hook sees of the entry being saved or published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryContext {
    /// The content type's id (`article`).
    pub type_id: String,
    /// The entry's id; `None` while it is being created.
    pub entry_id: Option<String>,
    /// The names and types of the content type's fields, in file order, so a plugin can find
    /// e.g. every Markdown field without knowing the type.
    pub field_types: Vec<(String, String)>,
    /// The entry's fields as the editor sent them, after validation.
    pub fields: Map<String, Value>,
}

/// A side effect a hook asks the host to perform after the change is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// POST `body` as JSON to `url`.
    Webhook { url: String, body: Value },
    /// Send a mail through the host's outbox.
    Mail {
        to: String,
        subject: String,
        text: String,
    },
    /// Write a line to the server log.
    Log { message: String },
}

/// Why a `before_save` hook refused an entry. Shown to the editor as a validation error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The field at fault, if any (`title`); `None` for the entry as a whole.
    pub field: Option<String>,
    pub message: String,
}

impl Rejection {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn entry(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// A Folio plugin. Every hook has a do-nothing default, so a plugin implements only what it
/// needs. Hooks are synchronous and must be quick: they run on the save path.
pub trait Plugin: Send + Sync + 'static {
    /// The id content types use in `[hooks]` (`reading-time`).
    fn id(&self) -> &'static str;

    /// One line on what the plugin does, for `folio types check` and the admin UI.
    fn description(&self) -> &'static str;

    /// The fields this plugin writes in `before_save`, so the host can check at start-up that
    /// a content type naming the plugin declares them (with any of the listed field types).
    fn writes_fields(&self) -> Vec<FieldRequirement> {
        Vec::new()
    }

    /// Runs before an entry is validated and stored; may change its fields or reject it.
    fn before_save(&self, entry: EntryContext) -> Result<Map<String, Value>, Rejection> {
        Ok(entry.fields)
    }

    /// Runs after an entry is stored.
    fn after_save(&self, _entry: &EntryContext) -> Vec<Effect> {
        Vec::new()
    }

    /// Runs after an entry is published.
    fn after_publish(&self, _entry: &EntryContext) -> Vec<Effect> {
        Vec::new()
    }
}

/// A field a plugin writes: its name and the field types it can fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRequirement {
    pub name: String,
    pub types: Vec<String>,
}

//! Content types: the TOML files in `content-types/`, parsed strictly into [`Schema`].
//!
//! This module owns the content-type model, the loader that turns files into it (every error
//! carries the file, line and a hint), the JSON Schema derived from each type for forms and the
//! OpenAPI document, and the validation of entry data against a type.
//!
//! It knows nothing of storage, HTTP or plugins: plugin ids named in `[hooks]` are checked by
//! the caller against the plugin registry, and the database layout is derived in `storage`.

mod json_schema;
mod load;
mod validate;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

pub use json_schema::{Audience, json_schema};
pub use load::{LoadError, load_dir, load_str};
pub use validate::{FIELD_CODES, FieldError, ValidateMode, field_code, validate_fields};

/// Names an entry's metadata uses beside its fields; no field may take them.
pub const RESERVED_FIELD_NAMES: &[&str] = &[
    "id",
    "type",
    "status",
    "version",
    "created_at",
    "updated_at",
    "published_at",
    "created_by",
    "updated_by",
    "locale",
    "fields",
    "meta",
];

/// Every content type, in file-name order.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    types: IndexMap<String, Arc<ContentType>>,
}

impl Schema {
    pub fn new(types: Vec<ContentType>) -> Self {
        Self {
            types: types
                .into_iter()
                .map(|t| (t.id.clone(), Arc::new(t)))
                .collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ContentType>> {
        self.types.get(id)
    }

    pub fn types(&self) -> impl Iterator<Item = &Arc<ContentType>> {
        self.types.values()
    }

    /// Every locale some type uses, the first type's default first: what site-wide text
    /// (media alt text and captions) is written in.
    pub fn site_locales(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ct in self.types.values() {
            for l in &ct.locales {
                if !out.contains(l) {
                    out.push(l.clone());
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Many entries (articles, authors).
    Collection,
    /// Exactly one entry (site settings, the home page).
    Single,
}

/// One content type, as its file declares it.
#[derive(Debug, Clone)]
pub struct ContentType {
    /// The API name, `[a-z][a-z0-9-]*`: `/api/v1/content/{id}`.
    pub id: String,
    pub kind: Kind,
    /// Human name for the admin UI.
    pub name: String,
    pub description: Option<String>,
    /// Draft/publish workflow: the delivery API sees only published snapshots.
    pub drafts: bool,
    /// Locales, the first being the default. Empty: not localised.
    pub locales: Vec<String>,
    /// Indexed for full-text search.
    pub search: bool,
    pub admin: AdminSettings,
    pub access: Access,
    pub delivery: DeliverySettings,
    pub fields: Vec<Field>,
    pub hooks: Hooks,
    /// The file it was loaded from, for messages.
    pub source: PathBuf,
}

impl ContentType {
    /// A collection type with no fields, for tests of code that only needs a type.
    #[cfg(test)]
    pub fn new_for_tests(id: &str) -> ContentType {
        ContentType {
            id: id.to_owned(),
            kind: Kind::Collection,
            name: id.to_owned(),
            description: None,
            drafts: false,
            locales: Vec::new(),
            search: false,
            admin: AdminSettings::default(),
            access: Access::default(),
            delivery: DeliverySettings::default(),
            fields: Vec::new(),
            hooks: Hooks::default(),
            source: PathBuf::from(format!("{id}.toml")),
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The names of the fields that are not private (what the delivery API may show), in
    /// order.
    pub fn public_field_names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| !f.private)
            .map(|f| f.name.as_str())
            .collect()
    }

    pub fn default_locale(&self) -> Option<&str> {
        self.locales.first().map(String::as_str)
    }

    pub fn is_localized(&self) -> bool {
        !self.locales.is_empty()
    }

    /// The fields whose values are generated from another field when left empty.
    pub fn uid_fields(&self) -> impl Iterator<Item = (&Field, Option<&str>)> {
        self.fields.iter().filter_map(|f| match &f.ty {
            FieldType::Uid { from } => Some((f, from.as_deref())),
            _ => None,
        })
    }

    /// The types this type's relations point at, at any depth.
    pub fn relation_targets(&self) -> BTreeSet<&str> {
        fn walk<'a>(fields: &'a [Field], out: &mut BTreeSet<&'a str>) {
            for f in fields {
                match &f.ty {
                    FieldType::Relation { target, .. } => {
                        out.insert(target);
                    }
                    FieldType::Group { fields } | FieldType::Repeater { fields } => {
                        walk(fields, out)
                    }
                    _ => {}
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.fields, &mut out);
        out
    }

    /// Whether any field, at any depth, holds media.
    pub fn has_media(&self) -> bool {
        fn any(fields: &[Field]) -> bool {
            fields.iter().any(|f| match &f.ty {
                FieldType::Media { .. } => true,
                FieldType::Group { fields } | FieldType::Repeater { fields } => any(fields),
                _ => false,
            })
        }
        any(&self.fields)
    }

    /// Every media id a row (or a set of entry fields) refers to, at any depth and in every
    /// locale.
    pub fn media_ids(&self, row: &serde_json::Map<String, serde_json::Value>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.visit_references(row, &mut |_, id, ty| {
            if matches!(ty, FieldType::Media { .. }) {
                out.insert(id.to_owned());
            }
        });
        out
    }

    /// Calls `f(path, id, field type)` for every relation and media id in `row`, at any depth
    /// and in every locale, with its path as validation errors name it
    /// (`fields.gallery[2]`, `fields.cover.fr`, `fields.blocks[0].author`).
    pub fn visit_references(
        &self,
        row: &serde_json::Map<String, serde_json::Value>,
        f: &mut dyn FnMut(&str, &str, &FieldType),
    ) {
        visit_fields(&self.fields, row, "fields", f);
    }

    /// Removes every reference to media `id` from a row, at any depth and in every locale:
    /// a single media field becomes empty, a list loses the item.
    pub fn remove_media(&self, row: &mut serde_json::Map<String, serde_json::Value>, id: &str) {
        remove_in_fields(&self.fields, row, id);
    }

    /// The field an entry may be looked up by in `/content/{type}/{id-or-uid}`: the first
    /// unique `uid` field.
    pub fn lookup_uid_field(&self) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| matches!(f.ty, FieldType::Uid { .. }) && f.rules.unique)
    }
}

fn visit_fields(
    fields: &[Field],
    obj: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    f: &mut dyn FnMut(&str, &str, &FieldType),
) {
    for field in fields {
        let Some(value) = obj.get(&field.name) else {
            continue;
        };
        let path = format!("{prefix}.{}", field.name);
        match (value, field.localized) {
            (serde_json::Value::Object(locales), true) => {
                for (locale, v) in locales {
                    visit_value(field, v, &format!("{path}.{locale}"), f);
                }
            }
            _ => visit_value(field, value, &path, f),
        }
    }
}

fn remove_in_fields(
    fields: &[Field],
    obj: &mut serde_json::Map<String, serde_json::Value>,
    id: &str,
) {
    for field in fields {
        let Some(value) = obj.get_mut(&field.name) else {
            continue;
        };
        let clear = match (value, field.localized) {
            (serde_json::Value::Object(locales), true) => {
                locales.retain(|_, v| !remove_in_value(field, v, id));
                false
            }
            (value, _) => remove_in_value(field, value, id),
        };
        if clear {
            obj.remove(&field.name);
        }
    }
}

/// Removes `id` inside `value`; true when the whole value should go (a single media field
/// holding it).
fn remove_in_value(field: &Field, value: &mut serde_json::Value, id: &str) -> bool {
    use serde_json::Value;
    match (&field.ty, value) {
        (FieldType::Media { .. }, Value::String(s)) => s == id,
        (FieldType::Media { .. }, Value::Array(ids)) => {
            ids.retain(|v| v.as_str() != Some(id));
            false
        }
        (FieldType::Group { fields }, Value::Object(obj)) => {
            remove_in_fields(fields, obj, id);
            false
        }
        (FieldType::Repeater { fields }, Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(obj) = item {
                    remove_in_fields(fields, obj, id);
                }
            }
            false
        }
        _ => false,
    }
}

fn visit_value(
    field: &Field,
    value: &serde_json::Value,
    path: &str,
    f: &mut dyn FnMut(&str, &str, &FieldType),
) {
    use serde_json::Value;
    match (&field.ty, value) {
        (FieldType::Media { .. } | FieldType::Relation { .. }, Value::String(id)) => {
            f(path, id, &field.ty)
        }
        (FieldType::Media { .. } | FieldType::Relation { .. }, Value::Array(ids)) => {
            for (i, id) in ids.iter().enumerate() {
                if let Some(id) = id.as_str() {
                    f(&format!("{path}[{i}]"), id, &field.ty);
                }
            }
        }
        (FieldType::Group { fields }, Value::Object(obj)) => visit_fields(fields, obj, path, f),
        (FieldType::Repeater { fields }, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Value::Object(obj) = item {
                    visit_fields(fields, obj, &format!("{path}[{i}]"), f);
                }
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone, Default)]
pub struct AdminSettings {
    pub title_field: Option<String>,
    pub list_columns: Vec<String>,
}

/// Role names allowed each action. `"public"` means the delivery API without a token.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub read: Vec<String>,
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
    pub publish: Vec<String>,
}

impl Access {
    pub fn public_read(&self) -> bool {
        self.read.iter().any(|r| r == "public")
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeliverySettings {
    /// `Cache-Control` sent with this type's delivery responses.
    pub cache_control: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub before_save: Vec<String>,
    pub after_save: Vec<String>,
    pub after_publish: Vec<String>,
}

impl Hooks {
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.before_save
            .iter()
            .chain(&self.after_save)
            .chain(&self.after_publish)
    }
}

/// One field of a type (or of a group or repeater).
#[derive(Debug, Clone)]
pub struct Field {
    /// `[a-z][a-z0-9_]*`, not one of [`RESERVED_FIELD_NAMES`].
    pub name: String,
    pub label: Option<String>,
    pub description: Option<String>,
    pub ty: FieldType,
    pub rules: Rules,
    /// Never sent by the delivery API.
    pub private: bool,
    /// One value per locale (only in a type with `locales`).
    pub localized: bool,
    pub default: Option<serde_json::Value>,
    /// The field's previous name: its data moves over at start-up.
    pub renamed_from: Option<String>,
    pub search: Option<SearchSpec>,
}

impl Field {
    /// A field with no rules or options: what a file says with only `name` and `type`.
    pub fn new(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.to_owned(),
            label: None,
            description: None,
            ty,
            rules: Rules::default(),
            private: false,
            localized: false,
            default: None,
            renamed_from: None,
            search: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum FieldType {
    Text,
    LongText,
    Markdown,
    Integer,
    Float,
    Boolean,
    /// RFC 3339 date and time, stored in UTC.
    Datetime,
    /// `YYYY-MM-DD`.
    Date,
    Enum {
        values: Vec<String>,
    },
    Json,
    /// A URL-safe slug, generated from `from` when left empty, kept unique when `unique`.
    Uid {
        from: Option<String>,
    },
    Email,
    Url,
    Relation {
        target: String,
        many: bool,
    },
    Media {
        many: bool,
        /// MIME patterns accepted (`image/*`); empty means any.
        accept: Vec<String>,
    },
    Group {
        fields: Vec<Field>,
    },
    Repeater {
        fields: Vec<Field>,
    },
}

impl FieldType {
    /// The name used in the TOML file.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Markdown => "markdown",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Boolean => "boolean",
            FieldType::Datetime => "datetime",
            FieldType::Date => "date",
            FieldType::Enum { .. } => "enum",
            FieldType::Json => "json",
            FieldType::Uid { .. } => "uid",
            FieldType::Email => "email",
            FieldType::Url => "url",
            FieldType::Relation { .. } => "relation",
            FieldType::Media { .. } => "media",
            FieldType::Group { .. } => "group",
            FieldType::Repeater { .. } => "repeater",
        }
    }

    /// Holds a string in storage (and so takes the string rules).
    pub fn is_stringy(&self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::LongText
                | FieldType::Markdown
                | FieldType::Uid { .. }
                | FieldType::Email
                | FieldType::Url
                | FieldType::Enum { .. }
        )
    }

    /// A single comparable value that filters and sorts apply to directly.
    pub fn is_scalar(&self) -> bool {
        !matches!(
            self,
            FieldType::Json
                | FieldType::Group { .. }
                | FieldType::Repeater { .. }
                | FieldType::Relation { many: true, .. }
                | FieldType::Media { many: true, .. }
        )
    }
}

/// Validation rules; the loader refuses a rule that does not apply to the field's type.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub required: bool,
    pub unique: bool,
    /// Numbers: the value; relations (many), media (many), repeaters: the item count.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Strings: length in characters.
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<Pattern>,
}

/// A compiled `pattern` rule that keeps its source text for messages and the JSON Schema.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSpec {
    pub boost: f32,
}

impl Default for SearchSpec {
    fn default() -> Self {
        Self { boost: 1.0 }
    }
}

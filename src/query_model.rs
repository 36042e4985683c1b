//! The parsed form of the list query language: filters, sorts, pages, fields, populate,
//! formats, and [`Sight`], what a caller may see of the schema. `content::query` parses
//! requests into it; `storage` turns it into SurrealQL and `access` implements [`Sight`].
//! A leaf beside `schema`: it imports nothing but the schema and the error codes, so the
//! modules that read it need not depend on the parser (or on `content`).

use serde_json::Value;

use crate::schema::{ContentType, Field, FieldType, Schema};

/// Who is asking, which decides what exists: for the delivery API `private` fields do not
/// exist, and there is no `status` and no `q`; the admin API has every field, the `status`
/// filter and `q`. (The one audience type, the schema's.)
pub use crate::schema::Audience;

/// What the caller may see of the schema, which decides what exists for a query: a field it
/// may not read, or a relation into a type whose entries it may not read, is reported exactly
/// as a field that is not declared. So a filter, a sort or a populate can never be turned into
/// an oracle for a value the caller could not fetch (`filter[email][starts_with]=a`, then
/// `ab`, ...). The caller's permissions make one (`access`); an [`Audience`] alone sees every
/// field it is allowed by the type (no `private` ones on delivery) and reads every type.
pub trait Sight: Sync {
    fn audience(&self) -> Audience;
    /// Whether `field` of `ty` exists for the caller.
    fn sees(&self, ty: &ContentType, field: &Field) -> bool;
    /// Whether the caller may reach entries of `ty` through a relation.
    fn reads(&self, ty: &ContentType) -> bool;
    /// Whether the caller may follow `field` to the entries it names: true for any field
    /// but a relation into a type the caller may not read (or one that is not loaded).
    fn follows(&self, schema: &Schema, field: &Field) -> bool {
        match &field.ty {
            FieldType::Relation { target, .. } => schema.get(target).is_some_and(|t| self.reads(t)),
            _ => true,
        }
    }
}

impl Sight for Audience {
    fn audience(&self) -> Audience {
        *self
    }

    fn sees(&self, _ty: &ContentType, field: &Field) -> bool {
        *self == Audience::Admin || !field.private
    }

    fn reads(&self, _ty: &ContentType) -> bool {
        true
    }
}

/// Caps that keep one request's work bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    pub default_limit: u32,
    pub max_limit: u32,
    pub max_filters: usize,
    /// Relations followed by `populate`, and by a nested filter (`filter[author.name]` is 1).
    pub max_populate_depth: usize,
    pub max_in_values: usize,
    pub max_sort_keys: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            default_limit: 25,
            max_limit: 100,
            max_filters: 20,
            max_populate_depth: 2,
            max_in_values: 100,
            max_sort_keys: 4,
        }
    }
}

/// A parsed, validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// AND-ed, in the order sent.
    pub filters: Vec<Filter>,
    /// Empty: the caller's default order.
    pub sort: Vec<Sort>,
    pub limit: u32,
    pub pagination: Pagination,
    /// Sparse fieldset: top-level field names, in the order sent. `None`: every field.
    /// Metadata (`id`, timestamps) is always sent, so `fields=id` gives `Some(vec![])`; the
    /// root of every `populate` path is appended, because a populated relation is always sent.
    pub fields: Option<Vec<String>>,
    /// Relation and media paths to expand. Every prefix of a path is listed too, before it:
    /// `author.avatar` gives `[["author"], ["author", "avatar"]]`.
    pub populate: Vec<Vec<String>>,
    pub locale: Option<String>,
    /// `render=html`: markdown fields as sanitised HTML.
    pub render_html: bool,
    pub format: Format,
    /// `q=`, admin only, as sent (`None` when absent or blank).
    pub search: Option<String>,
}

impl ListQuery {
    /// Entries to skip in page mode, in `u64` so that a large `page` cannot overflow.
    pub fn offset(&self) -> Option<u64> {
        match self.pagination {
            Pagination::Page(page) => {
                Some(u64::from(page.saturating_sub(1)) * u64::from(self.limit))
            }
            Pagination::Cursor(_) => None,
        }
    }
}

/// The parameters a single-entry GET accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryQuery {
    /// As [`ListQuery::fields`].
    pub fields: Option<Vec<String>>,
    /// As [`ListQuery::populate`].
    pub populate: Vec<Vec<String>>,
    pub locale: Option<String>,
    pub render_html: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// Offset pagination, 1-based. The default, as `Page(1)`.
    Page(u32),
    /// Keyset pagination: `None` for `cursor=` (the first page), else the opaque token as sent,
    /// for the caller to decode.
    Cursor(Option<String>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Csv,
    Ndjson,
    Rss,
    Atom,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Rss => "rss",
            Format::Atom => "atom",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub target: FilterTarget,
    pub op: Op,
    pub value: FilterValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterTarget {
    Meta(MetaField),
    /// A top-level field of the type the target belongs to.
    Field(String),
    /// A field of the entries a relation points to. With `many`, the filter holds when any of
    /// the related entries matches.
    Related {
        field: String,
        target_type: String,
        many: bool,
        inner: Box<FilterTarget>,
    },
}

/// An entry's metadata that filters and sorts may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaField {
    Id,
    CreatedAt,
    UpdatedAt,
    PublishedAt,
    /// `draft`, `published` or `changed`; admin only, and only on the listed type.
    Status,
}

impl MetaField {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaField::Id => "id",
            MetaField::CreatedAt => "created_at",
            MetaField::UpdatedAt => "updated_at",
            MetaField::PublishedAt => "published_at",
            MetaField::Status => "status",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "id" => MetaField::Id,
            "created_at" => MetaField::CreatedAt,
            "updated_at" => MetaField::UpdatedAt,
            "published_at" => MetaField::PublishedAt,
            "status" => MetaField::Status,
            _ => return None,
        })
    }
}

/// The values `filter[status]` takes.
pub const STATUS_VALUES: &[&str] = &["draft", "published", "changed"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Nin,
    /// On strings: substring. On many-relations: has this entry among them.
    Contains,
    StartsWith,
    /// `true`: the field has a value (a many-relation or many-media: at least one).
    Exists,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Nin => "nin",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::Exists => "exists",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "in" => Op::In,
            "nin" => Op::Nin,
            "contains" => Op::Contains,
            "starts_with" => Op::StartsWith,
            "exists" => Op::Exists,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterValue {
    /// Every operator but `in`, `nin` and `exists`.
    One(Value),
    /// `in` and `nin`: never empty.
    Many(Vec<Value>),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub desc: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// `id` and the timestamps (not `status`).
    Meta(MetaField),
    Field(String),
}

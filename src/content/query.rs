//! The list query language: the decoded query-string pairs of a list request (`filter[..]`,
//! `sort`, `limit`, `page`/`cursor`, `fields`, `populate`, `locale`, `render`, `format`, `q`)
//! parsed into a [`ListQuery`] checked against the content type, and the smaller
//! [`EntryQuery`] of a single-entry GET.
//!
//! This module owns the grammar, the operator table (which operators apply to which field
//! types), the normalisation of filter values so that storage can bind them as they are
//! (integers as JSON integers, datetimes as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` strings, which is how
//! they are stored so string order is time order, entry ids as upper-case ULIDs), the limits that
//! keep a hostile query cheap, and the stable error codes listed in [`ERROR_CODES`].
//!
//! It must not build SurrealQL (storage does that from the AST, binding every value as a
//! parameter), know anything of HTTP, or decide access: whether the caller may read a populated
//! type is the caller's check. Invariants the rest of the code relies on:
//!
//! - every field and type name in the AST is copied from the schema, never from the request, so
//!   storage may use them as identifiers;
//! - a parameter this module does not understand is an error, never ignored: a misspelt filter
//!   silently dropped would answer 200 with the wrong entries;
//! - for [`Audience::Delivery`] a `private` field does not exist: naming one gives
//!   `unknown_field` worded exactly as for a field that is not declared at all;
//! - no input panics: names and values are looked up, never indexed, and every repetition
//!   (filters, list values, sort keys, populate depth) is capped by [`QueryLimits`].

use crate::error::{Code, code};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use indexmap::IndexSet;
use serde_json::Value;
use ulid::Ulid;

use crate::schema::{ContentType, Field, FieldType, Schema};

/// Longest filter value (each item of an `in`/`nin` list), in characters.
pub const MAX_VALUE_CHARS: usize = 1000;
/// Longest `q`, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Longest `cursor`, in characters; real cursors are far shorter.
pub const MAX_CURSOR_CHARS: usize = 1000;
/// Error messages quote at most this much of a name the request sent, so a 10 kB key cannot
/// turn an error body into an amplifier.
const MAX_NAME_ECHO: usize = 64;
/// [`QueryError::param`] keeps at most this much of the parameter name.
const MAX_PARAM_ECHO: usize = 200;

/// Every code a [`QueryError`] can carry; all of them are client errors (400).
pub const ERROR_CODES: &[Code] = &[
    code::UNKNOWN_PARAMETER,
    code::DUPLICATE_PARAMETER,
    code::UNKNOWN_FIELD,
    code::INVALID_FILTER,
    code::INVALID_FILTER_OPERATOR,
    code::INVALID_FILTER_VALUE,
    code::TOO_MANY_FILTERS,
    code::TOO_MANY_VALUES,
    code::INVALID_LIMIT,
    code::INVALID_PAGE,
    code::INVALID_CURSOR,
    code::PAGE_AND_CURSOR,
    code::INVALID_SORT,
    code::POPULATE_TOO_DEEP,
    code::INVALID_POPULATE,
    code::INVALID_FIELDS,
    code::UNKNOWN_LOCALE,
    code::INVALID_RENDER,
    code::INVALID_FORMAT,
    code::INVALID_SEARCH,
];

/// The parsed form the grammar produces (and storage reads) lives in a leaf module, so storage
/// and access depend on it without depending on the parser.
pub use crate::query_model::*;

/// Why a query was refused: `code` is one of [`ERROR_CODES`], `param` the parameter's name as
/// sent (cut at 200 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct QueryError {
    pub code: Code,
    pub param: String,
    pub message: String,
}

impl QueryError {
    fn new(code: Code, param: &str, message: impl Into<String>) -> Self {
        let mut param_echo: String = param.chars().take(MAX_PARAM_ECHO).collect();
        if param_echo.len() < param.len() {
            param_echo.push('…');
        }
        Self {
            code,
            param: param_echo,
            message: message.into(),
        }
    }
}

/// Quotes a name or value from the request for a message: escaped, and cut short.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(MAX_NAME_ECHO).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// Parses the query of `GET /content/{type}` (delivery) or its admin twin.
pub fn parse_list_query(
    schema: &Schema,
    ct: &ContentType,
    pairs: &[(String, String)],
    sight: &dyn Sight,
    limits: &QueryLimits,
) -> Result<ListQuery, QueryError> {
    let audience = sight.audience();
    let cx = Cx {
        schema,
        ct,
        sight,
        limits,
    };
    let mut seen = Seen::default();
    let mut shared = Shared::default();
    let mut filters = FilterSet::default();
    let mut sort = Vec::new();
    let mut limit = None;
    let mut page = None;
    let mut cursor = None;
    let mut format = Format::Json;
    let mut search = None;

    for (key, value) in pairs {
        let (key, value) = (key.as_str(), value.as_str());
        if key == "filter" || key.starts_with("filter[") {
            filters.add(&cx, key, value)?;
            continue;
        }
        if shared.take(&cx, &mut seen, key, value)? {
            continue;
        }
        match key {
            "sort" => {
                seen.once(key)?;
                sort = cx.parse_sort(value)?;
            }
            "limit" => {
                seen.once(key)?;
                limit = Some(parse_limit(value, limits)?);
            }
            "page" => {
                seen.once(key)?;
                if cursor.is_some() {
                    return Err(page_and_cursor(key));
                }
                page = Some(parse_page(value)?);
            }
            "cursor" => {
                seen.once(key)?;
                if page.is_some() {
                    return Err(page_and_cursor(key));
                }
                cursor = Some(parse_cursor(value)?);
            }
            "format" => {
                seen.once(key)?;
                format = parse_format(value)?;
            }
            "q" if audience == Audience::Admin => {
                seen.once(key)?;
                search = parse_search(value)?;
            }
            _ => {
                let accepted = match audience {
                    Audience::Delivery => {
                        "filter[..], sort, limit, page, cursor, fields, populate, locale, \
                         render and format"
                    }
                    Audience::Admin => {
                        "filter[..], sort, limit, page, cursor, fields, populate, locale, \
                         render, format and q"
                    }
                };
                return Err(QueryError::new(
                    code::UNKNOWN_PARAMETER,
                    key,
                    format!(
                        "unknown query parameter {}; a list takes {accepted}",
                        shown(key)
                    ),
                ));
            }
        }
    }

    let pagination = match (page, cursor) {
        (_, Some(cursor)) => Pagination::Cursor(cursor),
        (page, None) => Pagination::Page(page.unwrap_or(1)),
    };
    let shared = shared.finish();
    Ok(ListQuery {
        filters: filters.finish(),
        sort,
        limit: limit.unwrap_or(limits.default_limit),
        pagination,
        fields: shared.fields,
        populate: shared.populate,
        locale: shared.locale,
        render_html: shared.render_html,
        format,
        search,
    })
}

/// Parses the query of `GET /content/{type}/{id-or-uid}`: `fields`, `populate`, `locale` and
/// `render` only, since a list's parameters mean nothing for one entry.
pub fn parse_entry_query(
    schema: &Schema,
    ct: &ContentType,
    pairs: &[(String, String)],
    sight: &dyn Sight,
    limits: &QueryLimits,
) -> Result<EntryQuery, QueryError> {
    let cx = Cx {
        schema,
        ct,
        sight,
        limits,
    };
    let mut seen = Seen::default();
    let mut shared = Shared::default();
    for (key, value) in pairs {
        if !shared.take(&cx, &mut seen, key, value)? {
            return Err(QueryError::new(
                code::UNKNOWN_PARAMETER,
                key,
                format!(
                    "unknown query parameter {}; one entry takes fields, populate, locale and \
                     render",
                    shown(key)
                ),
            ));
        }
    }
    Ok(shared.finish())
}

/// Parses `fields=title,slug` into top-level field names, metadata names dropped (metadata
/// is always sent) and repeats removed.
pub fn parse_fields(
    ct: &ContentType,
    raw: &str,
    sight: &dyn Sight,
) -> Result<Vec<String>, QueryError> {
    let audience = sight.audience();
    const PARAM: &str = "fields";
    if raw.is_empty() {
        return Err(QueryError::new(
            code::INVALID_FIELDS,
            PARAM,
            "fields takes a comma-separated list of field names",
        ));
    }
    let mut fields: Vec<String> = Vec::new();
    for name in raw.split(',') {
        if name.is_empty() {
            return Err(QueryError::new(
                code::INVALID_FIELDS,
                PARAM,
                "fields has an empty name (two commas in a row, or a comma at an end)",
            ));
        }
        if name.contains('.') {
            return Err(QueryError::new(
                code::INVALID_FIELDS,
                PARAM,
                format!(
                    "fields names top-level fields, not {}; populate a relation to get its \
                     entries",
                    shown(name)
                ),
            ));
        }
        match MetaField::from_name(name) {
            Some(MetaField::Status) if audience == Audience::Delivery => {}
            Some(_) => continue,
            None => {}
        }
        let field = visible_field(ct, name, sight).ok_or_else(|| no_such_field(PARAM, ct, name))?;
        if !fields.contains(&field.name) {
            fields.push(field.name.clone());
        }
    }
    Ok(fields)
}

/// Parses `populate=author,tags,author.avatar` or `populate=*` (every relation and media field
/// of the type, one level). Each segment must be a relation or media field of the type at its
/// level, only the last may be media, and a path is at most `max_populate_depth` long.
pub fn parse_populate(
    schema: &Schema,
    ct: &ContentType,
    raw: &str,
    sight: &dyn Sight,
    limits: &QueryLimits,
) -> Result<Vec<Vec<String>>, QueryError> {
    const PARAM: &str = "populate";
    let invalid = |message: String| QueryError::new(code::INVALID_POPULATE, PARAM, message);
    if raw.is_empty() {
        return Err(invalid(
            "populate takes a comma-separated list of relation or media fields \
             (author,tags,author.avatar), or *"
                .to_owned(),
        ));
    }
    let mut paths: IndexSet<Vec<String>> = IndexSet::new();
    for item in raw.split(',') {
        if item == "*" {
            for field in &ct.fields {
                if is_populatable(&field.ty)
                    && sight.sees(ct, field)
                    && sight.follows(schema, field)
                {
                    paths.insert(vec![field.name.clone()]);
                }
            }
            continue;
        }
        let segments: Vec<&str> = item.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(invalid(format!(
                "populate has an empty name in {}",
                shown(item)
            )));
        }
        if segments.contains(&"*") {
            return Err(invalid(format!(
                "* stands alone in populate (every relation of the type), not in {}",
                shown(item)
            )));
        }
        if segments.len() > limits.max_populate_depth {
            return Err(QueryError::new(
                code::POPULATE_TOO_DEEP,
                PARAM,
                format!(
                    "{} is {} relations deep; populate follows at most {}",
                    shown(item),
                    segments.len(),
                    limits.max_populate_depth
                ),
            ));
        }
        let mut ty = ct;
        let mut path = Vec::with_capacity(segments.len());
        for (i, name) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let field =
                visible_field(ty, name, sight).ok_or_else(|| no_such_field(PARAM, ty, name))?;
            match &field.ty {
                FieldType::Relation { target, .. } => {
                    let target_ty = schema.get(target).map(|t| &**t).ok_or_else(|| {
                        invalid(format!(
                            "{} points to type {}, which is not loaded",
                            shown(name),
                            shown(target)
                        ))
                    })?;
                    // A relation into a type the caller may not read does not exist for it.
                    if !sight.reads(target_ty) {
                        return Err(no_such_field(PARAM, ty, name));
                    }
                    if !last {
                        ty = target_ty;
                    }
                }
                FieldType::Media { .. } if last => {}
                FieldType::Media { .. } => {
                    return Err(invalid(format!(
                        "{} is a media field: it has nothing to populate below it",
                        shown(name)
                    )));
                }
                other => {
                    return Err(invalid(format!(
                        "{} is a {} field; only relation and media fields can be populated",
                        shown(name),
                        other.name()
                    )));
                }
            }
            path.push(field.name.clone());
            paths.insert(path.clone());
        }
    }
    Ok(paths.into_iter().collect())
}

fn is_populatable(ty: &FieldType) -> bool {
    matches!(ty, FieldType::Relation { .. } | FieldType::Media { .. })
}

/// A field the caller may see.
fn visible_field<'s>(ty: &'s ContentType, name: &str, sight: &dyn Sight) -> Option<&'s Field> {
    ty.field(name).filter(|f| sight.sees(ty, f))
}

/// The same words for a private field on delivery as for an undeclared one, so that the
/// error does not tell the public which private fields exist.
fn no_such_field(param: &str, ty: &ContentType, name: &str) -> QueryError {
    QueryError::new(
        code::UNKNOWN_FIELD,
        param,
        format!("type {} has no field {}", shown(&ty.id), shown(name)),
    )
}

fn page_and_cursor(param: &str) -> QueryError {
    QueryError::new(
        code::PAGE_AND_CURSOR,
        param,
        "page (offset pagination) and cursor (keyset pagination) cannot be combined",
    )
}

/// A non-empty run of ASCII digits that fits a `u32`; `+5`, ` 5` and `1e2` are refused.
fn parse_u32_digits(raw: &str) -> Option<u32> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn parse_limit(raw: &str, limits: &QueryLimits) -> Result<u32, QueryError> {
    parse_u32_digits(raw)
        .filter(|n| (1..=limits.max_limit).contains(n))
        .ok_or_else(|| {
            QueryError::new(
                code::INVALID_LIMIT,
                "limit",
                format!(
                    "limit must be a whole number from 1 to {}, not {}",
                    limits.max_limit,
                    shown(raw)
                ),
            )
        })
}

fn parse_page(raw: &str) -> Result<u32, QueryError> {
    parse_u32_digits(raw).filter(|n| *n >= 1).ok_or_else(|| {
        QueryError::new(
            code::INVALID_PAGE,
            "page",
            format!("page must be a whole number from 1, not {}", shown(raw)),
        )
    })
}

fn parse_cursor(raw: &str) -> Result<Option<String>, QueryError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.chars().count() > MAX_CURSOR_CHARS {
        return Err(QueryError::new(
            code::INVALID_CURSOR,
            "cursor",
            "cursor is not one this server issued; start again with cursor=",
        ));
    }
    Ok(Some(raw.to_owned()))
}

fn parse_format(raw: &str) -> Result<Format, QueryError> {
    Ok(match raw {
        "json" => Format::Json,
        "csv" => Format::Csv,
        "ndjson" => Format::Ndjson,
        "rss" => Format::Rss,
        "atom" => Format::Atom,
        _ => {
            return Err(QueryError::new(
                code::INVALID_FORMAT,
                "format",
                format!(
                    "format must be json, csv, ndjson, rss or atom, not {}",
                    shown(raw)
                ),
            ));
        }
    })
}

fn parse_search(raw: &str) -> Result<Option<String>, QueryError> {
    if raw.chars().count() > MAX_SEARCH_CHARS {
        return Err(QueryError::new(
            code::INVALID_SEARCH,
            "q",
            format!("q is limited to {MAX_SEARCH_CHARS} characters"),
        ));
    }
    // An empty search box sends `q=`: that is no search, not a search for nothing.
    Ok((!raw.trim().is_empty()).then(|| raw.to_owned()))
}

/// What the parse works against.
struct Cx<'s> {
    schema: &'s Schema,
    ct: &'s ContentType,
    sight: &'s dyn Sight,
    limits: &'s QueryLimits,
}

/// Single-valued parameters already given: a second `limit` is ambiguous, so it is refused.
#[derive(Default)]
struct Seen<'q> {
    names: Vec<&'q str>,
}

impl<'q> Seen<'q> {
    fn once(&mut self, name: &'q str) -> Result<(), QueryError> {
        if self.names.contains(&name) {
            return Err(QueryError::new(
                code::DUPLICATE_PARAMETER,
                name,
                format!("{name} is given more than once"),
            ));
        }
        self.names.push(name);
        Ok(())
    }
}

/// The parameters lists and single entries share.
#[derive(Default)]
struct Shared {
    fields: Option<Vec<String>>,
    populate: Vec<Vec<String>>,
    locale: Option<String>,
    render_html: bool,
}

impl Shared {
    /// Handles `key` if it is one of the shared parameters.
    fn take<'q>(
        &mut self,
        cx: &Cx<'_>,
        seen: &mut Seen<'q>,
        key: &'q str,
        value: &str,
    ) -> Result<bool, QueryError> {
        match key {
            "fields" => {
                seen.once(key)?;
                self.fields = Some(parse_fields(cx.ct, value, cx.sight)?);
            }
            "populate" => {
                seen.once(key)?;
                self.populate = parse_populate(cx.schema, cx.ct, value, cx.sight, cx.limits)?;
            }
            "locale" => {
                seen.once(key)?;
                self.locale = Some(parse_locale(cx.ct, value)?);
            }
            "render" => {
                seen.once(key)?;
                if value != "html" {
                    return Err(QueryError::new(
                        code::INVALID_RENDER,
                        key,
                        format!("render takes only html, not {}", shown(value)),
                    ));
                }
                self.render_html = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(mut self) -> EntryQuery {
        if let Some(fields) = &mut self.fields {
            for path in &self.populate {
                if let Some(root) = path.first()
                    && !fields.contains(root)
                {
                    fields.push(root.clone());
                }
            }
        }
        EntryQuery {
            fields: self.fields,
            populate: self.populate,
            locale: self.locale,
            render_html: self.render_html,
        }
    }
}

fn parse_locale(ct: &ContentType, raw: &str) -> Result<String, QueryError> {
    if ct.locales.iter().any(|l| l == raw) {
        return Ok(raw.to_owned());
    }
    let message = if ct.is_localized() {
        format!(
            "type {} has no locale {}; it has {}",
            shown(&ct.id),
            shown(raw),
            list_names(ct.locales.iter().map(String::as_str))
        )
    } else {
        format!("type {} is not localised", shown(&ct.id))
    };
    Err(QueryError::new(code::UNKNOWN_LOCALE, "locale", message))
}

/// How a filter value is typed, from the field (or metadata) it compares with.
#[derive(Debug, Clone, Copy)]
enum ValueKind<'s> {
    Text,
    Integer,
    Float,
    Boolean,
    Datetime,
    Date,
    OneOf(&'s [String]),
    Status,
    Ulid,
    /// Json, group, repeater, media: only `exists` applies, which takes no typed value.
    Nothing,
}

const ORDERED: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Lt,
    Op::Lte,
    Op::Gt,
    Op::Gte,
    Op::In,
    Op::Nin,
    Op::Exists,
];
const ORDERED_TEXT: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::Lt,
    Op::Lte,
    Op::Gt,
    Op::Gte,
    Op::In,
    Op::Nin,
    Op::Contains,
    Op::StartsWith,
    Op::Exists,
];
/// Long text and markdown: no ordering, as they are not sortable either.
const LONG_TEXT: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::In,
    Op::Nin,
    Op::Contains,
    Op::StartsWith,
    Op::Exists,
];
const EQUALITY: &[Op] = &[Op::Eq, Op::Ne, Op::In, Op::Nin, Op::Exists];
const MEMBERSHIP: &[Op] = &[Op::Contains, Op::Exists];
const PRESENCE: &[Op] = &[Op::Exists];

/// The end of a filter path: its type, the operators it takes, and words for messages.
struct Leaf<'s> {
    kind: ValueKind<'s>,
    ops: &'static [Op],
    what: String,
}

fn meta_leaf<'s>(meta: MetaField) -> Leaf<'s> {
    let (kind, ops) = match meta {
        // ULIDs sort by creation time, so ordering them is meaningful.
        MetaField::Id => (ValueKind::Ulid, ORDERED),
        MetaField::CreatedAt | MetaField::UpdatedAt | MetaField::PublishedAt => {
            (ValueKind::Datetime, ORDERED)
        }
        MetaField::Status => (ValueKind::Status, EQUALITY),
    };
    Leaf {
        kind,
        ops,
        what: format!("{:?}", meta.as_str()),
    }
}

fn field_leaf(field: &Field) -> Leaf<'_> {
    let (kind, ops) = match &field.ty {
        FieldType::Text | FieldType::Uid { .. } | FieldType::Email | FieldType::Url => {
            (ValueKind::Text, ORDERED_TEXT)
        }
        FieldType::LongText | FieldType::Markdown => (ValueKind::Text, LONG_TEXT),
        FieldType::Integer => (ValueKind::Integer, ORDERED),
        FieldType::Float => (ValueKind::Float, ORDERED),
        FieldType::Datetime => (ValueKind::Datetime, ORDERED),
        FieldType::Date => (ValueKind::Date, ORDERED),
        FieldType::Boolean => (ValueKind::Boolean, EQUALITY),
        FieldType::Enum { values } => (ValueKind::OneOf(values), EQUALITY),
        FieldType::Relation { many: false, .. } => (ValueKind::Ulid, EQUALITY),
        FieldType::Relation { many: true, .. } => (ValueKind::Ulid, MEMBERSHIP),
        FieldType::Media { .. }
        | FieldType::Json
        | FieldType::Group { .. }
        | FieldType::Repeater { .. } => (ValueKind::Nothing, PRESENCE),
    };
    let many = match field.ty {
        FieldType::Relation { many: true, .. } | FieldType::Media { many: true, .. } => " (many)",
        _ => "",
    };
    Leaf {
        kind,
        ops,
        what: format!("{} field {:?}{many}", field.ty.name(), field.name),
    }
}

/// The shape of a filter key: `filter[path]`, `filter[path][op]` or `filter[path][op][]`.
struct FilterKey<'q> {
    path: &'q str,
    op: Option<&'q str>,
    list: bool,
}

fn parse_filter_key(key: &str) -> Option<FilterKey<'_>> {
    let mut rest = key.strip_prefix("filter")?;
    let mut groups: Vec<&str> = Vec::with_capacity(3);
    while !rest.is_empty() {
        rest = rest.strip_prefix('[')?;
        let end = rest.find(']')?;
        let (inner, after) = rest.split_at(end);
        if inner.contains('[') || groups.len() == 3 {
            return None;
        }
        groups.push(inner);
        rest = after.strip_prefix(']')?;
    }
    match groups.as_slice() {
        [path] => Some(FilterKey {
            path,
            op: None,
            list: false,
        }),
        [path, op] if !op.is_empty() => Some(FilterKey {
            path,
            op: Some(op),
            list: false,
        }),
        [path, op, ""] if !op.is_empty() => Some(FilterKey {
            path,
            op: Some(op),
            list: true,
        }),
        _ => None,
    }
}

/// Filters in the order first sent. `filter[x][in][]` pairs with the same key gather their
/// values into one filter; any other repeated key is a second filter, AND-ed.
#[derive(Default)]
struct FilterSet<'s> {
    entries: Vec<Pending<'s>>,
}

enum Pending<'s> {
    Ready(Filter),
    List {
        key: String,
        target: FilterTarget,
        op: Op,
        kind: ValueKind<'s>,
        values: Vec<Value>,
    },
}

impl<'s> FilterSet<'s> {
    fn add(&mut self, cx: &Cx<'s>, key: &str, raw: &str) -> Result<(), QueryError> {
        let parsed = parse_filter_key(key).ok_or_else(|| {
            QueryError::new(
                code::INVALID_FILTER,
                key,
                "a filter is filter[field]=value, filter[field][op]=value or \
                 filter[field][in][]=value",
            )
        })?;
        if parsed.list {
            for entry in &mut self.entries {
                if let Pending::List {
                    key: k,
                    kind,
                    values,
                    ..
                } = entry
                    && k == key
                {
                    if values.len() >= cx.limits.max_in_values {
                        return Err(too_many_values(key, cx.limits));
                    }
                    values.push(typed_value(*kind, raw, key)?);
                    return Ok(());
                }
            }
        }
        if self.entries.len() >= cx.limits.max_filters {
            return Err(QueryError::new(
                code::TOO_MANY_FILTERS,
                key,
                format!("a query takes at most {} filters", cx.limits.max_filters),
            ));
        }

        let (target, leaf) = cx.resolve_filter_path(key, parsed.path)?;
        let op = match parsed.op {
            None => Op::Eq,
            Some(name) => Op::from_name(name).ok_or_else(|| {
                QueryError::new(
                    code::INVALID_FILTER_OPERATOR,
                    key,
                    format!(
                        "unknown operator {}; {} takes {}",
                        shown(name),
                        leaf.what,
                        list_names(leaf.ops.iter().map(|o| o.as_str()))
                    ),
                )
            })?,
        };
        if !leaf.ops.contains(&op) {
            return Err(QueryError::new(
                code::INVALID_FILTER_OPERATOR,
                key,
                format!(
                    "operator {} does not apply to {}, which takes {}",
                    op.as_str(),
                    leaf.what,
                    list_names(leaf.ops.iter().map(|o| o.as_str()))
                ),
            ));
        }
        if parsed.list {
            if !matches!(op, Op::In | Op::Nin) {
                return Err(QueryError::new(
                    code::INVALID_FILTER,
                    key,
                    format!(
                        "[] (one value per pair) goes only with in and nin, not {}",
                        op.as_str()
                    ),
                ));
            }
            let value = typed_value(leaf.kind, raw, key)?;
            self.entries.push(Pending::List {
                key: key.to_owned(),
                target,
                op,
                kind: leaf.kind,
                values: vec![value],
            });
            return Ok(());
        }

        let value = match op {
            Op::Exists => match raw {
                "true" => FilterValue::Exists(true),
                "false" => FilterValue::Exists(false),
                _ => {
                    return Err(QueryError::new(
                        code::INVALID_FILTER_VALUE,
                        key,
                        format!("exists takes true or false, not {}", shown(raw)),
                    ));
                }
            },
            Op::In | Op::Nin => {
                let mut values = Vec::new();
                // Lazily split, so a value of a million commas costs max_in_values items.
                for item in raw.split(',') {
                    if values.len() >= cx.limits.max_in_values {
                        return Err(too_many_values(key, cx.limits));
                    }
                    if item.is_empty() {
                        return Err(QueryError::new(
                            code::INVALID_FILTER_VALUE,
                            key,
                            format!(
                                "{} takes a comma-separated list without empty items; use \
                                 {}[]=value pairs for values that contain commas",
                                op.as_str(),
                                shown(key)
                            ),
                        ));
                    }
                    values.push(typed_value(leaf.kind, item, key)?);
                }
                FilterValue::Many(values)
            }
            Op::Contains | Op::StartsWith if raw.is_empty() => {
                return Err(QueryError::new(
                    code::INVALID_FILTER_VALUE,
                    key,
                    format!("{} needs a non-empty value", op.as_str()),
                ));
            }
            _ => FilterValue::One(typed_value(leaf.kind, raw, key)?),
        };
        self.entries
            .push(Pending::Ready(Filter { target, op, value }));
        Ok(())
    }

    fn finish(self) -> Vec<Filter> {
        self.entries
            .into_iter()
            .map(|entry| match entry {
                Pending::Ready(filter) => filter,
                Pending::List {
                    target, op, values, ..
                } => Filter {
                    target,
                    op,
                    value: FilterValue::Many(values),
                },
            })
            .collect()
    }
}

fn too_many_values(key: &str, limits: &QueryLimits) -> QueryError {
    QueryError::new(
        code::TOO_MANY_VALUES,
        key,
        format!("a list takes at most {} values", limits.max_in_values),
    )
}

impl<'s> Cx<'s> {
    /// Resolves `title`, `author.name` or `author.mentor.name` against the schema.
    fn resolve_filter_path(
        &self,
        key: &str,
        path: &str,
    ) -> Result<(FilterTarget, Leaf<'s>), QueryError> {
        let segments: Vec<&str> = path.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(QueryError::new(
                code::INVALID_FILTER,
                key,
                "a filter names a field: filter[title], or filter[author.name] through a \
                 relation",
            ));
        }
        let hops = segments.len() - 1;
        if hops > self.limits.max_populate_depth {
            return Err(QueryError::new(
                code::INVALID_FILTER,
                key,
                format!(
                    "a filter follows at most {} relations, this one {hops}",
                    self.limits.max_populate_depth
                ),
            ));
        }
        self.resolve_in(self.ct, &segments, true, key)
    }

    fn resolve_in(
        &self,
        ty: &'s ContentType,
        segments: &[&str],
        top: bool,
        key: &str,
    ) -> Result<(FilterTarget, Leaf<'s>), QueryError> {
        let (name, rest) = match segments {
            [] => {
                return Err(QueryError::new(
                    code::INVALID_FILTER,
                    key,
                    "a filter names a field",
                ));
            }
            [name, rest @ ..] => (*name, rest),
        };
        if rest.is_empty() {
            return self.leaf(ty, name, top, key);
        }
        if MetaField::from_name(name).is_some() {
            return Err(QueryError::new(
                code::INVALID_FILTER,
                key,
                format!(
                    "{} is not a relation; only relations can be followed with .",
                    shown(name)
                ),
            ));
        }
        let field =
            visible_field(ty, name, self.sight).ok_or_else(|| no_such_field(key, ty, name))?;
        let FieldType::Relation { target, many } = &field.ty else {
            return Err(QueryError::new(
                code::INVALID_FILTER,
                key,
                format!(
                    "{} is a {} field; only relations can be followed with .",
                    shown(name),
                    field.ty.name()
                ),
            ));
        };
        let target_ty = self.schema.get(target).ok_or_else(|| {
            QueryError::new(
                code::INVALID_FILTER,
                key,
                format!(
                    "{} points to type {}, which is not loaded",
                    shown(name),
                    shown(target)
                ),
            )
        })?;
        // A relation into a type the caller may not read does not exist for it.
        if !self.sight.reads(target_ty) {
            return Err(no_such_field(key, ty, name));
        }
        let (inner, leaf) = self.resolve_in(target_ty, rest, false, key)?;
        Ok((
            FilterTarget::Related {
                field: field.name.clone(),
                target_type: target_ty.id.clone(),
                many: *many,
                inner: Box::new(inner),
            },
            leaf,
        ))
    }

    fn leaf(
        &self,
        ty: &'s ContentType,
        name: &str,
        top: bool,
        key: &str,
    ) -> Result<(FilterTarget, Leaf<'s>), QueryError> {
        if let Some(meta) = MetaField::from_name(name) {
            if meta == MetaField::Status {
                if self.sight.audience() == Audience::Delivery {
                    return Err(no_such_field(key, ty, name));
                }
                if !top {
                    return Err(QueryError::new(
                        code::INVALID_FILTER,
                        key,
                        "status filters the listed entries only, not related ones",
                    ));
                }
            }
            return Ok((FilterTarget::Meta(meta), meta_leaf(meta)));
        }
        let field =
            visible_field(ty, name, self.sight).ok_or_else(|| no_such_field(key, ty, name))?;
        Ok((FilterTarget::Field(field.name.clone()), field_leaf(field)))
    }

    /// Parses `sort=-published_at,title`.
    fn parse_sort(&self, raw: &str) -> Result<Vec<Sort>, QueryError> {
        const PARAM: &str = "sort";
        let invalid = |message: String| QueryError::new(code::INVALID_SORT, PARAM, message);
        if raw.is_empty() {
            return Err(invalid(
                "sort takes a comma-separated list of fields, - before one for descending \
                 (sort=-published_at,title)"
                    .to_owned(),
            ));
        }
        let mut sort: Vec<Sort> = Vec::new();
        for item in raw.split(',') {
            if sort.len() >= self.limits.max_sort_keys {
                return Err(invalid(format!(
                    "sort takes at most {} keys",
                    self.limits.max_sort_keys
                )));
            }
            let (desc, name) = match item.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, item),
            };
            if name.is_empty() {
                return Err(invalid(
                    "sort has an empty name (two commas in a row, a comma at an end, or a \
                     lone -)"
                        .to_owned(),
                ));
            }
            if name.contains('.') {
                return Err(invalid(format!(
                    "cannot sort by {}: sorting by a related entry's field is not supported",
                    shown(name)
                )));
            }
            let key = match MetaField::from_name(name) {
                Some(MetaField::Status) if self.sight.audience() == Audience::Delivery => {
                    return Err(no_such_field(PARAM, self.ct, name));
                }
                Some(MetaField::Status) => {
                    return Err(invalid("cannot sort by status; filter by it".to_owned()));
                }
                Some(meta) => SortKey::Meta(meta),
                None => {
                    let field = visible_field(self.ct, name, self.sight)
                        .ok_or_else(|| no_such_field(PARAM, self.ct, name))?;
                    if !is_sortable(&field.ty) {
                        return Err(invalid(format!(
                            "cannot sort by {} field {:?}; sort by id, created_at, \
                             updated_at, published_at or a text, number, boolean, date, \
                             datetime, enum, uid, email or url field",
                            field.ty.name(),
                            field.name
                        )));
                    }
                    SortKey::Field(field.name.clone())
                }
            };
            if sort.iter().any(|s| s.key == key) {
                return Err(invalid(format!("sort names {} twice", shown(name))));
            }
            sort.push(Sort { key, desc });
        }
        Ok(sort)
    }
}

/// Scalar fields with an order a reader expects. Relations and media are left out although
/// single ones are scalar: ordering by an id is never what `sort=author` means.
fn is_sortable(ty: &FieldType) -> bool {
    ty.is_scalar()
        && !matches!(
            ty,
            FieldType::LongText
                | FieldType::Markdown
                | FieldType::Relation { .. }
                | FieldType::Media { .. }
        )
}

/// Types one filter value, normalised so storage binds it as is.
fn typed_value(kind: ValueKind<'_>, raw: &str, key: &str) -> Result<Value, QueryError> {
    if raw.len() > MAX_VALUE_CHARS && raw.chars().count() > MAX_VALUE_CHARS {
        return Err(QueryError::new(
            code::INVALID_FILTER_VALUE,
            key,
            format!("a filter value is at most {MAX_VALUE_CHARS} characters"),
        ));
    }
    let typed = match kind {
        ValueKind::Text => Ok(Value::String(raw.to_owned())),
        // `parse` refuses fractions and anything beyond i64, the range storage holds.
        ValueKind::Integer => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "expected a whole number (64-bit)".to_owned()),
        ValueKind::Float => raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| "expected a finite number".to_owned()),
        ValueKind::Boolean => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("expected true or false".to_owned()),
        },
        ValueKind::Datetime => normalise_datetime(raw).map(Value::String).ok_or_else(|| {
            "expected an RFC 3339 date-time (2024-01-31T09:30:00Z) or a date (2024-01-31)"
                .to_owned()
        }),
        ValueKind::Date => {
            if is_iso_date(raw) && NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok() {
                Ok(Value::String(raw.to_owned()))
            } else {
                Err("expected a date as YYYY-MM-DD".to_owned())
            }
        }
        ValueKind::OneOf(values) => {
            if values.iter().any(|v| v == raw) {
                Ok(Value::String(raw.to_owned()))
            } else {
                Err(format!(
                    "expected one of {}",
                    list_names(values.iter().map(String::as_str))
                ))
            }
        }
        ValueKind::Status => {
            if STATUS_VALUES.contains(&raw) {
                Ok(Value::String(raw.to_owned()))
            } else {
                Err(format!(
                    "expected one of {}",
                    list_names(STATUS_VALUES.iter().copied())
                ))
            }
        }
        // `Ulid::from_string` drops the bits a first character above 7 overflows into, so
        // `81H…` would name the same entry as `01H…`; a ULID never starts above 7.
        ValueKind::Ulid => Ulid::from_string(raw)
            .ok()
            .filter(|_| {
                raw.as_bytes()
                    .first()
                    .is_some_and(|b| (b'0'..=b'7').contains(b))
            })
            .map(|id| Value::String(id.to_string()))
            .ok_or_else(|| "expected an entry id (a 26-character ULID)".to_owned()),
        ValueKind::Nothing => Err("this field only takes exists".to_owned()),
    };
    typed.map_err(|expected| {
        QueryError::new(
            code::INVALID_FILTER_VALUE,
            key,
            format!("invalid value {}: {expected}", shown(raw)),
        )
    })
}

/// `YYYY-MM-DD` exactly: chrono alone would take `2024-1-5` or a signed five-digit year.
fn is_iso_date(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// Any RFC 3339 date-time, or a bare date meaning midnight UTC, as the stored UTC format.
/// Digits below the millisecond are dropped, as storage keeps milliseconds.
/// Years outside 0000..=9999 are refused: they would not format in four digits, and string
/// order would stop being time order.
fn normalise_datetime(raw: &str) -> Option<String> {
    let utc = match DateTime::parse_from_rfc3339(raw) {
        Ok(datetime) => datetime.with_timezone(&Utc),
        Err(_) if is_iso_date(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()?
            .and_time(NaiveTime::MIN)
            .and_utc(),
        Err(_) => return None,
    };
    (0..=9999)
        .contains(&utc.year())
        .then(|| crate::time::stamp(utc))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{Access, AdminSettings, DeliverySettings, Hooks, Kind};

    const ULID_A: &str = "01HZX3V7Q8M2K4N6P9R1S3T5W7";
    const ULID_B: &str = "01HZX3V7Q8M2K4N6P9R1S3T5W8";

    fn field(name: &str, ty: FieldType) -> Field {
        Field::new(name, ty)
    }

    fn content_type(id: &str, locales: &[&str], fields: Vec<Field>) -> ContentType {
        ContentType {
            id: id.to_owned(),
            kind: Kind::Collection,
            name: id.to_owned(),
            description: None,
            drafts: true,
            locales: locales.iter().map(|l| (*l).to_owned()).collect(),
            search: false,
            admin: AdminSettings::default(),
            access: Access::default(),
            delivery: DeliverySettings::default(),
            fields,
            hooks: Hooks::default(),
            source: format!("content-types/{id}.toml").into(),
        }
    }

    fn relation(target: &str, many: bool) -> FieldType {
        FieldType::Relation {
            target: target.to_owned(),
            many,
        }
    }

    fn media(many: bool) -> FieldType {
        FieldType::Media {
            many,
            accept: vec![],
        }
    }

    fn private(mut field: Field) -> Field {
        field.private = true;
        field
    }

    fn schema() -> Schema {
        let mut slug = field(
            "slug",
            FieldType::Uid {
                from: Some("title".to_owned()),
            },
        );
        slug.rules.unique = true;
        let article = content_type(
            "article",
            &["en", "fr"],
            vec![
                field("title", FieldType::Text),
                slug,
                field("body", FieldType::Markdown),
                field("summary", FieldType::LongText),
                field("views", FieldType::Integer),
                field("rating", FieldType::Float),
                field("featured", FieldType::Boolean),
                field("published_on", FieldType::Date),
                field("event_at", FieldType::Datetime),
                field(
                    "category",
                    FieldType::Enum {
                        values: vec!["news".into(), "guide".into(), "opinion".into()],
                    },
                ),
                field("author", relation("author", false)),
                field("tags", relation("tag", true)),
                field("cover", media(false)),
                field("extra", FieldType::Json),
                field(
                    "seo",
                    FieldType::Group {
                        fields: vec![field("title", FieldType::Text)],
                    },
                ),
                private(field("internal_notes", FieldType::Text)),
                private(field("reviewer", relation("author", false))),
            ],
        );
        let author = content_type(
            "author",
            &[],
            vec![
                field("name", FieldType::Text),
                field("email", FieldType::Email),
                field("avatar", media(false)),
                field("mentor", relation("author", false)),
                private(field("salary", FieldType::Integer)),
            ],
        );
        let tag = content_type(
            "tag",
            &[],
            vec![field("slug", FieldType::Uid { from: None })],
        );
        Schema::new(vec![article, author, tag])
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn list_as(
        audience: Audience,
        type_id: &str,
        items: &[(&str, &str)],
    ) -> Result<ListQuery, QueryError> {
        let schema = schema();
        let ct = schema.get(type_id).expect("type in fixture").clone();
        parse_list_query(
            &schema,
            &ct,
            &pairs(items),
            &audience,
            &QueryLimits::default(),
        )
    }

    fn list(items: &[(&str, &str)]) -> Result<ListQuery, QueryError> {
        list_as(Audience::Delivery, "article", items)
    }

    fn admin(items: &[(&str, &str)]) -> Result<ListQuery, QueryError> {
        list_as(Audience::Admin, "article", items)
    }

    fn entry_as(audience: Audience, items: &[(&str, &str)]) -> Result<EntryQuery, QueryError> {
        let schema = schema();
        let ct = schema.get("article").expect("type in fixture").clone();
        parse_entry_query(
            &schema,
            &ct,
            &pairs(items),
            &audience,
            &QueryLimits::default(),
        )
    }

    /// The single filter of a query that must parse.
    fn one_filter(key: &str, value: &str) -> Filter {
        let query = list(&[(key, value)]).expect("filter parses");
        assert_eq!(query.filters.len(), 1);
        query.filters.into_iter().next().expect("one filter")
    }

    /// The (code, param) of a query that must fail.
    fn refused(result: Result<ListQuery, QueryError>) -> (Code, String) {
        let error = result.expect_err("query must be refused");
        (error.code, error.param)
    }

    fn refused_as(items: &[(&str, &str)]) -> (Code, String) {
        refused(list(items))
    }

    fn err(code: Code, param: &str) -> (Code, String) {
        (code, param.to_owned())
    }

    fn field_target(name: &str) -> FilterTarget {
        FilterTarget::Field(name.to_owned())
    }

    #[test]
    fn empty_query_gives_the_defaults() {
        let query = list(&[]).expect("parses");
        assert_eq!(
            query,
            ListQuery {
                filters: vec![],
                sort: vec![],
                limit: 25,
                pagination: Pagination::Page(1),
                fields: None,
                populate: vec![],
                locale: None,
                render_html: false,
                format: Format::Json,
                search: None,
            }
        );
        assert_eq!(query.offset(), Some(0));
    }

    #[test]
    fn a_full_query_parses_into_the_exact_ast() {
        let query = list(&[
            ("filter[category]", "news"),
            ("filter[views][gte]", "10"),
            ("filter[author.name][eq]", "Ada"),
            ("filter[tags.slug][eq]", "rust"),
            ("sort", "-published_at,title"),
            ("limit", "10"),
            ("page", "3"),
            ("fields", "title,slug"),
            ("populate", "author,tags,author.avatar"),
            ("locale", "fr"),
            ("render", "html"),
            ("format", "ndjson"),
        ])
        .expect("parses");
        assert_eq!(
            query,
            ListQuery {
                filters: vec![
                    Filter {
                        target: field_target("category"),
                        op: Op::Eq,
                        value: FilterValue::One(json!("news")),
                    },
                    Filter {
                        target: field_target("views"),
                        op: Op::Gte,
                        value: FilterValue::One(json!(10)),
                    },
                    Filter {
                        target: FilterTarget::Related {
                            field: "author".into(),
                            target_type: "author".into(),
                            many: false,
                            inner: Box::new(field_target("name")),
                        },
                        op: Op::Eq,
                        value: FilterValue::One(json!("Ada")),
                    },
                    Filter {
                        target: FilterTarget::Related {
                            field: "tags".into(),
                            target_type: "tag".into(),
                            many: true,
                            inner: Box::new(field_target("slug")),
                        },
                        op: Op::Eq,
                        value: FilterValue::One(json!("rust")),
                    },
                ],
                sort: vec![
                    Sort {
                        key: SortKey::Meta(MetaField::PublishedAt),
                        desc: true,
                    },
                    Sort {
                        key: SortKey::Field("title".into()),
                        desc: false,
                    },
                ],
                limit: 10,
                pagination: Pagination::Page(3),
                fields: Some(vec![
                    "title".into(),
                    "slug".into(),
                    "author".into(),
                    "tags".into()
                ]),
                populate: vec![
                    vec!["author".into()],
                    vec!["tags".into()],
                    vec!["author".into(), "avatar".into()],
                ],
                locale: Some("fr".into()),
                render_html: true,
                format: Format::Ndjson,
                search: None,
            }
        );
        assert_eq!(query.offset(), Some(20));
    }

    #[test]
    fn values_are_typed_and_normalised_per_field_type() {
        let cases: &[(&str, &str, Value)] = &[
            ("filter[title][eq]", "Hello, world", json!("Hello, world")),
            ("filter[title][eq]", "", json!("")),
            ("filter[views][eq]", "-42", json!(-42)),
            ("filter[views][eq]", "9223372036854775807", json!(i64::MAX)),
            ("filter[rating][gt]", "4.5", json!(4.5)),
            ("filter[rating][gt]", "3", json!(3.0)),
            ("filter[featured][eq]", "true", json!(true)),
            ("filter[featured][ne]", "false", json!(false)),
            (
                "filter[published_on][lt]",
                "2024-02-29",
                json!("2024-02-29"),
            ),
            (
                "filter[event_at][gte]",
                "2024-01-31T10:00:00+02:00",
                json!("2024-01-31T08:00:00.000Z"),
            ),
            (
                "filter[event_at][gte]",
                "2024-01-31T08:00:00.123456Z",
                json!("2024-01-31T08:00:00.123Z"),
            ),
            (
                "filter[event_at][gte]",
                "2024-01-31",
                json!("2024-01-31T00:00:00.000Z"),
            ),
            (
                "filter[created_at][lt]",
                "2023-12-31T23:59:59-00:30",
                json!("2024-01-01T00:29:59.000Z"),
            ),
            ("filter[category][ne]", "guide", json!("guide")),
            ("filter[author][eq]", &ULID_A.to_lowercase(), json!(ULID_A)),
            ("filter[id][eq]", ULID_B, json!(ULID_B)),
            ("filter[slug][starts_with]", "rust-", json!("rust-")),
            ("filter[body][contains]", "unsafe", json!("unsafe")),
            ("filter[tags][contains]", ULID_A, json!(ULID_A)),
        ];
        for (key, raw, expected) in cases {
            let filter = one_filter(key, raw);
            assert_eq!(
                filter.value,
                FilterValue::One(expected.clone()),
                "{key}={raw}"
            );
        }
    }

    #[test]
    fn values_that_do_not_fit_the_type_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("filter[views]", "1.5"),
            ("filter[views]", "9223372036854775808"),
            ("filter[views]", "99999999999999999999999999999999"),
            ("filter[views]", "1e3"),
            ("filter[views]", ""),
            ("filter[views]", " 1"),
            ("filter[rating]", "NaN"),
            ("filter[rating]", "inf"),
            ("filter[rating]", "1e400"),
            ("filter[rating]", "four"),
            ("filter[featured]", "1"),
            ("filter[featured]", "TRUE"),
            ("filter[featured]", "yes"),
            ("filter[published_on]", "2024-02-30"),
            ("filter[published_on]", "2024-1-5"),
            ("filter[published_on]", "+12024-01-05"),
            ("filter[published_on]", "2024-01-05T00:00:00Z"),
            ("filter[event_at]", "yesterday"),
            ("filter[event_at]", "2024-01-31T25:00:00Z"),
            ("filter[event_at]", "9999-12-31T23:00:00-05:00"),
            ("filter[event_at]", "0000-01-01T00:00:00+01:00"),
            ("filter[event_at]", "2024-01-31 10:00"),
            ("filter[category]", "News"),
            ("filter[category]", "sports"),
            ("filter[author]", "42"),
            ("filter[author]", "01HZX3V7Q8M2K4N6P9R1S3T5W"),
            ("filter[author]", "81HZX3V7Q8M2K4N6P9R1S3T5W7"),
            ("filter[id]", "article:1"),
            ("filter[tags][contains]", "rust"),
            ("filter[title][contains]", ""),
            ("filter[title][starts_with]", ""),
            ("filter[cover][exists]", "1"),
        ];
        for (key, raw) in cases {
            assert_eq!(
                refused_as(&[(key, raw)]),
                err(code::INVALID_FILTER_VALUE, key),
                "{key}={raw}"
            );
        }
        let error = list(&[("filter[category]", "sports")]).expect_err("refused");
        assert_eq!(
            error.message,
            "invalid value \"sports\": expected one of news, guide, opinion"
        );
    }

    #[test]
    fn in_and_nin_take_a_comma_list_or_repeated_pairs() {
        let filter = one_filter("filter[views][in]", "1,2,3");
        assert_eq!(
            filter,
            Filter {
                target: field_target("views"),
                op: Op::In,
                value: FilterValue::Many(vec![json!(1), json!(2), json!(3)]),
            }
        );

        // The `[]` form takes each value whole, commas included, and keeps its place.
        let query = list(&[
            ("filter[title][nin][]", "a,b"),
            ("filter[views][gt]", "1"),
            ("filter[title][nin][]", "c"),
        ])
        .expect("parses");
        assert_eq!(
            query.filters,
            vec![
                Filter {
                    target: field_target("title"),
                    op: Op::Nin,
                    value: FilterValue::Many(vec![json!("a,b"), json!("c")]),
                },
                Filter {
                    target: field_target("views"),
                    op: Op::Gt,
                    value: FilterValue::One(json!(1)),
                },
            ]
        );

        let filter = one_filter("filter[author][in]", &format!("{ULID_A},{ULID_B}"));
        assert_eq!(
            filter.value,
            FilterValue::Many(vec![json!(ULID_A), json!(ULID_B)])
        );
        let query = admin(&[("filter[status][in]", "draft,changed")]).expect("parses");
        let filter = query.filters.into_iter().next().expect("one filter");
        assert_eq!(
            filter.value,
            FilterValue::Many(vec![json!("draft"), json!("changed")])
        );
    }

    #[test]
    fn in_lists_are_capped_and_checked_item_by_item() {
        let hundred = (0..100)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(list(&[("filter[views][in]", &hundred)]).is_ok());
        let too_many = format!("{hundred},100");
        assert_eq!(
            refused_as(&[("filter[views][in]", &too_many)]),
            err(code::TOO_MANY_VALUES, "filter[views][in]")
        );
        let commas = ",".repeat(1_000_000);
        assert_eq!(
            refused_as(&[("filter[views][in]", &commas)]),
            err(code::INVALID_FILTER_VALUE, "filter[views][in]")
        );

        let mut repeated: Vec<(String, String)> = (0..101)
            .map(|n| ("filter[views][in][]".to_owned(), n.to_string()))
            .collect();
        let schema = schema();
        let ct = schema.get("article").expect("fixture").clone();
        let result = parse_list_query(
            &schema,
            &ct,
            &repeated,
            &Audience::Delivery,
            &QueryLimits::default(),
        );
        assert_eq!(
            refused(result),
            err(code::TOO_MANY_VALUES, "filter[views][in][]")
        );
        repeated.truncate(100);
        let query = parse_list_query(
            &schema,
            &ct,
            &repeated,
            &Audience::Delivery,
            &QueryLimits::default(),
        )
        .expect("100 values are allowed");
        assert_eq!(query.filters.len(), 1);

        for (key, raw) in [
            ("filter[views][in]", ""),
            ("filter[views][in]", "1,,2"),
            ("filter[views][in]", "1,"),
            ("filter[views][in]", "1,2.5"),
            ("filter[category][in]", "news,sports"),
            ("filter[views][in][]", "x"),
        ] {
            assert_eq!(
                refused_as(&[(key, raw)]),
                err(code::INVALID_FILTER_VALUE, key),
                "{key}={raw}"
            );
        }
    }

    #[test]
    fn exists_takes_true_or_false_on_any_field() {
        for key in [
            "filter[title][exists]",
            "filter[tags][exists]",
            "filter[extra][exists]",
            "filter[seo][exists]",
            "filter[cover][exists]",
            "filter[author.avatar][exists]",
        ] {
            assert_eq!(
                one_filter(key, "true").value,
                FilterValue::Exists(true),
                "{key}"
            );
            assert_eq!(
                one_filter(key, "false").value,
                FilterValue::Exists(false),
                "{key}"
            );
        }
        assert_eq!(
            refused_as(&[("filter[title][exists]", "yes")]),
            err(code::INVALID_FILTER_VALUE, "filter[title][exists]")
        );
    }

    #[test]
    fn operators_must_apply_to_the_field_type() {
        let cases: &[(&str, &str)] = &[
            ("filter[featured][lt]", "true"),
            ("filter[views][contains]", "1"),
            ("filter[views][starts_with]", "1"),
            ("filter[category][gt]", "news"),
            ("filter[category][contains]", "ne"),
            ("filter[body][lt]", "m"),
            ("filter[tags][eq]", ULID_A),
            ("filter[tags][in]", ULID_A),
            ("filter[author][contains]", ULID_A),
            ("filter[author][lt]", ULID_A),
            ("filter[extra][eq]", "{}"),
            ("filter[seo][eq]", "x"),
            ("filter[cover][eq]", ULID_A),
            ("filter[created_at][contains]", "2024"),
            ("filter[title][like]", "x"),
            ("filter[title][EQ]", "x"),
            ("filter[title][$eq]", "x"),
        ];
        for (key, raw) in cases {
            assert_eq!(
                refused_as(&[(key, raw)]),
                err(code::INVALID_FILTER_OPERATOR, key),
                "{key}"
            );
        }
        let error = list(&[("filter[featured][lt]", "true")]).expect_err("refused");
        assert_eq!(
            error.message,
            "operator lt does not apply to boolean field \"featured\", which takes eq, ne, in, \
             nin, exists"
        );
        let error = list(&[("filter[tags][eq]", ULID_A)]).expect_err("refused");
        assert_eq!(
            error.message,
            "operator eq does not apply to relation field \"tags\" (many), which takes \
             contains, exists"
        );
        let error = list(&[("filter[title][like]", "x")]).expect_err("refused");
        assert_eq!(
            error.message,
            "unknown operator \"like\"; text field \"title\" takes eq, ne, lt, lte, gt, gte, in, \
             nin, contains, starts_with, exists"
        );
    }

    #[test]
    fn nested_filters_follow_relations_up_to_the_depth_cap() {
        assert_eq!(
            one_filter("filter[author.mentor.name]", "Ada"),
            Filter {
                target: FilterTarget::Related {
                    field: "author".into(),
                    target_type: "author".into(),
                    many: false,
                    inner: Box::new(FilterTarget::Related {
                        field: "mentor".into(),
                        target_type: "author".into(),
                        many: false,
                        inner: Box::new(field_target("name")),
                    }),
                },
                op: Op::Eq,
                value: FilterValue::One(json!("Ada")),
            }
        );
        assert_eq!(
            one_filter("filter[author.id][in]", ULID_A),
            Filter {
                target: FilterTarget::Related {
                    field: "author".into(),
                    target_type: "author".into(),
                    many: false,
                    inner: Box::new(FilterTarget::Meta(MetaField::Id)),
                },
                op: Op::In,
                value: FilterValue::Many(vec![json!(ULID_A)]),
            }
        );
        let cases: &[(&str, Code)] = &[
            ("filter[author.mentor.mentor.name]", code::INVALID_FILTER),
            ("filter[title.length]", code::INVALID_FILTER),
            ("filter[seo.title]", code::INVALID_FILTER),
            ("filter[id.x]", code::INVALID_FILTER),
            ("filter[author.]", code::INVALID_FILTER),
            ("filter[.name]", code::INVALID_FILTER),
            ("filter[author..name]", code::INVALID_FILTER),
            ("filter[author.nickname]", code::UNKNOWN_FIELD),
            ("filter[author.salary]", code::UNKNOWN_FIELD),
            ("filter[nobody.name]", code::UNKNOWN_FIELD),
            ("filter[reviewer.name]", code::UNKNOWN_FIELD),
        ];
        for (key, code) in cases {
            assert_eq!(refused_as(&[(key, "x")]), err(*code, key), "{key}");
        }
        let error = list(&[("filter[author.salary]", "1")]).expect_err("refused");
        assert_eq!(error.message, "type \"author\" has no field \"salary\"");

        // The admin sees private fields, at every level.
        let query = admin(&[
            ("filter[author.salary][gt]", "1"),
            ("filter[reviewer]", ULID_A),
        ])
        .expect("admin sees private fields");
        assert_eq!(query.filters.len(), 2);
    }

    #[test]
    fn private_fields_do_not_exist_for_delivery() {
        for (key, value) in [
            ("filter[internal_notes]", "x"),
            ("sort", "internal_notes"),
            ("fields", "internal_notes"),
            ("populate", "reviewer"),
        ] {
            let hide = |text: &str| {
                text.replace("internal_notes", "nothing")
                    .replace("reviewer", "nothing")
            };
            let private = list(&[(key, value)]).expect_err("refused");
            let missing = list(&[(&hide(key), &hide(value))]).expect_err("refused");
            assert_eq!(
                (private.code, private.param.as_str()),
                (code::UNKNOWN_FIELD, key)
            );
            // Same words as for a name that is not declared: nothing tells them apart.
            assert_eq!(hide(&private.message), missing.message, "{key}");
        }
        let query = admin(&[
            ("filter[internal_notes][contains]", "todo"),
            ("sort", "internal_notes"),
            ("fields", "internal_notes"),
            ("populate", "reviewer"),
        ])
        .expect("admin sees private fields");
        assert_eq!(
            query.fields,
            Some(vec!["internal_notes".into(), "reviewer".into()])
        );
        // `*` leaves the private relation out on delivery only.
        assert_eq!(
            list(&[("populate", "*")]).expect("parses").populate,
            vec![
                vec!["author".to_owned()],
                vec!["tags".to_owned()],
                vec!["cover".to_owned()],
            ]
        );
        assert_eq!(
            admin(&[("populate", "*")]).expect("parses").populate.len(),
            4
        );
    }

    #[test]
    fn meta_filters_and_status() {
        assert_eq!(
            one_filter("filter[published_at][exists]", "false"),
            Filter {
                target: FilterTarget::Meta(MetaField::PublishedAt),
                op: Op::Exists,
                value: FilterValue::Exists(false),
            }
        );
        assert_eq!(
            one_filter("filter[updated_at][gt]", "2024-05-01").value,
            FilterValue::One(json!("2024-05-01T00:00:00.000Z"))
        );
        let query = admin(&[("filter[status]", "changed")]).expect("admin filters status");
        assert_eq!(
            query.filters,
            vec![Filter {
                target: FilterTarget::Meta(MetaField::Status),
                op: Op::Eq,
                value: FilterValue::One(json!("changed")),
            }]
        );
        assert_eq!(
            refused(admin(&[("filter[status]", "archived")])),
            err(code::INVALID_FILTER_VALUE, "filter[status]")
        );
        assert_eq!(
            refused(admin(&[("filter[status][lt]", "draft")])),
            err(code::INVALID_FILTER_OPERATOR, "filter[status][lt]")
        );
        assert_eq!(
            refused(admin(&[("filter[author.status]", "draft")])),
            err(code::INVALID_FILTER, "filter[author.status]")
        );
        assert_eq!(
            refused_as(&[("filter[status]", "draft")]),
            err(code::UNKNOWN_FIELD, "filter[status]")
        );
        for name in ["locale", "type", "version", "created_by", "fields", "meta"] {
            let key = format!("filter[{name}]");
            assert_eq!(
                refused(admin(&[(&key, "x")])),
                err(code::UNKNOWN_FIELD, &key)
            );
        }
    }

    #[test]
    fn too_many_filters_is_refused_at_the_first_extra_one() {
        let mut items: Vec<(String, String)> = (0..20)
            .map(|n| ("filter[views][ne]".to_owned(), n.to_string()))
            .collect();
        let schema = schema();
        let ct = schema.get("article").expect("fixture").clone();
        let limits = QueryLimits::default();
        let query = parse_list_query(&schema, &ct, &items, &Audience::Delivery, &limits)
            .expect("20 filters are allowed");
        assert_eq!(query.filters.len(), 20);
        items.push(("filter[title][eq]".to_owned(), "x".to_owned()));
        let result = parse_list_query(&schema, &ct, &items, &Audience::Delivery, &limits);
        assert_eq!(
            refused(result),
            err(code::TOO_MANY_FILTERS, "filter[title][eq]")
        );
    }

    #[test]
    fn malformed_filter_keys_are_invalid_filter() {
        for key in [
            "filter",
            "filter[]",
            "filter[][eq]",
            "filter[title",
            "filter[title][eq",
            "filter[title]]",
            "filter[[title]]",
            "filter[ti[tle]][eq]",
            "filter[title]x",
            "filter[title][eq]x",
            "filter[title][eq][]x",
            "filter[title][]",
            "filter[a][b][c]",
            "filter[title][eq][][]",
            "filter[title][in][0]",
            "filter[title][eq][]",
            "filter[title][][]",
            "filter[../title][eq]",
        ] {
            assert_eq!(
                refused_as(&[(key, "x")]),
                err(code::INVALID_FILTER, key),
                "{key}"
            );
        }
    }

    #[test]
    fn keys_that_only_look_like_filters_are_unknown_parameters() {
        for key in [
            "filter]title[",
            "filters[title]",
            "filter_title",
            "Filter[title]",
        ] {
            assert_eq!(
                refused_as(&[(key, "x")]),
                err(code::UNKNOWN_PARAMETER, key),
                "{key}"
            );
        }
    }

    #[test]
    fn hostile_names_are_unknown_fields_and_never_reach_the_ast() {
        for name in [
            "title'; DROP TABLE article; --",
            "title`",
            "`title`",
            "title\"",
            "title;",
            "title OR 1=1",
            "__proto__",
            "constructor",
            "$where",
            "title\0",
            "TITLE",
            " title",
            "títle",
            "type::thing('article', 1)",
            "*",
        ] {
            let key = format!("filter[{name}][eq]");
            assert_eq!(
                refused_as(&[(&key, "x")]),
                err(code::UNKNOWN_FIELD, &key),
                "{name:?}"
            );
            for param in ["sort", "fields", "populate"] {
                if name == "*" && param == "populate" {
                    continue;
                }
                assert_ne!(
                    list(&[(param, name)]).map(|_| ()),
                    Ok(()),
                    "{param}={name:?}"
                );
            }
        }
        let long_name = "a".repeat(10_000);
        let key = format!("filter[{long_name}]");
        let error = list(&[(&key, "x")]).expect_err("refused");
        assert_eq!(error.code, code::UNKNOWN_FIELD);
        assert!(error.param.chars().count() <= 201, "param is cut");
        assert!(
            error.message.len() < 200,
            "message quotes a cut name: {}",
            error.message
        );
    }

    #[test]
    fn huge_values_are_refused_not_processed() {
        let big = "x".repeat(10_000);
        for key in [
            "filter[title]",
            "filter[title][contains]",
            "filter[title][in][]",
        ] {
            assert_eq!(
                refused_as(&[(key, &big)]),
                err(code::INVALID_FILTER_VALUE, key),
                "{key}"
            );
        }
        let item = "x".repeat(1001);
        assert_eq!(
            refused_as(&[("filter[title][in]", &format!("a,{item}"))]),
            err(code::INVALID_FILTER_VALUE, "filter[title][in]")
        );
        // The cap counts characters, not bytes.
        let accented = "é".repeat(1000);
        assert!(list(&[("filter[title]", &accented)]).is_ok());
        let digits = "9".repeat(10_000);
        assert_eq!(
            refused_as(&[("filter[views]", &digits)]),
            err(code::INVALID_FILTER_VALUE, "filter[views]")
        );
        assert_eq!(
            refused_as(&[("limit", &digits)]),
            err(code::INVALID_LIMIT, "limit")
        );
        assert_eq!(
            refused_as(&[("page", &digits)]),
            err(code::INVALID_PAGE, "page")
        );
        assert_eq!(
            refused_as(&[("locale", &big)]),
            err(code::UNKNOWN_LOCALE, "locale")
        );
        assert_eq!(
            refused_as(&[("cursor", &big)]),
            err(code::INVALID_CURSOR, "cursor")
        );
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        for key in [
            "filters[title]",
            "Filter[title]",
            "Limit",
            "limit ",
            "offset",
            "per_page",
            "utm_source",
            "",
            "q",
            "search",
            "sort[]",
            "populate[0]",
            "__proto__",
        ] {
            assert_eq!(
                refused_as(&[(key, "1")]),
                err(code::UNKNOWN_PARAMETER, key),
                "{key:?}"
            );
        }
        for key in [
            "sort", "limit", "page", "cursor", "fields", "populate", "locale", "render", "format",
        ] {
            let value = match key {
                "sort" | "fields" => "title",
                "populate" => "author",
                "locale" => "fr",
                "render" => "html",
                "format" => "csv",
                _ => "1",
            };
            assert_eq!(
                refused_as(&[(key, value), (key, value)]),
                err(code::DUPLICATE_PARAMETER, key),
                "{key}"
            );
        }
        assert_eq!(
            refused(admin(&[("q", "a"), ("q", "b")])),
            err(code::DUPLICATE_PARAMETER, "q")
        );
    }

    #[test]
    fn limit_page_and_cursor() {
        assert_eq!(list(&[("limit", "100")]).expect("parses").limit, 100);
        assert_eq!(list(&[("limit", "1")]).expect("parses").limit, 1);
        assert_eq!(list(&[("limit", "007")]).expect("parses").limit, 7);
        for raw in [
            "0",
            "101",
            "-1",
            "+5",
            "1e2",
            "",
            "ten",
            "2.0",
            " 5",
            "4294967296",
        ] {
            assert_eq!(
                refused_as(&[("limit", raw)]),
                err(code::INVALID_LIMIT, "limit"),
                "{raw:?}"
            );
        }
        for raw in ["0", "-1", "", "x", "1.0", "4294967296"] {
            assert_eq!(
                refused_as(&[("page", raw)]),
                err(code::INVALID_PAGE, "page"),
                "{raw:?}"
            );
        }
        let query = list(&[("page", "4294967295"), ("limit", "100")]).expect("parses");
        assert_eq!(query.pagination, Pagination::Page(u32::MAX));
        assert_eq!(query.offset(), Some(4_294_967_294 * 100));

        assert_eq!(
            list(&[("cursor", "")]).expect("parses").pagination,
            Pagination::Cursor(None)
        );
        let query = list(&[("cursor", "eyJrIjoxfQ"), ("limit", "5")]).expect("parses");
        assert_eq!(
            query.pagination,
            Pagination::Cursor(Some("eyJrIjoxfQ".into()))
        );
        assert_eq!(query.offset(), None);

        assert_eq!(
            refused_as(&[("page", "2"), ("cursor", "")]),
            err(code::PAGE_AND_CURSOR, "cursor")
        );
        assert_eq!(
            refused_as(&[("cursor", "abc"), ("page", "1")]),
            err(code::PAGE_AND_CURSOR, "page")
        );
    }

    #[test]
    fn sort_keys() {
        let query = list(&[("sort", "-views,id,-rating,category")]).expect("parses");
        assert_eq!(
            query.sort,
            vec![
                Sort {
                    key: SortKey::Field("views".into()),
                    desc: true,
                },
                Sort {
                    key: SortKey::Meta(MetaField::Id),
                    desc: false,
                },
                Sort {
                    key: SortKey::Field("rating".into()),
                    desc: true,
                },
                Sort {
                    key: SortKey::Field("category".into()),
                    desc: false,
                },
            ]
        );
        for raw in [
            "created_at",
            "updated_at",
            "slug",
            "featured",
            "published_on",
            "event_at",
        ] {
            assert!(list(&[("sort", raw)]).is_ok(), "{raw}");
        }
        let cases: &[(&str, Code)] = &[
            ("", code::INVALID_SORT),
            ("-", code::INVALID_SORT),
            ("title,", code::INVALID_SORT),
            (",title", code::INVALID_SORT),
            ("--title", code::UNKNOWN_FIELD),
            ("+title", code::UNKNOWN_FIELD),
            ("title,-title", code::INVALID_SORT),
            ("title,views,rating,featured,slug", code::INVALID_SORT),
            ("body", code::INVALID_SORT),
            ("summary", code::INVALID_SORT),
            ("tags", code::INVALID_SORT),
            ("author", code::INVALID_SORT),
            ("cover", code::INVALID_SORT),
            ("extra", code::INVALID_SORT),
            ("seo", code::INVALID_SORT),
            ("author.name", code::INVALID_SORT),
            ("nothing", code::UNKNOWN_FIELD),
            ("status", code::UNKNOWN_FIELD),
            ("title desc", code::UNKNOWN_FIELD),
        ];
        for (raw, code) in cases {
            assert_eq!(refused_as(&[("sort", raw)]), err(*code, "sort"), "{raw:?}");
        }
        assert_eq!(
            refused(admin(&[("sort", "status")])),
            err(code::INVALID_SORT, "sort")
        );
    }

    #[test]
    fn fields_are_a_sparse_fieldset() {
        let query = list(&[("fields", "title,id,slug,title,created_at")]).expect("parses");
        assert_eq!(query.fields, Some(vec!["title".into(), "slug".into()]));
        assert_eq!(
            list(&[("fields", "id")]).expect("parses").fields,
            Some(vec![])
        );
        // A populated relation is sent whether or not fields names it.
        let query = list(&[("populate", "author.avatar"), ("fields", "title")]).expect("parses");
        assert_eq!(query.fields, Some(vec!["title".into(), "author".into()]));
        let cases: &[(&str, Code)] = &[
            ("", code::INVALID_FIELDS),
            ("title,", code::INVALID_FIELDS),
            ("title,,slug", code::INVALID_FIELDS),
            ("author.name", code::INVALID_FIELDS),
            ("nothing", code::UNKNOWN_FIELD),
            ("status", code::UNKNOWN_FIELD),
            ("seo,Title", code::UNKNOWN_FIELD),
        ];
        for (raw, code) in cases {
            assert_eq!(
                refused_as(&[("fields", raw)]),
                err(*code, "fields"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn populate_paths() {
        let query = list(&[("populate", "author.avatar,tags,author,cover,tags")]).expect("parses");
        assert_eq!(
            query.populate,
            vec![
                vec!["author".to_owned()],
                vec!["author".to_owned(), "avatar".to_owned()],
                vec!["tags".to_owned()],
                vec!["cover".to_owned()],
            ]
        );
        assert_eq!(
            list(&[("populate", "*,author.mentor")])
                .expect("parses")
                .populate,
            vec![
                vec!["author".to_owned()],
                vec!["tags".to_owned()],
                vec!["cover".to_owned()],
                vec!["author".to_owned(), "mentor".to_owned()],
            ]
        );
        let cases: &[(&str, Code)] = &[
            ("author.mentor.avatar", code::POPULATE_TOO_DEEP),
            (
                "author.mentor.mentor.mentor.mentor",
                code::POPULATE_TOO_DEEP,
            ),
            ("", code::INVALID_POPULATE),
            ("author,", code::INVALID_POPULATE),
            ("author..avatar", code::INVALID_POPULATE),
            ("title", code::INVALID_POPULATE),
            ("seo", code::INVALID_POPULATE),
            ("cover.url", code::INVALID_POPULATE),
            ("author.name", code::INVALID_POPULATE),
            ("author.*", code::INVALID_POPULATE),
            ("**", code::UNKNOWN_FIELD),
            ("nothing", code::UNKNOWN_FIELD),
            ("author.nothing", code::UNKNOWN_FIELD),
            ("author.salary", code::UNKNOWN_FIELD),
        ];
        for (raw, code) in cases {
            assert_eq!(
                refused_as(&[("populate", raw)]),
                err(*code, "populate"),
                "{raw:?}"
            );
        }
        let schema = schema();
        let ct = schema.get("article").expect("fixture").clone();
        let shallow = QueryLimits {
            max_populate_depth: 1,
            ..QueryLimits::default()
        };
        let error = parse_populate(&schema, &ct, "author.avatar", &Audience::Delivery, &shallow)
            .expect_err("too deep");
        assert_eq!(error.code, code::POPULATE_TOO_DEEP);
        let result = parse_list_query(
            &schema,
            &ct,
            &pairs(&[("filter[author.mentor.name]", "x")]),
            &Audience::Delivery,
            &shallow,
        );
        assert_eq!(
            refused(result),
            err(code::INVALID_FILTER, "filter[author.mentor.name]")
        );
    }

    #[test]
    fn locale_render_format_and_search() {
        assert_eq!(
            list(&[("locale", "en")]).expect("parses").locale,
            Some("en".into())
        );
        for raw in ["de", "FR", "", "fr "] {
            assert_eq!(
                refused_as(&[("locale", raw)]),
                err(code::UNKNOWN_LOCALE, "locale"),
                "{raw:?}"
            );
        }
        let error = list_as(Audience::Delivery, "tag", &[("locale", "en")]).expect_err("refused");
        assert_eq!(
            (error.code, error.message.as_str()),
            (code::UNKNOWN_LOCALE, "type \"tag\" is not localised")
        );

        for raw in ["HTML", "markdown", "", "html,json"] {
            assert_eq!(
                refused_as(&[("render", raw)]),
                err(code::INVALID_RENDER, "render"),
                "{raw:?}"
            );
        }

        for (raw, format) in [
            ("json", Format::Json),
            ("csv", Format::Csv),
            ("ndjson", Format::Ndjson),
            ("rss", Format::Rss),
            ("atom", Format::Atom),
        ] {
            let query = list(&[("format", raw)]).expect("parses");
            assert_eq!((query.format, query.format.as_str()), (format, raw));
        }
        for raw in ["xml", "JSON", "", "json;"] {
            assert_eq!(
                refused_as(&[("format", raw)]),
                err(code::INVALID_FORMAT, "format"),
                "{raw:?}"
            );
        }

        assert_eq!(
            admin(&[("q", "rust async")]).expect("parses").search,
            Some("rust async".into())
        );
        assert_eq!(admin(&[("q", "  ")]).expect("parses").search, None);
        assert_eq!(
            admin(&[("q", &"é".repeat(200))])
                .expect("parses")
                .search
                .map(|q| q.chars().count()),
            Some(200)
        );
        assert_eq!(
            refused(admin(&[("q", &"a".repeat(201))])),
            err(code::INVALID_SEARCH, "q")
        );
        assert_eq!(
            refused_as(&[("q", "rust")]),
            err(code::UNKNOWN_PARAMETER, "q")
        );
    }

    #[test]
    fn entry_queries_take_only_the_shared_parameters() {
        let query = entry_as(
            Audience::Delivery,
            &[
                ("fields", "title"),
                ("populate", "tags"),
                ("locale", "fr"),
                ("render", "html"),
            ],
        )
        .expect("parses");
        assert_eq!(
            query,
            EntryQuery {
                fields: Some(vec!["title".into(), "tags".into()]),
                populate: vec![vec!["tags".into()]],
                locale: Some("fr".into()),
                render_html: true,
            }
        );
        assert_eq!(
            entry_as(Audience::Delivery, &[]).expect("parses"),
            EntryQuery::default()
        );
        for key in [
            "filter[title]",
            "sort",
            "limit",
            "page",
            "cursor",
            "format",
            "q",
        ] {
            let error = entry_as(Audience::Admin, &[(key, "x")]).expect_err("refused");
            assert_eq!(
                (error.code, error.param.as_str()),
                (code::UNKNOWN_PARAMETER, key)
            );
        }
        let error = entry_as(Audience::Delivery, &[("populate", "reviewer")]).expect_err("refused");
        assert_eq!(
            (error.code, error.param.as_str()),
            (code::UNKNOWN_FIELD, "populate")
        );
    }

    #[test]
    fn error_codes_are_all_listed() {
        let probes: Vec<Result<ListQuery, QueryError>> = vec![
            list(&[("x", "")]),
            list(&[("limit", "1"), ("limit", "1")]),
            list(&[("filter[x]", "")]),
            list(&[("filter", "")]),
            list(&[("filter[views][contains]", "1")]),
            list(&[("filter[views]", "x")]),
            list(&[("limit", "0")]),
            list(&[("page", "0")]),
            list(&[("cursor", &"c".repeat(1001))]),
            list(&[("page", "1"), ("cursor", "")]),
            list(&[("sort", "body")]),
            list(&[("populate", "author.mentor.avatar")]),
            list(&[("populate", "title")]),
            list(&[("fields", "")]),
            list(&[("locale", "de")]),
            list(&[("render", "x")]),
            list(&[("format", "x")]),
            admin(&[("q", &"q".repeat(201))]),
        ];
        for probe in probes {
            let error = probe.expect_err("refused");
            assert!(ERROR_CODES.contains(&error.code), "{}", error.code.name);
            assert_eq!(
                error.to_string(),
                format!("{}: {}", error.param, error.message)
            );
        }
    }

    /// A deterministic stream of hostile keys and values: parsing must never panic, and any
    /// filter it accepts names only fields the schema declares.
    #[test]
    fn generated_hostile_input_never_panics() {
        const ALPHABET: &[&str] = &[
            "filter",
            "[",
            "]",
            ".",
            ",",
            "-",
            "*",
            "title",
            "author",
            "tags",
            "slug",
            "name",
            "eq",
            "in",
            "nin",
            "exists",
            "[]",
            "'",
            "`",
            ";",
            "\"",
            "\\",
            "\0",
            "é",
            "🦀",
            "1",
            "1.5",
            "true",
            "2024-01-31",
            ULID_A,
            "sort",
            "fields",
            "populate",
            "limit",
            "page",
            "cursor",
            "",
            " ",
            "%5B",
            "__proto__",
            "status",
            "internal_notes",
            "avatar",
            "mentor",
        ];
        let schema = schema();
        let ct = schema.get("article").expect("fixture").clone();
        let limits = QueryLimits::default();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let items: Vec<(String, String)> = (0..1 + rng.below(3))
                .map(|_| {
                    let key = match rng.below(3) {
                        0 => rng.word(ALPHABET, 8),
                        1 => format!("filter[{}]", rng.word(ALPHABET, 6)),
                        _ => format!(
                            "filter[{}][{}]",
                            rng.word(ALPHABET, 4),
                            rng.word(ALPHABET, 2)
                        ),
                    };
                    (key, rng.word(ALPHABET, 6))
                })
                .collect();
            for audience in [Audience::Delivery, Audience::Admin] {
                if let Ok(query) = parse_list_query(&schema, &ct, &items, &audience, &limits) {
                    accepted += 1;
                    for filter in &query.filters {
                        assert_declared(&schema, &ct, &filter.target, audience);
                    }
                }
                let _ = parse_entry_query(&schema, &ct, &items, &audience, &limits);
            }
        }
        assert!(accepted > 0, "the generator reaches valid queries too");
    }

    /// xorshift64: enough to spread the alphabet, and the same sequence on every run.
    struct XorShift(u64);

    impl XorShift {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn word(&mut self, alphabet: &[&str], max_len: u64) -> String {
            let len = self.below(max_len + 1);
            (0..len)
                .map(|_| {
                    let n = self.below(alphabet.len() as u64);
                    alphabet[usize::try_from(n).expect("index fits")]
                })
                .collect()
        }
    }

    fn assert_declared(
        schema: &Schema,
        ty: &ContentType,
        target: &FilterTarget,
        audience: Audience,
    ) {
        match target {
            FilterTarget::Meta(meta) => {
                assert!(audience == Audience::Admin || *meta != MetaField::Status);
            }
            FilterTarget::Field(name) => {
                let field = ty.field(name).expect("a declared field");
                assert!(audience == Audience::Admin || !field.private, "{name}");
            }
            FilterTarget::Related {
                field,
                target_type,
                inner,
                ..
            } => {
                let declared = ty.field(field).expect("a declared relation");
                assert!(audience == Audience::Admin || !declared.private, "{field}");
                let target = schema.get(target_type).expect("a loaded type");
                assert_declared(schema, target, inner, audience);
            }
        }
    }
}

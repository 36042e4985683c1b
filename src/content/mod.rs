//! Entries and the editorial workflow: create, read, update, delete, publish and unpublish,
//! with validation, generated uids, relation checks, plugin hooks and optimistic concurrency;
//! and the delivery reads (published snapshots only) with populate, locale resolution, sparse
//! fields and rendered Markdown.
//!
//! This is the domain service the HTTP layer calls. It knows nothing of HTTP; it reaches the
//! database only through `storage`, and never writes SurrealQL itself.

pub mod import;
pub mod query;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::access::{Action, Permit};
use crate::accounts::audit::Event;
use crate::error::{Error, Result, code};
use crate::markdown;
use crate::plugins::{HookOutcome, PluginHost};
use crate::schema::{
    ContentType, Field, FieldError, FieldType, Kind, Schema, ValidateMode, field_code,
    validate_fields,
};
use crate::storage::events::ChangeRecord;
use crate::storage::{self, ListPlan, Row, Store, WriteOutcome};
use crate::time::now;

use query::{Audience, EntryQuery, ListQuery, MetaField, Sight, Sort, SortKey};

/// Metadata columns a stored row carries beside its fields.
const META: &[&str] = &[
    "id",
    "version",
    "status",
    "created_at",
    "updated_at",
    "published_at",
    "created_by",
    "updated_by",
];

/// The content service. Cheap to clone.
#[derive(Clone)]
pub struct Content {
    store: Store,
    schema: Arc<Schema>,
    plugins: PluginHost,
    media: crate::media::Media,
    limits: Limits,
}

/// What bounds one read: totals counted, and what `populate` may add to one response.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Filtered totals are counted up to this many.
    pub max_count: u64,
    /// Related entries (and media items) populated into one response, over every path.
    pub max_populate_entries: usize,
    /// Their size, as stored.
    pub max_populate_bytes: usize,
}

impl Limits {
    pub fn from_config(limits: &crate::config::Limits) -> Self {
        Self {
            max_count: limits.max_count,
            max_populate_entries: limits.max_populate_entries,
            max_populate_bytes: limits.max_populate_bytes,
        }
    }
}

/// An entry in the shape the APIs send: metadata, then `fields`.
pub type Entry = Map<String, Value>;

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub data: Vec<Entry>,
    pub total: u64,
    pub total_capped: bool,
    pub next_cursor: Option<String>,
    pub page: Option<u32>,
    pub limit: u32,
}

/// A write request: the fields, and the version the editor last read.
#[derive(Debug, Clone, Default)]
pub struct Write {
    pub fields: Map<String, Value>,
    pub expected_version: Option<u64>,
}

impl Content {
    pub fn new(
        store: Store,
        schema: Arc<Schema>,
        plugins: PluginHost,
        media: crate::media::Media,
        limits: Limits,
    ) -> Self {
        Self {
            store,
            schema,
            plugins,
            media,
            limits,
        }
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn content_type(&self, id: &str) -> Result<Arc<ContentType>> {
        self.schema
            .get(id)
            .cloned()
            .ok_or_else(|| Error::TypeNotFound(id.to_owned()))
    }

    // ---- admin -------------------------------------------------------------------------

    /// One entry's working copy (drafts included).
    pub async fn get_entry(&self, permit: &Permit, ct: &ContentType, id: &str) -> Result<Entry> {
        permit.check(ct, Action::Read)?;
        let id = &entry_id(id)?;
        let row = self.load(permit, ct, id).await?;
        Ok(visible(permit, admin_entry(ct, row)))
    }

    /// The stored row, if it exists within the permit (another author's entry is reported
    /// missing, as its existence is none of their business).
    async fn load(&self, permit: &Permit, ct: &ContentType, id: &str) -> Result<Row> {
        let id = entry_id(id)?;
        let row = self
            .store
            .get_row(&storage::entry_table(&ct.id), &id)
            .await?
            .ok_or(Error::EntryNotFound)?;
        if permit.covers(row.get("created_by").and_then(Value::as_str)) {
            Ok(row)
        } else {
            Err(Error::EntryNotFound)
        }
    }

    /// What a change to an entry tells the event log, with its audit record.
    fn change(
        permit: &Permit,
        action: &str,
        ct: &ContentType,
        id: &str,
        before: Option<&Row>,
        after: Option<&Row>,
    ) -> ChangeRecord {
        let clean = |r: &Row| {
            let mut r = r.clone();
            r.remove("id");
            Value::Object(r)
        };
        let audit = Event::new(permit.actor(), action, format!("{}/{id}", ct.id))
            .from_address(permit.address())
            .before(before.map(clean))
            .after(after.map(clean))
            .data();
        entry_change(action, permit.actor(), ct, before, after, audit)
    }

    /// Lists working copies, drafts included (an author's own only).
    pub async fn list_entries(
        &self,
        permit: &Permit,
        ct: &ContentType,
        q: &ListQuery,
    ) -> Result<Page> {
        permit.check(ct, Action::Read)?;
        let sort = default_sort(ct, &q.sort, Audience::Admin);
        let result = self
            .store
            .list(&ListPlan {
                schema: &self.schema,
                ct,
                table: storage::entry_table(&ct.id),
                filters: &q.filters,
                sort: &sort,
                limit: q.limit,
                pagination: &q.pagination,
                locale: q.locale.as_deref(),
                max_count: self.limits.max_count,
                owner: permit.owner(),
                working_copies: true,
            })
            .await?;
        Ok(Page {
            data: result
                .rows
                .into_iter()
                .map(|r| visible(permit, admin_entry(ct, r)))
                .collect(),
            total: result.total.count,
            total_capped: result.total.capped,
            next_cursor: result.next_cursor,
            page: match q.pagination {
                query::Pagination::Page(p) => Some(p),
                query::Pagination::Cursor(_) => None,
            },
            limit: q.limit,
        })
    }

    /// Creates an entry; with a `publish` permit it is published at once (a type without
    /// drafts publishes every save, so it needs one).
    pub async fn create_entry(
        &self,
        permit: &Permit,
        ct: &ContentType,
        write: Write,
        publish: Option<&Permit>,
    ) -> Result<Entry> {
        permit.check(ct, Action::Create)?;
        let publish = publish_permit(ct, publish)?;
        if ct.kind == Kind::Single && self.single_id(ct).await?.is_some() {
            return Err(Error::Conflict {
                code: code::SINGLE_EXISTS,
                message: format!(
                    "`{}` is a single type and already has its entry; update that one",
                    ct.id
                ),
            });
        }
        let id = ulid::Ulid::new().to_string();
        let mut input = write.fields;
        guard_fields(permit, &mut input, None)?;
        localize_plain(ct, &mut input, None, None);
        let fields = self
            .prepare(ct, Some(&id), input, ValidateMode::Full, None)
            .await?;
        let now = now();
        let published = publish;
        let mut row = Row::new();
        row.insert("version".into(), json!(1));
        row.insert(
            "status".into(),
            json!(if published { "published" } else { "draft" }),
        );
        row.insert("created_at".into(), json!(now));
        row.insert("updated_at".into(), json!(now));
        row.insert(
            "published_at".into(),
            if published { json!(now) } else { Value::Null },
        );
        row.insert("created_by".into(), json!(permit.actor()));
        row.insert("updated_by".into(), json!(permit.actor()));
        row.extend(fields.clone());
        // Created and published in one transaction: the entry never exists half published.
        let snapshot = match storage_snapshot(&row) {
            storage::Snapshot::Publish(s) if ct.drafts && publish => Some(s),
            _ => None,
        };
        let action = if published {
            "entry.create_published"
        } else {
            "entry.create"
        };
        let audit = Self::change(permit, action, ct, &id, None, Some(&row));
        let stored = self
            .store
            .create_entry(ct, &id, row, snapshot, &audit)
            .await?;
        self.plugins.after(ct, &id, &fields, false);
        if published {
            self.plugins.after(ct, &id, &fields, true);
        }
        Ok(visible(permit, admin_entry(ct, stored)))
    }

    /// Replaces (`Full`) or patches (`Partial`) an entry's fields; with `publish` (types with
    /// drafts) the result is published in the same write.
    pub async fn update_entry(
        &self,
        permit: &Permit,
        ct: &ContentType,
        id: &str,
        write: Write,
        mode: ValidateMode,
        publish: Option<&Permit>,
    ) -> Result<Entry> {
        permit.check(ct, Action::Update)?;
        let publish = publish_permit(ct, publish)?;
        let id = &entry_id(id)?;
        let current = self.load(permit, ct, id).await?;
        let current_version = version_of(&current);
        let expected = write.expected_version.unwrap_or(current_version);
        if expected != current_version {
            return Err(Error::VersionConflict {
                current: current_version,
            });
        }
        let mut patch = write.fields;
        guard_fields(permit, &mut patch, Some(&current))?;
        let input = match mode {
            ValidateMode::Full => {
                localize_plain(ct, &mut patch, None, None);
                patch
            }
            ValidateMode::Partial => {
                // The patch over the stored fields is validated as a whole, so a change cannot
                // leave the entry breaking a rule; paths still name the fields.
                localize_plain(ct, &mut patch, None, Some(&current));
                let mut merged = fields_of(ct, &current);
                merged.extend(patch);
                merged
            }
        };
        let fields = self
            .prepare(ct, Some(id), input, ValidateMode::Full, Some(&current))
            .await?;
        let mut row = current.clone();
        row.remove("id");
        for f in &ct.fields {
            row.remove(&f.name);
        }
        row.extend(fields.clone());
        row.insert("version".into(), json!(current_version + 1));
        row.insert("updated_at".into(), json!(now()));
        row.insert("updated_by".into(), json!(permit.actor()));
        let published = publish;
        let status = match current.get("status").and_then(Value::as_str) {
            _ if published => "published",
            Some("published") | Some("changed") => "changed",
            _ => "draft",
        };
        row.insert("status".into(), json!(status));
        if published && row.get("published_at").is_none_or(Value::is_null) {
            row.insert("published_at".into(), json!(now()));
        }
        let snapshot = if publish && ct.drafts {
            storage_snapshot(&row)
        } else {
            storage::Snapshot::Keep
        };
        let action = if published {
            "entry.update_published"
        } else {
            "entry.update"
        };
        let audit = Self::change(permit, action, ct, id, Some(&current), Some(&row));
        let stored = self
            .guarded(ct, id, expected, row, snapshot, &audit)
            .await?;
        self.plugins.after(ct, id, &fields, false);
        if published {
            self.plugins.after(ct, id, &fields, true);
        }
        Ok(visible(permit, admin_entry(ct, stored)))
    }

    /// Publishes the entry's current fields.
    pub async fn publish_entry(
        &self,
        permit: &Permit,
        ct: &ContentType,
        id: &str,
        expected: Option<u64>,
    ) -> Result<Entry> {
        permit.check(ct, Action::Publish)?;
        let id = &entry_id(id)?;
        let (current, version, mut row) = self.workflow_step(permit, ct, id, expected).await?;
        // What is published must satisfy the type as it is now.
        let fields = fields_of(ct, &current);
        if let Err(errors) = validate_fields(ct, &fields, ValidateMode::Full) {
            return Err(Error::Validation(errors));
        }
        row.insert("status".into(), json!("published"));
        if row.get("published_at").is_none_or(Value::is_null) {
            row.insert("published_at".into(), json!(now()));
        }
        let snapshot = storage_snapshot(&row);
        let audit = Self::change(permit, "entry.publish", ct, id, Some(&current), Some(&row));
        let stored = self.guarded(ct, id, version, row, snapshot, &audit).await?;
        self.plugins.after(ct, id, &fields, true);
        Ok(visible(permit, admin_entry(ct, stored)))
    }

    /// Withdraws the published snapshot; the working copy stays as a draft.
    pub async fn unpublish_entry(
        &self,
        permit: &Permit,
        ct: &ContentType,
        id: &str,
        expected: Option<u64>,
    ) -> Result<Entry> {
        permit.check(ct, Action::Publish)?;
        let id = &entry_id(id)?;
        let (current, version, mut row) = self.workflow_step(permit, ct, id, expected).await?;
        row.insert("status".into(), json!("draft"));
        row.insert("published_at".into(), Value::Null);
        let audit = Self::change(
            permit,
            "entry.unpublish",
            ct,
            id,
            Some(&current),
            Some(&row),
        );
        let stored = self
            .guarded(ct, id, version, row, storage::Snapshot::Unpublish, &audit)
            .await?;
        Ok(visible(permit, admin_entry(ct, stored)))
    }

    pub async fn delete_entry(
        &self,
        permit: &Permit,
        ct: &ContentType,
        id: &str,
        expected: Option<u64>,
    ) -> Result<()> {
        permit.check(ct, Action::Delete)?;
        let id = entry_id(id)?;
        let current = self.load(permit, ct, &id).await?;
        // The version read here guards the delete, so what the audit says was deleted is
        // what was.
        let expected = expected.unwrap_or_else(|| version_of(&current));
        let audit = Self::change(permit, "entry.delete", ct, &id, Some(&current), None);
        match self
            .store
            .delete_entry(ct, &id, Some(expected), &audit)
            .await?
        {
            WriteOutcome::Written(_) => Ok(()),
            WriteOutcome::NotFound => Err(Error::EntryNotFound),
            WriteOutcome::Conflict { current } => Err(Error::VersionConflict { current }),
        }
    }

    /// The common start of publish and unpublish: the type has drafts, the entry exists at the
    /// version the caller read, and the next row carries the new version and editor. Returns
    /// the stored row, its version and the row to write.
    async fn workflow_step(
        &self,
        permit: &Permit,
        ct: &ContentType,
        id: &str,
        expected: Option<u64>,
    ) -> Result<(Row, u64, Row)> {
        if !ct.drafts {
            return Err(Error::bad_request(
                code::DRAFTS_DISABLED,
                format!(
                    "`{}` has no draft/publish workflow: every save is published",
                    ct.id
                ),
            ));
        }
        let current = self.load(permit, ct, id).await?;
        let version = version_of(&current);
        if expected.is_some_and(|e| e != version) {
            return Err(Error::VersionConflict { current: version });
        }
        let mut row = current.clone();
        row.remove("id");
        row.insert("version".into(), json!(version + 1));
        row.insert("updated_at".into(), json!(now()));
        row.insert("updated_by".into(), json!(permit.actor()));
        Ok((current, version, row))
    }

    async fn guarded(
        &self,
        ct: &ContentType,
        id: &str,
        expected: u64,
        row: Row,
        snapshot: storage::Snapshot,
        audit: &ChangeRecord,
    ) -> Result<Row> {
        match self
            .store
            .write_entry(ct, id, expected, row, snapshot, audit)
            .await?
        {
            WriteOutcome::Written(r) => Ok(r),
            WriteOutcome::NotFound => Err(Error::EntryNotFound),
            WriteOutcome::Conflict { current } => Err(Error::VersionConflict { current }),
        }
    }

    async fn single_id(&self, ct: &ContentType) -> Result<Option<String>> {
        let page = self
            .store
            .list(&ListPlan {
                schema: &self.schema,
                ct,
                table: storage::entry_table(&ct.id),
                filters: &[],
                sort: &[Sort {
                    key: SortKey::Meta(MetaField::CreatedAt),
                    desc: false,
                }],
                limit: 1,
                pagination: &query::Pagination::Page(1),
                locale: None,
                max_count: 1,
                owner: None,
                working_copies: true,
            })
            .await?;
        Ok(page
            .rows
            .first()
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Validates, runs `before_save` hooks, validates again, fills uids and checks that
    /// related entries exist. Returns the fields to store.
    async fn prepare(
        &self,
        ct: &ContentType,
        id: Option<&str>,
        input: Map<String, Value>,
        mode: ValidateMode,
        current: Option<&Row>,
    ) -> Result<Map<String, Value>> {
        let fields = match validate_fields(ct, &input, mode) {
            Ok(fields) => fields,
            Err(mut errors) => {
                // One answer names every failing field: dangling relations too, for the ids
                // that are at least well formed, so an editor does not fix errors in rounds.
                let ids = well_formed_relations(ct, &input);
                errors.extend(self.relation_errors(ct, &ids).await?);
                return Err(Error::Validation(errors));
            }
        };
        let fields = match self.plugins.before_save(ct, id, fields) {
            HookOutcome::Fields(f) => f,
            HookOutcome::Rejected(errors) => return Err(Error::Validation(errors)),
        };
        let mut fields =
            validate_fields(ct, &fields, ValidateMode::Full).map_err(Error::Validation)?;
        let mut errors = match self.fill_uids(ct, id, &mut fields, current).await {
            Ok(()) => Vec::new(),
            Err(Error::Validation(errors)) => errors,
            Err(other) => return Err(other),
        };
        errors.extend(self.relation_errors(ct, &fields).await?);
        errors.extend(self.media_errors(ct, &fields).await?);
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// Generates empty uid fields from their source and keeps unique uids unique by suffixing
    /// `-2`, `-3`, ... to a generated value. A value the editor typed that is taken is an error.
    async fn fill_uids(
        &self,
        ct: &ContentType,
        id: Option<&str>,
        fields: &mut Map<String, Value>,
        current: Option<&Row>,
    ) -> Result<()> {
        let table = storage::entry_table(&ct.id);
        let mut errors = Vec::new();
        for (field, from) in ct.uid_fields() {
            let given = fields
                .get(&field.name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let (base, generated) = match (given, from) {
                (Some(v), _) => (v, false),
                (None, Some(src)) => {
                    let source = fields.get(src).map(|v| match v {
                        Value::Object(per_locale) => ct
                            .default_locale()
                            .and_then(|l| per_locale.get(l))
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        other => other.as_str().unwrap_or_default().to_owned(),
                    });
                    let slug = slugify(&source.unwrap_or_default());
                    if slug.is_empty() {
                        if field.rules.required {
                            errors.push(FieldError {
                                path: format!("fields.{}", field.name),
                                code: field_code::REQUIRED,
                                message: format!(
                                    "give a {} or a {src} to generate it from",
                                    field.name
                                ),
                            });
                        }
                        continue;
                    }
                    (slug, true)
                }
                (None, None) => continue,
            };
            // Keeping the stored value is always fine.
            let unchanged = current
                .and_then(|r| r.get(&field.name))
                .and_then(Value::as_str)
                == Some(base.as_str());
            if !field.rules.unique || unchanged {
                fields.insert(field.name.clone(), Value::String(base));
                continue;
            }
            let mut candidate = base.clone();
            let mut n = 1;
            loop {
                if !self
                    .store
                    .value_taken(&table, &field.name, &candidate, id)
                    .await?
                {
                    break;
                }
                if !generated {
                    errors.push(FieldError {
                        path: format!("fields.{}", field.name),
                        code: field_code::NOT_UNIQUE,
                        message: format!("another entry already uses `{candidate}`"),
                    });
                    break;
                }
                n += 1;
                candidate = if n > 20 {
                    format!(
                        "{base}-{}",
                        &ulid::Ulid::new().to_string()[20..].to_lowercase()
                    )
                } else {
                    format!("{base}-{n}")
                };
            }
            fields.insert(field.name.clone(), Value::String(candidate));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// A `relation_not_found` error for every relation, at any depth and in every locale,
    /// that does not point at an existing entry of its target type (one query per target).
    async fn relation_errors(
        &self,
        ct: &ContentType,
        fields: &Map<String, Value>,
    ) -> Result<Vec<FieldError>> {
        // target type → (path, id)
        let mut by_target: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        ct.visit_references(fields, &mut |path, id, ty| {
            if let FieldType::Relation { target, .. } = ty {
                by_target
                    .entry(target.clone())
                    .or_default()
                    .push((path.to_owned(), id.to_owned()));
            }
        });
        let mut errors = Vec::new();
        for (target, refs) in by_target {
            let wanted: Vec<String> = refs
                .iter()
                .map(|(_, id)| id.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let found: BTreeSet<String> = self
                .store
                .existing_ids(&storage::entry_table(&target), &wanted)
                .await?
                .into_iter()
                .collect();
            for (path, id) in refs {
                if !found.contains(&id) {
                    errors.push(FieldError {
                        path,
                        code: field_code::RELATION_NOT_FOUND,
                        message: format!("no `{target}` entry has id {id}"),
                    });
                }
            }
        }
        Ok(errors)
    }

    /// A `media_not_found` error for every media id that names no item, and
    /// `media_not_accepted` for items whose kind the field does not take (one query).
    async fn media_errors(
        &self,
        ct: &ContentType,
        fields: &Map<String, Value>,
    ) -> Result<Vec<FieldError>> {
        let mut refs: Vec<(String, String, Vec<String>)> = Vec::new();
        ct.visit_references(fields, &mut |path, id, ty| {
            if let FieldType::Media { accept, .. } = ty {
                refs.push((path.to_owned(), id.to_owned(), accept.clone()));
            }
        });
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = refs
            .iter()
            .map(|(_, id, _)| id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let found: BTreeMap<String, String> = self
            .media
            .get_many(&ids)
            .await?
            .into_iter()
            .filter_map(|r| {
                Some((
                    r.get("id")?.as_str()?.to_owned(),
                    r.get("mime")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let mut errors = Vec::new();
        for (path, id, accept) in refs {
            match found.get(&id) {
                None => errors.push(FieldError {
                    path,
                    code: field_code::MEDIA_NOT_FOUND,
                    message: format!("no media item has id {id}"),
                }),
                Some(mime)
                    if !accept.is_empty() && !crate::media::sniff::mime_matches(mime, &accept) =>
                {
                    errors.push(FieldError {
                        path,
                        code: field_code::MEDIA_NOT_ACCEPTED,
                        message: format!(
                            "media {id} is {mime}; this field takes {}",
                            accept.join(", ")
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(errors)
    }

    /// Removes `media` from every entry that uses it (working copies and published entries),
    /// each as a new version, so the item can be deleted. Returns how many entries changed.
    pub async fn detach_media(
        &self,
        actor: &str,
        address: Option<&str>,
        media: &str,
    ) -> Result<usize> {
        let uses = self.media.usage(media).await?;
        let mut changed = 0;
        for u in uses {
            let (Some(type_id), Some(id)) = (
                u.get("type").and_then(Value::as_str),
                u.get("id").and_then(Value::as_str),
            ) else {
                continue;
            };
            let Ok(ct) = self.content_type(type_id) else {
                continue;
            };
            for _attempt in 0..5 {
                let Some(row) = self
                    .store
                    .get_row(&storage::entry_table(&ct.id), id)
                    .await?
                else {
                    break;
                };
                let version = version_of(&row);
                let mut next = row.clone();
                next.remove("id");
                ct.remove_media(&mut next, media);
                next.insert("version".into(), json!(version + 1));
                next.insert("updated_at".into(), json!(now()));
                next.insert("updated_by".into(), json!(actor));
                let snapshot = if ct.drafts {
                    match self
                        .store
                        .get_row(&storage::delivery_table(&ct), id)
                        .await?
                    {
                        Some(mut published) => {
                            published.remove("id");
                            published.remove("status");
                            ct.remove_media(&mut published, media);
                            storage::Snapshot::Publish(published)
                        }
                        None => storage::Snapshot::Keep,
                    }
                } else {
                    storage::Snapshot::Keep
                };
                let record = Event::new(actor, "entry.detach_media", format!("{}/{id}", ct.id))
                    .from_address(address)
                    .before(Some(Value::Object(row.clone())))
                    .after(Some(Value::Object(next.clone())))
                    .data();
                let audit = entry_change(
                    "entry.detach_media",
                    actor,
                    &ct,
                    Some(&row),
                    Some(&next),
                    record,
                );
                match self
                    .store
                    .write_entry(&ct, id, version, next, snapshot, &audit)
                    .await?
                {
                    WriteOutcome::Written(_) => {
                        changed += 1;
                        break;
                    }
                    _ => continue,
                }
            }
        }
        Ok(changed)
    }

    // ---- delivery ----------------------------------------------------------------------

    /// A page of published entries, as `sight` may see them.
    pub async fn list_published(
        &self,
        ct: &ContentType,
        q: &ListQuery,
        sight: &dyn Sight,
    ) -> Result<Page> {
        let sort = default_sort(ct, &q.sort, Audience::Delivery);
        let result = self
            .store
            .list(&ListPlan {
                schema: &self.schema,
                ct,
                table: storage::delivery_table(ct),
                filters: &q.filters,
                sort: &sort,
                limit: q.limit,
                pagination: &q.pagination,
                locale: q.locale.as_deref(),
                max_count: self.limits.max_count,
                owner: None,
                working_copies: false,
            })
            .await?;
        let shape = Shape {
            fields: q.fields.as_deref(),
            locale: q.locale.as_deref(),
            render_html: q.render_html,
        };
        let data = self
            .deliver(ct, result.rows, &q.populate, &shape, sight)
            .await?;
        Ok(Page {
            data,
            total: result.total.count,
            total_capped: result.total.capped,
            next_cursor: result.next_cursor,
            page: match q.pagination {
                query::Pagination::Page(p) => Some(p),
                query::Pagination::Cursor(_) => None,
            },
            limit: q.limit,
        })
    }

    /// One published entry by id or by the type's uid field; for a single type, its entry.
    pub async fn get_published(
        &self,
        ct: &ContentType,
        key: Option<&str>,
        q: &EntryQuery,
        sight: &dyn Sight,
    ) -> Result<Entry> {
        let table = storage::delivery_table(ct);
        let row = match key {
            None => {
                let id = self.single_id(ct).await?.ok_or(Error::EntryNotFound)?;
                self.store.get_row(&table, &id).await?
            }
            Some(key) if key.len() > 200 => None,
            Some(key) if ulid::Ulid::from_string(key).is_ok() && key.len() == 26 => {
                match self
                    .store
                    .get_row(&table, &key.to_ascii_uppercase())
                    .await?
                {
                    Some(row) => Some(row),
                    // A 26-character slug can look like an id.
                    None => match ct.lookup_uid_field() {
                        Some(f) => self.store.find_row(&table, &f.name, json!(key)).await?,
                        None => None,
                    },
                }
            }
            Some(key) => match ct.lookup_uid_field() {
                Some(f) => self.store.find_row(&table, &f.name, json!(key)).await?,
                None => None,
            },
        };
        let row = row.ok_or(Error::EntryNotFound)?;
        let shape = Shape {
            fields: q.fields.as_deref(),
            locale: q.locale.as_deref(),
            render_html: q.render_html,
        };
        self.deliver(ct, vec![row], &q.populate, &shape, sight)
            .await?
            .pop()
            .ok_or(Error::EntryNotFound)
    }

    /// Published entries by id, shaped as `get_published` shapes one, in the order of `ids`;
    /// ids no longer published are left out.
    pub async fn get_published_many(
        &self,
        ct: &ContentType,
        ids: &[String],
        q: &EntryQuery,
        sight: &dyn Sight,
    ) -> Result<Vec<Entry>> {
        let rows = self
            .store
            .get_rows(&storage::delivery_table(ct), ids)
            .await?;
        let shape = Shape {
            fields: q.fields.as_deref(),
            locale: q.locale.as_deref(),
            render_html: q.render_html,
        };
        let entries = self.deliver(ct, rows, &q.populate, &shape, sight).await?;
        Ok(in_order(entries, ids))
    }

    /// Working copies by id within `permit`, in the order of `ids`; ids gone or outside the
    /// permit are left out.
    pub async fn get_entries(
        &self,
        permit: &Permit,
        ct: &ContentType,
        ids: &[String],
    ) -> Result<Vec<Entry>> {
        permit.check(ct, Action::Read)?;
        let rows = self
            .store
            .get_rows(&storage::entry_table(&ct.id), ids)
            .await?;
        let entries = rows
            .into_iter()
            .filter(|r| permit.covers(r.get("created_by").and_then(Value::as_str)))
            .map(|r| visible(permit, admin_entry(ct, r)))
            .collect();
        Ok(in_order(entries, ids))
    }

    /// Shapes published rows for the delivery API: populate (one query per relation path,
    /// whatever the page size, within the populate budget), locale, private fields, sparse
    /// fields, Markdown rendering; and relation ids the caller may not follow (unpublished
    /// entries, types it may not read) left out.
    async fn deliver(
        &self,
        ct: &ContentType,
        rows: Vec<Row>,
        populate: &[Vec<String>],
        shape: &Shape<'_>,
        sight: &dyn Sight,
    ) -> Result<Vec<Entry>> {
        let mut entries: Vec<Entry> = rows
            .into_iter()
            .map(|r| delivery_entry(ct, r, shape))
            .collect();
        let mut budget = Budget::new(&self.limits);
        // Paths arrive parents first, so a child path finds its parents already populated.
        for path in populate {
            self.populate_path(ct, &mut entries, path, shape, &mut budget)
                .await?;
        }
        self.drop_unreachable_ids(ct, &mut entries, populate, sight)
            .await?;
        Ok(entries)
    }

    /// Relation ids left as ids (not populated) name only entries the caller could fetch:
    /// published ones, of types it may read. An unpublished draft's id would tell the public
    /// it exists, and when it was made (ids are ULIDs).
    async fn drop_unreachable_ids(
        &self,
        ct: &ContentType,
        entries: &mut [Entry],
        populate: &[Vec<String>],
        sight: &dyn Sight,
    ) -> Result<()> {
        let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in entries.iter_mut() {
            relation_ids(&self.schema, ct, e, &[], populate, &mut |target, value| {
                let ids = wanted.entry(target.to_owned()).or_default();
                match value {
                    Value::String(id) => {
                        ids.insert(id.clone());
                    }
                    Value::Array(items) => {
                        ids.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
            });
        }
        let mut reachable: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (target, ids) in wanted {
            let Some(target_ct) = self.schema.get(&target) else {
                continue;
            };
            if !sight.reads(target_ct) || ids.is_empty() {
                continue;
            }
            let ids: Vec<String> = ids.into_iter().collect();
            let found = self
                .store
                .existing_ids_remembered(&storage::delivery_table(target_ct), &ids)
                .await?;
            reachable.insert(target, found.into_iter().collect());
        }
        let empty = BTreeSet::new();
        for e in entries.iter_mut() {
            relation_ids(&self.schema, ct, e, &[], populate, &mut |target, value| {
                let ok = reachable.get(target).unwrap_or(&empty);
                match value {
                    Value::String(id) if !ok.contains(id.as_str()) => *value = Value::Null,
                    Value::Array(items) => {
                        items.retain(|v| v.as_str().is_some_and(|id| ok.contains(id)));
                    }
                    _ => {}
                }
            });
        }
        Ok(())
    }

    async fn populate_path(
        &self,
        ct: &ContentType,
        entries: &mut [Entry],
        path: &[String],
        shape: &Shape<'_>,
        budget: &mut Budget,
    ) -> Result<()> {
        // Walk to the type that owns the last segment.
        let mut owner: Arc<ContentType> = self.content_type(&ct.id)?;
        for seg in &path[..path.len() - 1] {
            let next = match owner.field(seg).map(|f| &f.ty) {
                Some(FieldType::Relation { target, .. }) => self.content_type(target)?,
                _ => return Ok(()),
            };
            owner = next;
        }
        let last = &path[path.len() - 1];
        let field_type = owner.field(last).map(|f| f.ty.clone());
        if !matches!(
            field_type,
            Some(FieldType::Relation { .. } | FieldType::Media { .. })
        ) {
            return Ok(());
        }
        // Collect the ids at this path across every entry.
        let mut ids = BTreeSet::new();
        for e in entries.iter() {
            collect_ids(e, &path[..path.len() - 1], last, &mut ids);
        }
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ids.into_iter().collect();
        budget.take_entries(path, ids.len())?;
        let mut by_id: BTreeMap<String, Entry> = BTreeMap::new();
        // In batches, so a response over the byte budget stops after one batch too many
        // rather than after reading everything.
        let target_ct = match &field_type {
            Some(FieldType::Relation { target, .. }) => Some(self.content_type(target)?),
            _ => None,
        };
        let nested_shape = Shape {
            fields: None,
            locale: shape.locale,
            render_html: shape.render_html,
        };
        for batch in ids.chunks(POPULATE_BATCH) {
            match &target_ct {
                Some(target_ct) => {
                    let rows = self
                        .store
                        .get_rows(&storage::delivery_table(target_ct), batch)
                        .await?;
                    budget.take_bytes(path, rows.iter().map(json_size_of).sum())?;
                    by_id.extend(
                        rows.into_iter()
                            .map(|r| delivery_entry(target_ct, r, &nested_shape))
                            .filter_map(|e| Some((e.get("id")?.as_str()?.to_owned(), e))),
                    );
                }
                None => {
                    let rows = self.media.get_many(batch).await?;
                    budget.take_bytes(path, rows.iter().map(json_size_of).sum())?;
                    by_id.extend(rows.into_iter().filter_map(|r| {
                        let id = r.get("id")?.as_str()?.to_owned();
                        match self.media.delivery_object(&r, shape.locale) {
                            Value::Object(o) => Some((id, o)),
                            _ => None,
                        }
                    }));
                }
            }
        }
        for e in entries.iter_mut() {
            replace_ids(e, &path[..path.len() - 1], last, &by_id);
        }
        Ok(())
    }
}

/// Ids read per query when populating.
const POPULATE_BATCH: usize = 200;

/// What `populate` may still add to one response.
struct Budget {
    entries: usize,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Budget {
    fn new(limits: &Limits) -> Self {
        Self {
            entries: 0,
            bytes: 0,
            max_entries: limits.max_populate_entries,
            max_bytes: limits.max_populate_bytes,
        }
    }

    fn take_entries(&mut self, path: &[String], n: usize) -> Result<()> {
        self.entries = self.entries.saturating_add(n);
        if self.entries > self.max_entries {
            return Err(populate_too_large(
                path,
                format!("more than {} related entries", self.max_entries),
            ));
        }
        Ok(())
    }

    fn take_bytes(&mut self, path: &[String], n: usize) -> Result<()> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.max_bytes {
            return Err(populate_too_large(
                path,
                format!("more than {} KiB of related entries", self.max_bytes / 1024),
            ));
        }
        Ok(())
    }
}

fn populate_too_large(path: &[String], what: String) -> Error {
    Error::InvalidQuery {
        code: code::POPULATE_TOO_LARGE,
        param: "populate".into(),
        message: format!(
            "populating {} would put {what} in one response; ask for fewer entries per page \
             (limit) or populate fewer relations",
            path.join(".")
        ),
    }
}

/// About how many bytes `value` takes as JSON, without writing it.
fn json_size_of(row: &Row) -> usize {
    fn size(v: &Value) -> usize {
        match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 12,
            Value::String(s) => s.len() + 2,
            Value::Array(items) => 2 + items.iter().map(|i| size(i) + 1).sum::<usize>(),
            Value::Object(map) => {
                2 + map
                    .iter()
                    .map(|(k, v)| k.len() + 4 + size(v))
                    .sum::<usize>()
            }
        }
    }
    2 + row
        .iter()
        .map(|(k, v)| k.len() + 4 + size(v))
        .sum::<usize>()
}

/// Calls `visit` with every relation value of `entry` (of type `ct`, reached by `prefix`)
/// that holds ids rather than populated entries, and the type the ids belong to: top-level
/// relations not in `populate`, those of populated entries, and those inside groups and
/// repeaters.
fn relation_ids(
    schema: &Schema,
    ct: &ContentType,
    entry: &mut Entry,
    prefix: &[String],
    populate: &[Vec<String>],
    visit: &mut dyn FnMut(&str, &mut Value),
) {
    let Some(Value::Object(fields)) = entry.get_mut("fields") else {
        return;
    };
    for f in &ct.fields {
        let Some(value) = fields.get_mut(&f.name) else {
            continue;
        };
        match &f.ty {
            FieldType::Relation { target, .. } => {
                let mut path = prefix.to_vec();
                path.push(f.name.clone());
                if !populate.contains(&path) {
                    visit(target, value);
                    continue;
                }
                let Some(target_ct) = schema.get(target) else {
                    continue;
                };
                let children: Vec<&mut Value> = match value {
                    Value::Array(items) => items.iter_mut().collect(),
                    one => vec![one],
                };
                for child in children {
                    if let Value::Object(child) = child {
                        relation_ids(schema, target_ct, child, &path, populate, visit);
                    }
                }
            }
            FieldType::Group { fields: inner } | FieldType::Repeater { fields: inner } => {
                nested_relation_ids(inner, value, visit);
            }
            _ => {}
        }
    }
}

/// [`relation_ids`] inside a group's object or a repeater's items (never populated).
fn nested_relation_ids(
    fields: &[Field],
    value: &mut Value,
    visit: &mut dyn FnMut(&str, &mut Value),
) {
    let objects: Vec<&mut Map<String, Value>> = match value {
        Value::Object(o) => vec![o],
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => return,
    };
    for object in objects {
        for f in fields {
            let Some(v) = object.get_mut(&f.name) else {
                continue;
            };
            match &f.ty {
                FieldType::Relation { target, .. } => visit(target, v),
                FieldType::Group { fields: inner } | FieldType::Repeater { fields: inner } => {
                    nested_relation_ids(inner, v, visit);
                }
                _ => {}
            }
        }
    }
}

/// The relation fields of unvalidated input, each id in its canonical form, for
/// [`Content::relation_errors`]. Ids that are not well formed (validation reports those)
/// become null, so the others keep their index in the path.
fn well_formed_relations(ct: &ContentType, input: &Map<String, Value>) -> Map<String, Value> {
    let canonical = |v: &Value| {
        v.as_str()
            .and_then(|s| {
                ulid::Ulid::from_string(s)
                    .ok()
                    .filter(|id| id.to_string().eq_ignore_ascii_case(s))
            })
            .map_or(Value::Null, |id| Value::String(id.to_string()))
    };
    ct.fields
        .iter()
        .filter(|f| matches!(f.ty, FieldType::Relation { .. }) && !f.localized)
        .filter_map(|f| {
            let value = match input.get(&f.name)? {
                Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
                one => canonical(one),
            };
            Some((f.name.clone(), value))
        })
        .collect()
}

/// A localised field given a plain value (not an object of locales) means that value in
/// `locale` (the default locale when `None`). With `current`, the other locales' stored values
/// are kept: a patch of one locale does not erase the others.
pub(crate) fn localize_plain(
    ct: &ContentType,
    fields: &mut Map<String, Value>,
    locale: Option<&str>,
    current: Option<&Row>,
) {
    let Some(locale) = locale.or(ct.default_locale()) else {
        return;
    };
    for f in ct
        .fields
        .iter()
        .filter(|f| f.localized && !matches!(f.ty, FieldType::Json))
    {
        let Some(value) = fields.get_mut(&f.name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Value::Object(patch) = value {
            // A patch of some locales keeps the others; a null removes that locale's value.
            if let Some(Value::Object(stored)) = current.and_then(|r| r.get(&f.name)) {
                let mut merged = stored.clone();
                for (l, v) in std::mem::take(patch) {
                    if v.is_null() {
                        merged.remove(&l);
                    } else {
                        merged.insert(l, v);
                    }
                }
                *patch = merged;
            }
            continue;
        }
        let mut per_locale = current
            .and_then(|r| r.get(&f.name))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        per_locale.insert(locale.to_owned(), std::mem::take(value));
        *value = Value::Object(per_locale);
    }
}

/// `entries` in the order of `ids`.
fn in_order(entries: Vec<Entry>, ids: &[String]) -> Vec<Entry> {
    let mut by_id: BTreeMap<String, Entry> = entries
        .into_iter()
        .map(|e| {
            let id = e
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (id, e)
        })
        .collect();
    ids.iter().filter_map(|id| by_id.remove(id)).collect()
}

/// How delivery entries are shaped.
struct Shape<'a> {
    fields: Option<&'a [String]>,
    locale: Option<&'a str>,
    render_html: bool,
}

/// An entry id from a request in its stored, upper-case form; anything that is not an id
/// names no entry. The round trip refuses a first character above 7, which the parser would
/// silently wrap onto another entry's id.
pub(crate) fn entry_id(raw: &str) -> Result<String> {
    ulid::Ulid::from_string(raw)
        .ok()
        .map(|id| id.to_string())
        .filter(|id| id.eq_ignore_ascii_case(raw))
        .ok_or(Error::EntryNotFound)
}

/// What a change to an entry tells the event log: its kind (from the audit action), who
/// made it, and the fields whose values differ between `before` and `after`.
pub(crate) fn entry_change(
    action: &str,
    actor: &str,
    ct: &ContentType,
    before: Option<&Row>,
    after: Option<&Row>,
    audit: String,
) -> ChangeRecord {
    let kind = match action {
        "entry.create" | "entry.create_published" | "entry.import" => "entry.created",
        // Without drafts every save goes live: it is an update, not a publication.
        "entry.update_published" if !ct.drafts => "entry.updated",
        "entry.update_published" | "entry.publish" => "entry.published",
        "entry.unpublish" => "entry.unpublished",
        "entry.delete" => "entry.deleted",
        _ => "entry.updated",
    };
    fn value<'a>(r: Option<&'a Row>, name: &str) -> Option<&'a Value> {
        r.and_then(|r| r.get(name)).filter(|v| !v.is_null())
    }
    let changed = ct
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| value(before, name) != value(after, name))
        .map(str::to_owned)
        .collect();
    ChangeRecord {
        kind,
        actor: actor.to_owned(),
        changed,
        audit,
    }
}

fn version_of(row: &Row) -> u64 {
    row.get("version").and_then(Value::as_u64).unwrap_or(0)
}

/// The type's fields out of a stored row, in declaration order, absent ones as null.
fn fields_of(ct: &ContentType, row: &Row) -> Map<String, Value> {
    ct.fields
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                row.get(&f.name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// The published snapshot written beside a row: its fields and the public metadata.
fn storage_snapshot(row: &Row) -> storage::Snapshot {
    let mut snap = row.clone();
    snap.remove("id");
    snap.remove("status");
    storage::Snapshot::Publish(snap)
}

fn admin_entry(ct: &ContentType, row: Row) -> Entry {
    let mut e = Entry::new();
    e.insert("id".into(), row.get("id").cloned().unwrap_or(Value::Null));
    e.insert("type".into(), json!(ct.id));
    for m in &META[1..] {
        e.insert((*m).into(), row.get(*m).cloned().unwrap_or(Value::Null));
    }
    if !ct.drafts {
        e.insert("status".into(), json!("published"));
    }
    e.insert("fields".into(), Value::Object(fields_of(ct, &row)));
    e
}

fn delivery_entry(ct: &ContentType, row: Row, shape: &Shape<'_>) -> Entry {
    let mut e = Entry::new();
    e.insert("id".into(), row.get("id").cloned().unwrap_or(Value::Null));
    for m in ["created_at", "updated_at", "published_at"] {
        e.insert(m.into(), row.get(m).cloned().unwrap_or(Value::Null));
    }
    let locale = shape.locale.or(ct.default_locale()).map(str::to_owned);
    if ct.is_localized() {
        e.insert("locale".into(), json!(locale));
    }
    let mut fields = Map::new();
    for f in &ct.fields {
        if f.private {
            continue;
        }
        if let Some(only) = shape.fields
            && !only.iter().any(|n| n == &f.name)
        {
            continue;
        }
        let mut value = row.get(&f.name).cloned().unwrap_or(Value::Null);
        if f.localized {
            value = resolve_locale(value, locale.as_deref(), ct.default_locale());
        }
        if shape.render_html
            && matches!(f.ty, FieldType::Markdown)
            && let Value::String(md) = &value
        {
            value = Value::String(markdown::to_html(md));
        }
        fields.insert(f.name.clone(), value);
    }
    e.insert("fields".into(), Value::Object(fields));
    e
}

/// Picks one locale's value, falling back to the default locale.
fn resolve_locale(value: Value, locale: Option<&str>, default: Option<&str>) -> Value {
    let Value::Object(mut per_locale) = value else {
        return value;
    };
    let pick = |m: &mut Map<String, Value>, l: Option<&str>| {
        l.and_then(|l| m.remove(l))
            .filter(|v| !v.is_null() && v != &json!(""))
    };
    pick(&mut per_locale, locale)
        .or_else(|| pick(&mut per_locale, default))
        .unwrap_or(Value::Null)
}

/// Lists default to newest first: by `published_at` on delivery, `updated_at` in the admin.
fn default_sort(ct: &ContentType, sort: &[Sort], audience: Audience) -> Vec<Sort> {
    if !sort.is_empty() {
        return sort.to_vec();
    }
    let key = match audience {
        Audience::Delivery => MetaField::PublishedAt,
        Audience::Admin => MetaField::UpdatedAt,
    };
    let _ = ct;
    vec![Sort {
        key: SortKey::Meta(key),
        desc: true,
    }]
}

/// Walks `prefix` (already-populated relation objects) and gathers the ids in field `last`.
fn collect_ids(entry: &Entry, prefix: &[String], last: &str, out: &mut BTreeSet<String>) {
    let Some(Value::Object(fields)) = entry.get("fields") else {
        return;
    };
    match prefix.split_first() {
        None => match fields.get(last) {
            Some(Value::String(id)) => {
                out.insert(id.clone());
            }
            Some(Value::Array(items)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        },
        Some((seg, rest)) => match fields.get(seg) {
            Some(Value::Object(child)) => collect_ids(child, rest, last, out),
            Some(Value::Array(children)) => {
                for c in children {
                    if let Value::Object(child) = c {
                        collect_ids(child, rest, last, out);
                    }
                }
            }
            _ => {}
        },
    }
}

/// Replaces ids in field `last` under `prefix` with the entries found; an id with no
/// published entry becomes null (one) or is dropped (many).
fn replace_ids(entry: &mut Entry, prefix: &[String], last: &str, by_id: &BTreeMap<String, Entry>) {
    let Some(Value::Object(fields)) = entry.get_mut("fields") else {
        return;
    };
    match prefix.split_first() {
        None => {
            if let Some(v) = fields.get_mut(last) {
                *v = match std::mem::take(v) {
                    Value::String(id) => by_id.get(&id).cloned().map_or(Value::Null, Value::Object),
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .filter_map(|id| by_id.get(id).cloned().map(Value::Object))
                            .collect(),
                    ),
                    other => other,
                };
            }
        }
        Some((seg, rest)) => match fields.get_mut(seg) {
            Some(Value::Object(child)) => replace_ids(child, rest, last, by_id),
            Some(Value::Array(children)) => {
                for c in children {
                    if let Value::Object(child) = c {
                        replace_ids(child, rest, last, by_id);
                    }
                }
            }
            _ => {}
        },
    }
}

/// A URL-safe slug: lowercase ASCII letters and digits joined by single hyphens, at most 200
/// characters. Accented Latin letters lose their accents; other characters separate words.
/// An admin entry without the fields the caller's role may not see.
fn visible(permit: &Permit, mut entry: Entry) -> Entry {
    if let Some(Value::Object(fields)) = entry.get_mut("fields") {
        for f in permit.hidden() {
            fields.remove(f);
        }
    }
    entry
}

/// Refuses changes to fields the caller's role may not change, then puts their stored values
/// (or nothing, for a new entry) in the input, so saving keeps them as they are.
fn guard_fields(
    permit: &Permit,
    input: &mut Map<String, Value>,
    current: Option<&Row>,
) -> Result<()> {
    let stored = |f: &str| current.and_then(|c| c.get(f)).filter(|v| !v.is_null());
    let errors: Vec<FieldError> = input
        .iter()
        .filter(|(k, v)| {
            permit.may_not_change(k)
                && stored(k) != Some(*v)
                && !(v.is_null() && stored(k).is_none())
        })
        .map(|(k, _)| FieldError {
            path: format!("fields.{k}"),
            code: field_code::NOT_ALLOWED,
            message: "your role may not change this field".into(),
        })
        .collect();
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let restricted: Vec<String> = permit.restricted().cloned().collect();
    for f in restricted {
        match stored(&f) {
            Some(v) => {
                input.insert(f, v.clone());
            }
            None => {
                input.remove(&f);
            }
        }
    }
    Ok(())
}

/// Whether a save also publishes, checking the publish permit when it does. A type without
/// drafts publishes every save, so saving it needs one.
fn publish_permit(ct: &ContentType, publish: Option<&Permit>) -> Result<bool> {
    match publish {
        Some(p) => {
            p.check(ct, Action::Publish)?;
            Ok(true)
        }
        None if !ct.drafts => Err(Error::Forbidden),
        None => Ok(false),
    }
}

pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars() {
        let mapped: Option<&str> = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                Some("a")
            }
            'ç' | 'Ç' => Some("c"),
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => Some("e"),
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => Some("i"),
            'ñ' | 'Ñ' => Some("n"),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'ø' | 'Ø' => {
                Some("o")
            }
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => Some("u"),
            'ý' | 'ÿ' | 'Ý' => Some("y"),
            'ß' => Some("ss"),
            'æ' | 'Æ' => Some("ae"),
            'œ' | 'Œ' => Some("oe"),
            _ => None,
        };
        let piece: String = match mapped {
            Some(s) => s.to_owned(),
            None if c.is_ascii_alphanumeric() => c.to_ascii_lowercase().to_string(),
            None => {
                pending_dash = true;
                continue;
            }
        };
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.push_str(&piece);
        if out.len() >= 200 {
            break;
        }
    }
    out.truncate(200);
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(
            slugify("  Crème brûlée  à la carte "),
            "creme-brulee-a-la-carte"
        );
        assert_eq!(slugify("Rust 2024: async -- fn"), "rust-2024-async-fn");
        assert_eq!(slugify("日本語"), "");
        assert!(slugify(&"a".repeat(500)).len() <= 200);
    }

    #[test]
    fn locales_fall_back_to_the_default() {
        let v = json!({ "en": "Hello", "fr": "" });
        assert_eq!(
            resolve_locale(v.clone(), Some("fr"), Some("en")),
            json!("Hello")
        );
        let v = json!({ "en": "Hello", "fr": "Bonjour" });
        assert_eq!(resolve_locale(v, Some("fr"), Some("en")), json!("Bonjour"));
    }
}

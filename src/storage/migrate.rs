//! Schema migrations: the database layout derived from the content types, compared with what
//! was applied last time, applied as the smallest set of DDL statements.
//!
//! The applied layout is kept in `folio_schema:current` as a map from a stable key
//! (`entry_article/field/title`) to the statement that created it, plus each field's storage
//! kind. Re-running a `DEFINE INDEX` rebuilds the index, so start-up runs only the statements
//! that changed: with nothing changed, start-up sends one read.
//!
//! Changes that move data (a rename, a cleared field, filling a new published or link table)
//! rewrite every row of a table, more than one transaction can hold at 100k articles (the
//! store's write buffer bounds it), so they run a batch of rows per transaction between the
//! definitions. Each such statement is idempotent, and the applied layout is recorded only in
//! the last transaction: a start-up stopped half-way plans the same steps again and runs them
//! from the start, finding the rows already moved.

use std::collections::BTreeMap;

use super::{Store, delivery_table, entry_table, ident, take_json};
use crate::error::{Error, Result};
use crate::schema::{ContentType, Field, FieldType, Schema};
use serde::{Deserialize, Serialize};

const STATE_RECORD: &str = "current";

/// Rows per transaction when a change rewrites a table (~13 KiB each for an article, twice
/// that while old and new versions are both held: ~50 MB for the default 128 MiB write
/// buffer); halved while a batch still fails. Finding a batch's rows passes the rows before
/// it again (see `storage::walk_step`), so batches are large.
const ROWS_PER_BATCH: usize = 2_000;

/// One step of applying a plan.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A definition; consecutive ones run in one transaction.
    Define(String),
    /// A statement over the records in `$ids`, run on every row of `table` a batch at a
    /// time, each batch a transaction of its own. Running it again over rows it has already
    /// changed must change nothing. `rewrites`: it changes stored entries (a rename, a
    /// cleared field, a publication), not only rows derived from them.
    EachBatch {
        table: String,
        stmt: String,
        rewrites: bool,
    },
}

/// What a start-up would change, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    desired: AppliedState,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub description: String,
    /// Applying it loses stored data.
    pub destructive: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn destructive(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.destructive)
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "The database is up to date with the content types.");
        }
        for c in &self.changes {
            let mark = if c.destructive { "!" } else { "+" };
            writeln!(f, "  {mark} {}", c.description)?;
        }
        Ok(())
    }
}

/// The layout as applied: statement per key, and each table's fields with their kinds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct AppliedState {
    statements: BTreeMap<String, String>,
    /// table → field → storage kind
    fields: BTreeMap<String, BTreeMap<String, String>>,
    /// How the statement of a key that moves data is run, a batch of rows at a time (its
    /// text in `statements` records that it has run).
    #[serde(skip)]
    batched: BTreeMap<String, Vec<Step>>,
}

/// The SurrealQL type a field is stored as. Nested and per-locale values are validated by the
/// schema module before they get here, so the database only checks the outer shape.
fn storage_kind(f: &Field) -> &'static str {
    if f.localized {
        return "any";
    }
    match &f.ty {
        FieldType::Text
        | FieldType::LongText
        | FieldType::Markdown
        | FieldType::Uid { .. }
        | FieldType::Email
        | FieldType::Url
        | FieldType::Enum { .. }
        | FieldType::Date
        | FieldType::Datetime => "option<string>",
        FieldType::Integer => "option<int>",
        FieldType::Float => "option<number>",
        FieldType::Boolean => "option<bool>",
        FieldType::Relation { many: false, .. } | FieldType::Media { many: false, .. } => {
            "option<string>"
        }
        FieldType::Relation { many: true, .. } | FieldType::Media { many: true, .. } => {
            "option<array<string>>"
        }
        FieldType::Json | FieldType::Group { .. } | FieldType::Repeater { .. } => "any",
    }
}

/// Fields worth an index in the delivery table: what lists sort and filter on.
fn delivery_indexed(f: &Field) -> bool {
    !f.localized
        && matches!(
            f.ty,
            FieldType::Uid { .. }
                | FieldType::Integer
                | FieldType::Float
                | FieldType::Boolean
                | FieldType::Date
                | FieldType::Datetime
                | FieldType::Enum { .. }
                | FieldType::Relation { many: false, .. }
        )
}

fn desired_state(schema: &Schema) -> Result<AppliedState> {
    let mut state = AppliedState::default();
    state
        .statements
        .extend(super::accounts::system_statements());
    for ct in schema.types() {
        let entry = entry_table(&ct.id);
        define_table(&mut state, ct, &entry, true)?;
        if ct.drafts {
            let published = delivery_table(ct);
            define_table(&mut state, ct, &published, false)?;
            // Runs once, when the published table is new: a type that gains drafts keeps its
            // entries public, every entry having been published on save until now.
            let key = format!("{published}/~backfill");
            state.statements.insert(
                key.clone(),
                format!(
                    "INSERT INTO {} (SELECT * OMIT status FROM {} WHERE status != 'draft')",
                    ident(&published)?,
                    ident(&entry)?
                ),
            );
            state.batched.insert(
                key,
                vec![Step::EachBatch {
                    table: entry.clone(),
                    stmt: format!(
                        "INSERT IGNORE INTO {} (SELECT * OMIT status FROM $ids \
                         WHERE status != 'draft') RETURN NONE",
                        ident(&published)?
                    ),
                    rewrites: true,
                }],
            );
        } else {
            // Runs once, when the type is new or loses its drafts: the entry table is now what
            // the delivery API reads, so every entry in it is published.
            let key = format!("{entry}/~publish_all");
            state.statements.insert(
                key.clone(),
                format!(
                    "UPDATE {} SET status = 'published', published_at = published_at ?? \
                     updated_at WHERE status != 'published' RETURN NONE",
                    ident(&entry)?
                ),
            );
            state.batched.insert(
                key,
                vec![Step::EachBatch {
                    table: entry.clone(),
                    stmt: "UPDATE $ids SET status = 'published', published_at = published_at ?? \
                           updated_at WHERE status != 'published' RETURN NONE"
                        .into(),
                    rewrites: true,
                }],
            );
        }
        for f in ct.fields.iter().filter(|f| is_linked(f)) {
            define_links(&mut state, &delivery_table(ct), &f.name)?;
        }
    }
    Ok(state)
}

/// Many-relations of the delivery table get a link table: SurrealDB cannot use an index for
/// `array CONTAINS value`, so "entries tagged X, newest first" and its total are read from
/// `(dst, at)` rows instead of scanning the entries.
pub(crate) fn is_linked(f: &Field) -> bool {
    !f.localized && matches!(f.ty, FieldType::Relation { many: true, .. })
}

/// The link table of a many-relation field of a delivery table. Its rows are derived data,
/// rewritten with the entry's published row: `src` the entry, `dst` the related entry, `at`
/// the entry's `published_at` and id joined, so ordering by `at` is the list's default order
/// with its id tie-break, in one unique key.
pub(crate) fn link_table(delivery_table: &str, field: &str) -> String {
    format!("rel_{delivery_table}_{field}")
}

fn define_links(state: &mut AppliedState, table: &str, field: &str) -> Result<()> {
    let rel = link_table(table, field);
    let r = ident(&rel)?;
    let mut put = |key: &str, stmt: String| {
        state.statements.insert(format!("{rel}/{key}"), stmt);
    };
    put("table", format!("DEFINE TABLE {r} SCHEMAFULL"));
    for col in ["src", "dst", "at"] {
        put(
            &format!("meta/{col}"),
            format!("DEFINE FIELD {col} ON {r} TYPE string"),
        );
    }
    put(
        "index/dst_at",
        format!("DEFINE INDEX idx_dst_at ON {r} FIELDS dst, at"),
    );
    put(
        "index/src",
        format!("DEFINE INDEX idx_src ON {r} FIELDS src"),
    );
    // Runs once, when the link table is new: links for the rows already published. The key
    // sorts after the definitions above. Run again after a stop half-way, it starts afresh.
    let fill = |from: &str| -> Result<String> {
        Ok(format!(
            "FOR $e IN (SELECT record::id(id) AS src, {f} AS dst, published_at FROM {from} \
             WHERE {f} != NONE) {{ FOR $d IN $e.dst {{ CREATE {r} CONTENT {{ src: $e.src, \
             dst: $d, at: $e.published_at + '|' + $e.src }} }} }}",
            f = ident(field)?,
        ))
    };
    put("~backfill", fill(&ident(table)?)?);
    state.batched.insert(
        format!("{rel}/~backfill"),
        vec![
            Step::Define(format!("DELETE {r} RETURN NONE")),
            Step::EachBatch {
                table: table.to_owned(),
                stmt: fill("$ids")?,
                rewrites: false,
            },
        ],
    );
    state.fields.insert(
        rel,
        ["src", "dst", "at"]
            .iter()
            .map(|c| ((*c).to_owned(), "string".to_owned()))
            .collect(),
    );
    Ok(())
}

fn define_table(
    state: &mut AppliedState,
    ct: &ContentType,
    table: &str,
    is_entry_table: bool,
) -> Result<()> {
    let t = ident(table)?;
    let mut put = |key: String, stmt: String| {
        state.statements.insert(format!("{table}/{key}"), stmt);
    };
    put("table".into(), format!("DEFINE TABLE {t} SCHEMAFULL"));
    let mut meta = vec![
        ("version", "int"),
        ("created_at", "string"),
        ("updated_at", "string"),
        ("published_at", "option<string>"),
        ("created_by", "option<string>"),
        ("updated_by", "option<string>"),
    ];
    if is_entry_table {
        meta.push(("status", "string"));
    }
    for (name, kind) in &meta {
        put(
            format!("meta/{name}"),
            format!("DEFINE FIELD {name} ON {t} TYPE {kind}"),
        );
    }
    for index in ["created_at", "updated_at", "published_at"] {
        put(
            format!("index/{index}"),
            format!("DEFINE INDEX idx_{index} ON {t} FIELDS {index}"),
        );
    }
    let mut kinds = BTreeMap::new();
    for f in &ct.fields {
        let name = ident(&f.name)?;
        let kind = storage_kind(f);
        kinds.insert(f.name.clone(), kind.to_owned());
        put(
            format!("field/{}", f.name),
            format!("DEFINE FIELD {name} ON {t} TYPE {kind}"),
        );
        let index = format!("idx_{}", f.name);
        if f.rules.unique {
            put(
                format!("index/{}", f.name),
                format!("DEFINE INDEX {index} ON {t} FIELDS {name} UNIQUE"),
            );
        } else if delivery_indexed(f)
            && (!is_entry_table || !ct.drafts || matches!(f.ty, FieldType::Relation { .. }))
        {
            put(
                format!("index/{}", f.name),
                format!("DEFINE INDEX {index} ON {t} FIELDS {name}"),
            );
        }
    }
    // A count index: each transaction adds its net change of the row count under a key of its
    // own, so an unfiltered `count()` sums a few deltas instead of reading every row, and
    // concurrent writes do not contend for a counter. (Not under `index/`, where a field of
    // that name could collide.)
    put(
        "~count".into(),
        format!("DEFINE INDEX folio_count ON {t} COUNT"),
    );
    state.fields.insert(table.to_owned(), kinds);
    Ok(())
}

impl Store {
    async fn applied_state(&self) -> Result<AppliedState> {
        let mut res = self
            .statement(
                "DEFINE TABLE IF NOT EXISTS folio_schema SCHEMALESS; \
                 SELECT VALUE state FROM type::record('folio_schema', $id)",
            )
            .bind(("id", STATE_RECORD))
            .await?;
        match take_json(&mut res, 1)? {
            serde_json::Value::Array(mut v) if !v.is_empty() => {
                serde_json::from_value(v.swap_remove(0))
                    .map_err(|e| Error::internal(format!("stored schema state unreadable: {e}")))
            }
            _ => Ok(AppliedState::default()),
        }
    }

    /// Works out what applying `schema` would change.
    pub async fn plan_schema(&self, schema: &Schema) -> Result<Plan> {
        let applied = self.applied_state().await?;
        let desired = desired_state(schema)?;
        let mut plan = Plan {
            desired: desired.clone(),
            ..Plan::default()
        };

        // Tables and fields that go away, or change kind, lose data if they hold any.
        for (table, old_fields) in &applied.fields {
            let Some(new_fields) = desired.fields.get(table) else {
                // A type losing its drafts: its entry table becomes public, drafts included.
                if table.starts_with("published_")
                    && let Some(type_id) = super::type_of_table(table)
                    && desired.fields.contains_key(&entry_table(type_id))
                {
                    let hidden = self.count_unpublished(&entry_table(type_id)).await?;
                    plan.changes.push(Change {
                        description: format!(
                            "`{type_id}` no longer has drafts: {hidden} draft or changed \
                             entries would become public as they are now"
                        ),
                        destructive: hidden > 0,
                    });
                    plan.steps.push(Step::Define(format!(
                        "REMOVE TABLE IF EXISTS {}",
                        ident(table)?
                    )));
                    continue;
                }
                // Link tables are derived from the entries: dropping one loses nothing. Nor does
                // dropping the queues the event log replaced: start-up moves what they hold
                // into the log first (`Store::adopt_search_work`, `Store::adopt_audit_queue`).
                let derived = table.starts_with("rel_")
                    || table == "folio_search_work"
                    || table == "folio_audit_queue";
                let n = if derived {
                    0
                } else {
                    self.count_rows(table).await?
                };
                plan.changes.push(Change {
                    description: format!("remove table `{table}` ({n} rows)"),
                    destructive: n > 0,
                });
                plan.steps.push(Step::Define(format!(
                    "REMOVE TABLE IF EXISTS {}",
                    ident(table)?
                )));
                continue;
            };
            for (field, old_kind) in old_fields {
                let renamed_to = renamed_to(schema, table, field);
                match (new_fields.get(field), renamed_to) {
                    (_, Some(new)) if !old_fields.contains_key(&new) => {
                        plan.changes.push(Change {
                            description: format!("rename `{table}.{field}` to `{new}`"),
                            destructive: false,
                        });
                        // The new field is defined first (steps below are ordered).
                        plan.steps.push(Step::Define(format!(
                            "DEFINE FIELD OVERWRITE {} ON {} TYPE {}",
                            ident(&new)?,
                            ident(table)?,
                            desired.fields[table][&new]
                        )));
                        plan.steps.push(Step::EachBatch {
                            table: table.clone(),
                            stmt: format!(
                                "UPDATE $ids SET {n} = {o}, {o} = NONE WHERE {o} != NONE \
                                 RETURN NONE",
                                n = ident(&new)?,
                                o = ident(field)?
                            ),
                            rewrites: true,
                        });
                        plan.steps.push(Step::Define(format!(
                            "REMOVE FIELD IF EXISTS {} ON {}",
                            ident(field)?,
                            ident(table)?
                        )));
                    }
                    (None, _) => {
                        let n = self.count_values(table, field).await?;
                        plan.changes.push(Change {
                            description: format!(
                                "remove field `{table}.{field}` ({n} values would be lost)"
                            ),
                            destructive: n > 0,
                        });
                        plan.steps.push(clear(table, field)?);
                        plan.steps.push(Step::Define(format!(
                            "REMOVE FIELD IF EXISTS {} ON {}",
                            ident(field)?,
                            ident(table)?
                        )));
                    }
                    (Some(new_kind), _) if new_kind != old_kind => {
                        let n = self.count_values(table, field).await?;
                        plan.changes.push(Change {
                            description: format!(
                                "change `{table}.{field}` from {old_kind} to {new_kind} \
                                 ({n} values would be lost)"
                            ),
                            destructive: n > 0,
                        });
                        plan.steps.push(clear(table, field)?);
                    }
                    _ => {}
                }
            }
        }
        // Statements that are new or different.
        for (key, stmt) in &desired.statements {
            if applied.statements.get(key) != Some(stmt) {
                let overwrite = stmt.replacen("DEFINE TABLE ", "DEFINE TABLE OVERWRITE ", 1);
                let overwrite = overwrite
                    .replacen("DEFINE FIELD ", "DEFINE FIELD OVERWRITE ", 1)
                    .replacen("DEFINE INDEX ", "DEFINE INDEX OVERWRITE ", 1);
                if !applied.statements.contains_key(key) || !key.ends_with("/table") {
                    plan.changes.push(Change {
                        description: describe(key, applied.statements.contains_key(key)),
                        destructive: false,
                    });
                }
                match desired.batched.get(key) {
                    Some(steps) => plan.steps.extend(steps.iter().cloned()),
                    None => plan.steps.push(Step::Define(overwrite)),
                }
            }
        }
        // Indexes that are no longer wanted.
        for key in applied.statements.keys() {
            if key.contains("/index/") && !desired.statements.contains_key(key) {
                let (table, rest) = key.split_once('/').unwrap_or((key, ""));
                let name = rest.rsplit('/').next().unwrap_or(rest);
                if desired.fields.contains_key(table) {
                    plan.changes.push(Change {
                        description: format!("drop index on `{table}.{name}`"),
                        destructive: false,
                    });
                    plan.steps.push(Step::Define(format!(
                        "REMOVE INDEX IF EXISTS {} ON {}",
                        ident(&format!("idx_{name}"))?,
                        ident(table)?
                    )));
                }
            }
        }
        // Steps were pushed in discovery order; removals first would drop a field a rename
        // still reads, so keep the order as built: renames, then removals, then defines.
        Ok(plan)
    }

    /// Applies `plan` (from [`Store::plan_schema`]); refuses destructive changes unless allowed.
    pub async fn apply_schema(&self, plan: Plan, allow_destructive: bool) -> Result<()> {
        if !allow_destructive && plan.destructive().next().is_some() {
            let lines: Vec<String> = plan
                .destructive()
                .map(|c| format!("  ! {}", c.description))
                .collect();
            return Err(Error::Config(format!(
                "the content types would drop stored data:\n{}\n\
                 Add `renamed_from = \"old_name\"` to a renamed field, restore the removed \
                 fields, or start with --allow-destructive to accept the loss.",
                lines.join("\n")
            )));
        }
        if plan.steps.is_empty() {
            return Ok(());
        }
        self.invalidate_all();
        let mut defines = Vec::new();
        // Types whose stored entries were rewritten: each logs a `type.migrated` event.
        let mut migrated = std::collections::BTreeSet::new();
        for step in plan.steps {
            match step {
                Step::Define(stmt) => defines.push(stmt),
                Step::EachBatch {
                    table,
                    stmt,
                    rewrites,
                } => {
                    self.define(std::mem::take(&mut defines), None, Vec::new())
                        .await?;
                    let rows = self.each_batch(&table, &stmt).await?;
                    if rewrites
                        && rows > 0
                        && let Some(type_id) = super::type_of_table(&table)
                    {
                        migrated.insert(type_id.to_owned());
                    }
                }
            }
        }
        let state = serde_json::to_value(&plan.desired)
            .map_err(|e| Error::internal(format!("schema state: {e}")))?;
        let events = if migrated.is_empty() {
            Vec::new()
        } else {
            self.migration_events(&migrated)
        };
        self.define(defines, Some(state), events).await
    }

    /// The `type.migrated` events of `types`, as `EVENTS_STATEMENT` takes them: one for each
    /// type whose stored entries a content-type change rewrote, so what follows the log
    /// (other nodes' caches, outside systems) reads those entries again.
    fn migration_events(
        &self,
        types: &std::collections::BTreeSet<String>,
    ) -> Vec<(String, serde_json::Value)> {
        let mut rows = Vec::new();
        for type_id in types {
            let change = super::events::ChangeRecord {
                kind: "type.migrated",
                actor: "system".into(),
                changed: Vec::new(),
                audit: String::new(),
            };
            if let serde_json::Value::Array(r) = super::events::event_rows(
                self.node(),
                Some(type_id),
                &change,
                vec![(type_id.clone(), None, None)],
            ) {
                rows.extend(r);
            }
        }
        vec![super::events::event_binds(serde_json::Value::Array(rows))]
    }

    /// Runs `stmts` in one transaction, recording `state` as the applied layout with them
    /// (and logging the events bound in it, made by [`Store::migration_events`]).
    async fn define(
        &self,
        stmts: Vec<String>,
        state: Option<serde_json::Value>,
        events: Vec<(String, serde_json::Value)>,
    ) -> Result<()> {
        if stmts.is_empty() && state.is_none() {
            return Ok(());
        }
        let mut script = String::from("BEGIN;\n");
        for stmt in &stmts {
            script.push_str(stmt);
            script.push_str(";\n");
        }
        if state.is_some() {
            script
                .push_str("UPSERT type::record('folio_schema', $id) CONTENT { state: $state };\n");
        }
        if !events.is_empty() {
            script.push_str(super::events::EVENTS_STATEMENT);
        }
        script.push_str("COMMIT;\n");
        let mut query = self
            .statement(script)
            .bind(("id", STATE_RECORD))
            .bind(("state", state.unwrap_or_default()));
        for b in events {
            query = query.bind(b);
        }
        let mut res = query.await?;
        if let Some(e) = super::cause(res.take_errors()) {
            return Err(Error::Config(format!(
                "applying the content types to the database failed: {e}"
            )));
        }
        Ok(())
    }

    /// Runs `stmt` over every row of `table`, a batch of rows (bound as `$ids`) per
    /// transaction, walking the table in id order.
    async fn each_batch(&self, table: &str, stmt: &str) -> Result<usize> {
        let script = format!("BEGIN;\n{stmt};\nCOMMIT;");
        let mut after: Option<String> = None;
        let mut size = ROWS_PER_BATCH;
        let mut done = 0usize;
        loop {
            let mut res =
                super::walk_step(self, "VALUE record::id(id)", table, after.as_deref(), size)
                    .await?;
            super::fail_on_error(&mut res)?;
            let keys: Vec<String> = match take_json(&mut res, 0)? {
                serde_json::Value::Array(keys) => keys
                    .into_iter()
                    .map(|k| match k {
                        serde_json::Value::String(k) => Ok(k),
                        other => Err(Error::internal(format!(
                            "`{table}` has a record whose id is not a string: {other}"
                        ))),
                    })
                    .collect::<Result<_>>()?,
                _ => Vec::new(),
            };
            let Some(last) = keys.last().cloned() else {
                return Ok(done);
            };
            let n = keys.len();
            let ids: Vec<surrealdb::types::RecordId> = keys
                .into_iter()
                .map(|k| surrealdb::types::RecordId::new(table.to_owned(), k))
                .collect();
            let (_, errors) = self
                .run_write(|db| db.statement(script.clone()).bind(("ids", ids.clone())))
                .await?;
            if let Some(e) = super::cause(errors) {
                // A batch larger than the store's write buffer fails whole; a smaller one may
                // pass.
                if size > 1 {
                    size /= 2;
                    tracing::debug!(table, size, error = %e, "retrying with smaller batches");
                    continue;
                }
                return Err(Error::Config(format!(
                    "applying the content types to `{table}` failed: {e}"
                )));
            }
            done += n;
            after = Some(last);
            if done % 10_000 < n {
                tracing::info!(table, rows = done, "content-type change: rows rewritten");
            }
        }
    }

    /// How many rows `table` holds (content tables answer from their COUNT index).
    pub(crate) async fn count_rows(&self, table: &str) -> Result<u64> {
        let q = format!("SELECT count() FROM {} GROUP ALL", ident(table)?);
        let mut res = self.statement(q).await?;
        Ok(count_of(take_json(&mut res, 0)?))
    }

    async fn count_unpublished(&self, table: &str) -> Result<u64> {
        let q = format!(
            "SELECT count() FROM {} WHERE status != 'published' GROUP ALL",
            ident(table)?
        );
        let mut res = self.statement(q).await?;
        Ok(count_of(take_json(&mut res, 0)?))
    }

    async fn count_values(&self, table: &str, field: &str) -> Result<u64> {
        let q = format!(
            "SELECT count() FROM {} WHERE {} != NONE GROUP ALL",
            ident(table)?,
            ident(field)?
        );
        let mut res = self.statement(q).await?;
        Ok(count_of(take_json(&mut res, 0)?))
    }
}

pub(crate) fn count_of(v: serde_json::Value) -> u64 {
    let row = match v {
        serde_json::Value::Array(a) => a.into_iter().next(),
        other => Some(other),
    };
    row.and_then(|r| r.get("count").and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

/// Clears `field` in every row of `table`.
fn clear(table: &str, field: &str) -> Result<Step> {
    Ok(Step::EachBatch {
        table: table.to_owned(),
        stmt: format!(
            "UPDATE $ids SET {f} = NONE WHERE {f} != NONE RETURN NONE",
            f = ident(field)?
        ),
        rewrites: true,
    })
}

/// The field of the same table whose `renamed_from` names `old`.
fn renamed_to(schema: &Schema, table: &str, old: &str) -> Option<String> {
    schema
        .types()
        .filter(|ct| entry_table(&ct.id) == table || delivery_table(ct) == table)
        .flat_map(|ct| ct.fields.iter())
        .find(|f| f.renamed_from.as_deref() == Some(old))
        .map(|f| f.name.clone())
}

fn describe(key: &str, existed: bool) -> String {
    let verb = if existed { "update" } else { "add" };
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [table, "table"] => format!("{verb} table `{table}`"),
        [table, "field", f] => format!("{verb} field `{table}.{f}`"),
        [table, "meta", f] => format!("{verb} column `{table}.{f}`"),
        [table, "index", f] => format!("{verb} index on `{table}.{f}`"),
        [table, "~backfill"] => format!("fill `{table}` from the published entries"),
        [table, "~publish_all"] => format!("mark every entry of `{table}` published"),
        [table, "~count"] => format!("{verb} the row-count index of `{table}`"),
        _ => format!("{verb} `{key}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn count_is_read_from_a_grouped_row() {
        assert_eq!(count_of(json!([{ "count": 7 }])), 7);
        assert_eq!(count_of(json!([])), 0);
    }
}

//! Reads and writes of single entries and batches of them.
//!
//! Writes that must agree with each other (an entry and its published snapshot, a version
//! check and the change it guards) run in one transaction, with `THROW` turning a failed
//! check into a rollback.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use surrealdb::types::{QueryError, RecordId};

use super::events::{ChangeRecord, events_script};
use super::media;
use super::migrate::{is_linked, link_table};
use super::{Store, cause, delivery_table, entry_table, ident, record_key, take_rows};
use crate::error::{Error, Result};
use crate::schema::{ContentType, FieldError};

/// One stored row: metadata columns and fields side by side, `id` being the entry id.
pub type Row = Map<String, Value>;

/// What a guarded write found.
#[derive(Debug)]
pub enum WriteOutcome {
    Written(Row),
    NotFound,
    /// The stored version is not the one the caller read.
    Conflict {
        current: u64,
    },
}

const VERSION_CONFLICT: &str = "folio:version_conflict";
const NOT_FOUND: &str = "folio:not_found";

/// How many times a write that lost to a concurrent transaction is run before giving up.
const WRITE_ATTEMPTS: u32 = 8;

/// A write's response with its statement errors taken out.
type Written = (surrealdb::IndexedResults, HashMap<usize, surrealdb::Error>);

impl Store {
    /// Runs the write script `build` makes. Transactions are optimistic: two that touch the
    /// same record (an entry) cannot both commit, and the loser is told to retry, which it
    /// does here after a short randomised pause; one that loses every time is
    /// [`Error::Busy`]. Scripts are whole transactions, so running one again is safe; its own
    /// checks run again too. A write's audit record rides on its event (see `audit`), and
    /// the chainer is woken after each.
    pub(super) async fn run_write<'a>(
        &'a self,
        build: impl Fn(&'a Store) -> super::Statement<'a>,
    ) -> Result<Written> {
        let written = self.run_attempts(build).await;
        self.audit_wake.notify_one();
        written
    }

    /// [`Store::run_write`] without waking the audit chainer (for the chainer's own writes).
    pub(super) async fn run_attempts<'a>(
        &'a self,
        build: impl Fn(&'a Store) -> super::Statement<'a>,
    ) -> Result<Written> {
        let mut attempt = 1;
        loop {
            let mut res = build(self).await?;
            let errors = res.take_errors();
            let lost = errors
                .values()
                .any(|e| e.query_details() == Some(&QueryError::TransactionConflict));
            if !lost {
                return Ok((res, errors));
            }
            if attempt == WRITE_ATTEMPTS {
                return Err(Error::Busy);
            }
            tracing::debug!(attempt, "write lost to a concurrent transaction; retrying");
            let pause = 1u64 << attempt.min(6);
            let pause = pause + rand::random_range(0..=pause);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            attempt += 1;
        }
    }

    /// One entry by id from `table`.
    pub async fn get_row(&self, table: &str, id: &str) -> Result<Option<Row>> {
        let mut res = self
            .statement("SELECT * FROM type::record($tb, $id)")
            .bind(("tb", table.to_owned()))
            .bind(("id", id.to_owned()))
            .await?;
        Ok(take_rows(&mut res, 0)?.into_iter().next().map(normalize_id))
    }

    /// Many entries by id from `table` in one query, in no particular order.
    pub async fn get_rows(&self, table: &str, ids: &[String]) -> Result<Vec<Row>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<RecordId> = ids
            .iter()
            .map(|id| RecordId::new(table.to_owned(), id.clone()))
            .collect();
        let mut res = self
            .statement("SELECT * FROM $records")
            .bind(("records", records))
            .await?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .map(normalize_id)
            .collect())
    }

    /// Which of `ids` exist in `table`.
    pub async fn existing_ids(&self, table: &str, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<RecordId> = ids
            .iter()
            .map(|id| RecordId::new(table.to_owned(), id.clone()))
            .collect();
        let mut res = self
            .statement("SELECT id FROM $records")
            .bind(("records", records))
            .await?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str).map(record_key))
            .collect())
    }

    /// [`Store::existing_ids`], remembering each answer until `table` next changes (kept and
    /// dropped with the table's list totals): the delivery API asks about the same few
    /// related entries on every search and uncached page.
    pub async fn existing_ids_remembered(
        &self,
        table: &str,
        ids: &[String],
    ) -> Result<Vec<String>> {
        let (mut present, unknown, generation) = self.remembered_rows(table, ids);
        if unknown.is_empty() {
            return Ok(present);
        }
        let found = self.existing_ids(table, &unknown).await?;
        self.remember_rows(table, generation, &unknown, &found);
        present.extend(found);
        Ok(present)
    }

    /// The first row of `table` whose `field` equals `value` (a unique field, so at most one).
    pub async fn find_row(&self, table: &str, field: &str, value: Value) -> Result<Option<Row>> {
        let q = format!(
            "SELECT * FROM {} WHERE {} = $value LIMIT 1",
            ident(table)?,
            ident(field)?
        );
        let mut res = self.statement(q).bind(("value", value)).await?;
        Ok(take_rows(&mut res, 0)?.into_iter().next().map(normalize_id))
    }

    /// Ids of rows in `table` whose `field` equals any of `values` (unique-field lookups for
    /// import), as value → id.
    pub async fn ids_by_field(
        &self,
        table: &str,
        field: &str,
        values: Vec<Value>,
    ) -> Result<Vec<(Value, String)>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let q = format!(
            "SELECT id, {f} AS v FROM {t} WHERE {f} IN $values",
            t = ident(table)?,
            f = ident(field)?
        );
        let mut res = self.statement(q).bind(("values", values)).await?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .filter_map(|mut r| {
                let id = r.get("id").and_then(Value::as_str).map(record_key)?;
                Some((r.remove("v").unwrap_or(Value::Null), id))
            })
            .collect())
    }

    /// Whether a row of `table` other than `except` has `field = value`.
    pub async fn value_taken(
        &self,
        table: &str,
        field: &str,
        value: &str,
        except: Option<&str>,
    ) -> Result<bool> {
        let q = format!(
            "SELECT id FROM {} WHERE {} = $value LIMIT 2",
            ident(table)?,
            ident(field)?
        );
        let mut res = self.statement(q).bind(("value", value.to_owned())).await?;
        Ok(take_rows(&mut res, 0)?.into_iter().any(|r| {
            r.get("id")
                .and_then(Value::as_str)
                .map(record_key)
                .as_deref()
                != except
        }))
    }

    /// Creates an entry; for a type without drafts the row is its published state too. With
    /// `snapshot` (types with drafts), it is published in the same transaction.
    pub async fn create_entry(
        &self,
        ct: &ContentType,
        id: &str,
        row: Row,
        snapshot: Option<Row>,
        change: &ChangeRecord,
    ) -> Result<Row> {
        let _changing = self.invalidate_entry(ct, id);
        // The links follow the delivery row: the row itself without drafts, else the snapshot.
        let (links, link_binds) = match (&snapshot, ct.drafts) {
            (_, false) => link_script(ct, id, Some(&row))?,
            (Some(s), true) => link_script(ct, id, Some(s))?,
            (None, true) => (String::new(), Vec::new()),
        };
        let publish = if snapshot.is_some() && ct.drafts {
            "CREATE type::record($pub, $id) CONTENT $snapshot;\n"
        } else {
            ""
        };
        let (events, mut search_binds) = events_script(
            &self.node,
            Some(&ct.id),
            change,
            vec![(id.to_owned(), version_of(&row), status_of(&row))],
        );
        let (uses, use_binds) = {
            let delivered = if ct.drafts {
                snapshot.as_ref()
            } else {
                Some(&row)
            };
            let (a, mut ab) = media::use_script(ct, "admin", id, Some(&row));
            let (d, db) = media::use_script(ct, "delivery", id, delivered);
            ab.extend(db);
            (a + &d, ab)
        };
        search_binds.extend(use_binds);
        let script = format!(
            "BEGIN;\nCREATE type::record($tb, $id) CONTENT $row;\n{publish}{links}{uses}{events}\nCOMMIT;"
        );
        let row = Value::Object(strip_nulls(row));
        let snapshot = Value::Object(strip_nulls(snapshot.unwrap_or_default()));
        let res = self
            .run_write(|db| {
                let mut query = db
                    .statement(script.clone())
                    .bind(("tb", entry_table(&ct.id)))
                    .bind(("pub", delivery_table(ct)))
                    .bind(("id", id.to_owned()))
                    .bind(("row", row.clone()))
                    .bind(("snapshot", snapshot.clone()));
                for b in link_binds.iter().chain(&search_binds) {
                    query = query.bind(b.clone());
                }
                query
            })
            .await;
        self.wake_indexer(ct);
        let (mut res, errors) = res?;
        check(errors, ct)?;
        // Statement 0 is BEGIN.
        take_rows(&mut res, 1)?
            .into_iter()
            .next()
            .map(normalize_id)
            .ok_or_else(|| Error::internal("create returned nothing"))
    }

    /// Replaces an entry's row if its version is still `expected`. With `publish`, the row's
    /// fields also become the published snapshot (types with drafts) in the same transaction;
    /// with `unpublish`, the snapshot is removed.
    pub async fn write_entry(
        &self,
        ct: &ContentType,
        id: &str,
        expected: u64,
        row: Row,
        snapshot: Snapshot,
        change: &ChangeRecord,
    ) -> Result<WriteOutcome> {
        let snapshot_stmt = match (&snapshot, ct.drafts) {
            (Snapshot::Publish(_), true) => "UPSERT type::record($pub, $id) CONTENT $snapshot;",
            (Snapshot::Unpublish, true) => "DELETE type::record($pub, $id);",
            _ => "",
        };
        // The links follow the delivery row: the snapshot for types with drafts, the row itself
        // for the others.
        let (links, link_binds) = match (&snapshot, ct.drafts) {
            (Snapshot::Publish(s), true) => link_script(ct, id, Some(s))?,
            (Snapshot::Unpublish, true) => link_script(ct, id, None)?,
            (Snapshot::Keep, true) => (String::new(), Vec::new()),
            (_, false) => link_script(ct, id, Some(&row))?,
        };
        let (events, mut search_binds) = events_script(
            &self.node,
            Some(&ct.id),
            change,
            vec![(id.to_owned(), version_of(&row), status_of(&row))],
        );
        let (mut uses, use_binds) = media::use_script(ct, "admin", id, Some(&row));
        search_binds.extend(use_binds);
        let delivered = match (&snapshot, ct.drafts) {
            (Snapshot::Publish(s), true) => Some(Some(s)),
            (Snapshot::Unpublish, true) => Some(None),
            (Snapshot::Keep, true) => None,
            (_, false) => Some(Some(&row)),
        };
        if let Some(delivered) = delivered {
            let (d, db) = media::use_script(ct, "delivery", id, delivered);
            uses.push_str(&d);
            search_binds.extend(db);
        }
        let script = format!(
            "BEGIN;
             LET $current = (SELECT VALUE version FROM type::record($tb, $id))[0];
             IF $current = NONE {{ THROW '{NOT_FOUND}' }};
             IF $current != $expected {{ THROW '{VERSION_CONFLICT}:' + <string>$current }};
             UPDATE type::record($tb, $id) CONTENT $row RETURN AFTER;
             {snapshot_stmt}
             {links}
             {uses}
             {events}
             COMMIT;"
        );
        let _changing = self.invalidate_entry(ct, id);
        let snapshot_row = match snapshot {
            Snapshot::Publish(s) => strip_nulls(s),
            _ => Map::new(),
        };
        let row = Value::Object(strip_nulls(row));
        let snapshot_row = Value::Object(snapshot_row);
        let res = self
            .run_write(|db| {
                let mut query = db
                    .statement(script.clone())
                    .bind(("tb", entry_table(&ct.id)))
                    .bind(("pub", delivery_table(ct)))
                    .bind(("id", id.to_owned()))
                    .bind(("expected", expected))
                    .bind(("row", row.clone()))
                    .bind(("snapshot", snapshot_row.clone()));
                for b in link_binds.iter().chain(&search_binds) {
                    query = query.bind(b.clone());
                }
                query
            })
            .await;
        self.wake_indexer(ct);
        let (mut res, errors) = res?;
        if let Some(outcome) = thrown(errors, Some(ct))? {
            return Ok(outcome);
        }
        // Statement 0 is BEGIN; the UPDATE is the fifth.
        let row = take_rows(&mut res, 4)?
            .into_iter()
            .next()
            .map(normalize_id)
            .ok_or_else(|| Error::internal("update returned nothing"))?;
        Ok(WriteOutcome::Written(row))
    }

    /// Deletes an entry and its published snapshot, if its version is still `expected` (or
    /// unconditionally with `None`).
    pub async fn delete_entry(
        &self,
        ct: &ContentType,
        id: &str,
        expected: Option<u64>,
        change: &ChangeRecord,
    ) -> Result<WriteOutcome> {
        let _changing = self.invalidate_entry(ct, id);
        let pub_stmt = if ct.drafts {
            "DELETE type::record($pub, $id);"
        } else {
            ""
        };
        let (links, _) = link_script(ct, id, None)?;
        let (events, mut search_binds) = events_script(
            &self.node,
            Some(&ct.id),
            change,
            vec![(id.to_owned(), None, None)],
        );
        let (mut uses, use_binds) = media::use_script(ct, "admin", id, None);
        search_binds.extend(use_binds);
        uses.push_str(&media::use_script(ct, "delivery", id, None).0);
        let script = format!(
            "BEGIN;
             LET $current = (SELECT VALUE version FROM type::record($tb, $id))[0];
             IF $current = NONE {{ THROW '{NOT_FOUND}' }};
             IF $expected != NONE AND $current != $expected {{ THROW '{VERSION_CONFLICT}:' + <string>$current }};
             DELETE type::record($tb, $id);
             {pub_stmt}
             {links}
             {uses}
             {events}
             COMMIT;"
        );
        let res = self
            .run_write(|db| {
                let mut query = db
                    .statement(script.clone())
                    .bind(("tb", entry_table(&ct.id)))
                    .bind(("pub", delivery_table(ct)))
                    .bind(("id", id.to_owned()))
                    .bind(("expected", expected));
                for b in &search_binds {
                    query = query.bind(b.clone());
                }
                query
            })
            .await;
        self.wake_indexer(ct);
        let (_, errors) = res?;
        if let Some(outcome) = thrown(errors, Some(ct))? {
            return Ok(outcome);
        }
        Ok(WriteOutcome::Written(Row::new()))
    }

    /// Inserts many new entries (and their published snapshots) in one query. On any failure
    /// nothing of the batch is written, and the caller retries row by row to find the culprit.
    pub async fn insert_entries(
        &self,
        ct: &ContentType,
        rows: Vec<Row>,
        snapshots: Vec<Row>,
        change: &ChangeRecord,
    ) -> Result<()> {
        let _changing = self.invalidate(&[&entry_table(&ct.id), &delivery_table(ct)]);
        // Links of the delivery rows: the snapshots, or the rows themselves without drafts.
        let mut link_binds = Vec::new();
        let mut link_stmts = String::new();
        {
            let published: &[Row] = if ct.drafts { &snapshots } else { &rows };
            for (i, f) in ct.fields.iter().filter(|f| is_linked(f)).enumerate() {
                let links: Vec<Value> = published
                    .iter()
                    .flat_map(|r| {
                        let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                        link_rows(r, &f.name, id)
                    })
                    .collect();
                if !links.is_empty() {
                    let rel = ident(&link_table(&delivery_table(ct), &f.name))?;
                    link_stmts.push_str(&format!(" INSERT INTO {rel} $links{i} RETURN NONE;"));
                    link_binds.push((format!("links{i}"), Value::Array(links)));
                }
            }
        }
        let entries = rows
            .iter()
            .filter_map(|r| {
                let id = r.get("id").and_then(Value::as_str)?;
                Some((id.to_owned(), version_of(r), status_of(r)))
            })
            .collect();
        let (events, event_binds) = events_script(&self.node, Some(&ct.id), change, entries);
        link_binds.extend(event_binds);
        let (admin_uses, b) = media::insert_uses_script(ct, "admin", &rows)?;
        link_binds.extend(b);
        let delivered: &[Row] = if ct.drafts { &snapshots } else { &rows };
        let (delivery_uses, b) = media::insert_uses_script(ct, "delivery", delivered)?;
        link_binds.extend(b);
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| Value::Object(strip_nulls(r)))
            .collect();
        let snapshots: Vec<Value> = snapshots
            .into_iter()
            .map(|r| Value::Object(strip_nulls(r)))
            .collect();
        let mut script = format!(
            "BEGIN; INSERT INTO {} $rows RETURN NONE;",
            ident(&entry_table(&ct.id))?
        );
        if ct.drafts && !snapshots.is_empty() {
            script.push_str(&format!(
                " INSERT INTO {} $snapshots RETURN NONE;",
                ident(&delivery_table(ct))?
            ));
        }
        script.push_str(&link_stmts);
        script.push_str(&admin_uses);
        script.push_str(&delivery_uses);
        script.push_str(&events);
        script.push_str(" COMMIT;");
        let res = self
            .run_write(|db| {
                let mut query = db
                    .statement(script.clone())
                    .bind(("rows", rows.clone()))
                    .bind(("snapshots", snapshots.clone()));
                for b in &link_binds {
                    query = query.bind(b.clone());
                }
                query
            })
            .await;
        self.wake_indexer(ct);
        let (_, errors) = res?;
        check(errors, ct)
    }
}

/// Statements (and their bindings) that rewrite the link rows of entry `$id`: every link of
/// the entry is removed, then, when `published` is its delivery row, one row per related id is
/// inserted. They run inside the caller's transaction.
fn link_script(
    ct: &ContentType,
    id: &str,
    published: Option<&Row>,
) -> Result<(String, Vec<(String, Value)>)> {
    let mut script = String::new();
    let mut binds = Vec::new();
    for (i, f) in ct.fields.iter().filter(|f| is_linked(f)).enumerate() {
        let rel = ident(&link_table(&delivery_table(ct), &f.name))?;
        script.push_str(&format!("DELETE {rel} WHERE src = $id;\n"));
        if let Some(row) = published {
            let links = link_rows(row, &f.name, id);
            if !links.is_empty() {
                script.push_str(&format!("INSERT INTO {rel} $links{i} RETURN NONE;\n"));
                binds.push((format!("links{i}"), Value::Array(links)));
            }
        }
    }
    Ok((script, binds))
}

/// The link rows of one delivery row's many-relation `field`.
fn link_rows(row: &Row, field: &str, id: &str) -> Vec<Value> {
    let published_at = row
        .get("published_at")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let at = format!("{published_at}|{id}");
    match row.get(field) {
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(|dst| json!({ "src": id, "dst": dst, "at": at }))
            .collect(),
        _ => Vec::new(),
    }
}

/// What a write does to the published snapshot.
#[derive(Debug)]
pub enum Snapshot {
    Keep,
    Publish(Row),
    Unpublish,
}

/// Rows come back with `id` as a record id; callers see the bare entry id.
pub(super) fn normalize_id(mut row: Row) -> Row {
    if let Some(Value::String(id)) = row.get("id") {
        let key = record_key(id);
        row.insert("id".into(), Value::String(key));
    }
    row
}

fn version_of(row: &Row) -> Option<u64> {
    row.get("version").and_then(Value::as_u64)
}

fn status_of(row: &Row) -> Option<String> {
    row.get("status").and_then(Value::as_str).map(str::to_owned)
}

/// NONE, not NULL, marks an absent value in storage.
fn strip_nulls(mut row: Row) -> Row {
    row.retain(|_, v| !v.is_null());
    row
}

/// Turns our own `THROW`s into outcomes; any other failure is mapped as [`check`] does.
fn thrown(
    errors: HashMap<usize, surrealdb::Error>,
    ct: Option<&ContentType>,
) -> Result<Option<WriteOutcome>> {
    for e in errors.values() {
        let text = e.to_string();
        if text.contains(NOT_FOUND) {
            return Ok(Some(WriteOutcome::NotFound));
        }
        if let Some(pos) = text.find(VERSION_CONFLICT) {
            let rest = &text[pos + VERSION_CONFLICT.len()..];
            let digits: String = rest
                .trim_start_matches(':')
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return Ok(Some(WriteOutcome::Conflict {
                current: digits.parse().unwrap_or(0),
            }));
        }
    }
    match cause(errors) {
        Some(e) => Err(map_db_error(e, ct)),
        None => Ok(None),
    }
}

/// Fails with the statement error that caused the failure, mapped to a client error where it
/// is the client's.
fn check(errors: HashMap<usize, surrealdb::Error>, ct: &ContentType) -> Result<()> {
    match cause(errors) {
        Some(e) => Err(map_db_error(e, Some(ct))),
        None => Ok(()),
    }
}

/// A unique-index violation becomes a validation error on the field; anything else stays an
/// internal error (its text is logged, never shown).
fn map_db_error(e: surrealdb::Error, ct: Option<&ContentType>) -> Error {
    let text = e.to_string();
    if let Some(field) = unique_violation_field(&text)
        && ct.is_none_or(|ct| ct.field(&field).is_some())
    {
        return Error::Validation(vec![FieldError {
            path: format!("fields.{field}"),
            code: crate::schema::field_code::NOT_UNIQUE,
            message: format!("another entry already uses this {field}"),
        }]);
    }
    Error::Database(e)
}

/// SurrealDB reports "Database index `idx_slug` already contains ...".
fn unique_violation_field(text: &str) -> Option<String> {
    let start = text.find("index `idx_")? + "index `idx_".len();
    let rest = &text[start..];
    if !text.contains("already contains") {
        return None;
    }
    rest.find('`').map(|end| rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_name_the_field() {
        let text =
            "Database index `idx_slug` already contains 'hello', with record `entry_article:x`";
        assert_eq!(unique_violation_field(text).as_deref(), Some("slug"));
        assert_eq!(unique_violation_field("something else"), None);
    }

    #[test]
    fn nulls_are_not_stored() {
        let row = json!({ "a": null, "b": 1 }).as_object().cloned().unwrap();
        assert_eq!(Value::Object(strip_nulls(row)), json!({ "b": 1 }));
    }
}

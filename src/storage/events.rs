//! The change-event log (`folio_event`): one row per change, written in the change's own
//! transaction, read by consumers in key order from a position each of them stores.
//!
//! Keys are ULIDs this process makes as it builds the write, monotonic within the process
//! ([`event_binds`]), so one node's events read back in the order its writes were built; they
//! follow time, but not strictly commit order: a write can make its key, then commit after
//! another that made a later one (concurrent writers, a retry after a conflict, which reuses
//! its keys and pauses at most ~0.4 s in all, or another node).
//! A reader therefore reads again from a little before its position (the overlap,
//! [`OVERLAP`]) and skips the events it has already handed out; an event is missed only if
//! its transaction took longer than the overlap between making its key and committing. That
//! makes delivery at least once per reader, and exactly once while the reader lives; a
//! restarted reader hands out the overlap's events again, which consumers must take as
//! no-ops (the search index re-reads the entries an event names, so applying one twice
//! changes nothing).
//!
//! Reads are record ranges (`folio_event:⟨from⟩..⟨to⟩`): their cost follows the events after
//! `from`, not the log before it, and the upper bound keeps a reader far behind from reading
//! the rest of the log for one batch.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::accounts::Record;
use super::{Store, take_rows};
use crate::error::Result;

pub(crate) const EVENT_TABLE: &str = "folio_event";
const CONSUMER_TABLE: &str = "folio_consumer";

/// How far before its position a reader reads again.
pub const OVERLAP: Duration = Duration::from_secs(5);
/// The span of keys one read covers at most, so a reader far behind reads a bounded range.
const SPAN: Duration = Duration::from_secs(60);

/// What a write records about itself: the event it logs and its audit record.
#[derive(Debug, Clone)]
pub struct ChangeRecord {
    /// `entry.created`, `entry.updated`, `entry.published`, `entry.unpublished`,
    /// `entry.deleted`; `media.created`, `media.updated`, `media.deleted`; `folder.…`,
    /// `user.…`, `role.…`, `token.…`; `type.migrated`.
    pub kind: &'static str,
    /// Who made the change (`user:…`, `token:…`, `cli`, `import`).
    pub actor: String,
    /// The names of the fields whose values changed.
    pub changed: Vec<String>,
    /// The change's audit record (the text the chain hashes), carried by the change's first
    /// event; empty for a change the audit log does not record (a migration's).
    pub audit: String,
}

/// One change, as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event's key: a ULID, in the order consumers read.
    pub key: String,
    pub kind: String,
    /// The content type, for changes to entries.
    pub type_id: Option<String>,
    /// The id of what changed (an entry's id).
    pub subject: Option<String>,
    pub locale: Option<String>,
    pub actor: Option<String>,
    /// The entry's version after the change (none after a delete).
    pub version: Option<u64>,
    /// The entry's status after the change.
    pub status: Option<String>,
    pub at: String,
    pub changed: Vec<String>,
    /// The server process that made the change.
    pub node: Option<String>,
    /// The change's audit record, on its first event, until the audit chainer has given it
    /// its place in the chain (`storage::audit`).
    pub audit: Option<String>,
}

/// Which events a listing keeps.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// A kind (`entry.published`) or a family (`entry`).
    pub kind: Option<String>,
    pub type_id: Option<String>,
    pub subject: Option<String>,
}

impl EventFilter {
    fn keeps(&self, e: &Event) -> bool {
        let kind = self.kind.as_deref().is_none_or(|k| {
            e.kind == k
                || e.kind
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        kind && (self.type_id.is_none() || e.type_id == self.type_id)
            && (self.subject.is_none() || e.subject == self.subject)
    }
}

/// A page of a listing: the events, and the key to continue after when the log goes on.
#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next: Option<String>,
}

/// Events one listing request reads at most, matching or not: a page that stops at it says
/// where to continue.
const SCAN_BUDGET: usize = 5_000;
/// The span of keys a listing reads first.
const LIST_SPAN: Duration = Duration::from_secs(1);

/// The definition of the log's tables, for `accounts::system_statements`.
pub(crate) fn event_tables() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            EVENT_TABLE,
            vec![
                ("kind", "string"),
                ("type", "option<string>"),
                ("subject", "option<string>"),
                ("locale", "option<string>"),
                ("actor", "option<string>"),
                ("version", "option<int>"),
                ("status", "option<string>"),
                ("at", "string"),
                ("changed", "array<string>"),
                ("node", "option<string>"),
                ("audit", "option<string>"),
            ],
        ),
        (
            CONSUMER_TABLE,
            vec![
                ("position", "string"),
                ("seen", "option<array<string>>"),
                ("at", "string"),
            ],
        ),
    ]
}

/// The statement that logs `change` of each of `subjects` (id, version and status after it),
/// of content type `type_id` if they are entries; run inside the caller's transaction, after
/// the write it describes.
pub(crate) fn events_script(
    node: &str,
    type_id: Option<&str>,
    change: &ChangeRecord,
    subjects: Vec<(String, Option<u64>, Option<String>)>,
) -> (String, Vec<(String, Value)>) {
    let rows = event_rows(node, type_id, change, subjects);
    (EVENTS_STATEMENT.to_owned(), vec![event_binds(rows)])
}

/// The bind [`EVENTS_STATEMENT`] takes: `rows` (made by [`event_rows`]) each given its key,
/// after every key this process made before (monotonic within a millisecond too), so one
/// node's events read back in the order its writes were made. The keys count as in flight
/// until a reader sees them committed ([`in_flight_floor`]).
pub(crate) fn event_binds(mut rows: Value) -> (String, Value) {
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let keys = keys.get_or_insert_with(Keys::default);
    let now = std::time::Instant::now();
    for row in rows.as_array_mut().into_iter().flatten() {
        // Past 2^80 keys in one millisecond, a fresh random one: order within that
        // millisecond is then lost, not the event.
        let key = keys
            .generator
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::new())
            .to_string();
        if let Some(row) = row.as_object_mut() {
            row.insert("id".into(), json!(key));
        }
        keys.in_flight.insert(key.clone(), now);
        keys.last = Some(key);
    }
    keys.expire(now);
    ("event_rows".into(), rows)
}

/// The keys this process makes for its events, and those of them not yet seen committed.
#[derive(Default)]
struct Keys {
    generator: ulid::Generator,
    /// The last key made.
    last: Option<String>,
    /// Keys made and not yet seen in the log by a reader, with when they were made.
    in_flight: std::collections::BTreeMap<String, std::time::Instant>,
}

static KEYS: std::sync::Mutex<Option<Keys>> = std::sync::Mutex::new(None);

impl Keys {
    /// Forgets keys made longer than the overlap ago: their writes failed (a key of a write
    /// that never commits is never seen), or took longer than any reader waits for.
    fn expire(&mut self, now: std::time::Instant) {
        while let Some(entry) = self.in_flight.first_entry() {
            if now.duration_since(*entry.get()) <= OVERLAP {
                break;
            }
            entry.remove();
        }
    }
}

/// On an embedded store (where every write is this process's), the lowest key a write that
/// has not committed yet can have: the oldest key in flight, or, with none, the last key
/// made (every later one is above it). A reader that takes this before a read and reads
/// from it next time misses nothing, and re-reads only what was in flight instead of the
/// whole overlap. `None` before this process made any key.
fn in_flight_floor() -> Option<String> {
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let keys = keys.as_mut()?;
    keys.expire(std::time::Instant::now());
    keys.in_flight
        .keys()
        .next()
        .cloned()
        .or_else(|| keys.last.clone())
}

/// Marks keys a reader found in the log as committed.
fn settled<'a>(seen: impl Iterator<Item = &'a String>) {
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(keys) = keys.as_mut()
        && !keys.in_flight.is_empty()
    {
        for key in seen {
            keys.in_flight.remove(key);
        }
    }
}

/// The statement that logs the events in `$event_rows` (bound by [`event_binds`]): one
/// `INSERT` of them all (an import logs 500 events a batch; a `CREATE` each took half its
/// time).
pub(crate) const EVENTS_STATEMENT: &str =
    "IF array::len($event_rows) > 0 { INSERT INTO folio_event $event_rows RETURN NONE; };\n";

/// The rows [`EVENTS_STATEMENT`] logs: `change` of each of `subjects` (id, version and status
/// after it), of content type `type_id` if they are entries, made on `node`. The first row
/// carries the change's audit record; a change that names no subject but has an audit
/// record logs it as an `audit.recorded` event of its own, so no audit record is left out.
pub(crate) fn event_rows(
    node: &str,
    type_id: Option<&str>,
    change: &ChangeRecord,
    subjects: Vec<(String, Option<u64>, Option<String>)>,
) -> Value {
    let at = crate::time::now();
    let row = |kind: &str, subject: Option<String>, version: Option<u64>, status| {
        let mut row = serde_json::Map::new();
        row.insert("kind".into(), json!(kind));
        if let Some(t) = type_id {
            row.insert("type".into(), json!(t));
        }
        if let Some(id) = subject {
            row.insert("subject".into(), json!(id));
        }
        row.insert("actor".into(), json!(change.actor));
        if let Some(v) = version {
            row.insert("version".into(), json!(v));
        }
        if let Some(s) = status {
            row.insert("status".into(), json!(s));
        }
        row.insert("at".into(), json!(at));
        row.insert("changed".into(), json!(change.changed));
        row.insert("node".into(), json!(node));
        row
    };
    let mut rows: Vec<serde_json::Map<String, Value>> = subjects
        .into_iter()
        .map(|(id, version, status)| row(change.kind, Some(id), version, status))
        .collect();
    if !change.audit.is_empty() {
        if rows.is_empty() {
            rows.push(row(AUDIT_ONLY, None, None, None));
        }
        rows[0].insert("audit".into(), json!(change.audit));
    }
    Value::Array(rows.into_iter().map(Value::Object).collect())
}

/// The kind of an event that carries an audit record and nothing else: one the change it
/// records logged no event of its own for, or one queued before the log carried them.
pub(crate) const AUDIT_ONLY: &str = "audit.recorded";

/// A ULID bound for the keys made at `t`: the smallest (`Floor`) or above every one (`Ceil`).
pub(super) fn key_bound(t: SystemTime, ceil: bool) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let random = if ceil { u128::MAX >> 48 } else { 0 };
    ulid::Ulid::from_parts(ms, random).to_string()
}

/// The time a key was made.
pub(super) fn key_time(key: &str) -> Option<SystemTime> {
    ulid::Ulid::from_string(key)
        .ok()
        .map(|u| UNIX_EPOCH + Duration::from_millis(u.timestamp_ms()))
}

/// One consumer's place in the log. The position is stored under the consumer's name when
/// the consumer says it has handled what it was handed ([`EventReader::done`]).
pub struct EventReader {
    name: String,
    /// The highest key handed out and handled.
    position: Option<String>,
    /// Keys handed out at or after `position` less the overlap.
    seen: BTreeSet<String>,
    /// The highest key handed out, handled or not.
    handed: Option<String>,
    /// Where the next read starts on an embedded store: the in-flight floor taken before the
    /// last read (or the last key handed out, if lower). `None` at first, when the writes of
    /// the process before are unknown and the overlap is read again.
    next_from: Option<String>,
    /// How much of the log (by key time) one read takes: the whole span is read before
    /// `limit` is applied, so it narrows where events are dense (an import writes tens of
    /// thousands a minute) and widens again, up to [`SPAN`], where they are sparse.
    span: Duration,
}

/// The narrowest span a reader reads.
const MIN_SPAN: Duration = Duration::from_millis(10);
/// The span the next read takes after one of `span` read `read` events to use about
/// `wanted`: about `wanted` events a read. Reading a span of many times that to use `wanted`
/// of them made a reader's way through a dense stretch quadratic.
fn next_span(span: Duration, read: usize, wanted: usize) -> Duration {
    let wanted = wanted.max(1);
    if read > 2 * wanted {
        span.mul_f64(wanted as f64 / read as f64).max(MIN_SPAN)
    } else if read < wanted / 2 {
        (span * 2).min(SPAN)
    } else {
        span
    }
}

/// How close to now a read starts for it to read through to the head of the log.
const NEAR_HEAD: Duration = Duration::from_secs(1);

impl EventReader {
    /// The next events (up to `limit`) this reader has not handed out, in key order.
    pub async fn next(&mut self, store: &Store, limit: usize) -> Result<Vec<Event>> {
        let now = SystemTime::now();
        // Taken before the read: what commits after it has a key at or above this.
        let embedded = store.is_embedded();
        let floor = if embedded { in_flight_floor() } else { None };
        // From the in-flight floor, else a little before the last key handed out (which
        // starts as the stored position).
        let mut from = match (self.next_from.take(), &self.handed) {
            (Some(f), _) => f,
            (None, Some(p)) => key_time(p)
                .map(|t| key_bound(t.checked_sub(OVERLAP).unwrap_or(UNIX_EPOCH), false))
                .unwrap_or_else(|| p.clone()),
            (None, None) => store.first_event_key().await?.unwrap_or_default(),
        };
        if from.is_empty() {
            return Ok(Vec::new());
        }
        loop {
            let start = key_time(&from).unwrap_or(now);
            // Near the head of the log, through it: a reader that is caught up reads once,
            // however narrow a dense stretch behind it made its span.
            let near_head = now.duration_since(start).unwrap_or_default() < NEAR_HEAD;
            let span = if near_head {
                self.span.max(2 * NEAR_HEAD)
            } else {
                self.span
            };
            let to = key_bound(start + span, true);
            let rows = store.event_range(&from, &to).await?;
            settled(rows.iter().map(|e| &e.key));
            self.span = next_span(span, rows.len(), limit);
            let read_any = !rows.is_empty();
            let fresh: Vec<Event> = rows
                .into_iter()
                .filter(|e| !self.seen.contains(&e.key))
                .take(limit)
                .collect();
            // A span that ends in the past and holds nothing new: the log goes on after it.
            // Past events all handed out already (the overlap), on from the span's end; past
            // an empty span, to the next key there is (a read of the whole rest of the log, so
            // only across a gap).
            if fresh.is_empty() && start + span < now {
                if read_any {
                    from = key_bound(start + span + Duration::from_millis(1), false);
                    continue;
                }
                match store.first_event_key_after(&to).await? {
                    Some(next) => {
                        from = next;
                        continue;
                    }
                    None => return Ok(Vec::new()),
                }
            }
            for e in &fresh {
                self.seen.insert(e.key.clone());
                if self.handed.as_ref().is_none_or(|h| &e.key > h) {
                    self.handed = Some(e.key.clone());
                }
            }
            // Events not handed out (past `limit` or the span) are above the last one handed.
            self.next_from = match (floor, &self.handed) {
                (Some(f), Some(h)) => Some(f.min(h.clone())),
                // Embedded, and this process has written nothing yet: every event there is
                // was committed before this read (the process that made it is gone), so
                // nothing can appear below the last one handed out. (Without this, a reader
                // in `folio reindex` read the overlap again on every call: 5 s of an import,
                // thousands of events, for each batch.)
                // (Checked again after the read: a write begun meanwhile reads the overlap.)
                (None, Some(h)) if embedded && in_flight_floor().is_none() => Some(h.clone()),
                _ => None,
            };
            // Keys older than the overlap before the last one handed out are never read again
            // (the overlap is what a reader made afresh under this name re-reads).
            if let Some(t) = self.handed.as_deref().and_then(key_time) {
                let floor = key_bound(t.checked_sub(OVERLAP).unwrap_or(UNIX_EPOCH), false);
                self.seen = self.seen.split_off(&floor);
            }
            return Ok(fresh);
        }
    }

    /// Stores that everything handed out so far is handled.
    pub async fn done(&mut self, store: &Store) -> Result<()> {
        let Some((statement, binds)) = self.position_write() else {
            return Ok(());
        };
        store.background_write(&statement, binds).await?;
        self.stored();
        Ok(())
    }

    /// The statement (and its bindings) that stores, inside a consumer's own transaction,
    /// that everything handed out so far is handled; `None` when that is stored already.
    /// Call [`EventReader::stored`] once the transaction committed.
    pub(crate) fn position_write(&self) -> Option<(String, Vec<(String, Value)>)> {
        let handed = self.handed.as_ref()?;
        if self.position.as_ref() == Some(handed) {
            return None;
        }
        Some(position_statement(&self.name, handed, Vec::new()))
    }

    /// Notes that the position [`EventReader::position_write`] wrote is stored.
    pub(crate) fn stored(&mut self) {
        self.position = self.handed.clone();
    }

    /// Ends a reader whose consumer has handled everything it was handed (after
    /// [`EventReader::done`]): stores the keys handed out in the overlap before its position
    /// too, so the next reader under this name skips them instead of handing them out again
    /// (otherwise the server started after `folio reindex` indexes the last seconds of an
    /// import again, thousands of entries). With events handed out and not handled, it
    /// stores nothing: they are read again.
    pub async fn close(mut self, store: &Store) -> Result<()> {
        let Some(handed) = self.handed.clone() else {
            return Ok(());
        };
        if self.position.as_ref() != Some(&handed) {
            return Ok(());
        }
        let seen = std::mem::take(&mut self.seen);
        store
            .save_position(&self.name, &handed, seen.into_iter().collect())
            .await
    }

    pub fn position(&self) -> Option<&str> {
        self.position.as_deref()
    }

    /// A reader of what happens from now on, for a consumer that keeps no position (what it
    /// serves starts afresh with the process, as a cache does).
    pub fn from_now() -> EventReader {
        EventReader {
            name: String::new(),
            position: None,
            seen: BTreeSet::new(),
            handed: Some(key_bound(SystemTime::now(), false)),
            next_from: None,
            span: SPAN,
        }
    }
}

impl Store {
    /// The reader for consumer `name`, from the position it stored last (from the start of
    /// the log when it has none).
    pub async fn event_reader(&self, name: &str) -> Result<EventReader> {
        let rows = self
            .system_read(
                &format!("SELECT position, seen FROM type::record('{CONSUMER_TABLE}', $name)"),
                vec![("name".into(), json!(name))],
            )
            .await?;
        let position = rows
            .first()
            .and_then(|r| r.get("position"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        // Keys handed out in the overlap before the position, stored by a reader that closed.
        let seen = rows
            .first()
            .and_then(|r| r.get("seen"))
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(EventReader {
            name: name.to_owned(),
            handed: position.clone(),
            position,
            seen,
            next_from: None,
            span: SPAN,
        })
    }

    /// Notes that consumer `name` is still there, so pruning keeps waiting for it.
    pub async fn touch_reader(&self, name: &str) -> Result<()> {
        self.background_write(
            &format!("UPDATE type::record('{CONSUMER_TABLE}', $name) SET at = $at RETURN NONE;"),
            vec![
                ("name".into(), json!(name)),
                ("at".into(), json!(crate::time::now())),
            ],
        )
        .await?;
        Ok(())
    }

    /// Whether the event with key `key` is still in the log.
    pub async fn event_exists(&self, key: &str) -> Result<bool> {
        let key = ulid_literal(key)?;
        let mut res = self
            .uncounted(format!("SELECT id FROM {EVENT_TABLE}:⟨{key}⟩"))
            .await?;
        super::fail_on_error(&mut res)?;
        Ok(!take_rows(&mut res, 0)?.is_empty())
    }

    /// Stores consumer `name`'s position, with the keys it handed out in the overlap before
    /// it when it is closing (empty otherwise).
    async fn save_position(&self, name: &str, position: &str, seen: Vec<String>) -> Result<()> {
        let (statement, binds) = position_statement(name, position, seen);
        self.background_write(&statement, binds).await?;
        Ok(())
    }

    /// Events with keys from `from` up to `to`, in key order. (Not counted as queries:
    /// consumers poll with it in the background.)
    async fn event_range(&self, from: &str, to: &str) -> Result<Vec<Event>> {
        let (from, to) = (ulid_literal(from)?, ulid_literal(to)?);
        let mut res = self
            .uncounted(format!("SELECT * FROM {EVENT_TABLE}:⟨{from}⟩..=⟨{to}⟩"))
            .await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?.iter().map(event_of).collect())
    }

    async fn first_event_key(&self) -> Result<Option<String>> {
        self.first_event_key_after(&ulid::Ulid::nil().to_string())
            .await
    }

    /// The first key after `after` (used to jump a gap in the log: the range read passes
    /// every event after `after`, few for a reader that is nearly caught up).
    async fn first_event_key_after(&self, after: &str) -> Result<Option<String>> {
        let after = ulid_literal(after)?;
        let mut res = self
            .uncounted(format!("SELECT id FROM {EVENT_TABLE}:⟨{after}⟩.. LIMIT 2"))
            .await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str).map(super::record_key))
            .find(|k| k != &after))
    }

    /// How many events that `wanted` keeps wait after `position` (all of them without one),
    /// and when the oldest of them was made.
    pub async fn events_after(
        &self,
        position: Option<&str>,
        wanted: impl Fn(&Event) -> bool,
    ) -> Result<(u64, Option<String>)> {
        let from = match position {
            Some(p) => ulid_literal(p)?,
            None => ulid::Ulid::nil().to_string(),
        };
        let mut res = self
            .uncounted(format!("SELECT id, type, at FROM {EVENT_TABLE}:⟨{from}⟩.."))
            .await?;
        super::fail_on_error(&mut res)?;
        let waiting: Vec<Event> = take_rows(&mut res, 0)?
            .iter()
            .map(event_of)
            .filter(|e| Some(e.key.as_str()) != position && wanted(e))
            .collect();
        Ok((
            waiting.len() as u64,
            waiting.iter().map(|e| e.at.clone()).min(),
        ))
    }

    /// Up to `limit` events that `filter` keeps, oldest first, after the key `after` (or from
    /// the moment `since`, or from the start of the log). Reads at most [`SCAN_BUDGET`]
    /// events; `next` is where to continue while the log goes on.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        after: Option<&str>,
        since: Option<SystemTime>,
        limit: usize,
    ) -> Result<EventPage> {
        let start = match (after, since) {
            (Some(a), _) => Some(ulid_literal(a)?),
            (None, Some(t)) => Some(key_bound(t, false)),
            (None, None) => None,
        };
        let mut from = match &start {
            Some(s) => s.clone(),
            None => match self.first_event_key().await? {
                Some(k) => k,
                None => {
                    return Ok(EventPage {
                        events: Vec::new(),
                        next: None,
                    });
                }
            },
        };
        let mut events = Vec::new();
        let mut scanned = 0;
        let mut last = None;
        // Narrow at first, as a page is often of a dense stretch (an import logs ~1,000
        // events a second), and adapted as a reader's is.
        let mut span = LIST_SPAN;
        loop {
            let to = key_bound(key_time(&from).unwrap_or(UNIX_EPOCH) + span, true);
            let rows = self.event_range(&from, &to).await?;
            span = next_span(span, rows.len(), limit);
            let empty = rows.is_empty();
            for e in rows {
                if after == Some(e.key.as_str()) {
                    continue;
                }
                scanned += 1;
                last = Some(e.key.clone());
                if filter.keeps(&e) {
                    events.push(e);
                    if events.len() == limit {
                        return Ok(EventPage { events, next: last });
                    }
                }
                if scanned >= SCAN_BUDGET {
                    return Ok(EventPage { events, next: last });
                }
            }
            // On from the end of this span; across a quiet stretch in one read.
            let next = if empty {
                self.first_event_key_after(&to).await?
            } else {
                let after_span =
                    key_time(&to).map(|t| key_bound(t + Duration::from_millis(1), false));
                match after_span {
                    Some(k) if key_time(&k).is_some_and(|t| t <= SystemTime::now()) => Some(k),
                    _ => self.first_event_key_after(&to).await?,
                }
            };
            match next {
                Some(k) => from = k,
                None => {
                    return Ok(EventPage {
                        events,
                        next: last.or(after.map(str::to_owned)),
                    });
                }
            }
        }
    }

    /// Deletes the events older than `keep` that every reader has passed (by more than the
    /// overlap); with no reader yet, none. A reader not heard from for longer than `keep` (a
    /// node taken away; a running one stores its place at least hourly, [`Store::touch_reader`])
    /// no longer holds the log back: should it come back, it finds the event at its position
    /// gone ([`Store::event_exists`]) and must start over.
    pub async fn prune_events(&self, keep: Duration) -> Result<()> {
        let readers = self
            .system_read(
                &format!("SELECT position, at FROM {CONSUMER_TABLE}"),
                Vec::new(),
            )
            .await?;
        let heard_since = crate::time::stamp(
            chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or_default(),
        );
        let Some(slowest) = readers
            .iter()
            .filter(|r| {
                r.get("at")
                    .and_then(Value::as_str)
                    .is_some_and(|at| at >= heard_since.as_str())
            })
            .filter_map(|r| r.get("position").and_then(Value::as_str))
            .filter_map(key_time)
            .min()
        else {
            return Ok(());
        };
        let now = SystemTime::now();
        let bound = (slowest.checked_sub(OVERLAP).unwrap_or(UNIX_EPOCH))
            .min(now.checked_sub(keep).unwrap_or(UNIX_EPOCH));
        let (start, end) = (ulid::Ulid::nil(), key_bound(bound, false));
        self.background_write(
            &format!("DELETE {EVENT_TABLE}:⟨{start}⟩..⟨{end}⟩ RETURN NONE;"),
            Vec::new(),
        )
        .await?;
        Ok(())
    }

    /// Work the search index was given before the log existed (`folio_search_work`), moved
    /// into the log as `entry.changed` events, so the indexer finds it where it now looks.
    pub async fn adopt_search_work(&self) -> Result<u64> {
        let n = self.leftover_rows("folio_search_work").await;
        if n == 0 {
            return Ok(0);
        }
        self.system_write(
            &format!(
                "DEFINE TABLE IF NOT EXISTS {EVENT_TABLE};
                 FOR $w IN (SELECT * FROM folio_search_work ORDER BY id) {{
                     FOR $id IN $w.ids {{
                         CREATE type::record('{EVENT_TABLE}', rand::ulid()) CONTENT {{
                             kind: 'entry.changed', type: $w.type, subject: $id,
                             at: $w.at, changed: []
                         }} RETURN NONE;
                     }};
                 }};
                 DELETE folio_search_work RETURN NONE;"
            ),
            Vec::new(),
        )
        .await?;
        Ok(n)
    }
}

/// The statement that stores consumer `name`'s position and the keys it saw in the overlap
/// before it.
fn position_statement(
    name: &str,
    position: &str,
    seen: Vec<String>,
) -> (String, Vec<(String, Value)>) {
    (
        format!(
            "UPSERT type::record('{CONSUMER_TABLE}', $consumer) CONTENT \
             {{ position: $position, seen: $seen, at: $consumer_at }} RETURN NONE;"
        ),
        vec![
            ("consumer".into(), json!(name)),
            ("position".into(), json!(position)),
            ("seen".into(), json!(seen)),
            ("consumer_at".into(), json!(crate::time::now())),
        ],
    )
}

/// `key` if it is a ULID (so it can stand in a query's text).
fn ulid_literal(key: &str) -> Result<String> {
    ulid::Ulid::from_string(key)
        .map(|u| u.to_string())
        .map_err(|_| crate::error::Error::internal(format!("`{key}` is not an event key")))
}

fn event_of(row: &Record) -> Event {
    let text = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_owned);
    Event {
        key: super::record_key(&text("id").unwrap_or_default()),
        kind: text("kind").unwrap_or_default(),
        type_id: text("type"),
        subject: text("subject"),
        locale: text("locale"),
        actor: text("actor"),
        version: row.get("version").and_then(Value::as_u64),
        status: text("status"),
        at: text("at").unwrap_or_default(),
        changed: row
            .get("changed")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        node: text("node"),
        audit: text("audit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: &'static str) -> ChangeRecord {
        ChangeRecord {
            kind,
            actor: "user:1".into(),
            changed: vec!["title".into()],
            audit: String::new(),
        }
    }

    /// A store with the system tables, as a start leaves it.
    async fn store() -> (Store, crate::Config, tempfile::TempDir) {
        Store::for_tests_laid_out().await
    }

    async fn log(store: &Store, id: &str, kind: &'static str) {
        let (script, binds) = events_script(
            "test",
            Some("article"),
            &change(kind),
            vec![(id.into(), Some(1), None)],
        );
        store.system_write(&script, binds).await.expect("logged");
    }

    /// An event for `subject` with a key made `ago` seconds ago.
    async fn log_past(store: &Store, ago: u64, subject: &str) {
        let t = SystemTime::now() - Duration::from_secs(ago);
        let key =
            ulid::Ulid::from_parts(t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64, 1);
        store
            .system_write(
                &format!(
                    "CREATE {EVENT_TABLE}:⟨{key}⟩ CONTENT {{ kind: 'entry.created', \
                     subject: $subject, at: '', changed: [] }};"
                ),
                vec![("subject".into(), json!(subject))],
            )
            .await
            .unwrap();
    }

    /// 3,000 events in six writes of 500, as an import logs them (subjects `0-000`…`5-499`).
    async fn log_dense(store: &Store) {
        for batch in 0..6 {
            let subjects = (0..500)
                .map(|i| (format!("{batch}-{i:03}"), Some(1), None))
                .collect();
            let (script, binds) =
                events_script("test", Some("article"), &change("entry.created"), subjects);
            store.system_write(&script, binds).await.expect("logged");
        }
    }

    async fn keys(reader: &mut EventReader, store: &Store) -> Vec<String> {
        let events = reader.next(store, 100).await.expect("read");
        events
            .into_iter()
            .map(|e| e.subject.unwrap_or_default())
            .collect()
    }

    #[tokio::test]
    async fn a_reader_hands_out_each_event_once_and_a_new_one_resumes_where_it_stopped() {
        let (store, _config, _dir) = store().await;
        let mut reader = store.event_reader("test").await.unwrap();
        assert!(keys(&mut reader, &store).await.is_empty());
        log(&store, "a", "entry.created").await;
        log(&store, "b", "entry.updated").await;
        assert_eq!(keys(&mut reader, &store).await, ["a", "b"]);
        // Read again from before its position (the overlap), nothing is handed out twice.
        assert!(keys(&mut reader, &store).await.is_empty());
        reader.done(&store).await.unwrap();
        log(&store, "c", "entry.deleted").await;
        assert_eq!(keys(&mut reader, &store).await, ["c"]);
        // Not marked done: a reader made afresh hands out `c` again, and only what falls in
        // the overlap before the stored position besides.
        let mut again = store.event_reader("test").await.unwrap();
        let resumed = keys(&mut again, &store).await;
        assert!(resumed.ends_with(&["c".to_owned()]), "{resumed:?}");
        let other = store.event_reader("other").await.unwrap();
        assert_eq!(other.position(), None, "positions are per reader");
        let event = &store
            .event_reader("fresh")
            .await
            .unwrap()
            .next(&store, 1)
            .await
            .unwrap()[0];
        assert_eq!(event.kind, "entry.created");
        assert_eq!(event.type_id.as_deref(), Some("article"));
        assert_eq!(event.actor.as_deref(), Some("user:1"));
        assert_eq!(event.version, Some(1));
        assert_eq!(event.changed, ["title"]);
    }

    #[tokio::test]
    async fn a_closed_reader_leaves_the_next_one_only_what_it_did_not_handle() {
        let (store, _config, _dir) = store().await;
        log(&store, "a", "entry.created").await;
        log(&store, "b", "entry.created").await;
        let mut reader = store.event_reader("test").await.unwrap();
        assert_eq!(keys(&mut reader, &store).await, ["a", "b"]);
        reader.done(&store).await.unwrap();
        reader.close(&store).await.unwrap();
        // Without the keys it stored, the overlap would hand out `a` and `b` again.
        log(&store, "c", "entry.created").await;
        let mut next = store.event_reader("test").await.unwrap();
        assert_eq!(keys(&mut next, &store).await, ["c"]);
        // Handed out and not handled: closing stores nothing, `c` comes again.
        next.close(&store).await.unwrap();
        let mut again = store.event_reader("test").await.unwrap();
        assert_eq!(keys(&mut again, &store).await, ["c"]);
        // A key older than the position that commits late (another writer's) is still read.
        again.done(&store).await.unwrap();
        again.close(&store).await.unwrap();
        log_past(&store, 1, "late").await;
        let mut last = store.event_reader("test").await.unwrap();
        assert_eq!(keys(&mut last, &store).await, ["late"]);
    }

    /// Writers that make their keys, then take a while to commit (a slow transaction, a retry),
    /// while others commit later keys at once: a reader polling all along hands out every
    /// event once, none missed, none twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_never_make_a_reader_miss_an_event() {
        use rand::Rng;
        let (store, _config, _dir) = store().await;
        const WRITERS: usize = 6;
        const EACH: usize = 25;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (store, done) = (store.clone(), done.clone());
            writers.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let (script, binds) = events_script(
                        "test",
                        Some("article"),
                        &change("entry.created"),
                        vec![(format!("{w}-{i}"), Some(1), None)],
                    );
                    // The key is made; the commit comes up to 300 ms later.
                    let pause = rand::rng().random_range(0..300);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    store.system_write(&script, binds).await.expect("logged");
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        let mut reader = store.event_reader("test").await.unwrap();
        let mut handed = Vec::new();
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
            handed.extend(keys(&mut reader, &store).await);
            reader.done(&store).await.unwrap();
            if finished {
                // One more read after the last commit.
                handed.extend(keys(&mut reader, &store).await);
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for w in writers {
            w.await.unwrap();
        }
        let mut sorted = handed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), handed.len(), "an event handed out twice");
        let mut expected: Vec<String> = (0..WRITERS)
            .flat_map(|w| (0..EACH).map(move |i| format!("{w}-{i}")))
            .collect();
        expected.sort();
        assert_eq!(sorted, expected, "every event handed out");
    }

    /// A dense stretch (an import logs thousands of events a second) is read a little more
    /// than `limit` at a time, each event once, not the whole minute on every read.
    #[tokio::test]
    async fn a_reader_narrows_its_reads_where_the_log_is_dense() {
        let (store, _config, _dir) = store().await;
        log_dense(&store).await;
        let mut reader = store.event_reader("test").await.unwrap();
        let mut all = Vec::new();
        let mut reads = 0;
        loop {
            let batch = keys(&mut reader, &store).await;
            if batch.is_empty() {
                break;
            }
            reads += 1;
            assert!(batch.len() <= 100);
            all.extend(batch);
        }
        assert_eq!(all.len(), 3000);
        let unique: BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), 3000, "each event once");
        assert!(reads >= 30, "{reads} reads");
        assert!(reader.span < SPAN, "narrowed to {:?}", reader.span);
    }

    /// A listing pages through a dense stretch (read a narrow span at a time) and across a
    /// quiet hour, every event once and in order.
    #[tokio::test]
    async fn a_listing_pages_through_dense_and_quiet_stretches() {
        let (store, _config, _dir) = store().await;
        log_past(&store, 3600, "old").await;
        log_dense(&store).await;
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..100 {
            let page = store
                .list_events(&EventFilter::default(), after.as_deref(), None, 100)
                .await
                .unwrap();
            assert!(page.events.len() <= 100);
            all.extend(
                page.events
                    .into_iter()
                    .map(|e| e.subject.unwrap_or_default()),
            );
            if page.next == after {
                break;
            }
            after = page.next;
        }
        assert_eq!(all.len(), 3001, "{:?}", &all[..3.min(all.len())]);
        assert_eq!(all[0], "old");
        let mut sorted = all[1..].to_vec();
        sorted.sort();
        assert_eq!(all[1..], sorted[..], "in key order");
        let unique: BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), 3001, "each event once");
    }

    #[tokio::test]
    async fn a_reader_jumps_a_quiet_hour_in_the_log() {
        let (store, _config, _dir) = store().await;
        log_past(&store, 3600, "old").await;
        log(&store, "new", "entry.created").await;
        let mut reader = store.event_reader("test").await.unwrap();
        assert_eq!(keys(&mut reader, &store).await, ["old"]);
        reader.done(&store).await.unwrap();
        assert_eq!(keys(&mut reader, &store).await, ["new"]);
    }

    #[tokio::test]
    async fn events_go_once_old_and_behind_every_reader() {
        const WEEK: Duration = Duration::from_secs(7 * 86_400);
        let (store, _config, _dir) = store().await;
        log_past(&store, 9 * 86_400, "nine days").await;
        log_past(&store, 3 * 86_400, "three days").await;
        log(&store, "now", "entry.created").await;
        let remaining = |store: Store| async move {
            let mut r = store.event_reader("count").await.unwrap();
            let mut all = Vec::new();
            loop {
                let batch = keys(&mut r, &store).await;
                if batch.is_empty() {
                    return all;
                }
                all.extend(batch);
            }
        };
        store.prune_events(WEEK).await.unwrap();
        assert_eq!(
            remaining(store.clone()).await.len(),
            3,
            "no reader yet: all kept"
        );
        // A reader that has read only the oldest holds the rest back.
        let mut slow = store.event_reader("slow").await.unwrap();
        slow.next(&store, 1).await.unwrap();
        slow.done(&store).await.unwrap();
        store.prune_events(WEEK).await.unwrap();
        assert_eq!(remaining(store.clone()).await.len(), 3);
        while !slow.next(&store, 10).await.unwrap().is_empty() {}
        slow.done(&store).await.unwrap();
        store.prune_events(WEEK).await.unwrap();
        assert_eq!(
            remaining(store.clone()).await,
            ["three days", "now"],
            "older than a week and read by every reader"
        );
    }

    #[tokio::test]
    async fn a_reader_gone_longer_than_the_log_is_kept_holds_nothing_back_and_can_tell() {
        const WEEK: Duration = Duration::from_secs(7 * 86_400);
        let (store, _config, _dir) = store().await;
        log_past(&store, 9 * 86_400, "nine days").await;
        log_past(&store, 8 * 86_400, "eight days").await;
        let mut gone = store.event_reader("gone").await.unwrap();
        gone.next(&store, 1).await.unwrap();
        gone.done(&store).await.unwrap();
        let position = gone.position().unwrap().to_owned();
        assert!(store.event_exists(&position).await.unwrap());
        // Heard from now: it holds the log back.
        store.prune_events(WEEK).await.unwrap();
        assert!(store.event_exists(&position).await.unwrap());
        // Last heard from eight days ago: it no longer does, and its place is gone.
        store
            .system_write(
                &format!("UPDATE {CONSUMER_TABLE}:gone SET at = $at RETURN NONE;"),
                vec![(
                    "at".into(),
                    json!(crate::time::stamp(
                        chrono::Utc::now() - chrono::Duration::days(8)
                    )),
                )],
            )
            .await
            .unwrap();
        // (Pruning runs in a reader that is there: the indexer, which read everything.)
        let mut live = store.event_reader("live").await.unwrap();
        while !live.next(&store, 10).await.unwrap().is_empty() {}
        live.done(&store).await.unwrap();
        store.prune_events(WEEK).await.unwrap();
        assert!(!store.event_exists(&position).await.unwrap());
        // Touching a reader keeps it counted.
        log_past(&store, 8 * 86_400, "eight days, later").await;
        let mut back = store.event_reader("back").await.unwrap();
        back.next(&store, 1).await.unwrap();
        back.done(&store).await.unwrap();
        store.touch_reader("back").await.unwrap();
        store.prune_events(WEEK).await.unwrap();
        assert!(store.event_exists(back.position().unwrap()).await.unwrap());
    }

    #[tokio::test]
    async fn search_work_queued_before_the_log_is_moved_into_it() {
        // A data directory from before the log: its queue, and no event table yet.
        let (store, _config, _dir) = Store::for_tests().await;
        assert_eq!(store.adopt_search_work().await.unwrap(), 0, "no old queue");
        store
            .system_write(
                "DEFINE TABLE folio_search_work SCHEMALESS;
                 CREATE folio_search_work:⟨01HZ⟩ CONTENT { type: 'article', ids: ['x', 'y'], \
                 at: '2026-01-01T00:00:00.000Z' };",
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(store.adopt_search_work().await.unwrap(), 1);
        store.lay_out_for_tests().await;
        let mut reader = store.event_reader("search").await.unwrap();
        let events = reader.next(&store, 10).await.unwrap();
        // One transaction's events made in the same millisecond have no order among them.
        let mut named: Vec<(&str, Option<&str>)> = events
            .iter()
            .map(|e| (e.kind.as_str(), e.subject.as_deref()))
            .collect();
        named.sort();
        assert_eq!(
            named,
            [("entry.changed", Some("x")), ("entry.changed", Some("y"))]
        );
        assert_eq!(store.adopt_search_work().await.unwrap(), 0, "moved once");
    }

    #[test]
    fn key_bounds_enclose_every_key_of_their_millisecond() {
        let t = UNIX_EPOCH + Duration::from_millis(1_765_000_000_123);
        let key = ulid::Ulid::from_parts(1_765_000_000_123, 42).to_string();
        assert!(key_bound(t, false) <= key && key <= key_bound(t, true));
        assert_eq!(key_time(&key), Some(t));
        assert!(key_bound(t + Duration::from_millis(1), false) > key_bound(t, true));
    }
}

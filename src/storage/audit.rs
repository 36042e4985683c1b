//! The audit log's tables: the hash chain (`folio_audit`) and its head, and the chainer that
//! extends it from the change-event log.
//!
//! A write does not chain its own audit record: chaining reads and moves the chain's head, so
//! two writes chaining at once would always conflict and every write would wait for the last.
//! The record rides on the change's first event instead (written in the change's own
//! transaction, [`super::events::event_rows`]), and the chainer, a reader of the log like the
//! search indexer, gives each its place. A record is chained exactly once: the chaining
//! transaction skips events already in the chain (`folio_audit.event`), so events a restarted
//! reader hands out again, or that two nodes' chainers both read, change nothing.

use serde_json::{Value, json};

use super::events::{EventReader, OVERLAP, key_bound, key_time};
use super::{Store, take_json, take_rows};
use crate::error::{Error, Result};

const AUDIT_TABLE: &str = "folio_audit";
const HEAD_TABLE: &str = "folio_audit_head";
/// The queue audit records waited in before the change-event log carried them.
const OLD_QUEUE: &str = "folio_audit_queue";
/// The audit chainer's name among the log's readers (one chain per database).
const READER: &str = "audit";

/// The hash the first audit record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Events read per chaining transaction.
const CHAIN_BATCH: usize = 500;

/// How far back from the head a start looks for records a crash took out of the chain.
const HEAL_WINDOW: u64 = 10_000;

/// One record of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: u64,
    /// The record's JSON text, as hashed.
    pub data: String,
    pub prev: String,
    pub hash: String,
    /// The key of the event that carried it (none for records chained before the log did).
    pub event: Option<String>,
}

/// The end of the chain: the last record's number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

/// Which records a listing keeps: each a text the record's data must hold (the caller makes
/// them from exact key/value pairs), any of several for one filter.
#[derive(Debug, Default)]
pub struct AuditQuery {
    /// Every group must match; within a group, any text.
    pub contains: Vec<Vec<String>>,
    /// Only records before this sequence number.
    pub before: Option<u64>,
}

/// The definition of the audit tables, for `accounts::system_statements`.
#[allow(clippy::type_complexity)]
pub(crate) fn audit_tables() -> Vec<(
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, &'static str)>,
)> {
    vec![
        (
            AUDIT_TABLE,
            vec![
                ("seq", "int"),
                ("data", "string"),
                ("prev", "string"),
                ("hash", "string"),
                ("event", "option<string>"),
            ],
            vec![("seq", "FIELDS seq UNIQUE"), ("event", "FIELDS event")],
        ),
        (
            HEAD_TABLE,
            vec![("seq", "int"), ("hash", "string")],
            Vec::new(),
        ),
    ]
}

/// A record's hash from its predecessor's hash and its data: SHA-256 of the previous hash, a
/// newline and the data, in hex (what the chainer's `crypto::sha256` computes).
pub fn chain_hash(prev: &str, data: &str) -> String {
    use sha2::Digest;
    format!(
        "{:x}",
        sha2::Sha256::digest(format!("{prev}\n{data}").as_bytes())
    )
}

/// A run of missing sequence numbers in the chain, and what surrounds it.
#[derive(Debug)]
struct Gap {
    first: u64,
    last: u64,
    /// The hash of the record before the gap.
    before: String,
    /// The event of the record before the gap, if it names one.
    before_event: Option<String>,
    /// The `prev` of the record after it: what re-chained records must end with.
    after_prev: String,
}

/// An audit record waiting in the log: its event's key and its data.
type Unchained = (String, String);

impl Store {
    /// Chains the audit records of the events not chained yet, oldest key first: each gets
    /// the next sequence number and the SHA-256 of the previous record's hash, a newline and
    /// its data, and the head moves on. One chainer runs at a time in a process; chainers of
    /// several nodes conflict on the head and retry. Returns how many records it chained.
    pub async fn chain_audit(&self) -> Result<u64> {
        let mut slot = self.chaining.lock().await;
        if !self
            .audit_checked
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            self.heal_audit_gaps().await?;
        }
        let mut reader = match slot.take() {
            Some(r) => r,
            None => self.event_reader(READER).await?,
        };
        let chained = self.chain_from(&mut reader).await;
        // After a failure, events were handed out and not chained: the reader is dropped, and
        // one made afresh from the stored position reads them again.
        if chained.is_ok() {
            *slot = Some(reader);
        }
        chained
    }

    async fn chain_from(&self, reader: &mut EventReader) -> Result<u64> {
        let mut chained = 0;
        loop {
            let events = reader.next(self, CHAIN_BATCH).await?;
            let full = events.len() == CHAIN_BATCH;
            let records: Vec<Value> = events
                .into_iter()
                .filter_map(|e| Some(json!({ "event": e.key, "data": e.audit? })))
                .collect();
            if records.is_empty() {
                reader.done(self).await?;
            } else {
                chained += self.chain_records(records, reader).await?;
            }
            if !full {
                return Ok(chained);
            }
        }
    }

    /// Chains `records` (`event`, `data`) in order, those not chained already, and stores
    /// `reader`'s position in the same transaction.
    async fn chain_records(&self, records: Vec<Value>, reader: &mut EventReader) -> Result<u64> {
        let (position, mut binds) = reader.position_write().unwrap_or_default();
        binds.push(("records".into(), Value::Array(records)));
        let script = format!(
            "BEGIN;
             LET $from = (SELECT VALUE seq FROM ONLY {HEAD_TABLE}:head) ?? 0;
             FOR $r IN $records {{
                 IF array::len(SELECT VALUE seq FROM {AUDIT_TABLE} WHERE event = $r.event LIMIT 1) = 0 {{
                     LET $head = (SELECT seq, hash FROM ONLY {HEAD_TABLE}:head) ?? {{ seq: 0, hash: '{GENESIS}' }};
                     LET $seq = $head.seq + 1;
                     LET $hash = crypto::sha256($head.hash + '\\n' + $r.data);
                     CREATE type::record('{AUDIT_TABLE}', $seq) CONTENT {{ seq: $seq, data: $r.data, prev: $head.hash, hash: $hash, event: $r.event }} RETURN NONE;
                     UPSERT {HEAD_TABLE}:head CONTENT {{ seq: $seq, hash: $hash }} RETURN NONE;
                 }};
             }};
             {position}
             ((SELECT VALUE seq FROM ONLY {HEAD_TABLE}:head) ?? 0) - $from;
             COMMIT;"
        );
        let counted = if position.is_empty() { 3 } else { 4 };
        let (mut res, errors) = self
            .run_attempts(|db| {
                let mut q = db.uncounted(script.clone());
                for b in &binds {
                    q = q.bind(b.clone());
                }
                q
            })
            .await?;
        if let Some(e) = super::cause(errors) {
            return Err(Error::Database(e));
        }
        reader.stored();
        Ok(take_json(&mut res, counted)?.as_u64().unwrap_or(0))
    }

    /// Ends this process's chaining: what is chained is stored with the keys read in the
    /// overlap, so the next start does not hand them out again.
    pub(super) async fn close_audit_reader(&self) -> Result<()> {
        match self.chaining.lock().await.take() {
            Some(reader) => reader.close(self).await,
            None => Ok(()),
        }
    }

    /// Puts back records that a crash took out of the middle of the chain.
    ///
    /// If the store loses a chaining transaction in a crash while keeping a later one
    /// (SurrealKV 0.21 could: see ARCHITECTURE.md, "Durability"), the chain has a run of
    /// missing records, while the events that carried them are still in the log, behind the
    /// chainer's position. Chaining them after the gap would leave it for ever, and `audit
    /// verify` would report tampering nobody did. Instead, the unchained audit events from a
    /// little before the gap's predecessor's event are chained into the gap, in key order as
    /// the lost transaction did, and kept only if they end on exactly the hash the record
    /// after the gap names as its predecessor: that record vouches for their content and
    /// order, so nothing edited, left out or added passes. A gap nothing fits stays, and
    /// `verify` reports it. Runs once per process, before its first chaining, over the last
    /// [`HEAL_WINDOW`] records (a lost transaction is among the last before a crash).
    async fn heal_audit_gaps(&self) -> Result<u64> {
        let Some(head) = self.audit_head().await? else {
            return Ok(0);
        };
        let from = head.seq.saturating_sub(HEAL_WINDOW);
        let mut res = self
            .uncounted(format!(
                "SELECT count() FROM {AUDIT_TABLE} WHERE seq > $from GROUP ALL"
            ))
            .bind(("from", from))
            .await?;
        super::fail_on_error(&mut res)?;
        if super::migrate::count_of(take_json(&mut res, 0)?) >= head.seq - from {
            return Ok(0);
        }
        let mut healed = 0;
        for gap in self.audit_gaps(from).await? {
            let count = (gap.last - gap.first + 1) as usize;
            let waiting = self
                .unchained_audit_events(gap.before_event.as_deref(), count + 1)
                .await?;
            let Some(chosen) = fit_gap(&gap, &waiting) else {
                tracing::warn!(
                    first = gap.first,
                    last = gap.last,
                    "audit records are missing and no unchained record fills their place"
                );
                continue;
            };
            let mut prev = gap.before.clone();
            let mut records = Vec::with_capacity(count);
            for (seq, (event, data)) in (gap.first..).zip(chosen) {
                let hash = chain_hash(&prev, data);
                records.push(json!({
                    "seq": seq, "data": data, "prev": prev, "hash": hash, "event": event
                }));
                prev = hash;
            }
            self.system_write(
                &format!(
                    "FOR $r IN $records {{ CREATE type::record('{AUDIT_TABLE}', $r.seq) CONTENT $r RETURN NONE; }};"
                ),
                vec![("records".into(), Value::Array(records))],
            )
            .await?;
            tracing::warn!(
                first = gap.first,
                last = gap.last,
                "audit records lost with a chaining transaction in a crash were chained again \
                 from the events that carried them, which the record after them vouches for"
            );
            healed += count as u64;
        }
        Ok(healed)
    }

    /// Up to `n` events with audit records not in the chain, in key order, from the overlap
    /// before `after` (the log's start without it).
    async fn unchained_audit_events(
        &self,
        after: Option<&str>,
        n: usize,
    ) -> Result<Vec<Unchained>> {
        let mut from = after
            .and_then(key_time)
            .map(|t| {
                key_bound(
                    t.checked_sub(OVERLAP).unwrap_or(std::time::UNIX_EPOCH),
                    false,
                )
            })
            .unwrap_or_else(|| ulid::Ulid::nil().to_string());
        let mut out = Vec::new();
        loop {
            let (page, more) = self.audit_events_from(&from, 1000).await?;
            let Some((last, _)) = page.last() else {
                return Ok(out);
            };
            from = last.clone();
            let keys: Vec<&String> = page.iter().map(|(k, _)| k).collect();
            let mut res = self
                .uncounted(format!(
                    "SELECT VALUE event FROM {AUDIT_TABLE} WHERE event IN $keys"
                ))
                .bind(("keys", json!(keys)))
                .await?;
            super::fail_on_error(&mut res)?;
            let chained: std::collections::HashSet<String> = take_json(&mut res, 0)?
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            out.extend(page.into_iter().filter(|(k, _)| !chained.contains(k)));
            if out.len() >= n || !more {
                out.truncate(n);
                return Ok(out);
            }
        }
    }

    /// Events after key `from` that carry an audit record, at most `limit`, and whether
    /// there may be more.
    async fn audit_events_from(&self, from: &str, limit: usize) -> Result<(Vec<Unchained>, bool)> {
        let start = ulid::Ulid::from_string(from)
            .map_err(|_| Error::internal(format!("`{from}` is not an event key")))?;
        let mut res = self
            .uncounted(format!(
                "SELECT id, audit FROM {}:⟨{start}⟩.. WHERE audit != NONE LIMIT $limit",
                super::events::EVENT_TABLE
            ))
            .bind(("limit", limit))
            .await?;
        super::fail_on_error(&mut res)?;
        let rows = take_rows(&mut res, 0)?;
        let more = rows.len() == limit;
        let events = rows
            .iter()
            .filter_map(|r| {
                let key = super::record_key(r.get("id")?.as_str()?);
                Some((key, r.get("audit")?.as_str()?.to_owned()))
            })
            .filter(|(key, _)| key != from)
            .collect();
        Ok((events, more))
    }

    /// The end of the chain, if it has begun.
    pub async fn audit_head(&self) -> Result<Option<AuditHead>> {
        let mut res = self
            .uncounted(format!("SELECT seq, hash FROM {HEAD_TABLE}:head"))
            .await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?.first().map(|r| AuditHead {
            seq: r.get("seq").and_then(Value::as_u64).unwrap_or(0),
            hash: text(r, "hash"),
        }))
    }

    /// Chained records after sequence number `after`, in order, at most `limit`.
    pub async fn audit_records_after(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        self.audit_read(
            format!("SELECT * FROM {AUDIT_TABLE} WHERE seq > $after ORDER BY seq LIMIT $limit"),
            vec![
                ("after".into(), json!(after)),
                ("limit".into(), json!(limit)),
            ],
        )
        .await
    }

    /// Up to `limit` records that `query` keeps, newest first.
    pub async fn audit_records(&self, query: &AuditQuery, limit: u32) -> Result<Vec<AuditRecord>> {
        let mut conds = Vec::new();
        let mut binds = vec![("limit".to_owned(), json!(limit))];
        if let Some(before) = query.before {
            conds.push("seq < $before".to_owned());
            binds.push(("before".into(), json!(before)));
        }
        for (g, group) in query.contains.iter().enumerate() {
            let any: Vec<String> = (0..group.len())
                .map(|i| format!("data CONTAINS $c{g}_{i}"))
                .collect();
            conds.push(format!("({})", any.join(" OR ")));
            for (i, text) in group.iter().enumerate() {
                binds.push((format!("c{g}_{i}"), json!(text)));
            }
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        self.audit_read(
            format!("SELECT * FROM {AUDIT_TABLE} {filter} ORDER BY seq DESC LIMIT $limit"),
            binds,
        )
        .await
    }

    async fn audit_read(
        &self,
        sql: String,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<AuditRecord>> {
        let mut q = self.statement(sql);
        for b in binds {
            q = q.bind(b);
        }
        let mut res = q.await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?
            .iter()
            .map(|r| AuditRecord {
                seq: r.get("seq").and_then(Value::as_u64).unwrap_or(0),
                data: text(r, "data"),
                prev: text(r, "prev"),
                hash: text(r, "hash"),
                event: r.get("event").and_then(Value::as_str).map(str::to_owned),
            })
            .collect())
    }

    /// The runs of missing sequence numbers between chained records after `from`, oldest
    /// first.
    async fn audit_gaps(&self, from: u64) -> Result<Vec<Gap>> {
        let mut gaps = Vec::new();
        let (mut expected, mut before, mut before_event) = (1u64, GENESIS.to_owned(), None);
        if from > 0 {
            // The chain up to the window is taken as it is (`verify` checks all of it).
            let start = self.audit_records_after(from - 1, 1).await?;
            if let Some(r) = start.first().filter(|r| r.seq == from) {
                (expected, before, before_event) = (r.seq + 1, r.hash.clone(), r.event.clone());
            } else {
                return Ok(gaps);
            }
        }
        loop {
            let page = self.audit_records_after(expected - 1, 1000).await?;
            for r in &page {
                if r.seq > expected {
                    gaps.push(Gap {
                        first: expected,
                        last: r.seq - 1,
                        before: before.clone(),
                        before_event: before_event.clone(),
                        after_prev: r.prev.clone(),
                    });
                }
                expected = r.seq + 1;
                before = r.hash.clone();
                before_event = r.event.clone();
            }
            if page.len() < 1000 {
                return Ok(gaps);
            }
        }
    }

    /// Audit records still queued the way they were before the change-event log carried
    /// them (`folio_audit_queue`), moved into the log as `audit.recorded` events under their
    /// queue keys (which keep their order), so the chainer finds them where it now looks.
    pub async fn adopt_audit_queue(&self) -> Result<u64> {
        let n = self.leftover_rows(OLD_QUEUE).await;
        if n == 0 {
            return Ok(0);
        }
        self.system_write(
            &format!(
                "DEFINE TABLE IF NOT EXISTS {event};
                 FOR $r IN (SELECT id, data FROM {OLD_QUEUE} ORDER BY id) {{
                     CREATE type::record('{event}', record::id($r.id)) CONTENT {{
                         kind: '{kind}', at: $at, changed: [], audit: $r.data
                     }} RETURN NONE;
                 }};
                 DELETE {OLD_QUEUE} RETURN NONE;",
                event = super::events::EVENT_TABLE,
                kind = super::events::AUDIT_ONLY,
            ),
            vec![("at".into(), json!(crate::time::now()))],
        )
        .await?;
        Ok(n)
    }
}

fn text(row: &super::accounts::Record, key: &str) -> String {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The unchained records, oldest first, that chained after `gap.before` end on
/// `gap.after_prev`: the first as many as the gap is long, or, since a write that committed
/// while the lost chaining ran can have logged a record with an older key than some it took,
/// those with one of the first records one longer left out.
fn fit_gap<'a>(gap: &Gap, waiting: &'a [Unchained]) -> Option<Vec<&'a Unchained>> {
    let count = (gap.last - gap.first + 1) as usize;
    let ends_right = |rows: &[&Unchained]| {
        rows.len() == count
            && rows.iter().fold(gap.before.clone(), |prev, (_, data)| {
                chain_hash(&prev, data)
            }) == gap.after_prev
    };
    // Leaving out the record just past the gap's length tries the first `count` as they are.
    std::iter::once(count).chain(0..count).find_map(|skip| {
        let rows: Vec<_> = waiting
            .iter()
            .take(count + 1)
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, r)| r)
            .collect();
        ends_right(&rows).then_some(rows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::events::{ChangeRecord, events_script};

    /// A store with the system tables, as a start leaves it.
    async fn store() -> (Store, crate::Config, tempfile::TempDir) {
        Store::for_tests_laid_out().await
    }

    async fn change(store: &Store, audit: &str) {
        let change = ChangeRecord {
            kind: "entry.updated",
            actor: "user:1".into(),
            changed: Vec::new(),
            audit: audit.to_owned(),
        };
        let (script, binds) = events_script("test", None, &change, vec![("a".into(), None, None)]);
        store.system_write(&script, binds).await.unwrap();
    }

    #[tokio::test]
    async fn each_audit_record_is_chained_once_in_key_order() {
        let (store, _config, _dir) = store().await;
        change(&store, "{\"n\":1}").await;
        change(&store, "{\"n\":2}").await;
        // A migration's event carries no audit record.
        change(&store, "").await;
        assert_eq!(store.chain_audit().await.unwrap(), 2);
        assert_eq!(store.chain_audit().await.unwrap(), 0, "nothing new");
        // A reader made afresh (a restart) reads the overlap again: nothing is chained twice.
        *store.chaining.lock().await = None;
        change(&store, "{\"n\":3}").await;
        assert_eq!(store.chain_audit().await.unwrap(), 1);
        let records = store.audit_records_after(0, 10).await.unwrap();
        let data: Vec<&str> = records.iter().map(|r| r.data.as_str()).collect();
        assert_eq!(data, ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
        let mut prev = GENESIS.to_owned();
        for r in &records {
            assert_eq!(r.prev, prev);
            assert_eq!(r.hash, chain_hash(&r.prev, &r.data));
            prev = r.hash.clone();
        }
        let head = store.audit_head().await.unwrap().unwrap();
        assert_eq!((head.seq, head.hash), (3, prev));
    }

    #[tokio::test]
    async fn records_queued_before_the_log_carried_them_are_chained_from_it() {
        let (store, _config, _dir) = Store::for_tests().await;
        assert_eq!(store.adopt_audit_queue().await.unwrap(), 0, "no old queue");
        let (older, newer) = (
            ulid::Ulid::from_parts(1_000, 1),
            ulid::Ulid::from_parts(2_000, 1),
        );
        store
            .system_write(
                &format!(
                    "DEFINE TABLE {OLD_QUEUE} SCHEMALESS;
                     CREATE {OLD_QUEUE}:⟨{newer}⟩ CONTENT {{ data: 'second' }};
                     CREATE {OLD_QUEUE}:⟨{older}⟩ CONTENT {{ data: 'first' }};"
                ),
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(store.adopt_audit_queue().await.unwrap(), 2);
        store.lay_out_for_tests().await;
        assert_eq!(store.chain_audit().await.unwrap(), 2);
        let data: Vec<String> = store
            .audit_records_after(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.data)
            .collect();
        assert_eq!(data, ["first", "second"]);
        assert_eq!(store.adopt_audit_queue().await.unwrap(), 0, "moved once");
    }
}

//! The system tables behind accounts: users, sessions, API tokens, one-time links and the
//! audit log. Their layout is fixed (not derived from content types) and applied with the
//! content-type schema, so a start-up with nothing new still sends one read.
//!
//! Secrets never reach these tables in clear: sessions, tokens and one-time links are stored
//! under the SHA-256 of the secret, passwords as argon2 hashes (see `accounts`).

use serde_json::{Map, Value, json};

use super::{Store, record_key, take_json, take_rows};
use crate::error::{Code, Error, Result, code};

pub type Record = Map<String, Value>;

/// The statements that define the system tables, keyed like the content tables' statements.
pub(crate) fn system_statements() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut table = |name: &str, fields: &[(&str, &str)], indexes: &[(&str, &str)]| {
        out.push((
            format!("{name}/table"),
            format!("DEFINE TABLE {name} SCHEMAFULL"),
        ));
        for (f, kind) in fields {
            out.push((
                format!("{name}/meta/{f}"),
                format!("DEFINE FIELD {f} ON {name} TYPE {kind}"),
            ));
        }
        for (ix, def) in indexes {
            out.push((
                format!("{name}/index/{ix}"),
                format!("DEFINE INDEX idx_{ix} ON {name} {def}"),
            ));
        }
    };
    table(
        "folio_user",
        &[
            ("email", "string"),
            ("name", "string"),
            ("role", "string"),
            ("password_hash", "option<string>"),
            ("status", "string"),
            ("email_verified", "bool"),
            ("created_at", "string"),
            ("updated_at", "string"),
            ("password_changed_at", "option<string>"),
            ("totp", "option<object>"),
            ("totp.secret", "string"),
            ("totp.enabled", "bool"),
            ("totp.last_step", "option<int>"),
            ("totp.recovery", "array<string>"),
        ],
        &[("email", "FIELDS email UNIQUE")],
    );
    table(
        "folio_session",
        &[
            ("user", "string"),
            ("created_at", "string"),
            ("last_seen_at", "string"),
            ("expires_at", "string"),
            ("address", "option<string>"),
            ("user_agent", "option<string>"),
        ],
        &[("user", "FIELDS user")],
    );
    table(
        "folio_token",
        &[
            ("name", "string"),
            ("hash", "string"),
            ("scope", "string"),
            ("role", "option<string>"),
            ("rate_limit", "int"),
            ("created_by", "string"),
            ("created_at", "string"),
            ("expires_at", "option<string>"),
            ("last_used_at", "option<string>"),
            ("revoked_at", "option<string>"),
        ],
        &[("hash", "FIELDS hash UNIQUE")],
    );
    table(
        "folio_link",
        &[
            ("purpose", "string"),
            ("user", "option<string>"),
            ("expires_at", "string"),
        ],
        &[],
    );
    table(
        "folio_role",
        &[("definition", "string"), ("updated_at", "string")],
        &[],
    );
    table(
        "folio_mail",
        &[
            ("to", "string"),
            ("subject", "string"),
            ("text", "string"),
            ("status", "string"),
            ("attempts", "int"),
            ("created_at", "string"),
            ("next_attempt_at", "string"),
            ("sent_at", "option<string>"),
            ("lease_until", "option<string>"),
            ("last_error", "option<string>"),
        ],
        &[("due", "FIELDS status, next_attempt_at")],
    );
    table(
        "folio_audit",
        &[
            ("seq", "int"),
            ("data", "string"),
            ("prev", "string"),
            ("hash", "string"),
        ],
        &[("seq", "FIELDS seq UNIQUE")],
    );
    table(
        "folio_audit_head",
        &[("seq", "int"), ("hash", "string")],
        &[],
    );
    table(AUDIT_QUEUE, &[("data", "string")], &[]);
    for (name, fields) in super::events::event_tables() {
        table(name, &fields, &[]);
    }
    for (name, fields, indexes) in super::media::media_tables() {
        table(name, &fields, &indexes);
    }
    out
}

/// The hash the first audit record chains to.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where a change's audit record waits, written in the change's own transaction, until
/// [`Store::chain_audit`] gives it its place in the chain.
const AUDIT_QUEUE: &str = "folio_audit_queue";

/// Records chained per transaction.
const CHAIN_BATCH: usize = 500;

/// Where the chainer reads the queue from: a little before the newest record it chained.
///
/// Chained records are deleted from the queue, and an LSM store keeps a deleted row as a
/// tombstone until compaction: a read from the queue's start steps over every record chained
/// since, on every chaining, one per write (under a stream of creates, the largest single
/// cost of a write after search indexing). Reading from the change-event log's overlap
/// ([`super::events::OVERLAP`]) before the newest chained key skips them. A record's key is made when its write runs, moments before it
/// commits, so one that commits after a later key was chained still falls in the overlap;
/// a full read at a process's first chaining and every [`FULL_READ_EVERY`] takes whatever
/// did not.
#[derive(Debug, Default)]
pub(crate) struct ChainPlace {
    floor: Option<String>,
    full_read_at: Option<std::time::Instant>,
}

/// How often the chainer reads the whole queue anyway.
const FULL_READ_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

impl ChainPlace {
    /// The queue, as the next read takes it (a record range from the floor, or the table).
    fn source(&mut self) -> String {
        if self
            .full_read_at
            .is_none_or(|t| t.elapsed() > FULL_READ_EVERY)
        {
            self.full_read_at = Some(std::time::Instant::now());
            self.floor = None;
        }
        match &self.floor {
            Some(floor) => format!("{AUDIT_QUEUE}:⟨{floor}⟩.."),
            None => AUDIT_QUEUE.to_owned(),
        }
    }

    /// Moves the floor to the overlap before `key`, the newest key just chained (keys that
    /// are not ULIDs, which no write makes, leave it).
    fn chained(&mut self, key: &str) {
        use super::events::{OVERLAP, key_bound, key_time};
        let Some(made) = key_time(key) else {
            return;
        };
        let floor = key_bound(
            made.checked_sub(OVERLAP).unwrap_or(std::time::UNIX_EPOCH),
            false,
        );
        if self.floor.as_ref().is_none_or(|f| *f < floor) {
            self.floor = Some(floor);
        }
    }
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
    /// The `prev` of the record after it: what re-chained records must end with.
    after_prev: String,
}

/// The statement that records a change for the audit log inside its write transaction, with
/// `$audit_data` (canonical JSON made by the caller). The record is queued under a time-ordered
/// key rather than chained at once: chaining reads and moves the log's head, so two writes
/// chaining their own records would always conflict, and every write would wait for the last.
pub(crate) fn audit_append_script() -> String {
    format!(
        "CREATE type::record('{AUDIT_QUEUE}', rand::ulid()) CONTENT {{ data: $audit_data }} \
         RETURN NONE;"
    )
}

impl Store {
    /// Runs `script` (which may use [`audit_append_script`] with `$audit_data`) as one
    /// transaction with `binds`, retrying lost conflicts; returns statement results as JSON
    /// rows, statement 0 being `BEGIN`.
    pub(crate) async fn system_write(
        &self,
        script: &str,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<Vec<Record>>> {
        let full = format!("BEGIN;\n{script}\nCOMMIT;");
        let (mut res, errors) = self
            .run_write(|db| {
                let mut q = db.statement(full.clone());
                for b in &binds {
                    q = q.bind(b.clone());
                }
                q
            })
            .await?;
        if let Some(e) = super::cause(errors) {
            let text = e.to_string();
            if let Some(code) = thrown_code(&text) {
                return Err(Error::Conflict {
                    code,
                    message: code.name.replace('_', " "),
                });
            }
            if text.contains("already contains") {
                return Err(Error::Conflict {
                    code: code::ALREADY_EXISTS,
                    message: "a record with this value already exists".into(),
                });
            }
            return Err(Error::Database(e));
        }
        let mut out = Vec::new();
        for i in 0..res.num_statements() {
            out.push(take_rows(&mut res, i).unwrap_or_default());
        }
        Ok(out)
    }

    /// Reads with `sql` and `binds`; the rows of its first statement.
    pub(crate) async fn system_read(
        &self,
        sql: &str,
        binds: Vec<(String, Value)>,
    ) -> Result<Vec<Record>> {
        let mut q = self.statement(sql.to_owned());
        for b in binds {
            q = q.bind(b);
        }
        let mut res = q.await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?.into_iter().map(normalize).collect())
    }

    /// One record of a system table by key.
    pub(crate) async fn system_get(&self, table: &str, key: &str) -> Result<Option<Record>> {
        Ok(self
            .system_read(
                "SELECT * FROM type::record($tb, $key)",
                vec![("tb".into(), json!(table)), ("key".into(), json!(key))],
            )
            .await?
            .into_iter()
            .next())
    }

    /// Chains the queued audit records, oldest first: each gets the next sequence number and
    /// the SHA-256 of the previous record's hash, a newline and its data, and the head record
    /// moves on. One chainer runs at a time in a process; chainers of several nodes conflict
    /// on the head and retry. Returns how many were chained.
    pub async fn chain_audit(&self) -> Result<u64> {
        let mut place = self.chaining.lock().await;
        if !self
            .audit_checked
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            self.heal_audit_gaps().await?;
        }
        let mut chained = 0;
        loop {
            let script = format!(
            "BEGIN;
             LET $batch = SELECT id, data FROM {source} ORDER BY id LIMIT {CHAIN_BATCH};
             FOR $r IN $batch {{
                 LET $head = (SELECT seq, hash FROM ONLY folio_audit_head:head) ?? {{ seq: 0, hash: '{AUDIT_GENESIS}' }};
                 LET $seq = $head.seq + 1;
                 LET $hash = crypto::sha256($head.hash + '\\n' + $r.data);
                 CREATE type::record('folio_audit', $seq) CONTENT {{ seq: $seq, data: $r.data, prev: $head.hash, hash: $hash }} RETURN NONE;
                 UPSERT folio_audit_head:head CONTENT {{ seq: $seq, hash: $hash }} RETURN NONE;
                 DELETE $r.id RETURN NONE;
             }};
             array::len($batch);
             $batch.id;
             COMMIT;",
                source = place.source()
            );
            let (mut res, errors) = self.run_attempts(|db| db.uncounted(script.clone())).await?;
            if let Some(e) = super::cause(errors) {
                return Err(Error::Database(e));
            }
            let n = take_json(&mut res, 3)?.as_u64().unwrap_or(0);
            if let Some(last) = take_json(&mut res, 4)?
                .as_array()
                .and_then(|ids| ids.last())
                .and_then(Value::as_str)
            {
                place.chained(&record_key(last));
            }
            chained += n;
            if n < CHAIN_BATCH as u64 {
                return Ok(chained);
            }
        }
    }

    /// Puts back records that a crash took out of the middle of the chain.
    ///
    /// A chaining transaction moves queued records into the chain and deletes them from the
    /// queue at once. If the store loses that transaction in a crash while keeping a later one
    /// (SurrealKV 0.21 can: see ARCHITECTURE.md, "Durability"), the chain has a run of missing
    /// records and the queue holds their originals again. Chaining those originals after the
    /// gap would leave it for ever, and `audit verify` would report tampering nobody did.
    /// Instead, the originals are chained into the gap, oldest first as the lost transaction
    /// did, and kept only if they end on exactly the hash the record after the gap names as
    /// its predecessor: that record vouches for their content and order, so nothing edited,
    /// left out or added passes. A gap nothing in the queue fits stays, and `verify` reports it.
    /// Runs once per process, before its first chaining, and only when records are queued.
    async fn heal_audit_gaps(&self) -> Result<u64> {
        if self.system_count(AUDIT_QUEUE).await? == 0 {
            return Ok(0);
        }
        let head = self.system_get("folio_audit_head", "head").await?;
        let head_seq = head
            .as_ref()
            .and_then(|h| h.get("seq"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if self.system_count("folio_audit").await? >= head_seq {
            return Ok(0);
        }
        let mut healed = 0;
        for gap in self.audit_gaps().await? {
            let count = (gap.last - gap.first + 1) as usize;
            let queued = self
                .system_read(
                    &format!("SELECT id, data FROM {AUDIT_QUEUE} ORDER BY id LIMIT $n"),
                    vec![("n".into(), json!(count + 1))],
                )
                .await?;
            let rows: Vec<(String, String)> = queued
                .iter()
                .map(|r| {
                    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
                    (text("id").to_owned(), text("data").to_owned())
                })
                .collect();
            let Some(chosen) = fit_gap(&gap, &rows) else {
                tracing::warn!(
                    first = gap.first,
                    last = gap.last,
                    "audit records are missing and nothing queued fills their place"
                );
                continue;
            };
            let mut prev = gap.before.clone();
            let mut records = Vec::with_capacity(count);
            let mut ids = Vec::with_capacity(count);
            for (seq, (id, data)) in (gap.first..).zip(chosen) {
                let hash = chain_hash(&prev, data);
                records.push(json!({ "seq": seq, "data": data, "prev": prev, "hash": hash }));
                ids.push(json!(id));
                prev = hash;
            }
            self.system_write(
                &format!(
                    "FOR $r IN $records {{ CREATE type::record('folio_audit', $r.seq) CONTENT $r RETURN NONE; }};
                     FOR $id IN $ids {{ DELETE type::record('{AUDIT_QUEUE}', $id) RETURN NONE; }};"
                ),
                vec![
                    ("records".into(), Value::Array(records)),
                    ("ids".into(), Value::Array(ids)),
                ],
            )
            .await?;
            tracing::warn!(
                first = gap.first,
                last = gap.last,
                "audit records lost with a chaining transaction in a crash were chained again \
                 from their queued originals, which the record after them vouches for"
            );
            healed += count as u64;
        }
        Ok(healed)
    }

    /// Chained audit records (`seq`, `data`, `prev`, `hash`) after sequence number `after`,
    /// in order, at most `limit`.
    pub(crate) async fn audit_records_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Record>> {
        self.system_read(
            "SELECT seq, data, prev, hash FROM folio_audit WHERE seq > $after ORDER BY seq LIMIT $limit",
            vec![("after".into(), json!(after)), ("limit".into(), json!(limit))],
        )
        .await
    }

    /// The runs of missing sequence numbers between chained records, oldest first.
    async fn audit_gaps(&self) -> Result<Vec<Gap>> {
        let mut gaps = Vec::new();
        let (mut expected, mut before) = (1u64, AUDIT_GENESIS.to_owned());
        loop {
            let page = self.audit_records_after(expected - 1, 1000).await?;
            for r in &page {
                let seq = r.get("seq").and_then(Value::as_u64).unwrap_or(0);
                let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
                if seq > expected {
                    gaps.push(Gap {
                        first: expected,
                        last: seq - 1,
                        before: before.clone(),
                        after_prev: text("prev").to_owned(),
                    });
                }
                expected = seq + 1;
                before = text("hash").to_owned();
            }
            if page.len() < 1000 {
                return Ok(gaps);
            }
        }
    }

    /// How many records `table` holds (system tables are small).
    pub(crate) async fn system_count(&self, table: &str) -> Result<u64> {
        let mut res = self
            .statement("SELECT count() FROM type::table($tb) GROUP ALL")
            .bind(("tb", table.to_owned()))
            .await?;
        Ok(super::migrate::count_of(take_json(&mut res, 0)?))
    }
}

/// The queued records, oldest first, that chained after `gap.before` end on `gap.after_prev`:
/// the first as many as the gap is long, or, since a write that committed while the lost
/// chaining ran can have queued a record with an older key than some it took, those with one of
/// the first records one longer left out.
fn fit_gap<'a>(gap: &Gap, queued: &'a [(String, String)]) -> Option<Vec<&'a (String, String)>> {
    let count = (gap.last - gap.first + 1) as usize;
    let ends_right = |rows: &[&(String, String)]| {
        rows.len() == count
            && rows.iter().fold(gap.before.clone(), |prev, (_, data)| {
                chain_hash(&prev, data)
            }) == gap.after_prev
    };
    // Leaving out the record just past the gap's length tries the first `count` as they are.
    std::iter::once(count).chain(0..count).find_map(|skip| {
        let rows: Vec<_> = queued
            .iter()
            .take(count + 1)
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, r)| r)
            .collect();
        ends_right(&rows).then_some(rows)
    })
}

/// `THROW 'folio:<code>'` in a system script becomes a conflict with that code.
fn thrown_code(text: &str) -> Option<Code> {
    const CODES: &[Code] = &[
        code::NOT_FOUND,
        code::LAST_ADMIN,
        code::ROLE_IN_USE,
        code::VERSION_CONFLICT,
        code::FOLDER_NOT_EMPTY,
    ];
    let rest = &text[text.find("folio:")? + "folio:".len()..];
    CODES.iter().copied().find(|c| rest.starts_with(c.name))
}

/// Record ids come back as `table:key`; callers see the key.
pub(super) fn normalize(mut row: Record) -> Record {
    if let Some(Value::String(id)) = row.get("id") {
        let key = record_key(id);
        row.insert("id".into(), Value::String(key));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chainer_reads_the_queue_from_a_little_before_what_it_chained_last() {
        let mut place = ChainPlace::default();
        // A process's first read takes the whole queue.
        assert_eq!(place.source(), AUDIT_QUEUE);
        let key = ulid::Ulid::from_parts(1_700_000_010_000, 42).to_string();
        place.chained(&key);
        let floor = ulid::Ulid::from_parts(1_700_000_005_000, 0).to_string();
        assert_eq!(place.source(), format!("{AUDIT_QUEUE}:⟨{floor}⟩.."));
        // An older key (a write that committed late) does not move it back.
        place.chained(&ulid::Ulid::from_parts(1_700_000_001_000, 1).to_string());
        assert_eq!(place.source(), format!("{AUDIT_QUEUE}:⟨{floor}⟩.."));
        // Keys no write makes leave it.
        place.chained("00000000002x");
        assert_eq!(place.source(), format!("{AUDIT_QUEUE}:⟨{floor}⟩.."));
        // Now and then the whole queue again.
        place.full_read_at = Some(std::time::Instant::now() - FULL_READ_EVERY * 2);
        assert_eq!(place.source(), AUDIT_QUEUE);
    }

    #[tokio::test]
    async fn records_queued_with_older_keys_after_a_chaining_are_still_chained() {
        let (store, _config, _dir) = Store::for_tests().await;
        let plan = store
            .plan_schema(&crate::schema::Schema::default())
            .await
            .unwrap();
        store.apply_schema(plan, false).await.unwrap();
        let queue = |key: String, data: &str| {
            let store = store.clone();
            let data = data.to_owned();
            async move {
                store
                    .system_write(
                        &format!("CREATE {AUDIT_QUEUE}:⟨{key}⟩ CONTENT {{ data: $data }};"),
                        vec![("data".into(), json!(data))],
                    )
                    .await
                    .unwrap();
            }
        };
        let now = ulid::Ulid::new();
        let before = |ms: u64| ulid::Ulid::from_parts(now.timestamp_ms() - ms, 7).to_string();
        queue(now.to_string(), "{\"n\":1}").await;
        assert_eq!(store.chain_audit().await.unwrap(), 1);
        let floor = store.chaining.lock().await.floor.clone();
        let expected = ulid::Ulid::from_parts(now.timestamp_ms() - 5_000, 0).to_string();
        assert_eq!(floor, Some(expected), "read from the keys it returned");
        // Committed after the chaining, with a key made a second before it.
        queue(before(1_000), "{\"n\":2}").await;
        assert_eq!(store.chain_audit().await.unwrap(), 1);
        assert_eq!(store.system_count(AUDIT_QUEUE).await.unwrap(), 0);
        assert_eq!(store.audit_records_after(0, 10).await.unwrap().len(), 2);
    }
}

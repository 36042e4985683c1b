//! The audit log: an append-only, hash-chained record of every change.
//!
//! Each record is a line of JSON (`data`: when, who, from where, what, on which target, and
//! SHA-256 digests of the state before and after) written in the same transaction as the
//! change it describes, on the change's event in the change-event log, and chained moments
//! later by the audit chainer (`storage::audit`). Its `hash` is SHA-256 of the previous
//! record's hash, a newline and `data`, so editing or deleting a record breaks the chain at
//! that point, which [`verify`] finds. (Whoever can rewrite the database can also rebuild the whole chain after
//! an edit; keeping a copy of the latest hash elsewhere — `folio audit verify` prints it —
//! catches that too.)

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::storage::Store;
pub use crate::storage::audit::chain_hash;
use crate::storage::audit::{AuditQuery, GENESIS};

/// One change, before it is written.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: String,
    pub address: Option<String>,
    /// `entry.create`, `user.update`, `token.revoke`, ...
    pub action: String,
    /// `article/01H...`, `user/01H...`, ...
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Event {
    pub fn new(actor: &str, action: &str, target: impl Into<String>) -> Event {
        Event {
            actor: actor.to_owned(),
            address: None,
            action: action.to_owned(),
            target: target.into(),
            before: None,
            after: None,
        }
    }

    pub fn from_address(mut self, address: Option<&str>) -> Event {
        self.address = address.map(str::to_owned);
        self
    }

    pub fn before(mut self, v: Option<Value>) -> Event {
        self.before = v;
        self
    }

    pub fn after(mut self, v: Option<Value>) -> Event {
        self.after = v;
        self
    }

    /// The record's `data`: JSON with a fixed key order, stored and hashed as this exact text.
    pub fn data(&self) -> String {
        let mut m = Map::new();
        m.insert("at".into(), json!(crate::time::now()));
        m.insert("actor".into(), json!(self.actor));
        m.insert("address".into(), json!(self.address));
        m.insert("action".into(), json!(self.action));
        m.insert("target".into(), json!(self.target));
        m.insert("before".into(), json!(self.before.as_ref().map(digest)));
        m.insert("after".into(), json!(self.after.as_ref().map(digest)));
        Value::Object(m).to_string()
    }
}

/// SHA-256 of a value's JSON text, in hex.
pub fn digest(v: &Value) -> String {
    format!("{:x}", Sha256::digest(v.to_string().as_bytes()))
}

/// What [`verify`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    /// The last record's hash (keep it elsewhere to detect a rebuilt chain).
    pub head: String,
    /// Problems, by sequence number.
    pub problems: Vec<(u64, String)>,
}

/// Checks every record against its predecessor and the head.
pub async fn verify(store: &Store) -> Result<Verified> {
    store.chain_audit().await?;
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1u64;
    let mut problems = Vec::new();
    let mut after = 0u64;
    loop {
        let page = store.audit_records_after(after, 1000).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            after = r.seq;
            if r.seq != expected_seq {
                problems.push((
                    expected_seq,
                    format!(
                        "records {expected_seq} to {} are missing",
                        r.seq.saturating_sub(1)
                    ),
                ));
            }
            expected_seq = r.seq + 1;
            if r.prev != prev {
                problems.push((r.seq, "does not follow the record before it".into()));
            }
            if chain_hash(&r.prev, &r.data) != r.hash {
                problems.push((r.seq, "its content does not match its hash".into()));
            }
            prev = r.hash.clone();
        }
    }
    let (head_seq, head_hash) = match store.audit_head().await? {
        Some(h) => (h.seq, h.hash),
        None => (0, GENESIS.to_owned()),
    };
    let records = expected_seq - 1;
    if head_seq != records || head_hash != prev {
        problems.push((
            head_seq,
            format!("the log should end at record {head_seq} but ends at {records}"),
        ));
    }
    Ok(Verified {
        records,
        head: prev,
        problems,
    })
}

/// A page of records, newest first, for the admin API.
pub async fn list(store: &Store, filter: &ListFilter, limit: u32) -> Result<Vec<Listed>> {
    store.chain_audit().await?;
    let mut query = AuditQuery {
        before: filter.before,
        ..AuditQuery::default()
    };
    // `data` is compact JSON with a fixed key order, so a key and its JSON-encoded value
    // appear in it as exactly this text: the filters run in the query, before the limit.
    // (An action family, `entry`, matches every `entry.…` action.)
    for (key, want) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("target", &filter.target),
    ] {
        let Some(want) = want else { continue };
        let value = serde_json::to_string(want).unwrap_or_default();
        let mut any = vec![format!("\"{key}\":{value}")];
        if key == "action" && !want.contains('.') {
            any.push(format!("\"{key}\":{}.", value.trim_end_matches('"')));
        }
        query.contains.push(any);
    }
    let records = store.audit_records(&query, limit).await?;
    Ok(records
        .into_iter()
        .map(|r| {
            let data: RecordData = serde_json::from_str(&r.data).unwrap_or_default();
            Listed {
                seq: r.seq,
                at: data.at,
                actor: data.actor,
                address: data.address,
                action: data.action,
                target: data.target,
                before: data.before,
                after: data.after,
                hash: r.hash,
            }
        })
        .collect())
}

/// A record as the admin API lists it: its place in the chain, what it says, its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub target: String,
    /// SHA-256 of the state before (hex).
    pub before: Option<String>,
    /// SHA-256 of the state after (hex).
    pub after: Option<String>,
    pub hash: String,
}

/// A record's `data` as [`Event::data`] writes it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RecordData {
    at: String,
    actor: String,
    address: Option<String>,
    action: String,
    target: String,
    before: Option<String>,
    after: Option<String>,
}

/// Filters of the audit list: exact actor and target, action or action family (`entry`).
#[derive(Debug, Default)]
pub struct ListFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// Only records before this sequence number (paging backwards).
    pub before: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_chain() {
        let a = chain_hash(GENESIS, "{\"x\":1}");
        let b = chain_hash(&a, "{\"x\":2}");
        assert_ne!(a, b);
        assert_eq!(a, chain_hash(GENESIS, "{\"x\":1}"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn data_has_a_fixed_shape_and_digests_not_values() {
        let e = Event::new("user:1", "entry.update", "article/01")
            .before(Some(json!({ "secret": "old" })))
            .after(Some(json!({ "secret": "new" })));
        let data = e.data();
        assert!(!data.contains("old") && !data.contains("new"), "{data}");
        let v: Value = serde_json::from_str(&data).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "at", "actor", "address", "action", "target", "before", "after"
            ]
        );
    }
}

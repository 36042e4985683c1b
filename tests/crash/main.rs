//! The crash harness: `folio serve` on a fresh data directory (the embedded store on disk),
//! several clients writing at once — creates of mixed sizes (a few hundred bytes to tens of
//! KB: SurrealKV keeps values over 4 KiB in a separate value log), updates, publishes,
//! unpublishes, deletes, media uploads — and the server killed with SIGKILL at a random moment,
//! sometimes while it is still starting (recovering from the kill before). After each restart
//! every acknowledged write must be there as acknowledged, and every acknowledged delete gone;
//! at the end the audit chain must verify, and the search index must hold exactly the entries
//! there are, find a sample of them by their titles, and answer as an index rebuilt from the
//! database afterwards (`folio reindex`) answers.
//!
//! ```text
//! cargo test --test crash                                   # 3 kills (CI)
//! CRASH_KILLS=20 cargo test --release --test crash    # on demand
//! CRASH_BIN=target/release/folio CRASH_KILLS=20 cargo test --test crash
//! CRASH_WRITE_BUFFER_MIB=16 ...                              # the store rotates its write buffer often
//! ```
//!
//! It prints what was acknowledged, lost and killed, and fails on any loss. Everything runs
//! on 127.0.0.1 and stops by itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "../support/process.rs"]
mod process;

const PASSWORD: &str = "every acknowledged write stays 17";

struct Settings {
    kills: usize,
    clients: usize,
    bin: PathBuf,
    /// The store's write buffer (memtable), in MiB: smaller fills and rotates more often.
    write_buffer_mib: Option<u64>,
    /// The content types the server starts with: the repository's, then (half way through)
    /// a copy in which a field of the articles is renamed, so a start migrates every row.
    types: Mutex<PathBuf>,
}

fn settings() -> Settings {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Settings {
        kills: var("CRASH_KILLS").and_then(|v| v.parse().ok()).unwrap_or(3),
        clients: var("CRASH_CLIENTS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(6),
        bin: var("CRASH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_folio"))),
        write_buffer_mib: var("CRASH_WRITE_BUFFER_MIB").and_then(|v| v.parse().ok()),
        types: Mutex::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("content-types")),
    }
}

/// What the server said last about one entry (`None` body: deleted).
#[derive(Debug, Clone, PartialEq)]
struct EntryState {
    version: u64,
    title: String,
    body_sha: String,
    /// `draft`, `published` or `changed`.
    status: String,
}

#[derive(Debug, Clone)]
enum Known {
    Present(EntryState),
    Deleted,
}

/// Per entry: what was acknowledged, and what an unanswered request may have made of it.
#[derive(Debug, Clone)]
struct Tracked {
    /// The client that writes it.
    owner: usize,
    acked: Known,
    /// The state a request without an answer was asking for (a kill cut it off).
    maybe: Option<Known>,
}

#[derive(Default)]
struct Ledger {
    entries: BTreeMap<String, Tracked>,
    /// Creates that never got an answer, by the unique title they carried.
    unanswered_creates: Vec<String>,
    /// Media id → SHA-256 of the bytes acknowledged.
    media: BTreeMap<String, (String, String)>,
    acknowledged: u64,
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn kill(mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait for folio")
    }
}

fn folio(s: &Settings, data: &Path) -> Command {
    let mut c = Command::new(&s.bin);
    c.env("FOLIO_DATA_DIR", data)
        .env("FOLIO_CONTENT_TYPES", &*s.types.lock().unwrap())
        .env("FOLIO_LOG__LEVEL", "warn,surrealkv::lsm=error")
        .current_dir(data);
    if let Some(mib) = s.write_buffer_mib {
        c.env("FOLIO_DATABASE_WRITE_BUFFER_MIB", mib.to_string());
    }
    c
}

fn spawn(s: &Settings, data: &Path) -> Server {
    let port = process::free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("serve.log"))
        .expect("log file");
    let child = folio(s, data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start folio serve");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Waits (up to two minutes) for `/readyz`; false if the process ended first.
async fn ready(server: &mut Server, client: &reqwest::Client) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = server.child.try_wait() {
            return false;
        }
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    process::bearer_token(client, base, "crash@example.com", PASSWORD).await
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The words of every title and body.
const WORDS: &[&str] = &[
    "kernel", "river", "copper", "lantern", "orbit", "meadow", "signal", "harbour", "quartz",
    "ember", "cobalt", "willow",
];

/// Text of about `len` bytes.
fn text(rng: &mut impl Rng, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        out.push(' ');
    }
    out
}

fn state_of(entry: &Value) -> Option<EntryState> {
    Some(EntryState {
        version: entry["version"].as_u64()?,
        title: entry["fields"]["title"]["en"].as_str()?.to_owned(),
        body_sha: sha(entry["fields"]["body"]["en"]
            .as_str()
            .unwrap_or("")
            .as_bytes()),
        status: entry["status"].as_str()?.to_owned(),
    })
}

/// One client's writes until `stop`: on its own entries only, so the last acknowledged state
/// of each is well defined.
async fn client_loop(
    n: usize,
    base: String,
    token: String,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    counter: Arc<AtomicU64>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let api = format!("{base}/admin/api/v1");
    let mut mine: Vec<String> = ledger
        .lock()
        .unwrap()
        .entries
        .iter()
        .filter(|(_, t)| t.owner == n && matches!(t.acked, Known::Present(_)))
        .map(|(id, _)| id.clone())
        .collect();
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.random_range(0..100);
        if roll < 45 || mine.is_empty() {
            // Create: sizes from a few hundred bytes to 40 KB.
            let seq = counter.fetch_add(1, Ordering::Relaxed);
            let title = format!("crash {n} {seq} {}", text(&mut rng, 10).trim());
            let size = if rng.random_bool(0.5) {
                rng.random_range(100..3000)
            } else {
                rng.random_range(5000..40_000)
            };
            let body = text(&mut rng, size);
            let publish = rng.random_bool(0.5);
            let sent = client
                .post(format!("{api}/content/article"))
                .bearer_auth(&token)
                .json(&json!({ "fields": { "title": { "en": title }, "body": { "en": body } }, "publish": publish }))
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == 201 => {
                    let v: Value = r.json().await.unwrap_or_default();
                    // An answer cut off half way: like no answer at all.
                    let Some(state) = state_of(&v["data"]) else {
                        ledger.lock().unwrap().unanswered_creates.push(title);
                        return;
                    };
                    let id = v["data"]["id"].as_str().unwrap_or_default().to_owned();
                    let mut l = ledger.lock().unwrap();
                    l.acknowledged += 1;
                    l.entries.insert(
                        id.clone(),
                        Tracked {
                            owner: n,
                            acked: Known::Present(state),
                            maybe: None,
                        },
                    );
                    mine.push(id);
                }
                Ok(r) => panic!(
                    "create refused: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ),
                // The server is gone (or stuck): this client stops, so the cut-off request is
                // the last one it made.
                Err(_) => {
                    ledger.lock().unwrap().unanswered_creates.push(title);
                    return;
                }
            }
            continue;
        }
        if roll >= 92 {
            // A media upload.
            let len = rng.random_range(200..20_000);
            let bytes = text(&mut rng, len).into_bytes();
            let name = format!("crash-{n}-{}.txt", counter.fetch_add(1, Ordering::Relaxed));
            let Ok(r) = client
                .post(format!("{api}/media?filename={name}"))
                .bearer_auth(&token)
                .body(bytes.clone())
                .send()
                .await
            else {
                return;
            };
            if r.status().is_success() {
                let v: Value = r.json().await.unwrap_or_default();
                let id = v["data"][0]["id"].as_str().unwrap_or_default().to_owned();
                // The path only: the next server listens on another port.
                let url = v["data"][0]["url"].as_str().unwrap_or_default();
                let url = url.find("/media/").map_or("", |at| &url[at..]).to_owned();
                let mut l = ledger.lock().unwrap();
                l.acknowledged += 1;
                l.media.insert(id, (sha(&bytes), url));
            }
            continue;
        }
        let id = mine[rng.random_range(0..mine.len())].clone();
        let current = match &ledger.lock().unwrap().entries[&id].acked {
            Known::Present(s) => s.clone(),
            Known::Deleted => continue,
        };
        let (request, target) = if roll < 70 {
            let len = rng.random_range(100..30_000);
            let body = text(&mut rng, len);
            let target = Known::Present(EntryState {
                version: current.version + 1,
                title: current.title.clone(),
                body_sha: sha(body.as_bytes()),
                status: if current.status == "draft" {
                    "draft"
                } else {
                    "changed"
                }
                .into(),
            });
            (
                client.patch(format!("{api}/content/article/{id}")).json(
                    &json!({ "fields": { "body": { "en": body } }, "version": current.version }),
                ),
                target,
            )
        } else if roll < 87 {
            let publish = current.status != "published";
            let action = if publish { "publish" } else { "unpublish" };
            let target = Known::Present(EntryState {
                version: current.version + 1,
                status: if publish { "published" } else { "draft" }.into(),
                ..current.clone()
            });
            (
                client
                    .post(format!("{api}/content/article/{id}/{action}"))
                    .json(&json!({ "version": current.version })),
                target,
            )
        } else {
            (
                client
                    .delete(format!("{api}/content/article/{id}"))
                    .json(&json!({ "version": current.version })),
                Known::Deleted,
            )
        };
        ledger.lock().unwrap().entries.get_mut(&id).unwrap().maybe = Some(target.clone());
        match request.bearer_auth(&token).send().await {
            Ok(r) if r.status().is_success() => {
                let answered = if matches!(target, Known::Deleted) {
                    Known::Deleted
                } else {
                    let v: Value = r.json().await.unwrap_or_default();
                    match state_of(&v["data"]) {
                        Some(s) => Known::Present(s),
                        None => return,
                    }
                };
                let mut l = ledger.lock().unwrap();
                l.acknowledged += 1;
                let t = l.entries.get_mut(&id).unwrap();
                t.acked = answered;
                t.maybe = None;
                if matches!(t.acked, Known::Deleted) {
                    mine.retain(|m| m != &id);
                }
            }
            Ok(r) => panic!(
                "{id}: refused: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            // No answer: the request may or may not have been applied; `maybe` says what. No
            // further request may overwrite that, so this client stops here.
            Err(_) => return,
        }
    }
}

/// Checks every tracked entry and media item against the restarted server; returns what was
/// lost (described), and settles what unanswered requests did.
async fn verify(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    ledger: &Mutex<Ledger>,
) -> Vec<String> {
    let api = format!("{base}/admin/api/v1");
    let mut lost = Vec::new();
    let snapshot: Vec<(String, Tracked)> = ledger
        .lock()
        .unwrap()
        .entries
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, tracked) in snapshot {
        let r = client
            .get(format!("{api}/content/article/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("read entry");
        let found = match r.status().as_u16() {
            404 => Known::Deleted,
            200 => {
                let v: Value = r.json().await.expect("json");
                Known::Present(state_of(&v["data"]).expect("an entry"))
            }
            other => panic!("{id}: reading it answered {other}"),
        };
        let same = |a: &Known, b: &Known| match (a, b) {
            (Known::Deleted, Known::Deleted) => true,
            (Known::Present(x), Known::Present(y)) => x == y,
            _ => false,
        };
        let settled = if same(&found, &tracked.acked) {
            tracked.acked.clone()
        } else if tracked.maybe.as_ref().is_some_and(|m| same(&found, m)) {
            found.clone()
        } else {
            lost.push(format!(
                "entry {id}: acknowledged {:?}, found {:?}",
                tracked.acked, found
            ));
            found.clone()
        };
        // The published snapshot is what delivery serves.
        if let Known::Present(s) = &settled {
            let public = client
                .get(format!("{base}/api/v1/content/article/{id}"))
                .send()
                .await
                .expect("delivery")
                .status()
                .as_u16();
            let expected = if s.status == "draft" { 404 } else { 200 };
            if public != expected {
                lost.push(format!(
                    "entry {id}: status {} but delivery answered {public}",
                    s.status
                ));
            }
        }
        let mut l = ledger.lock().unwrap();
        let t = l.entries.get_mut(&id).unwrap();
        t.acked = settled;
        t.maybe = None;
    }
    // Creates that were cut off: there or not, both are fine; adopt the ones that made it.
    let titles = std::mem::take(&mut ledger.lock().unwrap().unanswered_creates);
    for title in titles {
        let r = process::json_answer(
            client
                .get(format!("{api}/content/article"))
                .query(&[("filter[title][eq]", title.as_str())])
                .bearer_auth(token),
        )
        .await
        .expect("list");
        if let Some(entry) = r["data"].as_array().and_then(|a| a.first())
            && let (Some(id), Some(state)) = (entry["id"].as_str(), state_of(entry))
        {
            // Titles are `crash {client} {seq} ...`.
            let owner = title
                .split(' ')
                .nth(1)
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            ledger.lock().unwrap().entries.insert(
                id.to_owned(),
                Tracked {
                    owner,
                    acked: Known::Present(state),
                    maybe: None,
                },
            );
        }
    }
    let media: Vec<(String, (String, String))> = ledger
        .lock()
        .unwrap()
        .media
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, (digest, url)) in media {
        let r = client
            .get(format!("{api}/media/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("media");
        if r.status() != 200 {
            lost.push(format!("media {id}: answered {}", r.status()));
            continue;
        }
        let bytes = client
            .get(format!("{base}{url}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("media bytes")
            .bytes()
            .await
            .unwrap_or_default();
        if sha(&bytes) != digest {
            lost.push(format!(
                "media {id}: the bytes differ from those acknowledged"
            ));
        }
    }
    lost
}

/// An exact admin search of the articles (drafts included): the total, and the ids of the
/// first five hits.
async fn admin_search(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    q: &str,
) -> Result<(u64, Vec<String>), String> {
    let v = process::json_answer(
        client
            .get(format!("{base}/admin/api/v1/search"))
            .query(&[
                ("q", q),
                ("type", "article"),
                ("exact", "true"),
                ("limit", "5"),
                ("facets", ""),
            ])
            .bearer_auth(token),
    )
    .await?;
    let ids = v["data"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok((v["meta"]["total"].as_u64().unwrap_or(0), ids))
}

/// Whether the admin search holds exactly the entries there are (drafts included).
async fn search_agrees(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    ledger: &Mutex<Ledger>,
) -> Result<(), String> {
    let expected = ledger
        .lock()
        .unwrap()
        .entries
        .values()
        .filter(|t| matches!(t.acked, Known::Present(_)))
        .count() as u64;
    // The index follows the database within a fraction of a second.
    let mut total = 0;
    for _ in 0..100 {
        (total, _) = admin_search(client, base, token, "").await?;
        if total == expected {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the search index holds {total} articles, the database {expected}"
    ))
}

/// What the search answers, to compare with an index rebuilt from scratch: how many entries
/// there are and how many hold each word the bodies use, and for a sample of entries (up to 100, spread over
/// the ledger) the ids found by their title's unique start. Fails when a sampled entry is not
/// found as itself.
async fn search_answers(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    ledger: &Mutex<Ledger>,
) -> Result<Vec<(String, String)>, String> {
    let sample: Vec<(String, String)> = {
        let l = ledger.lock().unwrap();
        let present: Vec<(String, String)> = l
            .entries
            .iter()
            .filter(|(_, t)| t.maybe.is_none())
            .filter_map(|(id, t)| match &t.acked {
                Known::Present(state) => Some((id.clone(), state.title.clone())),
                Known::Deleted => None,
            })
            .collect();
        let step = (present.len() / 100).max(1);
        present.into_iter().step_by(step).take(100).collect()
    };
    let mut answers = Vec::new();
    // Totals only: which hits rank first depends on term statistics, which deleted documents
    // not yet merged away still count in.
    for word in std::iter::once("").chain(WORDS.iter().copied()) {
        let (total, _) = admin_search(client, base, token, word).await?;
        answers.push((word.to_owned(), total.to_string()));
    }
    for (id, title) in sample {
        // "crash <client> <number>": unique to the entry, whatever its later words.
        let start: Vec<&str> = title.split_whitespace().take(3).collect();
        let q = format!("\"{}\"", start.join(" "));
        let (total, ids) = admin_search(client, base, token, &q).await?;
        let found = format!("{total} {}", ids.join(","));
        if found != format!("1 {id}") {
            return Err(format!("searching {q} finds `{found}`, not {id} alone"));
        }
        answers.push((q, found));
    }
    Ok(answers)
}

/// A copy of the repository's content types in `work` with the articles' `excerpt` renamed to
/// `summary` (`renamed_from`), which a start applies by rewriting every article.
fn renamed_types(work: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("content-types");
    let to = work.join("types-renamed");
    std::fs::create_dir_all(&to).expect("types dir");
    for f in std::fs::read_dir(&from).expect("content types").flatten() {
        let mut text = std::fs::read_to_string(f.path()).expect("a content type");
        if f.file_name() == "article.toml" {
            let renamed = text.replacen(
                "name = \"excerpt\"",
                "name = \"summary\"\nrenamed_from = \"excerpt\"",
                1,
            );
            assert_ne!(renamed, text, "the article type has an excerpt to rename");
            text = renamed;
        }
        std::fs::write(to.join(f.file_name()), text).expect("write a content type");
    }
    to
}

#[tokio::main]
async fn main() {
    let s = settings();
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path();
    process::create_admin(folio(&s, data), "crash@example.com", PASSWORD);

    let client = reqwest::Client::new();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let counter = Arc::new(AtomicU64::new(0));
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut lost = Vec::new();
    let mut kills = 0;
    let mut startup_kills = 0;
    let mut migration_kills = 0;
    for round in 0..s.kills {
        // Half way, the article type changes so that the next start moves the data of every
        // article (a renamed field), and that start is killed a moment in.
        if round > 0 && round == s.kills / 2 {
            *s.types.lock().unwrap() = renamed_types(work.path());
            let server = spawn(&s, data);
            tokio::time::sleep(Duration::from_millis(rng.random_range(10..400))).await;
            server.kill();
            migration_kills += 1;
        }
        // Now and then, kill it again while it recovers from the last kill.
        else if round > 0 && rng.random_bool(0.3) {
            let server = spawn(&s, data);
            tokio::time::sleep(Duration::from_millis(rng.random_range(10..400))).await;
            server.kill();
            startup_kills += 1;
        }
        let mut server = spawn(&s, data);
        assert!(
            ready(&mut server, &client).await,
            "the server did not start after kill {kills} (see {})",
            data.join("serve.log").display()
        );
        let token = sign_in(&client, &server.base).await;
        lost.extend(verify(&client, &server.base, &token, &ledger).await);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..s.clients)
            .map(|n| {
                tokio::spawn(client_loop(
                    n,
                    server.base.clone(),
                    token.clone(),
                    ledger.clone(),
                    stop.clone(),
                    counter.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(800..4000))).await;
        server.kill();
        kills += 1;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.expect("client");
        }
    }
    // The last restart: check, then the search index and (stopped) the audit chain.
    let mut server = spawn(&s, data);
    assert!(
        ready(&mut server, &client).await,
        "the server did not start after the last kill"
    );
    let token = sign_in(&client, &server.base).await;
    lost.extend(verify(&client, &server.base, &token, &ledger).await);
    let mut search = search_agrees(&client, &server.base, &token, &ledger).await;
    let live = search_answers(&client, &server.base, &token, &ledger).await;
    let stopped = server.terminate();
    // The index the server kept through the kills answers as one rebuilt from the database.
    let rebuilt = folio(&s, data)
        .arg("reindex")
        .output()
        .expect("folio reindex");
    assert!(
        rebuilt.status.success(),
        "folio reindex: {}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let mut server = spawn(&s, data);
    assert!(
        ready(&mut server, &client).await,
        "the server did not start after the rebuild"
    );
    let token = sign_in(&client, &server.base).await;
    let fresh = search_answers(&client, &server.base, &token, &ledger).await;
    let stopped_again = server.terminate();
    match (&search, live, fresh) {
        (Err(_), _, _) => {}
        (_, Err(e), _) => search = Err(format!("the index kept through the kills: {e}")),
        (_, _, Err(e)) => search = Err(format!("the rebuilt index: {e}")),
        (Ok(()), Ok(live), Ok(fresh)) => {
            if let Some((q, a, b)) = live
                .iter()
                .zip(&fresh)
                .find(|(a, b)| a != b)
                .map(|(a, b)| (&a.0, &a.1, &b.1))
            {
                search = Err(format!(
                    "`{q}` finds `{a}` in the index kept through the kills, `{b}` in a rebuilt one"
                ));
            }
        }
    }
    let audit = folio(&s, data)
        .args(["audit", "verify"])
        .output()
        .expect("folio audit verify");

    let l = ledger.lock().unwrap();
    println!(
        "crash harness: {} acknowledged writes ({} entries, {} media), {} lost, {kills} kills under load, {startup_kills} during start-up, {migration_kills} while a start migrated the articles",
        l.acknowledged,
        l.entries.len(),
        l.media.len(),
        lost.len()
    );
    for what in &lost {
        println!("  lost: {what}");
    }
    let mut failed = !lost.is_empty();
    if let Err(e) = &search {
        println!("  search: {e}");
        failed = true;
    }
    for stopped in [stopped, stopped_again] {
        if !stopped.success() {
            println!("  SIGTERM: the server exited with {stopped}");
            failed = true;
        }
    }
    if !audit.status.success() {
        println!(
            "  audit verify ({}): {}{}",
            audit.status,
            String::from_utf8_lossy(&audit.stdout),
            String::from_utf8_lossy(&audit.stderr)
        );
        failed = true;
    }
    if failed {
        let keep = work.keep();
        println!("  data directory kept at {}", keep.display());
        std::process::exit(1);
    }
}

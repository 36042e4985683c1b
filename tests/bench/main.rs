//! The benchmark harness: imports generated articles into a fresh data directory with the
//! release `folio` binary, builds the search index with `folio reindex`, starts `folio serve`,
//! and measures the delivery API and search under load (search also against SurrealDB
//! `string::contains` scans, and the time from a publish to the entry being found).
//!
//! ```text
//! cargo bench --bench delivery -- --n 10000           # or --n 100000
//! cargo bench --bench delivery -- --n 100000 --seconds 10 --connections 32
//! ```
//!
//! Data comes from `../shared/bench/data/gen_articles.py` (override with `--generator` or
//! reuse a directory with `--data DIR`). Everything runs on 127.0.0.1 and stops by itself.
//! `--media` measures only the media library (uploads and image transforms).
//! `--hostile` measures only what attacks cost: memory per request, `--seconds` at saturation
//! and 5,000 slow clients, each with `/healthz` probed beside them.
//! `--import-layouts` measures only `folio import`, with the article type as shipped and
//! changed towards one row per article (without drafts, then also without link rows).
//! `--url URL` (repeatable) only loads URLs of a server already running (for profiling).
//! Results are printed as a Markdown table for the README.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod hostile;
mod media;
#[path = "../support/process.rs"]
mod process;
#[path = "../support/raw_http.rs"]
mod raw_http;

struct Args {
    n: usize,
    seconds: u64,
    connections: usize,
    data: Option<PathBuf>,
    generator: PathBuf,
    keep: bool,
    /// Only load these URLs of a server already running, and print what was measured.
    urls: Vec<String>,
    /// Internal: run the bare poem server on the bytes of this file.
    serve_bare: Option<PathBuf>,
    /// Only the media benchmark.
    media: bool,
    /// Only the attacks: memory per request, saturation, slow clients.
    hostile: bool,
    /// Only the import, with the article type changed in steps.
    import_layouts: bool,
    /// Only authenticated creates of articles, at 1 and 8 connections.
    writes: bool,
    /// With `--writes`: Folio's creates only, not the store alone.
    no_ceiling: bool,
}

fn parse_args() -> Args {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = Args {
        n: 10_000,
        seconds: 8,
        connections: 32,
        data: None,
        generator: root.join("../shared/bench/data/gen_articles.py"),
        keep: false,
        urls: Vec::new(),
        serve_bare: None,
        media: false,
        hostile: false,
        import_layouts: false,
        writes: false,
        no_ceiling: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--n" => args.n = it.next().and_then(|v| v.parse().ok()).expect("--n N"),
            "--seconds" => {
                args.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds S")
            }
            "--connections" => {
                args.connections = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--connections C")
            }
            "--data" => args.data = it.next().map(PathBuf::from),
            "--generator" => {
                args.generator = it.next().map(PathBuf::from).expect("--generator PATH")
            }
            "--keep" => args.keep = true,
            "--media" => args.media = true,
            "--hostile" => args.hostile = true,
            "--import-layouts" => args.import_layouts = true,
            "--writes" => args.writes = true,
            "--no-ceiling" => args.no_ceiling = true,
            "--url" => args.urls.extend(it.next()),
            "--serve-bare" => args.serve_bare = it.next().map(PathBuf::from),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// `--import-layouts`: the same articles imported with the article type as shipped, without
/// drafts (one row per article instead of a working copy and a published snapshot), and also
/// without link rows (tags kept as plain values): what the storage layout costs an import.
fn import_layouts(bin: &Path, data: &Path, work: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("content-types");
    let shipped = std::fs::read_to_string(root.join("article.toml")).expect("article.toml");
    let no_drafts = shipped.replace("drafts = true", "drafts = false");
    let no_links = no_drafts.replace(
        "type = \"relation\"\ntarget = \"tag\"\nmany = true\nmax = 10\n",
        "type = \"json\"\n",
    );
    assert!(
        shipped != no_drafts && no_drafts != no_links,
        "article.toml changed shape"
    );
    println!("| article type | import, articles/s |\n|---|---:|");
    for (i, (name, toml)) in [
        ("as shipped", shipped),
        (
            "without drafts (one row per article; link rows kept)",
            no_drafts,
        ),
        ("without drafts or link rows", no_links),
    ]
    .into_iter()
    .enumerate()
    {
        let types = work.join(format!("types-{i}"));
        let data_dir = work.join(format!("data-{i}"));
        std::fs::create_dir_all(&types).expect("types dir");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        for f in std::fs::read_dir(&root).expect("content-types") {
            let f = f.expect("entry").path();
            std::fs::copy(&f, types.join(f.file_name().expect("name"))).expect("copy type");
        }
        std::fs::write(types.join("article.toml"), toml).expect("write article.toml");
        let rate = import_all(bin, &data_dir, data, Some(&types));
        println!("| {name} | {rate:.0} |");
    }
}

/// Imports tags, authors and articles from `data` into `data_dir`, each with a `folio import`
/// of its own (with the content types in `types`, or the shipped ones); returns the articles
/// imported a second, the whole command timed.
fn import_all(bin: &Path, data_dir: &Path, data: &Path, types: Option<&Path>) -> f64 {
    let mut rate = 0.0;
    for (ty, file) in [
        ("tag", "tags.jsonl"),
        ("author", "authors.jsonl"),
        ("article", "articles.jsonl"),
    ] {
        let mut command = folio(bin, data_dir);
        if let Some(types) = types {
            command.env("FOLIO_CONTENT_TYPES", types);
        }
        let started = Instant::now();
        let out = command
            .args(["import", "--type", ty])
            .arg(data.join(file))
            .stderr(Stdio::inherit())
            .output()
            .expect("folio import");
        let secs = started.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!("{}", text.trim());
        assert!(out.status.success(), "import of {ty} failed");
        let imported: f64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("imported count");
        rate = imported / secs;
    }
    rate
}

/// The `folio` binary cargo built for this benchmark, in the same profile and with the same
/// features (building it again here would compile SurrealDB a second time).
/// `BENCH_FOLIO_BIN` measures another build instead (an older commit's, to compare).
fn folio_binary() -> PathBuf {
    std::env::var_os("BENCH_FOLIO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_folio")))
}

use process::free_port;

const BENCH_PASSWORD: &str = "quiet harbour lamp 7 vellum";

/// Creates the benchmark's administrator with `folio user create`.
fn create_admin(bin: &Path, data_dir: &Path) {
    process::create_admin(folio(bin, data_dir), "bench@example.com", BENCH_PASSWORD);
}

/// Signs the administrator in; the session token.
async fn bench_token(client: &reqwest::Client, base: &str) -> String {
    process::bearer_token(client, base, "bench@example.com", BENCH_PASSWORD).await
}

/// Publishes 20 articles one by one, each with a word of its own, and measures how long each
/// takes to be found by the delivery search: (p50, max) in ms.
async fn publish_to_searchable(client: &reqwest::Client, base: &str) -> (f64, f64) {
    let token = bench_token(client, base).await;
    let mut times = Vec::new();
    for i in 0..20 {
        let word = format!("benchword{i}x{}", std::process::id());
        let started = Instant::now();
        let created = client
            .post(format!("{base}/admin/api/v1/content/article"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "fields": { "title": { "en": format!("Fresh {word}") } }, "publish": true }))
            .send()
            .await
            .expect("create");
        assert!(created.status().is_success(), "create failed");
        loop {
            let found: Value = client
                .get(format!(
                    "{base}/api/v1/search?type=article&exact=true&q={word}"
                ))
                .send()
                .await
                .expect("search")
                .json()
                .await
                .expect("json");
            if found["meta"]["total"] == 1 {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let status = client
                    .get(format!("{base}/admin/api/v1/search/status"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("status")
                    .text()
                    .await
                    .unwrap_or_default();
                panic!("{word} never found: {found}; index: {status}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], times[times.len() - 1])
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// Two adjacent words of the newest article's title, for the phrase query.
async fn first_phrase(client: &reqwest::Client, base: &str) -> String {
    let page = process::json_answer(client.get(format!(
        "{base}/api/v1/content/article?limit=1&fields=title"
    )))
    .await
    .expect("list");
    let title = page["data"][0]["fields"]["title"]
        .as_str()
        .unwrap_or("rust tokio");
    title
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resident memory of a process in MiB: all of it, and the part that is file pages mapped in
/// (the search index's files), which the kernel may drop and read again.
fn rss_mib(pid: u32) -> (f64, f64) {
    (status_mib(pid, "VmRSS:"), status_mib(pid, "RssFile:"))
}

/// Processor time (user and system) a process has used so far, in ms (`/proc/PID/stat`;
/// `self` for this one).
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) closed by `)`: utime and stime
    // are the 12th and 13th, in ticks of 1/100 s.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    ticks * 10.0
}

/// A memory figure of `/proc/PID/status` (`VmRSS:`, `VmHWM:`, ...) in MiB.
fn status_mib(pid: u32, name: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Server {
    child: Child,
    base: String,
    start_to_ready: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn folio(bin: &Path, data_dir: &Path) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut c = Command::new(bin);
    c.env("FOLIO_DATA_DIR", data_dir)
        .env("FOLIO_CONTENT_TYPES", root.join("content-types"))
        .env(
            "FOLIO_LOG__LEVEL",
            std::env::var("BENCH_FOLIO_LOG").unwrap_or("warn,surrealkv::lsm=error".into()),
        )
        .current_dir(data_dir);
    c
}

async fn start_server(bin: &Path, data_dir: &Path) -> Server {
    let port = free_port();
    let started = Instant::now();
    let child = folio(bin, data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start folio serve");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Server {
        child,
        base,
        start_to_ready: started.elapsed(),
    }
}

struct LoadResult {
    requests: u64,
    errors: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Replaced in a URL by a request's own number, as a 26-digit ULID no entry has
/// (`filter[id][ne]={unique}` changes no answer, only the cache key).
const UNIQUE: &str = "{unique}";

/// `connections` workers, each with its own connection, requesting `urls` round-robin for
/// `seconds`.
async fn load(urls: Arc<Vec<String>>, connections: usize, seconds: u64) -> LoadResult {
    load_requests(connections, seconds, move |client, i| {
        let url = &urls[i % urls.len()];
        // `{unique}` makes every request a new one (a scenario that measures the uncached
        // path must not be answered by the response cache).
        if url.contains(UNIQUE) {
            client.get(url.replace(UNIQUE, &format!("{i:026}")))
        } else {
            client.get(url)
        }
    })
    .await
}

/// `connections` workers, each with its own connection, sending the requests `make` builds
/// (from a request number unique across workers) for `seconds`; a request counts when it
/// answers 2xx.
async fn load_requests(
    connections: usize,
    seconds: u64,
    make: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> LoadResult {
    let clients: Vec<reqwest::Client> = (0..connections)
        .map(|_| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client")
        })
        .collect();
    load_ops(connections, seconds, move |i| {
        // Request `i` comes from worker `i % connections`, always through its client.
        let request = make(&clients[i % connections], i);
        async move {
            match request.send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

/// `connections` workers running `op` (given an operation number unique across workers; it
/// says whether it succeeded) one after another for `seconds`: the rate and latencies of those
/// that succeeded.
async fn load_ops<F, Fut>(connections: usize, seconds: u64, op: F) -> LoadResult
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..connections {
        let op = op.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if op(i).await {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
                i += connections;
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("worker");
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if all.is_empty() {
            0.0
        } else {
            all[((all.len() as f64 * p) as usize).min(all.len() - 1)]
        }
    };
    LoadResult {
        requests: all.len() as u64,
        errors,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Authenticated creates of a ~7 KB article with an author and two tags (a generated
/// article's body, a title of its own each), on the imported data, at 1 and 8 connections;
/// then checks that every acknowledged create is stored.
async fn writes(bin: &Path, data_dir: &Path, data: &Path, seconds: u64, ceiling: bool) {
    create_admin(bin, data_dir);
    let server = start_server(bin, data_dir).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let token = bench_token(&client, &base).await;
    let admin_get = |path: String| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            process::json_answer(
                client
                    .get(format!("{base}/admin/api/v1{path}"))
                    .bearer_auth(&token),
            )
            .await
            .expect("admin request")
        }
    };
    let ids = |ty: &'static str, n: usize| {
        let page = admin_get(format!("/content/{ty}?limit={n}"));
        async move {
            page.await["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|e| e["id"].clone())
                .collect::<Vec<_>>()
        }
    };
    let author = ids("author", 1).await.remove(0);
    let tags = ids("tag", 2).await;
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(data.join("articles.jsonl"))
            .expect("articles")
            .lines()
            .next()
            .expect("an article"),
    )
    .expect("json");
    let body = line["body"].clone();
    let articles = || async {
        admin_get("/content/article?limit=1".into()).await["meta"]["total"]
            .as_u64()
            .unwrap_or(0)
    };
    let stored_before = articles().await;
    let mut rows = Vec::new();
    let mut acknowledged = 0;
    // Processor time of the server per create, background work (indexing, audit chaining)
    // included: steadier across runs than the rate.
    let server_pid = server.child.id().to_string();
    let mut cpu_per_create = Vec::new();
    for connections in [1, 8] {
        let (base, token, body, author, tags) = (
            base.clone(),
            token.clone(),
            body.clone(),
            author.clone(),
            tags.clone(),
        );
        let run = std::process::id();
        let cpu_before = cpu_ms(&server_pid);
        let r = load_requests(connections, seconds, move |client, i| {
            client
                .post(format!("{base}/admin/api/v1/content/article"))
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "fields": {
                        "title": { "en": format!("Written under load {run} {connections} {i}") },
                        "body": { "en": body },
                        "author": author,
                        "tags": tags,
                    },
                    "publish": true,
                }))
        })
        .await;
        acknowledged += r.requests;
        cpu_per_create.push((cpu_ms(&server_pid) - cpu_before) / r.requests.max(1) as f64);
        rows.push((connections, r));
    }
    let stored = articles().await - stored_before;
    println!("\n### creates of a ~7 KB article with an author and two tags, {seconds} s each\n");
    print_table(
        "connections | creates/s",
        rows.iter().map(|(c, r)| (c.to_string(), r)),
    );
    println!(
        "\nserver processor time per create: {:.2} ms at 1 connection, {:.2} ms at 8",
        cpu_per_create[0], cpu_per_create[1]
    );
    println!("\n{acknowledged} acknowledged, {stored} stored");
    assert_eq!(acknowledged, stored, "every acknowledged create is stored");
    drop(server);
    if ceiling {
        store_ceiling(seconds, body.as_str().unwrap_or_default()).await;
    }
}

/// What the store alone does on this machine: SurrealDB embedded on SurrealKV, one `CREATE`
/// of a row like the benchmark's article per transaction, with no index and with three (a
/// unique slug, the publication time, the author), on a table already holding 10,000 rows.
async fn store_ceiling(seconds: u64, body: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db =
        surrealdb::engine::any::connect(format!("surrealkv://{}", dir.path().join("db").display()))
            .await
            .expect("open the store");
    db.use_ns("bench").use_db("bench").await.expect("namespace");
    db.query(
        "DEFINE TABLE plain SCHEMALESS; DEFINE TABLE indexed SCHEMALESS;
         DEFINE INDEX slug ON indexed FIELDS slug UNIQUE;
         DEFINE INDEX published ON indexed FIELDS published_at;
         DEFINE INDEX author ON indexed FIELDS author;",
    )
    .await
    .expect("schema")
    .check()
    .expect("schema");
    let body = body.to_owned();
    let row = move |n: String| {
        serde_json::json!({
            "title": format!("Stored directly {n}"),
            "slug": format!("stored-directly-{n}"),
            "body": body,
            "author": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "tags": ["01ARZ3NDEKTSV4RRFFQ69G5FAW", "01ARZ3NDEKTSV4RRFFQ69G5FAX"],
            "published_at": "2026-12-01T10:00:00.000Z",
        })
    };
    for table in ["plain", "indexed"] {
        for batch in 0..20 {
            let rows: Vec<Value> = (0..500).map(|i| row(format!("pre-{batch}-{i}"))).collect();
            db.query(format!("INSERT INTO {table} $rows RETURN NONE"))
                .bind(("rows", rows))
                .await
                .expect("preload")
                .check()
                .expect("preload");
        }
    }
    println!("\n### the store alone: one CREATE of such a row per transaction, {seconds} s each\n");
    let mut rows = Vec::new();
    for table in ["plain", "indexed"] {
        for connections in [1usize, 8] {
            let (db, row) = (db.clone(), row.clone());
            let cpu_before = cpu_ms("self");
            let r = load_ops(connections, seconds, move |i| {
                let (db, content) = (db.clone(), row(format!("{table}-{connections}-{i}")));
                async move {
                    db.query(format!(
                        "CREATE type::record('{table}', rand::ulid()) CONTENT $row RETURN NONE"
                    ))
                    .bind(("row", content))
                    .await
                    .and_then(|r| r.check())
                    .is_ok()
                }
            })
            .await;
            let cpu = (cpu_ms("self") - cpu_before) / r.requests.max(1) as f64;
            rows.push((format!("{table} | {connections} | {cpu:.2}"), r));
        }
    }
    print_table(
        "table | connections | processor ms per create | creates/s",
        rows.iter().map(|(n, r)| (n.clone(), r)),
    );
}

/// A Markdown table of load results: `first` names the columns before p50 (the last of them
/// the rate), each row its own.
fn print_table<'a>(first: &str, rows: impl IntoIterator<Item = (String, &'a LoadResult)>) {
    println!("| {first} | p50 ms | p99 ms | errors |");
    println!(
        "|{}---:|---:|---:|",
        "---|".repeat(first.split('|').count())
    );
    for (name, r) in rows {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} |",
            r.rps, r.p50_ms, r.p99_ms, r.errors
        );
    }
}

/// A bare poem server answering each path of `bodies_file` (a JSON object of path → body)
/// with its body: the ceiling for "GET one entry". It runs as a process of its own, as
/// `folio serve` does, so both share the cores with the load generator alike. Prints its
/// address, then serves until killed.
async fn serve_bare(bodies_file: &Path) {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let text = std::fs::read_to_string(bodies_file).expect("bodies file");
    let map: std::collections::HashMap<String, String> =
        serde_json::from_str(&text).expect("bodies file is a JSON object");
    let bodies: std::collections::HashMap<String, bytes::Bytes> = map
        .into_iter()
        .map(|(path, body)| (path, bytes::Bytes::from(body)))
        .collect();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let addr = *acceptor.local_addr()[0].as_socket_addr().expect("addr");
    println!("http://{addr}");
    let app = poem::endpoint::make_sync(move |req| {
        let body = bodies.get(req.uri().path()).cloned().unwrap_or_default();
        poem::Response::builder()
            .content_type("application/json")
            .body(body)
    });
    let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
}

/// Checks what the server answers against the generator's `expected.json`: the published
/// total, a tag's total, and a word's exact-search total. A benchmark of wrong answers
/// measures nothing.
async fn check_answers(client: &reqwest::Client, base: &str, data: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(data.join("expected.json"))
        .map_err(|e| format!("no expected.json beside the data ({e})"))?;
    let expected: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let get = |url: String| async move {
        let v = process::json_answer(client.get(&url)).await?;
        Ok::<u64, String>(v["meta"]["total"].as_u64().unwrap_or(u64::MAX))
    };
    let checks = [
        (
            "published articles",
            format!("{base}/api/v1/content/article?limit=1"),
            expected["published"].as_u64(),
        ),
        (
            "published articles tagged rust",
            format!("{base}/api/v1/content/article?limit=1&filter%5Btags.slug%5D%5Beq%5D=rust"),
            expected["tag_published"]["rust"].as_u64(),
        ),
        (
            "published articles with the word rust (exact search)",
            format!("{base}/api/v1/search?type=article&limit=1&exact=true&facets=&q=rust"),
            expected["search_word_title_or_body_published"]["rust"].as_u64(),
        ),
    ];
    for (what, url, want) in checks {
        let Some(want) = want else {
            return Err(format!("expected.json has no figure for {what}"));
        };
        let got = get(url).await?;
        if got != want {
            return Err(format!(
                "{what}: the server says {got}, the generator {want}"
            ));
        }
    }
    // Page 10 of 25 published articles, newest first: the same slugs in the same order.
    let page = process::json_answer(client.get(format!(
        "{base}/api/v1/content/article?limit=25&page=10&sort=-published_at&fields=slug"
    )))
    .await?;
    let slugs: Vec<&str> = page["data"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["fields"]["slug"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let digest = {
        use sha1::Digest;
        format!("{:x}", sha1::Sha1::digest(slugs.join("\n").as_bytes()))
    };
    if Some(digest.as_str()) != expected["S2_page10_slugs_sha1"].as_str() {
        return Err(format!(
            "page 10 by publication date: the server lists {} … {}, the generator {} … {}",
            slugs.first().unwrap_or(&"nothing"),
            slugs.last().unwrap_or(&"nothing"),
            expected["S2_page10_first_slug"],
            expected["S2_page10_last_slug"]
        ));
    }
    Ok(())
}

/// The scan baseline answers a page of matches, and not from the response cache.
async fn check_scan(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let mut answers = Vec::new();
    for i in 0..2 {
        let r = client
            .get(url.replace(UNIQUE, &format!("{i:026}")))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        if v["data"].as_array().is_none_or(Vec::is_empty) {
            return Err("the scan baseline found nothing".into());
        }
        answers.push(v["data"].clone());
    }
    if answers[0] != answers[1] {
        return Err("the scan baseline answers differently to the same question".into());
    }
    Ok(())
}

/// Starts [`serve_bare`] in a child process with `bodies` (path → body) and returns it with
/// its address.
fn bare_server(bodies: &std::collections::HashMap<String, String>, work: &Path) -> (Child, String) {
    use std::io::BufRead;
    let bodies_file = work.join("bare-bodies.json");
    std::fs::write(&bodies_file, serde_json::to_vec(bodies).expect("json")).expect("write");
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--serve-bare")
        .arg(&bodies_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start bare server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("bare server address");
    (child, line.trim().to_owned())
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    if let Some(body) = &args.serve_bare {
        serve_bare(body).await;
        return;
    }
    if !args.urls.is_empty() {
        let r = load(Arc::new(args.urls.clone()), args.connections, args.seconds).await;
        println!(
            "{} url(s): {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            args.urls.len(),
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.errors
        );
        return;
    }
    let bin = folio_binary();
    if args.media {
        media::run(&bin).await;
        return;
    }
    if args.hostile {
        hostile::run(&bin, args.seconds).await;
        return;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let data = match &args.data {
        Some(d) => d.clone(),
        None => {
            let out = work.path().join("input");
            let status = Command::new("python3")
                .arg(&args.generator)
                .args(["--n", &args.n.to_string(), "--seed", "42", "--out-dir"])
                .arg(&out)
                .status()
                .expect("python3");
            assert!(status.success(), "data generator failed");
            out
        }
    };
    if args.import_layouts {
        import_layouts(&bin, &data, work.path());
        return;
    }
    let data_dir = work.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");

    // Import: tags, authors, then articles, each a separate `folio import`.
    let import_rate = import_all(&bin, &data_dir, &data, None);

    // The search index, built from the database by `folio reindex` (a first start would build
    // it too, before reporting ready).
    let started = Instant::now();
    let out = folio(&bin, &data_dir)
        .arg("reindex")
        .stderr(Stdio::inherit())
        .output()
        .expect("folio reindex");
    let index_secs = started.elapsed().as_secs_f64();
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
    assert!(out.status.success(), "reindex failed");
    let index_rate = args.n as f64 / index_secs;
    let index_mib = dir_bytes(&data_dir.join("search")) as f64 / (1024.0 * 1024.0);
    if args.writes {
        println!("import (articles, `folio import`, whole command): {import_rate:.0} articles/s");
        writes(&bin, &data_dir, &data, args.seconds, !args.no_ceiling).await;
        if args.keep {
            println!("\nkept data in {}", work.keep().display());
        }
        return;
    }

    // An administrator, for the write-to-searchable measurement.
    create_admin(&bin, &data_dir);

    let server = start_server(&bin, &data_dir).await;
    let pid = server.child.id();
    let rss_start = rss_mib(pid);
    // The first start after a bulk import is when the store compacts what the import wrote
    // (its reads fill the block cache); what the server holds once that is done and freed
    // memory is handed back (every 5 s):
    tokio::time::sleep(Duration::from_secs(12)).await;
    let rss_settled = rss_mib(pid);
    let client = reqwest::Client::new();
    let base = server.base.clone();
    // Before any load (and before the benchmark's own writes): are the answers right?
    let checks = check_answers(&client, &base, &data).await;

    // Urls for the scenarios, taken from the data itself.
    let first: Value = client
        .get(format!(
            "{base}/api/v1/content/article?limit=100&fields=slug"
        ))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let slugs: Vec<String> = first["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["fields"]["slug"].as_str().map(str::to_owned))
        .collect();
    let total = first["meta"]["total"].as_u64().unwrap_or(0);
    // A cursor deep in the list: follow next_cursor to about the middle.
    let mut cursor = String::new();
    let deep_target = (total as usize / 2).min(5000);
    let mut walked = 0;
    while walked < deep_target {
        let page: Value = client
            .get(format!("{base}/api/v1/content/article"))
            .query(&[
                ("limit", "100"),
                ("fields", "slug"),
                ("cursor", cursor.as_str()),
            ])
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("json");
        walked += page["data"].as_array().map_or(0, Vec::len);
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let one_urls: Vec<String> = slugs
        .iter()
        .take(50)
        .map(|s| format!("{base}/api/v1/content/article/{s}"))
        .collect();
    let scenarios: Vec<(&str, Vec<String>)> = vec![
        ("GET one entry by slug", one_urls.clone()),
        (
            "list 25 by published_at, populate=author,tags",
            vec![format!(
                "{base}/api/v1/content/article?limit=25&sort=-published_at&populate=author,tags"
            )],
        ),
        (
            "list 25 filtered by tag, populate=author,tags",
            vec![format!(
                "{base}/api/v1/content/article?limit=25&populate=author,tags&{}=rust",
                encode("filter[tags.slug][eq]")
            )],
        ),
        (
            "list 25 after a cursor deep in the list",
            vec![format!(
                "{base}/api/v1/content/article?limit=25&populate=author,tags&cursor={}",
                encode(&cursor)
            )],
        ),
    ];

    let mut rows = Vec::new();
    for (name, urls) in scenarios {
        let r = load(Arc::new(urls), args.connections, args.seconds).await;
        rows.push((name.to_owned(), r));
    }

    // Search: a mix of one-word, two-word, typo, prefix and phrase queries, then each kind
    // alone, then the same words as SurrealDB `string::contains` scans (what a LIKE search
    // does), the baseline.
    let phrase = first_phrase(&client, &base).await;
    let kinds: Vec<(&str, Vec<String>)> = vec![
        (
            "one word",
            ["rust", "database", "tokio", "latency", "compiler", "wasm"]
                .map(String::from)
                .to_vec(),
        ),
        (
            "two words",
            [
                "rust tokio",
                "database index",
                "search query",
                "cache latency",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "typo",
            ["tokoi", "databse", "compilr", "latnecy"]
                .map(String::from)
                .to_vec(),
        ),
        (
            "prefix",
            ["tant", "sqli", "comp", "rust asy"]
                .map(String::from)
                .to_vec(),
        ),
        ("phrase", vec![format!("\"{phrase}\"")]),
    ];
    let search_url =
        |q: &str| format!("{base}/api/v1/search?type=article&limit=10&q={}", encode(q));
    let mix: Vec<String> = kinds
        .iter()
        .flat_map(|(_, qs)| qs.iter().map(|q| search_url(q)))
        .collect();
    let mut search_rows = Vec::new();
    for connections in [1, args.connections] {
        let r = load(Arc::new(mix.clone()), connections, args.seconds).await;
        search_rows.push((
            format!(
                "search mix ({} queries), {connections} connection(s)",
                mix.len()
            ),
            r,
        ));
    }
    for (kind, qs) in &kinds {
        let urls: Vec<String> = qs.iter().map(|q| search_url(q)).collect();
        let r = load(Arc::new(urls), 1, args.seconds.min(3)).await;
        search_rows.push((format!("search, {kind}, 1 connection"), r));
    }
    // The first page of each word's matches, every request distinct, so the response cache
    // never answers: what a `LIKE` search costs each time.
    let scan_urls: Vec<String> = ["rust", "database", "tokio", "latency"]
        .map(|w| {
            format!(
                "{base}/api/v1/content/article?limit=10&{}={w}&{}={UNIQUE}",
                encode("filter[body][contains]"),
                encode("filter[id][ne]")
            )
        })
        .to_vec();
    let scan_check = check_scan(&client, &scan_urls[0]).await;
    let scan = load(Arc::new(scan_urls), 1, args.seconds).await;
    let visible = publish_to_searchable(&client, &base).await;
    let search_one = &search_rows[2].1;
    let scan_ratio = scan.p50_ms / search_one.p50_ms.max(0.001);
    search_rows.push((
        "baseline: `string::contains` scan of the body, one word, 1 connection".to_owned(),
        scan,
    ));
    // The same paths and bodies as "GET one", so the load generator does the same work for
    // both.
    let mut bodies = std::collections::HashMap::new();
    for url in &one_urls {
        let body = client
            .get(url)
            .send()
            .await
            .expect("one")
            .text()
            .await
            .expect("body");
        bodies.insert(url[base.len()..].to_owned(), body);
    }
    let (mut bare_child, bare_base) = bare_server(&bodies, work.path());
    let bare_urls = one_urls
        .iter()
        .map(|u| u.replacen(&base, &bare_base, 1))
        .collect();
    let bare = load(Arc::new(bare_urls), args.connections, args.seconds).await;
    let _ = bare_child.kill();
    let _ = bare_child.wait();
    rows.push(("bare poem handler, same bytes as GET one".to_owned(), bare));
    let rss_after = rss_mib(pid);

    println!(
        "\n### {} articles ({} published), {} connections, {} s per scenario\n",
        args.n, total, args.connections, args.seconds
    );
    print_table("scenario | req/s", rows.iter().map(|(n, r)| (n.clone(), r)));
    println!();
    print_table(
        "search scenario | req/s",
        search_rows.iter().map(|(n, r)| (n.clone(), r)),
    );
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| import (articles, `folio import`, whole command) | {import_rate:.0} articles/s |");
    println!(
        "| search index build (`folio reindex`, whole command) | {index_rate:.0} articles/s ({index_secs:.1} s) |"
    );
    println!("| search index size on disk | {index_mib:.0} MiB |");
    println!(
        "| publish → found by search (20 articles, p50 / max) | {:.0} / {:.0} ms |",
        visible.0, visible.1
    );
    match (&checks, &scan_check) {
        (Ok(()), Ok(())) => println!(
            "| one-word search vs `string::contains` scan, p50 | {scan_ratio:.0}× faster |"
        ),
        (Err(e), _) | (_, Err(e)) => {
            println!("| one-word search vs `string::contains` scan, p50 | not printed: {e} |")
        }
    }
    if let Err(e) = &checks {
        println!("\n**The answers did not match the generated data: {e}**");
    }
    println!(
        "| start to ready (`folio serve` → `/readyz` 200) | {:.0} ms |",
        server.start_to_ready.as_secs_f64() * 1000.0
    );
    println!(
        "| resident memory after start (of it, mapped files) | {:.0} MiB ({:.0}) |",
        rss_start.0, rss_start.1
    );
    println!(
        "| resident memory 12 s after start, idle (of it, mapped files) | {:.0} MiB ({:.0}) |",
        rss_settled.0, rss_settled.1
    );
    println!(
        "| resident memory after the benchmark (of it, mapped files) | {:.0} MiB ({:.0}) |",
        rss_after.0, rss_after.1
    );
    drop(server);
    if args.keep {
        let kept = work.keep();
        println!("\nkept data in {}", kept.display());
    }
}

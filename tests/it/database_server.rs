//! Folio on a SurrealDB server (`database = "ws://host:port"`) instead of the embedded store:
//! the same migrations, writes, delivery queries and search, and the data outlives the node.
//!
//! The server binary is built from `tests/surreal-server` (`.ci/run` does it); the test finds
//! it through `FOLIO_TEST_SURREAL`, else under `target/surreal-server/debug/surreal`. It is
//! ignored by a plain `cargo test`, since building SurrealDB's server takes minutes:
//! `cargo test --test it -- --ignored database_server` runs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{DatabaseServer, TestApp, send};

/// A `surreal start` process, killed when dropped.
struct Surreal {
    child: Child,
    url: String,
}

impl Drop for Surreal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn surreal_binary() -> PathBuf {
    let path = std::env::var_os("FOLIO_TEST_SURREAL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/surreal-server/debug/surreal"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "no SurrealDB server at {}: build it with `cargo build --manifest-path \
         tests/surreal-server/Cargo.toml --target-dir target/surreal-server` (or name one in \
         FOLIO_TEST_SURREAL)",
        path.display()
    );
    path
}

/// Starts an in-memory SurrealDB server on a free port and waits until it answers.
async fn start_surreal() -> Surreal {
    let binary = surreal_binary();
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&binary)
            .args(["start", "--bind", &format!("127.0.0.1:{port}")])
            .args([
                "--user", "root", "--pass", "root", "--log", "warn", "memory",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SurrealDB server");
        let mut server = Surreal {
            child,
            url: format!("ws://127.0.0.1:{port}"),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if client
                .get(&health)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            if server.child.try_wait().ok().flatten().is_some() {
                break; // the port was taken in the meantime: another one
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(server.child.kill());
    }
    panic!("the SurrealDB server did not start");
}

fn on(server: &Surreal) -> DatabaseServer {
    DatabaseServer {
        url: server.url.clone(),
        username: "root".into(),
        password: "root".into(),
        database: "main".into(),
    }
}

/// A Folio node started from `builder` on the SurrealDB server.
async fn start_node(surreal: &Surreal, builder: crate::harness::Builder, name: &str) -> TestApp {
    builder
        .database_server(on(surreal))
        .start()
        .await
        .expect(name)
}

fn titles(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["fields"]["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
#[ignore = "needs a SurrealDB server binary (tests/surreal-server); .ci/run builds it"]
async fn database_server_holds_everything_a_node_writes() {
    let surreal = start_surreal().await;
    let node = start_node(
        &surreal,
        TestApp::builder(),
        "folio starts on the SurrealDB server",
    )
    .await;

    // Writes: related entries, drafts and published articles, a stale edit refused.
    let (author, tag, first) = node.seed_article("Tokio on a server", "servers").await;
    let other = node.create("tag", json!({ "name": "Other" }), false).await;
    for i in 0..12 {
        let tags = if i % 3 == 0 {
            json!([tag["id"], other["id"]])
        } else {
            json!([other["id"]])
        };
        node.create(
            "article",
            json!({
                "title": { "en": format!("Article {i:02}") },
                "body": { "en": format!("Body number {i}, about **ferries**.") },
                "author": author["id"],
                "tags": tags,
            }),
            i != 11,
        )
        .await;
    }
    let id = first["id"].as_str().unwrap().to_owned();
    let (status, body) = node
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": true }, "version": first["version"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = node
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": false }, "version": first["version"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a stale version: {body}");

    // Delivery: filters on a many-relation, sorting, totals, populate, keyset pages.
    let (status, tagged) = node
        .get_query(
            "/api/v1/content/article",
            &[
                (
                    "filter[tags.slug][eq]",
                    tag["fields"]["slug"].as_str().unwrap(),
                ),
                ("sort", "title"),
                ("populate", "author,tags"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tagged}");
    assert_eq!(
        titles(&tagged),
        [
            "Article 00",
            "Article 03",
            "Article 06",
            "Article 09",
            "Tokio on a server"
        ]
    );
    assert_eq!(tagged["meta"]["total"], 5);
    assert_eq!(
        tagged["data"][0]["fields"]["author"]["fields"]["name"],
        author["fields"]["name"]
    );
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = node
            .get_query(
                "/api/v1/content/article",
                &[
                    ("sort", "-published_at"),
                    ("limit", "5"),
                    ("cursor", &cursor),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["meta"]["total"], 12, "the draft is not delivered");
        seen.extend(titles(&page));
        match page["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.last().map(String::as_str), Some("Tokio on a server"));
    assert!(!seen.contains(&"Article 11".to_owned()));

    // Search is indexed from the recorded work, as with the embedded store.
    node.search_settled().await;
    let (_, found) = node.search(&[("q", "ferries"), ("type", "article")]).await;
    assert_eq!(found["meta"]["total"], 11, "{found}");
    node.stop().await;

    // A node with a fresh data directory finds everything in the database, and rebuilds
    // its search index from it.
    let node = start_node(
        &surreal,
        TestApp::builder(),
        "a second node starts on the same database",
    )
    .await;
    let (status, one) = node.get(&format!("/api/v1/content/article/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["data"]["fields"]["title"], "Tokio on a server");
    let drafts = send(
        node.admin(Method::GET, "/content/article")
            .query(&[("filter[status]", "draft")]),
    )
    .await
    .json();
    assert_eq!(titles_admin(&drafts), ["Article 11"], "{drafts}");
    let (_, edited) = node
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(edited["data"]["fields"]["featured"], true);
    node.search_settled().await;
    let (_, found) = node.search(&[("q", "ferries"), ("type", "article")]).await;
    assert_eq!(found["meta"]["total"], 11, "{found}");
    node.stop().await;
}

/// Admin entries carry every locale's value.
fn titles_admin(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            e["fields"]["title"]["en"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Two nodes on one database: what one publishes, the other stops serving from its response
/// cache within about a second (it follows the change-event log), and the event names the
/// node that made the change.
#[tokio::test]
#[ignore = "needs a SurrealDB server binary (tests/surreal-server); .ci/run builds it"]
async fn database_server_nodes_do_not_serve_each_others_stale_answers() {
    let surreal = start_surreal().await;
    let a = start_node(&surreal, TestApp::builder(), "node A").await;
    let b = start_node(&surreal, TestApp::builder(), "node B").await;
    let (_, _, article) = a.seed_article("Before", "nodes").await;
    let id = article["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/content/article/{id}");
    let (status, first) = b.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["data"]["fields"]["title"], "Before");
    // B has it cached now; A changes it.
    let (status, _) = a
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": { "en": "After" } }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let started = std::time::Instant::now();
    loop {
        let (_, now) = b.get(&path).await;
        if now["data"]["fields"]["title"] == "After" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "node B still serves {now} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, events) = b
        .admin_call(Method::GET, &format!("/events?subject={id}&kind=entry"))
        .await;
    let nodes: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(nodes.len(), 2, "{events}");
    assert!(
        nodes.iter().all(|n| n.is_string()) && nodes[0] == nodes[1],
        "both made on A: {events}"
    );
    b.stop().await;
    a.stop().await;
}

/// Each node keeps its own place in the change-event log: a node stopped while another wrote
/// finds those writes in its search when it starts again, even once the other's place has
/// moved well past them.
#[tokio::test]
#[ignore = "needs a SurrealDB server binary (tests/surreal-server); .ci/run builds it"]
async fn database_server_nodes_each_keep_their_place_in_the_log() {
    let surreal = start_surreal().await;
    let a = start_node(&surreal, TestApp::builder(), "node A").await;
    let b = start_node(&surreal, TestApp::builder().persistent(), "node B").await;
    let article =
        |title: &str, body: &str| json!({ "title": { "en": title }, "body": { "en": body } });
    a.create(
        "article",
        article("Lighthouses", "About a lighthouse."),
        true,
    )
    .await;
    b.search_settled().await;
    let (_, found) = b.search(&[("q", "lighthouse")]).await;
    assert_eq!(found["meta"]["total"], 1, "{found}");
    let dir = b.stop().await;

    // While B is away, A writes, and its indexer's place moves on past that write by more
    // than the overlap a reader reads again.
    a.create("article", article("Keepers", "About a keeper."), true)
        .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    a.create("article", article("Later", "Written later."), true)
        .await;
    a.search_settled().await;

    let b = start_node(&surreal, TestApp::builder().data_dir(dir), "node B again").await;
    b.search_settled().await;
    let (_, found) = b.search(&[("q", "keeper")]).await;
    assert_eq!(
        found["meta"]["total"], 1,
        "B indexed what it missed: {found}"
    );
    b.stop().await;
    a.stop().await;
}

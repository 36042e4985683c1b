//! Full-text search through the real server: ranking, typos, prefixes, phrases, exclusions,
//! facets and filters, the two audiences, and the index staying in step with every change.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_error, copy_dir, example_types};

impl TestApp {
    /// A published (or draft) article with an English title and body.
    async fn article(&self, title: &str, body: &str, publish: bool) -> Value {
        self.create(
            "article",
            json!({ "title": { "en": title }, "body": { "en": body } }),
            publish,
        )
        .await
    }
}

fn titles(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|h| {
            // Delivery entries carry one locale's title, admin entries every locale's.
            let title = &h["entry"]["fields"]["title"];
            title
                .as_str()
                .or(title["en"].as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_title_match_ranks_above_a_body_match() {
    let app = TestApp::spawn().await;
    app.article(
        "Scheduling in practice",
        "Long story short: the tokio scheduler steals work. And more words here.",
        true,
    )
    .await;
    app.article(
        "Tokio in depth",
        "A look at the internals of a runtime.",
        true,
    )
    .await;
    app.article("Unrelated", "Nothing about it here.", true)
        .await;
    app.search_settled().await;

    let (status, body) = app.search(&[("q", "tokio")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["total"], 2);
    assert_eq!(
        titles(&body),
        ["Tokio in depth", "Scheduling in practice"],
        "{body}"
    );
    let first = &body["data"][0];
    assert_eq!(first["type"], "article");
    assert_eq!(first["highlights"]["title"], "<mark>Tokio</mark> in depth");
    // The body highlight is plain text around the match, never Markdown or HTML of the entry.
    let second = body["data"][1]["highlights"]["body"].as_str().unwrap();
    assert!(
        second.contains("the <mark>tokio</mark> scheduler"),
        "{second}"
    );
    assert!(first["score"].as_f64().unwrap() > body["data"][1]["score"].as_f64().unwrap());
}

#[tokio::test]
async fn typos_and_half_typed_words_still_find_the_entry() {
    let app = TestApp::spawn().await;
    app.article(
        "Understanding the tokio runtime",
        "Schedulers and tasks.",
        true,
    )
    .await;
    app.article("Gardening", "Tomatoes need sun.", true).await;
    app.search_settled().await;

    for q in ["tokoi", "runtmie", "runt", "tokio runt", "Understnding"] {
        let (status, body) = app.search(&[("q", q)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            titles(&body),
            ["Understanding the tokio runtime"],
            "query {q:?}: {body}"
        );
    }
    let (_, body) = app.search(&[("q", "runt")]).await;
    assert_eq!(
        body["data"][0]["highlights"]["title"],
        "Understanding the tokio <mark>runtime</mark>"
    );
    // Short words forgive no typo, and a finished word (trailing space) is not a prefix.
    let (_, body) = app.search(&[("q", "tsks")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (_, body) = app.search(&[("q", "runt ")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    // Stemming: the plural finds the singular.
    let (_, body) = app.search(&[("q", "runtimes ")]).await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    // Exact mode: whole words only, no stemming, typos or prefixes.
    for (q, n) in [("runtime", 1), ("runtimes", 0), ("tokoi", 0), ("runt", 0)] {
        let (_, body) = app.search(&[("q", q), ("exact", "true")]).await;
        assert_eq!(body["meta"]["total"], n, "exact {q:?}: {body}");
    }
}

#[tokio::test]
async fn phrases_and_exclusions() {
    let app = TestApp::spawn().await;
    app.article("One", "An async runtime for Rust.", true).await;
    app.article("Two", "The runtime is async by design. Java too.", true)
        .await;
    // Each pair of "async runtime for" is here, but not the three words in a row.
    app.article("Three", "Async runtime, and a runtime for games.", true)
        .await;
    app.search_settled().await;

    let (_, body) = app.search(&[("q", "\"async runtime\"")]).await;
    let mut found = titles(&body);
    found.sort();
    assert_eq!(found, ["One", "Three"], "{body}");
    let (_, body) = app.search(&[("q", "\"async runtime for\"")]).await;
    assert_eq!(titles(&body), ["One"], "{body}");
    let (_, body) = app.search(&[("q", "\"runtime async\"")]).await;
    assert_eq!(body["meta"]["total"], 0, "words out of order: {body}");
    let (_, body) = app.search(&[("q", "runtime -java")]).await;
    let mut found = titles(&body);
    found.sort();
    assert_eq!(found, ["One", "Three"], "{body}");
    let (_, body) = app.search(&[("q", "runtime -\"async runtime\"")]).await;
    assert_eq!(titles(&body), ["Two"], "{body}");
    let (_, body) = app.search(&[("q", "runtime -\"async runtime for\"")]).await;
    let mut found = titles(&body);
    found.sort();
    assert_eq!(found, ["Three", "Two"], "{body}");
    let (_, mut body) = app
        .search(&[("q", "async runtime "), ("sort", "relevance")])
        .await;
    let mut all = titles(&body);
    all.sort();
    assert_eq!(all, ["One", "Three", "Two"]);
    // Syntax errors are 400s that say what is wrong.
    let (status, b) = app.search(&[("q", "\"async runtime")]).await;
    assert_error(status, &b, StatusCode::BAD_REQUEST, "invalid_search");
    assert_eq!(b["param"], "q");
    body = b;
    assert!(body["message"].as_str().unwrap().contains("never closed"));
}

#[tokio::test]
async fn drafts_stay_out_of_delivery_results_and_changes_show_up() {
    let app = TestApp::spawn().await;
    let draft = app
        .article(
            "Secret plans",
            "Nobody may read the zeppelin plans yet.",
            false,
        )
        .await;
    let public = app
        .article("Public notes", "Everyone reads these notes.", true)
        .await;
    app.search_settled().await;

    let (_, body) = app.search(&[("q", "zeppelin")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (status, body) = app.admin_search(&[("q", "zeppelin")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(titles(&body), ["Secret plans"]);
    assert_eq!(body["data"][0]["entry"]["status"], "draft");

    // A draft change to a published entry is searchable for editors only.
    let id = public["id"].as_str().unwrap();
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "body": { "en": "Rewritten with walrus facts." } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.search_settled().await;
    let (_, body) = app.search(&[("q", "walrus")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (_, body) = app.search(&[("q", "everyone")]).await;
    assert_eq!(
        body["meta"]["total"], 1,
        "the published text is still found: {body}"
    );
    let (_, body) = app.admin_search(&[("q", "walrus")]).await;
    assert_eq!(body["meta"]["total"], 1);

    // Publishing makes it public; unpublishing and deleting take it away.
    let draft_id = draft["id"].as_str().unwrap();
    let (status, _) = app
        .admin_call(
            Method::POST,
            &format!("/content/article/{draft_id}/publish"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.search_settled().await;
    let (_, body) = app.search(&[("q", "zeppelin")]).await;
    assert_eq!(titles(&body), ["Secret plans"]);
    let (status, _) = app
        .admin_call(
            Method::POST,
            &format!("/content/article/{draft_id}/unpublish"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.search_settled().await;
    let (_, body) = app.search(&[("q", "zeppelin")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (status, _) = app
        .admin_call(Method::DELETE, &format!("/content/article/{draft_id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.search_settled().await;
    let (_, body) = app.admin_search(&[("q", "zeppelin")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
}

#[tokio::test]
async fn authors_find_only_their_own_drafts() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user_with_role("author").await;
    let (_, bob) = app.user_with_role("author").await;
    for (token, title) in [
        (&alice, "Alice on lighthouses"),
        (&bob, "Bob on lighthouses"),
    ] {
        let (status, body) = app
            .call_as(
                token,
                Method::POST,
                "/content/article",
                Some(json!({ "fields": { "title": { "en": title } } })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.search_settled().await;
    let search_as = |token: &str| {
        app.client
            .get(app.url("/admin/api/v1/search"))
            .query(&[("q", "lighthouses")])
            .bearer_auth(token.to_owned())
            .send()
    };
    let body: Value = search_as(&alice).await.unwrap().json().await.unwrap();
    assert_eq!(titles(&body), ["Alice on lighthouses"], "{body}");
    assert_eq!(body["meta"]["total"], 1);
    let (_, body) = app.admin_search(&[("q", "lighthouses")]).await;
    assert_eq!(body["meta"]["total"], 2, "the admin sees both");
    // Without credentials the admin search is closed.
    let (status, body) = app.get_query("/admin/api/v1/search", &[("q", "x")]).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn facets_filters_and_date_sorting() {
    let app = TestApp::spawn().await;
    let rust = app.create("tag", json!({ "name": "Rust" }), false).await;
    let go = app.create("tag", json!({ "name": "Go" }), false).await;
    for (title, tags) in [
        ("Compilers in Rust", vec![&rust]),
        ("Compilers in Go", vec![&go]),
        ("Compilers compared", vec![&rust, &go]),
    ] {
        let ids: Vec<&Value> = tags.iter().map(|t| &t["id"]).collect();
        app.create(
            "article",
            json!({ "title": { "en": title }, "tags": ids }),
            true,
        )
        .await;
    }
    app.search_settled().await;

    let (_, body) = app.search(&[("q", "compilers")]).await;
    assert_eq!(body["meta"]["total"], 3);
    assert_eq!(
        body["meta"]["facets"]["tags"],
        json!([{ "value": "Go", "count": 2 }, { "value": "Rust", "count": 2 }])
    );
    let (_, body) = app
        .search(&[("q", "compilers"), ("filter[tags][eq]", "Rust")])
        .await;
    let mut found = titles(&body);
    found.sort();
    assert_eq!(found, ["Compilers compared", "Compilers in Rust"]);
    let (_, body) = app
        .search(&[
            ("q", "compilers"),
            ("filter[tags][in]", "Rust,Go"),
            ("facets", ""),
        ])
        .await;
    assert_eq!(body["meta"]["total"], 3);
    assert_eq!(body["meta"]["facets"], json!({}));
    // Newest first, and a date range that excludes everything.
    let (_, body) = app
        .search(&[("q", "compilers"), ("sort", "-published_at")])
        .await;
    assert_eq!(titles(&body)[0], "Compilers compared", "{body}");
    let (_, body) = app
        .search(&[
            ("q", "compilers"),
            ("filter[published_at][lt]", "2001-01-01"),
        ])
        .await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (_, body) = app
        .search(&[
            ("q", ""),
            ("filter[published_at][gte]", "2001-01-01"),
            ("limit", "2"),
        ])
        .await;
    assert_eq!(
        body["meta"]["total"], 3,
        "an empty query with filters lists: {body}"
    );
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    // Bad parameters are named.
    for (query, code, param) in [
        (
            vec![("filter[nope][eq]", "x")],
            "unknown_field",
            "filter[nope]",
        ),
        (vec![("sort", "title")], "unknown_field", "sort"),
        (
            vec![("filter[published_at][gte]", "yesterday")],
            "invalid_filter",
            "filter[published_at]",
        ),
        (vec![("limit", "500")], "invalid_limit", "limit"),
        (vec![("page", "900")], "invalid_page", "page"),
        (vec![("type", "author")], "type_not_searchable", "type"),
        (vec![("locale", "de")], "unknown_locale", "locale"),
        (vec![("bogus", "1")], "unknown_parameter", "bogus"),
    ] {
        let mut q = vec![("q", "compilers")];
        q.extend(query);
        let (status, body) = app.search(&q).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code);
        assert_eq!(body["param"], param, "{body}");
    }
    let (status, body) = app.search(&[("q", "x"), ("type", "nope")]).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "type_not_found");
}

/// A type with a private searchable field, to check it never reaches the public.
fn types_with_private_search() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&example_types(), dir.path());
    std::fs::write(
        dir.path().join("memo.toml"),
        r#"
id = "memo"
name = "Memo"
search = true

[access]
read = ["public"]

[[fields]]
name = "title"
type = "text"
search = { boost = 2.0 }

[[fields]]
name = "notes"
type = "long_text"
private = true
search = true
"#,
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn private_fields_are_searched_by_editors_only_and_snippets_are_escaped() {
    let types = types_with_private_search();
    let app = TestApp::builder()
        .types(types.path())
        .start()
        .await
        .unwrap();
    app.create(
        "memo",
        json!({ "title": "<script>alert(1)</script> quarterly memo", "notes": "the password is swordfish" }),
        true,
    )
    .await;
    app.search_settled().await;

    let (_, body) = app.search(&[("q", "swordfish")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (_, body) = app.search(&[("q", "quarterly"), ("type", "memo")]).await;
    assert_eq!(body["meta"]["total"], 1);
    let hit = &body["data"][0];
    assert_eq!(
        hit["highlights"]["title"],
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>quarterly</mark> memo"
    );
    assert!(hit["highlights"].get("notes").is_none());
    assert!(hit["entry"]["fields"].get("notes").is_none());
    // Searching every type finds memos and articles alike.
    let (_, body) = app.admin_search(&[("q", "swordfish")]).await;
    assert_eq!(body["meta"]["total"], 1);
    assert_eq!(
        body["data"][0]["highlights"]["notes"],
        "the password is <mark>swordfish</mark>"
    );
}

#[tokio::test]
async fn a_rebuild_gives_the_same_results_and_searches_keep_answering() {
    let app = TestApp::spawn().await;
    for i in 0..30 {
        app.article(
            &format!("Entry {i} about ferries"),
            "Boats and harbours.",
            i % 3 != 0,
        )
        .await;
    }
    app.search_settled().await;
    let (_, before) = app.search(&[("q", "ferries"), ("limit", "50")]).await;
    assert_eq!(before["meta"]["total"], 20);

    let (status, body) = app
        .admin_json(
            Method::POST,
            "/search/reindex",
            json!({ "types": ["article"] }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["queued"], json!(["article"]));
    // While it runs the old index answers.
    let (status, _) = app.search(&[("q", "ferries")]).await;
    assert_eq!(status, StatusCode::OK);
    app.search_settled().await;
    let (_, after) = app.search(&[("q", "ferries"), ("limit", "50")]).await;
    assert_eq!(after["data"], before["data"]);

    let (status, body) = app
        .admin_json(Method::POST, "/search/reindex", json!({ "types": ["tag"] }))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "type_not_searchable",
    );
}

/// A `folio serve` process on a random port, for what only a real process shows (`kill -9`).
struct Server {
    child: std::process::Child,
    base: String,
}

fn folio(data_dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
    c.env("FOLIO_DATA_DIR", data_dir)
        .env("FOLIO_CONTENT_TYPES", example_types())
        .env("FOLIO_LOG__LEVEL", "info")
        .current_dir(data_dir);
    c
}

impl Server {
    fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let mut child = folio(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("folio serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Keeps reading after the address, so the server never blocks on a full pipe.
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the server reports its address");
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// `kill -9`.
    fn kill(self) {
        drop(self);
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        for _ in 0..3000 {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the server did not become ready");
    }
}

/// A failing test does not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answers to a fixed set of searches, as comparable values.
async fn answers(client: &reqwest::Client, base: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for q in [
        "harbour",
        "ferry",
        "ferri",
        "lighthouse -storm",
        "\"night ferry\"",
    ] {
        let public: Value = client
            .get(format!("{base}/api/v1/search"))
            .query(&[("q", q), ("limit", "50")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let admin: Value = client
            .get(format!("{base}/admin/api/v1/search"))
            .query(&[("q", q), ("limit", "50")])
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.push(json!({ "q": q, "public": public, "admin": admin }));
    }
    out
}

#[tokio::test]
async fn after_kill_9_mid_indexing_a_restart_gives_what_a_fresh_reindex_gives() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // An administrator to sign in with.
    let mut create = folio(data.path())
        .args([
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "admin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = create.stdin.take().unwrap();
        writeln!(stdin, "{}", crate::harness::ADMIN_PASSWORD).unwrap();
    }
    assert!(create.wait().unwrap().success());

    // The indexer gathers changes for 30 s before committing: the kill lands before that.
    let server = Server::start(
        data.path(),
        &[("FOLIO_SEARCH__COMMIT_INTERVAL_MS", "30000")],
    );
    server.wait_ready(&client).await;
    let token = crate::process::bearer_token(
        &client,
        &server.base,
        "ops@example.com",
        crate::harness::ADMIN_PASSWORD,
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..24 {
        let title = match i % 4 {
            0 => format!("Night ferry {i} to the harbour"),
            1 => format!("Lighthouse {i} in a storm"),
            2 => format!("Lighthouse {i} on a calm day"),
            _ => format!("Harbour walk {i}"),
        };
        let r: Value = client
            .post(format!("{}/admin/api/v1/content/article", server.base))
            .bearer_auth(&token)
            .json(&json!({ "fields": { "title": { "en": title }, "body": { "en": "Ferries, harbours and the sea." } }, "publish": i % 5 != 0 }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(r["data"]["id"].as_str().unwrap().to_owned());
    }
    let deleted = client
        .delete(format!(
            "{}/admin/api/v1/content/article/{}",
            server.base, ids[3]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let status: Value = client
        .get(format!("{}/admin/api/v1/search/status", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        status["data"]["pending"].as_u64().unwrap() > 0,
        "the changes are recorded, not yet indexed: {status}"
    );
    server.kill();

    // The restart applies what was recorded.
    let server = Server::start(data.path(), &[]);
    server.wait_ready(&client).await;
    let recovered = answers(&client, &server.base, &token).await;
    assert_eq!(
        recovered[0]["public"]["meta"]["total"], 18,
        "{}",
        recovered[0]
    );
    server.kill();

    // A fresh rebuild from the database, by the command line, answers the same.
    let out = folio(data.path()).arg("reindex").output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("search index rebuilt"));
    let server = Server::start(data.path(), &[]);
    server.wait_ready(&client).await;
    assert_eq!(answers(&client, &server.base, &token).await, recovered);

    // With the server running, the command asks it to rebuild.
    let out = folio(data.path())
        .args(["reindex", "--type", "article", "--server", &server.base])
        .env("FOLIO_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(answers(&client, &server.base, &token).await, recovered);
    server.kill();
}

#[tokio::test]
async fn changing_what_a_type_indexes_rebuilds_its_index_at_start_up() {
    let types = tempfile::tempdir().unwrap();
    copy_dir(&example_types(), types.path());
    let app = TestApp::builder()
        .types(types.path())
        .persistent()
        .start()
        .await
        .unwrap();
    app.create(
        "article",
        json!({
            "title": { "en": "Field notes" },
            "excerpt": { "en": "A zebra crossing." },
            "seo": { "meta_title": "Okapi sightings" },
        }),
        true,
    )
    .await;
    app.search_settled().await;
    let (_, body) = app.search(&[("q", "zebra")]).await;
    assert_eq!(body["meta"]["total"], 1);
    let (_, body) = app.search(&[("q", "okapi")]).await;
    assert_eq!(
        body["meta"]["total"], 0,
        "the SEO title is not searchable yet"
    );
    let dir = app.stop().await;

    // The excerpt stops being searchable; the SEO title (inside a group) starts.
    let file = types.path().join("article.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text
        .replace("max_length = 1000\nsearch = true", "max_length = 1000")
        .replace("max_length = 70", "max_length = 70\n  search = true");
    std::fs::write(&file, text).unwrap();
    let app = TestApp::builder()
        .types(types.path())
        .data_dir(dir)
        .persistent()
        .start()
        .await
        .unwrap();
    app.search_settled().await;
    let (_, body) = app.search(&[("q", "zebra")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (_, body) = app.search(&[("q", "okapi")]).await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    assert_eq!(
        body["data"][0]["highlights"]["seo.meta_title"],
        "<mark>Okapi</mark> sightings"
    );
}

#[tokio::test]
async fn exact_counts_match_the_generated_data_set() {
    use crate::import::{generate, import_generated};
    let input = tempfile::tempdir().unwrap();
    let expected = generate(10_000, input.path());
    let data = tempfile::tempdir().unwrap();
    import_generated(data.path(), input.path());
    // The first start builds the index from the database.
    let app = TestApp::builder()
        .data_dir(data)
        .persistent()
        .start()
        .await
        .unwrap();
    app.search_settled().await;
    let words = expected["search_word_title_or_body_published"]
        .as_object()
        .unwrap();
    assert_eq!(words.len(), 6);
    for (word, count) in words {
        let (status, body) = app
            .search(&[
                ("q", word),
                ("exact", "true"),
                ("type", "article"),
                ("limit", "1"),
            ])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            &body["meta"]["total"], count,
            "published articles with the word {word}"
        );
    }
    // Facet counts agree with the generator's tag totals.
    let (_, body) = app
        .search(&[
            ("q", ""),
            ("type", "article"),
            ("facets", "tags"),
            ("limit", "1"),
        ])
        .await;
    assert_eq!(body["meta"]["total"], expected["published"]);
    let slugs: std::collections::HashMap<String, String> =
        std::fs::read_to_string(input.path().join("tags.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let t: Value = serde_json::from_str(l).unwrap();
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["slug"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    let facets = body["meta"]["facets"]["tags"].as_array().unwrap();
    assert_eq!(facets.len(), slugs.len().min(20));
    for tag in facets {
        let slug = &slugs[tag["value"].as_str().unwrap()];
        assert_eq!(tag["count"], expected["tag_published"][slug], "tag {slug}");
    }
}

#[tokio::test]
async fn renaming_a_related_entry_updates_the_facets_of_entries_using_it() {
    let app = TestApp::spawn().await;
    let (author, tag, _) = app.seed_article("Gliders", "Aviation").await;
    app.search_settled().await;
    let (_, body) = app.search(&[("q", "gliders")]).await;
    assert_eq!(body["meta"]["facets"]["tags"][0]["value"], "Aviation");
    let author_name = body["meta"]["facets"]["author"][0]["value"].clone();
    assert_eq!(author_name, "Author of Gliders");

    for (ty, entry, fields) in [
        ("tag", &tag, json!({ "name": "Flight" })),
        ("author", &author, json!({ "name": "Ada" })),
    ] {
        let (status, body) = app
            .admin_json(
                Method::PATCH,
                &format!("/content/{ty}/{}", entry["id"].as_str().unwrap()),
                json!({ "fields": fields }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.search_settled().await;
    let (_, body) = app
        .search(&[("q", "gliders"), ("filter[tags][eq]", "Flight")])
        .await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    assert_eq!(
        body["meta"]["facets"]["tags"],
        json!([{ "value": "Flight", "count": 1 }])
    );
    assert_eq!(
        body["meta"]["facets"]["author"],
        json!([{ "value": "Ada", "count": 1 }])
    );
}

#[tokio::test]
async fn each_locale_is_searched_with_its_own_language() {
    let app = TestApp::spawn().await;
    app.create(
        "article",
        json!({
            "title": { "en": "Old houses", "fr": "Les maisons anciennes" },
            "body": { "en": "Walls and roofs." },
        }),
        true,
    )
    .await;
    app.search_settled().await;
    // French stemming finds the singular; the English document does not hold the French text.
    let (_, body) = app.search(&[("q", "maison"), ("locale", "fr")]).await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    assert_eq!(body["data"][0]["entry"]["locale"], "fr");
    assert_eq!(
        body["data"][0]["entry"]["fields"]["title"],
        "Les maisons anciennes"
    );
    assert_eq!(
        body["data"][0]["highlights"]["title"],
        "Les <mark>maisons</mark> anciennes"
    );
    let (_, body) = app.search(&[("q", "maison")]).await;
    assert_eq!(body["meta"]["total"], 0, "{body}");
    let (_, body) = app.search(&[("q", "house")]).await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    // The French document falls back to the English body, as delivery does.
    let (_, body) = app.search(&[("q", "roofs"), ("locale", "fr")]).await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
}

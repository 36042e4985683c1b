//! Attacks on the server as a whole: bodies that never end or are sent before credentials,
//! multipart framing that makes a parser buffer, slow and idle connections, requests that
//! fan out into huge responses, filters and sorts used as oracles for what a caller may not
//! read, cross-site sign-in, and ids that tell of drafts. Each answers with a clear error
//! (or a closed connection) and the server keeps serving.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestApp, assert_error, send};
use crate::raw_http::{self, read_head, status_of};

/// Most bytes a test sends as an endless body: far past every limit, so a server that read it
/// all before answering is caught by not answering while it is sent.
const ENDLESS: u64 = 256 << 20;

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// [`endless`] to the test server: the answer must come while the body is still being sent,
/// since a server that waits for its end never answers.
async fn endless(app: &TestApp, head: &str, prefix: &[u8], fill: &'static [u8]) -> (u16, u64) {
    let (status, sent) = raw_http::endless(
        app.base.trim_start_matches("http://"),
        head,
        prefix,
        fill,
        ENDLESS,
        Duration::from_secs(60),
    )
    .await;
    (
        status.expect("an answer while the body is still coming"),
        sent,
    )
}

async fn endless_body(app: &TestApp, head: &str, fill: &'static [u8]) -> (u16, u64) {
    endless(app, head, b"", fill).await
}

#[tokio::test]
async fn bodies_are_refused_before_credentials_and_stopped_at_their_limit() {
    let app = TestApp::spawn().await;
    let host = app.base.trim_start_matches("http://").to_owned();
    // Anonymous: every admin route but signing in answers 401 before reading a byte.
    for (method, path) in [
        ("POST", "/admin/api/v1/markdown/preview"),
        ("POST", "/admin/api/v1/content/article"),
        ("PUT", "/admin/api/v1/roles/anything"),
        ("POST", "/admin/api/v1/users"),
        ("POST", "/admin/api/v1/media"),
        ("POST", "/admin/api/v1/search/reindex"),
    ] {
        let head =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json");
        let (status, sent) = endless_body(&app, &head, b"[").await;
        assert_eq!(status, 401, "{method} {path}");
        assert!(sent < ENDLESS, "{method} {path}: {sent}");
    }
    // Signing in takes a small body from anyone, and no more.
    let head = format!(
        "POST /admin/api/v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
    );
    let (status, _) = endless_body(&app, &head, b" ").await;
    assert_eq!(status, 413);
    // Signed in: the limit (2 MiB by default) holds for bodies without a length too.
    let token = app.token.clone();
    for path in [
        "/admin/api/v1/markdown/preview",
        "/admin/api/v1/content/article",
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json"
        );
        let (status, sent) = endless_body(&app, &head, b" ").await;
        assert_eq!(status, 413, "{path}");
        assert!(sent < ENDLESS, "{path}: {sent}");
    }
    // A declared length over the limit is refused from the head alone.
    let reply = send(
        app.admin(Method::POST, "/markdown/preview")
            .header("content-type", "application/json")
            .body(vec![b' '; 3 << 20]),
    )
    .await;
    assert_error(
        reply.status,
        &reply.json(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // The server is still fine.
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn json_endpoints_take_only_json_without_duplicate_keys() {
    let app = TestApp::spawn().await;
    // Another site's form can send text/plain or a urlencoded body, never application/json.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let reply = send(
            app.client
                .post(app.url("/admin/api/v1/auth/login"))
                .header("content-type", content_type)
                .body(r#"{"email": "admin@example.com", "password": "a long test password"}"#),
        )
        .await;
        assert_error(
            reply.status,
            &reply.json(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
        let reply = send(
            app.admin(Method::POST, "/content/tag")
                .header("content-type", content_type)
                .body(r#"{"fields": {"name": "Form"}}"#),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    // A key given twice would mean one thing to a proxy that reads the first and another to
    // the server, which kept the last.
    for body in [
        r#"{"fields": {"name": "One", "name": "Two"}}"#,
        r#"{"fields": {"name": "One"}, "fields": {"name": "Two"}}"#,
    ] {
        let reply = send(
            app.admin(Method::POST, "/content/tag")
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_error(
            reply.status,
            &reply.json(),
            StatusCode::BAD_REQUEST,
            "duplicate_key",
        );
    }
    let reply = send(
        app.admin(Method::POST, "/markdown/preview")
            .header("content-type", "application/json")
            .body(r#"{"markdown": "a", "markdown": "b"}"#),
    )
    .await;
    assert_error(
        reply.status,
        &reply.json(),
        StatusCode::BAD_REQUEST,
        "duplicate_key",
    );
    let (_, tags) = app.admin_call(Method::GET, "/content/tag").await;
    assert_eq!(tags["meta"]["total"], 0, "nothing was created");
}

#[tokio::test]
async fn signing_in_from_another_sites_page_is_refused() {
    let app = TestApp::builder()
        .cors_origin("https://site.example")
        .start()
        .await
        .unwrap();
    let login =
        json!({ "email": crate::harness::ADMIN_EMAIL, "password": crate::harness::ADMIN_PASSWORD });
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let reply = send(
            app.client
                .post(app.url("/admin/api/v1/auth/login"))
                .header(header, value)
                .json(&login),
        )
        .await;
        assert_error(
            reply.status,
            &reply.json(),
            StatusCode::FORBIDDEN,
            "cross_site_request",
        );
        assert!(reply.header("set-cookie").is_none());
    }
    // This server's own pages, a configured origin, and clients that are not browsers.
    let own = app.base.clone();
    for origin in [Some(own.as_str()), Some("https://site.example"), None] {
        let mut req = app
            .client
            .post(app.url("/admin/api/v1/auth/login"))
            .header("sec-fetch-site", "same-origin")
            .json(&login);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        let reply = send(req).await;
        assert_eq!(reply.status, StatusCode::OK, "{origin:?}: {}", reply.text);
    }
}

/// A multipart body (authenticated) whose framing never lets multer find what it looks for.
async fn endless_form(app: &TestApp, prefix: &str, fill: &'static [u8]) -> (u16, u64) {
    let head = format!(
        "POST /admin/api/v1/media HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ",
        app.base.trim_start_matches("http://"),
        app.token
    );
    endless(app, &head, prefix.as_bytes(), fill).await
}

#[tokio::test]
async fn multipart_framing_cannot_make_the_server_buffer() {
    let app = TestApp::spawn().await;
    for (what, prefix, fill, expected) in [
        (
            "bytes before the first boundary",
            "",
            &b"preamble "[..],
            400,
        ),
        (
            "a part's header block that never ends",
            "--XyZ\r\nContent-Disposition: form-data; name=\"alt\"\r\nX-Pad: ",
            b"h",
            400,
        ),
        (
            "a text part that never ends (stopped at 8 KiB, not read whole)",
            "--XyZ\r\nContent-Disposition: form-data; name=\"alt\"\r\n\r\n",
            b"alt text ",
            400,
        ),
        (
            "a file part beyond the request limit (200 MiB)",
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n",
            b"0123456789abcdef",
            413,
        ),
    ] {
        let (status, sent) = endless_form(&app, prefix, fill).await;
        assert_eq!(status, expected, "{what}");
        assert!(sent < ENDLESS, "{what}: {sent}");
    }
    let (_, list) = app.admin_call(Method::GET, "/media").await;
    assert_eq!(list["meta"]["total"], 0, "nothing was stored");
}

/// A server with short timeouts, for the slow-client tests.
async fn impatient(max_connections: usize, header_secs: u64) -> TestApp {
    TestApp::builder()
        .configure(move |c| {
            c.limits.max_connections = max_connections;
            c.limits.header_timeout_seconds = header_secs;
            c.limits.keep_alive_seconds = 2;
            c.limits.body_timeout_seconds = 1;
            c.limits.idle_timeout_seconds = 3;
        })
        .start()
        .await
        .unwrap()
}

/// Whether the server closes `stream` within `within` (reading anything, or nothing, then
/// the end).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn slow_and_idle_connections_are_dropped_and_healthz_keeps_answering() {
    let app = impatient(10_000, 1).await;
    let host = app.base.trim_start_matches("http://").to_owned();
    // Many clients trickling a request head, a byte at a time.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = connect(&app).await;
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").as_bytes())
            .await
            .expect("partial head");
        slow.push(s);
    }
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK, "health answers beside them");
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(10)).await,
            "a head that never ends is dropped"
        );
    }
    // A connection that says nothing at all, and one kept alive after its request.
    let mut silent = connect(&app).await;
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await);
    let mut kept = connect(&app).await;
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut kept).await.expect("an answer");
    assert_eq!(status_of(&head), 200);
    assert!(closed_within(&mut kept, Duration::from_secs(10)).await);
    // A body that stops coming: 408 once the pause passes the body timeout.
    let mut stalled = connect(&app).await;
    stalled
        .write_all(
            format!(
                "POST /admin/api/v1/content/tag HTTP/1.1\r\nHost: {host}\r\nAuthorization: \
                 Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n\
                 {{\"fields\"",
                app.token
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stalled))
        .await
        .expect("an answer")
        .expect("a head");
    assert_eq!(status_of(&head), 408, "{head}");
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let app = impatient(20, 30).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(connect(&app).await);
    }
    // The 21st is taken and closed: it neither waits in the queue nor crowds the others.
    let mut extra = connect(&app).await;
    assert!(closed_within(&mut extra, Duration::from_secs(5)).await);
    drop(held);
    // Their slots come back once the server notices they are gone.
    let mut answered = false;
    for _ in 0..100 {
        if let Ok(r) = app.client.get(app.url("/healthz")).send().await
            && r.status() == StatusCode::OK
        {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the server serves again below the cap");
}

#[tokio::test]
async fn populate_has_a_budget_per_response() {
    let app = TestApp::builder()
        .configure(|c| {
            c.limits.max_populate_entries = 8;
            c.limits.max_populate_bytes = 16 * 1024;
        })
        .start()
        .await
        .unwrap();
    let mut tags = Vec::new();
    for i in 0..10 {
        let tag = app
            .create("tag", json!({ "name": format!("Tag {i}") }), false)
            .await;
        tags.push(tag["id"].clone());
    }
    let article = app
        .create(
            "article",
            json!({ "title": { "en": "Many tags" }, "tags": tags }),
            true,
        )
        .await;
    let id = article["id"].as_str().unwrap();
    // 10 related entries in one response: over the budget of 8.
    let (status, body) = app
        .get(&format!("/api/v1/content/article/{id}?populate=tags"))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "populate_too_large");
    let (status, body) = app
        .get("/api/v1/content/article?populate=tags&limit=100")
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "populate_too_large");
    // Within it, populate works as before.
    let few = app
        .create(
            "article",
            json!({ "title": { "en": "Few tags" }, "tags": tags[..5] }),
            true,
        )
        .await;
    let (status, body) = app
        .get(&format!(
            "/api/v1/content/article/{}?populate=tags",
            few["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["tags"].as_array().unwrap().len(), 5);
    // The byte budget: a few large related entries.
    let author = app
        .create(
            "author",
            json!({ "name": "Verbose", "email": "v@example.com", "bio": "x".repeat(20_000) }),
            false,
        )
        .await;
    let long = app
        .create(
            "article",
            json!({ "title": { "en": "Long author" }, "author": author["id"] }),
            true,
        )
        .await;
    let (status, body) = app
        .get(&format!(
            "/api/v1/content/article/{}?populate=author",
            long["id"].as_str().unwrap()
        ))
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "populate_too_large");
}

#[tokio::test]
async fn hidden_fields_and_unreadable_types_are_no_oracle() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .admin_json(
            Method::PUT,
            "/roles/screener",
            json!({
                "permissions": { "author": ["read"], "article": ["read"] },
                "hidden_fields": { "author": ["email"], "article": ["editor_notes"] }
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .admin_json(
            Method::PUT,
            "/roles/tagger",
            json!({ "permissions": { "article": ["read"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (author, _, _) = app.seed_article("Oracle", "secrets").await;
    assert!(author["fields"]["email"].is_string());
    let (_, screener) = app.user_with_role("screener").await;
    let (_, tagger) = app.user_with_role("tagger").await;

    // A hidden field cannot be filtered or sorted on, directly or through a relation.
    for path in [
        "/content/author?filter[email][starts_with]=a",
        "/content/author?filter[email][exists]=true",
        "/content/author?sort=email",
        "/content/article?filter[author.email][starts_with]=a",
        "/content/article?filter[editor_notes][contains]=a",
    ] {
        let (status, body) = app.call_as(&screener, Method::GET, path, None).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
    }
    // What the role sees still works.
    let (status, body) = app
        .call_as(
            &screener,
            Method::GET,
            "/content/article?filter[author.name][starts_with]=Author",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["total"], 1);
    // A role that may not read authors cannot filter articles by them.
    for path in [
        "/content/article?filter[author.name][eq]=x",
        "/content/article?filter[tags.slug][eq]=secrets",
    ] {
        let (status, body) = app.call_as(&tagger, Method::GET, path, None).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
    }
    // Admin search: no sorting, filtering or faceting on what the role may not see.
    app.search_settled().await;
    for query in [
        "q=&type=article&filter[tags][eq]=secrets",
        "q=&type=article&facets=tags",
    ] {
        let (status, body) = app
            .call_as(&tagger, Method::GET, &format!("/search?{query}"), None)
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
    }
    let (status, body) = app
        .call_as(&tagger, Method::GET, "/search?q=Oracle&type=article", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["meta"]["facets"].get("tags").is_none(), "{body}");
}

#[tokio::test]
async fn an_author_filters_only_by_entries_it_may_read() {
    let app = TestApp::spawn().await;
    // A tag the admin made, which the author role (its own entries only) may not read.
    let tag = app
        .create("tag", json!({ "name": "Internal codename" }), false)
        .await;
    let (_, author) = app.user_with_role("author").await;
    let (status, created) = app
        .call_as(
            &author,
            Method::POST,
            "/content/article",
            Some(json!({ "fields": { "title": { "en": "My draft" }, "tags": [tag["id"]] } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Its own article carries the tag's id; filtering by the tag's fields would read them.
    for value in ["internal-codename", "internal"] {
        let (status, body) = app
            .call_as(
                &author,
                Method::GET,
                &format!("/content/article?filter[tags.slug][starts_with]={value}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["meta"]["total"], 0, "{body}");
    }
    // The admin, who reads the tag, finds the article by it.
    let (_, body) = app
        .admin_call(
            Method::GET,
            "/content/article?filter[tags.slug][eq]=internal-codename",
        )
        .await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
}

/// Types for the draft-id test: posts (with drafts) that relate to posts and to a type the
/// public may not read.
fn related_types() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("post.toml"),
        r#"id = "post"
drafts = true
[access]
read = ["public"]
[[fields]]
name = "title"
type = "text"
[[fields]]
name = "related"
type = "relation"
target = "post"
many = true
[[fields]]
name = "lead"
type = "relation"
target = "post"
[[fields]]
name = "note"
type = "relation"
target = "memo"
[[fields]]
name = "extra"
type = "group"
[[fields.fields]]
name = "see_also"
type = "relation"
target = "post"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("memo.toml"),
        "id = \"memo\"\n[[fields]]\nname = \"text\"\ntype = \"text\"\n",
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn delivered_relations_name_only_what_the_caller_may_fetch() {
    let types = related_types();
    let app = TestApp::builder()
        .types(types.path())
        .start()
        .await
        .unwrap();
    let draft = app.create("post", json!({ "title": "Draft" }), false).await;
    let public = app
        .create(
            "post",
            json!({ "title": "Public", "lead": draft["id"] }),
            true,
        )
        .await;
    let memo = app
        .create("memo", json!({ "text": "internal" }), false)
        .await;
    let post = app
        .create(
            "post",
            json!({
                "title": "Main",
                "related": [draft["id"], public["id"]],
                "lead": draft["id"],
                "note": memo["id"],
                "extra": { "see_also": draft["id"] },
            }),
            true,
        )
        .await;
    let id = post["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/content/post/{id}"),
        "/api/v1/content/post?filter[title][eq]=Main".to_owned(),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let entry = if body["data"].is_array() {
            body["data"][0].clone()
        } else {
            body["data"].clone()
        };
        let fields = &entry["fields"];
        assert_eq!(fields["related"], json!([public["id"]]), "{path}: {body}");
        assert_eq!(fields["lead"], Value::Null, "{path}: {body}");
        assert_eq!(fields["note"], Value::Null, "{path}: {body}");
        assert_eq!(fields["extra"]["see_also"], Value::Null, "{path}: {body}");
        assert!(!body.to_string().contains(draft["id"].as_str().unwrap()));
    }
    // Populated entries' own relations are held to the same rule.
    let (status, body) = app
        .get(&format!("/api/v1/content/post/{id}?populate=related"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let related = body["data"]["fields"]["related"].as_array().unwrap();
    assert_eq!(related.len(), 1, "{body}");
    assert_eq!(related[0]["id"], public["id"]);
    assert_eq!(related[0]["fields"]["lead"], Value::Null, "{body}");
    // The admin API shows the working copy as stored.
    let (_, admin) = app
        .admin_call(Method::GET, &format!("/content/post/{id}"))
        .await;
    assert_eq!(admin["data"]["fields"]["lead"], draft["id"]);
    // Once published, the draft's id appears.
    app.admin_call(
        Method::POST,
        &format!("/content/post/{}/publish", draft["id"].as_str().unwrap()),
    )
    .await;
    let (_, body) = app.get(&format!("/api/v1/content/post/{id}")).await;
    assert_eq!(body["data"]["fields"]["lead"], draft["id"], "{body}");
}

#[tokio::test]
async fn repeated_query_parameters_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let (_, _, article) = app.seed_article("Repeated", "params").await;
    let id = article["id"].as_str().unwrap();
    let repeated = |name: &str| {
        std::iter::repeat_n(format!("{name}=title"), 3)
            .collect::<Vec<_>>()
            .join("&")
    };
    for path in [
        format!("/api/v1/content/article?{}", repeated("fields")),
        format!("/api/v1/content/article/{id}?{}", repeated("fields")),
        format!("/api/v1/content/article/{id}?populate=tags&populate=tags&populate=author"),
        format!("/api/v1/search?q=x&{}", repeated("fields")),
    ] {
        let (status, body) = app.get(&path).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "duplicate_parameter",
        );
    }
    for path in [
        "/media?page=1&page=2".to_owned(),
        "/audit?limit=1&limit=2".to_owned(),
        "/users?role=admin&role=editor".to_owned(),
    ] {
        let (status, body) = app.admin_call(Method::GET, &path).await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "duplicate_parameter",
        );
    }
}

#[tokio::test]
async fn search_facets_do_not_name_unpublished_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("post.toml"),
        r#"id = "post"
drafts = true
search = true
[admin]
title_field = "title"
[access]
read = ["public"]
[[fields]]
name = "title"
type = "text"
search = true
[[fields]]
name = "lead"
type = "relation"
target = "post"
"#,
    )
    .unwrap();
    let app = TestApp::builder().types(dir.path()).start().await.unwrap();
    let draft = app
        .create("post", json!({ "title": "Unannounced" }), false)
        .await;
    let public = app
        .create("post", json!({ "title": "Announced" }), true)
        .await;
    app.create(
        "post",
        json!({ "title": "Leads", "lead": draft["id"] }),
        true,
    )
    .await;
    app.create(
        "post",
        json!({ "title": "Follows", "lead": public["id"] }),
        true,
    )
    .await;
    app.search_settled().await;
    let (status, body) = app
        .search(&[("q", ""), ("type", "post"), ("facets", "lead")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let values: Vec<&str> = body["meta"]["facets"]["lead"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["value"].as_str())
        .collect();
    assert_eq!(values, ["Announced"], "{body}");
    assert!(!body.to_string().contains(draft["id"].as_str().unwrap()));
}

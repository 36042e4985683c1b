//! The change-event log: every change to an entry, whatever the path, logs exactly one event
//! in the change's own transaction, read back from the data directory after the server
//! stopped.

use reqwest::Method;
use serde_json::json;

use crate::harness::{TestApp, example_types};

/// Every event in the log of the data directory `dir`, in key order.
async fn logged(dir: &std::path::Path) -> Vec<folio::storage::events::Event> {
    let config = folio::Config {
        data_dir: dir.to_path_buf(),
        content_types: example_types(),
        ..folio::Config::default()
    };
    let store = folio::storage::Store::connect(&config)
        .await
        .expect("open the data directory");
    let mut reader = store.event_reader("test").await.expect("reader");
    let mut all = Vec::new();
    loop {
        let batch = reader.next(&store, 1000).await.expect("events");
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    store.close().await;
    all
}

#[tokio::test]
async fn every_write_to_an_entry_logs_one_event() {
    let app = TestApp::builder()
        .persistent()
        .start()
        .await
        .expect("start");
    let article = app
        .create(
            "article",
            json!({ "title": { "en": "First" }, "body": { "en": "Text" } }),
            false,
        )
        .await;
    let id = article["id"].as_str().unwrap().to_owned();
    let path = format!("/content/article/{id}");
    let publish = format!("{path}/publish");
    let unpublish = format!("{path}/unpublish");
    for (method, at, body) in [
        (
            Method::PATCH,
            &path,
            json!({ "fields": { "title": { "en": "Second" } }, "version": 1 }),
        ),
        (Method::POST, &publish, json!({ "version": 2 })),
        (
            Method::PATCH,
            &path,
            json!({ "fields": { "body": { "en": "More" } }, "version": 3, "publish": true }),
        ),
        (Method::POST, &unpublish, json!({ "version": 4 })),
        (Method::DELETE, &path, json!({ "version": 5 })),
    ] {
        let (status, reply) = app.admin_json(method, at, body).await;
        assert!(status.is_success(), "{at}: {status} {reply}");
    }
    // A refused write logs nothing.
    let (status, _) = app
        .admin_json(Method::PATCH, &path, json!({ "fields": {}, "version": 1 }))
        .await;
    assert!(status.is_client_error());
    let dir = app.stop().await;

    let events: Vec<_> = logged(dir.path())
        .await
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some(id.as_str()))
        .collect();
    let seen: Vec<(&str, Option<u64>, Vec<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.version,
                e.changed.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    // A create names every field given a value (defaults and derived ones included), a
    // delete every field that had one.
    let all = vec!["title", "slug", "body", "reading_time", "featured"];
    assert_eq!(
        seen,
        [
            ("entry.created", Some(1), all.clone()),
            ("entry.updated", Some(2), vec!["title"]),
            ("entry.published", Some(3), vec![]),
            ("entry.published", Some(4), vec!["body"]),
            ("entry.unpublished", Some(5), vec![]),
            ("entry.deleted", None, all),
        ]
    );
    for e in &events {
        assert_eq!(e.type_id.as_deref(), Some("article"));
        assert!(
            e.actor.as_deref().is_some_and(|a| a.starts_with("user:")),
            "{e:?}"
        );
        assert_eq!(e.at.len(), 24, "stored time format: {}", e.at);
    }
    let keys: Vec<&String> = events.iter().map(|e| &e.key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "one key each, in the order of the changes");
}

#[tokio::test]
async fn an_edit_of_a_type_without_drafts_is_an_update() {
    let app = TestApp::builder()
        .persistent()
        .start()
        .await
        .expect("start");
    let author = app
        .create(
            "author",
            json!({ "name": "Ada", "email": "ada@example.com" }),
            false,
        )
        .await;
    let id = author["id"].as_str().unwrap().to_owned();
    let (status, reply) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/author/{id}"),
            json!({ "fields": { "name": "Ada L." }, "version": 1 }),
        )
        .await;
    assert!(status.is_success(), "{status} {reply}");
    let dir = app.stop().await;
    let kinds: Vec<String> = logged(dir.path())
        .await
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some(id.as_str()))
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["entry.created", "entry.updated"]);
}

#[tokio::test]
async fn an_import_logs_one_event_per_entry() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    crate::import::generate(120, input.path());
    crate::import::import_generated(data.path(), input.path());
    let events = logged(data.path()).await;
    let articles: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e.type_id.as_deref() == Some("article"))
        .inspect(|e| assert_eq!(e.kind, "entry.created", "{e:?}"))
        .filter_map(|e| e.subject.as_deref())
        .collect();
    let logged_articles = events
        .iter()
        .filter(|e| e.type_id.as_deref() == Some("article"))
        .count();
    assert_eq!(logged_articles, 120, "one event per article");
    assert_eq!(articles.len(), 120, "each article once");
}

#[tokio::test]
async fn administrators_follow_the_log_page_by_page_and_others_may_not() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let a = app
            .create(
                "article",
                json!({ "title": { "en": format!("Log {n}") } }),
                n % 2 == 0,
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    app.create("tag", json!({ "name": "Logged" }), false).await;

    // Filtered by type and kind family, oldest first.
    let (status, page) = app
        .admin_call(Method::GET, "/events?type=article&kind=entry")
        .await;
    assert_eq!(status, 200, "{page}");
    let subjects: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "entry.created")
    );
    let (_, tags) = app.admin_call(Method::GET, "/events?type=tag").await;
    assert_eq!(tags["data"].as_array().unwrap().len(), 1, "{tags}");
    let (_, none) = app
        .admin_call(Method::GET, "/events?kind=entry.deleted")
        .await;
    assert_eq!(none["data"], json!([]));

    // Two at a time: `meta.next` goes on where a page stopped, and after the last event the
    // next page is empty until something changes.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let path = match &after {
            Some(k) => format!("/events?type=article&limit=2&after={k}"),
            None => "/events?type=article&limit=2".to_owned(),
        };
        let (status, page) = app.admin_call(Method::GET, &path).await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        seen.extend(
            data.iter()
                .map(|e| e["subject"].as_str().unwrap().to_owned()),
        );
        after = page["meta"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ids);
    let (status, page) = app
        .admin_call(
            Method::GET,
            &format!("/events?after={}", after.as_deref().unwrap()),
        )
        .await;
    assert_eq!((status.as_u16(), page["data"].clone()), (200, json!([])));
    app.create("article", json!({ "title": { "en": "Later" } }), false)
        .await;
    let (_, page) = app
        .admin_call(
            Method::GET,
            &format!("/events?after={}", after.as_deref().unwrap()),
        )
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");

    // A moment in the future has nothing yet.
    let (_, future) = app
        .admin_call(Method::GET, "/events?since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(future["data"], json!([]));

    for (query, code) in [
        ("after=not-a-key", "invalid_parameter"),
        ("since=yesterday", "invalid_parameter"),
        ("limit=0", "invalid_parameter"),
        ("limit=1001", "invalid_parameter"),
        ("colour=red", "unknown_parameter"),
    ] {
        let (status, body) = app
            .admin_call(Method::GET, &format!("/events?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], code, "{query}: {body}");
    }

    let (_, editor) = app.user_with_role("editor").await;
    let status = app
        .client
        .get(app.url("/admin/api/v1/events"))
        .bearer_auth(&editor)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    let status = app
        .client
        .get(app.url("/admin/api/v1/events"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn users_roles_tokens_and_sessions_changes_are_events() {
    let app = TestApp::spawn().await;
    let (status, made) = app
        .admin_json(
            Method::POST,
            "/users",
            json!({ "email": "logged@example.com", "role": "author", "name": "Logged", "password": "a long enough password 42" }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let user = made["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/users/{user}"),
            json!({ "role": "editor" }),
        )
        .await;
    assert_eq!(status, 200);
    let reply = app
        .login("logged@example.com", "a long enough password 42", true)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (status, _) = app
        .admin_json(
            Method::PUT,
            "/roles/reviewer",
            json!({ "permissions": { "article": ["read"] } }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.admin_call(Method::DELETE, "/roles/reviewer").await;
    assert!(status.is_success(), "{status}");
    let (status, token) = app
        .admin_json(
            Method::POST,
            "/tokens",
            json!({ "name": "site", "scope": "delivery" }),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let token = token["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .admin_call(Method::DELETE, &format!("/tokens/{token}"))
        .await;
    assert!(status.is_success(), "{status}");

    let (_, page) = app.admin_call(Method::GET, "/events").await;
    let seen: Vec<(String, String, serde_json::Value)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["kind"].as_str().unwrap().starts_with("entry."))
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["subject"].as_str().unwrap().to_owned(),
                e["changed"].clone(),
            )
        })
        .collect();
    // The test server's own admin comes first.
    let ours: Vec<_> = seen
        .iter()
        .skip_while(|(_, s, _)| s != &user)
        .cloned()
        .collect();
    assert_eq!(
        ours,
        [
            (
                "user.created".to_owned(),
                user.clone(),
                json!(["email", "name", "role"])
            ),
            ("user.updated".to_owned(), user.clone(), json!(["role"])),
            ("session.created".to_owned(), user.clone(), json!([])),
            (
                "role.updated".to_owned(),
                "reviewer".to_owned(),
                json!(["definition"])
            ),
            ("role.deleted".to_owned(), "reviewer".to_owned(), json!([])),
            ("token.created".to_owned(), token.clone(), json!([])),
            ("token.revoked".to_owned(), token.clone(), json!([])),
        ],
        "{page}"
    );
}

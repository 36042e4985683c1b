//! The admin API: entries of every type through their whole life (create, read, replace,
//! patch, publish, unpublish, delete), optimistic concurrency, generated slugs, validation
//! errors, single types, plugin hooks, and who may call it at all.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_error, send};

/// `n` words of Markdown.
fn words(n: usize) -> String {
    vec!["word"; n].join(" ")
}

fn id_of(entry: &Value) -> String {
    entry["id"].as_str().expect("entry id").to_owned()
}

/// The ids of a delivery list, in order.
async fn delivered_ids(app: &TestApp, type_id: &str) -> Vec<String> {
    let (status, body) = app.get(&format!("/api/v1/content/{type_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(id_of)
        .collect()
}

/// The validation errors of a 422 body as path → code.
fn field_errors(body: &Value) -> BTreeMap<String, String> {
    body["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("a 422 names its fields: {body}"))
        .iter()
        .map(|(path, e)| (path.clone(), e["code"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn entries_are_created_read_replaced_patched_and_deleted() {
    let app = TestApp::spawn().await;
    let tag = app.create("tag", json!({ "name": "Rust" }), false).await;

    let (status, created) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": {
                "title": { "en": "First post", "fr": "Premier billet" },
                "body": { "en": "Hello *there*" },
                "tags": [tag["id"]],
                "seo": { "meta_title": "First" },
                "editor_notes": "check the intro",
            } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let entry = &created["data"];
    let id = id_of(entry);
    assert_eq!(id.len(), 26, "ids are ULIDs: {id}");
    assert_eq!(entry["type"], "article");
    assert_eq!(entry["version"], 1);
    assert_eq!(entry["status"], "draft");
    assert_eq!(entry["published_at"], Value::Null);
    let by = entry["created_by"].as_str().unwrap();
    assert!(
        by.starts_with("user:"),
        "the signed-in user is the author: {by}"
    );
    assert_eq!(entry["updated_by"], by);
    assert!(
        entry["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let fields = &entry["fields"];
    assert_eq!(
        fields["title"],
        json!({ "en": "First post", "fr": "Premier billet" })
    );
    assert_eq!(fields["slug"], "first-post");
    assert_eq!(fields["tags"], json!([tag["id"]]));
    assert_eq!(
        fields["featured"], false,
        "the default fills a missing field"
    );
    assert_eq!(fields["seo"]["meta_title"], "First");
    assert_eq!(
        fields["editor_notes"], "check the intro",
        "private fields are admin data"
    );
    assert_eq!(fields["author"], Value::Null);

    let (status, read) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(
        read["data"], created["data"],
        "a read returns what the create returned"
    );

    // The admin list includes drafts.
    let (status, list) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["meta"]["total"], 1);
    assert_eq!(list["data"][0]["id"], id.as_str());

    // PUT replaces every field: what it leaves out is gone (or back to its default).
    let (status, replaced) = app
        .admin_json(
            Method::PUT,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": { "en": "Replaced" }, "featured": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let fields = &replaced["data"]["fields"];
    assert_eq!(replaced["data"]["version"], 2);
    assert_eq!(fields["title"], json!({ "en": "Replaced" }));
    assert_eq!(fields["featured"], true);
    assert_eq!(fields["tags"], Value::Null);
    assert_eq!(fields["body"], Value::Null);
    assert_eq!(fields["seo"], Value::Null);
    assert_eq!(fields["editor_notes"], Value::Null);
    assert_eq!(
        replaced["data"]["created_at"],
        created["data"]["created_at"]
    );
    assert_eq!(
        fields["slug"], "replaced",
        "a slug left empty is generated again"
    );

    // PATCH changes only what it names.
    let (status, patched) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": { "en": "Renamed" }, "excerpt": { "en": "Short" }, "featured": false } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let fields = &patched["data"]["fields"];
    assert_eq!(patched["data"]["version"], 3);
    assert_eq!(fields["title"], json!({ "en": "Renamed" }));
    assert_eq!(fields["excerpt"], json!({ "en": "Short" }));
    assert_eq!(fields["featured"], false);
    assert_eq!(
        fields["slug"], "replaced",
        "a patch keeps the slug, so links keep working"
    );
    assert_eq!(fields["body"], Value::Null);

    let resp = send(app.admin(Method::DELETE, &format!("/content/article/{id}"))).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{}", resp.text);
    let (status, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    // Deleting an entry leaves the entries it pointed at alone.
    let (status, _) = app
        .admin_call(Method::GET, &format!("/content/tag/{}", id_of(&tag)))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_admin_api_needs_the_token() {
    let app = TestApp::spawn().await;
    let (_, _, article) = app.seed_article("Guarded", "guard").await;
    let id = id_of(&article);
    let url = |path: &str| app.url(&format!("/admin/api/v1{path}"));
    let write = json!({ "fields": { "title": { "en": "Sneaky" } } });

    let attempts = [
        ("no token", None),
        ("wrong token", Some(format!("Bearer {}x", app.token))),
        (
            "token prefix",
            Some(format!("Bearer {}", &app.token[..app.token.len() - 1])),
        ),
        ("not a bearer", Some(format!("Basic {}", app.token))),
        ("empty bearer", Some("Bearer ".to_owned())),
    ];
    for (what, auth) in attempts {
        let requests = [
            app.client.get(url("/types")),
            app.client.get(url("/types/article")),
            app.client.get(url("/content/article")),
            app.client.post(url("/content/article")).json(&write),
            app.client.get(url(&format!("/content/article/{id}"))),
            app.client
                .put(url(&format!("/content/article/{id}")))
                .json(&write),
            app.client
                .patch(url(&format!("/content/article/{id}")))
                .json(&write),
            app.client
                .post(url(&format!("/content/article/{id}/unpublish"))),
            app.client.delete(url(&format!("/content/article/{id}"))),
            // An unknown type must not be told apart from a known one before authentication.
            app.client.get(url("/content/no-such-type")),
        ];
        for req in requests {
            let req = match &auth {
                Some(value) => req.header("authorization", value),
                None => req,
            };
            let reply = send(req).await;
            assert_error(
                reply.status,
                &reply.json(),
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
            );
            assert!(!reply.text.contains("Guarded"), "{what}: {}", reply.text);
        }
    }

    // Nothing those requests tried happened.
    let (status, body) = app.get(&format!("/api/v1/content/article/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["title"], "Guarded");
    let (_, list) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(list["meta"]["total"], 1);
    assert_eq!(list["data"][0]["version"], 1);
}

#[tokio::test]
async fn drafts_stay_off_delivery_until_published_and_leave_when_unpublished() {
    let app = TestApp::spawn().await;
    let draft = app
        .create("article", json!({ "title": { "en": "Not yet" } }), false)
        .await;
    let id = id_of(&draft);
    let one = format!("/api/v1/content/article/{id}");

    let (status, body) = app.get(&one).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    let (status, body) = app.get("/api/v1/content/article/not-yet").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    assert!(delivered_ids(&app, "article").await.is_empty());

    let (status, published) = app
        .admin_call(Method::POST, &format!("/content/article/{id}/publish"))
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["data"]["status"], "published");
    assert_eq!(published["data"]["version"], 2);
    let published_at = published["data"]["published_at"].clone();
    assert!(published_at.is_string(), "{published}");

    let (status, body) = app.get(&one).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], id.as_str());
    assert_eq!(body["data"]["fields"]["title"], "Not yet");
    assert_eq!(body["data"]["published_at"], published_at);
    assert_eq!(delivered_ids(&app, "article").await, vec![id.clone()]);

    let (status, unpublished) = app
        .admin_json(
            Method::POST,
            &format!("/content/article/{id}/unpublish"),
            json!({ "version": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{unpublished}");
    assert_eq!(unpublished["data"]["status"], "draft");
    assert_eq!(unpublished["data"]["published_at"], Value::Null);
    assert_eq!(
        unpublished["data"]["fields"]["title"],
        json!({ "en": "Not yet" })
    );

    let (status, body) = app.get(&one).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    let (status, body) = app.get("/api/v1/content/article/not-yet").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    assert!(delivered_ids(&app, "article").await.is_empty());
    // The working copy is still there for the editor.
    let (status, _) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn edits_after_publishing_wait_for_the_next_publish() {
    let app = TestApp::spawn().await;
    let entry = app
        .create(
            "article",
            json!({ "title": { "en": "Old title" }, "body": { "en": "Old body" } }),
            true,
        )
        .await;
    let id = id_of(&entry);
    assert_eq!(entry["status"], "published");
    let first_published_at = entry["published_at"].clone();
    let one = format!("/api/v1/content/article/{id}");

    let (status, edited) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": { "en": "New title" }, "body": { "en": "New body" } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["data"]["status"], "changed");

    // Delivery still serves the published snapshot, by id, by slug and in lists.
    let (status, body) = app.get(&one).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["title"], "Old title");
    assert_eq!(body["data"]["fields"]["body"], "Old body");
    let (_, by_slug) = app.get("/api/v1/content/article/old-title").await;
    assert_eq!(by_slug["data"]["id"], id.as_str());
    let (_, list) = app.get("/api/v1/content/article").await;
    assert_eq!(list["data"][0]["fields"]["title"], "Old title");

    // A second edit keeps it `changed`.
    let (_, edited) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": true } }),
        )
        .await;
    assert_eq!(edited["data"]["status"], "changed");

    let (status, republished) = app
        .admin_call(Method::POST, &format!("/content/article/{id}/publish"))
        .await;
    assert_eq!(status, StatusCode::OK, "{republished}");
    assert_eq!(republished["data"]["status"], "published");
    assert_eq!(
        republished["data"]["published_at"], first_published_at,
        "republishing keeps the first publication date"
    );
    let (_, body) = app.get(&one).await;
    assert_eq!(body["data"]["fields"]["title"], "New title");
    assert_eq!(body["data"]["fields"]["body"], "New body");
    assert_eq!(body["data"]["fields"]["featured"], true);
}

#[tokio::test]
async fn stale_versions_are_refused_with_the_current_one() {
    let app = TestApp::spawn().await;
    let entry = app
        .create("article", json!({ "title": { "en": "Contended" } }), false)
        .await;
    let id = id_of(&entry);
    let path = format!("/content/article/{id}");

    let reply = send(
        app.admin(Method::PATCH, &path)
            .header("if-match", "\"1\"")
            .json(&json!({ "fields": { "excerpt": { "en": "mine" } } })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["data"]["version"], 2);
    assert_eq!(
        reply.header("etag"),
        Some("\"2\""),
        "the admin ETag is the version"
    );

    // Someone who read version 1 now writes: every kind of write is refused.
    let stale_writes = [
        app.admin(Method::PATCH, &path)
            .header("if-match", "\"1\"")
            .json(&json!({ "fields": { "excerpt": { "en": "theirs" } } })),
        app.admin(Method::PUT, &path)
            .json(&json!({ "fields": { "title": { "en": "Theirs" } }, "version": 1 })),
        app.admin(Method::PATCH, &path)
            .json(&json!({ "fields": { "featured": true }, "version": 1 })),
        app.admin(Method::POST, &format!("{path}/publish"))
            .json(&json!({ "version": 1 })),
        app.admin(Method::POST, &format!("{path}/publish"))
            .header("if-match", "1"),
        app.admin(Method::POST, &format!("{path}/unpublish"))
            .header("if-match", "\"1\""),
        app.admin(Method::DELETE, &path).header("if-match", "\"1\""),
    ];
    for req in stale_writes {
        let reply = send(req).await;
        let body = reply.json();
        assert_error(
            reply.status,
            &body,
            StatusCode::CONFLICT,
            "version_conflict",
        );
        assert_eq!(body["current_version"], 2, "{body}");
    }

    // If-Match and the body must agree.
    let reply = send(
        app.admin(Method::PATCH, &path)
            .header("if-match", "\"2\"")
            .json(&json!({ "fields": { "featured": true }, "version": 1 })),
    )
    .await;
    assert_error(
        reply.status,
        &reply.json(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "version_mismatch",
    );
    let reply = send(
        app.admin(Method::PATCH, &path)
            .header("if-match", "yesterday")
            .json(&json!({ "fields": { "featured": true } })),
    )
    .await;
    assert_error(
        reply.status,
        &reply.json(),
        StatusCode::BAD_REQUEST,
        "invalid_if_match",
    );

    // None of the refused writes changed anything.
    let (_, now) = app.admin_call(Method::GET, &path).await;
    assert_eq!(now["data"]["version"], 2);
    assert_eq!(now["data"]["status"], "draft");
    assert_eq!(now["data"]["fields"]["title"], json!({ "en": "Contended" }));
    assert_eq!(now["data"]["fields"]["excerpt"], json!({ "en": "mine" }));
    assert_eq!(now["data"]["fields"]["featured"], false);

    // The current version goes through.
    let reply = send(
        app.admin(Method::PUT, &path)
            .header("if-match", "\"2\"")
            .json(&json!({ "fields": { "title": { "en": "Merged" } }, "version": 2, "publish": true })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["data"]["status"], "published");
    // Saved and published in one write: one version.
    assert_eq!(reply.json()["data"]["version"], 3);
    let reply = send(app.admin(Method::DELETE, &path).header("if-match", "\"3\"")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
}

#[tokio::test]
async fn slugs_are_generated_from_the_title_and_kept_unique() {
    let app = TestApp::spawn().await;
    let first = app
        .create(
            "article",
            json!({ "title": { "en": "Hello, World!", "fr": "Bonjour" } }),
            true,
        )
        .await;
    assert_eq!(first["fields"]["slug"], "hello-world");
    let second = app
        .create(
            "article",
            json!({ "title": { "en": "Hello, World!" } }),
            true,
        )
        .await;
    assert_eq!(second["fields"]["slug"], "hello-world-2");
    let third = app
        .create(
            "article",
            json!({ "title": { "en": "hello world" } }),
            false,
        )
        .await;
    assert_eq!(third["fields"]["slug"], "hello-world-3");

    // A slug the editor typed is theirs: taken is an error, not a silent suffix.
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": { "title": { "en": "Other" }, "slug": "hello-world" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        field_errors(&body),
        BTreeMap::from([("fields.slug".to_owned(), "not_unique".to_owned())])
    );
    // Taking another entry's slug in an update is refused the same way.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{}", id_of(&third)),
            json!({ "fields": { "slug": "hello-world-2" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["fields"]["fields.slug"]["code"], "not_unique");

    // Saving an entry keeps its own slug, and a free typed slug is taken as is.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{}", id_of(&first)),
            json!({ "fields": { "featured": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["slug"], "hello-world");
    let typed = app
        .create(
            "article",
            json!({ "title": { "en": "Hello, World!" }, "slug": "my-own-slug" }),
            false,
        )
        .await;
    assert_eq!(typed["fields"]["slug"], "my-own-slug");

    // Slugs must look like slugs.
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": { "title": { "en": "Bad slug" }, "slug": "Not A Slug!" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["fields"]["fields.slug"]["code"], "invalid_uid");

    // The refusals stored nothing.
    let (_, list) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(list["meta"]["total"], 4);
}

#[tokio::test]
async fn validation_names_every_failing_field_by_path() {
    let app = TestApp::spawn().await;
    let tag = app.create("tag", json!({ "name": "Real" }), false).await;
    let missing = ulid::Ulid::new().to_string();

    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": {
                "title": { "en": "t".repeat(201) },
                "featured": "yes",
                "reading_time": "ten",
                "seo": { "meta_title": "m".repeat(71), "keywords": "x" },
                "colour": "red",
                "author": "not-an-id",
                "tags": [tag["id"], missing],
            } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let expected: BTreeMap<String, String> = [
        ("fields.title.en", "too_long"),
        ("fields.featured", "wrong_type"),
        ("fields.reading_time", "wrong_type"),
        ("fields.seo.meta_title", "too_long"),
        ("fields.seo.keywords", "unknown_field"),
        ("fields.colour", "unknown_field"),
        ("fields.author", "invalid_id"),
        ("fields.tags[1]", "relation_not_found"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(field_errors(&body), expected, "{body}");
    for (path, error) in body["fields"].as_object().unwrap() {
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path} has a message: {body}"
        );
    }

    let (_, list) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(list["meta"]["total"], 0, "a refused create stores nothing");

    // Checks that need the database are reported together too.
    app.create("article", json!({ "title": { "en": "Taken" } }), false)
        .await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": {
                "title": { "en": "Another" },
                "slug": "taken",
                "tags": [ulid::Ulid::new().to_string(), tag["id"]],
            } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        field_errors(&body),
        BTreeMap::from([
            ("fields.slug".to_owned(), "not_unique".to_owned()),
            ("fields.tags[0]".to_owned(), "relation_not_found".to_owned()),
        ])
    );
}

#[tokio::test]
async fn relations_must_point_at_existing_entries_of_their_type() {
    let app = TestApp::spawn().await;
    let tag = app.create("tag", json!({ "name": "Real" }), false).await;
    let author = app
        .create(
            "author",
            json!({ "name": "Ann", "email": "ann@example.com" }),
            false,
        )
        .await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": {
                "title": { "en": "Dangling" },
                // A tag's id is not an author's.
                "author": tag["id"],
                "tags": [tag["id"], ulid::Ulid::new().to_string(), author["id"]],
            } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let expected: BTreeMap<String, String> = [
        ("fields.author", "relation_not_found"),
        ("fields.tags[1]", "relation_not_found"),
        ("fields.tags[2]", "relation_not_found"),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(field_errors(&body), expected, "{body}");

    // Lower-case ids are the same ids.
    let entry = app
        .create(
            "article",
            json!({
                "title": { "en": "Linked" },
                "author": author["id"].as_str().unwrap().to_lowercase(),
                "tags": [tag["id"]],
            }),
            false,
        )
        .await;
    assert_eq!(entry["fields"]["author"], author["id"]);
}

#[tokio::test]
async fn a_missing_title_is_required() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .admin_json(Method::POST, "/content/article", json!({ "fields": {} }))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        field_errors(&body),
        BTreeMap::from([("fields.title".to_owned(), "required".to_owned())])
    );

    // A translation alone is not enough: the default locale is the required one.
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": { "title": { "fr": "Seulement" } } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        field_errors(&body),
        BTreeMap::from([("fields.title.en".to_owned(), "required".to_owned())])
    );

    // Nor may a patch clear it, or name a locale the type does not have.
    let entry = app
        .create("article", json!({ "title": { "en": "Kept" } }), false)
        .await;
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{}", id_of(&entry)),
            json!({ "fields": { "title": null, "excerpt": { "de": "Kurz" } } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        field_errors(&body),
        BTreeMap::from([
            ("fields.title".to_owned(), "required".to_owned()),
            ("fields.excerpt.de".to_owned(), "invalid_locale".to_owned()),
        ])
    );

    // Authors need their email; the error names it.
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/author",
            json!({ "fields": { "name": "No mail", "website": "ftp://x" } }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        field_errors(&body),
        BTreeMap::from([
            ("fields.email".to_owned(), "required".to_owned()),
            ("fields.website".to_owned(), "invalid_url".to_owned()),
        ])
    );
}

#[tokio::test]
async fn a_single_type_has_one_entry() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/api/v1/content/site-settings").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");

    let settings = app
        .create("site-settings", json!({ "site_name": "My site" }), false)
        .await;
    assert_eq!(settings["fields"]["theme"], "auto");
    // A draft single entry is not delivered either.
    let (status, body) = app.get("/api/v1/content/site-settings").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");

    let (status, body) = app
        .admin_json(
            Method::POST,
            "/content/site-settings",
            json!({ "fields": { "site_name": "Another" }, "publish": true }),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "single_exists");

    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/site-settings/{}", id_of(&settings)),
            json!({ "fields": { "theme": "dark", "social_links": [{ "label": "Mastodon", "url": "https://example.social/@me" }] }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "published");

    let (status, body) = app.get("/api/v1/content/site-settings").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(data["id"], settings["id"]);
    assert_eq!(data["fields"]["site_name"], "My site");
    assert_eq!(data["fields"]["theme"], "dark");
    assert_eq!(data["fields"]["social_links"][0]["label"], "Mastodon");
    assert!(
        data.get("status").is_none() && data.get("version").is_none(),
        "{data}"
    );
    let (_, list) = app.admin_call(Method::GET, "/content/site-settings").await;
    assert_eq!(
        list["meta"]["total"], 1,
        "the refused create stored nothing"
    );
}

#[tokio::test]
async fn reading_time_is_filled_by_the_plugin() {
    let app = TestApp::spawn().await;
    let entry = app
        .create(
            "article",
            json!({
                "title": { "en": "Long read" },
                "body": { "en": words(450) },
                // Whatever the editor sends, the plugin has the last word.
                "reading_time": 99,
            }),
            true,
        )
        .await;
    assert_eq!(
        entry["fields"]["reading_time"], 3,
        "450 words at 200 a minute"
    );

    let short = app
        .create("article", json!({ "title": { "en": "No body" } }), false)
        .await;
    assert_eq!(short["fields"]["reading_time"], 1, "never below a minute");

    let exact = app
        .create(
            "article",
            json!({ "title": { "en": "Exact" }, "body": { "en": words(400) } }),
            false,
        )
        .await;
    assert_eq!(exact["fields"]["reading_time"], 2);

    // The longest locale counts, and a patch recomputes it.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{}", id_of(&entry)),
            json!({ "fields": { "body": { "en": words(10), "fr": words(1001) } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["reading_time"], 6);

    // Delivery shows the published value until the change is published.
    let one = format!("/api/v1/content/article/{}", id_of(&entry));
    let (_, delivered) = app.get(&one).await;
    assert_eq!(delivered["data"]["fields"]["reading_time"], 3);
    let (status, _) = app
        .admin_call(
            Method::POST,
            &format!("/content/article/{}/publish", id_of(&entry)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, delivered) = app.get(&one).await;
    assert_eq!(delivered["data"]["fields"]["reading_time"], 6);
}

#[tokio::test]
async fn deleted_entries_are_gone_everywhere() {
    let app = TestApp::spawn().await;
    let (_, _, doomed) = app.seed_article("Doomed", "temp").await;
    let (_, _, kept) = app.seed_article("Kept", "stay").await;
    let id = id_of(&doomed);

    let reply = send(app.admin(Method::DELETE, &format!("/content/article/{id}"))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert!(reply.text.is_empty());

    let (status, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    let (status, body) = app.get(&format!("/api/v1/content/article/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    let (status, body) = app.get("/api/v1/content/article/doomed").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    assert_eq!(delivered_ids(&app, "article").await, vec![id_of(&kept)]);

    // Every later write finds nothing.
    let write = json!({ "fields": { "title": { "en": "Back" } } });
    for (method, path, body) in [
        (Method::DELETE, format!("/content/article/{id}"), None),
        (
            Method::PATCH,
            format!("/content/article/{id}"),
            Some(&write),
        ),
        (Method::PUT, format!("/content/article/{id}"), Some(&write)),
        (Method::POST, format!("/content/article/{id}/publish"), None),
        (
            Method::POST,
            format!("/content/article/{id}/unpublish"),
            None,
        ),
    ] {
        let (status, body) = match body {
            Some(b) => app.admin_json(method, &path, b.clone()).await,
            None => app.admin_call(method, &path).await,
        };
        assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    }
    // And a new entry may take the freed slug.
    let again = app
        .create("article", json!({ "title": { "en": "Doomed" } }), false)
        .await;
    assert_eq!(again["fields"]["slug"], "doomed");
}

/// Ids are case-insensitive everywhere else (relations, delivery), so the admin API takes a
/// lower-case id as the same entry; but an id whose first character overflows is not an alias.
#[tokio::test]
async fn entry_ids_are_case_insensitive_in_the_admin_api() {
    let app = TestApp::spawn().await;
    let entry = app
        .create("article", json!({ "title": { "en": "Cased" } }), false)
        .await;
    let id = id_of(&entry);
    let lower = id.to_lowercase();
    let path = format!("/content/article/{lower}");

    let (status, body) = app.admin_call(Method::GET, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], id.as_str());
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &path,
            json!({ "fields": { "featured": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], id.as_str());
    let (status, body) = app
        .admin_call(Method::POST, &format!("{path}/publish"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .admin_call(Method::POST, &format!("{path}/unpublish"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // `0` is the first character of every id made before 10889 AD; `8` would overflow into
    // the same 128 bits if it were accepted.
    assert!(id.starts_with('0'));
    let alias = format!("8{}", &id[1..]);
    for (status, body) in [
        app.admin_call(Method::GET, &format!("/content/article/{alias}"))
            .await,
        app.admin_call(Method::DELETE, &format!("/content/article/{alias}"))
            .await,
    ] {
        assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    }

    let (status, _) = app.admin_call(Method::DELETE, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
}

#[tokio::test]
async fn unknown_types_and_ids_are_404() {
    let app = TestApp::spawn().await;
    let (_, _, article) = app.seed_article("Present", "here").await;

    for (method, path) in [
        (Method::GET, "/content/nope"),
        (Method::POST, "/content/nope"),
        (Method::GET, "/content/nope/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (Method::PATCH, "/content/nope/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (Method::DELETE, "/content/nope/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (
            Method::POST,
            "/content/nope/01ARZ3NDEKTSV4RRFFQ69G5FAV/publish",
        ),
        (Method::GET, "/types/nope"),
        // Table names are not types.
        (Method::GET, "/content/entry_article"),
        (Method::GET, "/content/Article"),
    ] {
        let (status, body) = if method == Method::POST || method == Method::PATCH {
            app.admin_json(method, path, json!({ "fields": { "title": "x" } }))
                .await
        } else {
            app.admin_call(method, path).await
        };
        assert_error(status, &body, StatusCode::NOT_FOUND, "type_not_found");
    }
    for path in ["/api/v1/content/nope", "/api/v1/content/nope/anything"] {
        let (status, body) = app.get(path).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "type_not_found");
    }

    let long = "A".repeat(10_000);
    let bad_ids = [
        // Percent-encoded so the client does not resolve the dots itself.
        "..%2F..%2Fetc%2Fpasswd",
        "not-an-id",
        // A well-formed id that no entry has, and one whose first character overflows.
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",
        "entry_article:x",
        "%27%3B%20DELETE%20entry_article%3B%20--",
        long.as_str(),
    ];
    for id in bad_ids {
        let path = format!("/content/article/{id}");
        for (status, body) in [
            app.admin_call(Method::GET, &path).await,
            app.admin_call(Method::DELETE, &path).await,
            app.admin_call(Method::POST, &format!("{path}/publish"))
                .await,
            app.admin_json(
                Method::PATCH,
                &path,
                json!({ "fields": { "featured": true } }),
            )
            .await,
        ] {
            assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
            assert!(
                body["message"].as_str().unwrap().len() < 200,
                "errors do not echo long input: {body}"
            );
        }
        let (status, body) = app.get(&format!("/api/v1/content/article/{id}")).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    }

    // A route that does not exist at all is a JSON 404 too.
    let (status, body) = app.get("/api/v2/content/article").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "route_not_found");

    // The real entry survived all of it.
    assert_eq!(delivered_ids(&app, "article").await, vec![id_of(&article)]);
}

#[tokio::test]
async fn content_types_are_listed_with_a_json_schema_for_forms() {
    let app = TestApp::spawn().await;
    let (status, body) = app.admin_call(Method::GET, "/types").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    for id in ["article", "author", "site-settings", "tag"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }

    let (status, body) = app.admin_call(Method::GET, "/types/article").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(data["kind"], "collection");
    assert_eq!(data["locales"], json!(["en", "fr"]));
    assert_eq!(data["drafts"], true);
    let properties = &data["schema"]["properties"];
    assert!(properties.get("title").is_some(), "{data}");
    assert!(
        properties.get("editor_notes").is_some(),
        "the admin schema includes private fields: {data}"
    );
    // What a form needs beyond JSON Schema.
    assert_eq!(properties["slug"]["x-folio-from"], "title");
    assert_eq!(properties["cover"]["x-folio-accept"], json!(["image/*"]));
    assert_eq!(properties["author"]["x-folio-target"], "author");
    assert_eq!(
        data["permissions"]["actions"],
        json!(["read", "create", "update", "delete", "publish"])
    );
    let (_, site) = app.admin_call(Method::GET, "/types/site-settings").await;
    assert_eq!(site["data"]["kind"], "single");
}

/// The types list says what the caller may do, so the admin UI offers no button the server
/// would refuse.
#[tokio::test]
async fn content_types_carry_the_callers_permissions() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .admin_json(
            Method::PUT,
            "/roles/reviewer",
            json!({
                "permissions": { "article": ["read", "update"] },
                "hidden_fields": { "article": ["editor_notes"] },
                "read_only_fields": { "article": ["slug"] }
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let of = |body: &Value, id: &str| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .map(|t| t["permissions"].clone())
            .unwrap()
    };

    let (_, author) = app.user_with_role("author").await;
    let (status, body) = app.call_as(&author, Method::GET, "/types", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let article = of(&body, "article");
    assert_eq!(
        article["actions"],
        json!(["read", "create", "update", "delete"])
    );
    assert_eq!(article["own_entries_only"], true);

    let (_, reviewer) = app.user_with_role("reviewer").await;
    let (_, body) = app.call_as(&reviewer, Method::GET, "/types", None).await;
    let article = of(&body, "article");
    assert_eq!(article["actions"], json!(["read", "update"]));
    assert_eq!(article["own_entries_only"], false);
    assert_eq!(article["hidden_fields"], json!(["editor_notes"]));
    assert_eq!(article["read_only_fields"], json!(["slug"]));
    assert_eq!(of(&body, "tag")["actions"], json!([]));
    let (_, body) = app
        .call_as(&reviewer, Method::GET, "/types/article", None)
        .await;
    assert_eq!(
        body["data"]["permissions"]["actions"],
        json!(["read", "update"])
    );
}

/// The editor's live preview renders Markdown exactly as delivery does, sanitised.
#[tokio::test]
async fn markdown_previews_are_rendered_and_sanitised() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/markdown/preview",
            json!({ "markdown": "# Hi\n\n**bold** <script>alert(1)</script>" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let html = body["data"]["html"].as_str().unwrap();
    assert!(html.contains("<h1>Hi</h1>"), "{html}");
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(!html.contains("<script"), "{html}");

    for wrong in [
        json!({ "markdown": ["x"] }),
        json!({ "markdown": "x", "extra": 1 }),
    ] {
        let (status, body) = app
            .admin_json(Method::POST, "/markdown/preview", wrong)
            .await;
        assert!(status.is_client_error(), "{status} {body}");
        assert!(body["code"].is_string(), "{body}");
    }
    let reply = send(
        app.client
            .post(app.url("/admin/api/v1/markdown/preview"))
            .json(&json!({ "markdown": "x" })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// A plain value for a localised field is the default locale's; a patch keeps the others.
#[tokio::test]
async fn plain_values_of_localised_fields_mean_the_default_locale() {
    let app = TestApp::spawn().await;
    let e = app
        .create("article", json!({ "title": "Plain title" }), false)
        .await;
    assert_eq!(e["fields"]["title"], json!({ "en": "Plain title" }));
    let id = e["id"].as_str().unwrap();
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": { "en": "Plain title", "fr": "Titre" } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": "New title" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["fields"]["title"],
        json!({ "en": "New title", "fr": "Titre" })
    );
}

/// A slug taken by another entry's published snapshot refuses the publish with a 422 on the
/// field, not a server error.
#[tokio::test]
async fn publishing_a_slug_another_published_entry_holds_is_a_422() {
    let app = TestApp::spawn().await;
    let a = app
        .create(
            "article",
            json!({ "title": "Shared", "slug": "shared" }),
            true,
        )
        .await;
    let a_id = a["id"].as_str().unwrap();
    // A's draft moves to another slug, freeing "shared" among drafts only.
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{a_id}"),
            json!({ "fields": { "slug": "moved" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let b = app
        .create(
            "article",
            json!({ "title": "Other", "slug": "shared" }),
            false,
        )
        .await;
    let b_id = b["id"].as_str().unwrap();
    let (status, body) = app
        .admin_call(Method::POST, &format!("/content/article/{b_id}/publish"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["fields"]["fields.slug"]["code"], "not_unique");
    // Nothing changed: B is still a draft, A still published as "shared".
    let (_, b_now) = app
        .admin_call(Method::GET, &format!("/content/article/{b_id}"))
        .await;
    assert_eq!(b_now["data"]["status"], "draft");
    let (status, _) = app.get("/api/v1/content/article/shared").await;
    assert_eq!(status, StatusCode::OK);
}

/// A patch of one locale keeps the others; null removes one; admin lists refuse
/// delivery-only parameters rather than ignoring them.
#[tokio::test]
async fn locale_patches_merge_and_admin_lists_refuse_delivery_parameters() {
    let app = TestApp::spawn().await;
    let e = app
        .create("article", json!({ "title": { "en": "Hello", "fr": "Bonjour" }, "excerpt": { "en": "E", "fr": "F" } }), false)
        .await;
    let id = e["id"].as_str().unwrap();
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": { "fr": "Salut" }, "excerpt": { "fr": null } } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["fields"]["title"],
        json!({ "en": "Hello", "fr": "Salut" })
    );
    assert_eq!(body["data"]["fields"]["excerpt"], json!({ "en": "E" }));

    for (param, value) in [
        ("populate", "author"),
        ("fields", "title"),
        ("render", "html"),
        ("format", "csv"),
    ] {
        let resp = app
            .admin(Method::GET, "/content/article")
            .query(&[(param, value)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{param}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "unknown_parameter");
        assert_eq!(body["param"], param);
    }
}

#[tokio::test]
async fn filters_on_related_fields_see_drafts_in_the_admin_view_only() {
    let (app, _types) = crate::media::with_pages().await;
    let draft = app
        .create("page", json!({ "title": "Drafty" }), false)
        .await;
    let child = app
        .create(
            "page",
            json!({ "title": "Child", "parent": draft["id"] }),
            true,
        )
        .await;
    let listed: Value = app
        .admin(Method::GET, "/content/page")
        .query(&[("filter[parent.title][eq]", "Drafty")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["meta"]["total"], 1, "{listed}");
    assert_eq!(listed["data"][0]["id"], child["id"]);
    // The delivery API knows nothing of the unpublished parent.
    let (s, delivered) = app
        .get_query(
            "/api/v1/content/page",
            &[("filter[parent.title][eq]", "Drafty")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{delivered}");
    assert_eq!(delivered["meta"]["total"], 0, "{delivered}");
}

/// Every write appends to the audit log, so writes made at once all want its head record;
/// none of them may fail for that, and each is logged once.
#[tokio::test]
async fn many_writes_at_once_all_succeed() {
    use futures::StreamExt;
    const WRITES: usize = 32;
    let app = TestApp::builder().persistent().start().await.unwrap();
    let created: Vec<Value> = futures::stream::iter(0..WRITES)
        .map(|i| {
            let app = &app;
            async move {
                // Long enough that the transactions overlap.
                let notes = format!("note {i} ").repeat(3_000);
                let fields =
                    json!({ "title": { "en": format!("Busy {i}") }, "editor_notes": notes });
                app.create("article", fields, true).await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(created.len(), WRITES);
    let (status, body) = app
        .admin_call(Method::GET, "/audit?action=entry&limit=100")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let logged = body["data"].as_array().expect("audit records");
    for entry in &created {
        let target = format!("article/{}", entry["id"].as_str().expect("id"));
        let n = logged.iter().filter(|r| r["target"] == target).count();
        assert_eq!(n, 1, "{target} in {body}");
    }
}

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
    app.search_settled().await;

    let (_, body) = app.search(&[("q", "\"async runtime\"")]).await;
    assert_eq!(titles(&body), ["One"], "{body}");
    let (_, body) = app.search(&[("q", "runtime -java")]).await;
    assert_eq!(titles(&body), ["One"], "{body}");
    let (_, body) = app.search(&[("q", "runtime -\"async runtime\"")]).await;
    assert_eq!(titles(&body), ["Two"], "{body}");
    let (_, mut body) = app
        .search(&[("q", "async runtime "), ("sort", "relevance")])
        .await;
    let mut both = titles(&body);
    both.sort();
    assert_eq!(both, ["One", "Two"]);
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

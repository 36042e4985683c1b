//! Hostile and broken input: bodies that are not JSON or too large, values and names crafted
//! to break out of a query, and query parameters out of range. Each gets a 4xx with a stable
//! code (the harness fails any 5xx), and nothing else is affected.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_error, send};

fn id_of(entry: &Value) -> String {
    entry["id"].as_str().expect("entry id").to_owned()
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_get_400() {
    let app = TestApp::spawn().await;
    let entry = app
        .create("article", json!({ "title": { "en": "Target" } }), false)
        .await;
    let path = format!("/content/article/{}", id_of(&entry));

    let cases: &[(&[u8], &str)] = &[
        (b"{\"fields\": {", "invalid_json"),
        (b"{\"fields\": {\"title\": }}", "invalid_json"),
        (b"{'fields': {}}", "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b"[1, 2, 3]", "invalid_body"),
        (b"[{\"fields\": {}}]", "invalid_body"),
        // Positional, as a derived struct would read it: fields, version, publish.
        (
            b"[{\"title\": {\"en\": \"Sneaked\"}}, null, true]",
            "invalid_body",
        ),
        (b"\"fields\"", "invalid_body"),
        (b"null", "invalid_body"),
        (b"{}", "invalid_body"),
        (b"{\"fields\": []}", "invalid_body"),
        (
            b"{\"fields\": {}, \"status\": \"published\"}",
            "invalid_body",
        ),
        (b"{\"fields\": {}, \"version\": -1}", "invalid_body"),
        (b"{\"fields\": {}, \"publish\": \"yes\"}", "invalid_body"),
        (b"", "empty_body"),
    ];
    for (method, p) in [
        (Method::POST, "/content/article"),
        (Method::PUT, path.as_str()),
        (Method::PATCH, path.as_str()),
    ] {
        for (body, code) in cases {
            let reply = send(
                app.admin(method.clone(), p)
                    .header("content-type", "application/json")
                    .body(body.to_vec()),
            )
            .await;
            assert_error(reply.status, &reply.json(), StatusCode::BAD_REQUEST, code);
        }
    }
    // Publish takes an optional {"version": N} and nothing else.
    let reply = send(
        app.admin(Method::POST, &format!("{path}/publish"))
            .json(&json!({ "version": 1, "force": true })),
    )
    .await;
    assert_error(
        reply.status,
        &reply.json(),
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );

    let (_, now) = app.admin_call(Method::GET, &path).await;
    assert_eq!(now["data"]["version"], 1, "nothing was written");
    let (_, list) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(list["meta"]["total"], 1, "nothing was created");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::builder()
        .max_body_bytes(4096)
        .start()
        .await
        .unwrap();
    let big =
        json!({ "fields": { "title": { "en": "Big" }, "body": { "en": "x".repeat(10 * 1024) } } });
    let (status, body) = app
        .admin_json(Method::POST, "/content/article", big.clone())
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    let small = app
        .create(
            "article",
            json!({ "title": { "en": "Small" }, "body": { "en": "x".repeat(3000) } }),
            false,
        )
        .await;
    let (status, body) = app
        .admin_json(
            Method::PUT,
            &format!("/content/article/{}", id_of(&small)),
            big,
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    let (_, list) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(list["meta"]["total"], 1);
    assert_eq!(list["data"][0]["version"], 1);
}

#[tokio::test]
async fn values_that_look_like_queries_are_stored_verbatim() {
    let app = TestApp::spawn().await;
    let (_, _, bystander) = app.seed_article("Bystander", "safe").await;
    let nasty = [
        "'; DELETE entry_article; --",
        "`entry_article`; REMOVE TABLE `published_article`; `",
        "\"; DELETE published_article; \"",
        "$p0 $tb ${id} {{title}} ⟨x⟩ \\' \\\" \\\\",
        "a'b\"c",
    ];
    let mut ids = Vec::new();
    for title in nasty {
        let entry = app
            .create(
                "article",
                json!({ "title": { "en": title }, "excerpt": { "en": title }, "editor_notes": title }),
                true,
            )
            .await;
        assert_eq!(entry["fields"]["title"]["en"], title);
        assert_eq!(entry["fields"]["editor_notes"], title);
        ids.push(id_of(&entry));
    }

    for (title, id) in nasty.iter().zip(&ids) {
        let (status, body) = app.get(&format!("/api/v1/content/article/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["fields"]["title"], *title);
        assert_eq!(body["data"]["fields"]["excerpt"], *title);
        // Filtering by the value finds exactly that entry.
        let (status, body) = app
            .get_query("/api/v1/content/article", &[("filter[title][eq]", title)])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["meta"]["total"], 1, "{title}: {body}");
        assert_eq!(body["data"][0]["id"], id.as_str());
        let (status, body) = app
            .get_query(
                "/api/v1/content/article",
                &[("filter[title][contains]", title)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"][0]["id"], id.as_str());
    }

    // The quoted title's slug, by filter and by lookup.
    let quoted = ids.last().unwrap();
    let (_, body) = app
        .get_query("/api/v1/content/article", &[("filter[slug][eq]", "a-b-c")])
        .await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    assert_eq!(body["data"][0]["id"], quoted.as_str());
    assert_eq!(body["data"][0]["fields"]["title"], "a'b\"c");
    let (_, body) = app.get("/api/v1/content/article/a-b-c").await;
    assert_eq!(body["data"]["id"], quoted.as_str());
    // A slug lookup with quotes in it is just a miss.
    let (status, body) = app.get("/api/v1/content/article/a'b%22c").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");

    // Nothing else was touched: every entry and both tables are still there.
    let (_, list) = app
        .get_query("/api/v1/content/article", &[("limit", "100")])
        .await;
    assert_eq!(list["meta"]["total"], nasty.len() + 1);
    let (status, body) = app
        .get(&format!("/api/v1/content/article/{}", id_of(&bystander)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["title"], "Bystander");
    let (_, admin) = app.admin_call(Method::GET, "/content/article").await;
    assert_eq!(admin["meta"]["total"], nasty.len() + 1);
}

#[tokio::test]
async fn filter_names_cannot_break_out_of_the_query() {
    let app = TestApp::spawn().await;
    let (_, _, article) = app.seed_article("Still here", "intact").await;

    let cases = [
        ("filter[title`][eq]", "unknown_field"),
        ("filter[`title`][eq]", "unknown_field"),
        ("filter[title; DROP][eq]", "unknown_field"),
        (
            "filter[title; DELETE entry_article; --][eq]",
            "unknown_field",
        ),
        ("filter[__proto__][eq]", "unknown_field"),
        ("filter[constructor][eq]", "unknown_field"),
        ("filter[title.en][eq]", "invalid_filter"),
        ("filter[author.__proto__][eq]", "unknown_field"),
        ("filter[author.name.x][eq]", "invalid_filter"),
        ("filter[id) OR (1=1][eq]", "unknown_field"),
        ("filter[title][eq) OR (1=1]", "invalid_filter_operator"),
        ("filter[title][eq][x]", "invalid_filter"),
        ("filter[title][eq][][]", "invalid_filter"),
        ("filter[title]]", "invalid_filter"),
        ("filter[[title]][eq]", "invalid_filter"),
        ("filter[][eq]", "invalid_filter"),
        ("filter", "invalid_filter"),
        ("filter[title][$where]", "invalid_filter_operator"),
        ("filter[reading_time][contains]", "invalid_filter_operator"),
        ("filter[featured][lt]", "invalid_filter_operator"),
    ];
    for (key, code) in cases {
        for path in ["/api/v1/content/article", "/admin/api/v1/content/article"] {
            let reply = send(
                app.client
                    .get(app.url(path))
                    .bearer_auth(&app.token)
                    .query(&[(key, "x")]),
            )
            .await;
            let body = reply.json();
            assert_error(reply.status, &body, StatusCode::BAD_REQUEST, code);
            assert_eq!(body["param"], key, "{body}");
        }
    }

    // Values of the wrong type for the field.
    for (key, value) in [
        ("filter[reading_time][eq]", "1; DROP"),
        ("filter[reading_time][gt]", "1.5"),
        ("filter[reading_time][in]", "1,,2"),
        ("filter[featured][eq]", "1"),
        ("filter[published_at][gt]", "yesterday"),
        ("filter[published_at][gt]", "99999-01-01"),
        ("filter[author][eq]", "../../etc/passwd"),
        ("filter[id][eq]", "81ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("filter[title][exists]", "maybe"),
        ("filter[title][contains]", ""),
    ] {
        let (status, body) = app
            .get_query("/api/v1/content/article", &[(key, value)])
            .await;
        assert_error(
            status,
            &body,
            StatusCode::BAD_REQUEST,
            "invalid_filter_value",
        );
    }
    let long = "x".repeat(1001);
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[title][eq]", long.as_str())],
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_filter_value",
    );

    let (status, body) = app
        .get(&format!("/api/v1/content/article/{}", id_of(&article)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn out_of_range_list_parameters_get_400() {
    let app = TestApp::spawn().await;
    app.seed_article("One", "t1").await;
    app.seed_article("Two", "t2").await;

    let many_filters: Vec<(&str, &str)> = vec![("filter[reading_time][gte]", "0"); 21];
    let twenty: Vec<(&str, &str)> = vec![("filter[reading_time][gte]", "0"); 20];
    let (status, body) = app.get_query("/api/v1/content/article", &twenty).await;
    assert_eq!(status, StatusCode::OK, "twenty filters are allowed: {body}");
    assert_eq!(body["meta"]["total"], 2);

    let in_values = (0..101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let long_query = "x".repeat(17 * 1024);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("limit", "-1")], "invalid_limit"),
        (vec![("limit", "0")], "invalid_limit"),
        (vec![("limit", "101")], "invalid_limit"),
        (vec![("limit", "99999999999999999999999")], "invalid_limit"),
        (vec![("limit", "ten")], "invalid_limit"),
        (vec![("limit", "1e2")], "invalid_limit"),
        (vec![("limit", " 5")], "invalid_limit"),
        (vec![("limit", "")], "invalid_limit"),
        (vec![("limit", "5"), ("limit", "6")], "duplicate_parameter"),
        (vec![("page", "0")], "invalid_page"),
        (vec![("page", "-1")], "invalid_page"),
        (vec![("page", "first")], "invalid_page"),
        (vec![("page", "99999999999")], "invalid_page"),
        (vec![("populate", "author.x.y.z")], "populate_too_deep"),
        (vec![("populate", "author.name")], "invalid_populate"),
        (vec![("populate", "title")], "invalid_populate"),
        (vec![("populate", "author,,tags")], "invalid_populate"),
        (vec![("populate", "nope")], "unknown_field"),
        (many_filters, "too_many_filters"),
        (
            vec![("filter[reading_time][in]", in_values.as_str())],
            "too_many_values",
        ),
        (vec![("foo", "bar")], "unknown_parameter"),
        (vec![("q", "search")], "unknown_parameter"),
        (vec![("Limit", "5")], "unknown_parameter"),
        (vec![("sort", "-")], "invalid_sort"),
        (vec![("sort", "title,title")], "invalid_sort"),
        (vec![("sort", "body")], "invalid_sort"),
        (vec![("sort", "author.name")], "invalid_sort"),
        (vec![("sort", "title; DROP")], "unknown_field"),
        (vec![("fields", "")], "invalid_fields"),
        (vec![("fields", "seo.meta_title")], "invalid_fields"),
        (vec![("locale", "../en")], "unknown_locale"),
        (vec![("format", "rss2")], "invalid_format"),
        (vec![("x", long_query.as_str())], "query_too_long"),
    ];
    for (query, code) in cases {
        let (status, body) = app.get_query("/api/v1/content/article", &query).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test]
async fn tampered_cursors_are_refused() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        app.seed_article(&format!("Entry {i}"), &format!("tag{i}"))
            .await;
    }
    let (_, first) = app
        .get_query("/api/v1/content/article", &[("limit", "1"), ("cursor", "")])
        .await;
    let cursor = first["meta"]["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("limit", "1"), ("cursor", &cursor)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the real cursor works: {body}");

    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let mut flipped = cursor.clone().into_bytes();
    flipped[cursor.len() / 2] = if flipped[cursor.len() / 2] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let flipped = String::from_utf8(flipped).unwrap();
    let truncated = cursor[..cursor.len() - 3].to_owned();
    let tampered = [
        truncated,
        format!("{cursor}x"),
        format!("{cursor}=="),
        "not a cursor !!".to_owned(),
        "x".repeat(5000),
        b64("{}"),
        b64("[]"),
        b64("{\"s\":\"title\",\"v\":[\"a\"],\"id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"}"),
        b64("{\"s\":\"-published_at\",\"v\":[],\"id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"}"),
        b64("{\"s\":\"-published_at\",\"v\":[1,2],\"id\":\"01ARZ3NDEKTSV4RRFFQ69G5FAV\"}"),
        b64(&format!(
            "{{\"s\":\"-published_at\",\"v\":[\"x\"],\"id\":\"{}\"}}",
            "A".repeat(100)
        )),
    ];
    for bad in tampered {
        let (status, body) = app
            .get_query(
                "/api/v1/content/article",
                &[("limit", "1"), ("cursor", &bad)],
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_cursor");
    }
    // A flipped character may still decode; it must then be refused or read as a position,
    // never fail the server (the harness fails any 5xx).
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("limit", "1"), ("cursor", &flipped)],
        )
        .await;
    assert!(
        status == StatusCode::OK || body["code"] == "invalid_cursor",
        "{status}: {body}"
    );
    // Well-formed cursors with hostile contents are positions like any other.
    for forged in [
        b64(
            "{\"s\":\"-published_at\",\"v\":[\"'; DELETE entry_article; --\"],\"id\":\"x`; DELETE published_article; --\"}",
        ),
        b64(
            "{\"s\":\"-published_at\",\"v\":[{\"$gt\":1}],\"id\":\"⟩; DELETE published_article; --\"}",
        ),
        b64("{\"s\":\"-published_at\",\"v\":[null],\"id\":\"\"}"),
    ] {
        let (status, body) = app
            .get_query(
                "/api/v1/content/article",
                &[("limit", "1"), ("cursor", &forged)],
            )
            .await;
        assert!(
            status == StatusCode::OK || body["code"] == "invalid_cursor",
            "{status}: {body}"
        );
    }
    let (_, all) = app
        .get_query("/api/v1/content/article", &[("limit", "100")])
        .await;
    assert_eq!(all["meta"]["total"], 3, "nothing was deleted");
}

#[tokio::test]
async fn hostile_search_requests_get_400_and_never_a_5xx() {
    let app = TestApp::spawn().await;
    app.create(
        "article",
        json!({ "title": { "en": "Ordinary text" } }),
        true,
    )
    .await;
    app.search_settled().await;
    let long = "x".repeat(501);
    let many_words = "word ".repeat(40);
    let deep = "\"".repeat(9);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("q", long.as_str())], "invalid_search"),
        (&[("q", many_words.as_str())], "invalid_search"),
        (&[("q", deep.as_str())], "invalid_search"),
        (&[("q", "\"unclosed")], "invalid_search"),
        (&[("q", "a"), ("q", "b")], "duplicate_parameter"),
        (&[("filter[tags", "x")], "invalid_filter"),
        (&[("filter[tags][eq][x]", "x")], "invalid_operator"),
        (&[("filter[tags][regex]", ".*")], "invalid_operator"),
        (
            &[("filter[published_at][gte]", "'; DROP TABLE x; --")],
            "invalid_filter",
        ),
        (&[("filter[editor_notes][eq]", "x")], "unknown_field"),
        (&[("sort", "-editor_notes")], "unknown_field"),
        (&[("fields", "editor_notes")], "unknown_field"),
        (&[("limit", "-1")], "invalid_limit"),
        (&[("limit", "99999999999999999999")], "invalid_limit"),
        (&[("page", "0")], "invalid_page"),
        (&[("exact", "maybe")], "invalid_parameter"),
        (&[("type", "article,../../etc")], "type_not_found"),
    ];
    for (query, code) in cases {
        let (status, body) = app.search(query).await;
        assert!(status.is_client_error(), "{query:?}: {status} {body}");
        assert_eq!(body["code"], *code, "{query:?}: {body}");
    }
    // Characters that mean something to other query languages are just text here.
    for q in [
        "*",
        "title:x",
        "a AND b OR c",
        "(((",
        "\\",
        "%00",
        "<script>",
        "😀 emoji",
        "\u{0}",
    ] {
        let (status, body) = app.search(&[("q", q)]).await;
        assert_eq!(status, StatusCode::OK, "{q:?}: {body}");
    }
    // The index still answers normally.
    let (_, body) = app.search(&[("q", "ordinary")]).await;
    assert_eq!(body["meta"]["total"], 1);
}

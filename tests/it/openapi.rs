//! The OpenAPI documents and their docs pages. Both documents are snapshotted, so a change to
//! the API's contract shows up in review as a diff of `snapshots/`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{TestApp, send};

const TYPES: [(&str, &str); 4] = [
    ("article", "Article"),
    ("author", "Author"),
    ("site-settings", "SiteSettings"),
    ("tag", "Tag"),
];

async fn document(app: &TestApp, which: &str) -> Value {
    let reply = send(
        app.client
            .get(app.url(&format!("/openapi/{which}.json")))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc: Value = serde_json::from_str(&reply.text).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.0.0", "{which}");
    doc
}

#[tokio::test]
async fn the_delivery_document_describes_every_type() {
    let app = TestApp::spawn().await;
    let doc = document(&app, "delivery").await;
    let paths = doc["paths"].as_object().unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (id, name) in TYPES {
        assert!(paths.contains_key(&format!("/api/v1/content/{id}")), "{id}");
        assert!(
            schemas.contains_key(&format!("{name}Fields")),
            "{name}Fields"
        );
        assert!(schemas.contains_key(name), "{name}");
    }
    assert!(paths.contains_key("/api/v1/content/article/{key}"));
    assert!(
        !paths.contains_key("/api/v1/content/site-settings/{key}"),
        "a single type has no per-entry path"
    );
    let article = &schemas["ArticleFields"]["properties"];
    assert!(article.get("title").is_some(), "{article}");
    assert!(
        article.get("editor_notes").is_none(),
        "no private fields: {article}"
    );
    assert!(schemas["AuthorFields"]["properties"].get("email").is_none());
    insta::assert_json_snapshot!("delivery_openapi", doc);
}

#[tokio::test]
async fn the_admin_document_describes_every_type() {
    let app = TestApp::spawn().await;
    let doc = document(&app, "admin").await;
    let paths = doc["paths"].as_object().unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (id, name) in TYPES {
        let base = format!("/admin/api/v1/content/{id}");
        assert!(paths.contains_key(&base), "{base}");
        assert!(
            paths.contains_key(&format!("{base}/{{id}}")),
            "{base}/{{id}}"
        );
        assert!(
            schemas.contains_key(&format!("{name}AdminEntry")),
            "{name}AdminEntry"
        );
        assert!(
            schemas.contains_key(&format!("{name}FieldsInput")),
            "{name}FieldsInput"
        );
    }
    assert!(paths.contains_key("/admin/api/v1/content/article/{id}/publish"));
    assert!(paths.contains_key("/admin/api/v1/types/{type}"));
    for path in [
        "/auth/login",
        "/auth/login/two-factor",
        "/users/{id}",
        "/tokens",
        "/audit",
        "/events",
    ] {
        assert!(
            paths.contains_key(&format!("/admin/api/v1{path}")),
            "{path}"
        );
    }
    assert_eq!(
        paths["/admin/api/v1/auth/login"]["post"]["security"],
        serde_json::json!([]),
        "signing in needs no credentials"
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["bearer", "session_cookie", "csrf"] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    // The admin document is for signed-in staff.
    for path in ["/openapi/admin.json", "/docs/admin"] {
        let reply = send(app.client.get(app.url(path))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert!(
        schemas["ArticleFieldsInput"]["properties"]
            .get("editor_notes")
            .is_some(),
        "editors write private fields"
    );
    insta::assert_json_snapshot!("admin_openapi", doc);
}

#[tokio::test]
async fn docs_pages_are_html() {
    let app = TestApp::spawn().await;
    for (path, needle) in [
        ("/docs", "/openapi/delivery.json"),
        ("/docs/delivery", "Folio delivery API"),
        ("/docs/admin", "Folio admin API"),
    ] {
        let reply = send(app.client.get(app.url(path)).bearer_auth(&app.token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{path}: {:?}",
            reply.header("content-type")
        );
        assert!(reply.text.contains(needle), "{path} mentions {needle}");
    }
    let reply = send(app.client.get(app.url("/docs/secret"))).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
}

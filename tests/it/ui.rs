//! The admin UI as the binary serves it, and the OpenAPI document its API types come from.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{TestApp, send};

#[tokio::test]
async fn the_admin_ui_is_served_with_deep_links_and_cached_assets() {
    let app = TestApp::spawn().await;
    let mut index = None;
    for path in [
        "/admin",
        "/admin/",
        "/admin/content/article",
        "/admin/login?next=%2F",
    ] {
        let r = send(app.client.get(app.url(path))).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(r.text.contains("<div id=\"root\">"), "{path}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("sandbox"));
        index = Some(r.text);
    }
    // The bundle the page names is served, typed, and cached for good.
    let html = index.unwrap();
    let start = html.find("/admin/assets/").expect("an asset");
    let end = start + html[start..].find('"').unwrap();
    let asset = &html[start..end];
    assert!(asset.ends_with(".js"), "{asset}");
    let r = send(app.client.get(app.url(asset))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().contains("javascript"));
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // A missing file is a 404, not the page; API paths stay JSON.
    for path in [
        "/admin/assets/missing-123.js",
        "/admin/favicon.ico",
        "/admin/api/v1/nothing-here",
    ] {
        let r = send(app.client.get(app.url(path))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json()["code"], "route_not_found", "{path}");
    }
}

/// The admin UI's API types are generated from `admin-ui/src/api/admin.json`; it must be the
/// document the server serves, so a server change that breaks the UI breaks its type check.
/// `FOLIO_UPDATE_UI_SPEC=1 cargo test --test it ui::` writes the current one.
#[tokio::test]
async fn the_admin_ui_builds_against_the_current_admin_document() {
    let app = TestApp::spawn().await;
    let r = send(
        app.client
            .get(app.url("/openapi/admin.json"))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let served: Value = r.json();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("admin-ui/src/api/admin.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_default())
            .unwrap_or(Value::Null);
    if served != committed {
        if std::env::var_os("FOLIO_UPDATE_UI_SPEC").is_some() {
            let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
            std::fs::write(&file, text).unwrap();
        } else {
            panic!(
                "admin-ui/src/api/admin.json is not the admin document the server serves: run \
                 `FOLIO_UPDATE_UI_SPEC=1 cargo test --test it ui::`, then build the UI"
            );
        }
    }
}

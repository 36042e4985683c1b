//! Start-up, restart and shutdown.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["database"], true);
}

#[tokio::test]
async fn entries_survive_a_graceful_restart() {
    let app = TestApp::builder().persistent().start().await.unwrap();
    let (_, _, article) = app.seed_article("Survives restarts", "durability").await;
    let id = article["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": true } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dir = app.stop().await;

    let app = TestApp::builder().data_dir(dir).start().await.unwrap();
    let (status, body) = app.get(&format!("/api/v1/content/article/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["title"], "Survives restarts");
    let (_, admin) = app
        .admin_json(Method::GET, &format!("/content/article/{id}"), json!(null))
        .await;
    assert_eq!(admin["data"]["fields"]["featured"], true);
    assert_eq!(admin["data"]["status"], "changed");
    // Created and published in one step (version 1), then patched.
    assert_eq!(admin["data"]["version"], 2);
}

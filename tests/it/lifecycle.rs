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

/// A shutdown lets the requests already being served finish (and keeps what they wrote),
/// while the server takes no new connections.
#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::builder().persistent().start().await.unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let body = json!({ "fields": { "name": "Sent during shutdown" }, "publish": true }).to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /admin/api/v1/content/tag HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // The request is being read when the shutdown starts.
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "the server waits for the request");
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "no new connections once stopping"
    );
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut reply),
    )
    .await
    .expect("the server answers and closes the connection");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");

    let dir = stopping.await.unwrap();
    let app = TestApp::builder().data_dir(dir).start().await.unwrap();
    let (_, list) = app.get("/api/v1/content/tag").await;
    assert_eq!(
        list["data"][0]["fields"]["name"], "Sent during shutdown",
        "{list}"
    );
}

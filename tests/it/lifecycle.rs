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

/// A method a route does not take answers 405 with the methods it does take, on hand-made
/// routes and on those the OpenAPI services make alike.
#[tokio::test]
async fn a_method_a_route_does_not_take_is_answered_with_those_it_does() {
    let app = TestApp::spawn().await;
    let cases = [
        (Method::TRACE, "/readyz", false, "GET, HEAD"),
        (
            Method::DELETE,
            "/api/v1/content/article",
            false,
            "GET, HEAD",
        ),
        (
            Method::PATCH,
            "/admin/api/v1/tokens",
            true,
            "GET, POST, HEAD",
        ),
        (
            Method::GET,
            "/admin/api/v1/roles/editor",
            true,
            "PUT, DELETE",
        ),
        (
            Method::DELETE,
            "/admin/api/v1/types/article",
            true,
            "GET, HEAD",
        ),
        // A literal segment is not taken for a parameter: `/media/folders` is not an item.
        (
            Method::PUT,
            "/admin/api/v1/media/folders",
            true,
            "GET, POST, HEAD",
        ),
        (
            Method::PUT,
            "/admin/api/v1/media/01M96FQ5CR0J1GMAZVWCZVYA8Y",
            true,
            "GET, PATCH, DELETE, HEAD",
        ),
        (
            Method::POST,
            "/media/01M96FQ5CR0J1GMAZVWCZVYA8Y/photo.jpg",
            false,
            "GET, HEAD",
        ),
    ];
    for (method, path, admin, allow) in cases {
        let mut req = app.client.request(method.clone(), app.url(path));
        if admin {
            req = req.bearer_auth(&app.token);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed");
    }
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

/// `folio serve` as a process of its own, on `data`, with the example types.
fn serve_process(data: &std::path::Path) -> (std::process::Child, String) {
    let port = crate::process::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("FOLIO_DATA_DIR", data)
        .env("FOLIO_CONTENT_TYPES", crate::harness::example_types())
        .env("FOLIO_LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("127.0.0.1:{port}"))
}

/// Creates the admin with `folio user create`, starts the server and signs in.
async fn started_process(data: &std::path::Path) -> (std::process::Child, String, String) {
    let mut folio = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
    folio
        .env("FOLIO_DATA_DIR", data)
        .env("FOLIO_CONTENT_TYPES", crate::harness::example_types());
    crate::process::create_admin(
        folio,
        "signal@example.com",
        "quiet exits keep their answers 42",
    );
    let (child, addr) = serve_process(data);
    let client = reqwest::Client::new();
    let mut up = false;
    // A debug build beside a busy test suite can take a while to start.
    for _ in 0..3000 {
        if client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(up, "folio serve became ready");
    let token = crate::process::bearer_token(
        &client,
        &format!("http://{addr}"),
        "signal@example.com",
        "quiet exits keep their answers 42",
    )
    .await;
    (child, addr, token)
}

fn signal(child: &std::process::Child, name: &str) {
    assert!(
        std::process::Command::new("kill")
            .args([format!("-{name}"), child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Waits up to `limit` for the process to end.
async fn exited_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    None
}

/// SIGTERM while an upload is still arriving: the upload finishes and is answered, new
/// connections are no longer taken, the process exits 0, and the upload is there after a
/// restart.
#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, token) = started_process(dir.path()).await;
    let body = b"line of a file that takes a while to arrive\n".repeat(4000);
    let mut upload = tokio::net::TcpStream::connect(&addr).await.unwrap();
    upload
        .write_all(
            format!(
                "POST /admin/api/v1/media?filename=slow.txt HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let pieces: Vec<&[u8]> = body.chunks(body.len() / 10 + 1).collect();
    upload.write_all(pieces[0]).await.unwrap();
    // The server must have the request in flight before the signal (on a loaded machine it
    // may not have read the head yet, and then nothing holds the stop).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    signal(&child, "TERM");
    for piece in &pieces[1..] {
        // A slow client: the rest comes over about a second.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        upload.write_all(piece).await.unwrap();
    }
    let mut answer = String::new();
    upload.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let id = answer
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let status = exited_within(&mut child, std::time::Duration::from_secs(45))
        .await
        .expect("folio serve exits after SIGTERM");
    assert!(status.success(), "{status}");

    let (mut child, addr) = serve_process(dir.path());
    let client = reqwest::Client::new();
    let mut found = StatusCode::NOT_FOUND;
    for _ in 0..3000 {
        if let Ok(r) = client
            .get(format!("http://{addr}/admin/api/v1/media/{id}"))
            .bearer_auth(&token)
            .send()
            .await
        {
            found = r.status();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        found,
        StatusCode::OK,
        "the upload answered before the stop is there"
    );
    signal(&child, "TERM");
    assert!(
        exited_within(&mut child, std::time::Duration::from_secs(45))
            .await
            .is_some()
    );
}

/// A request that never finishes does not hold the stop for ever: a second SIGTERM ends the
/// process at once.
#[tokio::test]
async fn a_second_sigterm_stops_at_once() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, token) = started_process(dir.path()).await;
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /admin/api/v1/media?filename=never.txt HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {token}\r\nContent-Length: 1000000\r\n\r\nstarted"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Give the server the moment it needs to read the request's head (on a loaded machine a
    // signal sent at once can arrive before the request is in flight, and nothing holds the
    // stop then).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    signal(&child, "TERM");
    // The first signal waits for the request (up to the body timeout or the grace period).
    assert!(
        exited_within(&mut child, std::time::Duration::from_millis(500))
            .await
            .is_none()
    );
    signal(&child, "TERM");
    let status = exited_within(&mut child, std::time::Duration::from_secs(10))
        .await
        .expect("the second SIGTERM ends it");
    assert!(!status.success());
    drop(stalled);
}
